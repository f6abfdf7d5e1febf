/* Fault engine: which connection a direct action addresses ("last", "all",
 * an id, a closed one), close with and without flush, restart keeping the
 * connections, and rule matching by verb lists and subject wildcards. */
#include "test_faults_util.h"

START_TEST(last_is_the_newest_open_connection) {
  char buf[T_BUF];
  int a, b, c;
  srv_start();
  a = cli_with_sentinel();
  b = cli_with_sentinel();
  c = cli_with_sentinel();
  close(c);
  ck_assert(obs_wait("CLOSE c3", T_WAIT_MS));
  /* c is gone: "last" is b now. */
  fault("{\"actions\":[{\"do\":\"send_raw\",\"data\":\"+OK\\r\\n\"}]}");
  want(b, buf, sizeof(buf), "+OK\r\n");
  ck_assert_str_eq(buf, "+OK\r\n");
  quiet(a, buf, sizeof(buf));
  ck_assert_str_eq(buf, "");
  close(a);
  close(b);
  srv_stop();
}
END_TEST

START_TEST(closed_connection_is_skipped) {
  int a;
  srv_start();
  a = cli_with_sentinel();
  fault(
      "{\"actions\":[{\"do\":\"send\",\"conn\":7,\"frame\":{\"op\":\"PING\"}},"
      "{\"do\":\"close\",\"conn\":9}]}");
  ck_assert(obs_wait("ACTION c7 op=- rule=- action=skipped "
                     "detail=no such connection open",
                     T_WAIT_MS));
  ck_assert(obs_wait("ACTION c9 op=- rule=- action=skipped", T_WAIT_MS));
  close(a);
  srv_stop();
}
END_TEST

START_TEST(reset_all) {
  char buf[T_BUF];
  nm_peer_state_t st;
  int a, b;
  srv_start();
  a = cli_with_sentinel();
  b = cli_with_sentinel();
  fault("{\"actions\":[{\"do\":\"reset\",\"conn\":\"all\"}]}");
  nm_test_read(a, buf, sizeof(buf), NULL, T_WAIT_MS, 0, &st);
  ck_assert_int_eq(st, NM_PEER_RST);
  nm_test_read(b, buf, sizeof(buf), NULL, T_WAIT_MS, 0, &st);
  ck_assert_int_eq(st, NM_PEER_RST);
  close(a);
  close(b);
  srv_stop();
}
END_TEST

START_TEST(close_with_and_without_flush) {
  char buf[T_BUF];
  nm_peer_state_t st;
  int a, b;
  srv_start();
  a = cli_with_sentinel();
  b = cli_with_sentinel();
  /* Queued output (the sent frame) is written before the FIN ... */
  fault(
      "{\"actions\":[{\"do\":\"send\",\"conn\":1,\"frame\":{\"op\":\"PING\"}},"
      "{\"do\":\"close\",\"conn\":1}]}");
  nm_test_read(a, buf, sizeof(buf), NULL, T_WAIT_MS, 0, &st);
  ck_assert_int_eq(st, NM_PEER_EOF);
  ck_assert_str_eq(buf, "PING\r\n");
  /* ... or lost with "flush": false. */
  fault(
      "{\"actions\":[{\"do\":\"send\",\"conn\":2,\"frame\":{\"op\":\"PING\"}},"
      "{\"do\":\"close\",\"conn\":2,\"flush\":false}]}");
  nm_test_read(b, buf, sizeof(buf), NULL, T_WAIT_MS, 0, &st);
  ck_assert_int_eq(st, NM_PEER_EOF);
  ck_assert_str_eq(buf, "");
  close(a);
  close(b);
  srv_stop();
}
END_TEST

