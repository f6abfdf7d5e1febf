/* What the server does with each client op, as nats-server 2.9.10 does it:
 * CONNECT (options, auth, protocol checks), PUB/HPUB, SUB, UNSUB, PING,
 * PONG, and the reaction to every parser error. The per-connection sid table
 * lives here too. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nm_server_int.h"
#include "nm_subject.h"

#define NM_SID_MIN_BUCKETS 16
/* nats-server has no default cap on subscriptions; natsmock bounds what
 * one connection can make it hold, with nats-server's max_subs answer. */
#define NM_MAX_SUBS_PER_CONN (1u << 20)
/* A connection's sid table stops doubling here; chains just get longer. */
#define NM_SID_MAX_BUCKETS (1u << 20)

/* ---- sid table ---- */

static nm__sub_t *sid_find(nm_conn_t *c, nm_slice_t sid, uint32_t h) {
  nm__sub_t *s;
  if (c->sids == NULL)
    return NULL;
  for (s = c->sids[h & (c->nsid_buckets - 1)]; s; s = s->sid_next)
    if (s->sid_hash == h && s->sid.n == sid.n &&
        memcmp(s->sid.p, sid.p, sid.n) == 0)
      return s;
  return NULL;
}

static int sid_insert(nm_conn_t *c, nm__sub_t *sub) {
  if (c->sids == NULL) {
    c->sids = calloc(NM_SID_MIN_BUCKETS, sizeof(*c->sids));
    if (c->sids == NULL)
      return NM_ENOMEM;
    c->nsid_buckets = NM_SID_MIN_BUCKETS;
  } else if (c->nsubs >= c->nsid_buckets &&
             c->nsid_buckets < NM_SID_MAX_BUCKETS) {
    size_t nb = c->nsid_buckets * 2, i;
    nm__sub_t **b = calloc(nb, sizeof(*b));
    if (b != NULL) {
      for (i = 0; i < c->nsid_buckets; i++) {
        nm__sub_t *s = c->sids[i];
        while (s) {
          nm__sub_t *n = s->sid_next;
          s->sid_next = b[s->sid_hash & (nb - 1)];
          b[s->sid_hash & (nb - 1)] = s;
          s = n;
        }
      }
      free(c->sids);
      c->sids = b;
      c->nsid_buckets = nb;
    }
  }
  sub->sid_next = c->sids[sub->sid_hash & (c->nsid_buckets - 1)];
  c->sids[sub->sid_hash & (c->nsid_buckets - 1)] = sub;
  c->nsubs++;
  return 0;
}

/* Unlinks a sub from routing and from its connection. Freed later by the
 * server, so a publish that is walking a match list never sees freed memory. */
static void sub_remove(nm_conn_t *c, nm__sub_t *sub) {
  nm__sub_t **pp = &c->sids[sub->sid_hash & (c->nsid_buckets - 1)];
  while (*pp != sub)
    pp = &(*pp)->sid_next;
  *pp = sub->sid_next;
  c->nsubs--;
  nm__sublist_remove(&c->srv->subs, sub);
  sub->conn = NULL;
  sub->ix_next = c->srv->dead;
  c->srv->dead = sub;
}

void nm__conn_remove_sub(nm_conn_t *c, nm__sub_t *sub) {
  sub_remove(c, sub);
  if (c->srv->route_depth == 0)
    nm__server_free_dead(c->srv);
}

void nm__conn_clear_subs(nm_conn_t *c) {
  size_t i;
  for (i = 0; i < c->nsid_buckets && c->nsubs > 0; i++)
    while (c->sids[i])
      sub_remove(c, c->sids[i]);
  if (c->srv->route_depth == 0)
    nm__server_free_dead(c->srv);
}

/* ---- CONNECT ---- */

/* Go's encoding/json, which nats-server uses, matches keys case-insensitively
 * and refuses anything but blanks after the value. */
