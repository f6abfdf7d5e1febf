/* Flush invariants: flush_fence, flush_timeout, pong_fifo.
 *
 * A flush's promise is that the server has processed everything the client
 * published before it: the proof is a PONG the server sent in answer to a
 * PING it received after those publishes. PINGs and PONGs are paired first-in
 * first-out per connection, which is all a client can see; a PONG that
 * answered no PING the server had read, sent while a flush's PING was on its
 * way, may be that PING's answer for the client (nm__inv_pong_may_answer): an
 * undetectable fault, recorded and not blamed (docs/design.md, Fairness). */
#include <string.h>

#include "nm_invariants.h"

static int is_flush(const nm_tl_ev_t *e, int client) {
  return e->kind == NM_TL_CMD && e->client == client &&
         strcmp(e->ev, "flush") == 0;
}

static int is_ok(const nm_inv_ctx_t *cx, size_t r) {
  return r != NM_TL_NONE && strcmp(cx->tl->v[r].ev, "ok") == 0;
}

/* The first PING the server received from `client` after index `after`
 * whose answer (as the client may have seen it) was sent before `before`.
 * Usually the PING itself precedes `before`; one answered by a spare PONG
 * (nm__inv_pong_may_answer) may have been read after it. */
static size_t answered_ping(const nm_inv_ctx_t *cx, int client, size_t after,
                            size_t before) {
  for (size_t i = nm__inv_next_ping(cx, client, after); i != NM_TL_NONE;
       i = nm__inv_next_ping(cx, client, i)) {
    size_t pong = nm__inv_pong_may_answer(cx, i);
    if (pong != NM_TL_NONE && pong < before)
      return i;
    /* Past `before`, only the PINGs right after it can have spare answers
     * waiting for them (spares are taken by the next PINGs read). */
    if (i >= before)
      break;
  }
  return NM_TL_NONE;
}

/* The PONG sent before the ok at `r` that a client may have taken as the
 * answer to a PING it sent for the flush at `f` although the server sent it
 * before reading that PING (so it proves nothing), or NM_TL_NONE; *ping is
 * set to that PING. */
static size_t released_by_spare(const nm_inv_ctx_t *cx, int client, size_t f,
                                size_t r, size_t *ping) {
  for (size_t i = nm__inv_next_ping(cx, client, f); i != NM_TL_NONE;
       i = nm__inv_next_ping(cx, client, i)) {
    size_t pong = nm__inv_pong_may_answer(cx, i);
    /* Answers come in PING order: none later can precede the ok. */
    if (pong == NM_TL_NONE || pong > r)
      break;
    if (pong < i) {
      *ping = i;
      return pong;
    }
  }
  return NM_TL_NONE;
}

/* Could a message the client published at `from` have been lost with a
 * connection before `before`? It could when a connection of the client
 * closed in between (the client may have written it there first, even one
 * the server had already closed but the client not yet noticed), or when
 * the connection open at `from` was left for another one (a client that
 * found it stale reconnects, while a server that stopped reading never
 * sees the close). */
static int conn_lost_between(const nm_inv_ctx_t *cx, int client, size_t from,
                             size_t before) {
  const nm_tl_t *tl = cx->tl;
  uint64_t conn = nm__inv_open_conn_at(cx, client, from);
  for (size_t i = from; i < before && i < tl->n; i++) {
    const nm_tl_ev_t *e = &tl->v[i];
    if (!nm__inv_on_client(cx, i, client))
      continue;
    if (e->kind == NM_TL_CLOSE || (conn && e->kind == NM_TL_OPEN))
      return 1;
  }
  return 0;
}

/* flush_fence: a flush that ended ok had every earlier accepted publish
 * received by the server, and a PING received after them answered (FIFO)
 * before the ok. */
