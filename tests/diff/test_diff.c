/* Differential tests: every case of the case files named on the command line
 * runs against nats-server 2.9.10 and against natsmock, both as processes
 * with the same command line and config file. A case passes when both
 * servers' masked bytes and close states are identical and equal to the
 * expectation written in the case (which was taken from nats-server).
 *
 * Environment: NM_DIFF_REF (default "nats-server"), NM_DIFF_MOCK (the
 * natsmock binary; CMake sets it). NM_DIFF_RECORD=1 runs every case against
 * the reference only and prints it back with the observed expectations, to
 * write new cases. CK_RUN_CASE=<case name> runs one case. */
#define _GNU_SOURCE /* memmem */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_diff.h"

static nm_diff_case_t g_cases[NM_DIFF_MAX_CASES];
static int g_ncases;
static const char *g_ref = "nats-server";
static const char *g_mock;
static int g_split; /* --split: sends written one byte at a time */

static void print_side(const char *label, const nm_diff_result_t *r, int i) {
  fprintf(stderr, "  %s (%s, %lld ms%s%s):\n", label,
          nm__diff_state_name(r->state[i]), r->ms, r->error[0] ? ", " : "",
          r->error);
  nm__diff_print_escaped(stderr, r->out[i] ? r->out[i] : "", r->len[i], 1,
                         "    | ");
  if (r->dropped[i])
    fprintf(stderr, "    (+%zu bytes not kept)\n", r->dropped[i]);
}

static int same(const nm_diff_result_t *a, const nm_diff_result_t *b, int i) {
  return a->state[i] == b->state[i] && a->len[i] == b->len[i] &&
         a->dropped[i] == b->dropped[i] &&
         memcmp(a->out[i], b->out[i], a->len[i]) == 0;
}

/* 1 when r matches what the case expects on connection i. */
static int as_expected(const nm_diff_case_t *c, const nm_diff_result_t *r,
                       int i) {
  char *got;
  size_t n;
  int ok;
  if (c->full_info) {
    got = r->out[i];
    n = r->len[i];
  } else if (nm__diff_info_placeholder(r->out[i], r->len[i], &got, &n) != 0) {
    return 0;
  }
  ok = (int)r->state[i] == c->expect_state[i] && n == c->expect_len[i] &&
       memcmp(got, c->expect[i], n) == 0;
  if (!c->full_info)
    free(got);
  return ok;
}

typedef struct {
  const nm_diff_case_t *c;
  const char *binary;
  nm_diff_result_t *res;
  int rc;
} run_arg_t;

static void *run_thread(void *p) {
  run_arg_t *a = p;
  a->rc = nm_diff_run(a->c, a->binary, g_split, a->res);
  return NULL;
}

START_TEST(test_case) {
  const nm_diff_case_t *c = &g_cases[_i];
  nm_diff_result_t ref, mock;
  int ref_rc, mock_rc;
  int differ = 0, unexpected = 0;
  char what[512] = "";
  pthread_t th;
  run_arg_t arg = {c, g_mock, &mock, -1};

  /* Both servers play the case at the same time (each has its own process
   * and sockets), which halves the time of the timer cases. */
  memset(&mock, 0, sizeof(mock));
  if (!g_mock) {
    snprintf(mock.error, sizeof(mock.error), "NM_DIFF_MOCK is not set");
    mock_rc = -1;
    ref_rc = nm_diff_run(c, g_ref, g_split, &ref);
  } else if (pthread_create(&th, NULL, run_thread, &arg) == 0) {
    ref_rc = nm_diff_run(c, g_ref, g_split, &ref);
    pthread_join(th, NULL);
    mock_rc = arg.rc;
  } else {
    ref_rc = nm_diff_run(c, g_ref, g_split, &ref);
    mock_rc = nm_diff_run(c, g_mock, g_split, &mock);
  }
  for (int i = 0; i < NM_DIFF_MAX_CONNS && ref_rc == 0 && mock_rc == 0; i++) {
    if (!c->used[i])
      continue;
    if (!same(&ref, &mock, i)) {
      differ = 1;
      snprintf(what + strlen(what), sizeof(what) - strlen(what), " %c:differs",
               'A' + i);
    }
    if (!c->random && !as_expected(c, &ref, i)) {
      unexpected = 1;
      snprintf(what + strlen(what), sizeof(what) - strlen(what),
               " %c:nats-server-not-as-expected", 'A' + i);
    }
  }
  if (ref_rc != 0 || mock_rc != 0 || differ || unexpected) {
    fprintf(stderr, "\n== case %s%s (%s:%d):%s\n", c->name,
            g_split ? " (sends split into single bytes)" : "", c->file, c->line,
            what);
    if (c->random) {
      /* A generated case has no file to look at: print what was sent. */
      for (int k = 0; k < c->nsteps; k++)
        if (c->steps[k].op == NM_DIFF_SEND) {
          fprintf(stderr, " sent on %c:\n", 'A' + c->steps[k].conn);
          nm__diff_print_escaped(stderr, c->steps[k].text, c->steps[k].len, 1,
                                 "    > ");
        }
    }
    for (int i = 0; i < NM_DIFF_MAX_CONNS; i++) {
      if (!c->used[i])
        continue;
      fprintf(stderr, " connection %c\n", 'A' + i);
      if (!c->random) {
        fprintf(stderr, "  expected (%s):\n",
                nm__diff_state_name(c->expect_state[i]));
        nm__diff_print_escaped(stderr, c->expect[i], c->expect_len[i], 1,
                               "    | ");
      }
      print_side("nats-server", &ref, i);
      print_side("natsmock", &mock, i);
    }
  }
  nm_diff_result_free(&ref);
  nm_diff_result_free(&mock);
  ck_assert_msg(ref_rc == 0, "case %s: nats-server run failed", c->name);
  ck_assert_msg(mock_rc == 0, "case %s: natsmock run failed", c->name);
  ck_assert_msg(!differ, "case %s: natsmock and nats-server differ:%s", c->name,
                what);
  ck_assert_msg(!unexpected,
                "case %s: nats-server did not do what the case "
                "expects:%s",
                c->name, what);
}
END_TEST

