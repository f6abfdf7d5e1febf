/* Integration tests of the nmc client, each run twice: against natsmock
 * (nm_server_start_thread) and against nats-server 2.9.10. 100,000
 * sequenced messages in order, flush, request/reply and no responders, queue
 * groups, sub drain with a slow handler, connection drain, and a server
 * restart under the client (reconnect, resubscribe, buffered delivery in
 * order). */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "natsmock.h"
#include "nm_client.h"
#include "nm_seq.h"
#include "nm_test_check.h"
#include "nm_test_util.h"
#include "test_client_util.h"

enum { T_MOCK = 0, T_NATS = 1 };

typedef struct {
  int kind;
  int port;
  nm_server_t *mock;
  nm_natsserver_t ns;
} target_t;

static target_t tgt;
static nmc_conn_t *cli;
static char url[64];
static int connected, disconnected, reconnected, closed;
static char log_[256];

/* port 0: ephemeral; else that port (a restart). */
static int target_start(target_t *t, int kind, int port) {
  t->kind = kind;
  if (kind == T_MOCK) {
    nm_server_opts_t o;
    nm_server_opts_init(&o);
    o.port = port;
    if (nm_server_start_thread(&o, &t->mock) != 0)
      return -1;
    t->port = nm_server_port(t->mock);
    return 0;
  }
  if (port == 0)
    return nm_natsserver_start(&t->ns, NULL, NULL) == 0
               ? (t->port = t->ns.port, 0)
               : -1;
  {
    /* The helper always passes "-p -1"; a later "-p N" wins. */
    char p[16];
    const char *args[] = {"-p", p, NULL};
    snprintf(p, sizeof(p), "%d", port);
    if (nm_natsserver_start(&t->ns, NULL, args) != 0)
      return -1;
    t->port = t->ns.port;
    return 0;
  }
}

static void target_stop(target_t *t) {
  if (t->kind == T_MOCK && t->mock) {
    nm_server_stop_thread(t->mock);
    t->mock = NULL;
  } else if (t->kind == T_NATS) {
    nm_natsserver_stop(&t->ns);
  }
}

static void on_connected(nmc_conn_t *c, int status, void *d) {
  connected = status == 0 ? 1 : -1;
}
static void on_disc(nmc_conn_t *c, void *d) {
  disconnected++;
  strcat(log_, "disconnected,");
}
static void on_reconn(nmc_conn_t *c, void *d) {
  reconnected++;
}
static void on_closed(nmc_conn_t *c, void *d) {
  closed++;
  cli = NULL;
  strcat(log_, "closed,");
}

static void client_connect(void) {
  nmc_opts_t o;
  const char *urls[1] = {url};
  nmc_opts_init(&o);
  o.servers = urls;
  o.num_servers = 1;
  o.reconnect_wait_ms = 50;
  o.reconnect_jitter_ms = 10;
  o.max_reconnect = -1;
  o.connected_cb = on_connected;
  o.disconnected_cb = on_disc;
  o.reconnected_cb = on_reconn;
  o.closed_cb = on_closed;
  ck_assert_int_eq(nmc_connect(&loop, &o, &cli), 0);
  ck_assert(RUN_UNTIL(connected != 0, 5000));
  ck_assert_int_eq(connected, 1);
}

static void setup_target(int kind) {
  connected = disconnected = reconnected = closed = 0;
  log_[0] = '\0';
  cli = NULL;
  if (kind == T_NATS && !nm_natsserver_available())
    ck_abort_msg("nats-server is not installed");
  ck_assert_int_eq(uv_loop_init(&loop), 0);
  uv_timer_init(&loop, &deadline);
  ck_assert_int_eq(target_start(&tgt, kind, 0), 0);
  snprintf(url, sizeof(url), "nats://127.0.0.1:%d", tgt.port);
  client_connect();
}

