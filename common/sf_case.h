/*
 * sf_case: creating a Salesforce Case (issue 15), the REST side.
 *
 * Two calls, each made with a user's (or the integration user's) access
 * token by session.h:
 *
 *  - the Case describe (GET .../sobjects/Case/describe), read for one
 *    thing only: the Priority picklist's active values and its default.
 *    Replies are kept in a small cache of the process, one entry per
 *    integration and instance; a later describe sends If-Modified-Since
 *    with the entry's Last-Modified (or, without one, the second before
 *    it was fetched), and a 304 keeps the entry.  A
 *    Case form opens with the cached values (sf_case_cache_get) without
 *    any Salesforce call, because views.open must come within Slack's 3
 *    seconds; Salesforce's standard values (sf_case_standard) stand in
 *    until a describe has been read.
 *
 *  - one POST .../composite that creates the Case and reads its
 *    CaseNumber: allOrNone, a create subrequest and a GET of the new Id
 *    by reference (@{newCase.id}), so that either both happen or nothing
 *    does, for one API call.  An Account, when the user named one, is
 *    looked up in the same composite, first: SELECT Id, Name FROM Account
 *    WHERE Name LIKE '<the name, escaped for LIKE>' LIMIT 2 -- LIKE
 *    without a wildcard is an exact match that ignores case, and the
 *    name goes through the same escaping as every contact search -- and
 *    the create's AccountId is @{account.records[0].Id}.  No account of
 *    that name: the reference has no value, Salesforce halts the
 *    composite, nothing is created, and the outcome says so
 *    (account_missing).  Two of that name: the Case is made on the first
 *    one Salesforce returned and the outcome says that the name was
 *    ambiguous (accounts = 2), so the person is told, with a link,
 *    rather than the Case being refused for a name they cannot change.
 *    A picker (an external_select) would need Slack's options endpoint
 *    and one more Salesforce call per keystroke; a name costs nothing
 *    until the Case is created.
 *
 * Salesforce substitutes "@{ref.path}" in a subrequest's URL or body
 * ("You can reference the referenceId in either the body or URL of a
 * subrequest", REST API guide, Composite Subrequest), so a text holding
 * that pattern would not reach the Case as typed: sf_case_reference()
 * finds one, and the form refuses it (casefrm.h).
 *
 * An Account reference without a value is recognised by the create's
 * PROCESSING_HALTED error naming it ("... No value for
 * account.records[0].Id ..."); an error worded otherwise is still a
 * refusal, shown as Salesforce's words at the top of the form.
 *
 * Replies are parsed as strictly as every other Salesforce reply
 * (sf_json_parse_strict), and every field used must have its documented
 * shape; the parse functions are public, for tests and fuzzing.  A 401
 * INVALID_SESSION_ID is SF_EXPIRED, so session_call() refreshes once.
 * Nothing here logs a value the user typed: only codes and statuses.
 */
#ifndef FORCELINK_SF_CASE_H
#define FORCELINK_SF_CASE_H

#include <stddef.h>
#include <time.h>

#include "config.h"
#include "sf.h"

struct buf;
struct http;

/* Most picklist values offered (a Slack static_select takes 100), and
 * the longest value (a Slack option's value takes 150 characters) and
 * label (its text takes 75 characters, of at most 4 bytes each). */
#define SF_CASE_PICK_MAX	20
#define SF_CASE_VALUE_MAX	150
#define SF_CASE_LABEL_MAX	300

/* Salesforce's lengths of the Case fields the form fills, in
 * characters. */
#define SF_CASE_SUBJECT_MAX	255
#define SF_CASE_DESC_MAX	32000
/* An Account's Name: 255 characters. */
#define SF_CASE_ACCOUNT_MAX	255

/* The errors of one create kept, and the fields kept per error. */
#define SF_CASE_ERRORS_MAX	8
#define SF_CASE_FIELDS_MAX	4

/* The Priority picklist: active values in Salesforce's order. */
struct sf_case_picklist {
	size_t	 n;
	char	 value[SF_CASE_PICK_MAX][SF_CASE_VALUE_MAX + 1];
	char	 label[SF_CASE_PICK_MAX][SF_CASE_LABEL_MAX + 1];
	int	 def;		/* index of the default value, -1: none */
};

/* Salesforce's standard Priority values (High, Medium, Low; Medium the
 * default), for a form opened before any describe was read. */
void		 sf_case_standard(struct sf_case_picklist *);

