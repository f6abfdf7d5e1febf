/* One client connection on libuv: reading into the parser, the output
 * buffers and their batched writes, raw writes for the fault engine, and the
 * single way a connection ends (nm__conn_close).
 *
 * Output: frames are queued in c->outq (nm_outq.h: segments in blocks of
 * the server's pool); a flush hands every queued segment to one vectored
 * write, so whatever was queued during one read (or one loop iteration, for
 * fan-out) goes out in one writev, in FIFO order, and steady state
 * allocates nothing. */
#include <stdlib.h>
#include <string.h>

#include "nm_encode.h"
#include "nm_server_int.h"

static void on_close(uv_handle_t *h);
static void on_write(uv_write_t *req, int status);

nm_conn_t *nm__conn_new(nm_server_t *s) {
  nm_conn_t *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return NULL;
  c->srv = s;
  c->id = ++s->next_cid;
  c->start_hr = uv_hrtime();
  c->start_wall_ns = nm__wall_ns();
  if (nm_parser_init(&c->parser, NM_PARSE_CLIENT_OPS, nm__conn_on_frame, c) <
      0) {
    free(c);
    return NULL;
  }
  nm_parser_set_limits(&c->parser, s->opts.max_control_line,
                       s->opts.max_payload);
  /* One feed per read, so split control lines take their arguments as
   * nats-server's reads do. */
  nm_parser_set_flags(&c->parser, NM_PARSER_READ_SPLIT_ARGS |
                                      (s->opts.user || s->opts.token
                                           ? (unsigned)NM_PARSER_EXPECT_CONNECT
                                           : 0u));
  nm_buf_init(&c->held_in, NM_READ_BUF_SIZE);
  c->rsz = NM_READ_START;
  /* nats-server's defaults before any CONNECT. */
  c->verbose = c->pedantic = c->echo = 1;
  uv_tcp_init(s->loop, &c->tcp);
  uv_timer_init(s->loop, &c->ping_timer);
  uv_timer_init(s->loop, &c->auth_timer);
  uv_timer_init(s->loop, &c->wd_timer);
  uv_timer_init(s->loop, &c->stall_timer);
  c->open_handles = 5;
  c->flags |= NM_CF_HANDLES;
  c->tcp.data = c;
  c->ping_timer.data = c;
  c->auth_timer.data = c;
  c->wd_timer.data = c;
  c->stall_timer.data = c;
  c->wreq.data = c;
  return c;
}

/* Frees what a connection owns once every handle is closed. */
static void conn_free(nm_conn_t *c) {
  nm__conn_clear_subs(c);
  free(c->sids);
  nm_parser_free(&c->parser);
  if (c->obs_parser) {
    nm_parser_free(c->obs_parser);
    free(c->obs_parser);
  }
  nm__outq_free(&c->srv->opool, &c->outq);
  nm_buf_free(&c->held_in);
  free(c->user);
  free(c->client_name);
  free(c->lang);
  free(c->version);
  free(c->pass);
  free(c->token);
  nm__replies_free(c->replies);
  free(c);
}

static void on_close(uv_handle_t *h) {
  nm_conn_t *c = h->data;
  if (--c->open_handles > 0)
    return;
  nm__server_conn_closed(c->srv, c);
  conn_free(c);
}

static void observe(nm_conn_t *c, nm_obs_kind_t kind, const nm_frame_t *f,
                    nm_slice_t bytes, const char *rule, const char *action,
                    const char *detail) {
  nm_obs_event_t ev;
  memset(&ev, 0, sizeof(ev));
  ev.kind = kind;
  ev.conn_id = c->id;
  ev.t_us = uv_hrtime() / 1000;
  ev.frame = f;
  ev.bytes = bytes;
  ev.rule = rule;
  ev.action = action;
  ev.detail = detail;
  c->srv->obs(c->srv->obs_data, &ev);
}

/* The observer sees outbound frames when they are handed to the socket. The
 * output buffer holds whole frames only, so a server-ops parser splits it
 * back into frames; it runs only when an observer is set. */