static cJSON *parse_json(nm_slice_t j) {
  const char *end = NULL;
  cJSON *o;
  if (j.n == 0 || !nm__json_valid(j))
    return NULL;
  o = cJSON_ParseWithLengthOpts(j.p, j.n, &end, 0);
  if (o == NULL) {
    /* Valid by Go's rules but refused by cJSON: a lone surrogate escape,
     * which Go decodes to U+FFFD. */
    char *mended = nm__json_mend_surrogates(j);
    if (mended)
      o = cJSON_ParseWithLengthOpts(mended, j.n, NULL, 0);
    free(mended);
    return o; /* nm__json_valid already refused anything after the value */
  }
  for (; end && end < j.p + j.n; end++)
    if (*end != ' ' && *end != '\t' && *end != '\r' && *end != '\n') {
      cJSON_Delete(o);
      return NULL;
    }
  return o;
}

/* A field that JSON-decodes into a Go bool: absent or null keeps the value,
 * any other type fails the whole CONNECT. */
/* Go decodes every occurrence of a key in order, so with duplicate keys the
 * last one wins and a mistyped one anywhere fails the decode; null leaves
 * the value as it was. Keys match case-insensitively. */
typedef enum { J_BOOL, J_STR } jtype_t;

static int get_field(cJSON *o, const char *k, jtype_t t, void *v) {
  cJSON *it;
  for (it = o->child; it; it = it->next) {
    if (it->string == NULL || strcasecmp(it->string, k) != 0 ||
        cJSON_IsNull(it))
      continue;
    if (t == J_BOOL) {
      if (!cJSON_IsBool(it))
        return -1;
      *(int *)v = cJSON_IsTrue(it);
    } else {
      if (!cJSON_IsString(it))
        return -1;
      *(const char **)v = it->valuestring;
    }
  }
  return 0;
}

static int get_bool(cJSON *o, const char *k, int *v) {
  return get_field(o, k, J_BOOL, v);
}

static int get_str(cJSON *o, const char *k, const char **v) {
  return get_field(o, k, J_STR, v);
}

/* A Go int (64-bit): the literal itself must be an integer ("1.0", "1e0"
 * fail) within int64; cJSON keeps only a double, so the raw text is read. */
static int get_int64(cJSON *o, nm_slice_t j, const char *k, int64_t *v) {
  cJSON *it;
  size_t idx = 0;
  for (it = o->child; it; it = it->next, idx++) {
    nm_slice_t raw;
    size_t i = 0;
    uint64_t acc = 0, lim;
    int neg;
    if (it->string == NULL || strcasecmp(it->string, k) != 0 ||
        cJSON_IsNull(it))
      continue;
    if (!cJSON_IsNumber(it) || nm__json_member_raw(j, idx, &raw) < 0)
      return -1;
    neg = raw.n > 0 && raw.p[0] == '-';
    i = (size_t)neg;
    lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (i >= raw.n)
      return -1;
    for (; i < raw.n; i++) {
      if (raw.p[i] < '0' || raw.p[i] > '9')
        return -1;
      if (acc > (lim - (uint64_t)(raw.p[i] - '0')) / 10)
        return -1;
      acc = acc * 10 + (uint64_t)(raw.p[i] - '0');
    }
    *v = neg ? (int64_t)(0 - acc) : (int64_t)acc;
  }
  return 0;
}

/* Fields natsmock does not use still fail the decode when mistyped. */
static int other_fields_bad(cJSON *o) {
  static const char *const strs[] = {"name", "lang", "version", "sig",
                                     "jwt",  "nkey", NULL};
  const char *sv;
  int i, bv;
  for (i = 0; strs[i]; i++)
    if (get_str(o, strs[i], &sv) < 0)
      return 1;
  return get_bool(o, "tls_required", &bv) < 0;
}

static int empty(const char *s) {
  return s == NULL || s[0] == 0;
}

static int keep_cred(char **slot, const char *v);

/* A string option of the CONNECT kept for /connz (lang, version). */
static void keep_str_field(const cJSON *o, const char *name, char **slot) {
  const cJSON *v =
      cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, name) : NULL;
  if (cJSON_IsString(v))
    (void)keep_cred(slot, v->valuestring);
}

