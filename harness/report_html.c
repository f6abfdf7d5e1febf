/* The HTML report, readable without a script:
 *  - at the top the counts per status and filters (CSS radio buttons) over
 *    the table of runs;
 *  - for every failing run, per failure an SVG sequence diagram (client,
 *    wire and server lanes) around its evidence: the evidence rows shaded,
 *    the frame or fault that caused it outlined and labelled "cause", long
 *    runs of similar rows collapsed into one;
 *  - the whole timeline of the run one click away (<details>), with the same
 *    collapsing. */
#include <stdlib.h>
#include <string.h>

#include "nm_report.h"
#include "nm_scenario.h"
#include "nm_version.h"

/* Characters of a payload shown in a diagram row. */
#define NM_HTML_PAYLOAD 60
/* Diagrams drawn per failing run (one per failure). */
#define NM_HTML_DIAGRAMS 4
/* Rows of context kept on each side of an evidence or cause row. */
#define NM_HTML_CONTEXT 3
/* A run of at least this many similar rows is drawn as first, "N similar",
 * last. */
#define NM_HTML_COLLAPSE 4
/* Rows drawn in one diagram; a longer stretch between the rows that matter
 * is cut in its middle. */
#define NM_HTML_SVG_ROWS 90
/* Characters of text in one diagram row. */
#define NM_HTML_SVG_TEXT 72

/* The order of the counts and filters at the top. */
static const nm_status_t statuses[] = {NM_ST_FAIL,  NM_ST_ERROR, NM_ST_XFAIL,
                                       NM_ST_XPASS, NM_ST_SKIP,  NM_ST_PASS};

static const char css[] =
    "body{font:13px/1.4 sans-serif;margin:1em 2em;color:#222}"
    "table{border-collapse:collapse}td,th{padding:2px 6px;vertical-align:top}"
    ".PASS{color:#080}.FAIL,.ERROR{color:#b00;font-weight:bold}"
    ".SKIP{color:#888}.XFAIL{color:#a60}.XPASS{color:#06a}"
    ".counts span{display:inline-block;margin-right:1.2em;font-size:16px}"
    ".filters{margin:.6em 0}.filters input{display:none}"
    ".filters label{border:1px solid #bbb;border-radius:3px;padding:1px 8px;"
    "margin-right:4px;cursor:pointer}"
    ".filters input:checked+label{background:#246;color:#fff}"
    "table.runs td{border-bottom:1px solid #eee}"
    "#f-FAIL:checked~table.runs tr.r:not(.r-FAIL),"
    "#f-ERROR:checked~table.runs tr.r:not(.r-ERROR),"
    "#f-XFAIL:checked~table.runs tr.r:not(.r-XFAIL),"
    "#f-XPASS:checked~table.runs tr.r:not(.r-XPASS),"
    "#f-SKIP:checked~table.runs tr.r:not(.r-SKIP),"
    "#f-PASS:checked~table.runs tr.r:not(.r-PASS){display:none}"
    "section.run{border-top:2px solid #b00;margin-top:2em}"
    ".failure-what{color:#b00;font-weight:bold}"
    "svg.seq{display:block;margin:.5em 0 1.5em;font:12px monospace}"
    "svg.seq .lane{stroke:#999;stroke-dasharray:4 3}"
    "svg.seq .in,svg.seq .out{stroke:#246;fill:none}"
    "svg.seq .faulted{stroke:#c00;stroke-dasharray:5 2}"
    "svg.seq .ev-bg{fill:#fde8e8}svg.seq .cause-bg{fill:#fbd0d0;stroke:#c00;"
    "stroke-width:2}svg.seq .cause-label{fill:#c00;font-weight:bold}"
    "svg.seq .gap{fill:#888;font-style:italic}svg.seq .t{fill:#888}"
    "svg.seq .hdr{font:bold 13px sans-serif}"
    "table.seq{table-layout:fixed;width:100%}"
    ".seq td{border-bottom:1px solid #eee;font-family:monospace;"
    "overflow-wrap:anywhere}"
    ".seq .t{color:#888;text-align:right;width:6em}.seq .cl{width:45%}"
    ".seq .sv{width:30%}.seq .w{width:11em;text-align:center;color:#246}"
    ".ev{background:#fee}.cause{background:#fbd0d0;outline:2px solid #c00}"
    ".fail{color:#b00}details{margin:1em 0}summary{cursor:pointer;"
    "font-weight:bold}";

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

