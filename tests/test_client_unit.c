/* Unit tests of the nmc client state machine against a scripted server: a
 * tiny TCP server on the same uv loop (ephemeral port) that records what the
 * client sends and writes exactly the bytes each test scripts. Covers the
 * handshake, the flush FIFO (late PONG after a timeout, unsolicited PONG,
 * overdue PONG -> reconnect), keepalive, sub-drain fences, connection drain,
 * reconnect replay order, the reconnect buffer, slow consumers, async INFO
 * and -ERR handling. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "nm_client.h"
#include "nm_seq.h"
#include "nm_test_check.h"
#include "nmc_internal.h" /* nmc__out_keep_pubs */
#include "test_client_util.h"

#define MAX_CONNS 8
#define RX_MAX (4 * 1024 * 1024)

typedef struct {
  uv_tcp_t tcp;
  char rx[RX_MAX];
  size_t rxlen;
  int open;
} fconn_t;

static uv_tcp_t listener;
static int port;
static fconn_t fc[MAX_CONNS];
static int nconns;

static const char *kInfo =
    "INFO {\"server_id\":\"X\",\"version\":\"2.9.10\",\"proto\":1,"
    "\"headers\":true,\"max_payload\":1048576} \r\n";

/* ---- the scripted server ---- */

static void fc_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  static char buf[65536];
  b->base = buf;
  b->len = sizeof(buf);
}

static void fc_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  fconn_t *f = (fconn_t *)s;
  if (n < 0) {
    f->open = 0;
    uv_close((uv_handle_t *)s, NULL);
    return;
  }
  if (f->rxlen + (size_t)n < RX_MAX) {
    memcpy(f->rx + f->rxlen, b->base, (size_t)n);
    f->rxlen += (size_t)n;
    f->rx[f->rxlen] = '\0';
  }
}

static void on_accept(uv_stream_t *l, int status) {
  fconn_t *f;
  ck_assert_int_lt(nconns, MAX_CONNS);
  f = &fc[nconns++];
  uv_tcp_init(&loop, &f->tcp);
  ck_assert_int_eq(uv_accept(l, (uv_stream_t *)&f->tcp), 0);
  f->open = 1;
  uv_read_start((uv_stream_t *)&f->tcp, fc_alloc, fc_read);
}

static void srv_write_done(uv_write_t *w, int status) {
  free(w);
}

static void srv_send(int i, const char *bytes) {
  size_t n = strlen(bytes);
  uv_write_t *w = malloc(sizeof(*w) + n);
  uv_buf_t b;
  memcpy(w + 1, bytes, n);
  b = uv_buf_init((char *)(w + 1), (unsigned int)n);
  ck_assert(fc[i].open);
  ck_assert_int_eq(
      uv_write(w, (uv_stream_t *)&fc[i].tcp, &b, 1, srv_write_done), 0);
}

static void srv_close(int i) {
  if (fc[i].open) {
    fc[i].open = 0;
    uv_close((uv_handle_t *)&fc[i].tcp, NULL);
  }
}

static int count_of(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
    n++;
  return n;
}

/* ---- client side recording ---- */

typedef struct {
  int connected, connect_status, disconnected, reconnected, closed;
  int lame_duck, discovered, errors, slow;
  int last_err;
  char last_text[256];
  char log[4096]; /* order of connection events */
} events_t;

static events_t ev;
static nmc_conn_t *cli;

static void logev(const char *s) {
  strncat(ev.log, s, sizeof(ev.log) - strlen(ev.log) - 1);
}

static void on_connected(nmc_conn_t *c, int status, void *d) {
  ev.connected++;
  ev.connect_status = status;
  logev(status ? "connfail," : "connected,");
}
static void on_disc(nmc_conn_t *c, void *d) {
  ev.disconnected++;
  logev("disconnected,");
}
static void on_reconn(nmc_conn_t *c, void *d) {
  ev.reconnected++;
  logev("reconnected,");
}
static void on_closed(nmc_conn_t *c, void *d) {
  ev.closed++;
  cli = NULL;
  logev("closed,");
}
static void on_ldm(nmc_conn_t *c, void *d) {
  ev.lame_duck++;
}
static void on_disco(nmc_conn_t *c, const char *const *u, int n, void *d) {
  ev.discovered += n;
}
static void on_err(nmc_conn_t *c, int err, const char *text, nmc_sub_t *s,
                   void *d) {
  if (err == NMC_ESLOWCONSUMER)
    ev.slow++;
  else
    ev.errors++;
  ev.last_err = err;
  snprintf(ev.last_text, sizeof(ev.last_text), "%s", text);
  logev("error,");
}

static void base_opts(nmc_opts_t *o, const char **url) {
  static char u[64];
  snprintf(u, sizeof(u), "nats://127.0.0.1:%d", port);
  *url = u;
  nmc_opts_init(o);
  o->servers = url;
  o->num_servers = 1;
  o->reconnect_wait_ms = 20;
  o->reconnect_jitter_ms = 0;
  o->connected_cb = on_connected;
  o->disconnected_cb = on_disc;
  o->reconnected_cb = on_reconn;
  o->closed_cb = on_closed;
  o->lame_duck_cb = on_ldm;
  o->discovered_cb = on_disco;
  o->error_cb = on_err;
}

/* Handshake on scripted connection i: INFO, wait CONNECT+PING, PONG. */
static void handshake(int i) {
  ck_assert(RUN_UNTIL(nconns > i, 2000));
  srv_send(i, kInfo);
  ck_assert(RUN_UNTIL(strstr(fc[i].rx, "PING\r\n"), 2000));
  ck_assert_msg(strncmp(fc[i].rx, "CONNECT {", 9) == 0, "got %s", fc[i].rx);
  srv_send(i, "PONG\r\n");
  fc[i].rxlen = 0;
  fc[i].rx[0] = '\0';
}

static void connect_with(nmc_opts_t *o) {
  ck_assert_int_eq(nmc_connect(&loop, o, &cli), 0);
  handshake(0);
  ck_assert(RUN_UNTIL(ev.connected == 1, 2000));
  ck_assert_int_eq(ev.connect_status, 0);
}

static void connect_default(void) {
  nmc_opts_t o;
  const char *url;
  base_opts(&o, &url);
  connect_with(&o);
}

