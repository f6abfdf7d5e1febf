/* natsmock-driver-raw: subscriptions. Turns MSG/HMSG frames into msg
 * events, runs the simulated handler (delay_ms on a timer, one message at a
 * time per subscription, reply_with), and finishes drain_sub. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "nm_drv_util.h"
#include "nm_seq.h"
#include "raw_driver.h"

nm_raw_sub_t *nm__raw_sub_find(const char *tag) {
  int i;
  for (i = nm__raw.nsubs - 1; i >= 0; i--)
    if (strcmp(nm__raw.subs[i]->tag, tag) == 0)
      return nm__raw.subs[i];
  return NULL;
}

/* Parses an HMSG header block ("NATS/1.0...\r\nK: v\r\n...\r\n\r\n") into
 * {"K":["v",...]}. Lines that are not "key: value" are skipped. */
cJSON *nm__raw_headers_json(const char *p, size_t n) {
  cJSON *h = cJSON_CreateObject();
  const char *end = p + n, *nl;
  int first = 1;

  while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
    size_t len = (size_t)(nl - p);
    const char *colon;
    if (len > 0 && p[len - 1] == '\r')
      len--;
    colon = first ? NULL : memchr(p, ':', len);
    first = 0;
    if (colon != NULL) {
      char key[256], val[1024];
      const char *v = colon + 1;
      size_t vlen = len - (size_t)(v - p);
      cJSON *arr;
      while (vlen > 0 && (*v == ' ' || *v == '\t'))
        v++, vlen--;
      snprintf(key, sizeof(key), "%.*s", (int)(colon - p), p);
      snprintf(val, sizeof(val), "%.*s", (int)vlen, v);
      arr = cJSON_GetObjectItemCaseSensitive(h, key);
      if (arr == NULL)
        arr = cJSON_AddArrayToObject(h, key);
      cJSON_AddItemToArray(arr, cJSON_CreateString(val));
    }
    p = nl + 1;
  }
  return h;
}

static void maybe_finish_drain(nm_raw_sub_t *s) {
  if (s->draining && s->drain_ponged && !s->busy && s->head == NULL) {
    s->draining = 0;
    if (s->drain_id >= 0) /* drain_early answered already */
      nm_drv_emit(nm_drv_ok(s->drain_id));
  }
}

static void handler_start(nm_raw_sub_t *s);

static void on_handler_done(uv_timer_t *t) {
  nm_raw_sub_t *s = (nm_raw_sub_t *)((char *)t - offsetof(nm_raw_sub_t, timer));
  cJSON *ev;

  if (s->reply_with != NULL && s->busy_reply != NULL)
    nm__raw_publish_frame(s->busy_reply, NULL, NULL, 0, s->reply_with,
                          strlen(s->reply_with));
  ev = nm_drv_event("msg_done");
  cJSON_AddStringToObject(ev, "sub", s->tag);
  if (s->busy_has_seq)
    cJSON_AddNumberToObject(ev, "seq", (double)s->busy_seq);
  nm_drv_emit(ev);
  free(s->busy_reply);
  s->busy_reply = NULL;
  s->busy = 0;
  if (s->head != NULL)
    handler_start(s);
  maybe_finish_drain(s);
  nm__raw_drain_check();
}

/* Starts the handler on the queue's first message. */
static void handler_start(nm_raw_sub_t *s) {
  nm_raw_pmsg_t *m = s->head;
  s->head = m->next;
  if (s->head == NULL)
    s->tail = NULL;
  s->pending--;
  /* "t" is when the handler starts, not when the frame arrived. */
  cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(m->ev, "t"),
                       (double)nm_drv_now_us());
  nm_drv_emit(m->ev);
  s->busy = 1;
  s->busy_seq = m->seq;
  s->busy_has_seq = m->has_seq;
  s->busy_reply = m->reply;
  free(m);
  if (!s->timer_init) {
    uv_timer_init(nm__raw.loop, &s->timer);
    s->timer_init = 1;
  }
  uv_timer_start(&s->timer, on_handler_done, (uint64_t)s->delay_ms, 0);
}

/* A handler with no delay: the event, the reply_with publish, done. Takes
 * ev and reply. */
static void handle_now(nm_raw_sub_t *s, cJSON *ev, char *reply) {
  nm_drv_emit(ev);
  if (s->reply_with != NULL && reply != NULL)
    nm__raw_publish_frame(reply, NULL, NULL, 0, s->reply_with,
                          strlen(s->reply_with));
  free(reply);
}

int nm__raw_subs_idle(void) {
  int i;
  for (i = 0; i < nm__raw.nsubs; i++)
    if (nm__raw.subs[i]->busy || nm__raw.subs[i]->head != NULL)
      return 0;
  return 1;
}

