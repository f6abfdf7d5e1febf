/* The output queue of a connection and the server's block pool (see
 * nm_outq.h). */
#include "nm_outq.h"

#include <stdlib.h>
#include <string.h>

#include "nm_errors.h"

/* First size of a queue's segment arrays. */
#define NM_OUTQ_MIN_SEGS 16

/* A block of `size` data bytes from list l, or from malloc. */
static nm__oblk_t *list_get(nm__oblk_list_t *l, size_t size, uint32_t kind) {
  nm__oblk_t *b = l->top;
  if (b != NULL) {
    l->top = b->next;
    if (--l->n < l->low)
      l->low = l->n;
  } else {
    b = malloc(sizeof(*b) + size);
    if (b == NULL)
      return NULL;
    b->size = (uint32_t)size;
    b->kind = kind;
  }
  b->next = NULL;
  b->refs = 0;
  b->used = 0;
  return b;
}

static void list_put(nm__oblk_list_t *l, nm__oblk_t *b) {
  b->next = l->top;
  l->top = b;
  l->n++;
}

/* Frees the blocks at the bottom of a LIFO list, all but its first `keep`:
 * the trim keeps those taken since the last tick (n - low). */
static void list_trim(nm__oblk_list_t *l, size_t keep) {
  size_t i;
  nm__oblk_t **pp = &l->top;
  for (i = 0; i < keep && *pp; i++)
    pp = &(*pp)->next;
  while (*pp) {
    nm__oblk_t *b = *pp;
    *pp = b->next;
    free(b);
    l->n--;
  }
  l->low = l->n;
}

static nm__oblk_t *pool_get(nm__opool_t *p) {
  return list_get(&p->free, NM_OUT_BLOCK, NM_OBLK_POOL);
}

/* The size class of a shared payload of n bytes, or -1: too large. */
static int shared_class(size_t n) {
  int c = 0;
  while (c < NM_OUT_SHARED_CLASSES &&
         ((size_t)1 << (NM_OUT_SHARED_MIN_SHIFT + c)) < n)
    c++;
  return c < NM_OUT_SHARED_CLASSES ? c : -1;
}

void nm__oblk_unref(nm__opool_t *p, nm__oblk_t *b) {
  int c;
  if (--b->refs > 0)
    return;
  if (b->kind == NM_OBLK_POOL) {
    list_put(&p->free, b);
    return;
  }
  /* A shared block of exactly its class's size goes back to that list. */
  if (b->kind == NM_OBLK_SHARED && (c = shared_class(b->size)) >= 0 &&
      b->size == (size_t)1 << (NM_OUT_SHARED_MIN_SHIFT + c)) {
    list_put(&p->shared[c], b);
    return;
  }
  free(b);
}

void nm__opool_free(nm__opool_t *p) {
  int c;
  list_trim(&p->free, 0);
  for (c = 0; c < NM_OUT_SHARED_CLASSES; c++)
    list_trim(&p->shared[c], 0);
}

void nm__opool_trim(nm__opool_t *p) {
  int c;
  list_trim(&p->free, p->free.n - p->free.low);
  for (c = 0; c < NM_OUT_SHARED_CLASSES; c++)
    list_trim(&p->shared[c], p->shared[c].n - p->shared[c].low);
}

nm__oblk_t *nm__oblk_shared(nm__opool_t *p, const char *src, size_t n) {
  int c = shared_class(n);
  nm__oblk_t *b;
  if (c >= 0) {
    b = list_get(&p->shared[c], (size_t)1 << (NM_OUT_SHARED_MIN_SHIFT + c),
                 NM_OBLK_SHARED);
  } else {
    /* Over 1 MiB (a raised max_payload): its own size, freed when done. */
    b = malloc(sizeof(*b) + n);
    if (b != NULL) {
      b->next = NULL;
      b->size = (uint32_t)n;
      b->kind = NM_OBLK_SHARED;
    }
  }
  if (b == NULL)
    return NULL;
  b->refs = 1;
  b->used = (uint32_t)n;
  memcpy(b->data, src, n);
  return b;
}

/* Room for one more segment: the front is compacted first (libuv copies a
 * write's buffer list, so the in-flight entries may move), then grown. */
static int seg_room(nm__outq_t *q) {
  size_t cap;
  uv_buf_t *bufs;
  nm__oblk_t **blks;
  if (q->n < q->cap)
    return 0;
  if (q->head > 0) {
    memmove(q->bufs, q->bufs + q->head, (q->n - q->head) * sizeof(*q->bufs));
    memmove(q->blks, q->blks + q->head, (q->n - q->head) * sizeof(*q->blks));
    q->n -= q->head;
    q->head = 0;
    if (q->n < q->cap)
      return 0;
  }
  cap = q->cap ? q->cap * 2 : NM_OUTQ_MIN_SEGS;
  bufs = realloc(q->bufs, cap * sizeof(*bufs));
  if (bufs == NULL)
    return NM_ENOMEM;
  q->bufs = bufs;
  blks = realloc(q->blks, cap * sizeof(*blks));
  if (blks == NULL)
    return NM_ENOMEM;
  q->blks = blks;
  q->cap = cap;
  return 0;
}

static void seg_push(nm__outq_t *q, nm__oblk_t *b, char *at, size_t n) {
  q->bufs[q->n] = uv_buf_init(at, (unsigned int)n);
  q->bufs[q->n].len = n;
  q->blks[q->n] = b;
  q->n++;
  b->refs++;
  q->queued += n;
}