static int obs_out_frame(nm_parser_t *p, const nm_frame_t *f) {
  nm_conn_t *c = p->data;
  nm_slice_t bytes;
  size_t n = f->line.n + 2;
  if (f->op == NM_OP_MSG || f->op == NM_OP_HMSG)
    n += f->payload.n + 2;
  bytes.p = f->line.p;
  bytes.n = n;
  observe(c, NM_OBS_OUT, f, bytes, NULL, NULL, NULL);
  return 0;
}

static void observe_pending_out(nm_conn_t *c) {
  size_t queued = c->outq.queued, n;
  const char *p;
  char *tmp;
  if (c->srv->obs == NULL || c->obs_mark >= queued) {
    c->obs_mark = queued;
    return;
  }
  if (c->obs_parser == NULL) {
    c->obs_parser = calloc(1, sizeof(*c->obs_parser));
    if (c->obs_parser == NULL ||
        nm_parser_init(c->obs_parser, NM_PARSE_SERVER_OPS, obs_out_frame, c) <
            0) {
      free(c->obs_parser);
      c->obs_parser = NULL;
      c->obs_mark = queued;
      return;
    }
    nm_parser_set_limits(c->obs_parser, NM_PARSER_SCRATCH_MAX, -1);
  }
  /* The parser takes the frames as one stream: when they sit in several
   * segments, it is given a copy of them in one piece. */
  tmp = NULL;
  if (!nm__outq_span(&c->outq, c->obs_mark, &p, &n)) {
    n = queued - c->obs_mark;
    p = tmp = malloc(n);
    if (tmp != NULL)
      nm__outq_gather(&c->outq, c->obs_mark, tmp);
  }
  if (p == NULL || nm_parser_feed(c->obs_parser, p, n) < 0)
    nm_parser_reset(c->obs_parser);
  free(tmp);
  c->obs_mark = queued;
}

static void wd_timer_cb(uv_timer_t *t) {
  nm_conn_t *c = t->data;
  uint64_t now = nm__now_ms(c->srv), wd = c->srv->opts.write_deadline_ms;
  if (!(c->flags & NM_CF_WRITING))
    return;
  if (now - c->write_start_ms >= wd) {
    /* nats-server treats a write stuck past the deadline as a slow
     * consumer: no -ERR, no flush. */
    c->srv->slow_consumers++;
    nm__conn_close(c, NM_CLOSE_FIN, "slow consumer (write deadline)");
    return;
  }
  uv_timer_start(&c->wd_timer, wd_timer_cb, wd - (now - c->write_start_ms), 0);
}

static void close_handles(nm_conn_t *c, nm_close_how_t how);

/* Everything is out: a close waiting for the output finishes now. */
static void output_drained(nm_conn_t *c) {
  if ((c->flags & NM_CF_FLUSH_CLOSE) && !(c->flags & NM_CF_WRITING) &&
      c->raw_pending == 0 && c->outq.queued == 0)
    close_handles(c, NM_CLOSE_FIN);
}

/* cont: on_write goes on with the bytes a previous flush could not hand
 * to its one uv_write. */