void nm__inv_flush_fence(const nm_inv_ctx_t *cx, const cJSON *params,
                         const char *what, nm_fails_t *out) {
  const nm_tl_t *tl = cx->tl;
  for (size_t f = 0; f < tl->n; f++) {
    const nm_tl_ev_t *e = &tl->v[f];
    size_t r, last = f, missing = NM_TL_NONE, ping, spare, lost;
    if (e->kind != NM_TL_CMD || strcmp(e->ev, "flush") ||
        !nm__inv_client_wanted(cx, params, e->client))
      continue;
    r = nm__inv_result(cx, f);
    if (!is_ok(cx, r))
      continue;
    spare = released_by_spare(cx, e->client, f, r, &ping);
    if (spare != NM_TL_NONE) {
      size_t ev[4] = {f, spare, ping, r};
      nm__inv_not_blamed(cx, what, ev, 4,
                         "client %s: flush id %lld may have been released by "
                         "a PONG the server sent before it read the flush's "
                         "PING (an undetectable fault)",
                         nm__inv_cname(cx, e->client), (long long)e->id);
      continue;
    }
    lost = NM_TL_NONE;
    for (size_t k = 0; k < cx->nmsgs; k++) {
      const nm_inv_msg_t *m = &cx->msgs[k];
      if (m->client != e->client || m->cmd > f || m->excused ||
          !is_ok(cx, m->result) || m->result > r)
        continue;
      if (m->seen != NM_TL_NONE && m->seen < r) {
        if (m->seen > last)
          last = m->seen;
        continue;
      }
      /* Lost with a connection (conn_lost_between): no client can tell.
       * A message published while disconnected, with no connection lost
       * since, waits in the reconnect buffer and is owed. */
      if (conn_lost_between(cx, m->client, m->cmd, r)) {
        if (lost == NM_TL_NONE)
          lost = k;
        continue;
      }
      missing = k;
      break;
    }
    if (missing == NM_TL_NONE && lost != NM_TL_NONE) {
      const nm_inv_msg_t *m = &cx->msgs[lost];
      size_t ev[3] = {m->cmd, f, r};
      nm__inv_not_blamed(cx, what, ev, 3,
                         "client %s: flush id %lld: message %llu of publish "
                         "id %lld (and maybe more) never reached the server, "
                         "but a connection was lost between its publish and "
                         "the flush's ok (it may have been lost with it)",
                         nm__inv_cname(cx, e->client), (long long)e->id,
                         (unsigned long long)m->k, (long long)tl->v[m->cmd].id);
    }
    if (missing != NM_TL_NONE) {
      const nm_inv_msg_t *m = &cx->msgs[missing];
      size_t ev[4] = {m->cmd, m->seen, f, r};
      nm_fails_add(out, what, tl, ev, 4,
                   "client %s: flush id %lld succeeded, but message %llu of "
                   "the earlier publish id %lld had not reached the server",
                   nm__inv_cname(cx, e->client), (long long)e->id,
                   (unsigned long long)m->k, (long long)tl->v[m->cmd].id);
      continue;
    }
    ping = answered_ping(cx, e->client, last, r);
    if (ping == NM_TL_NONE) {
      size_t ev[3] = {f, last != f ? last : NM_TL_NONE, r};
      nm_fails_add(out, what, tl, ev, 3,
                   "client %s: flush id %lld succeeded without a PONG "
                   "answering a PING the server received after the flush "
                   "and its earlier publishes",
                   nm__inv_cname(cx, e->client), (long long)e->id);
    }
  }
}

/* flush_timeout: a flush none of whose later PINGs got an answer within
 * its timeout ends err no later than timeout + tolerance. */
void nm__inv_flush_timeout(const nm_inv_ctx_t *cx, const cJSON *params,
                           const char *what, nm_fails_t *out) {
  const nm_tl_t *tl = cx->tl;
  int64_t tol_us =
      (int64_t)nm__inv_param_slack_us(cx, params, "tolerance_ms", 250);
  int64_t dflt = nm__inv_param_int(params, "default_timeout_ms", -1);
  uint64_t end = tl->n ? tl->v[tl->n - 1].t_us : 0;

  for (size_t f = 0; f < tl->n; f++) {
    const nm_tl_ev_t *e = &tl->v[f];
    int64_t tmo;
    uint64_t limit;
    size_t r, ping, bound = f;
    if (e->kind != NM_TL_CMD || strcmp(e->ev, "flush") ||
        !nm__inv_client_wanted(cx, params, e->client))
      continue;
    tmo = nm_tl_int(e, "timeout_ms", dflt);
    if (tmo < 0)
      continue;
    limit = e->t_us + (uint64_t)tmo * 1000;
    /* Entries up to the timeout: was any PING after the flush answered? */
    while (bound < tl->n && tl->v[bound].t_us <= limit)
      bound++;
    ping = answered_ping(cx, e->client, f, bound);
    if (ping != NM_TL_NONE)
      continue;
    r = nm__inv_result(cx, f);
    if (r == NM_TL_NONE) {
      if (end > limit + (uint64_t)tol_us) {
        size_t ev[1] = {f};
        nm__inv_absent(cx, out, what, ev, 1,
                       "client %s: flush id %lld (timeout %lld ms) had no "
                       "PONG and never ended",
                       nm__inv_cname(cx, e->client), (long long)e->id,
                       (long long)tmo);
      }
      continue;
    }
    if (is_ok(cx, r)) {
      size_t ev[2] = {f, r};
      nm_fails_add(out, what, tl, ev, 2,
                   "client %s: flush id %lld succeeded although no PING it "
                   "could have sent was answered within its timeout",
                   nm__inv_cname(cx, e->client), (long long)e->id);
    } else if (tl->v[r].t_us > limit + (uint64_t)tol_us) {
      size_t ev[2] = {f, r};
      nm_fails_add(out, what, tl, ev, 2,
                   "client %s: flush id %lld failed after %.1f ms; its "
                   "timeout is %lld ms (+%lld ms tolerance)",
                   nm__inv_cname(cx, e->client), (long long)e->id,
                   (double)(tl->v[r].t_us - e->t_us) / 1000.0, (long long)tmo,
                   (long long)(tol_us / 1000));
    }
  }
}

