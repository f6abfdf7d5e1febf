/* Running one scenario: the mock server (in-process, on the run's own uv
 * loop) or a real server process, one driver process per client, the steps,
 * the timeline, then the invariants. Everything runs on one loop, no
 * threads; several runs may go on in parallel, each on its own thread and
 * loop. */
#ifndef NM_RUNNER_H
#define NM_RUNNER_H

#include <stdint.h>

#include "nm_result.h"
#include "nm_scenario.h"

/* Time a driver has to print hello. */
#define NM_RUN_HELLO_MS 10000
/* Time drivers get to exit after "exit" (then SIGKILL), and after SIGKILL. */
#define NM_RUN_EXIT_MS 2000
/* Time the mock gets to record the close of a connection whose client
 * already reported `closed`, before the timeline freezes. */
#define NM_RUN_SETTLE_MS 1000
/* Time a real server gets to write its ports file. */
#define NM_RUN_REAL_START_MS 10000

typedef struct {
  const char *driver_cmd; /* shell command line of the driver */
  const char *server_cmd; /* NULL: the in-process mock; else e.g.
                             "nats-server" */
  uint64_t seed;          /* 0: a seed per run, reported */
  int keep_timeline;      /* keep the timeline in the result (reports) */
  double time_scale;      /* latency bounds x this (0 or 1: as written) */
  int proxy; /* with server_cmd: natsmock's proxy in front of the real
                server, so fault steps run there too (realserver.c) */
} nm_run_opts_t;

/* Runs sc once (repetition `rep`, 1-based) and fills res (initialised by
 * the caller). Never blocks longer than the scenario's timeout_ms plus the
 * bounded start and teardown times. */
void nm_run_scenario(const nm_scenario_t *sc, const nm_run_opts_t *o, int rep,
                     nm_result_t *res);

/* Checks every invariant of sc on tl and adds failures to res; sets
 * res->inv_skip to the names skipped for lack of a server view. */
void nm_run_invariants(const nm_scenario_t *sc, const nm_tl_t *tl,
                       double time_scale, nm_result_t *res);

#endif