/* processClientOrLeafAuthentication: the users list first (a CONNECT with
 * no credentials at all is no_auth_user, for this and later CONNECTs), then
 * the single token or user/password. Sets c->perms. Also used by a config
 * reload (reload.c) to re-check a connected client. */
int nm__conn_authenticate(nm_conn_t *c) {
  nm_server_t *s = c->srv;
  const nm__perm_t *perms = NULL;
  int r;
  c->perms = NULL;
  c->perm_deliver = 0;
  c->mock_anon = 0;
  if (!nm__auth_required(s->auth, &s->opts))
    return 1;
  if (nm__auth_has_users(s->auth) && s->opts.no_auth_user && empty(c->user) &&
      empty(c->pass) && empty(c->token)) {
    /* Let in without credentials: not an authenticated user for $MOCK. */
    c->mock_anon = 1;
    const char *pw = nm__auth_password(s->auth, s->opts.no_auth_user);
    if (pw && (keep_cred(&c->user, s->opts.no_auth_user) < 0 ||
               keep_cred(&c->pass, pw) < 0))
      return 0;
  }
  r = nm__auth_check(s->auth, &s->opts, c->user, c->pass, c->token, &perms);
  c->perms = r ? perms : NULL;
  c->perm_deliver = nm__perm_tracks_replies(c->perms) || c->deny_filter;
  return r;
}

static int keep_cred(char **slot, const char *v) {
  char *d;
  if (v == NULL)
    return 0;
  d = strdup(v);
  if (d == NULL)
    return NM_ENOMEM;
  free(*slot);
  *slot = d;
  return 0;
}

static void close_silent(nm_conn_t *c, const char *why) {
  nm__conn_close(c, NM_CLOSE_FLUSH, why);
}

static void close_err(nm_conn_t *c, const char *text) {
  nm__conn_send_err(c, text);
  nm__conn_close(c, NM_CLOSE_FLUSH, text);
}

static void handle_connect(nm_conn_t *c, const nm_frame_t *f) {
  cJSON *o = parse_json(f->json);
  int verbose = c->verbose, pedantic = c->pedantic, echo = c->echo;
  int headers = c->headers, nr = c->no_responders;
  int64_t proto = c->protocol;
  const char *user = NULL, *pass = NULL, *token = NULL, *acc = NULL;
  const char *name = NULL;
  int acc_new = 0, first = !(c->flags & NM_CF_CONNECTED);
  unsigned pf;

  /* nats-server counts a CONNECT as activity and takes its delay since the
   * accept as a first round trip (so only the first server PING is sent
   * whatever the client does; see keepalive.c). */
  c->last_in_ms = nm__now_ms(c->srv);
  c->flags |= NM_CF_RTT;
  if (c->rtt_ns == 0)
    c->rtt_ns = (int64_t)(uv_hrtime() - c->start_hr);
  /* JSON null decodes to nothing in Go: the options stay as they are. */
  if (o == NULL || !(cJSON_IsObject(o) || cJSON_IsNull(o))) {
    cJSON_Delete(o);
    close_silent(c, "invalid CONNECT json");
    return;
  }
  if (cJSON_IsObject(o) &&
      (get_bool(o, "verbose", &verbose) < 0 ||
       get_bool(o, "pedantic", &pedantic) < 0 ||
       get_bool(o, "echo", &echo) < 0 || get_bool(o, "headers", &headers) < 0 ||
       get_bool(o, "no_responders", &nr) < 0 ||
       get_int64(o, f->json, "protocol", &proto) < 0 ||
       get_str(o, "user", &user) < 0 || get_str(o, "pass", &pass) < 0 ||
       get_str(o, "auth_token", &token) < 0 ||
       get_str(o, "account", &acc) < 0 || get_str(o, "name", &name) < 0 ||
       get_bool(o, "new_account", &acc_new) < 0 || other_fields_bad(o))) {
    cJSON_Delete(o);
    close_silent(c, "invalid CONNECT field");
    return;
  }
  c->verbose = verbose;
  c->pedantic = pedantic;
  c->echo = echo;
  c->headers = headers;
  c->no_responders = nr;
  c->protocol = (int)(proto == 0 || proto == 1 ? proto : 2);
  c->flags |= NM_CF_CONNECTED;
  pf = nm_parser_flags(&c->parser);
  pf = headers ? (pf | NM_PARSER_HEADERS) : (pf & ~NM_PARSER_HEADERS);
  nm_parser_set_flags(&c->parser, pf);

  /* Every CONNECT is authenticated, with credentials left out of it kept
   * from the previous one (nats-server decodes each CONNECT over the
   * connection's current options). */
  if (keep_cred(&c->user, user) < 0 || keep_cred(&c->pass, pass) < 0 ||
      keep_cred(&c->token, token) < 0 || keep_cred(&c->client_name, name) < 0) {
    cJSON_Delete(o);
    nm__conn_close(c, NM_CLOSE_FIN, "out of memory");
    return;
  }
  if (!nm__conn_authenticate(c) || acc_new || (acc && acc[0])) {
    cJSON_Delete(o);
    close_err(c, "Authorization Violation");
    return;
  }
  keep_str_field(o, "lang", &c->lang);
  keep_str_field(o, "version", &c->version);
  cJSON_Delete(o);
  if (first) {
    uv_timer_stop(&c->auth_timer);
    nm_parser_set_flags(&c->parser, nm_parser_flags(&c->parser) &
                                        ~NM_PARSER_EXPECT_CONNECT);
  }
  if (proto < 0 || proto > 1) {
    close_err(c, "invalid client protocol");
    return;
  }
  if (nr && !headers) {
    close_err(c, "no responders requires headers support");
    return;
  }
  if (verbose)
    nm__conn_send_simple(c, NM_OP_OK);
  nm__keepalive_on_connect(c);
}