/* Writes the frame's one-line text into buf (for SVG rows). */
static void frame_line(char *buf, size_t n, const nm_tl_ev_t *e) {
  size_t len = 0;
#define PUT(...)                                                               \
  do {                                                                         \
    if (len < n)                                                               \
      len += (size_t)snprintf(buf + len, n - len, __VA_ARGS__);                \
  } while (0)
  buf[0] = '\0';
  if (e->op == NM_OP_NONE)
    PUT("raw %zu bytes", e->bytes);
  else
    PUT("%s", nm_tl_verb(e->op));
  if (e->subject)
    PUT(" %s", e->subject);
  if (e->queue)
    PUT(" %s", e->queue);
  if (e->reply)
    PUT(" %s", e->reply);
  if (e->sid)
    PUT(" sid=%s", e->sid);
  if (e->max)
    PUT(" max=%s", e->max);
  if (e->payload_size && e->op != NM_OP_CONNECT && e->op != NM_OP_INFO)
    PUT(" (%zu B)", e->payload_size);
  if (e->rule || e->action)
    PUT(" [%s: %s]", e->rule ? e->rule : "", e->action ? e->action : "");
#undef PUT
}

/* What a row says, in one line, and on which lane: -1 client, 0 wire (an
 * arrow: 1 in, 2 out), 1 server. */
typedef struct {
  char text[512];
  int lane;  /* -1 client, 0 wire, 1 server, 2 across (notes) */
  int arrow; /* 0 none, 1 client->server, 2 server->client */
  int fault; /* a rule touched it */
} row_t;

static void describe(const nm_tl_t *tl, size_t i, row_t *r) {
  const nm_tl_ev_t *e = &tl->v[i];
  char fr[400];
  char *line;
  int o;
  memset(r, 0, sizeof(*r));
  r->fault = e->rule != NULL || e->kind == NM_TL_ACTION;
  switch (e->kind) {
  case NM_TL_CMD:
  case NM_TL_EV:
    line = e->json ? cJSON_PrintUnformatted(e->json) : NULL;
    snprintf(r->text, sizeof(r->text), "%s %s %s",
             e->client >= 0 && e->client < tl->nclients ? tl->clients[e->client]
                                                        : "?",
             e->kind == NM_TL_CMD ? "->" : "<-", line ? line : "");
    cJSON_free(line);
    r->lane = -1;
    break;
  case NM_TL_IN:
  case NM_TL_OUT:
    o = nm_tl_owner(tl, e->conn);
    frame_line(fr, sizeof(fr), e);
    snprintf(r->text, sizeof(r->text), "%s%sc%llu %s",
             o >= 0 && o < tl->nclients ? tl->clients[o] : "",
             o >= 0 && o < tl->nclients ? " " : "", (unsigned long long)e->conn,
             fr);
    r->lane = 0;
    r->arrow = e->kind == NM_TL_IN ? 1 : 2;
    break;
  case NM_TL_NOTE:
    line = e->json ? cJSON_PrintUnformatted(e->json) : NULL;
    snprintf(r->text, sizeof(r->text), "note: %s %s",
             e->detail ? e->detail : "", line ? line : "");
    cJSON_free(line);
    r->lane = 2;
    break;
  default:
    if (e->op != NM_OP_NONE) {
      frame_line(fr, sizeof(fr), e);
      snprintf(r->text, sizeof(r->text), "c%llu %s %s %s",
               (unsigned long long)e->conn, nm_tl_kind_name(e->kind), fr,
               e->detail ? e->detail : "");
    } else {
      snprintf(r->text, sizeof(r->text), "c%llu %s %s %s %s",
               (unsigned long long)e->conn, nm_tl_kind_name(e->kind),
               e->rule ? e->rule : "", e->action ? e->action : "",
               e->detail ? e->detail : "");
    }
    r->lane = 1;
  }
}

/* Rows that look alike for collapsing: same kind, connection or client,
 * verb or command name and subject. */
