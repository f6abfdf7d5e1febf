/* The natsmock-harness program: selection, exit status, expected failures,
 * --list, --repeat, -j, report files, --server. The driver is the fake one
 * in test_harness_run ("--fake-driver good"). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nm_test_util.h"

/* Output kept from one harness run. */
#define CLI_OUT_MAX (256 * 1024)

static char harness[1024], driver[1024], dir[64];
static char output[CLI_OUT_MAX];

static void put(const char *name, const char *text) {
  ck_assert_int_eq(nm_test_write_file(dir, name, text), 0);
}

/* Runs the harness with `args` (paths relative to the temp dir); returns
 * its exit status, output in `output`. */
static int harness_run(const char *args) {
  char cmd[4096];
  int st;
  snprintf(cmd, sizeof(cmd), "cd %s && %s --driver '%s' %s 2>&1", dir, harness,
           driver, args);
  st = nm_test_shell(cmd, output, sizeof(output));
  if (getenv("NM_TEST_SHOW"))
    fprintf(stderr, "$ %s\n%s[exit %d]\n", args, output, st);
  ck_assert_int_ge(st, 0);
  return st;
}

static int count(const char *needle) {
  return nm_test_count(output, needle);
}

static void setup(void) {
  const char *bin = getenv("NM_BINARY_DIR");
  ck_assert_msg(bin != NULL, "NM_BINARY_DIR is not set (run through ctest)");
  snprintf(harness, sizeof(harness), "%s/harness/natsmock-harness", bin);
  snprintf(driver, sizeof(driver),
           "%s/tests/test_harness_run --fake-driver "
           "good",
           bin);
  ck_assert_msg(access(harness, X_OK) == 0, "%s missing", harness);
  snprintf(dir, sizeof(dir), "/tmp/nm-test-cli-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  mkdir(strcat(strcpy(output, dir), "/s"), 0777);
  mkdir(strcat(strcpy(output, dir), "/s/flush"), 0777);
  mkdir(strcat(strcpy(output, dir), "/s/drain"), 0777);
  put("s/flush/good.json",
      "{\"tags\":[\"quick\"],\"steps\":[{\"do\":\"connect\",\"expect\":"
      "\"ok\"},{\"do\":\"flush\",\"expect\":\"ok\"}],\"invariants\":["
      "\"flush_fence\"]}");
  put("s/flush/held.json",
      "{\"steps\":[{\"do\":\"connect\",\"expect\":\"ok\"},{\"fault\":{"
      "\"rules\":[{\"dir\":\"out\",\"verb\":\"PONG\",\"action\":\"hold\"}]}},"
      "{\"do\":\"flush\",\"expect\":\"ok\",\"within_ms\":100}]}");
  put("s/drain/other.json",
      "{\"name\":\"other-name\",\"tags\":[\"slow\"],\"steps\":[{\"do\":"
      "\"connect\",\"expect\":\"ok\"}]}");
  put("bad.json", "{\"steps\":[{\"do\":\"fly\"}]}");
  put("xfail.json",
      "[{\"scenario\":\"held\",\"broke\":[\"step 2\"],\"cause\":\"PONG "
      "held\"},{\"scenario\":\"good\",\"broke\":[\"invariant "
      "flush_fence\"],\"cause\":\"not really\"}]");
  /* The same scenario failing, but the baseline names another step. */
  put("xfail-other.json", "[{\"scenario\":\"held\",\"broke\":[\"step "
                          "1\"],\"cause\":\"PONG held\"}]");
  put("xfail-noname.json", "[{\"scenario\":\"heldd\",\"broke\":[\"step "
                           "2\"],\"cause\":\"typo\"}]");
  put("xfail-nobroke.json", "[{\"scenario\":\"held\",\"cause\":\"old\"}]");
  put("xfail-badjson.json", "[{\"scenario\":\"held\",\n \"cause\" \"x\"}]");
}

static void teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
}

START_TEST(exit_status) {
  ck_assert_int_eq(harness_run("s/flush/good.json"), 0);
  ck_assert_int_eq(count("PASS"), 1);
  ck_assert_int_eq(harness_run("s/"), 1);
  ck_assert_int_eq(count("] FAIL"), 1);
  ck_assert_int_eq(count("] PASS"), 2);
  ck_assert_ptr_nonnull(strstr(output, "flush/held"));
  ck_assert_int_eq(harness_run("bad.json"), 2);
  ck_assert_ptr_nonnull(strstr(output, "bad.json: steps[0]: do: unknown op"));
  ck_assert_int_eq(harness_run("s/flush/good.json bad.json"), 1);
  ck_assert_int_eq(harness_run(""), 2);
  ck_assert_int_eq(harness_run("--repeat x s/"), 2);
  ck_assert_int_eq(harness_run("--bogus s/"), 2);
  ck_assert_int_eq(harness_run("no/such/dir"), 2);
}
END_TEST

