/* The invariant registry, parameter checks, and the context every invariant
 * reads: command results, the messages publish commands produced, and the
 * subscriptions with their sids. Pure: no I/O, no clock. */
#include "nm_invariants.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_b64.h"
#include "nm_errors.h"
#include "nm_seq.h"

/* Largest payload the context builds for one message (publish "size"). */
#define NM_INV_MAX_BUILT_PAYLOAD (8 * 1024 * 1024)

static const nm_inv_def_t defs[] = {
    {"publish_order", nm__inv_publish_order, 1, "client"},
    {"no_loss", nm__inv_no_loss, 1, "client,subject"},
    {"flush_fence", nm__inv_flush_fence, 1, "client"},
    {"flush_timeout", nm__inv_flush_timeout, 1,
     "client,tolerance_ms,default_timeout_ms"},
    {"pong_fifo", nm__inv_pong_fifo, 1, "client"},
    {"delivery_order", nm__inv_delivery_order, 1, "client,sub"},
    {"delivered_all", nm__inv_delivered_all, 1, "client,sub"},
    {"drain_sub_fence", nm__inv_drain_sub_fence, 1, "client,sub"},
    {"drain_conn", nm__inv_drain_conn, 1, "client"},
    {"auto_unsub_max", nm__inv_auto_unsub_max, 0, "client,sub"},
    {"reconnect_connect_first", nm__inv_reconnect_connect_first, 1, "client"},
    {"replay_order", nm__inv_replay_order, 1, "client"},
    {"server_ping_answered", nm__inv_server_ping_answered, 1,
     "client,bound_ms"},
    {"lone_publish_latency", nm__inv_lone_publish_latency, 1,
     "client,bound_ms,subject"},
    {"closed_once", nm__inv_closed_once, 0, "client"},
    {"flush_liveness", nm__inv_flush_liveness, 1,
     "client,tolerance_ms,default_timeout_ms"},
    {"close_reports", nm__inv_close_reports, 1, "client"},
};

const nm_inv_def_t *nm_inv_all(size_t *n) {
  *n = sizeof(defs) / sizeof(defs[0]);
  return defs;
}

const nm_inv_def_t *nm_inv_find(const char *name) {
  for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++)
    if (strcmp(defs[i].name, name) == 0)
      return &defs[i];
  return NULL;
}

static int param_listed(const char *list, const char *name) {
  size_t n = strlen(name);
  const char *p = list;
  while (p && *p) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len == n && strncmp(p, name, n) == 0)
      return 1;
    p = e ? e + 1 : NULL;
  }
  return 0;
}

int nm_inv_validate(const cJSON *spec, char *err, size_t errlen) {
  const cJSON *name = spec, *p;
  const nm_inv_def_t *d;
  if (cJSON_IsObject(spec))
    name = cJSON_GetObjectItemCaseSensitive(spec, "name");
  if (!cJSON_IsString(name)) {
    snprintf(err, errlen, "an invariant is a name or {\"name\": ...}");
    return NM_EINVAL;
  }
  d = nm_inv_find(name->valuestring);
  if (!d) {
    snprintf(err, errlen, "unknown invariant \"%s\"", name->valuestring);
    return NM_EINVAL;
  }
  if (!cJSON_IsObject(spec))
    return 0;
  cJSON_ArrayForEach(p, spec) {
    size_t n = strlen(p->string);
    if (strcmp(p->string, "name") == 0)
      continue;
    if (!param_listed(d->params, p->string)) {
      snprintf(err, errlen, "%s: unknown parameter \"%s\" (accepted: %s)",
               d->name, p->string, d->params);
      return NM_EINVAL;
    }
    if (n > 3 && strcmp(p->string + n - 3, "_ms") == 0) {
      if (!cJSON_IsNumber(p) || p->valuedouble < 0) {
        snprintf(err, errlen, "%s: %s must be a non-negative number", d->name,
                 p->string);
        return NM_EINVAL;
      }
    } else if (!cJSON_IsString(p)) {
      snprintf(err, errlen, "%s: %s must be a string", d->name, p->string);
      return NM_EINVAL;
    }
  }
  return 0;
}

