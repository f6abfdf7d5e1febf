/* The proxy's own connection to the upstream server, for phantom publishes
 * (the `publish` action, and $MOCK.* answers to a client that cannot get
 * them on its own connection): a publisher that is no client's, as the
 * mock's phantom publisher is no connection. Opened on the first publish
 * that needs it, with CONNECT {"name":"natsmock-proxy","verbose":false,...};
 * what is published meanwhile waits in `out` and follows the CONNECT. It
 * answers the server's PINGs, subscribes to nothing, and is closed with the
 * proxy (or when the server closes it; the next publish opens it again).
 * Its traffic is reported on the upstream leg with conn_id 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_encode.h"
#include "nm_proxy_int.h"
#include "nm_version.h"

typedef struct {
  uv_write_t req;
  nm_proxy_t *px;
  size_t n;
  char data[];
} own_write_t;

static void note(nm_proxy_t *px, const char *detail) {
  nm__proxy_observe(px, NM_OBS_ACTION, NM_OBS_LEG_UPSTREAM, 0, NULL,
                    (nm_slice_t){NULL, 0}, NULL, "publish", detail);
}

static void on_closed(uv_handle_t *h) {
  nm_proxy_t *px = h->data;
  nm__pown_t *o = &px->own;
  o->state = NM_POWN_NONE;
  nm_parser_free(&o->parser);
  nm__proxy_handle_closed(px);
}

static void own_close(nm_proxy_t *px, const char *why) {
  nm__pown_t *o = &px->own;
  if (o->state == NM_POWN_NONE || o->state == NM_POWN_CLOSING)
    return;
  if (why != NULL && o->out.len > 0) {
    char detail[160];
    snprintf(detail, sizeof(detail), "%s: %zu byte(s) not sent", why,
             o->out.len);
    note(px, detail);
  } else if (why != NULL) {
    note(px, why);
  }
  o->state = NM_POWN_CLOSING;
  nm_buf_clear(&o->out);
  uv_close((uv_handle_t *)&o->tcp, on_closed);
}

static void flush(nm_proxy_t *px);

static void on_write(uv_write_t *req, int status) {
  own_write_t *w = (own_write_t *)req;
  nm_proxy_t *px = w->px;
  px->own.inflight -= w->n;
  px->own.nwrites--;
  free(w);
  if (status < 0)
    own_close(px, "own upstream connection: write error");
  else
    flush(px);
}

/* Hands what is queued to the socket in one write (a copy), once connected
 * and when no write is in flight: bursts (a publish with a count) go out in
 * few writes. */
static void flush(nm_proxy_t *px) {
  nm__pown_t *o = &px->own;
  own_write_t *w;
  uv_buf_t b;

  if (o->state != NM_POWN_OPEN || o->nwrites > 0 || o->out.len == 0)
    return;
  w = malloc(sizeof(*w) + o->out.len);
  if (w == NULL) {
    own_close(px, "own upstream connection: out of memory");
    return;
  }
  w->px = px;
  w->n = o->out.len;
  memcpy(w->data, o->out.base, o->out.len);
  nm_buf_clear(&o->out);
  b = uv_buf_init(w->data, (unsigned int)w->n);
  if (uv_write(&w->req, (uv_stream_t *)&o->tcp, &b, 1, on_write) < 0) {
    free(w);
    own_close(px, "own upstream connection: write error");
    return;
  }
  o->inflight += w->n;
  o->nwrites++;
}

