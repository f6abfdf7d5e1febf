/* Subscription invariants: delivery_order, drain_sub_fence, auto_unsub_max.
 *
 * A subscription is the `sub` tag of a subscribe command; its sids come from
 * the SUB frames the server received (nm_inv_ctx_init), so the server's MSGs
 * for it are the MSG/HMSG frames it sent with one of those sids. */
#include <stdlib.h>
#include <string.h>

#include "nm_invariants.h"

typedef struct {
  size_t *v;
  size_t n, cap;
} idxv_t;

static int push(idxv_t *a, size_t i) {
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 64;
    size_t *v = realloc(a->v, cap * sizeof(*v));
    if (!v)
      return -1;
    a->v = v;
    a->cap = cap;
  }
  a->v[a->n++] = i;
  return 0;
}

static int sub_wanted(const nm_inv_ctx_t *cx, const cJSON *params,
                      const nm_inv_sub_t *s) {
  const char *tag = nm__inv_param_str(params, "sub");
  if (!nm__inv_client_wanted(cx, params, s->client))
    return 0;
  return !tag || strcmp(tag, s->tag) == 0;
}

static int has_sid(const nm_inv_sub_t *s, const char *sid) {
  for (int k = 0; sid && k < s->nsids; k++)
    if (strcmp(s->sids[k], sid) == 0)
      return 1;
  return 0;
}

/* MSG/HMSG frames the server sent for subscription s, before index `end`. */
static void server_msgs(const nm_inv_ctx_t *cx, const nm_inv_sub_t *s,
                        size_t end, idxv_t *out) {
  const nm_tl_t *tl = cx->tl;
  for (size_t i = 0; i < end && i < tl->n; i++) {
    const nm_tl_ev_t *e = &tl->v[i];
    if ((e->op == NM_OP_MSG || e->op == NM_OP_HMSG) && nm_tl_sent(e) &&
        nm__inv_on_client(cx, i, s->client) && has_sid(s, e->sid))
      push(out, i);
  }
}

/* The client's events `ev` for subscription s. */
static void client_events(const nm_inv_ctx_t *cx, const nm_inv_sub_t *s,
                          const char *ev, idxv_t *out) {
  const nm_tl_t *tl = cx->tl;
  for (size_t i = 0; i < tl->n; i++) {
    const nm_tl_ev_t *e = &tl->v[i];
    const char *tag;
    if (e->kind != NM_TL_EV || e->client != s->client || strcmp(e->ev, ev))
      continue;
    tag = nm_tl_str(e, "sub");
    if (tag && strcmp(tag, s->tag) == 0)
      push(out, i);
  }
}

/* delivery_order: per subscription, msg events follow the order in which
 * the server sent the MSGs, and match MSGs it sent. */
void nm__inv_delivery_order(const nm_inv_ctx_t *cx, const cJSON *params,
                            const char *what, nm_fails_t *out) {
  const nm_tl_t *tl = cx->tl;
  for (int si = 0; si < cx->nsubs; si++) {
    const nm_inv_sub_t *s = &cx->subs[si];
    idxv_t fr = {0}, ev = {0};
    size_t pos = 0;
    if (!sub_wanted(cx, params, s))
      continue;
    server_msgs(cx, s, tl->n, &fr);
    client_events(cx, s, "msg", &ev);
    for (size_t k = 0; k < ev.n; k++) {
      const nm_tl_ev_t *m = &tl->v[ev.v[k]];
      size_t j, earlier = NM_TL_NONE;
      for (j = pos; j < fr.n; j++)
        if (nm__inv_event_is_frame(m, &tl->v[fr.v[j]]))
          break;
      if (j < fr.n) {
        pos = j + 1;
        continue;
      }
      for (j = 0; j < pos && j < fr.n; j++)
        if (nm__inv_event_is_frame(m, &tl->v[fr.v[j]]))
          earlier = fr.v[j];
      if (earlier != NM_TL_NONE) {
        size_t e3[3] = {earlier, pos ? fr.v[pos - 1] : NM_TL_NONE, ev.v[k]};
        nm_fails_add(out, what, tl, e3, 3,
                     "client %s, sub %s: a msg was delivered after a message "
                     "the server sent later",
                     nm__inv_cname(cx, s->client), s->tag);
      } else {
        size_t e1[1] = {ev.v[k]};
        nm_fails_add(out, what, tl, e1, 1,
                     "client %s, sub %s: a msg the server never sent on this "
                     "subscription",
                     nm__inv_cname(cx, s->client), s->tag);
      }
    }
    free(fr.v);
    free(ev.v);
  }
}

