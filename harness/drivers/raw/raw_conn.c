/* natsmock-driver-raw: the TCP connection. Dials, writes, reads frames with
 * the proto/ parser, answers server PINGs, pairs PONGs with PINGs first in
 * first out, and reconnects when asked to. */
#include <stdlib.h>
#include <string.h>

#include "nm_drv_util.h"
#include "nm_encode.h"
#include "raw_driver.h"

/* The CONNECT every connection sends, exactly as the driver protocol says,
 * plus "name" when the connect command gave one (the harness tells clients
 * apart by it). */
static void write_connect(void) {
  char buf[sizeof(nm__raw.name) * 6 + 128];
  int n;
  if (nm__raw.name[0] == '\0') {
    n = snprintf(buf, sizeof(buf),
                 "CONNECT {\"verbose\":false,\"pedantic\":false,"
                 "\"headers\":true,\"protocol\":1}\r\n");
  } else {
    /* cJSON escapes the name as JSON wants it. */
    cJSON *s = cJSON_CreateString(nm__raw.name);
    char *q = cJSON_PrintUnformatted(s);
    n = snprintf(buf, sizeof(buf),
                 "CONNECT {\"verbose\":false,\"pedantic\":false,"
                 "\"headers\":true,\"protocol\":1,\"name\":%s}\r\n",
                 q != NULL ? q : "\"\"");
    cJSON_free(q);
    cJSON_Delete(s);
  }
  if (n > 0 && (size_t)n < sizeof(buf))
    nm__raw_write(buf, (size_t)n, -1);
}

/* Reconnect attempts before giving up (connect's "max_reconnect"). */
int64_t nm__raw_max_reconnect = 10;

typedef struct {
  uv_write_t req;
  int64_t id;
  size_t n;
  char data[];
} wreq_t;

typedef struct {
  uv_timer_t timer;
  uint64_t no;
  int64_t id;
  nm_raw_ping_kind_t kind;
  int sub;
} ping_timer_t;

static void emit_err(int64_t id, const char *code, const char *text) {
  nm_drv_emit(nm_drv_err(id, code, text));
}

static void on_write(uv_write_t *req, int status) {
  wreq_t *w = (wreq_t *)req;
  nm__raw.out_bytes -= w->n;
  if (w->id >= 0) {
    if (status == 0)
      nm_drv_emit(nm_drv_ok(w->id));
    else
      emit_err(w->id, "disconnected", uv_strerror(status));
  }
  free(w);
}

int nm__raw_write(const void *p, size_t n, int64_t id) {
  wreq_t *w;
  uv_buf_t b;
  int r;

  if (!nm__raw.connected || nm__raw.closing)
    return NM_ECLOSED;
  if (nm__raw.out_bytes + n > NM_RAW_MAX_OUT)
    return NM_ETOOBIG;
  w = malloc(sizeof(*w) + n);
  if (w == NULL)
    return NM_ENOMEM;
  w->id = id;
  w->n = n;
  memcpy(w->data, p, n);
  b = uv_buf_init(w->data, (unsigned int)n);
  r = uv_write(&w->req, (uv_stream_t *)&nm__raw.tcp, &b, 1, on_write);
  if (r < 0) {
    free(w);
    return r;
  }
  nm__raw.out_bytes += n;
  return 0;
}

static nm_raw_ping_t *ping_at(size_t i) {
  return &nm__raw.pings[(nm__raw.ping_head + i) % NM_RAW_MAX_PINGS];
}

char nm__raw_heap_handle[] = "heap";

void nm__raw_free_handle(uv_handle_t *h) {
  free(h);
}

