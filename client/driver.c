/* natsmock-driver: drives the nmc client library through the driver
 * protocol (docs/DRIVER-PROTOCOL.md, version 2). Commands arrive on
 * stdin, one JSON object per line; events leave on stdout, one per line.
 *
 * This file is also the example for anyone writing a driver for another
 * library: everything runs on one libuv loop, every command starts at once,
 * and each ends later with exactly one "ok" or "err" line. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "nm_client.h"
#include "nm_seq.h"

#define DRV_MAX_LINE (8 * 1024 * 1024) /* longest command line accepted */
#define DRV_MAX_SERVERS 16
#define DRV_TEXT_MAX 256 /* msg events carry data up to this many bytes */
/* on_msg actions of one subscribe: the harness's own bound
 * (NM_SCENARIO_MAX_ACTIONS), so every action it sends fits, blocking ones
 * included; a longer list is refused, never cut. */
#define DRV_MAX_ACTIONS 100

typedef struct drv_sub_s {
  struct drv_sub_s *next;
  char tag[128];
  nmc_sub_t *s; /* NULL once the library removed it */
  uint64_t delay_ms;
  char *reply_with;
  cJSON *on_msg;  /* handler actions (protocol 2), or NULL */
  uint64_t nmsgs; /* messages the handler saw, for on_msg "at" */
} drv_sub_t;

/* A message whose handler is "still running" (delay_ms). */
typedef struct drv_delay_s {
  uv_timer_t timer;
  nmc_msg_t *msg;
  drv_sub_t *ds;
  struct drv_delay_s *next, *prev;
} drv_delay_t;

static uv_loop_t *loop;
static nmc_conn_t *conn;
static drv_sub_t *subs;
static drv_delay_t *delays; /* handlers still running */
static uv_stream_t *in;
static char *line;
static size_t line_len;
static int line_skip; /* discarding an over-long line */
static long long connect_id = -1, close_id = -1;
static int exiting;

/* ---- output ---- */

static void emit(cJSON *o, int with_time) {
  char *s;
  if (exiting) { /* "exit" was answered: nothing may follow it */
    cJSON_Delete(o);
    return;
  }
  if (with_time)
    cJSON_AddNumberToObject(o, "t", (double)(uv_hrtime() / 1000));
  s = cJSON_PrintUnformatted(o);
  if (s) {
    fputs(s, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    cJSON_free(s);
  }
  cJSON_Delete(o);
}

static cJSON *event(const char *ev) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "ev", ev);
  return o;
}

static void action_ended(long long id);

static void reply_ok(long long id, cJSON *extra) {
  cJSON *o = cJSON_CreateObject();
  cJSON *f;
  cJSON_AddNumberToObject(o, "id", (double)id);
  cJSON_AddStringToObject(o, "ev", "ok");
  while (extra && (f = extra->child)) {
    cJSON_DetachItemViaPointer(extra, f);
    cJSON_AddItemToObject(o, f->string, f);
  }
  cJSON_Delete(extra);
  emit(o, 0);
  action_ended(id);
}

static const char *err_code(int err) {
  switch (err) {
  case NM_ETIMEOUT:
    return "timeout";
  case NM_ECLOSED:
    return "closed";
  case NMC_EDRAINING:
    return "draining";
  case NMC_EDISCONNECTED:
  case NMC_ESTALE:
  case NMC_ENOSERVERS:
    return "disconnected";
  case NMC_EMAXPAYLOAD:
    return "max_payload";
  case NMC_EBADSUBJECT:
    return "bad_subject";
  case NMC_ENOTSUP:
    return "not_supported";
  case NMC_EBUFFULL:
    return "buffer_full";
  case NMC_ENORESPONDERS:
    return "no_responders";
  case NM_EAUTH:
    return "auth";
  }
  return "other";
}

static void reply_err(long long id, const char *code, const char *text,
                      cJSON *extra) {
  cJSON *o = cJSON_CreateObject();
  cJSON *f;
  if (id >= 0) /* a line we could not read has no id */
    cJSON_AddNumberToObject(o, "id", (double)id);
  cJSON_AddStringToObject(o, "ev", "err");
  cJSON_AddStringToObject(o, "code", code);
  cJSON_AddStringToObject(o, "error", text);
  while (extra && (f = extra->child)) {
    cJSON_DetachItemViaPointer(extra, f);
    cJSON_AddItemToObject(o, f->string, f);
  }
  cJSON_Delete(extra);
  emit(o, 0);
  action_ended(id);
}

static void reply_status(long long id, int status) {
  if (status == 0)
    reply_ok(id, NULL);
  else
    reply_err(id, err_code(status), nmc_strerror(status), NULL);
}

/* ---- payloads and headers ---- */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const unsigned char *p, size_t n) {
  char *out = malloc(4 * ((n + 2) / 3) + 1), *o = out;
  for (size_t i = 0; out && i < n; i += 3) {
    unsigned v = (unsigned)p[i] << 16;
    if (i + 1 < n)
      v |= (unsigned)p[i + 1] << 8;
    if (i + 2 < n)
      v |= p[i + 2];
    *o++ = b64[v >> 18];
    *o++ = b64[(v >> 12) & 63];
    *o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
    *o++ = i + 2 < n ? b64[v & 63] : '=';
  }
  if (out)
    *o = '\0';
  return out;
}

