/* Timeline storage: append, attribute connections, describe entries. No I/O,
 * no libuv: invariants and their tests use it with hand-made timelines. */
#include "nm_timeline.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nm_buf.h"
#include "nm_redact.h"

/* Text of a payload shown in evidence: enough to read a message, never a
 * megabyte in a report. */
#define NM_TL_EVIDENCE_PAYLOAD 200

void nm_tl_init(nm_tl_t *tl) {
  memset(tl, 0, sizeof(*tl));
  for (int i = 0; i < NM_TL_MAX_CONNS; i++)
    tl->owner[i] = -1;
  tl->server_view = 1;
}

int nm_tl_add_client(nm_tl_t *tl, const char *name) {
  if (tl->nclients >= NM_TL_MAX_CLIENTS)
    return -1;
  tl->clients[tl->nclients] = strdup(name);
  if (!tl->clients[tl->nclients])
    return -1;
  return tl->nclients++;
}

static void ev_free(nm_tl_ev_t *e) {
  free(e->subject);
  free(e->reply);
  free(e->sid);
  free(e->queue);
  free(e->max);
  free(e->payload);
  free(e->rule);
  free(e->action);
  free(e->detail);
  cJSON_Delete(e->json);
}

void nm_tl_free(nm_tl_t *tl) {
  for (size_t i = 0; i < tl->n; i++)
    ev_free(&tl->v[i]);
  free(tl->v);
  for (int i = 0; i < tl->nclients; i++)
    free(tl->clients[i]);
  nm_tl_init(tl);
}

