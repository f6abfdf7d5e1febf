/* Subscriptions: the sid table, per-subscription serial delivery with
 * pending limits and asynchronous handler completion, unsubscribe and
 * auto-unsubscribe, subscription drain (UNSUB + PING fence), and the SUB
 * replay after a reconnect. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_encode.h"
#include "nm_subject.h"
#include "nmc_internal.h"

static void sub_check_done(nmc_sub_t *s);

static nmc_sub_t **bucket(nmc_conn_t *c, uint64_t sid) {
  return &c->buckets[sid % NMC_SID_BUCKETS];
}

static nm_slice_t sid_slice(uint64_t sid, char *buf, size_t cap) {
  int n = snprintf(buf, cap, "%llu", (unsigned long long)sid);
  nm_slice_t s = {buf, (size_t)n};
  return s;
}

static void sub_unref(nmc_sub_t *s) {
  if (--s->refs > 0)
    return;
  free(s->subject);
  free(s->queue);
  free(s);
}

static void free_queue(nmc_sub_t *s) {
  nmc_pmsg_t *m = s->qhead;
  while (m) {
    nmc_pmsg_t *n = m->next;
    free(m);
    m = n;
  }
  s->qhead = s->qtail = NULL;
  s->qmsgs = s->qbytes = 0;
}

static void on_drain_timer_closed(uv_handle_t *h) {
  nmc_sub_t *s = nmc__container_of(h, nmc_sub_t, drain_timer);
  nmc_conn_t *c = h->data;
  sub_unref(s);
  nmc__handle_closed(c);
}

/* Takes the subscription out of the table: no more deliveries. Its memory
 * lives on while a handler still holds a message. */
void nmc__sub_remove(nmc_sub_t *s) {
  nmc_conn_t *c = s->c;
  nmc_sub_t **pp;

  if (s->removed)
    return;
  s->removed = 1;
  for (pp = bucket(c, s->sid); *pp; pp = &(*pp)->hnext)
    if (*pp == s) {
      *pp = s->hnext;
      break;
    }
  if (s->prev)
    s->prev->next = s->next;
  else
    c->shead = s->next;
  if (s->next)
    s->next->prev = s->prev;
  else
    c->stail = s->prev;
  if (c->inbox == s)
    c->inbox = NULL;
  free_queue(s);
  if (s->drain_timer_on) {
    s->drain_timer_on = 0;
    nmc__handle_close(c, (uv_handle_t *)&s->drain_timer, on_drain_timer_closed);
  }
  s->c = NULL;
  if (s->removed_cb)
    s->removed_cb(s, s->data);
  sub_unref(s);
}

void nmc_sub_set_removed_cb(nmc_sub_t *s, nmc_removed_cb cb) {
  s->removed_cb = cb;
}

void *nmc_sub_data(const nmc_sub_t *s) {
  return s->data;
}

static int send_unsub(nmc_conn_t *c, uint64_t sid, long long max) {
  char b[24];
  int r;
  /* While disconnected the server has no subscription to remove; the replay
   * after reconnect sends only live ones. */
  if (!nmc__connected(c))
    return 0;
  r = nm_encode_unsub(&c->out, sid_slice(sid, b, sizeof(b)), max);
  nmc__out_kick(c);
  return r == NM_ETOOBIG ? NMC_EBUFFULL : r;
}

nmc_sub_t *nmc__sub_new(nmc_conn_t *c, const char *subject, const char *queue,
                        nmc_msg_cb cb, void *data, int *err) {
  nmc_sub_t *s;
  char b[24];
  int r;

  if (!subject || !nm_subject_valid(nm_slice_str(subject)) ||
      strpbrk(subject, " \t\r\n") ||
      (queue && queue[0] && strpbrk(queue, " \t\r\n"))) {
    *err = NMC_EBADSUBJECT;
    return NULL;
  }
  s = calloc(1, sizeof(*s));
  if (!s || !(s->subject = strdup(subject)) ||
      (queue && queue[0] && !(s->queue = strdup(queue)))) {
    if (s)
      free(s->subject);
    free(s);
    *err = NM_ENOMEM;
    return NULL;
  }
  s->c = c;
  s->sid = ++c->next_sid;
  s->cb = cb;
  s->data = data;
  s->refs = 1;
  s->lim_msgs = c->o.pending_msgs_limit;
  s->lim_bytes = c->o.pending_bytes_limit;
  s->hnext = *bucket(c, s->sid);
  *bucket(c, s->sid) = s;
  s->prev = c->stail;
  if (c->stail)
    c->stail->next = s;
  else
    c->shead = s;
  c->stail = s;
  if (nmc__connected(c)) {
    r = nm_encode_sub(&c->out, nm_slice_str(subject), nm_slice_str(s->queue),
                      sid_slice(s->sid, b, sizeof(b)));
    if (r < 0) {
      nmc__sub_remove(s);
      *err = r == NM_ETOOBIG ? NMC_EBUFFULL : r;
      return NULL;
    }
    nmc__out_kick(c);
  }
  *err = 0;
  return s;
}

