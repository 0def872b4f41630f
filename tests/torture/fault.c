/*
 * fault: counted fault injection for the torture test (see fault.h).
 *
 * Owns the allocation wrappers that -Wl,--wrap routes forcelink's calls
 * to, the table of forcelink's live allocations, the SQLite allocator
 * shim and the SQLite VFS shim, and the one counter they all share.  The
 * wrappers reach the real functions through their __real_ names, so
 * under AddressSanitizer or valgrind the real allocator is still the
 * checked one.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "fault.h"

/* Where each kind injects. */
enum fault_site {
	SITE_NONE,
	SITE_OURS,		/* forcelink's allocations */
	SITE_SQLMEM,		/* SQLite's allocations */
	SITE_IO,		/* writes, syncs, truncations */
	SITE_WRITE		/* writes only (a full disk) */
};

static const struct {
	const char	*name;
	enum fault_site	 site;
	int		 all;		/* persistent */
} fault_kinds[FAULT__MAX] = {
	[FAULT_NONE] = { "none", SITE_NONE, 0 },
	[FAULT_MALLOC] = { "malloc", SITE_OURS, 0 },
	[FAULT_MALLOC_ALL] = { "malloc-all", SITE_OURS, 1 },
	[FAULT_SQLMEM] = { "sqlite-malloc", SITE_SQLMEM, 0 },
	[FAULT_SQLMEM_ALL] = { "sqlite-malloc-all", SITE_SQLMEM, 1 },
	[FAULT_IO] = { "io", SITE_IO, 0 },
	[FAULT_IO_ALL] = { "io-all", SITE_IO, 1 },
	[FAULT_FULL] = { "disk-full", SITE_WRITE, 1 },
};

/* The armed fault.  Only the arming thread counts (fault_counting). */
static enum fault_kind	 fault_kind_armed = FAULT_NONE;
static long		 fault_target;
static long		 fault_nevents;
static long		 fault_ninjected;
static __thread int	 fault_counting;

/* Live allocations: SQLite's by count, ours by address. */
static long		 fault_sql_live;

/*
 * An open-addressing set of the addresses forcelink allocated and has
 * not freed, with linear probing and backward-shift deletion.  The peer
 * thread may allocate through the wrappers too, hence the lock.
 */
#define LIVE_BITS	18
#define LIVE_CAP	(1UL << LIVE_BITS)
static uintptr_t	 live[LIVE_CAP];
static long		 nlive;
static pthread_mutex_t	 live_mu = PTHREAD_MUTEX_INITIALIZER;

const char *
fault_name(enum fault_kind k)
{
	return k < FAULT__MAX ? fault_kinds[k].name : "?";
}

enum fault_kind
fault_by_name(const char *s)
{
	int	 k;

	for (k = FAULT_NONE + 1; k < FAULT__MAX; k++)
		if (strcmp(s, fault_kinds[k].name) == 0)
			return (enum fault_kind)k;
	return FAULT_NONE;
}

void
fault_arm(enum fault_kind kind, long n)
{
	fault_kind_armed = kind;
	fault_target = n;
	fault_nevents = 0;
	fault_ninjected = 0;
	fault_counting = 1;
}

long
fault_disarm(void)
{
	fault_counting = 0;
	fault_kind_armed = FAULT_NONE;
	return fault_ninjected;
}

long
fault_events(void)
{
	return fault_nevents;
}

/* Counts one event at site; returns 1 when it is to fail. */
static int
fault_hit(enum fault_site site)
{
	enum fault_site	 armed;

	if (!fault_counting)
		return 0;
	armed = fault_kinds[fault_kind_armed].site;
	if (armed != site && !(armed == SITE_IO && site == SITE_WRITE))
		return 0;
	fault_nevents++;
	if (fault_nevents == fault_target ||
	    (fault_kinds[fault_kind_armed].all &&
	    fault_nevents > fault_target)) {
		fault_ninjected++;
		return 1;
	}
	return 0;
}

/* --- Forcelink's allocations ------------------------------------------ */

void	*__real_malloc(size_t);
void	*__real_calloc(size_t, size_t);
void	*__real_realloc(void *, size_t);
void	 __real_free(void *);
void	*__wrap_malloc(size_t);
void	*__wrap_calloc(size_t, size_t);
void	*__wrap_realloc(void *, size_t);
void	 __wrap_free(void *);
char	*__wrap_strdup(const char *);
char	*__wrap_strndup(const char *, size_t);
int	 __wrap_vasprintf(char **, const char *, va_list);
int	 __wrap_asprintf(char **, const char *, ...);

