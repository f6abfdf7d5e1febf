/* Connection invariants: drain_conn, reconnect_connect_first, replay_order,
 * server_ping_answered, closed_once. */
#include <stdlib.h>
#include <string.h>

#include "nm_invariants.h"

static int is_result(const nm_tl_ev_t *e) {
  return e->kind == NM_TL_EV &&
         (strcmp(e->ev, "ok") == 0 || strcmp(e->ev, "err") == 0);
}

static int ev_is(const nm_tl_ev_t *e, int client, const char *ev) {
  return e->kind == NM_TL_EV && e->client == client && strcmp(e->ev, ev) == 0;
}

static int has_sid(const nm_inv_sub_t *s, const char *sid) {
  for (int k = 0; sid && k < s->nsids; k++)
    if (strcmp(s->sids[k], sid) == 0)
      return 1;
  return 0;
}

/* Was subscription s ended by an unsubscribe or drain_sub before index d? */
static int sub_ended_before(const nm_inv_ctx_t *cx, const nm_inv_sub_t *s,
                            size_t d) {
  const nm_tl_t *tl = cx->tl;
  for (size_t i = s->cmd + 1; i < d; i++) {
    const nm_tl_ev_t *e = &tl->v[i];
    const char *tag;
    if (e->kind != NM_TL_CMD || e->client != s->client ||
        (strcmp(e->ev, "unsubscribe") && strcmp(e->ev, "drain_sub")))
      continue;
    tag = nm_tl_str(e, "sub");
    if (tag && strcmp(tag, s->tag) == 0)
      return 1;
  }
  return 0;
}

/* drain_conn: on the connection open when the drain was sent, an UNSUB
 * for every live subscription, no PUB after the last PING (the drain's
 * flush), then the close; closed exactly once and last. Checked for drains
 * that ended ok (a failed drain is the scenario's steps' business). */
