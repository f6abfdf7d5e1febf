/* What the fault-engine tests (test_faults_util.h) and the proxy tests
 * (test_proxy_util.h) share: the observer log their callbacks write a line
 * per event to (each program formats its own lines), raw-socket clients of
 * the port under test, and bounded reads. Every wait is bounded.
 * Header-only: included once per program, through one of those two. */
#ifndef TEST_WIRE_UTIL_H
#define TEST_WIRE_UTIL_H

#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "nm_obs.h"
#include "nm_test_check.h"
#include "nm_test_util.h"

#define T_WAIT_MS 3000 /* a frame that must come */
#define T_QUIET_MS 150 /* a window in which nothing may come */
#define T_BUF 65536

/* The port the raw clients connect to (the server's, or the proxy's). */
static int g_port;

/* ---- the observer log: one line per event, under a mutex ---- */

typedef struct {
  uv_mutex_t mu;
  uv_cond_t grew; /* signalled on every append: obs_wait's event */
  int ready;      /* mu and grew are initialised */
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

/* Empties the log (initialising it the first time); call it before the
 * observer is installed. */
static __attribute__((unused)) void obs_reset(void) {
  if (!g_obs.ready) {
    uv_mutex_init(&g_obs.mu);
    uv_cond_init(&g_obs.grew);
    g_obs.ready = 1;
  }
  uv_mutex_lock(&g_obs.mu);
  g_obs.len = 0;
  g_obs.text[0] = '\0';
  uv_mutex_unlock(&g_obs.mu);
}

/* Appends one formatted line (from the loop thread) and wakes obs_wait. A
 * line that does not fit is dropped (the log is bounded). */
static __attribute__((unused)) void obs_append(const char *line, int n) {
  uv_mutex_lock(&g_obs.mu);
  if (n > 0 && g_obs.len + (size_t)n < sizeof(g_obs.text)) {
    memcpy(g_obs.text + g_obs.len, line, (size_t)n);
    g_obs.len += (size_t)n;
    g_obs.text[g_obs.len] = '\0';
  }
  uv_cond_broadcast(&g_obs.grew);
  uv_mutex_unlock(&g_obs.mu);
}

static int count_of(const char *hay, const char *needle);

/* Waits until `needle` is in the log at least n times, at most timeout_ms;
 * returns 1 when it is. Woken by each append. */
static __attribute__((unused)) int obs_wait_count(const char *needle, int n,
                                                  int timeout_ms) {
  long long deadline = nm_test_now_ms() + timeout_ms;
  int found;
  uv_mutex_lock(&g_obs.mu);
  for (;;) {
    long long left = deadline - nm_test_now_ms();
    found = count_of(g_obs.text, needle) >= n;
    if (found || left <= 0)
      break;
    (void)uv_cond_timedwait(&g_obs.grew, &g_obs.mu, (uint64_t)left * 1000000u);
  }
  uv_mutex_unlock(&g_obs.mu);
  return found;
}

/* Waits until the log contains `needle`, at most timeout_ms; returns 1 when
 * it does. Woken by each append, not by polling. */
static __attribute__((unused)) int obs_wait(const char *needle,
                                            int timeout_ms) {
  return obs_wait_count(needle, 1, timeout_ms);
}

static __attribute__((unused)) int count_of(const char *hay,
                                            const char *needle) {
  int n = 0;
  size_t k = strlen(needle);
  for (; (hay = strstr(hay, needle)) != NULL; hay += k)
    n++;
  return n;
}

/* How many times `needle` is in the log now. */
static __attribute__((unused)) int obs_count(const char *needle) {
  int n;
  uv_mutex_lock(&g_obs.mu);
  n = count_of(g_obs.text, needle);
  uv_mutex_unlock(&g_obs.mu);
  return n;
}

static __attribute__((unused)) void obs_dump(void) {
  uv_mutex_lock(&g_obs.mu);
  fprintf(stderr, "observer log:\n%s", g_obs.text);
  uv_mutex_unlock(&g_obs.mu);
}

/* ---- raw clients ---- */

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

/* cli_connect_to the port under test. */
static __attribute__((unused)) int cli_connect(void) {
  return cli_connect_to(g_port, NULL, 0);
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

/* Sends `send` and the sentinel in one write on fd and checks that exactly
 * `expect` came back up to and including SENTINEL_MSG (`expect` names
 * SENTINEL_MSG itself). */
static __attribute__((unused)) void sentinel_exchange(int fd, const char *send,
                                                      const char *expect) {
  char buf[T_BUF], out[T_BUF];
  int n = snprintf(out, sizeof(out), "%s" SENTINEL, send);
  ck_assert(n > 0 && (size_t)n < sizeof(out));
  nm_test_send_str(fd, out);
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  ck_assert_str_eq(buf, expect);
}

/* The "restart" action, the same for the mock and the proxy (the server or
 * proxy under test is started; `apply` applies a fault document): a sentinel
 * client is closed, new connections are refused until the listener is back
 * (at least 280 ms of the 300 asked for), then accepted. */
static __attribute__((unused)) void
check_restart_listener(void (*apply)(const char *doc)) {
  char buf[T_BUF];
  nm_peer_state_t st;
  long long t0, deadline;
  int fd, fd2 = -1;
  fd = cli_with_sentinel();
  t0 = nm_test_now_ms();
  apply("{\"actions\":[{\"do\":\"restart\",\"ms\":300}]}");
  nm_test_read(fd, buf, sizeof(buf), NULL, T_WAIT_MS, 0, &st);
  ck_assert_int_eq(st, NM_PEER_EOF);
  close(fd);
  /* Refused until the listener is back; then a normal connection. The loop
   * retries a refused connect: there is no event to await for "the port is
   * open again", and each try is bounded. */
  deadline = t0 + 5000;
  while (nm_test_now_ms() < deadline) {
    fd2 = nm_test_connect(g_port);
    if (fd2 >= 0)
      break;
    usleep(20000);
  }
  ck_assert_int_ge(fd2, 0);
  ck_assert_msg(nm_test_now_ms() - t0 >= 280, "listener back after %lld ms",
                nm_test_now_ms() - t0);
  close(fd2);
  fd = cli_connect();
  close(fd);
}

#endif
