/* A proxied connection: the client's socket, the upstream socket, and the
 * frame path between them. Reads are parsed; each frame's exact bytes are
 * recovered (nm_parser_frame_end plus the tail kept from earlier reads),
 * offered to the fault stage, and, untouched, queued for the other socket.
 * Queued bytes are written once per read callback. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "nm_encode.h"
#include "nm_proxy_int.h"

typedef struct {
  uv_write_t req;
  nm__pleg_t *leg;
  size_t n;
  char data[];
} pwrite_t;

static void free_pc(nm__pconn_t *pc) {
  nm_proxy_t *px = pc->px;
  nm_parser_free(&pc->cl.parser);
  nm_parser_free(&pc->up.parser);
  nm_buf_free(&pc->cl.carry);
  nm_buf_free(&pc->up.carry);
  nm_buf_free(&pc->cl.out);
  nm_buf_free(&pc->up.out);
  nm_buf_free(&pc->after_pong);
  free(pc->info);
  free(pc->name);
  free(pc);
  nm__proxy_handle_closed(px);
}

static void on_leg_closed(uv_handle_t *h) {
  nm__pleg_t *leg = h->data;
  nm__pconn_t *pc = leg->pc;
  if (--pc->handles == 0)
    free_pc(pc);
}

static void leg_close(nm__pleg_t *leg, int reset) {
  if (!leg->inited || uv_is_closing((uv_handle_t *)&leg->tcp))
    return;
  if (!reset || uv_tcp_close_reset(&leg->tcp, on_leg_closed) != 0)
    uv_close((uv_handle_t *)&leg->tcp, on_leg_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  nm__pleg_t *leg = req->data;
  free(req);
  leg_close(leg, 0);
}

static void on_half_shutdown(uv_shutdown_t *req, int status) {
  free(req);
}

/* Passes a client's half-close on: FIN to the server once what is queued
 * is written; the socket stays open for the server's answers. */
static void leg_shutdown_write(nm__pleg_t *leg) {
  uv_shutdown_t *req = malloc(sizeof(*req));
  if (req == NULL)
    return;
  if (uv_shutdown(req, (uv_stream_t *)&leg->tcp, on_half_shutdown) != 0)
    free(req);
}

/* Writes what is queued, then FIN. */
static void leg_shutdown(nm__pleg_t *leg) {
  uv_shutdown_t *req = malloc(sizeof(*req));
  if (req == NULL) {
    leg_close(leg, 0);
    return;
  }
  req->data = leg;
  if (uv_shutdown(req, (uv_stream_t *)&leg->tcp, on_shutdown) != 0) {
    free(req);
    leg_close(leg, 0);
  }
}

static size_t pending(const nm__pleg_t *leg) {
  return leg->out.len + leg->inflight;
}

static void set_reading(nm__pleg_t *leg, int want);

void nm__pconn_update_reading(nm__pconn_t *pc) {
  int up_busy = pending(&pc->up) > NM_PROXY_PENDING_MAX;
  int cl_busy = pending(&pc->cl) > NM_PROXY_PENDING_MAX;
  set_reading(&pc->cl, !pc->closing && !pc->cl_eof && !pc->stalled &&
                           !pc->blackhole && !pc->up_failed && !up_busy);
  set_reading(&pc->up, !pc->closing && pc->up_connected && !cl_busy);
}

/* A write to the server failed: the server closed its end, or reset it
 * (nats-server does when it closes with the client's bytes unread, after an
 * -ERR). What it sent before is still in the socket and the client must get
 * it, then the same end: so the client is not read any more, nothing more
 * goes to the server, and reading the server goes on until its EOF or error
 * (on_read). The first write after a reset returns ECONNRESET and takes the
 * socket's pending error with it, so that read ends in EOF: up_reset keeps
 * what the write learnt. */
static void up_write_failed(nm__pconn_t *pc, int status) {
  if (status == UV_ECONNRESET)
    pc->up_reset = 1;
  if (pc->up_failed)
    return;
  pc->up_failed = 1;
  nm_buf_clear(&pc->up.out);
  nm__pconn_update_reading(pc);
}

