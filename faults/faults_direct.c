/* Running direct actions: send bytes or frames, publish as a phantom
 * publisher, release held frames, close / reset / stall / resume /
 * black-hole connections, restart the listener, refuse connections. Every
 * action is reported to the observer as an ACTION event (and what it writes
 * as OUT frames). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults_int.h"
#include "nm_encode.h"
#include "nm_seq.h"

/* One page of connection ids above `after`, in accept order. */
typedef struct {
  const nm_faults_t *f;
  uint64_t after;
  uint64_t ids[64];
  int n;
  int more;
} conn_ids_t;

static void collect(nm_hconn_t *c, void *data) {
  conn_ids_t *ids = data;
  uint64_t id = nm__fh_id(ids->f, c);
  if (id <= ids->after)
    return;
  if (ids->n < (int)(sizeof(ids->ids) / sizeof(ids->ids[0])))
    ids->ids[ids->n++] = id;
  else
    ids->more = 1;
}

typedef struct {
  const nm_faults_t *f;
  uint64_t id;
} last_id_t;

static void find_last(nm_hconn_t *c, void *data) {
  last_id_t *last = data;
  last->id = nm__fh_id(last->f, c);
}

static int has_name(nm_faults_t *f, nm_hconn_t *c, const nm__fdirect_t *a) {
  const char *name =
      f->ops->conn_name != NULL ? f->ops->conn_name(f->host, c) : NULL;
  return name != NULL && strcmp(name, a->conn_name) == 0;
}

/* Runs fn on each connection the action addresses. Connections are named by
 * id and looked up again before each call: an action may close one. */
static void each_target(nm_faults_t *f, const nm__fdirect_t *a,
                        uint64_t this_conn, const char *rule,
                        void (*fn)(nm_faults_t *, nm_hconn_t *,
                                   const nm__fdirect_t *, const char *)) {
  nm_hconn_t *c;
  uint64_t id = 0;
  conn_ids_t ids;
  int i;

  switch (a->sel) {
  case NM_FCONN_ID:
    id = a->conn_id;
    break;
  case NM_FCONN_THIS:
    id = this_conn;
    break;
  case NM_FCONN_LAST: {
    last_id_t last = {f, 0};
    nm__fh_each(f, find_last, &last);
    id = last.id;
    break;
  }
  case NM_FCONN_ALL:
  case NM_FCONN_NAME: {
    int matched = 0;
    /* Pages of 64 ids: any number of connections, no unbounded list. */
    memset(&ids, 0, sizeof(ids));
    ids.f = f;
    do {
      ids.n = 0;
      ids.more = 0;
      nm__fh_each(f, collect, &ids);
      for (i = 0; i < ids.n; i++) {
        c = nm__fh_find(f, ids.ids[i]);
        if (c == NULL || (a->sel == NM_FCONN_NAME && !has_name(f, c, a)))
          continue;
        matched++;
        fn(f, c, a, rule);
      }
      if (ids.n > 0)
        ids.after = ids.ids[ids.n - 1];
    } while (ids.more && !f->stopped);
    if (a->sel == NM_FCONN_NAME && matched == 0)
      nm__fobserve(f, NM_OBS_ACTION, 0, NULL, (nm_slice_t){NULL, 0}, rule,
                   "skipped", "no connection with that name open");
    return;
  }
  }
  c = id != 0 ? nm__fh_find(f, id) : NULL;
  if (c == NULL) {
    nm__fobserve(f, NM_OBS_ACTION, id, NULL, (nm_slice_t){NULL, 0}, rule,
                 "skipped", "no such connection open");
    return;
  }
  fn(f, c, a, rule);
}

static void do_send_raw(nm_faults_t *f, nm_hconn_t *c, const nm__fdirect_t *a,
                        const char *rule) {
  /* Raw bytes may be half a frame or several: they are reported with no
   * frame (the observer's "raw bytes" case). */
  nm__fobserve(f, NM_OBS_ACTION, nm__fh_id(f, c), NULL,
               (nm_slice_t){a->data, a->len}, rule, "send_raw", NULL);
  nm__femit(f, c, a->data, a->len, NULL, rule, "send_raw");
}

