/* natsmock-matrix: the conformance document written from harness --json
 * summaries and baselines. The inputs are small hand-written summaries, so
 * every expectation about the output can be stated exactly. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nm_test_util.h"

/* Output kept from one run (the document or the program's stderr). */
#define MX_OUT_MAX (256 * 1024)

static char matrix[1024], dir[64];
static char output[MX_OUT_MAX];

static void put(const char *name, const char *text) {
  ck_assert_int_eq(nm_test_write_file(dir, name, text), 0);
}

/* Runs natsmock-matrix with `args` (paths relative to the temp dir), writing
 * the document to stdout; returns its exit status, output in `output`. */
static int matrix_run(const char *args) {
  char cmd[4096];
  int st;
  snprintf(cmd, sizeof(cmd), "cd %s && %s %s 2>&1", dir, matrix, args);
  st = nm_test_shell(cmd, output, sizeof(output));
  if (getenv("NM_TEST_SHOW"))
    fprintf(stderr, "$ %s\n%s[exit %d]\n", args, output, st);
  ck_assert_int_ge(st, 0);
  return st;
}

static int count(const char *needle) {
  return nm_test_count(output, needle);
}

static void has(const char *needle) {
  ck_assert_msg(strstr(output, needle) != NULL, "missing: %s\n--- output:\n%s",
                needle, output);
}

/* One result object: name, status, and `failures` (a JSON array text). */
static void result(char *buf, size_t cap, const char *name, const char *status,
                   const char *failures) {
  size_t len = strlen(buf);
  snprintf(buf + len, cap - len,
           "%s{\"name\":\"%s\",\"summary\":\"about %s\",\"status\":\"%s\","
           "\"driver\":\"lib 1.0\",\"failures\":%s}",
           len > 0 && buf[len - 1] != '[' ? "," : "", name, name, status,
           failures);
}

/* A failure object text with one evidence line. */
#define FAIL_OBJ(what, msg)                                                    \
  "{\"what\":\"" what "\",\"message\":\"" msg "\",\"evidence\":[{\"i\":1,"     \
  "\"t_ms\":12.345,\"kind\":\"in\",\"verb\":\"PUB\"}]}"

static void setup(void) {
  const char *bin = getenv("NM_BINARY_DIR");
  char a[16384] = "[", b[4096] = "[", many[8192] = "[";
  ck_assert_msg(bin != NULL, "NM_BINARY_DIR is not set (run through ctest)");
  snprintf(matrix, sizeof(matrix), "%s/harness/natsmock-matrix", bin);
  ck_assert_msg(access(matrix, X_OK) == 0, "%s missing", matrix);
  snprintf(dir, sizeof(dir), "/tmp/nm-test-matrix-XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));

  /* 20 failures of one kind and 1 of another: grouped, not listed. */
  for (int i = 0; i < 20; i++) {
    size_t len = strlen(many);
    snprintf(many + len, sizeof(many) - len,
             "%s" FAIL_OBJ("invariant no_loss", "lost %d"), i ? "," : "",
             i + 1);
  }
  strcat(many, "," FAIL_OBJ("step 3 (await)", "flush ended err") "," FAIL_OBJ(
                   "step 4 (await)",
                   "command id 4 (drain_sub) ended after 0.5 ms, earlier than "
                   "not_before_ms 800; deadline 2000 ms, took 1308.73 ms") "]");

  /* Client A: s1 pass; s2 a known failure (3 runs: fail, pass, fail);
   * s3 a new failure with many failures; s4 XPASS; s5 XPASS intermittent;
   * s6 skipped. */
  result(a, sizeof(a), "s1", "PASS", "[]");
  result(a, sizeof(a), "s2", "XFAIL",
         "[" FAIL_OBJ("invariant drain_sub_fence", "msg after the ok") "]");
  result(a, sizeof(a), "s2", "PASS", "[]");
  result(a, sizeof(a), "s2", "XFAIL",
         "[" FAIL_OBJ("invariant drain_sub_fence", "msg after the ok") "]");
  result(a, sizeof(a), "s3", "FAIL", many);
  result(a, sizeof(a), "s4", "XPASS", "[]");
  result(a, sizeof(a), "s5", "XPASS", "[]");
  result(a, sizeof(a), "s6", "SKIP", "[]");
  strcat(a, "]");
  {
    char doc[20000];
    snprintf(doc, sizeof(doc),
             "{\"runs\":8,\"passed\":2,\"failed\":1,\"skipped\":1,\"xfail\":2,"
             "\"xpass\":2,\"errors\":0,\"results\":%s}",
             a);
    put("a.json", doc);
  }
  put("a-base.json",
      "[{\"scenario\":\"s2\",\"cause\":\"drain resolves at the fence | "
      "early\"},{\"scenario\":\"s4\",\"cause\":\"was fixed\"},"
      "{\"scenario\":\"s5\",\"cause\":\"split CRLF stall\","
      "\"intermittent\":true}]");

  /* Client B: every scenario passes, s6 included. */
  for (int i = 1; i <= 6; i++) {
    char name[8];
    snprintf(name, sizeof(name), "s%d", i);
    result(b, sizeof(b), name, "PASS", "[]");
  }
  strcat(b, "]");
  {
    char doc[8192];
    snprintf(doc, sizeof(doc),
             "{\"runs\":6,\"passed\":6,\"failed\":0,\"skipped\":0,\"xfail\":0,"
             "\"xpass\":0,\"errors\":0,\"results\":%s}",
             b);
    put("b.json", doc);
  }
  put("notjson.json", "{\"runs\":");
}

static void teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
}

