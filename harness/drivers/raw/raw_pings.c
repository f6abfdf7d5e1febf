/* natsmock-driver-raw: PINGs and their PONGs. Every PING the driver writes
 * has an entry in a first-in first-out list, and each PONG answers the
 * oldest (a timed-out flush keeps its place, so its late PONG releases
 * nothing else). A flush made while reconnecting puts its PING in the
 * reconnect buffer and its entry in a queue of its own, which joins the list
 * when that buffer is written. */
#include <stdlib.h>

#include "nm_drv_util.h"
#include "raw_driver.h"

typedef struct {
  uv_timer_t timer;
  uint64_t no;
  int64_t id;
  nm_raw_ping_kind_t kind;
  int sub;
} ping_timer_t;

char nm__raw_heap_handle[] = "heap";

void nm__raw_free_handle(uv_handle_t *h) {
  free(h);
}

static void emit_err(int64_t id, const char *code, const char *text) {
  nm_drv_emit(nm_drv_err(id, code, text));
}

static nm_raw_ping_t *ping_at(size_t i) {
  return &nm__raw.pings[(nm__raw.ping_head + i) % NM_RAW_MAX_PINGS];
}

/* The entry with serial `no`, in the list or the queue, or NULL. */
static nm_raw_ping_t *find(uint64_t no) {
  size_t i;
  for (i = 0; i < nm__raw.ping_count; i++)
    if (ping_at(i)->no == no)
      return ping_at(i);
  for (i = 0; i < nm__raw.nqpings; i++)
    if (nm__raw.qpings[i].no == no)
      return &nm__raw.qpings[i];
  return NULL;
}

static void on_ping_timeout(uv_timer_t *t) {
  ping_timer_t *pt = (ping_timer_t *)t;
  nm_raw_ping_t *p = find(pt->no);
  int live = p != NULL && p->kind == pt->kind;

  if (p != NULL)
    p->kind = NM_RAW_PING_SILENT; /* keeps its place, answers nobody */
  if (pt->kind == NM_RAW_PING_FLUSH && live) {
    emit_err(pt->id, "timeout", "flush timed out waiting for PONG");
    /* An overdue PONG leaves the PONG count in doubt; with reconnect on,
     * the connection is taken as stale and replaced, so that later flushes
     * work again (docs/design.md, Fairness). */
    if (nm__raw.reconnect && nm__raw.established)
      nm__raw_close();
  } else if ((pt->kind == NM_RAW_PING_CONN_DRAIN ||
              pt->kind == NM_RAW_PING_CONN_FLUSH) &&
             nm__raw.drain_id == pt->id) {
    /* The drain ran out of time: report it, then close anyway. */
    nm__raw.drain_id = -1;
    nm__raw.drain_phase = 0;
    emit_err(pt->id, "timeout", "drain timed out");
    nm__raw.user_closed = 1;
    nm__raw_close();
  } else if (pt->kind == NM_RAW_PING_DRAIN && pt->sub >= 0 &&
             pt->sub < nm__raw.nsubs) {
    nm_raw_sub_t *s = nm__raw.subs[pt->sub];
    if (s->draining && s->drain_id == pt->id) {
      s->draining = 0;
      emit_err(pt->id, "timeout", "drain_sub timed out");
    }
  }
  uv_close((uv_handle_t *)t, nm__raw_free_handle);
}

static void start_timer(const nm_raw_ping_t *p, int64_t timeout_ms) {
  ping_timer_t *pt;
  if (timeout_ms <= 0 || (pt = malloc(sizeof(*pt))) == NULL)
    return;
  uv_timer_init(nm__raw.loop, &pt->timer);
  pt->timer.data = nm__raw_heap_handle; /* exit frees it on close */
  pt->no = p->no;
  pt->id = p->id;
  pt->kind = p->kind;
  pt->sub = p->sub;
  uv_timer_start(&pt->timer, on_ping_timeout, (uint64_t)timeout_ms, 0);
  uv_unref((uv_handle_t *)&pt->timer);
}