/* The limit for a driver's hello (10 s) is a tolerance for the machine and
 * grows with --time-scale: a driver that takes 10.5 s to start runs with
 * --time-scale 2 (before, it failed with "no hello within 10000 ms"). */
START_TEST(hello_limit_grows_with_time_scale) {
  static char script[sizeof(driver) + 64];
  snprintf(script, sizeof(script), "#!/bin/sh\nsleep 10.5\nexec %s\n", driver);
  put("slow-driver.sh", script);
  snprintf(driver, sizeof(driver), "%s/slow-driver.sh", dir);
  ck_assert_int_eq(chmod(driver, 0755), 0);
  ck_assert_int_eq(harness_run("--time-scale 2 s/flush/good.json"), 0);
  ck_assert_int_eq(count("] PASS"), 1);
}
END_TEST

START_TEST(expected_failures) {
  ck_assert_int_eq(harness_run("--expected-failures xfail.json s/"), 0);
  ck_assert_int_eq(count("] XFAIL"), 1);
  ck_assert_int_eq(count("] XPASS"), 1);
  ck_assert_ptr_nonnull(strstr(output, "PONG held"));
  ck_assert_int_eq(harness_run("--expected-failures missing.json s/"), 2);
  /* A failure the entry does not name is new: FAIL, naming it. */
  ck_assert_int_eq(harness_run("--expected-failures xfail-other.json s/"), 1);
  ck_assert_int_eq(count("] FAIL"), 1);
  ck_assert_ptr_nonnull(strstr(output, "not in the baseline: step 2 (await)"));
  /* An entry naming no scenario, without "broke", or not JSON: errors. */
  ck_assert_int_eq(harness_run("--expected-failures xfail-noname.json s/"), 2);
  ck_assert_ptr_nonnull(strstr(
      output, "xfail-noname.json: [0].scenario: \"heldd\" names no scenario"));
  ck_assert_int_eq(harness_run("--expected-failures xfail-nobroke.json s/"), 2);
  ck_assert_ptr_nonnull(
      strstr(output, "xfail-nobroke.json: [0].broke: required"));
  ck_assert_int_eq(harness_run("--expected-failures xfail-badjson.json s/"), 2);
  ck_assert_ptr_nonnull(strstr(output, "line 2, column 10, at '\"x\"}]'"));
}
END_TEST

START_TEST(selection_and_list) {
  ck_assert_int_eq(harness_run("--list s/"), 0);
  ck_assert_int_eq(count("\n"), 3);
  ck_assert_ptr_nonnull(strstr(output, "other-name"));
  ck_assert_int_eq(harness_run("--name 'g*' s/"), 0);
  ck_assert_int_eq(count("] PASS"), 1);
  ck_assert_int_eq(harness_run("--tag slow --tag quick s/"), 0);
  ck_assert_int_eq(count("] PASS"), 2);
  /* A selection that matches nothing is a typo, not an empty success. */
  ck_assert_int_eq(harness_run("--tag nothing s/"), 2);
  ck_assert_ptr_nonnull(strstr(output, "--tag nothing: no scenario has it"));
  ck_assert_int_eq(harness_run("--name 'g*' --name gooood s/"), 2);
  ck_assert_ptr_nonnull(strstr(output, "--name gooood: matches no scenario"));
}
END_TEST

/* --shard I/N: for N = 1, 2 and 5, the N slices of the real suite's selection
 * together list every scenario exactly once, slice sizes differ by at most
 * one, the same slice twice is the same list, and an unloadable file is
 * reported by exactly one slice. */
