/* Per-connection wire traces in the traceassert expanded JSONL format,
 * version 2: a header line ({"format":"traceassert-expanded","version":2,
 * "header":{...}}), one line per frame (line, at, id, dir to_server /
 * from_server, verb, subject, reply, sid, queue, header, payload in base64,
 * bytes, shaped {rule, action}), then a footer line ({"footer":{"ts",
 * "duration"}}), so existing NATS trace checkers can read what the mock
 * saw. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nm_b64.h"
#include "nm_report.h"
#include "nm_scenario.h"

/* Characters of a file name taken from a scenario name. */
#define NM_TRACE_NAME_MAX 160

static void rfc3339(const nm_tl_t *tl, uint64_t t_us, char *out, size_t n) {
  uint64_t us = tl->wall_base_us + t_us;
  time_t s = (time_t)(us / 1000000u);
  struct tm tm;
  char date[32];
  gmtime_r(&s, &tm);
  strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, n, "%s.%06uZ", date, (unsigned)(us % 1000000u));
}

/* Header block "NATS/1.0[ status]\r\nK: v\r\n...\r\n\r\n" as {K: [v...]}. */
static cJSON *headers_json(const char *p, size_t n) {
  cJSON *h = cJSON_CreateObject();
  const char *end = p + n, *line = memchr(p, '\n', n);
  if (!line)
    return h;
  for (line++; line < end;) {
    const char *nl = memchr(line, '\n', (size_t)(end - line));
    const char *le = nl ? nl : end;
    const char *colon = memchr(line, ':', (size_t)(le - line));
    if (le > line && le[-1] == '\r')
      le--;
    if (colon && colon < le) {
      char *k = nm_tl_strndup(line, (size_t)(colon - line));
      const char *v = colon + 1;
      char *vs;
      cJSON *arr;
      while (v < le && *v == ' ')
        v++;
      vs = nm_tl_strndup(v, (size_t)(le - v));
      arr = cJSON_GetObjectItemCaseSensitive(h, k);
      if (!arr)
        arr = cJSON_AddArrayToObject(h, k);
      cJSON_AddItemToArray(arr, cJSON_CreateString(vs));
      free(k);
      free(vs);
    }
    if (!nl)
      break;
    line = nl + 1;
  }
  return h;
}

static void add_payload(cJSON *o, const nm_tl_ev_t *e) {
  size_t blen;
  const char *b = nm_tl_body(e, &blen);
  char *enc;
  size_t cap;
  if (!e->payload || blen == 0)
    return;
  cap = nm_b64_enc_len(blen) + 1;
  enc = malloc(cap);
  if (enc && nm_b64_encode(b, blen, enc, cap) >= 0)
    cJSON_AddStringToObject(o, "payload", enc);
  free(enc);
}

