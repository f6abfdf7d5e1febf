/* Internal state of one exploration (explore_cli.c reads the command line,
 * explore_run.c runs, shrinks and reports). */
#ifndef NM_EXPLORE_INT_H
#define NM_EXPLORE_INT_H

#include <pthread.h>
#include <stdint.h>

#include "nm_explore.h"
#include "nm_result.h"

/* Runs per exploration, at most. */
#define NM_EXPLORE_MAX_RUNS 100000
/* Distinct findings kept (further ones are counted as duplicates). */
#define NM_EXPLORE_MAX_FINDINGS 64
/* Replays of a shrunk scenario, at most. */
#define NM_EXPLORE_MAX_REPLAYS 100
#define NM_EXPLORE_KEY_MAX 128
#define NM_EXPLORE_CAUSE_MAX 256
#define NM_EXPLORE_PATH_MAX 2048
/* The key of a run whose driver printed no hello in time: the machine's
 * load, counted but never examined. */
#define NM_EXPLORE_KEY_NO_START "driver did not start"

typedef struct {
  const char *name; /* scenario name ("" for the generated slot) */
  const char *path;
  const cJSON *root; /* NULL: generated from each run's seed */
} nm_workload_t;

typedef struct {
  uint64_t runs;       /* --explore N */
  uint64_t seed;       /* first run's seed */
  uint32_t mask;       /* perturbation classes */
  const char *out_dir; /* --explore-out */
  double budget_s;     /* --explore-time: stop starting runs after it */
  int replays;         /* --explore-replays */
  const char *driver;
  const char *reference; /* NULL: no reference check */
  int driver_is_reference;
  int jobs;
  const char *junit, *json, *html;
  double time_scale;
  int verbose;
  nm_workload_t *wl;
  int nwl;
  /* --generate-share: percent of the runs given to the generated workload
   * (the last in wl); -1: one run in nwl, like every other workload. */
  int gen_share;
} nm_explore_opts_t;

typedef struct {
  uint64_t seed;
  int wl;
  nm_candidate_t c;
  nm_status_t status;
  char key[NM_EXPLORE_KEY_MAX];
  uint64_t duration_us;
} nm_xrun_t;

typedef struct {
  char key[NM_EXPLORE_KEY_MAX];     /* "invariant flush_fence", "step" */
  char cause[NM_EXPLORE_CAUSE_MAX]; /* "split-PONG+ping", "none" */
  char labels[1024];                /* the perturbations, in words */
  char workload[256];
  char file[NM_EXPLORE_PATH_MAX]; /* the shrunk scenario written */
  uint64_t seed;
  uint64_t run;
  int hits;                        /* failing runs it accounts for */
  int shrink_runs;                 /* runs the shrinker made */
  int confirm_runs, confirm_fails; /* the failing run again, before shrinking */
  int per_candidate; /* runs per shrink candidate (flaky: more than 1) */
  int replays, replay_fails;
  int replay_nostart;          /* replays whose driver did not start (load) */
  int ref_fails;               /* -1: not checked */
  int ref_runs, ref_fail_runs; /* the shrunk scenario on the reference */
  int shrunk; /* 0: not shrunk (reference failed too, or budget) */
  int scored;
  char why[256]; /* why it is not scored */
  nm_result_t res;
  nm_scenario_t *sc; /* the shrunk scenario (res.sc points here) */
} nm_finding_t;

int nm__explore_run(const nm_explore_opts_t *o);

#endif