static int similar(const nm_tl_ev_t *a, const nm_tl_ev_t *b) {
  if (a->kind != b->kind || a->conn != b->conn || a->client != b->client ||
      a->op != b->op || (a->rule != NULL) != (b->rule != NULL))
    return 0;
  if ((a->kind == NM_TL_CMD || a->kind == NM_TL_EV) &&
      !(a->ev && b->ev && strcmp(a->ev, b->ev) == 0))
    return 0;
  if ((a->subject == NULL) != (b->subject == NULL) ||
      (a->subject && strcmp(a->subject, b->subject) != 0))
    return 0;
  return 1;
}

/* Timeline indexes a failure names as evidence, sorted, into idx (at most
 * cap); returns how many. */
static size_t evidence_of(const nm_failure_t *fl, size_t n_tl, size_t *idx,
                          size_t cap) {
  const cJSON *e;
  size_t n = 0;
  cJSON_ArrayForEach(e, fl->evidence) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(e, "i");
    if (cJSON_IsNumber(x) && x->valuedouble >= 0 &&
        (size_t)x->valuedouble < n_tl && n < cap)
      idx[n++] = (size_t)x->valuedouble;
  }
  for (size_t a = 1; a < n; a++)
    for (size_t b = a; b > 0 && idx[b - 1] > idx[b]; b--) {
      size_t t = idx[b];
      idx[b] = idx[b - 1];
      idx[b - 1] = t;
    }
  return n;
}

/* Whether a rule or direct action touched this entry; with `frame`, only
 * entries that carry the frame it acted on (not "rule installed"). */
static int faulted(const nm_tl_ev_t *e, int frame) {
  if (e->rule == NULL && e->kind != NM_TL_ACTION)
    return 0;
  return !frame || e->op != NM_OP_NONE;
}

/* The entry that caused a failure, searched in this order:
 *  1. the first frame a fault rule acted on (held, dropped, delayed, split)
 *     from the first evidence entry on: what the client was waiting for;
 *  2. the last such frame before it;
 *  3. the last fault action of any kind (a close, a rule installed) at or
 *     before the last evidence entry;
 *  4. the first evidence entry that is a frame on the wire, else the first.
 * NM_TL_NONE without evidence. */
static size_t cause_of(const nm_tl_t *tl, const size_t *ev, size_t nev) {
  if (nev == 0)
    return NM_TL_NONE;
  for (size_t i = ev[0]; i < tl->n; i++)
    if (faulted(&tl->v[i], 1))
      return i;
  for (size_t i = ev[0]; i-- > 0;)
    if (faulted(&tl->v[i], 1))
      return i;
  for (size_t i = ev[nev - 1] + 1; i-- > 0;)
    if (faulted(&tl->v[i], 0))
      return i;
  for (size_t k = 0; k < nev; k++)
    if (tl->v[ev[k]].kind == NM_TL_IN || tl->v[ev[k]].kind == NM_TL_OUT)
      return ev[k];
  return ev[0];
}

static int in_list(const size_t *v, size_t n, size_t i) {
  for (size_t k = 0; k < n; k++)
    if (v[k] == i)
      return 1;
  return 0;
}

/* Row plan: which entries are drawn, and gaps ("N similar" or "N entries")
 * in between. kind 0: entry i; 1: a run of `count` similar entries from i;
 * 2: a cut of `count` entries from i. */
typedef struct {
  int kind;
  size_t i, count;
} plan_t;

static int important(const size_t *ev, size_t nev, size_t cause, size_t i,
                     size_t ctx) {
  size_t lo, hi;
  for (size_t k = 0; k <= nev; k++) {
    size_t c = k < nev ? ev[k] : cause;
    if (c == NM_TL_NONE)
      continue;
    lo = c > ctx ? c - ctx : 0;
    hi = c + ctx;
    if (i >= lo && i <= hi)
      return 1;
  }
  return 0;
}

/* Plans rows from..to (inclusive): runs of similar unimportant entries
 * collapse; stretches of unimportant entries longer than `cut` are cut in
 * the middle. Returns the number of plan entries. */
