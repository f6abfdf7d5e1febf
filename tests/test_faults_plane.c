/* The fault engine's server settings and its reach, through real sockets:
 * the server-wide cap on kept bytes (max_held), the control plane turned
 * off (no_mock_control), $MOCK only for an authenticated user when auth is
 * configured, and rules that pick a connection by its CONNECT "name". */
#include "test_faults_util.h"

static void send_request(int fd, const char *verb, const char *payload) {
  char line[T_BUF];
  snprintf(line, sizeof(line), "PUB $MOCK.%s _r %zu\r\n%s\r\n", verb,
           strlen(payload), payload);
  nm_test_send_str(fd, line);
}

/* A connection that sends its own CONNECT text; SUBs "_r" as sid 1. */
static int connect_with(const char *connect_json) {
  char buf[4096], line[1024];
  int fd = nm_test_connect(g_port);
  ck_assert_int_ge(fd, 0);
  want(fd, buf, sizeof(buf), "\r\n");
  snprintf(line, sizeof(line), "CONNECT %s\r\nSUB _r 1\r\nPING\r\n",
           connect_json);
  nm_test_send_str(fd, line);
  want(fd, buf, sizeof(buf), "PONG\r\n");
  return fd;
}

/* The cap over all connections: with max_held 8 KiB, three subscribers
 * and a hold on every MSG, what is over the cap passes at once, the
 * observer says why, and what was held stays under the cap. */
START_TEST(server_wide_held_cap) {
  nm_server_opts_t o;
  char buf[T_BUF];
  int fd[3], i;
  nm_server_opts_init(&o);
  o.max_held = 8 * 1024;
  srv_start_opts(&o);
  for (i = 0; i < 3; i++) {
    fd[i] = cli_connect();
    nm_test_send_str(fd[i], "SUB x 1\r\nPING\r\n");
    want(fd[i], buf, sizeof(buf), "PONG\r\n");
  }
  /* 3 x 100 messages of 400 bytes: 120 KB would be held without the cap,
   * each connection's own cap (16 MiB) is far away. */
  fault("{\"rules\":[{\"id\":\"h\",\"dir\":\"out\",\"verb\":\"MSG\","
        "\"action\":\"hold\"}],\"actions\":[{\"do\":\"publish\","
        "\"subject\":\"x\",\"count\":100,\"size\":400}]}");
  ck_assert(obs_wait("rule=h action=hold detail=not kept (held-frame cap "
                     "reached): frame passed",
                     T_WAIT_MS));
  /* The last message passed (over the cap) and arrives unreleased. */
  for (i = 0; i < 3; i++)
    want(fd[i], buf, sizeof(buf), "MSG x 1 400\r\n100.");
  {
    char err[256] = "";
    nm_buf_t res;
    const char *p;
    double held;
    nm_buf_init(&res, 1 << 16);
    ck_assert_int_eq(nm_server_fault_sync(g_srv, "{}", &res, err, sizeof(err)),
                     0);
    nm_buf_free(&res);
    /* Held frames cost their bytes plus a header: fewer than 8 KiB / 400. */
    uv_mutex_lock(&g_obs.mu);
    p = strstr(g_obs.text, "held (");
    uv_mutex_unlock(&g_obs.mu);
    ck_assert_ptr_nonnull(p);
    held = 0;
    uv_mutex_lock(&g_obs.mu);
    held = count_of(g_obs.text, "rule=h action=hold detail=held (");
    uv_mutex_unlock(&g_obs.mu);
    ck_assert_msg(held >= 1 && held < 21, "%.0f frames held", held);
  }
  for (i = 0; i < 3; i++)
    close(fd[i]);
  srv_stop();
}
END_TEST

/* natsmock's own config key and its default. */
START_TEST(max_held_config_key) {
  nm_server_opts_t o;
  char err[512] = "";
  nm_server_opts_init(&o);
  ck_assert_int_eq(o.max_held, (int64_t)128 << 20);
  ck_assert_int_eq(
      nm_server_opts_parse(&o, "max_held: 1000000\n", 18, err, sizeof(err)), 0);
  ck_assert_int_eq(o.max_held, 1000000);
  nm_server_opts_free(&o);
}
END_TEST

/* no_mock_control: $MOCK.> is an ordinary subject, routed to its
 * subscribers; nothing answers and no rule is installed. */