static unsigned char *b64_decode(const char *s, size_t *n) {
  size_t len = strlen(s);
  unsigned char *out = malloc(len / 4 * 3 + 3);
  unsigned v = 0;
  int bits = 0;
  *n = 0;
  for (size_t i = 0; out && i < len && s[i] != '='; i++) {
    const char *q = strchr(b64, s[i]);
    if (!q || !s[i]) {
      free(out);
      return NULL;
    }
    v = (v << 6) | (unsigned)(q - b64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[(*n)++] = (unsigned char)(v >> bits);
    }
  }
  return out;
}

static int is_text(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)p[i];
    if ((ch < 0x20 && ch != '\t' && ch != '\r' && ch != '\n') || ch >= 0x7f)
      return 0;
  }
  return 1;
}

/* Adds "data" or "data_b64" to o, for payloads up to DRV_TEXT_MAX bytes. */
static void add_data(cJSON *o, const char *p, size_t n) {
  if (n > DRV_TEXT_MAX)
    return;
  if (is_text(p, n)) {
    char *t = strndup(p, n);
    cJSON_AddStringToObject(o, "data", t ? t : "");
    free(t);
  } else {
    char *t = b64_encode((const unsigned char *)p, n);
    cJSON_AddStringToObject(o, "data_b64", t ? t : "");
    free(t);
  }
}

/* "NATS/1.0\r\nK: v\r\n\r\n" -> {"K":["v"]} */
static void add_headers(cJSON *o, const char *h, size_t n) {
  cJSON *hs = cJSON_CreateObject();
  const char *p = memchr(h, '\n', n), *end = h + n;
  while (p && ++p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *colon = eol ? memchr(p, ':', (size_t)(eol - p)) : NULL;
    if (colon) {
      char key[256], val[1024];
      const char *v = colon + 1, *ve = eol;
      cJSON *arr;
      while (v < ve && *v == ' ')
        v++;
      if (ve > v && ve[-1] == '\r')
        ve--;
      snprintf(key, sizeof(key), "%.*s", (int)(colon - p), p);
      snprintf(val, sizeof(val), "%.*s", (int)(ve - v), v);
      arr = cJSON_GetObjectItemCaseSensitive(hs, key);
      if (!arr)
        arr = cJSON_AddArrayToObject(hs, key);
      cJSON_AddItemToArray(arr, cJSON_CreateString(val));
    }
    p = eol;
  }
  cJSON_AddItemToObject(o, "headers", hs);
}

/* {"K":["v",...]} -> "NATS/1.0\r\nK: v\r\n...\r\n" (malloc'd), or NULL. */
static char *build_headers(const cJSON *h, size_t *len) {
  size_t cap = 16;
  const cJSON *k, *v;
  char *out;
  cJSON_ArrayForEach(k, h) {
    cJSON_ArrayForEach(v, k) {
      if (cJSON_IsString(v))
        cap += strlen(k->string) + strlen(v->valuestring) + 4;
    }
  }
  out = malloc(cap);
  if (!out)
    return NULL;
  *len = (size_t)sprintf(out, "NATS/1.0\r\n");
  cJSON_ArrayForEach(k, h){cJSON_ArrayForEach(v, k){
      if (cJSON_IsString(v)) *len +=
      (size_t)sprintf(out + *len, "%s: %s\r\n", k->string, v->valuestring);
}
}
*len += (size_t)sprintf(out + *len, "\r\n");
return out;
}

/* The payload of a command: "data" (text) or "data_b64". */
static char *get_data(const cJSON *cmd, size_t *n) {
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(cmd, "data");
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(cmd, "data_b64");
  *n = 0;
  if (cJSON_IsString(d)) {
    *n = strlen(d->valuestring);
    return strdup(d->valuestring);
  }
  if (cJSON_IsString(b))
    return (char *)b64_decode(b->valuestring, n);
  return NULL;
}

/* ---- subscriptions and messages ---- */

static const char *str_field(const cJSON *cmd, const char *k);

static drv_sub_t *find_sub(const char *tag) {
  for (drv_sub_t *d = subs; d; d = d->next)
    if (strcmp(d->tag, tag) == 0)
      return d;
  return NULL;
}

static void msg_event(drv_sub_t *ds, nmc_msg_t *m) {
  cJSON *o = event("msg");
  uint64_t seq;
  cJSON_AddStringToObject(o, "sub", ds->tag);
  cJSON_AddStringToObject(o, "subject", m->subject);
  if (m->reply)
    cJSON_AddStringToObject(o, "reply", m->reply);
  cJSON_AddNumberToObject(o, "size", (double)m->len);
  if (nm_seq_read(m->data, m->len, &seq))
    cJSON_AddNumberToObject(o, "seq", (double)seq);
  add_data(o, m->data, m->len);
  if (m->hdr)
    add_headers(o, m->hdr, m->hdr_len);
  emit(o, 1);
}

static void dispatch(long long id, const char *op, const cJSON *cmd);
static int handler_finish(drv_sub_t *ds, nmc_msg_t *m);

