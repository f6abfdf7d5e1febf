/* The server's auth, keepalive, limits and lifecycle over loopback: user and
 * token auth, the auth timeout, server PINGs and stale connections,
 * max_payload / max_control_line / max_connections, slow consumers (pending
 * bytes and write deadline), two servers in one process, a server on the
 * caller's loop, and the fault-engine seam's refuse / restart. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>

#include "nm_conn_api.h"
#include "test_server_util.h"

static nm_server_t *start_auth(const char *user, const char *pass,
                               const char *token, uint64_t timeout_ms) {
  nm_server_opts_t o;
  nm_server_opts_init(&o);
  o.user = user;
  o.pass = pass;
  o.token = token;
  if (timeout_ms)
    o.auth_timeout_ms = timeout_ms;
  return ts_start(&o);
}

static void expect_closed_with(nm_server_t *s, const char *in,
                               const char *want) {
  char out[4096];
  int fd = ts_connect(s, NULL, 0);
  nm_peer_state_t st = ts_until_close(fd, in, out, sizeof(out), 2000);
  ck_assert_msg(strcmp(out, want) == 0, "%s: got [%s] want [%s]", in, out,
                want);
  ck_assert_msg(st != NM_PEER_OPEN, "%s: still open", in);
  close(fd);
}

START_TEST(test_auth_user_pass) {
  nm_server_t *s = start_auth("u", "p", NULL, 0);
  char out[4096];
  int fd = ts_connect(s, NULL, 0);
  nm_peer_state_t st;
  ts_roundtrip(fd, "CONNECT {\"user\":\"u\",\"pass\":\"p\"}\r\n", out,
               sizeof(out));
  ck_assert_str_eq(out, "+OK\r\n");
  /* A second CONNECT is authenticated again, with the credentials it leaves
   * out kept from the first (as 2.9.10 does). */
  ts_roundtrip(fd, "CONNECT {\"verbose\":false}\r\n", out, sizeof(out));
  ck_assert_str_eq(out, "");
  st = ts_until_close(fd, "CONNECT {\"pass\":\"bad\"}\r\n", out, sizeof(out),
                      2000);
  ck_assert_str_eq(out, "-ERR 'Authorization Violation'\r\n");
  ck_assert_int_ne(st, NM_PEER_OPEN);
  close(fd);
  expect_closed_with(s, "CONNECT {\"user\":\"u\",\"pass\":\"x\"}\r\n",
                     "-ERR 'Authorization Violation'\r\n");
  expect_closed_with(s, "CONNECT {\"verbose\":false}\r\n",
                     "-ERR 'Authorization Violation'\r\n");
  expect_closed_with(s, "PING\r\n", "-ERR 'Authorization Violation'\r\n");
  expect_closed_with(s, "SUB foo 1\r\n", "-ERR 'Authorization Violation'\r\n");
  /* Credentials are checked before the protocol version. */
  expect_closed_with(
      s, "CONNECT {\"user\":\"u\",\"pass\":\"x\",\"protocol\":2}\r\n",
      "-ERR 'Authorization Violation'\r\n");
  expect_closed_with(
      s, "CONNECT {\"user\":\"u\",\"pass\":\"p\",\"protocol\":2}\r\n",
      "-ERR 'invalid client protocol'\r\n");
  nm_server_stop_thread(s);
}
END_TEST

START_TEST(test_auth_token) {
  nm_server_t *s = start_auth(NULL, NULL, "tok", 0);
  char out[4096], info[4096];
  int fd = ts_connect(s, info, sizeof(info));
  ck_assert_ptr_nonnull(strstr(info, "\"auth_required\":true"));
  ts_roundtrip(fd, "CONNECT {\"verbose\":false,\"auth_token\":\"tok\"}\r\n",
               out, sizeof(out));
  ck_assert_str_eq(out, "");
  close(fd);
  expect_closed_with(s, "CONNECT {\"auth_token\":\"tox\"}\r\n",
                     "-ERR 'Authorization Violation'\r\n");
  expect_closed_with(s, "CONNECT {\"user\":\"tok\"}\r\n",
                     "-ERR 'Authorization Violation'\r\n");
  nm_server_stop_thread(s);
}
END_TEST

