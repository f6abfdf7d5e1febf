/* The HTML report: a summary table, then for every failing run its failures
 * and a sequence diagram (client | wire | server columns, one row per
 * timeline entry in time order; rows named in evidence are highlighted). */
#include <stdlib.h>
#include <string.h>

#include "nm_report.h"
#include "nm_scenario.h"

/* Characters of a payload shown in a diagram row. */
#define NM_HTML_PAYLOAD 60

static const char css[] =
    "body{font:13px/1.4 sans-serif;margin:1em 2em}"
    "table{border-collapse:collapse}td,th{padding:2px 6px;vertical-align:top}"
    ".PASS{color:#080}.FAIL,.ERROR{color:#b00;font-weight:bold}"
    ".SKIP{color:#888}.XFAIL{color:#a60}.XPASS{color:#06a}"
    /* A fixed layout with wrapping cells keeps the wire and server columns
     * on screen however long a driver's line is. */
    "table.seq{table-layout:fixed;width:100%}"
    ".seq td{border-bottom:1px solid #eee;font-family:monospace;"
    "overflow-wrap:anywhere}"
    ".seq .t{color:#888;text-align:right;width:6em}.seq .cl{width:45%}"
    ".seq .sv{width:30%}.seq .w{width:11em;text-align:center;color:#246}"
    ".ev{background:#fee}.fail{color:#b00}";

static void esc(FILE *f, const char *s) {
  nm__xml_escape(f, s);
}

static void payload(FILE *f, const nm_tl_ev_t *e) {
  char buf[NM_HTML_PAYLOAD + 4];
  size_t n =
      e->payload_len < NM_HTML_PAYLOAD ? e->payload_len : NM_HTML_PAYLOAD;
  if (!e->payload || !e->payload_len)
    return;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)e->payload[i];
    buf[i] = (c >= 32 && c < 127) ? (char)c : '.';
  }
  if (n < e->payload_size)
    memcpy(buf + n, "...", 3), n += 3;
  buf[n] = '\0';
  fputs(" <i>", f);
  esc(f, buf);
  fputs("</i>", f);
}

static void frame_text(FILE *f, const nm_tl_ev_t *e) {
  fprintf(f, "%s", nm_tl_verb(e->op));
  if (e->op == NM_OP_NONE)
    fprintf(f, "(raw %zu bytes)", e->bytes);
  if (e->subject) {
    fputc(' ', f);
    esc(f, e->subject);
  }
  if (e->queue) {
    fputc(' ', f);
    esc(f, e->queue);
  }
  if (e->reply) {
    fputc(' ', f);
    esc(f, e->reply);
  }
  if (e->sid) {
    fputs(" sid=", f);
    esc(f, e->sid);
  }
  if (e->max) {
    fputs(" max=", f);
    esc(f, e->max);
  }
  if (e->op != NM_OP_CONNECT && e->op != NM_OP_INFO)
    payload(f, e);
  if (e->rule || e->action) {
    fputs(" <b>[", f);
    esc(f, e->rule ? e->rule : "");
    fputs(": ", f);
    esc(f, e->action ? e->action : "");
    fputs("]</b>", f);
  }
}

static int cited(const nm_result_t *r, size_t i) {
  for (size_t k = 0; k < r->fails.n; k++) {
    const cJSON *e;
    cJSON_ArrayForEach(e, r->fails.v[k].evidence) {
      const cJSON *x = cJSON_GetObjectItemCaseSensitive(e, "i");
      if (cJSON_IsNumber(x) && (size_t)x->valuedouble == i)
        return 1;
    }
  }
  return 0;
}