/* A handler waiting for its blocking on_msg actions (flush, request) to
 * end, as a user's handler would wait for the call to return; the next
 * message of the subscription is handled only after that. */
typedef struct drv_wait_s {
  struct drv_wait_s *next;
  drv_sub_t *ds;
  nmc_msg_t *msg;
  int pending;  /* blocking actions not ended */
  int starting; /* run_actions is still dispatching: it finishes itself */
  long long ids[DRV_MAX_ACTIONS]; /* their ids */
} drv_wait_t;

static drv_wait_t *waits;

/* Called for every result line: a blocking action that ended lets its
 * handler go on. */
static void action_ended(long long id) {
  for (drv_wait_t **pw = &waits; *pw; pw = &(*pw)->next) {
    drv_wait_t *w = *pw;
    for (int k = 0; k < DRV_MAX_ACTIONS; k++) {
      if (w->ids[k] != id || id < 0)
        continue;
      w->ids[k] = -1;
      if (--w->pending == 0 && !w->starting) {
        *pw = w->next;
        if (handler_finish(w->ds, w->msg) == NMC_DONE)
          nmc_msg_done(w->msg);
        free(w);
      }
      return;
    }
  }
}

/* on_msg: the actions due at this message run here, inside the library's
 * handler; each is announced with an "action" event and ends with its own
 * ok/err. flush and request block the handler (it returns NMC_ASYNC and
 * goes on in action_ended); the others return at once, as the library's
 * calls do. cmd_subscribe checked the list (check_on_msg): at most
 * DRV_MAX_ACTIONS entries, each with at, id and an op a handler may make.
 * Returns the number of blocking actions still running. */
static int run_actions(drv_sub_t *ds, nmc_msg_t *m) {
  const cJSON *a;
  drv_wait_t *w = calloc(1, sizeof(*w));
  int n = 0;
  ds->nmsgs++;
  if (!w)
    return 0;
  for (int k = 0; k < DRV_MAX_ACTIONS; k++)
    w->ids[k] = -1;
  w->ds = ds;
  w->msg = m;
  /* Registered first: a blocking action may end inside dispatch. */
  w->next = waits;
  waits = w;
  w->starting = 1;
  cJSON_ArrayForEach(a, ds->on_msg) {
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(a, "at");
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(a, "id");
    const char *op = str_field(a, "op");
    int blocking;
    cJSON *o;
    if ((uint64_t)at->valuedouble != ds->nmsgs)
      continue;
    blocking = !strcmp(op, "flush") || !strcmp(op, "request");
    if (blocking) {
      w->ids[n++] = (long long)jid->valuedouble;
      w->pending++;
    }
    o = event("action");
    cJSON_AddNumberToObject(o, "id", jid->valuedouble);
    cJSON_AddStringToObject(o, "sub", ds->tag);
    cJSON_AddNumberToObject(o, "at", (double)ds->nmsgs);
    emit(o, 1);
    dispatch((long long)jid->valuedouble, op, a);
  }
  w->starting = 0;
  n = w->pending;
  if (n == 0) {
    for (drv_wait_t **pw = &waits; *pw; pw = &(*pw)->next)
      if (*pw == w) {
        *pw = w->next;
        break;
      }
    free(w);
  }
  return n;
}

static void handler_done(drv_sub_t *ds, nmc_msg_t *m) {
  if (ds->reply_with && m->reply)
    nmc_publish(conn, m->reply, NULL, ds->reply_with, strlen(ds->reply_with));
}

static void on_delay_closed(uv_handle_t *h) {
  free(h->data);
}

/* Ends a slow handler: reported with msg_done unless the connection has
 * closed (nothing is reported after "closed"). */
static void delay_end(drv_delay_t *d, int report) {
  if (d->prev)
    d->prev->next = d->next;
  else
    delays = d->next;
  if (d->next)
    d->next->prev = d->prev;
  if (report) {
    cJSON *o = event("msg_done");
    uint64_t seq;
    cJSON_AddStringToObject(o, "sub", d->ds->tag);
    if (nm_seq_read(d->msg->data, d->msg->len, &seq))
      cJSON_AddNumberToObject(o, "seq", (double)seq);
    handler_done(d->ds, d->msg);
    emit(o, 1);
  }
  nmc_msg_done(d->msg);
  uv_close((uv_handle_t *)&d->timer, on_delay_closed);
}

static void on_delay(uv_timer_t *t) {
  delay_end(t->data, 1);
}

/* The handler. A slow handler is modelled without blocking the loop: it
 * returns NMC_ASYNC and finishes from a timer with nmc_msg_done. */
static int on_msg(nmc_sub_t *s, nmc_msg_t *m, void *data) {
  drv_sub_t *ds = data;
  msg_event(ds, m);
  if (ds->on_msg && run_actions(ds, m) > 0)
    return NMC_ASYNC; /* handler_finish runs when the actions ended */
  return handler_finish(ds, m);
}

/* The rest of the handler: delay_ms, then reply_with. Returns NMC_DONE, or
 * NMC_ASYNC when a timer finishes it. */
