/* Routing one published message: every matching plain subscription gets it
 * (a payload of NM_OUT_SHARE_MIN bytes or more, for several subscribers, is
 * copied once and referenced from each subscriber's output queue), each queue
 * group one member picked uniformly at random, echo off honoured, UNSUB max
 * applied, and the 2.9.10 no-responders status sent back when nobody got the
 * message (docs/design.md, "Ops and their answers", "Subjects, queue groups,
 * UNSUB max").
 *
 * The MSG/HMSG header is written here rather than with nm_encode_msg because
 * nats-server echoes the publisher's size fields byte for byte ("PUB foo 02"
 * is delivered as "MSG foo 1 02"), except when it strips headers. */
#include <string.h>

#include "nm_encode.h"
#include "nm_server_int.h"
#include "nm_subject.h"

static const char kNoResp[] = "NATS/1.0 503\r\n\r\n";

/* Longest decimal size text we format ourselves. */
#define NM_SIZE_DIGITS 24

static char *put(char *o, const char *p, size_t n) {
  if (n)
    memcpy(o, p, n);
  return o + n;
}

/* Bytes of "MSG subj sid [reply] size\r\n" or
 * "HMSG subj sid [reply] hdr size\r\n". */
static size_t msg_line_len(int hmsg, nm_slice_t subject, nm_slice_t sid,
                           nm_slice_t reply, nm_slice_t hdr_txt,
                           nm_slice_t size_txt) {
  return (hmsg ? 5 + hdr_txt.n + 1 : 4) + subject.n + 1 + sid.n + 1 +
         (reply.n ? reply.n + 1 : 0) + size_txt.n + 2;
}

/* Writes that line at o; returns the end. */
static char *put_msg_line(char *o, int hmsg, nm_slice_t subject, nm_slice_t sid,
                          nm_slice_t reply, nm_slice_t hdr_txt,
                          nm_slice_t size_txt) {
  o = hmsg ? put(o, "HMSG ", 5) : put(o, "MSG ", 4);
  o = put(o, subject.p, subject.n);
  *o++ = ' ';
  o = put(o, sid.p, sid.n);
  *o++ = ' ';
  if (reply.n) {
    o = put(o, reply.p, reply.n);
    *o++ = ' ';
  }
  if (hmsg) {
    o = put(o, hdr_txt.p, hdr_txt.n);
    *o++ = ' ';
  }
  o = put(o, size_txt.p, size_txt.n);
  return put(o, "\r\n", 2);
}

/* The whole MSG/HMSG into b (the fault engine's scratch). Returns 0 or
 * NM_ETOOBIG / NM_ENOMEM. */
static int encode_msg(nm_buf_t *b, int hmsg, nm_slice_t subject, nm_slice_t sid,
                      nm_slice_t reply, nm_slice_t hdr_txt, nm_slice_t size_txt,
                      nm_slice_t payload) {
  size_t n = msg_line_len(hmsg, subject, sid, reply, hdr_txt, size_txt) +
             payload.n + 2;
  char *o = nm_buf_reserve(b, n), *start = o;
  if (o == NULL)
    return NM_ETOOBIG;
  o = put_msg_line(o, hmsg, subject, sid, reply, hdr_txt, size_txt);
  o = put(o, payload.p, payload.n);
  o = put(o, "\r\n", 2);
  nm_buf_commit(b, (size_t)(o - start));
  return 0;
}

/* The whole MSG/HMSG straight into c's output queue, within max_pending.
 * With `shared` (a copy of the published payload for every subscriber,
 * payload pointing into it), the queue gets the line, a reference to the
 * payload and the CRLF; else the payload is copied. Returns 0 or
 * NM_ETOOBIG / NM_ENOMEM (then part of it may be queued: the caller closes
 * the connection without a flush). */
static int queue_msg(nm_conn_t *c, int hmsg, nm_slice_t subject, nm_slice_t sid,
                     nm_slice_t reply, nm_slice_t hdr_txt, nm_slice_t size_txt,
                     nm_slice_t payload, nm__oblk_t *shared) {
  nm__opool_t *pool = &c->srv->opool;
  nm__outq_t *q = &c->outq;
  size_t line = msg_line_len(hmsg, subject, sid, reply, hdr_txt, size_txt);
  size_t n = line + payload.n + 2;
  char *o;
  if (!nm__conn_out_room(c, n))
    return NM_ETOOBIG;
  /* In one piece when it fits in the current block (small messages). */
  if (shared == NULL && q->tail && q->tail->size - q->tail->used >= n) {
    if ((o = nm__outq_reserve(pool, q, n)) == NULL)
      return NM_ENOMEM;
    o = put_msg_line(o, hmsg, subject, sid, reply, hdr_txt, size_txt);
    o = put(o, payload.p, payload.n);
    put(o, "\r\n", 2);
    return 0;
  }
  if ((o = nm__outq_reserve(pool, q, line)) == NULL)
    return NM_ENOMEM;
  put_msg_line(o, hmsg, subject, sid, reply, hdr_txt, size_txt);
  if ((shared ? nm__outq_ref(q, shared, payload.p, payload.n)
              : nm__outq_append(pool, q, payload.p, payload.n)) < 0 ||
      nm__outq_append(pool, q, "\r\n", 2) < 0)
    return NM_ENOMEM;
  return 0;
}

