/* Playing one case against one server process: every step in order, each
 * bounded in time, and the bytes each connection received. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nm_diff.h"

typedef struct {
  int fd;
  char *buf; /* NM_DIFF_MAX_OUT + 1 */
  size_t len;
  size_t dropped;
  size_t mark; /* recv searches from here */
  nm_peer_state_t state;
  int closed; /* the peer closed (state is final) */
} conn_t;

const char *nm__diff_state_name(int st) {
  switch (st) {
  case NM_PEER_OPEN:
    return "open";
  case NM_PEER_EOF:
    return "eof";
  case NM_PEER_RST:
    return "rst";
  default:
    return "?";
  }
}

/* One bounded read: waits up to ms for data; returns 1 if bytes came, 0 on
 * timeout, -1 when the peer closed (state set). */
static int read_some(conn_t *c, int ms) {
  struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
  char sink[4096];
  ssize_t r;
  int pr;

  if (c->closed || c->fd < 0)
    return -1;
  pr = poll(&pfd, 1, ms);
  if (pr <= 0)
    return 0;
  if (c->len < NM_DIFF_MAX_OUT)
    r = recv(c->fd, c->buf + c->len, NM_DIFF_MAX_OUT - c->len, 0);
  else
    r = recv(c->fd, sink, sizeof(sink), 0); /* over the limit: count only */
  if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
    c->state = r < 0 && errno == ECONNRESET ? NM_PEER_RST : NM_PEER_EOF;
    c->closed = 1;
    return -1;
  }
  if (r < 0)
    return 1;
  if (c->len < NM_DIFF_MAX_OUT)
    c->len += (size_t)r;
  else
    c->dropped += (size_t)r;
  c->buf[c->len] = '\0';
  return 1;
}

static const char *find(const conn_t *c, const char *needle, size_t n) {
  if (c->len < c->mark + n)
    return NULL;
  return memmem(c->buf + c->mark, c->len - c->mark, needle, n);
}

/* Reads until needle appears after the mark, the peer closes or ms pass.
 * On a match the mark moves past it. */
static void recv_until(conn_t *c, const char *needle, size_t n, int ms) {
  long long deadline = nm_test_now_ms() + ms;
  const char *hit;
  while (!(hit = find(c, needle, n))) {
    long long left = deadline - nm_test_now_ms();
    if (left <= 0 || read_some(c, (int)left) < 0)
      return;
  }
  c->mark = (size_t)(hit - c->buf) + n;
}

static void read_to_end(conn_t *c, int ms) {
  long long deadline = nm_test_now_ms() + ms;
  for (;;) {
    long long left = deadline - nm_test_now_ms();
    if (left <= 0 || read_some(c, (int)left) < 0)
      return;
  }
}

static void send_bytes(conn_t *c, const char *p, size_t n, int split) {
  /* A server that closes mid-send makes this fail (EPIPE, ECONNRESET); what
   * it sent before closing is still read afterwards, so the error itself is
   * not part of the result. Each wait for room is bounded. With `split`, a
   * send up to NM_DIFF_SPLIT_MAX bytes goes one byte per send() (with
   * TCP_NODELAY, so the server sees many small reads). */
  size_t chunk = split && n <= NM_DIFF_SPLIT_MAX ? 1 : n;
  while (n > 0 && c->fd >= 0) {
    struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
    ssize_t w;
    if (poll(&pfd, 1, NM_DIFF_RECV_MS) <= 0)
      return;
    if (pfd.revents & (POLLERR | POLLHUP))
      return;
    w = send(c->fd, p, n < chunk ? n : chunk, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN)
        continue;
      return;
    }
    p += w;
    n -= (size_t)w;
  }
}