/* Whether a server end that libuv reported as EOF was a reset. After a read
 * shorter than its buffer, with epoll saying HUP as well, libuv reports EOF
 * without reading again, so the ECONNRESET a reset left on the socket is
 * never returned: SO_ERROR still holds it (and clears it). A FIN leaves 0;
 * a reset after a FIN leaves EPIPE, and a client reading the server
 * directly gets EOF (the FIN) first then, so only ECONNRESET counts. */
static int eof_was_reset(nm__pleg_t *leg) {
  uv_os_fd_t fd;
  int err = 0;
  socklen_t len = sizeof(err);
  if (uv_fileno((uv_handle_t *)&leg->tcp, &fd) != 0 ||
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
    return 0;
  return err == ECONNRESET;
}

static void on_write(uv_write_t *req, int status) {
  pwrite_t *w = (pwrite_t *)req;
  nm__pleg_t *leg = w->leg;
  nm__pconn_t *pc = leg->pc;

  leg->inflight -= w->n;
  leg->nwrites--;
  free(w);
  if (pc->closing) {
    if (leg->nwrites == 0 && leg->close_after)
      leg_close(leg, leg->close_after == 2);
    return;
  }
  if (status < 0 && leg->side == NM_PSIDE_UPSTREAM) {
    up_write_failed(pc, status);
    return;
  }
  if (status < 0) {
    nm__pconn_close(pc, NM_CLOSE_FIN, "client write error");
    return;
  }
  nm__pconn_update_reading(pc);
}

/* Hands a leg's queued bytes to its socket: what the kernel takes at once,
 * the rest in one uv_write. */
static void leg_flush(nm__pleg_t *leg) {
  nm__pconn_t *pc = leg->pc;
  size_t done = 0, rest;
  pwrite_t *w;
  uv_buf_t b;

  if (leg->out.len == 0 || !leg->inited ||
      uv_is_closing((uv_handle_t *)&leg->tcp))
    return;
  if (leg->side == NM_PSIDE_UPSTREAM && !pc->up_connected)
    return; /* written once connected */
  if (leg->nwrites == 0) {
    int r;
    b = uv_buf_init(leg->out.base, (unsigned int)leg->out.len);
    r = uv_try_write((uv_stream_t *)&leg->tcp, &b, 1);
    if (r > 0)
      done = (size_t)r;
    if (r < 0 && r != UV_EAGAIN && leg->side == NM_PSIDE_UPSTREAM) {
      up_write_failed(pc, r); /* its error is not seen again: keep it */
      return;
    }
  }
  rest = leg->out.len - done;
  if (rest > 0) {
    w = malloc(sizeof(*w) + rest);
    if (w == NULL) {
      nm__pconn_close(pc, NM_CLOSE_FIN, "out of memory");
      return;
    }
    memcpy(w->data, leg->out.base + done, rest);
    w->leg = leg;
    w->n = rest;
    b = uv_buf_init(w->data, (unsigned int)rest);
    if (uv_write(&w->req, (uv_stream_t *)&leg->tcp, &b, 1, on_write) != 0) {
      free(w);
      nm_buf_clear(&leg->out);
      nm__pconn_close(pc, NM_CLOSE_FIN, "write error");
      return;
    }
    leg->inflight += rest;
    leg->nwrites++;
  }
  nm_buf_clear(&leg->out);
  nm_buf_shrink(&leg->out, NM_PROXY_READ_BUF);
}

void nm__proxy_flush_dirty(nm_proxy_t *px) {
  nm__pconn_t *pc;
  while ((pc = px->dirty) != NULL) {
    px->dirty = pc->dirty_next;
    pc->dirty_next = NULL;
    pc->dirty = 0;
    if (pc->closing)
      continue;
    leg_flush(&pc->cl);
    leg_flush(&pc->up);
    if (!pc->closing)
      nm__pconn_update_reading(pc);
  }
}

int nm__pleg_queue(nm__pleg_t *leg, const char *p, size_t n, int now) {
  nm__pconn_t *pc = leg->pc;
  nm_proxy_t *px = pc->px;

  if (pc->closing || (leg->side == NM_PSIDE_UPSTREAM && pc->up_failed))
    return NM_ECLOSED;
  if (leg->side == NM_PSIDE_CLIENT && pc->blackhole)
    return 0; /* discarded, as a black hole does */
  if (nm_buf_append(&leg->out, p, n) < 0) {
    nm__pconn_close(pc, NM_CLOSE_FIN, "output over the proxy's limit");
    return NM_ETOOBIG;
  }
  if (now) {
    leg_flush(leg);
    return 0;
  }
  if (!pc->dirty) {
    pc->dirty = 1;
    pc->dirty_next = px->dirty;
    px->dirty = pc;
  }
  if (px->in_read == 0)
    nm__proxy_flush_dirty(px);
  return 0;
}

static void unlink_dirty(nm__pconn_t *pc) {
  nm__pconn_t **pp;
  if (!pc->dirty)
    return;
  for (pp = &pc->px->dirty; *pp != NULL; pp = &(*pp)->dirty_next) {
    if (*pp == pc) {
      *pp = pc->dirty_next;
      break;
    }
  }
  pc->dirty = 0;
}

void nm__pconn_close(nm__pconn_t *pc, nm_close_how_t how, const char *reason) {
  nm_proxy_t *px = pc->px;

  if (pc->closing)
    return;
  pc->closing = 1;
  pc->close_reason = reason;
  if (pc->prev)
    pc->prev->next = pc->next;
  else
    px->head = pc->next;
  if (pc->next)
    pc->next->prev = pc->prev;
  else
    px->tail = pc->prev;
  px->nconns--;
  set_reading(&pc->cl, 0);
  set_reading(&pc->up, 0);
  nm_faults_conn_close(px->faults, (nm_hconn_t *)pc);
  nm__proxy_observe(px, NM_OBS_CLOSE, NM_OBS_LEG_CLIENT, pc->id, NULL,
                    (nm_slice_t){NULL, 0}, NULL, NULL, reason);
  /* What the client sent before it went goes to the server first. */
  if (pc->up_connected) {
    leg_flush(&pc->up);
    leg_shutdown(&pc->up);
  } else {
    leg_close(&pc->up, 0); /* cancels the connect */
  }
  unlink_dirty(pc);
  if (how == NM_CLOSE_FLUSH && pc->reset_client) {
    /* What the server wrote before its reset, then the reset. */
    leg_flush(&pc->cl);
    if (pc->cl.nwrites == 0)
      leg_close(&pc->cl, 1);
    else
      pc->cl.close_after = 2;
  } else if (how == NM_CLOSE_FLUSH && !pc->blackhole) {
    leg_flush(&pc->cl);
    leg_shutdown(&pc->cl);
  } else {
    leg_close(&pc->cl, how == NM_CLOSE_RST);
  }
}

nm__pconn_t *nm__pconn_find(nm_proxy_t *px, uint64_t id) {
  nm__pconn_t *pc;
  for (pc = px->head; pc != NULL; pc = pc->next)
    if (pc->id == id)
      return pc;
  return NULL;
}

/* ---- the frame path ---- */

static void note_connect(nm__pconn_t *pc, const nm_frame_t *f) {
  cJSON *j = cJSON_ParseWithLength(f->json.p, f->json.n);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "verbose");
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
  pc->verbose = cJSON_IsTrue(v);
  pc->no_echo = cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "echo"));
  free(pc->name);
  pc->name = cJSON_IsString(name) ? strdup(name->valuestring) : NULL;
  cJSON_Delete(j);
}

