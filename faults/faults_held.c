/* Frames the engine keeps: held (until released), delayed (until a timer
 * fires), read after a stall (until resumed), waiting to be coalesced (until
 * the next write). Each is a copy of the frame, charged against its
 * connection's caps, and dropped when the connection closes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults_int.h"

static void copy_slice(nm_slice_t *dst, nm_slice_t src, char **cur) {
  if (src.p == NULL) {
    dst->p = NULL;
    dst->n = 0;
    return;
  }
  memcpy(*cur, src.p, src.n);
  dst->p = *cur;
  dst->n = src.n;
  *cur += src.n;
}

nm__fheld_t *nm__fheld_new(nm_faults_t *f, uint64_t conn_id, int dir,
                           const char *rule, const nm_frame_t *fr,
                           nm_slice_t bytes) {
  static const nm_frame_t empty;
  size_t need;
  nm__fheld_t *h;
  char *cur;

  if (fr == NULL)
    fr = &empty;
  need = bytes.n + fr->subject.n + fr->reply.n + fr->queue.n + fr->sid.n +
         fr->max.n + fr->json.n + fr->text.n + fr->payload.n + fr->line.n;
  h = calloc(1, sizeof(*h) + need + 1);
  if (h == NULL)
    return NULL;
  h->f = f;
  h->conn_id = conn_id;
  h->dir = dir;
  snprintf(h->rule, sizeof(h->rule), "%s", rule ? rule : "");
  cur = (char *)(h + 1);
  h->fr.op = fr->op;
  h->fr.hdr_len = fr->hdr_len;
  copy_slice(&h->bytes, bytes, &cur);
  copy_slice(&h->fr.subject, fr->subject, &cur);
  copy_slice(&h->fr.reply, fr->reply, &cur);
  copy_slice(&h->fr.queue, fr->queue, &cur);
  copy_slice(&h->fr.sid, fr->sid, &cur);
  copy_slice(&h->fr.max, fr->max, &cur);
  copy_slice(&h->fr.json, fr->json, &cur);
  copy_slice(&h->fr.text, fr->text, &cur);
  copy_slice(&h->fr.payload, fr->payload, &cur);
  copy_slice(&h->fr.line, fr->line, &cur);
  /* A payload of zero bytes is still present: keep a non-NULL pointer. */
  if (fr->payload.p != NULL && h->fr.payload.p == NULL)
    h->fr.payload.p = cur;
  h->cost = sizeof(*h) + need;
  return h;
}

static void on_timer_closed(uv_handle_t *t) {
  nm__fheld_t *h = t->data;
  h->f->pending_closes--;
  free(h);
}

void nm__fheld_free(nm__fheld_t *h) {
  if (h == NULL)
    return;
  if (h->timer_on) {
    h->timer.data = h;
    h->f->pending_closes++;
    uv_close((uv_handle_t *)&h->timer, on_timer_closed);
    return;
  }
  free(h);
}

int nm__fheld_charge(nm__fconn_t *st, nm__fheld_t *h) {
  if (st->nframes + 1 > NM_FAULT_HELD_FRAMES_MAX ||
      st->nbytes + h->cost > NM_FAULT_HELD_BYTES_MAX ||
      h->f->held_total + h->cost > h->f->held_cap)
    return NM_ETOOBIG;
  st->nframes++;
  st->nbytes += h->cost;
  h->f->held_total += h->cost;
  return 0;
}

void nm__fheld_uncharge(nm__fconn_t *st, nm__fheld_t *h) {
  st->nframes--;
  st->nbytes -= h->cost;
  h->f->held_total -= h->cost;
}

void nm__fheld_append(nm__fheld_list_t *l, nm__fheld_t *h) {
  h->next = NULL;
  h->prev = l->tail;
  if (l->tail != NULL)
    l->tail->next = h;
  else
    l->head = h;
  l->tail = h;
}

void nm__fheld_unlink(nm__fheld_list_t *l, nm__fheld_t *h) {
  if (h->prev != NULL)
    h->prev->next = h->next;
  else
    l->head = h->next;
  if (h->next != NULL)
    h->next->prev = h->prev;
  else
    l->tail = h->prev;
  h->next = h->prev = NULL;
}

