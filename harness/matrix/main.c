/* natsmock-matrix: the conformance matrix.
 *
 *   natsmock-matrix [-o FILE] LABEL=RESULTS.json[,EXPECTED.json] ...
 *
 * Each argument is one client: a column label, the JSON summary that
 * `natsmock-harness --json` wrote for it, and optionally the expected-failures
 * baseline it ran with (its "cause" lines explain the failures). The output is
 * Markdown: a headline per client, a scenario x client table, and under it,
 * for every scenario a client did not pass, what broke, the evidence the
 * harness recorded, and the cause. A baseline entry may carry
 * "intermittent": true (a real defect that shows in some runs only): its
 * XPASS is then reported as such, not as an entry to drop. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_version.h"

#define MATRIX_MAX_CLIENTS 16
#define MATRIX_MAX_FILE (64 * 1024 * 1024)
#define MATRIX_EVIDENCE_LINES 6
#define MATRIX_EVIDENCE_CHARS 300
/* Failures printed in full per scenario; the rest are counted by kind, so a
 * scenario with hundreds of broken messages stays one screen long. */
#define MATRIX_FAILURES_SHOWN 5
#define MATRIX_KINDS_MAX 16
#define MATRIX_PER_KIND 3

typedef struct {
  char label[64];
  cJSON *results;  /* the harness summary */
  cJSON *expected; /* the baseline list, or NULL */
  const char *driver;
} client_t;

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  char *buf;
  long n;
  if (!f)
    return NULL;
  if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > MATRIX_MAX_FILE ||
      fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    return NULL;
  }
  buf = malloc((size_t)n + 1);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  if (buf)
    buf[n] = '\0';
  fclose(f);
  return buf;
}

static cJSON *read_json(const char *path) {
  char *text = read_file(path);
  cJSON *j;
  if (!text) {
    fprintf(stderr, "natsmock-matrix: cannot read %s\n", path);
    return NULL;
  }
  j = cJSON_Parse(text);
  free(text);
  if (!j)
    fprintf(stderr, "natsmock-matrix: %s is not JSON\n", path);
  return j;
}

static const char *str_field(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int int_field(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? v->valueint : 0;
}

/* The result of scenario `name` for a client: the worst over repeats
 * (FAIL > ERROR > XFAIL > XPASS > SKIP > PASS), or NULL when it did not run. */
static const cJSON *find_result(const client_t *c, const char *name) {
  static const char *const order[] = {"PASS",  "SKIP",  "XPASS",
                                      "XFAIL", "ERROR", "FAIL"};
  const cJSON *it, *best = NULL;
  int best_rank = -1;
  cJSON_ArrayForEach(it,
                     cJSON_GetObjectItemCaseSensitive(c->results, "results")) {
    const char *n = str_field(it, "name");
    const char *st = str_field(it, "status");
    int rank = 0;
    if (!n || strcmp(n, name) != 0 || !st)
      continue;
    for (int i = 0; i < 6; i++)
      if (strcmp(order[i], st) == 0)
        rank = i;
    if (rank > best_rank) {
      best_rank = rank;
      best = it;
    }
  }
  return best;
}

/* How many runs of scenario `name` a client had, and how many of them failed
 * (FAIL, ERROR or XFAIL): with --repeat, "3/10" tells a flaky result from a
 * steady one. */
static void run_counts(const client_t *c, const char *name, int *runs,
                       int *failed) {
  const cJSON *it;
  *runs = *failed = 0;
  cJSON_ArrayForEach(it,
                     cJSON_GetObjectItemCaseSensitive(c->results, "results")) {
    const char *n = str_field(it, "name");
    const char *st = str_field(it, "status");
    if (!n || !st || strcmp(n, name) != 0)
      continue;
    (*runs)++;
    if (strcmp(st, "FAIL") == 0 || strcmp(st, "ERROR") == 0 ||
        strcmp(st, "XFAIL") == 0)
      (*failed)++;
  }
}

static int is_failure(const char *st) {
  return st && strcmp(st, "PASS") != 0 && strcmp(st, "SKIP") != 0;
}

static const char *cause_for(const client_t *c, const char *name) {
  const cJSON *it;
  cJSON_ArrayForEach(it, c->expected) {
    const char *n = str_field(it, "scenario");
    if (n && strcmp(n, name) == 0)
      return str_field(it, "cause");
  }
  return NULL;
}

static int is_intermittent(const client_t *c, const char *name) {
  const cJSON *it;
  cJSON_ArrayForEach(it, c->expected) {
    const char *n = str_field(it, "scenario");
    if (n && strcmp(n, name) == 0)
      return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "intermittent"));
  }
  return 0;
}

