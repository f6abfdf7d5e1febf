/* Connection drain (docs/design.md, "Connection drain"): drain every
 * subscription, the request inbox last, while new subscriptions are refused;
 * then refuse publishes, flush, and close. The drain timeout bounds all of it
 * and is reported as an error; the drain callback runs before the closed
 * callback. */
#include "nmc_internal.h"

static void drain_finish(nmc_conn_t *c, int status) {
  nmc_done_cb cb = c->drain_cb;
  void *data = c->drain_data;

  if (!c->drain_on)
    return;
  c->drain_on = 0;
  c->drain_cb = NULL;
  uv_timer_stop(&c->drain_timer);
  if (status < 0)
    nmc__async_error(c, status,
                     status == NM_ETIMEOUT
                         ? "timeout waiting for the drain to complete"
                         : nmc_strerror(status),
                     NULL);
  if (cb)
    cb(c, status, data);
  nmc_close(c);
}

static void on_final_flush(nmc_conn_t *c, int status, void *data) {
  drain_finish(c, status);
}

static void on_drain_timeout(uv_timer_t *t) {
  drain_finish(t->data, NM_ETIMEOUT);
}

static int drain_one(nmc_conn_t *c, nmc_sub_t *s) {
  s->in_conn_drain = 1;
  if (s->draining) /* a user drain already running: wait for it */
    return 1;
  return nmc__sub_drain(s, 0, NULL, NULL) == 0;
}

/* Every other subscription is drained: the request inbox goes last, once
 * each request in flight has its reply or has timed out (a user expects
 * in-flight work to finish), then publishes are refused and a last flush
 * precedes the close. */
static void drain_next(nmc_conn_t *c) {
  int r;
  if (c->inbox && !c->inbox->in_conn_drain) {
    if (c->nreqs > 0) {
      c->drain_wait_reqs = 1;
      return;
    }
    if (drain_one(c, c->inbox)) {
      c->drain_left = 1;
      return;
    }
  }
  c->status = NMC_DRAINING_PUBS;
  r = nmc__ping_push(c, 0, on_final_flush, NULL);
  if (r < 0)
    drain_finish(c, r);
}

/* Called when a subscription of the drain finished. */
void nmc__drain_sub_done(nmc_conn_t *c) {
  if (!c->drain_on || --c->drain_left > 0)
    return;
  drain_next(c);
}

/* Called when a request ended. */
void nmc__drain_req_done(nmc_conn_t *c) {
  if (c->drain_on && c->drain_wait_reqs && c->nreqs == 0) {
    c->drain_wait_reqs = 0;
    drain_next(c);
  }
}

int nmc_drain(nmc_conn_t *c, uint64_t timeout_ms, nmc_done_cb cb, void *data) {
  nmc_sub_t *s, *next;

  if (c->closing || c->status == NMC_CLOSED)
    return NM_ECLOSED;
  if (c->drain_on)
    return NMC_EDRAINING;
  if (!nmc__connected(c))
    return NMC_EDISCONNECTED;
  c->status = NMC_DRAINING_SUBS;
  c->drain_on = 1;
  c->drain_cb = cb;
  c->drain_data = data;
  c->drain_left = 1; /* held until every drain has started */
  uv_timer_start(&c->drain_timer, on_drain_timeout,
                 timeout_ms ? timeout_ms : c->o.drain_timeout_ms, 0);
  for (s = c->shead; s; s = next) {
    next = s->next;
    if (!s->is_inbox && drain_one(c, s))
      c->drain_left++;
  }
  nmc__drain_sub_done(c);
  return 0;
}

void nmc__drain_abort(nmc_conn_t *c, int err) {
  drain_finish(c, err);
}
