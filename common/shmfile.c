/*
 * shmfile: opening, distrusting, locking and rebuilding the small files
 * the programs of one host share through MAP_SHARED (see shmfile.h).
 * One piece of logic for metrics.c and replay.c, so that both files are
 * checked alike.
 */
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "shmfile.h"

/*
 * Maps the open file fd (locked by the caller), making it the right
 * size and rebuilding its header when valid() refuses it.  Returns the
 * mapping, or NULL (logged).
 */
static void *
shmfile_map(int fd, const char *path, const struct shmfile_layout *l,
    int *rebuilt)
{
	struct stat	 sb;
	void		*m;
	int		 resize;

	if (fstat(fd, &sb) == -1) {
		log_error("msg=\"fstat %s: %s\"", path, strerror(errno));
		return NULL;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_uid != geteuid()) {
		log_error("msg=\"%s is not a regular file of this user: not "
		    "used\"", path);
		return NULL;
	}
	if ((sb.st_mode & 077) != 0 && fchmod(fd, 0600) == -1) {
		log_error("msg=\"fchmod %s: %s\"", path, strerror(errno));
		return NULL;
	}
	/* A file of another size is of another layout: nothing of it is
	 * kept (truncating to 0 first clears what a shrink would keep). */
	resize = sb.st_size != (off_t)l->size;
	if (resize && (ftruncate(fd, 0) == -1 ||
	    ftruncate(fd, (off_t)l->size) == -1)) {
		log_error("msg=\"ftruncate %s: %s\"", path, strerror(errno));
		return NULL;
	}
	m = mmap(NULL, l->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		log_error("msg=\"mmap %s: %s\"", path, strerror(errno));
		return NULL;
	}
	if (resize || !l->valid(m)) {
		if (sb.st_size != 0)
			log_warn("msg=\"%s was damaged or of another version: "
			    "%s rebuilt\"", path, l->what);
		l->build(m, resize);
		*rebuilt = 1;
	}
	return m;
}

void *
shmfile_open(const char *path, const struct shmfile_layout *l, int *rebuilt)
{
	void	*m = NULL;
	int	 fd, dummy;

	if (rebuilt == NULL)
		rebuilt = &dummy;
	*rebuilt = 0;
	if ((fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0600)) == -1)
		log_error("msg=\"open %s: %s\"", path, strerror(errno));
	else if (flock(fd, LOCK_EX) == -1)
		log_error("msg=\"flock %s: %s\"", path, strerror(errno));
	else {
		m = shmfile_map(fd, path, l, rebuilt);
		/* Unlocked by hand: the mapping holds the open file, so
		 * close() alone would keep the lock for the process's
		 * life and the next program would wait for ever. */
		flock(fd, LOCK_UN);
	}
	if (fd != -1)
		close(fd);
	return m;
}

void
shmfile_close(void *p, size_t size)
{
	if (p != NULL)
		munmap(p, size);
}
