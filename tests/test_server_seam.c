/* The core side of the fault-engine seam (nm_conn_api.h) and the observer:
 * raw writes (queued and immediate), the three ways to close, reading on and
 * off, black hole, phantom publish, INFO with merged fields, listener
 * restart. The observer runs on the server's loop thread, so a PUB to
 * "seam.<what>" makes it call the seam function under test right there. */
#include <stdarg.h>

#include "nm_conn_api.h"
#include "nm_encode.h"
#include "test_server_util.h"

static nm_server_t *g_srv;

/* ---- observer log ---- */
typedef struct {
  uv_mutex_t mu;
  char text[1 << 16];
  size_t len;
} log_t;
static log_t g_log;

static void log_add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_add(const char *fmt, ...) {
  va_list ap;
  uv_mutex_lock(&g_log.mu);
  va_start(ap, fmt);
  if (g_log.len < sizeof(g_log.text) - 256)
    g_log.len += (size_t)vsnprintf(g_log.text + g_log.len,
                                   sizeof(g_log.text) - g_log.len, fmt, ap);
  va_end(ap);
  uv_mutex_unlock(&g_log.mu);
}

static int is_seam(const nm_frame_t *f, const char *what) {
  size_t n = strlen(what);
  return f->op == NM_OP_PUB && f->subject.n == 5 + n &&
         memcmp(f->subject.p, "seam.", 5) == 0 &&
         memcmp(f->subject.p + 5, what, n) == 0;
}

static nm_conn_t *target(const nm_frame_t *f) {
  /* The reply field names the connection to act on. */
  char id[32];
  snprintf(id, sizeof(id), "%.*s", (int)f->reply.n, f->reply.p);
  return nm__server_find_conn(g_srv, strtoull(id, NULL, 10));
}

static void obs(void *data, const nm_obs_event_t *ev) {
  const nm_frame_t *f = ev->frame;
  nm_conn_t *c;
  if (ev->kind == NM_OBS_OUT) {
    log_add("OUT %llu %s %zu %s\n", (unsigned long long)ev->conn_id,
            f ? nm_op_name(f->op) : "-", ev->bytes.n,
            ev->action ? ev->action : "-");
    return;
  }
  if (ev->kind == NM_OBS_OPEN || ev->kind == NM_OBS_CLOSE) {
    log_add("%s %llu\n", ev->kind == NM_OBS_OPEN ? "OPEN" : "CLOSE",
            (unsigned long long)ev->conn_id);
    return;
  }
  if (ev->kind != NM_OBS_IN || f == NULL)
    return;
  log_add("IN %llu %s %zu\n", (unsigned long long)ev->conn_id,
          nm_op_name(f->op), ev->bytes.n);
  c = nm__server_find_conn(g_srv, ev->conn_id);
  if (c == NULL)
    return;
  if (is_seam(f, "raw"))
    nm__conn_write_raw(c, "PING\r\n", 6, 0, NULL, "r1", "raw");
  else if (is_seam(f, "rawnow"))
    nm__conn_write_raw(c, "+OK\r\n", 5, 1, NULL, "r2", "now");
  else if (is_seam(f, "rst"))
    nm__conn_close(c, NM_CLOSE_RST, "test rst");
  else if (is_seam(f, "fin"))
    nm__conn_close(c, NM_CLOSE_FIN, "test fin");
  else if (is_seam(f, "flush"))
    nm__conn_close(c, NM_CLOSE_FLUSH, "test flush");
  else if (is_seam(f, "rawflush")) {
    nm__conn_write_raw(c, "+OK\r\n", 5, 1, NULL, NULL, NULL);
    nm__conn_write_raw(c, "PING\r\n", 6, 1, NULL, NULL, NULL);
    nm__conn_close(c, NM_CLOSE_FLUSH, "test raw flush");
  } else if (is_seam(f, "phantom"))
    nm__server_publish(g_srv, nm_slice_str("ph.x"), nm_slice_str("r.y"), 0,
                       nm_slice_str("hey"));
  else if (is_seam(f, "info")) {
    nm_buf_t b;
    nm_buf_init(&b, 4096);
    nm_buf_append_str(&b, "INFO ");
    nm__server_info_json(g_srv, c, "{\"ldm\":true,\"max_payload\":5}", &b);
    nm_buf_append_str(&b, " \r\n");
    nm__conn_write_raw(c, b.base, b.len, 0, NULL, NULL, NULL);
    nm_buf_free(&b);
  } else if (is_seam(f, "readoff") && (c = target(f)))
    nm__conn_set_reading(c, 0);
  else if (is_seam(f, "readon") && (c = target(f)))
    nm__conn_set_reading(c, 1);
  else if (is_seam(f, "bhon") && (c = target(f)))
    nm__conn_set_blackhole(c, 1);
  else if (is_seam(f, "bhoff") && (c = target(f)))
    nm__conn_set_blackhole(c, 0);
  else if (is_seam(f, "restart"))
    nm__server_restart_listener(g_srv, 300);
}

