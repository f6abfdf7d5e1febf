/* Helpers for the fault-engine tests (test_faults_*.c): a natsmock server on
 * its own thread, raw-socket clients (test_wire_util.h), fault documents
 * applied from the test thread with nm_server_fault_sync, and an observer
 * log. Every wait is bounded. Header-only: each test program includes it
 * once. */
#ifndef TEST_FAULTS_UTIL_H
#define TEST_FAULTS_UTIL_H

#include "natsmock.h"
#include "nm_parser.h"
#include "test_wire_util.h"

/* "OUT c1 op=PUB rule=- action=- detail=- bytes=12" */
static __attribute__((unused)) void obs_cb(void *data,
                                           const nm_obs_event_t *ev) {
  char line[512];
  int n;
  n = snprintf(line, sizeof(line),
               "%s c%llu op=%s rule=%s action=%s "
               "detail=%s bytes=%zu\n",
               obs_kind(ev->kind), (unsigned long long)ev->conn_id,
               ev->frame ? nm_op_name(ev->frame->op) : "-",
               ev->rule ? ev->rule : "-", ev->action ? ev->action : "-",
               ev->detail ? ev->detail : "-", ev->bytes.n);
  obs_append(line, n);
}

/* ---- the server ---- */

static nm_server_t *g_srv;

static __attribute__((unused)) void srv_start_opts(nm_server_opts_t *o) {
  int rc;
  o->port = 0;
  rc = nm_server_start_thread(o, &g_srv);
  ck_assert_msg(rc == 0, "nm_server_start_thread: %d", rc);
  g_port = nm_server_port(g_srv);
  ck_assert_int_gt(g_port, 0);
  obs_reset();
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

/* Starts the server, connects a sentinel client and applies `doc`. */
static __attribute__((unused)) int start_with_fault(const char *doc) {
  int fd;
  srv_start();
  fd = cli_with_sentinel();
  fault(doc);
  return fd;
}

/* The whole of a one-client case: with `doc` applied, sentinel_exchange. */
static __attribute__((unused)) void
sentinel_case(const char *doc, const char *send, const char *expect) {
  int fd = start_with_fault(doc);
  sentinel_exchange(fd, send, expect);
  close(fd);
  srv_stop();
}

#endif