/* ---- PUB, SUB, UNSUB ---- */

/* The last blank-separated token of line[0..end), e.g. a PUB's size. */
static nm_slice_t last_token(nm_slice_t line, size_t end) {
  size_t e = end, b;
  while (e > 0 && (line.p[e - 1] == ' ' || line.p[e - 1] == '\t' ||
                   line.p[e - 1] == '\r'))
    e--;
  b = e;
  while (b > 0 && line.p[b - 1] != ' ' && line.p[b - 1] != '\t')
    b--;
  return (nm_slice_t){line.p + b, e - b};
}

/* nats-server checks a PUB's subject when its control line is parsed. When
 * the read ends inside the payload, it parses the arguments once more (to
 * copy them out of the read buffer), and the pedantic -ERR comes twice. */
void nm__conn_read_done(nm_conn_t *c) {
  const nm_frame_t *pf = nm_parser_pending_payload(&c->parser);
  /* A client's HMSG whose (empty) payload has not wholly arrived: 2.9.10
   * parses the pending message's arguments again here, finds none it can
   * use, and fails the connection as a parse error. */
  if (pf != NULL && pf->op == NM_OP_HMSG) {
    close_err(c, "Unknown Protocol Operation");
    return;
  }
  if (pf == NULL || c->pub_checked ||
      (pf->op != NM_OP_PUB && pf->op != NM_OP_HPUB))
    return;
  c->pub_checked = 1;
  if (c->pedantic && !nm_subject_valid_literal(pf->subject)) {
    nm__conn_send_err(c, "Invalid Publish Subject");
    nm__conn_send_err(c, "Invalid Publish Subject");
  }
}

/* "Permissions Violation for Publish to \"x\"", quoted as Go's %q. */
static void pub_violation(nm_conn_t *c, const char *what, nm_slice_t subj) {
  char text[NM_PERM_ERR_MAX];
  snprintf(text, sizeof(text), "Permissions Violation for %s \"%.*s\"", what,
           (int)(subj.n > NM_PERM_ERR_MAX / 2 ? NM_PERM_ERR_MAX / 2 : subj.n),
           subj.p);
  nm__conn_send_err(c, text);
}

