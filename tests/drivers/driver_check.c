/* driver_check: plays DRIVER-PROTOCOL.md against a driver program, with a
 * real nats-server 2.9.10 on an ephemeral port, and checks every reply and
 * event (shape, ids, ok/err, msg fields, seq, msg_done order). Commands
 * whose feature the driver's hello does not list are skipped.
 *
 *   driver_check DRIVER [ARGS...]     (or NM_DRIVER="cmd args" driver_check)
 *
 * Each test case is a Check test (forked): its own server, its own driver
 * process, a deadline on every step. */
#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dc_session.h"
#include "nm_test_util.h"

/* Deadline for a reply that needs only a loopback round trip. */
#define STEP_MS 3000
/* Quiet period for checks that something does not happen. */
#define QUIET_MS 300

static nm_natsserver_t ns;
static dc_session_t S;
static char url[64];

static void start_server(nm_natsserver_t *srv, const char *const *args, char *u,
                         size_t cap) {
  ck_assert_msg(nm_natsserver_start(srv, NULL, args) == 0,
                "cannot start nats-server");
  snprintf(u, cap, "nats://127.0.0.1:%d", srv->port);
}

static void setup(void) {
  start_server(&ns, NULL, url, sizeof(url));
  ck_assert_msg(dc_start(&S) == 0, "driver start: %s", S.problem);
}

static void teardown(void) {
  dc_free(&S);
  nm_natsserver_stop(&ns);
}

#define CLEAN(s) ck_assert_msg((s)->problem[0] == '\0', "%s", (s)->problem)

/* Sends a printf-formatted command; returns its id. */
static int64_t sendf(dc_session_t *s, const char *fmt, ...) {
  char buf[2048];
  va_list ap;
  int64_t id;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  id = dc_send(s, buf);
  ck_assert_msg(id > 0, "cannot send %s", buf);
  return id;
}

static const cJSON *expect_ok(dc_session_t *s, int64_t id, int ms) {
  const cJSON *r = dc_reply(s, id, ms);
  CLEAN(s);
  ck_assert_msg(r != NULL, "no reply to id %lld within %d ms", (long long)id,
                ms);
  ck_assert_msg(dc_is_ok(r), "expected ok, got %s", dc_show(r));
  return r;
}

/* code NULL: any code. */
static const cJSON *expect_err(dc_session_t *s, int64_t id, int ms,
                               const char *code) {
  const cJSON *r = dc_reply(s, id, ms);
  const char *c;
  CLEAN(s);
  ck_assert_msg(r != NULL, "no reply to id %lld within %d ms", (long long)id,
                ms);
  ck_assert_msg(!dc_is_ok(r), "expected err, got %s", dc_show(r));
  c = dc_str(r, "code");
  if (code != NULL)
    ck_assert_msg(c != NULL && strcmp(c, code) == 0, "expected code %s: %s",
                  code, dc_show(r));
  return r;
}

static void connect_to(dc_session_t *s, const char *u) {
  expect_ok(s, sendf(s, "{\"op\":\"connect\",\"servers\":[\"%s\"]}", u), 5000);
}

static const cJSON *wait_msg(dc_session_t *s, const char *sub, int64_t seq,
                             int ms) {
  dc_msg_match_t m = {"msg", sub, seq};
  int from = 0;
  const cJSON *l = dc_wait(s, &from, dc_is_msg, &m, ms);
  CLEAN(s);
  ck_assert_msg(l != NULL, "no msg for sub %s seq %lld within %d ms", sub,
                (long long)seq, ms);
  return l;
}

/* Waits until `n` msg events for sub have arrived. */
static void wait_msgs(dc_session_t *s, const char *sub, int n, int ms) {
  long long deadline = nm_test_now_ms() + ms;
  while (dc_count(s, "msg", sub) < n && nm_test_now_ms() < deadline)
    dc_drain_output(s, 20);
  CLEAN(s);
  ck_assert_msg(dc_count(s, "msg", sub) >= n, "sub %s: %d msgs of %d in %d ms",
                sub, dc_count(s, "msg", sub), n, ms);
}

/* Publishes from an independent raw connection and waits for its PONG, so
 * the server has routed the message when this returns. */
static void raw_pub(int port, const char *subject, const char *payload) {
  char buf[512];
  nm_peer_state_t st;
  int fd = nm_test_connect(port);
  ck_assert_msg(fd >= 0, "raw publisher cannot connect");
  snprintf(buf, sizeof(buf),
           "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n"
           "PUB %s %zu\r\n%s\r\nPING\r\n",
           subject, strlen(payload), payload);
  ck_assert(nm_test_send_str(fd, buf) == 0);
  nm_test_read(fd, buf, sizeof(buf), "PONG", STEP_MS, 0, &st);
  close(fd);
  ck_assert_msg(strstr(buf, "PONG") != NULL, "raw publisher: no PONG");
}

static void finish(dc_session_t *s) {
  ck_assert_msg(dc_exit(s) == 0, "exit: %s", s->problem);
  CLEAN(s);
}

#define SKIP_UNLESS(feature)                                                   \
  do {                                                                         \
    if (!dc_has(&S, feature)) {                                                \
      fprintf(stderr, "driver_check: %s: skipped (no \"%s\" feature)\n",       \
              __func__, feature);                                              \
      finish(&S);                                                              \
      return;                                                                  \
    }                                                                          \
  } while (0)

