/* Helpers for the proxy tests (test_proxy*.c): a real nats-server 2.9.10 as
 * the upstream (started once per program), a proxy in front of it on its own
 * thread, raw-socket clients, fault documents, an observer log of both
 * legs. Every wait is bounded. Header-only: included once per program. */
#ifndef TEST_PROXY_UTIL_H
#define TEST_PROXY_UTIL_H

#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "nm_parser.h"
#include "nm_proxy.h"
#include "nm_test_check.h"
#include "nm_test_util.h"

#define T_WAIT_MS 3000 /* a frame that must come */
#define T_QUIET_MS 150 /* a window in which nothing may come */
#define T_BUF 65536

static nm_natsserver_t g_ns;
static int g_have_ns;
static nm_proxy_t *g_px;
static int g_port; /* the proxy's */

typedef struct {
  uv_mutex_t mu;
  char text[1 << 20];
  size_t len;
} obs_log_t;
static obs_log_t g_obs;

static const char *obs_kind(nm_obs_kind_t k) {
  static const char *const n[] = {"?", "OPEN", "IN", "OUT", "CLOSE", "ACTION"};
  return (unsigned)k < 6 ? n[k] : "?";
}

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
  uv_mutex_lock(&g_obs.mu);
  if (n > 0 && g_obs.len + (size_t)n < sizeof(g_obs.text)) {
    memcpy(g_obs.text + g_obs.len, line, (size_t)n);
    g_obs.len += (size_t)n;
    g_obs.text[g_obs.len] = '\0';
  }
  uv_mutex_unlock(&g_obs.mu);
}

static __attribute__((unused)) int obs_wait(const char *needle,
                                            int timeout_ms) {
  long long deadline = nm_test_now_ms() + timeout_ms;
  for (;;) {
    int found;
    uv_mutex_lock(&g_obs.mu);
    found = strstr(g_obs.text, needle) != NULL;
    uv_mutex_unlock(&g_obs.mu);
    if (found)
      return 1;
    if (nm_test_now_ms() >= deadline)
      return 0;
    usleep(2000); /* a log written by another thread: look again shortly */
  }
}

static __attribute__((unused)) int obs_count(const char *needle) {
  int n = 0;
  const char *p;
  uv_mutex_lock(&g_obs.mu);
  for (p = g_obs.text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
    n++;
  uv_mutex_unlock(&g_obs.mu);
  return n;
}

/* Once per program (an unchecked fixture): the upstream nats-server. */
static __attribute__((unused)) void ns_up(void) {
  g_have_ns =
      nm_natsserver_available() && nm_natsserver_start(&g_ns, NULL, NULL) == 0;
  uv_mutex_init(&g_obs.mu);
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
  uv_mutex_lock(&g_obs.mu);
  g_obs.len = 0;
  g_obs.text[0] = '\0';
  uv_mutex_unlock(&g_obs.mu);
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

/* Connects to `port`, reads INFO (into info when not NULL), sends CONNECT
 * and PING, reads the PONG. */
static __attribute__((unused)) int cli_connect_to(int port, char *info,
                                                  size_t cap) {
  char buf[4096];
  nm_peer_state_t st;
  int fd = nm_test_connect(port);
  ck_assert_int_ge(fd, 0);
  nm_test_read(fd, buf, sizeof(buf), "\r\n", T_WAIT_MS, 0, &st);
  ck_assert_msg(strncmp(buf, "INFO {", 6) == 0, "no INFO: %s", buf);
  if (info != NULL)
    snprintf(info, cap, "%s", buf);
  nm_test_send_str(fd, "CONNECT {\"verbose\":false,\"pedantic\":false,"
                       "\"headers\":true}\r\nPING\r\n");
  nm_test_read(fd, buf, sizeof(buf), "PONG\r\n", T_WAIT_MS, 0, &st);
  ck_assert_msg(strstr(buf, "PONG\r\n") != NULL, "no handshake PONG: %s", buf);
  return fd;
}

static __attribute__((unused)) int cli_connect(void) {
  return cli_connect_to(g_port, NULL, 0);
}

static __attribute__((unused)) size_t want(int fd, char *buf, size_t cap,
                                           const char *needle) {
  nm_peer_state_t st;
  size_t n = nm_test_read(fd, buf, cap, needle, T_WAIT_MS, 0, &st);
  ck_assert_msg(strstr(buf, needle) != NULL, "waited for \"%s\", got \"%s\"",
                needle, buf);
  return n;
}

static __attribute__((unused)) size_t quiet(int fd, char *buf, size_t cap) {
  nm_peer_state_t st;
  return nm_test_read(fd, buf, cap, NULL, T_QUIET_MS, 0, &st);
}

static __attribute__((unused)) int count_of(const char *hay,
                                            const char *needle) {
  int n = 0;
  size_t k = strlen(needle);
  for (; (hay = strstr(hay, needle)) != NULL; hay += k)
    n++;
  return n;
}

#endif