static void flush(nm_conn_t *c, int cont) {
  nm__outq_t *q = &c->outq;
  nm__opool_t *pool = &c->srv->opool;
  size_t total = q->queued, flown;
  int r, n = UV_EAGAIN;

  if (total == 0 || (c->flags & (NM_CF_WRITING | NM_CF_BLACKHOLE)))
    return;
  if ((c->flags & NM_CF_CLOSING) && !(c->flags & NM_CF_FLUSH_CLOSE))
    return;
  observe_pending_out(c);
  c->obs_mark = 0;
  c->out_used = 1;
  if (!cont)
    c->wd_left = total;
  /* The write is tried first: when the socket takes it all (the usual
   * case), the loop is never asked to watch the socket and no write
   * callback runs. uv_try_write refuses while libuv still queues bytes of
   * ours, so the order on the wire stays the order of the calls. All the
   * queued segments go in one writev (libuv takes at most IOV_MAX of them
   * at a time; uv_write below gets the rest). */
  if (c->raw_pending == 0)
    n = uv_try_write((uv_stream_t *)&c->tcp, q->bufs + q->head,
                     (unsigned int)(q->n - q->head));
  if (n >= 0 && (size_t)n == total) {
    nm__outq_consume(pool, q, total);
    nm__outq_settle(pool, q);
    nm__stall_release(c, 0);
    output_drained(c);
    return;
  }
  if (n < 0 && n != UV_EAGAIN) {
    nm__outq_drop_queued(pool, q);
    nm__conn_close(c, NM_CLOSE_FIN, "write error");
    return;
  }
  if (n < 0)
    n = 0;
  nm__outq_consume(pool, q, (size_t)n);
  /* libuv copies the buffer list; the segments stay ours until on_write.
   * What is past NM_OUT_WRITE_SEGS stays queued (already observed) and
   * goes when this write is done. */
  r = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, q->bufs + q->head,
               (unsigned int)nm__outq_take_flight(q), on_write);
  if (r < 0) {
    q->nfly = 0;
    nm__outq_drop_queued(pool, q);
    nm__conn_close(c, NM_CLOSE_FIN, "write error");
    return;
  }
  flown = (size_t)n + (total - (size_t)n - q->queued);
  c->wd_left -= flown < c->wd_left ? flown : c->wd_left;
  c->wd_cont = c->wd_left > 0;
  c->obs_mark = q->queued;
  c->flags |= NM_CF_WRITING;
  if (c->srv->opts.write_deadline_ms > 0) {
    uint64_t now = nm__now_ms(c->srv), wd = c->srv->opts.write_deadline_ms;
    if (!cont)
      c->write_start_ms = now;
    if (!uv_is_active((uv_handle_t *)&c->wd_timer))
      uv_timer_start(
          &c->wd_timer, wd_timer_cb,
          now - c->write_start_ms >= wd ? 0 : wd - (now - c->write_start_ms),
          0);
  }
}

void nm__conn_flush(nm_conn_t *c) {
  flush(c, 0);
}

/* Called by the server's trim timer every NM_OUT_IDLE_MS: a connection
 * that has not written since the previous call gives back its segment
 * arrays (its blocks went back to the pool when its output was written).
 * Never per write: a busy connection keeps them. */
void nm__conn_trim_idle(nm_conn_t *c) {
  if (c->out_used || (c->flags & (NM_CF_WRITING | NM_CF_DEAD))) {
    c->out_used = 0;
    return;
  }
  nm__outq_trim(&c->outq);
}

static void close_handles(nm_conn_t *c, nm_close_how_t how) {
  if (c->flags & NM_CF_DEAD)
    return;
  c->flags |= NM_CF_DEAD;
  if (c->srv->obs)
    observe(c, NM_OBS_CLOSE, NULL, (nm_slice_t){NULL, 0}, NULL,
            how == NM_CLOSE_RST ? "reset" : "fin", c->close_reason);
  if (how != NM_CLOSE_RST || uv_tcp_close_reset(&c->tcp, on_close) != 0)
    uv_close((uv_handle_t *)&c->tcp, on_close);
  uv_close((uv_handle_t *)&c->ping_timer, on_close);
  uv_close((uv_handle_t *)&c->auth_timer, on_close);
  uv_close((uv_handle_t *)&c->wd_timer, on_close);
  uv_close((uv_handle_t *)&c->stall_timer, on_close);
}

static void on_write(uv_write_t *req, int status) {
  nm_conn_t *c = req->data;
  int cont;
  c->flags &= ~NM_CF_WRITING;
  nm__outq_flight_done(&c->srv->opool, &c->outq);
  if (c->flags & NM_CF_DEAD)
    return;
  nm__stall_release(c, 0);
  if (status < 0) {
    nm__conn_close(c, NM_CLOSE_FIN, "write error");
    return;
  }
  cont = c->wd_cont;
  c->wd_cont = 0;
  if (c->outq.queued > 0) {
    flush(c, cont);
  } else {
    nm__outq_settle(&c->srv->opool, &c->outq);
    output_drained(c);
  }
}

