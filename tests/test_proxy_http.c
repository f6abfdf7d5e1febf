/* The proxy's HTTP control port (--http_port) in front of a real
 * nats-server 2.9.10: a rule installed over HTTP acts on a client's frames,
 * the rules and the trace read back over HTTP say so, a clear lifts it; the
 * answers are those of $MOCK.* over NATS through the same proxy; methods and
 * paths are checked as on the mock's monitoring port; --no_mock_control
 * takes the endpoints away (404) and lets $MOCK.* through to the server. */
#include <signal.h>
#include <sys/wait.h>

#include "test_proxy_util.h"

typedef struct {
  int status;
  char head[2048];
  char *body;
  char buf[T_BUF];
} resp_t;

/* One HTTP/1.0 request to the proxy's control port; the answer is read
 * until the server closes (bounded). */
static void http_req(const char *method, const char *target, const char *body,
                     resp_t *r) {
  char req[4096];
  nm_peer_state_t st;
  char *sep;
  int fd = nm_test_connect(nm_proxy_http_port(g_px));
  ck_assert_int_ge(fd, 0);
  snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nContent-Length: %zu\r\n\r\n%s",
           method, target, body ? strlen(body) : 0, body ? body : "");
  ck_assert_int_eq(nm_test_send_str(fd, req), 0);
  nm_test_read(fd, r->buf, sizeof(r->buf), NULL, T_WAIT_MS, 0, &st);
  close(fd);
  ck_assert_msg(st != NM_PEER_OPEN, "%s %s: not answered", method, target);
  sep = strstr(r->buf, "\r\n\r\n");
  ck_assert_msg(sep != NULL, "%s %s: %s", method, target, r->buf);
  snprintf(r->head, sizeof(r->head), "%.*s", (int)(sep - r->buf), r->buf);
  r->body = sep + 4;
  r->status = atoi(r->buf + 9);
}

/* The answer to $MOCK.<verb> over NATS, through the proxy, on fd (which
 * subscribed to _r.>). */
static void nats_req(int fd, const char *verb, const char *payload, char *out,
                     size_t n) {
  char req[4096], buf[T_BUF];
  const char *p, *e;
  snprintf(req, sizeof(req), "PUB $MOCK.%s _r.x %zu\r\n%s\r\nPING\r\n", verb,
           strlen(payload), payload);
  nm_test_send_str(fd, req);
  want(fd, buf, sizeof(buf), "PONG\r\n");
  p = strstr(buf, "MSG _r.x ");
  ck_assert_msg(p != NULL, "no answer to $MOCK.%s: %s", verb, buf);
  p = strstr(p, "\r\n") + 2;
  e = strstr(p, "\r\n");
  snprintf(out, n, "%.*s", (int)(e - p), p);
}

static void px_start_http(int no_mock_control) {
  nm_proxy_opts_t o;
  nm_proxy_opts_init(&o);
  o.http_port = -1;
  o.no_mock_control = no_mock_control;
  px_start_opts(&o);
  ck_assert_int_gt(nm_proxy_http_port(g_px), 0);
  ck_assert_int_ne(nm_proxy_http_port(g_px), g_port);
}