START_TEST(test_auth_timeout) {
  nm_server_t *s = start_auth("u", "p", NULL, 300);
  char out[4096];
  /* t0 before the connect: the server's timer starts at accept, so a clock
   * started after reading INFO could see less than the timeout on a slow run.
   */
  long long t0 = nm_test_now_ms(), dt;
  int fd = ts_connect(s, NULL, 0);
  nm_peer_state_t st = ts_until_close(fd, NULL, out, sizeof(out), 3000);
  dt = nm_test_now_ms() - t0;
  ck_assert_str_eq(out, "-ERR 'Authentication Timeout'\r\n");
  ck_assert_int_ne(st, NM_PEER_OPEN);
  ck_assert_msg(dt >= 250 && dt < 2000, "closed after %lld ms", dt);
  close(fd);
  nm_server_stop_thread(s);
}
END_TEST

static nm_server_t *start_ping(uint64_t interval_ms, int max) {
  nm_server_opts_t o;
  nm_server_opts_init(&o);
  o.ping_interval_ms = interval_ms;
  o.ping_max = max;
  return ts_start(&o);
}

START_TEST(test_keepalive_stale) {
  nm_server_t *s = start_ping(200, 2);
  char out[4096];
  int fd = ts_client(s, "{\"verbose\":false}");
  long long t0 = nm_test_now_ms(), dt;
  nm_peer_state_t st;
  size_t n = nm_test_read(fd, out, sizeof(out), "PING\r\n", 3000, 0, &st);
  dt = nm_test_now_ms() - t0;
  ck_assert_str_eq(out, "PING\r\n");
  /* First PING: min(interval, 2 s) plus up to 20 %. */
  ck_assert_msg(dt >= 190 && dt < 1000, "first PING after %lld ms", dt);
  st = ts_until_close(fd, NULL, out, sizeof(out), 3000);
  dt = nm_test_now_ms() - t0;
  ck_assert_str_eq(out, "PING\r\n-ERR 'Stale Connection'\r\n");
  ck_assert_int_ne(st, NM_PEER_OPEN);
  ck_assert_msg(dt >= 580 && dt < 2500, "stale after %lld ms", dt);
  (void)n;
  close(fd);
  nm_server_stop_thread(s);
}
END_TEST

START_TEST(test_keepalive_before_connect) {
  nm_server_t *s = start_ping(200, 2);
  char out[4096];
  int fd = ts_connect(s, NULL, 0);
  nm_peer_state_t st;
  nm_test_read(fd, out, sizeof(out), "PING\r\n", 3000, 0, &st);
  ck_assert_str_eq(out, "PING\r\n");
  close(fd);
  nm_server_stop_thread(s);
}
END_TEST

START_TEST(test_keepalive_pong_resets) {
  /* Long enough that a loaded machine answers each PING within it. */
  nm_server_t *s = start_ping(250, 1);
  char out[4096];
  int fd = ts_client(s, "{\"verbose\":false}"), i;
  nm_peer_state_t st;
  /* With ping_max 1 an unanswered PING would close at the next tick; each
   * PONG resets the count, so PINGs keep coming. */
  for (i = 0; i < 6; i++) {
    nm_test_read(fd, out, sizeof(out), "PING\r\n", 3000, 0, &st);
    ck_assert_msg(strcmp(out, "PING\r\n") == 0, "round %d: [%s]", i, out);
    ck_assert_int_eq(nm_test_send_str(fd, "PONG\r\n"), 0);
  }
  ts_roundtrip(fd, NULL, out, sizeof(out));
  ck_assert_str_eq(out, "");
  close(fd);
  nm_server_stop_thread(s);
}
END_TEST

/* Once a PONG has answered, client traffic within an interval skips the
 * server's PING (nats-server's "Delaying PING due to client activity"). */