static size_t first_unsub(const nm_inv_ctx_t *cx, const nm_inv_sub_t *s,
                          size_t after) {
  const nm_tl_t *tl = cx->tl;
  for (size_t i = after + 1; i < tl->n; i++) {
    const nm_tl_ev_t *e = &tl->v[i];
    if (e->kind == NM_TL_IN && e->op == NM_OP_UNSUB &&
        nm__inv_on_client(cx, i, s->client) && has_sid(s, e->sid))
      return i;
  }
  return NM_TL_NONE;
}

/* drain_sub_fence: a drain_sub that ended ok was preceded by the msg (and
 * msg_done, with delay_ms) of every MSG sent before the server received the
 * UNSUB, and is followed by no msg for that subscription. */
void nm__inv_drain_sub_fence(const nm_inv_ctx_t *cx, const cJSON *params,
                             const char *what, nm_fails_t *out) {
  const nm_tl_t *tl = cx->tl;
  for (size_t d = 0; d < tl->n; d++) {
    const nm_tl_ev_t *e = &tl->v[d];
    const nm_inv_sub_t *s;
    const char *tag;
    size_t r, u, ptr = 0, nmsg = 0, ndone = 0;
    idxv_t fr = {0}, ev = {0}, done = {0};
    if (e->kind != NM_TL_CMD || strcmp(e->ev, "drain_sub"))
      continue;
    tag = nm_tl_str(e, "sub");
    s = tag ? nm__inv_sub_by_tag(cx, e->client, tag) : NULL;
    r = nm__inv_result(cx, d);
    if (!s || !sub_wanted(cx, params, s) || r == NM_TL_NONE ||
        strcmp(tl->v[r].ev, "ok"))
      continue;
    u = first_unsub(cx, s, d);
    if (u == NM_TL_NONE || u > r) {
      size_t e2[2] = {d, r};
      nm_fails_add(out, what, tl, e2, 2,
                   "client %s, sub %s: drain_sub succeeded before the server "
                   "received its UNSUB",
                   nm__inv_cname(cx, s->client), s->tag);
      continue;
    }
    server_msgs(cx, s, u, &fr);
    client_events(cx, s, "msg", &ev);
    client_events(cx, s, "msg_done", &done);
    /* Every MSG sent before the UNSUB arrived is delivered before the ok. */
    for (size_t k = 0; k < fr.n; k++) {
      size_t j;
      for (j = ptr; j < ev.n && ev.v[j] < r; j++)
        if (nm__inv_event_is_frame(&tl->v[ev.v[j]], &tl->v[fr.v[k]]))
          break;
      if (j < ev.n && ev.v[j] < r) {
        ptr = j + 1;
        continue;
      }
      {
        size_t e4[4] = {fr.v[k], u, d, r};
        nm_fails_add(out, what, tl, e4, 4,
                     "client %s, sub %s: a MSG the server sent before it "
                     "received the UNSUB was not delivered before drain_sub "
                     "succeeded",
                     nm__inv_cname(cx, s->client), s->tag);
      }
      break;
    }
    for (size_t k = 0; k < ev.n; k++) {
      if (ev.v[k] < r) {
        nmsg++;
      } else {
        size_t e2[2] = {r, ev.v[k]};
        nm_fails_add(out, what, tl, e2, 2,
                     "client %s, sub %s: a msg was delivered after drain_sub "
                     "succeeded",
                     nm__inv_cname(cx, s->client), s->tag);
        break;
      }
    }
    for (size_t k = 0; k < done.n; k++)
      ndone += done.v[k] < r;
    if (s->delay_ms > 0 && ndone < nmsg) {
      size_t e2[2] = {ev.n ? ev.v[nmsg - 1] : NM_TL_NONE, r};
      nm_fails_add(out, what, tl, e2, 2,
                   "client %s, sub %s: drain_sub succeeded while %zu "
                   "handler(s) had not returned (msg_done)",
                   nm__inv_cname(cx, s->client), s->tag, nmsg - ndone);
    }
    free(fr.v);
    free(ev.v);
    free(done.v);
  }
}