void nm__inv_drain_conn(const nm_inv_ctx_t *cx, const cJSON *params,
                        const char *what, nm_fails_t *out) {
  const nm_tl_t *tl = cx->tl;
  for (size_t d = 0; d < tl->n; d++) {
    const nm_tl_ev_t *e = &tl->v[d];
    int c = e->client;
    size_t r, last_ping = NM_TL_NONE, closed = NM_TL_NONE, nclosed = 0;
    size_t conn_close = NM_TL_NONE;
    uint64_t conn;
    if (e->kind != NM_TL_CMD || strcmp(e->ev, "drain") ||
        !nm__inv_client_wanted(cx, params, c))
      continue;
    r = nm__inv_result(cx, d);
    if (r == NM_TL_NONE || strcmp(tl->v[r].ev, "ok"))
      continue;
    conn = nm__inv_open_conn_at(cx, c, d);
    if (conn) {
      /* (1) an UNSUB for every active subscription. */
      for (int si = 0; si < cx->nsubs; si++) {
        const nm_inv_sub_t *s = &cx->subs[si];
        size_t u = NM_TL_NONE;
        if (s->client != c || s->cmd > d || s->max > 0 || s->nsids == 0 ||
            sub_ended_before(cx, s, d))
          continue;
        for (size_t i = d + 1; i < tl->n && u == NM_TL_NONE; i++)
          if (tl->v[i].kind == NM_TL_IN && tl->v[i].op == NM_OP_UNSUB &&
              tl->v[i].conn == conn && has_sid(s, tl->v[i].sid))
            u = i;
        if (u == NM_TL_NONE) {
          size_t ev[3] = {s->cmd, d, r};
          nm__inv_absent(cx, out, what, ev, 3,
                         "client %s: drain never unsubscribed sub %s",
                         nm__inv_cname(cx, c), s->tag);
        }
      }
      for (size_t i = d + 1; i < tl->n; i++) {
        const nm_tl_ev_t *x = &tl->v[i];
        if (x->conn != conn)
          continue;
        if (x->kind == NM_TL_IN && x->op == NM_OP_PING)
          last_ping = i;
        if (x->kind == NM_TL_CLOSE && conn_close == NM_TL_NONE)
          conn_close = i;
      }
      /* (2) nothing published after the drain's last PING. */
      if (last_ping == NM_TL_NONE) {
        size_t ev[2] = {d, r};
        nm_fails_add(out, what, tl, ev, 2,
                     "client %s: drain completed without a PING (no flush of "
                     "its publishes)",
                     nm__inv_cname(cx, c));
      } else {
        for (size_t i = last_ping + 1; i < tl->n; i++) {
          const nm_tl_ev_t *x = &tl->v[i];
          if (x->conn == conn && x->kind == NM_TL_IN &&
              (x->op == NM_OP_PUB || x->op == NM_OP_HPUB)) {
            size_t ev[3] = {d, last_ping, i};
            nm_fails_add(out, what, tl, ev, 3,
                         "client %s: a PUB after the drain's flush PING",
                         nm__inv_cname(cx, c));
            break;
          }
        }
      }
      /* (3) the connection closes. */
      if (conn_close == NM_TL_NONE) {
        size_t ev[2] = {d, r};
        nm__inv_absent(cx, out, what, ev, 2,
                       "client %s: drain completed but connection %llu was "
                       "never closed",
                       nm__inv_cname(cx, c), (unsigned long long)conn);
      }
    }
    /* (4) closed exactly once, and last. */
    for (size_t i = 0; i < tl->n; i++) {
      if (!ev_is(&tl->v[i], c, "closed"))
        continue;
      nclosed++;
      if (closed == NM_TL_NONE)
        closed = i;
    }
    if (nclosed == 0) {
      size_t ev[2] = {d, r};
      nm__inv_absent(cx, out, what, ev, 2,
                     "client %s: closed never reported after a drain",
                     nm__inv_cname(cx, c));
      continue;
    }
    if (nclosed != 1) {
      size_t ev[2] = {d, r};
      nm_fails_add(out, what, tl, ev, 2,
                   "client %s: closed reported %zu times after a drain "
                   "(expected once)",
                   nm__inv_cname(cx, c), nclosed);
      continue;
    }
    for (size_t i = closed + 1; i < tl->n; i++) {
      const nm_tl_ev_t *x = &tl->v[i];
      if (x->kind == NM_TL_EV && x->client == c && !is_result(x)) {
        size_t ev[2] = {closed, i};
        nm_fails_add(out, what, tl, ev, 2, "client %s: an event after closed",
                     nm__inv_cname(cx, c));
        break;
      }
    }
  }
}

/* reconnect_connect_first: every connection's first received frame is
 * CONNECT, and no connection got -ERR 'Unknown Protocol Operation' (the
 * server's answer to a partial or garbled frame). */
void nm__inv_reconnect_connect_first(const nm_inv_ctx_t *cx,
                                     const cJSON *params, const char *what,
                                     nm_fails_t *out) {
  const nm_tl_t *tl = cx->tl;
  const char *only = nm__inv_param_str(params, "client");
  uint64_t maxconn = 0;
  for (size_t i = 0; i < tl->n; i++)
    if (tl->v[i].kind >= NM_TL_OPEN && tl->v[i].kind <= NM_TL_ACTION &&
        tl->v[i].conn > maxconn)
      maxconn = tl->v[i].conn;
  if (maxconn >= NM_TL_MAX_CONNS)
    maxconn = NM_TL_MAX_CONNS - 1;
  for (uint64_t conn = 1; conn <= maxconn; conn++) {
    int owner = nm_tl_owner(tl, conn);
    int first_done = 0;
    if (only && !nm__inv_client_wanted(cx, params, owner))
      continue;
    for (size_t i = 0; i < tl->n; i++) {
      const nm_tl_ev_t *e = &tl->v[i];
      if (e->conn != conn)
        continue;
      if (e->kind == NM_TL_IN && !first_done) {
        first_done = 1;
        if (e->op != NM_OP_CONNECT) {
          size_t ev[1] = {i};
          nm_fails_add(out, what, tl, ev, 1,
                       "connection %llu (client %s): the first frame "
                       "received was %s, not CONNECT",
                       (unsigned long long)conn, nm__inv_cname(cx, owner),
                       nm_tl_verb(e->op));
        }
      }
      if (e->kind == NM_TL_OUT && e->op == NM_OP_ERR && e->payload &&
          strstr(e->payload, "Unknown Protocol Operation")) {
        size_t ev[2] = {i > 0 ? i - 1 : NM_TL_NONE, i};
        nm_fails_add(out, what, tl, ev, 2,
                     "connection %llu (client %s): the server could not "
                     "parse what the client wrote (a partial or garbled "
                     "frame)",
                     (unsigned long long)conn, nm__inv_cname(cx, owner));
      }
    }
  }
}

