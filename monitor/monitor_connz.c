/* /connz: nats-server 2.9.10's Connz for the client connections, open and
 * closed (the last NM_MON_MAX_CLOSED, monitor_closed.c), with its options
 * (sort, auth, subs=1|detail, offset, limit, cid, state) and its answers to
 * bad ones. */
#define _GNU_SOURCE /* qsort_r */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "monitor_int.h"

/* nats-server's default page (DefaultConnListSize). */
#define NM_CONNZ_DEFAULT_LIMIT 1024

typedef enum { ST_OPEN, ST_CLOSED, ST_ALL } conn_state_t;

enum {
  BY_CID,
  BY_START,
  BY_SUBS,
  BY_PENDING,
  BY_MSGS_TO,
  BY_MSGS_FROM,
  BY_BYTES_TO,
  BY_BYTES_FROM,
  BY_LAST,
  BY_IDLE,
  BY_UPTIME,
  BY_STOP,
  BY_REASON
};
static const char *const kSorts[] = {
    "cid",       "start",    "subs",       "pending", "msgs_to",
    "msgs_from", "bytes_to", "bytes_from", "last",    "idle",
    "uptime",    "stop",     "reason",     NULL};

typedef struct {
  int key;
  uint64_t now;
} sort_ctx_t;

static uint64_t field(const nm__mon_cinfo_t *c, const sort_ctx_t *x) {
  switch (x->key) {
  case BY_SUBS:
    return c->nsubs;
  case BY_PENDING:
    return c->pending;
  case BY_MSGS_TO:
    return c->out_msgs;
  case BY_MSGS_FROM:
    return c->in_msgs;
  case BY_BYTES_TO:
    return c->out_bytes;
  case BY_BYTES_FROM:
    return c->in_bytes;
  case BY_LAST:
    return c->last_ns;
  case BY_IDLE: /* idle (now, or stop, minus last): the longest first */
    return (c->stop_ns ? c->stop_ns : x->now) - c->last_ns;
  case BY_UPTIME: /* byUptime is ascending: the youngest first */
    return UINT64_MAX - ((c->stop_ns ? c->stop_ns : x->now) - c->start_ns);
  case BY_STOP:
    return c->stop_ns;
  default:
    return 0;
  }
}

/* Descending by the key (ascending by cid for cid/start, by reason text for
 * reason), the cid breaking ties so the order is stable. */
static int cmp_rows(const void *a, const void *b, void *ctx) {
  const nm__mon_cinfo_t *x = *(nm__mon_cinfo_t *const *)a;
  const nm__mon_cinfo_t *y = *(nm__mon_cinfo_t *const *)b;
  const sort_ctx_t *sc = ctx;
  if (sc->key == BY_REASON) {
    int r = strcmp(x->reason ? x->reason : "", y->reason ? y->reason : "");
    if (r)
      return r;
  } else if (sc->key != BY_CID && sc->key != BY_START) {
    uint64_t fx = field(x, sc), fy = field(y, sc);
    if (fx != fy)
      return fx > fy ? -1 : 1;
  }
  return x->cid < y->cid ? -1 : x->cid > y->cid;
}

static void open_info(nm__mon_cinfo_t *ci, const nm_conn_t *c) {
  memset(ci, 0, sizeof(*ci));
  ci->open = c;
  ci->cid = c->id;
  memcpy(ci->ip, c->ip, sizeof(ci->ip));
  ci->port = c->port;
  ci->start_ns = c->start_wall_ns;
  ci->last_ns = nm__mon_last_ns(c);
  ci->rtt_ns = c->rtt_ns;
  ci->pending = nm__conn_pending(c);
  ci->in_msgs = c->in_msgs;
  ci->out_msgs = c->out_msgs;
  ci->in_bytes = c->in_bytes;
  ci->out_bytes = c->out_bytes;
  ci->nsubs = c->nsubs;
  ci->name = c->client_name;
  ci->lang = c->lang;
  ci->version = c->version;
  ci->user = c->user && c->user[0] ? c->user : c->token;
}

