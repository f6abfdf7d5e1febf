/* The control plane ($MOCK.>) apart from the data plane, through real
 * sockets: user rules never see a control request nor the answer to it, so
 * no rule can lock the control plane out; counts that would leave a server
 * only a restart repairs are refused; a request whose actions end its own
 * connection is still answered; answers are strict and consistent. */
#include "test_faults_util.h"

/* A raw client subscribed to "_r" as sid 1 (answers) and to the sentinel. */
static int control_client(void) {
  char buf[256];
  int fd = cli_connect();
  nm_test_send_str(fd, "SUB _r 1\r\nSUB s 99\r\nPING\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  return fd;
}

static void send_request(int fd, const char *verb, const char *payload) {
  char line[T_BUF];
  snprintf(line, sizeof(line), "PUB $MOCK.%s _r %zu\r\n%s\r\n", verb,
           strlen(payload), payload);
  nm_test_send_str(fd, line);
}

/* Reads one answer on "_r" into out (the payload); fails without one. */
static void read_answer(int fd, char *out, size_t cap, nm_peer_state_t *st) {
  char buf[T_BUF];
  char *p, *nl;
  nm_test_read(fd, buf, sizeof(buf), "}\r\n", T_WAIT_MS, 0, st);
  p = strstr(buf, "MSG _r 1 ");
  ck_assert_msg(p != NULL, "no answer: \"%s\"", buf);
  nl = strstr(p, "\r\n");
  ck_assert_ptr_nonnull(nl);
  snprintf(out, cap, "%s", nl + 2);
  nl = strstr(out, "\r\n");
  if (nl != NULL)
    *nl = '\0';
}

static void request(int fd, const char *verb, const char *payload, char *out,
                    size_t cap) {
  nm_peer_state_t st;
  send_request(fd, verb, payload);
  read_answer(fd, out, cap, &st);
}

/* Every inbound frame dropped: later requests still work and are answered
 * (they were swallowed, and only a restart repaired the server). */
START_TEST(drop_every_inbound_frame_leaves_control) {
  char ans[T_BUF], buf[T_BUF];
  int fd;
  srv_start();
  fd = control_client();
  request(fd, "fault",
          "{\"rules\":[{\"id\":\"all\",\"dir\":\"in\","
          "\"action\":\"drop\"}]}",
          ans, sizeof(ans));
  ck_assert_str_eq(ans, "{\"ok\":true,\"rules\":[\"all\"]}");
  /* Data is dropped: the sentinel never comes back. */
  nm_test_send_str(fd, SENTINEL);
  quiet(fd, buf, sizeof(buf));
  ck_assert_str_eq(buf, "");
  request(fd, "rules", "", ans, sizeof(ans));
  ck_assert_msg(strstr(ans, "\"id\":\"all\"") != NULL, "%s", ans);
  request(fd, "clear", "", ans, sizeof(ans));
  ck_assert_str_eq(ans, "{\"ok\":true,\"rules\":[]}");
  nm_test_send_str(fd, SENTINEL);
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  close(fd);
  srv_stop();
}
END_TEST

/* An inbound PUB hold with no subject: a later request releases and
 * removes it. */
START_TEST(hold_every_pub_leaves_control) {
  char ans[T_BUF], buf[T_BUF];
  int fd;
  srv_start();
  fd = control_client();
  request(fd, "fault",
          "{\"rules\":[{\"id\":\"hp\",\"dir\":\"in\","
          "\"verb\":\"PUB\",\"action\":\"hold\"}]}",
          ans, sizeof(ans));
  ck_assert_str_eq(ans, "{\"ok\":true,\"rules\":[\"hp\"]}");
  nm_test_send_str(fd, SENTINEL);
  quiet(fd, buf, sizeof(buf));
  ck_assert_str_eq(buf, "");
  send_request(fd, "fault",
               "{\"remove\":[\"hp\"],\"actions\":[{\"do\":\"release\","
               "\"rule\":\"hp\"}]}");
  /* The answer first, then what the released PUB made. */
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  ck_assert_msg(strstr(buf, "{\"ok\":true,\"rules\":[]}\r\n" SENTINEL_MSG) !=
                    NULL,
                "%s", buf);
  close(fd);
  srv_stop();
}
END_TEST

/* A rule dropping every MSG does not drop the answer that confirms it, nor
 * later answers; a rule that counts MSGs does not count answers. */
START_TEST(answers_are_not_seen_by_rules) {
  char ans[T_BUF], buf[T_BUF];
  int fd;
  srv_start();
  fd = control_client();
  request(fd, "fault",
          "{\"rules\":[{\"id\":\"d\",\"dir\":\"out\","
          "\"verb\":\"MSG\",\"action\":\"drop\"}]}",
          ans, sizeof(ans));
  ck_assert_str_eq(ans, "{\"ok\":true,\"rules\":[\"d\"]}");
  nm_test_send_str(fd, SENTINEL);
  quiet(fd, buf, sizeof(buf));
  ck_assert_str_eq(buf, "");
  request(fd, "rules", "", ans, sizeof(ans));
  /* Only the sentinel's MSG was seen: not the two answers. */
  ck_assert_msg(strstr(ans, "\"seen\":1,\"acted\":1") != NULL, "%s", ans);
  close(fd);
  srv_stop();
}
END_TEST

/* Counts that would leave a server only a restart repairs are refused. */
START_TEST(unbounded_counts_refused) {
  char ans[T_BUF];
  int fd;
  srv_start();
  fd = control_client();
  request(fd, "fault",
          "{\"actions\":[{\"do\":\"refuse\",\"count\":2147483647}]}", ans,
          sizeof(ans));
  ck_assert_msg(strstr(ans, "\"ok\":false") != NULL &&
                    strstr(ans, "actions[0].count") != NULL &&
                    strstr(ans, "1000") != NULL,
                "%s", ans);
  request(fd, "fault", "{\"actions\":[{\"do\":\"restart\",\"ms\":3600000}]}",
          ans, sizeof(ans));
  ck_assert_msg(strstr(ans, "\"ok\":false") != NULL &&
                    strstr(ans, "actions[0].ms") != NULL,
                "%s", ans);
  close(fd);
  srv_stop();
}
END_TEST

/* A request whose actions end its own connection (or throw its output
 * away) is answered first, for each such action. */
static void answered_then(const char *action, nm_peer_state_t expect) {
  char doc[512], ans[T_BUF], buf[T_BUF];
  nm_peer_state_t st = NM_PEER_OPEN;
  int fd;
  srv_start();
  fd = control_client();
  snprintf(doc, sizeof(doc), "{\"actions\":[%s]}", action);
  send_request(fd, "fault", doc);
  read_answer(fd, ans, sizeof(ans), &st);
  ck_assert_msg(strcmp(ans, "{\"ok\":true,\"rules\":[]}") == 0, "%s: %s",
                action, ans);
  if (st == NM_PEER_OPEN) {
    nm_test_read(fd, buf, sizeof(buf), NULL,
                 expect == NM_PEER_OPEN ? T_QUIET_MS : T_WAIT_MS, 0, &st);
    ck_assert_msg(expect != NM_PEER_OPEN || buf[0] == '\0', "%s: got %s",
                  action, buf);
  }
  ck_assert_msg(st == expect, "%s: peer state %d, want %d", action, (int)st,
                (int)expect);
  close(fd);
  srv_stop();
}

START_TEST(answered_before_close_without_flush) {
  answered_then("{\"do\":\"close\",\"conn\":\"this\",\"flush\":false}",
                NM_PEER_EOF);
}
END_TEST

START_TEST(answered_before_reset) {
  answered_then("{\"do\":\"reset\",\"conn\":\"this\"}", NM_PEER_RST);
}
END_TEST

START_TEST(answered_before_restart) {
  answered_then("{\"do\":\"restart\",\"ms\":50}", NM_PEER_EOF);
}
END_TEST

START_TEST(answered_before_blackhole) {
  answered_then("{\"do\":\"blackhole\",\"conn\":\"this\"}", NM_PEER_OPEN);
}
END_TEST

START_TEST(answered_before_close_with_flush) {
  answered_then("{\"do\":\"close\",\"conn\":\"this\"}", NM_PEER_EOF);
}
END_TEST

/* Strict documents and consistent answers. */
START_TEST(strict_answers) {
  char ans[T_BUF];
  int fd;
  srv_start();
  fd = control_client();
  request(fd, "fault", "{\"rules\":[]}x", ans, sizeof(ans));
  ck_assert_msg(strstr(ans, "\"ok\":false") != NULL &&
                    strstr(ans, "text after the document") != NULL,
                "%s", ans);
  request(fd, "fault", "{\"rules\":[]}{}", ans, sizeof(ans));
  ck_assert_msg(strstr(ans, "\"ok\":false") != NULL, "%s", ans);
  request(fd, "fault", " {\"rules\":[]} \r\n\t", ans, sizeof(ans));
  ck_assert_str_eq(ans, "{\"ok\":true,\"rules\":[]}");
  /* Releasing an unknown rule is an error, as removing one is. */
  request(fd, "fault", "{\"actions\":[{\"do\":\"release\",\"rule\":\"nope\"}]}",
          ans, sizeof(ans));
  ck_assert_msg(strstr(ans, "\"ok\":false") != NULL &&
                    strstr(ans, "actions[0].rule: no rule \\\"nope\\\"") !=
                        NULL,
                "%s", ans);
  request(fd, "fault", "{\"remove\":[\"nope\"]}", ans, sizeof(ans));
  ck_assert_msg(strstr(ans, "\"ok\":false") != NULL &&
                    strstr(ans, "remove[0]: no rule \\\"nope\\\"") != NULL,
                "%s", ans);
  /* A rule added by the same document, and a removed rule whose frames
   * are still held, can be released. */
  request(fd, "fault",
          "{\"rules\":[{\"id\":\"h\",\"dir\":\"out\",\"verb\":\"PONG\","
          "\"action\":\"hold\"}],\"actions\":[{\"do\":\"release\","
          "\"rule\":\"h\"}]}",
          ans, sizeof(ans));
  ck_assert_str_eq(ans, "{\"ok\":true,\"rules\":[\"h\"]}");
  nm_test_send_str(fd, "PING\r\n");
  ck_assert(obs_wait("rule=h action=hold", T_WAIT_MS));
  request(fd, "fault", "{\"remove\":[\"h\"]}", ans, sizeof(ans));
  ck_assert_str_eq(ans, "{\"ok\":true,\"rules\":[]}");
  send_request(fd, "fault",
               "{\"actions\":[{\"do\":\"release\",\"rule\":\"h\"}]}");
  {
    char buf[T_BUF];
    want(fd, buf, sizeof(buf), "PONG\r\n");
    if (strstr(buf, "}\r\n") == NULL)
      want(fd, buf, sizeof(buf), "}\r\n");
    ck_assert_msg(strstr(buf, "{\"ok\":true,\"rules\":[]}") != NULL, "%s", buf);
  }
  /* $MOCK.trace: empty or {"since": N}, nothing else. */
  request(fd, "trace", "{\"since\":\"x\"}", ans, sizeof(ans));
  ck_assert_msg(strstr(ans, "\"ok\":false") != NULL, "%s", ans);
  request(fd, "trace", "{\"sinse\":1}", ans, sizeof(ans));
  ck_assert_msg(strstr(ans, "\"ok\":false") != NULL, "%s", ans);
  request(fd, "trace", "{\"since\":1}", ans, sizeof(ans));
  ck_assert_msg(strncmp(ans, "{\"ok\":true", 10) == 0, "%s", ans);
  close(fd);
  srv_stop();
}
END_TEST

int main(void) {
  Suite *s = suite_create("faults_control");
  TCase *tc = tcase_create("control");
  tcase_add_test(tc, drop_every_inbound_frame_leaves_control);
  tcase_add_test(tc, hold_every_pub_leaves_control);
  tcase_add_test(tc, answers_are_not_seen_by_rules);
  tcase_add_test(tc, unbounded_counts_refused);
  tcase_add_test(tc, answered_before_close_without_flush);
  tcase_add_test(tc, answered_before_reset);
  tcase_add_test(tc, answered_before_restart);
  tcase_add_test(tc, answered_before_blackhole);
  tcase_add_test(tc, answered_before_close_with_flush);
  tcase_add_test(tc, strict_answers);
  suite_add_tcase(s, tc);
  return nm_test_run_suite(s, CK_NORMAL);
}
