/* Helpers for the server's loopback tests (test_server_*.c): a natsmock on
 * its own thread and blocking raw-socket clients. Every wait is bounded.
 * Header-only: each test program includes it once. */
#ifndef TEST_SERVER_UTIL_H
#define TEST_SERVER_UTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "natsmock.h"
#include "nm_test_check.h"
#include "nm_test_util.h"

#define TS_WAIT_MS 3000 /* a reply that must come */
#define TS_BUF (1 << 20)

static nm_server_t *ts_start(const nm_server_opts_t *o) {
  nm_server_t *s = NULL;
  nm_server_opts_t def;
  if (o == NULL) {
    nm_server_opts_init(&def);
    def.seed = 42;
    o = &def;
  }
  ck_assert_int_eq(nm_server_start_thread(o, &s), 0);
  ck_assert_int_gt(nm_server_port(s), 0);
  return s;
}

/* Connects and consumes the INFO line (copied to info when not NULL). */
static int ts_connect(nm_server_t *s, char *info, size_t cap) {
  char line[4096];
  int fd = nm_test_connect(nm_server_port(s));
  ssize_t n;
  ck_assert_int_ge(fd, 0);
  n = nm_test_read_line(fd, line, sizeof(line), TS_WAIT_MS);
  ck_assert_msg(n > 0 && strncmp(line, "INFO {", 6) == 0, "no INFO: %s",
                n > 0 ? line : "(nothing)");
  if (info)
    snprintf(info, cap, "%s", line);
  return fd;
}

/* A connection that already sent CONNECT (json) and got nothing back. */
static int ts_client(nm_server_t *s, const char *json) {
  char buf[256];
  int fd = ts_connect(s, NULL, 0);
  snprintf(buf, sizeof(buf), "CONNECT %s\r\n", json);
  ck_assert_int_eq(nm_test_send_str(fd, buf), 0);
  return fd;
}

static int ts_count(const char *hay, const char *needle);

/* Sends `in`, then PING, and returns everything read up to our PONG, which
 * is stripped. `pongs` is how many PONGs `in` itself asks for. */
static char *ts_roundtrip_n(int fd, const char *in, char *out, size_t cap,
                            int pongs) {
  nm_peer_state_t st = NM_PEER_OPEN;
  size_t n = 0;
  long long deadline = nm_test_now_ms() + TS_WAIT_MS;
  if (in && *in)
    ck_assert_int_eq(nm_test_send_str(fd, in), 0);
  ck_assert_int_eq(nm_test_send_str(fd, "PING\r\n"), 0);
  out[0] = 0;
  while (ts_count(out, "PONG\r\n") < pongs + 1 && st == NM_PEER_OPEN &&
         nm_test_now_ms() < deadline)
    n += nm_test_read(fd, out + n, cap - n, "PONG\r\n",
                      (int)(deadline - nm_test_now_ms()), 0, &st);
  ck_assert_msg(n >= 6 && strcmp(out + n - 6, "PONG\r\n") == 0,
                "no PONG after %s: got [%s]", in ? in : "", out);
  out[n - 6] = 0;
  return out;
}

static char *ts_roundtrip(int fd, const char *in, char *out, size_t cap) {
  return ts_roundtrip_n(fd, in, out, cap, 0);
}

/* Sends `in` and reads until the peer closes (or the wait ends). */
static nm_peer_state_t ts_until_close(int fd, const char *in, char *out,
                                      size_t cap, int timeout_ms) {
  nm_peer_state_t st = NM_PEER_OPEN;
  if (in && *in)
    nm_test_send_str(fd, in);
  nm_test_read(fd, out, cap, NULL, timeout_ms, 0, &st);
  return st;
}

static int ts_count(const char *hay, const char *needle) {
  int n = 0;
  size_t l = strlen(needle);
  for (hay = strstr(hay, needle); hay; hay = strstr(hay + l, needle))
    n++;
  return n;
}

#endif