/* Connections of a client in the order they first appear. */
#define NM_INV_MAX_CHAIN 256

/* replay_order: on each connection after a client's first, CONNECT first,
 * re-established SUBs before any PUB, UNSUB with the remaining max for
 * subscriptions with a max (none once spent), buffered PUBs in call order. */
void nm__inv_replay_order(const nm_inv_ctx_t *cx, const cJSON *params,
                          const char *what, nm_fails_t *out) {
  const nm_tl_t *tl = cx->tl;
  for (int c = 0; c < tl->nclients; c++) {
    uint64_t chain[NM_INV_MAX_CHAIN];
    size_t start[NM_INV_MAX_CHAIN];
    int n = 0;
    if (!nm__inv_client_wanted(cx, params, c))
      continue;
    for (size_t i = 0; i < tl->n && n < NM_INV_MAX_CHAIN; i++) {
      const nm_tl_ev_t *e = &tl->v[i];
      int known = 0;
      if (e->kind < NM_TL_OPEN || e->kind > NM_TL_ACTION ||
          !nm__inv_on_client(cx, i, c))
        continue;
      for (int k = 0; k < n; k++)
        known |= chain[k] == e->conn;
      if (!known) {
        chain[n] = e->conn;
        start[n++] = i;
      }
    }
    for (int k = 1; k < n; k++) {
      uint64_t conn = chain[k];
      size_t first_in = NM_TL_NONE, first_pub = NM_TL_NONE;
      size_t prev_seen = 0;
      for (size_t i = start[k]; i < tl->n; i++) {
        const nm_tl_ev_t *e = &tl->v[i];
        if (e->conn != conn || e->kind != NM_TL_IN)
          continue;
        if (first_in == NM_TL_NONE)
          first_in = i;
        if (first_pub == NM_TL_NONE &&
            (e->op == NM_OP_PUB || e->op == NM_OP_HPUB))
          first_pub = i;
      }
      if (first_in != NM_TL_NONE && tl->v[first_in].op != NM_OP_CONNECT) {
        size_t ev[1] = {first_in};
        nm_fails_add(out, what, tl, ev, 1,
                     "client %s: reconnection %llu began with %s, not "
                     "CONNECT",
                     nm__inv_cname(cx, c), (unsigned long long)conn,
                     nm_tl_verb(tl->v[first_in].op));
      }
      for (int si = 0; si < cx->nsubs; si++) {
        const nm_inv_sub_t *s = &cx->subs[si];
        size_t sub = NM_TL_NONE, unsub = NM_TL_NONE;
        int64_t lo = 0, hi = 0;
        if (s->client != c || s->cmd > start[k] || s->nsids == 0 ||
            sub_ended_before(cx, s, start[k]))
          continue;
        for (size_t i = start[k]; i < tl->n; i++) {
          const nm_tl_ev_t *e = &tl->v[i];
          if (e->conn != conn || e->kind != NM_TL_IN || !has_sid(s, e->sid))
            continue;
          if (e->op == NM_OP_SUB && sub == NM_TL_NONE)
            sub = i;
          else if (e->op == NM_OP_UNSUB && sub != NM_TL_NONE &&
                   unsub == NM_TL_NONE)
            unsub = i;
        }
        if (sub != NM_TL_NONE && first_pub != NM_TL_NONE && sub > first_pub) {
          size_t ev[2] = {first_pub, sub};
          nm_fails_add(out, what, tl, ev, 2,
                       "client %s: on reconnection %llu, sub %s was "
                       "re-established after a PUB",
                       nm__inv_cname(cx, c), (unsigned long long)conn, s->tag);
        }
        if (s->max <= 0)
          continue;
        /* Messages delivered before the reconnection: the driver's msg
         * lines race the new connection's frames, so accept any count
         * between those seen at its start and those seen by the replay. */
        for (size_t i = 0; i < tl->n; i++) {
          const nm_tl_ev_t *e = &tl->v[i];
          const char *tag;
          size_t hi_end = unsub != NM_TL_NONE ? unsub : tl->n;
          if (!ev_is(e, c, "msg") || !(tag = nm_tl_str(e, "sub")) ||
              strcmp(tag, s->tag))
            continue;
          if (i < start[k])
            lo++;
          if (i < hi_end)
            hi++;
        }
        if (s->max - lo <= 0) {
          if (sub != NM_TL_NONE) {
            size_t ev[1] = {sub};
            nm_fails_add(out, what, tl, ev, 1,
                         "client %s: sub %s had received its max (%lld) "
                         "but was replayed on reconnection %llu",
                         nm__inv_cname(cx, c), s->tag, (long long)s->max,
                         (unsigned long long)conn);
          }
          continue;
        }
        if (sub == NM_TL_NONE)
          continue;
        if (unsub == NM_TL_NONE || !tl->v[unsub].max) {
          size_t ev[1] = {sub};
          nm_fails_add(out, what, tl, ev, 1,
                       "client %s: sub %s (max %lld, %lld delivered) was "
                       "replayed without UNSUB with the remaining max",
                       nm__inv_cname(cx, c), s->tag, (long long)s->max,
                       (long long)lo);
        } else {
          long long got = atoll(tl->v[unsub].max);
          if (got < s->max - hi || got > s->max - lo) {
            size_t ev[2] = {sub, unsub};
            nm_fails_add(out, what, tl, ev, 2,
                         "client %s: sub %s replayed with UNSUB max %lld; "
                         "remaining was %lld (max %lld, %lld delivered)",
                         nm__inv_cname(cx, c), s->tag, got,
                         (long long)(s->max - lo), (long long)s->max,
                         (long long)lo);
          }
        }
      }
      /* Buffered publishes replayed in call order. */
      for (size_t m = 0; m < cx->nmsgs; m++) {
        const nm_inv_msg_t *x = &cx->msgs[m];
        if (x->client != c || x->seen == NM_TL_NONE ||
            tl->v[x->seen].conn != conn)
          continue;
        if (x->seen < prev_seen) {
          size_t ev[2] = {x->cmd, x->seen};
          nm_fails_add(out, what, tl, ev, 2,
                       "client %s: on reconnection %llu, message %llu of "
                       "publish id %lld arrived out of call order",
                       nm__inv_cname(cx, c), (unsigned long long)conn,
                       (unsigned long long)x->k, (long long)tl->v[x->cmd].id);
          break;
        }
        prev_seen = x->seen;
      }
    }
  }
}