START_TEST(control_off) {
  nm_server_opts_t o;
  char buf[T_BUF];
  int fd;
  nm_server_opts_init(&o);
  o.no_mock_control = 1;
  srv_start_opts(&o);
  fd = connect_with("{\"verbose\":false}");
  nm_test_send_str(fd, "SUB $MOCK.> 2\r\nPING\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  send_request(fd, "fault",
               "{\"rules\":[{\"dir\":\"out\",\"verb\":\"PONG\","
               "\"action\":\"drop\"}]}");
  nm_test_send_str(fd, "PING\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  ck_assert_msg(strstr(buf, "MSG $MOCK.fault 2 _r ") != NULL &&
                    strstr(buf, "MSG _r 1") == NULL,
                "%s", buf);
  close(fd);
  srv_stop();
}
END_TEST

/* With auth, $MOCK answers an authenticated user, and refuses a connection
 * let in without credentials as no_auth_user. */
START_TEST(control_needs_authenticated_user) {
  static const nm_user_t users[] = {{"admin", "s3cret", NULL},
                                    {"anon", "x", NULL}};
  nm_server_opts_t o;
  char buf[T_BUF];
  int admin, anon;
  nm_server_opts_init(&o);
  o.users = users;
  o.nusers = 2;
  o.users_set = 1;
  o.no_auth_user = "anon";
  srv_start_opts(&o);
  anon = connect_with("{\"verbose\":false}");
  send_request(anon, "rules", "");
  want(anon, buf, sizeof(buf), "}\r\n");
  ck_assert_msg(strstr(buf, "\"ok\":false") != NULL &&
                    strstr(buf, "authenticated user") != NULL,
                "%s", buf);
  admin = connect_with(
      "{\"verbose\":false,\"user\":\"admin\",\"pass\":\"s3cret\"}");
  send_request(admin, "rules", "");
  want(admin, buf, sizeof(buf), "}\r\n");
  ck_assert_msg(strstr(buf, "{\"ok\":true,\"rules\":[]}") != NULL, "%s", buf);
  close(anon);
  close(admin);
  srv_stop();
}
END_TEST

/* A rule picks a connection by the name in its CONNECT, in the match and
 * in a trigger; a connection without that name is untouched. */
/* A direct action addresses every open connection with a CONNECT name. */
START_TEST(direct_action_selects_by_client_name) {
  char buf[T_BUF];
  nm_peer_state_t st;
  int a, b, c;
  srv_start();
  a = connect_with("{\"verbose\":false,\"name\":\"alpha\"}");
  b = connect_with("{\"verbose\":false,\"name\":\"beta\"}");
  c = connect_with("{\"verbose\":false,\"name\":\"beta\"}");
  fault("{\"actions\":[{\"do\":\"close\",\"conn\":{\"name\":\"beta\"}}]}");
  nm_test_read(b, buf, sizeof(buf), NULL, T_WAIT_MS, 0, &st);
  ck_assert_int_eq(st, NM_PEER_EOF);
  nm_test_read(c, buf, sizeof(buf), NULL, T_WAIT_MS, 0, &st);
  ck_assert_int_eq(st, NM_PEER_EOF);
  nm_test_send_str(a, "PING\r\n");
  want(a, buf, sizeof(buf), "PONG\r\n");
  fault_bad("{\"actions\":[{\"do\":\"reset\",\"conn\":{\"nam\":\"x\"}}]}",
            "actions[0].conn.nam: unknown field");
  fault_bad("{\"actions\":[{\"do\":\"reset\",\"conn\":{}}]}",
            "actions[0].conn.name: required");
  close(a);
  close(b);
  close(c);
  srv_stop();
}
END_TEST

START_TEST(rule_selects_by_client_name) {
  char buf[T_BUF];
  int a, b;
  srv_start();
  a = connect_with("{\"verbose\":false,\"name\":\"alpha\"}");
  b = connect_with("{\"verbose\":false,\"name\":\"beta\"}");
  fault("{\"rules\":[{\"id\":\"nb\",\"dir\":\"out\",\"verb\":\"PONG\","
        "\"name\":\"beta\",\"action\":\"drop\"},"
        "{\"id\":\"ta\",\"dir\":\"out\",\"verb\":\"PONG\",\"limit\":1,"
        "\"action\":\"drop\",\"after\":{\"dir\":\"in\",\"verb\":\"SUB\","
        "\"name\":\"alpha\"}}]}");
  nm_test_send_str(a, "PING\r\n");
  want(a, buf, sizeof(buf), "PONG\r\n");
  nm_test_send_str(b, "PING\r\n");
  quiet(b, buf, sizeof(buf));
  ck_assert_str_eq(buf, "");
  /* beta's SUB does not arm "ta"; alpha's does, and its next PONG is
   * dropped. */
  nm_test_send_str(b, "SUB q 5\r\n");
  nm_test_send_str(a, "PING\r\n");
  want(a, buf, sizeof(buf), "PONG\r\n");
  nm_test_send_str(a, "SUB q 6\r\nPING\r\n");
  quiet(a, buf, sizeof(buf));
  ck_assert_str_eq(buf, "");
  nm_test_send_str(a, "PING\r\n");
  want(a, buf, sizeof(buf), "PONG\r\n");
  fault_bad("{\"rules\":[{\"dir\":\"out\",\"name\":\"\",\"action\":\"drop\"}]}",
            "rules[0].name: must be 1 to");
  close(a);
  close(b);
  srv_stop();
}
END_TEST