/* The example of DRIVER-PROTOCOL.md, with nats-server as the publisher. */
START_TEST(test_example) {
  int64_t c, sub, fl, dr;
  dc_msg_match_t done = {"msg_done", "s", 1};
  int di, ri;

  SKIP_UNLESS("drain_sub");
  /* Sent back to back, as in the example: none may wait for another. */
  c = sendf(&S, "{\"op\":\"connect\",\"servers\":[\"%s\"]}", url);
  sub = sendf(&S, "{\"op\":\"subscribe\",\"sub\":\"s\",\"subject\":\"work\","
                  "\"delay_ms\":200}");
  fl = sendf(&S, "{\"op\":\"flush\",\"timeout_ms\":1000}");
  expect_ok(&S, c, 5000);
  expect_ok(&S, sub, STEP_MS);
  expect_ok(&S, fl, STEP_MS);
  raw_pub(ns.port, "work", "1");
  dr = sendf(&S, "{\"op\":\"drain_sub\",\"sub\":\"s\",\"timeout_ms\":2000}");
  expect_ok(&S, dr, STEP_MS);
  wait_msg(&S, "s", 1, 0);
  di = dc_find(&S, 0, dc_is_msg, &done);
  ri = dc_reply_index(&S, dr);
  ck_assert_msg(di >= 0 && di < ri, "msg_done must come before drain_sub ok");
  finish(&S);
}
END_TEST

START_TEST(test_connect_options) {
  char opts[1024];
  int n;

  n = snprintf(opts, sizeof(opts),
               "{\"op\":\"connect\",\"servers\":[\"%s\"],\"name\":\"dc\","
               "\"timeout_ms\":2000,\"reconnect\":true,\"max_reconnect\":5,"
               "\"reconnect_wait_ms\":100,\"reconnect_jitter_ms\":10,"
               "\"ping_interval_ms\":60000,\"max_pings_out\":3,"
               "\"drain_timeout_ms\":5000,\"no_randomize\":true,\"echo\":true",
               url);
  if (dc_has(&S, "reconnect_buffer"))
    n += snprintf(opts + n, sizeof(opts) - (size_t)n,
                  ",\"reconnect_buf_bytes\":1048576");
  if (dc_has(&S, "verbose"))
    n += snprintf(opts + n, sizeof(opts) - (size_t)n, ",\"verbose\":true");
  if (dc_has(&S, "pedantic"))
    n += snprintf(opts + n, sizeof(opts) - (size_t)n, ",\"pedantic\":true");
  snprintf(opts + n, sizeof(opts) - (size_t)n, "}");
  expect_ok(&S, dc_send(&S, opts), 5000);
  /* The connection works under those options. */
  expect_ok(&S,
            sendf(&S, "{\"op\":\"subscribe\",\"sub\":\"v\",\"subject\":"
                      "\"v\"}"),
            STEP_MS);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"publish\",\"subject\":\"v\",\"data\":"
                      "\"x\"}"),
            STEP_MS);
  wait_msg(&S, "v", -1, STEP_MS);
  /* One connection per driver: or a second connect is refused, or it
   * works; either way it gets exactly one reply. */
  ck_assert(
      dc_reply(&S, sendf(&S, "{\"op\":\"connect\",\"servers\":[\"%s\"]}", url),
               5000) != NULL);
  finish(&S);
}
END_TEST

START_TEST(test_connect_refused) {
  nm_natsserver_t gone;
  char gone_url[64];
  int64_t id;

  /* A port that was just in use and is closed now. */
  start_server(&gone, NULL, gone_url, sizeof(gone_url));
  nm_natsserver_stop(&gone);
  id = sendf(&S,
             "{\"op\":\"connect\",\"servers\":[\"%s\"],\"timeout_ms\":1000,"
             "\"reconnect\":false}",
             gone_url);
  expect_err(&S, id, 8000, NULL);
  expect_err(&S, sendf(&S, "{\"op\":\"publish\",\"subject\":\"x\"}"), STEP_MS,
             NULL);
  expect_err(&S, sendf(&S, "{\"op\":\"flush\"}"), STEP_MS, NULL);
  finish(&S);
}
END_TEST

START_TEST(test_no_echo) {
  SKIP_UNLESS("no_echo");
  expect_ok(&S,
            sendf(&S,
                  "{\"op\":\"connect\",\"servers\":[\"%s\"],\"echo\":false}",
                  url),
            5000);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"subscribe\",\"sub\":\"e\",\"subject\":"
                      "\"e\"}"),
            STEP_MS);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"publish\",\"subject\":\"e\",\"data\":"
                      "\"1\"}"),
            STEP_MS);
  expect_ok(&S, sendf(&S, "{\"op\":\"flush\"}"), STEP_MS);
  raw_pub(ns.port, "e", "2");
  wait_msg(&S, "e", 2, STEP_MS);
  dc_drain_output(&S, QUIET_MS);
  ck_assert_msg(dc_count(&S, "msg", "e") == 1,
                "echo false: the driver's own message came back");
  finish(&S);
}
END_TEST

static void auth_case(const char *const *args, const char *good,
                      const char *bad) {
  nm_natsserver_t srv;
  char u[64];
  dc_session_t other;

  start_server(&srv, args, u, sizeof(u));
  expect_ok(&S,
            sendf(&S, "{\"op\":\"connect\",\"servers\":[\"%s\"],%s}", u, good),
            5000);
  expect_ok(&S, sendf(&S, "{\"op\":\"flush\"}"), STEP_MS);
  ck_assert_msg(dc_start(&other) == 0, "second driver: %s", other.problem);
  expect_err(&other,
             sendf(&other,
                   "{\"op\":\"connect\",\"servers\":[\"%s\"],%s,"
                   "\"reconnect\":false,\"timeout_ms\":2000}",
                   u, bad),
             8000, "auth");
  finish(&other);
  dc_free(&other);
  nm_natsserver_stop(&srv);
}

START_TEST(test_auth_user_pass) {
  static const char *const args[] = {"--user", "u", "--pass", "p", NULL};
  SKIP_UNLESS("user_pass");
  auth_case(args, "\"user\":\"u\",\"pass\":\"p\"",
            "\"user\":\"u\",\"pass\":\"wrong\"");
  finish(&S);
}
END_TEST

