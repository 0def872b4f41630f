/*
 * fuzz: what the libFuzzer harnesses in tests/fuzz/ share.
 *
 * A harness states properties of the code under test and calls
 * fuzz_fail() (through FUZZ_REQUIRE) when one does not hold; fuzz_fail()
 * prints the broken property and aborts, which libFuzzer records as a
 * crash with the input that caused it.  The checkers below are the
 * properties that several harnesses assert about escaped text and about
 * the Slack messages render.c builds.
 */
#ifndef FORCELINK_FUZZ_H
#define FORCELINK_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* The entry points libFuzzer calls (declared here so that the harnesses
 * build with -Wmissing-prototypes). */
int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	 LLVMFuzzerInitialize(int *, char ***);

/* Aborts with the property that failed, and where. */
#define FUZZ_REQUIRE(cond) do {						\
	if (!(cond))							\
		fuzz_fail(__FILE__, __LINE__, #cond);			\
} while (0)

void	 fuzz_fail(const char *file, int line, const char *what)
	    __attribute__((noreturn));

/* Returns a NUL-terminated copy of the first n bytes at data (the
 * caller frees it).  Aborts on memory exhaustion: a harness has no
 * other way to report it. */
char	*fuzz_strndup(const uint8_t *data, size_t n);

/*
 * Splits data at its first NUL bytes into at most n parts, each a new
 * C string in part[] (the caller frees them with fuzz_free_parts).  Parts
 * missing from the input are NULL; the last part runs to the end of the
 * input (and stops at a NUL of its own, as C strings do).
 */
void	 fuzz_split(const uint8_t *data, size_t size, char **part, size_t n);
void	 fuzz_free_parts(char **part, size_t n);

/*
 * Returns 1 when every '&' in the len bytes at s starts one of the
 * entities in ents (a NULL-terminated list), else 0.
 */
int	 fuzz_entities_ok(const char *s, size_t len, const char *const *ents);

/* The three entities Slack text uses. */
extern const char *const fuzz_slack_entities[];

/*
 * Checks Slack mrkdwn text (len bytes): every '&' starts an entity of
 * fuzz_slack_entities; a '<' is only allowed as the start of a link
 * "<URL>" or "<URL|label>" whose URL starts with one of links (a
 * NULL-terminated list; NULL allows no link at all), contains no space,
 * control byte, '<' or '|', and whose label holds no '<'; a '>' only
 * ends such a link.  Aborts on a violation.
 */
void	 fuzz_check_mrkdwn(const char *s, size_t len,
	    const char *const *links);

/*
 * Checks a message render.c returned: strict JSON in valid UTF-8, an
 * object with "response_type":"ephemeral", a string "text" of at most
 * 40,000 bytes and an array "blocks" of at most SLACK_MAX_BLOCKS
 * objects, each mrkdwn text in them at most SLACK_MAX_TEXT bytes; and
 * every mrkdwn text (the top-level text included) passes
 * fuzz_check_mrkdwn with links.  Aborts on a violation.
 */
void	 fuzz_check_message(const char *json, const char *const *links);

#endif
