/* The connection: sockets, the handshake (docs/design.md, "The client
 * handshake"), inbound frames, reconnect with backoff and jitter, and close.
 * Every uv handle the connection owns is counted in c->handles; the closed
 * callback runs when the last one has closed, and then the connection is freed.
 */
#define _GNU_SOURCE /* strcasestr */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nm_encode.h"
#include "nm_stdfds.h"
#include "nmc_internal.h"

static void attempt_next(nmc_conn_t *c, int err);
static void conn_free(nmc_conn_t *c);

void nmc__set_error(nmc_conn_t *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->err, sizeof(c->err), fmt, ap);
  va_end(ap);
}

uint64_t nmc__rand(nmc_conn_t *c) {
  /* xorshift64: jitter and server order need spread, not secrecy. */
  c->rng ^= c->rng << 13;
  c->rng ^= c->rng >> 7;
  c->rng ^= c->rng << 17;
  return c->rng;
}

int nmc__connected(const nmc_conn_t *c) {
  return c->sock && c->hs == HS_DONE && !c->closing;
}

void nmc__async_error(nmc_conn_t *c, int err, const char *text, nmc_sub_t *s) {
  if (c->o.error_cb)
    c->o.error_cb(c, err, text ? text : nmc_strerror(err), s, c->o.data);
}

/* ---- handle bookkeeping ---- */

void nmc__handle_init(nmc_conn_t *c, uv_handle_t *h) {
  h->data = c;
  c->handles++;
}

void nmc__handle_closed(nmc_conn_t *c) {
  if (--c->handles == 0 && c->closing)
    conn_free(c);
}

static void on_handle_closed(uv_handle_t *h) {
  nmc__handle_closed(h->data);
}

void nmc__handle_close(nmc_conn_t *c, uv_handle_t *h, uv_close_cb cb) {
  if (!uv_is_closing(h))
    uv_close(h, cb ? cb : on_handle_closed);
}

/* ---- sockets ---- */

static void on_sock_closed(uv_handle_t *h) {
  nmc_sock_t *k = nmc__container_of(h, nmc_sock_t, tcp);
  nmc_conn_t *c = k->c;
  nm_buf_free(&k->inflight);
  free(k);
  nmc__handle_closed(c);
}

/* Detaches the socket from the connection and closes it. A write in flight
 * is cancelled; its bytes are dropped with the socket (a frame may have been
 * half sent, so it is never replayed). */
static void sock_close(nmc_conn_t *c) {
  nmc_sock_t *k = c->sock;
  if (!k)
    return;
  c->sock = NULL;
  c->hs = HS_NONE;
  k->dead = 1;
  uv_timer_stop(&c->hs_timer);
  uv_timer_stop(&c->ping_timer);
  nm_parser_reset(&c->parser);
  uv_close((uv_handle_t *)&k->tcp, on_sock_closed);
}

static void on_sock_write(uv_write_t *req, int status) {
  nmc_sock_t *k = nmc__container_of(req, nmc_sock_t, wreq);
  nmc_conn_t *c = k->c;
  k->writing = 0;
  nm_buf_clear(&k->inflight);
  nm_buf_shrink(&k->inflight, NMC_WRITE_THRESHOLD * 2);
  if (k->dead)
    return;
  if (status < 0) {
    nmc__conn_lost(c, status, uv_strerror(status));
    return;
  }
  nmc__out_write(c);
}

/* Hands b's bytes to the socket in one write (b is emptied). The socket must
 * have no write in flight. */
int nmc__sock_write(nmc_sock_t *k, nm_buf_t *b) {
  nm_buf_t t = k->inflight;
  uv_buf_t ub;
  int r;

  k->inflight = *b;
  *b = t;
  b->limit = k->inflight.limit;
  k->inflight.limit = 0;
  ub = uv_buf_init(k->inflight.base, (unsigned int)k->inflight.len);
  r = uv_write(&k->wreq, (uv_stream_t *)&k->tcp, &ub, 1, on_sock_write);
  if (r == 0)
    k->writing = 1;
  return r;
}

/* ---- INFO and -ERR ---- */