int nmc_subscribe(nmc_conn_t *c, const char *subject, const char *queue,
                  nmc_msg_cb cb, void *data, nmc_sub_t **out) {
  int err;
  if (c->closing || c->status == NMC_CLOSED)
    return NM_ECLOSED;
  if (c->status == NMC_DRAINING_SUBS || c->status == NMC_DRAINING_PUBS)
    return NMC_EDRAINING;
  *out = nmc__sub_new(c, subject, queue, cb, data, &err);
  return err;
}

void nmc_sub_set_pending_limits(nmc_sub_t *s, size_t msgs, size_t bytes) {
  if (msgs)
    s->lim_msgs = msgs;
  if (bytes)
    s->lim_bytes = bytes;
}

uint64_t nmc_sub_dropped(const nmc_sub_t *s) {
  return s->dropped;
}

uint64_t nmc_sub_delivered(const nmc_sub_t *s) {
  return s->delivered;
}

/* ---- delivery ---- */

static void msg_finished(nmc_sub_t *s, nmc_pmsg_t *m) {
  s->busy = NULL;
  free(m);
}

/* Hands queued messages to the handler one at a time; stops while a handler
 * has not finished (NMC_ASYNC). Never re-entered for one subscription. */
static void dispatch(nmc_sub_t *s) {
  if (s->dispatching)
    return;
  s->dispatching = 1;
  s->refs++;
  while (!s->removed && !s->busy && s->qhead) {
    nmc_pmsg_t *m = s->qhead;
    int r;
    s->qhead = m->next;
    if (!s->qhead)
      s->qtail = NULL;
    s->qmsgs--;
    s->qbytes -= m->size;
    s->busy = m;
    s->delivered++;
    r = s->cb(s, &m->m, s->data);
    if (r != NMC_ASYNC || s->busy != m) {
      /* Done, or nmc_msg_done already ran inside the handler. */
      if (s->busy == m)
        msg_finished(s, m);
    } else {
      s->refs++; /* held by the outstanding message */
    }
  }
  s->dispatching = 0;
  if (!s->removed)
    sub_check_done(s);
  sub_unref(s);
}

void nmc_msg_done(nmc_msg_t *msg) {
  nmc_pmsg_t *m = nmc__container_of(msg, nmc_pmsg_t, m);
  nmc_sub_t *s = msg->sub;

  if (s->busy != m)
    return; /* not outstanding (already finished) */
  msg_finished(s, m);
  if (s->dispatching)
    return; /* called inside its own handler: dispatch() carries on */
  if (!s->removed)
    dispatch(s);
  sub_unref(s); /* the outstanding message's reference */
}

void nmc__msg_received(nmc_conn_t *c, const nm_frame_t *f) {
  int64_t sid = nm_parse_size(f->sid);
  nmc_sub_t *s = NULL;
  nmc_pmsg_t *m;
  size_t size;
  char *p;

  if (sid > 0)
    for (s = *bucket(c, (uint64_t)sid); s && s->sid != (uint64_t)sid;)
      s = s->hnext;
  if (!s) {
    c->unknown_sid_drops++;
    return;
  }
  if (s->fenced || (s->max && s->received >= s->max)) {
    s->dropped++; /* after a drain fence, or past auto-unsubscribe */
    return;
  }
  if (s->qmsgs + 1 > s->lim_msgs || s->qbytes + f->payload.n > s->lim_bytes) {
    s->dropped++;
    nmc__async_error(c, NMC_ESLOWCONSUMER, NULL, s);
    return;
  }
  size = f->subject.n + f->reply.n + f->payload.n + 3;
  m = malloc(sizeof(*m) + size);
  if (!m) {
    s->dropped++;
    return;
  }
  memset(m, 0, sizeof(*m));
  m->size = f->payload.n;
  p = m->bytes;
  memcpy(p, f->subject.p, f->subject.n);
  p[f->subject.n] = '\0';
  m->m.subject = p;
  p += f->subject.n + 1;
  if (f->reply.n) {
    memcpy(p, f->reply.p, f->reply.n);
    m->m.reply = p;
  }
  p[f->reply.n] = '\0';
  p += f->reply.n + 1;
  if (f->payload.n)
    memcpy(p, f->payload.p, f->payload.n);
  p[f->payload.n] = '\0';
  if (f->op == NM_OP_HMSG && f->hdr_len <= f->payload.n) {
    m->m.hdr = p;
    m->m.hdr_len = f->hdr_len;
  }
  m->m.data = p + m->m.hdr_len;
  m->m.len = f->payload.n - m->m.hdr_len;
  m->m.sub = s;
  if (s->qtail)
    s->qtail->next = m;
  else
    s->qhead = m;
  s->qtail = m;
  s->qmsgs++;
  s->qbytes += m->size;
  s->received++;
  dispatch(s);
}

