/*
 * shmfile: a small file shared by every process and thread of the
 * programs on this host, mapped MAP_SHARED (the counters of metrics.h,
 * the replay cache of replay.h).
 *
 * Each program maps the file before it forks its workers, so the
 * mapping is inherited and every process of every program sees the same
 * bytes.  The file is distrusted like any input: it must be a regular
 * file (no symbolic link followed) owned by the effective user, and the
 * caller's valid() must accept its header.  It is made, and kept, mode
 * 0600.  The checks and a rebuild run under an exclusive flock() of the
 * file, so that programs starting together agree on one layout; the
 * lock is released before shmfile_open() returns (nothing is locked
 * while the mapping is in use).
 *
 * A file of the wrong size is resized and its contents cleared before
 * build() sees it; a file of the right size whose header valid() refuses
 * is handed to build() as it is (build() decides what, if anything, of
 * the old bytes it keeps: metrics clears all, the replay cache keeps
 * slots that can only make it refuse more).  A file that is not a
 * regular file of this user is not touched: shmfile_open() then fails.
 */
#ifndef FORCELINK_SHMFILE_H
#define FORCELINK_SHMFILE_H

#include <stddef.h>

/* How a caller's file is checked and rebuilt. */
struct shmfile_layout {
	const char	*what;		/* for logs: "metrics", "replay cache" */
	size_t		 size;		/* the file's exact size */
	/* Whether the header at p (size bytes) is one of ours. */
	int		(*valid)(const void *p);
	/*
	 * Writes a fresh header at p.  cleared: the whole file was zeroed
	 * (it was missing or of the wrong size); otherwise it holds the
	 * old bytes of a file whose header valid() refused.
	 */
	void		(*build)(void *p, int cleared);
};

/*
 * Opens (creating it 0600 when missing), checks and maps path as
 * described above.  *rebuilt (may be NULL) is set to 1 when build() ran,
 * else 0.  Returns the mapping of layout->size bytes (release with
 * shmfile_close), or NULL (logged) when the file cannot be used.
 */
void	*shmfile_open(const char *path, const struct shmfile_layout *layout,
	    int *rebuilt);

/* Unmaps what shmfile_open() returned (p may be NULL). */
void	 shmfile_close(void *p, size_t size);

#endif
