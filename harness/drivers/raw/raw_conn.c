/* natsmock-driver-raw: the TCP connection. Dials, performs the handshake,
 * writes, feeds what it reads to the proto/ parser (raw_frames.c), and
 * reconnects when asked to: CONNECT and PING first; on the PONG the
 * subscriptions again, then the reconnect buffer (publishes and flush PINGs
 * made while disconnected), in order. */
#include <stdlib.h>
#include <string.h>

#include "nm_drv_util.h"
#include "nm_encode.h"
#include "raw_driver.h"

/* Reconnect attempts in a row before giving up (connect's "max_reconnect"). */
int64_t nm__raw_max_reconnect = 10;

typedef struct {
  uv_write_t req;
  int64_t id;
  size_t n;
  char data[];
} wreq_t;

static void emit_err(int64_t id, const char *code, const char *text) {
  nm_drv_emit(nm_drv_err(id, code, text));
}

/* The CONNECT every connection sends, exactly as the driver protocol says,
 * plus "no_responders":true when the connect command asked for it (the
 * server then answers a request nobody listens to with a 503 status), and
 * "name" when the command gave one (the harness tells clients apart by it). */
static void write_connect(void) {
  char buf[sizeof(nm__raw.name) * 6 + 160];
  char *q = NULL;
  int n;
  if (nm__raw.name[0] != '\0') {
    /* cJSON escapes the name as JSON wants it. */
    cJSON *s = cJSON_CreateString(nm__raw.name);
    q = cJSON_PrintUnformatted(s);
    cJSON_Delete(s);
  }
  n = snprintf(buf, sizeof(buf),
               "CONNECT {\"verbose\":false,\"pedantic\":false,"
               "\"headers\":true,\"protocol\":1%s%s%s}\r\n",
               nm__raw.no_responders ? ",\"no_responders\":true" : "",
               q != NULL ? ",\"name\":" : "", q != NULL ? q : "");
  cJSON_free(q);
  if (n > 0 && (size_t)n < sizeof(buf))
    nm__raw_write(buf, (size_t)n, -1);
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

int nm__raw_send(const void *p, size_t n) {
  if (nm__raw.established)
    return nm__raw_write(p, n, -1);
  if (!nm__raw.reconnecting)
    return NM_ECLOSED;
  /* As nats.c checks it: the limit is tested before the append, so the
   * message that crosses it is still taken. */
  if (nm__raw.rbuf.len >= (size_t)nm__raw.rbuf_limit)
    return NM_ETOOBIG;
  return nm_buf_append(&nm__raw.rbuf, p, n);
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
    int64_t left = s->max - (int64_t)s->delivered;
    if (s->unsubscribed || (s->max > 0 && left <= 0))
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
                          : (long long)left);
  }
  nm__raw_request_sub(&b);
  if (b.len > 0)
    nm__raw_write(b.base, b.len, -1);
  nm_buf_free(&b);
}

void nm__raw_handshake_done(int64_t id) {
  nm__raw.established = 1;
  nm__raw.attempts = 0;
  nm__raw_keepalive_start();
  if (!nm__raw.reconnecting) {
    nm_drv_emit(nm_drv_event("connected"));
    if (id >= 0)
      nm_drv_emit(nm_drv_ok(id));
    nm__raw.connect_id = -1;
    return;
  }
  nm__raw.reconnecting = 0;
  if (!(nm__raw.misbehave & NM_RAW_NO_CONNECT_FIRST))
    resubscribe();
  if (nm__raw.rbuf.len > 0)
    nm__raw_write(nm__raw.rbuf.base, nm__raw.rbuf.len, -1);
  nm_buf_clear(&nm__raw.rbuf);
  nm__raw_pings_promote();
  nm_drv_emit(nm_drv_event("reconnected"));
}