START_TEST(headline_and_table) {
  ck_assert_int_eq(matrix_run("'client A=a.json,a-base.json' B=b.json"), 0);
  has("6 scenarios");
  /* pass = passed + xpass; known = xfail; new = failed + errors. */
  has("| client A | lib 1.0 | 4 | 2 | 1 | 1 |");
  has("| B | lib 1.0 | 6 | 0 | 0 | 0 |");
  has("| scenario | client A | B |");
  has("| `s1` | pass | pass |");
  /* The worst of the repeats, and how many of them failed. */
  has("| `s2` | **fail** (known) 2/3 runs | pass |");
  has("| `s3` | **FAIL** | pass |");
  has("| `s4` | pass (baselined) | pass |");
  has("| `s5` | pass (known intermittent failure) | pass |");
  has("| `s6` | skip | pass |");
  has("### B\n\nEvery scenario passed or was skipped.");
}
END_TEST

START_TEST(findings_and_causes) {
  ck_assert_int_eq(matrix_run("'client A=a.json,a-base.json' B=b.json"), 0);
  /* The index: one row per failure, cause from the baseline, pipes escaped. */
  has("| client A | `s2` | **fail** (known) | invariant drain_sub_fence: msg "
      "after the ok | drain resolves at the fence \\| early |");
  has("| client A | `s3` | **FAIL** | invariant no_loss: lost 1 | not yet "
      "investigated |");
  has("| client A | `s4` | pass (baselined) |");
  has("passed: drop it from the baseline");
  has("| client A | `s5` | pass (known intermittent failure) |");
  ck_assert_int_eq(count("| B | `"), 0);
  /* Details: cause first, repeats counted, the intermittent one explained. */
  has("#### `s2` — XFAIL (client A), failed 2 of 3 runs\n\n**Cause:** drain "
      "resolves at the fence | early");
  has("**Cause:** not yet investigated (not in the baseline)");
  has("the baseline entry should go");
  has("Passed in this run; a known intermittent failure. **Cause:** split "
      "CRLF stall");
  has("Scenario: about s3");
}
END_TEST

START_TEST(failures_grouped) {
  ck_assert_int_eq(matrix_run("'client A=a.json,a-base.json'"), 0);
  /* 3 of the 20 no_loss failures are shown, then the step failure. */
  has("- invariant no_loss: lost 3\n");
  ck_assert_ptr_null(strstr(output, "lost 4\n"));
  has("- step 3 (await): flush ended err\n");
  has("- not shown: 17 more of invariant no_loss");
  /* Deterministic: no timestamps or indexes in evidence, measured
   * durations (with a decimal point) masked, set bounds kept. */
  has("  - `{\"kind\":\"in\",\"verb\":\"PUB\"}`");
  ck_assert_ptr_null(strstr(output, "t_ms"));
  has("- step 4 (await): command id 4 (drain_sub) ended after … ms, earlier "
      "than not_before_ms 800; deadline 2000 ms, took … ms\n");
}
END_TEST

START_TEST(bad_input) {
  ck_assert_int_eq(matrix_run(""), 2);
  has("no results given");
  ck_assert_int_eq(matrix_run("no-equals-sign"), 2);
  has("usage");
  ck_assert_int_eq(matrix_run("A=missing.json"), 2);
  has("cannot read missing.json");
  ck_assert_int_eq(matrix_run("A=notjson.json"), 2);
  has("notjson.json is not JSON");
  ck_assert_int_eq(matrix_run("A=a.json,missing.json"), 2);
  /* A bad input leaves the document it would replace untouched. */
  put("keep.md", "old document\n");
  ck_assert_int_eq(matrix_run("-o keep.md A=missing.json; cat keep.md"), 0);
  has("old document");
  /* -o writes the file, nothing on stdout. */
  ck_assert_int_eq(matrix_run("-o out.md A=a.json && cat out.md"), 0);
  has("# Conformance matrix");
}
END_TEST

int main(void) {
  Suite *s = suite_create("harness_matrix");
  TCase *tc = tcase_create("matrix");
  SRunner *sr;
  int failed;
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 30);
  tcase_add_test(tc, headline_and_table);
  tcase_add_test(tc, findings_and_causes);
  tcase_add_test(tc, failures_grouped);
  tcase_add_test(tc, bad_input);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