void nm__pconn_pass_in(nm__pconn_t *pc, const nm_frame_t *f, nm_slice_t bytes,
                       size_t sent) {
  nm_proxy_t *px = pc->px;

  if (pc->closing)
    return;
  if (f->op == NM_OP_CONNECT)
    note_connect(pc, f);
  if ((f->op == NM_OP_PUB || f->op == NM_OP_HPUB) &&
      nm_faults_is_control(f->subject) && nm_faults_control_on(px->faults)) {
    nm__pconn_t *saved = px->cur;
    if (pc->verbose) {
      /* The server would have said +OK for the publish. */
      nm_frame_t ok;
      memset(&ok, 0, sizeof(ok));
      ok.op = NM_OP_OK;
      if (nm__pleg_queue(&pc->cl, "+OK\r\n", 5, 0) == 0)
        nm__proxy_observe(px, NM_OBS_OUT, NM_OBS_LEG_CLIENT, pc->id, &ok,
                          nm_slice_str("+OK\r\n"), NULL, NULL, NULL);
    }
    px->cur = pc;
    nm_faults_control(px->faults, (nm_hconn_t *)pc, f->subject, f->reply,
                      f->payload);
    px->cur = saved;
    return;
  }
  if (nm__pleg_queue(&pc->up, bytes.p + sent, bytes.n - sent, 0) == 0) {
    pc->frames_up++; /* counted for echo-off publishes (proxy_own.c) */
    pc->pings_up += f->op == NM_OP_PING;
    nm__proxy_observe(px, NM_OBS_OUT, NM_OBS_LEG_UPSTREAM, pc->id, f, bytes,
                      NULL, NULL, NULL);
  }
}

