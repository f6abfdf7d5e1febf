/* The runner end to end: scenarios run against the in-process mock with a
 * small fake driver (this same program, started as "--fake-driver MODE"),
 * so the harness is tested without depending on any client library. The
 * fake driver speaks DRIVER-PROTOCOL.md for connect, publish, subscribe,
 * flush, close and exit; its modes misbehave on purpose to show that the
 * runner and the invariants catch a broken client:
 *   good       correct (FIFO flushes)
 *   eager      flush ok at once, without waiting for the PONG
 *   die        prints to stderr and exits after its first command
 *   mute       never prints hello
 *   nofeature  hello without the "flush" feature
 *   double     two results for every publish (a protocol violation) */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nm_parser.h"
#include "nm_report.h"
#include "nm_runner.h"
#include "nm_scenario.h"
#include "nm_seq.h"

/* ---- the fake driver ---------------------------------------------------- */

#define FD_LINE_MAX 65536
#define FD_FLUSH_MAX 1024
#define FD_SUBS_MAX 64

typedef struct {
  const char *mode;
  int sock;
  nm_parser_t parser;
  long flush_ids[FD_FLUSH_MAX];
  size_t fhead, ftail;
  char tags[FD_SUBS_MAX][64];
  int nsubs;
  int connect_id; /* waiting for the handshake PONG */
} fake_t;

static fake_t F;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

static void sendall(const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(F.sock, p, n, MSG_NOSIGNAL);
    if (w <= 0)
      return;
    p += w;
    n -= (size_t)w;
  }
}

static int on_server_frame(nm_parser_t *p, const nm_frame_t *f) {
  if (f->op == NM_OP_PING) {
    sendall("PONG\r\n", 6);
  } else if (f->op == NM_OP_PONG) {
    if (F.connect_id) {
      say("{\"id\":%d,\"ev\":\"ok\"}", F.connect_id);
      say("{\"ev\":\"connected\"}");
      F.connect_id = 0;
    } else if (F.fhead != F.ftail) {
      say("{\"id\":%ld,\"ev\":\"ok\"}", F.flush_ids[F.fhead++ % FD_FLUSH_MAX]);
    }
  } else if (f->op == NM_OP_MSG) {
    int sid = atoi(f->sid.p);
    uint64_t seq = 0;
    char data[64];
    size_t n = f->payload.n < 40 ? f->payload.n : 40;
    memcpy(data, f->payload.p, n);
    data[n] = '\0';
    for (size_t i = 0; i < n; i++)
      if (data[i] == '"' || data[i] == '\\' || data[i] < 32)
        data[i] = '.';
    if (nm_seq_read(f->payload.p, f->payload.n, &seq))
      say("{\"ev\":\"msg\",\"sub\":\"%s\",\"subject\":\"%.*s\",\"size\":%zu,"
          "\"seq\":%llu,\"data\":\"%s\"}",
          sid > 0 && sid <= F.nsubs ? F.tags[sid - 1] : "?", (int)f->subject.n,
          f->subject.p, f->payload.n, (unsigned long long)seq, data);
    else
      say("{\"ev\":\"msg\",\"sub\":\"%s\",\"subject\":\"%.*s\",\"size\":%zu,"
          "\"data\":\"%s\"}",
          sid > 0 && sid <= F.nsubs ? F.tags[sid - 1] : "?", (int)f->subject.n,
          f->subject.p, f->payload.n, data);
  }
  return 0;
}

static int fake_connect(const char *url) {
  const char *colon = strrchr(url, ':');
  struct sockaddr_in a;
  int one = 1;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)atoi(colon ? colon + 1 : "0"));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  F.sock = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(F.sock, (struct sockaddr *)&a, sizeof(a)) != 0)
    return -1;
  setsockopt(F.sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return 0;
}