/* A fresh pool block becomes the tail; the old one keeps only the
 * references of its segments. */
static int new_tail(nm__opool_t *p, nm__outq_t *q) {
  nm__oblk_t *b = pool_get(p);
  if (b == NULL)
    return NM_ENOMEM;
  if (q->tail)
    nm__oblk_unref(p, q->tail);
  b->refs = 1;
  q->tail = b;
  return 0;
}

char *nm__outq_reserve_slow(nm__opool_t *p, nm__outq_t *q, size_t n) {
  nm__oblk_t *b;
  char *at;
  if (seg_room(q) < 0)
    return NULL;
  if (n > NM_OUT_BLOCK) {
    /* Larger than any pool block: an allocation of its own. */
    b = malloc(sizeof(*b) + n);
    if (b == NULL)
      return NULL;
    b->next = NULL;
    b->refs = 0;
    b->used = b->size = (uint32_t)n;
    b->kind = NM_OBLK_EXACT;
    seg_push(q, b, b->data, n);
    return b->data;
  }
  if ((q->tail == NULL || q->tail->size - q->tail->used < n) &&
      new_tail(p, q) < 0)
    return NULL;
  b = q->tail;
  at = b->data + b->used;
  b->used += (uint32_t)n;
  /* Contiguous with the last queued segment: that one grows. */
  if (q->n > q->head + q->nfly && q->blks[q->n - 1] == b &&
      q->bufs[q->n - 1].base + q->bufs[q->n - 1].len == at) {
    q->bufs[q->n - 1].len += n;
    q->queued += n;
    return at;
  }
  seg_push(q, b, at, n);
  return at;
}

int nm__outq_append(nm__opool_t *p, nm__outq_t *q, const char *src, size_t n) {
  while (n > 0) {
    size_t k;
    char *at;
    if ((q->tail == NULL || q->tail->used == q->tail->size) &&
        new_tail(p, q) < 0)
      return NM_ENOMEM;
    k = q->tail->size - q->tail->used;
    if (k > n)
      k = n;
    at = nm__outq_reserve(p, q, k);
    if (at == NULL)
      return NM_ENOMEM;
    memcpy(at, src, k);
    src += k;
    n -= k;
  }
  return 0;
}

int nm__outq_ref(nm__outq_t *q, nm__oblk_t *b, const char *at, size_t n) {
  if (n == 0)
    return 0;
  if (seg_room(q) < 0)
    return NM_ENOMEM;
  seg_push(q, b, (char *)at, n);
  return 0;
}

static void release_front(nm__opool_t *p, nm__outq_t *q) {
  nm__oblk_unref(p, q->blks[q->head]);
  q->head++;
}

void nm__outq_consume(nm__opool_t *p, nm__outq_t *q, size_t n) {
  q->queued -= n;
  while (n > 0) {
    uv_buf_t *b = &q->bufs[q->head];
    if (n < b->len) {
      b->base += n;
      b->len -= n;
      return;
    }
    n -= b->len;
    release_front(p, q);
  }
}

size_t nm__outq_take_flight(nm__outq_t *q) {
  size_t i;
  q->nfly = q->n - q->head;
  if (q->nfly > NM_OUT_WRITE_SEGS)
    q->nfly = NM_OUT_WRITE_SEGS;
  for (i = q->head; i < q->head + q->nfly; i++)
    q->queued -= q->bufs[i].len;
  return q->nfly;
}

void nm__outq_flight_done(nm__opool_t *p, nm__outq_t *q) {
  while (q->nfly > 0) {
    release_front(p, q);
    q->nfly--;
  }
}

void nm__outq_drop_queued(nm__opool_t *p, nm__outq_t *q) {
  while (q->n > q->head + q->nfly)
    nm__oblk_unref(p, q->blks[--q->n]);
  q->queued = 0;
}

void nm__outq_settle(nm__opool_t *p, nm__outq_t *q) {
  if (q->n != q->head || q->nfly != 0)
    return;
  q->head = q->n = 0;
  if (q->tail) {
    nm__oblk_unref(p, q->tail);
    q->tail = NULL;
  }
}

void nm__outq_trim(nm__outq_t *q) {
  if (q->n != 0 || q->tail != NULL)
    return;
  free(q->bufs);
  free(q->blks);
  q->bufs = NULL;
  q->blks = NULL;
  q->cap = 0;
}

void nm__outq_free(nm__opool_t *p, nm__outq_t *q) {
  q->nfly = 0;
  nm__outq_drop_queued(p, q);
  while (q->n > q->head)
    release_front(p, q);
  nm__outq_settle(p, q);
  nm__outq_trim(q);
}

/* The first queued segment and the offset in it of byte `from`. */
static size_t seek(const nm__outq_t *q, size_t *from) {
  size_t i = q->head + q->nfly;
  while (i < q->n && *from >= q->bufs[i].len) {
    *from -= q->bufs[i].len;
    i++;
  }
  return i;
}

int nm__outq_span(const nm__outq_t *q, size_t from, const char **p, size_t *n) {
  size_t i = seek(q, &from);
  if (i + 1 != q->n)
    return 0;
  *p = q->bufs[i].base + from;
  *n = q->bufs[i].len - from;
  return 1;
}

void nm__outq_gather(const nm__outq_t *q, size_t from, char *dst) {
  size_t i = seek(q, &from);
  for (; i < q->n; i++) {
    memcpy(dst, q->bufs[i].base + from, q->bufs[i].len - from);
    dst += q->bufs[i].len - from;
    from = 0;
  }
}