int nm__raw_ping(nm_raw_ping_kind_t kind, int64_t id, int sub,
                 int64_t timeout_ms) {
  nm_raw_ping_t e = {kind, id, sub, 0};
  int r;

  if (nm__raw.ping_count + nm__raw.nqpings >= NM_RAW_MAX_PINGS)
    return NM_ETOOBIG;
  e.no = ++nm__raw.ping_no;
  if (kind == NM_RAW_PING_HANDSHAKE || nm__raw.established) {
    r = nm__raw_write("PING\r\n", 6, -1);
    if (r < 0)
      return r;
    *ping_at(nm__raw.ping_count++) = e;
  } else if (nm__raw.reconnecting) {
    /* Into the reconnect buffer, behind the publishes made before it. */
    r = nm_buf_append(&nm__raw.rbuf, "PING\r\n", 6);
    if (r < 0)
      return r;
    nm__raw.qpings[nm__raw.nqpings++] = e;
  } else {
    return NM_ECLOSED;
  }
  start_timer(&e, timeout_ms);
  return 0;
}

void nm__raw_pings_promote(void) {
  size_t i;
  for (i = 0; i < nm__raw.nqpings; i++)
    *ping_at(nm__raw.ping_count++) = nm__raw.qpings[i];
  nm__raw.nqpings = 0;
}

static void fail_one(const nm_raw_ping_t *p, const char *code,
                     const char *text) {
  if (p->kind == NM_RAW_PING_FLUSH) {
    emit_err(p->id, code, text);
  } else if ((p->kind == NM_RAW_PING_CONN_DRAIN ||
              p->kind == NM_RAW_PING_CONN_FLUSH) &&
             nm__raw.drain_id == p->id) {
    nm__raw.drain_id = -1;
    nm__raw.drain_phase = 0;
    emit_err(p->id, code, text);
  } else if (p->kind == NM_RAW_PING_DRAIN && p->sub < nm__raw.nsubs) {
    nm_raw_sub_t *s = nm__raw.subs[p->sub];
    if (s->draining && s->drain_id == p->id) {
      s->draining = 0;
      emit_err(p->id, code, text);
    }
  }
}

void nm__raw_fail_pings(const char *code, const char *text) {
  while (nm__raw.ping_count > 0) {
    nm_raw_ping_t p = *ping_at(0);
    nm__raw.ping_head = (nm__raw.ping_head + 1) % NM_RAW_MAX_PINGS;
    nm__raw.ping_count--;
    fail_one(&p, code, text);
  }
}

void nm__raw_fail_queued(const char *code, const char *text) {
  size_t i, n = nm__raw.nqpings;
  nm__raw.nqpings = 0;
  for (i = 0; i < n; i++)
    fail_one(&nm__raw.qpings[i], code, text);
}

void nm__raw_pong(void) {
  nm_raw_ping_t p;
  if (nm__raw.ping_count == 0)
    return; /* unsolicited: nothing waits for it */
  if ((nm__raw.misbehave & NM_RAW_PONG_LIFO) && nm__raw.ping_count > 1) {
    /* The bug: the newest PING takes the PONG. */
    p = *ping_at(nm__raw.ping_count - 1);
    nm__raw.ping_count--;
  } else {
    p = *ping_at(0);
    nm__raw.ping_head = (nm__raw.ping_head + 1) % NM_RAW_MAX_PINGS;
    nm__raw.ping_count--;
  }
  switch (p.kind) {
  case NM_RAW_PING_HANDSHAKE:
    nm__raw_handshake_done(p.id);
    break;
  case NM_RAW_PING_FLUSH:
    nm_drv_emit(nm_drv_ok(p.id));
    break;
  case NM_RAW_PING_DRAIN:
    nm__raw_drain_ponged(p.sub);
    break;
  case NM_RAW_PING_CONN_DRAIN:
  case NM_RAW_PING_CONN_FLUSH:
    nm__raw_drain_pong(p.kind);
    break;
  case NM_RAW_PING_SILENT:
    break;
  }
}