/* Flushes per client, in call order, bounded so that one pass is cheap. */
#define NM_INV_MAX_FLUSHES 4096

/* pong_fifo: flushes are assigned the PINGs received after them, in
 * order; a flush ends ok only after its own PING's (FIFO) answer, and never
 * while an earlier flush of the client is still pending. */
void nm__inv_pong_fifo(const nm_inv_ctx_t *cx, const cJSON *params,
                       const char *what, nm_fails_t *out) {
  const nm_tl_t *tl = cx->tl;
  static __thread size_t fl[NM_INV_MAX_FLUSHES], pg[NM_INV_MAX_FLUSHES];

  for (int c = 0; c < tl->nclients; c++) {
    size_t n = 0, last_ping = 0;
    if (!nm__inv_client_wanted(cx, params, c))
      continue;
    for (size_t i = 0; i < tl->n && n < NM_INV_MAX_FLUSHES; i++)
      if (is_flush(&tl->v[i], c))
        fl[n++] = i;
    /* The k-th flush's PING: the first PING after it was sent and after the
     * previous flush's PING. */
    for (size_t k = 0; k < n; k++)
      pg[k] = NM_TL_NONE;
    for (size_t k = 0; k < n; k++) {
      size_t from = fl[k] > last_ping ? fl[k] : last_ping;
      pg[k] = nm__inv_next_ping(cx, c, from);
      if (pg[k] == NM_TL_NONE)
        break;
      last_ping = pg[k];
    }
    for (size_t k = 0; k < n; k++) {
      size_t r = nm__inv_result(cx, fl[k]);
      size_t pong;
      if (!is_ok(cx, r))
        continue;
      pong =
          pg[k] == NM_TL_NONE ? NM_TL_NONE : nm__inv_pong_may_answer(cx, pg[k]);
      /* A PING read after the ok counts only when a spare PONG sent before
       * the ok answered it (an undetectable fault, recorded by flush_fence). */
      if (pg[k] == NM_TL_NONE ||
          (pg[k] > r && (pong == NM_TL_NONE || pong > r))) {
        size_t ev[2] = {fl[k], r};
        nm_fails_add(out, what, tl, ev, 2,
                     "client %s: flush id %lld succeeded before the server "
                     "received its PING",
                     nm__inv_cname(cx, c), (long long)tl->v[fl[k]].id);
        continue;
      }
      if (pong == NM_TL_NONE || pong > r) {
        size_t ev[4] = {fl[k], pg[k], pong, r};
        nm_fails_add(out, what, tl, ev, 4,
                     "client %s: flush id %lld succeeded before the PONG "
                     "answering its own PING (first-in first-out)",
                     nm__inv_cname(cx, c), (long long)tl->v[fl[k]].id);
      }
      for (size_t j = 0; j < k; j++) {
        size_t rj = nm__inv_result(cx, fl[j]);
        if (rj == NM_TL_NONE || rj > r) {
          size_t ev[3] = {fl[j], fl[k], r};
          nm_fails_add(out, what, tl, ev, 3,
                       "client %s: flush id %lld succeeded while the earlier "
                       "flush id %lld was still pending",
                       nm__inv_cname(cx, c), (long long)tl->v[fl[k]].id,
                       (long long)tl->v[fl[j]].id);
          break;
        }
      }
    }
  }
}