static void fake_command(const char *text) {
  cJSON *c = cJSON_Parse(text);
  const char *op = cJSON_GetStringValue(cJSON_GetObjectItem(c, "op"));
  int id = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(c, "id"));
  char buf[4096];

  if (!op) {
    cJSON_Delete(c);
    return;
  }
  if (!strcmp(F.mode, "die")) {
    fprintf(stderr, "fake driver: dying on purpose\n");
    exit(3);
  }
  if (!strcmp(op, "connect")) {
    const char *url = cJSON_GetStringValue(
        cJSON_GetArrayItem(cJSON_GetObjectItem(c, "servers"), 0));
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(c, "name"));
    if (!url || fake_connect(url) != 0) {
      say("{\"id\":%d,\"ev\":\"err\",\"code\":\"other\",\"error\":\"connect\"}",
          id);
    } else {
      int n = snprintf(buf, sizeof(buf),
                       "CONNECT {\"verbose\":false,\"pedantic\":false,"
                       "\"name\":\"%s\"}\r\nPING\r\n",
                       name ? name : "");
      F.connect_id = id;
      sendall(buf, (size_t)n);
    }
  } else if (!strcmp(op, "publish")) {
    const char *subj = cJSON_GetStringValue(cJSON_GetObjectItem(c, "subject"));
    const char *data = cJSON_GetStringValue(cJSON_GetObjectItem(c, "data"));
    cJSON *cn = cJSON_GetObjectItem(c, "count");
    cJSON *sz = cJSON_GetObjectItem(c, "size");
    int count = cn ? (int)cn->valuedouble : 1;
    for (int k = 1; k <= count; k++) {
      char pl[256];
      size_t plen =
          data ? strlen(data)
               : nm_seq_payload((uint64_t)k, sz ? (size_t)sz->valuedouble : 0,
                                pl, sizeof(pl));
      int n = snprintf(buf, sizeof(buf), "PUB %s %zu\r\n", subj, plen);
      sendall(buf, (size_t)n);
      sendall(data ? data : pl, plen);
      sendall("\r\n", 2);
    }
    say("{\"id\":%d,\"ev\":\"ok\"}", id);
    if (!strcmp(F.mode, "double")) /* a protocol violation */
      say("{\"id\":%d,\"ev\":\"ok\"}", id);
  } else if (!strcmp(op, "subscribe")) {
    const char *subj = cJSON_GetStringValue(cJSON_GetObjectItem(c, "subject"));
    const char *tag = cJSON_GetStringValue(cJSON_GetObjectItem(c, "sub"));
    int n;
    snprintf(F.tags[F.nsubs], sizeof(F.tags[0]), "%s", tag ? tag : "");
    n = snprintf(buf, sizeof(buf), "SUB %s %d\r\n", subj, ++F.nsubs);
    sendall(buf, (size_t)n);
    say("{\"id\":%d,\"ev\":\"ok\"}", id);
  } else if (!strcmp(op, "flush")) {
    sendall("PING\r\n", 6);
    if (!strcmp(F.mode, "eager"))
      say("{\"id\":%d,\"ev\":\"ok\"}", id);
    else
      F.flush_ids[F.ftail++ % FD_FLUSH_MAX] = id;
  } else if (!strcmp(op, "close")) {
    close(F.sock);
    F.sock = -1;
    say("{\"ev\":\"closed\"}");
    say("{\"id\":%d,\"ev\":\"ok\"}", id);
  } else if (!strcmp(op, "exit")) {
    say("{\"id\":%d,\"ev\":\"ok\"}", id);
    exit(0);
  } else {
    say("{\"id\":%d,\"ev\":\"err\",\"code\":\"not_supported\",\"error\":\"%"
        "s\"}",
        id, op);
  }
  cJSON_Delete(c);
}

static int fake_driver(const char *mode) {
  static char line[FD_LINE_MAX];
  size_t len = 0;
  memset(&F, 0, sizeof(F));
  F.mode = mode;
  F.sock = -1;
  signal(SIGPIPE, SIG_IGN);
  nm_parser_init(&F.parser, NM_PARSE_SERVER_OPS, on_server_frame, NULL);
  if (strcmp(mode, "mute") != 0)
    say("{\"ev\":\"hello\",\"protocol\":1,\"client\":\"fake\",\"version\":"
        "\"1\",\"features\":[%s]}",
        strcmp(mode, "nofeature") ? "\"flush\"" : "");
  for (;;) {
    struct pollfd p[2] = {{0, POLLIN, 0}, {F.sock, POLLIN, 0}};
    char buf[65536];
    ssize_t n;
    if (poll(p, F.sock >= 0 ? 2 : 1, 10000) <= 0)
      continue;
    if (p[0].revents) {
      n = read(0, line + len, sizeof(line) - len - 1);
      if (n <= 0)
        return 0; /* stdin closed: exit */
      len += (size_t)n;
      for (char *nl; (nl = memchr(line, '\n', len)) != NULL;) {
        *nl = '\0';
        fake_command(line);
        len -= (size_t)(nl + 1 - line);
        memmove(line, nl + 1, len);
      }
    }
    if (F.sock >= 0 && p[1].revents) {
      n = recv(F.sock, buf, sizeof(buf), 0);
      if (n <= 0) {
        close(F.sock);
        F.sock = -1;
        say("{\"ev\":\"disconnected\"}");
        continue;
      }
      nm_parser_feed(&F.parser, buf, (size_t)n);
    }
  }
}