START_TEST(test_keepalive_skipped_on_activity) {
  nm_server_t *s = start_ping(300, 2);
  char out[4096];
  int fd = ts_client(s, "{\"verbose\":false}"), i;
  nm_peer_state_t st;
  nm_test_read(fd, out, sizeof(out), "PING\r\n", 3000, 0, &st);
  ck_assert_str_eq(out, "PING\r\n");
  ck_assert_int_eq(nm_test_send_str(fd, "PONG\r\n"), 0);
  for (i = 0; i < 14; i++) {
    ck_assert_int_eq(nm_test_send_str(fd, "PUB x 1\r\na\r\n"), 0);
    /* Paces the publishes; any PING arriving meanwhile is a failure. */
    nm_test_read(fd, out, sizeof(out), NULL, 50, 0, &st);
    ck_assert_msg(out[0] == 0, "PING despite activity: [%s]", out);
  }
  close(fd);
  nm_server_stop_thread(s);
}
END_TEST

START_TEST(test_max_connections) {
  nm_server_opts_t o;
  nm_server_t *s;
  char out[4096], info[4096];
  int a, b;
  nm_peer_state_t st;
  nm_server_opts_init(&o);
  o.max_connections = 1;
  s = ts_start(&o);
  a = ts_client(s, "{\"verbose\":false}");
  ts_roundtrip(a, NULL, out, sizeof(out));
  /* INFO first, then the -ERR, then the close. */
  b = ts_connect(s, info, sizeof(info));
  st = ts_until_close(b, NULL, out, sizeof(out), 2000);
  ck_assert_str_eq(out, "-ERR 'maximum connections exceeded'\r\n");
  ck_assert_int_ne(st, NM_PEER_OPEN);
  close(b);
  ts_roundtrip(a, NULL, out, sizeof(out));
  close(a);
  nm_server_stop_thread(s);
}
END_TEST

START_TEST(test_max_payload_and_control_line) {
  nm_server_opts_t o;
  nm_server_t *s;
  char out[4096], big[2048], line[700];
  int fd;
  nm_server_opts_init(&o);
  o.max_payload = 1024;
  o.max_control_line = 512;
  s = ts_start(&o);
  fd = ts_client(s, "{\"verbose\":false}");
  memset(big, 'x', sizeof(big));
  snprintf(big, sizeof(big), "PUB foo 1024\r\n");
  memset(big + 14, 'x', 1024);
  memcpy(big + 14 + 1024, "\r\n", 3);
  ts_roundtrip(fd, big, out, sizeof(out));
  ck_assert_str_eq(out, "");
  close(fd);
  expect_closed_with(s, "CONNECT {\"verbose\":false}\r\nPUB foo 1025\r\n",
                     "-ERR 'Maximum Payload Violation'\r\n");
  memset(line, 'a', sizeof(line));
  memcpy(line, "SUB ", 4);
  memcpy(line + sizeof(line) - 5, " 1\r\n", 5);
  expect_closed_with(s, line, "-ERR 'maximum control line exceeded'\r\n");
  nm_server_stop_thread(s);
}
END_TEST

START_TEST(test_max_subs) {
  nm_server_opts_t o;
  nm_server_t *s;
  char out[4096];
  int fd;
  nm_server_opts_init(&o);
  o.max_subs = 2;
  s = ts_start(&o);
  fd = ts_connect(s, NULL, 0);
  ts_roundtrip(fd,
               "CONNECT {\"verbose\":true}\r\nSUB a 1\r\nSUB b 2\r\n"
               "SUB a 1\r\nSUB x..y 5\r\nUNSUB 1\r\nSUB c 3\r\n",
               out, sizeof(out));
  ck_assert_str_eq(out, "+OK\r\n+OK\r\n+OK\r\n"
                        "-ERR 'maximum subscriptions exceeded'\r\n"
                        "-ERR 'maximum subscriptions exceeded'\r\n"
                        "+OK\r\n+OK\r\n");
  close(fd);
  nm_server_stop_thread(s);
}
END_TEST

/* A client whose receive window is small from the SYN on, so the kernel
 * absorbs little of what the server writes to it. */