START_TEST(sharding) {
  const char *src = getenv("NM_SOURCE_DIR");
  char cmd[2048];
  ck_assert_ptr_nonnull(src);
  /* N = 1, 2, 5 (each costs 2N + 3 listings: kept quick under ASan). */
  static const int ns[] = {1, 2, 5};
  for (int q = 0; q < 3; q++) {
    int n = ns[q];
    snprintf(cmd, sizeof(cmd),
             "h='%s'; s='%s/scenarios'; all=$($h --list $s | sort); "
             "union=$(for i in $(seq 1 %d); do $h --list --shard $i/%d $s; "
             "done | sort); "
             "[ \"$all\" = \"$union\" ] || { echo DIFFER; exit 1; }; "
             "[ $(echo \"$all\" | wc -l) -gt 50 ] || { echo SMALL; exit 1; }; "
             "sizes=$(for i in $(seq 1 %d); do $h --list --shard $i/%d $s | "
             "wc -l; done | sort -n | sed -n '1p;$p' | tr '\\n' ' '); "
             "set -- $sizes; [ $(($2 - $1)) -le 1 ] || { echo UNEVEN $sizes; "
             "exit 1; }; "
             "[ \"$($h --list --shard 1/%d $s)\" = \"$($h --list --shard "
             "1/%d $s)\" ] || { echo UNSTABLE; exit 1; }; echo SAME",
             harness, src, n, n, n, n, n, n);
    ck_assert_int_eq(nm_test_shell(cmd, output, sizeof(output)), 0);
    ck_assert_msg(strstr(output, "SAME") != NULL, "N=%d: %s", n, output);
  }
  /* The load error of bad.json: in one slice of three, not in the others. */
  int reported = 0;
  for (int i = 1; i <= 3; i++) {
    char args[64];
    snprintf(args, sizeof(args), "--list --shard %d/3 s/ bad.json", i);
    int st = harness_run(args);
    if (strstr(output, "bad.json")) {
      reported++;
      ck_assert_int_eq(st, 2);
    }
  }
  ck_assert_int_eq(reported, 1);
  ck_assert_int_eq(harness_run("--shard 0/3 s/"), 2);
  ck_assert_int_eq(harness_run("--shard 4/3 s/"), 2);
  ck_assert_int_eq(harness_run("--shard 1/ s/"), 2);
  ck_assert_int_eq(harness_run("--shard 1 s/"), 2);
}
END_TEST

/* The console: plain lines when not a terminal (here, a pipe), the live
 * status line when asked for (NM_PROGRESS=live stands for a terminal): counts,
 * elapsed and time left, what runs; a run that did not pass stays printed. */
START_TEST(progress_line) {
  ck_assert_int_eq(harness_run("-j2 s/"), 1);
  ck_assert_ptr_null(strstr(output, "\033["));
  ck_assert_int_eq(count("] PASS"), 2);
  ck_assert_int_eq(harness_run("--list s/"), 0);
  ck_assert_ptr_null(strstr(output, "\033["));

  setenv("NM_PROGRESS", "live", 1);
  int st = harness_run("-j2 s/");
  unsetenv("NM_PROGRESS");
  ck_assert_int_eq(st, 1);
  ck_assert_ptr_nonnull(strstr(output, "\r\033[K[0/3] pass 0 fail 0 xfail 0"));
  ck_assert_ptr_nonnull(strstr(output, "[3/3] pass 2 fail 1 xfail 0 skip 0 |"));
  ck_assert_ptr_nonnull(strstr(output, " left | "));
  /* held, the slowest, is named as running */
  ck_assert(strstr(output, "left | held") || strstr(output, ", held"));
  ck_assert_int_eq(count("] PASS"), 0); /* passes only move the counts */
  ck_assert_int_eq(count("] FAIL  flush/held"), 1);
  ck_assert_ptr_nonnull(strstr(output, "\r\033[K3 run(s) in"));
}
END_TEST

START_TEST(repeat_parallel_reports) {
  char path[256];
  struct stat st;
  ck_assert_int_eq(harness_run("-j2 --repeat 3 --seed 7 --name good --name "
                               "held --junit j.xml --json r.json --html "
                               "r.html --trace tr --record rec s/"),
                   1);
  ck_assert_int_eq(count("] PASS"), 3);
  ck_assert_int_eq(count("] FAIL"), 3);
  ck_assert_int_eq(count("seed 7,"), 3);
  ck_assert_int_eq(count(" #3 "), 2);
  snprintf(path, sizeof(path), "%s/j.xml", dir);
  ck_assert_int_eq(stat(path, &st), 0);
  snprintf(path, sizeof(path), "%s/r.json", dir);
  ck_assert_int_eq(stat(path, &st), 0);
  snprintf(path, sizeof(path), "%s/r.html", dir);
  ck_assert_int_eq(stat(path, &st), 0);
  snprintf(path, sizeof(path), "%s/tr/good.r3-1.expanded.json", dir);
  ck_assert_msg(stat(path, &st) == 0, "%s", path);
  snprintf(path, sizeof(path), "%s/tr/held.r2-1.expanded.json", dir);
  ck_assert_msg(stat(path, &st) == 0, "%s", path);
  /* With --repeat every repetition is named .r<k>, the first one too. */
  snprintf(path, sizeof(path), "%s/tr/good.r1-1.expanded.json", dir);
  ck_assert_msg(stat(path, &st) == 0, "%s", path);
  /* --record: every run's whole timeline, passing runs included, with the
   * driver's lines and the connection's close (and how it ended). */
  {
    char text[64 * 1024];
    FILE *f;
    size_t n;
    snprintf(path, sizeof(path), "%s/rec/good.r1.timeline.jsonl", dir);
    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s", path);
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    ck_assert_ptr_nonnull(strstr(text, "\"format\":\"natsmock-timeline\""));
    ck_assert_ptr_nonnull(strstr(text, "\"status\":\"PASS\""));
    ck_assert_ptr_nonnull(strstr(text, "\"kind\":\"ev\""));
    ck_assert_ptr_nonnull(strstr(text, "\"kind\":\"cmd\""));
    ck_assert_ptr_nonnull(strstr(text, "\"verb\":\"PONG\""));
    snprintf(path, sizeof(path), "%s/rec/held.r3.timeline.jsonl", dir);
    ck_assert_msg(stat(path, &st) == 0, "%s", path);
  }
}
END_TEST

