/* A connection's output: a FIFO of segments pointing into blocks, written
 * with one vectored write (conn.c), and the per-server pool of fixed-size
 * blocks they come from (outq.c).
 *
 * - A connection appends into its current pool block (its tail); a frame
 *   that does not fit takes the next block, a frame larger than a block an
 *   allocation of its own size.
 * - A payload delivered to several subscribers is copied once, into a
 *   reference-counted block (nm__oblk_shared), and each subscriber's queue
 *   points at it: header, payload reference, CRLF. Those blocks come from
 *   the pool too, in power-of-two sizes (1 KiB to 1 MiB), one payload
 *   each: a subscriber that keeps a reference pins that payload only (at
 *   most twice its size), never a block of other messages.
 * - A block goes back to the pool when the last segment pointing into it is
 *   written or dropped; the pool gives memory back to the system only on
 *   the server's idle timer (nm__opool_trim), never per write.
 * Bytes go out in the order they were queued, whatever block they sit in.
 * No limit here: the connection checks max_pending before it queues. */
#ifndef NM_OUTQ_H
#define NM_OUTQ_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Data bytes of a pool block: with its header, about 16 KiB of memory. */
#define NM_OUT_BLOCK (16 * 1024 - 64)
/* Most segments handed to one uv_write (Linux's IOV_MAX, what one writev
 * takes): libuv copies a write's buffer list, and a longer one would be a
 * large allocation per write; the rest goes when that write is done. */
#define NM_OUT_WRITE_SEGS 1024

/* Shared payload blocks: 1 KiB << class, for classes 0..N-1. */
#define NM_OUT_SHARED_MIN_SHIFT 10
#define NM_OUT_SHARED_CLASSES 11

enum {
  NM_OBLK_POOL,   /* fixed size, from and back to the pool */
  NM_OBLK_EXACT,  /* one frame larger than a pool block; freed when done */
  NM_OBLK_SHARED, /* one payload for many subscribers: back to the pool's
                   * list of its size class, or freed when over 1 MiB */
};

typedef struct nm__oblk_s {
  struct nm__oblk_s *next; /* the pool's free list */
  uint32_t refs;           /* segments pointing into it, + 1 as a tail */
  uint32_t used;           /* bytes written from data */
  uint32_t size;           /* bytes of data */
  uint32_t kind;
  char data[];
} nm__oblk_t;

/* A free list: LIFO, so the block given back last is reused first. */
typedef struct {
  nm__oblk_t *top;
  size_t n;   /* blocks on it */
  size_t low; /* fewest on it since the last trim */
} nm__oblk_list_t;

typedef struct {
  nm__oblk_list_t free;                          /* NM_OUT_BLOCK blocks */
  nm__oblk_list_t shared[NM_OUT_SHARED_CLASSES]; /* by size class */
} nm__opool_t;

typedef struct {
  /* Segments [head, head + nfly) belong to the uv_write in flight,
   * [head + nfly, n) are queued; bufs[i] points into blks[i]. */
  uv_buf_t *bufs;
  nm__oblk_t **blks;
  size_t head, nfly, n, cap;
  size_t queued;    /* bytes of the queued segments */
  nm__oblk_t *tail; /* the pool block appended to (holds one ref) */
} nm__outq_t;

void nm__opool_free(nm__opool_t *p);
/* Idle timer: frees the blocks the free list kept unused since last time. */
void nm__opool_trim(nm__opool_t *p);
void nm__oblk_unref(nm__opool_t *p, nm__oblk_t *b);
/* A copy of n bytes in a block of its own, one reference held by the
 * caller. NULL when out of memory. */
nm__oblk_t *nm__oblk_shared(nm__opool_t *p, const char *src, size_t n);

char *nm__outq_reserve_slow(nm__opool_t *p, nm__outq_t *q, size_t n);
/* n contiguous bytes queued at the end, for the caller to fill; NULL when
 * out of memory. */
static inline char *nm__outq_reserve(nm__opool_t *p, nm__outq_t *q, size_t n) {
  nm__oblk_t *t = q->tail;
  uv_buf_t *last;
  char *at;
  /* The usual case: the tail has room and the last queued segment ends
   * where it is free, so that segment just grows. */
  if (t == NULL || t->size - t->used < n || q->n <= q->head + q->nfly ||
      q->blks[q->n - 1] != t)
    return nm__outq_reserve_slow(p, q, n);
  last = &q->bufs[q->n - 1];
  at = t->data + t->used;
  if (last->base + last->len != at)
    return nm__outq_reserve_slow(p, q, n);
  t->used += (uint32_t)n;
  last->len += n;
  q->queued += n;
  return at;
}
/* Copies n bytes to the end (across blocks). 0 or NM_ENOMEM. */
int nm__outq_append(nm__opool_t *p, nm__outq_t *q, const char *src, size_t n);
/* Queues n bytes at `at` inside shared block b (one more reference).
 * 0 or NM_ENOMEM. */
int nm__outq_ref(nm__outq_t *q, nm__oblk_t *b, const char *at, size_t n);
/* n bytes of the queued segments were written: drops them from the front. */
void nm__outq_consume(nm__opool_t *p, nm__outq_t *q, size_t n);
/* The first queued segments, up to NM_OUT_WRITE_SEGS, are handed to one
 * uv_write: they are now in flight. Returns how many. */
size_t nm__outq_take_flight(nm__outq_t *q);
/* The uv_write in flight called back: its segments are released. */
void nm__outq_flight_done(nm__opool_t *p, nm__outq_t *q);
/* Drops the queued segments (not the ones in flight). */
void nm__outq_drop_queued(nm__opool_t *p, nm__outq_t *q);
/* Nothing queued nor in flight: the tail block goes back to the pool. */
void nm__outq_settle(nm__opool_t *p, nm__outq_t *q);
/* When empty, frees the segment arrays (the idle timer). */
void nm__outq_trim(nm__outq_t *q);
/* Releases everything (the connection is freed). */
void nm__outq_free(nm__opool_t *p, nm__outq_t *q);
/* The queued bytes from offset `from` on: 1 with them in *p / *n when
 * they sit in one segment, else 0. */
int nm__outq_span(const nm__outq_t *q, size_t from, const char **p, size_t *n);
/* Copies the queued bytes from offset `from` on to dst (room for
 * q->queued - from bytes). */
void nm__outq_gather(const nm__outq_t *q, size_t from, char *dst);

#endif