/* Decimal v at the end of buf (NM_SIZE_DIGITS bytes); no printf per
 * message. */
static nm_slice_t fmt_size(char *buf, size_t v) {
  char *e = buf + NM_SIZE_DIGITS, *p = e;
  do {
    *--p = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  return (nm_slice_t){p, (size_t)(e - p)};
}

typedef struct {
  nm_conn_t *from;
  nm_slice_t subject, reply, payload;
  size_t hdr_len;
  nm_slice_t hdr_txt, size_txt; /* as the publisher wrote them */
  nm_slice_t body_txt;          /* size of the body alone */
  /* Fixed for the whole fan-out, so computed once: */
  int faults;   /* the fault engine has rules (else it costs nothing) */
  uint64_t now; /* the loop's time */
  /* The payload copied once for a fan-out (NULL: copied per subscriber). */
  nm__oblk_t *shared;
} pubmsg_t;

/* Writes the message to the sub's connection. Returns 1 when delivered. */
static int deliver(nm_server_t *s, const pubmsg_t *m, nm__sub_t *sub) {
  nm_conn_t *c = sub->conn;
  nm_buf_t *b;
  size_t mark;
  int hmsg;
  nm_slice_t payload = m->payload, size_txt;
  nm_frame_t f;

  if (c == NULL || (c->flags & NM_CF_CLOSING))
    return 0;
  if (c == m->from && !c->echo)
    return 0;
  /* deliverMsg: the subscriber's deny filter, before max is counted. */
  if (c->perm_deliver && c->deny_filter &&
      !nm__perm_deliver(c->perms, m->subject))
    return 0;
  if (sub->max && sub->delivered >= sub->max) {
    nm__conn_remove_sub(c, sub);
    return 0;
  }
  sub->delivered++;
  c->out_msgs++;
  c->out_bytes += m->payload.n;
  s->out_msgs++;
  s->out_bytes += m->payload.n;
  /* A delivery is activity that postpones the receiver's keepalive PINGs
   * (nats-server's flushClients sets its `last`). */
  c->last_in_ms = m->now;
  hmsg = m->hdr_len > 0 && c->headers;
  /* Header-less subscribers get the body only, as a plain MSG. */
  if (m->hdr_len > 0 && !hmsg)
    payload =
        (nm_slice_t){m->payload.p + m->hdr_len, m->payload.n - m->hdr_len};
  size_txt = (m->hdr_len > 0 && !hmsg) ? m->body_txt : m->size_txt;
  if (!m->faults) {
    /* A black hole takes nothing; the rest of the delivery still counts. */
    if (!(c->flags & NM_CF_BLACKHOLE)) {
      nm_slice_t at = payload;
      if (m->shared)
        at.p = m->shared->data + (payload.p - m->payload.p);
      if (queue_msg(c, hmsg, m->subject, sub->sid, m->reply, m->hdr_txt,
                    size_txt, at, m->shared) < 0) {
        s->slow_consumers++;
        nm__conn_close(c, NM_CLOSE_FIN, "slow consumer");
        return 1;
      }
      nm__conn_out_queued(c);
    }
  } else {
    b = nm__conn_out_begin(c);
    mark = b->len;
    if (encode_msg(b, hmsg, m->subject, sub->sid, m->reply, m->hdr_txt,
                   size_txt, payload) < 0)
      return 1;
    memset(&f, 0, sizeof(f));
    f.op = hmsg ? NM_OP_HMSG : NM_OP_MSG;
    f.subject = m->subject;
    f.sid = sub->sid;
    f.reply = m->reply;
    f.hdr_len = hmsg ? m->hdr_len : 0;
    f.payload = payload;
    f.line.p = b->base + mark;
    f.line.n = b->len - mark - payload.n - 4;
    nm__conn_out_end(c, b, mark, &f);
  }
  /* allow_responses: the subscriber may now publish to the reply. */
  if (c->perm_deliver && m->reply.n)
    nm__perm_note_reply(c->perms, &c->replies, m->reply, m->now);
  /* nm__stall_check acts only past half of max_pending: tested here first,
   * the common case is one comparison. */
  if (m->from && (int64_t)nm__conn_pending(c) > s->opts.max_pending / 2)
    nm__stall_check(m->from, c);
  /* At exactly max the message goes out and the sub goes away. */
  if (sub->max && sub->delivered >= sub->max && sub->conn)
    nm__conn_remove_sub(c, sub);
  return 1;
}

/* 2 when the matched subs [start, n) will take the message at least
 * twice (two plain subs, or one and a queue group), else 0 or 1. */
static int deliveries(const nm__subvec_t *m, size_t start) {
  size_t i;
  int plain = 0, group = 0;
  for (i = start; i < m->n && plain + group < 2; i++)
    if (m->v[i]->queue.n)
      group = 1;
    else
      plain++;
  return plain + group;
}

static int same_queue(const nm__sub_t *a, const nm__sub_t *b) {
  return a->queue.n == b->queue.n &&
         memcmp(a->queue.p, b->queue.p, a->queue.n) == 0;
}

/* The 503 goes to the publisher's first plain sub in the reply subject's
 * match order (nats-server matches the reply and takes the first of its own
 * plain subs; queue subs do not count). */
static void no_responders(nm_server_t *s, nm_conn_t *from, nm_slice_t reply) {
  nm__subvec_t *m = &s->match;
  size_t start = m->n, i, mark;
  nm__sub_t *found = NULL;
  nm_buf_t *b;
  nm_frame_t f;

  if (nm__sublist_match(&s->subs, reply, m) == 0)
    for (i = start; i < m->n && !found; i++)
      if (m->v[i]->conn == from && m->v[i]->queue.n == 0)
        found = m->v[i];
  m->n = start;
  if (found == NULL)
    return;
  b = nm__conn_out_begin(from);
  mark = b->len;
  if (nm_encode_hmsg(b, reply, found->sid, (nm_slice_t){NULL, 0},
                     sizeof(kNoResp) - 1,
                     (nm_slice_t){kNoResp, sizeof(kNoResp) - 1}) < 0) {
    if (b != &s->scratch)
      nm__conn_close(from, NM_CLOSE_FIN, "slow consumer");
    return;
  }
  memset(&f, 0, sizeof(f));
  f.op = NM_OP_HMSG;
  f.subject = reply;
  f.sid = found->sid;
  f.hdr_len = sizeof(kNoResp) - 1;
  f.payload = (nm_slice_t){kNoResp, sizeof(kNoResp) - 1};
  f.line.p = b->base + mark;
  f.line.n = b->len - mark - f.payload.n - 4;
  nm__conn_out_end(from, b, mark, &f);
}

void nm__route(nm_server_t *s, nm_conn_t *from, nm_slice_t subject,
               nm_slice_t reply, size_t hdr_len, nm_slice_t payload,
               nm_slice_t hdr_txt, nm_slice_t size_txt) {
  nm__subvec_t *m = &s->match, *q = &s->qgroup;
  size_t start, i, j, k;
  int delivered = 0;
  char hbuf[NM_SIZE_DIGITS], sbuf[NM_SIZE_DIGITS], bbuf[NM_SIZE_DIGITS];
  pubmsg_t pm;

  /* Routing can nest (a fault hook publishing while we deliver), so each
   * level works on its own part of the match vector. */
  s->route_depth++;
  start = m->n;
  if (nm__sublist_match(&s->subs, subject, m) < 0)
    goto done;
  /* Nobody subscribed (publish-only traffic): nothing to prepare. */
  if (m->n == start)
    goto none;
  if (hdr_len > payload.n)
    hdr_len = payload.n;
  pm.from = from;
  pm.subject = subject;
  pm.reply = reply;
  pm.payload = payload;
  pm.hdr_len = hdr_len;
  pm.hdr_txt = (hdr_txt.n || !hdr_len) ? hdr_txt : fmt_size(hbuf, hdr_len);
  pm.size_txt = size_txt.n ? size_txt : fmt_size(sbuf, payload.n);
  pm.body_txt = hdr_len ? fmt_size(bbuf, payload.n - hdr_len) : pm.size_txt;
  pm.faults = nm_faults_active(s->faults);
  pm.now = nm__now_ms(s);
  /* One copy for many subscribers (out of memory: a copy each, as with one
   * subscriber). Not with fault rules: their path copies each frame. */
  pm.shared = NULL;
  if (!pm.faults && payload.n >= NM_OUT_SHARE_MIN && deliveries(m, start) > 1)
    pm.shared = nm__oblk_shared(&s->opool, payload.p, payload.n);
  for (i = start; i < m->n; i++)
    if (m->v[i]->queue.n == 0)
      delivered |= deliver(s, &pm, m->v[i]);
  /* Queue groups, in the order their first member was matched. */
  for (i = start; i < m->n; i++) {
    nm__sub_t *first = m->v[i];
    size_t qstart = q->n, n, pick;
    if (first == NULL || first->queue.n == 0)
      continue;
    for (j = i; j < m->n; j++)
      if (m->v[j] && m->v[j]->queue.n && same_queue(first, m->v[j])) {
        if (nm__subvec_push(q, m->v[j]) < 0)
          break;
        if (j != i)
          m->v[j] = NULL;
      }
    n = q->n - qstart;
    pick = n ? (size_t)(nm__rand(s) % n) : 0;
    /* Start at a random member; on failure try the next, as nats-server. */
    for (k = 0; k < n; k++) {
      nm__sub_t *sub = q->v[qstart + (pick + k) % n];
      if (deliver(s, &pm, sub)) {
        delivered = 1;
        break;
      }
    }
    q->n = qstart;
  }
  if (pm.shared)
    nm__oblk_unref(&s->opool, pm.shared);
none:
  m->n = start;
  if (!delivered && from && reply.n > 0 && from->no_responders &&
      !(from->flags & NM_CF_CLOSING))
    no_responders(s, from, reply);
done:
  m->n = start;
  if (--s->route_depth == 0 && s->dead)
    nm__server_free_dead(s);
}
