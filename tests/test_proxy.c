/* The proxy in front of a real nats-server 2.9.10, with no rules: what a
 * client gets through it is what it gets talking to the server directly,
 * byte for byte (apart from the per-connection client_id in INFO); bytes
 * the codec cannot frame still reach the server, which answers them; the
 * $MOCK.* control plane is answered by the proxy and never forwarded; the
 * INFO's connect_urls are rewritten to the proxy's address. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "test_proxy_util.h"

/* Removes "client_id":N, (the server numbers its connections). */
static void drop_client_id(char *s) {
  char *p = strstr(s, "\"client_id\":");
  char *e;
  if (p == NULL)
    return;
  e = p + 12;
  while (*e >= '0' && *e <= '9')
    e++;
  if (*e == ',')
    e++;
  memmove(p, e, strlen(e) + 1);
}

/* Sends `script` after INFO on a fresh connection to port; returns all that
 * came back (INFO included) until `until` or the peer closed. */
static void run_script(int port, const char *script, const char *until,
                       char *out, size_t cap, nm_peer_state_t *st) {
  char info[4096];
  int fd = nm_test_connect(port);
  size_t n;
  ck_assert_int_ge(fd, 0);
  n = nm_test_read(fd, info, sizeof(info), "\r\n", T_WAIT_MS, 0, st);
  ck_assert_uint_gt(n, 0);
  nm_test_send_str(fd, script);
  nm_test_read(fd, out, cap, until, T_WAIT_MS, until ? 50 : 0, st);
  drop_client_id(info);
  /* INFO first, then the rest. */
  {
    size_t li = strlen(info), lo = strlen(out);
    ck_assert_uint_lt(li + lo, cap);
    memmove(out + li, out, lo + 1);
    memcpy(out, info, li);
  }
  close(fd);
}

static void same_as_direct(const char *script, const char *until) {
  static char direct[T_BUF], proxied[T_BUF];
  nm_peer_state_t s1, s2;
  run_script(g_ns.port, script, until, direct, sizeof(direct), &s1);
  run_script(g_port, script, until, proxied, sizeof(proxied), &s2);
  ck_assert_str_eq(proxied, direct);
  ck_assert_int_eq(s2, s1);
}

START_TEST(pass_through_is_byte_exact) {
  px_start();
  same_as_direct("CONNECT {\"verbose\":true,\"pedantic\":true,\"headers\":"
                 "true}\r\nSUB foo 1\r\nSUB foo.* q 2\r\nPUB foo 5\r\nhello"
                 "\r\npub foo.bar r.1 3\r\nabc\r\nHPUB foo 12 14\r\nNATS/1.0"
                 "\r\n\r\nhi\r\nPUB  foo  02\r\nxy\r\nUNSUB 1\r\nPUB foo 0"
                 "\r\n\r\nping\nPING\r\n",
                 "PONG\r\nPONG\r\n");
  /* Odd splits: the proxy forwards what it parsed, the server sees the
   * same bytes (here written in one go by the test, re-read in pieces). */
  same_as_direct("CONNECT {}\r\nSUB a 1\r\nPUB a 70000\r\n", NULL);
  px_stop();
}
END_TEST

START_TEST(errors_come_from_the_server) {
  px_start();
  /* Unknown op: the parser gives up, the bytes go on, the server answers
   * and closes, the proxy passes the close on. */
  same_as_direct("CONNECT {}\r\nFOO bar\r\n", NULL);
  /* Over the server's max_payload: its -ERR, not the proxy's. */
  same_as_direct("CONNECT {}\r\nPUB foo 2000000\r\n", NULL);
  /* Bad CONNECT JSON. */
  same_as_direct("CONNECT {bad\r\n", NULL);
  ck_assert(obs_wait("ACTION cl", T_WAIT_MS)); /* "raw" noted */
  px_stop();
}
END_TEST

START_TEST(big_payload_split_across_reads) {
  static char payload[300000], script[310000], buf[T_BUF * 8];
  nm_peer_state_t st;
  int fd;
  size_t n;
  px_start();
  memset(payload, 'x', sizeof(payload) - 1);
  fd = cli_connect();
  snprintf(script, sizeof(script), "SUB big 1\r\nPUB big %zu\r\n%s\r\nPING\r\n",
           sizeof(payload) - 1, payload);
  nm_test_send_str(fd, script);
  n = nm_test_read(fd, buf, sizeof(buf), "PONG\r\n", T_WAIT_MS * 2, 0, &st);
  ck_assert_uint_eq(n, strlen("MSG big 1 299999\r\n") + 299999 + 2 + 6);
  ck_assert(strncmp(buf, "MSG big 1 299999\r\nxxx", 21) == 0);
  close(fd);
  px_stop();
}
END_TEST

