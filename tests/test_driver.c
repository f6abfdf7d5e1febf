/* natsmock-driver through its stdin and stdout: the DRIVER-PROTOCOL.md
 * example and a test per command and event, against nats-server 2.9.10
 * (and, for events a lone nats-server cannot produce -- discovered, lame
 * duck, error -- against a scripted server in the test). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nm_test_check.h"
#include "nm_test_util.h"

#define LINE_MAX_ 65536
#define MAX_LINES 4096

typedef struct {
  pid_t pid;
  int in, out; /* write to its stdin, read its stdout */
  char buf[LINE_MAX_];
  size_t len;
  char *lines[MAX_LINES]; /* every line read so far */
  int nlines;
} drv_t;

static drv_t D;
static nm_natsserver_t NS;
static char url[64];

static const char *driver_path(void) {
  static char p[512];
  const char *b = getenv("NM_BINARY_DIR");
  snprintf(p, sizeof(p), "%s/client/natsmock-driver", b ? b : "..");
  return p;
}

static void drv_start(drv_t *d) {
  int to[2], from[2];
  memset(d, 0, sizeof(*d));
  ck_assert_int_eq(pipe(to), 0);
  ck_assert_int_eq(pipe(from), 0);
  d->pid = fork();
  ck_assert_int_ge(d->pid, 0);
  if (d->pid == 0) {
    dup2(to[0], 0);
    dup2(from[1], 1);
    close(to[1]);
    close(from[0]);
    execl(driver_path(), "natsmock-driver", (char *)NULL);
    _exit(127);
  }
  close(to[0]);
  close(from[1]);
  d->in = to[1];
  d->out = from[0];
  signal(SIGPIPE, SIG_IGN);
}

static void drv_send(drv_t *d, const char *fmt, ...) {
  char line[8192];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
  va_end(ap);
  line[n++] = '\n';
  /* a pipe: write(), not the socket helper's send() */
  ck_assert_int_eq(write(d->in, line, (size_t)n), n);
}

/* Reads one more line (bounded by timeout_ms); NULL on timeout or EOF. */
static const char *drv_line(drv_t *d, int timeout_ms) {
  long long end = nm_test_now_ms() + timeout_ms;
  for (;;) {
    char *nl = memchr(d->buf, '\n', d->len);
    struct pollfd p = {.fd = d->out, .events = POLLIN};
    long long now = nm_test_now_ms();
    ssize_t r;
    if (nl) {
      size_t n = (size_t)(nl - d->buf);
      char *l = strndup(d->buf, n);
      memmove(d->buf, nl + 1, d->len - n - 1);
      d->len -= n + 1;
      ck_assert_int_lt(d->nlines, MAX_LINES);
      d->lines[d->nlines++] = l;
      return l;
    }
    if (now >= end || poll(&p, 1, (int)(end - now)) <= 0)
      return NULL;
    r = read(d->out, d->buf + d->len, sizeof(d->buf) - d->len - 1);
    if (r <= 0)
      return NULL;
    d->len += (size_t)r;
  }
}

/* Waits for a line containing every one of the NULL-terminated needles. */
static const char *drv_wait(drv_t *d, int timeout_ms, ...) {
  long long end = nm_test_now_ms() + timeout_ms;
  const char *l;
  while ((l = drv_line(d, (int)(end - nm_test_now_ms()))) != NULL) {
    va_list ap;
    const char *n;
    int all = 1;
    va_start(ap, timeout_ms);
    while ((n = va_arg(ap, const char *)) != NULL)
      if (!strstr(l, n))
        all = 0;
    va_end(ap);
    if (all)
      return l;
    if (nm_test_now_ms() >= end)
      break;
  }
  return NULL;
}