int nm_inv_check(const nm_inv_ctx_t *cx, const cJSON *spec, nm_fails_t *out) {
  const cJSON *name = cJSON_IsObject(spec)
                          ? cJSON_GetObjectItemCaseSensitive(spec, "name")
                          : spec;
  const nm_inv_def_t *d =
      cJSON_IsString(name) ? nm_inv_find(name->valuestring) : NULL;
  char what[96];
  if (!d)
    return NM_EINVAL;
  if (d->needs_server && !cx->tl->server_view)
    return 1;
  snprintf(what, sizeof(what), "invariant %s", d->name);
  d->fn(cx, cJSON_IsObject(spec) ? spec : NULL, what, out);
  return 0;
}

void nm__inv_absent(const nm_inv_ctx_t *cx, nm_fails_t *out, const char *what,
                    const size_t *idx, size_t nidx, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (cx->tl->cut_short && cx->not_evaluated)
    out = cx->not_evaluated;
  nm_fails_add(out, what, cx->tl, idx, nidx, "%s", msg);
}

void nm__inv_not_blamed(const nm_inv_ctx_t *cx, const char *what,
                        const size_t *idx, size_t nidx, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  if (!cx->not_evaluated)
    return;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  nm_fails_add(cx->not_evaluated, what, cx->tl, idx, nidx, "%s", msg);
}

/* ---- parameters ---- */

int64_t nm__inv_param_int(const cJSON *params, const char *name, int64_t dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, name);
  return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : dflt;
}

uint64_t nm__inv_param_slack_us(const nm_inv_ctx_t *cx, const cJSON *params,
                                const char *name, int64_t dflt_ms) {
  int64_t ms = nm__inv_param_int(params, name, dflt_ms);
  double scale = cx->time_scale >= 1.0 ? cx->time_scale : 1.0;
  return (uint64_t)((double)(ms < 0 ? 0 : ms) * 1000.0 * scale);
}

const char *nm__inv_param_str(const cJSON *params, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, name);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

int nm__inv_client_wanted(const nm_inv_ctx_t *cx, const cJSON *params,
                          int client) {
  const char *c = nm__inv_param_str(params, "client");
  if (client < 0)
    return 0;
  if (!c)
    return 1;
  return nm_tl_client_index(cx->tl, c) == client;
}

const char *nm__inv_cname(const nm_inv_ctx_t *cx, int client) {
  if (client < 0 || client >= cx->tl->nclients)
    return "?";
  return cx->tl->clients[client];
}

int nm__inv_on_client(const nm_inv_ctx_t *cx, size_t i, int client) {
  const nm_tl_ev_t *e = &cx->tl->v[i];
  if (e->kind < NM_TL_OPEN || e->kind > NM_TL_ACTION)
    return 0;
  return nm_tl_owner(cx->tl, e->conn) == client;
}

size_t nm__inv_next_ping(const nm_inv_ctx_t *cx, int client, size_t after) {
  const nm_tl_t *tl = cx->tl;
  for (size_t i = after + 1; i < tl->n; i++)
    if (tl->v[i].kind == NM_TL_IN && tl->v[i].op == NM_OP_PING &&
        nm__inv_on_client(cx, i, client))
      return i;
  return NM_TL_NONE;
}

uint64_t nm__inv_open_conn_at(const nm_inv_ctx_t *cx, int client, size_t at) {
  const nm_tl_t *tl = cx->tl;
  uint64_t conn = 0;
  for (size_t i = 0; i < at && i < tl->n; i++) {
    const nm_tl_ev_t *e = &tl->v[i];
    if (!nm__inv_on_client(cx, i, client))
      continue;
    if (e->kind == NM_TL_IN && e->op == NM_OP_CONNECT)
      conn = e->conn;
    else if (e->kind == NM_TL_CLOSE && e->conn == conn)
      conn = 0;
  }
  return conn;
}