/* Index of the result of the last unsubscribe command with a max for s
 * (NM_TL_NONE: its max came from the subscribe). */
static size_t max_set_at(const nm_inv_ctx_t *cx, const nm_inv_sub_t *s) {
  const nm_tl_t *tl = cx->tl;
  size_t at = NM_TL_NONE;
  for (size_t i = 0; i < tl->n; i++) {
    const nm_tl_ev_t *e = &tl->v[i];
    const char *tag = nm_tl_str(e, "sub");
    if (e->kind != NM_TL_CMD || e->client != s->client ||
        strcmp(e->ev, "unsubscribe") || nm_tl_int(e, "max", 0) <= 0 || !tag ||
        strcmp(tag, s->tag))
      continue;
    at = i; /* no result: only what came before the call */
    for (size_t k = i + 1; k < tl->n; k++)
      if (tl->v[k].kind == NM_TL_EV && tl->v[k].client == s->client &&
          tl->v[k].id == e->id &&
          (!strcmp(tl->v[k].ev, "ok") || !strcmp(tl->v[k].ev, "err"))) {
        at = k;
        break;
      }
  }
  return at;
}

/* The most msg events s may have (ev: its msg events in order): its max,
 * or, for a max set by an unsubscribe after d messages were already
 * handled (d >= max), d: the subscription ends at once and what came
 * before the call cannot be taken back. */
static int64_t max_bound(const nm_inv_ctx_t *cx, const nm_inv_sub_t *s,
                         const idxv_t *ev) {
  int64_t bound = s->max;
  size_t set_at = max_set_at(cx, s);
  if (set_at != NM_TL_NONE) {
    int64_t before = 0;
    for (size_t k = 0; k < ev->n && ev->v[k] < set_at; k++)
      before++;
    if (before > bound)
      bound = before;
  }
  return bound;
}

/* auto_unsub_max: no more msg events than the subscription's max_bound. */
void nm__inv_auto_unsub_max(const nm_inv_ctx_t *cx, const cJSON *params,
                            const char *what, nm_fails_t *out) {
  const nm_tl_t *tl = cx->tl;
  for (int si = 0; si < cx->nsubs; si++) {
    const nm_inv_sub_t *s = &cx->subs[si];
    idxv_t ev = {0};
    int64_t bound;
    if (!sub_wanted(cx, params, s) || s->max <= 0)
      continue;
    client_events(cx, s, "msg", &ev);
    bound = max_bound(cx, s, &ev);
    if ((int64_t)ev.n > bound) {
      size_t e2[2] = {s->cmd, ev.v[bound]};
      nm_fails_add(out, what, tl, e2, 2,
                   "client %s, sub %s: %zu msg events for a subscription "
                   "with max %lld",
                   nm__inv_cname(cx, s->client), s->tag, ev.n,
                   (long long)s->max);
    }
    free(ev.v);
  }
}

/* Per connection: the index of the first UNSUB the server received for
 * one of s's sids (NM_TL_NONE: none), and whether the connection closed.
 * Computed once per subscription. */
typedef struct {
  size_t unsub[NM_TL_MAX_CONNS];
  char closed[NM_TL_MAX_CONNS];
} conn_facts_t;

