/*
 * rekey: rotation of the token-encryption key without downtime, as
 * forcelink-admin rotate-key runs it.
 *
 * The programs hold a keyring (keyring.h) read from FORCELINK_KEY_FILE:
 * they seal with its first key, open each row with the key its key id
 * names, and notice within a second that the file changed.  A rotation to
 * a new key N therefore goes:
 *
 *  1. rewrite the key file (atomically) with N first and the previous
 *     keys after it, unless N is already first;
 *  2. wait a grace period longer than the programs' one-second look at
 *     the file: from then on every write seals under N, and every program
 *     opens rows under N and under the previous keys;
 *  3. re-seal, a batch per transaction, every row not under N, each only
 *     if nobody changed it since it was read; repeat until none is left;
 *  4. rewrite the key file with N alone, wait the grace period again, and
 *     re-seal any row that a slow writer put under a previous key meanwhile
 *     (this process still holds the previous keys).
 *
 * Killed at any point, running it again with the same new key resumes:
 * the key file says where it was (N first: steps 1 and 2 are done).
 * Before it changes anything it checks that every row is sealed under a
 * key it holds, so a wrong key file changes nothing.
 *
 * A key kept in FORCELINK_KEY (env_keys) cannot be rewritten, and the
 * programs read it only when they start.  Steps 1, 2 and 4 are then the
 * administrator's, each a change of FORCELINK_KEY and a restart: "N OLD"
 * before the run, which insists that N is already first, and "N" alone
 * after it.  The run does step 3 only.
 */
#ifndef FORCELINK_REKEY_H
#define FORCELINK_REKEY_H

#include <stdio.h>

#include "crypto.h"
#include "store.h"

#define REKEY_GRACE_DEFAULT	2	/* seconds */
#define REKEY_GRACE_MAX		3600
#define REKEY_BATCH_DEFAULT	100	/* rows per transaction */
#define REKEY_BATCH_MAX		10000
#define REKEY_PAUSE_MAX		60000	/* milliseconds */

enum rekey_result {
	REKEY_OK,
	REKEY_BADARG,	/* the new key file is unusable, or already holds
			   the current and only key: nothing was changed */
	REKEY_CONFIG,	/* FORCELINK_KEY_FILE or FORCELINK_DB unusable, or
			   rows sealed under a key neither file holds */
	REKEY_BUSY,	/* the database, or another rotation, held the
			   lock too long */
	REKEY_FAILED	/* I/O error, or rows that do not open (they are
			   left as they are, and so are the old keys) */
};

const char	*rekey_result_str(enum rekey_result);

/*
 * db_path is FORCELINK_DB, key_path FORCELINK_KEY_FILE, or NULL when the
 * keys are env_keys, the text of FORCELINK_KEY; new_key_path holds the
 * new key alone.  grace is in seconds (after each rewrite of
 * the key file), batch in rows per transaction, pause_ms between
 * transactions.  Progress goes to out, one line per step and per pass
 * (NULL: nowhere).
 */
struct rekey_opts {
	const char	*db_path;
	const char	*key_path;
	const char	*env_keys;
	const char	*new_key_path;
	int		 grace;
	int		 batch;
	int		 pause_ms;
	FILE		*out;
};

/*
 * Runs the whole rotation.  Returns REKEY_OK, or another result with one
 * line in err (size errsz) saying what went wrong and what to do; it
 * never contains key material.
 */
enum rekey_result rekey_run(const struct rekey_opts *, char *err,
		    size_t errsz);

/*
 * One pass over the links, the started logins and the integrations'
 * sealed values (consumer secrets, integration users' tokens): re-seals
 * under st's current key, batch rows per transaction with pause_ms
 * between them, every row that is under another key.  Adds what it did
 * to *c.  Returns REKEY_OK, REKEY_BUSY or REKEY_FAILED (logged).
 */
enum rekey_result rekey_pass(struct store *st, int batch, int pause_ms,
		    struct store_rekey_counts *c);

/*
 * Replaces the keyring file at path (a symbolic link is followed) with n
 * keys, the first being the current one: writes a temporary file in the
 * same directory with the same owner and mode, syncs it, renames it over
 * the old one and syncs the directory, so a reader sees the old keyring
 * or the new one, whole.  Returns 0, or -1 with err filled (the old file
 * is then untouched).
 */
int		 rekey_write_keyfile(const char *path,
		    const struct crypto_key *keys, size_t n, char *err,
		    size_t errsz);

#endif
