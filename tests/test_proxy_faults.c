/* Every fault action through the proxy in front of a real nats-server
 * 2.9.10, with the same documents the mock takes: as rules hold (release,
 * release_ms, release_on), delay, drop, duplicate, split, coalesce, close,
 * reset, stall, blackhole; as direct actions send/send_raw/send INFO,
 * phantom publish, release, close (with and without flush), reset,
 * stall/resume, blackhole, refuse, restart (with and without keep_conns);
 * the rule fields name, nth, every, limit, per_conn, ordered, and the
 * triggers (after, then). dir "in" is client to server, "out" server to
 * client. */
#include <sys/socket.h>

#include "test_proxy_util.h"

/* The sentinel (test_wire_util.h): through the proxy, its MSG comes back
 * from the real server, a marker that everything before it was handled. */

static int start_with_fault(const char *doc) {
  int fd;
  px_start();
  fd = cli_with_sentinel();
  fault(doc);
  return fd;
}

START_TEST(hold_out_then_release) {
  char buf[T_BUF];
  int fd = start_with_fault(
      "{\"rules\":[{\"id\":\"h\",\"dir\":\"out\","
      "\"verb\":\"PONG\",\"action\":\"hold\",\"ordered\":false}]}");
  sentinel_exchange(fd, "PING\r\n", SENTINEL_MSG); /* the PONG is held */
  fault("{\"actions\":[{\"do\":\"release\",\"rule\":\"h\"}]}");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  ck_assert_str_eq(buf, "PONG\r\n");
  close(fd);
  px_stop();
}
END_TEST

START_TEST(hold_in_reaches_server_on_release) {
  char buf[T_BUF];
  int fd = start_with_fault(
      "{\"rules\":[{\"id\":\"h\",\"dir\":\"in\","
      "\"verb\":\"SUB\",\"action\":\"hold\",\"ordered\":false}]}");
  /* The server had no SUB late when the PUB came. */
  sentinel_exchange(fd, "SUB late 5\r\nPUB late 1\r\na\r\n", SENTINEL_MSG);
  fault("{\"actions\":[{\"do\":\"release\"}]}");
  nm_test_send_str(fd, "PUB late 1\r\nb\r\n");
  want(fd, buf, sizeof(buf), "MSG late 5 1\r\nb\r\n");
  close(fd);
  px_stop();
}
END_TEST

START_TEST(delay_out) {
  char buf[T_BUF];
  long long t0;
  int fd =
      start_with_fault("{\"rules\":[{\"dir\":\"out\",\"verb\":\"PONG\","
                       "\"action\":\"delay\",\"ordered\":false,\"ms\":250}]}");
  t0 = nm_test_now_ms();
  nm_test_send_str(fd, "PING\r\n" SENTINEL);
  want(fd, buf, sizeof(buf), "PONG\r\n");
  /* The later MSG overtook the delayed PONG. */
  ck_assert_str_eq(buf, SENTINEL_MSG "PONG\r\n");
  ck_assert_int_ge(nm_test_now_ms() - t0, 240);
  close(fd);
  px_stop();
}
END_TEST