void nm__raw_deliver(const nm_frame_t *f) {
  char sidtxt[24];
  nm_raw_sub_t *s = NULL;
  const char *body = f->payload.p + f->hdr_len;
  size_t n = f->payload.n - f->hdr_len;
  uint64_t sid, seq = 0;
  char *reply = NULL;
  cJSON *ev;
  int i, has_seq;

  snprintf(sidtxt, sizeof(sidtxt), "%.*s", (int)f->sid.n, f->sid.p);
  sid = strtoull(sidtxt, NULL, 10);
  if (nm__raw_request_deliver(sid, f))
    return; /* a reply to a request */
  for (i = 0; i < nm__raw.nsubs; i++) {
    if (nm__raw.subs[i]->sid == sid) {
      s = nm__raw.subs[i];
      break;
    }
  }
  if (s == NULL)
    return; /* a MSG for a sid never used: clients drop it */
  /* After UNSUB a correct client drops what still arrives for the sid
   * (a draining one keeps delivering until the drain's PONG). */
  if (s->unsubscribed && !(s->draining && !s->drain_ponged) &&
      !(nm__raw.misbehave & NM_RAW_DELIVER_AFTER_UNSUB))
    return;
  if (s->max > 0 && s->delivered >= (uint64_t)s->max &&
      !(nm__raw.misbehave & NM_RAW_DELIVER_AFTER_UNSUB))
    return;
  if (++nm__raw.msgs_in == 3 && (nm__raw.misbehave & NM_RAW_DROP_DELIVERY))
    return; /* the bug: the third message never reaches a handler */
  s->delivered++;

  ev = nm_drv_event("msg");
  cJSON_AddStringToObject(ev, "sub", s->tag);
  {
    char *subj = strndup(f->subject.p, f->subject.n);
    cJSON_AddStringToObject(ev, "subject", subj != NULL ? subj : "");
    free(subj);
  }
  if (f->reply.n > 0) {
    reply = strndup(f->reply.p, f->reply.n);
    cJSON_AddStringToObject(ev, "reply", reply != NULL ? reply : "");
  }
  cJSON_AddNumberToObject(ev, "size", (double)n);
  nm_drv_add_payload(ev, body, n, NM_DRV_MSG_DATA_MAX);
  if (f->hdr_len > 0)
    cJSON_AddItemToObject(ev, "headers",
                          nm__raw_headers_json(f->payload.p, f->hdr_len));
  has_seq = nm_seq_read(body, n, &seq);

  if (s->delay_ms <= 0) {
    if ((nm__raw.misbehave & NM_RAW_REORDER_DELIVERY) && s->held_ev == NULL) {
      /* The bug: the first of each pair waits for the second. */
      s->held_ev = ev;
      s->held_reply = reply;
      return;
    }
    handle_now(s, ev, reply);
    if (s->held_ev != NULL) {
      handle_now(s, s->held_ev, s->held_reply);
      s->held_ev = NULL;
      s->held_reply = NULL;
    }
    return;
  }
  if (s->pending >= NM_RAW_MAX_PENDING) {
    cJSON *sc = nm_drv_event("slow_consumer");
    cJSON_AddStringToObject(sc, "sub", s->tag);
    nm_drv_emit(sc);
    cJSON_Delete(ev);
    free(reply);
    return;
  }
  {
    nm_raw_pmsg_t *m = calloc(1, sizeof(*m));
    if (m == NULL) {
      cJSON_Delete(ev);
      free(reply);
      return;
    }
    m->ev = ev;
    m->reply = reply;
    m->seq = seq;
    m->has_seq = has_seq;
    if (s->tail != NULL)
      s->tail->next = m;
    else
      s->head = m;
    s->tail = m;
    s->pending++;
  }
  if (!s->busy)
    handler_start(s);
}

void nm__raw_drain_ponged(int sub) {
  nm_raw_sub_t *s;
  if (sub < 0 || sub >= nm__raw.nsubs)
    return;
  s = nm__raw.subs[sub];
  s->drain_ponged = 1;
  maybe_finish_drain(s);
}

void nm__raw_subs_free(void) {
  int i;
  for (i = 0; i < nm__raw.nsubs; i++) {
    nm_raw_sub_t *s = nm__raw.subs[i];
    while (s->head != NULL) {
      nm_raw_pmsg_t *m = s->head;
      s->head = m->next;
      cJSON_Delete(m->ev);
      free(m->reply);
      free(m);
    }
    free(s->subject);
    free(s->queue);
    free(s->reply_with);
    free(s->busy_reply);
    cJSON_Delete(s->held_ev);
    free(s->held_reply);
    /* The timer handle is inside s: it must be closed (by the caller's
     * uv_walk) before s is freed. */
    free(s);
  }
  nm__raw.nsubs = 0;
}