static int small_rcvbuf_client(nm_server_t *s) {
  struct sockaddr_in sa;
  char line[4096];
  int fd = socket(AF_INET, SOCK_STREAM, 0), sz = 4096;
  ck_assert_int_ge(fd, 0);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)nm_server_port(s));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  ck_assert_int_gt(nm_test_read_line(fd, line, sizeof(line), TS_WAIT_MS), 0);
  ck_assert_int_eq(nm_test_send_str(fd, "CONNECT {\"verbose\":false}\r\n"), 0);
  return fd;
}

/* A subscriber that does not read passes max_pending and is closed with no
 * -ERR; the publisher is unaffected and the memory stays bounded. Messages
 * of a quarter of max_pending: the fast-producer stall lets one through at a
 * time (as nats-server does), so small ones would keep the subscriber under
 * max_pending until the write deadline instead (test_server_stall). */
START_TEST(test_slow_consumer_pending) {
  nm_server_opts_t o;
  nm_server_t *s;
  static char out[TS_BUF], pubs[64 * 1024];
  int sub, pub, i;
  size_t n = 0, total = 0;
  nm_peer_state_t st = NM_PEER_OPEN;
  long long deadline;
  nm_server_opts_init(&o);
  o.max_pending = 128 * 1024;
  s = ts_start(&o);
  sub = small_rcvbuf_client(s);
  pub = ts_client(s, "{\"verbose\":false}");
  ts_roundtrip(sub, "SUB slow 1\r\n", out, sizeof(out));
  for (i = 0; i < 2; i++)
    n += (size_t)sprintf(pubs + n, "PUB slow 32000\r\n%032000d\r\n", i);
  /* 16 MB: far more than the kernel buffers and max_pending. */
  for (i = 0; i < 250; i++)
    ck_assert_int_eq(nm_test_send(pub, pubs, n), 0);
  ts_roundtrip(pub, NULL, out, sizeof(out));
  /* A server PING may come first when this took over 2 s. */
  ck_assert_ptr_null(strstr(out, "-ERR"));
  deadline = nm_test_now_ms() + 5000;
  while (st == NM_PEER_OPEN && nm_test_now_ms() < deadline)
    total += nm_test_read(sub, out, sizeof(out), NULL,
                          (int)(deadline - nm_test_now_ms()), 0, &st);
  ck_assert_int_ne(st, NM_PEER_OPEN);
  ck_assert_msg(total < 250 * n, "got %zu of %zu bytes", total, 250 * n);
  ck_assert_ptr_null(strstr(out, "-ERR"));
  close(sub);
  close(pub);
  nm_server_stop_thread(s);
}
END_TEST

/* A client that floods PINGs and never reads its PONGs is a slow consumer
 * too: the server's memory for it is bounded by max_pending. */
START_TEST(test_slow_consumer_ping_flood) {
  nm_server_opts_t o;
  nm_server_t *s;
  static char flood[6 * 20000], out[TS_BUF];
  int fd, i;
  size_t total = 0;
  nm_peer_state_t st = NM_PEER_OPEN;
  long long deadline;
  nm_server_opts_init(&o);
  o.max_pending = 32 * 1024;
  s = ts_start(&o);
  fd = small_rcvbuf_client(s);
  for (i = 0; i < 20000; i++)
    memcpy(flood + 6 * i, "PING\r\n", 6);
  for (i = 0; i < 50; i++)
    if (nm_test_send(fd, flood, sizeof(flood)) < 0)
      break; /* closed under us: that is the point */
  deadline = nm_test_now_ms() + 5000;
  while (st == NM_PEER_OPEN && nm_test_now_ms() < deadline)
    total += nm_test_read(fd, out, sizeof(out), NULL,
                          (int)(deadline - nm_test_now_ms()), 0, &st);
  ck_assert_int_ne(st, NM_PEER_OPEN);
  ck_assert_msg(total < (size_t)i * sizeof(flood), "read %zu", total);
  close(fd);
  nm_server_stop_thread(s);
}
END_TEST

/* A fast producer is stalled while a slow but reading consumer catches up,
 * so the consumer is not cut off: every message arrives. */
typedef struct {
  int fd;
  int ok;
} prod_t;

