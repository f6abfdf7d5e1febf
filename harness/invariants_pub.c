/* Publishing invariants: publish_order, no_loss, lone_publish_latency.
 *
 * A message is identified by its client, subject and body (the context
 * expands every publish command into its messages, sequenced payloads
 * included); the server's view is the PUB/HPUB frames it received on the
 * client's connections. */
#include <stdlib.h>
#include <string.h>

#include "nm_invariants.h"

/* publish_order: per client, the messages of publish commands reach the
 * server in call order, and none twice. */
void nm__inv_publish_order(const nm_inv_ctx_t *cx, const cJSON *params,
                           const char *what, nm_fails_t *out) {
  const nm_tl_t *tl = cx->tl;
  char *assigned = calloc(tl->n + 1, 1);

  if (!assigned)
    return;
  for (size_t k = 0; k < cx->nmsgs; k++)
    if (cx->msgs[k].seen != NM_TL_NONE)
      assigned[cx->msgs[k].seen] = 1;
  for (int c = 0; c < tl->nclients; c++) {
    const nm_inv_msg_t *max = NULL;
    if (!nm__inv_client_wanted(cx, params, c))
      continue;
    /* In call order, each message must reach the server after every message
     * called before it. */
    for (size_t k = 0; k < cx->nmsgs; k++) {
      const nm_inv_msg_t *m = &cx->msgs[k];
      if (m->client != c || m->seen == NM_TL_NONE)
        continue;
      if (max && m->seen < max->seen) {
        size_t ev[4] = {m->cmd, m->seen, max->cmd, max->seen};
        nm_fails_add(out, what, tl, ev, 4,
                     "client %s: message %llu of publish id %lld (subject "
                     "%s) reached the server before message %llu of publish "
                     "id %lld, which was called earlier",
                     nm__inv_cname(cx, c), (unsigned long long)m->k,
                     (long long)tl->v[m->cmd].id, m->subject,
                     (unsigned long long)max->k, (long long)tl->v[max->cmd].id);
      }
      if (!max || m->seen > max->seen)
        max = m;
    }
    /* A frame that repeats a message already received is a duplicate. */
    for (size_t i = 0; i < tl->n; i++) {
      const nm_tl_ev_t *e = &tl->v[i];
      if (e->kind != NM_TL_IN || (e->op != NM_OP_PUB && e->op != NM_OP_HPUB) ||
          assigned[i] || !nm__inv_on_client(cx, i, c))
        continue;
      for (size_t k = 0; k < cx->nmsgs; k++) {
        const nm_inv_msg_t *m = &cx->msgs[k];
        if (m->client == c && m->seen != NM_TL_NONE && m->seen < i &&
            nm__inv_frame_is_msg(e, m)) {
          size_t ev[3] = {m->cmd, m->seen, i};
          nm_fails_add(out, what, tl, ev, 3,
                       "client %s: message %llu of publish id %lld reached "
                       "the server twice",
                       nm__inv_cname(cx, c), (unsigned long long)m->k,
                       (long long)tl->v[m->cmd].id);
          break;
        }
      }
    }
  }
  free(assigned);
}

/* no_loss: every message of a publish that ended ok (and the first
 * `published` of one that ended err) reached the server. */
void nm__inv_no_loss(const nm_inv_ctx_t *cx, const cJSON *params,
                     const char *what, nm_fails_t *out) {
  const nm_tl_t *tl = cx->tl;
  const char *subject = nm__inv_param_str(params, "subject");
  for (size_t k = 0; k < cx->nmsgs; k++) {
    const nm_inv_msg_t *m = &cx->msgs[k];
    size_t ev[2] = {m->cmd, m->result};
    if (!nm__inv_client_wanted(cx, params, m->client) || m->pending ||
        m->excused || m->seen != NM_TL_NONE)
      continue;
    if (subject && strcmp(subject, m->subject) != 0)
      continue;
    nm__inv_absent(cx, out, what, ev, 2,
                   "client %s: message %llu of publish id %lld (subject %s) "
                   "was accepted (%s) but never reached the server",
                   nm__inv_cname(cx, m->client), (unsigned long long)m->k,
                   (long long)tl->v[m->cmd].id, m->subject,
                   tl->v[m->result].ev);
  }
  if (cx->msgs_truncated)
    nm_fails_add(out, what, tl, NULL, 0,
                 "more than %d messages: the rest were not checked",
                 NM_INV_MAX_MSGS);
}

/* lone_publish_latency: a message published while connected reaches the
 * server within bound_ms, flush or no flush, unless the connection went
 * away within the bound or it arrived on a later connection. */
void nm__inv_lone_publish_latency(const nm_inv_ctx_t *cx, const cJSON *params,
                                  const char *what, nm_fails_t *out) {
  const nm_tl_t *tl = cx->tl;
  uint64_t bound_us = nm__inv_param_slack_us(cx, params, "bound_ms", 100);
  const char *subject = nm__inv_param_str(params, "subject");

  for (size_t k = 0; k < cx->nmsgs; k++) {
    const nm_inv_msg_t *m = &cx->msgs[k];
    const nm_tl_ev_t *cmd = &tl->v[m->cmd];
    uint64_t conn, deadline = cmd->t_us + bound_us;
    size_t closed;
    if (!nm__inv_client_wanted(cx, params, m->client) || m->excused)
      continue;
    if (subject && strcmp(subject, m->subject) != 0)
      continue;
    conn = nm__inv_open_conn_at(cx, m->client, m->cmd);
    if (!conn)
      continue; /* not connected: buffering is allowed */
    closed = nm__inv_close_of(cx, conn, m->cmd);
    if (closed != NM_TL_NONE && tl->v[closed].t_us <= deadline)
      continue; /* the connection went away within the bound */
    if (m->seen != NM_TL_NONE && tl->v[m->seen].conn != conn)
      continue; /* arrived on a later connection after a reconnect */
    if (m->seen != NM_TL_NONE && tl->v[m->seen].t_us <= deadline)
      continue;
    {
      size_t ev[2] = {m->cmd, m->seen};
      if (m->seen == NM_TL_NONE) {
        /* Only blame a message whose bound passed while recording. */
        if (tl->n == 0 || tl->v[tl->n - 1].t_us < deadline)
          continue;
        nm__inv_absent(cx, out, what, ev, 1,
                       "client %s: message %llu of publish id %lld never "
                       "reached the server (bound %llu ms) although the "
                       "connection stayed open",
                       nm__inv_cname(cx, m->client), (unsigned long long)m->k,
                       (long long)cmd->id,
                       (unsigned long long)(bound_us / 1000));
      } else {
        nm_fails_add(out, what, tl, ev, 2,
                     "client %s: message %llu of publish id %lld reached "
                     "the server %.1f ms after the call (bound %llu ms)",
                     nm__inv_cname(cx, m->client), (unsigned long long)m->k,
                     (long long)cmd->id,
                     (double)(tl->v[m->seen].t_us - cmd->t_us) / 1000.0,
                     (unsigned long long)(bound_us / 1000));
      }
    }
  }
}