void nm__fheld_splice(nm__fheld_list_t *to, nm__fheld_list_t *from) {
  if (from->head == NULL)
    return;
  if (to->tail != NULL) {
    to->tail->next = from->head;
    from->head->prev = to->tail;
  } else {
    to->head = from->head;
  }
  to->tail = from->tail;
  from->head = from->tail = NULL;
}

void nm__fseq_flush(nm_faults_t *f, uint64_t conn_id, int dir) {
  for (;;) {
    nm__fconn_t *st = nm__fconn_get(f, conn_id, 0);
    nm__fheld_t *h = st != NULL ? st->seq[dir].head : NULL;
    nm_hconn_t *c;
    if (h == NULL || !h->ready)
      return;
    nm__fheld_unlink(&st->seq[dir], h);
    nm__fheld_uncharge(st, h);
    nm__fconn_maybe_free(f, st);
    c = nm__fh_find(f, conn_id);
    if (c != NULL)
      nm__fheld_deliver(f, c, h,
                        !h->ordered                  ? "ordered"
                        : h->timer_on && !h->on_held ? "delay"
                                                     : "release");
    nm__fheld_free(h);
  }
}

void nm__fseq_ready(nm_faults_t *f, nm__fheld_t *h) {
  nm__fconn_t *st = nm__fconn_get(f, h->conn_id, 0);
  if (h->ready)
    return;
  h->ready = 1;
  if (st != NULL)
    st->blocking[h->dir]--;
  nm__fseq_flush(f, h->conn_id, h->dir);
}

static void on_delay(uv_timer_t *t) {
  nm__fheld_t *h = t->data;
  nm_faults_t *f = h->f;
  nm__fconn_t *st = nm__fconn_get(f, h->conn_id, 0);
  nm_hconn_t *c;

  if (h->ordered) {
    /* Its timer is closed when the entry is freed, after delivery. */
    nm__fseq_ready(f, h);
    return;
  }
  if (st != NULL) {
    nm__fheld_unlink(h->on_held ? &st->held : &st->delayed, h);
    nm__fheld_uncharge(st, h);
    nm__fconn_maybe_free(f, st);
  }
  c = nm__fh_find(f, h->conn_id);
  if (c != NULL)
    nm__fheld_deliver(f, c, h, h->on_held ? "release" : "delay");
  /* Its timer is the one running this callback: closed by free. */
  nm__fheld_free(h);
}

/* Starts h's one-shot timer (on_delay after ms); on_held: the timer ends a
 * hold (release) rather than a delay. */
static int start_timer(nm_faults_t *f, nm__fheld_t *h, uint64_t ms,
                       int on_held) {
  int r;
  if (f->loop == NULL)
    return NM_ESTATE;
  r = uv_timer_init(f->loop, &h->timer);
  if (r < 0)
    return r;
  h->timer_on = 1;
  if (on_held)
    h->on_held = 1;
  h->timer.data = h;
  return uv_timer_start(&h->timer, on_delay, ms, 0);
}

int nm__fheld_hold_timer(nm_faults_t *f, nm__fheld_t *h, uint64_t ms) {
  return start_timer(f, h, ms, 1);
}

int nm__fheld_delay(nm_faults_t *f, nm__fconn_t *st, nm__fheld_t *h,
                    uint64_t ms) {
  int r = start_timer(f, h, ms, 0);
  if (r < 0)
    return r;
  if (h->ordered) {
    nm__fheld_append(&st->seq[h->dir], h);
    st->blocking[h->dir]++;
  } else {
    nm__fheld_append(&st->delayed, h);
  }
  return 0;
}

