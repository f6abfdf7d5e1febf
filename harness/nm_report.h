/* Reports: the console line per run, JUnit XML, the JSON summary, traces in
 * the traceassert expanded format (one file per connection), and an HTML
 * page with a sequence diagram of every failing run. */
#ifndef NM_REPORT_H
#define NM_REPORT_H

#include <stdio.h>

#include "nm_result.h"

/* Rows drawn in one run's sequence diagram. */
#define NM_HTML_MAX_ROWS 4000

typedef struct {
  nm_result_t *v;
  size_t n;
  uint64_t duration_us;
  const char *driver_cmd;
  const char *server_cmd; /* NULL: the in-process mock */
  uint64_t wall_start_us; /* realtime (µs since the epoch) the suite started */
  const char *shard;      /* "I/N" when --shard was given, else NULL */
} nm_report_t;

/* "[ 3/42] PASS  flush/x (0.41 s)" and, for failures, their messages
 * (with the evidence when verbose). */
void nm_report_console(FILE *f, const nm_result_t *r, size_t k, size_t n,
                       int verbose);
/* Totals line. */
void nm_report_totals(FILE *f, const nm_report_t *rep);

/* Each returns 0 or -1 (with errno) when the file cannot be written. */
int nm_report_junit(const nm_report_t *rep, const char *path);
int nm_report_json(const nm_report_t *rep, const char *path);
int nm_report_html(const nm_report_t *rep, const char *path);
/* Writes DIR/<name>[.r<rep>]-<conn>.expanded.json for every connection of
 * one run (needs the result's timeline). */
int nm_report_trace(const nm_result_t *r, const char *dir);
/* --record: writes DIR/<name>[.r<rep>].timeline.jsonl, the run's whole
 * timeline (needs the result's timeline). */
int nm_report_record(const nm_result_t *r, const char *dir);

/* Helpers shared by the reporters. */
/* "2026-12-04T10:29:09Z" (ISO 8601, UTC, seconds) into buf. */
const char *nm__report_iso8601(uint64_t wall_us, char *buf, size_t n);
void nm__xml_escape(FILE *f, const char *s);
/* "theme/name" from the scenario's path when it is under a theme folder. */
const char *nm__report_theme(const nm_result_t *r, char *buf, size_t n);

#endif
