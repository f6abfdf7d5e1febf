/* Fault engine: timers and lifetimes (delayed inbound frames, delayed frames
 * of a connection that closes or of a server that stops), inbound hold and
 * duplicate, the then-nesting cap, and rules loaded from a --faults file at
 * start. Run under ASan these also prove that nothing leaks. */
#include "test_faults_util.h"

START_TEST(delay_inbound_ping) {
  char buf[T_BUF];
  long long t0, dt;
  int fd;
  fd = start_with_fault(
      "{\"rules\":[{\"dir\":\"in\",\"verb\":\"PING\",\"limit\":1,"
      "\"action\":\"delay\",\"ordered\":false,\"ms\":200}]}");
  t0 = nm_test_now_ms();
  /* The PING is handled 200 ms late; the PUB after it overtakes. */
  nm_test_send_str(fd, "PING\r\n" SENTINEL);
  want(fd, buf, sizeof(buf), "PONG\r\n");
  dt = nm_test_now_ms() - t0;
  ck_assert_str_eq(buf, SENTINEL_MSG "PONG\r\n");
  ck_assert_msg(dt >= 180 && dt < 2000, "PONG after %lld ms", dt);
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(delayed_frames_dropped_on_close_and_stop) {
  char buf[T_BUF];
  int fd, fd2;
  srv_start();
  fd = cli_with_sentinel();
  fd2 = cli_with_sentinel();
  fault("{\"rules\":[{\"dir\":\"out\",\"verb\":\"PONG\","
        "\"action\":\"delay\",\"ordered\":false,\"ms\":400},{\"dir\":\"in\","
        "\"verb\":\"PUB\","
        "\"subject\":\"never\",\"action\":\"delay\",\"ordered\":false,\"ms\":"
        "60000}]}");
  nm_test_send_str(fd, "PING\r\nPING\r\nPUB never 1\r\nq\r\n" SENTINEL);
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  close(fd);
  ck_assert(obs_wait("CLOSE c1", T_WAIT_MS));
  /* Its timers fire into nothing (the 400 ms one) or are cancelled. */
  nm_test_send_str(fd2, "PING\r\n");
  want(fd2, buf, sizeof(buf), "PONG\r\n");
  /* The second connection still has a 60 s frame pending at stop. */
  nm_test_send_str(fd2, "PUB never 1\r\nq\r\n");
  ck_assert(obs_wait("ACTION c2 op=PUB rule=r2 action=delay", T_WAIT_MS));
  srv_stop();
  close(fd2);
}
END_TEST

START_TEST(hold_inbound_ping_until_release) {
  char buf[T_BUF];
  int fd;
  fd = start_with_fault(
      "{\"rules\":[{\"id\":\"hp\",\"dir\":\"in\",\"verb\":\"PING\","
      "\"action\":\"hold\",\"ordered\":false}]}");
  nm_test_send_str(fd, "PING\r\nPING\r\n" SENTINEL);
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  ck_assert_str_eq(buf, SENTINEL_MSG);
  fault("{\"actions\":[{\"do\":\"release\",\"rule\":\"hp\",\"count\":1}]}");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  ck_assert_str_eq(buf, "PONG\r\n");
  fault("{\"actions\":[{\"do\":\"release\"}]}");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  ck_assert_str_eq(buf, "PONG\r\n");
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(duplicate_inbound_pub) {
  sentinel_case(
      "{\"rules\":[{\"dir\":\"in\",\"verb\":\"PUB\",\"subject\":\"d\","
      "\"action\":\"duplicate\"}]}",
      "SUB d 3\r\nPUB d 2\r\nab\r\n",
      "MSG d 3 2\r\nab\r\nMSG d 3 2\r\nab\r\n" SENTINEL_MSG);
}
END_TEST

START_TEST(then_nesting_is_capped) {
  char buf[T_BUF];
  int fd;
  srv_start();
  fd = cli_with_sentinel();
  /* Each MSG on "loop" publishes another: a chain the cap must cut. */
  fault(
      "{\"rules\":[{\"dir\":\"out\",\"verb\":\"MSG\",\"subject\":\"loop\","
      "\"then\":[{\"do\":\"publish\",\"subject\":\"loop\",\"data\":\"x\"}]}]}");
  nm_test_send_str(fd, "SUB loop 7\r\nPUB loop 1\r\nx\r\n" SENTINEL);
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  ck_assert_int_eq(count_of(buf, "MSG loop 7 1\r\nx\r\n"), 9);
  ck_assert(obs_wait("nested too deep", T_WAIT_MS));
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(coalesced_frame_released) {
  char buf[T_BUF];
  int fd;
  fd = start_with_fault(
      "{\"rules\":[{\"id\":\"co\",\"dir\":\"out\",\"verb\":\"PONG\","
      "\"limit\":1,\"action\":\"coalesce\"}]}");
  nm_test_send_str(fd, "PING\r\n");
  ck_assert(obs_wait("rule=co action=coalesce", T_WAIT_MS));
  fault("{\"actions\":[{\"do\":\"release\",\"rule\":\"co\"}]}");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  ck_assert_str_eq(buf, "PONG\r\n");
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(faults_file_at_start) {
  char path[] = "/tmp/nm-faults-XXXXXX";
  char buf[T_BUF];
  nm_server_opts_t o;
  FILE *fp;
  int fd, tmp;
  tmp = mkstemp(path);
  ck_assert_int_ge(tmp, 0);
  fp = fdopen(tmp, "w");
  fputs("{\"rules\":[{\"id\":\"first-pong\",\"dir\":\"out\",\"verb\":\"PONG\","
        "\"nth\":2,\"action\":\"drop\"}]}\n",
        fp);
  fclose(fp);
  nm_server_opts_init(&o);
  o.faults_file = path;
  srv_start_opts(&o);
  unlink(path);
  /* The handshake PONG is the first; the second is dropped. */
  fd = cli_connect();
  nm_test_send_str(fd, "SUB s 99\r\nPING\r\nPING\r\n" SENTINEL);
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  ck_assert_str_eq(buf, "PONG\r\n" SENTINEL_MSG);
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(faults_file_bad_fails_start) {
  char path[] = "/tmp/nm-faults-XXXXXX";
  nm_server_opts_t o;
  nm_server_t *s = NULL;
  FILE *fp;
  int tmp = mkstemp(path);
  ck_assert_int_ge(tmp, 0);
  fp = fdopen(tmp, "w");
  fputs("{\"rules\":[{\"dir\":\"nowhere\"}]}", fp);
  fclose(fp);
  nm_server_opts_init(&o);
  o.port = 0;
  o.faults_file = path;
  ck_assert_int_ne(nm_server_start_thread(&o, &s), 0);
  unlink(path);
}
END_TEST

/* Writes by the engine that overflow max_pending close the connection as
 * a slow consumer in the middle of the engine's work (flushing a coalesced
 * frame, releasing held frames): the engine must not touch the freed
 * per-connection state. The client sees the close. */
START_TEST(slow_consumer_close_during_engine_writes) {
  char buf[T_BUF];
  nm_server_opts_t o;
  nm_peer_state_t st;
  int fd;
  nm_server_opts_init(&o);
  o.max_pending = 2048;
  srv_start_opts(&o);
  fd = cli_with_sentinel();
  nm_test_send_str(fd, "SUB big 5\r\nPING\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  fault("{\"rules\":[{\"dir\":\"out\",\"verb\":\"PONG\",\"limit\":1,"
        "\"action\":\"coalesce\"},{\"id\":\"hb\",\"dir\":\"out\","
        "\"verb\":\"MSG\",\"subject\":\"big\",\"action\":\"hold\"}]}");
  nm_test_send_str(fd, "PING\r\n");
  ck_assert(obs_wait("action=coalesce", T_WAIT_MS));
  fault("{\"actions\":[{\"do\":\"publish\",\"subject\":\"big\","
        "\"count\":4,\"size\":1500}]}");
  ck_assert(obs_wait("detail=held (4 kept on conn)", T_WAIT_MS));
  /* Releasing 6000 bytes at once: the first write already passes 2048. */
  fault("{\"actions\":[{\"do\":\"release\",\"rule\":\"hb\"}]}");
  nm_test_read(fd, buf, sizeof(buf), NULL, T_WAIT_MS, 0, &st);
  ck_assert_int_ne(st, NM_PEER_OPEN);
  ck_assert(obs_wait("CLOSE c1", T_WAIT_MS));
  close(fd);
  srv_stop();
}
END_TEST

Suite *faults_timing_suite(void) {
  Suite *s = suite_create("faults_timing");
  TCase *tc = tcase_create("timing");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, delay_inbound_ping);
  tcase_add_test(tc, delayed_frames_dropped_on_close_and_stop);
  tcase_add_test(tc, hold_inbound_ping_until_release);
  tcase_add_test(tc, duplicate_inbound_pub);
  tcase_add_test(tc, then_nesting_is_capped);
  tcase_add_test(tc, coalesced_frame_released);
  tcase_add_test(tc, slow_consumer_close_during_engine_writes);
  tcase_add_test(tc, faults_file_at_start);
  tcase_add_test(tc, faults_file_bad_fails_start);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return nm_test_run_suite(faults_timing_suite(), CK_NORMAL);
}
