/* The proxy as the fault engine's host (faults/nm_faults.h). A connection
 * is a pair (nm__pconn_t); "handling" an inbound frame means forwarding it
 * upstream; a phantom publish is a PUB the proxy writes on an upstream
 * connection: the client's, or the proxy's own (see h_publish). */
#include <stdlib.h>
#include <string.h>

#include "nm_encode.h"
#include "nm_proxy_int.h"

static uint64_t h_conn_id(void *host, const nm_hconn_t *c) {
  return ((const nm__pconn_t *)c)->id;
}

static nm_hconn_t *h_find_conn(void *host, uint64_t id) {
  return (nm_hconn_t *)nm__pconn_find(host, id);
}

static void h_each_conn(void *host, void (*fn)(nm_hconn_t *, void *),
                        void *data) {
  nm_proxy_t *px = host;
  nm__pconn_t *pc, *next;
  for (pc = px->head; pc != NULL; pc = next) {
    next = pc->next;
    fn((nm_hconn_t *)pc, data);
  }
}

static int h_write_raw(void *host, nm_hconn_t *c, const char *p, size_t n,
                       int now, const nm_frame_t *f, const char *rule,
                       const char *action) {
  nm__pconn_t *pc = (nm__pconn_t *)c;
  int r = nm__pleg_queue(&pc->cl, p, n, now);
  if (r == 0)
    nm__proxy_observe(pc->px, NM_OBS_OUT, NM_OBS_LEG_CLIENT, pc->id, f,
                      (nm_slice_t){p, n}, rule, action, NULL);
  return r;
}

static void h_close(void *host, nm_hconn_t *c, nm_close_how_t how,
                    const char *reason) {
  nm__pconn_close((nm__pconn_t *)c, how, reason);
}

static void h_set_reading(void *host, nm_hconn_t *c, int on) {
  nm__pconn_t *pc = (nm__pconn_t *)c;
  pc->stalled = !on;
  nm__pconn_update_reading(pc);
}

static void h_set_blackhole(void *host, nm_hconn_t *c, int on) {
  nm__pconn_t *pc = (nm__pconn_t *)c;
  pc->blackhole = on;
  if (on)
    nm_buf_clear(&pc->cl.out);
  nm__pconn_update_reading(pc);
}

static void h_handle_frame(void *host, nm_hconn_t *c, const nm_frame_t *f,
                           nm_slice_t bytes) {
  nm__pconn_pass_in((nm__pconn_t *)c, f, bytes, 0);
}

/* A phantom publish (a `publish` action, the answer to a $MOCK.* request)
 * made while a client's frame is handled goes on that client's upstream
 * connection, in order with what the client sent before (so an answer
 * follows the client's SUB of its inbox, and an "in" rule's then-publish
 * reaches the server before the frame that triggered it, as in the mock).
 * Otherwise (a
 * document from C, HTTP or --faults; a timer), or when that client said
 * "echo":false (the server would not deliver it what it published itself),
 * it goes on the proxy's own upstream connection (proxy_own.c); for that
 * client, once the server has handled what it sent before. */
static void h_publish(void *host, nm_slice_t subject, nm_slice_t reply,
                      size_t hdr_len, nm_slice_t payload) {
  nm_proxy_t *px = host;
  nm__pconn_t *pc = px->cur;
  nm_buf_t b;
  int r;

  if (pc != NULL && pc->closing)
    pc = NULL;
  nm_buf_init(&b, NM_PROXY_CARRY_MAX);
  r = hdr_len > 0 ? nm_encode_hpub(&b, subject, reply, hdr_len, payload)
                  : nm_encode_pub(&b, subject, reply, payload);
  if (r != 0) {
    nm__proxy_observe(px, NM_OBS_ACTION, NM_OBS_LEG_UPSTREAM, 0, NULL,
                      (nm_slice_t){NULL, 0}, NULL, "publish",
                      "dropped: the message could not be encoded");
  } else if (pc == NULL) {
    (void)nm__proxy_own_publish(px, b.base, b.len);
  } else if (pc->no_echo) {
    nm__proxy_own_publish_after(pc, b.base, b.len);
  } else if (nm__pleg_queue(&pc->up, b.base, b.len, 0) == 0) {
    if (pc->verbose)
      pc->swallow_ok++;
    nm__proxy_observe(px, NM_OBS_OUT, NM_OBS_LEG_UPSTREAM, pc->id, NULL,
                      (nm_slice_t){b.base, b.len}, NULL, "publish", NULL);
  }
  nm_buf_free(&b);
}

static void on_restart_timer(uv_timer_t *t) {
  nm_proxy_t *px = t->data;
  if (px->stopping)
    return;
  if (px->listener_closing) {
    uv_timer_start(&px->restart_timer, on_restart_timer, 1, 0);
    return;
  }
  (void)nm__proxy_listen(px, px->port);
}

static int h_restart_listener(void *host, uint64_t delay_ms) {
  nm_proxy_t *px = host;
  if (px->stopping || !px->listening)
    return NM_ESTATE;
  nm__proxy_close_listener(px);
  return uv_timer_start(&px->restart_timer, on_restart_timer, delay_ms, 0);
}

static void h_refuse_next(void *host, int k) {
  ((nm_proxy_t *)host)->refuse_next = k < 0 ? 0 : k;
}

static int h_info_json(void *host, nm_hconn_t *c, const char *extra,
                       nm_buf_t *out) {
  nm__pconn_t *pc = (nm__pconn_t *)c;
  return nm__proxy_info_merge(pc != NULL ? pc->info : NULL, extra, out);
}

static void h_observe(void *host, const nm_obs_event_t *ev) {
  nm__proxy_observe(host, ev->kind, ev->leg, ev->conn_id, ev->frame, ev->bytes,
                    ev->rule, ev->action, ev->detail);
}

static const char *h_conn_name(void *host, const nm_hconn_t *c) {
  return ((const nm__pconn_t *)c)->name;
}

static uint64_t h_seed(void *host) {
  return ((nm_proxy_t *)host)->opts.seed;
}

const nm_fault_host_t nm__proxy_fault_host = {
    .conn_id = h_conn_id,
    .find_conn = h_find_conn,
    .each_conn = h_each_conn,
    .write_raw = h_write_raw,
    .close = h_close,
    .set_reading = h_set_reading,
    .set_blackhole = h_set_blackhole,
    .handle_frame = h_handle_frame,
    .publish = h_publish,
    .restart_listener = h_restart_listener,
    .refuse_next = h_refuse_next,
    .info_json = h_info_json,
    .observe = h_observe,
    .seed = h_seed,
    .conn_name = h_conn_name,
};