static void conn_facts(const nm_inv_ctx_t *cx, const nm_inv_sub_t *s,
                       conn_facts_t *cf) {
  const nm_tl_t *tl = cx->tl;
  for (size_t c = 0; c < NM_TL_MAX_CONNS; c++) {
    cf->unsub[c] = NM_TL_NONE;
    cf->closed[c] = 0;
  }
  for (size_t i = 0; i < tl->n; i++) {
    const nm_tl_ev_t *e = &tl->v[i];
    if (e->conn >= NM_TL_MAX_CONNS)
      continue;
    if (e->kind == NM_TL_CLOSE)
      cf->closed[e->conn] = 1;
    else if (e->kind == NM_TL_IN && e->op == NM_OP_UNSUB &&
             cf->unsub[e->conn] == NM_TL_NONE && has_sid(s, e->sid))
      cf->unsub[e->conn] = i;
  }
}

/* delivered_all: every MSG the server sent for a subscription has its msg
 * event, except those in flight after the UNSUB, on connections that went
 * away, of a subscription the client reported as a slow consumer, or beyond
 * a max (auto_unsub_max's bound: the client must drop those, though the
 * server sent them before it read the UNSUB). */
/* Did the client run an unsubscribe command without max for s? */
static int unsubscribed(const nm_inv_ctx_t *cx, const nm_inv_sub_t *s) {
  const nm_tl_t *tl = cx->tl;
  for (size_t i = 0; i < tl->n; i++) {
    const nm_tl_ev_t *e = &tl->v[i];
    const char *tag = nm_tl_str(e, "sub");
    if (e->kind == NM_TL_CMD && e->client == s->client &&
        !strcmp(e->ev, "unsubscribe") && nm_tl_int(e, "max", 0) <= 0 && tag &&
        !strcmp(tag, s->tag))
      return 1;
  }
  return 0;
}

void nm__inv_delivered_all(const nm_inv_ctx_t *cx, const cJSON *params,
                           const char *what, nm_fails_t *out) {
  const nm_tl_t *tl = cx->tl;
  conn_facts_t *cf = malloc(sizeof(*cf));
  if (!cf)
    return;
  for (int si = 0; si < cx->nsubs; si++) {
    const nm_inv_sub_t *s = &cx->subs[si];
    idxv_t fr = {0}, ev = {0}, slow = {0};
    char *used;
    size_t ptr = 0;
    int64_t owed = 0, owed_max;
    if (!sub_wanted(cx, params, s))
      continue;
    /* Unsubscribed by the application (no max): what the client had
     * received but not handed to the handler yet may be dropped (nats.go
     * discards its pending queue), so nothing of it is owed. */
    if (unsubscribed(cx, s))
      continue;
    server_msgs(cx, s, tl->n, &fr);
    client_events(cx, s, "msg", &ev);
    client_events(cx, s, "slow_consumer", &slow);
    conn_facts(cx, s, cf);
    owed_max = s->max > 0 ? max_bound(cx, s, &ev) : INT64_MAX;
    used = calloc(ev.n + 1, 1);
    for (size_t k = 0; used && k < fr.n; k++) {
      const nm_tl_ev_t *f = &tl->v[fr.v[k]];
      size_t u, j;
      int found = 0;
      if (f->conn >= NM_TL_MAX_CONNS)
        continue;
      u = cf->unsub[f->conn];
      /* In flight after the UNSUB, on a connection that went away, or
       * dropped as a slow consumer (the client said so): excused. */
      if ((u != NM_TL_NONE && u < fr.v[k]) || cf->closed[f->conn] || slow.n > 0)
        continue;
      if (owed++ >= owed_max)
        continue;
      for (j = ptr; j < ev.n && !found; j++)
        found = !used[j] && nm__inv_event_is_frame(&tl->v[ev.v[j]], f);
      for (j = found ? j : 0; !found && j < ptr && j < ev.n; j++)
        found = !used[j] && nm__inv_event_is_frame(&tl->v[ev.v[j]], f);
      if (found) {
        used[j - 1] = 1;
        if (j > ptr)
          ptr = j;
        continue;
      }
      {
        size_t e2[2] = {s->cmd, fr.v[k]};
        nm__inv_absent(cx, out, what, e2, 2,
                       "client %s, sub %s: a MSG the server sent was never "
                       "delivered (no msg event)",
                       nm__inv_cname(cx, s->client), s->tag);
      }
    }
    free(used);
    free(fr.v);
    free(ev.v);
    free(slow.v);
  }
  free(cf);
}