/* A closed connection's kept string (NULL when it could not be kept). */
static nm_slice_t slice_of(const char *s) {
  return s ? (nm_slice_t){s, strlen(s)} : (nm_slice_t){"", 0};
}

/* `closed`: nats-server keeps a closed connection's subscriptions with
 * their account (newSubDetail), an open one's without (newClientSubDetail). */
static void one_sub(nm__jw_t *w, int detail, int closed, uint64_t cid,
                    nm_slice_t subject, nm_slice_t queue, nm_slice_t sid,
                    uint64_t msgs, uint64_t max) {
  if (!detail) {
    nm__jw_strn(w, NULL, subject.p, subject.n);
    return;
  }
  nm__jw_obj(w, NULL);
  if (closed)
    nm__jw_str(w, "account", "$G");
  nm__jw_strn(w, "subject", subject.p, subject.n);
  if (queue.n > 0)
    nm__jw_strn(w, "qgroup", queue.p, queue.n);
  nm__jw_strn(w, "sid", sid.p, sid.n);
  nm__jw_uint(w, "msgs", msgs);
  if (max > 0)
    nm__jw_uint(w, "max", max);
  nm__jw_uint(w, "cid", cid);
  nm__jw_end_obj(w);
}

static void sub_list(nm__jw_t *w, const nm__mon_cinfo_t *ci, int detail) {
  nm__jw_arr(w, detail ? "subscriptions_list_detail" : "subscriptions_list");
  if (ci->open) {
    const nm_conn_t *c = ci->open;
    for (size_t i = 0; i < c->nsid_buckets; i++) {
      for (const nm__sub_t *s = c->sids[i]; s != NULL; s = s->sid_next)
        one_sub(w, detail, 0, ci->cid, s->subject, s->queue, s->sid,
                s->delivered, s->max);
    }
  } else {
    for (size_t i = 0; i < ci->nkept; i++) {
      const nm__mon_sub_t *s = &ci->subs[i];
      one_sub(w, detail, 1, ci->cid, slice_of(s->subject), slice_of(s->queue),
              slice_of(s->sid), s->msgs, s->max);
    }
  }
  nm__jw_end_arr(w);
}

static void conn_info(nm__jw_t *w, nm__mon_cinfo_t *ci, uint64_t now, int auth,
                      int subs, int detail) {
  uint64_t end = ci->stop_ns ? ci->stop_ns : now;
  char t[64];
  nm__jw_obj(w, NULL);
  nm__jw_uint(w, "cid", ci->cid);
  nm__jw_str(w, "kind", "Client");
  nm__jw_str(w, "type", "nats");
  nm__jw_str(w, "ip", ci->ip);
  nm__jw_int(w, "port", ci->port);
  nm__go_time(ci->start_ns, t, sizeof(t));
  nm__jw_str(w, "start", t);
  nm__go_time(ci->last_ns, t, sizeof(t));
  nm__jw_str(w, "last_activity", t);
  if (ci->stop_ns) {
    nm__go_time(ci->stop_ns, t, sizeof(t));
    nm__jw_str(w, "stop", t);
    if (ci->reason && ci->reason[0])
      nm__jw_str(w, "reason", ci->reason);
  }
  nm__go_rtt(ci->rtt_ns, t, sizeof(t));
  nm__jw_str(w, "rtt", t);
  nm__go_uptime(end > ci->start_ns ? end - ci->start_ns : 0, t, sizeof(t));
  nm__jw_str(w, "uptime", t);
  nm__go_uptime(end > ci->last_ns ? end - ci->last_ns : 0, t, sizeof(t));
  nm__jw_str(w, "idle", t);
  nm__jw_uint(w, "pending_bytes", ci->pending);
  nm__jw_uint(w, "in_msgs", ci->in_msgs);
  nm__jw_uint(w, "out_msgs", ci->out_msgs);
  nm__jw_uint(w, "in_bytes", ci->in_bytes);
  nm__jw_uint(w, "out_bytes", ci->out_bytes);
  nm__jw_uint(w, "subscriptions", ci->nsubs);
  if (ci->name && ci->name[0])
    nm__jw_decoded_str(w, "name", ci->name);
  if (ci->lang && ci->lang[0])
    nm__jw_decoded_str(w, "lang", ci->lang);
  if (ci->version && ci->version[0])
    nm__jw_decoded_str(w, "version", ci->version);
  /* getRawAuthUser: the user name, else the token. */
  if (auth && ci->user && ci->user[0])
    nm__jw_decoded_str(w, "authorized_user", ci->user);
  if (ci->open == NULL && detail && ci->nkept > 0)
    ci->detail_stuck = 1;
  if (ci->nsubs > 0 && subs && !detail)
    sub_list(w, ci, 0);
  if (ci->nsubs > 0 && (detail || ci->detail_stuck))
    sub_list(w, ci, 1);
  nm__jw_end_obj(w);
}