static void setup(void) {
  memset(&g_log, 0, sizeof(g_log));
  uv_mutex_init(&g_log.mu);
  g_srv = ts_start(NULL);
  /* Set before any connection; the loop thread reads it afterwards. */
  nm_server_set_observer(g_srv, obs, NULL);
}

static void teardown(void) {
  nm_server_stop_thread(g_srv);
  uv_mutex_destroy(&g_log.mu);
}

static int client(void) {
  return ts_client(g_srv, "{\"verbose\":false}");
}

static int log_has(const char *s) {
  int r;
  uv_mutex_lock(&g_log.mu);
  r = strstr(g_log.text, s) != NULL;
  uv_mutex_unlock(&g_log.mu);
  return r;
}

START_TEST(test_observer_frames) {
  char out[4096];
  int fd = client();
  ts_roundtrip(fd, "SUB a 1\r\nPUB a 2\r\nhi\r\n", out, sizeof(out));
  ck_assert_str_eq(out, "MSG a 1 2\r\nhi\r\n");
  close(fd);
  /* Every frame in and out, with its wire length. */
  ck_assert(log_has("OPEN 1\n"));
  ck_assert(log_has("IN 1 CONNECT 27\n"));
  ck_assert(log_has("IN 1 SUB 9\n"));
  ck_assert(log_has("IN 1 PUB 13\n"));
  ck_assert(log_has("IN 1 PING 6\n"));
  uv_mutex_lock(&g_log.mu);
  {
    const char *m = strstr(g_log.text, "OUT 1 MSG 15 -\n");
    const char *p = strstr(g_log.text, "OUT 1 PONG 6 -\n");
    ck_assert_msg(m && p && m < p, "%s", g_log.text);
  }
  uv_mutex_unlock(&g_log.mu);
  uv_mutex_lock(&g_log.mu);
  ck_assert_msg(strncmp(g_log.text, "OPEN 1\nOUT 1 INFO ", 18) == 0, "%s",
                g_log.text);
  uv_mutex_unlock(&g_log.mu);
}
END_TEST

START_TEST(test_write_raw_order) {
  char out[4096];
  int fd = client();
  /* Queued raw bytes keep their place among frames. */
  ts_roundtrip(
      fd, "SUB a 1\r\nPUB a 1\r\nx\r\nPUB seam.raw 0\r\n\r\nPUB a 1\r\ny\r\n",
      out, sizeof(out));
  ck_assert_str_eq(out, "MSG a 1 1\r\nx\r\nPING\r\nMSG a 1 1\r\ny\r\n");
  ts_roundtrip(fd, "PUB a 1\r\nx\r\nPUB seam.rawnow 0\r\n\r\nPUB a 1\r\ny\r\n",
               out, sizeof(out));
  ck_assert_str_eq(out, "MSG a 1 1\r\nx\r\n+OK\r\nMSG a 1 1\r\ny\r\n");
  ck_assert(log_has("OUT 1 - 6 raw\n"));
  ck_assert(log_has("OUT 1 - 5 now\n"));
  close(fd);
}
END_TEST

START_TEST(test_close_kinds) {
  char out[4096];
  int fd = client();
  nm_peer_state_t st;
  /* RST: the client sees a reset. */
  st = ts_until_close(fd, "PUB seam.rst 0\r\n\r\n", out, sizeof(out), 2000);
  ck_assert_int_eq(st, NM_PEER_RST);
  close(fd);
  /* FIN: queued output is dropped, the client sees EOF. */
  fd = client();
  st = ts_until_close(fd, "SUB a 1\r\nPUB a 1\r\nx\r\nPUB seam.fin 0\r\n\r\n",
                      out, sizeof(out), 2000);
  ck_assert_int_eq(st, NM_PEER_EOF);
  ck_assert_str_eq(out, "");
  close(fd);
  /* FLUSH: queued output is written first. */
  fd = client();
  st = ts_until_close(fd, "SUB a 1\r\nPUB a 1\r\nx\r\nPUB seam.flush 0\r\n\r\n",
                      out, sizeof(out), 2000);
  ck_assert_int_eq(st, NM_PEER_EOF);
  ck_assert_str_eq(out, "MSG a 1 1\r\nx\r\n");
  close(fd);
  /* FLUSH after immediate raw writes: they all go out before the FIN. */
  fd = client();
  st = ts_until_close(fd,
                      "SUB a 1\r\nPUB a 1\r\nx\r\nPUB seam.rawflush 0\r\n\r\n",
                      out, sizeof(out), 2000);
  ck_assert_int_eq(st, NM_PEER_EOF);
  ck_assert_str_eq(out, "MSG a 1 1\r\nx\r\n+OK\r\nPING\r\n");
  close(fd);
  ck_assert(log_has("CLOSE 1\n"));
  ck_assert(log_has("CLOSE 3\n"));
}
END_TEST

