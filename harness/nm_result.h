/* Failures with evidence, and the result of one scenario run. */
#ifndef NM_RESULT_H
#define NM_RESULT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "nm_timeline.h"

/* Failures kept per list; beyond it only a count (so a broken client that
 * reorders 10^5 messages yields a readable report, not 10^5 entries). */
#define NM_FAILS_MAX 20
/* Timeline entries attached to one failure as evidence. */
#define NM_EVIDENCE_MAX 12
/* Driver stderr kept with a failing run. */
#define NM_STDERR_MAX (16 * 1024)

typedef struct {
  char *what;      /* "invariant flush_fence", "step 4 (await)", ... */
  char *message;   /* one sentence */
  cJSON *evidence; /* array of timeline entries (nm_tl_ev_json) */
} nm_failure_t;

/* Distinct kinds of failure ("what") remembered, kept or not: a baseline
 * must know everything that broke even when the messages were cut. */
#define NM_FAILS_KINDS_MAX 64

typedef struct {
  nm_failure_t v[NM_FAILS_MAX];
  size_t n;
  size_t more; /* failures not kept */
  char *kinds[NM_FAILS_KINDS_MAX];
  size_t nkinds;
  int kinds_cut; /* more distinct kinds than NM_FAILS_KINDS_MAX */
} nm_fails_t;

void nm_fails_init(nm_fails_t *f);
void nm_fails_free(nm_fails_t *f);
/* Adds a failure; `idx` lists timeline entries (NM_TL_NONE entries are
 * skipped), at most NM_EVIDENCE_MAX are kept. */
void nm_fails_add(nm_fails_t *f, const char *what, const nm_tl_t *tl,
                  const size_t *idx, size_t nidx, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Total failures, kept or not. */
size_t nm_fails_count(const nm_fails_t *f);

typedef enum {
  NM_ST_PASS = 0,
  NM_ST_FAIL,
  NM_ST_SKIP,
  NM_ST_XFAIL,
  NM_ST_XPASS,
  NM_ST_ERROR,
} nm_status_t;

const char *nm_status_name(nm_status_t s);

struct nm_scenario_s;

typedef struct {
  const struct nm_scenario_s *sc;
  int rep;      /* 1-based repetition */
  int repeated; /* the run is one of several (--repeat N > 1): names get .r<k>
                 */
  int seed;     /* the seed the mock used */
  nm_status_t status;
  char *reason;   /* SKIP / ERROR reason, or the expected-failure cause */
  char *inv_skip; /* invariants not checked (no server view), or NULL */
  /* Invariant checks not evaluated because the steps ended early and the
   * data they need was missing ("invariant X: message; ..."), or NULL. */
  char *not_evaluated;
  uint64_t duration_us;
  nm_fails_t fails;
  char *driver_stderr;    /* when failed: every driver's stderr, labelled */
  char *driver_name;      /* hello "client" + "version" */
  nm_tl_t *tl;            /* kept when a report needs it, else NULL */
  uint64_t wall_start_us; /* realtime (µs since the epoch) the run started */
  char *file; /* the scenario file (an ERROR of a file that did not load) */
} nm_result_t;

void nm_result_init(nm_result_t *r);
void nm_result_free(nm_result_t *r);

#endif