static size_t plan_rows(const nm_tl_t *tl, size_t from, size_t to,
                        const size_t *ev, size_t nev, size_t cause, size_t ctx,
                        size_t cut, plan_t *plan, size_t cap) {
  size_t n = 0, i = from;
  while (i <= to && n + 3 < cap) {
    size_t j = i + 1, run_end;
    if (important(ev, nev, cause, i, ctx)) {
      plan[n++] = (plan_t){0, i, 1};
      i++;
      continue;
    }
    /* A run of similar, unimportant entries. */
    while (j <= to && !important(ev, nev, cause, j, ctx) &&
           similar(&tl->v[i], &tl->v[j]))
      j++;
    if (j - i >= NM_HTML_COLLAPSE) {
      plan[n++] = (plan_t){0, i, 1};
      plan[n++] = (plan_t){1, i + 1, j - i - 2};
      plan[n++] = (plan_t){0, j - 1, 1};
      i = j;
      continue;
    }
    /* A long unimportant stretch of mixed entries: keep its ends. */
    run_end = i;
    while (run_end + 1 <= to && !important(ev, nev, cause, run_end + 1, ctx))
      run_end++;
    if (run_end - i + 1 > cut) {
      size_t keep = cut / 4 ? cut / 4 : 1;
      for (size_t k = 0; k < keep && n < cap; k++)
        plan[n++] = (plan_t){0, i + k, 1};
      plan[n++] = (plan_t){2, i + keep, run_end - i + 1 - 2 * keep};
      i = run_end + 1 - keep;
      continue;
    }
    plan[n++] = (plan_t){0, i, 1};
    i++;
  }
  if (i <= to)
    plan[n++] = (plan_t){2, i, to - i + 1};
  return n;
}

/* Text of at most `max` characters (cut with "..."): rows stay in their
 * lane; the row's <title> has the whole line. */
static void svg_text(FILE *f, const char *cls, int x, int y, const char *anchor,
                     const char *text, int max) {
  char buf[NM_HTML_SVG_TEXT + 4];
  size_t n = strlen(text);
  if (max > NM_HTML_SVG_TEXT)
    max = NM_HTML_SVG_TEXT;
  snprintf(buf, sizeof(buf), "%.*s%s", max, text, n > (size_t)max ? "..." : "");
  fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"%s\"%s%s%s>", x, y, anchor,
          cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "");
  esc(f, buf);
  fputs("</text>", f);
}

/* One failure's sequence diagram. Lanes: client at X_CL, server at X_SV;
 * the wire is the space between them, where frames are arrows. */
#define X_T 58
#define X_CL 450
#define X_SV 900
#define SVG_W 1280
#define ROW_H 22
/* Characters that fit each lane at 12px monospace (about 7.2 px each). */
#define W_CLIENT 42
#define W_WIRE 60
#define W_SERVER 50