/* getRawAuthUser == the user= filter (which may hold a NUL: none matches). */
static int user_is(const nm__mon_cinfo_t *ci, const char *user, size_t n) {
  const char *u = ci->user ? ci->user : "";
  return strlen(u) == n && memcmp(u, user, n) == 0;
}

static void fail_500(nm_http_resp_t *resp) {
  resp->status = 500;
  resp->sniffed = 1;
  (void)nm_buf_append_str(&resp->body, "out of memory");
}

void nm__mon_connz(void *data, const nm_http_req_t *req, nm_http_resp_t *resp) {
  nm_monitor_t *m = data;
  nm_server_t *s = m->srv;
  char sv[32], t[64];
  char *sort = NULL, *st = NULL, *user = NULL;
  size_t sort_len = 0, st_len = 0, user_len = 0;
  int auth = 0, subs = 0, detail = 0;
  long long offset = 0, limit = 0, total = 0;
  unsigned long long cid = 0;
  conn_state_t state = ST_OPEN;
  nm__mon_cinfo_t *open = NULL;
  nm__mon_cinfo_t **rows = NULL;
  size_t n = 0, nopen = 0;
  sort_ctx_t sc = {BY_CID, nm__wall_ns()};
  nm_buf_t b;
  nm__jw_t w;

  /* The options in nats-server's order (HandleConnz), each value whole. */
  if (nm__mon_query(req, resp, "sort", &sort, &sort_len) < 0)
    return;
  if (nm__mon_bool(req, resp, "auth", &auth) < 0)
    goto done;
  detail = nm_http_query_get(req->query, "subs", sv, sizeof(sv)) &&
           strcasecmp(sv, "detail") == 0;
  if (!detail && nm__mon_bool(req, resp, "subs", &subs) < 0)
    goto done;
  if (nm__mon_int(req, resp, "offset", &offset) < 0 ||
      nm__mon_int(req, resp, "limit", &limit) < 0 ||
      nm__mon_uint(req, resp, "cid", &cid) < 0 ||
      nm__mon_query(req, resp, "state", &st, &st_len) < 0 ||
      nm__mon_query(req, resp, "user", &user, &user_len) < 0)
    goto done;
  if (user && user_len == 0) {
    free(user);
    user = NULL;
  }
  if (st_len > 0) {
    /* A NUL inside matches no state name. */
    int whole = strlen(st) == st_len;
    if (whole && strcasecmp(st, "open") == 0)
      state = ST_OPEN;
    else if (whole && strcasecmp(st, "closed") == 0)
      state = ST_CLOSED;
    else if (whole &&
             (strcasecmp(st, "any") == 0 || strcasecmp(st, "all") == 0))
      state = ST_ALL;
    else {
      nm__mon_bad_value(resp, "Error decoding state for ", st, st_len);
      goto done;
    }
  }
  m->req_stats[NM_MON_CONNZ]++;
  if (sort_len > 0) {
    for (sc.key = 0; kSorts[sc.key] && (strlen(kSorts[sc.key]) != sort_len ||
                                        memcmp(kSorts[sc.key], sort, sort_len));
         sc.key++)
      ;
    if (kSorts[sc.key] == NULL) {
      nm__mon_bad_value(resp, "invalid sorting option: ", sort, sort_len);
      goto done;
    }
  }
  if (sc.key == BY_STOP && state != ST_CLOSED) {
    nm__mon_bad(resp, "sort by stop only valid on closed connections");
    goto done;
  }
  if (sc.key == BY_REASON && state != ST_CLOSED) {
    nm__mon_bad(resp, "sort by reason only valid on closed connections");
    goto done;
  }
  if (offset < 0)
    offset = 0;
  if (limit <= 0)
    limit = NM_CONNZ_DEFAULT_LIMIT;
  if (cid > 0)
    limit = 1;

  /* total: every connection of the state asked for, even with cid=. */
  if (state != ST_CLOSED)
    total += s->nconns;
  if (state != ST_OPEN)
    total += (long long)m->nclosed;
  if (total > 0) {
    rows = calloc((size_t)total, sizeof(*rows));
    open = state != ST_CLOSED && s->nconns > 0
               ? calloc((size_t)s->nconns, sizeof(*open))
               : NULL;
    if (rows == NULL || (state != ST_CLOSED && s->nconns > 0 && !open)) {
      free(rows);
      free(open);
      fail_500(resp);
      goto done;
    }
  }
  /* A cid is looked up as nats-server does: among the open connections for
   * state=open, among the closed ones for state=closed and state=all. */
  if (state == ST_OPEN || (state == ST_ALL && cid == 0)) {
    for (nm_conn_t *c = s->head; c != NULL && nopen < (size_t)s->nconns;
         c = c->next) {
      if (c->flags & NM_CF_CLOSING)
        continue;
      if (cid > 0 && c->id != cid)
        continue;
      open_info(&open[nopen], c);
      rows[n++] = &open[nopen++];
    }
  }
  if (state != ST_OPEN) {
    for (size_t i = 0; i < m->nclosed && n < (size_t)total; i++) {
      nm__mon_cinfo_t *ci =
          &m->closed[(m->closed_head + i) % NM_MON_MAX_CLOSED];
      if (cid > 0 && ci->cid != cid)
        continue;
      rows[n++] = ci;
    }
  }
  if (n > 1)
    qsort_r(rows, n, sizeof(*rows), cmp_rows, &sc);
  if (n > 0 && offset > INT64_MAX - limit) {
    /* nats-server's offset + limit wraps, and slicing its list with it
     * panics: the connection closes without an answer. */
    resp->no_answer = 1;
    free(rows);
    free(open);
    goto done;
  }

  nm_buf_init(&b, NM_HTTP_MAX_OUT);
  nm__jw_init(&w, &b, 1);
  nm__jw_obj(&w, NULL);
  nm__jw_str(&w, "server_id", s->server_id);
  nm__go_time(sc.now, t, sizeof(t));
  nm__jw_str(&w, "now", t);
  {
    /* The page [lo, hi): offset and limit (both positive here) cut to n. */
    long long lo = offset > (long long)n ? (long long)n : offset;
    long long hi = limit > (long long)n - lo ? (long long)n : lo + limit;
    long long shown = 0;
    /* user=: nats-server filters the page (not the list before it), by the
     * authorized user (the user name, else the token); total stays. */
    for (long long i = lo; i < hi; i++)
      if (user == NULL || user_is(rows[i], user, user_len))
        rows[lo + shown++] = rows[i];
    hi = lo + shown;
    nm__jw_int(&w, "num_connections", shown);
    nm__jw_int(&w, "total", total);
    nm__jw_int(&w, "offset", offset);
    nm__jw_int(&w, "limit", limit);
    nm__jw_arr(&w, "connections");
    for (long long i = lo; i < hi; i++)
      conn_info(&w, rows[i], sc.now, auth, subs, detail);
    nm__jw_end_arr(&w);
  }
  nm__jw_end_obj(&w);
  free(rows);
  free(open);
  nm__mon_json_done(req, resp, &b, w.err);
  nm_buf_free(&b);
done:
  free(sort);
  free(st);
  free(user);
}