/* ---- unsubscribe and drain ---- */

static void drain_complete(nmc_sub_t *s, int status) {
  nmc_conn_t *c = s->c;
  nmc_done_cb cb = s->drain_cb;
  void *data = s->drain_data;
  int conn_drain = s->in_conn_drain;

  s->drain_cb = NULL;
  nmc__sub_remove(s);
  if (cb)
    cb(c, status, data);
  if (conn_drain)
    nmc__drain_sub_done(c);
}

/* Removal once the work is done: a drained sub whose fence came back and
 * whose queue is handled, or an auto-unsubscribed one that reached max. */
static void sub_check_done(nmc_sub_t *s) {
  if (s->busy || s->qhead)
    return;
  if (s->draining && s->fenced)
    drain_complete(s, 0);
  else if (!s->draining && s->max && s->delivered >= s->max)
    nmc__sub_remove(s);
}

static void on_fence(nmc_conn_t *c, int status, void *data) {
  nmc_sub_t *s = data;
  if (!s->removed) {
    if (status == 0) {
      s->fenced = 1;
      sub_check_done(s);
    } else {
      drain_complete(s, status);
    }
  }
  sub_unref(s);
}

static void on_drain_timeout(uv_timer_t *t) {
  nmc_sub_t *s = nmc__container_of(t, nmc_sub_t, drain_timer);
  if (!s->removed)
    drain_complete(s, NM_ETIMEOUT);
}

/* timeout_ms 0: no timer of its own (a connection drain has one). */
int nmc__sub_drain(nmc_sub_t *s, uint64_t timeout_ms, nmc_done_cb cb,
                   void *data) {
  nmc_conn_t *c = s->c;
  char b[24];
  int r;

  r = nm_encode_unsub(&c->out, sid_slice(s->sid, b, sizeof(b)), -1);
  if (r < 0)
    return NMC_EBUFFULL;
  r = nmc__ping_push(c, 0, on_fence, s);
  if (r < 0)
    return r;
  s->refs++; /* held by the fence */
  s->draining = 1;
  s->drain_cb = cb;
  s->drain_data = data;
  if (timeout_ms > 0) {
    uv_timer_init(c->loop, &s->drain_timer);
    nmc__handle_init(c, (uv_handle_t *)&s->drain_timer);
    s->drain_timer_on = 1;
    s->refs++;
    uv_timer_start(&s->drain_timer, on_drain_timeout, timeout_ms, 0);
  }
  return 0;
}

int nmc_sub_drain(nmc_sub_t *s, uint64_t timeout_ms, nmc_done_cb cb,
                  void *data) {
  nmc_conn_t *c = s->c;
  if (!c || s->removed || c->closing)
    return NM_ECLOSED;
  if (s->draining || c->status == NMC_DRAINING_SUBS ||
      c->status == NMC_DRAINING_PUBS)
    return NMC_EDRAINING;
  if (!nmc__connected(c))
    return NMC_EDISCONNECTED; /* no server to fence with */
  return nmc__sub_drain(s, timeout_ms ? timeout_ms : c->o.drain_timeout_ms, cb,
                        data);
}

int nmc_unsubscribe(nmc_sub_t *s, uint64_t max) {
  nmc_conn_t *c = s->c;
  int r;
  if (!c || s->removed || c->closing)
    return NM_ECLOSED;
  if (c->status == NMC_DRAINING_SUBS || c->status == NMC_DRAINING_PUBS ||
      s->draining)
    return NMC_EDRAINING;
  if (max > 0 && s->received < max) {
    s->max = max;
    return send_unsub(c, s->sid, (long long)max);
  }
  r = send_unsub(c, s->sid, -1);
  nmc__sub_remove(s);
  return r;
}

int nmc__subs_replay(nmc_conn_t *c, nm_buf_t *b) {
  char sb[24];
  int r = 0;
  for (nmc_sub_t *s = c->shead; s && r == 0; s = s->next) {
    nm_slice_t sid = sid_slice(s->sid, sb, sizeof(sb));
    if (s->draining)
      continue;
    r = nm_encode_sub(b, nm_slice_str(s->subject), nm_slice_str(s->queue), sid);
    /* The server counts an auto-unsubscribe afresh: send what is left. */
    if (r == 0 && s->max)
      r = nm_encode_unsub(b, sid, (long long)(s->max - s->received));
  }
  return r;
}

void nmc__subs_close_all(nmc_conn_t *c, int err) {
  while (c->shead) {
    nmc_sub_t *s = c->shead;
    if (s->draining)
      drain_complete(s, err);
    else
      nmc__sub_remove(s);
  }
}
