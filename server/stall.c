/* Fast-producer stalls, as nats-server 2.9.10 does them: when a delivery
 * takes a consumer's pending output past half of max_pending, the producing
 * connection is not read until that consumer has drained below the mark or
 * a stall time has passed (100 ms, growing with the consumer's backlog up to
 * 1 s). This lets a slow consumer catch up instead of being cut off as soon
 * as a fast publisher outruns it. nats-server blocks the producer inside the
 * delivery; natsmock pauses the producer's parser after the message that
 * stalled it and keeps the rest of the read (conn.c, held_in), so each stall
 * lets one message through, as in the real server: with a long
 * write_deadline the publisher is held back until the deadline closes the
 * consumer instead of the consumer being cut at max_pending. */
#include "nm_server_int.h"

/* nats-server's stallClientMinDuration and stallClientMaxDuration. */
#define NM_STALL_MIN_MS 100
#define NM_STALL_MAX_MS 1000

static int over_mark(const nm_conn_t *c) {
  return (int64_t)nm__conn_pending(c) > c->srv->opts.max_pending / 2;
}

/* nats-server's stallDuration: the fuller the consumer, the longer. */
static uint64_t stall_ms(const nm_conn_t *consumer) {
  int64_t pb = (int64_t)nm__conn_pending(consumer);
  int64_t mp = consumer->srv->opts.max_pending, half = mp / 2;
  uint64_t ttl = NM_STALL_MIN_MS;
  if (pb >= mp)
    return NM_STALL_MAX_MS;
  if (pb > half && half / 10 > 0)
    ttl += NM_STALL_MIN_MS * (uint64_t)((pb - half) / (half / 10));
  return ttl > NM_STALL_MAX_MS ? NM_STALL_MAX_MS : ttl;
}

static void unstall(nm_conn_t *p) {
  nm_conn_t **pp;
  nm_server_t *s = p->srv;
  if (!(p->flags & NM_CF_STALLED))
    return;
  for (pp = &s->stalled; *pp; pp = &(*pp)->stall_next)
    if (*pp == p) {
      *pp = p->stall_next;
      break;
    }
  p->stall_next = NULL;
  p->flags &= ~NM_CF_STALLED;
  if (!(p->flags & NM_CF_DEAD))
    uv_timer_stop(&p->stall_timer);
  nm__conn_update_reading(p);
}

static void stall_timer_cb(uv_timer_t *t) {
  unstall(t->data);
}

void nm__stall_check(nm_conn_t *producer, nm_conn_t *consumer) {
  nm_server_t *s = producer->srv;
  if (producer == consumer ||
      (producer->flags & (NM_CF_STALLED | NM_CF_CLOSING)) ||
      !over_mark(consumer))
    return;
  producer->flags |= NM_CF_STALLED;
  producer->stall_on = consumer->id;
  producer->stall_next = s->stalled;
  s->stalled = producer;
  uv_timer_start(&producer->stall_timer, stall_timer_cb, stall_ms(consumer), 0);
  /* No further message of this read before the stall ends. */
  if (producer->flags & NM_CF_IN_READ)
    nm_parser_pause(&producer->parser);
  nm__conn_update_reading(producer);
}

void nm__stall_release(nm_conn_t *consumer, int closing) {
  nm_server_t *s = consumer->srv;
  nm_conn_t *p, *next;
  if (s->stalled == NULL || (!closing && over_mark(consumer)))
    return;
  for (p = s->stalled; p; p = next) {
    next = p->stall_next;
    if (p->stall_on == consumer->id)
      unstall(p);
  }
}

void nm__stall_forget(nm_conn_t *producer) {
  unstall(producer);
}