START_TEST(control_plane_stays_in_the_proxy) {
  char buf[T_BUF];
  int fd;
  px_start();
  fd = cli_connect();
  {
    const char *doc = "{\"rules\":[{\"id\":\"x\",\"dir\":\"out\",\"verb\":"
                      "\"PONG\",\"action\":\"pass\"}]}";
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "SUB _INBOX.t 9\r\nPUB $MOCK.fault _INBOX.t %zu\r\n%s\r\n",
             strlen(doc), doc);
    nm_test_send_str(fd, cmd);
  }
  want(fd, buf, sizeof(buf), "{\"ok\":true,\"rules\":[\"x\"]}\r\n");
  ck_assert(strncmp(buf, "MSG _INBOX.t 9 ", 15) == 0);
  /* The control publish itself never reached the server. */
  ck_assert_int_eq(obs_count("OUT up c1 op=PUB"), 0);
  nm_test_send_str(fd, "PUB $MOCK.rules _INBOX.t 0\r\n\r\n");
  want(fd, buf, sizeof(buf), "\"id\":\"x\"");
  close(fd);
  px_stop();
}
END_TEST

/* A frame still incomplete at the end of a read is forwarded at once (the
 * server sees the client's reads), except when it may be a publish to
 * $MOCK.*: that is kept until complete and answered here. The pieces are
 * separate writes 20 ms apart (no event tells when the proxy has read one:
 * if the kernel joins them, the test checks less but cannot fail wrongly). */
START_TEST(split_frames_and_split_control_publish) {
  static const char *const pieces[] = {"PUB fo",
                                       "o 2\r\nh",
                                       "i\r\nPUB $MO",
                                       "CK.rules _INBOX.t 0\r",
                                       "\n",
                                       "\r\nP",
                                       "UB foo 1\r\n!\r\nPING\r\n"};
  char buf[T_BUF];
  size_t i;
  int fd;
  px_start();
  fd = cli_connect();
  /* $MOCK.> subscribed at the server too: a forwarded control publish
   * would come back as a MSG on sid 8. */
  nm_test_send_str(fd, "SUB foo 1\r\nSUB _INBOX.t 9\r\nSUB $MOCK.> 8\r\n");
  for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
    nm_test_send_str(fd, pieces[i]);
    usleep(20 * 1000);
  }
  want(fd, buf, sizeof(buf), "PONG\r\n");
  ck_assert_msg(strstr(buf, "MSG foo 1 2\r\nhi\r\n") != NULL, "%s", buf);
  ck_assert_msg(strstr(buf, "MSG _INBOX.t 9 ") != NULL, "%s", buf);
  ck_assert_msg(strstr(buf, "MSG foo 1 1\r\n!\r\n") != NULL, "%s", buf);
  ck_assert_msg(strstr(buf, " 8 ") == NULL, "control publish forwarded: %s",
                buf);
  close(fd);
  px_stop();
}
END_TEST

START_TEST(verbose_client_gets_its_ok) {
  char buf[T_BUF];
  nm_peer_state_t st;
  int fd;
  px_start();
  fd = nm_test_connect(g_port);
  nm_test_read(fd, buf, sizeof(buf), "\r\n", T_WAIT_MS, 0, &st);
  nm_test_send_str(fd, "CONNECT {\"verbose\":true}\r\nSUB _INBOX.v 1\r\n"
                       "PUB $MOCK.clear _INBOX.v 0\r\n\r\nPING\r\n");
  nm_test_read(fd, buf, sizeof(buf), "PONG\r\n", T_WAIT_MS, 100, &st);
  /* CONNECT, SUB, the control PUB: three +OK; the injected reply's +OK
   * from the server is not passed on. */
  ck_assert_int_eq(count_of(buf, "+OK\r\n"), 3);
  ck_assert_int_eq(count_of(buf, "MSG _INBOX.v 1 "), 1);
  close(fd);
  px_stop();
}
END_TEST