size_t nm__inv_close_of(const nm_inv_ctx_t *cx, uint64_t conn, size_t from) {
  const nm_tl_t *tl = cx->tl;
  for (size_t i = from; i < tl->n; i++)
    if (tl->v[i].kind == NM_TL_CLOSE && tl->v[i].conn == conn)
      return i;
  return NM_TL_NONE;
}

size_t nm__inv_result(const nm_inv_ctx_t *cx, size_t cmd) {
  return cmd < cx->tl->n ? cx->result[cmd] : NM_TL_NONE;
}

const nm_inv_sub_t *nm__inv_sub_by_sid(const nm_inv_ctx_t *cx, int client,
                                       const char *sid) {
  if (!sid)
    return NULL;
  for (int i = 0; i < cx->nsubs; i++) {
    const nm_inv_sub_t *s = &cx->subs[i];
    if (s->client != client)
      continue;
    for (int k = 0; k < s->nsids; k++)
      if (strcmp(s->sids[k], sid) == 0)
        return s;
  }
  return NULL;
}

const nm_inv_sub_t *nm__inv_sub_by_tag(const nm_inv_ctx_t *cx, int client,
                                       const char *tag) {
  for (int i = 0; i < cx->nsubs; i++)
    if (cx->subs[i].client == client && strcmp(cx->subs[i].tag, tag) == 0)
      return &cx->subs[i];
  return NULL;
}

/* Spare PONGs (sent when no PING was outstanding) that may answer a PING
 * still to come, at most this many at once per connection. */
#define NM_INV_MAX_SPARE 64

/* FIFO pairing of the PONGs the server sent with the PINGs it read on the
 * PING's connection. With `lenient` (what a client may have seen): a spare
 * PONG — one sent when no PING was outstanding — may still be unread when
 * the client sends its next PING (the client reads when it reads), so it
 * answers the next PING the server reads, and every later pairing shifts
 * with it; unless the client has proven it read the spare before: it
 * answered a server PING written after the spare (the PONG to it came
 * back first). */
static size_t pong_pairing(const nm_inv_ctx_t *cx, size_t ping, int lenient) {
  const nm_tl_t *tl = cx->tl;
  uint64_t conn = tl->v[ping].conn;
  size_t ahead = 0; /* PINGs outstanding before ours */
  size_t spare[NM_INV_MAX_SPARE], nspare = 0, first = 0;
  size_t srv_ping[NM_INV_MAX_SPARE], nsp = 0, sp_first = 0;
  int ours = 0;

  for (size_t i = 0; i < tl->n; i++) {
    const nm_tl_ev_t *e = &tl->v[i];
    if (e->conn != conn || (e->kind != NM_TL_IN && e->kind != NM_TL_OUT))
      continue;
    if (e->kind == NM_TL_IN && e->op == NM_OP_PING) {
      if (nspare > first) {
        /* Answered, as the client may have seen it, by a PONG already
         * sent. */
        if (i == ping)
          return spare[first];
        first++;
      } else if (i == ping) {
        ours = 1;
      } else if (!ours) {
        ahead++;
      }
    } else if (e->kind == NM_TL_OUT && e->op == NM_OP_PONG && nm_tl_sent(e)) {
      if (ahead > 0) {
        ahead--;
      } else if (ours) {
        return i;
      } else if (lenient && nspare < NM_INV_MAX_SPARE) {
        spare[nspare++] = i;
      }
    } else if (lenient && e->kind == NM_TL_OUT && e->op == NM_OP_PING &&
               nm_tl_sent(e) && nsp < NM_INV_MAX_SPARE) {
      srv_ping[nsp++] = i;
    } else if (lenient && e->kind == NM_TL_IN && e->op == NM_OP_PONG &&
               nsp > sp_first) {
      /* The client answered a server PING: it has read every frame sent
       * before that PING, spares included. */
      size_t read_up_to = srv_ping[sp_first++];
      while (nspare > first && spare[first] < read_up_to)
        first++;
    }
  }
  return NM_TL_NONE;
}

size_t nm__inv_pong_for(const nm_inv_ctx_t *cx, size_t ping) {
  return pong_pairing(cx, ping, 0);
}