static const char *cell_text(const cJSON *r) {
  const char *st = r ? str_field(r, "status") : NULL;
  if (!st)
    return "—";
  if (strcmp(st, "PASS") == 0)
    return "pass";
  if (strcmp(st, "SKIP") == 0)
    return "skip";
  if (strcmp(st, "XFAIL") == 0)
    return "**fail** (known)";
  if (strcmp(st, "XPASS") == 0)
    return "pass (baselined)";
  return "**FAIL**";
}

/* The table cell: the worst status, and "k/n runs" when the scenario ran
 * more than once and did not fail every time. */
static void put_cell(FILE *out, const client_t *c, const char *name) {
  int runs, failed;
  run_counts(c, name, &runs, &failed);
  const cJSON *r = find_result(c, name);
  const char *st = r ? str_field(r, "status") : NULL;
  if (st && strcmp(st, "XPASS") == 0 && is_intermittent(c, name))
    fputs(" pass (known intermittent failure)", out);
  else
    fprintf(out, " %s", cell_text(r));
  if (runs > 1 && failed > 0 && failed < runs)
    fprintf(out, " %d/%d runs", failed, runs);
  fputs(" |", out);
}

/* The length of a measured duration at s ("0.5" in "after 0.5 ms"), else 0.
 * The harness prints what it measured with a decimal point and the bounds a
 * scenario sets as integers, so "2000 ms" stays and "1308.7 ms" does not:
 * the tracked matrix must not change when only timings did. */
static size_t measured_len(const char *start, const char *s) {
  const char *p = s;
  if (s > start && (s[-1] == '.' || (s[-1] >= '0' && s[-1] <= '9')))
    return 0;
  while (*p >= '0' && *p <= '9')
    p++;
  if (p == s || *p != '.' || !(p[1] >= '0' && p[1] <= '9'))
    return 0;
  for (p++; *p >= '0' && *p <= '9'; p++)
    ;
  return strncmp(p, " ms", 3) == 0 ? (size_t)(p - s) : 0;
}

/* Markdown-safe one-line text: pipes escaped, newlines folded, cut at max;
 * with `mask`, measured durations become "…" (measured_len). */
static void put_text(FILE *out, const char *s, size_t max, int mask) {
  const char *start = s;
  size_t n = 0, skip;
  for (; s && *s && n < max; s++, n++) {
    if (mask && (skip = measured_len(start, s)) > 0) {
      fputs("…", out);
      s += skip - 1;
    } else if (*s == '|')
      fputs("\\|", out);
    else if (*s == '\n' || *s == '\r')
      fputc(' ', out);
    else
      fputc(*s, out);
  }
  if (s && *s)
    fputs("…", out);
}

static void put_inline(FILE *out, const char *s, size_t max) {
  put_text(out, s, max, 0);
}

static int is_listed_scenario(cJSON *names, const char *name) {
  const cJSON *it;
  cJSON_ArrayForEach(it, names) {
    if (strcmp(it->valuestring, name) == 0)
      return 1;
  }
  return 0;
}

/* The first failure's "what" (the step or invariant that broke) of a result. */
/* What broke first in a result: the step or invariant and the start of its
 * message, "step 5 (await): command id 2 (flush) had no result...". */
static const char *first_what(const cJSON *r, char *buf, size_t len) {
  const cJSON *f =
      cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "failures"), 0);
  const char *w = f ? str_field(f, "what") : NULL;
  const char *m = f ? str_field(f, "message") : NULL;
  if (!w)
    return str_field(r, "reason") ? str_field(r, "reason") : "?";
  snprintf(buf, len, "%s: %s", w, m ? m : "");
  return buf;
}