static void svg_diagram(FILE *f, const nm_result_t *r, const nm_failure_t *fl,
                        int k) {
  const nm_tl_t *tl = r->tl;
  size_t ev[NM_EVIDENCE_MAX], nev, cause, from, to, nplan;
  plan_t plan[NM_HTML_SVG_ROWS + 8];
  int h, y;
  nev = evidence_of(fl, tl->n, ev, NM_EVIDENCE_MAX);
  if (nev == 0 || tl->n == 0) {
    fputs("<p>(no timeline entries named as evidence)</p>\n", f);
    return;
  }
  cause = cause_of(tl, ev, nev);
  from = ev[0] < cause ? ev[0] : cause;
  to = ev[nev - 1] > cause ? ev[nev - 1] : cause;
  from = from > NM_HTML_CONTEXT ? from - NM_HTML_CONTEXT : 0;
  to = to + NM_HTML_CONTEXT < tl->n ? to + NM_HTML_CONTEXT : tl->n - 1;
  nplan =
      plan_rows(tl, from, to, ev, nev, cause, 1, 12, plan, NM_HTML_SVG_ROWS);
  h = 40 + (int)nplan * ROW_H + 10;
  fprintf(f,
          "<svg class=seq id=\"diagram-%d\" width=\"%d\" height=\"%d\" "
          "viewBox=\"0 0 %d %d\" role=img>",
          k, SVG_W, h, SVG_W, h);
  fputs("<title>sequence diagram: ", f);
  esc(f, fl->what);
  fputs("</title>", f);
  svg_text(f, "hdr", X_T, 16, "end", "ms", 8);
  svg_text(f, "hdr", X_CL, 16, "middle", "client", 8);
  svg_text(f, "hdr", (X_CL + X_SV) / 2, 16, "middle", "wire", 8);
  svg_text(f, "hdr", X_SV, 16, "middle", "server", 8);
  fprintf(f,
          "<line class=lane x1=\"%d\" y1=\"24\" x2=\"%d\" y2=\"%d\"/>"
          "<line class=lane x1=\"%d\" y1=\"24\" x2=\"%d\" y2=\"%d\"/>",
          X_CL, X_CL, h - 6, X_SV, X_SV, h - 6);
  y = 40;
  for (size_t p = 0; p < nplan; p++, y += ROW_H) {
    const plan_t *pl = &plan[p];
    const nm_tl_ev_t *e = &tl->v[pl->i];
    row_t row;
    char t[32];
    if (pl->kind != 0) {
      char gap[600];
      if (pl->kind == 1) {
        describe(tl, pl->i, &row);
        snprintf(gap, sizeof(gap), "... %zu similar: %.*s", pl->count, 60,
                 row.text);
      } else {
        snprintf(gap, sizeof(gap), "... %zu entries (whole timeline below)",
                 pl->count);
      }
      fputs("<g class=\"row gap\">", f);
      svg_text(f, "gap", (X_CL + X_SV) / 2, y + 4, "middle", gap, W_WIRE);
      fputs("</g>", f);
      continue;
    }
    describe(tl, pl->i, &row);
    fprintf(f, "<g class=\"row%s%s\" data-i=\"%zu\">",
            in_list(ev, nev, pl->i) ? " evidence" : "",
            pl->i == cause ? " cause" : "", pl->i);
    fputs("<title>", f);
    esc(f, row.text);
    fputs("</title>", f);
    if (pl->i == cause)
      fprintf(f,
              "<rect class=cause-bg x=\"2\" y=\"%d\" width=\"%d\" "
              "height=\"%d\" rx=\"3\"/>",
              y - 14, SVG_W - 4, ROW_H - 1);
    else if (in_list(ev, nev, pl->i))
      fprintf(f,
              "<rect class=ev-bg x=\"2\" y=\"%d\" width=\"%d\" "
              "height=\"%d\"/>",
              y - 14, SVG_W - 4, ROW_H - 1);
    snprintf(t, sizeof(t), "%.3f", (double)e->t_us / 1000.0);
    svg_text(f, "t", X_T, y, "end", t, 12);
    if (pl->i == cause)
      svg_text(f, "cause-label", X_T + 8, y, "start", "cause", 8);
    if (row.arrow) {
      int x1 = row.arrow == 1 ? X_CL : X_SV, x2 = row.arrow == 1 ? X_SV : X_CL;
      int tip = row.arrow == 1 ? -7 : 7;
      fprintf(f,
              "<path class=\"%s%s\" d=\"M%d %d H%d M%d %d l%d -4 M%d %d l%d "
              "4\"/>",
              row.arrow == 1 ? "in" : "out", row.fault ? " faulted" : "", x1,
              y + 4, x2, x2, y + 4, tip, x2, y + 4, tip);
      svg_text(f, row.fault ? "cause-label" : NULL, (X_CL + X_SV) / 2, y - 2,
               "middle", row.text, W_WIRE);
    } else if (row.lane == -1) {
      svg_text(f, NULL, X_CL - 6, y, "end", row.text, W_CLIENT);
    } else if (row.lane == 1) {
      svg_text(f, row.fault ? "cause-label" : NULL, X_SV + 6, y, "start",
               row.text, W_SERVER);
    } else {
      svg_text(f, "gap", (X_CL + X_SV) / 2, y, "middle", row.text, W_WIRE);
    }
    fputs("</g>", f);
  }
  fputs("</svg>\n", f);
}

