/* Server-initiated PINGs, stale detection and the auth timeout, with
 * nats-server 2.9.10's timing (checked against the real server):
 *  - the PING timer is armed at accept with ping_interval, so PINGs flow
 *    even before CONNECT;
 *  - CONNECT re-arms it with min(ping_interval, 2 s) plus 0-20 % jitter;
 *  - then every ping_interval. A tick is skipped when the client sent
 *    CONNECT, published or (un)subscribed, sent a PING, or was delivered a
 *    message, within the last interval -- but only once nats-server has a
 *    round trip to go by (its needRTT): a CONNECT or any PONG received, and
 *    a server PING sent less than an hour ago. So after the first PING,
 *    answered or not, a client that keeps publishing (or PINGing) gets no
 *    more PINGs and never goes stale, nor does a subscriber that keeps
 *    receiving;
 *  - a tick with ping_out + 1 > ping_max sends -ERR 'Stale Connection' and
 *    closes. Any PONG resets ping_out. */
#include "nm_server_int.h"

/* nats-server caps the first PING after CONNECT at 2 s. */
#define NM_FIRST_PING_MAX_MS 2000
/* nats-server's DEFAULT_RTT_MEASUREMENT_INTERVAL: a PING is sent at least
 * this often whatever the activity. */
#define NM_RTT_MEASURE_MS (3600 * 1000)

static void ping_cb(uv_timer_t *t) {
  nm_conn_t *c = t->data;
  nm_server_t *s = c->srv;
  uint64_t now = nm__now_ms(s), iv = s->opts.ping_interval_ms;
  int need_rtt = !(c->flags & NM_CF_RTT) || c->ping_sent_ms == 0 ||
                 now - c->ping_sent_ms > NM_RTT_MEASURE_MS;

  if (c->flags & NM_CF_CLOSING)
    return;
  if (c->flags & NM_CF_BLACKHOLE) {
    /* A black-holed socket is kept, so keepalive pauses. */
  } else if (!need_rtt && now - c->last_in_ms < iv) {
  } else if (!need_rtt && now - c->last_ping_ms < iv) {
  } else if (c->ping_out + 1 > s->opts.ping_max) {
    nm__conn_send_err(c, "Stale Connection");
    nm__conn_close(c, NM_CLOSE_FLUSH, "stale connection");
    return;
  } else {
    c->ping_out++;
    c->ping_sent_ms = now ? now : 1;
    nm__conn_send_simple(c, NM_OP_PING);
    nm__conn_flush(c);
  }
  if (!(c->flags & NM_CF_CLOSING))
    uv_timer_start(&c->ping_timer, ping_cb, iv, 0);
}

void nm__keepalive_start(nm_conn_t *c, uint64_t first_ms) {
  if (c->srv->opts.ping_interval_ms == 0)
    return;
  uv_timer_start(&c->ping_timer, ping_cb, first_ms, 0);
}

void nm__keepalive_on_connect(nm_conn_t *c) {
  uint64_t iv = c->srv->opts.ping_interval_ms, first;
  if (iv == 0)
    return;
  first = iv < NM_FIRST_PING_MAX_MS ? iv : NM_FIRST_PING_MAX_MS;
  first += nm__rand(c->srv) % (first / 5 + 1);
  nm__keepalive_start(c, first);
}

static void auth_cb(uv_timer_t *t) {
  nm_conn_t *c = t->data;
  if (c->flags & (NM_CF_CLOSING | NM_CF_CONNECTED))
    return;
  nm__conn_send_err(c, "Authentication Timeout");
  nm__conn_close(c, NM_CLOSE_FLUSH, "authentication timeout");
}

void nm__auth_timer_start(nm_conn_t *c) {
  uv_timer_start(&c->auth_timer, auth_cb, c->srv->opts.auth_timeout_ms, 0);
}
