/* Helpers for the proxy tests (test_proxy*.c): a real nats-server 2.9.10 as
 * the upstream (started once per program), a proxy in front of it on its own
 * thread, raw-socket clients, fault documents, an observer log of both
 * legs. Every wait is bounded. Header-only: included once per program. */
#ifndef TEST_PROXY_UTIL_H
#define TEST_PROXY_UTIL_H

#include "nm_parser.h"
#include "nm_proxy.h"
#include "test_wire_util.h"

static nm_natsserver_t g_ns;
static int g_have_ns;
static nm_proxy_t *g_px;

/* "OUT up c1 op=PUB rule=- action=- detail=- bytes=12" */
static void obs_cb(void *data, const nm_obs_event_t *ev) {
  char line[512];
  int n =
      snprintf(line, sizeof(line),
               "%s %s c%llu op=%s rule=%s action=%s detail=%s bytes=%zu\n",
               obs_kind(ev->kind), ev->leg == NM_OBS_LEG_UPSTREAM ? "up" : "cl",
               (unsigned long long)ev->conn_id,
               ev->frame ? nm_op_name(ev->frame->op) : "-",
               ev->rule ? ev->rule : "-", ev->action ? ev->action : "-",
               ev->detail ? ev->detail : "-", ev->bytes.n);
  obs_append(line, n);
}

/* Once per program (an unchecked fixture): the upstream nats-server. */
static __attribute__((unused)) void ns_up(void) {
  g_have_ns =
      nm_natsserver_available() && nm_natsserver_start(&g_ns, NULL, NULL) == 0;
  obs_reset();
}

static __attribute__((unused)) void ns_down(void) {
  if (g_have_ns)
    nm_natsserver_stop(&g_ns);
}

static __attribute__((unused)) void px_start_opts(nm_proxy_opts_t *o) {
  char up[64], err[512] = "";
  int rc;
  ck_assert_msg(g_have_ns, "nats-server is needed (apt nats-server)");
  snprintf(up, sizeof(up), "nats://127.0.0.1:%d", g_ns.port);
  if (o->upstream == NULL)
    o->upstream = up;
  o->port = 0;
  rc = nm_proxy_start_thread(o, &g_px, err, sizeof(err));
  ck_assert_msg(rc == 0, "nm_proxy_start_thread: %d %s", rc, err);
  g_port = nm_proxy_port(g_px);
  obs_reset();
  /* Set before any client connects; the first fault_sync orders it for the
   * loop thread too. */
  nm_proxy_set_observer(g_px, obs_cb, &g_obs, 1);
  {
    char e2[256];
    (void)nm_proxy_fault_sync(g_px, "{}", NULL, e2, sizeof(e2));
  }
}

static __attribute__((unused)) void px_start(void) {
  nm_proxy_opts_t o;
  nm_proxy_opts_init(&o);
  px_start_opts(&o);
}

static __attribute__((unused)) void px_stop(void) {
  if (g_px != NULL)
    nm_proxy_stop_thread(g_px);
  g_px = NULL;
}

static __attribute__((unused)) void fault(const char *json) {
  char err[512] = "";
  int rc = nm_proxy_fault_sync(g_px, json, NULL, err, sizeof(err));
  ck_assert_msg(rc == 0, "fault(%s) -> %d: %s", json, rc, err);
}

#endif