/* 1 when a and b offer the same values, labels and default. */
int		 sf_case_picklist_same(const struct sf_case_picklist *a,
		    const struct sf_case_picklist *b);

/* The index of value in p, or -1. */
int		 sf_case_picklist_find(const struct sf_case_picklist *p,
		    const char *value);

/*
 * The cached picklist of integration (any of its instances: the one
 * read last) into *out.  Returns 0, or -1 when none is cached.  No call
 * is made; safe from any thread.
 */
int		 sf_case_cache_get(const char *integration,
		    struct sf_case_picklist *out);

/* Empties the cache (tests). */
void		 sf_case_cache_clear(void);

/*
 * The Priority picklist of the org behind instance_url, for org (whose
 * name keys the cache).  With a cached entry for (org->name,
 * instance_url) the describe carries If-Modified-Since, and a 304 gives
 * the entry back; a 200 is read and replaces it.  SF_OK fills *out;
 * SF_EXPIRED for a 401 INVALID_SESSION_ID; otherwise as sf_parse_error
 * (*err filled) or SF_MALFORMED for a reply of the wrong shape.
 */
enum sf_result	 sf_case_describe(struct http *, const struct sf_org *org,
		    const char *instance_url, const char *access_token,
		    struct sf_case_picklist *out, struct sf_error *err);

/* Reads a describe reply's Priority field: SF_OK fills *out (a reply
 * without a Priority field offers none: n 0); SF_MALFORMED. */
enum sf_result	 sf_case_parse_describe(const char *, size_t,
		    struct sf_case_picklist *out);

/* A Case to create.  Strings are UTF-8; NULL or "" leaves a field out
 * (account: no Account looked up). */
struct sf_case_new {
	const char	*subject;
	const char	*description;
	const char	*priority;
	const char	*account;	/* an Account's exact name */
};

/* One error of the create, as Salesforce gave it: code and fields are
 * safe to log; message is Salesforce's text (it may quote the user's
 * value: shown to that user, never logged). */
struct sf_case_error {
	char	 code[64];
	char	 message[512];
	size_t	 nfields;
	char	 fields[SF_CASE_FIELDS_MAX][64];
};

/* What a composite create came to. */
struct sf_case_result {
	int			 created;	/* 1: id and number are set */
	char			 id[19];
	char			 number[32];	/* CaseNumber */
	long			 accounts;	/* Accounts of the name found:
						   -1 none asked */
	int			 account_missing; /* no Account of the
						   name: nothing created */
	char			 account_id[19];
	char			 account_name[SF_CASE_LABEL_MAX + 1];
	size_t			 nerr;		/* not created: why */
	struct sf_case_error	 err[SF_CASE_ERRORS_MAX];
};

/*
 * Appends to b the composite request body creating c (api_version
 * "vNN.N").  Returns 0, or -1 past b's ceiling or for a bad version.
 */
int		 sf_case_composite_body(struct buf *b, const char *api_version,
		    const struct sf_case_new *c);

/*
 * Creates c with one composite call.  SF_OK when Salesforce answered the
 * composite: *out says whether the Case was created (id, number) or
 * why not (its errors, account_missing).  SF_EXPIRED for a 401
 * INVALID_SESSION_ID (nothing was created); otherwise the class of the
 * outer reply (SF_REFUSED with *err for a refused composite, SF_TRANSIENT
 * when Salesforce could not be reached or failed: the Case may or may
 * not exist), or SF_MALFORMED.
 */
enum sf_result	 sf_case_create(struct http *, const struct sf_org *org,
		    const char *instance_url, const char *access_token,
		    const struct sf_case_new *c, struct sf_case_result *out,
		    struct sf_error *err);

/* Reads a composite reply (status 200) to the body c made: SF_OK fills
 * *out; SF_MALFORMED when it is not the documented shape or does not
 * answer our subrequests, in order. */
enum sf_result	 sf_case_parse_composite(const char *, size_t,
		    const struct sf_case_new *c, struct sf_case_result *out);

/* Salesforce (and Slack) count characters: the number of characters of
 * s (well-formed UTF-8), and the bytes of its longest prefix of at most
 * max_chars characters and max_bytes bytes (cut on a character
 * boundary). */
size_t		 sf_case_chars(const char *s);
size_t		 sf_case_prefix(const char *s, size_t max_chars,
		    size_t max_bytes);

/* 1 when s holds "@{" name "." ... "}" (name: letters, digits, '_'),
 * which a composite would read as a reference. */
int		 sf_case_reference(const char *s);

#endif
