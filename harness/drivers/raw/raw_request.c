/* natsmock-driver-raw: request/reply, the way current NATS clients do it:
 * one wildcard subscription on a private inbox (_INBOX.<id>.*), created on
 * the first request; each request publishes with reply <inbox>.<n> and waits
 * for that subject, a no-responders status (HMSG 503), or its timeout. A
 * connection drain unsubscribes the inbox only once no request is left. */
#define _GNU_SOURCE /* memrchr */
#include <stdlib.h>
#include <string.h>

#include "nm_drv_util.h"
#include "nm_encode.h"
#include "raw_driver.h"

/* Requests waiting for their reply. */
#define NM_RAW_MAX_REQUESTS 1024

typedef struct req_s {
  uv_timer_t timer; /* first: the handle is the allocation */
  struct req_s *next;
  int64_t id;
  uint64_t token;
} req_t;

static struct {
  uint64_t sid; /* the inbox subscription's sid, 0 before the first */
  char prefix[64];
  uint64_t next_token;
  req_t *head;
  int n;
} rq;

static void unlink_req(req_t *r) {
  req_t **pp;
  for (pp = &rq.head; *pp != NULL; pp = &(*pp)->next) {
    if (*pp == r) {
      *pp = r->next;
      rq.n--;
      break;
    }
  }
  uv_close((uv_handle_t *)&r->timer, nm__raw_free_handle);
  nm__raw_drain_check(); /* a drain may have been waiting for it */
}

static void on_timeout(uv_timer_t *t) {
  req_t *r = (req_t *)t;
  nm_drv_emit(nm_drv_err(r->id, "timeout", "request timed out"));
  unlink_req(r);
}

/* Writes SUB for the inbox (first request, and after a reconnect). */
int nm__raw_request_sub(nm_buf_t *b) {
  char sid[24], subj[80];
  if (rq.sid == 0)
    return 0;
  snprintf(sid, sizeof(sid), "%llu", (unsigned long long)rq.sid);
  snprintf(subj, sizeof(subj), "%s.*", rq.prefix);
  return nm_encode_sub(b, nm_slice_str(subj), nm_slice_str(NULL),
                       nm_slice_str(sid));
}

int nm__raw_request_pending(void) {
  return rq.n;
}

int nm__raw_request_unsub(void) {
  char frame[48];
  if (rq.sid == 0)
    return 0;
  snprintf(frame, sizeof(frame), "UNSUB %llu\r\n", (unsigned long long)rq.sid);
  rq.sid = 0; /* a later request makes a new inbox subscription */
  return nm__raw_write(frame, strlen(frame), -1);
}

void nm__raw_cmd_request(int64_t id, const cJSON *cmd) {
  const char *subject = nm_drv_str(cmd, "subject");
  const cJSON *headers = cJSON_GetObjectItemCaseSensitive(cmd, "headers");
  int64_t timeout = nm_drv_int(cmd, "timeout_ms", 10000);
  char reply[96], *buf = NULL;
  const char *why = NULL;
  nm_buf_t hb;
  size_t n;
  req_t *r;
  int e;

  if (subject == NULL || subject[0] == '\0' ||
      (headers != NULL && !cJSON_IsObject(headers))) {
    nm_drv_emit(nm_drv_err(id, "bad_command",
                           "request needs \"subject\"; headers an object"));
    return;
  }
  if (!nm__raw.established || nm__raw.draining_pubs) {
    nm_drv_emit(nm_drv_err(id, nm__raw.draining_pubs ? "draining" : "closed",
                           "no connection for a request"));
    return;
  }
  if (rq.n >= NM_RAW_MAX_REQUESTS || nm_drv_payload(cmd, 1, &buf, &n, &why)) {
    nm_drv_emit(nm_drv_err(id, why != NULL ? "bad_command" : "other",
                           why != NULL ? why : "too many requests"));
    return;
  }
  nm_buf_init(&hb, 64 * 1024);
  if (headers != NULL && nm__raw_build_headers(headers, &hb) != 0) {
    free(buf);
    nm_buf_free(&hb);
    nm_drv_emit(nm_drv_err(id, "bad_command", "bad \"headers\""));
    return;
  }
  if (rq.sid == 0) {
    nm_buf_t b;
    uint64_t x = (uint64_t)nm_drv_now_us() ^ ((uint64_t)rand() << 20);
    snprintf(rq.prefix, sizeof(rq.prefix), "_INBOX.RAW%016llX",
             (unsigned long long)x);
    rq.sid = ++nm__raw.next_sid;
    nm_buf_init(&b, 256);
    if (nm__raw_request_sub(&b) == 0)
      nm__raw_write(b.base, b.len, -1);
    nm_buf_free(&b);
  }
  snprintf(reply, sizeof(reply), "%s.%llu", rq.prefix,
           (unsigned long long)++rq.next_token);
  e = nm__raw_publish_frame(subject, reply, headers ? hb.base : NULL, hb.len,
                            buf, n);
  free(buf);
  nm_buf_free(&hb);
  if (e < 0 || (r = calloc(1, sizeof(*r))) == NULL) {
    nm_drv_emit(nm_drv_err(id, "other", "request could not be sent"));
    return;
  }
  r->id = id;
  r->token = rq.next_token;
  r->next = rq.head;
  rq.head = r;
  rq.n++;
  uv_timer_init(nm__raw.loop, &r->timer);
  r->timer.data = nm__raw_heap_handle; /* exit frees it on close */
  uv_timer_start(&r->timer, on_timeout, (uint64_t)(timeout > 0 ? timeout : 1),
                 0);
}

int nm__raw_request_deliver(uint64_t sid, const nm_frame_t *f) {
  const char *dot;
  uint64_t token;
  req_t *r;

  if (rq.sid == 0 || sid != rq.sid)
    return 0;
  dot = memrchr(f->subject.p, '.', f->subject.n);
  token = dot != NULL ? strtoull(dot + 1, NULL, 10) : 0;
  for (r = rq.head; r != NULL && r->token != token; r = r->next)
    ;
  if (r == NULL)
    return 1; /* late or unknown: dropped */
  if (f->hdr_len > 0 && f->payload.n == f->hdr_len && f->hdr_len >= 12 &&
      memcmp(f->payload.p, "NATS/1.0 503", 12) == 0) {
    nm_drv_emit(nm_drv_err(r->id, "no_responders", "no responders"));
  } else {
    cJSON *ok = nm_drv_ok(r->id);
    nm_drv_add_payload(ok, f->payload.p + f->hdr_len, f->payload.n - f->hdr_len,
                       0);
    if (f->hdr_len > 0)
      cJSON_AddItemToObject(ok, "headers",
                            nm__raw_headers_json(f->payload.p, f->hdr_len));
    nm_drv_emit(ok);
  }
  uv_timer_stop(&r->timer);
  unlink_req(r);
  return 1;
}

void nm__raw_request_fail_all(const char *code) {
  while (rq.head != NULL) {
    req_t *r = rq.head;
    nm_drv_emit(nm_drv_err(r->id, code, "connection closed"));
    uv_timer_stop(&r->timer);
    unlink_req(r);
  }
}