char *nm_tl_strndup(const char *p, size_t n) {
  char *s;
  if (!p)
    return NULL;
  s = malloc(n + 1);
  if (!s)
    return NULL;
  memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

nm_tl_ev_t *nm_tl_append(nm_tl_t *tl, nm_tl_kind_t kind, uint64_t t_us) {
  nm_tl_ev_t *e;
  if (tl->frozen)
    return NULL;
  if (tl->n >= NM_TL_MAX_EVENTS) {
    tl->dropped++;
    return NULL;
  }
  if (tl->n == tl->cap) {
    size_t cap = tl->cap ? tl->cap * 2 : 256;
    nm_tl_ev_t *v = realloc(tl->v, cap * sizeof(*v));
    if (!v) {
      tl->dropped++;
      return NULL;
    }
    tl->v = v;
    tl->cap = cap;
  }
  e = &tl->v[tl->n++];
  memset(e, 0, sizeof(*e));
  e->kind = kind;
  e->t_us = t_us;
  e->drv_t = -1;
  e->client = -1;
  e->id = -1;
  return e;
}

static char *slice_dup(nm_slice_t s) {
  return s.p ? nm_tl_strndup(s.p, s.n) : NULL;
}

/* A CONNECT's JSON as stored: passwords and tokens [REDACTED], so no report
 * or trace file written from the timeline holds them. */
static char *connect_dup(nm_slice_t s, size_t *len) {
  nm_buf_t b;
  char *out = NULL;
  *len = 0;
  if (!s.p)
    return NULL;
  nm_buf_init(&b, 0);
  if (nm_redact_append(&b, s.p, s.n) == 0) {
    out = nm_tl_strndup(b.base ? b.base : "", b.len);
    *len = b.len;
  }
  nm_buf_free(&b);
  return out;
}

void nm_tl_redact_json(cJSON *j) {
  cJSON *it;
  if (j == NULL)
    return;
  for (it = j->child; it; it = it->next) {
    if (cJSON_IsObject(j) && it->string && nm_redact_key(it->string) &&
        !cJSON_IsObject(it) && !cJSON_IsArray(it) && !cJSON_IsNull(it)) {
      cJSON *r = cJSON_CreateString(NM_REDACTED);
      if (r && cJSON_ReplaceItemViaPointer(j, it, r))
        it = r;
      else
        cJSON_Delete(r);
    } else {
      nm_tl_redact_json(it);
    }
  }
}

nm_tl_ev_t *nm_tl_add_frame(nm_tl_t *tl, nm_tl_kind_t kind, uint64_t t_us,
                            uint64_t conn, const nm_frame_t *f, size_t bytes,
                            const char *rule, const char *action) {
  nm_tl_ev_t *e = nm_tl_append(tl, kind, t_us);
  if (!e)
    return NULL;
  e->conn = conn;
  e->bytes = bytes;
  e->rule = rule ? strdup(rule) : NULL;
  e->action = action ? strdup(action) : NULL;
  if (!f)
    return e;
  e->op = f->op;
  e->subject = slice_dup(f->subject);
  e->reply = slice_dup(f->reply);
  e->queue = slice_dup(f->queue);
  e->sid = slice_dup(f->sid);
  e->max = slice_dup(f->max);
  if (f->op == NM_OP_CONNECT) {
    e->payload = connect_dup(f->json, &e->payload_len);
    e->payload_size = e->payload_len;
  } else if (f->op == NM_OP_INFO) {
    e->payload = slice_dup(f->json);
    e->payload_len = e->payload_size = f->json.n;
  } else if (f->op == NM_OP_ERR) {
    e->payload = slice_dup(f->text);
    e->payload_len = e->payload_size = f->text.n;
  } else if (f->payload.p) {
    size_t n =
        f->payload.n < NM_TL_MAX_PAYLOAD ? f->payload.n : NM_TL_MAX_PAYLOAD;
    if (tl->payload_bytes + n > NM_TL_PAYLOAD_BUDGET && n > NM_TL_MIN_PAYLOAD)
      n = NM_TL_MIN_PAYLOAD;
    tl->payload_bytes += n;
    e->payload = nm_tl_strndup(f->payload.p, n);
    e->payload_len = n;
    e->payload_size = f->payload.n;
    e->hdr_len = f->hdr_len;
  }
  return e;
}

static nm_tl_ev_t *add_json(nm_tl_t *tl, nm_tl_kind_t kind, uint64_t t_us,
                            int client, cJSON *json, const char *key) {
  nm_tl_ev_t *e = nm_tl_append(tl, kind, t_us);
  const cJSON *it;
  if (!e) {
    cJSON_Delete(json);
    return NULL;
  }
  e->client = client;
  /* Commands carry connect options (pass, token): stored redacted. */
  nm_tl_redact_json(json);
  e->json = json;
  it = cJSON_GetObjectItemCaseSensitive(json, key);
  e->ev = cJSON_IsString(it) ? it->valuestring : "";
  it = cJSON_GetObjectItemCaseSensitive(json, "id");
  if (cJSON_IsNumber(it))
    e->id = (int64_t)it->valuedouble;
  it = cJSON_GetObjectItemCaseSensitive(json, "t");
  if (kind == NM_TL_EV && cJSON_IsNumber(it))
    e->drv_t = (int64_t)it->valuedouble;
  return e;
}

nm_tl_ev_t *nm_tl_add_cmd(nm_tl_t *tl, uint64_t t_us, int client, cJSON *json) {
  return add_json(tl, NM_TL_CMD, t_us, client, json, "op");
}

nm_tl_ev_t *nm_tl_add_line(nm_tl_t *tl, uint64_t t_us, int client,
                           cJSON *json) {
  return add_json(tl, NM_TL_EV, t_us, client, json, "ev");
}

void nm_tl_set_owner(nm_tl_t *tl, uint64_t conn, int client) {
  if (conn < NM_TL_MAX_CONNS)
    tl->owner[conn] = client;
}

int nm_tl_owner(const nm_tl_t *tl, uint64_t conn) {
  if (tl->nclients == 1)
    return 0;
  if (conn >= NM_TL_MAX_CONNS)
    return -1;
  return tl->owner[conn];
}

int nm_tl_client_index(const nm_tl_t *tl, const char *name) {
  for (int i = 0; i < tl->nclients; i++)
    if (strcmp(tl->clients[i], name) == 0)
      return i;
  return -1;
}

static const char *const verbs[] = {
    [NM_OP_NONE] = "",       [NM_OP_CONNECT] = "CONNECT", [NM_OP_INFO] = "INFO",
    [NM_OP_PUB] = "PUB",     [NM_OP_HPUB] = "HPUB",       [NM_OP_SUB] = "SUB",
    [NM_OP_UNSUB] = "UNSUB", [NM_OP_MSG] = "MSG",         [NM_OP_HMSG] = "HMSG",
    [NM_OP_PING] = "PING",   [NM_OP_PONG] = "PONG",       [NM_OP_OK] = "+OK",
    [NM_OP_ERR] = "-ERR",
};

const char *nm_tl_verb(nm_op_t op) {
  if ((unsigned)op >= sizeof(verbs) / sizeof(verbs[0]))
    return "";
  return verbs[op];
}

nm_op_t nm_tl_verb_op(const char *verb) {
  for (unsigned i = 1; i < sizeof(verbs) / sizeof(verbs[0]); i++)
    if (strcasecmp(verbs[i], verb) == 0)
      return (nm_op_t)i;
  if (strcasecmp(verb, "OK") == 0)
    return NM_OP_OK;
  if (strcasecmp(verb, "ERR") == 0)
    return NM_OP_ERR;
  return NM_OP_NONE;
}

const char *nm_tl_kind_name(nm_tl_kind_t k) {
  switch (k) {
  case NM_TL_OPEN:
    return "open";
  case NM_TL_IN:
    return "in";
  case NM_TL_OUT:
    return "out";
  case NM_TL_CLOSE:
    return "close";
  case NM_TL_ACTION:
    return "action";
  case NM_TL_CMD:
    return "cmd";
  case NM_TL_EV:
    return "ev";
  case NM_TL_NOTE:
    return "note";
  case NM_TL_UP_IN:
    return "from_server";
  case NM_TL_UP_OUT:
    return "to_server";
  }
  return "?";
}

int nm_tl_sent(const nm_tl_ev_t *e) {
  /* A frame a rule takes (hold, delay, drop, blackhole...) is reported as an
   * ACTION entry; it becomes an OUT entry only when the mock writes it. */
  return e->kind == NM_TL_OUT;
}

const char *nm_tl_body(const nm_tl_ev_t *e, size_t *len) {
  size_t h = e->hdr_len < e->payload_len ? e->hdr_len : e->payload_len;
  *len = e->payload_len - h;
  return e->payload ? e->payload + h : "";
}

const char *nm_tl_str(const nm_tl_ev_t *e, const char *field) {
  const cJSON *it = cJSON_GetObjectItemCaseSensitive(e->json, field);
  return cJSON_IsString(it) ? it->valuestring : NULL;
}

int64_t nm_tl_int(const nm_tl_ev_t *e, const char *field, int64_t dflt) {
  const cJSON *it = cJSON_GetObjectItemCaseSensitive(e->json, field);
  return cJSON_IsNumber(it) ? (int64_t)it->valuedouble : dflt;
}

static void add_str(cJSON *o, const char *k, const char *v) {
  if (v)
    cJSON_AddStringToObject(o, k, v);
}

/* Payload text for evidence: printable bytes as they are, others as '.',
 * cut at NM_TL_EVIDENCE_PAYLOAD. */
static void add_payload(cJSON *o, const nm_tl_ev_t *e) {
  char buf[NM_TL_EVIDENCE_PAYLOAD + 4];
  size_t n = e->payload_len < NM_TL_EVIDENCE_PAYLOAD ? e->payload_len
                                                     : NM_TL_EVIDENCE_PAYLOAD;
  if (!e->payload)
    return;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)e->payload[i];
    buf[i] = (c >= 32 && c < 127) ? (char)c : '.';
  }
  if (n < e->payload_size)
    memcpy(buf + n, "...", 3), n += 3;
  buf[n] = '\0';
  cJSON_AddStringToObject(o, "payload", buf);
}