static void write_evidence(FILE *out, const cJSON *f) {
  const cJSON *ev;
  int shown = 0;
  cJSON_ArrayForEach(ev, cJSON_GetObjectItemCaseSensitive(f, "evidence")) {
    char *line;
    if (shown++ == MATRIX_EVIDENCE_LINES) {
      fputs("  - …\n", out);
      break;
    }
    /* Without its timestamp and index: they change from run to run. */
    cJSON *copy = cJSON_Duplicate(ev, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "t_ms");
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "i");
    line = copy ? cJSON_PrintUnformatted(copy) : NULL;
    cJSON_Delete(copy);
    fputs("  - `", out);
    for (size_t i = 0; line && line[i] && i < MATRIX_EVIDENCE_CHARS; i++)
      fputc(line[i] == '`' ? '\'' : line[i], out);
    if (line && strlen(line) > MATRIX_EVIDENCE_CHARS)
      fputs("…", out);
    fputs("`\n", out);
    free(line);
  }
}

/* The failures of one result, grouped by what broke ("invariant no_loss",
 * "step 7 (await)"): at most MATRIX_PER_KIND of each kind and
 * MATRIX_FAILURES_SHOWN in all are printed with their evidence, the rest are
 * counted per kind, so forty lost messages read as one finding. */
static void write_failure_list(FILE *out, const cJSON *failures) {
  const char *what[MATRIX_KINDS_MAX];
  int shown_of[MATRIX_KINDS_MAX], more_of[MATRIX_KINDS_MAX];
  int kinds = 0, shown = 0, more = 0, other = 0;
  const cJSON *f;
  cJSON_ArrayForEach(f, failures) {
    const char *w = str_field(f, "what") ? str_field(f, "what") : "?";
    int k;
    for (k = 0; k < kinds && strcmp(what[k], w) != 0; k++)
      ;
    if (k == kinds) {
      if (kinds == MATRIX_KINDS_MAX) {
        other++;
        continue;
      }
      what[kinds] = w;
      shown_of[kinds] = more_of[kinds] = 0;
      kinds++;
    }
    if (shown == MATRIX_FAILURES_SHOWN || shown_of[k] == MATRIX_PER_KIND) {
      more_of[k]++;
      more++;
      continue;
    }
    shown_of[k]++;
    shown++;
    fputs("- ", out);
    put_inline(out, w, 120);
    fputs(": ", out);
    put_text(out, str_field(f, "message"), 400, 1);
    fputc('\n', out);
    write_evidence(out, f);
  }
  if (more == 0 && other == 0)
    return;
  fputs("- not shown:", out);
  for (int k = 0, first = 1; k < kinds; k++) {
    if (more_of[k] == 0)
      continue;
    fprintf(out, "%s %d more of %s", first ? "" : ",", more_of[k], what[k]);
    first = 0;
  }
  if (other)
    fprintf(out, "%s %d of other kinds", more ? "," : "", other);
  fputs(" (the harness's JSON report has the evidence)\n", out);
}

