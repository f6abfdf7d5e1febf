/* JUnit XML: one testsuite (timestamp, hostname, properties: natsmock
 * version, driver command, server, shard), one testcase per run (classname =
 * theme, a timestamp, properties: seed, driver with its version, status).
 * Expected failures are <skipped> with their cause and evidence; a file that
 * did not load is an <error> named after the file. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nm_report.h"
#include "nm_scenario.h"
#include "nm_version.h"

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

const char *nm__report_iso8601(uint64_t wall_us, char *buf, size_t n) {
  time_t t = (time_t)(wall_us / 1000000u);
  struct tm tm;
  if (wall_us == 0 || !gmtime_r(&t, &tm) ||
      strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    snprintf(buf, n, "unknown");
  return buf;
}

static void property(FILE *f, const char *indent, const char *name,
                     const char *value) {
  if (!value)
    return;
  fprintf(f, "%s<property name=\"%s\" value=\"", indent, name);
  nm__xml_escape(f, value);
  fputs("\"/>\n", f);
}

/* Every failure of a run with its evidence (the text of a <failure>,
 * <error> or, for an expected failure, <skipped>). */
static void failure_text(FILE *f, const nm_result_t *r) {
  for (size_t k = 0; k < r->fails.n; k++) {
    const cJSON *e;
    nm__xml_escape(f, r->fails.v[k].what);
    fputs(": ", f);
    nm__xml_escape(f, r->fails.v[k].message);
    fputs("\n", f);
    /* One timeline entry a line, as in --json. */
    cJSON_ArrayForEach(e, r->fails.v[k].evidence) {
      char *line = cJSON_PrintUnformatted(e);
      fputs("  ", f);
      nm__xml_escape(f, line ? line : "?");
      fputs("\n", f);
      cJSON_free(line);
    }
  }
  if (r->fails.more)
    fprintf(f, "(%zu more failures; --json has them)\n", r->fails.more);
}

static const char *first_message(const nm_result_t *r, const char *dflt) {
  return r->fails.n ? r->fails.v[0].message : (r->reason ? r->reason : dflt);
}

/* JUnit names a test by classname and name. A file that did not load has no
 * scenario: it is named after the file, in the class "load". */
static void case_names(FILE *f, const nm_result_t *r) {
  const char *file = r->sc && r->sc->path ? r->sc->path : r->file;
  char theme[128];
  nm__report_theme(r, theme, sizeof(theme));
  fprintf(f, "  <testcase classname=\"");
  if (r->sc)
    nm__xml_escape(f, theme[0] ? theme : "scenarios");
  else
    fputs("load", f);
  fprintf(f, "\" name=\"");
  nm__xml_escape(f, r->sc ? r->sc->name : (r->file ? r->file : "?"));
  if (r->rep > 1)
    fprintf(f, "#%d", r->rep);
  fputc('"', f);
  if (file) {
    fputs(" file=\"", f);
    nm__xml_escape(f, file);
    fputc('"', f);
  }
}

int nm_report_junit(const nm_report_t *rep, const char *path) {
  FILE *f = fopen(path, "w");
  size_t fails = 0, skips = 0, errors = 0;
  char ts[32], host[256] = "localhost";
  if (!f)
    return -1;
  for (size_t i = 0; i < rep->n; i++) {
    fails += rep->v[i].status == NM_ST_FAIL;
    /* An expected failure is reported as skipped (with its evidence), the
     * convention CI systems show as "not a regression". */
    skips += rep->v[i].status == NM_ST_SKIP || rep->v[i].status == NM_ST_XFAIL;
    errors += rep->v[i].status == NM_ST_ERROR;
  }
  gethostname(host, sizeof(host) - 1);
  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  fprintf(f,
          "<testsuites><testsuite name=\"natsmock-harness\" tests=\"%zu\" "
          "failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%.3f\" "
          "timestamp=\"%s\" hostname=\"",
          rep->n, fails, errors, skips, (double)rep->duration_us / 1e6,
          nm__report_iso8601(rep->wall_start_us, ts, sizeof(ts)));
  nm__xml_escape(f, host);
  fputs("\">\n  <properties>\n", f);
  property(f, "    ", "natsmock.version", NM_VERSION);
  property(f, "    ", "driver.command", rep->driver_cmd);
  property(f, "    ", "server",
           rep->server_cmd ? rep->server_cmd : "natsmock (in-process)");
  property(f, "    ", "shard", rep->shard);
  fputs("  </properties>\n", f);
  for (size_t i = 0; i < rep->n; i++) {
    const nm_result_t *r = &rep->v[i];
    char seed[32];
    case_names(f, r);
    fprintf(f, " time=\"%.3f\" timestamp=\"%s\">\n",
            (double)r->duration_us / 1e6,
            nm__report_iso8601(r->wall_start_us, ts, sizeof(ts)));
    /* Enough to re-run it: the seed, the client and its version. */
    fputs("    <properties>\n", f);
    if (r->sc) {
      snprintf(seed, sizeof(seed), "%d", r->seed);
      property(f, "      ", "seed", seed);
    }
    property(f, "      ", "driver", r->driver_name);
    property(f, "      ", "status", nm_status_name(r->status));
    fputs("    </properties>\n", f);
    switch (r->status) {
    case NM_ST_FAIL:
    case NM_ST_ERROR:
      fprintf(f, "    <%s message=\"",
              r->status == NM_ST_FAIL ? "failure" : "error");
      nm__xml_escape(f, first_message(r, "failed"));
      fprintf(f, "\">");
      failure_text(f, r);
      if (!r->fails.n && r->reason)
        nm__xml_escape(f, r->reason);
      fprintf(f, "</%s>\n", r->status == NM_ST_FAIL ? "failure" : "error");
      break;
    case NM_ST_XFAIL:
      fputs("    <skipped message=\"expected failure: ", f);
      nm__xml_escape(f, r->reason ? r->reason : "in the baseline");
      if (r->fails.n) {
        fputs(" | ", f);
        nm__xml_escape(f, r->fails.v[0].what);
        fputs(": ", f);
        nm__xml_escape(f, r->fails.v[0].message);
      }
      fputs("\">", f);
      failure_text(f, r);
      fputs("</skipped>\n", f);
      break;
    case NM_ST_SKIP:
      fprintf(f, "    <skipped message=\"");
      nm__xml_escape(f, r->reason ? r->reason : "skipped");
      fprintf(f, "\"/>\n");
      break;
    case NM_ST_XPASS:
      fputs("    <system-out>XPASS (listed as an expected failure, passed): ",
            f);
      nm__xml_escape(f, r->reason ? r->reason : "");
      fputs("</system-out>\n", f);
      break;
    default:
      break;
    }
    if (r->driver_stderr &&
        (r->status == NM_ST_FAIL || r->status == NM_ST_ERROR ||
         r->status == NM_ST_XFAIL)) {
      fprintf(f, "    <system-err>");
      nm__xml_escape(f, r->driver_stderr);
      fprintf(f, "</system-err>\n");
    }
    fprintf(f, "  </testcase>\n");
  }
  fprintf(f, "</testsuite></testsuites>\n");
  return fclose(f) == 0 ? 0 : -1;
}