START_TEST(drop_out_and_in) {
  char buf[T_BUF];
  int fd = start_with_fault(
      "{\"rules\":[{\"dir\":\"out\",\"verb\":\"MSG\",\"subject\":\"s\","
      "\"nth\":1,\"action\":\"drop\"},{\"dir\":\"in\",\"verb\":\"PING\","
      "\"nth\":1,\"action\":\"drop\"}]}");
  nm_test_send_str(fd, SENTINEL "PING\r\n" SENTINEL "PING\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  ck_assert_str_eq(buf, SENTINEL_MSG "PONG\r\n");
  ck_assert(obs_wait("action=drop", T_WAIT_MS));
  close(fd);
  px_stop();
}
END_TEST

/* A rule that names a client (CONNECT "name") acts on that client only. */
static int connect_named(const char *name) {
  char buf[4096], line[256];
  nm_peer_state_t st;
  int fd = nm_test_connect(g_port);
  ck_assert_int_ge(fd, 0);
  nm_test_read(fd, buf, sizeof(buf), "\r\n", T_WAIT_MS, 0, &st);
  snprintf(line, sizeof(line),
           "CONNECT {\"verbose\":false,\"name\":\"%s\"}\r\nPING\r\n", name);
  nm_test_send_str(fd, line);
  want(fd, buf, sizeof(buf), "PONG\r\n");
  return fd;
}

START_TEST(rule_selects_by_client_name) {
  char buf[T_BUF];
  nm_peer_state_t st;
  int a, b;
  px_start();
  a = connect_named("alpha");
  b = connect_named("beta");
  fault("{\"rules\":[{\"dir\":\"out\",\"verb\":\"PONG\",\"name\":\"beta\","
        "\"action\":\"drop\"}]}");
  nm_test_send_str(a, "PING\r\n");
  want(a, buf, sizeof(buf), "PONG\r\n");
  nm_test_send_str(b, "PING\r\n");
  quiet(b, buf, sizeof(buf));
  ck_assert_str_eq(buf, "");
  /* A direct action by name: beta closed, alpha untouched. */
  fault("{\"actions\":[{\"do\":\"close\",\"conn\":{\"name\":\"beta\"}}]}");
  nm_test_read(b, buf, sizeof(buf), NULL, T_WAIT_MS, 0, &st);
  ck_assert_int_eq(st, NM_PEER_EOF);
  nm_test_send_str(a, "PING\r\n");
  want(a, buf, sizeof(buf), "PONG\r\n");
  close(a);
  close(b);
  px_stop();
}
END_TEST

START_TEST(duplicate_both_ways) {
  int fd = start_with_fault(
      "{\"rules\":[{\"dir\":\"out\",\"verb\":\"PONG\",\"limit\":1,"
      "\"action\":\"duplicate\"},{\"dir\":\"in\",\"verb\":\"PUB\","
      "\"subject\":\"d\",\"action\":\"duplicate\"}]}");
  sentinel_exchange(fd, "PING\r\n", "PONG\r\nPONG\r\n" SENTINEL_MSG);
  /* The server gets the PUB twice. */
  sentinel_exchange(fd, "SUB d 3\r\nPUB d 1\r\nz\r\n",
                    "MSG d 3 1\r\nz\r\nMSG d 3 1\r\nz\r\n" SENTINEL_MSG);
  close(fd);
  px_stop();
}
END_TEST

START_TEST(split_out) {
  int fd = start_with_fault(
      "{\"rules\":[{\"id\":\"sp\",\"dir\":\"out\",\"verb\":\"MSG\","
      "\"subject\":\"x\",\"action\":\"split\",\"chunk\":1}]}");
  sentinel_exchange(fd, "SUB x 1\r\nPUB x 5\r\nhello\r\n",
                    "MSG x 1 5\r\nhello\r\n" SENTINEL_MSG);
  ck_assert(obs_wait("ACTION cl c1 op=MSG rule=sp action=split detail=18 "
                     "writes",
                     T_WAIT_MS));
  ck_assert_int_eq(obs_count("action=split-piece"), 18);
  close(fd);
  px_stop();
}
END_TEST

START_TEST(coalesce_out) {
  char buf[T_BUF];
  ssize_t n;
  struct pollfd pfd;
  int fd = start_with_fault("{\"rules\":[{\"dir\":\"out\",\"verb\":\"PONG\","
                            "\"limit\":1,\"action\":\"coalesce\"}]}");
  nm_test_send_str(fd, "PING\r\n");
  quiet(fd, buf, sizeof(buf));
  ck_assert_str_eq(buf, "");
  nm_test_send_str(fd, SENTINEL);
  pfd.fd = fd;
  pfd.events = POLLIN;
  ck_assert_int_eq(poll(&pfd, 1, T_WAIT_MS), 1);
  n = recv(fd, buf, sizeof(buf) - 1, 0);
  ck_assert_int_gt(n, 0);
  buf[n] = '\0';
  ck_assert_str_eq(buf, "PONG\r\n" SENTINEL_MSG); /* one write */
  close(fd);
  px_stop();
}
END_TEST

START_TEST(close_and_reset) {
  char buf[T_BUF];
  nm_peer_state_t st;
  int fd = start_with_fault(
      "{\"rules\":[{\"dir\":\"in\",\"verb\":\"UNSUB\",\"action\":\"close\"}]}");
  /* Unlike the mock, the server's answers to frames sent just before are
   * not written yet when the rule closes: wait for them first. */
  nm_test_send_str(fd, SENTINEL);
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  nm_test_send_str(fd, "UNSUB 99\r\n");
  nm_test_read(fd, buf, sizeof(buf), NULL, T_WAIT_MS, 0, &st);
  ck_assert_int_eq(st, NM_PEER_EOF);
  ck_assert_str_eq(buf, "");
  close(fd);
  fd = cli_with_sentinel();
  fault("{\"actions\":[{\"do\":\"reset\"}]}");
  nm_test_read(fd, buf, sizeof(buf), NULL, T_WAIT_MS, 0, &st);
  ck_assert_int_eq(st, NM_PEER_RST);
  close(fd);
  ck_assert(obs_wait("CLOSE cl c2 op=- rule=- action=- detail=fault: reset",
                     T_WAIT_MS));
  px_stop();
}
END_TEST

START_TEST(stall_then_resume) {
  char buf[T_BUF];
  int fd = start_with_fault(
      "{\"rules\":[{\"id\":\"stall\",\"dir\":\"in\",\"verb\":\"PUB\","
      "\"subject\":\"st\",\"limit\":1,\"action\":\"stall\"}]}");
  nm_test_send_str(fd, "SUB st 2\r\nPUB st 1\r\nq\r\nPING\r\n");
  ck_assert(obs_wait("rule=stall action=stall", T_WAIT_MS));
  quiet(fd, buf, sizeof(buf));
  ck_assert_str_eq(buf, "");
  fault("{\"actions\":[{\"do\":\"resume\"}]}");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  ck_assert_str_eq(buf, "MSG st 2 1\r\nq\r\nPONG\r\n");
  nm_test_send_str(fd, SENTINEL);
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  close(fd);
  px_stop();
}
END_TEST

START_TEST(blackhole_then_resume) {
  char buf[T_BUF];
  nm_peer_state_t st;
  int fd = start_with_fault("{\"actions\":[{\"do\":\"blackhole\"}]}");
  nm_test_send_str(fd, "PING\r\n");
  nm_test_read(fd, buf, sizeof(buf), NULL, 300, 0, &st);
  ck_assert_str_eq(buf, "");
  ck_assert_int_eq(st, NM_PEER_OPEN);
  fault("{\"actions\":[{\"do\":\"resume\"}]}");
  /* The PING waited in the socket; its PONG comes now. */
  want(fd, buf, sizeof(buf), "PONG\r\n");
  nm_test_send_str(fd, SENTINEL);
  want(fd, buf, sizeof(buf), SENTINEL_MSG);
  close(fd);
  px_stop();
}
END_TEST

START_TEST(send_raw_frames_and_info) {
  char buf[T_BUF];
  int fd = start_with_fault(
      "{\"actions\":[{\"do\":\"send_raw\",\"data\":\"PING\\r\\n\"},"
      "{\"do\":\"send\",\"frame\":{\"op\":\"MSG\",\"subject\":\"s\",\"sid\":"
      "\"99\",\"data\":\"fake\"}},{\"do\":\"send\",\"frame\":{\"op\":\"INFO\","
      "\"fields\":{\"ldm\":true}}}]}");
  want(fd, buf, sizeof(buf), " \r\n");
  ck_assert_msg(strncmp(buf, "PING\r\nMSG s 99 4\r\nfake\r\nINFO {", 30) == 0,
                "%s", buf);
  /* The INFO is the real server's with the field merged in. */
  ck_assert(strstr(buf, "\"version\":\"2.9.10\"") != NULL);
  ck_assert(strstr(buf, "\"ldm\":true") != NULL);
  close(fd);
  px_stop();
}
END_TEST

START_TEST(phantom_publish_reaches_subscribers) {
  char buf[T_BUF];
  int fd = start_with_fault(
      "{\"actions\":[{\"do\":\"publish\",\"subject\":\"s\",\"data\":\"p\","
      "\"count\":3}]}");
  want(fd, buf, sizeof(buf),
       "MSG s 99 1\r\np\r\nMSG s 99 1\r\np\r\nMSG s 99 "
       "1\r\np\r\n");
  close(fd);
  px_stop();
}
END_TEST

/* A client of nats-server itself (not through the proxy), subscribed to s
 * as sid 5. */
static int direct_sub(int port) {
  char buf[256];
  int fd = cli_connect_to(port, NULL, 0);
  nm_test_send_str(fd, "SUB s 5\r\nPING\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  return fd;
}

/* With no client frame being handled, the proxy publishes on its own
 * upstream connection (conn 0 on the upstream leg): a subscriber connected
 * to nats-server directly gets the messages even with no proxy client. */
START_TEST(phantom_publish_on_own_connection) {
  char buf[T_BUF];
  int direct;
  px_start();
  direct = direct_sub(g_ns.port);
  fault("{\"actions\":[{\"do\":\"publish\",\"subject\":\"s\",\"data\":"
        "\"q\",\"count\":2}]}");
  want(direct, buf, sizeof(buf), "MSG s 5 1\r\nq\r\nMSG s 5 1\r\nq\r\n");
  ck_assert(obs_wait("OUT up c0 op=- rule=- action=publish", T_WAIT_MS));
  ck_assert(obs_wait("IN up c0 op=INFO", T_WAIT_MS));
  ck_assert_int_eq(obs_count("OPEN cl"), 0); /* no client of the proxy */
  close(direct);
  px_stop(); /* closes it: the proxy's loop would not end otherwise */
}
END_TEST

/* A client that connected with "echo":false gets what a phantom publisher
 * sends to its subscriptions, and the answers to its $MOCK.* requests: both
 * go on the proxy's own connection (on its own, the server would not
 * deliver them to it). */
static int connect_no_echo(void) {
  char buf[4096];
  nm_peer_state_t st;
  int fd = nm_test_connect(g_port);
  ck_assert_int_ge(fd, 0);
  nm_test_read(fd, buf, sizeof(buf), "\r\n", T_WAIT_MS, 0, &st);
  nm_test_send_str(fd, "CONNECT {\"verbose\":false,\"echo\":false}\r\n"
                       "SUB s 99\r\nSUB _INBOX.e 4\r\nPING\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  return fd;
}

START_TEST(phantom_publish_reaches_a_no_echo_client) {
  static const char doc[] = "{\"actions\":[{\"do\":\"publish\",\"subject\":"
                            "\"s\",\"data\":\"e\"}]}";
  char buf[T_BUF], cmd[256];
  nm_peer_state_t st;
  int fd, i, pongs = 0;
  px_start();
  fd = connect_no_echo();
  snprintf(cmd, sizeof(cmd), "PUB $MOCK.fault _INBOX.e %zu\r\n%s\r\n",
           strlen(doc), doc);
  nm_test_send_str(fd, cmd);
  want(fd, buf, sizeof(buf), "MSG s 99 1\r\ne\r\n");
  if (strstr(buf, "MSG _INBOX.e 4 ") == NULL) /* the two may come apart */
    want(fd, buf, sizeof(buf), "MSG _INBOX.e 4 ");
  nm_test_send_str(fd, "PUB $MOCK.rules _INBOX.e 0\r\n\r\n");
  want(fd, buf, sizeof(buf), "{\"ok\":true,\"rules\":[]}");
  /* The SUB of a new inbox in the same write as the request (as a client's
   * first request goes), between PINGs of the client's own: the answer
   * still finds it, and the client gets its 2 PONGs, not the proxy's. */
  for (i = 0; i < 20; i++) {
    snprintf(cmd, sizeof(cmd),
             "PING\r\nSUB _INBOX.n%d %d\r\nPUB $MOCK.rules _INBOX.n%d 0\r\n"
             "\r\nPING\r\n",
             i, 100 + i, i);
    nm_test_send_str(fd, cmd);
    snprintf(cmd, sizeof(cmd), "MSG _INBOX.n%d %d ", i, 100 + i);
    want(fd, buf, sizeof(buf), cmd);
    pongs += count_of(buf, "PONG\r\n");
  }
  nm_test_send_str(fd, "PING\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  pongs += count_of(buf, "PONG\r\n");
  if (pongs < 41) { /* the last may still be on the way */
    nm_test_read(fd, buf, sizeof(buf), NULL, T_QUIET_MS, 0, &st);
    pongs += count_of(buf, "PONG\r\n");
  }
  ck_assert_int_eq(pongs, 41);
  /* Its own publishes still do not come back: echo is the server's. */
  nm_test_send_str(fd, SENTINEL "PING\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  ck_assert_str_eq(buf, "PONG\r\n");
  close(fd);
  px_stop();
}
END_TEST

/* The own connection answers the server's PINGs: against a server that
 * pings every 100 ms and gives up after 2 unanswered, it is still the same
 * connection a second later. */
START_TEST(own_connection_answers_pings) {
  nm_natsserver_t ns;
  nm_proxy_opts_t o;
  char up[64], buf[T_BUF];
  int direct;
  ck_assert_int_eq(
      nm_natsserver_start(&ns, "ping_interval: \"100ms\"\nping_max: 2\n", NULL),
      0);
  snprintf(up, sizeof(up), "nats://127.0.0.1:%d", ns.port);
  nm_proxy_opts_init(&o);
  o.upstream = up;
  px_start_opts(&o);
  direct = direct_sub(ns.port);
  fault("{\"actions\":[{\"do\":\"publish\",\"subject\":\"s\",\"data\":"
        "\"1\"}]}");
  want(direct, buf, sizeof(buf), "MSG s 5 1\r\n1\r\n");
  close(direct);
  /* Five PINGs (half a second) on the own connection. */
  ck_assert(obs_wait_count("IN up c0 op=PING", 5, 5000));
  /* A fresh subscriber (a raw one does not answer PINGs either). */
  direct = direct_sub(ns.port);
  fault("{\"actions\":[{\"do\":\"publish\",\"subject\":\"s\",\"data\":"
        "\"2\"}]}");
  want(direct, buf, sizeof(buf), "MSG s 5 1\r\n2\r\n");
  ck_assert_int_eq(obs_count("IN up c0 op=INFO"), 1);
  ck_assert_int_eq(obs_count("closed by the server"), 0);
  close(direct);
  px_stop();
  nm_natsserver_stop(&ns);
}
END_TEST

/* The rest of the actions and rule fields, through the proxy. */

/* Sends `send` and the sentinel: the sentinel's MSG comes first (the frame
 * the rule keeps is not in the way), `late` after, at least ms - 10 ms
 * later than the send. */
static void comes_late(int fd, const char *send, const char *late, int ms) {
  char buf[T_BUF];
  long long t0 = nm_test_now_ms();
  sentinel_exchange(fd, send, SENTINEL_MSG);
  want(fd, buf, sizeof(buf), late);
  ck_assert_int_ge(nm_test_now_ms() - t0, ms - 10);
}

START_TEST(delay_in) {
  int fd = start_with_fault(
      "{\"rules\":[{\"dir\":\"in\",\"verb\":\"PUB\",\"subject\":\"dl\","
      "\"action\":\"delay\",\"ordered\":false,\"ms\":250}]}");
  /* The server gets the PUB 250 ms late: the sentinel's MSG overtakes it. */
  comes_late(fd, "SUB dl 4\r\nPUB dl 1\r\nd\r\n", "MSG dl 4 1\r\nd\r\n", 250);
  close(fd);
  px_stop();
}
END_TEST

START_TEST(reset_and_blackhole_rules) {
  char buf[T_BUF];
  nm_peer_state_t st;
  int fd = start_with_fault(
      "{\"rules\":[{\"dir\":\"in\",\"verb\":\"PUB\",\"subject\":\"boom\","
      "\"action\":\"reset\"},{\"id\":\"bh\",\"dir\":\"out\",\"verb\":"
      "\"MSG\",\"subject\":\"dark\",\"action\":\"blackhole\"}]}");
  nm_test_send_str(fd, "PUB boom 0\r\n\r\n");
  nm_test_read(fd, buf, sizeof(buf), NULL, T_WAIT_MS, 0, &st);
  ck_assert_int_eq(st, NM_PEER_RST);
  close(fd);
  /* The MSG on dark and all after it are discarded; the socket stays. */
  fd = cli_with_sentinel();
  nm_test_send_str(fd, "SUB dark 2\r\nPUB dark 1\r\nx\r\n" SENTINEL);
  ck_assert(obs_wait("rule=bh action=blackhole", T_WAIT_MS));
  nm_test_read(fd, buf, sizeof(buf), NULL, T_QUIET_MS, 0, &st);
  ck_assert_str_eq(buf, "");
  ck_assert_int_eq(st, NM_PEER_OPEN);
  fault("{\"remove\":[\"bh\"],\"actions\":[{\"do\":\"resume\"}]}");
  sentinel_exchange(fd, "", SENTINEL_MSG);
  close(fd);
  px_stop();
}
END_TEST

START_TEST(direct_stall_and_close_without_flush) {
  char buf[T_BUF];
  nm_peer_state_t st;
  int fd = start_with_fault("{\"actions\":[{\"do\":\"stall\"}]}");
  nm_test_send_str(fd, "PING\r\n");
  quiet(fd, buf, sizeof(buf));
  ck_assert_str_eq(buf, "");
  fault("{\"actions\":[{\"do\":\"resume\"}]}");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  fault("{\"actions\":[{\"do\":\"close\",\"flush\":false}]}");
  nm_test_read(fd, buf, sizeof(buf), NULL, T_WAIT_MS, 0, &st);
  ck_assert_int_eq(st, NM_PEER_EOF);
  close(fd);
  px_stop();
}
END_TEST

/* every 3, counted on each connection: a sends 2 PINGs (none dropped),
 * then b sends 4 (its 3rd dropped). Counted over both, the 3rd PONG (b's
 * first) and the 6th would go. */
START_TEST(every_per_conn) {
  char buf[T_BUF];
  int a, b;
  px_start();
  a = cli_with_sentinel();
  b = cli_connect(); /* its marker: a MSG on its own subject t */
  fault("{\"rules\":[{\"dir\":\"out\",\"verb\":\"PONG\",\"every\":3,"
        "\"per_conn\":true,\"action\":\"drop\"}]}");
  sentinel_exchange(a, "PING\r\nPING\r\n", "PONG\r\nPONG\r\n" SENTINEL_MSG);
  nm_test_send_str(b, "SUB t 7\r\nPING\r\nPING\r\nPING\r\nPING\r\nPUB t 1\r\n"
                      "y\r\n");
  want(b, buf, sizeof(buf), "MSG t 7 1\r\ny\r\n");
  ck_assert_str_eq(buf, "PONG\r\nPONG\r\nPONG\r\nMSG t 7 1\r\ny\r\n");
  close(a);
  close(b);
  px_stop();
}
END_TEST

START_TEST(hold_release_ms_and_release_on) {
  char buf[T_BUF];
  int fd = start_with_fault(
      "{\"rules\":[{\"id\":\"rm\",\"dir\":\"out\",\"verb\":\"PONG\","
      "\"limit\":1,\"action\":\"hold\",\"ordered\":false,"
      "\"release_ms\":250}]}");
  comes_late(fd, "PING\r\n", "PONG\r\n", 250);
  /* Held until the client publishes on "go". */
  fault("{\"clear\":true,\"rules\":[{\"dir\":\"out\",\"verb\":\"PONG\","
        "\"action\":\"hold\",\"ordered\":false,\"release_on\":{\"dir\":"
        "\"in\",\"verb\":\"PUB\",\"subject\":\"go\"}}]}");
  sentinel_exchange(fd, "PING\r\n", SENTINEL_MSG);
  nm_test_send_str(fd, "PUB go 0\r\n\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  ck_assert(obs_wait("release_on matched: 1 frame(s)", T_WAIT_MS));
  close(fd);
  px_stop();
}
END_TEST

START_TEST(restart_keeping_connections) {
  long long t0;
  int fd, fd2 = -1;
  px_start();
  fd = cli_with_sentinel();
  t0 = nm_test_now_ms();
  fault("{\"actions\":[{\"do\":\"restart\",\"ms\":300,\"keep_conns\":"
        "true}]}");
  /* The open client keeps working while the listener is down. */
  sentinel_exchange(fd, "PING\r\n", "PONG\r\n" SENTINEL_MSG);
  ck_assert_int_lt(nm_test_now_ms() - t0, 280);
  ck_assert_int_lt(nm_test_connect(g_port), 0);
  /* Back within its bound (no event to await: retried). */
  while (nm_test_now_ms() - t0 < 5000 && (fd2 = nm_test_connect(g_port)) < 0)
    usleep(20000);
  ck_assert_int_ge(fd2, 0);
  close(fd2);
  close(fd);
  px_stop();
}
END_TEST

START_TEST(refuse_k) {
  char buf[T_BUF];
  nm_peer_state_t st;
  int i, fd;
  px_start();
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
  px_stop();
}
END_TEST

START_TEST(restart_listener) {
  px_start();
  check_restart_listener(fault);
  px_stop();
}
END_TEST

START_TEST(after_trigger_and_then) {
  char buf[T_BUF];
  /* Once the client UNSUBs sid 99, hold... and "then" makes the proxy send
   * a made-up MSG right after the server's PONG. */
  int fd = start_with_fault(
      "{\"rules\":[{\"dir\":\"out\",\"verb\":\"PONG\",\"after\":{\"dir\":"
      "\"in\",\"verb\":\"UNSUB\"},\"action\":\"pass\",\"limit\":1,\"then\":"
      "[{\"do\":\"send\",\"frame\":{\"op\":\"MSG\",\"subject\":\"s\",\"sid\":"
      "\"99\",\"data\":\"late\"}}]}]}");
  nm_test_send_str(fd, "PING\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  ck_assert_str_eq(buf, "PONG\r\n"); /* not armed yet */
  nm_test_send_str(fd, "UNSUB 99\r\nPING\r\n");
  want(fd, buf, sizeof(buf), "late\r\n");
  ck_assert_str_eq(buf, "PONG\r\nMSG s 99 4\r\nlate\r\n");
  ck_assert(obs_wait("action=armed", T_WAIT_MS));
  close(fd);
  px_stop();
}
END_TEST

START_TEST(faults_file_at_start) {
  char dir[] = "/tmp/nm-proxy-XXXXXX", path[300], buf[T_BUF];
  nm_proxy_opts_t o;
  int fd;
  ck_assert_ptr_nonnull(mkdtemp(dir));
  ck_assert_int_eq(
      nm_test_write_file(dir, "r.json",
                         "{\"rules\":[{\"dir\":\"out\",\"verb\":\"PONG\","
                         "\"nth\":2,\"action\":\"drop\"}]}"),
      0);
  snprintf(path, sizeof(path), "%s/r.json", dir);
  nm_proxy_opts_init(&o);
  o.faults_file = path;
  px_start_opts(&o);
  fd = cli_connect(); /* PONG 1 passes */
  nm_test_send_str(fd, "PING\r\n");
  quiet(fd, buf, sizeof(buf));
  ck_assert_str_eq(buf, "");
  nm_test_send_str(fd, "PING\r\n");
  want(fd, buf, sizeof(buf), "PONG\r\n");
  close(fd);
  px_stop();
  unlink(path);
  rmdir(dir);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("proxy_faults");
  TCase *tc = tcase_create("actions");
  tcase_add_unchecked_fixture(tc, ns_up, ns_down);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, hold_out_then_release);
  tcase_add_test(tc, hold_in_reaches_server_on_release);
  tcase_add_test(tc, delay_out);
  tcase_add_test(tc, drop_out_and_in);
  tcase_add_test(tc, rule_selects_by_client_name);
  tcase_add_test(tc, duplicate_both_ways);
  tcase_add_test(tc, split_out);
  tcase_add_test(tc, coalesce_out);
  tcase_add_test(tc, close_and_reset);
  tcase_add_test(tc, stall_then_resume);
  tcase_add_test(tc, blackhole_then_resume);
  tcase_add_test(tc, send_raw_frames_and_info);
  tcase_add_test(tc, phantom_publish_reaches_subscribers);
  tcase_add_test(tc, phantom_publish_on_own_connection);
  tcase_add_test(tc, phantom_publish_reaches_a_no_echo_client);
  tcase_add_test(tc, own_connection_answers_pings);
  tcase_add_test(tc, delay_in);
  tcase_add_test(tc, reset_and_blackhole_rules);
  tcase_add_test(tc, direct_stall_and_close_without_flush);
  tcase_add_test(tc, every_per_conn);
  tcase_add_test(tc, hold_release_ms_and_release_on);
  tcase_add_test(tc, restart_keeping_connections);
  tcase_add_test(tc, refuse_k);
  tcase_add_test(tc, restart_listener);
  tcase_add_test(tc, after_trigger_and_then);
  tcase_add_test(tc, faults_file_at_start);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  return nm_test_run_suite(suite(), CK_NORMAL);
}