size_t nm__inv_pong_may_answer(const nm_inv_ctx_t *cx, size_t ping) {
  return pong_pairing(cx, ping, 1);
}

/* ---- message identity ---- */

int nm__inv_frame_is_msg(const nm_tl_ev_t *e, const nm_inv_msg_t *m) {
  size_t blen;
  const char *b;
  if (!e->subject || strcmp(e->subject, m->subject) != 0)
    return 0;
  b = nm_tl_body(e, &blen);
  if (e->payload_size - (e->hdr_len < e->payload_size ? e->hdr_len : 0) !=
      m->len)
    return 0;
  /* Only the stored prefix can be compared. */
  return memcmp(b, m->payload, blen < m->len ? blen : m->len) == 0;
}

int nm__inv_event_is_frame(const nm_tl_ev_t *ev, const nm_tl_ev_t *f) {
  const char *subj = nm_tl_str(ev, "subject");
  const char *data = nm_tl_str(ev, "data");
  int64_t seq = nm_tl_int(ev, "seq", -1), size = nm_tl_int(ev, "size", -1);
  size_t blen;
  const char *b = nm_tl_body(f, &blen);
  size_t fsize = f->payload_size -
                 (f->hdr_len < f->payload_size ? f->hdr_len : f->payload_size);
  uint64_t k;

  if (subj && f->subject && strcmp(subj, f->subject) != 0)
    return 0;
  if (size >= 0 && (size_t)size != fsize)
    return 0;
  if (seq >= 0)
    return nm_seq_read(b, blen, &k) && k == (uint64_t)seq;
  if (data) {
    size_t dl = strlen(data);
    return dl <= blen && memcmp(b, data, dl) == 0;
  }
  return 1;
}

/* ---- context ---- */

static int add_msgs(nm_inv_ctx_t *cx, size_t ci) {
  const nm_tl_ev_t *c = &cx->tl->v[ci];
  const char *subject = nm_tl_str(c, "subject");
  const char *data = nm_tl_str(c, "data");
  const char *b64 = nm_tl_str(c, "data_b64");
  int64_t count = nm_tl_int(c, "count", 1);
  int64_t size = nm_tl_int(c, "size", 0);
  size_t res = cx->result[ci];
  int64_t published = -1;

  if (!subject || count < 1)
    return 0;
  if (size < 0 || size > NM_INV_MAX_BUILT_PAYLOAD)
    size = 0;
  if (res != NM_TL_NONE && strcmp(cx->tl->v[res].ev, "err") == 0)
    published = nm_tl_int(&cx->tl->v[res], "published", 0);
  for (int64_t k = 1; k <= count; k++) {
    nm_inv_msg_t *m;
    if (cx->nmsgs >= NM_INV_MAX_MSGS) {
      cx->msgs_truncated = 1;
      return 0;
    }
    m = &cx->msgs[cx->nmsgs];
    memset(m, 0, sizeof(*m));
    m->client = c->client;
    m->cmd = ci;
    m->result = res;
    m->k = (uint64_t)k;
    m->subject = subject;
    m->seen = NM_TL_NONE;
    m->pending = res == NM_TL_NONE;
    m->excused = published >= 0 && k > published;
    if (data) {
      m->len = strlen(data);
      m->payload = strdup(data);
    } else if (b64) {
      size_t cap = nm_b64_dec_max(strlen(b64));
      ssize_t n;
      m->payload = malloc(cap);
      n = m->payload ? nm_b64_decode(b64, strlen(b64), m->payload, cap) : 0;
      m->len = n > 0 ? (size_t)n : 0;
    } else {
      size_t cap = (size_t)size + 24;
      m->payload = malloc(cap);
      if (m->payload)
        m->len = nm_seq_payload((uint64_t)k, (size_t)size, m->payload, cap);
    }
    if (!m->payload)
      return NM_ENOMEM;
    cx->nmsgs++;
  }
  return 0;
}