void nm__conn_close(nm_conn_t *c, nm_close_how_t how, const char *reason) {
  nm_server_t *s = c->srv;
  if (c->flags & NM_CF_DEAD)
    return;
  if (!(c->flags & NM_CF_CLOSING)) {
    c->flags |= NM_CF_CLOSING;
    c->close_reason = reason;
    if (c->flags & NM_CF_READING)
      uv_read_stop((uv_stream_t *)&c->tcp);
    c->flags &= ~NM_CF_READING;
    uv_timer_stop(&c->ping_timer);
    uv_timer_stop(&c->auth_timer);
    if (s->on_conn_close)
      s->on_conn_close(s->on_conn_close_data, c, reason);
    /* No more messages are routed to a closing connection. */
    nm__conn_clear_subs(c);
    nm__stall_forget(c);
    nm__stall_release(c, 1);
    s->nconns--;
    nm_faults_conn_close(s->faults, (nm_hconn_t *)c);
    if (s->opts.debug)
      nm__trace(s, "[%llu] closing: %s", (unsigned long long)c->id, reason);
  }
  if (how == NM_CLOSE_FLUSH && !(c->flags & NM_CF_BLACKHOLE)) {
    c->flags |= NM_CF_FLUSH_CLOSE;
    if (c->outq.queued > 0)
      nm__conn_flush(c);
    if (c->flags & NM_CF_DEAD)
      return;
    /* on_write / on_raw_write finish the close once everything is out. */
    if ((c->flags & NM_CF_WRITING) || c->raw_pending > 0 || c->outq.queued > 0)
      return;
    how = NM_CLOSE_FIN;
  }
  close_handles(c, how);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  nm_conn_t *c = h->data;
  nm_server_t *s = c->srv;
  /* Without memory the read fails with UV_ENOBUFS: on_read closes. */
  if (s->rbuf == NULL)
    s->rbuf = malloc(NM_READ_BUF_SIZE);
  buf->base = s->rbuf;
  buf->len = s->rbuf ? c->rsz : 0;
}

/* Grows on a full read, halves after more than NM_READ_SHORTS_TO_SHRINK reads
 * under half full, as nats-server's read loop does. */
static void adapt_read_size(nm_conn_t *c, size_t n) {
  if (n >= c->rsz)
    c->srs = 0;
  else if (n < c->rsz / 2)
    c->srs++;
  if (n >= c->rsz && c->rsz < NM_READ_BUF_SIZE)
    c->rsz *= 2;
  else if (n < c->rsz && c->rsz > NM_READ_MIN &&
           c->srs > NM_READ_SHORTS_TO_SHRINK)
    c->rsz /= 2;
}

/* Feeds one read, or what a stall left of one, to the parser. A delivery
 * that stalls this connection as a fast producer pauses the parser right
 * after that message (nats-server blocks inside the delivery, so the rest of
 * its read waits too): the rest goes to held_in and is fed when the stall
 * ends, one message per stall, as the real server paces a producer. */
static void feed(nm_conn_t *c, const char *p, size_t n) {
  ssize_t r;
  c->flags |= NM_CF_IN_READ;
  r = nm_parser_feed(&c->parser, p, n);
  c->flags &= ~NM_CF_IN_READ;
  if (r < 0 && !(c->flags & NM_CF_CLOSING)) {
    nm__conn_parser_error(c);
  } else if (!(c->flags & NM_CF_CLOSING)) {
    if (p == c->held_in.base)
      nm_buf_consume(&c->held_in, (size_t)r);
    else if ((size_t)r < n &&
             nm_buf_append(&c->held_in, p + r, n - (size_t)r) < 0)
      nm__conn_close(c, NM_CLOSE_FIN, "held input over its limit");
    if (c->held_in.len == 0 && !(c->flags & NM_CF_CLOSING))
      nm__conn_read_done(c);
  }
  /* One write answers everything this read asked for. */
  nm__conn_flush(c);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  nm_conn_t *c = st->data;
  if (nread == 0)
    return;
  if (nread < 0) {
    nm__conn_close(c, NM_CLOSE_FIN,
                   nread == UV_EOF ? "client closed" : "read error");
    return;
  }
  if (c->flags & NM_CF_CLOSING)
    return;
  feed(c, buf->base, (size_t)nread);
  if (!(c->flags & NM_CF_CLOSING))
    adapt_read_size(c, (size_t)nread);
  if (c->held_in.len > 0)
    nm__conn_update_reading(c);
}