/* ---- helpers --------------------------------------------------------------
 */

static char self_exe[PATH_MAX];
static char tmpdir[64];

static nm_scenario_t *scenario(const char *text) {
  char err[512];
  nm_scenario_t *sc = NULL;
  int r =
      nm_scenario_parse(text, strlen(text), "t/x.json", &sc, err, sizeof(err));
  ck_assert_msg(r == 0, "scenario: %s", err);
  return sc;
}

static void run(const char *text, const char *mode, nm_result_t *res,
                int keep) {
  char drv[PATH_MAX + 64];
  nm_scenario_t *sc = scenario(text);
  nm_run_opts_t o = {0};
  snprintf(drv, sizeof(drv), "%s --fake-driver %s", self_exe, mode);
  o.driver_cmd = drv;
  o.keep_timeline = keep;
  nm_result_init(res);
  nm_run_scenario(sc, &o, 1, res);
}

/* Frees a result and the scenario it ran. */
static void done(nm_result_t *r) {
  nm_scenario_t *sc = (nm_scenario_t *)r->sc;
  nm_result_free(r);
  nm_scenario_free(sc);
}

static void show(const nm_result_t *r) {
  if (getenv("NM_TEST_SHOW"))
    nm_report_console(stderr, r, 1, 1, 1);
}

static int has_failure(const nm_result_t *r, const char *what_prefix,
                       const char *msg_part) {
  for (size_t i = 0; i < r->fails.n; i++)
    if (!strncmp(r->fails.v[i].what, what_prefix, strlen(what_prefix)) &&
        (!msg_part || strstr(r->fails.v[i].message, msg_part)))
      return 1;
  return 0;
}

static const char kGood[] =
    "{\"requires\":[\"flush\"],\"steps\":["
    "{\"do\":\"connect\",\"expect\":\"ok\"},"
    "{\"do\":\"subscribe\",\"sub\":\"s\",\"subject\":\"work\","
    "\"expect\":\"ok\"},"
    "{\"do\":\"publish\",\"subject\":\"work\",\"count\":20,\"size\":4},"
    "{\"do\":\"flush\",\"timeout_ms\":2000,\"as\":\"f\"},"
    "{\"await\":\"f\"},"
    "{\"await\":{\"ev\":\"msg\",\"sub\":\"s\",\"count\":20}},"
    "{\"await\":{\"server\":\"in\",\"verb\":\"PUB\",\"subject\":\"work\","
    "\"count\":20}},"
    "{\"await\":{\"server\":\"out\",\"verb\":\"MSG\",\"seq\":20}},"
    "{\"expect_none\":{\"ev\":\"msg\"},\"for_ms\":20}],"
    "\"invariants\":[\"publish_order\",\"no_loss\",\"flush_fence\","
    "\"pong_fifo\",\"delivery_order\",\"delivered_all\","
    "\"reconnect_connect_first\",\"closed_once\"]}";

/* The same with every PONG after the handshake delayed by 200 ms: a flush
 * that returns before its PONG is then visibly early. */