void nm__femit(nm_faults_t *f, nm_hconn_t *c, const char *p, size_t n,
               const nm_frame_t *fr, const char *rule, const char *action) {
  nm__fconn_t *st = nm__fconn_get(f, nm__fh_id(f, c), 0);

  /* Unqueued (now = 0): the core's output buffer holds both frames until
   * its next write, so a coalesced frame and this one leave together. */
  if (st != NULL && st->coalesce.head != NULL) {
    nm__fheld_t *h, *list = st->coalesce.head;
    uint64_t id = nm__fh_id(f, c);
    /* Settle the accounts before writing: a write can close the connection
     * (slow consumer), which frees `st`. */
    st->coalesce.head = st->coalesce.tail = NULL;
    for (h = list; h != NULL; h = h->next)
      nm__fheld_uncharge(st, h);
    nm__fconn_maybe_free(f, st);
    while ((h = list) != NULL) {
      list = h->next;
      if (nm__fh_find(f, id) == c)
        (void)nm__fh_write(f, c, h->bytes.p, h->bytes.n, 0, &h->fr, h->rule,
                           "coalesce");
      nm__fheld_free(h);
    }
  }
  if (n > 0 && nm__fh_find(f, nm__fh_id(f, c)) == c)
    (void)nm__fh_write(f, c, p, n, 0, fr, rule, action);
}

void nm__fheld_deliver(nm_faults_t *f, nm_hconn_t *c, nm__fheld_t *h,
                       const char *action) {
  if (h->dir == NM_DIR_OUT) {
    nm__femit(f, c, h->bytes.p, h->bytes.n, &h->fr, h->rule[0] ? h->rule : NULL,
              action);
    return;
  }
  nm__fobserve(f, NM_OBS_ACTION, h->conn_id, &h->fr, h->bytes,
               h->rule[0] ? h->rule : NULL, action, "inbound frame handled");
  nm__fh_handle(f, c, &h->fr, h->bytes);
}

uint64_t nm__fheld_release(nm_faults_t *f, uint64_t conn_id, const char *rule,
                           uint64_t max) {
  nm__fconn_t *st = nm__fconn_get(f, conn_id, 0);
  nm__fheld_list_t take = {NULL, NULL};
  nm__fheld_t *h, *next;
  uint64_t n = 0;

  if (st == NULL)
    return 0;
  /* Unlink first, deliver second: delivering can hold new frames, close
   * the connection or free `st`. */
  for (h = st->held.head; h != NULL && (max == 0 || n < max); h = next) {
    next = h->next;
    if (rule[0] == '\0' || strcmp(h->rule, rule) == 0) {
      nm__fheld_unlink(&st->held, h);
      nm__fheld_append(&take, h);
      nm__fheld_uncharge(st, h);
      n++;
    }
  }
  /* Ordered holds stay in place: they become ready, and go out with what
   * waited behind them once nothing before them is held. */
  {
    int d;
    for (d = 0; d < 2; d++) {
      for (h = st->seq[d].head; h != NULL && (max == 0 || n < max);
           h = h->next) {
        if (h->ordered && !h->ready && (!h->timer_on || h->on_held) &&
            (rule[0] == '\0' || strcmp(h->rule, rule) == 0)) {
          h->ready = 1;
          st->blocking[d]--;
          n++;
        }
      }
    }
  }
  /* Frames waiting to be coalesced are released too (written alone). */
  for (h = st->coalesce.head; h != NULL; h = next) {
    next = h->next;
    if (rule[0] == '\0' || strcmp(h->rule, rule) == 0) {
      nm__fheld_unlink(&st->coalesce, h);
      nm__fheld_append(&take, h);
      nm__fheld_uncharge(st, h);
      n++;
    }
  }
  nm__fconn_maybe_free(f, st);
  nm__fseq_flush(f, conn_id, NM_DIR_IN);
  nm__fseq_flush(f, conn_id, NM_DIR_OUT);
  while ((h = take.head) != NULL) {
    nm_hconn_t *c = nm__fh_find(f, conn_id);
    nm__fheld_unlink(&take, h);
    if (c != NULL)
      nm__fheld_deliver(f, c, h, "release");
    nm__fheld_free(h);
  }
  return n;
}

static void free_list(nm__fheld_list_t *l) {
  nm__fheld_t *h;
  while ((h = l->head) != NULL) {
    nm__fheld_unlink(l, h);
    nm__fheld_free(h);
  }
}

void nm__fconn_drop_all(nm_faults_t *f, nm__fconn_t *st) {
  f->held_total -= st->nbytes;
  free_list(&st->held);
  free_list(&st->delayed);
  free_list(&st->stalled);
  free_list(&st->coalesce);
  free_list(&st->seq[0]);
  free_list(&st->seq[1]);
  st->blocking[0] = st->blocking[1] = 0;
  st->nframes = 0;
  st->nbytes = 0;
}
