/* raw_switches: natsmock-driver-raw against a hand-driven fake server (a
 * plain socket in this test). For each "misbehave" switch, loop index 0 runs
 * the driver without it and checks the correct behaviour on the wire; index
 * 1 turns the switch on and checks that exactly that promise breaks. So the
 * raw driver is shown to be a correct minimal client, and each switch a
 * controlled bug for the harness's invariants to catch.
 *
 *   raw_switches PATH-TO-natsmock-driver-raw */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dc_session.h"
#include "nm_test_util.h"

#define STEP_MS 3000
#define QUIET_MS 250
/* Bytes one fake-server connection records. */
#define WIRE_MAX (64 * 1024)

static const char kInfo[] =
    "INFO {\"server_id\":\"FAKE\",\"server_name\":\"FAKE\",\"version\":"
    "\"2.9.10\",\"proto\":1,\"go\":\"go1.19.8\",\"host\":\"127.0.0.1\","
    "\"port\":4222,\"headers\":true,\"max_payload\":1048576,\"client_id\":1,"
    "\"client_ip\":\"127.0.0.1\"} \r\n";

typedef struct {
  int fd;
  char wire[WIRE_MAX + 1]; /* everything the driver wrote, NUL-terminated */
  size_t len;
  int eof;
} peer_t;

static int lfd = -1, lport;
static dc_session_t S;
static peer_t P;