static const char kDelayed[] =
    "{\"requires\":[\"flush\"],\"steps\":["
    "{\"do\":\"connect\",\"expect\":\"ok\"},"
    "{\"fault\":{\"rules\":[{\"dir\":\"out\",\"verb\":\"PONG\","
    "\"action\":\"delay\",\"ms\":200}]}},"
    "{\"do\":\"publish\",\"subject\":\"work\",\"count\":5},"
    "{\"do\":\"flush\",\"timeout_ms\":2000,\"as\":\"f\"},"
    "{\"await\":\"f\"},"
    "{\"await\":{\"server\":\"out\",\"verb\":\"PONG\",\"action\":"
    "\"delay\"}}],"
    "\"invariants\":[\"publish_order\",\"no_loss\",\"flush_fence\","
    "\"pong_fifo\"]}";

/* ---- tests ----------------------------------------------------------------
 */

START_TEST(good_client_passes) {
  nm_result_t r;
  run(kGood, "good", &r, 1);
  show(&r);
  ck_assert_int_eq(r.status, NM_ST_PASS);
  ck_assert_ptr_nonnull(r.tl);
  ck_assert_str_eq(r.driver_name, "fake 1");
  /* The timeline has the server's frames attributed to client a. */
  {
    size_t pubs = 0, cmds = 0;
    for (size_t i = 0; i < r.tl->n; i++) {
      pubs += r.tl->v[i].kind == NM_TL_IN && r.tl->v[i].op == NM_OP_PUB &&
              nm_tl_owner(r.tl, r.tl->v[i].conn) == 0;
      cmds += r.tl->v[i].kind == NM_TL_CMD;
    }
    ck_assert_int_eq(pubs, 20);
    ck_assert_int_eq(cmds, 4); /* exit is teardown, not recorded */
  }
  done(&r);
}
END_TEST

START_TEST(eager_flush_is_caught) {
  /* A client whose flush returns before the PONG: the steps pass, the
   * invariants do not. */
  nm_result_t r;
  run(kDelayed, "good", &r, 0);
  show(&r);
  ck_assert_int_eq(r.status, NM_ST_PASS);
  done(&r);
  run(kDelayed, "eager", &r, 0);
  show(&r);
  ck_assert_int_eq(r.status, NM_ST_FAIL);
  ck_assert(has_failure(&r, "invariant flush_fence", NULL));
  ck_assert(has_failure(&r, "invariant pong_fifo", NULL));
  ck_assert_int_gt(cJSON_GetArraySize(r.fails.v[0].evidence), 0);
  done(&r);
}
END_TEST

START_TEST(await_timeout_fails_with_evidence) {
  nm_result_t r;
  run("{\"steps\":[{\"do\":\"connect\",\"expect\":\"ok\"},"
      "{\"do\":\"subscribe\",\"sub\":\"s\",\"subject\":\"x\"},"
      "{\"await\":{\"ev\":\"msg\",\"sub\":\"s\"},\"within_ms\":100},"
      "{\"do\":\"publish\",\"subject\":\"never\"}]}",
      "good", &r, 0);
  show(&r);
  ck_assert_int_eq(r.status, NM_ST_FAIL);
  ck_assert(has_failure(&r, "step 2 (await)", "saw 0 of 1"));
  done(&r);
}
END_TEST

START_TEST(wrong_result_fails) {
  nm_result_t r;
  run("{\"steps\":[{\"do\":\"connect\",\"expect\":\"ok\"},"
      "{\"do\":\"flush\",\"expect\":{\"ev\":\"err\",\"code\":"
      "\"timeout\"}}]}",
      "good", &r, 0);
  show(&r);
  ck_assert_int_eq(r.status, NM_ST_FAIL);
  ck_assert(has_failure(&r, "step 1 (await)", "ended ok"));
  done(&r);
}
END_TEST

START_TEST(not_supported_skips) {
  /* The fake driver answers "request" with not_supported. */
  nm_result_t r;
  run("{\"steps\":[{\"do\":\"connect\",\"expect\":\"ok\"},"
      "{\"do\":\"request\",\"subject\":\"x\",\"expect\":\"ok\"},"
      "{\"await\":{\"ev\":\"msg\"},\"within_ms\":10}]}",
      "good", &r, 0);
  show(&r);
  ck_assert_int_eq(r.status, NM_ST_SKIP);
  ck_assert_str_eq(r.reason, "driver: request not supported");
  done(&r);
}
END_TEST