/* sent: bytes of the frame forwarded before it was complete; such a frame
 * is past the rules' reach (a rule installed meanwhile does not see it). */
static void client_frame(nm__pconn_t *pc, const nm_frame_t *f, nm_slice_t bytes,
                         size_t sent) {
  nm_proxy_t *px = pc->px;
  nm__pconn_t *saved = px->cur;

  nm__proxy_observe(px, NM_OBS_IN, NM_OBS_LEG_CLIENT, pc->id, f, bytes, NULL,
                    NULL, NULL);
  px->cur = pc;
  if (sent > 0 || !nm_faults_active(px->faults) ||
      nm_faults_frame(px->faults, (nm_hconn_t *)pc, NM_DIR_IN, f, bytes) ==
          NM_FAULT_PASS)
    nm__pconn_pass_in(pc, f, bytes, sent);
  px->cur = saved;
}

/* The client's frames are parsed with the limit the server announced, so a
 * PUB over it stops the parser at its control line, and the line goes on
 * raw: the server answers it at once, as it would without the proxy. */
static void limit_payload(nm__pconn_t *pc, nm_slice_t json) {
  cJSON *j = cJSON_ParseWithLength(json.p, json.n);
  const cJSON *mp = cJSON_GetObjectItemCaseSensitive(j, "max_payload");
  if (cJSON_IsNumber(mp) && mp->valuedouble > 0 &&
      mp->valuedouble <= (double)NM_PARSER_HARD_MAX_PAYLOAD)
    nm_parser_set_limits(&pc->cl.parser, NM_PARSER_SCRATCH_MAX,
                         (int64_t)mp->valuedouble);
  cJSON_Delete(j);
}

static void upstream_frame(nm__pconn_t *pc, const nm_frame_t *f,
                           nm_slice_t bytes) {
  nm_proxy_t *px = pc->px;
  nm__pconn_t *saved = px->cur;
  nm_buf_t info;
  nm_frame_t fi;
  int changed = 0;

  nm__proxy_observe(px, NM_OBS_IN, NM_OBS_LEG_UPSTREAM, pc->id, f, bytes, NULL,
                    NULL, NULL);
  if (f->op == NM_OP_OK && pc->swallow_ok > 0) {
    pc->swallow_ok--; /* answers a publish the proxy injected */
    return;
  }
  if (f->op == NM_OP_PONG && nm__proxy_own_pong(pc))
    return; /* answers a PING of the proxy's (echo-off publishes) */
  nm_buf_init(&info, NM_PROXY_INFO_MAX * 2);
  if (f->op == NM_OP_INFO) {
    if (nm__proxy_info(px, f->json, &info, &changed) == 0 && changed) {
      /* "INFO " json " \r\n": the frame now describes the new text. */
      fi = *f;
      fi.line = (nm_slice_t){info.base, info.len - 2};
      fi.json = (nm_slice_t){info.base + 5, info.len - 5 - 2};
      f = &fi;
      bytes = (nm_slice_t){info.base, info.len};
    }
    free(pc->info);
    pc->info = strndup(f->json.p, f->json.n);
    limit_payload(pc, f->json);
  }
  if (pc->blackhole) {
    nm_buf_free(&info);
    return;
  }
  px->cur = pc;
  if (!nm_faults_active(px->faults) ||
      nm_faults_frame(px->faults, (nm_hconn_t *)pc, NM_DIR_OUT, f, bytes) ==
          NM_FAULT_PASS) {
    if (nm__pleg_queue(&pc->cl, bytes.p, bytes.n, 0) == 0)
      nm__proxy_observe(px, NM_OBS_OUT, NM_OBS_LEG_CLIENT, pc->id, f, bytes,
                        NULL, NULL, NULL);
  }
  px->cur = saved;
  nm_buf_free(&info);
}

