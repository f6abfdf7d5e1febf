/* The fault engine's actions on real sockets: a natsmock server on its own
 * thread, raw clients, documents applied from the test thread. Where a test
 * needs "the server has handled everything sent so far" it publishes to its
 * own subscription ("SUB s 99" + "PUB s 1") and waits for that MSG: output is
 * FIFO per connection, so what should have come before it has. */
#include "test_faults_util.h"

START_TEST(hold_pong_then_release) {
  char buf[T_BUF];
  int fd;
  fd = start_with_fault(
      "{\"rules\":[{\"id\":\"hp\",\"dir\":\"out\",\"verb\":\"PONG\","
      "\"limit\":1,\"action\":\"hold\",\"ordered\":false}]}");
  /* The PONG is held while later frames (the sentinel MSG) still flow. */
  nm_test_send_str(fd, "PING\r\n" SENTINEL);
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  ck_assert_ptr_null(strstr(buf, "PONG"));
  quiet(fd, buf, sizeof(buf));
  ck_assert_ptr_null(strstr(buf, "PONG"));
  fault("{\"actions\":[{\"do\":\"release\",\"rule\":\"hp\"}]}");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  ck_assert_str_eq(buf, "PONG\r\n");
  ck_assert(obs_wait("ACTION c1 op=PONG rule=hp action=hold", T_WAIT_MS));
  ck_assert(obs_wait("OUT c1 op=PONG rule=hp action=release", T_WAIT_MS));
  /* Limit 1: the next PONG is not held. */
  nm_test_send_str(fd, "PING\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(hold_in_order_and_dropped_on_close) {
  char buf[T_BUF];
  int fd, fd2;
  fd = start_with_fault(
      "{\"rules\":[{\"id\":\"hm\",\"dir\":\"out\",\"verb\":\"MSG\","
      "\"subject\":\"h\",\"action\":\"hold\",\"ordered\":false}]}");
  nm_test_send_str(fd, "SUB h 1\r\nPUB h 1\r\na\r\nPUB h 1\r\nb\r\n"
                       "PUB h 1\r\nc\r\n" SENTINEL);
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  ck_assert_ptr_null(strstr(buf, "MSG h"));
  fault("{\"actions\":[{\"do\":\"release\"}]}");
  want(fd, buf, sizeof(buf), "c\r\n");
  ck_assert_str_eq(buf,
                   "MSG h 1 1\r\na\r\nMSG h 1 1\r\nb\r\nMSG h 1 1\r\nc\r\n");
  /* Held frames of a closed connection are dropped, not written anywhere. */
  nm_test_send_str(fd, "PUB h 1\r\nd\r\n" SENTINEL);
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  close(fd);
  fd2 = cli_with_sentinel();
  ck_assert(obs_wait("CLOSE c1", T_WAIT_MS));
  fault("{\"actions\":[{\"do\":\"release\"}]}");
  nm_test_send_str(fd2, SENTINEL);
  want(fd2, buf, sizeof(buf), SENTINEL_MSG);
  ck_assert_ptr_null(strstr(buf, "MSG h"));
  close(fd2);
  srv_stop();
}
END_TEST

START_TEST(drop_nth_pong) {
  char buf[T_BUF];
  int fd;
  fd = start_with_fault(
      "{\"rules\":[{\"dir\":\"out\",\"verb\":\"PONG\",\"nth\":2,"
      "\"action\":\"drop\"}]}");
  nm_test_send_str(fd, "PING\r\nPING\r\nPING\r\nPING\r\n" SENTINEL);
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  ck_assert_int_eq(count_of(buf, "PONG\r\n"), 3);
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(drop_inbound_ping) {
  char buf[T_BUF];
  int fd;
  fd = start_with_fault(
      "{\"rules\":[{\"dir\":\"in\",\"verb\":\"PING\",\"limit\":1,"
      "\"action\":\"drop\"}]}");
  nm_test_send_str(fd, "PING\r\n" SENTINEL "PING\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  /* The dropped PING was never seen: the only PONG follows the sentinel. */
  ck_assert_str_eq(buf, SENTINEL_MSG "PONG\r\n");
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(every_and_limit) {
  char buf[T_BUF];
  int fd;
  srv_start();
  fd = cli_with_sentinel();
  /* every 2: PONG 2, 4, 6 dropped; limit 2 stops after two drops. */
  fault("{\"rules\":[{\"dir\":\"out\",\"verb\":\"PONG\",\"every\":2,"
        "\"limit\":2,\"action\":\"drop\"}]}");
  nm_test_send_str(fd,
                   "PING\r\nPING\r\nPING\r\nPING\r\nPING\r\nPING\r\n" SENTINEL);
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  ck_assert_int_eq(count_of(buf, "PONG\r\n"), 4);
  /* nth + every: frames 2, 5, 8 of this rule. */
  fault("{\"clear\":true,\"rules\":[{\"dir\":\"out\",\"verb\":\"PONG\","
        "\"nth\":2,\"every\":3,\"action\":\"drop\"}]}");
  nm_test_send_str(fd, "PING\r\nPING\r\nPING\r\nPING\r\nPING\r\nPING\r\n"
                       "PING\r\nPING\r\n" SENTINEL);
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  ck_assert_int_eq(count_of(buf, "PONG\r\n"), 5);
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(per_conn_counting) {
  char buf[T_BUF];
  int a, b;
  srv_start();
  /* The 2nd PONG of every connection is dropped (the 1st answers the
   * handshake); the trigger and its count are per connection too. */
  fault("{\"rules\":[{\"dir\":\"out\",\"verb\":\"PONG\",\"nth\":2,"
        "\"per_conn\":true,\"action\":\"drop\"},"
        "{\"id\":\"t\",\"dir\":\"out\",\"verb\":\"MSG\",\"per_conn\":true,"
        "\"limit\":1,\"action\":\"drop\",\"after\":{\"dir\":\"in\","
        "\"verb\":\"UNSUB\"}}]}");
  a = cli_connect();
  b = cli_connect();
  /* Each connection has its own sentinel subject, so neither sees the
   * other's. */
  nm_test_send_str(a, "SUB s 99\r\nPING\r\nPING\r\n" SENTINEL);
  want(a, buf, sizeof(buf), SENTINEL_MSG);
  ck_assert_str_eq(buf, "PONG\r\n" SENTINEL_MSG);
  nm_test_send_str(b, "SUB b 9\r\nPING\r\nPING\r\nPUB b 1\r\nz\r\n");
  want(b, buf, sizeof(buf), "MSG b 9 1\r\nz\r\n");
  ck_assert_str_eq(buf, "PONG\r\nMSG b 9 1\r\nz\r\n");
  /* Only a's trigger fired: a's next MSG is dropped, b's is not. */
  nm_test_send_str(a, "UNSUB 7\r\n" SENTINEL SENTINEL);
  want(a, buf, sizeof(buf), SENTINEL_MSG);
  quiet(a, buf + strlen(buf), sizeof(buf) - strlen(buf));
  ck_assert_str_eq(buf, SENTINEL_MSG);
  nm_test_send_str(b, "PUB b 1\r\nz\r\n");
  want(b, buf, sizeof(buf), "MSG b 9 1\r\nz\r\n");
  close(a);
  close(b);
  srv_stop();
}
END_TEST

START_TEST(delay_later_frames_overtake) {
  char buf[T_BUF];
  long long t0, dt;
  int fd;
  fd = start_with_fault(
      "{\"rules\":[{\"dir\":\"out\",\"verb\":\"PONG\",\"limit\":1,"
      "\"action\":\"delay\",\"ordered\":false,\"ms\":300}]}");
  t0 = nm_test_now_ms();
  nm_test_send_str(fd, "PING\r\n" SENTINEL);
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  ck_assert_str_eq(buf, SENTINEL_MSG);
  want(fd, buf, sizeof(buf), "PONG\r\n");
  dt = nm_test_now_ms() - t0;
  ck_assert_msg(dt >= 280 && dt < 2000, "PONG after %lld ms", dt);
  ck_assert(obs_wait("OUT c1 op=PONG rule=r1 action=delay", T_WAIT_MS));
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(duplicate_pong) {
  sentinel_case("{\"rules\":[{\"dir\":\"out\",\"verb\":\"PONG\",\"limit\":1,"
                "\"action\":\"duplicate\"}]}",
                "PING\r\n", "PONG\r\nPONG\r\n" SENTINEL_MSG);
}
END_TEST

START_TEST(split_one_byte) {
  char buf[T_BUF];
  int fd;
  fd = start_with_fault(
      "{\"rules\":[{\"id\":\"sp\",\"dir\":\"out\",\"verb\":\"MSG\","
      "\"subject\":\"x\",\"action\":\"split\",\"chunk\":1}]}");
  nm_test_send_str(fd, "SUB x 1\r\nPUB x 5\r\nhello\r\n" SENTINEL);
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  ck_assert_str_eq(buf, "MSG x 1 5\r\nhello\r\n" SENTINEL_MSG);
  /* 18 bytes, one write each; reported once as a whole frame. */
  ck_assert(obs_wait("ACTION c1 op=MSG rule=sp action=split detail=18 writes",
                     T_WAIT_MS));
  ck_assert(obs_wait("OUT c1 op=MSG rule=sp action=split detail=- bytes=18",
                     T_WAIT_MS));
  /* Seeded random cuts: 3 cuts, 4 writes, same bytes. */
  fault("{\"clear\":true,\"rules\":[{\"id\":\"sc\",\"dir\":\"out\","
        "\"verb\":\"MSG\",\"subject\":\"x\",\"action\":\"split\",\"cuts\":3,"
        "\"seed\":7}]}");
  nm_test_send_str(fd, "PUB x 5\r\nworld\r\n" SENTINEL);
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  ck_assert_str_eq(buf, "MSG x 1 5\r\nworld\r\n" SENTINEL_MSG);
  ck_assert(obs_wait("rule=sc action=split detail=4 writes", T_WAIT_MS));
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(coalesce_pong_with_next_msg) {
  char buf[T_BUF];
  ssize_t n;
  int fd;
  fd = start_with_fault(
      "{\"rules\":[{\"dir\":\"out\",\"verb\":\"PONG\",\"limit\":1,"
      "\"action\":\"coalesce\"}]}");
  nm_test_send_str(fd, "PING\r\n");
  quiet(fd, buf, sizeof(buf));
  ck_assert_str_eq(buf, "");
  nm_test_send_str(fd, SENTINEL);
  /* One write: the first recv gets both frames. */
  ck_assert(wait_readable(fd));
  n = recv(fd, buf, sizeof(buf) - 1, 0);
  ck_assert_int_gt(n, 0);
  buf[n] = '\0';
  ck_assert_str_eq(buf, "PONG\r\n" SENTINEL_MSG);
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(coalesce_pong_with_sent_info) {
  char buf[T_BUF];
  int fd;
  fd = start_with_fault(
      "{\"rules\":[{\"dir\":\"out\",\"verb\":\"PONG\",\"limit\":1,"
      "\"action\":\"coalesce\"}]}");
  nm_test_send_str(fd, "PING\r\n");
  ck_assert(obs_wait("action=coalesce", T_WAIT_MS));
  fault("{\"actions\":[{\"do\":\"send\",\"frame\":{\"op\":\"INFO\","
        "\"fields\":{\"ldm\":true}}}]}");
  want(fd, buf, sizeof(buf), " \r\n");
  ck_assert_msg(strncmp(buf, "PONG\r\nINFO {", 12) == 0, "%s", buf);
  ck_assert_ptr_nonnull(strstr(buf, "\"ldm\":true"));
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(close_rule_on_unsub_is_fin) {
  char buf[T_BUF];
  nm_peer_state_t st;
  int fd;
  fd = start_with_fault(
      "{\"rules\":[{\"dir\":\"in\",\"verb\":\"UNSUB\",\"action\":\"close\"}]}");
  nm_test_send_str(fd, SENTINEL "UNSUB 99\r\n");
  nm_test_read(fd, buf, sizeof(buf), NULL, T_WAIT_MS, 0, &st);
  ck_assert_int_eq(st, NM_PEER_EOF);
  /* Output queued before the close is written first. */
  ck_assert_str_eq(buf, SENTINEL_MSG);
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(reset_gives_econnreset) {
  char buf[T_BUF];
  nm_peer_state_t st;
  int fd;
  fd = start_with_fault("{\"actions\":[{\"do\":\"reset\"}]}");
  nm_test_read(fd, buf, sizeof(buf), NULL, T_WAIT_MS, 0, &st);
  ck_assert_int_eq(st, NM_PEER_RST);
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(reset_rule_on_nth_msg) {
  char buf[T_BUF];
  nm_peer_state_t st;
  int fd;
  fd = start_with_fault(
      "{\"rules\":[{\"dir\":\"out\",\"verb\":\"MSG\",\"nth\":2,"
      "\"action\":\"reset\"}]}");
  nm_test_send_str(fd, SENTINEL SENTINEL);
  nm_test_read(fd, buf, sizeof(buf), NULL, T_WAIT_MS, 0, &st);
  ck_assert_int_eq(st, NM_PEER_RST);
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(stall_then_resume) {
  char buf[T_BUF];
  int fd;
  srv_start();
  fd = cli_with_sentinel();
  /* The server stops reading at the first PUB to "st": it and the PING
   * after it wait; on resume they are handled in order. */
  fault("{\"rules\":[{\"id\":\"stall\",\"dir\":\"in\",\"verb\":\"PUB\","
        "\"subject\":\"st\",\"limit\":1,\"action\":\"stall\"}]}");
  nm_test_send_str(fd, "SUB st 2\r\nPUB st 1\r\nq\r\nPING\r\n");
  ck_assert(obs_wait("rule=stall action=stall", T_WAIT_MS));
  quiet(fd, buf, sizeof(buf));
  ck_assert_str_eq(buf, "");
  fault("{\"actions\":[{\"do\":\"resume\"}]}");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  ck_assert_str_eq(buf, "MSG st 2 1\r\nq\r\nPONG\r\n");
  /* Reading really resumed. */
  nm_test_send_str(fd, SENTINEL);
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(blackhole_keeps_socket) {
  char buf[T_BUF];
  nm_peer_state_t st;
  int fd;
  fd = start_with_fault("{\"actions\":[{\"do\":\"blackhole\"}]}");
  nm_test_send_str(fd, "PING\r\n" SENTINEL);
  nm_test_read(fd, buf, sizeof(buf), NULL, 300, 0, &st);
  ck_assert_str_eq(buf, "");
  ck_assert_int_eq(st, NM_PEER_OPEN);
  /* Output to it (a phantom publish) is discarded too. */
  fault("{\"actions\":[{\"do\":\"publish\",\"subject\":\"s\",\"data\":\"y\"},"
        "{\"do\":\"resume\"}]}");
  /* What the client sent meanwhile waited in the socket (TCP keeps it) and
   * is read now; what the server wrote meanwhile is gone. */
  nm_test_send_str(fd, "PING\r\n");
  want(fd, buf, sizeof(buf), SENTINEL_MSG "PONG\r\n");
  ck_assert_str_eq(buf, "PONG\r\n" SENTINEL_MSG "PONG\r\n");
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(after_trigger_hold_inbound_unsub) {
  char buf[T_BUF];
  int fd;
  srv_start();
  fd = cli_with_sentinel();
  /* Armed by the SUB of sid 5; then holds its UNSUB, so delivery goes on. */
  fault("{\"rules\":[{\"id\":\"hu\",\"dir\":\"in\",\"verb\":\"UNSUB\","
        "\"sid\":\"5\",\"action\":\"hold\",\"ordered\":false,"
        "\"after\":{\"dir\":\"in\",\"verb\":\"SUB\",\"sid\":5}}]}");
  nm_test_send_str(fd, "SUB u 5\r\nUNSUB 5\r\nPUB u 1\r\nm\r\n" SENTINEL);
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  ck_assert_str_eq(buf, "MSG u 5 1\r\nm\r\n" SENTINEL_MSG);
  ck_assert(obs_wait("ACTION c1 op=SUB rule=hu action=armed", T_WAIT_MS));
  fault("{\"actions\":[{\"do\":\"release\",\"rule\":\"hu\"}]}");
  nm_test_send_str(fd, "PUB u 1\r\nm\r\n" SENTINEL);
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  ck_assert_str_eq(buf, SENTINEL_MSG);
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(then_sends_after_unsub) {
  char buf[T_BUF];
  int fd;
  fd = start_with_fault(
      "{\"rules\":[{\"dir\":\"in\",\"verb\":\"UNSUB\",\"sid\":\"1\","
      "\"limit\":1,\"then\":["
      "{\"do\":\"send\",\"frame\":{\"op\":\"MSG\",\"subject\":\"w\","
      "\"sid\":\"1\",\"data\":\"late1\"}},"
      "{\"do\":\"send\",\"frame\":{\"op\":\"MSG\",\"subject\":\"w\","
      "\"sid\":\"1\",\"data\":\"late2\"}},"
      "{\"do\":\"send\",\"frame\":{\"op\":\"MSG\",\"subject\":\"w\","
      "\"sid\":\"1\",\"data\":\"late3\"}}]}]}");
  nm_test_send_str(fd, "SUB w 1\r\nUNSUB 1\r\n");
  want(fd, buf, sizeof(buf), "late3\r\n");
  ck_assert_str_eq(buf, "MSG w 1 5\r\nlate1\r\nMSG w 1 5\r\nlate2\r\n"
                        "MSG w 1 5\r\nlate3\r\n");
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(then_runs_before_inbound_frame_is_handled) {
  /* A pass rule on an inbound UNSUB: its then-actions run when the server
   * has received the UNSUB but not yet handled it, so the phantom publish
   * still reaches sid 1; the UNSUB is handled right after. */
  sentinel_case("{\"rules\":[{\"dir\":\"in\",\"verb\":\"UNSUB\",\"sid\":\"1\","
                "\"limit\":1,\"action\":\"pass\",\"then\":[{\"do\":\"publish\","
                "\"subject\":\"w\",\"count\":2}]}]}",
                "SUB w 1\r\nUNSUB 1\r\nPUB w 1\r\nx\r\n",
                "MSG w 1 1\r\n1\r\nMSG w 1 1\r\n2\r\n" SENTINEL_MSG);
}
END_TEST

START_TEST(then_follows_outbound_frame) {
  char buf[T_BUF];
  int fd;
  srv_start();
  fd = cli_with_sentinel();
  /* "After the PONG that answers the first PING after UNSUB, send a MSG":
   * the MSG comes right after that PONG on the wire. */
  fault("{\"rules\":[{\"dir\":\"out\",\"verb\":\"PONG\",\"limit\":1,"
        "\"after\":{\"dir\":\"in\",\"verb\":\"UNSUB\"},\"then\":[{\"do\":"
        "\"send\",\"frame\":{\"op\":\"MSG\",\"subject\":\"w\",\"sid\":\"1\","
        "\"data\":\"99\"}}]}]}");
  nm_test_send_str(fd, "PING\r\nSUB w 1\r\nUNSUB 1\r\nPING\r\n" SENTINEL
                       "PING\r\n");
  want(fd, buf, sizeof(buf), SENTINEL_MSG "PONG\r\n");
  ck_assert_str_eq(buf, "PONG\r\nPONG\r\nMSG w 1 2\r\n99\r\n" SENTINEL_MSG
                        "PONG\r\n");
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(then_publish_while_unsub_held) {
  char buf[T_BUF];
  int fd;
  srv_start();
  fd = cli_with_sentinel();
  /* The recipe from docs/faults.md: real MSGs straddle the UNSUB. */
  fault("{\"rules\":[{\"id\":\"un\",\"dir\":\"in\",\"verb\":\"UNSUB\","
        "\"sid\":\"1\",\"limit\":1,\"action\":\"hold\",\"then\":["
        "{\"do\":\"publish\",\"subject\":\"w\",\"count\":3},"
        "{\"do\":\"release\",\"rule\":\"un\"}]}]}");
  nm_test_send_str(fd, "SUB w 1\r\nUNSUB 1\r\nPUB w 1\r\nx\r\n" SENTINEL);
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  ck_assert_str_eq(
      buf,
      "MSG w 1 1\r\n1\r\nMSG w 1 1\r\n2\r\nMSG w 1 1\r\n3\r\n" SENTINEL_MSG);
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(send_frames_and_raw) {
  char buf[T_BUF];
  int fd;
  fd = start_with_fault(
      "{\"actions\":["
      "{\"do\":\"send_raw\",\"data\":\"PING\\r\\nPO\"},"
      "{\"do\":\"send_raw\",\"data_b64\":\"TkcNCg==\"},"
      "{\"do\":\"send\",\"frame\":{\"op\":\"MSG\",\"subject\":\"a\","
      "\"sid\":\"3\",\"reply\":\"r.1\",\"data\":\"hi\"}},"
      "{\"do\":\"send\",\"frame\":{\"op\":\"HMSG\",\"subject\":\"_INBOX.x\","
      "\"sid\":\"1\",\"status\":\"503\"}},"
      "{\"do\":\"send\",\"frame\":{\"op\":\"HMSG\",\"subject\":\"h\","
      "\"sid\":\"2\",\"headers\":{\"A\":[\"b\",\"c\"]},\"data\":\"x\"}},"
      "{\"do\":\"send\",\"frame\":{\"op\":\"ERR\",\"text\":\"Stale "
      "Connection\"}},"
      "{\"do\":\"send\",\"frame\":{\"op\":\"OK\"}},"
      "{\"do\":\"send\",\"frame\":{\"op\":\"PONG\"}}]}");
  want(fd, buf, sizeof(buf), "+OK\r\nPONG\r\n");
  ck_assert_str_eq(buf,
                   "PING\r\nPONG\r\n"
                   "MSG a 3 r.1 2\r\nhi\r\n"
                   "HMSG _INBOX.x 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"
                   "HMSG h 2 24 25\r\nNATS/1.0\r\nA: b\r\nA: c\r\n\r\nx\r\n"
                   "-ERR 'Stale Connection'\r\n+OK\r\nPONG\r\n");
  ck_assert(obs_wait("OUT c1 op=MSG rule=- action=send", T_WAIT_MS));
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(send_info_with_fields) {
  char buf[T_BUF];
  int fd;
  fd = start_with_fault(
      "{\"actions\":[{\"do\":\"send\",\"frame\":{\"op\":\"INFO\","
      "\"fields\":{\"ldm\":true,\"connect_urls\":[\"127.0.0.1:4333\"],"
      "\"max_payload\":10}}}]}");
  want(fd, buf, sizeof(buf), " \r\n");
  ck_assert_msg(strncmp(buf, "INFO {", 6) == 0, "%s", buf);
  ck_assert_ptr_nonnull(strstr(buf, "\"server_id\""));
  ck_assert_ptr_nonnull(strstr(buf, "\"ldm\":true"));
  ck_assert_ptr_nonnull(strstr(buf, "\"connect_urls\":[\"127.0.0.1:4333\"]"));
  ck_assert_ptr_nonnull(strstr(buf, "\"max_payload\":10"));
  ck_assert_ptr_null(strstr(buf, "\"max_payload\":1048576"));
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(send_to_all_and_by_id) {
  char buf[T_BUF];
  int a, b;
  srv_start();
  a = cli_with_sentinel();
  b = cli_with_sentinel();
  fault("{\"actions\":[{\"do\":\"send\",\"conn\":\"all\",\"frame\":{\"op\":"
        "\"PING\"}},{\"do\":\"send_raw\",\"conn\":1,\"data\":\"+OK\\r\\n\"},"
        "{\"do\":\"send_raw\",\"data\":\"-ERR 'x'\\r\\n\"}]}");
  want(a, buf, sizeof(buf), "+OK\r\n");
  ck_assert_str_eq(buf, "PING\r\n+OK\r\n");
  want(b, buf, sizeof(buf), "-ERR 'x'\r\n");
  ck_assert_str_eq(buf, "PING\r\n-ERR 'x'\r\n");
  close(a);
  close(b);
  srv_stop();
}
END_TEST

START_TEST(phantom_publish_sequenced) {
  char buf[T_BUF];
  int fd;
  srv_start();
  fd = cli_with_sentinel();
  nm_test_send_str(fd, "SUB p.* 4\r\n" SENTINEL);
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  fault("{\"actions\":[{\"do\":\"publish\",\"subject\":\"p.x\",\"count\":3,"
        "\"size\":4},{\"do\":\"publish\",\"subject\":\"p.y\",\"reply\":\"r\","
        "\"count\":2,\"start\":10},{\"do\":\"publish\",\"subject\":\"p.z\","
        "\"data\":\"abc\",\"headers\":{\"K\":\"v\"}}]}");
  want(fd, buf, sizeof(buf), "abc\r\n");
  ck_assert_str_eq(buf, "MSG p.x 4 4\r\n1...\r\nMSG p.x 4 4\r\n2...\r\n"
                        "MSG p.x 4 4\r\n3...\r\nMSG p.y 4 r 2\r\n10\r\n"
                        "MSG p.y 4 r 2\r\n11\r\n"
                        "HMSG p.z 4 18 21\r\nNATS/1.0\r\nK: v\r\n\r\nabc\r\n");
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(refuse_k) {
  char buf[T_BUF];
  nm_peer_state_t st;
  int i, fd;
  srv_start();
  fault("{\"actions\":[{\"do\":\"refuse\",\"count\":2}]}");
  for (i = 0; i < 2; i++) {
    fd = nm_test_connect(g_port);
    ck_assert_int_ge(fd, 0);
    nm_test_read(fd, buf, sizeof(buf), NULL, T_WAIT_MS, 0, &st);
    ck_assert_msg(st != NM_PEER_OPEN, "connection %d not refused", i);
    ck_assert_str_eq(buf, "");
    close(fd);
  }
  fd = cli_connect();
  close(fd);
  srv_stop();
}
END_TEST

START_TEST(restart_listener) {
  srv_start();
  check_restart_listener(fault);
  srv_stop();
}
END_TEST

Suite *faults_actions_suite(void) {
  Suite *s = suite_create("faults_actions");
  TCase *tc = tcase_create("actions");
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, hold_pong_then_release);
  tcase_add_test(tc, hold_in_order_and_dropped_on_close);
  tcase_add_test(tc, drop_nth_pong);
  tcase_add_test(tc, drop_inbound_ping);
  tcase_add_test(tc, every_and_limit);
  tcase_add_test(tc, per_conn_counting);
  tcase_add_test(tc, delay_later_frames_overtake);
  tcase_add_test(tc, duplicate_pong);
  tcase_add_test(tc, split_one_byte);
  tcase_add_test(tc, coalesce_pong_with_next_msg);
  tcase_add_test(tc, coalesce_pong_with_sent_info);
  tcase_add_test(tc, close_rule_on_unsub_is_fin);
  tcase_add_test(tc, reset_gives_econnreset);
  tcase_add_test(tc, reset_rule_on_nth_msg);
  tcase_add_test(tc, stall_then_resume);
  tcase_add_test(tc, blackhole_keeps_socket);
  tcase_add_test(tc, after_trigger_hold_inbound_unsub);
  tcase_add_test(tc, then_sends_after_unsub);
  tcase_add_test(tc, then_runs_before_inbound_frame_is_handled);
  tcase_add_test(tc, then_follows_outbound_frame);
  tcase_add_test(tc, then_publish_while_unsub_held);
  tcase_add_test(tc, send_frames_and_raw);
  tcase_add_test(tc, send_info_with_fields);
  tcase_add_test(tc, send_to_all_and_by_id);
  tcase_add_test(tc, phantom_publish_sequenced);
  tcase_add_test(tc, refuse_k);
  tcase_add_test(tc, restart_listener);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return nm_test_run_suite(faults_actions_suite(), CK_NORMAL);
}