/* isReservedReply: service import replies (_R_.), JetStream acks
 * ($JS.ACK.), gateway-routed replies (_GR_.). */
static int reserved_reply(nm_slice_t r) {
  return (r.n > 3 && !memcmp(r.p, "_R_.", 4)) ||
         (r.n > 8 && !memcmp(r.p, "$JS.ACK.", 8)) ||
         (r.n > 5 && !memcmp(r.p, "_GR_.", 5));
}

static void handle_pub(nm_conn_t *c, const nm_frame_t *f) {
  nm_server_t *s = c->srv;
  uint64_t now = nm__now_ms(s);
  c->last_in_ms = now;
  /* nats-server counts every PUB it reads, before any check (/connz). */
  c->in_msgs++;
  c->in_bytes += f->payload.n;
  s->in_msgs++;
  s->in_bytes += f->payload.n;
  if (!c->pub_checked_now && c->pedantic &&
      !nm_subject_valid_literal(f->subject))
    nm__conn_send_err(c, "Invalid Publish Subject");
  /* processInboundClientMsg, for every client: the gateway prefix on the
   * subject, the publish permission, the reserved reply prefixes. A
   * violation gets no +OK and goes nowhere. */
  if ((f->subject.n > 5 && !memcmp(f->subject.p, "_GR_.", 5)) ||
      (c->perms && !nm__perm_pub(c->perms, &c->replies, f->subject, now))) {
    pub_violation(c, "Publish to", f->subject);
    return;
  }
  if (reserved_reply(f->reply)) {
    pub_violation(c, "Publish with Reply of", f->reply);
    return;
  }
  if (c->verbose)
    nm__conn_send_simple(c, NM_OP_OK);
  /* The control plane (docs/faults.md): off with --no_mock_control (then
   * $MOCK.> is routed like any subject); with auth configured, only for a
   * connection that authenticated with credentials of its own. */
  if (f->subject.n > 0 && f->subject.p[0] == '$' &&
      nm_faults_control_on(s->faults) && nm_faults_is_control(f->subject)) {
    if (c->mock_anon)
      nm_faults_control_deny(s->faults, f->reply,
                             "$MOCK requests need an authenticated user (a "
                             "connection let in as no_auth_user is not one)");
    else
      nm_faults_control(s->faults, (nm_hconn_t *)c, f->subject, f->reply,
                        f->payload);
    return;
  }
  {
    nm_slice_t size_txt = last_token(f->line, f->line.n), hdr_txt = {NULL, 0};
    if (f->op == NM_OP_HPUB)
      hdr_txt = last_token(f->line, (size_t)(size_txt.p - f->line.p));
    nm__route(s, c, f->subject, f->reply, f->hdr_len, f->payload, hdr_txt,
              size_txt);
  }
}