START_TEST(test_auth_token) {
  static const char *const args[] = {"--auth", "s3cret", NULL};
  SKIP_UNLESS("token");
  auth_case(args, "\"token\":\"s3cret\"", "\"token\":\"wrong\"");
  finish(&S);
}
END_TEST

/* Every publish form, read back by the driver's own subscription, which sees
 * them in publish order. */
START_TEST(test_publish_forms) {
  const cJSON *m, *h, *a;
  int from = 0, k;
  int headers = dc_has(&S, "headers");
  dc_msg_match_t any = {"msg", "p", -1};

  connect_to(&S, url);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"subscribe\",\"sub\":\"p\",\"subject\":"
                      "\"p.>\"}"),
            STEP_MS);
  expect_ok(&S, sendf(&S, "{\"op\":\"flush\"}"), STEP_MS);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"publish\",\"subject\":\"p.a\",\"count\":5,"
                      "\"size\":8}"),
            STEP_MS);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"publish\",\"subject\":\"p.b\",\"data\":"
                      "\"hello\"}"),
            STEP_MS);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"publish\",\"subject\":\"p.c\","
                      "\"data_b64\":\"AAH/\"}"),
            STEP_MS);
  if (headers)
    expect_ok(&S,
              sendf(&S, "{\"op\":\"publish\",\"subject\":\"p.d\",\"data\":"
                        "\"h\",\"headers\":{\"A\":[\"1\",\"2\"],\"B\":["
                        "\"x\"]}}"),
              STEP_MS);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"publish\",\"subject\":\"p.e\",\"reply\":"
                      "\"r.1\",\"data\":\"r\"}"),
            STEP_MS);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"publish\",\"subject\":\"p.f\",\"size\":"
                      "300}"),
            STEP_MS);
  expect_ok(&S, sendf(&S, "{\"op\":\"flush\"}"), STEP_MS);
  wait_msgs(&S, "p", headers ? 10 : 9, STEP_MS);

  for (k = 1; k <= 5; k++) {
    char want[9];
    m = dc_wait(&S, &from, dc_is_msg, &any, 0);
    snprintf(want, sizeof(want), "%d.......", k);
    ck_assert_msg(strcmp(dc_str(m, "subject"), "p.a") == 0 &&
                      dc_int(m, "seq", -1) == k && dc_int(m, "size", 0) == 8 &&
                      dc_str(m, "data") != NULL &&
                      strcmp(dc_str(m, "data"), want) == 0,
                  "count/size message %d: %s", k, dc_show(m));
  }
  m = dc_wait(&S, &from, dc_is_msg, &any, 0);
  ck_assert_msg(strcmp(dc_str(m, "subject"), "p.b") == 0 &&
                    dc_int(m, "size", 0) == 5 &&
                    strcmp(dc_str(m, "data"), "hello") == 0 &&
                    cJSON_GetObjectItem(m, "seq") == NULL,
                "text data: %s", dc_show(m));
  m = dc_wait(&S, &from, dc_is_msg, &any, 0);
  ck_assert_msg(strcmp(dc_str(m, "subject"), "p.c") == 0 &&
                    dc_int(m, "size", 0) == 3 &&
                    dc_str(m, "data_b64") != NULL &&
                    strcmp(dc_str(m, "data_b64"), "AAH/") == 0,
                "binary data: %s", dc_show(m));
  if (headers) {
    m = dc_wait(&S, &from, dc_is_msg, &any, 0);
    h = cJSON_GetObjectItemCaseSensitive(m, "headers");
    a = cJSON_GetObjectItemCaseSensitive(h, "A");
    ck_assert_msg(strcmp(dc_str(m, "subject"), "p.d") == 0 &&
                      dc_int(m, "size", 0) == 1 && cJSON_GetArraySize(a) == 2 &&
                      strcmp(cJSON_GetArrayItem(a, 0)->valuestring, "1") == 0 &&
                      strcmp(cJSON_GetArrayItem(a, 1)->valuestring, "2") == 0 &&
                      cJSON_GetArraySize(cJSON_GetObjectItem(h, "B")) == 1,
                  "headers: %s", dc_show(m));
  }
  m = dc_wait(&S, &from, dc_is_msg, &any, 0);
  ck_assert_msg(strcmp(dc_str(m, "subject"), "p.e") == 0 &&
                    dc_str(m, "reply") != NULL &&
                    strcmp(dc_str(m, "reply"), "r.1") == 0,
                "reply: %s", dc_show(m));
  m = dc_wait(&S, &from, dc_is_msg, &any, 0);
  ck_assert_msg(strcmp(dc_str(m, "subject"), "p.f") == 0 &&
                    dc_int(m, "size", 0) == 300 && dc_int(m, "seq", -1) == 1,
                "size 300: %s", dc_show(m));
  finish(&S);
}
END_TEST

START_TEST(test_publish_errors) {
  const cJSON *r;
  int from = 0;

  /* Before any connect. */
  expect_err(&S, sendf(&S, "{\"op\":\"publish\",\"subject\":\"x\"}"), STEP_MS,
             NULL);
  connect_to(&S, url);
  r = expect_err(&S,
                 sendf(&S, "{\"op\":\"publish\",\"subject\":\"x\",\"size\":"
                           "1100000}"),
                 STEP_MS, "max_payload");
  ck_assert_msg(dc_int(r, "published", -1) == 0, "published 0: %s", dc_show(r));
  expect_err(&S, sendf(&S, "{\"op\":\"publish\",\"subject\":\"\"}"), STEP_MS,
             NULL);
  /* A missing subject: bad_command or bad_subject are both fair. */
  r = expect_err(&S, sendf(&S, "{\"op\":\"publish\"}"), STEP_MS, NULL);
  ck_assert_msg(strcmp(dc_str(r, "code"), "bad_command") == 0 ||
                    strcmp(dc_str(r, "code"), "bad_subject") == 0,
                "publish without subject: %s", dc_show(r));
  expect_err(&S, sendf(&S, "{\"op\":\"no_such_op\"}"), STEP_MS, "bad_command");
  ck_assert(dc_send_raw(&S, "{this is not json") == 0);
  r = dc_wait(&S, &from, dc_is_ev, "err", STEP_MS);
  CLEAN(&S);
  ck_assert_msg(r != NULL && strcmp(dc_str(r, "code"), "bad_command") == 0,
                "a line that is not JSON gets err bad_command without id");
  /* The connection is still usable. */
  expect_ok(&S, sendf(&S, "{\"op\":\"flush\"}"), STEP_MS);
  finish(&S);
}
END_TEST