static int on_frame(nm_parser_t *p, const nm_frame_t *f) {
  nm__pleg_t *leg = p->data;
  nm__pconn_t *pc = leg->pc;
  size_t end = nm_parser_frame_end(p);
  nm_slice_t bytes;
  size_t sent = leg->carry_sent;

  if (pc->closing)
    return 1;
  leg->carry_sent = 0;
  if (leg->carry.len > 0) {
    if (nm_buf_append(&leg->carry, leg->feed + leg->cur, end - leg->cur) < 0) {
      nm__pconn_close(pc, NM_CLOSE_FIN, "frame over the proxy's limit");
      return 1;
    }
    bytes = (nm_slice_t){leg->carry.base, leg->carry.len};
  } else {
    bytes = (nm_slice_t){leg->feed + leg->cur, end - leg->cur};
  }
  leg->cur = end;
  if (leg->side == NM_PSIDE_CLIENT)
    client_frame(pc, f, bytes, sent);
  else
    upstream_frame(pc, f, bytes);
  nm_buf_clear(&leg->carry);
  return pc->closing ? 1 : 0;
}

/* Bytes the parser could not frame go on unparsed (the server, or the
 * client, answers them as it would without the proxy). */
static void forward_raw(nm__pleg_t *leg, const char *p, size_t n) {
  nm__pconn_t *pc = leg->pc;
  nm__pleg_t *to = leg->side == NM_PSIDE_CLIENT ? &pc->up : &pc->cl;
  if (n == 0)
    return;
  if (nm__pleg_queue(to, p, n, 0) == 0)
    nm__proxy_observe(pc->px, NM_OBS_OUT,
                      to->side == NM_PSIDE_CLIENT ? NM_OBS_LEG_CLIENT
                                                  : NM_OBS_LEG_UPSTREAM,
                      pc->id, NULL, (nm_slice_t){p, n}, NULL, NULL, NULL);
}

/* Whether the start of a client frame p[0..n) may still turn out to be a
 * PUB or HPUB to $MOCK.* (the op and subject read so far allow it). */
static int may_be_control_pub(const char *p, size_t n) {
  static const char kMock[] = "$MOCK.";
  size_t i = 0, op, s;

  while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
    i++;
  op = i;
  while (i < n && isalpha((unsigned char)p[i]))
    i++;
  if (i == n) /* the op so far may become PUB or HPUB */
    return (i - op <= 3 && strncasecmp(p + op, "PUB", i - op) == 0) ||
           (i - op <= 4 && strncasecmp(p + op, "HPUB", i - op) == 0);
  if (!((i - op == 3 && strncasecmp(p + op, "PUB", 3) == 0) ||
        (i - op == 4 && strncasecmp(p + op, "HPUB", 4) == 0)))
    return 0;
  while (i < n && (p[i] == ' ' || p[i] == '\t'))
    i++;
  s = n - i < sizeof(kMock) - 1 ? n - i : sizeof(kMock) - 1;
  return memcmp(p + i, kMock, s) == 0;
}