START_TEST(test_reading_and_blackhole) {
  char out[4096], cmd[128];
  int a = client(), b = client();
  nm_peer_state_t st;
  /* a turns b's (conn 2) reading off, then on again. */
  snprintf(cmd, sizeof(cmd), "PUB seam.readoff 2 0\r\n\r\n");
  ts_roundtrip(a, cmd, out, sizeof(out));
  nm_test_send_str(b, "PING\r\n");
  nm_test_read(b, out, sizeof(out), NULL, 200, 0, &st);
  ck_assert_str_eq(out, "");
  ts_roundtrip(a, "PUB seam.readon 2 0\r\n\r\n", out, sizeof(out));
  nm_test_read(b, out, sizeof(out), "PONG\r\n", TS_WAIT_MS, 0, &st);
  ck_assert_str_eq(out, "PONG\r\n");
  /* Black hole: nothing in or out; messages for b meanwhile are lost. */
  ts_roundtrip(b, "SUB bh 1\r\n", out, sizeof(out));
  ts_roundtrip(a, "PUB seam.bhon 2 0\r\n\r\nPUB bh 1\r\nx\r\n", out,
               sizeof(out));
  nm_test_send_str(b, "PING\r\n");
  nm_test_read(b, out, sizeof(out), NULL, 200, 0, &st);
  ck_assert_str_eq(out, "");
  ck_assert_int_eq(st, NM_PEER_OPEN);
  ts_roundtrip(a, "PUB seam.bhoff 2 0\r\n\r\nPUB bh 1\r\ny\r\n", out,
               sizeof(out));
  nm_test_read(b, out, sizeof(out), "PONG\r\n", TS_WAIT_MS, 0, &st);
  ck_assert_str_eq(out, "MSG bh 1 1\r\ny\r\nPONG\r\n");
  close(a);
  close(b);
}
END_TEST

START_TEST(test_phantom_and_info) {
  char out[4096];
  int fd = client();
  ts_roundtrip(fd, "SUB ph.* 5\r\nPUB seam.phantom 0\r\n\r\n", out,
               sizeof(out));
  /* Phantom output is flushed by the loop, maybe after our PONG. */
  if (out[0] == 0)
    ts_roundtrip(fd, NULL, out, sizeof(out));
  ck_assert_str_eq(out, "MSG ph.x 5 r.y 3\r\nhey\r\n");
  ts_roundtrip(fd, "PUB seam.info 0\r\n\r\n", out, sizeof(out));
  ck_assert_msg(strncmp(out, "INFO {\"server_id\":\"N", 20) == 0, "%s", out);
  ck_assert_ptr_nonnull(strstr(out, "\"headers\":true,\"max_payload\":5,"
                                    "\"client_id\":1,"));
  ck_assert_ptr_nonnull(strstr(out, ",\"ldm\":true} \r\n"));
  close(fd);
}
END_TEST

START_TEST(test_restart_listener) {
  char out[4096];
  int fd = client(), fd2 = -1;
  long long t0, deadline;
  ts_roundtrip(fd, "PUB seam.restart 0\r\n\r\n", out, sizeof(out));
  t0 = nm_test_now_ms();
  deadline = t0 + 3000;
  /* A connection that gets INFO again is one the reopened listener took. */
  while (fd2 < 0 && nm_test_now_ms() < deadline) {
    nm_peer_state_t st;
    fd2 = nm_test_connect(nm_server_port(g_srv));
    if (fd2 >= 0 && nm_test_read_line(fd2, out, sizeof(out), 1000) > 0 &&
        strncmp(out, "INFO {", 6) == 0)
      break;
    if (fd2 >= 0)
      close(fd2);
    fd2 = -1;
    /* Wait on our open connection instead of sleeping. */
    nm_test_read(fd, out, sizeof(out), NULL, 20, 0, &st);
  }
  ck_assert_int_ge(fd2, 0);
  ck_assert_int_ge(nm_test_now_ms() - t0, 250);
  /* The connection that was open all along still works. */
  ts_roundtrip(fd, NULL, out, sizeof(out));
  close(fd);
  close(fd2);
}
END_TEST

static Suite *suite(void) {
  Suite *su = suite_create("server_seam");
  TCase *tc = tcase_create("seam");
  tcase_set_timeout(tc, 30);
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_observer_frames);
  tcase_add_test(tc, test_write_raw_order);
  tcase_add_test(tc, test_close_kinds);
  tcase_add_test(tc, test_reading_and_blackhole);
  tcase_add_test(tc, test_phantom_and_info);
  tcase_add_test(tc, test_restart_listener);
  suite_add_tcase(su, tc);
  return su;
}

int main(void) {
  return nm_test_run_suite(suite(), CK_ENV);
}
