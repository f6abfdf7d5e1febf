/* A growable byte buffer with a hard limit (see nm_buf.h). libc only. */
#include "nm_buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Smallest allocation, so that tiny appends do not realloc each time. */
#define NM__BUF_MIN 64

static size_t buf_limit(const nm_buf_t *b) {
  return b->limit ? b->limit : SIZE_MAX;
}

void nm_buf_init(nm_buf_t *b, size_t limit) {
  b->base = NULL;
  b->len = 0;
  b->cap = 0;
  b->limit = limit;
}

void nm_buf_free(nm_buf_t *b) {
  free(b->base);
  b->base = NULL;
  b->len = 0;
  b->cap = 0;
}

/* Ensures cap >= len + n within the limit. */
static int buf_grow(nm_buf_t *b, size_t n) {
  size_t lim = buf_limit(b), need, cap;
  char *p;

  if (n > lim || b->len > lim - n)
    return NM_ETOOBIG;
  need = b->len + n;
  if (need <= b->cap)
    return 0;
  cap = b->cap ? b->cap : NM__BUF_MIN;
  while (cap < need)
    cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  if (cap > lim)
    cap = lim;
  p = realloc(b->base, cap);
  if (p == NULL)
    return NM_ENOMEM;
  b->base = p;
  b->cap = cap;
  return 0;
}

int nm_buf_append(nm_buf_t *b, const void *p, size_t n) {
  int r;

  if (n == 0)
    return 0;
  if ((r = buf_grow(b, n)) != 0)
    return r;
  memcpy(b->base + b->len, p, n);
  b->len += n;
  return 0;
}

int nm_buf_append_str(nm_buf_t *b, const char *s) {
  return nm_buf_append(b, s, strlen(s));
}

int nm_buf_appendf(nm_buf_t *b, const char *fmt, ...) {
  va_list ap;
  int n, r;

  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return NM_EINVAL;
  /* One more for vsnprintf's terminator, which is not committed. */
  if ((r = buf_grow(b, (size_t)n + 1)) != 0) {
    if (r != NM_ETOOBIG || buf_grow(b, (size_t)n) != 0)
      return r;
    /* Room for the text but not the terminator: format into a temporary. */
    {
      char *tmp = malloc((size_t)n + 1);
      if (tmp == NULL)
        return NM_ENOMEM;
      va_start(ap, fmt);
      vsnprintf(tmp, (size_t)n + 1, fmt, ap);
      va_end(ap);
      memcpy(b->base + b->len, tmp, (size_t)n);
      free(tmp);
      b->len += (size_t)n;
      return 0;
    }
  }
  va_start(ap, fmt);
  vsnprintf(b->base + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

char *nm_buf_reserve(nm_buf_t *b, size_t n) {
  if (buf_grow(b, n) != 0)
    return NULL;
  return b->base + b->len;
}

void nm_buf_commit(nm_buf_t *b, size_t n) {
  if (n > b->cap - b->len)
    n = b->cap - b->len;
  b->len += n;
}

void nm_buf_consume(nm_buf_t *b, size_t n) {
  if (n >= b->len) {
    b->len = 0;
    return;
  }
  memmove(b->base, b->base + n, b->len - n);
  b->len -= n;
}

void nm_buf_clear(nm_buf_t *b) {
  b->len = 0;
}

void nm_buf_shrink(nm_buf_t *b, size_t keep) {
  char *p;

  if (b->len != 0 || b->cap <= keep)
    return;
  if (keep == 0) {
    free(b->base);
    b->base = NULL;
    b->cap = 0;
    return;
  }
  p = realloc(b->base, keep);
  if (p != NULL) {
    b->base = p;
    b->cap = keep;
  }
}