START_TEST(restart_keeping_connections) {
  char buf[T_BUF];
  int a, b;
  long long deadline;
  srv_start();
  a = cli_with_sentinel();
  fault("{\"actions\":[{\"do\":\"restart\",\"ms\":100,\"keep_conns\":true}]}");
  /* The old connection still works while the listener is down. */
  nm_test_send_str(a, SENTINEL);
  want(a, buf, sizeof(buf), SENTINEL_MSG);
  /* Retry a refused connect (bounded): there is no event to await for
   * "the port is open again". */
  deadline = nm_test_now_ms() + 5000;
  while ((b = nm_test_connect(g_port)) < 0 && nm_test_now_ms() < deadline)
    usleep(20000);
  ck_assert_int_ge(b, 0);
  close(b);
  close(a);
  srv_stop();
}
END_TEST

START_TEST(verb_lists_and_wildcards) {
  /* Drops MSG and HMSG on a.> only; "every" alone: the 2nd, 4th, ... */
  sentinel_case("{\"rules\":[{\"dir\":\"out\",\"verb\":[\"msg\",\"HMSG\"],"
                "\"subject\":\"a.>\",\"every\":2,\"action\":\"drop\"}]}",
                "SUB a.> 1\r\nSUB b 2\r\n"
                "PUB a.x 1\r\n1\r\nPUB a.y.z 1\r\n2\r\n"
                "HPUB a.x 12 13\r\nNATS/1.0\r\n\r\n3\r\n"
                "PUB a.x 1\r\n4\r\nPUB b 1\r\n5\r\nPUB b 1\r\n6\r\n",
                "MSG a.x 1 1\r\n1\r\n"
                "HMSG a.x 1 12 13\r\nNATS/1.0\r\n\r\n3\r\n"
                "MSG b 2 1\r\n5\r\nMSG b 2 1\r\n6\r\n" SENTINEL_MSG);
}
END_TEST

START_TEST(delay_zero_and_release_count) {
  char buf[T_BUF];
  int fd;
  fd = start_with_fault(
      "{\"rules\":[{\"dir\":\"out\",\"verb\":\"PONG\",\"limit\":1,"
      "\"action\":\"delay\",\"ordered\":false,\"ms\":0},{\"id\":\"h\",\"dir\":"
      "\"out\","
      "\"verb\":\"MSG\",\"subject\":\"q\",\"action\":\"hold\",\"ordered\":"
      "false}]}");
  /* A 0 ms delay that is not ordered still lets the frames after it
   * overtake. */
  nm_test_send_str(fd, "PING\r\n" SENTINEL);
  want(fd, buf, sizeof(buf), "PONG\r\n");
  ck_assert_str_eq(buf, SENTINEL_MSG "PONG\r\n");
  nm_test_send_str(fd, "SUB q 3\r\nPUB q 1\r\n1\r\nPUB q 1\r\n2\r\n"
                       "PUB q 1\r\n3\r\n" SENTINEL);
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  fault("{\"actions\":[{\"do\":\"release\",\"rule\":\"h\",\"count\":2}]}");
  want(fd, buf, sizeof(buf), "2\r\n");
  ck_assert_str_eq(buf, "MSG q 3 1\r\n1\r\nMSG q 3 1\r\n2\r\n");
  quiet(fd, buf, sizeof(buf));
  ck_assert_str_eq(buf, "");
  fault("{\"actions\":[{\"do\":\"release\",\"rule\":\"h\"}]}");
  want(fd, buf, sizeof(buf), "3\r\n");
  ck_assert_str_eq(buf, "MSG q 3 1\r\n3\r\n");
  close(fd);
  srv_stop();
}
END_TEST

int main(void) {
  Suite *s = suite_create("faults_conns");
  TCase *tc = tcase_create("conns");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, last_is_the_newest_open_connection);
  tcase_add_test(tc, closed_connection_is_skipped);
  tcase_add_test(tc, reset_all);
  tcase_add_test(tc, close_with_and_without_flush);
  tcase_add_test(tc, restart_keeping_connections);
  tcase_add_test(tc, verb_lists_and_wildcards);
  tcase_add_test(tc, delay_zero_and_release_count);
  suite_add_tcase(s, tc);
  return nm_test_run_suite(s, CK_NORMAL);
}