static void do_send(nm_faults_t *f, nm_hconn_t *c, const nm__fdirect_t *a,
                    const char *rule) {
  nm_buf_t out;
  nm_frame_t fr;
  char detail[80];
  int rc;

  nm_buf_init(&out, NM_FAULT_DATA_MAX * 2 + NM_FAULT_FIELD_MAX * 4);
  rc = nm__fframe_build(f, c, a, &out, &fr);
  if (rc != 0) {
    snprintf(detail, sizeof(detail), "frame not built (error %d)", rc);
    nm__fobserve(f, NM_OBS_ACTION, nm__fh_id(f, c), NULL, (nm_slice_t){NULL, 0},
                 rule, "send", detail);
  } else {
    nm__fobserve(f, NM_OBS_ACTION, nm__fh_id(f, c), &fr,
                 (nm_slice_t){out.base, out.len}, rule, "send", NULL);
    nm__femit(f, c, out.base, out.len, &fr, rule, "send");
  }
  nm_buf_free(&out);
}

static void do_conn_op(nm_faults_t *f, nm_hconn_t *c, const nm__fdirect_t *a,
                       const char *rule) {
  uint64_t id = nm__fh_id(f, c);
  nm__fconn_t *st;
  nm__fheld_t *h, *next;

  switch (a->kind) {
  case NM_FDO_CLOSE:
    nm__fobserve(f, NM_OBS_ACTION, id, NULL, (nm_slice_t){NULL, 0}, rule,
                 "close", a->flag ? "FIN after queued output" : "FIN now");
    nm__fh_close(f, c, a->flag ? NM_CLOSE_FLUSH : NM_CLOSE_FIN, "fault: close");
    break;
  case NM_FDO_RESET:
    nm__fobserve(f, NM_OBS_ACTION, id, NULL, (nm_slice_t){NULL, 0}, rule,
                 "reset", "RST");
    nm__fh_close(f, c, NM_CLOSE_RST, "fault: reset");
    break;
  case NM_FDO_STALL:
    st = nm__fconn_get(f, id, 1);
    if (st == NULL)
      break;
    st->stall = 1;
    nm__fobserve(f, NM_OBS_ACTION, id, NULL, (nm_slice_t){NULL, 0}, rule,
                 "stall", "reading stopped");
    nm__fh_reading(f, c, 0);
    break;
  case NM_FDO_BLACKHOLE:
    st = nm__fconn_get(f, id, 1);
    if (st == NULL)
      break;
    st->blackhole = 1;
    nm__fobserve(f, NM_OBS_ACTION, id, NULL, (nm_slice_t){NULL, 0}, rule,
                 "blackhole", "no reading, output discarded");
    nm__fh_blackhole(f, c, 1);
    break;
  case NM_FDO_RESUME:
    st = nm__fconn_get(f, id, 0);
    nm__fobserve(f, NM_OBS_ACTION, id, NULL, (nm_slice_t){NULL, 0}, rule,
                 "resume", NULL);
    if (st != NULL && st->blackhole) {
      st->blackhole = 0;
      nm__fh_blackhole(f, c, 0);
    }
    if (st == NULL)
      break;
    /* Frames read after the stall point are handled first, in order, then
     * the socket is read again. */
    st->stall = 0;
    h = st->stalled.head;
    st->stalled.head = st->stalled.tail = NULL;
    /* Accounts first: handling a frame can close the connection, which
     * frees `st`. */
    for (next = h; next != NULL; next = next->next)
      nm__fheld_uncharge(st, next);
    while (h != NULL) {
      next = h->next;
      h->next = NULL;
      if (nm__fh_find(f, id) == c)
        nm__fheld_deliver(f, c, h, "resume");
      nm__fheld_free(h);
      h = next;
    }
    st = nm__fconn_get(f, id, 0);
    if (st != NULL)
      nm__fconn_maybe_free(f, st);
    if (nm__fh_find(f, id) == c)
      nm__fh_reading(f, c, 1);
    break;
  default:
    break;
  }
}