static void close_walk(uv_handle_t *h, void *arg) {
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

static void finish(void) {
  if (cli)
    nmc_close(cli);
  ck_assert(RUN_UNTIL(cli == NULL, 5000));
  uv_walk(&loop, close_walk, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  target_stop(&tgt);
}

/* ---- handlers ---- */

typedef struct {
  uint64_t n, next, bad;
  uint64_t after_done; /* messages seen after a drain completed */
  int drained, drain_status;
  /* slow handler: messages held for delay_ms */
  uint64_t delay_ms;
  int outstanding;
  uint64_t handled;
} seq_state_t;

static int seq_handler(nmc_sub_t *s, nmc_msg_t *m, void *data) {
  seq_state_t *st = data;
  uint64_t k;
  if (st->drained)
    st->after_done++;
  if (!nm_seq_read(m->data, m->len, &k) || k != st->next + 1)
    st->bad++;
  st->next = k;
  st->n++;
  st->handled++;
  return NMC_DONE;
}

typedef struct {
  uv_timer_t t;
  nmc_msg_t *m;
  seq_state_t *st;
} slow_t;

static void slow_closed(uv_handle_t *h) {
  free(h->data);
}

static void slow_fire(uv_timer_t *t) {
  slow_t *w = t->data;
  w->st->handled++;
  w->st->outstanding--;
  nmc_msg_done(w->m);
  uv_close((uv_handle_t *)t, slow_closed);
}

static int slow_handler(nmc_sub_t *s, nmc_msg_t *m, void *data) {
  seq_state_t *st = data;
  slow_t *w = calloc(1, sizeof(*w));
  uint64_t k;
  if (st->drained)
    st->after_done++;
  if (!nm_seq_read(m->data, m->len, &k) || k != st->next + 1)
    st->bad++;
  st->next = k;
  st->n++;
  st->outstanding++;
  w->m = m;
  w->st = st;
  uv_timer_init(&loop, &w->t);
  w->t.data = w;
  uv_timer_start(&w->t, slow_fire, st->delay_ms, 0);
  return NMC_ASYNC;
}

static void on_drained(nmc_conn_t *c, int status, void *data) {
  seq_state_t *st = data;
  st->drained++;
  st->drain_status = status;
  /* every message received before the fence is handled by now */
  ck_assert_int_eq(st->outstanding, 0);
  strcat(log_, "drained,");
}

typedef struct {
  int done, status;
} fres_t;

static void on_flush(nmc_conn_t *c, int status, void *data) {
  fres_t *r = data;
  r->done++;
  r->status = status;
}

static void publish_seq(const char *subj, uint64_t from, uint64_t to) {
  char buf[32];
  for (uint64_t k = from; k <= to; k++) {
    size_t n = nm_seq_payload(k, 0, buf, sizeof(buf));
    ck_assert_int_eq(nmc_publish(cli, subj, NULL, buf, n), 0);
  }
}

/* ---- tests (loop index: 0 natsmock, 1 nats-server) ---- */

START_TEST(test_100k_in_order) {
  seq_state_t st = {0};
  nmc_sub_t *s;
  fres_t f = {0};
  setup_target(_i);
  ck_assert_int_eq(nmc_subscribe(cli, "seq", NULL, seq_handler, &st, &s), 0);
  ck_assert_int_eq(nmc_flush(cli, 5000, on_flush, &f), 0);
  ck_assert(RUN_UNTIL(f.done, 5000));
  publish_seq("seq", 1, 100000);
  ck_assert_int_eq(nmc_flush(cli, 30000, on_flush, &f), 0);
  ck_assert(RUN_UNTIL(f.done == 2, 60000));
  ck_assert_int_eq(f.status, 0);
  ck_assert(RUN_UNTIL(st.n == 100000, 60000));
  ck_assert_uint_eq(st.bad, 0);
  ck_assert_uint_eq(nmc_sub_dropped(s), 0);
  finish();
}
END_TEST

START_TEST(test_flush) {
  fres_t f[10] = {{0}};
  setup_target(_i);
  for (int i = 0; i < 10; i++) {
    ck_assert_int_eq(nmc_publish(cli, "x", NULL, "y", 1), 0);
    ck_assert_int_eq(nmc_flush(cli, 5000, on_flush, &f[i]), 0);
  }
  ck_assert(RUN_UNTIL(f[9].done, 5000));
  for (int i = 0; i < 10; i++) {
    ck_assert_int_eq(f[i].done, 1);
    ck_assert_int_eq(f[i].status, 0);
  }
  finish();
}
END_TEST

static int echo_handler(nmc_sub_t *s, nmc_msg_t *m, void *data) {
  char out[300];
  int n = snprintf(out, sizeof(out), "re:%.*s", (int)m->len, m->data);
  if (m->reply)
    nmc_publish(cli, m->reply, NULL, out, (size_t)n);
  return NMC_DONE;
}

typedef struct {
  int done, status;
  char data[300];
} rres_t;

static void on_reply(nmc_conn_t *c, int status, nmc_msg_t *m, void *data) {
  rres_t *r = data;
  r->done++;
  r->status = status;
  if (m)
    snprintf(r->data, sizeof(r->data), "%.*s", (int)m->len, m->data);
}

START_TEST(test_request_reply) {
  nmc_sub_t *s;
  rres_t r1 = {0}, r2 = {0}, r3 = {0};
  fres_t f = {0};
  setup_target(_i);
  ck_assert_int_eq(nmc_subscribe(cli, "svc", NULL, echo_handler, NULL, &s), 0);
  ck_assert_int_eq(nmc_flush(cli, 5000, on_flush, &f), 0);
  ck_assert(RUN_UNTIL(f.done, 5000));
  ck_assert_int_eq(
      nmc_request(cli, "svc", NULL, 0, "one", 3, 5000, on_reply, &r1), 0);
  ck_assert_int_eq(
      nmc_request(cli, "svc", NULL, 0, "two", 3, 5000, on_reply, &r2), 0);
  ck_assert_int_eq(
      nmc_request(cli, "nobody", NULL, 0, "x", 1, 5000, on_reply, &r3), 0);
  ck_assert(RUN_UNTIL(r1.done && r2.done && r3.done, 5000));
  ck_assert_int_eq(r1.status, 0);
  ck_assert_str_eq(r1.data, "re:one");
  ck_assert_str_eq(r2.data, "re:two");
  ck_assert_int_eq(r3.status, NMC_ENORESPONDERS);
  finish();
}
END_TEST

static int count_handler(nmc_sub_t *s, nmc_msg_t *m, void *data) {
  (*(int *)data)++;
  return NMC_DONE;
}

START_TEST(test_queue_groups) {
  nmc_sub_t *a, *b, *p;
  int na = 0, nb = 0, np = 0;
  fres_t f = {0};
  setup_target(_i);
  ck_assert_int_eq(nmc_subscribe(cli, "qq", "g", count_handler, &na, &a), 0);
  ck_assert_int_eq(nmc_subscribe(cli, "qq", "g", count_handler, &nb, &b), 0);
  ck_assert_int_eq(nmc_subscribe(cli, "qq", NULL, count_handler, &np, &p), 0);
  ck_assert_int_eq(nmc_flush(cli, 5000, on_flush, &f), 0);
  ck_assert(RUN_UNTIL(f.done, 5000));
  publish_seq("qq", 1, 200);
  ck_assert(RUN_UNTIL(na + nb == 200 && np == 200, 10000));
  /* each member got some: the server picks at random */
  ck_assert_int_gt(na, 0);
  ck_assert_int_gt(nb, 0);
  finish();
}
END_TEST

START_TEST(test_sub_drain_slow_handler) {
  seq_state_t st = {0};
  nmc_sub_t *s;
  fres_t f = {0};
  setup_target(_i);
  st.delay_ms = 5;
  ck_assert_int_eq(nmc_subscribe(cli, "w", NULL, slow_handler, &st, &s), 0);
  ck_assert_int_eq(nmc_flush(cli, 5000, on_flush, &f), 0);
  ck_assert(RUN_UNTIL(f.done, 5000));
  /* The PUBs precede the UNSUB on the wire, so all 20 reach us before the
   * fence's PONG and must be handled before the drain completes. */
  publish_seq("w", 1, 20);
  ck_assert_int_eq(nmc_sub_drain(s, 5000, on_drained, &st), 0);
  ck_assert(RUN_UNTIL(st.drained, 10000));
  ck_assert_int_eq(st.drain_status, 0);
  ck_assert_uint_eq(st.n, 20);
  ck_assert_uint_eq(st.handled, 20);
  ck_assert_uint_eq(st.bad, 0);
  /* nothing after completion */
  publish_seq("w", 21, 25);
  ck_assert_int_eq(nmc_flush(cli, 5000, on_flush, &f), 0);
  ck_assert(RUN_UNTIL(f.done == 2, 5000));
  ck_assert_uint_eq(st.after_done, 0);
  finish();
}
END_TEST

START_TEST(test_conn_drain) {
  seq_state_t st = {0};
  nmc_sub_t *s;
  fres_t f = {0};
  setup_target(_i);
  st.delay_ms = 3;
  ck_assert_int_eq(nmc_subscribe(cli, "cd", NULL, slow_handler, &st, &s), 0);
  ck_assert_int_eq(nmc_flush(cli, 5000, on_flush, &f), 0);
  ck_assert(RUN_UNTIL(f.done, 5000));
  publish_seq("cd", 1, 10);
  ck_assert_int_eq(nmc_drain(cli, 5000, on_drained, &st), 0);
  ck_assert_int_eq(nmc_publish(cli, "cd", NULL, "11", 2), 0);
  ck_assert(RUN_UNTIL(closed, 10000));
  ck_assert_int_eq(st.drain_status, 0);
  ck_assert_uint_eq(st.handled, st.n);
  ck_assert_uint_ge(st.n, 10);
  ck_assert_str_eq(log_, "drained,disconnected,closed,");
  finish();
}
END_TEST

START_TEST(test_restart_under_client) {
  seq_state_t st = {0};
  nmc_sub_t *s;
  fres_t f = {0};
  int port;
  setup_target(_i);
  port = tgt.port;
  ck_assert_int_eq(nmc_subscribe(cli, "r", NULL, seq_handler, &st, &s), 0);
  publish_seq("r", 1, 5);
  ck_assert_int_eq(nmc_flush(cli, 5000, on_flush, &f), 0);
  ck_assert(RUN_UNTIL(st.n == 5, 5000));
  target_stop(&tgt);
  ck_assert(RUN_UNTIL(disconnected == 1, 5000));
  /* buffered while disconnected, replayed after the SUB */
  publish_seq("r", 6, 10);
  ck_assert_int_eq(target_start(&tgt, _i, port), 0);
  ck_assert_int_eq(tgt.port, port);
  ck_assert(RUN_UNTIL(reconnected == 1, 10000));
  ck_assert(RUN_UNTIL(st.n == 10, 5000));
  ck_assert_uint_eq(st.bad, 0);
  ck_assert_uint_eq(nmc_reconnects(cli), 1);
  finish();
}
END_TEST

static Suite *client_integ_suite(void) {
  Suite *s = suite_create("client_integ");
  TCase *tc = tcase_create("mock_and_natsserver");
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, test_100k_in_order, 0, 2);
  tcase_add_loop_test(tc, test_flush, 0, 2);
  tcase_add_loop_test(tc, test_request_reply, 0, 2);
  tcase_add_loop_test(tc, test_queue_groups, 0, 2);
  tcase_add_loop_test(tc, test_sub_drain_slow_handler, 0, 2);
  tcase_add_loop_test(tc, test_conn_drain, 0, 2);
  tcase_add_loop_test(tc, test_restart_under_client, 0, 2);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN); /* libuv leaves it to the program */
  return nm_test_run_suite(client_integ_suite(), CK_NORMAL);
}
