/* Driver child processes: spawn, line framing of stdout, bounded stderr,
 * command writes. One uv loop; no threads. */
#include "nm_driver.h"
#include "nm_spawn.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Bytes read from a driver pipe at a time. */
#define NM_DRV_READ_CHUNK (64 * 1024)
/* Reads one nm__drv_drain may do: it runs on the server's read path, so it
 * takes what is already in the pipe and no more than this. */
#define NM_DRV_DRAIN_MAX_READS 16

typedef struct {
  uv_write_t req;
  size_t len;
  char data[];
} wreq_t;

static void on_close(uv_handle_t *h) {
  nm_drv_t *d = h->data;
  d->open_handles--;
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  buf->base = malloc(NM_DRV_READ_CHUNK);
  buf->len = buf->base ? NM_DRV_READ_CHUNK : 0;
}

static void feed_stdout(nm_drv_t *d, const char *p, size_t n) {
  while (n > 0) {
    const char *nl = memchr(p, '\n', n);
    size_t take = nl ? (size_t)(nl - p) : n;
    if (!d->line_overflow && nm_buf_append(&d->line, p, take) != 0)
      d->line_overflow = 1;
    if (!nl)
      return;
    if (d->line_overflow) {
      /* Report the cut line as what it is: not a protocol line. */
      d->on_line(d, NULL, 0);
    } else {
      size_t len = d->line.len;
      if (len > 0 && d->line.base[len - 1] == '\r')
        len--;
      if (len > 0)
        d->on_line(d, d->line.base, len);
    }
    nm_buf_clear(&d->line);
    d->line_overflow = 0;
    p = nl + 1;
    n -= take + 1;
  }
}

static void on_read_out(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  nm_drv_t *d = s->data;
  if (nread > 0)
    feed_stdout(d, buf->base, (size_t)nread);
  else if (nread < 0) {
    uv_read_stop(s);
    d->eof = 1;
  }
  free(buf->base);
}

void nm__drv_drain(nm_drv_t *d) {
  /* Per thread: natsmock-harness -j N runs scenarios on N threads, each
   * draining its own drivers. feed_stdout copies what it keeps, and nothing
   * it calls drains again, so one buffer per thread is enough. */
  static _Thread_local char chunk[NM_DRV_READ_CHUNK];
  uv_os_fd_t fd;
  if (!d->spawned || d->eof || uv_is_closing((uv_handle_t *)&d->out) ||
      uv_fileno((uv_handle_t *)&d->out, &fd) != 0)
    return;
  /* libuv keeps the pipe non-blocking and holds no bytes of its own, so a
   * read here only takes what its next read would have taken; at the end of
   * the pipe it stops and leaves EOF to libuv. */
  for (int i = 0; i < NM_DRV_DRAIN_MAX_READS; i++) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
    feed_stdout(d, chunk, (size_t)n);
  }
}

static void on_read_err(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  nm_drv_t *d = s->data;
  if (nread > 0) {
    size_t room = NM_DRV_MAX_STDERR - d->errlog.len;
    size_t take = (size_t)nread < room ? (size_t)nread : room;
    if (take)
      nm_buf_append(&d->errlog, buf->base, take);
    d->err_dropped += (size_t)nread - take;
  } else if (nread < 0) {
    uv_read_stop(s);
  }
  free(buf->base);
}

static void on_proc_exit(uv_process_t *p, int64_t status, int sig) {
  nm_drv_t *d = p->data;
  d->exited = 1;
  d->exit_status = status;
  d->term_signal = sig;
  if (d->on_exit)
    d->on_exit(d);
}

int nm__drv_start(nm_drv_t *d, uv_loop_t *loop, const char *cmd, int client,
                  nm_drv_line_cb on_line, nm_drv_exit_cb on_exit_cb,
                  void *data) {
  uv_stdio_container_t stdio[3];
  char *script = NULL;
  size_t len = strlen(cmd) + 8;
  int r;

  memset(d, 0, sizeof(*d));
  d->client = client;
  d->data = data;
  d->on_line = on_line;
  d->on_exit = on_exit_cb;
  nm_buf_init(&d->line, NM_DRV_MAX_LINE);
  nm_buf_init(&d->errlog, NM_DRV_MAX_STDERR + 1);
  uv_pipe_init(loop, &d->in, 0);
  uv_pipe_init(loop, &d->out, 0);
  uv_pipe_init(loop, &d->err, 0);
  d->in.data = d->out.data = d->err.data = d->proc.data = d;
  d->open_handles = 3;

  script = malloc(len);
  if (!script)
    return UV_ENOMEM;
  /* exec: the shell is replaced by the driver, so signals reach it. */
  snprintf(script, len, "exec %s", cmd);
  stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
  stdio[0].data.stream = (uv_stream_t *)&d->in;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *)&d->out;
  stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[2].data.stream = (uv_stream_t *)&d->err;
  r = nm__spawn_sh(loop, &d->proc, script, on_proc_exit, stdio);
  free(script);
  if (r < 0)
    return r;
  d->spawned = 1;
  d->open_handles++;
  uv_read_start((uv_stream_t *)&d->out, alloc_cb, on_read_out);
  uv_read_start((uv_stream_t *)&d->err, alloc_cb, on_read_err);
  return 0;
}

static void on_write(uv_write_t *req, int status) {
  free(req->data);
}

int nm__drv_send(nm_drv_t *d, const cJSON *cmd) {
  char *text;
  size_t n;
  wreq_t *w;
  uv_buf_t b;
  int r;

  if (d->stdin_closed || d->exited)
    return UV_EPIPE;
  text = cJSON_PrintUnformatted(cmd);
  if (!text)
    return UV_ENOMEM;
  n = strlen(text);
  w = malloc(sizeof(*w) + n + 1);
  if (!w) {
    cJSON_free(text);
    return UV_ENOMEM;
  }
  memcpy(w->data, text, n);
  w->data[n] = '\n';
  w->len = n + 1;
  cJSON_free(text);
  w->req.data = w;
  b = uv_buf_init(w->data, (unsigned)w->len);
  r = uv_write(&w->req, (uv_stream_t *)&d->in, &b, 1, on_write);
  if (r < 0)
    free(w);
  return r;
}

void nm__drv_close_stdin(nm_drv_t *d) {
  if (d->stdin_closed)
    return;
  d->stdin_closed = 1;
  uv_close((uv_handle_t *)&d->in, on_close);
}

void nm__drv_kill(nm_drv_t *d, int sig) {
  if (d->spawned && !d->exited)
    uv_process_kill(&d->proc, sig);
}

void nm__drv_close(nm_drv_t *d) {
  nm__drv_close_stdin(d);
  if (!uv_is_closing((uv_handle_t *)&d->out))
    uv_close((uv_handle_t *)&d->out, on_close);
  if (!uv_is_closing((uv_handle_t *)&d->err))
    uv_close((uv_handle_t *)&d->err, on_close);
  if (d->spawned && !uv_is_closing((uv_handle_t *)&d->proc))
    uv_close((uv_handle_t *)&d->proc, on_close);
}

const char *nm__drv_stderr(nm_drv_t *d) {
  if (d->errlog.len == 0 || d->errlog.base[d->errlog.len - 1] != '\0')
    nm_buf_append(&d->errlog, "", 1);
  return d->errlog.base ? d->errlog.base : "";
}

void nm__drv_free(nm_drv_t *d) {
  nm_buf_free(&d->line);
  nm_buf_free(&d->errlog);
}
