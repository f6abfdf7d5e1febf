/* PINGs awaiting PONGs, first-in first-out: flushes, sub-drain fences,
 * keepalive PINGs and the PING after a reconnect all take one slot each, in
 * the order their PINGs were queued, so the n-th PONG answers the n-th PING.
 * A slot whose waiter gave up (timeout) stays as a placeholder. */
#include <stdlib.h>

#include "nm_encode.h"
#include "nmc_internal.h"

static void on_pong_closed(uv_handle_t *h) {
  nmc_pong_t *p = nmc__container_of(h, nmc_pong_t, timer);
  nmc_conn_t *c = p->c;
  free(p);
  nmc__handle_closed(c);
}

static void pong_free(nmc_pong_t *p) {
  if (p->has_timer)
    nmc__handle_close(p->c, (uv_handle_t *)&p->timer, on_pong_closed);
  else
    free(p);
}

static void on_pong_timer(uv_timer_t *t) {
  nmc_pong_t *p = nmc__container_of(t, nmc_pong_t, timer);
  nmc_conn_t *c = p->c;
  nmc_done_cb cb = p->cb;

  if (p->timed_out) {
    nmc__conn_lost(c, NMC_ESTALE, "PONG overdue: stale connection");
    return;
  }
  /* The flush gives up but its slot stays, so its late PONG cannot release
   * a later flush. If the PONG is still missing after the grace period the
   * connection is stale: reconnecting resynchronises PINGs and PONGs. */
  p->timed_out = 1;
  p->cb = NULL;
  if (c->o.pong_grace_ms)
    uv_timer_start(&p->timer, on_pong_timer, c->o.pong_grace_ms, 0);
  if (cb)
    cb(c, NM_ETIMEOUT, p->data);
  if (c->pong_doubt)
    nmc__conn_lost(c, NMC_ESTALE,
                   "flush timed out after a doubtful PONG: resynchronising");
}

int nmc__ping_push(nmc_conn_t *c, uint64_t timeout_ms, nmc_done_cb cb,
                   void *data) {
  nmc_pong_t *p;
  if (c->npongs >= NMC_MAX_PINGS_PENDING)
    return NMC_EBUFFULL;
  p = calloc(1, sizeof(*p));
  if (!p)
    return NM_ENOMEM;
  if (nm_encode_ping(&c->out) < 0) {
    free(p);
    return NMC_EBUFFULL;
  }
  p->c = c;
  p->cb = cb;
  p->data = data;
  if (timeout_ms > 0) {
    uv_timer_init(c->loop, &p->timer);
    nmc__handle_init(c, (uv_handle_t *)&p->timer);
    p->has_timer = 1;
    uv_timer_start(&p->timer, on_pong_timer, timeout_ms, 0);
  }
  if (c->ptail)
    c->ptail->next = p;
  else
    c->phead = p;
  c->ptail = p;
  c->npongs++;
  nmc__out_kick(c);
  return 0;
}

void nmc__pong_received(nmc_conn_t *c) {
  nmc_pong_t *p = c->phead;
  nmc_done_cb cb;
  void *data;
  int late;

  c->pings_out = 0;
  if (!p)
    return; /* no PING outstanding: ignored */
  c->phead = p->next;
  if (!c->phead)
    c->ptail = NULL;
  c->npongs--;
  cb = p->cb;
  data = p->data;
  late = p->timed_out;
  pong_free(p);
  if (cb)
    cb(c, 0, data);
  /* A PONG for a flush that already timed out is doubtful when later PINGs
   * are outstanding: it is that flush's late PONG, or the next PING's after
   * the real one was lost, and then every later flush would pair with the
   * wrong PONG. The client cannot tell yet. If the FIFO empties, all is well;
   * if a flush times out first, the PONG was lost and the client
   * resynchronises by reconnecting (see on_pong_timer). */
  if (!c->phead)
    c->pong_doubt = 0;
  else if (late)
    c->pong_doubt = 1;
}

void nmc__pongs_fail(nmc_conn_t *c, int err) {
  nmc_pong_t *p = c->phead;
  /* Detach first: a callback may queue a new flush. */
  c->phead = c->ptail = NULL;
  c->npongs = 0;
  while (p) {
    nmc_pong_t *next = p->next;
    nmc_done_cb cb = p->cb;
    void *data = p->data;
    pong_free(p);
    if (cb)
      cb(c, err, data);
    p = next;
  }
}

static void on_ping_tick(uv_timer_t *t) {
  nmc_conn_t *c = t->data;
  if (!nmc__connected(c))
    return;
  /* Flush PINGs do not count: only keepalive ticks, reset by any PONG. */
  if (++c->pings_out > c->o.max_pings_out) {
    nmc__conn_lost(c, NMC_ESTALE, "Stale Connection");
    return;
  }
  nmc__ping_push(c, 0, NULL, NULL);
}

void nmc__keepalive_start(nmc_conn_t *c) {
  if (c->o.ping_interval_ms > 0)
    uv_timer_start(&c->ping_timer, on_ping_tick, c->o.ping_interval_ms,
                   c->o.ping_interval_ms);
}

int nmc_flush(nmc_conn_t *c, uint64_t timeout_ms, nmc_done_cb cb, void *data) {
  if (c->closing || c->status == NMC_CLOSED)
    return NM_ECLOSED;
  if (timeout_ms == 0)
    return NM_EINVAL;
  return nmc__ping_push(c, timeout_ms, cb, data);
}