#define STALL_MSGS 2000
static void *producer(void *arg) {
  prod_t *p = arg;
  static char pubs[STALL_MSGS * 1100], out[4096];
  size_t n = 0;
  int i;
  nm_peer_state_t st;
  for (i = 0; i < STALL_MSGS; i++)
    n += (size_t)sprintf(pubs + n, "PUB st 1000\r\n%01000d\r\n", i);
  if (nm_test_send(p->fd, pubs, n) < 0 ||
      nm_test_send_str(p->fd, "PING\r\n") < 0)
    return NULL;
  nm_test_read(p->fd, out, sizeof(out), "PONG\r\n", 20000, 0, &st);
  p->ok = strstr(out, "PONG\r\n") != NULL;
  return NULL;
}

START_TEST(test_fast_producer_stalled) {
  nm_server_opts_t o;
  nm_server_t *s;
  static char buf[4096];
  pthread_t th;
  prod_t p = {-1, 0};
  const size_t frame = 15 + 1000 + 2; /* "MSG st 1 1000\r\n" payload CRLF */
  size_t total = 0, want = (size_t)STALL_MSGS * frame, at = 0, ping_left = 0;
  nm_peer_state_t st = NM_PEER_OPEN;
  long long deadline;
  int sub;
  nm_server_opts_init(&o);
  o.max_pending = 256 * 1024;
  s = ts_start(&o);
  sub = small_rcvbuf_client(s);
  ts_roundtrip(sub, "SUB st 1\r\n", buf, sizeof(buf));
  p.fd = ts_client(s, "{\"verbose\":false}");
  ck_assert_int_eq(pthread_create(&th, NULL, producer, &p), 0);
  deadline = nm_test_now_ms() + 20000;
  /* At most 4 KB a millisecond: far slower than the producer. */
  while (total < want && st == NM_PEER_OPEN && nm_test_now_ms() < deadline) {
    struct pollfd pfd = {.fd = sub, .events = 0};
    ssize_t r;
    poll(&pfd, 1, 1); /* the pace: waits 1 ms */
    r = recv(sub, buf, sizeof(buf), MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
      st = NM_PEER_EOF;
    /* Counts MSG bytes only: on a slow run the server's first keepalive
     * PING (about 2 s after CONNECT, as nats-server's) comes between two
     * MSGs, where a frame would start with 'M'. */
    for (ssize_t i = 0; i < r; i++) {
      if (ping_left > 0) {
        ping_left--;
      } else if (at == 0 && buf[i] == 'P') {
        ping_left = strlen("PING\r\n") - 1;
      } else {
        total++;
        at = (at + 1) % frame;
      }
    }
  }
  pthread_join(th, NULL);
  ck_assert_int_eq(st, NM_PEER_OPEN);
  ck_assert_int_eq(total, want);
  ck_assert_int_eq(p.ok, 1);
  close(sub);
  close(p.fd);
  nm_server_stop_thread(s);
}
END_TEST

START_TEST(test_write_deadline) {
  nm_server_opts_t o;
  nm_server_t *s;
  static char pubs[64 * 1024], out[TS_BUF];
  int sub, pub, i;
  size_t n = 0;
  nm_peer_state_t st = NM_PEER_OPEN;
  long long t0, deadline;
  nm_server_opts_init(&o);
  o.write_deadline_ms = 200;
  s = ts_start(&o);
  sub = small_rcvbuf_client(s);
  pub = ts_client(s, "{\"verbose\":false}");
  ts_roundtrip(sub, "SUB wd 1\r\n", out, sizeof(out));
  for (i = 0; i < 60; i++)
    n += (size_t)sprintf(pubs + n, "PUB wd 1000\r\n%01000d\r\n", i);
  /* 16 MB: more than the kernel buffers of both sockets can absorb. */
  for (i = 0; i < 270; i++)
    ck_assert_int_eq(nm_test_send(pub, pubs, n), 0);
  ts_roundtrip(pub, NULL, out, sizeof(out));
  t0 = nm_test_now_ms();
  /* Not reading for longer than the deadline... */
  nm_test_read(pub, out, sizeof(out), NULL, 600, 0, &st);
  /* ...then the subscriber finds its connection closed. */
  deadline = nm_test_now_ms() + 5000;
  st = NM_PEER_OPEN;
  while (st == NM_PEER_OPEN && nm_test_now_ms() < deadline)
    nm_test_read(sub, out, sizeof(out), NULL,
                 (int)(deadline - nm_test_now_ms()), 0, &st);
  ck_assert_int_ne(st, NM_PEER_OPEN);
  ck_assert_int_lt(nm_test_now_ms() - t0, 5000);
  close(sub);
  close(pub);
  nm_server_stop_thread(s);
}
END_TEST

START_TEST(test_two_servers) {
  nm_server_t *s1 = ts_start(NULL), *s2 = ts_start(NULL);
  char out[4096];
  int a1, b1, a2;
  ck_assert_int_ne(nm_server_port(s1), nm_server_port(s2));
  a1 = ts_client(s1, "{\"verbose\":false}");
  b1 = ts_client(s1, "{\"verbose\":false}");
  a2 = ts_client(s2, "{\"verbose\":false}");
  ts_roundtrip(a1, "SUB x 1\r\n", out, sizeof(out));
  ts_roundtrip(a2, "SUB x 1\r\n", out, sizeof(out));
  ts_roundtrip(b1, "PUB x 2\r\nhi\r\n", out, sizeof(out));
  ts_roundtrip(a1, NULL, out, sizeof(out));
  ck_assert_str_eq(out, "MSG x 1 2\r\nhi\r\n");
  ts_roundtrip(a2, NULL, out, sizeof(out));
  ck_assert_str_eq(out, "");
  close(a1);
  close(b1);
  nm_server_stop_thread(s1);
  ts_roundtrip(a2, "PUB x 2\r\nok\r\n", out, sizeof(out));
  ck_assert_str_eq(out, "MSG x 1 2\r\nok\r\n");
  close(a2);
  nm_server_stop_thread(s2);
}
END_TEST

/* A host name is resolved (IPv4 first): "localhost" serves 127.0.0.1. */
START_TEST(test_host_name) {
  nm_server_opts_t o;
  nm_server_t *s;
  char out[4096];
  int fd;
  nm_server_opts_init(&o);
  o.host = "localhost";
  s = ts_start(&o);
  fd = ts_client(s, "{\"verbose\":false}");
  ts_roundtrip(fd, NULL, out, sizeof(out));
  close(fd);
  nm_server_stop_thread(s);
}
END_TEST

START_TEST(test_stop_with_open_conns) {
  nm_server_t *s = ts_start(NULL);
  char out[4096];
  int a = ts_client(s, "{\"verbose\":false}");
  nm_peer_state_t st;
  ts_roundtrip(a, "SUB x 1\r\n", out, sizeof(out));
  nm_server_stop_thread(s);
  st = ts_until_close(a, NULL, out, sizeof(out), 2000);
  ck_assert_int_ne(st, NM_PEER_OPEN);
  close(a);
}
END_TEST

/* ---- a server on the caller's loop; a thread plays the client ---- */

typedef struct {
  uv_loop_t loop;
  uv_async_t done;
  nm_server_t *s;
  int port;
  int ok;
  int stopped;
  void (*client)(void *);
} embed_t;

static void embed_stopped(nm_server_t *s, void *data) {
  embed_t *e = data;
  e->stopped = 1;
  uv_close((uv_handle_t *)&e->done, NULL);
}

static void embed_done(uv_async_t *a) {
  embed_t *e = a->data;
  nm_server_stop(e->s, embed_stopped, e);
}

static void *embed_thread(void *arg) {
  embed_t *e = arg;
  e->client(e);
  uv_async_send(&e->done);
  return NULL;
}

static void run_embedded(embed_t *e, void (*client)(void *), int refuse) {
  pthread_t th;
  nm_server_opts_t o;
  nm_server_opts_init(&o);
  ck_assert_int_eq(uv_loop_init(&e->loop), 0);
  ck_assert_int_eq(nm_server_new(&e->loop, &o, &e->s), 0);
  ck_assert_int_eq(nm_server_start(e->s), 0);
  e->port = nm_server_port(e->s);
  e->client = client;
  nm__server_refuse_next(e->s, refuse);
  uv_async_init(&e->loop, &e->done, embed_done);
  e->done.data = e;
  ck_assert_int_eq(pthread_create(&th, NULL, embed_thread, e), 0);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  pthread_join(th, NULL);
  ck_assert_int_eq(e->stopped, 1);
  nm_server_free(e->s);
  ck_assert_int_eq(uv_loop_close(&e->loop), 0);
}

static void client_pingpong(void *arg) {
  embed_t *e = arg;
  char out[4096];
  nm_peer_state_t st;
  int fd = nm_test_connect(e->port);
  if (fd < 0)
    return;
  nm_test_send_str(fd, "CONNECT {\"verbose\":false}\r\nPING\r\n");
  nm_test_read(fd, out, sizeof(out), "PONG\r\n", TS_WAIT_MS, 0, &st);
  e->ok =
      strncmp(out, "INFO {", 6) == 0 && strstr(out, " \r\nPONG\r\n") != NULL;
  close(fd);
}

START_TEST(test_embedded_loop) {
  static embed_t e;
  memset(&e, 0, sizeof(e));
  run_embedded(&e, client_pingpong, 0);
  ck_assert_int_eq(e.ok, 1);
}
END_TEST

static void client_refused(void *arg) {
  embed_t *e = arg;
  char out[4096];
  nm_peer_state_t st;
  int fd = nm_test_connect(e->port);
  if (fd < 0)
    return;
  /* The refused connection is closed before INFO. */
  nm_test_read(fd, out, sizeof(out), NULL, TS_WAIT_MS, 0, &st);
  close(fd);
  if (out[0] != 0 || st == NM_PEER_OPEN)
    return;
  client_pingpong(arg);
}

START_TEST(test_refuse_next) {
  static embed_t e;
  memset(&e, 0, sizeof(e));
  run_embedded(&e, client_refused, 1);
  ck_assert_int_eq(e.ok, 1);
}
END_TEST

/* Whatever a client sends, the server survives: seeded junk mixed with op
 * fragments on many connections, then a clean client still gets its PONG. */
START_TEST(test_garbage_survival) {
  static const char *frags[] = {
      "PUB ",   "SUB ",  "UNSUB ", "CONNECT {", "}",  "HPUB ",    "PING",
      "PONG",   "\r\n",  "\n",     " ",         "\t", "foo",      ".",
      "*",      ">",     "1",      "99999999",  "-1", "NATS/1.0", "\"",
      "INFO {", "-ERR ", "+OK",    "MSG ",      "\0"};
  nm_server_t *s = ts_start(NULL);
  char out[4096], junk[2048];
  uint64_t x = 0x9E3779B97F4A7C15ULL;
  int i, fd;
  for (i = 0; i < 200; i++) {
    size_t n = 0;
    fd = nm_test_connect(nm_server_port(s));
    ck_assert_int_ge(fd, 0);
    while (n < sizeof(junk) - 32) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      if (x % 3 == 0) {
        junk[n++] = (char)(x >> 24);
      } else {
        const char *f = frags[(x >> 8) % (sizeof(frags) / sizeof(frags[0]))];
        size_t l = f[0] ? strlen(f) : 1;
        memcpy(junk + n, f, l);
        n += l;
      }
    }
    nm_test_send(fd, junk, n); /* may fail once the server closed */
    close(fd);
  }
  fd = ts_client(s, "{\"verbose\":false}");
  ts_roundtrip(fd, "SUB a 1\r\nPUB a 1\r\nx\r\n", out, sizeof(out));
  ck_assert_str_eq(out, "MSG a 1 1\r\nx\r\n");
  close(fd);
  nm_server_stop_thread(s);
}
END_TEST