/* A fake upstream that announces cluster members. */
START_TEST(connect_urls_point_at_the_proxy) {
  struct sockaddr_in a;
  socklen_t al = sizeof(a);
  char up[64], buf[4096], want_urls[64];
  nm_proxy_opts_t o;
  nm_peer_state_t st;
  int lfd, ufd, fd;

  lfd = socket(AF_INET, SOCK_STREAM, 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
  ck_assert_int_eq(listen(lfd, 4), 0);
  getsockname(lfd, (struct sockaddr *)&a, &al);
  snprintf(up, sizeof(up), "127.0.0.1:%d", ntohs(a.sin_port));
  nm_proxy_opts_init(&o);
  o.upstream = up;
  g_have_ns = 1; /* the fake stands in */
  px_start_opts(&o);
  fd = nm_test_connect(g_port);
  ufd = accept(lfd, NULL, NULL);
  ck_assert_int_ge(ufd, 0);
  nm_test_send_str(ufd, "INFO {\"server_id\":\"S\",\"connect_urls\":"
                        "[\"10.0.0.1:4222\",\"10.0.0.2:4222\"],\"max_payload\""
                        ":1048576} \r\n");
  nm_test_read(fd, buf, sizeof(buf), "\r\n", T_WAIT_MS, 0, &st);
  snprintf(want_urls, sizeof(want_urls),
           "INFO {\"server_id\":\"S\","
           "\"connect_urls\":[\"127.0.0.1:%d\"],",
           g_port);
  ck_assert_msg(strncmp(buf, want_urls, strlen(want_urls)) == 0, "%s", buf);
  ck_assert(strstr(buf, "\"max_payload\":1048576} \r\n") != NULL);
  close(fd);
  close(ufd);
  px_stop();
  /* keep_connect_urls: untouched. */
  nm_proxy_opts_init(&o);
  o.upstream = up;
  o.keep_connect_urls = 1;
  px_start_opts(&o);
  fd = nm_test_connect(g_port);
  ufd = accept(lfd, NULL, NULL);
  nm_test_send_str(ufd, "INFO {\"connect_urls\":[\"10.0.0.1:4222\"]} \r\n");
  nm_test_read(fd, buf, sizeof(buf), "\r\n", T_WAIT_MS, 0, &st);
  ck_assert_str_eq(buf, "INFO {\"connect_urls\":[\"10.0.0.1:4222\"]} \r\n");
  close(fd);
  close(ufd);
  close(lfd);
  px_stop();
}
END_TEST

START_TEST(upstream_down_closes_the_client) {
  struct sockaddr_in a;
  socklen_t al = sizeof(a);
  nm_proxy_opts_t o;
  char buf[256], up[64];
  nm_peer_state_t st;
  int fd, bound;
  /* An ephemeral port bound but never listening, held for the whole test:
   * a connect to it is refused, and no other program can take it. */
  bound = socket(AF_INET, SOCK_STREAM, 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(bound, (struct sockaddr *)&a, sizeof(a)), 0);
  ck_assert_int_eq(getsockname(bound, (struct sockaddr *)&a, &al), 0);
  snprintf(up, sizeof(up), "nats://127.0.0.1:%d", ntohs(a.sin_port));
  nm_proxy_opts_init(&o);
  o.upstream = up;
  px_start_opts(&o);
  fd = nm_test_connect(g_port);
  nm_test_read(fd, buf, sizeof(buf), NULL, T_WAIT_MS, 0, &st);
  ck_assert_int_ne(st, NM_PEER_OPEN);
  ck_assert(obs_wait("upstream unreachable", T_WAIT_MS));
  ck_assert(obs_wait("connection refused", T_WAIT_MS));
  close(fd);
  px_stop();
  close(bound);
}
END_TEST

START_TEST(bad_options_are_named) {
  nm_proxy_opts_t o;
  nm_proxy_t *p = NULL;
  char err[512];
  uv_loop_t loop;
  uv_loop_init(&loop);
  nm_proxy_opts_init(&o);
  ck_assert_int_eq(nm_proxy_new(&loop, &o, &p, err, sizeof(err)), NM_EINVAL);
  ck_assert_msg(strstr(err, "upstream URL") != NULL, "%s", err);
  o.upstream = "tls://x:1";
  ck_assert_int_eq(nm_proxy_new(&loop, &o, &p, err, sizeof(err)), NM_EINVAL);
  ck_assert_msg(strstr(err, "tls://x:1") != NULL, "%s", err);
  o.upstream = "nats://127.0.0.1:99999";
  ck_assert_int_eq(nm_proxy_new(&loop, &o, &p, err, sizeof(err)), NM_EINVAL);
  o.upstream = "nats://127.0.0.1:4222";
  o.faults_file = "/nonexistent/rules.json";
  ck_assert_int_eq(nm_proxy_new(&loop, &o, &p, err, sizeof(err)), NM_EINVAL);
  ck_assert_msg(strstr(err, "--faults /nonexistent/rules.json") != NULL, "%s",
                err);
  /* A failed new closes what it opened: one loop turn finishes that. */
  uv_run(&loop, UV_RUN_DEFAULT);
  ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

/* An embedding program with standard input closed: the proxy's loop and
 * listener must not take descriptor 0 (libuv aborts when asked to close a
 * descriptor below 3). Check runs each test in a child of its own. */
START_TEST(stdin_closed) {
  struct stat a, b;
  ck_assert_int_eq(close(STDIN_FILENO), 0);
  px_start();
  ck_assert(fstat(STDIN_FILENO, &a) == 0 && stat("/dev/null", &b) == 0 &&
            S_ISCHR(a.st_mode) && a.st_rdev == b.st_rdev);
  same_as_direct("PING\r\n", "PONG\r\n");
  px_stop(); /* aborted here before the proxy held 0-2 */
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("proxy");
  TCase *tc = tcase_create("pass");
  tcase_add_unchecked_fixture(tc, ns_up, ns_down);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, pass_through_is_byte_exact);
  tcase_add_test(tc, errors_come_from_the_server);
  tcase_add_test(tc, big_payload_split_across_reads);
  tcase_add_test(tc, control_plane_stays_in_the_proxy);
  tcase_add_test(tc, split_frames_and_split_control_publish);
  tcase_add_test(tc, verbose_client_gets_its_ok);
  tcase_add_test(tc, connect_urls_point_at_the_proxy);
  tcase_add_test(tc, upstream_down_closes_the_client);
  tcase_add_test(tc, bad_options_are_named);
  tcase_add_test(tc, stdin_closed);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return nm_test_run_suite(suite(), CK_NORMAL);
}