/* A hold that ends by itself: after release_ms, or on a trigger frame. */
START_TEST(hold_released_by_time_and_trigger) {
  char buf[T_BUF];
  long long t0;
  int fd;
  srv_start();
  fd = cli_connect();
  fault("{\"rules\":[{\"id\":\"t\",\"dir\":\"out\",\"verb\":\"PONG\","
        "\"limit\":1,\"action\":\"hold\",\"release_ms\":200}]}");
  t0 = nm_test_now_ms();
  nm_test_send_str(fd, "PING\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  ck_assert_int_ge(nm_test_now_ms() - t0, 190);
  ck_assert(obs_wait("rule=t action=release", T_WAIT_MS));
  fault("{\"clear\":true,\"rules\":[{\"id\":\"g\",\"dir\":\"out\","
        "\"verb\":\"PONG\",\"action\":\"hold\",\"release_on\":{\"dir\":"
        "\"in\",\"verb\":\"PUB\",\"subject\":\"go\"}}]}");
  nm_test_send_str(fd, "PING\r\nPING\r\nPUB other 0\r\n\r\n");
  quiet(fd, buf, sizeof(buf));
  ck_assert_str_eq(buf, "");
  nm_test_send_str(fd, "PUB go 0\r\n\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\nPONG\r\n");
  ck_assert(obs_wait("release_on matched: 2 frame(s)", T_WAIT_MS));
  fault_bad("{\"rules\":[{\"dir\":\"out\",\"action\":\"drop\","
            "\"release_ms\":5}]}",
            "only for \"hold\"");
  close(fd);
  srv_stop();
}
END_TEST

/* "ordered": a held or delayed PONG keeps everything after it on its
 * connection and direction behind it, as a TCP stream would. */
START_TEST(ordered_hold_and_delay_keep_stream_order) {
  char buf[T_BUF];
  int fd;
  srv_start();
  fd = cli_with_sentinel();
  fault("{\"rules\":[{\"id\":\"o\",\"dir\":\"out\",\"verb\":\"PONG\","
        "\"limit\":1,\"action\":\"hold\",\"ordered\":true}]}");
  nm_test_send_str(fd, "PING\r\n" SENTINEL "PING\r\n");
  quiet(fd, buf, sizeof(buf));
  ck_assert_str_eq(buf, "");
  fault("{\"actions\":[{\"do\":\"release\",\"rule\":\"o\"}]}");
  want(fd, buf, sizeof(buf), SENTINEL_MSG "PONG\r\n");
  ck_assert_str_eq(buf, "PONG\r\n" SENTINEL_MSG "PONG\r\n");
  fault("{\"clear\":true,\"rules\":[{\"dir\":\"out\",\"verb\":\"PONG\","
        "\"limit\":1,\"action\":\"delay\",\"ms\":150,\"ordered\":true}]}");
  nm_test_send_str(fd, "PING\r\n" SENTINEL);
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  ck_assert_str_eq(buf, "PONG\r\n" SENTINEL_MSG);
  fault_bad("{\"rules\":[{\"dir\":\"out\",\"action\":\"drop\","
            "\"ordered\":true}]}",
            "rules[0].ordered: only for");
  close(fd);
  srv_stop();
}
END_TEST

int main(void) {
  Suite *s = suite_create("faults_plane");
  TCase *tc = tcase_create("plane");
  tcase_add_test(tc, server_wide_held_cap);
  tcase_add_test(tc, max_held_config_key);
  tcase_add_test(tc, control_off);
  tcase_add_test(tc, control_needs_authenticated_user);
  tcase_add_test(tc, rule_selects_by_client_name);
  tcase_add_test(tc, direct_action_selects_by_client_name);
  tcase_add_test(tc, hold_released_by_time_and_trigger);
  tcase_add_test(tc, ordered_hold_and_delay_keep_stream_order);
  suite_add_tcase(s, tc);
  return nm_test_run_suite(s, CK_NORMAL);
}