#define WAIT(...) drv_wait(&D, 5000, __VA_ARGS__, (const char *)NULL)
#define EXPECT(...)                                                            \
  ck_assert_msg(WAIT(__VA_ARGS__) != NULL, "no line with %s", #__VA_ARGS__)

static int drv_stop(drv_t *d) {
  int status = -1;
  long long end = nm_test_now_ms() + 5000;
  if (d->pid <= 0)
    return -1;
  close(d->in);
  while (waitpid(d->pid, &status, WNOHANG) == 0) {
    if (nm_test_now_ms() > end) {
      kill(d->pid, SIGKILL);
      waitpid(d->pid, &status, 0);
      break;
    }
    drv_line(d, 10); /* drain stdout while it shuts down */
  }
  close(d->out);
  for (int i = 0; i < d->nlines; i++)
    free(d->lines[i]);
  d->nlines = 0;
  d->pid = 0;
  return status;
}

static int line_index(const char *needle) {
  for (int i = 0; i < D.nlines; i++)
    if (strstr(D.lines[i], needle))
      return i;
  return -1;
}

static void setup(void) {
  if (!nm_natsserver_available())
    ck_abort_msg("nats-server is not installed");
  ck_assert_int_eq(nm_natsserver_start(&NS, NULL, NULL), 0);
  snprintf(url, sizeof(url), "nats://127.0.0.1:%d", NS.port);
  drv_start(&D);
  EXPECT("\"ev\":\"hello\"", "\"protocol\":2", "\"drain_sub\"");
}

static void teardown(void) {
  drv_stop(&D);
  nm_natsserver_stop(&NS);
}

static void connect_(int id) {
  drv_send(&D, "{\"id\":%d,\"op\":\"connect\",\"servers\":[\"%s\"]}", id, url);
  EXPECT("\"ev\":\"connected\"", "\"t\":");
  ck_assert(drv_wait(&D, 5000, "\"id\":", "\"ev\":\"ok\"", NULL));
}

/* ---- tests ---- */

START_TEST(test_example) {
  /* DRIVER-PROTOCOL.md's example, with a message published for it. */
  int m, done, ok4;
  drv_send(&D, "{\"id\":1,\"op\":\"connect\",\"servers\":[\"%s\"]}", url);
  drv_send(&D,
           "{\"id\":2,\"op\":\"subscribe\",\"sub\":\"s\",\"subject\":\"work\","
           "\"delay_ms\":20}");
  drv_send(&D, "{\"id\":3,\"op\":\"flush\",\"timeout_ms\":1000}");
  /* Commands end asynchronously: the subscribe may end before the
   * connect. The flush ends last, after the server answered. */
  EXPECT("{\"id\":3,\"ev\":\"ok\"}");
  ck_assert_int_ge(line_index("{\"id\":1,\"ev\":\"ok\"}"), 0);
  ck_assert_int_ge(line_index("{\"id\":2,\"ev\":\"ok\"}"), 0);
  drv_send(&D, "{\"id\":10,\"op\":\"publish\",\"subject\":\"work\","
               "\"data\":\"1\"}");
  drv_send(&D, "{\"id\":4,\"op\":\"drain_sub\",\"sub\":\"s\",\"timeout_ms\":"
               "2000}");
  EXPECT("{\"id\":4,\"ev\":\"ok\"}");
  m = line_index("\"ev\":\"msg\",\"sub\":\"s\",\"subject\":\"work\",\"size\":1,"
                 "\"seq\":1,\"data\":\"1\"");
  done = line_index("\"ev\":\"msg_done\",\"sub\":\"s\",\"seq\":1");
  ok4 = line_index("{\"id\":4,\"ev\":\"ok\"}");
  ck_assert_int_ge(m, 0);
  ck_assert_int_gt(done, m);
  ck_assert_int_gt(ok4, done);
  drv_send(&D, "{\"id\":5,\"op\":\"exit\"}");
  EXPECT("{\"id\":5,\"ev\":\"ok\"}");
  while (drv_line(&D, 2000)) /* to EOF: nothing follows exit's ok */
    ;
  ck_assert_str_eq(D.lines[D.nlines - 1], "{\"id\":5,\"ev\":\"ok\"}");
  ck_assert_int_eq(drv_stop(&D), 0); /* exit status 0 */
}
END_TEST

START_TEST(test_connect_fail) {
  drv_send(&D,
           "{\"id\":1,\"op\":\"connect\",\"servers\":[\"nats://127.0.0.1:1\"],"
           "\"reconnect\":false,\"timeout_ms\":500}");
  EXPECT("\"id\":1", "\"ev\":\"err\"", "\"code\":");
  EXPECT("\"ev\":\"closed\"");
  /* commands without a connection fail cleanly */
  drv_send(&D, "{\"id\":2,\"op\":\"flush\"}");
  EXPECT("\"id\":2", "\"ev\":\"err\"", "\"code\":\"closed\"");
}
END_TEST

START_TEST(test_publish_seq_and_data) {
  connect_(1);
  drv_send(&D,
           "{\"id\":2,\"op\":\"subscribe\",\"sub\":\"a\",\"subject\":\"p\"}");
  EXPECT("\"id\":2", "\"ok\"");
  drv_send(&D, "{\"id\":3,\"op\":\"publish\",\"subject\":\"p\",\"count\":3,"
               "\"size\":5}");
  EXPECT("\"id\":3", "\"ok\"");
  EXPECT("\"ev\":\"msg\"", "\"size\":5", "\"seq\":1", "\"data\":\"1....\"");
  EXPECT("\"ev\":\"msg\"", "\"seq\":2", "\"data\":\"2....\"");
  EXPECT("\"ev\":\"msg\"", "\"seq\":3");
  drv_send(&D, "{\"id\":4,\"op\":\"publish\",\"subject\":\"p\","
               "\"data_b64\":\"AAEC\",\"reply\":\"r.1\"}");
  EXPECT("\"ev\":\"msg\"", "\"reply\":\"r.1\"", "\"size\":3",
         "\"data_b64\":\"AAEC\"");
  drv_send(&D, "{\"id\":5,\"op\":\"publish\",\"subject\":\"p\",\"data\":\"h\","
               "\"headers\":{\"K\":[\"v1\",\"v2\"]}}");
  EXPECT("\"ev\":\"msg\"", "\"headers\":{\"K\":[\"v1\",\"v2\"]}");
  /* errors */
  drv_send(&D, "{\"id\":6,\"op\":\"publish\",\"subject\":\"a b\"}");
  EXPECT("\"id\":6", "\"err\"", "\"bad_subject\"");
  drv_send(&D, "{\"id\":7,\"op\":\"publish\",\"subject\":\"p\",\"count\":2,"
               "\"size\":1048577}");
  EXPECT("\"id\":7", "\"err\"", "\"max_payload\"", "\"published\":0");
  drv_send(&D, "{\"id\":8,\"op\":\"bogus\"}");
  EXPECT("\"id\":8", "\"err\"", "\"bad_command\"");
}
END_TEST

START_TEST(test_subscribe_queue_max_unsubscribe) {
  connect_(1);
  drv_send(&D, "{\"id\":2,\"op\":\"subscribe\",\"sub\":\"m\",\"subject\":\"u\","
               "\"max\":2}");
  drv_send(&D, "{\"id\":3,\"op\":\"subscribe\",\"sub\":\"q\",\"subject\":\"u\","
               "\"queue\":\"g\"}");
  drv_send(&D, "{\"id\":4,\"op\":\"publish\",\"subject\":\"u\",\"count\":4}");
  drv_send(&D, "{\"id\":5,\"op\":\"flush\"}");
  EXPECT("\"id\":5", "\"ok\"");
  drv_send(&D, "{\"id\":6,\"op\":\"unsubscribe\",\"sub\":\"q\"}");
  EXPECT("\"id\":6", "\"ok\"");
  drv_send(&D, "{\"id\":7,\"op\":\"publish\",\"subject\":\"u\",\"count\":1}");
  drv_send(&D, "{\"id\":8,\"op\":\"flush\"}");
  EXPECT("\"id\":8", "\"ok\"");
  {
    int nm = 0, nq = 0;
    for (int i = 0; i < D.nlines; i++) {
      if (strstr(D.lines[i], "\"ev\":\"msg\",\"sub\":\"m\""))
        nm++;
      if (strstr(D.lines[i], "\"ev\":\"msg\",\"sub\":\"q\""))
        nq++;
    }
    ck_assert_int_eq(nm, 2); /* auto-unsubscribed after 2 */
    ck_assert_int_eq(nq, 4); /* the 5th came after its unsubscribe */
  }
  drv_send(&D, "{\"id\":9,\"op\":\"unsubscribe\",\"sub\":\"nope\"}");
  EXPECT("\"id\":9", "\"err\"");
}
END_TEST

START_TEST(test_request) {
  connect_(1);
  drv_send(&D, "{\"id\":2,\"op\":\"subscribe\",\"sub\":\"svc\",\"subject\":"
               "\"svc\",\"reply_with\":\"pong\"}");
  EXPECT("\"id\":2", "\"ok\"");
  drv_send(&D, "{\"id\":3,\"op\":\"request\",\"subject\":\"svc\",\"data\":"
               "\"ping\",\"timeout_ms\":2000}");
  EXPECT("{\"id\":3,\"ev\":\"ok\",\"data\":\"pong\"}");
  drv_send(&D, "{\"id\":4,\"op\":\"request\",\"subject\":\"none\","
               "\"timeout_ms\":2000}");
  EXPECT("\"id\":4", "\"err\"", "\"no_responders\"");
}
END_TEST

START_TEST(test_drain_and_close) {
  int ok, closed;
  connect_(1);
  drv_send(&D, "{\"id\":2,\"op\":\"subscribe\",\"sub\":\"d\",\"subject\":\"d\","
               "\"delay_ms\":10}");
  drv_send(&D, "{\"id\":3,\"op\":\"publish\",\"subject\":\"d\",\"count\":3}");
  drv_send(&D, "{\"id\":4,\"op\":\"drain\",\"timeout_ms\":3000}");
  EXPECT("\"ev\":\"closed\"");
  ok = line_index("{\"id\":4,\"ev\":\"ok\"}");
  closed = line_index("\"ev\":\"closed\"");
  ck_assert_int_ge(ok, 0);
  ck_assert_int_gt(closed, ok);
  ck_assert_int_lt(line_index("\"sub\":\"d\",\"seq\":3"), ok);
  /* a second connection, closed with close */
  connect_(5);
  drv_send(&D, "{\"id\":6,\"op\":\"close\"}");
  EXPECT("\"ev\":\"closed\"");
  EXPECT("{\"id\":6,\"ev\":\"ok\"}");
}
END_TEST

START_TEST(test_nothing_after_closed) {
  int closed;
  connect_(1);
  drv_send(&D, "{\"id\":2,\"op\":\"subscribe\",\"sub\":\"s\",\"subject\":\"z\","
               "\"delay_ms\":300}");
  drv_send(&D, "{\"id\":3,\"op\":\"publish\",\"subject\":\"z\",\"count\":2}");
  EXPECT("\"ev\":\"msg\"", "\"seq\":1");
  drv_send(&D, "{\"id\":4,\"op\":\"close\"}");
  EXPECT("{\"id\":4,\"ev\":\"ok\"}");
  /* the slow handler is cut short: no msg_done after closed */
  while (drv_line(&D, 500))
    ;
  closed = line_index("\"ev\":\"closed\"");
  ck_assert_int_ge(closed, 0);
  for (int i = closed + 1; i < D.nlines; i++)
    ck_assert_msg(strstr(D.lines[i], "\"id\":") != NULL, "after closed: %s",
                  D.lines[i]);
}
END_TEST

START_TEST(test_slow_consumer_event) {
  connect_(1);
  drv_send(&D, "{\"id\":2,\"op\":\"subscribe\",\"sub\":\"s\",\"subject\":\"s\","
               "\"delay_ms\":200,\"pending_msgs_limit\":1}");
  drv_send(&D, "{\"id\":3,\"op\":\"publish\",\"subject\":\"s\",\"count\":5}");
  EXPECT("\"ev\":\"slow_consumer\"", "\"sub\":\"s\"");
}
END_TEST

START_TEST(test_disconnected_reconnected) {
  char p[16];
  const char *args[] = {"-p", p, NULL};
  int port = NS.port;
  drv_send(&D,
           "{\"id\":1,\"op\":\"connect\",\"servers\":[\"%s\"],"
           "\"reconnect_wait_ms\":50,\"max_reconnect\":-1}",
           url);
  EXPECT("\"id\":1", "\"ok\"");
  nm_natsserver_stop(&NS);
  EXPECT("\"ev\":\"disconnected\"");
  snprintf(p, sizeof(p), "%d", port);
  ck_assert_int_eq(nm_natsserver_start(&NS, NULL, args), 0);
  EXPECT("\"ev\":\"reconnected\"");
}
END_TEST

/* A scripted server for the events a lone nats-server does not send. */
START_TEST(test_discovered_lame_duck_error) {
  struct sockaddr_in sa = {.sin_family = AF_INET};
  socklen_t len = sizeof(sa);
  int l = socket(AF_INET, SOCK_STREAM, 0), c;
  char buf[4096];

  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
  ck_assert_int_eq(listen(l, 4), 0);
  getsockname(l, (struct sockaddr *)&sa, &len);
  drv_send(
      &D, "{\"id\":1,\"op\":\"connect\",\"servers\":[\"nats://127.0.0.1:%d\"]}",
      ntohs(sa.sin_port));
  c = accept(l, NULL, NULL);
  ck_assert_int_ge(c, 0);
  nm_test_send_str(c, "INFO {\"headers\":true,\"max_payload\":1024} \r\n");
  nm_test_read(c, buf, sizeof(buf), "PING\r\n", 2000, 0, NULL);
  nm_test_send_str(c, "PONG\r\n");
  EXPECT("\"id\":1", "\"ok\"");
  nm_test_send_str(c,
                   "INFO {\"headers\":true,\"max_payload\":1024,"
                   "\"connect_urls\":[\"127.0.0.1:4333\"],\"ldm\":true} \r\n");
  EXPECT("\"ev\":\"discovered\"", "nats://127.0.0.1:4333");
  EXPECT("\"ev\":\"lame_duck\"");
  nm_test_send_str(c, "-ERR 'Permissions Violation for Publish to \"x\"'\r\n");
  EXPECT("\"ev\":\"error\"", "Permissions Violation");
  /* max_payload from INFO is enforced */
  drv_send(&D, "{\"id\":2,\"op\":\"publish\",\"subject\":\"x\",\"size\":1025}");
  EXPECT("\"id\":2", "\"max_payload\"");
  close(c);
  close(l);
}
END_TEST

/* on_msg actions are checked when the subscribe arrives: an op a handler may
 * not make (a subscribe reusing the handler's own tag replaced the list the
 * handler was walking, and ASan saw the freed list read), a list that is
 * not one, an action without an id: each is err bad_command for the
 * subscribe, naming the action, and nothing is subscribed. */
START_TEST(test_on_msg_refuses_other_ops) {
  int i;
  connect_(1);
  drv_send(&D, "{\"id\":2,\"op\":\"subscribe\",\"sub\":\"h\",\"subject\":\"h\","
               "\"on_msg\":[{\"at\":1,\"id\":3,\"op\":\"publish\","
               "\"subject\":\"x\"},{\"at\":1,\"id\":4,\"op\":\"subscribe\","
               "\"sub\":\"h\",\"subject\":\"h\"}]}");
  EXPECT("{\"id\":2,\"ev\":\"err\"", "\"bad_command\"",
         "on_msg[1]: op \\\"subscribe\\\" cannot be a handler action");
  drv_send(&D, "{\"id\":5,\"op\":\"subscribe\",\"sub\":\"h\",\"subject\":\"h\","
               "\"on_msg\":[{\"at\":1,\"id\":6,\"op\":\"connect\"}]}");
  EXPECT("{\"id\":5,\"ev\":\"err\"", "\"bad_command\"",
         "on_msg[0]: op \\\"connect\\\" cannot be a handler action");
  drv_send(&D, "{\"id\":7,\"op\":\"subscribe\",\"sub\":\"h\",\"subject\":\"h\","
               "\"on_msg\":{\"at\":1,\"id\":8,\"op\":\"flush\"}}");
  EXPECT("{\"id\":7,\"ev\":\"err\"", "\"bad_command\"",
         "on_msg must be a list of at most 100 actions");
  drv_send(&D, "{\"id\":9,\"op\":\"subscribe\",\"sub\":\"h\",\"subject\":\"h\","
               "\"on_msg\":[{\"at\":1,\"op\":\"flush\"}]}");
  EXPECT("{\"id\":9,\"ev\":\"err\"", "\"bad_command\"",
         "on_msg[0]: an action needs an id");
  drv_send(&D, "{\"id\":10,\"op\":\"subscribe\",\"sub\":\"h\",\"subject\":"
               "\"h\",\"on_msg\":[{\"at\":0,\"id\":11,\"op\":\"flush\"}]}");
  EXPECT("{\"id\":10,\"ev\":\"err\"", "\"bad_command\"",
         "on_msg[0]: at must be a positive integer");
  /* None of them subscribed: a message on h reaches only w. */
  drv_send(&D, "{\"id\":12,\"op\":\"subscribe\",\"sub\":\"w\",\"subject\":"
               "\"h\"}");
  EXPECT("{\"id\":12,\"ev\":\"ok\"");
  drv_send(&D, "{\"id\":13,\"op\":\"publish\",\"subject\":\"h\"}");
  EXPECT("\"ev\":\"msg\"", "\"sub\":\"w\"");
  drv_send(&D, "{\"id\":14,\"op\":\"flush\"}");
  EXPECT("{\"id\":14,\"ev\":\"ok\"");
  ck_assert_int_eq(line_index("\"sub\":\"h\""), -1);
  for (i = 3; i <= 11; i++) {
    char id[32];
    snprintf(id, sizeof(id), "{\"id\":%d,", i);
    if (i != 5 && i != 7 && i != 9 && i != 10)
      ck_assert_msg(line_index(id) == -1, "a result for action %d", i);
  }
}
END_TEST

/* The driver takes as many on_msg actions as the harness's loader allows
 * (100), every flush and request among them blocking the handler: the next
 * message of the subscription is handled only after all 100 flushes ended
 * (the driver used to run the 17th and later as non-blocking). One more is
 * refused, not cut. */
START_TEST(test_on_msg_action_bound) {
  char cmd[8192];
  size_t n;
  int i, second;
  connect_(1);
  for (int total = 101; total >= 100; total--) {
    n = (size_t)snprintf(cmd, sizeof(cmd),
                         "{\"id\":%d,\"op\":\"subscribe\",\"sub\":\"b\","
                         "\"subject\":\"b\",\"on_msg\":[",
                         total == 101 ? 2 : 3);
    for (i = 0; i < total; i++)
      n += (size_t)snprintf(cmd + n, sizeof(cmd) - n,
                            "%s{\"at\":1,\"id\":%d,\"op\":\"flush\"}",
                            i ? "," : "", 1000 + i);
    ck_assert_uint_lt(n + 3, sizeof(cmd));
    snprintf(cmd + n, sizeof(cmd) - n, "]}");
    drv_send(&D, "%s", cmd);
  }
  EXPECT("{\"id\":2,\"ev\":\"err\"", "\"bad_command\"",
         "on_msg must be a list of at most 100 actions");
  EXPECT("{\"id\":3,\"ev\":\"ok\"");
  drv_send(&D, "{\"id\":4,\"op\":\"publish\",\"subject\":\"b\",\"count\":2}");
  EXPECT("\"ev\":\"msg\"", "\"sub\":\"b\"", "\"seq\":2");
  second = D.nlines - 1;
  for (i = 0; i < 100; i++) {
    char ok[64];
    snprintf(ok, sizeof(ok), "{\"id\":%d,\"ev\":\"ok\"", 1000 + i);
    ck_assert_msg(line_index(ok) >= 0 && line_index(ok) < second,
                  "flush %d did not end before message 2", 1000 + i);
  }
}
END_TEST

START_TEST(test_stdin_eof_exits) {
  connect_(1);
  ck_assert_int_eq(drv_stop(&D), 0);
}
END_TEST

static Suite *driver_suite(void) {
  Suite *s = suite_create("driver");
  TCase *tc = tcase_create("natsmock-driver");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_example);
  tcase_add_test(tc, test_connect_fail);
  tcase_add_test(tc, test_publish_seq_and_data);
  tcase_add_test(tc, test_subscribe_queue_max_unsubscribe);
  tcase_add_test(tc, test_request);
  tcase_add_test(tc, test_drain_and_close);
  tcase_add_test(tc, test_slow_consumer_event);
  tcase_add_test(tc, test_nothing_after_closed);
  tcase_add_test(tc, test_disconnected_reconnected);
  tcase_add_test(tc, test_discovered_lame_duck_error);
  tcase_add_test(tc, test_on_msg_refuses_other_ops);
  tcase_add_test(tc, test_on_msg_action_bound);
  tcase_add_test(tc, test_stdin_eof_exits);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN); /* libuv leaves it to the program */
  return nm_test_run_suite(driver_suite(), CK_NORMAL);
}