static int may_read(const nm_conn_t *c) {
  return !(c->flags & (NM_CF_CLOSING | NM_CF_DEAD | NM_CF_NOREAD |
                       NM_CF_BLACKHOLE | NM_CF_STALLED));
}

static void resume_cb(uv_timer_t *t) {
  nm_conn_t *c = t->data;
  if (c->held_in.len > 0 && may_read(c))
    feed(c, c->held_in.base, c->held_in.len);
  nm__conn_update_reading(c);
}

void nm__conn_update_reading(nm_conn_t *c) {
  int want = may_read(c);
  if (want && c->held_in.len > 0) {
    /* The held input first, on the next loop turn: this may be called from
     * inside another connection's delivery. */
    uv_timer_start(&c->stall_timer, resume_cb, 0, 0);
    want = 0;
  }
  if (want && !(c->flags & NM_CF_READING)) {
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
      c->flags |= NM_CF_READING;
  } else if (!want && (c->flags & NM_CF_READING)) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->flags &= ~NM_CF_READING;
  }
}

void nm__conn_start(nm_conn_t *c) {
  nm_server_t *s = c->srv;
  struct sockaddr_storage ss;
  int len = sizeof(ss);

  uv_tcp_nodelay(&c->tcp, 1);
  strcpy(c->ip, "127.0.0.1");
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
    if (ss.ss_family == AF_INET)
      uv_ip4_name((struct sockaddr_in *)&ss, c->ip, sizeof(c->ip));
    else if (ss.ss_family == AF_INET6)
      uv_ip6_name((struct sockaddr_in6 *)&ss, c->ip, sizeof(c->ip));
    c->port =
        ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                       : ((struct sockaddr_in *)&ss)->sin_port);
  }
  c->last_in_ms = c->last_ping_ms = nm__now_ms(s);
  nm__conn_send_info(c);
  if (s->opts.user || s->opts.token)
    nm__auth_timer_start(c);
  /* nats-server arms the keepalive at accept, so PINGs flow even before
   * CONNECT; CONNECT re-arms it with the shorter first interval. */
  nm__keepalive_start(c, s->opts.ping_interval_ms);
  nm__conn_update_reading(c);
}

void nm__conn_set_reading(nm_conn_t *c, int on) {
  if (on)
    c->flags &= ~NM_CF_NOREAD;
  else
    c->flags |= NM_CF_NOREAD;
  nm__conn_update_reading(c);
}

void nm__conn_set_blackhole(nm_conn_t *c, int on) {
  if (on) {
    c->flags |= NM_CF_BLACKHOLE;
    nm__outq_drop_queued(&c->srv->opool, &c->outq);
    nm__outq_settle(&c->srv->opool, &c->outq);
    c->obs_mark = 0;
  } else {
    c->flags &= ~NM_CF_BLACKHOLE;
  }
  nm__conn_update_reading(c);
}

uint64_t nm__conn_id(const nm_conn_t *c) {
  return c->id;
}

nm_server_t *nm__conn_server(const nm_conn_t *c) {
  return c->srv;
}

/* ---- output ---- */

/* A frame is encoded into a server buffer (the fault engine's scratch when
 * it has rules, so it can see the frame first), then copied to the queue:
 * only control frames come this way; route.c queues MSGs directly. */
nm_buf_t *nm__conn_out_begin(nm_conn_t *c) {
  nm_buf_t *b =
      nm_faults_active(c->srv->faults) ? &c->srv->scratch : &c->srv->ostage;
  nm_buf_clear(b);
  return b;
}