static int handler_finish(drv_sub_t *ds, nmc_msg_t *m) {
  drv_delay_t *d;
  if (ds->delay_ms == 0 || exiting || !(d = calloc(1, sizeof(*d)))) {
    handler_done(ds, m);
    return NMC_DONE;
  }
  d->msg = m;
  d->ds = ds;
  d->next = delays;
  if (delays)
    delays->prev = d;
  delays = d;
  uv_timer_init(loop, &d->timer);
  d->timer.data = d;
  uv_timer_start(&d->timer, on_delay, ds->delay_ms, 0);
  return NMC_ASYNC;
}

static void on_sub_removed(nmc_sub_t *s, void *data) {
  drv_sub_t *ds = data;
  ds->s = NULL;
}

/* ---- connection callbacks ---- */

static void on_connected(nmc_conn_t *c, int status, void *data) {
  if (status == 0)
    emit(event("connected"), 1);
  if (connect_id >= 0) {
    if (status == 0)
      reply_ok(connect_id, NULL);
    else
      reply_err(connect_id, err_code(status), nmc_last_error(c), NULL);
    connect_id = -1;
  }
}

static void on_disconnected(nmc_conn_t *c, void *data) {
  cJSON *o = event("disconnected");
  if (nmc_last_error(c)[0])
    cJSON_AddStringToObject(o, "error", nmc_last_error(c));
  emit(o, 1);
}

static void on_reconnected(nmc_conn_t *c, void *data) {
  emit(event("reconnected"), 1);
}

static void on_lame_duck(nmc_conn_t *c, void *data) {
  emit(event("lame_duck"), 1);
}

static void on_closed(nmc_conn_t *c, void *data) {
  while (delays) /* cut short: nothing may follow "closed" */
    delay_end(delays, 0);
  emit(event("closed"), 1);
  conn = NULL;
  for (drv_sub_t *d = subs; d; d = d->next)
    d->s = NULL;
  if (close_id >= 0) {
    reply_ok(close_id, NULL);
    close_id = -1;
  }
}

static void on_error(nmc_conn_t *c, int err, const char *text, nmc_sub_t *s,
                     void *data) {
  drv_sub_t *ds = s ? nmc_sub_data(s) : NULL;
  cJSON *o;
  if (err == NMC_ESLOWCONSUMER && ds) {
    o = event("slow_consumer");
    cJSON_AddStringToObject(o, "sub", ds->tag);
    emit(o, 1);
    return;
  }
  o = event("error");
  cJSON_AddStringToObject(o, "code", err_code(err));
  cJSON_AddStringToObject(o, "error", text);
  if (ds)
    cJSON_AddStringToObject(o, "sub", ds->tag);
  emit(o, 1);
}

static void on_discovered(nmc_conn_t *c, const char *const *urls, int n,
                          void *data) {
  cJSON *o = event("discovered");
  cJSON_AddItemToObject(o, "servers", cJSON_CreateStringArray(urls, n));
  emit(o, 1);
}

/* ---- commands ---- */

