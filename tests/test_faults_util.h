/* Helpers for the fault-engine tests (test_faults_*.c): a natsmock server on
 * its own thread, raw-socket clients, fault documents applied from the test
 * thread with nm_server_fault_sync, and an observer log. Every wait is
 * bounded. Header-only: each test program includes it once. */
#ifndef TEST_FAULTS_UTIL_H
#define TEST_FAULTS_UTIL_H

#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "natsmock.h"
#include "nm_parser.h"
#include "nm_test_check.h"
#include "nm_test_util.h"

#define T_WAIT_MS 3000 /* a frame that must come */
#define T_QUIET_MS 150 /* a window in which nothing may come */
#define T_BUF 65536

/* ---- the observer log: one line per event, under a mutex ---- */

typedef struct {
  uv_mutex_t mu;
  char text[1 << 20];
  size_t len;
} obs_log_t;

static obs_log_t g_obs;

static const char *obs_kind(nm_obs_kind_t k) {
  switch (k) {
  case NM_OBS_OPEN:
    return "OPEN";
  case NM_OBS_IN:
    return "IN";
  case NM_OBS_OUT:
    return "OUT";
  case NM_OBS_CLOSE:
    return "CLOSE";
  case NM_OBS_ACTION:
    return "ACTION";
  }
  return "?";
}

static __attribute__((unused)) void obs_cb(void *data,
                                           const nm_obs_event_t *ev) {
  obs_log_t *l = data;
  char line[512];
  int n;
  n = snprintf(line, sizeof(line),
               "%s c%llu op=%s rule=%s action=%s "
               "detail=%s bytes=%zu\n",
               obs_kind(ev->kind), (unsigned long long)ev->conn_id,
               ev->frame ? nm_op_name(ev->frame->op) : "-",
               ev->rule ? ev->rule : "-", ev->action ? ev->action : "-",
               ev->detail ? ev->detail : "-", ev->bytes.n);
  uv_mutex_lock(&l->mu);
  if (n > 0 && l->len + (size_t)n < sizeof(l->text)) {
    memcpy(l->text + l->len, line, (size_t)n);
    l->len += (size_t)n;
    l->text[l->len] = '\0';
  }
  uv_mutex_unlock(&l->mu);
}

/* Waits (bounded) until the log contains `needle`; returns 1 when it does. */
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
    /* Polling a log written by another thread: there is no event to wait
     * on, so look again shortly (bounded by the deadline). */
    usleep(2000);
  }
}

static __attribute__((unused)) void obs_dump(void) {
  uv_mutex_lock(&g_obs.mu);
  fprintf(stderr, "observer log:\n%s", g_obs.text);
  uv_mutex_unlock(&g_obs.mu);
}

/* ---- the server ---- */

static nm_server_t *g_srv;
static int g_port;

static __attribute__((unused)) void srv_start_opts(nm_server_opts_t *o) {
  int rc;
  o->port = 0;
  rc = nm_server_start_thread(o, &g_srv);
  ck_assert_msg(rc == 0, "nm_server_start_thread: %d", rc);
  g_port = nm_server_port(g_srv);
  ck_assert_int_gt(g_port, 0);
  uv_mutex_init(&g_obs.mu);
  g_obs.len = 0;
  g_obs.text[0] = '\0';
  nm_server_set_observer(g_srv, obs_cb, &g_obs);
}

static __attribute__((unused)) void srv_start(void) {
  nm_server_opts_t o;
  nm_server_opts_init(&o);
  srv_start_opts(&o);
}

static __attribute__((unused)) void srv_stop(void) {
  if (g_srv != NULL)
    nm_server_stop_thread(g_srv);
  g_srv = NULL;
}

/* Applies a document; fails the test with the server's message. The sync
 * call also orders the observer pointer set above before the loop uses it. */
static __attribute__((unused)) void fault(const char *json) {
  char err[512] = "";
  nm_buf_t res;
  int rc;
  nm_buf_init(&res, 1 << 16);
  rc = nm_server_fault_sync(g_srv, json, &res, err, sizeof(err));
  nm_buf_free(&res);
  ck_assert_msg(rc == 0, "fault(%s) -> %d: %s", json, rc, err);
}

/* Applies a document that must be rejected with a message containing
 * `want`. */
