/*
 * buf: growable byte buffers with a ceiling.
 *
 * Every buffer that holds network input or output in forcelink is a
 * struct buf.  Its ceiling is fixed when it is initialised, and growing
 * past it fails instead of allocating: this is where the 64 KiB request
 * body limit and the cap on Salesforce replies are enforced.  The data is
 * always NUL-terminated (the terminator is not counted in len), so text
 * can be handed to string functions without copying.
 */
#ifndef FORCELINK_BUF_H
#define FORCELINK_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char	*data;	/* NUL-terminated contents, or NULL when empty */
	size_t	 len;	/* bytes used, not counting the terminator */
	size_t	 cap;	/* bytes allocated */
	size_t	 max;	/* ceiling on len */
};

/* Prepares an empty buffer that may hold at most max bytes.  Allocates
 * nothing. */
void	 buf_init(struct buf *, size_t max);

/* Appends n bytes.  Returns 0, or -1 when the result would exceed the
 * ceiling or memory is exhausted; the buffer is unchanged on failure. */
int	 buf_append(struct buf *, const void *, size_t n);

/*
 * For a reader that writes into the buffer itself instead of copying
 * from a chunk of its own: buf_room() makes space for n more bytes
 * (within the ceiling) and returns where they go, or NULL when the
 * ceiling or memory says no (the buffer is unchanged).  buf_grew() then
 * counts the k bytes written there and terminates the contents again
 * (writing into the room overwrites the terminator); it returns 0, or
 * -1 when k is more than the room there is (nothing is counted).
 */
char	*buf_room(struct buf *, size_t n);
int	 buf_grew(struct buf *, size_t k);

/* Appends a C string; same returns as buf_append. */
int	 buf_puts(struct buf *, const char *);

/* Appends one byte; same returns as buf_append. */
int	 buf_putc(struct buf *, int);

/* Appends formatted text; same returns as buf_append. */
int	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 buf_vprintf(struct buf *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));

/* Returns the contents as a C string; "" for an empty buffer.  The pointer
 * stays valid until the buffer is next modified. */
const char *buf_cstr(const struct buf *);

/* Hands the contents to the caller (who frees them) and leaves the buffer
 * empty.  Returns an empty string for an empty buffer, NULL on memory
 * exhaustion. */
char	*buf_detach(struct buf *);

/* Empties the buffer but keeps its memory and ceiling. */
void	 buf_reset(struct buf *);

/* Releases the memory.  buf_free_secret() first overwrites the whole
 * allocation with zeros: use it for anything that held a token. */
void	 buf_free(struct buf *);
void	 buf_free_secret(struct buf *);

#endif