/* The whole timeline as a table (one click away), similar runs collapsed. */
static void timeline_table(FILE *f, const nm_result_t *r) {
  const nm_tl_t *tl = r->tl;
  size_t ev[NM_EVIDENCE_MAX * NM_FAILS_MAX], nev = 0, causes[NM_FAILS_MAX];
  size_t ncause = 0, rows = 0;
  for (size_t k = 0; k < r->fails.n; k++) {
    size_t one[NM_EVIDENCE_MAX];
    size_t n = evidence_of(&r->fails.v[k], tl->n, one, NM_EVIDENCE_MAX);
    for (size_t q = 0; q < n; q++)
      ev[nev++] = one[q];
    if (n)
      causes[ncause++] = cause_of(tl, one, n);
  }
  fprintf(f, "<table class=seq><tr><th class=t>ms</th><th class=cl>client"
             "</th><th class=w>wire</th><th class=sv>server</th></tr>\n");
  for (size_t i = 0; i < tl->n; i++) {
    const nm_tl_ev_t *e = &tl->v[i];
    int mark_ev = in_list(ev, nev, i), mark_cause = in_list(causes, ncause, i);
    size_t j = i + 1;
    if (rows++ >= NM_HTML_MAX_ROWS) {
      fprintf(f, "<tr><td colspan=4>... %zu more entries</td></tr>\n",
              tl->n - i);
      break;
    }
    if (!mark_ev && !mark_cause) {
      while (j < tl->n && similar(e, &tl->v[j]) && !in_list(ev, nev, j) &&
             !in_list(causes, ncause, j))
        j++;
    }
    fprintf(f, "<tr%s><td class=t>%.3f</td>",
            mark_cause ? " class=cause" : (mark_ev ? " class=ev" : ""),
            (double)e->t_us / 1000.0);
    switch (e->kind) {
    case NM_TL_CMD:
    case NM_TL_EV: {
      char *line = cJSON_PrintUnformatted(e->json);
      fprintf(f, "<td class=cl>%s %s ",
              e->client >= 0 && e->client < tl->nclients
                  ? tl->clients[e->client]
                  : "?",
              e->kind == NM_TL_CMD ? "&rarr;" : "&larr;");
      esc(f, line ? line : "");
      fprintf(f, "</td><td></td><td></td>");
      cJSON_free(line);
      break;
    }
    case NM_TL_IN:
    case NM_TL_OUT: {
      int o = nm_tl_owner(tl, e->conn);
      fprintf(f,
              "<td class=cl>%s</td><td class=w>%s c%llu %s</td><td "
              "class=sv>",
              o >= 0 && o < tl->nclients ? tl->clients[o] : "",
              e->kind == NM_TL_IN ? "&mdash;&mdash;&rarr;" : "&larr;&mdash;",
              (unsigned long long)e->conn, e->kind == NM_TL_IN ? "in" : "out");
      frame_text(f, e);
      fprintf(f, "</td>");
      break;
    }
    default: {
      row_t row;
      describe(tl, i, &row);
      fprintf(f, "<td colspan=3>");
      esc(f, row.text);
      fprintf(f, "</td>");
    }
    }
    fprintf(f, "</tr>\n");
    if (j - i >= NM_HTML_COLLAPSE) {
      /* The run's last entry stays; the ones between are counted. */
      fprintf(f,
              "<tr class=gap><td></td><td colspan=3><i>... %zu similar "
              "entries</i></td></tr>\n",
              j - i - 2);
      i = j - 2;
    }
  }
  fprintf(f, "</table>\n");
}

