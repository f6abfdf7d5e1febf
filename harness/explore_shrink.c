/* Shrinking a failing run (QuickCheck-style, greedy): drop perturbations
 * one by one, make each survivor smaller (fewer cuts, shorter delays), then
 * drop commands one by one from the end, keeping every change after which
 * the run still fails the same way. The oracle runs the candidate; this
 * file never runs anything itself, so it is tested with a planted
 * predicate (tests/test_harness_explore.c). */
#include <string.h>

#include "nm_explore.h"

static int ask(nm_shrink_oracle_t oracle, void *arg, const nm_candidate_t *c,
               int *tries, int max_tries) {
  if (*tries >= max_tries)
    return -1;
  (*tries)++;
  return oracle(c, arg);
}

int nm_shrink(nm_candidate_t *c, const int *steps, int nsteps, int max_tries,
              nm_shrink_oracle_t oracle, void *arg) {
  static __thread nm_candidate_t t; /* large: not on the stack */
  int tries = 0, r;

  /* 1. Fewer perturbations. */
  for (int i = 0; i < c->np;) {
    t = *c;
    memmove(&t.p[i], &t.p[i + 1], sizeof(t.p[0]) * (size_t)(t.np - i - 1));
    t.np--;
    r = ask(oracle, arg, &t, &tries, max_tries);
    if (r < 0)
      return tries;
    if (r == 1)
      *c = t;
    else
      i++;
  }
  /* 2. Smaller ones. */
  for (int i = 0; i < c->np; i++) {
    nm_pert_t smaller;
    while (nm_pert_smaller(&c->p[i], &smaller)) {
      t = *c;
      t.p[i] = smaller;
      r = ask(oracle, arg, &t, &tries, max_tries);
      if (r < 0)
        return tries;
      if (r != 1)
        break;
      *c = t;
    }
  }
  /* 3. Fewer commands, last first (later commands are less often needed
   * by earlier ones). */
  for (int k = nsteps - 1; k >= 0; k--) {
    if (c->ndrop >= (int)(sizeof(c->drop_steps) / sizeof(c->drop_steps[0])))
      break;
    t = *c;
    t.drop_steps[t.ndrop++] = steps[k];
    r = ask(oracle, arg, &t, &tries, max_tries);
    if (r < 0)
      return tries;
    if (r == 1)
      *c = t;
  }
  return tries;
}

int nm_shrink_kofn(const nm_candidate_t *c, void *kofn) {
  nm_kofn_t *k = kofn;
  int per = k->per_candidate < 1 ? 1 : k->per_candidate;
  if (k->runs_left <= 0)
    return -1;
  for (int i = 0; i < per && k->runs_left > 0; i++) {
    int r;
    k->runs_left--;
    k->runs++;
    r = k->one(c, k->arg);
    if (r != 0)
      return r; /* 1: still fails; -1: stop */
  }
  return 0;
}

int nm_shrink_runs_per_candidate(int fails, int runs) {
  double pass, all_pass = 1.0;
  int m = 0;
  if (fails <= 0 || runs <= 0)
    return 0;
  if (fails >= runs)
    return 1;
  /* The least m with (1 - p)^m <= 5%: a candidate that still has the
   * cause passes all its m runs at most that often. */
  pass = 1.0 - (double)fails / (double)runs;
  while (all_pass > 0.05 && m < NM_SHRINK_MAX_PER_CANDIDATE) {
    all_pass *= pass;
    m++;
  }
  return m < 2 ? 2 : m;
}
