/* The fault engine alone, in front of a fake host: this program links
 * nm_faults and nm_proto only, so it also proves the engine needs nothing
 * from the mock server. The fake host records every operation the engine
 * calls; frames are hand-made (the engine only reads op, subject, sid and
 * the wire bytes). */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "nm_encode.h"
#include "nm_faults.h"
#include "nm_test_check.h"

#define T_CONNS 3

typedef struct {
  uint64_t id;
  int open, reading, blackhole;
} t_conn_t;

typedef struct {
  t_conn_t conns[T_CONNS];
  char log[8192]; /* "op(conn,arg) " per call, in order */
  size_t len;
  int refuse;
  uint64_t restart_ms;
} t_host_t;

static void t_log(t_host_t *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void t_log(t_host_t *h, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (h->len < sizeof(h->log) - 200)
    h->len +=
        (size_t)vsnprintf(h->log + h->len, sizeof(h->log) - h->len, fmt, ap);
  va_end(ap);
}

static uint64_t o_conn_id(void *host, const nm_hconn_t *c) {
  return ((const t_conn_t *)c)->id;
}
static nm_hconn_t *o_find(void *host, uint64_t id) {
  t_host_t *h = host;
  for (int i = 0; i < T_CONNS; i++)
    if (h->conns[i].id == id && h->conns[i].open)
      return (nm_hconn_t *)&h->conns[i];
  return NULL;
}
static void o_each(void *host, void (*fn)(nm_hconn_t *, void *), void *data) {
  t_host_t *h = host;
  for (int i = 0; i < T_CONNS; i++)
    if (h->conns[i].open)
      fn((nm_hconn_t *)&h->conns[i], data);
}
static int o_write(void *host, nm_hconn_t *c, const char *p, size_t n, int now,
                   const nm_frame_t *f, const char *rule, const char *action) {
  t_log(host, "write(%llu,%.*s,%s) ", (unsigned long long)((t_conn_t *)c)->id,
        (int)(n > 2 ? n - 2 : n), p, action ? action : "-");
  return 0;
}
static void o_close(void *host, nm_hconn_t *c, nm_close_how_t how,
                    const char *reason) {
  ((t_conn_t *)c)->open = 0;
  t_log(host, "close(%llu,%d) ", (unsigned long long)((t_conn_t *)c)->id,
        (int)how);
}
static void o_reading(void *host, nm_hconn_t *c, int on) {
  ((t_conn_t *)c)->reading = on;
  t_log(host, "reading(%llu,%d) ", (unsigned long long)((t_conn_t *)c)->id, on);
}
static void o_blackhole(void *host, nm_hconn_t *c, int on) {
  ((t_conn_t *)c)->blackhole = on;
  t_log(host, "blackhole(%llu,%d) ", (unsigned long long)((t_conn_t *)c)->id,
        on);
}
static void o_handle(void *host, nm_hconn_t *c, const nm_frame_t *f,
                     nm_slice_t bytes) {
  t_log(host, "handle(%llu,%.*s) ", (unsigned long long)((t_conn_t *)c)->id,
        (int)(bytes.n > 2 ? bytes.n - 2 : bytes.n), bytes.p);
}
static void o_publish(void *host, nm_slice_t subject, nm_slice_t reply,
                      size_t hdr_len, nm_slice_t payload) {
  t_log(host, "publish(%.*s,%.*s) ", (int)subject.n, subject.p, (int)payload.n,
        payload.p);
}
static int o_restart(void *host, uint64_t ms) {
  ((t_host_t *)host)->restart_ms = ms;
  t_log(host, "restart(%llu) ", (unsigned long long)ms);
  return 0;
}
static void o_refuse(void *host, int k) {
  ((t_host_t *)host)->refuse = k;
  t_log(host, "refuse(%d) ", k);
}
static int o_info(void *host, nm_hconn_t *c, const char *extra, nm_buf_t *out) {
  return nm_buf_appendf(out, "{\"fake\":true,\"extra\":%s}",
                        extra ? extra : "null");
}
static void o_observe(void *host, const nm_obs_event_t *ev) {}
static uint64_t o_seed(void *host) {
  return 7;
}

static const nm_fault_host_t t_ops = {
    o_conn_id,   o_find,   o_each,    o_write,   o_close,  o_reading,
    o_blackhole, o_handle, o_publish, o_restart, o_refuse, o_info,
    o_observe,   o_seed,   NULL, /* observe_pending: optional */
    NULL,                        /* conn_name: optional */
};

static uv_loop_t g_loop;
static t_host_t g_host;
static nm_faults_t *g_f;

static void setup(void) {
  ck_assert_int_eq(uv_loop_init(&g_loop), 0);
  memset(&g_host, 0, sizeof(g_host));
  for (int i = 0; i < T_CONNS; i++) {
    g_host.conns[i].id = (uint64_t)i + 1;
    g_host.conns[i].open = 1;
    g_host.conns[i].reading = 1;
  }
  g_f = nm_faults_new(&g_loop, &t_ops, &g_host);
  ck_assert_ptr_nonnull(g_f);
}

static void teardown(void) {
  nm_faults_stop(g_f);
  /* Closing handles (delay timers, the sync async) finish on the loop. */
  uv_run(&g_loop, UV_RUN_NOWAIT);
  nm_faults_free(g_f);
  uv_run(&g_loop, UV_RUN_NOWAIT);
  ck_assert_int_eq(uv_loop_close(&g_loop), 0);
}

static void apply(const char *doc) {
  char err[256] = "";
  int rc = nm_faults_apply(g_f, doc, NULL, err, sizeof(err));
  ck_assert_msg(rc == 0, "apply %s: %s", doc, err);
}

static nm_hconn_t *conn(int id) {
  return (nm_hconn_t *)&g_host.conns[id - 1];
}

/* A frame with only the fields the engine reads. */
static int offer(int id, int dir, nm_op_t op, const char *subject,
                 const char *wire) {
  nm_frame_t fr;
  memset(&fr, 0, sizeof(fr));
  fr.op = op;
  if (subject != NULL)
    fr.subject = nm_slice_str(subject);
  return nm_faults_frame(g_f, conn(id), dir, &fr, nm_slice_str(wire));
}

START_TEST(no_rules_pass) {
  ck_assert_int_eq(nm_faults_active(g_f), 0);
  ck_assert_int_eq(offer(1, NM_DIR_OUT, NM_OP_PING, NULL, "PING\r\n"),
                   NM_FAULT_PASS);
  ck_assert_int_eq(offer(1, NM_DIR_IN, NM_OP_PONG, NULL, "PONG\r\n"),
                   NM_FAULT_PASS);
  ck_assert_str_eq(g_host.log, "");
}
END_TEST

START_TEST(drop_and_duplicate) {
  apply("{\"rules\":[{\"dir\":\"out\",\"verb\":\"MSG\",\"subject\":\"a\","
        "\"action\":\"drop\"},{\"dir\":\"out\",\"verb\":\"MSG\","
        "\"action\":\"duplicate\"}]}");
  ck_assert_int_eq(nm_faults_active(g_f), 1);
  ck_assert_int_eq(offer(2, NM_DIR_OUT, NM_OP_MSG, "a", "MSG a 1 0\r\n\r\n"),
                   NM_FAULT_TAKEN);
  ck_assert_str_eq(g_host.log, "");
  ck_assert_int_eq(offer(2, NM_DIR_OUT, NM_OP_MSG, "b", "MSG b 1 1\r\nx\r\n"),
                   NM_FAULT_TAKEN);
  ck_assert_str_eq(g_host.log, "write(2,MSG b 1 1\r\nx,duplicate) "
                               "write(2,MSG b 1 1\r\nx,duplicate) ");
  /* A frame no rule picks passes back to the host. */
  ck_assert_int_eq(offer(2, NM_DIR_OUT, NM_OP_PING, NULL, "PING\r\n"),
                   NM_FAULT_PASS);
}
END_TEST

START_TEST(hold_in_then_release) {
  apply("{\"rules\":[{\"id\":\"h\",\"dir\":\"in\",\"verb\":\"PUB\","
        "\"action\":\"hold\"}]}");
  ck_assert_int_eq(offer(1, NM_DIR_IN, NM_OP_PUB, "x", "PUB x 1\r\na\r\n"),
                   NM_FAULT_TAKEN);
  ck_assert_int_eq(offer(1, NM_DIR_IN, NM_OP_PUB, "y", "PUB y 1\r\nb\r\n"),
                   NM_FAULT_TAKEN);
  ck_assert_str_eq(g_host.log, "");
  apply("{\"actions\":[{\"do\":\"release\",\"conn\":1,\"rule\":\"h\"}]}");
  /* In order, as the host's own handling, with the original bytes. */
  ck_assert_str_eq(g_host.log,
                   "handle(1,PUB x 1\r\na) handle(1,PUB y 1\r\nb) ");
}
END_TEST

static void on_wait(uv_timer_t *t) {
  uv_stop(t->loop);
}

START_TEST(delay_uses_the_loop) {
  uv_timer_t guard;
  apply("{\"rules\":[{\"dir\":\"out\",\"verb\":\"PONG\",\"action\":\"delay\","
        "\"ms\":20}]}");
  ck_assert_int_eq(offer(3, NM_DIR_OUT, NM_OP_PONG, NULL, "PONG\r\n"),
                   NM_FAULT_TAKEN);
  ck_assert_str_eq(g_host.log, "");
  /* Bounded wait: the delay timer fires long before the guard. */
  uv_timer_init(&g_loop, &guard);
  uv_timer_start(&guard, on_wait, 2000, 0);
  uv_unref((uv_handle_t *)&guard);
  while (g_host.len == 0 && uv_run(&g_loop, UV_RUN_ONCE) != 0)
    ;
  uv_close((uv_handle_t *)&guard, NULL);
  uv_run(&g_loop, UV_RUN_NOWAIT); /* the guard lives on this stack */
  ck_assert_str_eq(g_host.log, "write(3,PONG,delay) ");
}
END_TEST

START_TEST(close_stall_blackhole) {
  apply("{\"rules\":[{\"dir\":\"in\",\"verb\":\"SUB\",\"action\":\"reset\"},"
        "{\"dir\":\"in\",\"verb\":\"PING\",\"conn\":2,\"action\":\"stall\"},"
        "{\"dir\":\"out\",\"verb\":\"PING\",\"action\":\"blackhole\"}]}");
  ck_assert_int_eq(offer(1, NM_DIR_IN, NM_OP_SUB, "x", "SUB x 1\r\n"),
                   NM_FAULT_TAKEN);
  ck_assert_int_eq(offer(2, NM_DIR_IN, NM_OP_PING, NULL, "PING\r\n"),
                   NM_FAULT_TAKEN);
  /* Stalled: later in-frames wait too, and come back on resume. */
  ck_assert_int_eq(offer(2, NM_DIR_IN, NM_OP_PONG, NULL, "PONG\r\n"),
                   NM_FAULT_TAKEN);
  ck_assert_int_eq(offer(3, NM_DIR_OUT, NM_OP_PING, NULL, "PING\r\n"),
                   NM_FAULT_TAKEN);
  ck_assert_str_eq(g_host.log, "close(1,2) reading(2,0) blackhole(3,1) ");
  g_host.len = 0;
  g_host.log[0] = '\0';
  apply("{\"actions\":[{\"do\":\"resume\",\"conn\":2}]}");
  ck_assert_msg(strstr(g_host.log, "handle(2,PING) handle(2,PONG) ") != NULL,
                "%s", g_host.log);
  ck_assert_msg(strstr(g_host.log, "reading(2,1)") != NULL, "%s", g_host.log);
}
END_TEST

START_TEST(direct_actions_through_the_host) {
  apply("{\"actions\":[{\"do\":\"send_raw\",\"data\":\"PING\\r\\n\"},"
        "{\"do\":\"send\",\"conn\":1,\"frame\":{\"op\":\"INFO\","
        "\"fields\":{\"ldm\":true}}},"
        "{\"do\":\"publish\",\"subject\":\"p\",\"data\":\"hi\"},"
        "{\"do\":\"refuse\",\"count\":2},{\"do\":\"restart\",\"ms\":50}]}");
  /* send_raw with no conn goes to the newest open connection (3). */
  ck_assert_msg(strstr(g_host.log, "write(3,PING,send_raw) ") == g_host.log,
                "%s", g_host.log);
  ck_assert_msg(strstr(g_host.log, "write(1,INFO {\"fake\":true,\"extra\":"
                                   "{\"ldm\":true}} ,send) ") != NULL,
                "%s", g_host.log);
  ck_assert_msg(strstr(g_host.log, "publish(p,hi) ") != NULL, "%s", g_host.log);
  ck_assert_int_eq(g_host.refuse, 2);
  ck_assert_int_eq((int)g_host.restart_ms, 50);
}
END_TEST

START_TEST(control_plane_answers_through_publish) {
  ck_assert_int_eq(nm_faults_is_control(nm_slice_str("$MOCK.rules")), 1);
  ck_assert_int_eq(nm_faults_is_control(nm_slice_str("$MOCKX")), 0);
  ck_assert_int_eq(nm_faults_is_control(nm_slice_str("foo")), 0);
  nm_faults_control(g_f, conn(1), nm_slice_str("$MOCK.fault"),
                    nm_slice_str("_INBOX.1"),
                    nm_slice_str("{\"rules\":[{\"id\":\"k\",\"dir\":\"out\","
                                 "\"action\":\"drop\"}]}"));
  ck_assert_str_eq(g_host.log,
                   "publish(_INBOX.1,{\"ok\":true,\"rules\":[\"k\"]}) ");
  g_host.len = 0;
  nm_faults_control(g_f, conn(1), nm_slice_str("$MOCK.nope"),
                    nm_slice_str("_INBOX.2"), nm_slice_str(""));
  ck_assert_msg(strstr(g_host.log, "publish(_INBOX.2,{\"ok\":false") ==
                    g_host.log,
                "%s", g_host.log);
}
END_TEST

START_TEST(conn_close_drops_held) {
  apply("{\"rules\":[{\"dir\":\"out\",\"verb\":\"MSG\",\"action\":\"hold\"}]}");
  ck_assert_int_eq(offer(2, NM_DIR_OUT, NM_OP_MSG, "a", "MSG a 1 0\r\n\r\n"),
                   NM_FAULT_TAKEN);
  g_host.conns[1].open = 0;
  nm_faults_conn_close(g_f, conn(2));
  apply("{\"actions\":[{\"do\":\"release\",\"conn\":\"all\"}]}");
  ck_assert_str_eq(g_host.log, "");
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("faults_stage");
  TCase *tc = tcase_create("stage");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, no_rules_pass);
  tcase_add_test(tc, drop_and_duplicate);
  tcase_add_test(tc, hold_in_then_release);
  tcase_add_test(tc, delay_uses_the_loop);
  tcase_add_test(tc, close_stall_blackhole);
  tcase_add_test(tc, direct_actions_through_the_host);
  tcase_add_test(tc, control_plane_answers_through_publish);
  tcase_add_test(tc, conn_close_drops_held);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return nm_test_run_suite(suite(), CK_NORMAL);
}
