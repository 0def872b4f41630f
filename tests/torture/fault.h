/*
 * fault: counted fault injection for the torture test.
 *
 * Three places can be made to fail on the Nth event after fault_arm():
 *  - forcelink's own allocations: the torture program is linked with
 *    -Wl,--wrap for malloc, calloc, realloc, free, strdup, strndup,
 *    asprintf and vasprintf, which redirects the calls made from our
 *    objects (common/, cgi/, the test) and from nothing else: libcurl,
 *    json-c, libsodium and SQLite keep the real allocator;
 *  - SQLite's allocations, through SQLITE_CONFIG_MALLOC;
 *  - SQLite's writes, syncs and truncations, through a VFS that delegates
 *    to the unix VFS and is registered as the default.
 * A "persistent" fault also fails every later event, as when memory or
 * the disk stays exhausted.  Only the thread that armed the fault counts
 * events, so the TLS peer's responder thread never disturbs the count.
 *
 * Every allocation forcelink makes is also recorded until it is freed,
 * so a run can prove that it handed back everything it took.
 */
#ifndef FORCELINK_FAULT_H
#define FORCELINK_FAULT_H

enum fault_kind {
	FAULT_NONE,
	FAULT_MALLOC,		/* forcelink's allocation N fails */
	FAULT_MALLOC_ALL,	/* ... and every one after it */
	FAULT_SQLMEM,		/* SQLite's allocation N fails */
	FAULT_SQLMEM_ALL,	/* ... and every one after it */
	FAULT_IO,		/* SQLite's write, sync or truncate N fails */
	FAULT_IO_ALL,		/* ... and every one after it */
	FAULT_FULL,		/* write N (torn: half written) and all
				   later: a full disk */
	FAULT__MAX
};

/* The kind's name on the command line and in reports ("sqlite-malloc"). */
const char	*fault_name(enum fault_kind);

/* Looks a kind up by name.  Returns FAULT_NONE when there is none. */
enum fault_kind	 fault_by_name(const char *);

/*
 * Installs the SQLite allocator and the VFS.  Must run before anything
 * else touches SQLite.  Returns 0, or -1 (printed on stderr).
 */
int		 fault_init(void);

/* Starts counting events of kind on the calling thread; event n (from
 * 1) fails, and with a persistent kind every later one too. */
void		 fault_arm(enum fault_kind kind, long n);

/* Stops counting.  Returns how many events failed (0 when the run never
 * reached event n). */
long		 fault_disarm(void);

/* Events counted since fault_arm(). */
long		 fault_events(void);

/* Allocations of forcelink's code, and of SQLite, not yet freed. */
long		 fault_live_ours(void);
long		 fault_live_sqlite(void);

#endif