/* -j N: runs on N threads at once, each reading its own drivers' output
 * (the runner drains a driver's pipe from the server's observer, see
 * nm__drv_drain). A scenario whose driver prints thousands of lines while
 * the server reads thousands of PUBs: with one read buffer shared by the
 * threads, runs read each other's lines and failed 20 runs in 40 ("not a
 * JSON object", "a result for a command that was never sent"). The reference
 * driver, the harness's default. */
START_TEST(parallel_runs_keep_their_driver_lines) {
  char cmd[4096];
  int st;
  put("chatty.json",
      "{\"steps\":[{\"do\":\"connect\",\"expect\":\"ok\"},"
      "{\"do\":\"subscribe\",\"subject\":\"c.x\",\"sub\":\"s\","
      "\"expect\":\"ok\"},"
      "{\"do\":\"publish\",\"subject\":\"c.x\",\"count\":3000,"
      "\"size\":16,\"expect\":\"ok\"},"
      "{\"do\":\"flush\",\"timeout_ms\":5000,\"expect\":\"ok\"},"
      "{\"do\":\"publish\",\"subject\":\"c.x\",\"count\":3000,"
      "\"size\":16,\"expect\":\"ok\"},"
      "{\"do\":\"flush\",\"timeout_ms\":5000,\"expect\":\"ok\"}]}");
  snprintf(cmd, sizeof(cmd), "cd %s && %s -j4 --repeat 8 chatty.json 2>&1", dir,
           harness);
  st = nm_test_shell(cmd, output, sizeof(output));
  ck_assert_msg(st == 0, "exit %d:\n%s", st, output);
  ck_assert_int_eq(count("] PASS"), 8);
}
END_TEST

/* JUnit: the suite's timestamp and properties, per case the seed, the
 * driver with its version and a timestamp; an expected failure is <skipped>
 * with its cause, what broke and the evidence; a file that did not load is an
 * <error> named after the file. */
START_TEST(junit_contents) {
  ck_assert_int_eq(harness_run("--seed 7 --expected-failures xfail.json "
                               "--junit j.xml s/ bad.json; cat j.xml"),
                   0);
  ck_assert_ptr_nonnull(strstr(output, "<testsuite name=\"natsmock-harness\""));
  ck_assert_ptr_nonnull(strstr(output, "skipped=\"1\" time="));
  ck_assert_ptr_nonnull(strstr(output, "\" timestamp=\"20"));
  ck_assert_ptr_nonnull(
      strstr(output, "<property name=\"natsmock.version\" value=\"0."));
  ck_assert_int_eq(count("<property name=\"seed\" value=\"7\"/>"), 3);
  ck_assert_int_eq(count("<property name=\"driver\" value=\""), 3);
  ck_assert_ptr_nonnull(
      strstr(output, "<skipped message=\"expected failure: PONG held | step "));
  ck_assert_ptr_nonnull(strstr(output, "  {&quot;i&quot;:"));
  ck_assert_ptr_nonnull(
      strstr(output, "<testcase classname=\"load\" name=\"bad.json\""));
  ck_assert_ptr_nonnull(strstr(output, "<error message=\"bad.json: steps[0]"));
  ck_assert_ptr_null(strstr(output, "name=\"?\""));
  /* Well-formed XML (ci/setup installs xmllint). */
  {
    char cmd[256];
    ck_assert_msg(system("command -v xmllint >/dev/null 2>&1") == 0,
                  "xmllint is not installed (apt libxml2-utils)");
    snprintf(cmd, sizeof(cmd), "xmllint --noout %s/j.xml", dir);
    ck_assert_int_eq(system(cmd), 0);
  }
}
END_TEST