static int write_conn(const nm_result_t *r, const char *dir, uint64_t conn) {
  const nm_tl_t *tl = r->tl;
  char name[NM_TRACE_NAME_MAX], path[1024], cuuid[NM_TRACE_NAME_MAX + 32];
  char at[48];
  size_t first = NM_TL_NONE, last = 0;
  int line = 2, k = 0;
  cJSON *hl, *h;
  char *s;
  FILE *f;

  for (size_t i = 0; i < tl->n; i++)
    if (tl->v[i].conn == conn &&
        (tl->v[i].kind >= NM_TL_OPEN && tl->v[i].kind <= NM_TL_ACTION)) {
      if (first == NM_TL_NONE)
        first = i;
      last = i;
    }
  if (first == NM_TL_NONE)
    return 0;
  snprintf(name, sizeof(name), "%s", r->sc ? r->sc->name : "run");
  for (char *p = name; *p; p++)
    if (*p == '/' || *p == ' ')
      *p = '_';
  if (r->rep > 1 || r->repeated)
    snprintf(cuuid, sizeof(cuuid), "%s.r%d-%llu", name, r->rep,
             (unsigned long long)conn);
  else
    snprintf(cuuid, sizeof(cuuid), "%s-%llu", name, (unsigned long long)conn);
  snprintf(path, sizeof(path), "%s/%s.expanded.json", dir, cuuid);
  f = fopen(path, "w");
  if (!f)
    return -1;

  rfc3339(tl, tl->v[first].t_us, at, sizeof(at));
  hl = cJSON_CreateObject();
  cJSON_AddStringToObject(hl, "format", "traceassert-expanded");
  cJSON_AddNumberToObject(hl, "version", 2);
  h = cJSON_AddObjectToObject(hl, "header");
  cJSON_AddNumberToObject(h, "version", 1);
  cJSON_AddStringToObject(h, "device", "natsmock");
  cJSON_AddStringToObject(h, "ts", at);
  cJSON_AddStringToObject(h, "cuuid", cuuid);
  cJSON_AddStringToObject(h, "port", "client");
  cJSON_AddStringToObject(h, "src", "127.0.0.1");
  cJSON_AddStringToObject(h, "dst", "127.0.0.1");
  cJSON_AddStringToObject(h, "protocol", "client");
  {
    int o = nm_tl_owner(tl, conn);
    if (o >= 0 && o < tl->nclients)
      cJSON_AddStringToObject(h, "client", tl->clients[o]);
  }
  s = cJSON_PrintUnformatted(hl);
  fprintf(f, "%s\n", s ? s : "{}");
  cJSON_free(s);
  cJSON_Delete(hl);

  for (size_t i = first; i <= last; i++) {
    const nm_tl_ev_t *e = &tl->v[i];
    cJSON *o;
    char id[NM_TRACE_NAME_MAX + 64];
    if (e->conn != conn || (e->kind != NM_TL_IN && e->kind != NM_TL_OUT) ||
        e->op == NM_OP_NONE)
      continue;
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "line", line++);
    rfc3339(tl, e->t_us, at, sizeof(at));
    cJSON_AddStringToObject(o, "at", at);
    snprintf(id, sizeof(id), "%s-%d", cuuid, ++k);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "dir",
                            e->kind == NM_TL_IN ? "to_server" : "from_server");
    cJSON_AddStringToObject(o, "verb", nm_tl_verb(e->op));
    if (e->subject)
      cJSON_AddStringToObject(o, "subject", e->subject);
    if (e->reply && *e->reply)
      cJSON_AddStringToObject(o, "reply", e->reply);
    if (e->sid)
      cJSON_AddStringToObject(o, "sid", e->sid);
    if (e->queue && *e->queue)
      cJSON_AddStringToObject(o, "queue", e->queue);
    if (e->hdr_len && e->payload && e->hdr_len <= e->payload_len)
      cJSON_AddItemToObject(o, "header", headers_json(e->payload, e->hdr_len));
    add_payload(o, e);
    if (e->bytes)
      cJSON_AddNumberToObject(o, "bytes", (double)e->bytes);
    if (e->rule || e->action) {
      cJSON *sh = cJSON_AddObjectToObject(o, "shaped");
      cJSON_AddStringToObject(sh, "rule", e->rule ? e->rule : "");
      cJSON_AddStringToObject(sh, "action", e->action ? e->action : "");
    }
    s = cJSON_PrintUnformatted(o);
    fprintf(f, "%s\n", s ? s : "{}");
    cJSON_free(s);
    cJSON_Delete(o);
  }
  rfc3339(tl, tl->v[last].t_us, at, sizeof(at));
  fprintf(f, "{\"footer\":{\"ts\":\"%s\",\"duration\":%llu}}\n", at,
          (unsigned long long)(tl->v[last].t_us - tl->v[first].t_us) * 1000);
  return fclose(f) == 0 ? 0 : -1;
}

int nm_report_trace(const nm_result_t *r, const char *dir) {
  uint64_t maxconn = 0;
  int rc = 0;
  if (!r->tl)
    return 0;
  for (size_t i = 0; i < r->tl->n; i++)
    if (r->tl->v[i].kind >= NM_TL_OPEN && r->tl->v[i].kind <= NM_TL_ACTION &&
        r->tl->v[i].conn > maxconn)
      maxconn = r->tl->v[i].conn;
  for (uint64_t c = 1; c <= maxconn && c < NM_TL_MAX_CONNS; c++)
    if (write_conn(r, dir, c) != 0)
      rc = -1;
  return rc;
}