static void fs_listen(void) {
  struct sockaddr_in sa;
  socklen_t sl = sizeof(sa);
  int one = 1;
  lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ck_assert(lfd >= 0);
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = 0; /* ephemeral */
  ck_assert(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
  ck_assert(listen(lfd, 4) == 0);
  ck_assert(getsockname(lfd, (struct sockaddr *)&sa, &sl) == 0);
  lport = ntohs(sa.sin_port);
}

static void fs_accept(peer_t *p) {
  struct pollfd pf = {.fd = lfd, .events = POLLIN};
  memset(p, 0, sizeof(*p));
  ck_assert_msg(poll(&pf, 1, STEP_MS) == 1, "the driver did not connect");
  p->fd = accept(lfd, NULL, NULL);
  ck_assert(p->fd >= 0);
}

/* Reads for up to ms; returns the bytes added. */
static size_t fs_read(peer_t *p, int ms) {
  long long deadline = nm_test_now_ms() + ms;
  size_t before = p->len;
  for (;;) {
    long long left = deadline - nm_test_now_ms();
    struct pollfd pf = {.fd = p->fd, .events = POLLIN};
    ssize_t r;
    if (left <= 0 || p->eof || poll(&pf, 1, (int)left) <= 0)
      break;
    r = read(p->fd, p->wire + p->len, WIRE_MAX - p->len);
    if (r <= 0) {
      p->eof = 1;
      break;
    }
    p->len += (size_t)r;
    p->wire[p->len] = '\0';
    if (ms == 0)
      break;
  }
  return p->len - before;
}

/* Waits until the wire from `from` on contains needle; returns its offset. */
static size_t fs_wait(peer_t *p, size_t from, const char *needle) {
  long long deadline = nm_test_now_ms() + STEP_MS;
  char *at;
  while ((at = strstr(p->wire + from, needle)) == NULL &&
         nm_test_now_ms() < deadline && !p->eof)
    fs_read(p, 20);
  ck_assert_msg(at != NULL, "wire: no \"%s\" in \"%s\"", needle,
                p->wire + from);
  return (size_t)(at - p->wire);
}

static void fs_send(peer_t *p, const char *s) {
  ck_assert(nm_test_send_str(p->fd, s) == 0);
}

static void setup(void) {
  fs_listen();
  ck_assert_msg(dc_start(&S) == 0, "driver: %s", S.problem);
  P.fd = -1;
}

static void teardown(void) {
  dc_free(&S);
  if (P.fd >= 0)
    close(P.fd);
  close(lfd);
}

#define CLEAN() ck_assert_msg(S.problem[0] == '\0', "%s", S.problem)

static int64_t sendf(const char *json) {
  int64_t id = dc_send(&S, json);
  ck_assert(id > 0);
  return id;
}

static void expect_ok(int64_t id) {
  const cJSON *r = dc_reply(&S, id, STEP_MS);
  CLEAN();
  ck_assert_msg(dc_is_ok(r), "id %lld: %s", (long long)id, dc_show(r));
}

/* No reply to id yet, after a quiet period. */
static void expect_pending(int64_t id) {
  dc_drain_output(&S, QUIET_MS);
  CLEAN();
  ck_assert_msg(dc_reply_index(&S, id) < 0, "id %lld answered too early: %s",
                (long long)id, dc_show(S.lines[dc_reply_index(&S, id)]));
}

/* Connects the driver (with the misbehave switch when on), answers the
 * handshake, and expects connect's ok. */
static void connect_with(const char *sw, int on, const char *extra) {
  char cmd[512];
  int64_t id;
  snprintf(cmd, sizeof(cmd),
           "{\"op\":\"connect\",\"servers\":[\"nats://127.0.0.1:%d\"]%s%s%s%s}",
           lport, on ? ",\"misbehave\":[\"" : "", on ? sw : "", on ? "\"]" : "",
           extra != NULL ? extra : "");
  id = sendf(cmd);
  fs_accept(&P);
  fs_send(&P, kInfo);
  fs_wait(&P, 0,
          "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,"
          "\"protocol\":1}\r\nPING\r\n");
  /* The handshake waits for the PONG. */
  expect_pending(id);
  fs_send(&P, "PONG\r\n");
  expect_ok(id);
}

static void finish(void) {
  ck_assert_msg(dc_exit(&S) == 0, "exit: %s", S.problem);
}

START_TEST(test_handshake_off_and_send) {
  int64_t id = sendf("{\"op\":\"connect\",\"servers\":[\"127.0.0.1:0\"],"
                     "\"handshake\":false}");
  char cmd[256];
  (void)id;
  /* Port 0 is refused: an err. */
  ck_assert(!dc_is_ok(dc_reply(&S, id, STEP_MS)));
  snprintf(cmd, sizeof(cmd),
           "{\"op\":\"connect\",\"servers\":[\"nats://127.0.0.1:%d\"],"
           "\"handshake\":false}",
           lport);
  id = sendf(cmd);
  fs_accept(&P);
  expect_ok(id);
  ck_assert_msg(fs_read(&P, QUIET_MS) == 0, "handshake false sent \"%s\"",
                P.wire);
  /* send writes the bytes as given, odd ones included. */
  expect_ok(sendf("{\"op\":\"send\",\"data_b64\":\"UElORw0KAP8=\"}"));
  fs_read(&P, QUIET_MS);
  ck_assert_msg(P.len == 8 && memcmp(P.wire, "PING\r\n\0\xff", 8) == 0,
                "send wrote %zu bytes", P.len);
  /* Every frame received is reported. */
  fs_send(&P, "PONG\r\n");
  {
    int from = 0;
    const cJSON *f = dc_wait(&S, &from, dc_is_ev, "frame", STEP_MS);
    ck_assert_msg(f != NULL && strcmp(dc_str(f, "verb"), "PONG") == 0 &&
                      strcmp(dc_str(f, "line"), "PONG") == 0,
                  "frame event: %s", dc_show(f));
  }
  finish();
}
END_TEST

START_TEST(test_flush_ok_early) {
  int64_t id;
  size_t at;
  connect_with("flush_ok_early", _i, NULL);
  at = P.len;
  id = sendf("{\"op\":\"flush\",\"timeout_ms\":2000}");
  fs_wait(&P, at, "PING\r\n");
  if (_i) {
    expect_ok(id); /* the bug: ok with no PONG */
  } else {
    expect_pending(id);
    fs_send(&P, "PONG\r\n");
    expect_ok(id);
  }
  finish();
}
END_TEST

/* A flush: its PING reaches the wire after `at`, the PONG answers it. */
static void flush_answered(size_t at) {
  int64_t id = sendf("{\"op\":\"flush\"}");
  fs_wait(&P, at, "PING\r\n");
  fs_send(&P, "PONG\r\n");
  expect_ok(id);
}

/* The payloads of the PUB frames on the wire, in order, e.g. "2143". */
static void pub_order(const peer_t *p, size_t from, char *out, size_t cap) {
  const char *s = p->wire + from;
  size_t n = 0;
  while ((s = strstr(s, "PUB x 1\r\n")) != NULL && n + 1 < cap) {
    out[n++] = s[9];
    s += 10;
  }
  out[n] = '\0';
}

START_TEST(test_reorder_publish) {
  char order[16];
  size_t at;
  connect_with("reorder_publish", _i, NULL);
  at = P.len;
  expect_ok(sendf("{\"op\":\"publish\",\"subject\":\"x\",\"count\":4}"));
  flush_answered(at);
  pub_order(&P, at, order, sizeof(order));
  ck_assert_str_eq(order, _i ? "2143" : "1234");
  finish();
}
END_TEST

START_TEST(test_drop_publish) {
  char order[16];
  size_t at;
  connect_with("drop_publish", _i, NULL);
  at = P.len;
  expect_ok(sendf("{\"op\":\"publish\",\"subject\":\"x\",\"count\":4}"));
  flush_answered(at);
  pub_order(&P, at, order, sizeof(order));
  ck_assert_str_eq(order, _i ? "124" : "1234");
  finish();
}
END_TEST

START_TEST(test_hold_lone_publish) {
  size_t at;
  connect_with("hold_lone_publish", _i, NULL);
  at = P.len;
  expect_ok(sendf("{\"op\":\"publish\",\"subject\":\"x\",\"data\":\"1\"}"));
  fs_read(&P, QUIET_MS);
  if (_i) {
    ck_assert_msg(strstr(P.wire + at, "PUB") == NULL, "held PUB was sent");
    sendf("{\"op\":\"flush\"}");
    /* The next command releases it, ahead of its own frames. */
    ck_assert_uint_eq(fs_wait(&P, at, "PUB x 1\r\n1\r\n"), at);
    fs_wait(&P, at, "PING");
  } else {
    ck_assert_msg(strstr(P.wire + at, "PUB x 1\r\n1\r\n") != NULL,
                  "a lone publish must go out without a flush");
  }
  finish();
}
END_TEST

START_TEST(test_ignore_server_ping) {
  size_t at;
  connect_with("ignore_server_ping", _i, NULL);
  at = P.len;
  fs_send(&P, "PING\r\n");
  fs_read(&P, QUIET_MS);
  if (_i)
    ck_assert_msg(strstr(P.wire + at, "PONG") == NULL, "answered PING");
  else
    fs_wait(&P, at, "PONG\r\n");
  finish();
}
END_TEST

START_TEST(test_drain_early) {
  dc_msg_match_t after = {"msg", "s", 2};
  int64_t id;
  size_t at;
  connect_with("drain_early", _i, NULL);
  expect_ok(sendf("{\"op\":\"subscribe\",\"sub\":\"s\",\"subject\":\"w\"}"));
  at = fs_wait(&P, 0, "SUB w 1\r\n");
  id = sendf("{\"op\":\"drain_sub\",\"sub\":\"s\",\"timeout_ms\":2000}");
  fs_wait(&P, at, "UNSUB 1\r\nPING\r\n");
  if (_i) {
    expect_ok(id); /* the bug: ok before the PONG */
  } else {
    expect_pending(id);
    /* A MSG the server sent before it saw the UNSUB is still handled. */
    fs_send(&P, "MSG w 1 1\r\n1\r\nPONG\r\n");
    expect_ok(id);
    ck_assert(dc_find(&S, 0, dc_is_msg, &(dc_msg_match_t){"msg", "s", 1}) <
              dc_reply_index(&S, id));
  }
  /* After the drain's ok nothing more may be handled. */
  fs_send(&P, "MSG w 1 1\r\n2\r\n");
  dc_drain_output(&S, QUIET_MS);
  CLEAN();
  if (_i)
    ck_assert_msg(dc_find(&S, 0, dc_is_msg, &after) > dc_reply_index(&S, id),
                  "drain_early: a message handled after the drain's ok");
  else
    ck_assert_msg(dc_find(&S, 0, dc_is_msg, &after) < 0,
                  "a message handled after the drain completed");
  finish();
}
END_TEST

START_TEST(test_deliver_after_unsub) {
  dc_msg_match_t m = {"msg", "s", 7};
  connect_with("deliver_after_unsub", _i, NULL);
  expect_ok(sendf("{\"op\":\"subscribe\",\"sub\":\"s\",\"subject\":\"w\"}"));
  expect_ok(sendf("{\"op\":\"unsubscribe\",\"sub\":\"s\"}"));
  fs_wait(&P, 0, "UNSUB 1\r\n");
  fs_send(&P, "MSG w 1 1\r\n7\r\n");
  dc_drain_output(&S, QUIET_MS);
  CLEAN();
  ck_assert_msg((dc_find(&S, 0, dc_is_msg, &m) >= 0) == _i,
                "a MSG after UNSUB: delivered %d, want %d",
                dc_find(&S, 0, dc_is_msg, &m) >= 0, _i);
  finish();
}
END_TEST

START_TEST(test_no_connect_first_on_reconnect) {
  peer_t second;
  int from = 0;
  connect_with("no_connect_first_on_reconnect", _i,
               ",\"reconnect\":true,\"reconnect_wait_ms\":20");
  expect_ok(sendf("{\"op\":\"subscribe\",\"sub\":\"s\",\"subject\":\"w\"}"));
  fs_wait(&P, 0, "SUB w 1\r\n");
  close(P.fd);
  P.fd = -1;
  fs_accept(&second);
  fs_send(&second, kInfo);
  fs_wait(&second, 0, "PING\r\n");
  if (_i) {
    ck_assert_msg(strncmp(second.wire, "SUB w 1\r\n", 9) == 0,
                  "switch on: SUB first, got \"%s\"", second.wire);
    fs_send(&second, "PONG\r\n");
  } else {
    /* CONNECT and PING, and nothing else until the handshake's PONG; then
     * the subscription again. */
    ck_assert_msg(strncmp(second.wire, "CONNECT ", 8) == 0 &&
                      strstr(second.wire, "SUB") == NULL,
                  "CONNECT first, alone: \"%s\"", second.wire);
    fs_send(&second, "PONG\r\n");
    fs_wait(&second, 0, "SUB w 1\r\n");
  }
  ck_assert_msg(dc_wait(&S, &from, dc_is_ev, "reconnected", STEP_MS) != NULL,
                "no reconnected event");
  close(second.fd);
  CLEAN();
  finish();
}
END_TEST

START_TEST(test_closed_twice) {
  connect_with("closed_twice", _i, NULL);
  expect_ok(sendf("{\"op\":\"close\"}"));
  dc_drain_output(&S, QUIET_MS);
  CLEAN();
  ck_assert_int_eq(dc_count(&S, "closed", NULL), _i ? 2 : 1);
  finish();
}
END_TEST

static Suite *raw_suite(void) {
  Suite *s = suite_create("raw_switches");
  TCase *tc = tcase_create("switches");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 20);
  tcase_add_test(tc, test_handshake_off_and_send);
  tcase_add_loop_test(tc, test_flush_ok_early, 0, 2);
  tcase_add_loop_test(tc, test_reorder_publish, 0, 2);
  tcase_add_loop_test(tc, test_drop_publish, 0, 2);
  tcase_add_loop_test(tc, test_hold_lone_publish, 0, 2);
  tcase_add_loop_test(tc, test_ignore_server_ping, 0, 2);
  tcase_add_loop_test(tc, test_drain_early, 0, 2);
  tcase_add_loop_test(tc, test_deliver_after_unsub, 0, 2);
  tcase_add_loop_test(tc, test_no_connect_first_on_reconnect, 0, 2);
  tcase_add_loop_test(tc, test_closed_twice, 0, 2);
  suite_add_tcase(s, tc);
  return s;
}

int main(int argc, char **argv) {
  SRunner *sr;
  int failed;
  if (argc < 2) {
    fprintf(stderr, "usage: raw_switches PATH-TO-natsmock-driver-raw\n");
    return 2;
  }
  dc_driver_argv = argv + 1;
  sr = srunner_create(raw_suite());
  srunner_run_all(sr, CK_ENV);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? 0 : 1;
}
