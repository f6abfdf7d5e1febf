/* Subject validation and wildcard matching: two tables, each checked against
 * nm_subject_* and against the real nats-server 2.9.10 (SUB -> 'Invalid
 * Subject' or not, pedantic PUB -> 'Invalid Publish Subject' or not, and
 * SUB pattern + PUB subject -> a MSG or not). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nm_subject.h"
#include "nm_test_util.h"

#define TIMEOUT_MS 5000

typedef struct {
  const char *s;
  int valid;   /* as a SUB subject */
  int literal; /* as a pedantic PUB subject */
} valid_row_t;

static const valid_row_t kValid[] = {
    {"foo", 1, 1},     {"foo.bar", 1, 1},  {"foo.bar.baz.qux", 1, 1},
    {"foo.*", 1, 0},   {"foo.>", 1, 0},    {">", 1, 0},
    {"*", 1, 0},       {"*.>", 1, 0},      {"*.*.*", 1, 0},
    {"foo*", 1, 1}, /* wildcards only as whole tokens */
    {"a.*b", 1, 1},    {"a.b>", 1, 1},     {"**", 1, 1},
    {">>", 1, 1},      {"$SYS.x", 1, 1},   {"_INBOX.abc.1", 1, 1},
    {"a\fb", 1, 1}, /* 2.9.10 does not check whitespace here */
    {"a.\x0b", 1, 1},  {">.foo", 0, 0},    {"foo.>.bar", 0, 0},
    {"foo.>.>", 0, 0}, {"foo..bar", 0, 0}, {".foo", 0, 0},
    {"foo.", 0, 0},    {".", 0, 0},        {"..", 0, 0},
    {"a..>", 0, 0},
};

typedef struct {
  const char *pattern, *subject;
  int match;
} match_row_t;

static const match_row_t kMatch[] = {
    {"foo", "foo", 1},
    {"foo", "bar", 0},
    {"foo", "foo.bar", 0},
    {"foo.bar", "foo", 0},
    {"A", "a", 0},
    {"a.b.c", "a.b.c", 1},
    {"*", "foo", 1},
    {"*", "foo.bar", 0},
    {"foo.*", "foo.bar", 1},
    {"foo.*", "foo", 0},
    {"foo.*", "foo.bar.baz", 0},
    {"foo.>", "foo.bar", 1},
    {"foo.>", "foo.bar.baz", 1},
    {"foo.>", "foo", 0},
    {">", "foo", 1},
    {">", "foo.bar.baz", 1},
    {"*.bar", "foo.bar", 1},
    {"*.bar", "foo.baz", 0},
    {"*.*", "a.b", 1},
    {"*.*", "a.b.c", 0},
    {"a.*.c", "a.b.c", 1},
    {"a.*.c", "a.b.d", 0},
    {"*.>", "a", 0},
    {"*.>", "a.b", 1},
    {"*.*.>", "a.b.c", 1},
    {"*.*.>", "a.b", 0},
    {"foo.*.>", "foo.x.y.z", 1},
    {"foo.bar.*", "foo.bar", 0},
    {"foo*", "foo*", 1},
    {"foo*", "fooX", 0},
    {"foo.*", "foo.*", 1}, /* a '*' in a published subject is a literal */
    {"foo.bar", "foo.*", 0},
    {"foo.>", "foo.>", 1},
    {"$SYS.>", "$SYS.a", 1},
    {">", "foo..bar", 0}, /* an empty token matches nothing */
    {">", "foo.", 0},
    {">", ".foo", 0},
    {"foo.*", "foo.", 0},
    {">", "a\fb", 1},
    {"a\fb", "a\fb", 1},
};

#define NVALID ((int)(sizeof(kValid) / sizeof(kValid[0])))
#define NMATCH ((int)(sizeof(kMatch) / sizeof(kMatch[0])))

static nm_slice_t sl(const char *s) {
  nm_slice_t r = {s, strlen(s)};
  return r;
}

START_TEST(test_valid_table) {
  const valid_row_t *r = &kValid[_i];
  ck_assert_msg(nm_subject_valid(sl(r->s)) == r->valid, "valid('%s')", r->s);
  ck_assert_msg(nm_subject_valid_literal(sl(r->s)) == r->literal,
                "valid_literal('%s')", r->s);
}
END_TEST

START_TEST(test_match_table) {
  const match_row_t *r = &kMatch[_i];
  ck_assert_msg(nm_subject_matches(sl(r->pattern), sl(r->subject)) == r->match,
                "matches('%s', '%s')", r->pattern, r->subject);
}
END_TEST

