/* Progress of a harness run on the console. On a terminal: one live status
 * line (done/total, pass/fail/xfail/skip counts, the scenarios running now,
 * elapsed and estimated time left), redrawn as runs start and end and once a
 * second; a run that did not pass is printed above it, with its messages.
 * Otherwise (a pipe, a file, TERM=dumb, NM_PROGRESS=plain): one plain line
 * per finished run, in completion order (nm_report_console). Thread-safe. */
#ifndef NM_PROGRESS_H
#define NM_PROGRESS_H

#include <stdio.h>

#include "nm_result.h"

typedef struct nm_progress_s nm_progress_t;

/* live < 0: decide from the stream (a terminal, TERM not "dumb", and
 * NM_PROGRESS not "plain"); 0: plain lines; 1: the live line. */
nm_progress_t *nm_progress_new(FILE *f, size_t total, int live, int verbose);
/* Run `slot` (0 <= slot < total) started: `label` is shown while it runs. */
void nm_progress_start(nm_progress_t *p, size_t slot, const char *label);
/* Run `slot` finished with result r. */
void nm_progress_done(nm_progress_t *p, size_t slot, const nm_result_t *r);
/* Clears the live line (the totals line follows) and frees. */
void nm_progress_free(nm_progress_t *p);

#endif