static void handle_sub(nm_conn_t *c, const nm_frame_t *f) {
  nm_server_t *s = c->srv;
  uint32_t h = nm__hash(f->sid.p, f->sid.n);
  nm__sub_t *sub;
  size_t n;
  char *d;

  c->last_in_ms = nm__now_ms(s);
  /* processSub: the subscribe permission before anything else; a violation
   * gets no +OK. */
  if (c->perms) {
    int deny_filter = c->deny_filter;
    if (!nm__perm_sub(c->perms, f->subject, f->queue, &deny_filter)) {
      char text[NM_PERM_ERR_MAX];
      size_t sn = f->subject.n > NM_PERM_ERR_MAX / 3 ? NM_PERM_ERR_MAX / 3
                                                     : f->subject.n;
      size_t qn =
          f->queue.n > NM_PERM_ERR_MAX / 3 ? NM_PERM_ERR_MAX / 3 : f->queue.n;
      if (f->queue.n)
        snprintf(text, sizeof(text),
                 "Permissions Violation for Subscription to \"%.*s\" using "
                 "queue \"%.*s\"",
                 (int)sn, f->subject.p, (int)qn, f->queue.p);
      else
        snprintf(text, sizeof(text),
                 "Permissions Violation for Subscription to \"%.*s\"", (int)sn,
                 f->subject.p);
      nm__conn_send_err(c, text);
      return;
    }
    if (deny_filter && !c->deny_filter) {
      c->deny_filter = 1;
      c->perm_deliver = 1;
    }
  }
  /* The limit comes first: at it, even a duplicate sid or a bad subject
   * gets this -ERR (checked against 2.9.10). */
  if (c->nsubs >= (s->opts.max_subs > 0 ? (size_t)s->opts.max_subs
                                        : NM_MAX_SUBS_PER_CONN)) {
    nm__conn_send_err(c, "maximum subscriptions exceeded");
    return;
  }
  /* A duplicate sid is ignored before the subject is even looked at. */
  if (sid_find(c, f->sid, h) == NULL) {
    if (!nm_subject_valid(f->subject)) {
      nm__conn_send_err(c, "Invalid Subject");
      return;
    }
    n = f->subject.n + f->queue.n + f->sid.n;
    sub = malloc(sizeof(*sub) + (n ? n : 1));
    if (sub == NULL) {
      nm__conn_close(c, NM_CLOSE_FIN, "out of memory");
      return;
    }
    memset(sub, 0, sizeof(*sub));
    d = sub->data;
    memcpy(d, f->subject.p, f->subject.n);
    sub->subject = (nm_slice_t){d, f->subject.n};
    d += f->subject.n;
    if (f->queue.n) /* queue.p is NULL when absent: memcpy(NULL) is UB */
      memcpy(d, f->queue.p, f->queue.n);
    sub->queue = (nm_slice_t){d, f->queue.n};
    d += f->queue.n;
    memcpy(d, f->sid.p, f->sid.n);
    sub->sid = (nm_slice_t){d, f->sid.n};
    sub->sid_hash = h;
    sub->conn = c;
    if (nm__sublist_insert(&s->subs, sub) < 0 || sid_insert(c, sub) < 0) {
      if (sub->node)
        nm__sublist_remove(&s->subs, sub);
      free(sub);
      nm__conn_close(c, NM_CLOSE_FIN, "out of memory");
      return;
    }
  }
  if (c->verbose)
    nm__conn_send_simple(c, NM_OP_OK);
}

static void handle_unsub(nm_conn_t *c, const nm_frame_t *f) {
  nm__sub_t *sub = sid_find(c, f->sid, nm__hash(f->sid.p, f->sid.n));
  c->last_in_ms = nm__now_ms(c->srv);
  if (sub) {
    int64_t max = f->max.n ? nm_parse_size(f->max) : 0;
    /* A max above what was already delivered is recorded; anything else
     * (none, 0, junk, already reached) unsubscribes at once. */
    if (max > 0 && (uint64_t)max > sub->delivered)
      sub->max = (uint64_t)max;
    else
      nm__conn_remove_sub(c, sub);
  }
  if (c->verbose)
    nm__conn_send_simple(c, NM_OP_OK);
}

/* ---- dispatch ---- */