/* Server PINGs outstanding on one connection. */
#define NM_INV_MAX_PINGS 1024

/* server_ping_answered: each PING the server wrote is answered by a PONG
 * from the client within bound_ms (PONGs pair with server PINGs in order),
 * unless the connection closed first or the run ended before the bound. */
void nm__inv_server_ping_answered(const nm_inv_ctx_t *cx, const cJSON *params,
                                  const char *what, nm_fails_t *out) {
  const nm_tl_t *tl = cx->tl;
  uint64_t bound = nm__inv_param_slack_us(cx, params, "bound_ms", 100);
  uint64_t end = tl->n ? tl->v[tl->n - 1].t_us : 0;

  for (size_t p = 0; p < tl->n; p++) {
    const nm_tl_ev_t *e = &tl->v[p];
    size_t ahead = 0, pong = NM_TL_NONE, closed = NM_TL_NONE;
    if (e->kind != NM_TL_OUT || e->op != NM_OP_PING || !nm_tl_sent(e) ||
        !nm__inv_client_wanted(cx, params, nm_tl_owner(tl, e->conn)))
      continue;
    /* PONGs answer server PINGs in order: skip those owed to earlier
     * PINGs still outstanding. */
    for (size_t i = 0; i < tl->n; i++) {
      const nm_tl_ev_t *x = &tl->v[i];
      if (x->conn != e->conn)
        continue;
      if (i < p && x->kind == NM_TL_OUT && x->op == NM_OP_PING && nm_tl_sent(x))
        ahead++;
      else if (x->kind == NM_TL_IN && x->op == NM_OP_PONG) {
        if (ahead > 0)
          ahead--;
        else if (i > p) {
          pong = i;
          break;
        }
      } else if (x->kind == NM_TL_CLOSE && i > p && closed == NM_TL_NONE) {
        closed = i;
      }
    }
    if (pong != NM_TL_NONE && tl->v[pong].t_us - e->t_us <= bound)
      continue;
    if (closed != NM_TL_NONE && tl->v[closed].t_us - e->t_us <= bound &&
        (pong == NM_TL_NONE || closed < pong))
      continue;
    if (pong == NM_TL_NONE && end < e->t_us + bound)
      continue; /* the run ended before the bound */
    {
      size_t ev[2] = {p, pong};
      nm_fails_add(out, what, tl, ev, 2,
                   "client %s: a server PING on connection %llu was %s "
                   "(bound %llu ms)",
                   nm__inv_cname(cx, nm_tl_owner(tl, e->conn)),
                   (unsigned long long)e->conn,
                   pong == NM_TL_NONE ? "never answered" : "answered late",
                   (unsigned long long)(bound / 1000));
    }
  }
}