static size_t
live_slot(uintptr_t p)
{
	return (size_t)(((uint64_t)p >> 4) * UINT64_C(0x9e3779b97f4a7c15) >>
	    (64 - LIVE_BITS));
}

static void
live_add(void *vp)
{
	uintptr_t	 p = (uintptr_t)vp;
	size_t		 i;

	pthread_mutex_lock(&live_mu);
	if (nlive >= (long)(LIVE_CAP / 2)) {
		fprintf(stderr, "torture: more than %lu live allocations\n",
		    LIVE_CAP / 2);
		abort();
	}
	for (i = live_slot(p); live[i] != 0; i = (i + 1) & (LIVE_CAP - 1))
		continue;
	live[i] = p;
	nlive++;
	pthread_mutex_unlock(&live_mu);
}

/* Forgets p.  Returns 1 when it was ours, 0 when some library made it. */
static int
live_del(void *vp)
{
	uintptr_t	 p = (uintptr_t)vp;
	size_t		 i, j, k;

	pthread_mutex_lock(&live_mu);
	for (i = live_slot(p); live[i] != p; i = (i + 1) & (LIVE_CAP - 1))
		if (live[i] == 0) {
			pthread_mutex_unlock(&live_mu);
			return 0;
		}
	/* Backward shift: move up every entry whose probe passed slot i. */
	for (j = i;;) {
		j = (j + 1) & (LIVE_CAP - 1);
		if (live[j] == 0)
			break;
		k = live_slot(live[j]);
		if ((j > i && (k <= i || k > j)) ||
		    (j < i && (k <= i && k > j))) {
			live[i] = live[j];
			i = j;
		}
	}
	live[i] = 0;
	nlive--;
	pthread_mutex_unlock(&live_mu);
	return 1;
}

long
fault_live_ours(void)
{
	long	 n;

	pthread_mutex_lock(&live_mu);
	n = nlive;
	pthread_mutex_unlock(&live_mu);
	return n;
}

void *
__wrap_malloc(size_t n)
{
	void	*p;

	if (fault_hit(SITE_OURS))
		return NULL;
	if ((p = __real_malloc(n)) != NULL)
		live_add(p);
	return p;
}

void *
__wrap_calloc(size_t n, size_t size)
{
	void	*p;

	if (fault_hit(SITE_OURS))
		return NULL;
	if ((p = __real_calloc(n, size)) != NULL)
		live_add(p);
	return p;
}

void *
__wrap_realloc(void *old, size_t n)
{
	void	*p;

	if (old == NULL)
		return __wrap_malloc(n);
	if (fault_hit(SITE_OURS))
		return NULL;
	if ((p = __real_realloc(old, n)) != NULL && live_del(old))
		live_add(p);
	return p;
}

void
__wrap_free(void *p)
{
	if (p != NULL)
		(void)live_del(p);
	__real_free(p);
}