static void diagram(FILE *f, const nm_result_t *r) {
  const nm_tl_t *tl = r->tl;
  size_t rows = 0;
  fprintf(f, "<table class=seq><tr><th>ms</th><th class=cl>client</th>"
             "<th class=w>wire</th><th class=sv>server</th></tr>\n");
  for (size_t i = 0; i < tl->n; i++) {
    const nm_tl_ev_t *e = &tl->v[i];
    int o;
    char *line;
    if (rows++ >= NM_HTML_MAX_ROWS) {
      fprintf(f, "<tr><td colspan=4>... %zu more entries</td></tr>\n",
              tl->n - i);
      break;
    }
    fprintf(f, "<tr%s><td class=t>%.3f</td>", cited(r, i) ? " class=ev" : "",
            (double)e->t_us / 1000.0);
    switch (e->kind) {
    case NM_TL_CMD:
    case NM_TL_EV:
      line = cJSON_PrintUnformatted(e->json);
      fprintf(f, "<td class=cl>%s %s ",
              e->client >= 0 && e->client < tl->nclients
                  ? tl->clients[e->client]
                  : "?",
              e->kind == NM_TL_CMD ? "&rarr;" : "&larr;");
      esc(f, line ? line : "");
      fprintf(f, "</td><td></td><td></td>");
      cJSON_free(line);
      break;
    case NM_TL_IN:
    case NM_TL_OUT:
      o = nm_tl_owner(tl, e->conn);
      fprintf(f,
              "<td class=cl>%s</td><td class=w>%s c%llu %s</td><td "
              "class=sv>",
              o >= 0 && o < tl->nclients ? tl->clients[o] : "",
              e->kind == NM_TL_IN ? "&mdash;&mdash;&rarr;" : "&larr;&mdash;",
              (unsigned long long)e->conn, e->kind == NM_TL_IN ? "in" : "out");
      frame_text(f, e);
      fprintf(f, "</td>");
      break;
    case NM_TL_NOTE:
      fprintf(f, "<td colspan=3>note: ");
      esc(f, e->detail ? e->detail : "");
      if (e->json) {
        line = cJSON_PrintUnformatted(e->json);
        fputc(' ', f);
        esc(f, line ? line : "");
        cJSON_free(line);
      }
      fprintf(f, "</td>");
      break;
    default:
      fprintf(f, "<td></td><td class=w>c%llu</td><td class=sv>%s ",
              (unsigned long long)e->conn, nm_tl_kind_name(e->kind));
      if (e->op != NM_OP_NONE) {
        /* The frame a rule took (held, dropped, ...). */
        frame_text(f, e);
        fprintf(f, " ");
        esc(f, e->detail ? e->detail : "");
        fprintf(f, "</td>");
        break;
      }
      esc(f, e->rule ? e->rule : "");
      fputc(' ', f);
      esc(f, e->action ? e->action : "");
      fputc(' ', f);
      esc(f, e->detail ? e->detail : "");
      fprintf(f, "</td>");
    }
    fprintf(f, "</tr>\n");
  }
  fprintf(f, "</table>\n");
}

int nm_report_html(const nm_report_t *rep, const char *path) {
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  fprintf(f,
          "<!doctype html><html><head><meta charset=utf-8><title>"
          "natsmock-harness report</title><style>%s</style></head><body>"
          "<h1>natsmock-harness</h1><p>driver: <code>",
          css);
  esc(f, rep->driver_cmd ? rep->driver_cmd : "");
  fprintf(f, "</code>, server: <code>");
  esc(f, rep->server_cmd ? rep->server_cmd : "natsmock (in-process)");
  fprintf(f, "</code>, %zu runs in %.1f s</p>\n<table>", rep->n,
          (double)rep->duration_us / 1e6);
  for (size_t i = 0; i < rep->n; i++) {
    const nm_result_t *r = &rep->v[i];
    fprintf(f, "<tr><td class=%s>%s</td><td>", nm_status_name(r->status),
            nm_status_name(r->status));
    if (r->tl)
      fprintf(f, "<a href=\"#run%zu\">", i);
    esc(f, r->sc ? r->sc->name : "?");
    if (r->tl)
      fprintf(f, "</a>");
    fprintf(f, "</td><td>%.2f s</td><td>", (double)r->duration_us / 1e6);
    esc(f, r->reason ? r->reason : "");
    fprintf(f, "</td></tr>\n");
  }
  fprintf(f, "</table>\n");
  for (size_t i = 0; i < rep->n; i++) {
    const nm_result_t *r = &rep->v[i];
    if (!r->tl) /* failing runs, and every run with --record */
      continue;
    fprintf(f, "<h2 id=run%zu>", i);
    esc(f, r->sc->name);
    fprintf(f, " (seed %d)</h2><p>", r->seed);
    esc(f, r->sc->summary);
    fprintf(f, "</p><ul>");
    for (size_t k = 0; k < r->fails.n; k++) {
      fprintf(f, "<li class=fail>");
      esc(f, r->fails.v[k].what);
      fputs(": ", f);
      esc(f, r->fails.v[k].message);
      fprintf(f, "</li>");
    }
    fprintf(f, "</ul>\n");
    diagram(f, r);
    if (r->driver_stderr) {
      fprintf(f, "<pre>");
      esc(f, r->driver_stderr);
      fprintf(f, "</pre>");
    }
  }
  fprintf(f, "</body></html>\n");
  return fclose(f) == 0 ? 0 : -1;
}
