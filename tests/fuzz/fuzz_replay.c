/*
 * fuzz_replay: the replay cache's file (replay_open, replay_check,
 * replay_stats) when its bytes are anyone's.
 *
 * Input: a flags byte, a bucket byte, then the file's bytes.  Flags bit
 * 0 pads the file to REPLAY_FILE_SIZE (else it is exactly the bytes
 * given: a wrong size); bit 1 writes a valid header first and the bytes
 * after it, into the slots.  A signature is then checked twice, in a
 * bucket the bytes cover when they reach the slots, with a fingerprint
 * taken from the input.
 *
 * Properties: the file is always usable after replay_open() (made, or
 * rebuilt with a valid header); a file of the right size keeps every
 * byte after its header (whatever they hold may only make a check
 * refuse or ask the store); a signature is never accepted twice, and
 * once accepted it is refused; replay_stats() reads the result.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "replay.h"

#define NOW	1800000000

static char	 path[64];
static uint8_t	*before, *after;

static time_t
fake_clock(void)
{
	return NOW;
}

static int
no_history(void *arg)
{
	(void)arg;
	return 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char	 dir[] = "/tmp/fuzz_replay.XXXXXX";

	(void)argc;
	(void)argv;
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/replay", dir);
	if ((before = malloc(REPLAY_FILE_SIZE)) == NULL ||
	    (after = malloc(REPLAY_FILE_SIZE)) == NULL)
		abort();
	replay_set_clock(fake_clock);
	return 0;
}

/* Reads the whole file into buf (REPLAY_FILE_SIZE bytes at most);
 * returns its size. */
static size_t
slurp(uint8_t *buf)
{
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		abort();
	n = pread(fd, buf, REPLAY_FILE_SIZE, 0);
	close(fd);
	FUZZ_REQUIRE(n >= 0);
	return (size_t)n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct replay_hdr	 h;
	struct replay_stats	 st;
	enum replay_result	 r1, r2;
	unsigned char		 hash[REPLAY_HASHLEN];
	size_t			 off = 0, n, covered, i;
	int			 fd, pad, head;

	if (size < 2)
		return 0;
	pad = data[0] & 1;
	head = (data[0] & 2) != 0;
	n = size - 2;
	if (n > REPLAY_FILE_SIZE - sizeof(h))
		n = REPLAY_FILE_SIZE - sizeof(h);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		abort();
	if (head) {
		memset(&h, 0, sizeof(h));
		h.magic = REPLAY_MAGIC;
		h.version = REPLAY_VERSION;
		h.nbuckets = REPLAY_BUCKETS;
		h.size = REPLAY_FILE_SIZE;
		h.born = data[1];
		if (write(fd, &h, sizeof(h)) != (ssize_t)sizeof(h))
			abort();
		off = sizeof(h);
	}
	if (write(fd, data + 2, n) != (ssize_t)n ||
	    (pad && ftruncate(fd, REPLAY_FILE_SIZE) == -1))
		abort();
	close(fd);
	if (pad)
		slurp(before);

	FUZZ_REQUIRE(replay_open(path, no_history, NULL) == 0);
	FUZZ_REQUIRE(slurp(after) == REPLAY_FILE_SIZE);
	memcpy(&h, after, sizeof(h));
	FUZZ_REQUIRE(h.magic == REPLAY_MAGIC &&
	    h.version == REPLAY_VERSION && h.nbuckets == REPLAY_BUCKETS &&
	    h.size == REPLAY_FILE_SIZE);
	if (pad)
		FUZZ_REQUIRE(memcmp(before + sizeof(h), after + sizeof(h),
		    REPLAY_FILE_SIZE - sizeof(h)) == 0);

	/* A bucket the input's bytes cover, when they reach the slots. */
	covered = off + n > sizeof(h) ? (off + n - sizeof(h)) / 64 + 1 : 1;
	memset(hash, 0, sizeof(hash));
	i = data[1] % covered;
	hash[6] = (unsigned char)(i >> 8);
	hash[7] = (unsigned char)i;
	for (i = 0; i < 6 && 2 + i < size; i++)
		hash[8 + i] = data[size - 1 - i];
	r1 = replay_check(hash, NOW);
	r2 = replay_check(hash, NOW);
	FUZZ_REQUIRE(r2 != REPLAY_NEW);
	FUZZ_REQUIRE(r1 != REPLAY_NEW || r2 == REPLAY_SEEN);
	FUZZ_REQUIRE(replay_stats(path, NOW, &st) == 0);
	FUZZ_REQUIRE(st.live >= 0 &&
	    st.live <= (long)REPLAY_BUCKETS * REPLAY_WAYS);
	replay_close();
	return 0;
}