static void on_ping_timeout(uv_timer_t *t) {
  ping_timer_t *pt = (ping_timer_t *)t;
  size_t i;

  for (i = 0; i < nm__raw.ping_count; i++) {
    nm_raw_ping_t *p = ping_at(i);
    if (p->no == pt->no) {
      /* The slot stays: its PONG, if it ever comes, must not release a
       * later PING's waiter. */
      p->kind = NM_RAW_PING_SILENT;
      break;
    }
  }
  if (pt->kind == NM_RAW_PING_FLUSH && i < nm__raw.ping_count) {
    emit_err(pt->id, "timeout", "flush timed out waiting for PONG");
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

int nm__raw_ping(nm_raw_ping_kind_t kind, int64_t id, int sub,
                 int64_t timeout_ms) {
  nm_raw_ping_t *p;
  int r;

  if (nm__raw.ping_count >= NM_RAW_MAX_PINGS)
    return NM_ETOOBIG;
  r = nm__raw_write("PING\r\n", 6, -1);
  if (r < 0)
    return r;
  p = ping_at(nm__raw.ping_count++);
  p->kind = kind;
  p->id = id;
  p->sub = sub;
  p->no = ++nm__raw.ping_no;
  p->timer = 0;
  if (timeout_ms > 0) {
    ping_timer_t *pt = malloc(sizeof(*pt));
    if (pt != NULL) {
      uv_timer_init(nm__raw.loop, &pt->timer);
      pt->timer.data = nm__raw_heap_handle; /* exit frees it on close */
      pt->no = p->no;
      pt->id = id;
      pt->kind = kind;
      pt->sub = sub;
      uv_timer_start(&pt->timer, on_ping_timeout, (uint64_t)timeout_ms, 0);
      uv_unref((uv_handle_t *)&pt->timer);
      p->timer = 1;
    }
  }
  return 0;
}

void nm__raw_fail_pings(const char *code, const char *text) {
  while (nm__raw.ping_count > 0) {
    nm_raw_ping_t p = *ping_at(0);
    nm__raw.ping_head = (nm__raw.ping_head + 1) % NM_RAW_MAX_PINGS;
    nm__raw.ping_count--;
    if (p.kind == NM_RAW_PING_FLUSH) {
      emit_err(p.id, code, text);
    } else if ((p.kind == NM_RAW_PING_CONN_DRAIN ||
                p.kind == NM_RAW_PING_CONN_FLUSH) &&
               nm__raw.drain_id == p.id) {
      nm__raw.drain_id = -1;
      nm__raw.drain_phase = 0;
      emit_err(p.id, code, text);
    } else if (p.kind == NM_RAW_PING_DRAIN && p.sub < nm__raw.nsubs) {
      nm_raw_sub_t *s = nm__raw.subs[p.sub];
      if (s->draining && s->drain_id == p.id) {
        s->draining = 0;
        emit_err(p.id, code, text);
      }
    }
  }
}

static void on_pong(void) {
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
    if (nm__raw.connect_id >= 0) {
      nm_drv_emit(nm_drv_event("connected"));
      nm_drv_emit(nm_drv_ok(nm__raw.connect_id));
      nm__raw.connect_id = -1;
    } else {
      nm_drv_emit(nm_drv_event("reconnected"));
    }
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

static void on_err_frame(const nm_frame_t *f) {
  char text[512];
  const char *p = f->text.p;
  size_t n = f->text.n;
  cJSON *ev;

  /* -ERR 'text': report the text without its quotes, as clients do. */
  while (n > 0 && (*p == ' ' || *p == '\''))
    p++, n--;
  while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\''))
    n--;
  snprintf(text, sizeof(text), "%.*s", (int)n, p);
  ev = nm_drv_event("error");
  cJSON_AddStringToObject(
      ev, "code",
      strstr(text, "Authorization Violation") != NULL ? "auth" : "other");
  cJSON_AddStringToObject(ev, "error", text);
  nm_drv_emit(ev);
}

static int on_frame(nm_parser_t *parser, const nm_frame_t *f) {
  char line[NM_RAW_FRAME_LINE_MAX + 1];
  size_t n =
      f->line.n < NM_RAW_FRAME_LINE_MAX ? f->line.n : NM_RAW_FRAME_LINE_MAX;
  cJSON *ev = nm_drv_event("frame");

  (void)parser;
  memcpy(line, f->line.p, n);
  line[n] = '\0';
  cJSON_AddStringToObject(ev, "verb", nm_op_name(f->op));
  cJSON_AddStringToObject(ev, "line", line);
  cJSON_AddNumberToObject(ev, "size", (double)f->payload.n);
  nm_drv_emit(ev);

  switch (f->op) {
  case NM_OP_INFO: {
    /* Like a client, publish refuses payloads over the server's limit. */
    cJSON *info = cJSON_ParseWithLength(f->json.p, f->json.n);
    const cJSON *mp = cJSON_GetObjectItemCaseSensitive(info, "max_payload");
    if (cJSON_IsNumber(mp))
      nm__raw.max_payload = (int64_t)mp->valuedouble;
    cJSON_Delete(info);
    break;
  }
  case NM_OP_PING:
    if (!(nm__raw.misbehave & NM_RAW_IGNORE_SERVER_PING))
      nm__raw_write("PONG\r\n", 6, -1);
    break;
  case NM_OP_PONG:
    on_pong();
    break;
  case NM_OP_ERR:
    on_err_frame(f);
    break;
  case NM_OP_MSG:
  case NM_OP_HMSG:
    nm__raw_deliver(f);
    break;
  default:
    break;
  }
  return 0;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  static char slab[64 * 1024];
  (void)h;
  (void)suggested;
  *buf = uv_buf_init(slab, sizeof(slab));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  (void)st;
  if (nread < 0) {
    nm__raw_close();
    return;
  }
  if (nread > 0 &&
      nm_parser_feed(&nm__raw.parser, buf->base, (size_t)nread) < 0) {
    cJSON *ev = nm_drv_event("error");
    cJSON_AddStringToObject(ev, "code", "other");
    cJSON_AddStringToObject(ev, "error", nm_parser_errmsg(&nm__raw.parser));
    nm_drv_emit(ev);
    nm__raw_close();
  }
}

/* Resends the live subscriptions after a reconnect. */
static void resubscribe(void) {
  nm_buf_t b;
  int i;
  nm_buf_init(&b, NM_RAW_MAX_OUT);
  for (i = 0; i < nm__raw.nsubs; i++) {
    nm_raw_sub_t *s = nm__raw.subs[i];
    char sid[24];
    if (s->unsubscribed)
      continue;
    snprintf(sid, sizeof(sid), "%llu", (unsigned long long)s->sid);
    nm_encode_sub(&b, nm_slice_str(s->subject), nm_slice_str(s->queue),
                  nm_slice_str(sid));
    /* The remaining count; the switch replays the original max (a bug
     * seen in clients: the server then delivers too many). */
    if (s->max > 0)
      nm_encode_unsub(&b, nm_slice_str(sid),
                      (nm__raw.misbehave & NM_RAW_RESUB_FULL_MAX)
                          ? (long long)s->max
                          : (long long)(s->max - (int64_t)s->delivered));
  }
  if (b.len > 0)
    nm__raw_write(b.base, b.len, -1);
  nm_buf_free(&b);
}

static void on_connect(uv_connect_t *req, int status) {
  int64_t id = nm__raw.connect_id;
  (void)req;
  if (status < 0) {
    /* The handle is closed by nm__raw_close; the close path retries. */
    if (nm__raw.reconnects == 0 && id >= 0) {
      emit_err(id, "disconnected", uv_strerror(status));
      nm__raw.connect_id = -1;
    }
    nm__raw_close();
    return;
  }
  nm__raw.connected = 1;
  nm_parser_reset(&nm__raw.parser);
  uv_read_start((uv_stream_t *)&nm__raw.tcp, alloc_cb, on_read);
  if (nm__raw.reconnects > 0) {
    /* A client must send CONNECT first; the switch sends the SUBs first. */
    if (nm__raw.misbehave & NM_RAW_NO_CONNECT_FIRST)
      resubscribe();
    write_connect();
    if (!(nm__raw.misbehave & NM_RAW_NO_CONNECT_FIRST))
      resubscribe();
    nm__raw_ping(NM_RAW_PING_HANDSHAKE, -1, -1, 0);
    return;
  }
  if (!nm__raw.handshake) {
    nm_drv_emit(nm_drv_event("connected"));
    nm_drv_emit(nm_drv_ok(id));
    nm__raw.connect_id = -1;
    return;
  }
  write_connect();
  nm__raw_ping(NM_RAW_PING_HANDSHAKE, id, -1, 0);
}

int nm__raw_dial(void) {
  struct sockaddr_storage sa;
  int r;

  if (uv_ip4_addr(nm__raw.host, nm__raw.port, (struct sockaddr_in *)&sa) != 0 &&
      uv_ip6_addr(nm__raw.host, nm__raw.port, (struct sockaddr_in6 *)&sa) != 0)
    return UV_EINVAL;
  r = uv_tcp_init(nm__raw.loop, &nm__raw.tcp);
  if (r < 0)
    return r;
  nm__raw.tcp_init = 1;
  nm__raw.closing = 0;
  uv_tcp_nodelay(&nm__raw.tcp, 1);
  r = uv_tcp_connect(&nm__raw.creq, &nm__raw.tcp, (struct sockaddr *)&sa,
                     on_connect);
  if (r < 0)
    nm__raw_close();
  return r;
}

int nm__raw_conn_init(void) {
  int r = nm_parser_init(&nm__raw.parser, NM_PARSE_SERVER_OPS, on_frame, NULL);
  if (r != 0)
    return r;
  nm_parser_set_limits(&nm__raw.parser, 0, NM_RAW_MAX_IN_PAYLOAD);
  return uv_timer_init(nm__raw.loop, &nm__raw.reconnect_timer);
}

static void on_reconnect_timer(uv_timer_t *t) {
  (void)t;
  nm__raw.reconnects++;
  if (nm__raw_dial() < 0)
    nm__raw_close();
}

static void emit_closed(void) {
  nm_drv_emit(nm_drv_event("closed"));
  if (nm__raw.misbehave & NM_RAW_CLOSED_TWICE)
    nm_drv_emit(nm_drv_event("closed"));
}

static void on_close(uv_handle_t *h) {
  int was_connected = nm__raw.connected;
  (void)h;
  nm__raw.tcp_init = 0;
  nm__raw.connected = 0;
  nm__raw.closing = 0;
  nm__raw_fail_pings(nm__raw.user_closed ? "closed" : "disconnected",
                     "connection closed");
  nm_buf_clear(&nm__raw.held);
  nm__raw.held_count = 0;
  if (nm__raw.connect_id >= 0 && nm__raw.reconnects == 0) {
    emit_err(nm__raw.connect_id, "disconnected",
             "connection closed during the handshake");
    nm__raw.connect_id = -1;
  }
  if (nm__raw.user_closed) {
    emit_closed();
    if (nm__raw.close_id >= 0)
      nm_drv_emit(nm_drv_ok(nm__raw.close_id));
    nm__raw.close_id = -1;
    return;
  }
  if (was_connected)
    nm_drv_emit(nm_drv_event("disconnected"));
  if (nm__raw.reconnect && nm__raw.reconnects < nm__raw_max_reconnect &&
      (was_connected || nm__raw.reconnects > 0)) {
    uv_timer_start(&nm__raw.reconnect_timer, on_reconnect_timer,
                   (uint64_t)nm__raw.reconnect_wait_ms, 0);
    return;
  }
  if (was_connected || nm__raw.reconnects > 0)
    emit_closed();
}

void nm__raw_close(void) {
  if (!nm__raw.tcp_init || nm__raw.closing)
    return;
  nm__raw.closing = 1;
  uv_close((uv_handle_t *)&nm__raw.tcp, on_close);
}