static int process_info(nmc_conn_t *c, nm_slice_t json, int initial) {
  cJSON *o = cJSON_ParseWithLength(json.p, json.n);
  cJSON *v;
  const char *added[NMC_MAX_SERVERS];
  int nadded = 0;

  if (!o || !cJSON_IsObject(o)) {
    cJSON_Delete(o);
    return NM_EPROTO;
  }
  v = cJSON_GetObjectItemCaseSensitive(o, "max_payload");
  /* An INFO without max_payload keeps the last value (nats.c and nats.go
   * drop to 0 and fail every publish; a user would not expect that). */
  if (cJSON_IsNumber(v) && v->valuedouble > 0)
    c->max_payload = (int64_t)v->valuedouble;
  v = cJSON_GetObjectItemCaseSensitive(o, "headers");
  c->srv_headers = cJSON_IsTrue(v);
  v = cJSON_GetObjectItemCaseSensitive(o, "connect_urls");
  if (cJSON_IsArray(v)) {
    cJSON *u;
    cJSON_ArrayForEach(u, v) {
      if (cJSON_IsString(u) && nmc__pool_add(c, u->valuestring, 1) == 1 &&
          nadded < NMC_MAX_SERVERS)
        added[nadded++] = c->servers[c->nservers - 1].url;
    }
  }
  if (!initial && nadded > 0 && c->o.discovered_cb)
    c->o.discovered_cb(c, added, nadded, c->o.data);
  if (!initial && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "ldm")) &&
      c->o.lame_duck_cb)
    c->o.lame_duck_cb(c, c->o.data);
  cJSON_Delete(o);
  return 0;
}

/* "-ERR 'text'" arrives as the raw argument; strip blanks and quotes. */
static void err_text(nm_slice_t t, char *out, size_t cap) {
  const char *p = t.p, *e = t.p + t.n;
  size_t n;
  while (p < e && (*p == ' ' || *p == '\t'))
    p++;
  while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
    e--;
  if (e - p >= 2 && *p == '\'' && e[-1] == '\'') {
    p++;
    e--;
  }
  n = (size_t)(e - p) < cap - 1 ? (size_t)(e - p) : cap - 1;
  memcpy(out, p, n);
  out[n] = '\0';
}