static const char *str_field(const cJSON *cmd, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(cmd, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num_field(const cJSON *cmd, const char *k, double dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(cmd, k);
  return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static int bool_field(const cJSON *cmd, const char *k, int dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(cmd, k);
  return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

/* Completion of flush, drain_sub, drain: the command id rides as data. */
static void on_done(nmc_conn_t *c, int status, void *data) {
  long long *id = data;
  reply_status(*id, status);
  free(id);
}

static long long *id_box(long long id) {
  long long *p = malloc(sizeof(*p));
  if (p)
    *p = id;
  return p;
}

static void on_reply(nmc_conn_t *c, int status, nmc_msg_t *m, void *data) {
  long long *id = data;
  if (status == 0) {
    cJSON *extra = cJSON_CreateObject();
    char *t = is_text(m->data, m->len)
                  ? strndup(m->data, m->len)
                  : b64_encode((const unsigned char *)m->data, m->len);
    cJSON_AddStringToObject(
        extra, is_text(m->data, m->len) ? "data" : "data_b64", t ? t : "");
    free(t);
    if (m->hdr)
      add_headers(extra, m->hdr, m->hdr_len);
    reply_ok(*id, extra);
  } else {
    reply_status(*id, status);
  }
  free(id);
}

static void cmd_connect(long long id, const cJSON *cmd) {
  const char *urls[DRV_MAX_SERVERS];
  const cJSON *servers = cJSON_GetObjectItemCaseSensitive(cmd, "servers");
  const cJSON *u;
  nmc_opts_t o;
  int n = 0, r;

  if (conn) {
    reply_err(id, "bad_command", "already connected", NULL);
    return;
  }
  nmc_opts_init(&o);
  cJSON_ArrayForEach(u, servers) {
    if (cJSON_IsString(u) && n < DRV_MAX_SERVERS)
      urls[n++] = u->valuestring;
  }
  o.servers = urls;
  o.num_servers = n;
  o.name = str_field(cmd, "name");
  o.user = str_field(cmd, "user");
  o.pass = str_field(cmd, "pass");
  o.token = str_field(cmd, "token");
  o.verbose = bool_field(cmd, "verbose", 0);
  o.pedantic = bool_field(cmd, "pedantic", 0);
  o.no_echo = !bool_field(cmd, "echo", 1);
  o.no_randomize = bool_field(cmd, "no_randomize", 0);
  o.no_reconnect = !bool_field(cmd, "reconnect", 1);
  o.timeout_ms = (uint64_t)num_field(cmd, "timeout_ms", (double)o.timeout_ms);
  o.max_reconnect = (int)num_field(cmd, "max_reconnect", o.max_reconnect);
  o.reconnect_wait_ms = (uint64_t)num_field(cmd, "reconnect_wait_ms",
                                            (double)o.reconnect_wait_ms);
  o.reconnect_jitter_ms = (uint64_t)num_field(cmd, "reconnect_jitter_ms",
                                              (double)o.reconnect_jitter_ms);
  o.reconnect_buf_size = (size_t)num_field(cmd, "reconnect_buf_bytes",
                                           (double)o.reconnect_buf_size);
  o.ping_interval_ms =
      (uint64_t)num_field(cmd, "ping_interval_ms", (double)o.ping_interval_ms);
  o.max_pings_out = (int)num_field(cmd, "max_pings_out", o.max_pings_out);
  o.drain_timeout_ms =
      (uint64_t)num_field(cmd, "drain_timeout_ms", (double)o.drain_timeout_ms);
  o.connected_cb = on_connected;
  o.disconnected_cb = on_disconnected;
  o.reconnected_cb = on_reconnected;
  o.lame_duck_cb = on_lame_duck;
  o.closed_cb = on_closed;
  o.error_cb = on_error;
  o.discovered_cb = on_discovered;
  connect_id = id;
  r = nmc_connect(loop, &o, &conn);
  if (r < 0) {
    connect_id = -1;
    conn = NULL;
    reply_err(id, "other", nmc_strerror(r), NULL);
  }
}

static void cmd_publish(long long id, const cJSON *cmd) {
  const char *subject = str_field(cmd, "subject");
  const char *reply = str_field(cmd, "reply");
  const cJSON *hj = cJSON_GetObjectItemCaseSensitive(cmd, "headers");
  long long count = (long long)num_field(cmd, "count", 1);
  size_t size = (size_t)num_field(cmd, "size", 0), n, hlen = 0;
  char *data = get_data(cmd, &n), *hdr = NULL, *seqbuf = NULL;
  long long k;
  int r = 0;

  if (!conn) {
    reply_err(id, "closed", "not connected", NULL);
    free(data);
    return;
  }
  if (cJSON_IsObject(hj))
    hdr = build_headers(hj, &hlen);
  if (!data) /* the k-th message's payload is k (docs/DRIVER-PROTOCOL.md) */
    seqbuf = malloc(size + 32);
  for (k = 1; k <= count && r == 0; k++) {
    const char *p = data ? data : "";
    size_t len = data ? n : 0;
    if (seqbuf) {
      len = nm_seq_payload((uint64_t)k, size, seqbuf, size + 32);
      p = seqbuf;
    }
    r = hdr ? nmc_publish_hdr(conn, subject, reply, hdr, hlen, p, len)
            : nmc_publish(conn, subject, reply, p, len);
  }
  if (r == 0) {
    reply_ok(id, NULL);
  } else {
    cJSON *extra = cJSON_CreateObject();
    cJSON_AddNumberToObject(extra, "published", (double)(k - 2));
    reply_err(id, err_code(r), nmc_strerror(r), extra);
  }
  free(data);
  free(hdr);
  free(seqbuf);
}

/* The ops a handler may make (docs/DRIVER-PROTOCOL.md, on_msg). Any other
 * is refused: a subscribe (or connect) inside the handler would replace the
 * very list run_actions is walking. */
static const char *const handler_ops[] = {"publish",     "request",   "flush",
                                          "unsubscribe", "drain_sub", "drain",
                                          "close"};

/* on_msg of a subscribe: a list of at most DRV_MAX_ACTIONS objects, each
 * with a positive integer at, a non-negative id and an op from handler_ops.
 * Returns 0, or -1 with the reason in err. */
static int check_on_msg(const cJSON *list, char *err, size_t errlen) {
  const cJSON *a;
  int k = 0;
  if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) > DRV_MAX_ACTIONS) {
    snprintf(err, errlen, "on_msg must be a list of at most %d actions",
             DRV_MAX_ACTIONS);
    return -1;
  }
  cJSON_ArrayForEach(a, list) {
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(a, "at");
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(a, "id");
    const char *op = str_field(a, "op");
    size_t i = 0;
    if (!cJSON_IsNumber(at) || at->valuedouble < 1 ||
        at->valuedouble != (double)(uint64_t)at->valuedouble) {
      snprintf(err, errlen, "on_msg[%d]: at must be a positive integer", k);
      return -1;
    }
    if (!cJSON_IsNumber(jid) || jid->valuedouble < 0) {
      snprintf(err, errlen, "on_msg[%d]: an action needs an id", k);
      return -1;
    }
    while (op && i < sizeof(handler_ops) / sizeof(*handler_ops) &&
           strcmp(op, handler_ops[i]) != 0)
      i++;
    if (!op || i == sizeof(handler_ops) / sizeof(*handler_ops)) {
      snprintf(err, errlen,
               "on_msg[%d]: op \"%s\" cannot be a handler action (publish, "
               "request, flush, unsubscribe, drain_sub, drain, close)",
               k, op ? op : "");
      return -1;
    }
    k++;
  }
  return 0;
}

static void cmd_subscribe(long long id, const cJSON *cmd) {
  const char *tag = str_field(cmd, "sub"), *subject = str_field(cmd, "subject");
  const char *reply_with = str_field(cmd, "reply_with");
  const cJSON *actions = cJSON_GetObjectItemCaseSensitive(cmd, "on_msg");
  double max = num_field(cmd, "max", 0);
  drv_sub_t *ds;
  char why[160];
  int r;

  if (!tag || !subject || strlen(tag) >= sizeof(ds->tag)) {
    reply_err(id, "bad_command", "subscribe needs sub and subject", NULL);
    return;
  }
  if (actions && check_on_msg(actions, why, sizeof(why)) < 0) {
    reply_err(id, "bad_command", why, NULL);
    return;
  }
  if (!conn) {
    reply_err(id, "closed", "not connected", NULL);
    return;
  }
  ds = find_sub(tag);
  if (!ds) {
    ds = calloc(1, sizeof(*ds));
    if (!ds) {
      reply_err(id, "other", "out of memory", NULL);
      return;
    }
    snprintf(ds->tag, sizeof(ds->tag), "%s", tag);
    ds->next = subs;
    subs = ds;
  }
  ds->delay_ms = (uint64_t)num_field(cmd, "delay_ms", 0);
  cJSON_Delete(ds->on_msg);
  ds->on_msg = actions ? cJSON_Duplicate(actions, 1) : NULL;
  ds->nmsgs = 0;
  free(ds->reply_with);
  ds->reply_with = reply_with ? strdup(reply_with) : NULL;
  r = nmc_subscribe(conn, subject, str_field(cmd, "queue"), on_msg, ds, &ds->s);
  if (r < 0) {
    ds->s = NULL;
    reply_status(id, r);
    return;
  }
  nmc_sub_set_removed_cb(ds->s, on_sub_removed);
  nmc_sub_set_pending_limits(ds->s,
                             (size_t)num_field(cmd, "pending_msgs_limit", 0),
                             (size_t)num_field(cmd, "pending_bytes_limit", 0));
  if (max > 0)
    r = nmc_unsubscribe(ds->s, (uint64_t)max);
  reply_status(id, r);
}

static drv_sub_t *live_sub(long long id, const cJSON *cmd) {
  const char *tag = str_field(cmd, "sub");
  drv_sub_t *ds = tag ? find_sub(tag) : NULL;
  if (!ds)
    reply_err(id, "bad_command", "unknown sub", NULL);
  else if (!ds->s)
    reply_err(id, "closed", "subscription closed", NULL);
  return ds && ds->s ? ds : NULL;
}

static void cmd_unsubscribe(long long id, const cJSON *cmd) {
  drv_sub_t *ds = live_sub(id, cmd);
  if (ds)
    reply_status(id,
                 nmc_unsubscribe(ds->s, (uint64_t)num_field(cmd, "max", 0)));
}

/* flush, drain_sub and drain end in on_done; a call that fails at once is
 * answered here. */
static void started(long long id, long long *box, int r) {
  if (r < 0) {
    free(box);
    reply_status(id, r);
  }
}

static void cmd_flush(long long id, const cJSON *cmd) {
  uint64_t timeout = (uint64_t)num_field(cmd, "timeout_ms", 10000);
  long long *box = id_box(id);
  if (!conn) {
    free(box);
    reply_err(id, "closed", "not connected", NULL);
    return;
  }
  started(id, box, nmc_flush(conn, timeout, on_done, box));
}

static void cmd_drain_sub(long long id, const cJSON *cmd) {
  uint64_t timeout = (uint64_t)num_field(cmd, "timeout_ms", 0);
  drv_sub_t *ds = live_sub(id, cmd);
  long long *box;
  if (!ds)
    return;
  box = id_box(id);
  started(id, box, nmc_sub_drain(ds->s, timeout, on_done, box));
}

static void cmd_drain(long long id, const cJSON *cmd) {
  uint64_t timeout = (uint64_t)num_field(cmd, "timeout_ms", 0);
  long long *box = id_box(id);
  if (!conn) {
    free(box);
    reply_err(id, "closed", "not connected", NULL);
    return;
  }
  started(id, box, nmc_drain(conn, timeout, on_done, box));
}

static void cmd_request(long long id, const cJSON *cmd) {
  const cJSON *hj = cJSON_GetObjectItemCaseSensitive(cmd, "headers");
  size_t n, hlen = 0;
  char *data = get_data(cmd, &n), *hdr = NULL;
  long long *box = id_box(id);
  int r;

  if (!conn) {
    reply_err(id, "closed", "not connected", NULL);
    free(data);
    free(box);
    return;
  }
  if (cJSON_IsObject(hj))
    hdr = build_headers(hj, &hlen);
  r = nmc_request(conn, str_field(cmd, "subject"), hdr, hlen, data ? data : "",
                  data ? n : 0, (uint64_t)num_field(cmd, "timeout_ms", 10000),
                  on_reply, box);
  if (r < 0) {
    free(box);
    reply_status(id, r);
  }
  free(data);
  free(hdr);
}

static void stop(void) {
  exiting = 1;
  if (conn)
    nmc_close(conn);
  if (in && !uv_is_closing((uv_handle_t *)in))
    uv_close((uv_handle_t *)in, NULL);
}

/* info: what the library knows, as state. */
static void cmd_info(long long id) {
  static const char *const st[] = {"connecting",    "connected",
                                   "reconnecting",  "draining_subs",
                                   "draining_pubs", "closed"};
  cJSON *o = cJSON_CreateObject(), *l;
  if (!conn) {
    cJSON_AddStringToObject(o, "status", "closed");
    reply_ok(id, o);
    return;
  }
  if ((unsigned)nmc_status(conn) < sizeof(st) / sizeof(st[0]))
    cJSON_AddStringToObject(o, "status", st[nmc_status(conn)]);
  if (nmc_connected_url(conn))
    cJSON_AddStringToObject(o, "connected_url", nmc_connected_url(conn));
  cJSON_AddNumberToObject(o, "reconnects", (double)nmc_reconnects(conn));
  cJSON_AddNumberToObject(o, "max_payload", (double)nmc_max_payload(conn));
  if (nmc_last_error(conn))
    cJSON_AddStringToObject(o, "last_error", nmc_last_error(conn));
  l = cJSON_AddArrayToObject(o, "subs");
  for (drv_sub_t *d = subs; d; d = d->next) {
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "sub", d->tag);
    cJSON_AddBoolToObject(x, "valid", d->s != NULL);
    if (d->s) {
      cJSON_AddNumberToObject(x, "delivered", (double)nmc_sub_delivered(d->s));
      cJSON_AddNumberToObject(x, "dropped", (double)nmc_sub_dropped(d->s));
    }
    cJSON_AddItemToArray(l, x);
  }
  reply_ok(id, o);
}

/* batch: every command starts in this one turn of the loop, in order, with
 * nothing in between; each ends with its own result, the batch with ok. */
static void cmd_batch(long long id, const cJSON *cmd) {
  const cJSON *c, *list = cJSON_GetObjectItemCaseSensitive(cmd, "commands");
  if (!cJSON_IsArray(list)) {
    reply_err(id, "bad_command", "batch needs commands", NULL);
    return;
  }
  cJSON_ArrayForEach(c, list) {
    const cJSON *jid = cJSON_GetObjectItemCaseSensitive(c, "id");
    const char *op = str_field(c, "op");
    long long cid = cJSON_IsNumber(jid) ? (long long)jid->valuedouble : -1;
    if (!op || strcmp(op, "batch") == 0)
      reply_err(cid, "bad_command", "a batch entry needs an op (no batch)",
                NULL);
    else
      dispatch(cid, op, c);
  }
  reply_ok(id, NULL);
}

static void dispatch(long long id, const char *op, const cJSON *cmd) {
  if (strcmp(op, "connect") == 0) {
    cmd_connect(id, cmd);
  } else if (strcmp(op, "publish") == 0) {
    cmd_publish(id, cmd);
  } else if (strcmp(op, "subscribe") == 0) {
    cmd_subscribe(id, cmd);
  } else if (strcmp(op, "unsubscribe") == 0) {
    cmd_unsubscribe(id, cmd);
  } else if (strcmp(op, "flush") == 0) {
    cmd_flush(id, cmd);
  } else if (strcmp(op, "drain_sub") == 0) {
    cmd_drain_sub(id, cmd);
  } else if (strcmp(op, "drain") == 0) {
    cmd_drain(id, cmd);
  } else if (strcmp(op, "request") == 0) {
    cmd_request(id, cmd);
  } else if (strcmp(op, "info") == 0) {
    cmd_info(id);
  } else if (strcmp(op, "batch") == 0) {
    cmd_batch(id, cmd);
  } else if (strcmp(op, "close") == 0) {
    if (conn && close_id < 0) {
      close_id = id;
      nmc_close(conn);
    } else {
      reply_ok(id, NULL);
    }
  } else if (strcmp(op, "exit") == 0) {
    reply_ok(id, NULL);
    stop(); /* the loop ends once the connection has closed */
  } else {
    reply_err(id, "bad_command", "unknown op", NULL);
  }
}

static void command(const char *text, size_t n) {
  cJSON *cmd = cJSON_ParseWithLength(text, n);
  const cJSON *jid = cJSON_GetObjectItemCaseSensitive(cmd, "id");
  const char *op = str_field(cmd, "op");
  long long id = cJSON_IsNumber(jid) ? (long long)jid->valuedouble : -1;

  if (!cmd || !op) {
    fprintf(stderr, "natsmock-driver: bad command line: %.*s\n", (int)n, text);
    reply_err(id, "bad_command", cmd ? "no op" : "not JSON", NULL);
  } else {
    dispatch(id, op, cmd);
  }
  cJSON_Delete(cmd);
}

/* ---- stdin ---- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  static char rbuf[64 * 1024];
  buf->base = rbuf;
  buf->len = sizeof(rbuf);
}

static void on_stdin(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  if (n < 0) {
    stop(); /* stdin closed: exit like "exit" */
    return;
  }
  for (ssize_t i = 0; i < n && !exiting; i++) {
    char ch = buf->base[i];
    if (ch == '\n') {
      if (!line_skip && line_len > 0)
        command(line, line_len);
      line_len = 0;
      line_skip = 0;
    } else if (line_len >= DRV_MAX_LINE) {
      if (!line_skip)
        fprintf(stderr, "natsmock-driver: line over %d bytes dropped\n",
                DRV_MAX_LINE);
      line_skip = 1;
    } else if (!line_skip) {
      line[line_len++] = ch;
    }
  }
}

