/* /connz: nats-server 2.9.10's Connz for the open client connections, with
 * its options (sort, auth, subs=1|detail, offset, limit, cid, state) and its
 * answers to bad ones. natsmock keeps no closed connections: state=closed
 * lists none, state=all lists the open ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "monitor_int.h"

/* nats-server's default page (DefaultConnListSize). */
#define NM_CONNZ_DEFAULT_LIMIT 1024

typedef enum { ST_OPEN, ST_CLOSED, ST_ALL } conn_state_t;

typedef struct {
  nm_conn_t *c;
  uint64_t last_wall_ns;
} row_t;

static const char *const kSorts[] = {
    "cid",       "start",    "subs",       "pending", "msgs_to",
    "msgs_from", "bytes_to", "bytes_from", "last",    "idle",
    "uptime",    "stop",     "reason",     NULL};

static int sort_key; /* index in kSorts; qsort has no context argument */

static uint64_t field(const row_t *r) {
  const nm_conn_t *c = r->c;
  switch (sort_key) {
  case 2:
    return c->nsubs;
  case 3:
    return nm__conn_pending(c);
  case 4:
    return c->out_msgs;
  case 5:
    return c->in_msgs;
  case 6:
    return c->out_bytes;
  case 7:
    return c->in_bytes;
  case 8:
    return r->last_wall_ns;
  case 9: /* idle: the oldest activity first */
    return UINT64_MAX - r->last_wall_ns;
  case 10: /* uptime: the youngest first (byUptime is ascending) */
    return c->start_wall_ns;
  default:
    return 0;
  }
}

/* Descending by the key (ascending by cid for cid/start), cid breaking
 * ties so the order is stable. */
static int cmp_rows(const void *a, const void *b) {
  const row_t *x = a, *y = b;
  if (sort_key > 1) {
    uint64_t fx = field(x), fy = field(y);
    if (fx != fy)
      return fx > fy ? -1 : 1;
  }
  return x->c->id < y->c->id ? -1 : x->c->id > y->c->id;
}

static void sub_list(nm__jw_t *w, const nm_conn_t *c, int detail) {
  nm__jw_arr(w, detail ? "subscriptions_list_detail" : "subscriptions_list");
  for (size_t i = 0; i < c->nsid_buckets; i++) {
    for (const nm__sub_t *s = c->sids[i]; s != NULL; s = s->sid_next) {
      char subj[NM_PARSER_SCRATCH_MAX > 4096 ? 4096 : 4096];
      snprintf(subj, sizeof(subj), "%.*s", (int)s->subject.n, s->subject.p);
      if (!detail) {
        nm__jw_str(w, NULL, subj);
        continue;
      }
      nm__jw_obj(w, NULL);
      nm__jw_str(w, "subject", subj);
      if (s->queue.n > 0) {
        char q[1024];
        snprintf(q, sizeof(q), "%.*s", (int)s->queue.n, s->queue.p);
        nm__jw_str(w, "qgroup", q);
      }
      {
        char sid[1024];
        snprintf(sid, sizeof(sid), "%.*s", (int)s->sid.n, s->sid.p);
        nm__jw_str(w, "sid", sid);
      }
      nm__jw_uint(w, "msgs", s->delivered);
      if (s->max > 0)
        nm__jw_uint(w, "max", s->max);
      nm__jw_uint(w, "cid", c->id);
      nm__jw_end_obj(w);
    }
  }
  nm__jw_end_arr(w);
}

static void conn_info(nm__jw_t *w, const row_t *r, uint64_t now, int auth,
                      int subs, int detail) {
  const nm_conn_t *c = r->c;
  struct sockaddr_storage ss;
  int len = sizeof(ss), port = 0;
  char t[64];

  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
    port =
        ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                       : ((struct sockaddr_in *)&ss)->sin_port);
  nm__jw_obj(w, NULL);
  nm__jw_uint(w, "cid", c->id);
  nm__jw_str(w, "kind", "Client");
  nm__jw_str(w, "type", "nats");
  nm__jw_str(w, "ip", c->ip);
  nm__jw_int(w, "port", port);
  nm__go_time(c->start_wall_ns, t, sizeof(t));
  nm__jw_str(w, "start", t);
  nm__go_time(r->last_wall_ns, t, sizeof(t));
  nm__jw_str(w, "last_activity", t);
  nm__go_rtt(c->rtt_ns, t, sizeof(t));
  nm__jw_str(w, "rtt", t);
  nm__go_uptime(now - c->start_wall_ns, t, sizeof(t));
  nm__jw_str(w, "uptime", t);
  nm__go_uptime(now > r->last_wall_ns ? now - r->last_wall_ns : 0, t,
                sizeof(t));
  nm__jw_str(w, "idle", t);
  nm__jw_uint(w, "pending_bytes", nm__conn_pending(c));
  nm__jw_uint(w, "in_msgs", c->in_msgs);
  nm__jw_uint(w, "out_msgs", c->out_msgs);
  nm__jw_uint(w, "in_bytes", c->in_bytes);
  nm__jw_uint(w, "out_bytes", c->out_bytes);
  nm__jw_uint(w, "subscriptions", c->nsubs);
  if (c->client_name && c->client_name[0])
    nm__jw_str(w, "name", c->client_name);
  if (c->lang && c->lang[0])
    nm__jw_str(w, "lang", c->lang);
  if (c->version && c->version[0])
    nm__jw_str(w, "version", c->version);
  if (auth) {
    /* getRawAuthUser: the user name, else the token. */
    const char *u = c->user && c->user[0]     ? c->user
                    : c->token && c->token[0] ? c->token
                                              : NULL;
    if (u)
      nm__jw_str(w, "authorized_user", u);
  }
  if (c->nsubs > 0 && (subs || detail))
    sub_list(w, c, detail);
  nm__jw_end_obj(w);
}

