/* JUnit XML: one testsuite, one testcase per run (classname = theme). */
#include <errno.h>
#include <string.h>

#include "nm_report.h"
#include "nm_scenario.h"

void nm__xml_escape(FILE *f, const char *s) {
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    switch (c) {
    case '<':
      fputs("&lt;", f);
      break;
    case '>':
      fputs("&gt;", f);
      break;
    case '&':
      fputs("&amp;", f);
      break;
    case '"':
      fputs("&quot;", f);
      break;
    case '\'':
      fputs("&apos;", f);
      break;
    default:
      /* XML 1.0 allows no control characters but tab, CR and LF. */
      if (c < 32 && c != '\t' && c != '\n' && c != '\r')
        fputc('?', f);
      else
        fputc(c, f);
    }
  }
}

int nm_report_junit(const nm_report_t *rep, const char *path) {
  FILE *f = fopen(path, "w");
  size_t fails = 0, skips = 0, errors = 0;
  if (!f)
    return -1;
  for (size_t i = 0; i < rep->n; i++) {
    fails += rep->v[i].status == NM_ST_FAIL;
    skips += rep->v[i].status == NM_ST_SKIP;
    errors += rep->v[i].status == NM_ST_ERROR;
  }
  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  fprintf(f,
          "<testsuites><testsuite name=\"natsmock-harness\" tests=\"%zu\" "
          "failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\">\n",
          rep->n, fails, errors, skips, (double)rep->duration_us / 1e6);
  for (size_t i = 0; i < rep->n; i++) {
    const nm_result_t *r = &rep->v[i];
    char theme[128];
    nm__report_theme(r, theme, sizeof(theme));
    fprintf(f, "  <testcase classname=\"");
    nm__xml_escape(f, theme[0] ? theme : "scenarios");
    fprintf(f, "\" name=\"");
    nm__xml_escape(f, r->sc ? r->sc->name : "?");
    if (r->rep > 1)
      fprintf(f, "#%d", r->rep);
    fprintf(f, "\" time=\"%.3f\">", (double)r->duration_us / 1e6);
    if (r->status == NM_ST_FAIL || r->status == NM_ST_ERROR) {
      fprintf(f, "\n    <%s message=\"",
              r->status == NM_ST_FAIL ? "failure" : "error");
      nm__xml_escape(f, r->fails.n ? r->fails.v[0].message
                                   : (r->reason ? r->reason : "failed"));
      fprintf(f, "\">");
      for (size_t k = 0; k < r->fails.n; k++) {
        char *ev = cJSON_Print(r->fails.v[k].evidence);
        nm__xml_escape(f, r->fails.v[k].what);
        fputs(": ", f);
        nm__xml_escape(f, r->fails.v[k].message);
        fputs("\n", f);
        nm__xml_escape(f, ev);
        fputs("\n", f);
        cJSON_free(ev);
      }
      fprintf(f, "</%s>", r->status == NM_ST_FAIL ? "failure" : "error");
      if (r->driver_stderr) {
        fprintf(f, "\n    <system-err>");
        nm__xml_escape(f, r->driver_stderr);
        fprintf(f, "</system-err>");
      }
      fprintf(f, "\n  ");
    } else if (r->status == NM_ST_SKIP) {
      fprintf(f, "<skipped message=\"");
      nm__xml_escape(f, r->reason ? r->reason : "skipped");
      fprintf(f, "\"/>");
    } else if (r->status == NM_ST_XFAIL || r->status == NM_ST_XPASS) {
      fprintf(f, "<system-out>%s: ", nm_status_name(r->status));
      nm__xml_escape(f, r->reason ? r->reason : "");
      fprintf(f, "</system-out>");
    }
    fprintf(f, "</testcase>\n");
  }
  fprintf(f, "</testsuite></testsuites>\n");
  return fclose(f) == 0 ? 0 : -1;
}