/* Copies the n bytes at s and a terminator into a new allocation. */
static char *
fault_copy(const char *s, size_t n)
{
	char	*p;

	if ((p = __wrap_malloc(n + 1)) == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
__wrap_strndup(const char *s, size_t max)
{
	return fault_copy(s, strnlen(s, max));
}

char *
__wrap_strdup(const char *s)
{
	return fault_copy(s, strlen(s));
}

int
__wrap_vasprintf(char **out, const char *fmt, va_list ap)
{
	va_list	 cp;
	int	 n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0 || (*out = __wrap_malloc((size_t)n + 1)) == NULL)
		return -1;
	return vsnprintf(*out, (size_t)n + 1, fmt, ap);
}

int
__wrap_asprintf(char **out, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = __wrap_vasprintf(out, fmt, ap);
	va_end(ap);
	return n;
}

/* --- SQLite's allocations --------------------------------------------- */

static sqlite3_mem_methods	 fault_sqlmem_real;

static void *
fault_sqlmem_malloc(int n)
{
	void	*p;

	if (fault_hit(SITE_SQLMEM))
		return NULL;
	if ((p = fault_sqlmem_real.xMalloc(n)) != NULL)
		__atomic_add_fetch(&fault_sql_live, 1, __ATOMIC_RELAXED);
	return p;
}

static void
fault_sqlmem_free(void *p)
{
	if (p != NULL)
		__atomic_sub_fetch(&fault_sql_live, 1, __ATOMIC_RELAXED);
	fault_sqlmem_real.xFree(p);
}

/* SQLite never reallocates NULL (that is a malloc) nor to 0 bytes. */
static void *
fault_sqlmem_realloc(void *p, int n)
{
	if (fault_hit(SITE_SQLMEM))
		return NULL;
	return fault_sqlmem_real.xRealloc(p, n);
}

static int
fault_sqlmem_size(void *p)
{
	return fault_sqlmem_real.xSize(p);
}

static int
fault_sqlmem_roundup(int n)
{
	return fault_sqlmem_real.xRoundup(n);
}

static int
fault_sqlmem_init(void *arg)
{
	(void)arg;
	return fault_sqlmem_real.xInit(fault_sqlmem_real.pAppData);
}

static void
fault_sqlmem_shutdown(void *arg)
{
	(void)arg;
	fault_sqlmem_real.xShutdown(fault_sqlmem_real.pAppData);
}

long
fault_live_sqlite(void)
{
	return __atomic_load_n(&fault_sql_live, __ATOMIC_RELAXED);
}

/* --- SQLite's file system --------------------------------------------- */

/* Our file: the base SQLite sees, then the unix VFS's own file. */
struct tfile {
	sqlite3_file	 base;
	sqlite3_file	*real;
};

static sqlite3_vfs	*unixvfs;

#define REAL(f)		(((struct tfile *)(f))->real)
#define RM(f)		(REAL(f)->pMethods)

static int
t_close(sqlite3_file *f)
{
	return RM(f)->xClose(REAL(f));
}

static int
t_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
	return RM(f)->xRead(REAL(f), p, n, off);
}

/*
 * A full disk takes what fits: the first write it fails still puts its
 * first half in the file (a torn write), as write(2) does before ENOSPC.
 */
static int
t_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
	if (!fault_hit(SITE_WRITE))
		return RM(f)->xWrite(REAL(f), p, n, off);
	if (fault_kind_armed != FAULT_FULL)
		return SQLITE_IOERR_WRITE;
	if (fault_ninjected == 1 && n > 1)
		(void)RM(f)->xWrite(REAL(f), p, n / 2, off);
	return SQLITE_FULL;
}

static int
t_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	if (fault_hit(SITE_IO))
		return SQLITE_IOERR_TRUNCATE;
	return RM(f)->xTruncate(REAL(f), size);
}

static int
t_sync(sqlite3_file *f, int flags)
{
	if (fault_hit(SITE_IO))
		return SQLITE_IOERR_FSYNC;
	return RM(f)->xSync(REAL(f), flags);
}

static int
t_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return RM(f)->xFileSize(REAL(f), size);
}

static int
t_lock(sqlite3_file *f, int level)
{
	return RM(f)->xLock(REAL(f), level);
}

static int
t_unlock(sqlite3_file *f, int level)
{
	return RM(f)->xUnlock(REAL(f), level);
}

static int
t_check_reserved(sqlite3_file *f, int *out)
{
	return RM(f)->xCheckReservedLock(REAL(f), out);
}

static int
t_file_control(sqlite3_file *f, int op, void *arg)
{
	return RM(f)->xFileControl(REAL(f), op, arg);
}

static int
t_sector_size(sqlite3_file *f)
{
	return RM(f)->xSectorSize(REAL(f));
}

static int
t_device_characteristics(sqlite3_file *f)
{
	return RM(f)->xDeviceCharacteristics(REAL(f));
}

static int
t_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
	return RM(f)->xShmMap(REAL(f), pg, pgsz, extend, pp);
}

static int
t_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return RM(f)->xShmLock(REAL(f), off, n, flags);
}

static void
t_shm_barrier(sqlite3_file *f)
{
	RM(f)->xShmBarrier(REAL(f));
}

static int
t_shm_unmap(sqlite3_file *f, int del)
{
	return RM(f)->xShmUnmap(REAL(f), del);
}

static int
t_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
	return RM(f)->xFetch(REAL(f), off, n, pp);
}

