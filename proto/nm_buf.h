/* A growable byte buffer with a hard limit. Every buffer in natsmock is one
 * of these, so no buffer grows without a named bound. libc only. */
#ifndef NM_BUF_H
#define NM_BUF_H

#include <stddef.h>

#include "nm_errors.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  char *base;
  size_t len;   /* bytes in use, from base */
  size_t cap;   /* bytes allocated */
  size_t limit; /* len never exceeds this; 0 means SIZE_MAX */
} nm_buf_t;

/* Caller storage; never allocates. */
void nm_buf_init(nm_buf_t *b, size_t limit);
/* Frees the storage and zeroes the struct (keeps the limit). */
void nm_buf_free(nm_buf_t *b);
/* Appends n bytes. Returns 0, NM_ETOOBIG (would pass the limit; nothing is
 * appended) or NM_ENOMEM. */
int nm_buf_append(nm_buf_t *b, const void *p, size_t n);
int nm_buf_append_str(nm_buf_t *b, const char *s);
/* printf-style append, same returns. */
int nm_buf_appendf(nm_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Makes room for n more bytes and returns a pointer to them (commit with
 * nm_buf_commit), or NULL on the limit or out of memory. */
char *nm_buf_reserve(nm_buf_t *b, size_t n);
void nm_buf_commit(nm_buf_t *b, size_t n);
/* Drops the first n bytes (memmove). */
void nm_buf_consume(nm_buf_t *b, size_t n);
void nm_buf_clear(nm_buf_t *b);
/* Gives back memory above `keep` bytes of capacity when the buffer is empty,
 * so a burst does not pin a large allocation forever. */
void nm_buf_shrink(nm_buf_t *b, size_t keep);

#ifdef __cplusplus
}
#endif

#endif