START_TEST(test_queue) {
  int k, n1, n2;
  SKIP_UNLESS("queue");
  connect_to(&S, url);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"subscribe\",\"sub\":\"q1\",\"subject\":"
                      "\"qq\",\"queue\":\"g\"}"),
            STEP_MS);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"subscribe\",\"sub\":\"q2\",\"subject\":"
                      "\"qq\",\"queue\":\"g\"}"),
            STEP_MS);
  expect_ok(&S, sendf(&S, "{\"op\":\"flush\"}"), STEP_MS);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"publish\",\"subject\":\"qq\",\"count\":"
                      "20}"),
            STEP_MS);
  expect_ok(&S, sendf(&S, "{\"op\":\"flush\"}"), STEP_MS);
  {
    long long deadline = nm_test_now_ms() + STEP_MS;
    while (dc_count(&S, "msg", NULL) < 20 && nm_test_now_ms() < deadline)
      dc_drain_output(&S, 20);
  }
  dc_drain_output(&S, QUIET_MS);
  CLEAN(&S);
  n1 = dc_count(&S, "msg", "q1");
  n2 = dc_count(&S, "msg", "q2");
  ck_assert_msg(n1 + n2 == 20, "queue group: %d + %d messages, want 20", n1,
                n2);
  for (k = 1; k <= 20; k++) {
    dc_msg_match_t a = {"msg", "q1", k}, b = {"msg", "q2", k};
    int ia = dc_find(&S, 0, dc_is_msg, &a), ib = dc_find(&S, 0, dc_is_msg, &b);
    ck_assert_msg((ia >= 0) != (ib >= 0), "seq %d must reach one member", k);
  }
  finish(&S);
}
END_TEST

START_TEST(test_max) {
  SKIP_UNLESS("auto_unsub");
  connect_to(&S, url);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"subscribe\",\"sub\":\"m\",\"subject\":"
                      "\"mm\",\"max\":3}"),
            STEP_MS);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"subscribe\",\"sub\":\"um\",\"subject\":"
                      "\"um\"}"),
            STEP_MS);
  expect_ok(&S, sendf(&S, "{\"op\":\"unsubscribe\",\"sub\":\"um\",\"max\":2}"),
            STEP_MS);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"publish\",\"subject\":\"mm\",\"count\":"
                      "5}"),
            STEP_MS);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"publish\",\"subject\":\"um\",\"count\":"
                      "5}"),
            STEP_MS);
  expect_ok(&S, sendf(&S, "{\"op\":\"flush\"}"), STEP_MS);
  wait_msgs(&S, "m", 3, STEP_MS);
  wait_msgs(&S, "um", 2, STEP_MS);
  dc_drain_output(&S, QUIET_MS);
  CLEAN(&S);
  ck_assert_msg(dc_count(&S, "msg", "m") == 3, "subscribe max 3: %d msgs",
                dc_count(&S, "msg", "m"));
  ck_assert_msg(dc_count(&S, "msg", "um") == 2, "unsubscribe max 2: %d msgs",
                dc_count(&S, "msg", "um"));
  wait_msg(&S, "m", 3, 0);
  wait_msg(&S, "um", 2, 0);
  finish(&S);
}
END_TEST

/* A slow handler: msg, then msg_done at least delay_ms later, one message at
 * a time per subscription. */
START_TEST(test_delay_ms) {
  int k, from = 0;
  connect_to(&S, url);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"subscribe\",\"sub\":\"d\",\"subject\":"
                      "\"dd\",\"delay_ms\":100}"),
            STEP_MS);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"publish\",\"subject\":\"dd\",\"count\":"
                      "3}"),
            STEP_MS);
  for (k = 1; k <= 3; k++) {
    dc_msg_match_t any_d = {NULL, "d", -1};
    const cJSON *m, *d;
    int64_t tm, td;
    any_d.ev = "msg";
    m = dc_wait(&S, &from, dc_is_msg, &any_d, STEP_MS);
    CLEAN(&S);
    ck_assert_msg(m != NULL && dc_int(m, "seq", -1) == k, "msg %d: %s", k,
                  dc_show(m));
    tm = dc_int(m, "t", -1);
    /* The next line for this sub must be its msg_done. */
    {
      int i = from;
      d = NULL;
      while (d == NULL) {
        for (; i < S.nlines; i++) {
          const char *sub = dc_str(S.lines[i], "sub");
          if (sub != NULL && strcmp(sub, "d") == 0 &&
              cJSON_GetObjectItem(S.lines[i], "id") == NULL) {
            d = S.lines[i];
            break;
          }
        }
        if (d == NULL) {
          long long t0 = nm_test_now_ms();
          dc_drain_output(&S, 20);
          ck_assert_msg(nm_test_now_ms() - t0 < STEP_MS, "no msg_done");
        }
      }
      from = i + 1;
    }
    ck_assert_msg(strcmp(dc_ev(d), "msg_done") == 0 &&
                      dc_int(d, "seq", -1) == k,
                  "after msg %d the sub's next event must be its msg_done: %s",
                  k, dc_show(d));
    td = dc_int(d, "t", -1);
    if (tm >= 0 && td >= 0)
      ck_assert_msg(td - tm >= 90000, "msg_done %lld us after msg, want 100 ms",
                    (long long)(td - tm));
  }
  finish(&S);
}
END_TEST