static void write_failures(FILE *out, const client_t *c, cJSON *names) {
  const cJSON *nm;
  int any = 0;
  cJSON_ArrayForEach(nm, names) {
    const cJSON *r = find_result(c, nm->valuestring);
    const char *st = r ? str_field(r, "status") : NULL;
    const char *cause;
    int runs, failed;
    if (!is_failure(st))
      continue;
    if (!any)
      fprintf(out, "\n### %s\n", c->label);
    any = 1;
    cause = cause_for(c, nm->valuestring);
    run_counts(c, nm->valuestring, &runs, &failed);
    fprintf(out, "\n#### `%s` — %s (%s)", nm->valuestring, st, c->label);
    if (runs > 1)
      fprintf(out, ", failed %d of %d runs", failed, runs);
    fputs("\n\n", out);
    if (strcmp(st, "XPASS") == 0 && is_intermittent(c, nm->valuestring))
      fprintf(out,
              "Passed in this run; a known intermittent failure. "
              "**Cause:** %s\n\n",
              cause ? cause : "?");
    else if (strcmp(st, "XPASS") == 0)
      fputs("Listed in the baseline but passed in this run: the baseline "
            "entry should go.\n\n",
            out);
    else
      fprintf(out, "**Cause:** %s\n\n",
              cause ? cause : "not yet investigated (not in the baseline)");
    if (str_field(r, "summary"))
      fprintf(out, "Scenario: %s\n\n", str_field(r, "summary"));
    fprintf(out,
            "Re-run: `natsmock-harness --driver <%s driver> --name %s "
            "--repeat 10 -v --trace DIR scenarios/`\n\n",
            c->label, nm->valuestring);
    write_failure_list(out, cJSON_GetObjectItemCaseSensitive(r, "failures"));
  }
  if (!any)
    fprintf(out, "\n### %s\n\nEvery scenario passed or was skipped.\n",
            c->label);
}

/* One line per failure, every client: the index a maintainer reads first. */
static void write_findings(FILE *out, const client_t *clients, int n,
                           cJSON *names) {
  int any = 0;
  for (int c = 0; c < n; c++) {
    const cJSON *nm;
    cJSON_ArrayForEach(nm, names) {
      const cJSON *r = find_result(&clients[c], nm->valuestring);
      const char *st = r ? str_field(r, "status") : NULL;
      const char *cause;
      char what[512];
      if (!is_failure(st))
        continue;
      if (!any)
        fputs("\n## Findings\n\nEvery scenario a client did not pass, with "
              "what broke first and the cause read from its trace "
              "(details, evidence and the rest of what broke further "
              "down).\n\n| client | scenario | result | broke first | "
              "cause |\n|---|---|---|---|---|\n",
              out);
      any = 1;
      cause = cause_for(&clients[c], nm->valuestring);
      fprintf(out, "| %s | `%s` | %s | ", clients[c].label, nm->valuestring,
              strcmp(st, "XPASS") == 0 &&
                      is_intermittent(&clients[c], nm->valuestring)
                  ? "pass (known intermittent failure)"
                  : cell_text(r));
      put_text(out, first_what(r, what, sizeof(what)), 140, 1);
      fputs(" | ", out);
      if (strcmp(st, "XPASS") == 0 &&
          !is_intermittent(&clients[c], nm->valuestring))
        fputs("passed: drop it from the baseline", out);
      else
        put_inline(out, cause ? cause : "not yet investigated", 600);
      fputs(" |\n", out);
    }
  }
}

static void free_clients(client_t *clients, int n) {
  for (int c = 0; c < n; c++) {
    cJSON_Delete(clients[c].results);
    cJSON_Delete(clients[c].expected);
  }
}

static void usage(FILE *f) {
  fputs("usage: natsmock-matrix [-o FILE] LABEL=RESULTS.json[,EXPECTED.json] "
        "...\n"
        "       natsmock-matrix --version | --help\n"
        "Writes the conformance matrix (Markdown) from the --json results of\n"
        "natsmock-harness, one LABEL=RESULTS per client, each with the\n"
        "expected-failures baseline it ran with; to FILE, else stdout.\n",
        f);
}

/* Reads the LABEL=RESULTS[,EXPECTED] arguments into clients; the -o path goes
 * to *out_path. Returns the number of clients, or -1 after a message (what was
 * read is freed). The output file is not touched here, so a bad input never
 * truncates the document it would replace. */