static void setup(void) {
  struct sockaddr_in sa;
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  memset(&ev, 0, sizeof(ev));
  memset(fc, 0, sizeof(fc));
  nconns = 0;
  cli = NULL;
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  uv_timer_init(&loop, &deadline);
  uv_tcp_init(&loop, &listener);
  uv_ip4_addr("127.0.0.1", 0, &sa);
  ck_assert_int_eq(uv_tcp_bind(&listener, (struct sockaddr *)&sa, 0), 0);
  ck_assert_int_eq(uv_listen((uv_stream_t *)&listener, 16, on_accept), 0);
  uv_tcp_getsockname(&listener, (struct sockaddr *)&ss, &len);
  port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void close_walk(uv_handle_t *h, void *arg) {
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

static void teardown(void) {
  if (cli)
    nmc_close(cli);
  RUN_UNTIL(cli == NULL, 2000);
  uv_walk(&loop, close_walk, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}

/* ---- flush recording ---- */

typedef struct {
  int done, status, order;
} fres_t;
static int fseq;

static void on_flush(nmc_conn_t *c, int status, void *data) {
  fres_t *r = data;
  r->done++;
  r->status = status;
  r->order = ++fseq;
}

/* ---- tests ---- */

START_TEST(test_handshake_one_write) {
  nmc_opts_t o;
  const char *url;
  base_opts(&o, &url);
  o.name = "unit";
  ck_assert_int_eq(nmc_connect(&loop, &o, &cli), 0);
  ck_assert(RUN_UNTIL(nconns == 1, 2000));
  srv_send(0, kInfo);
  ck_assert(RUN_UNTIL(strstr(fc[0].rx, "PING\r\n"), 2000));
  /* CONNECT then PING, nothing else, and no connected callback before
   * the PONG. */
  ck_assert_ptr_nonnull(strstr(fc[0].rx, "\"name\":\"unit\""));
  ck_assert_ptr_nonnull(strstr(fc[0].rx, "\"headers\":true"));
  ck_assert_ptr_nonnull(strstr(fc[0].rx, "\"verbose\":false"));
  ck_assert_int_eq(count_of(fc[0].rx, "\r\n"), 2);
  ck_assert_int_eq(ev.connected, 0);
  srv_send(0, "PONG\r\nINFO {\"connect_urls\":[\"127.0.0.1:1\"]} \r\n");
  ck_assert(RUN_UNTIL(ev.connected == 1, 2000));
  ck_assert_int_eq(ev.connect_status, 0);
  ck_assert_int_eq(nmc_status(cli), NMC_CONNECTED);
  /* the INFO right after the PONG is processed as async INFO */
  ck_assert(RUN_UNTIL(ev.discovered == 1, 2000));
}
END_TEST

START_TEST(test_url_credentials) {
  nmc_opts_t o;
  const char *urls[1];
  char u[96];
  base_opts(&o, urls);
  snprintf(u, sizeof(u), "nats://alice:s3cret@127.0.0.1:%d", port);
  urls[0] = u;
  o.servers = urls;
  ck_assert_int_eq(nmc_connect(&loop, &o, &cli), 0);
  ck_assert(RUN_UNTIL(nconns == 1, 2000));
  srv_send(0, kInfo);
  ck_assert(RUN_UNTIL(strstr(fc[0].rx, "PING\r\n"), 2000));
  ck_assert_ptr_nonnull(
      strstr(fc[0].rx, "\"user\":\"alice\",\"pass\":\"s3cret\""));
  nmc_close(cli);
  ck_assert(RUN_UNTIL(cli == NULL, 2000));
  /* token@ form, and bad URLs are refused up front */
  snprintf(u, sizeof(u), "nats://tok3n@127.0.0.1:%d", port);
  ck_assert_int_eq(nmc_connect(&loop, &o, &cli), 0);
  ck_assert(RUN_UNTIL(nconns == 2, 2000));
  srv_send(1, kInfo);
  ck_assert(RUN_UNTIL(strstr(fc[1].rx, "PING\r\n"), 2000));
  ck_assert_ptr_nonnull(strstr(fc[1].rx, "\"auth_token\":\"tok3n\""));
  nmc_close(cli);
  ck_assert(RUN_UNTIL(cli == NULL, 2000));
  urls[0] = "tls://127.0.0.1:1";
  ck_assert_int_eq(nmc_connect(&loop, &o, &cli), NM_EINVAL);
  urls[0] = "nats://127.0.0.1:99999";
  ck_assert_int_eq(nmc_connect(&loop, &o, &cli), NM_EINVAL);
  cli = NULL;
}
END_TEST

START_TEST(test_handshake_err) {
  nmc_opts_t o;
  const char *url;
  base_opts(&o, &url);
  ck_assert_int_eq(nmc_connect(&loop, &o, &cli), 0);
  ck_assert(RUN_UNTIL(nconns == 1, 2000));
  srv_send(0, kInfo);
  ck_assert(RUN_UNTIL(strstr(fc[0].rx, "PING\r\n"), 2000));
  srv_send(0, "-ERR 'Authorization Violation'\r\n");
  ck_assert(RUN_UNTIL(ev.closed == 1, 2000));
  ck_assert_int_eq(ev.connected, 1);
  ck_assert_int_eq(ev.connect_status, NM_EAUTH);
  ck_assert_str_eq(ev.log, "connfail,closed,");
}
END_TEST

START_TEST(test_handshake_verbose_and_bad_first_reply) {
  nmc_opts_t o;
  const char *url;
  base_opts(&o, &url);
  o.verbose = 1;
  ck_assert_int_eq(nmc_connect(&loop, &o, &cli), 0);
  ck_assert(RUN_UNTIL(nconns == 1, 2000));
  srv_send(0, kInfo);
  ck_assert(RUN_UNTIL(strstr(fc[0].rx, "PING\r\n"), 2000));
  ck_assert_ptr_nonnull(strstr(fc[0].rx, "\"verbose\":true"));
  /* verbose: +OK first, then PONG */
  srv_send(0, "+OK\r\nPING\r\n");
  ck_assert(RUN_UNTIL(ev.connected == 1, 2000));
  ck_assert_int_eq(ev.connect_status, NM_EPROTO);
}
END_TEST

START_TEST(test_handshake_timeout) {
  nmc_opts_t o;
  const char *url;
  base_opts(&o, &url);
  o.timeout_ms = 100;
  ck_assert_int_eq(nmc_connect(&loop, &o, &cli), 0);
  ck_assert(RUN_UNTIL(ev.closed == 1, 3000));
  ck_assert_int_eq(ev.connect_status, NM_ETIMEOUT);
}
END_TEST

/* An embedding program with standard input closed: the client's socket must
 * not take descriptor 0 (a stray read or write of stdin would then go to the
 * server, and libuv aborts when asked to close a descriptor below 3). The
 * scripted server's loop and listener were made by setup, before the close.
 * Check runs each test in a child of its own, so closing stdin here touches
 * nothing else. */
START_TEST(test_stdin_closed) {
  struct stat a, b;
  uv_os_fd_t fd;
  ck_assert_int_eq(close(STDIN_FILENO), 0);
  connect_default();
  ck_assert(fstat(STDIN_FILENO, &a) == 0 && stat("/dev/null", &b) == 0 &&
            S_ISCHR(a.st_mode) && a.st_rdev == b.st_rdev);
  ck_assert_int_eq(uv_fileno((uv_handle_t *)&cli->sock->tcp, &fd), 0);
  ck_assert_int_gt(fd, STDERR_FILENO);
  ck_assert_int_eq(nmc_publish(cli, "foo", NULL, "hi", 2), 0);
  ck_assert(RUN_UNTIL(strstr(fc[0].rx, "PUB foo 2\r\nhi\r\n"), 2000));
  /* teardown closes the connection: libuv aborted there before the client
   * held 0-2. */
}
END_TEST

START_TEST(test_lone_publish_written_without_flush) {
  connect_default();
  ck_assert_int_eq(nmc_publish(cli, "foo", NULL, "hi", 2), 0);
  ck_assert_uint_eq(cli->out.len, 15); /* buffered, not yet written */
  /* One loop iteration, which does not wait for anything, hands it to the
   * socket: no timer, no waiting for more data. */
  uv_run(&loop, UV_RUN_NOWAIT);
  ck_assert_uint_eq(cli->out.len, 0);
  ck_assert(RUN_UNTIL(strstr(fc[0].rx, "PUB foo 2\r\nhi\r\n"), 2000));
}
END_TEST

START_TEST(test_server_ping_answered) {
  connect_default();
  srv_send(0, "PING\r\n");
  ck_assert(RUN_UNTIL(strstr(fc[0].rx, "PONG\r\n"), 2000));
}
END_TEST

START_TEST(test_flush_fifo) {
  fres_t a = {0}, b = {0};
  connect_default();
  ck_assert_int_eq(nmc_publish(cli, "foo", NULL, "x", 1), 0);
  ck_assert_int_eq(nmc_flush(cli, 2000, on_flush, &a), 0);
  ck_assert_int_eq(nmc_flush(cli, 2000, on_flush, &b), 0);
  ck_assert(RUN_UNTIL(count_of(fc[0].rx, "PING\r\n") == 2, 2000));
  /* The PING follows the PUB buffered before it. */
  ck_assert_str_eq(fc[0].rx, "PUB foo 1\r\nx\r\nPING\r\nPING\r\n");
  srv_send(0, "PONG\r\n");
  ck_assert(RUN_UNTIL(a.done, 2000));
  ck_assert_int_eq(a.status, 0);
  ck_assert_int_eq(b.done, 0);
  srv_send(0, "PONG\r\n");
  ck_assert(RUN_UNTIL(b.done, 2000));
  ck_assert_int_eq(b.status, 0);
  ck_assert_int_lt(a.order, b.order);
  ck_assert_int_eq(nmc_flush(cli, 0, on_flush, &a), NM_EINVAL);
}
END_TEST

START_TEST(test_late_pong_does_not_release_next_flush) {
  fres_t a = {0}, b = {0};
  connect_default();
  ck_assert_int_eq(nmc_flush(cli, 50, on_flush, &a), 0);
  ck_assert(RUN_UNTIL(a.done, 2000));
  ck_assert_int_eq(a.status, NM_ETIMEOUT);
  ck_assert_int_eq(nmc_flush(cli, 2000, on_flush, &b), 0);
  ck_assert(RUN_UNTIL(count_of(fc[0].rx, "PING\r\n") == 2, 2000));
  /* The late PONG pops the placeholder, not b. */
  srv_send(0, "PONG\r\n");
  RUN_UNTIL(b.done, 100);
  ck_assert_int_eq(b.done, 0);
  srv_send(0, "PONG\r\n");
  ck_assert(RUN_UNTIL(b.done, 2000));
  ck_assert_int_eq(b.status, 0);
  ck_assert_int_eq(a.done, 1);
  ck_assert_int_eq(ev.disconnected, 0);
}
END_TEST

START_TEST(test_lost_pong_resync) {
  fres_t a = {0}, b = {0}, c = {0};
  connect_default();
  ck_assert_int_eq(nmc_flush(cli, 50, on_flush, &a), 0);
  ck_assert(RUN_UNTIL(a.done, 2000));
  ck_assert_int_eq(a.status, NM_ETIMEOUT);
  ck_assert_int_eq(nmc_flush(cli, 500, on_flush, &b), 0);
  ck_assert(RUN_UNTIL(count_of(fc[0].rx, "PING\r\n") == 2, 2000));
  /* a's PONG was lost; this is b's, and it pops a's placeholder: b must not
   * succeed. When b times out the client knows a PONG was lost and
   * reconnects, so the flushes after it work again. */
  srv_send(0, "PONG\r\n");
  ck_assert(RUN_UNTIL(b.done, 2000));
  ck_assert_int_eq(b.status, NM_ETIMEOUT);
  ck_assert(RUN_UNTIL(ev.disconnected == 1, 2000));
  ck_assert_int_eq(nmc_flush(cli, 2000, on_flush, &c), 0);
  handshake(1);
  ck_assert(RUN_UNTIL(ev.reconnected == 1, 2000));
  /* c's PING was buffered and is replayed; then the reconnect PING */
  ck_assert(RUN_UNTIL(count_of(fc[1].rx, "PING\r\n") == 2, 2000));
  srv_send(1, "PONG\r\n");
  ck_assert(RUN_UNTIL(c.done, 2000));
  ck_assert_int_eq(c.status, 0);
}
END_TEST

START_TEST(test_late_pong_alone_keeps_connection) {
  fres_t a = {0}, b = {0};
  connect_default();
  ck_assert_int_eq(nmc_flush(cli, 50, on_flush, &a), 0);
  ck_assert(RUN_UNTIL(a.done, 2000));
  ck_assert_int_eq(a.status, NM_ETIMEOUT);
  /* nothing else outstanding: this can only be the late PONG */
  srv_send(0, "PONG\r\n");
  RUN_UNTIL(0, 50);
  ck_assert_int_eq(ev.disconnected, 0);
  ck_assert_int_eq(nmc_flush(cli, 2000, on_flush, &b), 0);
  ck_assert(RUN_UNTIL(count_of(fc[0].rx, "PING\r\n") == 2, 2000));
  srv_send(0, "PONG\r\n");
  ck_assert(RUN_UNTIL(b.done, 2000));
  ck_assert_int_eq(b.status, 0);
  ck_assert_int_eq(a.done, 1);
}
END_TEST

START_TEST(test_unsolicited_pong_ignored) {
  fres_t a = {0};
  connect_default();
  srv_send(0, "PONG\r\n"); /* nothing outstanding */
  RUN_UNTIL(0, 50);
  ck_assert_int_eq(nmc_flush(cli, 2000, on_flush, &a), 0);
  ck_assert(RUN_UNTIL(strstr(fc[0].rx, "PING\r\n"), 2000));
  RUN_UNTIL(a.done, 50);
  ck_assert_int_eq(a.done, 0);
  srv_send(0, "PONG\r\n");
  ck_assert(RUN_UNTIL(a.done, 2000));
  ck_assert_int_eq(a.status, 0);
}
END_TEST

START_TEST(test_overdue_pong_reconnects_and_flush_recovers) {
  fres_t a = {0}, b = {0}, c = {0};
  nmc_opts_t o;
  const char *url;
  base_opts(&o, &url);
  o.pong_grace_ms = 100;
  connect_with(&o);
  ck_assert_int_eq(nmc_flush(cli, 50, on_flush, &a), 0);
  ck_assert_int_eq(nmc_flush(cli, 5000, on_flush, &b), 0);
  ck_assert(RUN_UNTIL(a.done, 2000));
  ck_assert_int_eq(a.status, NM_ETIMEOUT);
  /* The PONG never comes: after the grace period the connection is stale;
   * the flush queued behind the lost PING fails promptly. */
  ck_assert(RUN_UNTIL(b.done, 2000));
  ck_assert_int_eq(b.status, NMC_EDISCONNECTED);
  ck_assert_int_eq(ev.disconnected, 1);
  handshake(1);
  ck_assert(RUN_UNTIL(ev.reconnected == 1, 2000));
  ck_assert_int_eq(nmc_flush(cli, 2000, on_flush, &c), 0);
  /* the reconnect PING, then the flush PING */
  ck_assert(RUN_UNTIL(count_of(fc[1].rx, "PING\r\n") == 2, 2000));
  srv_send(1, "PONG\r\nPONG\r\n");
  ck_assert(RUN_UNTIL(c.done, 2000));
  ck_assert_int_eq(c.status, 0);
}
END_TEST

START_TEST(test_flush_fails_on_disconnect) {
  fres_t a = {0};
  nmc_opts_t o;
  const char *url;
  base_opts(&o, &url);
  o.no_reconnect = 1;
  connect_with(&o);
  ck_assert_int_eq(nmc_flush(cli, 5000, on_flush, &a), 0);
  ck_assert(RUN_UNTIL(strstr(fc[0].rx, "PING"), 2000));
  srv_close(0);
  ck_assert(RUN_UNTIL(a.done, 1000));
  ck_assert_int_eq(a.status, NMC_EDISCONNECTED);
  ck_assert(RUN_UNTIL(ev.closed, 1000));
  ck_assert_str_eq(ev.log, "connected,disconnected,closed,");
}
END_TEST

START_TEST(test_flush_fails_on_close) {
  fres_t a = {0};
  connect_default();
  ck_assert_int_eq(nmc_flush(cli, 5000, on_flush, &a), 0);
  nmc_close(cli);
  ck_assert_int_eq(a.done, 1);
  ck_assert_int_eq(a.status, NM_ECLOSED);
  ck_assert(RUN_UNTIL(ev.closed, 1000));
}
END_TEST

START_TEST(test_keepalive_stale) {
  nmc_opts_t o;
  const char *url;
  base_opts(&o, &url);
  o.ping_interval_ms = 30;
  o.max_pings_out = 2;
  o.no_reconnect = 1;
  connect_with(&o);
  /* Two unanswered PINGs, then stale at the third tick. */
  ck_assert(RUN_UNTIL(ev.closed, 2000));
  ck_assert_int_eq(count_of(fc[0].rx, "PING\r\n"), 2);
  ck_assert_str_eq(ev.log, "connected,disconnected,closed,");
}
END_TEST

START_TEST(test_keepalive_pong_resets) {
  nmc_opts_t o;
  const char *url;
  base_opts(&o, &url);
  o.ping_interval_ms = 100; /* three ticks without a PONG would be stale */
  o.max_pings_out = 2;
  connect_with(&o);
  for (int i = 1; i <= 5; i++) {
    ck_assert(RUN_UNTIL(count_of(fc[0].rx, "PING\r\n") == i, 2000));
    srv_send(0, "PONG\r\n");
  }
  ck_assert_int_eq(ev.disconnected, 0);
}
END_TEST

/* Async handler: completes each message after `delay` ms. */
typedef struct {
  nmc_msg_t *held[64];
  int n, seen, drained, drain_status;
  char order[512];
} hstate_t;

static int async_handler(nmc_sub_t *s, nmc_msg_t *m, void *data) {
  hstate_t *h = data;
  h->seen++;
  strncat(h->order, m->data, sizeof(h->order) - strlen(h->order) - 1);
  h->held[h->n++] = m;
  return NMC_ASYNC;
}

static void finish_one(hstate_t *h) {
  nmc_msg_t *m = h->held[0];
  memmove(h->held, h->held + 1, sizeof(h->held[0]) * (size_t)(--h->n));
  nmc_msg_done(m);
}

static void on_sub_drained(nmc_conn_t *c, int status, void *data) {
  hstate_t *h = data;
  h->drained++;
  h->drain_status = status;
  strcat(h->order, "|drained");
}

START_TEST(test_sub_drain_fence) {
  hstate_t h = {0};
  nmc_sub_t *s;
  connect_default();
  ck_assert_int_eq(nmc_subscribe(cli, "foo", NULL, async_handler, &h, &s), 0);
  ck_assert(RUN_UNTIL(strstr(fc[0].rx, "SUB foo 1\r\n"), 2000));
  ck_assert_int_eq(nmc_sub_drain(s, 2000, on_sub_drained, &h), 0);
  ck_assert(RUN_UNTIL(strstr(fc[0].rx, "UNSUB 1\r\nPING\r\n"), 2000));
  /* Two messages before the fence's PONG, one after (it must be dropped). */
  srv_send(0, "MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\nPONG\r\n"
              "MSG foo 1 1\r\nc\r\n");
  ck_assert(RUN_UNTIL(h.seen == 1, 2000));
  RUN_UNTIL(0, 30);
  /* serial delivery: b waits for a's handler */
  ck_assert_int_eq(h.seen, 1);
  ck_assert_int_eq(h.drained, 0);
  finish_one(&h);
  ck_assert(RUN_UNTIL(h.seen == 2, 2000));
  ck_assert_int_eq(h.drained, 0); /* b's handler is not done yet */
  finish_one(&h);
  ck_assert(RUN_UNTIL(h.drained == 1, 2000));
  ck_assert_int_eq(h.drain_status, 0);
  ck_assert_str_eq(h.order, "ab|drained");
}
END_TEST

START_TEST(test_sub_drain_timeout) {
  hstate_t h = {0};
  nmc_sub_t *s;
  connect_default();
  ck_assert_int_eq(nmc_subscribe(cli, "foo", NULL, async_handler, &h, &s), 0);
  ck_assert_int_eq(nmc_sub_drain(s, 80, on_sub_drained, &h), 0);
  ck_assert(RUN_UNTIL(h.drained, 2000));
  ck_assert_int_eq(h.drain_status, NM_ETIMEOUT);
  /* A late PONG for the fence is harmless. */
  srv_send(0, "PONG\r\nMSG foo 1 1\r\nz\r\n");
  RUN_UNTIL(0, 50);
  ck_assert_int_eq(h.seen, 0);
  ck_assert_uint_eq(nmc_unknown_sid_drops(cli), 1);
}
END_TEST

static int done_handler(nmc_sub_t *s, nmc_msg_t *m, void *data) {
  hstate_t *h = data;
  h->seen++;
  strncat(h->order, m->data, sizeof(h->order) - strlen(h->order) - 1);
  return NMC_DONE;
}

static void on_conn_drained(nmc_conn_t *c, int status, void *data) {
  hstate_t *h = data;
  h->drained++;
  h->drain_status = status;
  logev(status ? "drainfail," : "drained,");
}

START_TEST(test_conn_drain_order) {
  hstate_t h = {0}, d = {0};
  nmc_sub_t *s1, *s2;
  connect_default();
  ck_assert_int_eq(nmc_subscribe(cli, "a", NULL, done_handler, &h, &s1), 0);
  ck_assert_int_eq(nmc_subscribe(cli, "b", NULL, done_handler, &h, &s2), 0);
  ck_assert(RUN_UNTIL(strstr(fc[0].rx, "SUB b 2\r\n"), 2000));
  fc[0].rxlen = 0;
  fc[0].rx[0] = 0;
  ck_assert_int_eq(nmc_drain(cli, 2000, on_conn_drained, &d), 0);
  ck_assert_int_eq(nmc_drain(cli, 2000, on_conn_drained, &d), NMC_EDRAINING);
  ck_assert_int_eq(nmc_subscribe(cli, "c", NULL, done_handler, &h, &s1),
                   NMC_EDRAINING);
  /* publishes still work while subscriptions drain */
  ck_assert_int_eq(nmc_publish(cli, "x", NULL, "1", 1), 0);
  ck_assert(RUN_UNTIL(count_of(fc[0].rx, "PING\r\n") == 2, 2000));
  ck_assert_str_eq(fc[0].rx,
                   "UNSUB 1\r\nPING\r\nUNSUB 2\r\nPING\r\nPUB x 1\r\n1\r\n");
  srv_send(0, "MSG a 1 1\r\nA\r\nPONG\r\nMSG b 2 1\r\nB\r\nPONG\r\n");
  /* then the final flush; publishes now refused */
  ck_assert(RUN_UNTIL(count_of(fc[0].rx, "PING\r\n") == 3, 2000));
  ck_assert_int_eq(nmc_publish(cli, "x", NULL, "1", 1), NMC_EDRAINING);
  srv_send(0, "PONG\r\n");
  ck_assert(RUN_UNTIL(ev.closed, 2000));
  ck_assert_str_eq(h.order, "AB");
  ck_assert_int_eq(d.drain_status, 0);
  ck_assert_str_eq(ev.log, "connected,drained,disconnected,closed,");
}
END_TEST

START_TEST(test_conn_drain_timeout) {
  hstate_t h = {0}, d = {0};
  nmc_sub_t *s1;
  connect_default();
  ck_assert_int_eq(nmc_subscribe(cli, "a", NULL, done_handler, &h, &s1), 0);
  ck_assert_int_eq(nmc_drain(cli, 100, on_conn_drained, &d), 0);
  ck_assert(RUN_UNTIL(ev.closed, 2000));
  ck_assert_int_eq(d.drain_status, NM_ETIMEOUT);
  ck_assert_str_eq(ev.log, "connected,error,drainfail,disconnected,closed,");
}
END_TEST

static int noop_handler(nmc_sub_t *s, nmc_msg_t *m, void *data) {
  return NMC_DONE;
}

START_TEST(test_reconnect_replay_order) {
  hstate_t h = {0};
  nmc_sub_t *a, *b;
  fres_t f = {0};
  connect_default();
  ck_assert_int_eq(nmc_subscribe(cli, "a", NULL, done_handler, &h, &a), 0);
  ck_assert_int_eq(nmc_subscribe(cli, "b", "q", done_handler, &h, &b), 0);
  ck_assert_int_eq(nmc_unsubscribe(b, 5), 0);
  ck_assert(RUN_UNTIL(strstr(fc[0].rx, "UNSUB 2 5\r\n"), 2000));
  srv_send(0, "MSG b 2 1\r\n1\r\nMSG b 2 1\r\n2\r\n");
  ck_assert(RUN_UNTIL(h.seen == 2, 2000));
  srv_close(0);
  ck_assert(RUN_UNTIL(ev.disconnected == 1, 2000));
  ck_assert_int_eq(nmc_status(cli), NMC_RECONNECTING);
  ck_assert_int_eq(nmc_publish(cli, "p", NULL, "1", 1), 0);
  ck_assert_int_eq(nmc_flush(cli, 5000, on_flush, &f), 0);
  ck_assert_int_eq(nmc_publish(cli, "p", NULL, "2", 1), 0);
  ck_assert(RUN_UNTIL(nconns == 2, 2000));
  srv_send(1, kInfo);
  ck_assert(RUN_UNTIL(strstr(fc[1].rx, "PING\r\n"), 2000));
  /* Only CONNECT and PING before the handshake PONG. */
  ck_assert_int_eq(count_of(fc[1].rx, "\r\n"), 2);
  ck_assert_ptr_null(strstr(fc[1].rx, "PUB"));
  fc[1].rxlen = 0;
  fc[1].rx[0] = 0;
  srv_send(1, "PONG\r\n");
  ck_assert(RUN_UNTIL(ev.reconnected == 1, 2000));
  ck_assert(RUN_UNTIL(count_of(fc[1].rx, "PING\r\n") == 2, 2000));
  ck_assert_str_eq(fc[1].rx, "SUB a 1\r\nSUB b q 2\r\nUNSUB 2 3\r\n"
                             "PUB p 1\r\n1\r\nPING\r\nPUB p 1\r\n2\r\n"
                             "PING\r\n");
  /* the flush made while disconnected completes with the replayed PING */
  srv_send(1, "PONG\r\n");
  ck_assert(RUN_UNTIL(f.done, 2000));
  ck_assert_int_eq(f.status, 0);
  ck_assert_uint_eq(nmc_reconnects(cli), 1);
}
END_TEST

START_TEST(test_reconnect_buffer_bounded) {
  nmc_opts_t o;
  const char *url;
  char big[100];
  base_opts(&o, &url);
  o.reconnect_buf_size = 250;
  o.reconnect_wait_ms = 10000;
  connect_with(&o);
  srv_close(0);
  ck_assert(RUN_UNTIL(ev.disconnected == 1, 2000));
  memset(big, 'x', sizeof(big));
  ck_assert_int_eq(nmc_publish(cli, "p", NULL, big, 100), 0);
  ck_assert_int_eq(nmc_publish(cli, "p", NULL, big, 100), 0);
  ck_assert_int_eq(nmc_publish(cli, "p", NULL, big, 100), NMC_EBUFFULL);
  ck_assert_int_eq(nmc_publish(cli, "p", NULL, big, 10), 0);
}
END_TEST

START_TEST(test_slow_consumer_and_unknown_sid) {
  hstate_t h = {0};
  nmc_sub_t *s;
  connect_default();
  ck_assert_int_eq(nmc_subscribe(cli, "foo", NULL, async_handler, &h, &s), 0);
  nmc_sub_set_pending_limits(s, 2, 0);
  ck_assert(RUN_UNTIL(strstr(fc[0].rx, "SUB foo 1\r\n"), 2000));
  srv_send(0, "MSG foo 1 1\r\n1\r\nMSG foo 1 1\r\n2\r\nMSG foo 1 1\r\n3\r\n"
              "MSG foo 1 1\r\n4\r\nMSG foo 1 1\r\n5\r\nMSG foo 9 1\r\nz\r\n"
              "PING\r\n");
  ck_assert(RUN_UNTIL(strstr(fc[0].rx, "PONG\r\n"), 2000));
  /* 1 in the handler, 2 and 3 queued, 4 and 5 dropped */
  ck_assert_int_eq(ev.slow, 2);
  ck_assert_uint_eq(nmc_sub_dropped(s), 2);
  ck_assert_uint_eq(nmc_unknown_sid_drops(cli), 1);
  while (h.n)
    finish_one(&h);
  ck_assert(RUN_UNTIL(h.seen == 3, 2000));
  while (h.n)
    finish_one(&h);
  ck_assert_str_eq(h.order, "123");
}
END_TEST

START_TEST(test_auto_unsubscribe) {
  hstate_t h = {0};
  nmc_sub_t *s;
  connect_default();
  ck_assert_int_eq(nmc_subscribe(cli, "foo", NULL, done_handler, &h, &s), 0);
  ck_assert_int_eq(nmc_unsubscribe(s, 2), 0);
  ck_assert(RUN_UNTIL(strstr(fc[0].rx, "UNSUB 1 2\r\n"), 2000));
  srv_send(0, "MSG foo 1 1\r\n1\r\nMSG foo 1 1\r\n2\r\nMSG foo 1 1\r\n3\r\n");
  ck_assert(RUN_UNTIL(h.seen == 2, 2000));
  RUN_UNTIL(0, 30);
  ck_assert_str_eq(h.order, "12");
  ck_assert_int_eq(nmc_subscribe(cli, "bar", NULL, noop_handler, NULL, &s), 0);
  ck_assert(RUN_UNTIL(strstr(fc[0].rx, "SUB bar 2\r\n"), 2000));
}
END_TEST

START_TEST(test_async_info_and_errors) {
  connect_default();
  srv_send(0, "INFO {\"max_payload\":10,\"headers\":true,\"ldm\":true,"
              "\"connect_urls\":[\"127.0.0.1:1\",\"127.0.0.1:2\"]} \r\n");
  ck_assert(RUN_UNTIL(ev.lame_duck == 1, 2000));
  ck_assert_int_eq(ev.discovered, 2);
  ck_assert_int_eq(nmc_max_payload(cli), 10);
  ck_assert_int_eq(nmc_publish(cli, "foo", NULL, "01234567890", 11),
                   NMC_EMAXPAYLOAD);
  ck_assert_int_eq(nmc_publish(cli, "foo", NULL, "0123456789", 10), 0);
  ck_assert_int_eq(nmc_publish(cli, "foo bar", NULL, "x", 1), NMC_EBADSUBJECT);
  ck_assert_int_eq(nmc_publish(cli, "", NULL, "x", 1), NMC_EBADSUBJECT);
  /* a permissions error leaves the connection up */
  srv_send(0, "-ERR 'Permissions Violation for Publish to \"foo\"'\r\n");
  ck_assert(RUN_UNTIL(ev.errors == 1, 2000));
  ck_assert_str_eq(ev.last_text,
                   "Permissions Violation for Publish to \"foo\"");
  ck_assert_int_eq(nmc_status(cli), NMC_CONNECTED);
  /* a stale-connection error makes it reconnect */
  srv_send(0, "-ERR 'Stale Connection'\r\n");
  ck_assert(RUN_UNTIL(ev.disconnected == 1, 2000));
  ck_assert_int_eq(ev.last_err, NMC_ESTALE);
  handshake(1);
  ck_assert(RUN_UNTIL(ev.reconnected == 1, 2000));
  /* any other error closes for good, without reconnecting */
  srv_send(1, "-ERR 'Any Error'\r\n");
  ck_assert(RUN_UNTIL(ev.closed == 1, 2000));
  ck_assert_int_eq(ev.reconnected, 1);
  ck_assert_int_eq(nconns, 2);
}
END_TEST

static void on_req(nmc_conn_t *c, int status, nmc_msg_t *m, void *data) {
  fres_t *r = data;
  r->done++;
  r->status = status;
}

START_TEST(test_request_no_responders) {
  fres_t r = {0};
  char sid[8], inbox[128], msg[256];
  const char *p;
  connect_default();
  ck_assert_int_eq(nmc_request(cli, "svc", NULL, 0, "q", 1, 2000, on_req, &r),
                   0);
  ck_assert(RUN_UNTIL(strstr(fc[0].rx, "PUB svc"), 2000));
  /* SUB _INBOX.x.* 1 then PUB svc _INBOX.x.1 1 */
  p = strstr(fc[0].rx, "PUB svc ");
  ck_assert_int_eq(sscanf(p, "PUB svc %127s", inbox), 1);
  ck_assert_int_eq(sscanf(strstr(fc[0].rx, "SUB "), "SUB %*s %7s", sid), 1);
  snprintf(msg, sizeof(msg), "HMSG %s %s 16 16\r\nNATS/1.0 503\r\n\r\n\r\n",
           inbox, sid);
  srv_send(0, msg);
  ck_assert(RUN_UNTIL(r.done, 2000));
  ck_assert_int_eq(r.status, NMC_ENORESPONDERS);
}
END_TEST

START_TEST(test_conn_drain_waits_for_requests) {
  fres_t r = {0};
  hstate_t d = {0};
  char sid[8], inbox[128], msg[256];
  connect_default();
  ck_assert_int_eq(nmc_request(cli, "svc", NULL, 0, "q", 1, 2000, on_req, &r),
                   0);
  ck_assert(RUN_UNTIL(strstr(fc[0].rx, "PUB svc"), 2000));
  ck_assert_int_eq(sscanf(strstr(fc[0].rx, "PUB svc "), "PUB svc %127s", inbox),
                   1);
  ck_assert_int_eq(sscanf(strstr(fc[0].rx, "SUB "), "SUB %*s %7s", sid), 1);
  fc[0].rxlen = 0;
  fc[0].rx[0] = 0;
  ck_assert_int_eq(nmc_drain(cli, 2000, on_conn_drained, &d), 0);
  /* the inbox is not drained while its request is in flight */
  RUN_UNTIL(0, 50);
  ck_assert_ptr_null(strstr(fc[0].rx, "UNSUB"));
  snprintf(msg, sizeof(msg), "MSG %s %s 4\r\npong\r\n", inbox, sid);
  srv_send(0, msg);
  ck_assert(RUN_UNTIL(r.done, 2000));
  ck_assert_int_eq(r.status, 0);
  ck_assert(RUN_UNTIL(strstr(fc[0].rx, "PING\r\n"), 2000));
  ck_assert_ptr_nonnull(strstr(fc[0].rx, "UNSUB"));
  srv_send(0, "PONG\r\n");
  ck_assert(RUN_UNTIL(count_of(fc[0].rx, "PING\r\n") == 2, 2000));
  srv_send(0, "PONG\r\n");
  ck_assert(RUN_UNTIL(ev.closed, 2000));
  ck_assert_int_eq(d.drain_status, 0);
}
END_TEST

/* The server stops reading while the client publishes 800 KB, so writes
 * end part-way through frames; then it drops the connection. What the
 * client replays to the next server must be whole frames, in order, ending
 * with the last publish. */
START_TEST(test_no_partial_frame_after_reconnect) {
  char pay[1000];
  const char *p, *end;
  unsigned long prev = 0, k, count = 0;
  int small = 4096;
  uv_os_fd_t fd;
  /* a small receive window, inherited by the accepted socket */
  ck_assert_int_eq(uv_fileno((uv_handle_t *)&listener, &fd), 0);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  connect_default();
  /* and a small send buffer on the client's socket (no autotuning) */
  ck_assert_int_eq(uv_send_buffer_size((uv_handle_t *)&cli->sock->tcp, &small),
                   0);
  uv_read_stop((uv_stream_t *)&fc[0].tcp);
  for (unsigned long i = 1; i <= 2000; i++) {
    nm_seq_payload(i, sizeof(pay), pay, sizeof(pay));
    ck_assert_int_eq(nmc_publish(cli, "p", NULL, pay, sizeof(pay)), 0);
    if (i % 20 == 0)
      uv_run(&loop, UV_RUN_NOWAIT);
  }
  srv_close(0);
  ck_assert(RUN_UNTIL(ev.disconnected == 1, 2000));
  handshake(1);
  ck_assert(RUN_UNTIL(ev.reconnected == 1, 2000));
  ck_assert(RUN_UNTIL(fc[1].rxlen >= 6 &&
                          strcmp(fc[1].rx + fc[1].rxlen - 6, "PING\r\n") == 0,
                      5000));
  p = fc[1].rx;
  end = fc[1].rx + fc[1].rxlen;
  while (end - p > 12 && strncmp(p, "PUB p 1000\r\n", 12) == 0) {
    ck_assert_msg(end - p >= 12 + 1002 && p[12 + 1000] == '\r' &&
                      p[12 + 1001] == '\n',
                  "frame %lu cut", count);
    k = strtoul(p + 12, NULL, 10);
    ck_assert_msg(prev == 0 || k == prev + 1, "%lu after %lu", k, prev);
    prev = k;
    count++;
    p += 12 + 1002;
  }
  ck_assert_str_eq(p, "PING\r\n");
  ck_assert_uint_gt(count, 0);
  ck_assert_uint_eq(prev, 2000);
}
END_TEST

/* With the server gone, each attempt waits reconnect_wait after the last;
 * after max_reconnect attempts the client gives up and closes. */
START_TEST(test_reconnect_backoff_and_give_up) {
  nmc_opts_t o;
  const char *url;
  uint64_t t0;
  base_opts(&o, &url);
  o.reconnect_wait_ms = 60;
  o.reconnect_jitter_ms = 20;
  o.max_reconnect = 3;
  connect_with(&o);
  uv_close((uv_handle_t *)&listener, NULL); /* refuse from now on */
  srv_close(0);
  ck_assert(RUN_UNTIL(ev.disconnected == 1, 2000));
  t0 = uv_now(&loop);
  ck_assert(RUN_UNTIL(ev.closed == 1, 5000));
  /* 3 attempts: the first at once (last attempt long ago), then two waits */
  ck_assert_uint_ge(uv_now(&loop) - t0, 2 * 60);
  ck_assert_uint_le(uv_now(&loop) - t0, 2 * (60 + 20) + 1000);
  ck_assert_int_eq(ev.reconnected, 0);
  ck_assert_str_eq(ev.log, "connected,disconnected,closed,");
}
END_TEST

START_TEST(test_close_is_once_and_last) {
  connect_default();
  nmc_close(cli);
  ck_assert(RUN_UNTIL(ev.closed, 2000));
  ck_assert_str_eq(ev.log, "connected,disconnected,closed,");
}
END_TEST

/* Frame boundaries in the outbound buffer, and a half-sent frame at its
 * front left out of the replay. */
START_TEST(test_out_boundaries_and_cut) {
  static const char in[] = "PUB a 1\r\nx\r\nPUB b 2\r\nyy\r\nPING\r\n";
  nmc_conn_t *c = calloc(1, sizeof(*c));
  nm_buf_init(&c->out, 0);
  nm_buf_append(&c->out, in, sizeof(in) - 1);
  ck_assert_uint_eq(nmc__out_boundary(c, 1), 12);
  ck_assert_uint_eq(nmc__out_boundary(c, 12), 12);
  ck_assert_uint_eq(nmc__out_boundary(c, 13), 25);
  ck_assert_uint_eq(nmc__out_boundary(c, 26), 31);
  /* after 5 bytes went out, the front 7 bytes are the rest of frame 1 */
  nm_buf_consume(&c->out, 5);
  c->out_cut = 7;
  ck_assert_uint_eq(nmc__out_boundary(c, 3), 7);
  ck_assert_uint_eq(nmc__out_boundary(c, 8), 20);
  nmc__out_keep_pubs(c);
  ck_assert_uint_eq(c->out.len, 13);
  ck_assert(memcmp(c->out.base, "PUB b 2\r\nyy\r\n", 13) == 0);
  ck_assert_uint_eq(c->out_cut, 0);
  /* the same with the 5 sent bytes skipped in place (out_sent) */
  nm_buf_clear(&c->out);
  nm_buf_append(&c->out, in, sizeof(in) - 1);
  c->out_sent = 5;
  c->out_cut = 7;
  ck_assert_uint_eq(nmc__out_boundary(c, 3), 7);
  ck_assert_uint_eq(nmc__out_boundary(c, 8), 20);
  nmc__out_keep_pubs(c);
  ck_assert_uint_eq(c->out.len, 13);
  ck_assert(memcmp(c->out.base, "PUB b 2\r\nyy\r\n", 13) == 0);
  ck_assert_uint_eq(c->out_sent, 0);
  nm_buf_free(&c->out);
  if (c->scan_on)
    nm_parser_free(&c->scan);
  free(c);
}
END_TEST

/* At a disconnect the unwritten buffer keeps whole PUB/HPUB frames only. */
START_TEST(test_keep_pubs_whole_frames) {
  static const char in[] = "PUB a 1\r\nx\r\nSUB b  1\r\nPING\r\n"
                           "HPUB h 12 14\r\nNATS/1.0\r\n\r\nhi\r\nUNSUB 1 \r\n"
                           "PONG\r\nPUB c r 0\r\n\r\n";
  nmc_conn_t *c = calloc(1, sizeof(*c));
  nm_buf_init(&c->out, 0);
  nm_buf_append(&c->out, in, sizeof(in) - 1);
  nmc__out_keep_pubs(c);
  ck_assert_int_eq(c->out.len, 55);
  ck_assert(memcmp(c->out.base,
                   "PUB a 1\r\nx\r\nHPUB h 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
                   "PUB c r 0\r\n\r\n",
                   c->out.len) == 0);
  nm_buf_free(&c->out);
  free(c);
}
END_TEST

static Suite *client_unit_suite(void) {
  Suite *s = suite_create("client_unit");
  TCase *tc = tcase_create("scripted");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 20);
  tcase_add_test(tc, test_handshake_one_write);
  tcase_add_test(tc, test_handshake_err);
  tcase_add_test(tc, test_url_credentials);
  tcase_add_test(tc, test_handshake_verbose_and_bad_first_reply);
  tcase_add_test(tc, test_handshake_timeout);
  tcase_add_test(tc, test_stdin_closed);
  tcase_add_test(tc, test_lone_publish_written_without_flush);
  tcase_add_test(tc, test_server_ping_answered);
  tcase_add_test(tc, test_flush_fifo);
  tcase_add_test(tc, test_late_pong_does_not_release_next_flush);
  tcase_add_test(tc, test_late_pong_alone_keeps_connection);
  tcase_add_test(tc, test_lost_pong_resync);
  tcase_add_test(tc, test_unsolicited_pong_ignored);
  tcase_add_test(tc, test_overdue_pong_reconnects_and_flush_recovers);
  tcase_add_test(tc, test_flush_fails_on_disconnect);
  tcase_add_test(tc, test_flush_fails_on_close);
  tcase_add_test(tc, test_keepalive_stale);
  tcase_add_test(tc, test_keepalive_pong_resets);
  tcase_add_test(tc, test_sub_drain_fence);
  tcase_add_test(tc, test_sub_drain_timeout);
  tcase_add_test(tc, test_conn_drain_order);
  tcase_add_test(tc, test_conn_drain_timeout);
  tcase_add_test(tc, test_reconnect_replay_order);
  tcase_add_test(tc, test_reconnect_buffer_bounded);
  tcase_add_test(tc, test_slow_consumer_and_unknown_sid);
  tcase_add_test(tc, test_auto_unsubscribe);
  tcase_add_test(tc, test_async_info_and_errors);
  tcase_add_test(tc, test_request_no_responders);
  tcase_add_test(tc, test_close_is_once_and_last);
  tcase_add_test(tc, test_reconnect_backoff_and_give_up);
  tcase_add_test(tc, test_no_partial_frame_after_reconnect);
  tcase_add_test(tc, test_conn_drain_waits_for_requests);
  tcase_add_test(tc, test_keep_pubs_whole_frames);
  tcase_add_test(tc, test_out_boundaries_and_cut);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN); /* libuv leaves it to the program */
  return nm_test_run_suite(client_unit_suite(), CK_NORMAL);
}
