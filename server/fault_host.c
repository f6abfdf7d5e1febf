/* The mock server as the fault engine's host: each operation of
 * nm_fault_host_t (faults/nm_faults.h) is one call into the core
 * (nm_conn_api.h). The engine's connection handles are the core's nm_conn_t
 * pointers, cast; the host pointer is the nm_server_t. */
#include "nm_server_int.h"

static uint64_t h_conn_id(void *host, const nm_hconn_t *c) {
  return nm__conn_id((const nm_conn_t *)c);
}

static nm_hconn_t *h_find_conn(void *host, uint64_t conn_id) {
  return (nm_hconn_t *)nm__server_find_conn(host, conn_id);
}

typedef struct {
  void (*fn)(nm_hconn_t *, void *);
  void *data;
} each_t;

static void each_one(nm_conn_t *c, void *data) {
  each_t *e = data;
  e->fn((nm_hconn_t *)c, e->data);
}

static void h_each_conn(void *host, void (*fn)(nm_hconn_t *, void *),
                        void *data) {
  each_t e = {fn, data};
  nm__server_each_conn(host, each_one, &e);
}

static int h_write_raw(void *host, nm_hconn_t *c, const char *p, size_t n,
                       int now, const nm_frame_t *f, const char *rule,
                       const char *action) {
  return nm__conn_write_raw((nm_conn_t *)c, p, n, now, f, rule, action);
}

static void h_observe_pending(void *host, nm_hconn_t *c) {
  nm__conn_observe_pending((nm_conn_t *)c);
}

static void h_close(void *host, nm_hconn_t *c, nm_close_how_t how,
                    const char *reason) {
  nm__conn_close((nm_conn_t *)c, how, reason);
}

static void h_set_reading(void *host, nm_hconn_t *c, int on) {
  nm__conn_set_reading((nm_conn_t *)c, on);
}

static void h_set_blackhole(void *host, nm_hconn_t *c, int on) {
  nm__conn_set_blackhole((nm_conn_t *)c, on);
}

static void h_handle_frame(void *host, nm_hconn_t *c, const nm_frame_t *f,
                           nm_slice_t bytes) {
  nm__conn_handle_frame((nm_conn_t *)c, f);
}

static void h_publish(void *host, nm_slice_t subject, nm_slice_t reply,
                      size_t hdr_len, nm_slice_t payload) {
  nm__server_publish(host, subject, reply, hdr_len, payload);
}

static int h_restart_listener(void *host, uint64_t delay_ms) {
  return nm__server_restart_listener(host, delay_ms);
}

static void h_refuse_next(void *host, int k) {
  nm__server_refuse_next(host, k);
}

static int h_info_json(void *host, nm_hconn_t *c, const char *extra,
                       nm_buf_t *out) {
  return nm__server_info_json(host, (nm_conn_t *)c, extra, out);
}

static void h_observe(void *host, const nm_obs_event_t *ev) {
  nm__server_observe(host, ev);
}

static const char *h_conn_name(void *host, const nm_hconn_t *c) {
  return ((const nm_conn_t *)c)->client_name;
}

static uint64_t h_seed(void *host) {
  return ((nm_server_t *)host)->opts.seed;
}

const nm_fault_host_t nm__server_fault_host = {
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
    .observe_pending = h_observe_pending,
};
