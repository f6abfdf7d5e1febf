/* Schedule exploration (docs/exploration.md): the harness runs scenarios
 * (from files, or generated from a seed) with seeded random perturbations
 * added as ordinary fault rules, judges each run by the scenario's own steps
 * and invariants, shrinks every failure to a minimal set of perturbations
 * (and commands), and writes that set as a standalone scenario file.
 *
 * Everything a run does is a function of its seed: the workload, the
 * perturbations and their order. */
#ifndef NM_EXPLORE_H
#define NM_EXPLORE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "nm_scenario.h"

/* Perturbations added to one run, at most. */
#define NM_PERT_MAX 8
/* Longest verb, sid or subject kept in a perturbation. */
#define NM_PERT_STR 32
/* Bound on the random delays a perturbation may add (ms). */
#define NM_PERT_MAX_DELAY_MS 200
/* Shrink attempts (runs) per failure, at most. */
#define NM_SHRINK_MAX_TRIES 60

/* ---- seeded randomness (splitmix64: small, fast, portable) ---- */

typedef struct {
  uint64_t s;
} nm_rng_t;

void nm_rng_seed(nm_rng_t *r, uint64_t seed);
uint64_t nm_rng_next(nm_rng_t *r);
/* Uniform in [0, n) (n > 0). */
uint32_t nm_rng_below(nm_rng_t *r, uint32_t n);

/* ---- perturbation classes ---- */

typedef enum {
  NM_PC_SPLIT = 0, /* an out frame written in pieces */
  NM_PC_COALESCE,  /* an out frame written in one write with the next */
  NM_PC_LATENCY,   /* every frame of one direction delayed alike */
  NM_PC_PONG_DELAY,
  NM_PC_PING,     /* a server PING at a random moment */
  NM_PC_INFO,     /* an INFO (unchanged) at a random moment */
  NM_PC_LDM,      /* an INFO announcing lame duck mode */
  NM_PC_DISCOVER, /* an INFO with connect_urls of a server that is down */
  NM_PC_PONG_DROP,
  NM_PC_PONG_DUP,
  NM_PC_PONG_INJECT,
  NM_PC_MSG_INJECT, /* an unsolicited MSG for a live or dead sid */
  NM_PC_CLOSE,      /* FIN after frame k */
  NM_PC_RESET,      /* RST after frame k */
  NM_PC_STALL,      /* the server stops reading at frame k */
  NM_PC_COUNT
} nm_pert_class_t;

typedef struct {
  const char *name;
  int fair; /* a correct server or network may do it */
  int dflt; /* chosen when --perturb is not given */
  const char *what;
} nm_pert_info_t;

const nm_pert_info_t *nm_pert_info(nm_pert_class_t c);
/* The class named `name`, or -1. */
int nm_pert_class_by_name(const char *name);
/* Parses "--perturb" text: class names, "fair", "faults", "all",
 * "default", and "-NAME" to exclude, comma separated, applied in order.
 * Sets mask bit c for every chosen class. Returns 0, or -1 with the bad
 * word in err. */
int nm_pert_parse_mask(const char *spec, uint32_t *mask, char *err,
                       size_t errlen);
uint32_t nm_pert_default_mask(void);
/* Does the mask choose any fault (not fair) class? */
int nm_pert_has_faults(uint32_t mask);

typedef struct {
  nm_pert_class_t cls;
  int at_step;            /* installed before this step of the workload */
  char dir[4];            /* "in" / "out" */
  char verb[NM_PERT_STR]; /* "" = any frame */
  uint32_t nth;           /* the frame it acts on (1-based, after install) */
  uint32_t cuts;          /* split: cut points; 0 = one byte per write */
  uint32_t ms;            /* latency, pong_delay */
  uint32_t seed;          /* split */
  char sid[NM_PERT_STR];  /* msg_inject */
  char subject[NM_PERT_STR];
} nm_pert_t;

/* What a scenario would be disturbed by (its own observations and rules):
 * perturbations that would change them are not drawn for it. */
typedef struct {
  int nsteps;
  int has_fault;
  int takes_in, takes_out;         /* it has rules on frames in that dir */
  char taken_out[16][NM_PERT_STR]; /* verbs of out frames its rules pick */
  int ntaken_out;
  int any_taken_out;  /* a rule takes out frames of every verb */
  int sends_frames;   /* direct send / send_raw / release: bypass rules */
  int server_closes;  /* the server may close a connection (a close, reset,
                         restart... fault, or an option with a limit) */
  int watches_out[8]; /* per verb index below: awaits/expects out frames */
  int watches_in_pong, watches_actions, watches_lame_duck, watches_discovered;
  uint32_t min_timeout_ms;       /* smallest command timeout, 0 = none */
  char subjects[8][NM_PERT_STR]; /* subscribed subjects */
  int nsubjects;
} nm_pert_scope_t;