/* Counts a slow consumer, drops the queued output and closes (FIN). */
static void slow_consumer(nm_conn_t *c) {
  c->srv->slow_consumers++;
  /* nats-server sends nothing and skips the flush on a slow consumer. */
  nm__outq_drop_queued(&c->srv->opool, &c->outq);
  c->obs_mark = 0;
  nm__conn_close(c, NM_CLOSE_FIN, "slow consumer");
}

size_t nm__conn_pending(const nm_conn_t *c) {
  return c->outq.queued + c->tcp.write_queue_size;
}

/* Copies n bytes to the queue within max_pending. 0 or < 0. */
static int out_append(nm_conn_t *c, const char *p, size_t n) {
  if (!nm__conn_out_room(c, n))
    return NM_ETOOBIG;
  return nm__outq_append(&c->srv->opool, &c->outq, p, n);
}

void nm__conn_out_queued(nm_conn_t *c) {
  if ((int64_t)nm__conn_pending(c) > c->srv->opts.max_pending) {
    slow_consumer(c);
    return;
  }
  if (!(c->flags & (NM_CF_IN_READ | NM_CF_DIRTY)))
    nm__server_mark_dirty(c->srv, c);
}

void nm__conn_out_end(nm_conn_t *c, nm_buf_t *b, size_t mark,
                      const nm_frame_t *f) {
  nm_slice_t bytes = {b->base + mark, b->len - mark};
  if (b == &c->srv->scratch &&
      nm_faults_frame(c->srv->faults, (nm_hconn_t *)c, NM_DIR_OUT, f, bytes) ==
          NM_FAULT_TAKEN)
    return;
  if (c->flags & (NM_CF_BLACKHOLE | NM_CF_DEAD))
    return;
  if (out_append(c, bytes.p, bytes.n) < 0) {
    slow_consumer(c);
    return;
  }
  nm__conn_out_queued(c);
}

/* Shared tail of every simple frame: an encode failure outside the fault
 * engine's scratch means the frame alone is over max_pending. */
static void out_fail(nm_conn_t *c, nm_buf_t *b) {
  if (b != &c->srv->scratch)
    slow_consumer(c);
}

/* Nothing more is queued once a close has started. */
static int writable(const nm_conn_t *c) {
  return !(c->flags & (NM_CF_DEAD | NM_CF_CLOSING));
}

int nm__conn_send_err(nm_conn_t *c, const char *text) {
  nm_buf_t *b;
  size_t mark;
  nm_frame_t f;
  if (!writable(c))
    return NM_ECLOSED;
  b = nm__conn_out_begin(c);
  mark = b->len;
  if (nm_encode_err(b, text) < 0) {
    out_fail(c, b);
    return NM_ETOOBIG;
  }
  memset(&f, 0, sizeof(f));
  f.op = NM_OP_ERR;
  f.text.p = b->base + mark + 5;
  f.text.n = b->len - mark - 7;
  f.line.p = b->base + mark;
  f.line.n = b->len - mark - 2;
  nm__conn_out_end(c, b, mark, &f);
  return 0;
}

void nm__conn_send_simple(nm_conn_t *c, nm_op_t op) {
  nm_buf_t *b;
  size_t mark;
  int r;
  nm_frame_t f;
  if (!writable(c))
    return;
  b = nm__conn_out_begin(c);
  mark = b->len;
  r = op == NM_OP_PING   ? nm_encode_ping(b)
      : op == NM_OP_PONG ? nm_encode_pong(b)
                         : nm_encode_ok(b);
  if (r < 0) {
    out_fail(c, b);
    return;
  }
  memset(&f, 0, sizeof(f));
  f.op = op;
  f.line.p = b->base + mark;
  f.line.n = b->len - mark - 2;
  nm__conn_out_end(c, b, mark, &f);
}

void nm__conn_send_info(nm_conn_t *c) {
  nm__conn_send_info_extra(c, NULL);
}