void nm__mon_connz(void *data, const nm_http_req_t *req, nm_http_resp_t *resp) {
  nm_monitor_t *m = data;
  nm_server_t *s = m->srv;
  char sort[64], sv[32], st[512];
  int auth = 0, subs = 0, detail = 0, total;
  long long offset = 0, limit = 0;
  unsigned long long cid = 0;
  conn_state_t state = ST_OPEN;
  row_t *rows = NULL;
  int n = 0;
  uint64_t now_wall;
  nm_buf_t b;
  nm__jw_t w;
  char t[64];

  if (!nm_http_query_get(req->query, "sort", sort, sizeof(sort)))
    sort[0] = 0;
  if (nm__mon_bool(req, resp, "auth", &auth) < 0)
    return;
  detail = nm_http_query_get(req->query, "subs", sv, sizeof(sv)) &&
           strcasecmp(sv, "detail") == 0;
  if (!detail && nm__mon_bool(req, resp, "subs", &subs) < 0)
    return;
  if (nm__mon_int(req, resp, "offset", &offset) < 0 ||
      nm__mon_int(req, resp, "limit", &limit) < 0 ||
      nm__mon_uint(req, resp, "cid", &cid) < 0)
    return;
  if (nm_http_query_get(req->query, "state", st, sizeof(st)) && st[0]) {
    if (strcasecmp(st, "open") == 0)
      state = ST_OPEN;
    else if (strcasecmp(st, "closed") == 0)
      state = ST_CLOSED;
    else if (strcasecmp(st, "any") == 0 || strcasecmp(st, "all") == 0)
      state = ST_ALL;
    else {
      nm__mon_bad(resp, "Error decoding state for %s", st);
      return;
    }
  }
  m->req_stats[NM_MON_CONNZ]++;
  sort_key = 0;
  if (sort[0]) {
    for (sort_key = 0; kSorts[sort_key] && strcmp(kSorts[sort_key], sort);
         sort_key++)
      ;
    if (kSorts[sort_key] == NULL) {
      nm__mon_bad(resp, "invalid sorting option: %s", sort);
      return;
    }
  }
  if (sort_key == 11 && state != ST_CLOSED) {
    nm__mon_bad(resp, "sort by stop only valid on closed connections");
    return;
  }
  if (sort_key == 12 && state != ST_CLOSED) {
    nm__mon_bad(resp, "sort by reason only valid on closed connections");
    return;
  }
  if (offset < 0)
    offset = 0;
  if (limit <= 0)
    limit = NM_CONNZ_DEFAULT_LIMIT;
  if (cid > 0)
    limit = 1;

  now_wall = nm__wall_ns();
  total = state == ST_CLOSED ? 0 : s->nconns;
  if (state != ST_CLOSED && s->nconns > 0) {
    rows = calloc((size_t)s->nconns, sizeof(*rows));
    if (rows == NULL) {
      resp->status = 500;
      resp->sniffed = 1;
      (void)nm_buf_append_str(&resp->body, "out of memory");
      return;
    }
    for (nm_conn_t *c = s->head; c != NULL && n < s->nconns; c = c->next) {
      if (cid > 0 && c->id != cid)
        continue;
      rows[n].c = c;
      /* The loop time of the last activity (ms), placed on the wall clock
       * from the accept (the same answer at every request). */
      rows[n].last_wall_ns = c->start_wall_ns;
      if (c->last_in_ms * 1000000 > c->start_hr)
        rows[n].last_wall_ns += c->last_in_ms * 1000000 - c->start_hr;
      n++;
    }
    qsort(rows, (size_t)n, sizeof(*rows), cmp_rows);
  }

  nm_buf_init(&b, NM_HTTP_MAX_OUT);
  nm__jw_init(&w, &b, 1);
  nm__jw_obj(&w, NULL);
  nm__jw_str(&w, "server_id", s->server_id);
  nm__go_time(now_wall, t, sizeof(t));
  nm__jw_str(&w, "now", t);
  {
    long long lo = offset > n ? n : offset;
    long long hi = offset + limit > n ? n : offset + limit;
    nm__jw_int(&w, "num_connections", hi - lo);
    nm__jw_int(&w, "total", total);
    nm__jw_int(&w, "offset", offset);
    nm__jw_int(&w, "limit", limit);
    nm__jw_arr(&w, "connections");
    for (long long i = lo; i < hi; i++)
      conn_info(&w, &rows[i], now_wall, auth, subs, detail);
    nm__jw_end_arr(&w);
  }
  nm__jw_end_obj(&w);
  free(rows);
  nm__mon_json_done(req, resp, &b, w.err);
  nm_buf_free(&b);
}