static void add_sub(nm_inv_ctx_t *cx, size_t ci) {
  const nm_tl_ev_t *c = &cx->tl->v[ci];
  nm_inv_sub_t *s;
  const char *tag = nm_tl_str(c, "sub");
  if (!tag || cx->nsubs >= NM_INV_MAX_SUBS)
    return;
  s = &cx->subs[cx->nsubs++];
  memset(s, 0, sizeof(*s));
  s->client = c->client;
  s->tag = tag;
  s->subject = nm_tl_str(c, "subject");
  s->queue = nm_tl_str(c, "queue");
  s->max = nm_tl_int(c, "max", 0);
  s->delay_ms = nm_tl_int(c, "delay_ms", 0);
  s->cmd = ci;
}

static int same_str(const char *a, const char *b) {
  if (!a || !*a)
    return !b || !*b;
  return b && strcmp(a, b) == 0;
}

/* Gives each SUB frame's sid to the subscription it belongs to: a sid seen
 * before for the client keeps its subscription (a replay); a new sid goes to
 * the earliest subscription without one that has the same subject and queue
 * and was asked for before the frame, else (a replay with a new sid) to one
 * that already has a sid. */
static void map_sids(nm_inv_ctx_t *cx) {
  const nm_tl_t *tl = cx->tl;
  for (size_t i = 0; i < tl->n; i++) {
    const nm_tl_ev_t *e = &tl->v[i];
    int client;
    nm_inv_sub_t *pick = NULL;
    if (e->kind != NM_TL_IN || e->op != NM_OP_SUB || !e->sid)
      continue;
    client = nm_tl_owner(tl, e->conn);
    if (nm__inv_sub_by_sid(cx, client, e->sid))
      continue;
    for (int pass = 0; pass < 2 && !pick; pass++) {
      for (int k = 0; k < cx->nsubs && !pick; k++) {
        nm_inv_sub_t *s = &cx->subs[k];
        if (s->client != client || s->cmd > i ||
            !same_str(s->subject, e->subject) || !same_str(s->queue, e->queue))
          continue;
        if ((pass == 0 && s->nsids == 0) || (pass == 1 && s->nsids > 0))
          pick = s;
      }
    }
    if (pick && pick->nsids < NM_INV_MAX_SIDS)
      pick->sids[pick->nsids++] = e->sid;
  }
}

/* Marks, for every PUB the server received, the first message of that client
 * not yet seen with the same subject and body. */
static void mark_seen(nm_inv_ctx_t *cx) {
  const nm_tl_t *tl = cx->tl;
  size_t cursor[NM_TL_MAX_CLIENTS] = {0};
  for (size_t i = 0; i < tl->n; i++) {
    const nm_tl_ev_t *e = &tl->v[i];
    int client;
    size_t k;
    if (e->kind != NM_TL_IN || (e->op != NM_OP_PUB && e->op != NM_OP_HPUB))
      continue;
    client = nm_tl_owner(tl, e->conn);
    if (client < 0 || client >= NM_TL_MAX_CLIENTS)
      continue;
    /* Usually the next message in order: try from the cursor first. */
    for (k = cursor[client]; k < cx->nmsgs; k++) {
      nm_inv_msg_t *m = &cx->msgs[k];
      if (m->client == client && m->seen == NM_TL_NONE && m->cmd < i &&
          nm__inv_frame_is_msg(e, m))
        break;
    }
    if (k == cx->nmsgs) {
      for (k = 0; k < cursor[client]; k++) {
        nm_inv_msg_t *m = &cx->msgs[k];
        if (m->client == client && m->seen == NM_TL_NONE && m->cmd < i &&
            nm__inv_frame_is_msg(e, m))
          break;
      }
      if (k == cursor[client])
        continue;
    } else {
      cursor[client] = k + 1;
    }
    cx->msgs[k].seen = i;
  }
}