static int on_frame(nm_parser_t *p, const nm_frame_t *f) {
  nm_proxy_t *px = p->data;
  char detail[160];
  nm__proxy_observe(px, NM_OBS_IN, NM_OBS_LEG_UPSTREAM, 0, f,
                    (nm_slice_t){NULL, 0}, NULL, NULL, NULL);
  if (f->op == NM_OP_PING) {
    if (nm_buf_append(&px->own.out, "PONG\r\n", 6) == 0)
      flush(px);
  } else if (f->op == NM_OP_ERR) {
    /* e.g. 'Authorization Violation': the proxy has no credentials. */
    snprintf(detail, sizeof(detail), "own upstream connection: %.*s",
             (int)(f->line.n > 120 ? 120 : f->line.n), f->line.p);
    note(px, detail);
  }
  return 0;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  nm_proxy_t *px = h->data;
  buf->base = px->rbuf;
  buf->len = sizeof(px->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  nm_proxy_t *px = s->data;
  if (nread == 0 || px->own.state != NM_POWN_OPEN)
    return;
  if (nread < 0) {
    own_close(px, nread == UV_EOF ? "own upstream connection: closed by "
                                    "the server"
                                  : "own upstream connection: read error");
    return;
  }
  if (nm_parser_feed(&px->own.parser, buf->base, (size_t)nread) < 0)
    own_close(px, "own upstream connection: unparsable bytes from the server");
}

static void on_connect(uv_connect_t *req, int status) {
  nm_proxy_t *px = req->data;
  nm__pown_t *o = &px->own;
  char detail[NM_PROXY_HOST_MAX + 128];

  if (o->state != NM_POWN_CONNECTING)
    return; /* closed meanwhile (the proxy stops) */
  if (status < 0) {
    snprintf(detail, sizeof(detail), "own upstream connection to %s:%d: %s",
             px->up_host, px->up_port, uv_strerror(status));
    own_close(px, detail);
    return;
  }
  o->state = NM_POWN_OPEN;
  uv_tcp_nodelay(&o->tcp, 1);
  if (uv_read_start((uv_stream_t *)&o->tcp, on_alloc, on_read) < 0) {
    own_close(px, "own upstream connection: read error");
    return;
  }
  flush(px);
}

/* Opens the connection and queues its CONNECT. 0 or a negative code. */
static int own_open(nm_proxy_t *px) {
  static const char kConnect[] =
      "CONNECT {\"verbose\":false,\"pedantic\":false,\"tls_required\":false,"
      "\"name\":\"natsmock-proxy\",\"lang\":\"C\",\"version\":\"" NM_VERSION
      "\",\"protocol\":1,\"echo\":true,\"headers\":true,\"no_responders\":"
      "true}\r\n";
  nm__pown_t *o = &px->own;
  int r;

  nm_buf_clear(&o->out);
  if ((r = nm_buf_append(&o->out, kConnect, sizeof(kConnect) - 1)) < 0)
    return r;
  if ((r = nm_parser_init(&o->parser, NM_PARSE_SERVER_OPS, on_frame, px)) < 0)
    return r;
  nm_parser_set_limits(&o->parser, NM_PARSER_SCRATCH_MAX, -1);
  if ((r = uv_tcp_init(px->loop, &o->tcp)) < 0) {
    nm_parser_free(&o->parser);
    return r;
  }
  o->tcp.data = px;
  o->creq.data = px;
  px->handles++;
  o->state = NM_POWN_CONNECTING;
  r = uv_tcp_connect(&o->creq, &o->tcp, (const struct sockaddr *)&px->up_addr,
                     on_connect);
  if (r < 0) {
    own_close(px, NULL);
    return r;
  }
  return 0;
}

int nm__proxy_own_publish(nm_proxy_t *px, const char *p, size_t n) {
  nm__pown_t *o = &px->own;
  char detail[160];
  int r;

  if (px->stopping || o->state == NM_POWN_CLOSING) {
    note(px, "dropped: the proxy's own upstream connection is closing");
    return NM_ESTATE;
  }
  if (o->state == NM_POWN_NONE && (r = own_open(px)) < 0) {
    snprintf(detail, sizeof(detail),
             "dropped: own upstream connection not opened: %s", uv_strerror(r));
    note(px, detail);
    return r;
  }
  if (o->out.len + o->inflight + n > NM_PROXY_PENDING_MAX ||
      nm_buf_append(&o->out, p, n) < 0) {
    note(px, "dropped: over the proxy's own connection's pending limit");
    return NM_ETOOBIG;
  }
  nm__proxy_observe(px, NM_OBS_OUT, NM_OBS_LEG_UPSTREAM, 0, NULL,
                    (nm_slice_t){p, n}, NULL, "publish", NULL);
  flush(px);
  return 0;
}

/* ---- publishes for a client with echo off ----
 * They go on the own connection, but the server handles each connection on
 * its own: the client's SUB of its inbox, sent just before its $MOCK
 * request, may not be handled yet when the answer arrives on another
 * connection. So they wait for the PONG of a PING queued behind the
 * client's frames; publishes made before the client sends another frame
 * share one PING. Counting PINGs and PONGs tells ours apart (the client's
 * own PINGs are answered in order before it). */

void nm__proxy_own_publish_after(nm__pconn_t *pc, const char *p, size_t n) {
  nm_proxy_t *px = pc->px;
  int nb = pc->nbarriers;
  int reuse = nb > 0 && pc->barrier[nb - 1].frames == pc->frames_up;

  /* Bytes forwarded unparsed hide PINGs from the count; no room for
   * another PING; or over the cap: publish now. */
  if (pc->cl.raw || pc->up.raw || (!reuse && nb == NM_PROXY_BARRIERS_MAX) ||
      pc->after_pong.len + n > NM_PROXY_PENDING_MAX) {
    (void)nm__proxy_own_publish(px, p, n);
    return;
  }
  if (!reuse) {
    if (nm__pleg_queue(&pc->up, "PING\r\n", 6, 0) != 0) {
      (void)nm__proxy_own_publish(px, p, n);
      return;
    }
    pc->pings_up++;
    pc->barrier[nb].pong = pc->pings_up;
    pc->barrier[nb].frames = pc->frames_up;
    pc->nbarriers = ++nb;
    nm__proxy_observe(px, NM_OBS_OUT, NM_OBS_LEG_UPSTREAM, pc->id, NULL,
                      nm_slice_str("PING\r\n"), NULL, "publish",
                      "echo off: waits for this PING's PONG");
  }
  if (nm_buf_append(&pc->after_pong, p, n) < 0) {
    (void)nm__proxy_own_publish(px, p, n);
    return;
  }
  pc->barrier[nb - 1].end = pc->after_pong.len;
}

int nm__proxy_own_pong(nm__pconn_t *pc) {
  size_t end;
  int i;

  pc->pongs_up++;
  if (pc->nbarriers == 0 || pc->barrier[0].pong != pc->pongs_up)
    return 0;
  end = pc->barrier[0].end;
  if (end > 0)
    (void)nm__proxy_own_publish(pc->px, pc->after_pong.base, end);
  nm_buf_consume(&pc->after_pong, end);
  for (i = 1; i < pc->nbarriers; i++) {
    pc->barrier[i - 1] = pc->barrier[i];
    pc->barrier[i - 1].end -= end;
  }
  pc->nbarriers--;
  return 1;
}

void nm__proxy_own_init(nm_proxy_t *px) {
  nm_buf_init(&px->own.out, NM_PROXY_PENDING_MAX + NM_PROXY_CARRY_MAX);
}

void nm__proxy_own_close(nm_proxy_t *px) {
  own_close(px, NULL);
}

void nm__proxy_own_free(nm_proxy_t *px) {
  nm_buf_free(&px->own.out);
}