void nm__conn_send_info_extra(nm_conn_t *c, const char *extra) {
  nm_buf_t *b, json;
  size_t mark;
  nm_frame_t f;
  if (!writable(c))
    return;
  nm_buf_init(&json, NM_INFO_MAX);
  if (nm__server_info_json(c->srv, c, extra, &json) < 0) {
    nm_buf_free(&json);
    return;
  }
  b = nm__conn_out_begin(c);
  mark = b->len;
  if (nm_encode_info(b, (nm_slice_t){json.base, json.len}) < 0) {
    nm_buf_free(&json);
    out_fail(c, b);
    return;
  }
  nm_buf_free(&json);
  memset(&f, 0, sizeof(f));
  f.op = NM_OP_INFO;
  f.line.p = b->base + mark;
  f.line.n = b->len - mark - 2;
  f.json.p = b->base + mark + 5;
  f.json.n = b->len - mark - 8;
  nm__conn_out_end(c, b, mark, &f);
}

/* ---- raw writes for the fault engine ---- */

void nm__conn_observe_pending(nm_conn_t *c) {
  if (writable(c))
    observe_pending_out(c);
}

typedef struct {
  uv_write_t req;
  nm_conn_t *c;
  char data[];
} raw_req_t;

static void on_raw_write(uv_write_t *req, int status) {
  raw_req_t *r = (raw_req_t *)req;
  nm_conn_t *c = r->c;
  free(r);
  c->raw_pending--;
  if (c->flags & NM_CF_DEAD)
    return;
  if (status < 0)
    nm__conn_close(c, NM_CLOSE_FIN, "write error");
  else if ((c->flags & NM_CF_FLUSH_CLOSE) && c->raw_pending == 0 &&
           !(c->flags & NM_CF_WRITING) && c->outq.queued == 0)
    close_handles(c, NM_CLOSE_FIN);
}

/* Queues its own uv_write of a copy of p (NULL: of the queued output):
 * libuv keeps writes on one stream in FIFO order, so it still follows every
 * byte handed over before it. */
static int raw_write_now(nm_conn_t *c, const char *p, size_t n) {
  raw_req_t *r = malloc(sizeof(*r) + (n ? n : 1));
  uv_buf_t b;
  if (r == NULL)
    return NM_ENOMEM;
  r->c = c;
  if (p == NULL)
    nm__outq_gather(&c->outq, 0, r->data);
  else
    memcpy(r->data, p, n);
  b = uv_buf_init(r->data, (unsigned int)n);
  if (uv_write(&r->req, (uv_stream_t *)&c->tcp, &b, 1, on_raw_write) < 0) {
    free(r);
    return NM_ECLOSED;
  }
  c->raw_pending++;
  return 0;
}

int nm__conn_write_raw(nm_conn_t *c, const char *p, size_t n, int now,
                       const nm_frame_t *f, const char *rule,
                       const char *action) {
  int r;
  if (!writable(c))
    return NM_ECLOSED;
  if (c->flags & NM_CF_BLACKHOLE)
    return 0;
  /* Frames queued before these bytes are reported before them. */
  observe_pending_out(c);
  if (c->srv->obs)
    observe(c, NM_OBS_OUT, f, (nm_slice_t){p, n}, rule, action, NULL);
  if (!now) {
    if (out_append(c, p, n) < 0 ||
        (int64_t)nm__conn_pending(c) > c->srv->opts.max_pending) {
      slow_consumer(c);
      return NM_ESLOW;
    }
    c->obs_mark = c->outq.queued;
    if (!(c->flags & (NM_CF_IN_READ | NM_CF_DIRTY)))
      nm__server_mark_dirty(c->srv, c);
    return 0;
  }
  if (c->outq.queued > 0) {
    if (!(c->flags & NM_CF_WRITING)) {
      nm__conn_flush(c);
    } else {
      r = raw_write_now(c, NULL, c->outq.queued);
      if (r < 0)
        return r;
      nm__outq_drop_queued(&c->srv->opool, &c->outq);
      c->obs_mark = 0;
    }
  }
  return raw_write_now(c, p, n);
}
