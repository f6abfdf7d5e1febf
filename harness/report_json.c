/* The JSON summary: totals, and every run with its failures' evidence. */
#include <stdlib.h>
#include <string.h>

#include "nm_report.h"
#include "nm_scenario.h"

static cJSON *run_json(const nm_result_t *r) {
  cJSON *o = cJSON_CreateObject();
  cJSON *fl = cJSON_CreateArray();
  cJSON_AddStringToObject(o, "name", r->sc ? r->sc->name : "?");
  cJSON_AddStringToObject(o, "path", r->sc ? r->sc->path : "?");
  if (r->sc) {
    cJSON_AddStringToObject(o, "summary", r->sc->summary);
    cJSON_AddItemToObject(o, "tags",
                          r->sc->tags ? cJSON_Duplicate(r->sc->tags, 1)
                                      : cJSON_CreateArray());
  }
  cJSON_AddNumberToObject(o, "rep", r->rep);
  cJSON_AddStringToObject(o, "status", nm_status_name(r->status));
  cJSON_AddNumberToObject(o, "duration_ms", (double)r->duration_us / 1000.0);
  cJSON_AddNumberToObject(o, "seed", r->seed);
  if (r->driver_name)
    cJSON_AddStringToObject(o, "driver", r->driver_name);
  if (r->reason)
    cJSON_AddStringToObject(o, "reason", r->reason);
  if (r->inv_skip)
    cJSON_AddStringToObject(o, "invariants_not_checked", r->inv_skip);
  if (r->not_evaluated)
    cJSON_AddStringToObject(o, "not_evaluated", r->not_evaluated);
  for (size_t k = 0; k < r->fails.n; k++) {
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "what", r->fails.v[k].what);
    cJSON_AddStringToObject(x, "message", r->fails.v[k].message);
    cJSON_AddItemToObject(x, "evidence",
                          cJSON_Duplicate(r->fails.v[k].evidence, 1));
    cJSON_AddItemToArray(fl, x);
  }
  cJSON_AddItemToObject(o, "failures", fl);
  if (r->fails.more)
    cJSON_AddNumberToObject(o, "failures_not_kept", (double)r->fails.more);
  if (r->driver_stderr)
    cJSON_AddStringToObject(o, "driver_stderr", r->driver_stderr);
  return o;
}

int nm_report_json(const nm_report_t *rep, const char *path) {
  cJSON *root = cJSON_CreateObject();
  cJSON *runs = cJSON_CreateArray();
  size_t c[6] = {0};
  char *text;
  FILE *f;
  int rc = -1;

  for (size_t i = 0; i < rep->n; i++) {
    if ((unsigned)rep->v[i].status < 6)
      c[rep->v[i].status]++;
    cJSON_AddItemToArray(runs, run_json(&rep->v[i]));
  }
  cJSON_AddStringToObject(root, "tool", "natsmock-harness");
  cJSON_AddStringToObject(root, "driver_cmd",
                          rep->driver_cmd ? rep->driver_cmd : "");
  cJSON_AddStringToObject(root, "server",
                          rep->server_cmd ? rep->server_cmd : "natsmock");
  cJSON_AddNumberToObject(root, "runs", (double)rep->n);
  cJSON_AddNumberToObject(root, "passed", (double)c[NM_ST_PASS]);
  cJSON_AddNumberToObject(root, "failed", (double)c[NM_ST_FAIL]);
  cJSON_AddNumberToObject(root, "skipped", (double)c[NM_ST_SKIP]);
  cJSON_AddNumberToObject(root, "xfail", (double)c[NM_ST_XFAIL]);
  cJSON_AddNumberToObject(root, "xpass", (double)c[NM_ST_XPASS]);
  cJSON_AddNumberToObject(root, "errors", (double)c[NM_ST_ERROR]);
  cJSON_AddNumberToObject(root, "duration_ms",
                          (double)rep->duration_us / 1000.0);
  cJSON_AddItemToObject(root, "results", runs);
  text = cJSON_Print(root);
  cJSON_Delete(root);
  if (!text)
    return -1;
  f = fopen(path, "w");
  if (f) {
    fputs(text, f);
    fputc('\n', f);
    rc = fclose(f) == 0 ? 0 : -1;
  }
  cJSON_free(text);
  return rc;
}