/* stdin that libuv cannot poll (a regular file, /dev/null: epoll refuses
 * them, and libuv would abort) is read with uv_fs_read, one read at a time,
 * from the current position. */
static uv_fs_t file_req;
static char file_buf[64 * 1024];

static void file_read_next(void);

static void on_file_read(uv_fs_t *req) {
  ssize_t n = req->result;
  uv_buf_t b = uv_buf_init(file_buf, n > 0 ? (unsigned)n : 0);
  uv_fs_req_cleanup(req);
  on_stdin(NULL, n > 0 ? n : UV_EOF, &b);
  if (n > 0 && !exiting)
    file_read_next();
}

static void file_read_next(void) {
  uv_buf_t b = uv_buf_init(file_buf, sizeof(file_buf));
  int r = uv_fs_read(loop, &file_req, 0, &b, 1, -1, on_file_read);
  if (r < 0) {
    fprintf(stderr, "natsmock-driver: stdin: %s\n", uv_strerror(r));
    stop();
  }
}

static const char usage_text[] =
    "usage: natsmock-driver [--version | --help]\n"
    "The natsmock reference client's driver: reads JSON commands on stdin,\n"
    "one per line, and writes JSON events on stdout, one per line\n"
    "(docs/DRIVER-PROTOCOL.md). stdin may be a pipe, a terminal or a file.\n";