START_TEST(rule_over_http_acts_on_a_client) {
  resp_t *r = malloc(sizeof(*r));
  char buf[T_BUF];
  int fd;
  px_start_http(0);
  fd = cli_connect();
  nm_test_send_str(fd, "SUB s 99\r\nPING\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  /* Install: the first MSG on s to this client is dropped. */
  http_req("POST", "/mock/fault",
           "{\"rules\":[{\"id\":\"h\",\"dir\":\"out\",\"verb\":\"MSG\","
           "\"subject\":\"s\",\"limit\":1,\"action\":\"drop\"}]}",
           r);
  ck_assert_int_eq(r->status, 200);
  ck_assert_str_eq(r->body, "{\"ok\":true,\"rules\":[\"h\"]}");
  ck_assert_msg(strstr(r->head, "Content-Type: application/json"), "%s",
                r->head);
  nm_test_send_str(fd, "PUB s 1\r\na\r\nPUB s 1\r\nb\r\n");
  want(fd, buf, sizeof(buf), "MSG s 99 1\r\nb\r\n");
  ck_assert_str_eq(buf, "MSG s 99 1\r\nb\r\n");
  /* The rule and the trace say what it did. */
  http_req("GET", "/mock/rules", NULL, r);
  ck_assert_int_eq(r->status, 200);
  ck_assert_msg(strstr(r->body, "\"id\":\"h\"") &&
                    strstr(r->body, "\"acted\":1,\"spent\":true"),
                "%s", r->body);
  http_req("GET", "/mock/trace?since=0", NULL, r);
  ck_assert_int_eq(r->status, 200);
  ck_assert_msg(strstr(r->body, "\"conn\":1,\"verb\":\"MSG\",\"rule\":\"h\","
                                "\"action\":\"drop\""),
                "%s", r->body);
  http_req("GET", "/mock/trace?since=x", NULL, r);
  ck_assert_int_eq(r->status, 400);
  /* A NUL in the value, or one too long to be a number, is no number. */
  http_req("GET", "/mock/trace?since=1%002", NULL, r);
  ck_assert_int_eq(r->status, 400);
  http_req("GET",
           "/mock/trace?since=1111111111111111111111111111111111111111111111111"
           "1111111111111111111111111111111",
           NULL, r);
  ck_assert_int_eq(r->status, 400);
  /* A direct action over HTTP reaches the client at once. */
  http_req("PUT", "/mock/fault",
           "{\"actions\":[{\"do\":\"send_raw\",\"data\":\"PING\\r\\n\"}]}", r);
  ck_assert_int_eq(r->status, 200);
  want(fd, buf, sizeof(buf), "PING\r\n");
  /* Clear: the next MSG passes. */
  http_req("DELETE", "/mock/clear", NULL, r);
  ck_assert_int_eq(r->status, 200);
  ck_assert_str_eq(r->body, "{\"ok\":true,\"rules\":[]}");
  nm_test_send_str(fd, "PUB s 1\r\nc\r\n");
  want(fd, buf, sizeof(buf), "MSG s 99 1\r\nc\r\n");
  close(fd);
  free(r);
  px_stop();
}
END_TEST

START_TEST(same_answers_as_mock_subjects) {
  static const char *const kDocs[] = {
      "{\"rules\":[{\"id\":\"k\",\"dir\":\"out\",\"verb\":\"INFO\","
      "\"action\":\"drop\"}]}",
      "{\"rules\":[{\"id\":\"k\",\"action\":\"drop\"}]}", /* id in use */
      "{\"rules\":[{\"dir\":\"sideways\"}]}",
      "not json",
  };
  resp_t *r = malloc(sizeof(*r));
  char via_nats[T_BUF], buf[256];
  int fd, d;
  px_start_http(0);
  fd = cli_connect();
  nm_test_send_str(fd, "SUB _r.> 1\r\nPING\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  http_req("POST", "/mock/fault", kDocs[0], r);
  ck_assert_int_eq(r->status, 200);
  for (d = 1; d < 4; d++) {
    http_req("POST", "/mock/fault", kDocs[d], r);
    nats_req(fd, "fault", kDocs[d], via_nats, sizeof(via_nats));
    ck_assert_int_eq(r->status, 400);
    ck_assert_str_eq(r->body, via_nats);
  }
  http_req("GET", "/mock/rules", NULL, r);
  nats_req(fd, "rules", "", via_nats, sizeof(via_nats));
  ck_assert_str_eq(r->body, via_nats);
  http_req("POST", "/mock/trace", "{\"until\":0}", r);
  nats_req(fd, "trace", "{\"until\":0}", via_nats, sizeof(via_nats));
  ck_assert_int_eq(r->status, 400);
  ck_assert_str_eq(r->body, via_nats);
  /* Methods and paths, as on the mock's monitoring port. */
  http_req("GET", "/mock/fault", NULL, r);
  ck_assert_int_eq(r->status, 405);
  ck_assert_msg(strstr(r->head, "\r\nAllow: POST, PUT\r\n"), "%s", r->head);
  http_req("DELETE", "/mock/rules", NULL, r);
  ck_assert_int_eq(r->status, 405);
  ck_assert_msg(strstr(r->head, "\r\nAllow: GET, HEAD\r\n"), "%s", r->head);
  http_req("GET", "/mock/clear", NULL, r);
  ck_assert_int_eq(r->status, 405);
  ck_assert_msg(strstr(r->head, "\r\nAllow: POST, PUT, DELETE\r\n"), "%s",
                r->head);
  http_req("GET", "/varz", NULL, r); /* monitoring is the real server's */
  ck_assert_int_eq(r->status, 404);
  close(fd);
  free(r);
  px_stop();
}
END_TEST

START_TEST(no_mock_control) {
  resp_t *r = malloc(sizeof(*r));
  char buf[T_BUF];
  int fd;
  px_start_http(1);
  http_req("GET", "/mock/rules", NULL, r);
  ck_assert_int_eq(r->status, 404);
  http_req("POST", "/mock/fault", "{}", r);
  ck_assert_int_eq(r->status, 404);
  /* $MOCK.* is an ordinary subject: the server routes it. */
  fd = cli_connect();
  nm_test_send_str(fd, "SUB $MOCK.> 7\r\nPUB $MOCK.rules 0\r\n\r\nPING\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  ck_assert_str_eq(buf, "MSG $MOCK.rules 7 0\r\n\r\nPONG\r\n");
  close(fd);
  free(r);
  px_stop();
}
END_TEST

START_TEST(bad_http_port_is_named) {
  nm_proxy_opts_t o;
  nm_proxy_t *p = NULL;
  char err[512], out[1024];
  uv_loop_t loop;
  uv_loop_init(&loop);
  nm_proxy_opts_init(&o);
  o.upstream = "nats://127.0.0.1:4222";
  o.http_port = 70000;
  ck_assert_int_eq(nm_proxy_new(&loop, &o, &p, err, sizeof(err)), NM_EINVAL);
  ck_assert_msg(strstr(err, "--http_port 70000") != NULL, "%s", err);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
  /* The program names the flag too (ctest sets NM_BINARY_DIR). */
  ck_assert_ptr_nonnull(getenv("NM_BINARY_DIR"));
  snprintf(err, sizeof(err),
           "%s/proxy/natsmock-proxy nats://127.0.0.1:4222 -m 70000 2>&1",
           getenv("NM_BINARY_DIR"));
  ck_assert_int_eq(nm_test_shell(err, out, sizeof(out)), 1);
  ck_assert_msg(strstr(out, "--http_port 70000: expected a number") != NULL,
                "%s", out);
}
END_TEST

/* Reads fd (a pipe) into out from *n on until `needle` is in out, the pipe
 * ends, out is full or T_WAIT_MS pass. */
static void read_until(int fd, char *out, size_t cap, size_t *n,
                       const char *needle) {
  long long deadline = nm_test_now_ms() + T_WAIT_MS;
  while (strstr(out, needle) == NULL && nm_test_now_ms() < deadline &&
         *n < cap - 1) {
    struct pollfd q = {.fd = fd, .events = POLLIN};
    ssize_t k;
    if (poll(&q, 1, (int)(deadline - nm_test_now_ms())) != 1)
      break;
    k = read(fd, out + *n, cap - 1 - *n);
    if (k <= 0)
      break;
    *n += (size_t)k;
    out[*n] = '\0';
  }
}

/* `natsmock --proxy URL -p -1 -m -1 -V` as a program: it reports both ports
 * on stderr (the control port first), serves NATS and HTTP on them, traces
 * both legs, and exits 0 on SIGTERM. */
START_TEST(natsmock_dash_dash_proxy_reports_both_ports) {
  static const char kCtl[] =
      "natsmock: proxy control (/mock/*) on http://127.0.0.1:";
  static const char kNats[] = "natsmock: proxy listening on nats://127.0.0.1:";
  char bin[512], up[64], out[16384] = "", buf[T_BUF];
  const char *p, *q;
  size_t n = 0;
  int pfd[2], status, nport = 0, hport = 0, fd;
  pid_t pid;
  resp_t *r = malloc(sizeof(*r));

  ck_assert_ptr_nonnull(getenv("NM_BINARY_DIR"));
  snprintf(bin, sizeof(bin), "%s/server/natsmock", getenv("NM_BINARY_DIR"));
  snprintf(up, sizeof(up), "nats://127.0.0.1:%d", g_ns.port);
  ck_assert_int_eq(pipe(pfd), 0);
  pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    dup2(pfd[1], 2);
    close(pfd[0]);
    execl(bin, bin, "--proxy", up, "-p", "-1", "-m", "-1", "-V", (char *)NULL);
    _exit(127);
  }
  close(pfd[1]);
  read_until(pfd[0], out, sizeof(out), &n, "listening on");
  /* The control port's line comes first: once "listening on" is out, both
   * ports are open. */
  p = strstr(out, kCtl);
  q = strstr(out, kNats);
  ck_assert_msg(p != NULL && q != NULL && p < q, "%s", out);
  hport = atoi(p + strlen(kCtl));
  nport = atoi(q + strlen(kNats));
  ck_assert_int_gt(hport, 0);
  ck_assert_int_gt(nport, 0);
  fd = cli_connect_to(nport, NULL, 0);
  nm_test_send_str(fd, "PING\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  close(fd);
  /* -V: the PING and its PONG on both legs, in the proxy's format. */
  read_until(pfd[0], out, sizeof(out), &n, "proxy->client PONG");
  ck_assert_msg(strstr(out, "[1] client->proxy PING\n") &&
                    strstr(out, "[1] proxy->server ") &&
                    strstr(out, "[1] server->proxy PONG\n") &&
                    strstr(out, "[1] proxy->client PONG\n"),
                "%s", out);
  fd = nm_test_connect(hport);
  ck_assert_int_ge(fd, 0);
  nm_test_send_str(fd, "GET /mock/rules HTTP/1.0\r\n\r\n");
  want(fd, r->buf, sizeof(r->buf), "{\"ok\":true,\"rules\":[]}");
  ck_assert_msg(strncmp(r->buf, "HTTP/1.0 200 OK\r\n", 17) == 0, "%s", r->buf);
  close(fd);
  ck_assert_int_eq(kill(pid, SIGTERM), 0);
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  close(pfd[0]);
  free(r);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("proxy_http");
  TCase *tc = tcase_create("http");
  tcase_add_unchecked_fixture(tc, ns_up, ns_down);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, rule_over_http_acts_on_a_client);
  tcase_add_test(tc, same_answers_as_mock_subjects);
  tcase_add_test(tc, no_mock_control);
  tcase_add_test(tc, bad_http_port_is_named);
  tcase_add_test(tc, natsmock_dash_dash_proxy_reports_both_ports);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return nm_test_run_suite(suite(), CK_NORMAL);
}