static int play(const nm_diff_case_t *cs, int port, conn_t *conns,
                nm_diff_result_t *res, int split) {
  for (int i = 0; i < cs->nsteps; i++) {
    const nm_diff_step_t *st = &cs->steps[i];
    conn_t *c = &conns[st->conn];
    switch (st->op) {
    case NM_DIFF_CONNECT:
      c->fd = nm_test_connect(port);
      if (c->fd < 0) {
        snprintf(res->error, sizeof(res->error), "line %d: connect failed",
                 st->line);
        c->closed = 1;
        c->state = NM_PEER_EOF;
      }
      res->connected[st->conn] = c->fd >= 0;
      break;
    case NM_DIFF_SEND:
      send_bytes(c, st->text, st->len, split);
      break;
    case NM_DIFF_RECV:
      recv_until(c, st->text, st->len, st->ms);
      break;
    case NM_DIFF_SYNC:
      send_bytes(c, "PING\r\n", 6, split);
      recv_until(c, "PONG\r\n", 6, st->ms);
      break;
    case NM_DIFF_END:
      read_to_end(c, st->ms);
      break;
    case NM_DIFF_CLOSE:
      if (c->fd >= 0)
        shutdown(c->fd, SHUT_WR);
      break;
    case NM_DIFF_MARK:
      /* Kept even after the peer closed: the record shows where the close
       * fell between the marks. */
      if (c->len + sizeof(NM_DIFF_MARK_TEXT) - 1 <= NM_DIFF_MAX_OUT) {
        memcpy(c->buf + c->len, NM_DIFF_MARK_TEXT,
               sizeof(NM_DIFF_MARK_TEXT) - 1);
        c->len += sizeof(NM_DIFF_MARK_TEXT) - 1;
        c->buf[c->len] = '\0';
        c->mark = c->len;
      }
      break;
    case NM_DIFF_PAUSE:
      /* Only used to make the server see two separate reads: there is no
       * event that says a byte was read by the peer. */
      usleep((useconds_t)st->ms * 1000);
      break;
    }
  }
  /* Every connection still open gets a final bounded read. */
  for (int i = 0; i < NM_DIFF_MAX_CONNS; i++)
    if (cs->used[i] && !conns[i].closed)
      read_to_end(&conns[i], NM_DIFF_END_MS);
  return 0;
}

int nm_diff_run(const nm_diff_case_t *cs, const char *binary, int split,
                nm_diff_result_t *res) {
  nm_natsserver_t srv;
  conn_t conns[NM_DIFF_MAX_CONNS];
  const char *args[NM_DIFF_MAX_ARGS + 1];
  long long t0 = nm_test_now_ms();
  int rc = 0;

  memset(res, 0, sizeof(*res));
  memset(conns, 0, sizeof(conns));
  for (int i = 0; i < cs->nargs; i++)
    args[i] = cs->args[i];
  args[cs->nargs] = NULL;
  for (int i = 0; i < NM_DIFF_MAX_CONNS; i++) {
    conns[i].fd = -1;
    conns[i].buf = malloc(NM_DIFF_MAX_OUT + 1);
    if (!conns[i].buf)
      rc = -1;
  }
  if (rc == 0 && nm_server_proc_start(&srv, binary, cs->config, args) != 0) {
    snprintf(res->error, sizeof(res->error), "%s did not start", binary);
    rc = -1;
  }
  if (rc == 0) {
    play(cs, srv.port, conns, res, split);
    for (int i = 0; i < NM_DIFF_MAX_CONNS; i++) {
      if (!cs->used[i])
        continue;
      if (nm__diff_mask(conns[i].buf, conns[i].len, &res->out[i],
                        &res->len[i]) != 0)
        rc = -1;
      res->dropped[i] = conns[i].dropped;
      res->state[i] = conns[i].closed ? conns[i].state : NM_PEER_OPEN;
    }
    for (int i = 0; i < NM_DIFF_MAX_CONNS; i++)
      if (conns[i].fd >= 0)
        close(conns[i].fd);
    nm_natsserver_stop(&srv);
  }
  for (int i = 0; i < NM_DIFF_MAX_CONNS; i++)
    free(conns[i].buf);
  res->ms = nm_test_now_ms() - t0;
  return rc;
}

void nm_diff_result_free(nm_diff_result_t *res) {
  for (int i = 0; i < NM_DIFF_MAX_CONNS; i++)
    free(res->out[i]);
  memset(res, 0, sizeof(*res));
}