/* Prints a case back with the expectations nats-server produced. */
static int record(void) {
  for (int k = 0; k < g_ncases; k++) {
    const nm_diff_case_t *c = &g_cases[k];
    nm_diff_result_t r;
    if (nm_diff_run(c, g_ref, g_split, &r) != 0) {
      fprintf(stderr, "case %s: %s\n", c->name, r.error);
      nm_diff_result_free(&r);
      return 1;
    }
    printf("case %s  (%lld ms)\n", c->name, r.ms);
    for (int i = 0; i < NM_DIFF_MAX_CONNS; i++) {
      char prefix[32];
      char *text = r.out[i];
      size_t n = r.len[i];
      if (!c->used[i])
        continue;
      if (!c->full_info &&
          nm__diff_info_placeholder(r.out[i], r.len[i], &text, &n) != 0)
        return 1;
      snprintf(prefix, sizeof(prefix), "  expect %c ", 'A' + i);
      nm__diff_print_escaped(stdout, text, n, 1, prefix);
      printf("  state %c %s\n", 'A' + i, nm__diff_state_name(r.state[i]));
      if (text != r.out[i])
        free(text);
    }
    nm_diff_result_free(&r);
  }
  return 0;
}

int main(int argc, char **argv) {
  char err[512];
  Suite *s;
  SRunner *sr;
  int failed;

  if (getenv("NM_DIFF_REF"))
    g_ref = getenv("NM_DIFF_REF");
  g_mock = getenv("NM_DIFF_MOCK");
  for (int i = 1; i < argc; i++) {
    int n;
    if (strcmp(argv[i], "--split") == 0) {
      g_split = 1;
      continue;
    }
    if (strcmp(argv[i], "--random") == 0 && i + 1 < argc) {
      /* --random N: N generated cases, seeds NM_DIFF_SEED (1) onwards. */
      unsigned base = getenv("NM_DIFF_SEED")
                          ? (unsigned)strtoul(getenv("NM_DIFF_SEED"), NULL, 10)
                          : 1;
      int count = atoi(argv[++i]);
      for (int k = 0; k < count && g_ncases < NM_DIFF_MAX_CASES; k++)
        if (nm_diff_random_case(&g_cases[g_ncases++], base + (unsigned)k) != 0)
          return 2;
      continue;
    }
    n = nm_diff_load(argv[i], g_cases + g_ncases, NM_DIFF_MAX_CASES - g_ncases,
                     err, sizeof(err));
    if (n < 0) {
      fprintf(stderr, "%s\n", err);
      return 2;
    }
    g_ncases += n;
  }
  for (int i = 0; i < g_ncases; i++)
    for (int j = 0; j < i; j++)
      if (strcmp(g_cases[i].name, g_cases[j].name) == 0) {
        fprintf(stderr, "duplicate case name %s\n", g_cases[i].name);
        return 2;
      }
  if (g_ncases == 0) {
    fprintf(stderr, "usage: %s [CASEFILE | --random N]...\n", argv[0]);
    return 2;
  }
  if (g_split) {
    /* Split sends change when a server sees the bytes, and so whether a
     * connection that the server closes ends in FIN or reset: keep the cases
     * where every connection stays open, whose bytes cannot depend on it. */
    int kept = 0;
    for (int i = 0; i < g_ncases; i++) {
      nm_diff_case_t *c = &g_cases[i];
      int open = !c->random && !c->no_split;
      for (int k = 0; k < NM_DIFF_MAX_CONNS; k++) {
        if (c->used[k] && c->expect_state[k] != NM_PEER_OPEN)
          open = 0;
        /* nats-server repeats a pedantic -ERR when a read ends inside the
         * PUB's payload, so such a case depends on the cuts even when it
         * forgot its nosplit. */
        if (c->expect[k] && memmem(c->expect[k], c->expect_len[k],
                                   "Invalid Publish Subject", 23))
          open = 0;
      }
      if (!open) {
        nm_diff_case_free(c);
        continue;
      }
      if (kept != i) {
        g_cases[kept] = *c;
        memset(c, 0, sizeof(*c));
      }
      kept++;
    }
    g_ncases = kept;
  }
  if (getenv("NM_DIFF_RECORD"))
    return record();
  if (!nm_natsserver_available() && !getenv("NM_DIFF_REF")) {
    fprintf(stderr, "nats-server is not on PATH\n");
    return 1; /* the reference is part of the set-up: not a skip */
  }

  s = suite_create("diff");
  for (int i = 0; i < g_ncases; i++) {
    /* One tcase per case, named after it, so a failure names the case. */
    TCase *tc = tcase_create(g_cases[i].name);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_case, i, i + 1);
    suite_add_tcase(s, tc);
  }
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  for (int i = 0; i < g_ncases; i++)
    nm_diff_case_free(&g_cases[i]);
  return failed == 0 ? 0 : 1;
}