int nm_inv_ctx_init(nm_inv_ctx_t *cx, const nm_tl_t *tl) {
  size_t *byid[NM_TL_MAX_CLIENTS] = {0};
  size_t idcap = 1;
  int r = 0;

  memset(cx, 0, sizeof(*cx));
  cx->not_evaluated = calloc(1, sizeof(*cx->not_evaluated));
  cx->tl = tl;
  cx->only_client = -1;
  cx->time_scale = 1.0;
  cx->result = malloc((tl->n + 1) * sizeof(size_t));
  cx->msgs = calloc(1, sizeof(nm_inv_msg_t));
  if (!cx->result || !cx->msgs || !cx->not_evaluated) {
    r = NM_ENOMEM;
    goto done;
  }
  for (size_t i = 0; i < tl->n; i++) {
    cx->result[i] = NM_TL_NONE;
    if (tl->v[i].kind == NM_TL_CMD && tl->v[i].id >= 0 &&
        (size_t)tl->v[i].id <= tl->n && (size_t)tl->v[i].id >= idcap)
      idcap = (size_t)tl->v[i].id + 1;
  }
  /* Command ids are the harness's small increasing integers; an id beyond
   * the timeline's length cannot be one it sent. */
  for (size_t i = 0; i < tl->n; i++) {
    const nm_tl_ev_t *e = &tl->v[i];
    if (e->client < 0 || e->client >= NM_TL_MAX_CLIENTS || e->id < 0 ||
        (size_t)e->id >= idcap)
      continue;
    if (!byid[e->client]) {
      byid[e->client] = malloc(idcap * sizeof(size_t));
      if (!byid[e->client]) {
        r = NM_ENOMEM;
        goto done;
      }
      for (size_t k = 0; k < idcap; k++)
        byid[e->client][k] = NM_TL_NONE;
    }
    if (e->kind == NM_TL_CMD) {
      byid[e->client][e->id] = i;
    } else if (e->kind == NM_TL_EV &&
               (strcmp(e->ev, "ok") == 0 || strcmp(e->ev, "err") == 0)) {
      size_t c = byid[e->client][e->id];
      if (c != NM_TL_NONE && cx->result[c] == NM_TL_NONE)
        cx->result[c] = i;
    }
  }
  {
    size_t nm = 0;
    for (size_t i = 0; i < tl->n; i++) {
      const nm_tl_ev_t *e = &tl->v[i];
      if (e->kind == NM_TL_CMD && strcmp(e->ev, "publish") == 0) {
        int64_t c = nm_tl_int(e, "count", 1);
        nm += c > 0 ? (size_t)c : 0;
      }
    }
    if (nm > NM_INV_MAX_MSGS)
      nm = NM_INV_MAX_MSGS;
    free(cx->msgs);
    cx->msgs = calloc(nm + 1, sizeof(nm_inv_msg_t));
    if (!cx->msgs) {
      r = NM_ENOMEM;
      goto done;
    }
  }
  for (size_t i = 0; i < tl->n && r == 0; i++) {
    const nm_tl_ev_t *e = &tl->v[i];
    if (e->kind != NM_TL_CMD)
      continue;
    if (strcmp(e->ev, "publish") == 0) {
      r = add_msgs(cx, i);
    } else if (strcmp(e->ev, "subscribe") == 0) {
      add_sub(cx, i);
    } else if (strcmp(e->ev, "unsubscribe") == 0 &&
               nm_tl_int(e, "max", 0) > 0) {
      const char *tag = nm_tl_str(e, "sub");
      nm_inv_sub_t *s =
          tag ? (nm_inv_sub_t *)nm__inv_sub_by_tag(cx, e->client, tag) : NULL;
      if (s)
        s->max = nm_tl_int(e, "max", 0);
    }
  }
  map_sids(cx);
  mark_seen(cx);
done:
  for (int i = 0; i < NM_TL_MAX_CLIENTS; i++)
    free(byid[i]);
  if (r)
    nm_inv_ctx_free(cx);
  return r;
}

void nm_inv_ctx_free(nm_inv_ctx_t *cx) {
  for (size_t i = 0; i < cx->nmsgs; i++)
    free(cx->msgs[i].payload);
  free(cx->msgs);
  free(cx->result);
  if (cx->not_evaluated)
    nm_fails_free(cx->not_evaluated);
  free(cx->not_evaluated);
  memset(cx, 0, sizeof(*cx));
}