static int starts(const char *s, const char *prefix) {
  return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static int server_err_code(const char *text) {
  if (starts(text, "authorization violation") ||
      strcasestr(text, "authentication"))
    return NM_EAUTH;
  if (starts(text, "stale connection"))
    return NMC_ESTALE;
  if (starts(text, "maximum payload"))
    return NMC_EMAXPAYLOAD;
  return NMC_ESERVER;
}

/* After the handshake, as nats.go classifies -ERR (docs/design.md, "Errors and
 * closes"): permission, invalid-subject and max-subscription errors leave the
 * connection open; a stale connection, too many connections and the
 * authorization errors precede the server closing the socket, so the client
 * reconnects; any other error closes the client for good. */
static void process_err(nmc_conn_t *c, nm_slice_t t) {
  char text[NMC_ERR_MAX];
  int code;
  err_text(t, text, sizeof(text));
  code = server_err_code(text);
  nmc__set_error(c, "%s", text);
  nmc__async_error(c, code, text, NULL);
  if (c->closing || starts(text, "permissions violation") ||
      starts(text, "invalid ") ||
      starts(text, "maximum subscriptions exceeded"))
    return;
  if (code == NMC_ESTALE || code == NM_EAUTH ||
      starts(text, "maximum connections exceeded") ||
      starts(text, "maximum account active connections exceeded")) {
    nmc__conn_lost(c, code, text);
    return;
  }
  nmc_close(c);
}

/* ---- handshake ---- */

static int send_connect(nmc_conn_t *c) {
  nmc_server_t *s = &c->servers[c->cur];
  const char *user = c->s_user ? c->s_user : s->user;
  const char *pass = c->s_pass ? c->s_pass : s->pass;
  const char *token = c->s_token ? c->s_token : s->token;
  cJSON *o = cJSON_CreateObject();
  char *json;
  nm_buf_t b;
  int r;

  cJSON_AddBoolToObject(o, "verbose", c->o.verbose);
  cJSON_AddBoolToObject(o, "pedantic", c->o.pedantic);
  if (user[0]) {
    cJSON_AddStringToObject(o, "user", user);
    cJSON_AddStringToObject(o, "pass", pass);
  }
  if (token[0])
    cJSON_AddStringToObject(o, "auth_token", token);
  cJSON_AddBoolToObject(o, "tls_required", 0);
  if (c->s_name)
    cJSON_AddStringToObject(o, "name", c->s_name);
  cJSON_AddStringToObject(o, "lang", "C");
  cJSON_AddStringToObject(o, "version", NMC_VERSION);
  cJSON_AddNumberToObject(o, "protocol", 1);
  cJSON_AddBoolToObject(o, "echo", !c->o.no_echo);
  cJSON_AddBoolToObject(o, "headers", c->srv_headers);
  cJSON_AddBoolToObject(o, "no_responders", c->srv_headers);
  json = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (!json)
    return NM_ENOMEM;
  nm_buf_init(&b, NMC_CONNECT_MAX);
  r = nm_encode_connect(&b, nm_slice_str(json));
  if (r == 0)
    r = nm_encode_ping(&b);
  cJSON_free(json);
  /* CONNECT and PING go in one write, straight to the socket: the outbound
   * buffer may hold frames buffered while disconnected, which must follow
   * the handshake. */
  if (r == 0)
    r = nmc__sock_write(c->sock, &b);
  nm_buf_free(&b);
  return r;
}

static void handshake_fail(nmc_conn_t *c, int err, const char *text) {
  if (text)
    nmc__set_error(c, "%s", text);
  sock_close(c);
  attempt_next(c, err);
}

static void handshake_done(nmc_conn_t *c) {
  int initial = !c->ever_connected;
  nm_buf_t b;
  int r;

  uv_timer_stop(&c->hs_timer);
  c->hs = HS_DONE;
  c->servers[c->cur].attempts = 0;
  c->status = NMC_CONNECTED;
  c->pings_out = 0;
  c->pong_doubt = 0;
  c->ever_connected = 1;
  /* Replay order: every live subscription, then the frames buffered while
   * disconnected (whole frames, publish order), then a PING. */
  nm_buf_init(&b, 0);
  r = nmc__subs_replay(c, &b);
  if (r == 0) /* out_sent is 0 here: nmc__out_keep_pubs reset it */
    r = nm_buf_append(&b, c->out.base, c->out.len);
  if (r < 0) {
    nm_buf_free(&b);
    nmc__conn_lost(c, r, "out of memory");
    return;
  }
  nm_buf_free(&c->out);
  c->out = b;
  c->out_mark = 0;
  c->out.limit = NMC_OUT_MAX > c->out.len ? NMC_OUT_MAX : c->out.len;
  if (!initial) {
    c->reconnects++;
    nmc__ping_push(c, 0, NULL, NULL);
  }
  nmc__out_write(c);
  nmc__keepalive_start(c);
  if (initial && c->o.connected_cb)
    c->o.connected_cb(c, 0, c->o.data);
  else if (!initial && c->o.reconnected_cb)
    c->o.reconnected_cb(c, c->o.data);
}

static int handshake_frame(nmc_conn_t *c, const nm_frame_t *f) {
  char text[NMC_ERR_MAX];
  if (f->op == NM_OP_ERR) {
    err_text(f->text, text, sizeof(text));
    handshake_fail(c, server_err_code(text), text);
    return 1;
  }
  switch (c->hs) {
  case HS_INFO:
    if (f->op != NM_OP_INFO || process_info(c, f->json, 1) < 0) {
      handshake_fail(c, NM_EPROTO, "expected INFO from the server");
      return 1;
    }
    if (send_connect(c) < 0) {
      handshake_fail(c, NM_EPROTO, "cannot send CONNECT");
      return 1;
    }
    c->hs = c->o.verbose ? HS_OK : HS_PONG;
    return 0;
  case HS_OK:
    if (f->op != NM_OP_OK) {
      handshake_fail(c, NM_EPROTO, "expected +OK");
      return 1;
    }
    c->hs = HS_PONG;
    return 0;
  case HS_PONG:
    if (f->op != NM_OP_PONG) {
      snprintf(text, sizeof(text), "expected PONG, got %s", nm_op_name(f->op));
      handshake_fail(c, NM_EPROTO, text);
      return 1;
    }
    handshake_done(c);
    return 0;
  }
  return 1;
}

/* ---- inbound ---- */

static int on_frame(nm_parser_t *p, const nm_frame_t *f) {
  nmc_conn_t *c = p->data;
  nmc_sock_t *k = c->sock;

  if (!k || c->closing)
    return 1;
  if (c->hs != HS_DONE)
    return handshake_frame(c, f);
  switch (f->op) {
  case NM_OP_MSG:
  case NM_OP_HMSG:
    nmc__msg_received(c, f);
    break;
  case NM_OP_PING:
    /* Answered at once, behind what is already buffered (the read callback
     * writes after the whole chunk is parsed). */
    if (nm_encode_pong(&c->out) < 0)
      nmc__conn_lost(c, NMC_EBUFFULL, "outbound buffer full");
    break;
  case NM_OP_PONG:
    nmc__pong_received(c);
    break;
  case NM_OP_INFO:
    process_info(c, f->json, 0);
    break;
  case NM_OP_ERR:
    process_err(c, f->text);
    break;
  default:
    break; /* +OK in verbose mode */
  }
  return c->sock == k && !c->closing ? 0 : 1;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  nmc_sock_t *k = nmc__container_of(h, nmc_sock_t, tcp);
  buf->base = k->rbuf;
  buf->len = sizeof(k->rbuf);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  nmc_sock_t *k = nmc__container_of(st, nmc_sock_t, tcp);
  nmc_conn_t *c = k->c;
  ssize_t r;

  if (k->dead || n == 0)
    return;
  if (n < 0) {
    const char *why =
        n == UV_EOF ? "connection closed by the server" : uv_strerror((int)n);
    if (c->hs == HS_DONE)
      nmc__conn_lost(c, NMC_EDISCONNECTED, why);
    else
      handshake_fail(c, NMC_EDISCONNECTED, why);
    return;
  }
  r = nm_parser_feed(&c->parser, buf->base, (size_t)n);
  if (k->dead)
    return;
  if (r < 0) {
    char text[NMC_ERR_MAX];
    snprintf(text, sizeof(text), "protocol error: %s",
             nm_parser_errmsg(&c->parser));
    if (c->hs == HS_DONE)
      nmc__conn_lost(c, NM_EPROTO, text);
    else
      handshake_fail(c, NM_EPROTO, text);
    return;
  }
  nmc__out_write(c);
}

static void on_connect(uv_connect_t *req, int status) {
  nmc_sock_t *k = nmc__container_of(req, nmc_sock_t, creq);
  nmc_conn_t *c = k->c;
  int r;
  if (k->dead)
    return;
  if (status < 0) {
    handshake_fail(c, status, uv_strerror(status));
    return;
  }
  r = uv_read_start((uv_stream_t *)&k->tcp, on_alloc, on_read);
  if (r < 0) {
    handshake_fail(c, r, uv_strerror(r));
    return;
  }
  c->hs = HS_INFO;
}

static int resolve(const char *host, int port, struct sockaddr_storage *sa) {
  struct addrinfo hints;
  uv_getaddrinfo_t req;
  int r;

  if (uv_ip4_addr(host, port, (struct sockaddr_in *)sa) == 0 ||
      uv_ip6_addr(host, port, (struct sockaddr_in6 *)sa) == 0)
    return 0;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  /* A NULL callback makes the lookup synchronous: natsmock is a loopback
   * tool and names other than IP literals are rare. */
  r = uv_getaddrinfo(NULL, &req, NULL, host, NULL, &hints);
  if (r < 0)
    return r;
  memcpy(sa, req.addrinfo->ai_addr, req.addrinfo->ai_addrlen);
  ((struct sockaddr_in *)sa)->sin_port = htons((unsigned short)port);
  uv_freeaddrinfo(req.addrinfo);
  return 0;
}

static void on_hs_timeout(uv_timer_t *t) {
  nmc_conn_t *c = t->data;
  handshake_fail(c, NM_ETIMEOUT, "timeout connecting to the server");
}

static void sock_open(nmc_conn_t *c) {
  nmc_server_t *s = &c->servers[c->cur];
  struct sockaddr_storage sa;
  nmc_sock_t *k;
  int r;

  s->last_attempt = uv_now(c->loop);
  s->attempts++;
  r = resolve(s->host, s->port, &sa);
  if (r < 0) {
    nmc__set_error(c, "%s: %s", s->url, uv_strerror(r));
    attempt_next(c, r);
    return;
  }
  k = calloc(1, sizeof(*k));
  if (!k) {
    attempt_next(c, NM_ENOMEM);
    return;
  }
  k->c = c;
  nm_buf_init(&k->inflight, 0);
  uv_tcp_init(c->loop, &k->tcp);
  c->handles++;
  c->sock = k;
  c->hs = HS_NONE;
  nm_parser_reset(&c->parser);
  uv_tcp_nodelay(&k->tcp, 1);
  uv_timer_start(&c->hs_timer, on_hs_timeout, c->o.timeout_ms, 0);
  r = uv_tcp_connect(&k->creq, &k->tcp, (struct sockaddr *)&sa, on_connect);
  if (r < 0)
    handshake_fail(c, r, uv_strerror(r));
}

/* ---- reconnect ---- */

static void on_reconnect_timer(uv_timer_t *t) {
  sock_open(t->data);
}

/* Picks the next server and connects to it, at once or after its backoff.
 * The initial connect tries every server once, in pool order; after that
 * each server gets max_reconnect attempts, counted since its last success. */
static void attempt_next(nmc_conn_t *c, int err) {
  nmc_server_t *s;
  uint64_t now = uv_now(c->loop), due;

  if (c->closing)
    return;
  if (c->status == NMC_CONNECTING) {
    if (c->tried_initial >= c->nservers) {
      if (c->o.connected_cb)
        c->o.connected_cb(c, err, c->o.data);
      nmc_close(c);
      return;
    }
    c->cur = c->tried_initial++;
    sock_open(c);
    return;
  }
  for (;;) {
    if (c->nservers == 0 || c->o.no_reconnect) {
      nmc__set_error(c, "%s", nmc_strerror(NMC_ENOSERVERS));
      nmc_close(c);
      return;
    }
    c->cur = (c->cur + 1) % c->nservers;
    s = &c->servers[c->cur];
    if (c->o.max_reconnect < 0 || s->attempts < c->o.max_reconnect)
      break;
    memmove(s, s + 1, sizeof(*s) * (size_t)(c->nservers - c->cur - 1));
    c->nservers--;
    c->cur--;
    if (c->cur < 0)
      c->cur = c->nservers - 1;
  }
  due = now;
  if (s->last_attempt) {
    due = s->last_attempt + c->o.reconnect_wait_ms;
    if (c->o.reconnect_jitter_ms)
      due += nmc__rand(c) % (c->o.reconnect_jitter_ms + 1);
  }
  uv_timer_start(&c->reconnect_timer, on_reconnect_timer,
                 due > now ? due - now : 0, 0);
}

/* The connection dropped after its handshake: fail the pending flushes (the
 * next server will never answer their PINGs), keep only unwritten PUB/HPUB
 * frames, tell the user, then reconnect or close. */
void nmc__conn_lost(nmc_conn_t *c, int err, const char *text) {
  if (!nmc__connected(c))
    return;
  nmc__set_error(c, "%s", text ? text : nmc_strerror(err));
  sock_close(c);
  c->pong_doubt = 0;
  c->status = NMC_RECONNECTING;
  c->out.limit = 0;
  nmc__out_keep_pubs(c);
  c->out.limit =
      c->o.reconnect_buf_size ? c->o.reconnect_buf_size : 1; /* 0: none */
  nmc__pongs_fail(c, NMC_EDISCONNECTED);
  if (c->o.disconnected_cb && !c->closing)
    c->o.disconnected_cb(c, c->o.data);
  if (c->closing)
    return;
  if (c->drain_on || c->o.no_reconnect) {
    nmc_close(c);
    return;
  }
  c->pings_out = 0;
  attempt_next(c, err);
}

/* ---- public ---- */

static char *dup_opt(const char *s) {
  return s && s[0] ? strdup(s) : NULL;
}

int nmc_connect(uv_loop_t *loop, const nmc_opts_t *o, nmc_conn_t **out) {
  static const char alnum[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  nmc_conn_t *c;
  int r;

  /* The sockets must not become descriptor 0-2 (nm_stdfds.h): a stray
   * write to stdout would land in the connection, and libuv aborts when
   * it closes a descriptor below 3. */
  if ((r = nm_hold_std_fds()) < 0)
    return r;
  if (!(c = calloc(1, sizeof(*c))))
    return NM_ENOMEM;
  c->loop = loop;
  c->o = *o;
  c->o.servers = NULL;
  c->s_name = dup_opt(o->name);
  c->s_user = dup_opt(o->user);
  c->s_pass = o->user && o->user[0] ? strdup(o->pass ? o->pass : "") : NULL;
  c->s_token = dup_opt(o->token);
  c->rng = uv_hrtime() ^ (uint64_t)(uintptr_t)c;
  if (c->rng == 0)
    c->rng = 88172645463325252ull;
  c->max_payload = NM_DEFAULT_MAX_PAYLOAD;
  for (int i = 0; i < o->num_servers && r >= 0; i++)
    r = nmc__pool_add(c, o->servers[i], 0);
  if (r >= 0 && o->num_servers == 0)
    r = nmc__pool_add(c, "nats://127.0.0.1:4222", 0);
  if (r < 0 || nm_parser_init(&c->parser, NM_PARSE_SERVER_OPS, on_frame, c)) {
    free(c->s_name);
    free(c->s_user);
    free(c->s_pass);
    free(c->s_token);
    free(c);
    return r < 0 ? r : NM_ENOMEM;
  }
  /* Control lines up to the parser's scratch (an INFO can be long); MSG
   * payloads up to nats-server's own ceiling for max_payload. */
  nm_parser_set_limits(&c->parser, NM_PARSER_SCRATCH_MAX, NMC_MAX_INBOUND);
  if (!o->no_randomize)
    for (int i = c->nservers - 1; i > 0; i--) {
      int j = (int)(nmc__rand(c) % (uint64_t)(i + 1));
      nmc_server_t t = c->servers[i];
      c->servers[i] = c->servers[j];
      c->servers[j] = t;
    }
  memcpy(c->inbox_prefix, "_INBOX.", 7);
  for (int i = 7; i < 29; i++)
    c->inbox_prefix[i] = alnum[nmc__rand(c) % (sizeof(alnum) - 1)];
  nm_buf_init(&c->out, c->o.reconnect_buf_size ? c->o.reconnect_buf_size : 1);
  uv_prepare_init(loop, &c->prep);
  nmc__handle_init(c, (uv_handle_t *)&c->prep);
  uv_unref((uv_handle_t *)&c->prep);
  uv_timer_init(loop, &c->hs_timer);
  nmc__handle_init(c, (uv_handle_t *)&c->hs_timer);
  uv_timer_init(loop, &c->ping_timer);
  nmc__handle_init(c, (uv_handle_t *)&c->ping_timer);
  uv_timer_init(loop, &c->reconnect_timer);
  nmc__handle_init(c, (uv_handle_t *)&c->reconnect_timer);
  uv_timer_init(loop, &c->drain_timer);
  nmc__handle_init(c, (uv_handle_t *)&c->drain_timer);
  c->status = NMC_CONNECTING;
  *out = c;
  attempt_next(c, NMC_ENOSERVERS);
  return 0;
}

void nmc_close(nmc_conn_t *c) {
  int was_connected;
  if (c->closing)
    return;
  c->closing = 1;
  was_connected = c->hs == HS_DONE && c->sock;
  nmc__drain_abort(c, NM_ECLOSED);
  nmc__pongs_fail(c, NM_ECLOSED);
  nmc__reqs_fail(c, NM_ECLOSED);
  nmc__subs_close_all(c, NM_ECLOSED);
  if (was_connected && c->out.len > c->out_sent) {
    /* Best effort, without waiting: what fits in the socket now. */
    uv_buf_t b = uv_buf_init(c->out.base + c->out_sent,
                             (unsigned int)(c->out.len - c->out_sent));
    if (!c->sock->writing)
      uv_try_write((uv_stream_t *)&c->sock->tcp, &b, 1);
  }
  sock_close(c);
  c->status = NMC_CLOSED;
  if (was_connected && c->o.disconnected_cb)
    c->o.disconnected_cb(c, c->o.data);
  nmc__handle_close(c, (uv_handle_t *)&c->prep, NULL);
  nmc__handle_close(c, (uv_handle_t *)&c->hs_timer, NULL);
  nmc__handle_close(c, (uv_handle_t *)&c->ping_timer, NULL);
  nmc__handle_close(c, (uv_handle_t *)&c->reconnect_timer, NULL);
  nmc__handle_close(c, (uv_handle_t *)&c->drain_timer, NULL);
}

static void conn_free(nmc_conn_t *c) {
  if (c->o.closed_cb)
    c->o.closed_cb(c, c->o.data);
  nm_parser_free(&c->parser);
  if (c->scan_on)
    nm_parser_free(&c->scan);
  nm_buf_free(&c->out);
  free(c->s_name);
  free(c->s_user);
  free(c->s_pass);
  free(c->s_token);
  free(c);
}

nmc_status_t nmc_status(const nmc_conn_t *c) {
  return c->closing ? NMC_CLOSED : c->status;
}

const char *nmc_last_error(const nmc_conn_t *c) {
  return c->err;
}

int64_t nmc_max_payload(const nmc_conn_t *c) {
  return c->max_payload;
}

const char *nmc_connected_url(const nmc_conn_t *c) {
  return nmc__connected(c) ? c->servers[c->cur].url : "";
}

uint64_t nmc_unknown_sid_drops(const nmc_conn_t *c) {
  return c->unknown_sid_drops;
}

uint64_t nmc_reconnects(const nmc_conn_t *c) {
  return c->reconnects;
}