static void feed(nm__pleg_t *leg, const char *p, size_t n) {
  nm__pconn_t *pc = leg->pc;
  ssize_t r;

  if (leg->raw) {
    forward_raw(leg, p, n);
    return;
  }
  leg->feed = p;
  leg->cur = 0;
  r = nm_parser_feed(&leg->parser, p, n);
  leg->feed = NULL;
  if (pc->closing)
    return;
  if (r < 0) {
    char detail[200];
    snprintf(detail, sizeof(detail), "%s: not parsed, forwarded as is: %s",
             leg->side == NM_PSIDE_CLIENT ? "client" : "upstream",
             nm_parser_errmsg(&leg->parser));
    nm__proxy_observe(pc->px, NM_OBS_ACTION, NM_OBS_LEG_CLIENT, pc->id, NULL,
                      (nm_slice_t){NULL, 0}, NULL, "raw", detail);
    leg->raw = 1;
    forward_raw(leg, leg->carry.base + leg->carry_sent,
                leg->carry.len - leg->carry_sent);
    nm_buf_clear(&leg->carry);
    leg->carry_sent = 0;
    forward_raw(leg, p + leg->cur, n - leg->cur);
    return;
  }
  if (nm_buf_append(&leg->carry, p + leg->cur, n - leg->cur) < 0) {
    nm__pconn_close(pc, NM_CLOSE_FIN, "frame over the proxy's limit");
    return;
  }
  /* The server should see the client's bytes as they were read (where a
   * read ends changes some of nats-server's answers): while no rule could
   * take the frame, its start goes on now, unless it may be a publish to
   * $MOCK.* (never forwarded). It is still kept for the observer. */
  if (leg->side == NM_PSIDE_CLIENT && leg->carry.len > leg->carry_sent &&
      !nm_faults_active(pc->px->faults) &&
      !may_be_control_pub(leg->carry.base, leg->carry.len)) {
    forward_raw(leg, leg->carry.base + leg->carry_sent,
                leg->carry.len - leg->carry_sent);
    leg->carry_sent = leg->carry.len;
  }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  nm__pleg_t *leg = h->data;
  buf->base = leg->pc->px->rbuf;
  buf->len = sizeof(leg->pc->px->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  nm__pleg_t *leg = s->data;
  nm__pconn_t *pc = leg->pc;
  nm_proxy_t *px = pc->px;

  if (nread == 0 || pc->closing)
    return;
  if (nread < 0) {
    if (leg->side == NM_PSIDE_CLIENT && nread == UV_EOF && pc->up_connected) {
      /* A half-close: the server gets it too and may still answer. */
      pc->cl_eof = 1;
      nm__pconn_update_reading(pc);
      leg_flush(&pc->up);
      leg_shutdown_write(&pc->up);
      return;
    }
    if (leg->side == NM_PSIDE_CLIENT) {
      nm__pconn_close(pc, NM_CLOSE_FIN,
                      nread == UV_EOF ? "client closed" : "client read error");
    } else {
      /* The client sees what the server did: FIN, or RST. */
      pc->reset_client = nread == UV_ECONNRESET || pc->up_reset ||
                         (nread == UV_EOF && eof_was_reset(leg));
      nm__pconn_close(pc, NM_CLOSE_FLUSH,
                      pc->reset_client  ? "upstream reset"
                      : nread == UV_EOF ? "upstream closed"
                                        : "upstream read error");
    }
    return;
  }
  px->in_read++;
  feed(leg, buf->base, (size_t)nread);
  px->in_read--;
  if (px->in_read == 0)
    nm__proxy_flush_dirty(px);
}

static void set_reading(nm__pleg_t *leg, int want) {
  if (!leg->inited || uv_is_closing((uv_handle_t *)&leg->tcp))
    return;
  if (want && !leg->reading) {
    if (uv_read_start((uv_stream_t *)&leg->tcp, on_alloc, on_read) == 0)
      leg->reading = 1;
  } else if (!want && leg->reading) {
    uv_read_stop((uv_stream_t *)&leg->tcp);
    leg->reading = 0;
  }
}

static void on_up_connect(uv_connect_t *req, int status) {
  nm__pconn_t *pc = req->data;
  char detail[NM_PROXY_HOST_MAX + 128];

  if (pc->closing)
    return;
  if (status < 0) {
    snprintf(detail, sizeof(detail), "upstream %s:%d: %s", pc->px->up_host,
             pc->px->up_port, uv_strerror(status));
    nm__proxy_observe(pc->px, NM_OBS_ACTION, NM_OBS_LEG_UPSTREAM, pc->id, NULL,
                      (nm_slice_t){NULL, 0}, NULL, "connect", detail);
    nm__pconn_close(pc, NM_CLOSE_FIN, "upstream unreachable");
    return;
  }
  pc->up_connected = 1;
  uv_tcp_nodelay(&pc->up.tcp, 1);
  leg_flush(&pc->up);
  nm__pconn_update_reading(pc);
}

static int leg_init(nm__pconn_t *pc, nm__pleg_t *leg, int side) {
  nm_proxy_t *px = pc->px;
  int r;

  leg->pc = pc;
  leg->side = side;
  r = nm_parser_init(&leg->parser,
                     side == NM_PSIDE_CLIENT ? NM_PARSE_CLIENT_OPS
                                             : NM_PARSE_SERVER_OPS,
                     on_frame, leg);
  if (r < 0)
    return r;
  /* The server enforces its own limits: parse whatever it might accept
   * (a client's payloads: up to the max_payload its INFO announces, 1 MiB
   * until then). */
  nm_parser_set_limits(&leg->parser, NM_PARSER_SCRATCH_MAX,
                       side == NM_PSIDE_CLIENT ? NM_DEFAULT_MAX_PAYLOAD : -1);
  nm_parser_set_flags(&leg->parser, NM_PARSER_HEADERS);
  nm_buf_init(&leg->carry, NM_PROXY_CARRY_MAX);
  nm_buf_init(&leg->out, NM_PROXY_PENDING_MAX + NM_PROXY_CARRY_MAX);
  r = uv_tcp_init(px->loop, &leg->tcp);
  if (r < 0)
    return r;
  leg->tcp.data = leg;
  leg->inited = 1;
  pc->handles++;
  return 0;
}

static void on_refused_closed(uv_handle_t *h) {
  nm_proxy_t *px = h->data;
  free(h);
  nm__proxy_handle_closed(px);
}

void nm__pconn_accept(nm_proxy_t *px) {
  nm__pconn_t *pc;

  if (px->refuse_next > 0) {
    uv_tcp_t *t = malloc(sizeof(*t));
    if (t == NULL || uv_tcp_init(px->loop, t) != 0) {
      free(t);
      return;
    }
    t->data = px;
    px->handles++;
    px->refuse_next--;
    if (uv_accept((uv_stream_t *)&px->listener, (uv_stream_t *)t) == 0)
      (void)uv_tcp_close_reset(t, on_refused_closed);
    if (!uv_is_closing((uv_handle_t *)t))
      uv_close((uv_handle_t *)t, on_refused_closed);
    return;
  }
  pc = calloc(1, sizeof(*pc));
  if (pc == NULL)
    return;
  pc->px = px;
  px->handles++; /* the pair, until both legs closed */
  if (leg_init(pc, &pc->cl, NM_PSIDE_CLIENT) < 0 ||
      uv_accept((uv_stream_t *)&px->listener, (uv_stream_t *)&pc->cl.tcp) < 0 ||
      leg_init(pc, &pc->up, NM_PSIDE_UPSTREAM) < 0) {
    pc->closing = 1;
    leg_close(&pc->cl, 0);
    leg_close(&pc->up, 0);
    if (pc->handles == 0)
      free_pc(pc);
    return;
  }
  pc->id = ++px->next_id;
  pc->prev = px->tail;
  if (px->tail)
    px->tail->next = pc;
  else
    px->head = pc;
  px->tail = pc;
  px->nconns++;
  uv_tcp_nodelay(&pc->cl.tcp, 1);
  nm__proxy_observe(px, NM_OBS_OPEN, NM_OBS_LEG_CLIENT, pc->id, NULL,
                    (nm_slice_t){NULL, 0}, NULL, NULL, NULL);
  nm_faults_conn_open(px->faults, (nm_hconn_t *)pc);
  pc->creq.data = pc;
  if (uv_tcp_connect(&pc->creq, &pc->up.tcp,
                     (const struct sockaddr *)&px->up_addr,
                     on_up_connect) != 0) {
    nm__pconn_close(pc, NM_CLOSE_FIN, "upstream connect failed");
    return;
  }
  nm__pconn_update_reading(pc);
}