START_TEST(test_empty_and_null) {
  nm_slice_t none = {NULL, 0};
  ck_assert(!nm_subject_valid(none));
  ck_assert(!nm_subject_valid(sl("")));
  ck_assert(!nm_subject_valid_literal(none));
  ck_assert(!nm_subject_matches(none, sl("a")));
  ck_assert(!nm_subject_matches(sl("a"), none));
  ck_assert(!nm_subject_matches(sl(">"), sl("")));
  /* a slice is not NUL-terminated: only its n bytes count */
  ck_assert(nm_subject_valid((nm_slice_t){"foo.>junk", 5}));
  ck_assert(nm_subject_matches((nm_slice_t){"foo.*x", 5},
                               (nm_slice_t){"foo.bar.baz", 7}));
}
END_TEST

START_TEST(test_table_sizes) {
  ck_assert_int_ge(NVALID + NMATCH, 40);
  ck_assert_int_ge(NMATCH, 40);
}
END_TEST

/* ---- against nats-server ------------------------------------------------ */

static nm_natsserver_t g_ns;

static void start_server(void) {
  if (!nm_natsserver_available() || nm_natsserver_start(&g_ns, NULL, NULL))
    g_ns.pid = 0;
}

static void stop_server(void) {
  if (g_ns.pid > 0)
    nm_natsserver_stop(&g_ns);
}

/* Sends CONNECT (pedantic as given) + `ops` + PING, returns everything the
 * server wrote up to the PONG. */
static void exchange(int pedantic, const char *ops, char *reply, size_t cap) {
  char line[4096];
  nm_peer_state_t st;
  int fd;

  ck_assert_msg(g_ns.pid > 0, "nats-server did not start");
  fd = nm_test_connect(g_ns.port);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_gt(nm_test_read_line(fd, line, sizeof(line), TIMEOUT_MS), 0);
  snprintf(line, sizeof(line),
           "CONNECT {\"verbose\":false,\"pedantic\":%s}\r\n%sPING\r\n",
           pedantic ? "true" : "false", ops);
  ck_assert_int_eq(nm_test_send_str(fd, line), 0);
  nm_test_read(fd, reply, cap, "PONG\r\n", TIMEOUT_MS, 0, &st);
  close(fd);
  ck_assert_msg(strstr(reply, "PONG\r\n") != NULL, "no PONG for '%s': '%s'",
                ops, reply);
}

START_TEST(test_valid_vs_nats_server) {
  const valid_row_t *r = &kValid[_i];
  char ops[256], reply[1024];
  int err;

  snprintf(ops, sizeof(ops), "SUB %s 1\r\n", r->s);
  exchange(0, ops, reply, sizeof(reply));
  err = strstr(reply, "-ERR 'Invalid Subject'") != NULL;
  ck_assert_msg(err == !r->valid, "SUB '%s': nats-server said '%s'", r->s,
                reply);

  snprintf(ops, sizeof(ops), "PUB %s 1\r\nx\r\n", r->s);
  exchange(1, ops, reply, sizeof(reply));
  err = strstr(reply, "-ERR 'Invalid Publish Subject'") != NULL;
  ck_assert_msg(err == !r->literal, "pedantic PUB '%s': nats-server said '%s'",
                r->s, reply);
}
END_TEST

START_TEST(test_match_vs_nats_server) {
  const match_row_t *r = &kMatch[_i];
  char ops[256], reply[1024];
  int got;

  snprintf(ops, sizeof(ops), "SUB %s 1\r\nPUB %s 1\r\nx\r\n", r->pattern,
           r->subject);
  exchange(0, ops, reply, sizeof(reply));
  got = strstr(reply, "MSG ") != NULL;
  ck_assert_msg(got == r->match, "SUB '%s' PUB '%s': nats-server said '%s'",
                r->pattern, r->subject, reply);
}
END_TEST

static Suite *subject_suite(void) {
  Suite *s = suite_create("subject");
  TCase *tc = tcase_create("tables");
  TCase *tn = tcase_create("vs_nats_server");

  tcase_add_loop_test(tc, test_valid_table, 0, NVALID);
  tcase_add_loop_test(tc, test_match_table, 0, NMATCH);
  tcase_add_test(tc, test_empty_and_null);
  tcase_add_test(tc, test_table_sizes);
  suite_add_tcase(s, tc);

  tcase_add_unchecked_fixture(tn, start_server, stop_server);
  tcase_set_timeout(tn, 30);
  tcase_add_loop_test(tn, test_valid_vs_nats_server, 0, NVALID);
  tcase_add_loop_test(tn, test_match_vs_nats_server, 0, NMATCH);
  suite_add_tcase(s, tn);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(subject_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
