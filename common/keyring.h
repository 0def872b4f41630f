/*
 * keyring: the token-encryption keys a program holds, and their reload.
 *
 * FORCELINK_KEY or FORCELINK_KEY_FILE holds one or more keys, each the
 * base64 of 32 random bytes, one per line (any white space separates
 * them, so FORCELINK_KEY="NEW OLD" works where a value cannot span two
 * lines).  The first is the current key:
 * every new seal uses it.  The others are previous keys, kept only to open
 * rows sealed before a rotation.  Each sealed row records the id of its
 * key (crypto.h), so a row is opened with the key of that id.
 *
 * A keyring read from a file follows the file: keyring_update() looks at
 * it (inode, size, modification and change times) at most once per second
 * and loads it again when it changed, and keyring_reload() does so at once
 * (a row names a key id we do not hold: the file may have just been
 * rotated).  A file that does not parse is reported and the keys already
 * held stay in use.  A keyring given as text (FORCELINK_KEY) never
 * changes.
 *
 * Threads: the keys themselves live in immutable, reference-counted
 * snapshots (struct keyring_snap).  A thread holds one snapshot and uses
 * it lock-free; keyring_update() swaps it for the keyring's current one
 * only when that changed (one atomic load when it did not).  A snapshot
 * is wiped and freed when its last holder releases it, so a thread never
 * sees keys vanish under it while another thread reloads.
 */
#ifndef FORCELINK_KEYRING_H
#define FORCELINK_KEYRING_H

#include <stddef.h>

#include "crypto.h"

/* Most keys one keyring holds: the current one and a few previous ones
 * (each rotation adds one until it completes and removes the others). */
#define KEYRING_MAX	8

struct keyring;
struct keyring_snap;

/*
 * Parses keyring text: base64 keys separated by white space (one per line
 * by convention; blank lines ignored), at most KEYRING_MAX keys, no key
 * twice.  On success fills keys[0..*n-1] (the first is the current key)
 * and returns 0; else returns -1 with one line in err (size errsz) that
 * names the key and line at fault but never quotes them, and keys[]
 * wiped.
 */
int	 keyring_parse(const char *text, struct crypto_key keys[KEYRING_MAX],
	    size_t *n, char *err, size_t errsz);

/*
 * Formats n keys (1..KEYRING_MAX) as keyring text, one base64 key per
 * line, each line ending in a newline.  Returns the allocated text (a
 * secret: free it with crypto_free_secret), or NULL on memory exhaustion.
 */
char	*keyring_format(const struct crypto_key *keys, size_t n);

/*
 * Reads and parses the keyring file at path.  Returns 0 and the keys as
 * keyring_parse() does, or -1 with err filled (unreadable, too large, or
 * malformed).
 */
int	 keyring_read_file(const char *path,
	    struct crypto_key keys[KEYRING_MAX], size_t *n, char *err,
	    size_t errsz);

/*
 * Makes a keyring.  keyring_from_file() reads path now and follows it
 * from then on; keyring_from_text() and keyring_from_keys() never change.
 * Return NULL with err filled (from_file, from_text) or on memory
 * exhaustion (from_keys: keys are copied, 1..KEYRING_MAX of them).
 */
struct keyring	*keyring_from_file(const char *path, char *err,
		    size_t errsz);
struct keyring	*keyring_from_text(const char *text, char *err,
		    size_t errsz);
struct keyring	*keyring_from_keys(const struct crypto_key *keys,
		    size_t n);

/*
 * Frees a keyring and drops its reference to its current snapshot.
 * Snapshots that threads still hold stay valid until they release them;
 * the caller guarantees that no thread calls keyring_update() or
 * keyring_reload() on it any more.  NULL is allowed.
 */
void		 keyring_free(struct keyring *);

/* The file a keyring follows, or NULL when it was given as text. */
const char	*keyring_path(const struct keyring *);

/*
 * Makes *snap the keyring's current snapshot.  *snap is NULL or a
 * snapshot this thread holds; it is released when replaced.  Looks at the
 * file first when it was not looked at in the current second.  Never
 * fails: after it, *snap is a valid snapshot.
 */
void		 keyring_update(struct keyring *,
		    struct keyring_snap **snap);

/*
 * Looks at the keyring's file now (not at most once a second) and loads
 * it when it changed.  Returns 1 when the keys changed, 0 when not (or
 * the keyring has no file), -1 when the file changed but could not be
 * loaded (logged; the keys held stay in use).  Call keyring_update()
 * afterwards to use the new keys.
 */
int		 keyring_reload(struct keyring *);

/* Releases a snapshot; the last release wipes its keys.  NULL is
 * allowed. */
void		 keyring_release(struct keyring_snap *);

/* The current key of a snapshot (never NULL).  Valid while the snapshot
 * is held. */
const struct crypto_key *keyring_current(const struct keyring_snap *);

/* The key of a snapshot whose id is id, or NULL.  Valid while the
 * snapshot is held. */
const struct crypto_key *keyring_find(const struct keyring_snap *,
		    const char *id);

/* Number of keys in a snapshot (1..KEYRING_MAX) and the key at index i
 * (0 is the current key). */
size_t		 keyring_count(const struct keyring_snap *);
const struct crypto_key *keyring_key(const struct keyring_snap *, size_t i);

#endif