cJSON *nm_tl_ev_json(const nm_tl_t *tl, size_t i) {
  const nm_tl_ev_t *e;
  cJSON *o = cJSON_CreateObject();
  int owner;
  if (!o || i >= tl->n)
    return o;
  e = &tl->v[i];
  cJSON_AddNumberToObject(o, "i", (double)i);
  cJSON_AddNumberToObject(o, "t_ms", (double)e->t_us / 1000.0);
  cJSON_AddStringToObject(o, "kind", nm_tl_kind_name(e->kind));
  switch (e->kind) {
  case NM_TL_CMD:
  case NM_TL_EV:
    if (e->client >= 0 && e->client < tl->nclients)
      cJSON_AddStringToObject(o, "client", tl->clients[e->client]);
    if (e->json)
      cJSON_AddItemToObject(o, "line", cJSON_Duplicate(e->json, 1));
    break;
  case NM_TL_NOTE:
    add_str(o, "detail", e->detail);
    if (e->json)
      cJSON_AddItemToObject(o, "json", cJSON_Duplicate(e->json, 1));
    break;
  default:
    cJSON_AddNumberToObject(o, "conn", (double)e->conn);
    owner = nm_tl_owner(tl, e->conn);
    if (owner >= 0 && owner < tl->nclients)
      cJSON_AddStringToObject(o, "client", tl->clients[owner]);
    if (e->op != NM_OP_NONE)
      cJSON_AddStringToObject(o, "verb", nm_tl_verb(e->op));
    add_str(o, "subject", e->subject);
    add_str(o, "reply", e->reply);
    add_str(o, "sid", e->sid);
    add_str(o, "queue", e->queue);
    add_str(o, "max", e->max);
    add_payload(o, e);
    add_str(o, "rule", e->rule);
    add_str(o, "action", e->action);
    add_str(o, "detail", e->detail);
    break;
  }
  return o;
}