static long rss_kb(pid_t pid) {
  char path[64], line[256];
  long kb = -1;
  FILE *f;
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  f = fopen(path, "r");
  if (f == NULL)
    return -1;
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
      break;
  fclose(f);
  return kb;
}

/* The natsmock process's memory stays bounded by max_pending while a
 * subscriber reads nothing and 32 MB are published to it. (A small
 * max_pending keeps the fast-producer stalls before the cut-off short.) */
START_TEST(test_memory_bounded) {
  nm_natsserver_t ns;
  static char pubs[64 * 1024], out[4096];
  const char *b = getenv("NM_BINARY_DIR");
  char bin[1024];
  int sub, pub, i;
  size_t n = 0;
  long kb0, kb;
  nm_peer_state_t st;
  snprintf(bin, sizeof(bin), "%s/server/natsmock", b ? b : ".");
  /* max_payload may not exceed max_pending (nats-server refuses it). */
  ck_assert_int_eq(
      nm_server_proc_start(&ns, bin, "max_pending: 256KB\nmax_payload: 64KB\n",
                           NULL),
      0);
  sub = nm_test_connect(ns.port);
  pub = nm_test_connect(ns.port);
  ck_assert_int_ge(sub, 0);
  ck_assert_int_ge(pub, 0);
  nm_test_read_line(sub, out, sizeof(out), TS_WAIT_MS);
  nm_test_read_line(pub, out, sizeof(out), TS_WAIT_MS);
  nm_test_send_str(sub, "CONNECT {\"verbose\":false}\r\nSUB m 1\r\nPING\r\n");
  nm_test_read(sub, out, sizeof(out), "PONG\r\n", TS_WAIT_MS, 0, &st);
  nm_test_send_str(pub, "CONNECT {\"verbose\":false}\r\nPING\r\n");
  nm_test_read(pub, out, sizeof(out), "PONG\r\n", TS_WAIT_MS, 0, &st);
  kb0 = rss_kb(ns.pid);
  for (i = 0; i < 60; i++)
    n += (size_t)sprintf(pubs + n, "PUB m 1000\r\n%01000d\r\n", i);
  for (i = 0; i < 550; i++)
    ck_assert_int_eq(nm_test_send(pub, pubs, n), 0);
  nm_test_send_str(pub, "PING\r\n");
  nm_test_read(pub, out, sizeof(out), "PONG\r\n", 30000, 0, &st);
  ck_assert_ptr_nonnull(strstr(out, "PONG\r\n"));
  kb = rss_kb(ns.pid);
  /* Unbounded, the 32 MB would be held for the subscriber; the margin is
   * for ASan's quarantine of freed buffers. */
  ck_assert_msg(kb0 > 0 && kb > 0 && kb - kb0 < 16 * 1024,
                "natsmock RSS %ld kB -> %ld kB", kb0, kb);
  close(sub);
  close(pub);
  nm_natsserver_stop(&ns);
}
END_TEST