static int
t_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return RM(f)->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods t_io = {
	3,
	t_close, t_read, t_write, t_truncate, t_sync, t_file_size,
	t_lock, t_unlock, t_check_reserved, t_file_control, t_sector_size,
	t_device_characteristics, t_shm_map, t_shm_lock, t_shm_barrier,
	t_shm_unmap, t_fetch, t_unfetch
};

static int
t_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags,
    int *outflags)
{
	struct tfile	*tf = (struct tfile *)f;
	int		 rc;

	(void)vfs;
	tf->real = (sqlite3_file *)(tf + 1);
	rc = unixvfs->xOpen(unixvfs, name, tf->real, flags, outflags);
	/* SQLite closes a file whose methods are set, even after a failed
	 * open: mirror what the unix VFS left. */
	tf->base.pMethods = tf->real->pMethods != NULL ? &t_io : NULL;
	return rc;
}

static int
t_delete(sqlite3_vfs *vfs, const char *name, int syncdir)
{
	(void)vfs;
	return unixvfs->xDelete(unixvfs, name, syncdir);
}

static int
t_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return unixvfs->xAccess(unixvfs, name, flags, out);
}

static int
t_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return unixvfs->xFullPathname(unixvfs, name, n, out);
}

static void *
t_dlopen(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs;
	return unixvfs->xDlOpen(unixvfs, name);
}

static void
t_dlerror(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	unixvfs->xDlError(unixvfs, n, out);
}

static void
(*t_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	(void)vfs;
	return unixvfs->xDlSym(unixvfs, h, sym);
}

static void
t_dlclose(sqlite3_vfs *vfs, void *h)
{
	(void)vfs;
	unixvfs->xDlClose(unixvfs, h);
}

static int
t_randomness(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return unixvfs->xRandomness(unixvfs, n, out);
}

static int
t_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return unixvfs->xSleep(unixvfs, us);
}

static int
t_current_time(sqlite3_vfs *vfs, double *out)
{
	(void)vfs;
	return unixvfs->xCurrentTime(unixvfs, out);
}

static int
t_get_last_error(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return unixvfs->xGetLastError(unixvfs, n, out);
}

static int
t_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
	(void)vfs;
	return unixvfs->xCurrentTimeInt64(unixvfs, out);
}

static int
t_set_syscall(sqlite3_vfs *vfs, const char *name, sqlite3_syscall_ptr p)
{
	(void)vfs;
	return unixvfs->xSetSystemCall(unixvfs, name, p);
}

static sqlite3_syscall_ptr
t_get_syscall(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs;
	return unixvfs->xGetSystemCall(unixvfs, name);
}

static const char *
t_next_syscall(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs;
	return unixvfs->xNextSystemCall(unixvfs, name);
}

static sqlite3_vfs	 t_vfs = {
	3, 0, 0, NULL, "torture", NULL,
	t_open, t_delete, t_access, t_full_pathname, t_dlopen, t_dlerror,
	t_dlsym, t_dlclose, t_randomness, t_sleep, t_current_time,
	t_get_last_error, t_current_time64, t_set_syscall, t_get_syscall,
	t_next_syscall
};

int
fault_init(void)
{
	static const sqlite3_mem_methods m = {
		fault_sqlmem_malloc, fault_sqlmem_free, fault_sqlmem_realloc,
		fault_sqlmem_size, fault_sqlmem_roundup, fault_sqlmem_init,
		fault_sqlmem_shutdown, NULL
	};

	if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &fault_sqlmem_real) !=
	    SQLITE_OK || sqlite3_config(SQLITE_CONFIG_MALLOC, &m) !=
	    SQLITE_OK) {
		fprintf(stderr, "torture: SQLite is initialised already\n");
		return -1;
	}
	if (sqlite3_initialize() != SQLITE_OK ||
	    (unixvfs = sqlite3_vfs_find("unix")) == NULL) {
		fprintf(stderr, "torture: no unix VFS\n");
		return -1;
	}
	t_vfs.szOsFile = (int)sizeof(struct tfile) + unixvfs->szOsFile;
	t_vfs.mxPathname = unixvfs->mxPathname;
	if (sqlite3_vfs_register(&t_vfs, 1) != SQLITE_OK) {
		fprintf(stderr, "torture: cannot register the VFS\n");
		return -1;
	}
	return 0;
}