static void do_release(nm_faults_t *f, nm_hconn_t *c, const nm__fdirect_t *a,
                       const char *rule) {
  char detail[128];
  uint64_t n = nm__fheld_release(f, nm__fh_id(f, c), a->rule, a->count);
  snprintf(detail, sizeof(detail), "%llu frame(s)%s%s", (unsigned long long)n,
           a->rule[0] ? " of rule " : "", a->rule);
  nm__fobserve(f, NM_OBS_ACTION, nm__fh_id(f, c), NULL, (nm_slice_t){NULL, 0},
               rule, "release", detail);
}

static void do_publish(nm_faults_t *f, const nm__fdirect_t *a,
                       const char *rule) {
  char detail[96];
  char *buf;
  size_t cap, n;
  uint64_t k;

  cap = a->hdr_len + (a->has_data ? a->len : a->size + 24);
  buf = malloc(cap + 1);
  if (buf == NULL)
    return;
  if (a->hdr_len > 0)
    memcpy(buf, a->hdrs, a->hdr_len);
  snprintf(detail, sizeof(detail), "%llu message(s) on %.60s",
           (unsigned long long)a->count, a->subject);
  nm__fobserve(f, NM_OBS_ACTION, 0, NULL, (nm_slice_t){NULL, 0}, rule,
               "publish", detail);
  for (k = 0; k < a->count && !f->stopped; k++) {
    if (a->has_data) {
      if (a->len > 0)
        memcpy(buf + a->hdr_len, a->data, a->len);
      n = a->len;
    } else {
      n = nm_seq_payload(a->start + k, (size_t)a->size, buf + a->hdr_len,
                         cap - a->hdr_len);
    }
    nm__fh_publish(f, nm_slice_str(a->subject), nm_slice_str(a->reply),
                   a->hdr_len, (nm_slice_t){buf, a->hdr_len + n});
  }
  free(buf);
}

void nm__fdirects_run(nm_faults_t *f, const nm__fdirects_t *d,
                      uint64_t this_conn, const char *rule) {
  char detail[64];
  int i;

  for (i = 0; i < d->n && !f->stopped; i++) {
    const nm__fdirect_t *a = &d->v[i];
    switch (a->kind) {
    case NM_FDO_SEND_RAW:
      each_target(f, a, this_conn, rule, do_send_raw);
      break;
    case NM_FDO_SEND:
      each_target(f, a, this_conn, rule, do_send);
      break;
    case NM_FDO_PUBLISH:
      do_publish(f, a, rule);
      break;
    case NM_FDO_RELEASE:
      each_target(f, a, this_conn, rule, do_release);
      break;
    case NM_FDO_CLOSE:
    case NM_FDO_RESET:
    case NM_FDO_STALL:
    case NM_FDO_RESUME:
    case NM_FDO_BLACKHOLE:
      each_target(f, a, this_conn, rule, do_conn_op);
      break;
    case NM_FDO_RESTART:
      snprintf(detail, sizeof(detail), "listener back after %llu ms%s",
               (unsigned long long)a->ms,
               a->flag ? "" : "; every connection closed");
      nm__fobserve(f, NM_OBS_ACTION, 0, NULL, (nm_slice_t){NULL, 0}, rule,
                   "restart", detail);
      /* Listener first, so nothing reconnects before the closes. */
      (void)nm__fh_restart(f, a->ms);
      if (!a->flag) {
        nm__fdirect_t all = *a;
        all.kind = NM_FDO_CLOSE;
        all.sel = NM_FCONN_ALL;
        all.flag = 0;
        each_target(f, &all, this_conn, rule, do_conn_op);
      }
      break;
    case NM_FDO_REFUSE:
      snprintf(detail, sizeof(detail), "next %llu connection(s)",
               (unsigned long long)a->count);
      nm__fobserve(f, NM_OBS_ACTION, 0, NULL, (nm_slice_t){NULL, 0}, rule,
                   "refuse", detail);
      nm__fh_refuse(f, (int)a->count);
      break;
    }
  }
}
