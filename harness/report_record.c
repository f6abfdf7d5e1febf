/* --record DIR: the whole timeline of every run, passing or not, one JSON
 * line per entry (server frames both ways with the actions that touched
 * them, connection opens and closes with how they ended, every command sent
 * to a driver and every line a driver printed, harness notes), so a run that
 * passed can be read as closely as one that failed. */
#include <stdio.h>
#include <stdlib.h>

#include "nm_report.h"
#include "nm_scenario.h"

int nm_report_record(const nm_result_t *r, const char *dir) {
  char name[512], path[1024];
  const nm_tl_t *tl = r->tl;
  cJSON *h, *cl;
  char *s;
  FILE *f;

  if (!tl)
    return 0;
  snprintf(name, sizeof(name), "%s", r->sc ? r->sc->name : "run");
  for (char *p = name; *p; p++)
    if (*p == '/' || *p == ' ')
      *p = '_';
  /* The same naming as --trace: .r<k> whenever the run was repeated. */
  if (r->rep > 1 || r->repeated)
    snprintf(path, sizeof(path), "%s/%s.r%d.timeline.jsonl", dir, name, r->rep);
  else
    snprintf(path, sizeof(path), "%s/%s.timeline.jsonl", dir, name);
  f = fopen(path, "w");
  if (!f)
    return -1;
  h = cJSON_CreateObject();
  cJSON_AddStringToObject(h, "format", "natsmock-timeline");
  cJSON_AddNumberToObject(h, "version", 1);
  cJSON_AddStringToObject(h, "scenario", r->sc ? r->sc->name : "?");
  cJSON_AddNumberToObject(h, "rep", r->rep);
  cJSON_AddNumberToObject(h, "seed", r->seed);
  cJSON_AddStringToObject(h, "status", nm_status_name(r->status));
  if (r->driver_name)
    cJSON_AddStringToObject(h, "driver", r->driver_name);
  cl = cJSON_AddArrayToObject(h, "clients");
  for (int i = 0; i < tl->nclients; i++)
    cJSON_AddItemToArray(cl, cJSON_CreateString(tl->clients[i]));
  cJSON_AddNumberToObject(h, "wall_base_us", (double)tl->wall_base_us);
  cJSON_AddNumberToObject(h, "entries", (double)tl->n);
  cJSON_AddNumberToObject(h, "dropped", (double)tl->dropped);
  s = cJSON_PrintUnformatted(h);
  fprintf(f, "%s\n", s ? s : "{}");
  cJSON_free(s);
  cJSON_Delete(h);
  for (size_t i = 0; i < tl->n; i++) {
    cJSON *e = nm_tl_ev_json(tl, i);
    s = cJSON_PrintUnformatted(e);
    fprintf(f, "%s\n", s ? s : "{}");
    cJSON_free(s);
    cJSON_Delete(e);
  }
  return fclose(f) == 0 ? 0 : -1;
}