START_TEST(test_reply_with) {
  const cJSON *m;
  connect_to(&S, url);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"subscribe\",\"sub\":\"svc\",\"subject\":"
                      "\"svc\",\"reply_with\":\"pong\"}"),
            STEP_MS);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"subscribe\",\"sub\":\"rr\",\"subject\":"
                      "\"rr\"}"),
            STEP_MS);
  expect_ok(&S, sendf(&S, "{\"op\":\"flush\"}"), STEP_MS);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"publish\",\"subject\":\"svc\",\"reply\":"
                      "\"rr\",\"data\":\"q\"}"),
            STEP_MS);
  m = wait_msg(&S, "svc", -1, STEP_MS);
  ck_assert_msg(strcmp(dc_str(m, "reply"), "rr") == 0, "reply: %s", dc_show(m));
  m = wait_msg(&S, "rr", -1, STEP_MS);
  ck_assert_msg(strcmp(dc_str(m, "data"), "pong") == 0, "reply_with: %s",
                dc_show(m));
  finish(&S);
}
END_TEST

START_TEST(test_unsubscribe) {
  connect_to(&S, url);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"subscribe\",\"sub\":\"u\",\"subject\":"
                      "\"uu\"}"),
            STEP_MS);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"publish\",\"subject\":\"uu\",\"data\":"
                      "\"1\"}"),
            STEP_MS);
  wait_msg(&S, "u", 1, STEP_MS);
  expect_ok(&S, sendf(&S, "{\"op\":\"unsubscribe\",\"sub\":\"u\"}"), STEP_MS);
  expect_ok(&S, sendf(&S, "{\"op\":\"flush\"}"), STEP_MS);
  raw_pub(ns.port, "uu", "2");
  dc_drain_output(&S, QUIET_MS);
  CLEAN(&S);
  ck_assert_msg(dc_count(&S, "msg", "u") == 1, "a message after unsubscribe");
  expect_err(&S, sendf(&S, "{\"op\":\"unsubscribe\",\"sub\":\"nope\"}"),
             STEP_MS, NULL);
  finish(&S);
}
END_TEST

START_TEST(test_flush) {
  SKIP_UNLESS("flush");
  expect_err(&S, sendf(&S, "{\"op\":\"flush\"}"), STEP_MS, NULL);
  connect_to(&S, url);
  expect_ok(&S, sendf(&S, "{\"op\":\"flush\"}"), STEP_MS);
  expect_ok(&S, sendf(&S, "{\"op\":\"flush\",\"timeout_ms\":2000}"), STEP_MS);
  finish(&S);
}
END_TEST

START_TEST(test_request) {
  const cJSON *r;
  long long t0;
  SKIP_UNLESS("request");
  /* Client libraries ask for no-responders statuses on their own; the raw
   * driver's fixed CONNECT does so only when told. */
  if (strcmp(dc_str(S.hello, "client"), "natsmock-raw") == 0)
    expect_ok(&S,
              sendf(&S,
                    "{\"op\":\"connect\",\"servers\":[\"%s\"],"
                    "\"no_responders\":true}",
                    url),
              5000);
  else
    connect_to(&S, url);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"subscribe\",\"sub\":\"svc\",\"subject\":"
                      "\"svc\",\"reply_with\":\"pong\"}"),
            STEP_MS);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"subscribe\",\"sub\":\"mute\",\"subject\":"
                      "\"mute\"}"),
            STEP_MS);
  expect_ok(&S, sendf(&S, "{\"op\":\"flush\"}"), STEP_MS);
  r = expect_ok(&S,
                sendf(&S, "{\"op\":\"request\",\"subject\":\"svc\",\"data\":"
                          "\"q\",\"timeout_ms\":2000}"),
                STEP_MS);
  ck_assert_msg(dc_str(r, "data") != NULL &&
                    strcmp(dc_str(r, "data"), "pong") == 0,
                "request reply data: %s", dc_show(r));
  expect_err(&S,
             sendf(&S, "{\"op\":\"request\",\"subject\":\"nobody\","
                       "\"timeout_ms\":2000}"),
             STEP_MS, "no_responders");
  t0 = nm_test_now_ms();
  expect_err(&S,
             sendf(&S, "{\"op\":\"request\",\"subject\":\"mute\","
                       "\"timeout_ms\":300}"),
             STEP_MS, "timeout");
  ck_assert_msg(nm_test_now_ms() - t0 >= 250, "request timed out early");
  finish(&S);
}
END_TEST

START_TEST(test_drain_sub) {
  int64_t dr;
  int k, ri;
  SKIP_UNLESS("drain_sub");
  connect_to(&S, url);
  expect_err(&S, sendf(&S, "{\"op\":\"drain_sub\",\"sub\":\"nope\"}"), STEP_MS,
             NULL);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"subscribe\",\"sub\":\"ds\",\"subject\":"
                      "\"ds\",\"delay_ms\":50}"),
            STEP_MS);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"publish\",\"subject\":\"ds\",\"count\":"
                      "5}"),
            STEP_MS);
  expect_ok(&S, sendf(&S, "{\"op\":\"flush\"}"), STEP_MS);
  dr = sendf(&S, "{\"op\":\"drain_sub\",\"sub\":\"ds\",\"timeout_ms\":5000}");
  expect_ok(&S, dr, 8000);
  ri = dc_reply_index(&S, dr);
  /* Every message the server sent before the UNSUB was handled first. */
  for (k = 1; k <= 5; k++) {
    dc_msg_match_t done = {"msg_done", "ds", k};
    int di = dc_find(&S, 0, dc_is_msg, &done);
    ck_assert_msg(di >= 0 && di < ri, "msg_done %d must precede drain_sub ok",
                  k);
  }
  raw_pub(ns.port, "ds", "6");
  dc_drain_output(&S, QUIET_MS);
  CLEAN(&S);
  ck_assert_msg(dc_count(&S, "msg", "ds") == 5, "a message after the drain");
  finish(&S);
}
END_TEST