START_TEST(real_server) {
  static char rec[64 * 1024];
  char cmd[256];
  ck_assert_msg(nm_natsserver_available(),
                "nats-server is not installed (ci/setup installs it)");
  ck_assert_int_eq(harness_run("--server nats-server s/"), 0);
  ck_assert_int_eq(count("] PASS"), 2);
  ck_assert_int_eq(count("] SKIP"), 1);
  ck_assert_ptr_nonnull(strstr(output, "uses fault steps"));
  /* Through the proxy the timeline holds both legs: the client's frames as
   * the proxy read them (in) and as it wrote them to the server
   * (to_server), and the server's answers (from_server, then out). */
  ck_assert_int_eq(
      harness_run(
          "--server nats-server --proxy --record rec s/flush/good.json"),
      0);
  snprintf(cmd, sizeof(cmd), "cat %s/rec/good.timeline.jsonl", dir);
  ck_assert_int_eq(nm_test_shell(cmd, rec, sizeof(rec)), 0);
  ck_assert_int_gt(nm_test_count(rec, "\"kind\":\"in\",\"conn\":1,"), 0);
  ck_assert_int_gt(nm_test_count(rec, "\"kind\":\"to_server\""), 0);
  ck_assert_int_gt(nm_test_count(rec, "\"kind\":\"from_server\""), 0);
  ck_assert_int_eq(nm_test_count(rec, "\"kind\":\"to_server\""),
                   nm_test_count(rec, "\"kind\":\"in\""));
}
END_TEST

/* Passwords and tokens appear in no output: console, JUnit, JSON, HTML and
 * --trace files (whose CONNECT payloads are base64), for two failing
 * scenarios whose evidence cites the connect command. The built-in driver
 * (a real client) sends them in its CONNECT. */
START_TEST(secrets_redacted) {
  char cmd[2048];
  put("pw.json", "{\"server\":{\"user\":\"u\",\"pass\":\"pw-SECRET1\"},"
                 "\"steps\":[{\"do\":\"connect\",\"user\":\"u\",\"pass\":"
                 "\"pw-SECRET1\",\"reconnect\":false,\"expect\":\"err\"}]}");
  put("tok.json", "{\"server\":{\"token\":\"tok-SECRET2\"},\"steps\":[{\"do\":"
                  "\"connect\",\"token\":\"tok-SECRET2\",\"reconnect\":false,"
                  "\"expect\":\"err\"}]}");
  snprintf(cmd, sizeof(cmd),
           "cd %s && %s --junit j.xml --json r.json --html r.html --trace tr "
           "pw.json tok.json 2>&1; cat j.xml r.json r.html tr/*; "
           "sed -n 's/.*\"verb\":\"CONNECT\",\"payload\":\"\\([^\"]*\\)\".*/"
           "\\1/p' tr/* | while read b; do echo \"$b\" | base64 -d; echo; "
           "done",
           dir, harness);
  ck_assert_int_ge(nm_test_shell(cmd, output, sizeof(output)), 0);
  if (getenv("NM_TEST_SHOW"))
    fprintf(stderr, "%s\n", output);
  ck_assert_int_eq(count("] FAIL"), 2);
  ck_assert_int_eq(count("SECRET"), 0);
  /* The decoded CONNECTs, and the commands in the reports. */
  ck_assert_int_eq(count("\"pass\":\"[REDACTED]\""), 1);
  ck_assert_int_eq(count("\"auth_token\":\"[REDACTED]\""), 1);
  ck_assert_int_gt(count("[REDACTED]"), 4);
}
END_TEST

int main(void) {
  Suite *s = suite_create("harness_cli");
  TCase *tc = tcase_create("all");
  SRunner *sr;
  int failed;
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, exit_status);
  tcase_add_test(tc, expected_failures);
  tcase_add_test(tc, selection_and_list);
  tcase_add_test(tc, sharding);
  tcase_add_test(tc, progress_line);
  tcase_add_test(tc, junit_contents);
  tcase_add_test(tc, repeat_parallel_reports);
  tcase_add_test(tc, real_server);
  tcase_add_test(tc, secrets_redacted);
  tcase_add_test(tc, parallel_runs_keep_their_driver_lines);
  tcase_add_test(tc, hello_limit_grows_with_time_scale);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? 0 : 1;
}
