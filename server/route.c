/* Routing one published message: every matching plain subscription gets its
 * own copy, each queue group one member picked uniformly at random, echo off
 * honoured, UNSUB max applied, and the 2.9.10 no-responders status sent back
 * when nobody got the message (PROTOCOL.md A2, A6). */
#include <string.h>

#include "nm_encode.h"
#include "nm_server_int.h"
#include "nm_subject.h"

static const char kNoResp[] = "NATS/1.0 503\r\n\r\n";

/* Writes the message to the sub's connection. Returns 1 when delivered. */
static int deliver(nm_server_t *s, nm_conn_t *from, nm__sub_t *sub,
                   nm_slice_t subject, nm_slice_t reply, size_t hdr_len,
                   nm_slice_t payload) {
  nm_conn_t *c = sub->conn;
  nm_buf_t *b;
  size_t mark;
  int r;

  if (c == NULL || (c->flags & NM_CF_CLOSING))
    return 0;
  if (c == from && !c->echo)
    return 0;
  if (sub->max && sub->delivered >= sub->max) {
    nm__conn_remove_sub(c, sub);
    return 0;
  }
  sub->delivered++;
  b = nm__conn_out_begin(c);
  mark = b->len;
  if (hdr_len > 0 && c->headers) {
    r = nm_encode_hmsg(b, subject, sub->sid, reply, hdr_len, payload);
  } else {
    /* Header-less subscribers get the body only, as a plain MSG. */
    nm_slice_t body = payload;
    if (hdr_len > 0) /* payload.p may be NULL when empty */
      body = (nm_slice_t){payload.p + hdr_len, payload.n - hdr_len};
    r = nm_encode_msg(b, subject, sub->sid, reply, body);
  }
  if (r < 0) {
    if (b == &c->out)
      nm__conn_close(c, NM_CLOSE_FIN, "slow consumer");
    return 1;
  }
  if (b == &c->out) {
    nm__conn_out_end(c, b, mark, NULL);
  } else {
    nm_frame_t f;
    memset(&f, 0, sizeof(f));
    f.op = (hdr_len > 0 && c->headers) ? NM_OP_HMSG : NM_OP_MSG;
    f.subject = subject;
    f.sid = sub->sid;
    f.reply = reply;
    f.hdr_len = f.op == NM_OP_HMSG ? hdr_len : 0;
    f.payload = payload;
    if (f.op == NM_OP_MSG && hdr_len > 0)
      f.payload = (nm_slice_t){payload.p + hdr_len, payload.n - hdr_len};
    f.line.p = b->base + mark;
    f.line.n = (size_t)((char *)memchr(b->base + mark, '\n', b->len - mark) -
                        (b->base + mark) - 1);
    nm__conn_out_end(c, b, mark, &f);
  }
  /* At exactly max the message goes out and the sub goes away. */
  if (sub->max && sub->delivered >= sub->max && sub->conn)
    nm__conn_remove_sub(c, sub);
  return 1;
}

static int same_queue(const nm__sub_t *a, const nm__sub_t *b) {
  return a->queue.n == b->queue.n &&
         memcmp(a->queue.p, b->queue.p, a->queue.n) == 0;
}

static void no_responders(nm_server_t *s, nm_conn_t *from, nm_slice_t reply) {
  size_t i;
  nm__sub_t *sub, *found = NULL;
  nm_buf_t *b;
  size_t mark;

  for (i = 0; i < from->nsid_buckets && !found; i++)
    for (sub = from->sids[i]; sub && !found; sub = sub->sid_next)
      if (nm_subject_matches(sub->subject, reply))
        found = sub;
  if (found == NULL)
    return;
  b = nm__conn_out_begin(from);
  mark = b->len;
  if (nm_encode_hmsg(b, reply, found->sid, (nm_slice_t){NULL, 0},
                     sizeof(kNoResp) - 1,
                     (nm_slice_t){kNoResp, sizeof(kNoResp) - 1}) < 0) {
    if (b == &from->out)
      nm__conn_close(from, NM_CLOSE_FIN, "slow consumer");
    return;
  }
  if (b == &from->out) {
    nm__conn_out_end(from, b, mark, NULL);
  } else {
    nm_frame_t f;
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
}

void nm__route(nm_server_t *s, nm_conn_t *from, nm_slice_t subject,
               nm_slice_t reply, size_t hdr_len, nm_slice_t payload) {
  nm__subvec_t *m = &s->match, *q = &s->qgroup;
  size_t start, i, j, k;
  int delivered = 0;

  if (hdr_len > payload.n)
    hdr_len = payload.n;
  /* Routing can nest (a fault hook publishing while we deliver), so each
   * level works on its own part of the match vector. */
  s->route_depth++;
  start = m->n;
  if (nm__sublist_match(&s->subs, subject, m) < 0)
    goto done;
  for (i = start; i < m->n; i++)
    if (m->v[i]->queue.n == 0)
      delivered |= deliver(s, from, m->v[i], subject, reply, hdr_len, payload);
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
      if (deliver(s, from, sub, subject, reply, hdr_len, payload)) {
        delivered = 1;
        break;
      }
    }
    q->n = qstart;
  }
  if (!delivered && from && reply.n > 0 && from->no_responders &&
      !(from->flags & NM_CF_CLOSING))
    no_responders(s, from, reply);
done:
  m->n = start;
  if (--s->route_depth == 0)
    nm__server_free_dead(s);
}