START_TEST(test_drain) {
  int64_t dr;
  int k, ri, ci;
  SKIP_UNLESS("drain");
  connect_to(&S, url);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"subscribe\",\"sub\":\"d\",\"subject\":"
                      "\"dr\",\"delay_ms\":50}"),
            STEP_MS);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"publish\",\"subject\":\"dr\",\"count\":"
                      "3}"),
            STEP_MS);
  expect_ok(&S, sendf(&S, "{\"op\":\"flush\"}"), STEP_MS);
  dr = sendf(&S, "{\"op\":\"drain\",\"timeout_ms\":5000}");
  expect_ok(&S, dr, 8000);
  ri = dc_reply_index(&S, dr);
  for (k = 1; k <= 3; k++) {
    dc_msg_match_t done = {"msg_done", "d", k};
    int di = dc_find(&S, 0, dc_is_msg, &done);
    ck_assert_msg(di >= 0 && di < ri, "msg_done %d must precede drain ok", k);
  }
  ci = 0;
  ck_assert_msg(dc_wait(&S, &ci, dc_is_ev, "closed", STEP_MS) != NULL,
                "no closed event after drain");
  dc_drain_output(&S, QUIET_MS);
  CLEAN(&S);
  ck_assert_msg(dc_count(&S, "closed", NULL) == 1, "closed %d times",
                dc_count(&S, "closed", NULL));
  ck_assert_msg(dc_count(&S, "msg", NULL) == 3, "messages after the drain");
  expect_err(&S, sendf(&S, "{\"op\":\"publish\",\"subject\":\"dr\"}"), STEP_MS,
             NULL);
  finish(&S);
}
END_TEST

START_TEST(test_close) {
  int ci = 0;
  connect_to(&S, url);
  expect_ok(&S, sendf(&S, "{\"op\":\"close\"}"), STEP_MS);
  ck_assert_msg(dc_wait(&S, &ci, dc_is_ev, "closed", STEP_MS) != NULL,
                "no closed event after close");
  expect_err(&S, sendf(&S, "{\"op\":\"publish\",\"subject\":\"x\"}"), STEP_MS,
             "closed");
  dc_drain_output(&S, QUIET_MS);
  CLEAN(&S);
  ck_assert_msg(dc_count(&S, "closed", NULL) == 1, "closed %d times",
                dc_count(&S, "closed", NULL));
  finish(&S);
}
END_TEST

START_TEST(test_eof) {
  connect_to(&S, url);
  ck_assert_msg(dc_eof(&S) == 0, "%s", S.problem);
  CLEAN(&S);
}
END_TEST

/* The server restarts on the same port: the client reports disconnected and
 * reconnected, and its subscription works again (resent by the library). */
START_TEST(test_reconnect) {
  char port[16];
  const char *args[] = {"-p", port, NULL};
  int from = 0;
  SKIP_UNLESS("reconnect");
  expect_ok(&S,
            sendf(&S,
                  "{\"op\":\"connect\",\"servers\":[\"%s\"],\"reconnect\":"
                  "true,\"reconnect_wait_ms\":100,\"max_reconnect\":50}",
                  url),
            5000);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"subscribe\",\"sub\":\"r\",\"subject\":"
                      "\"rr\"}"),
            STEP_MS);
  expect_ok(&S, sendf(&S, "{\"op\":\"flush\"}"), STEP_MS);
  snprintf(port, sizeof(port), "%d", ns.port);
  nm_natsserver_stop(&ns);
  ck_assert_msg(dc_wait(&S, &from, dc_is_ev, "disconnected", STEP_MS) != NULL,
                "no disconnected event");
  ck_assert_msg(nm_natsserver_start(&ns, NULL, args) == 0,
                "cannot restart nats-server on port %s", port);
  ck_assert_msg(dc_wait(&S, &from, dc_is_ev, "reconnected", 5000) != NULL,
                "no reconnected event");
  expect_ok(&S, sendf(&S, "{\"op\":\"flush\"}"), STEP_MS);
  raw_pub(ns.port, "rr", "1");
  wait_msg(&S, "r", 1, STEP_MS);
  finish(&S);
}
END_TEST

/* nats-server enters lame duck mode on SIGUSR2 and tells its clients. */
START_TEST(test_lame_duck) {
  int from = 0;
  SKIP_UNLESS("lame_duck");
  connect_to(&S, url);
  expect_ok(&S, sendf(&S, "{\"op\":\"flush\"}"), STEP_MS);
  ck_assert(kill(ns.pid, SIGUSR2) == 0);
  ck_assert_msg(dc_wait(&S, &from, dc_is_ev, "lame_duck", STEP_MS) != NULL,
                "no lame_duck event");
  CLEAN(&S);
  finish(&S);
}
END_TEST

/* A pending limit of 1 message under a slow handler: the library drops and
 * says so. */