static int parse_args(int argc, char **argv, client_t *clients,
                      const char **out_path) {
  int n = 0;
  for (int i = 1; i < argc; i++) {
    char *eq, *comma;
    if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "--help") == 0 ||
        strcmp(argv[i], "-h") == 0) {
      if (argv[i][2] == 'v')
        printf("natsmock-matrix %s\n", NM_VERSION);
      else
        usage(stdout);
      free_clients(clients, n);
      exit(0);
    }
    if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
      *out_path = argv[++i];
      continue;
    }
    eq = strchr(argv[i], '=');
    if (!eq || n == MATRIX_MAX_CLIENTS) {
      usage(stderr);
      free_clients(clients, n);
      return -1;
    }
    *eq = '\0';
    comma = strchr(eq + 1, ',');
    if (comma)
      *comma = '\0';
    memset(&clients[n], 0, sizeof(clients[n]));
    snprintf(clients[n].label, sizeof(clients[n].label), "%s", argv[i]);
    clients[n].results = read_json(eq + 1);
    if (clients[n].results && comma)
      clients[n].expected = read_json(comma + 1);
    n++;
    if (!clients[n - 1].results || (comma && !clients[n - 1].expected)) {
      free_clients(clients, n);
      return -1;
    }
  }
  if (n == 0)
    fprintf(stderr, "natsmock-matrix: no results given\n");
  return n == 0 ? -1 : n;
}

int main(int argc, char **argv) {
  client_t clients[MATRIX_MAX_CLIENTS];
  const char *out_path = NULL;
  FILE *out = stdout;
  cJSON *names;
  const cJSON *it;
  int n = parse_args(argc, argv, clients, &out_path);

  if (n < 0)
    return 2;
  if (out_path && !(out = fopen(out_path, "w"))) {
    fprintf(stderr, "natsmock-matrix: cannot write %s\n", out_path);
    free_clients(clients, n);
    return 2;
  }
  names = cJSON_CreateArray();

  /* Every scenario name any client ran, in the first-seen order (the harness
   * runs files sorted by path, so this is the suite's order). */
  for (int c = 0; c < n; c++) {
    cJSON_ArrayForEach(
        it, cJSON_GetObjectItemCaseSensitive(clients[c].results, "results")) {
      const char *nm = str_field(it, "name");
      if (!clients[c].driver && str_field(it, "driver"))
        clients[c].driver = str_field(it, "driver");
      if (nm && !is_listed_scenario(names, nm))
        cJSON_AddItemToArray(names, cJSON_CreateString(nm));
    }
  }

  fprintf(
      out,
      "# Conformance matrix\n\n"
      "Generated by `ci/conformance --update-docs`: the whole scenario suite "
      "(`scenarios/`, %d scenarios) run by `natsmock-harness` once per "
      "client, each through its driver, against the in-process mock. "
      "Do not edit by hand. Measured durations and timestamps are left "
      "out (\"…\"), so the file changes only when a result does.\n\n",
      cJSON_GetArraySize(names));
  fputs(
      "| client | driver reports | pass | fail (known) | fail (new) | skip |\n"
      "|---|---|---|---|---|---|\n",
      out);
  for (int c = 0; c < n; c++) {
    const cJSON *r = clients[c].results;
    fprintf(out, "| %s | %s | %d | %d | %d | %d |\n", clients[c].label,
            clients[c].driver ? clients[c].driver : "?",
            int_field(r, "passed") + int_field(r, "xpass"),
            int_field(r, "xfail"),
            int_field(r, "failed") + int_field(r, "errors"),
            int_field(r, "skipped"));
  }
  fputs("\n\"fail (known)\" is a failure listed, with its cause, in that "
        "driver's `expected-failures.json`; \"skip\" means the driver lacks a "
        "feature the scenario requires.\n",
        out);
  write_findings(out, clients, n, names);
  fputs("\n## Scenario by client\n\n| scenario |", out);
  for (int c = 0; c < n; c++)
    fprintf(out, " %s |", clients[c].label);
  fputs("\n|---|", out);
  for (int c = 0; c < n; c++)
    fputs("---|", out);
  fputc('\n', out);
  cJSON_ArrayForEach(it, names) {
    fprintf(out, "| `%s` |", it->valuestring);
    for (int c = 0; c < n; c++)
      put_cell(out, &clients[c], it->valuestring);
    fputc('\n', out);
  }
  fputs("\n## Failures, with their evidence and cause\n", out);
  for (int c = 0; c < n; c++)
    write_failures(out, &clients[c], names);

  free_clients(clients, n);
  cJSON_Delete(names);
  if (out != stdout && fclose(out) != 0)
    return 2;
  return 0;
}