static __attribute__((unused)) void fault_bad(const char *json,
                                              const char *want) {
  char err[512] = "";
  int rc = nm_server_fault_sync(g_srv, json, NULL, err, sizeof(err));
  ck_assert_msg(rc == NM_EINVAL, "fault(%s) -> %d (%s), want NM_EINVAL", json,
                rc, err);
  ck_assert_msg(strstr(err, want) != NULL,
                "fault(%s): error \"%s\" lacks \"%s\"", json, err, want);
}

/* ---- raw clients ---- */

/* Connects, reads INFO, sends CONNECT + PING and reads the PONG. */
static __attribute__((unused)) int cli_connect(void) {
  char buf[4096];
  nm_peer_state_t st;
  int fd = nm_test_connect(g_port);
  ck_assert_int_ge(fd, 0);
  nm_test_read(fd, buf, sizeof(buf), "\r\n", T_WAIT_MS, 0, &st);
  ck_assert_msg(strncmp(buf, "INFO {", 6) == 0, "no INFO: %s", buf);
  nm_test_send_str(fd, "CONNECT {\"verbose\":false,\"pedantic\":false,"
                       "\"headers\":true}\r\nPING\r\n");
  nm_test_read(fd, buf, sizeof(buf), "PONG\r\n", T_WAIT_MS, 0, &st);
  ck_assert_msg(strstr(buf, "PONG\r\n") != NULL, "no handshake PONG: %s", buf);
  return fd;
}

/* Reads until `needle` (must come). Returns the bytes read into buf. */
static __attribute__((unused)) size_t want(int fd, char *buf, size_t cap,
                                           const char *needle) {
  nm_peer_state_t st;
  size_t n = nm_test_read(fd, buf, cap, needle, T_WAIT_MS, 0, &st);
  ck_assert_msg(strstr(buf, needle) != NULL, "waited for \"%s\", got \"%s\"",
                needle, buf);
  return n;
}

/* Reads for a quiet window; returns what came (usually nothing). */
static __attribute__((unused)) size_t quiet(int fd, char *buf, size_t cap) {
  nm_peer_state_t st;
  return nm_test_read(fd, buf, cap, NULL, T_QUIET_MS, 0, &st);
}

/* Waits (bounded) until fd has something to read. */
static __attribute__((unused)) int wait_readable(int fd) {
  struct pollfd pfd = {.fd = fd, .events = POLLIN};
  return poll(&pfd, 1, T_WAIT_MS) == 1;
}

static __attribute__((unused)) int count_of(const char *hay,
                                            const char *needle) {
  int n = 0;
  size_t k = strlen(needle);
  for (; (hay = strstr(hay, needle)) != NULL; hay += k)
    n++;
  return n;
}

/* ---- the sentinel ----
 * A client subscribed to "s" as sid 99 publishes SENTINEL and waits for
 * SENTINEL_MSG: output is FIFO per connection, so what the server should
 * have sent before it has come by then. */

#define SENTINEL "PUB s 1\r\nz\r\n"
#define SENTINEL_MSG "MSG s 99 1\r\nz\r\n"

/* SUB to the sentinel subject; the handshake is done. */
static __attribute__((unused)) int cli_with_sentinel(void) {
  int fd = cli_connect();
  char buf[256];
  nm_test_send_str(fd, "SUB s 99\r\nPING\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  return fd;
}

/* Starts the server, connects a sentinel client and applies `doc`. */
static __attribute__((unused)) int start_with_fault(const char *doc) {
  int fd;
  srv_start();
  fd = cli_with_sentinel();
  fault(doc);
  return fd;
}

/* The whole of a one-client case: with `doc` applied, sends `send` and the
 * sentinel in one write and checks that exactly `expect` came back up to and
 * including SENTINEL_MSG (`expect` names SENTINEL_MSG itself). */
static __attribute__((unused)) void
sentinel_case(const char *doc, const char *send, const char *expect) {
  char buf[T_BUF], out[T_BUF];
  int fd = start_with_fault(doc);
  int n = snprintf(out, sizeof(out), "%s" SENTINEL, send);
  ck_assert(n > 0 && (size_t)n < sizeof(out));
  nm_test_send_str(fd, out);
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  ck_assert_str_eq(buf, expect);
  close(fd);
  srv_stop();
}

#endif
