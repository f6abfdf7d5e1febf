/* natsmock-matrix: the conformance matrix.
 *
 *   natsmock-matrix [-o FILE] LABEL=RESULTS.json[,EXPECTED.json] ...
 *
 * Each argument is one client: a column label, the JSON summary that
 * `natsmock-harness --json` wrote for it, and optionally the expected-failures
 * baseline it ran with (its "cause" lines explain the failures). The output is
 * Markdown: a headline per client, a scenario x client table, and under it,
 * for every scenario a client did not pass, what broke, the evidence the
 * harness recorded, and the cause. Nothing in it depends on the clock, so the
 * committed file changes only when a result does. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MATRIX_MAX_CLIENTS 16
#define MATRIX_MAX_FILE (64 * 1024 * 1024)
#define MATRIX_EVIDENCE_LINES 6
#define MATRIX_EVIDENCE_CHARS 300

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

static const char *cause_for(const client_t *c, const char *name) {
  const cJSON *it;
  cJSON_ArrayForEach(it, c->expected) {
    const char *n = str_field(it, "scenario");
    if (n && strcmp(n, name) == 0)
      return str_field(it, "cause");
  }
  return NULL;
}

static const char *cell(const cJSON *r) {
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

/* Markdown-safe one-line text: pipes escaped, newlines folded, cut at max. */
static void put_inline(FILE *out, const char *s, size_t max) {
  size_t n = 0;
  for (; s && *s && n < max; s++, n++) {
    if (*s == '|')
      fputs("\\|", out);
    else if (*s == '\n' || *s == '\r')
      fputc(' ', out);
    else
      fputc(*s, out);
  }
  if (s && *s)
    fputs("…", out);
}

static int is_listed_scenario(cJSON *names, const char *name) {
  const cJSON *it;
  cJSON_ArrayForEach(it, names) {
    if (strcmp(it->valuestring, name) == 0)
      return 1;
  }
  return 0;
}

static void write_failures(FILE *out, const client_t *c, cJSON *names) {
  const cJSON *nm;
  int any = 0;
  cJSON_ArrayForEach(nm, names) {
    const cJSON *r = find_result(c, nm->valuestring);
    const char *st = r ? str_field(r, "status") : NULL;
    const cJSON *f;
    const char *cause;
    if (!st || strcmp(st, "PASS") == 0 || strcmp(st, "SKIP") == 0)
      continue;
    if (!any)
      fprintf(out, "\n### %s\n", c->label);
    any = 1;
    cause = cause_for(c, nm->valuestring);
    fprintf(out, "\n#### `%s` — %s\n\n", nm->valuestring, st);
    if (str_field(r, "summary"))
      fprintf(out, "Scenario: %s\n\n", str_field(r, "summary"));
    if (strcmp(st, "XPASS") == 0) {
      fprintf(out,
              "Listed in the baseline but passed in this run: the baseline "
              "entry should go.\n");
    }
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(r, "failures")) {
      const cJSON *ev;
      int shown = 0;
      fputs("- ", out);
      put_inline(out, str_field(f, "what"), 120);
      fputs(": ", out);
      put_inline(out, str_field(f, "message"), 400);
      fputc('\n', out);
      cJSON_ArrayForEach(ev, cJSON_GetObjectItemCaseSensitive(f, "evidence")) {
        char *line;
        if (shown++ == MATRIX_EVIDENCE_LINES) {
          fputs("  - …\n", out);
          break;
        }
        line = cJSON_PrintUnformatted(ev);
        fputs("  - `", out);
        for (size_t i = 0; line && line[i] && i < MATRIX_EVIDENCE_CHARS; i++)
          fputc(line[i] == '`' ? '\'' : line[i], out);
        fputs("`\n", out);
        free(line);
      }
    }
    fprintf(out, "\nCause: %s\n", cause ? cause : "not yet investigated");
  }
  if (!any)
    fprintf(out, "\n### %s\n\nEvery scenario passed or was skipped.\n",
            c->label);
}

int main(int argc, char **argv) {
  client_t clients[MATRIX_MAX_CLIENTS];
  int n = 0;
  FILE *out = stdout;
  cJSON *names = cJSON_CreateArray();
  const cJSON *it;

  for (int i = 1; i < argc; i++) {
    char *eq, *comma;
    if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
      out = fopen(argv[++i], "w");
      if (!out) {
        fprintf(stderr, "natsmock-matrix: cannot write %s\n", argv[i]);
        return 2;
      }
      continue;
    }
    eq = strchr(argv[i], '=');
    if (!eq || n == MATRIX_MAX_CLIENTS) {
      fprintf(stderr, "usage: natsmock-matrix [-o FILE] "
                      "LABEL=RESULTS.json[,EXPECTED.json] ...\n");
      return 2;
    }
    *eq = '\0';
    comma = strchr(eq + 1, ',');
    if (comma)
      *comma = '\0';
    memset(&clients[n], 0, sizeof(clients[n]));
    snprintf(clients[n].label, sizeof(clients[n].label), "%s", argv[i]);
    if (!(clients[n].results = read_json(eq + 1)))
      return 2;
    if (comma && !(clients[n].expected = read_json(comma + 1)))
      return 2;
    n++;
  }
  if (n == 0) {
    fprintf(stderr, "natsmock-matrix: no results given\n");
    return 2;
  }

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

  fprintf(out,
          "# Conformance matrix\n\n"
          "Generated by `ci/conformance`: the whole scenario suite "
          "(`scenarios/`, %d scenarios) run by `natsmock-harness` once per "
          "client, each through its driver, against the in-process mock. "
          "Do not edit by hand.\n\n",
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
  fputs(
      "\n\"fail (known)\" is a failure listed, with its cause, in that "
      "driver's `expected-failures.json`; \"skip\" means the driver lacks a "
      "feature the scenario requires.\n\n## Scenario by client\n\n| scenario |",
      out);
  for (int c = 0; c < n; c++)
    fprintf(out, " %s |", clients[c].label);
  fputs("\n|---|", out);
  for (int c = 0; c < n; c++)
    fputs("---|", out);
  fputc('\n', out);
  cJSON_ArrayForEach(it, names) {
    fprintf(out, "| `%s` |", it->valuestring);
    for (int c = 0; c < n; c++)
      fprintf(out, " %s |", cell(find_result(&clients[c], it->valuestring)));
    fputc('\n', out);
  }
  fputs("\n## Failures, with their evidence and cause\n", out);
  for (int c = 0; c < n; c++)
    write_failures(out, &clients[c], names);

  for (int c = 0; c < n; c++) {
    cJSON_Delete(clients[c].results);
    cJSON_Delete(clients[c].expected);
  }
  cJSON_Delete(names);
  if (out != stdout && fclose(out) != 0)
    return 2;
  return 0;
}