START_TEST(test_slow_consumer) {
  int from = 0;
  const cJSON *ev;
  SKIP_UNLESS("slow_consumer");
  connect_to(&S, url);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"subscribe\",\"sub\":\"sc\",\"subject\":"
                      "\"sc\",\"delay_ms\":100,\"pending_msgs_limit\":1}"),
            STEP_MS);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"publish\",\"subject\":\"sc\",\"count\":"
                      "20}"),
            STEP_MS);
  ev = dc_wait(&S, &from, dc_is_ev, "slow_consumer", STEP_MS);
  CLEAN(&S);
  ck_assert_msg(ev != NULL && strcmp(dc_str(ev, "sub"), "sc") == 0,
                "slow_consumer for sub sc: %s", dc_show(ev));
  dc_drain_output(&S, QUIET_MS);
  ck_assert_msg(dc_count(&S, "msg", "sc") < 20, "no message was dropped");
  finish(&S);
}
END_TEST

/* ---- protocol 2: batch, on_msg, info ---- */

static int is_action(const cJSON *line, const void *id) {
  return dc_ev(line) && strcmp(dc_ev(line), "action") == 0 &&
         dc_int(line, "id", -1) == *(const int64_t *)id;
}

static int msg_index(const char *sub, int64_t seq) {
  dc_msg_match_t m = {"msg", sub, seq};
  return dc_find(&S, 0, dc_is_msg, &m);
}

/* batch: every entry starts in one turn and ends with its own result. */
START_TEST(test_batch) {
  char line[1024];
  int64_t b, p, f, p2, c;
  int ci = 0;
  SKIP_UNLESS("batch");
  connect_to(&S, url);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"subscribe\",\"sub\":\"b\",\"subject\":"
                      "\"bt\"}"),
            STEP_MS);
  expect_ok(&S, sendf(&S, "{\"op\":\"flush\"}"), STEP_MS);
  b = dc_take_id(&S);
  p = dc_take_id(&S);
  f = dc_take_id(&S);
  snprintf(line, sizeof(line),
           "{\"id\":%lld,\"op\":\"batch\",\"commands\":[{\"id\":%lld,\"op\":"
           "\"publish\",\"subject\":\"bt\",\"count\":5},{\"id\":%lld,\"op\":"
           "\"flush\"}]}",
           (long long)b, (long long)p, (long long)f);
  ck_assert(dc_send_raw(&S, line) == 0);
  expect_ok(&S, b, STEP_MS);
  expect_ok(&S, p, STEP_MS);
  expect_ok(&S, f, STEP_MS);
  wait_msgs(&S, "b", 5, STEP_MS);
  /* publish then close in one turn: both end, closed follows. */
  b = dc_take_id(&S);
  p2 = dc_take_id(&S);
  c = dc_take_id(&S);
  snprintf(line, sizeof(line),
           "{\"id\":%lld,\"op\":\"batch\",\"commands\":[{\"id\":%lld,\"op\":"
           "\"publish\",\"subject\":\"bt\",\"count\":3},{\"id\":%lld,\"op\":"
           "\"close\"}]}",
           (long long)b, (long long)p2, (long long)c);
  ck_assert(dc_send_raw(&S, line) == 0);
  expect_ok(&S, b, STEP_MS);
  expect_ok(&S, p2, STEP_MS);
  expect_ok(&S, c, STEP_MS);
  ck_assert_msg(dc_wait(&S, &ci, dc_is_ev, "closed", STEP_MS) != NULL,
                "no closed event after the batch's close");
  finish(&S);
}
END_TEST

/* on_msg, and the check that catches a driver that re-orders events: a
 * handler's blocking action (flush, request) is started inside the
 * library's handler and its result is written before the handler returns,
 * so before the next message of that subscription is reported. A driver
 * that reports through extra hops (a promise chain, a queue) writes the
 * result after the next msg and fails here. */
START_TEST(test_on_msg_order) {
  char line[1024];
  int64_t sid, a1, a2, a3;
  int m1, m2, m3, m4, x1, x2, x3, r1, r2, r3;
  SKIP_UNLESS("on_msg");
  connect_to(&S, url);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"subscribe\",\"sub\":\"svc\",\"subject\":"
                      "\"svc\",\"reply_with\":\"pong\"}"),
            STEP_MS);
  sid = dc_take_id(&S);
  a1 = dc_take_id(&S);
  a2 = dc_take_id(&S);
  a3 = dc_take_id(&S);
  snprintf(line, sizeof(line),
           "{\"id\":%lld,\"op\":\"subscribe\",\"sub\":\"o\",\"subject\":"
           "\"om\",\"on_msg\":[{\"at\":1,\"id\":%lld,\"op\":\"flush\"},"
           "{\"at\":2,\"id\":%lld,\"op\":\"request\",\"subject\":\"svc\","
           "\"data\":\"q\",\"timeout_ms\":2000},{\"at\":3,\"id\":%lld,"
           "\"op\":\"publish\",\"subject\":\"om.x\",\"data\":\"x\"}]}",
           (long long)sid, (long long)a1, (long long)a2, (long long)a3);
  ck_assert(dc_send_raw(&S, line) == 0);
  expect_ok(&S, sid, STEP_MS);
  expect_ok(&S, sendf(&S, "{\"op\":\"flush\"}"), STEP_MS);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"publish\",\"subject\":\"om\","
                      "\"count\":4}"),
            STEP_MS);
  wait_msgs(&S, "o", 4, 5000);
  expect_ok(&S, a1, STEP_MS);
  expect_ok(&S, a2, STEP_MS);
  expect_ok(&S, a3, STEP_MS);
  m1 = msg_index("o", 1);
  m2 = msg_index("o", 2);
  m3 = msg_index("o", 3);
  m4 = msg_index("o", 4);
  x1 = dc_find(&S, 0, is_action, &a1);
  x2 = dc_find(&S, 0, is_action, &a2);
  x3 = dc_find(&S, 0, is_action, &a3);
  r1 = dc_reply_index(&S, a1);
  r2 = dc_reply_index(&S, a2);
  r3 = dc_reply_index(&S, a3);
  ck_assert_msg(x1 > m1 && x1 < m2 && x2 > m2 && x2 < m3 && x3 > m3 && x3 < m4,
                "each action event must follow its msg and precede the next "
                "(msg 1..4 at lines %d %d %d %d, actions at %d %d %d)",
                m1, m2, m3, m4, x1, x2, x3);
  ck_assert_msg(r1 > x1 && r1 < m2,
                "the handler's flush ended at line %d, after msg 2 (line %d): "
                "the driver re-orders events",
                r1, m2);
  ck_assert_msg(r2 > x2 && r2 < m3,
                "the handler's request ended at line %d, after msg 3 (line "
                "%d): the driver re-orders events",
                r2, m3);
  ck_assert_msg(r3 > x3, "publish result before its action event");
  ck_assert_msg(strcmp(dc_str(dc_reply(&S, a2, 0), "data"), "pong") == 0,
                "request in the handler: %s", dc_show(dc_reply(&S, a2, 0)));
  finish(&S);
}
END_TEST