START_TEST(expect_none_catches) {
  nm_result_t r;
  run("{\"steps\":[{\"do\":\"connect\",\"expect\":\"ok\"},"
      "{\"do\":\"subscribe\",\"sub\":\"s\",\"subject\":\"x\"},"
      "{\"do\":\"flush\",\"expect\":\"ok\"},"
      "{\"fault\":{\"actions\":[{\"do\":\"publish\",\"subject\":\"x\"}]}},"
      "{\"expect_none\":{\"ev\":\"msg\",\"sub\":\"s\"},\"for_ms\":2000}]}",
      "good", &r, 0);
  show(&r);
  ck_assert_int_eq(r.status, NM_ST_FAIL);
  ck_assert(has_failure(&r, "step 4 (expect_none)", NULL));
  ck_assert_int_lt(r.duration_us, 1900000); /* failed at once */
  done(&r);
}
END_TEST

START_TEST(fault_step_applies_and_rejects) {
  nm_result_t r;
  /* The held PONG makes the flush miss its deadline. */
  run("{\"steps\":[{\"do\":\"connect\",\"expect\":\"ok\"},"
      "{\"fault\":{\"rules\":[{\"id\":\"h\",\"dir\":\"out\",\"verb\":"
      "\"PONG\",\"action\":\"hold\"}]}},"
      "{\"do\":\"flush\",\"as\":\"f\"},"
      "{\"await\":{\"server\":\"action\",\"verb\":\"PONG\",\"action\":"
      "\"hold\",\"rule\":\"h\"}},"
      "{\"expect_none\":{\"ev\":\"ok\"},\"for_ms\":100}]}",
      "good", &r, 0);
  show(&r);
  ck_assert_int_eq(r.status, NM_ST_PASS);
  done(&r);

  run("{\"steps\":[{\"fault\":{\"rules\":[{\"dir\":\"sideways\"}]}}]}", "good",
      &r, 0);
  show(&r);
  ck_assert_int_eq(r.status, NM_ST_FAIL);
  ck_assert(has_failure(&r, "step 0 (fault)", "rejected"));
  done(&r);
}
END_TEST

START_TEST(dead_driver_fails_with_stderr) {
  nm_result_t r;
  run("{\"steps\":[{\"do\":\"connect\"},{\"await\":{\"ev\":\"connected\"}}]}",
      "die", &r, 0);
  show(&r);
  ck_assert_int_eq(r.status, NM_ST_FAIL);
  ck_assert(has_failure(&r, "run", "exited during the run"));
  ck_assert_ptr_nonnull(r.driver_stderr);
  ck_assert_ptr_nonnull(strstr(r.driver_stderr, "dying on purpose"));
  done(&r);
}
END_TEST

START_TEST(mute_driver_bounded) {
  nm_result_t r;
  run("{\"timeout_ms\":300,\"steps\":[{\"do\":\"connect\"}]}", "mute", &r, 0);
  show(&r);
  ck_assert_int_eq(r.status, NM_ST_FAIL);
  ck_assert_int_lt(r.duration_us, 5000000);
  done(&r);
}
END_TEST

START_TEST(driver_protocol_violation) {
  nm_result_t r;
  run("{\"steps\":[{\"do\":\"connect\",\"expect\":\"ok\"},"
      "{\"do\":\"publish\",\"subject\":\"x\",\"expect\":\"ok\"},"
      "{\"do\":\"flush\",\"expect\":\"ok\"}]}",
      "double", &r, 0);
  show(&r);
  ck_assert_int_eq(r.status, NM_ST_FAIL);
  ck_assert(has_failure(&r, "driver protocol", "a second result"));
  done(&r);
}
END_TEST

START_TEST(missing_feature_skips) {
  nm_result_t r;
  run(kGood, "nofeature", &r, 0);
  ck_assert_int_eq(r.status, NM_ST_SKIP);
  ck_assert_ptr_nonnull(strstr(r.reason, "flush"));
  done(&r);
}
END_TEST

START_TEST(global_timeout) {
  nm_result_t r;
  run("{\"timeout_ms\":200,\"steps\":[{\"do\":\"connect\"},"
      "{\"sleep_ms\":5000}]}",
      "good", &r, 0);
  show(&r);
  ck_assert_int_eq(r.status, NM_ST_FAIL);
  ck_assert(has_failure(&r, "run", "timeout_ms"));
  ck_assert_int_lt(r.duration_us, 4000000);
  done(&r);
}
END_TEST