/* Fills scope from a scenario document. */
void nm_pert_scope(const cJSON *root, nm_pert_scope_t *scope);

/* Draws up to `max` perturbations of the classes in mask for a workload
 * with that scope, from rng. Returns how many (0 when no class fits). */
int nm_pert_draw(nm_rng_t *rng, uint32_t mask, const nm_pert_scope_t *scope,
                 int max, nm_pert_t *out);

/* The fault rule (with `then`) that applies p; id is "xp<k>-<class>". */
cJSON *nm_pert_rule(const nm_pert_t *p, int k);
/* "split(PONG)", "latency(out,20ms)"... into buf. */
const char *nm_pert_label(const nm_pert_t *p, char *buf, size_t n);
/* The cause part of a finding's name: "split-PONG", "pong_drop"... */
const char *nm_pert_cause(const nm_pert_t *p, char *buf, size_t n);
/* A smaller variant of p (fewer cuts, shorter delay): fills `out` and
 * returns 1, or 0 when p is as small as it gets. */
int nm_pert_smaller(const nm_pert_t *p, nm_pert_t *out);

/* ---- generated workloads ---- */

/* A random scenario document: one or two clients, connect, then a seeded
 * sequence of subscribe (with max, queue groups), publish (with headers),
 * flush, request, unsubscribe, drain_sub, drain (with a request in flight)
 * and close, with the invariants that apply. With `faults` (fault classes
 * are explored), no command is owed success ("expect": "any") and the
 * invariants that promise delivery (no_loss, delivered_all) are left out. */
cJSON *nm_gen_workload(uint64_t seed, int faults);

/* ---- shrinking ---- */

/* A candidate: the perturbations kept and, for generated workloads, the
 * command steps kept (NULL = all). */
typedef struct {
  nm_pert_t p[NM_PERT_MAX];
  int np;
  int drop_steps[NM_SCENARIO_MAX_STEPS / 64]; /* unused when ndrop == 0 */
  int ndrop; /* step indexes (of the workload) removed */
} nm_candidate_t;

/* Returns 1 when the candidate still fails the same way, 0 when it passes
 * (or fails otherwise), -1 to stop shrinking (budget). */
typedef int (*nm_shrink_oracle_t)(const nm_candidate_t *c, void *arg);

/* Shrinks c in place: perturbations removed one by one, then each made
 * smaller, then (when `steps` is given: the command steps that may go)
 * commands removed one by one. At most max_tries oracle calls. Returns
 * the number of oracle calls made. */
int nm_shrink(nm_candidate_t *c, const int *steps, int nsteps, int max_tries,
              nm_shrink_oracle_t oracle, void *arg);

/* Shrinking a flaky failure: each candidate is run up to `per_candidate`
 * times and still fails when any run fails the same way (a candidate that
 * lost the cause passes every time; one that did not fails at the failure's
 * own rate). `runs_left` bounds the runs over the whole shrink: at 0 the
 * oracle answers -1 (stop). Use nm_shrink_kofn as the oracle with a
 * pointer to this as its argument. */
typedef struct {
  nm_shrink_oracle_t one; /* one run: 1 fails the same way, 0 otherwise */
  void *arg;
  int per_candidate;
  int runs_left;
  int runs; /* made so far */
} nm_kofn_t;

int nm_shrink_kofn(const nm_candidate_t *c, void *kofn);
/* Runs per candidate for a failure seen `fails` times in `runs` runs: 1
 * when it always failed, else enough that a candidate that still has the
 * cause fails at least once with probability >= 95% (at most
 * NM_SHRINK_MAX_PER_CANDIDATE); 0 when it never failed (nothing to shrink). */
int nm_shrink_runs_per_candidate(int fails, int runs);
#define NM_SHRINK_MAX_PER_CANDIDATE 8
/* Runs that measure a failure's rate before it is shrunk. */
#define NM_SHRINK_CONFIRM_RUNS 3

/* The workload with a candidate's steps removed and its perturbations in
 * place as fault steps (a new document; the caller deletes it). */
cJSON *nm_candidate_doc(const cJSON *root, const nm_candidate_t *c);

/* ---- the command ---- */

/* Is "--explore" among the arguments? */
int nm_explore_wanted(int argc, char **argv);
/* natsmock-harness --explore N ...: returns the exit status (0: no finding
 * scored against the client, 1: findings, 2: usage or set-up error). */
int nm_explore_main(int argc, char **argv);

#endif