static void on_connect(uv_connect_t *req, int status) {
  int64_t id = nm__raw.connect_id;
  (void)req;
  if (status < 0) {
    /* The close path reports a first connect's failure and retries a
     * reconnect. */
    nm__raw_close();
    return;
  }
  nm__raw.connected = 1;
  nm_parser_reset(&nm__raw.parser);
  uv_read_start((uv_stream_t *)&nm__raw.tcp, alloc_cb, on_read);
  if (!nm__raw.handshake && !nm__raw.reconnecting) {
    nm__raw_handshake_done(id);
    return;
  }
  /* A client must send CONNECT first; the switch sends the SUBs first. */
  if (nm__raw.reconnecting && (nm__raw.misbehave & NM_RAW_NO_CONNECT_FIRST))
    resubscribe();
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
  nm__raw.attempts++;
  uv_tcp_nodelay(&nm__raw.tcp, 1);
  r = uv_tcp_connect(&nm__raw.creq, &nm__raw.tcp, (struct sockaddr *)&sa,
                     on_connect);
  if (r < 0)
    nm__raw_close();
  return r;
}

int nm__raw_conn_init(void) {
  int r = nm_parser_init(&nm__raw.parser, NM_PARSE_SERVER_OPS, nm__raw_on_frame,
                         NULL);
  if (r != 0)
    return r;
  nm_parser_set_limits(&nm__raw.parser, 0, NM_RAW_MAX_IN_PAYLOAD);
  nm_buf_init(&nm__raw.rbuf, NM_RAW_MAX_OUT);
  if ((r = uv_timer_init(nm__raw.loop, &nm__raw.ka_timer)) != 0)
    return r;
  return uv_timer_init(nm__raw.loop, &nm__raw.reconnect_timer);
}

static void on_reconnect_timer(uv_timer_t *t) {
  (void)t;
  if (nm__raw_dial() < 0)
    nm__raw_close();
}

static void emit_closed(void) {
  nm_drv_emit(nm_drv_event("closed"));
  if (nm__raw.misbehave & NM_RAW_CLOSED_TWICE)
    nm_drv_emit(nm_drv_event("closed"));
}

/* Nothing more will be sent: what waits for the connection fails. */
static void give_up(const char *code) {
  nm__raw.reconnecting = 0;
  nm__raw_request_fail_all(code);
  nm__raw_fail_queued(code, "connection closed");
  nm_buf_clear(&nm__raw.rbuf);
}

static void on_close(uv_handle_t *h) {
  int was_up = nm__raw.established;
  int was_reconnecting = nm__raw.reconnecting;
  (void)h;
  nm__raw.tcp_init = 0;
  nm__raw.connected = 0;
  nm__raw.closing = 0;
  nm__raw.established = 0;
  nm__raw_keepalive_stop();
  /* PINGs on this connection will never be answered. */
  nm__raw_fail_pings(nm__raw.user_closed ? "closed" : "disconnected",
                     "connection closed");
  nm_buf_clear(&nm__raw.held);
  nm__raw.held_count = 0;
  if (nm__raw.connect_id >= 0 && !was_reconnecting) {
    emit_err(nm__raw.connect_id, "disconnected",
             "connection failed or closed during the handshake");
    nm__raw.connect_id = -1;
  }
  if (nm__raw.user_closed) {
    give_up("closed");
    emit_closed();
    if (nm__raw.close_id >= 0)
      nm_drv_emit(nm_drv_ok(nm__raw.close_id));
    nm__raw.close_id = -1;
    return;
  }
  if (was_up)
    nm_drv_emit(nm_drv_event("disconnected"));
  if (nm__raw.reconnect && !nm__raw.no_reconnect &&
      nm__raw.attempts < nm__raw_max_reconnect &&
      (was_up || was_reconnecting)) {
    nm__raw.reconnecting = 1;
    if (was_up)
      nm__raw.attempts = 0; /* a fresh series of attempts */
    uv_timer_start(&nm__raw.reconnect_timer, on_reconnect_timer,
                   (uint64_t)nm__raw.reconnect_wait_ms, 0);
    return;
  }
  give_up("closed");
  if (was_up || was_reconnecting)
    emit_closed();
}

void nm__raw_close(void) {
  if (!nm__raw.tcp_init || nm__raw.closing)
    return;
  nm__raw.closing = 1;
  uv_close((uv_handle_t *)&nm__raw.tcp, on_close);
}
