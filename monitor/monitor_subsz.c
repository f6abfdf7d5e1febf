/* /subsz (and /subscriptionsz): nats-server 2.9.10's sublist stats, and
 * with subs=1 the subscriptions themselves (offset, limit, test=SUBJECT to
 * keep those a publish to SUBJECT would reach). natsmock has one account
 * and no system account: the numbers count the clients' subscriptions only
 * (nats-server's also count its $SYS internal ones, 43 on a bare 2.9.10). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor_int.h"
#include "nm_subject.h"

/* nats-server's default page (DefaultSubListSize). */
#define NM_SUBSZ_DEFAULT_LIMIT 1024

static void stats(nm__jw_t *w, const nm__sublist_t *l) {
  uint64_t tot = 0, max = 0, cnt = 0;
  for (const nm__cent_t *e = l->oldest; e != NULL; e = e->newer) {
    cnt++;
    tot += e->res.n;
    if (e->res.n > max)
      max = e->res.n;
  }
  nm__jw_uint(w, "num_subscriptions", l->nsubs);
  nm__jw_uint(w, "num_cache", l->ncache);
  nm__jw_uint(w, "num_inserts", l->inserts);
  nm__jw_uint(w, "num_removes", l->removes);
  nm__jw_uint(w, "num_matches", l->matches);
  nm__jw_float(w, "cache_hit_rate",
               l->matches ? (double)l->cache_hits / (double)l->matches : 0);
  nm__jw_uint(w, "max_fanout", max);
  nm__jw_float(w, "avg_fanout", tot > 0 ? (double)tot / (double)cnt : 0);
}

static void sub_detail(nm__jw_t *w, const nm__sub_t *s) {
  nm__jw_obj(w, NULL);
  nm__jw_str(w, "account", "$G");
  nm__jw_strn(w, "subject", s->subject.p, s->subject.n);
  if (s->queue.n > 0)
    nm__jw_strn(w, "qgroup", s->queue.p, s->queue.n);
  nm__jw_strn(w, "sid", s->sid.p, s->sid.n);
  nm__jw_uint(w, "msgs", s->delivered);
  if (s->max > 0)
    nm__jw_uint(w, "max", s->max);
  nm__jw_uint(w, "cid", s->conn ? nm__conn_id(s->conn) : 0);
  nm__jw_end_obj(w);
}

void nm__mon_subsz(void *data, const nm_http_req_t *req, nm_http_resp_t *resp) {
  nm_monitor_t *m = data;
  nm_server_t *s = m->srv;
  int subs = 0, has_test;
  long long offset = 0, limit = 0;
  char *test = NULL, t[64];
  size_t test_len = 0;
  const nm__sub_t **list = NULL;
  size_t n = 0;
  nm_buf_t b;
  nm__jw_t w;

  m->req_stats[NM_MON_SUBSZ]++;
  if (nm__mon_bool(req, resp, "subs", &subs) < 0 ||
      nm__mon_int(req, resp, "offset", &offset) < 0 ||
      nm__mon_int(req, resp, "limit", &limit) < 0)
    return;
  if (offset < 0)
    offset = 0;
  if (limit <= 0)
    limit = NM_SUBSZ_DEFAULT_LIMIT;
  if (nm__mon_query(req, resp, "test", &test, &test_len) < 0)
    return;
  has_test = test_len > 0;
  if (has_test && !nm_subject_valid_literal((nm_slice_t){test, test_len})) {
    nm__mon_bad_value(
        resp, "invalid test subject, must be valid publish subject: ", test,
        test_len);
    free(test);
    return;
  }
  if (subs && offset > INT64_MAX - limit) {
    /* nats-server's offset + limit wraps, and slicing its list with it
     * panics: the connection closes without an answer. */
    resp->no_answer = 1;
    free(test);
    return;
  }
  if (subs && s->subs.nsubs > 0) {
    list = calloc(s->subs.nsubs, sizeof(*list));
    if (list == NULL) {
      resp->status = 500;
      resp->sniffed = 1;
      (void)nm_buf_append_str(&resp->body, "out of memory");
      free(test);
      return;
    }
    for (const nm_conn_t *c = s->head; c != NULL; c = c->next)
      for (size_t i = 0; i < c->nsid_buckets; i++)
        for (const nm__sub_t *x = c->sids[i]; x != NULL && n < s->subs.nsubs;
             x = x->sid_next) {
          if (x->node == NULL)
            continue;
          if (has_test &&
              !nm_subject_matches(x->subject, (nm_slice_t){test, test_len}))
            continue;
          list[n++] = x;
        }
  }
  {
    /* The page [lo, hi): offset and limit (both positive here) cut to n. */
    size_t lo = (size_t)offset > n ? n : (size_t)offset;
    size_t hi = (size_t)limit > n - lo ? n : lo + (size_t)limit;
    nm_buf_init(&b, NM_HTTP_MAX_OUT);
    nm__jw_init(&w, &b, 1);
    nm__jw_obj(&w, NULL);
    if (hi > lo) {
      /* nats-server writes the whole Subsz only when the page has
       * subscriptions; otherwise the stats alone. */
      nm__jw_str(&w, "server_id", s->server_id);
      nm__go_time(nm__wall_ns(), t, sizeof(t));
      nm__jw_str(&w, "now", t);
    }
    stats(&w, &s->subs);
    if (hi > lo) {
      nm__jw_uint(&w, "total", hi - lo);
      nm__jw_int(&w, "offset", offset);
      nm__jw_int(&w, "limit", limit);
      nm__jw_arr(&w, "subscriptions_list");
      for (size_t i = lo; i < hi; i++)
        sub_detail(&w, list[i]);
      nm__jw_end_arr(&w);
    }
    nm__jw_end_obj(&w);
  }
  free(list);
  free(test);
  nm__mon_json_done(req, resp, &b, w.err);
  nm_buf_free(&b);
}