/* info: what the library knows, as state. */
START_TEST(test_info) {
  const cJSON *r;
  SKIP_UNLESS("info");
  r = expect_ok(&S, sendf(&S, "{\"op\":\"info\"}"), STEP_MS);
  connect_to(&S, url);
  expect_ok(&S,
            sendf(&S, "{\"op\":\"subscribe\",\"sub\":\"i\",\"subject\":"
                      "\"inf\"}"),
            STEP_MS);
  r = expect_ok(&S, sendf(&S, "{\"op\":\"info\"}"), STEP_MS);
  ck_assert_msg(dc_str(r, "status") &&
                    strcmp(dc_str(r, "status"), "connected") == 0,
                "info status: %s", dc_show(r));
  if (cJSON_GetObjectItemCaseSensitive(r, "connected_url"))
    ck_assert_msg(dc_str(r, "connected_url") &&
                      strstr(dc_str(r, "connected_url"), "127.0.0.1") != NULL,
                  "info connected_url: %s", dc_show(r));
  ck_assert_msg(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(r, "subs")),
                "info subs: %s", dc_show(r));
  finish(&S);
}
END_TEST

/* A command line far over any sane limit (6 MiB): the driver answers it with
 * an error (with or without the id) and stays usable. */
START_TEST(test_huge_line) {
  size_t n = 6 * 1024 * 1024;
  char *line = malloc(n + 64);
  const cJSON *r;
  int from, i;
  ck_assert(line != NULL);
  connect_to(&S, url);
  i = snprintf(line, 64,
               "{\"id\":%lld,\"op\":\"publish\",\"subject\":"
               "\"x\",\"data\":\"",
               (long long)dc_take_id(&S));
  memset(line + i, 'a', n);
  strcpy(line + i + n, "\"}");
  ck_assert(dc_send_raw(&S, line) == 0);
  free(line);
  from = S.nlines;
  r = dc_wait(&S, &from, dc_is_any_err, NULL, 10000);
  CLEAN(&S);
  ck_assert_msg(r != NULL, "no err for a 6 MiB command line");
  expect_ok(&S, sendf(&S, "{\"op\":\"flush\"}"), STEP_MS);
  finish(&S);
}
END_TEST

static Suite *driver_suite(void) {
  Suite *s = suite_create("driver");
  TCase *tc = tcase_create("protocol");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, test_example);
  tcase_add_test(tc, test_connect_options);
  tcase_add_test(tc, test_connect_refused);
  tcase_add_test(tc, test_no_echo);
  tcase_add_test(tc, test_auth_user_pass);
  tcase_add_test(tc, test_auth_token);
  tcase_add_test(tc, test_publish_forms);
  tcase_add_test(tc, test_publish_errors);
  tcase_add_test(tc, test_queue);
  tcase_add_test(tc, test_max);
  tcase_add_test(tc, test_delay_ms);
  tcase_add_test(tc, test_reply_with);
  tcase_add_test(tc, test_unsubscribe);
  tcase_add_test(tc, test_flush);
  tcase_add_test(tc, test_request);
  tcase_add_test(tc, test_drain_sub);
  tcase_add_test(tc, test_drain);
  tcase_add_test(tc, test_close);
  tcase_add_test(tc, test_eof);
  tcase_add_test(tc, test_reconnect);
  tcase_add_test(tc, test_lame_duck);
  tcase_add_test(tc, test_slow_consumer);
  tcase_add_test(tc, test_huge_line);
  tcase_add_test(tc, test_batch);
  tcase_add_test(tc, test_on_msg_order);
  tcase_add_test(tc, test_info);
  suite_add_tcase(s, tc);
  return s;
}

/* Splits NM_DRIVER on blanks (no quoting: give a wrapper script instead). */
static char **argv_from_env(const char *cmd) {
  static char *argv[64];
  static char buf[4096];
  int n = 0;
  char *save = NULL, *tok;
  snprintf(buf, sizeof(buf), "%s", cmd);
  for (tok = strtok_r(buf, " \t", &save); tok != NULL && n < 63;
       tok = strtok_r(NULL, " \t", &save))
    argv[n++] = tok;
  argv[n] = NULL;
  return n > 0 ? argv : NULL;
}

int main(int argc, char **argv) {
  SRunner *sr;
  int failed;

  if (argc > 1)
    dc_driver_argv = argv + 1;
  else if (getenv("NM_DRIVER") != NULL)
    dc_driver_argv = argv_from_env(getenv("NM_DRIVER"));
  if (dc_driver_argv == NULL) {
    fprintf(stderr, "usage: driver_check DRIVER [ARGS...]  (or NM_DRIVER)\n");
    return 2;
  }
  if (!nm_natsserver_available()) {
    fprintf(stderr, "driver_check: nats-server not on PATH\n");
    return 77;
  }
  sr = srunner_create(driver_suite());
  srunner_run_all(sr, CK_ENV);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? 0 : 1;
}