START_TEST(two_clients_attributed) {
  nm_result_t r;
  run("{\"clients\":[\"a\",\"b\"],\"steps\":["
      "{\"client\":\"b\",\"do\":\"connect\",\"expect\":\"ok\"},"
      "{\"do\":\"subscribe\",\"sub\":\"s\",\"subject\":\"x\"},"
      "{\"do\":\"flush\",\"expect\":\"ok\"},"
      "{\"client\":\"a\",\"do\":\"connect\",\"expect\":\"ok\"},"
      "{\"do\":\"publish\",\"subject\":\"x\",\"count\":3},"
      "{\"await\":{\"client\":\"b\",\"ev\":\"msg\",\"count\":3}},"
      "{\"await\":{\"server\":\"in\",\"verb\":\"PUB\",\"client\":\"a\","
      "\"count\":3}},"
      "{\"expect_none\":{\"server\":\"in\",\"verb\":\"PUB\",\"client\":"
      "\"b\"},\"for_ms\":10}],"
      "\"invariants\":[\"delivery_order\",\"no_loss\"]}",
      "good", &r, 1);
  show(&r);
  ck_assert_int_eq(r.status, NM_ST_PASS);
  ck_assert_int_eq(nm_tl_owner(r.tl, 1), 1); /* b connected first */
  ck_assert_int_eq(nm_tl_owner(r.tl, 2), 0);
  done(&r);
}
END_TEST

/* Reads a whole file (test sizes). */
static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  char *b;
  size_t n;
  ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
  b = calloc(1, 1 << 20);
  n = fread(b, 1, (1 << 20) - 1, f);
  b[n] = '\0';
  fclose(f);
  return b;
}

START_TEST(reports_are_written) {
  nm_result_t v[2];
  nm_report_t rep = {v, 2, 1000, "fake", NULL, 0, NULL};
  char path[128], *text;
  cJSON *j;
  int lines = 0, footer = 0;

  run(kGood, "good", &v[0], 1);
  run(kDelayed, "eager", &v[1], 1);
  ck_assert_int_eq(v[1].status, NM_ST_FAIL);

  snprintf(path, sizeof(path), "%s/r.json", tmpdir);
  ck_assert_int_eq(nm_report_json(&rep, path), 0);
  text = slurp(path);
  j = cJSON_Parse(text);
  ck_assert_ptr_nonnull(j);
  ck_assert_int_eq(cJSON_GetObjectItem(j, "failed")->valueint, 1);
  {
    cJSON *res1 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "results"), 1);
    cJSON *f0 = cJSON_GetArrayItem(cJSON_GetObjectItem(res1, "failures"), 0);
    ck_assert_int_gt(cJSON_GetArraySize(cJSON_GetObjectItem(f0, "evidence")),
                     0);
  }
  cJSON_Delete(j);
  free(text);

  snprintf(path, sizeof(path), "%s/r.xml", tmpdir);
  ck_assert_int_eq(nm_report_junit(&rep, path), 0);
  text = slurp(path);
  ck_assert_ptr_nonnull(strstr(text, "<testsuite name=\"natsmock-harness\" "
                                     "tests=\"2\" failures=\"1\""));
  ck_assert_ptr_nonnull(strstr(text, "<failure message="));
  free(text);

  snprintf(path, sizeof(path), "%s/r.html", tmpdir);
  ck_assert_int_eq(nm_report_html(&rep, path), 0);
  text = slurp(path);
  ck_assert_ptr_nonnull(strstr(text, "class=seq"));
  ck_assert_ptr_nonnull(strstr(text, "class=ev"));
  free(text);

  ck_assert_int_eq(nm_report_trace(&v[0], tmpdir), 0);
  snprintf(path, sizeof(path), "%s/x-1.expanded.json", tmpdir);
  text = slurp(path);
  for (char *p = text, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
    cJSON *l;
    *nl = '\0';
    l = cJSON_Parse(p);
    ck_assert_msg(l != NULL, "trace line %d is not JSON: %s", lines, p);
    if (lines == 0) {
      ck_assert_str_eq(cJSON_GetObjectItem(l, "format")->valuestring,
                       "traceassert-expanded");
      ck_assert_int_eq(cJSON_GetObjectItem(l, "version")->valueint, 2);
    } else if (cJSON_GetObjectItem(l, "footer")) {
      footer++;
    } else {
      const char *dir = cJSON_GetObjectItem(l, "dir")->valuestring;
      ck_assert_int_eq(cJSON_GetObjectItem(l, "line")->valueint, lines + 1);
      ck_assert(!strcmp(dir, "to_server") || !strcmp(dir, "from_server"));
      ck_assert_ptr_nonnull(cJSON_GetObjectItem(l, "verb"));
      ck_assert_ptr_nonnull(cJSON_GetObjectItem(l, "at"));
    }
    lines++;
    cJSON_Delete(l);
  }
  ck_assert_int_eq(footer, 1);
  ck_assert_int_gt(lines, 40); /* INFO CONNECT PING PONG SUB 20 PUB 20 MSG */
  free(text);
  done(&v[0]);
  done(&v[1]);
}
END_TEST