static Suite *suite(void) {
  Suite *su = suite_create("server_limits");
  TCase *tc = tcase_create("limits");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_auth_user_pass);
  tcase_add_test(tc, test_auth_token);
  tcase_add_test(tc, test_auth_timeout);
  tcase_add_test(tc, test_keepalive_stale);
  tcase_add_test(tc, test_keepalive_before_connect);
  tcase_add_test(tc, test_keepalive_pong_resets);
  tcase_add_test(tc, test_keepalive_skipped_on_activity);
  tcase_add_test(tc, test_max_connections);
  tcase_add_test(tc, test_max_payload_and_control_line);
  tcase_add_test(tc, test_max_subs);
  tcase_add_test(tc, test_slow_consumer_pending);
  tcase_add_test(tc, test_slow_consumer_ping_flood);
  tcase_add_test(tc, test_write_deadline);
  tcase_add_test(tc, test_fast_producer_stalled);
  tcase_add_test(tc, test_two_servers);
  tcase_add_test(tc, test_stop_with_open_conns);
  tcase_add_test(tc, test_host_name);
  tcase_add_test(tc, test_embedded_loop);
  tcase_add_test(tc, test_refuse_next);
  tcase_add_test(tc, test_garbage_survival);
  tcase_add_test(tc, test_memory_bounded);
  suite_add_tcase(su, tc);
  return su;
}

int main(void) {
  return nm_test_run_suite(suite(), CK_ENV);
}
