/* Liveness and close invariants: flush_liveness, close_reports.
 *
 * flush_liveness is the other half of flush_timeout: where flush_timeout
 * says a flush with no answer must fail in time, flush_liveness says a flush
 * whose answer came in time must succeed. "Its answer" follows the pairing a
 * client can see (docs/design.md, Fairness): the flush's PING is the first
 * PING the server received from the client after the flush was sent and
 * after the previous flush's PING; its answer is the PONG paired with that
 * PING first-in first-out on the connection (nm__inv_pong_for), whether the
 * server meant it as the answer or not. A dropped PONG therefore shifts the
 * pairing, and no later flush is owed success until the client has
 * resynchronised (a new connection pairs afresh). Only a PING on the
 * connection that was open when the flush was sent counts: after a
 * reconnect the next PING may be the handshake's. */
#include <string.h>

#include "nm_invariants.h"

/* Flushes per client examined in one pass. */
#define NM_INV_LIVE_MAX_FLUSHES 4096

static int ended_ok(const nm_inv_ctx_t *cx, size_t r) {
  return r != NM_TL_NONE && strcmp(cx->tl->v[r].ev, "ok") == 0;
}

void nm__inv_flush_liveness(const nm_inv_ctx_t *cx, const cJSON *params,
                            const char *what, nm_fails_t *out) {
  const nm_tl_t *tl = cx->tl;
  uint64_t tol = nm__inv_param_slack_us(cx, params, "tolerance_ms", 250);
  int64_t dflt = nm__inv_param_int(params, "default_timeout_ms", -1);
  static __thread size_t fl[NM_INV_LIVE_MAX_FLUSHES];

  for (int c = 0; c < tl->nclients; c++) {
    size_t n = 0, last_ping = 0;
    if (!nm__inv_client_wanted(cx, params, c))
      continue;
    for (size_t i = 0; i < tl->n && n < NM_INV_LIVE_MAX_FLUSHES; i++)
      if (tl->v[i].kind == NM_TL_CMD && tl->v[i].client == c &&
          strcmp(tl->v[i].ev, "flush") == 0)
        fl[n++] = i;
    for (size_t k = 0; k < n; k++) {
      const nm_tl_ev_t *f = &tl->v[fl[k]];
      size_t from = fl[k] > last_ping ? fl[k] : last_ping;
      size_t ping = nm__inv_next_ping(cx, c, from), pong, r;
      int64_t tmo = nm_tl_int(f, "timeout_ms", dflt);
      if (ping == NM_TL_NONE)
        break; /* no later flush has a PING either */
      last_ping = ping;
      if (tmo <= 0)
        continue; /* no timeout known: nothing is owed by a deadline */
      /* A PING on another connection than the one open when the flush was
       * sent may be a reconnect's handshake PING, not the flush's: the
       * pairing is not knowable, so nothing is owed. */
      if (tl->v[ping].conn != nm__inv_open_conn_at(cx, c, fl[k]))
        continue;
      pong = nm__inv_pong_for(cx, ping);
      /* Owed success only when the answer left the server with at least
       * the tolerance to spare (the client still has to read it). */
      if (pong == NM_TL_NONE ||
          tl->v[pong].t_us + tol > f->t_us + (uint64_t)tmo * 1000)
        continue;
      r = nm__inv_result(cx, fl[k]);
      if (r == NM_TL_NONE) {
        size_t ev[3] = {fl[k], ping, pong};
        nm__inv_absent(cx, out, what, ev, 3,
                       "client %s: flush id %lld never ended although the "
                       "PONG answering its PING was sent %.1f ms after the "
                       "call (timeout %lld ms)",
                       nm__inv_cname(cx, c), (long long)f->id,
                       (double)(tl->v[pong].t_us - f->t_us) / 1000.0,
                       (long long)tmo);
      } else if (!ended_ok(cx, r)) {
        size_t ev[4] = {fl[k], ping, pong, r};
        const char *code = nm_tl_str(&tl->v[r], "code");
        nm_fails_add(out, what, tl, ev, 4,
                     "client %s: flush id %lld ended err (%s) although the "
                     "PONG answering its PING was sent %.1f ms after the "
                     "call, within its timeout of %lld ms",
                     nm__inv_cname(cx, c), (long long)f->id, code ? code : "?",
                     (double)(tl->v[pong].t_us - f->t_us) / 1000.0,
                     (long long)tmo);
      }
    }
  }
}

/* close_reports: every message of a publish command sent before a close (or
 * drain) and accepted (ok) reached the server on that connection before it
 * closed; otherwise the close (or drain) must end err. A client that says
 * "closed, all is well" while it threw away accepted messages lies. */
void nm__inv_close_reports(const nm_inv_ctx_t *cx, const cJSON *params,
                           const char *what, nm_fails_t *out) {
  const nm_tl_t *tl = cx->tl;
  for (size_t d = 0; d < tl->n; d++) {
    const nm_tl_ev_t *e = &tl->v[d];
    size_t r, fin, lost = NM_TL_NONE, nlost = 0;
    uint64_t conn;
    if (e->kind != NM_TL_CMD ||
        (strcmp(e->ev, "close") && strcmp(e->ev, "drain")) ||
        !nm__inv_client_wanted(cx, params, e->client))
      continue;
    r = nm__inv_result(cx, d);
    if (r != NM_TL_NONE && !ended_ok(cx, r))
      continue; /* the close reported a problem: that is allowed */
    conn = nm__inv_open_conn_at(cx, e->client, d);
    if (!conn)
      continue; /* nothing open to close */
    fin = nm__inv_close_of(cx, conn, d);
    for (size_t k = 0; k < cx->nmsgs; k++) {
      const nm_inv_msg_t *m = &cx->msgs[k];
      if (m->client != e->client || m->cmd > d || m->excused ||
          !ended_ok(cx, m->result))
        continue;
      if (m->seen != NM_TL_NONE && (fin == NM_TL_NONE || m->seen < fin))
        continue;
      if (nlost++ == 0)
        lost = k;
    }
    if (!nlost)
      continue;
    if (r == NM_TL_NONE || fin == NM_TL_NONE) {
      /* The close has not ended (or the FIN is not recorded) yet. */
      size_t ev[2] = {d, cx->msgs[lost].cmd};
      nm__inv_absent(cx, out, what, ev, 2,
                     "client %s: %s id %lld has not ended while %zu accepted "
                     "message(s) (first: message %llu of publish id %lld) "
                     "had not reached the server",
                     nm__inv_cname(cx, e->client), e->ev, (long long)e->id,
                     nlost, (unsigned long long)cx->msgs[lost].k,
                     (long long)tl->v[cx->msgs[lost].cmd].id);
      continue;
    }
    {
      size_t ev[4] = {cx->msgs[lost].cmd, d, fin, r};
      nm_fails_add(out, what, tl, ev, 4,
                   "client %s: %s id %lld ended ok, but %zu accepted "
                   "message(s) never reached the server before connection "
                   "%llu closed (first: message %llu of publish id %lld)",
                   nm__inv_cname(cx, e->client), e->ev, (long long)e->id, nlost,
                   (unsigned long long)conn,
                   (unsigned long long)cx->msgs[lost].k,
                   (long long)tl->v[cx->msgs[lost].cmd].id);
    }
  }
}