void nm__conn_handle_frame(nm_conn_t *c, const nm_frame_t *f) {
  if (c->flags & NM_CF_CLOSING)
    return;
  switch (f->op) {
  case NM_OP_CONNECT:
    handle_connect(c, f);
    break;
  case NM_OP_PUB:
  case NM_OP_HPUB:
    handle_pub(c, f);
    break;
  case NM_OP_SUB:
    handle_sub(c, f);
    break;
  case NM_OP_UNSUB:
    handle_unsub(c, f);
    break;
  case NM_OP_PING:
    c->last_ping_ms = nm__now_ms(c->srv);
    nm__conn_send_simple(c, NM_OP_PONG);
    if (c->flags & NM_CF_CONNECTED)
      c->flags |= NM_CF_PONGED;
    break;
  case NM_OP_PONG:
    /* Any PONG, asked for or not, gives nats-server a round trip. */
    c->flags |= NM_CF_RTT;
    if (c->ping_sent_ms)
      c->rtt_ns = (int64_t)(nm__now_ms(c->srv) - c->ping_sent_ms) * 1000000;
    c->ping_out = 0;
    break;
  case NM_OP_INFO: {
    /* A client's INFO is decoded and ignored; bad JSON closes silently. */
    cJSON *o = parse_json(f->json);
    if (o == NULL)
      close_silent(c, "invalid INFO json");
    cJSON_Delete(o);
    break;
  }
  case NM_OP_ERR:
    close_silent(c, "client sent -ERR");
    break;
  case NM_OP_HMSG:
    /* A client's HMSG (a quirk: see nm_parser.h) is an inbound message to
     * 2.9.10, with no subject: activity, +OK under verbose, no delivery. */
    c->last_in_ms = nm__now_ms(c->srv);
    if (c->verbose)
      nm__conn_send_simple(c, NM_OP_OK);
    break;
  default: /* +OK and anything else a client may send is ignored */
    break;
  }
}

/* The frame's wire form, rebuilt for the observer and the fault engine
 * (the parser hands out its pieces, not one contiguous span). */
static nm_slice_t frame_bytes(nm_server_t *s, const nm_frame_t *f) {
  nm_buf_t *b = &s->in_scratch;
  nm_buf_clear(b);
  if (nm_buf_append(b, f->line.p, f->line.n) < 0 ||
      nm_buf_append(b, "\r\n", 2) < 0)
    return (nm_slice_t){NULL, 0};
  if (f->op == NM_OP_PUB || f->op == NM_OP_HPUB)
    if (nm_buf_append(b, f->payload.p, f->payload.n) < 0 ||
        nm_buf_append(b, "\r\n", 2) < 0)
      return (nm_slice_t){NULL, 0};
  return (nm_slice_t){b->base, b->len};
}

int nm__conn_on_frame(nm_parser_t *p, const nm_frame_t *f) {
  nm_conn_t *c = p->data;
  nm_server_t *s = c->srv;
  int faults = nm_faults_active(s->faults);
  int checked = c->pub_checked;

  c->pub_checked = 0;

  if (c->flags & NM_CF_CLOSING)
    return 1;
  if (s->obs || faults) {
    nm_slice_t bytes = frame_bytes(s, f);
    if (s->obs) {
      nm_obs_event_t ev;
      memset(&ev, 0, sizeof(ev));
      ev.kind = NM_OBS_IN;
      ev.conn_id = c->id;
      ev.t_us = uv_hrtime() / 1000;
      ev.frame = f;
      ev.bytes = bytes;
      s->obs(s->obs_data, &ev);
    }
    if (faults && nm_faults_frame(s->faults, (nm_hconn_t *)c, NM_DIR_IN, f,
                                  bytes) == NM_FAULT_TAKEN)
      return (c->flags & NM_CF_CLOSING) ? 1 : 0;
  }
  /* The pending-payload check belongs to this frame only, and only when it
   * is handled straight from the parser. */
  c->pub_checked_now = checked;
  nm__conn_handle_frame(c, f);
  c->pub_checked_now = 0;
  return (c->flags & NM_CF_CLOSING) ? 1 : 0;
}

void nm__conn_parser_error(nm_conn_t *c) {
  switch (nm_parser_error(&c->parser)) {
  case NM_PERR_UNKNOWN_OP:
    close_err(c, "Unknown Protocol Operation");
    break;
  case NM_PERR_CONTROL_LINE:
    close_err(c, "maximum control line exceeded");
    break;
  case NM_PERR_MAX_PAYLOAD:
    close_err(c, "Maximum Payload Violation");
    break;
  case NM_PERR_AUTH:
    close_err(c, "Authorization Violation");
    break;
  case NM_PERR_BAD_ARGS:
    close_silent(c, "protocol violation (arguments)");
    break;
  case NM_PERR_HEADERS_OFF:
    close_silent(c, "message headers not supported");
    break;
  default:
    close_silent(c, "parser error");
    break;
  }
}
