/* Request/reply over one shared inbox subscription, "_INBOX.<random>.*":
 * each request gets the reply subject "_INBOX.<random>.<n>" and a timer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nmc_internal.h"

static void on_req_closed(uv_handle_t *h) {
  nmc_req_t *q = nmc__container_of(h, nmc_req_t, timer);
  nmc_conn_t *c = q->c;
  free(q);
  nmc__handle_closed(c);
}

static void req_unlink(nmc_conn_t *c, nmc_req_t *q) {
  for (nmc_req_t **pp = &c->reqs; *pp; pp = &(*pp)->next)
    if (*pp == q) {
      *pp = q->next;
      c->nreqs--;
      break;
    }
  nmc__handle_close(c, (uv_handle_t *)&q->timer, on_req_closed);
}

static int on_inbox_msg(nmc_sub_t *s, nmc_msg_t *m, void *data) {
  nmc_conn_t *c = data;
  size_t plen = strlen(c->inbox_prefix);
  uint64_t id;
  nmc_req_t *q;
  int status;

  if (strncmp(m->subject, c->inbox_prefix, plen) != 0 ||
      m->subject[plen] != '.')
    return NMC_DONE;
  id = strtoull(m->subject + plen + 1, NULL, 10);
  for (q = c->reqs; q && q->id != id;)
    q = q->next;
  if (!q)
    return NMC_DONE; /* late reply: its request already ended */
  req_unlink(c, q);
  /* 2.9.10 sends no responders as a bare "NATS/1.0 503" header block. */
  status = nmc_msg_status(m) == 503 && m->len == 0 ? NMC_ENORESPONDERS : 0;
  q->cb(c, status, status ? NULL : m, q->data);
  nmc__drain_req_done(c);
  return NMC_DONE;
}

static void on_req_timeout(uv_timer_t *t) {
  nmc_req_t *q = nmc__container_of(t, nmc_req_t, timer);
  nmc_conn_t *c = q->c;
  req_unlink(c, q);
  q->cb(c, NM_ETIMEOUT, NULL, q->data);
  nmc__drain_req_done(c);
}

int nmc_request(nmc_conn_t *c, const char *subject, const char *hdr,
                size_t hdr_len, const void *data, size_t len,
                uint64_t timeout_ms, nmc_request_cb cb, void *cbdata) {
  char reply[96];
  nmc_req_t *q;
  int r;

  if (c->closing || c->status == NMC_CLOSED)
    return NM_ECLOSED;
  if (c->nreqs >= NMC_MAX_REQUESTS)
    return NMC_EBUFFULL;
  if (!c->inbox) {
    char pattern[80];
    if (c->status == NMC_DRAINING_SUBS || c->status == NMC_DRAINING_PUBS)
      return NMC_EDRAINING;
    snprintf(pattern, sizeof(pattern), "%s.*", c->inbox_prefix);
    c->inbox = nmc__sub_new(c, pattern, NULL, on_inbox_msg, c, &r);
    if (!c->inbox)
      return r;
    c->inbox->is_inbox = 1;
  }
  q = calloc(1, sizeof(*q));
  if (!q)
    return NM_ENOMEM;
  q->id = ++c->next_req;
  snprintf(reply, sizeof(reply), "%s.%llu", c->inbox_prefix,
           (unsigned long long)q->id);
  r = hdr ? nmc_publish_hdr(c, subject, reply, hdr, hdr_len, data, len)
          : nmc_publish(c, subject, reply, data, len);
  if (r < 0) {
    free(q);
    return r;
  }
  q->c = c;
  q->cb = cb;
  q->data = cbdata;
  uv_timer_init(c->loop, &q->timer);
  nmc__handle_init(c, (uv_handle_t *)&q->timer);
  uv_timer_start(&q->timer, on_req_timeout, timeout_ms ? timeout_ms : 10000, 0);
  q->next = c->reqs;
  c->reqs = q;
  c->nreqs++;
  return 0;
}

void nmc__reqs_fail(nmc_conn_t *c, int err) {
  while (c->reqs) {
    nmc_req_t *q = c->reqs;
    req_unlink(c, q);
    q->cb(c, err, NULL, q->data);
  }
}

int nmc_msg_status(const nmc_msg_t *m) {
  const char *p = m->hdr;
  if (!p || m->hdr_len < 12 || memcmp(p, "NATS/1.0 ", 9) != 0)
    return 0;
  return atoi(p + 9);
}
