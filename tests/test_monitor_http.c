/* The HTTP module under the monitoring (http/) on its own: a server on a
 * loop thread with one route that records what it was given, and a client
 * of blocking sockets that pushes at its limits: the idle limit against a
 * client that trickles a request, and the body limit at its exact edge. */
#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nm_http.h"
#include "nm_test_check.h"
#include "nm_test_util.h"

/* The idle limit the tests give the server (the default is a minute). */
#define IDLE_MS 300
#define IO_MS 5000

typedef struct {
  uv_loop_t loop;
  uv_async_t stop;
  pthread_t thread;
  nm_http_server_t *h;
  int port;
  /* What the route saw last (written on the loop thread, read after the
   * client has its answer). */
  size_t body_len;
  int body_nul; /* body[body_len] was the NUL */
  int calls;
} srv_t;

static void on_echo(void *data, const nm_http_req_t *req,
                    nm_http_resp_t *resp) {
  srv_t *s = data;
  s->calls++;
  s->body_len = req->body_len;
  s->body_nul = req->body[req->body_len] == 0;
  (void)nm_buf_appendf(&resp->body, "%zu", req->body_len);
}

static void on_stop(uv_async_t *a) {
  srv_t *s = a->data;
  nm_http_close(s->h, NULL, NULL);
  uv_close((uv_handle_t *)&s->stop, NULL);
}

static void *loop_main(void *arg) {
  srv_t *s = arg;
  uv_run(&s->loop, UV_RUN_DEFAULT);
  return NULL;
}

static void srv_start(srv_t *s) {
  memset(s, 0, sizeof(*s));
  ck_assert_int_eq(uv_loop_init(&s->loop), 0);
  s->h = nm_http_server_new(&s->loop);
  ck_assert_ptr_nonnull(s->h);
  nm_http_set_idle_ms(s->h, IDLE_MS);
  ck_assert_int_eq(nm_http_route(s->h, "/echo", on_echo, s), 0);
  ck_assert_int_eq(nm_http_listen(s->h, "127.0.0.1", 0), 0);
  s->port = nm_http_port(s->h);
  uv_async_init(&s->loop, &s->stop, on_stop);
  s->stop.data = s;
  ck_assert_int_eq(pthread_create(&s->thread, NULL, loop_main, s), 0);
}

static void srv_stop(srv_t *s) {
  uv_async_send(&s->stop);
  pthread_join(s->thread, NULL);
  ck_assert_int_eq(uv_loop_close(&s->loop), 0);
}

/* 1 when the peer closed fd within ms (anything it sent is read and
 * dropped). */
static int closed_within(int fd, int ms) {
  long long deadline = nm_test_now_ms() + ms;
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    long long left = deadline - nm_test_now_ms();
    char b[256];
    if (left <= 0 || poll(&p, 1, (int)left) <= 0)
      return 0;
    if (read(fd, b, sizeof(b)) <= 0)
      return 1;
  }
}

/* A client that sends its request one byte at a time, a byte each third of
 * the idle limit, never finishing it: the limit counts from the accept, not
 * from its last byte, so it is closed after about IDLE_MS however it
 * trickles (before the fix every byte restarted the timer). */
START_TEST(test_trickling_client_closed_at_idle_limit) {
  static const char kReq[] = "GET /echo HTTP/1.1\r\nHost: x\r\nX-Slow: "
                             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  srv_t s;
  int fd, closed = 0;
  long long t0;
  srv_start(&s);
  fd = nm_test_connect(s.port);
  ck_assert_int_ge(fd, 0);
  t0 = nm_test_now_ms();
  /* At most sizeof(kReq) bytes, IDLE_MS / 3 apart: 10 limits long. */
  for (size_t i = 0; i + 1 < sizeof(kReq) && !closed; i++) {
    if (nm_test_send(fd, &kReq[i], 1) != 0)
      closed = 1;
    else
      closed = closed_within(fd, IDLE_MS / 3);
  }
  ck_assert_msg(closed,
                "a request trickled for %lld ms was not cut at the "
                "%d ms idle limit",
                nm_test_now_ms() - t0, IDLE_MS);
  ck_assert_int_lt(nm_test_now_ms() - t0, 3 * IDLE_MS);
  close(fd);
  /* A client that sends whole requests is answered, and kept past the limit
   * as long as each request comes within it of the previous answer. */
  fd = nm_test_connect(s.port);
  ck_assert_int_ge(fd, 0);
  for (int i = 0; i < 4; i++) {
    char buf[1024];
    nm_peer_state_t st;
    ck_assert_int_eq(
        nm_test_send_str(fd, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
    nm_test_read(fd, buf, sizeof(buf), "\r\n\r\n0", IO_MS, 0, &st);
    ck_assert_msg(strstr(buf, "HTTP/1.1 200 OK"), "request %d: %s", i, buf);
    ck_assert_int_eq(closed_within(fd, IDLE_MS / 2), 0);
  }
  close(fd);
  srv_stop(&s);
}
END_TEST

/* A chunked body of NM_HTTP_MAX_BODY bytes reaches the handler whole and
 * NUL-terminated; one byte more is a 413 (before the fix it was cut to the
 * limit and handed to the handler without its NUL). */
static void post_chunked(srv_t *s, size_t n, char *out, size_t cap) {
  char head[256];
  nm_peer_state_t st;
  char *chunk = malloc(n);
  int fd = nm_test_connect(s->port);
  ck_assert_ptr_nonnull(chunk);
  ck_assert_int_ge(fd, 0);
  memset(chunk, 'b', n);
  snprintf(head, sizeof(head),
           "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
           "Connection: close\r\n\r\n%zx\r\n",
           n);
  ck_assert_int_eq(nm_test_send_str(fd, head), 0);
  /* The server may answer and close before it has read everything. */
  (void)nm_test_send(fd, chunk, n);
  (void)nm_test_send_str(fd, "\r\n0\r\n\r\n");
  nm_test_read(fd, out, cap, NULL, IO_MS, 0, &st);
  ck_assert_int_ne(st, NM_PEER_OPEN);
  close(fd);
  free(chunk);
}

START_TEST(test_body_limit_exact) {
  srv_t s;
  char buf[1024], want[64];
  srv_start(&s);
  post_chunked(&s, NM_HTTP_MAX_BODY, buf, sizeof(buf));
  snprintf(want, sizeof(want), "\r\n\r\n%d", NM_HTTP_MAX_BODY);
  ck_assert_msg(strncmp(buf, "HTTP/1.1 200 OK", 15) == 0 && strstr(buf, want),
                "%s", buf);
  ck_assert_int_eq(s.calls, 1);
  ck_assert_int_eq(s.body_len, NM_HTTP_MAX_BODY);
  ck_assert_int_eq(s.body_nul, 1);
  post_chunked(&s, NM_HTTP_MAX_BODY + 1, buf, sizeof(buf));
  ck_assert_msg(strncmp(buf, "HTTP/1.1 413 ", 13) == 0, "%s", buf);
  ck_assert_int_eq(s.calls, 1);
  srv_stop(&s);
}
END_TEST

static Suite *suite(void) {
  Suite *su = suite_create("monitor_http");
  TCase *tc = tcase_create("http");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_trickling_client_closed_at_idle_limit);
  tcase_add_test(tc, test_body_limit_exact);
  suite_add_tcase(su, tc);
  return su;
}

int main(void) {
  return nm_test_run_suite(suite(), CK_NORMAL);
}