/* closed_once: at most one closed event, nothing but command results after
 * it, and exactly one once a close or drain command ended ok. */
void nm__inv_closed_once(const nm_inv_ctx_t *cx, const cJSON *params,
                         const char *what, nm_fails_t *out) {
  const nm_tl_t *tl = cx->tl;
  for (int c = 0; c < tl->nclients; c++) {
    size_t first = NM_TL_NONE, second = NM_TL_NONE, closer = NM_TL_NONE;
    if (!nm__inv_client_wanted(cx, params, c))
      continue;
    for (size_t i = 0; i < tl->n; i++) {
      const nm_tl_ev_t *e = &tl->v[i];
      if (ev_is(e, c, "closed")) {
        if (first == NM_TL_NONE)
          first = i;
        else if (second == NM_TL_NONE)
          second = i;
      } else if (e->kind == NM_TL_CMD && e->client == c &&
                 (strcmp(e->ev, "close") == 0 || strcmp(e->ev, "drain") == 0)) {
        size_t r = nm__inv_result(cx, i);
        if (r != NM_TL_NONE && strcmp(tl->v[r].ev, "ok") == 0 &&
            closer == NM_TL_NONE)
          closer = i;
      }
    }
    if (second != NM_TL_NONE) {
      size_t ev[2] = {first, second};
      nm_fails_add(out, what, tl, ev, 2, "client %s: closed reported twice",
                   nm__inv_cname(cx, c));
    }
    if (closer != NM_TL_NONE && first == NM_TL_NONE) {
      size_t ev[2] = {closer, nm__inv_result(cx, closer)};
      nm__inv_absent(cx, out, what, ev, 2,
                     "client %s: %s succeeded but closed was never reported",
                     nm__inv_cname(cx, c), tl->v[closer].ev);
    }
    if (first == NM_TL_NONE)
      continue;
    for (size_t i = first + 1; i < tl->n; i++) {
      const nm_tl_ev_t *x = &tl->v[i];
      if (x->kind == NM_TL_EV && x->client == c && !is_result(x) &&
          strcmp(x->ev, "closed") != 0) {
        size_t ev[2] = {first, i};
        nm_fails_add(out, what, tl, ev, 2, "client %s: a %s event after closed",
                     nm__inv_cname(cx, c), x->ev);
        break;
      }
    }
  }
}