int nm_report_html(const nm_report_t *rep, const char *path) {
  FILE *f = fopen(path, "w");
  size_t c[6] = {0};
  char ts[32];
  if (!f)
    return -1;
  for (size_t i = 0; i < rep->n; i++)
    if ((unsigned)rep->v[i].status < 6)
      c[rep->v[i].status]++;
  fprintf(f,
          "<!doctype html><html><head><meta charset=utf-8><title>"
          "natsmock-harness report</title><style>%s</style></head><body>"
          "<h1>natsmock-harness report</h1><p>driver: <code>",
          css);
  esc(f, rep->driver_cmd ? rep->driver_cmd : "");
  fprintf(f, "</code>, server: <code>");
  esc(f, rep->server_cmd ? rep->server_cmd : "natsmock (in-process)");
  fprintf(f, "</code>, %zu runs in %.1f s, started %s", rep->n,
          (double)rep->duration_us / 1e6,
          nm__report_iso8601(rep->wall_start_us, ts, sizeof(ts)));
  if (rep->shard) {
    fputs(", shard ", f);
    esc(f, rep->shard);
  }
  fprintf(f, ", natsmock %s</p>\n<div class=counts>", NM_VERSION);
  for (size_t s = 0; s < sizeof(statuses) / sizeof(*statuses); s++) {
    nm_status_t st = statuses[s];
    if (c[st] || st == NM_ST_FAIL || st == NM_ST_PASS)
      fprintf(f, "<span class=%s>%zu %s</span> ", nm_status_name(st), c[st],
              nm_status_name(st));
  }
  fputs(
      "</div>\n<div class=filters>\n"
      "<input type=radio name=f id=f-all checked><label for=f-all>all</label>",
      f);
  for (size_t s = 0; s < sizeof(statuses) / sizeof(*statuses); s++) {
    nm_status_t st = statuses[s];
    const char *name = nm_status_name(st);
    if (c[st])
      fprintf(f,
              "<input type=radio name=f id=f-%s><label for=f-%s>%s "
              "(%zu)</label>",
              name, name, name, c[st]);
  }
  fputs("\n<table class=runs>\n", f);
  for (size_t i = 0; i < rep->n; i++) {
    const nm_result_t *r = &rep->v[i];
    fprintf(f, "<tr class=\"r r-%s\"><td class=%s>%s</td><td>",
            nm_status_name(r->status), nm_status_name(r->status),
            nm_status_name(r->status));
    if (r->tl)
      fprintf(f, "<a href=\"#run%zu\">", i);
    esc(f, r->sc ? r->sc->name : (r->file ? r->file : "?"));
    if (r->tl)
      fprintf(f, "</a>");
    fprintf(f, "</td><td>%.2f s</td><td>", (double)r->duration_us / 1e6);
    if (r->fails.n && (r->status == NM_ST_FAIL || r->status == NM_ST_XFAIL)) {
      esc(f, r->fails.v[0].what);
      fputs(": ", f);
      esc(f, r->fails.v[0].message);
      if (r->reason)
        fputs("<br>", f);
    }
    esc(f, r->reason ? r->reason : "");
    fprintf(f, "</td></tr>\n");
  }
  fprintf(f, "</table>\n</div>\n");
  for (size_t i = 0; i < rep->n; i++) {
    const nm_result_t *r = &rep->v[i];
    if (!r->tl) /* failing runs, and every run with --record */
      continue;
    fprintf(f, "<section class=run id=run%zu><h2>", i);
    esc(f, r->sc->name);
    fprintf(f, "</h2><p>seed %d, driver ", r->seed);
    esc(f, r->driver_name ? r->driver_name : "?");
    fputs(". ", f);
    esc(f, r->sc->summary);
    fprintf(f, "</p>\n");
    for (size_t k = 0; k < r->fails.n; k++) {
      fprintf(f, "<h3 class=failure-what>");
      esc(f, r->fails.v[k].what);
      fputs(": ", f);
      esc(f, r->fails.v[k].message);
      fprintf(f, "</h3>\n");
      if (k < NM_HTML_DIAGRAMS)
        svg_diagram(f, r, &r->fails.v[k], (int)(i * NM_FAILS_MAX + k));
    }
    if (r->fails.more)
      fprintf(f, "<p>%zu more failures (the JSON report has them)</p>\n",
              r->fails.more);
    fprintf(f,
            "<details class=timeline><summary>Whole timeline (%zu entries)"
            "</summary>\n",
            r->tl->n);
    timeline_table(f, r);
    fputs("</details>\n", f);
    if (r->driver_stderr) {
      fprintf(f, "<details><summary>Driver stderr</summary><pre>");
      esc(f, r->driver_stderr);
      fprintf(f, "</pre></details>\n");
    }
    fputs("</section>\n", f);
  }
  fprintf(f, "</body></html>\n");
  return fclose(f) == 0 ? 0 : -1;
}