START_TEST(real_server_mode) {
  nm_result_t r;
  char drv[PATH_MAX + 64];
  nm_scenario_t *sc;
  nm_run_opts_t o = {0};
  if (system("command -v nats-server >/dev/null 2>&1") != 0)
    return; /* nats-server 2.9.10 is installed on the build machine */
  sc = scenario("{\"server\":{\"max_payload\":2048,\"ping_interval_ms\":"
                "60000},\"steps\":[{\"do\":\"connect\",\"expect\":\"ok\"},"
                "{\"do\":\"subscribe\",\"sub\":\"s\",\"subject\":\"w\"},"
                "{\"do\":\"publish\",\"subject\":\"w\",\"count\":5},"
                "{\"do\":\"flush\",\"expect\":\"ok\"},"
                "{\"await\":{\"ev\":\"msg\",\"sub\":\"s\",\"count\":5}}],"
                "\"invariants\":[\"no_loss\",\"closed_once\"]}");
  snprintf(drv, sizeof(drv), "%s --fake-driver good", self_exe);
  o.driver_cmd = drv;
  o.server_cmd = "nats-server";
  nm_result_init(&r);
  nm_run_scenario(sc, &o, 1, &r);
  show(&r);
  ck_assert_int_eq(r.status, NM_ST_PASS);
  ck_assert_ptr_nonnull(r.inv_skip);
  ck_assert_str_eq(r.inv_skip, "no_loss");
  nm_result_free(&r);
  nm_scenario_free(sc);
}
END_TEST

int main(int argc, char **argv) {
  Suite *s;
  TCase *tc;
  SRunner *sr;
  int failed;
  ssize_t n;

  if (argc >= 3 && strcmp(argv[1], "--fake-driver") == 0)
    return fake_driver(argv[2]);
  signal(SIGPIPE, SIG_IGN);
  n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
  if (n <= 0)
    return 1;
  self_exe[n] = '\0';
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/nm-test-harness-XXXXXX");
  if (!mkdtemp(tmpdir))
    return 1;

  s = suite_create("harness_run");
  tc = tcase_create("all");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, good_client_passes);
  tcase_add_test(tc, eager_flush_is_caught);
  tcase_add_test(tc, await_timeout_fails_with_evidence);
  tcase_add_test(tc, wrong_result_fails);
  tcase_add_test(tc, not_supported_skips);
  tcase_add_test(tc, expect_none_catches);
  tcase_add_test(tc, fault_step_applies_and_rejects);
  tcase_add_test(tc, dead_driver_fails_with_stderr);
  tcase_add_test(tc, mute_driver_bounded);
  tcase_add_test(tc, driver_protocol_violation);
  tcase_add_test(tc, missing_feature_skips);
  tcase_add_test(tc, global_timeout);
  tcase_add_test(tc, two_clients_attributed);
  tcase_add_test(tc, reports_are_written);
  tcase_add_test(tc, real_server_mode);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  {
    char cmdline[128];
    snprintf(cmdline, sizeof(cmdline), "rm -rf %s", tmpdir);
    if (system(cmdline) != 0)
      fprintf(stderr, "could not remove %s\n", tmpdir);
  }
  return failed == 0 ? 0 : 1;
}