int main(int argc, char **argv) {
  static uv_pipe_t pipe_in;
  static uv_tty_t tty_in;
  const char *features[] = {"headers",    "queue",
                            "auto_unsub", "flush",
                            "drain_sub",  "drain",
                            "request",    "no_echo",
                            "reconnect",  "reconnect_buffer",
                            "lame_duck",  "slow_consumer",
                            "verbose",    "pedantic",
                            "user_pass",  "token",
                            "batch",      "on_msg",
                            "info"};
  cJSON *hello;
  int r;

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--version") == 0) {
      printf("natsmock-driver %s\n", NMC_VERSION);
      return 0;
    }
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(usage_text, stdout);
      return 0;
    }
    fprintf(stderr, "natsmock-driver: unknown argument %s\n%s", argv[i],
            usage_text);
    return 2;
  }
  /* A closed stdin, stdout or stderr would let libuv's own descriptors take
   * numbers 0-2, which it refuses to close (an assertion, SIGABRT): hold
   * them with /dev/null. A closed stdin then reads as an empty one. */
  for (int fd = 0; fd <= 2; fd++)
    if (fcntl(fd, F_GETFD) == -1 && open("/dev/null", O_RDWR) != fd)
      return 2;
  hello = event("hello");

  /* A write to a socket the server closed must be an error, not a kill. */
  signal(SIGPIPE, SIG_IGN);
  loop = uv_default_loop();
  line = malloc(DRV_MAX_LINE);
  cJSON_AddNumberToObject(hello, "protocol", 2);
  cJSON_AddStringToObject(hello, "client", "natsmock");
  cJSON_AddStringToObject(hello, "version", NMC_VERSION);
  cJSON_AddItemToObject(
      hello, "features",
      cJSON_CreateStringArray(features, sizeof(features) / sizeof(*features)));
  emit(hello, 0);
  switch (uv_guess_handle(0)) {
  case UV_TTY:
    uv_tty_init(loop, &tty_in, 0, 1);
    in = (uv_stream_t *)&tty_in;
    r = uv_read_start(in, on_alloc, on_stdin);
    break;
  case UV_NAMED_PIPE:
  case UV_TCP:
  case UV_UDP:
    uv_pipe_init(loop, &pipe_in, 0);
    r = uv_pipe_open(&pipe_in, 0);
    in = (uv_stream_t *)&pipe_in;
    if (r == 0)
      r = uv_read_start(in, on_alloc, on_stdin);
    break;
  default: /* a file, a character device such as /dev/null, or closed */
    file_read_next();
    r = 0;
  }
  if (r < 0) {
    fprintf(stderr, "natsmock-driver: stdin: %s\n", uv_strerror(r));
    return 1;
  }
  uv_run(loop, UV_RUN_DEFAULT);
  while (subs) {
    drv_sub_t *d = subs;
    subs = d->next;
    free(d->reply_with);
    cJSON_Delete(d->on_msg);
    free(d);
  }
  free(line);
  uv_loop_close(loop);
  return 0;
}
