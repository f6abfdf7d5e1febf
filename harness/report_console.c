/* The console: one line per run, failure messages under it. */
#include <string.h>

#include "nm_report.h"
#include "nm_scenario.h"

/* Failure messages printed under a failing run without -v. */
#define NM_CONSOLE_FAILS 3
/* Driver stderr printed without -v when the run itself failed (a driver
 * died, the run timed out). */
#define NM_CONSOLE_STDERR 1500

const char *nm__report_theme(const nm_result_t *r, char *buf, size_t n) {
  const char *p = r->sc ? r->sc->path : "";
  const char *end = strrchr(p, '/');
  const char *start = end;
  buf[0] = '\0';
  if (!end)
    return buf;
  while (start > p && start[-1] != '/')
    start--;
  if ((size_t)(end - start) < n) {
    memcpy(buf, start, (size_t)(end - start));
    buf[end - start] = '\0';
  }
  return buf;
}

void nm_report_console(FILE *f, const nm_result_t *r, size_t k, size_t n,
                       int verbose) {
  char theme[128];
  int w = 1;
  for (size_t x = n; x >= 10; x /= 10)
    w++;
  nm__report_theme(r, theme, sizeof(theme));
  fprintf(f, "[%*zu/%zu] %-5s %s%s%s", w, k, n, nm_status_name(r->status),
          theme, theme[0] ? "/" : "", r->sc ? r->sc->name : "?");
  if (r->rep > 1)
    fprintf(f, " #%d", r->rep);
  fprintf(f, " (%.2f s)", (double)r->duration_us / 1e6);
  if (r->reason)
    fprintf(f, " - %s", r->reason);
  fputc('\n', f);
  if (r->inv_skip)
    fprintf(f, "      not checked without the mock's view: %s\n", r->inv_skip);
  if (r->not_evaluated)
    fprintf(f,
            "      not evaluated (the steps ended early, or an "
            "undetectable fault decided it): %s\n",
            r->not_evaluated);
  if (r->status != NM_ST_FAIL && r->status != NM_ST_XFAIL &&
      r->status != NM_ST_ERROR)
    return;
  if (r->status == NM_ST_FAIL)
    fprintf(f, "      seed %d, driver %s\n", r->seed,
            r->driver_name ? r->driver_name : "?");
  for (size_t i = 0; i < r->fails.n && (verbose || i < NM_CONSOLE_FAILS); i++) {
    fprintf(f, "      %s: %s\n", r->fails.v[i].what, r->fails.v[i].message);
    if (verbose && r->fails.v[i].evidence) {
      const cJSON *e;
      cJSON_ArrayForEach(e, r->fails.v[i].evidence) {
        char *s = cJSON_PrintUnformatted(e);
        fprintf(f, "        %s\n", s ? s : "?");
        cJSON_free(s);
      }
    }
  }
  if (nm_fails_count(&r->fails) > NM_CONSOLE_FAILS && !verbose)
    fprintf(f, "      ... %zu failure(s) in all (-v, --json for evidence)\n",
            nm_fails_count(&r->fails));
  if (r->driver_stderr) {
    int run_failed = 0;
    for (size_t i = 0; i < r->fails.n; i++)
      run_failed |= strcmp(r->fails.v[i].what, "run") == 0;
    if (verbose)
      fprintf(f, "%s", r->driver_stderr);
    else if (run_failed)
      fprintf(f, "%.*s%s\n", NM_CONSOLE_STDERR, r->driver_stderr,
              strlen(r->driver_stderr) > NM_CONSOLE_STDERR ? "..." : "");
  }
}

void nm_report_totals(FILE *f, const nm_report_t *rep) {
  size_t c[6] = {0};
  for (size_t i = 0; i < rep->n; i++)
    if ((unsigned)rep->v[i].status < 6)
      c[rep->v[i].status]++;
  fprintf(f,
          "%zu run(s) in %.1f s: %zu passed, %zu failed, %zu skipped, %zu "
          "expected failures, %zu unexpected passes, %zu errors\n",
          rep->n, (double)rep->duration_us / 1e6, c[NM_ST_PASS], c[NM_ST_FAIL],
          c[NM_ST_SKIP], c[NM_ST_XFAIL], c[NM_ST_XPASS], c[NM_ST_ERROR]);
}
