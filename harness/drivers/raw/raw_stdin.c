/* natsmock-driver-raw: reading stdin on the loop, whatever it is: a pipe
 * (the harness), a terminal, or a regular file (`driver < commands.jsonl`),
 * which libuv cannot poll and so reads with uv_fs_read, one read at a time. */
#include <unistd.h>

#include "raw_driver.h"

static struct {
  uv_handle_type type;
  union {
    uv_pipe_t pipe;
    uv_tty_t tty;
  } h;
  uv_fs_t req;
  int reading; /* a file read is in flight */
  int paused;
  int64_t offset;
  void (*on_bytes)(const char *p, ssize_t n);
} in;

static char slab[64 * 1024];

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  *buf = uv_buf_init(slab, sizeof(slab));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  (void)st;
  if (nread != 0)
    in.on_bytes(buf->base, nread < 0 ? -1 : nread);
}

static void file_next(void);

static void on_file(uv_fs_t *req) {
  ssize_t n = req->result;
  uv_fs_req_cleanup(req);
  in.reading = 0;
  if (n <= 0) {
    in.on_bytes(slab, -1); /* end of file, or an error: end of input */
    return;
  }
  in.offset += n;
  in.on_bytes(slab, n);
  file_next();
}

static void file_next(void) {
  uv_buf_t b = uv_buf_init(slab, sizeof(slab));
  if (in.paused || in.reading)
    return;
  in.reading = 1;
  if (uv_fs_read(nm__raw.loop, &in.req, 0, &b, 1, in.offset, on_file) < 0) {
    in.reading = 0;
    in.on_bytes(slab, -1);
  }
}

int nm__raw_stdin_start(void (*on_bytes)(const char *p, ssize_t n)) {
  int r;
  in.on_bytes = on_bytes;
  in.type = uv_guess_handle(0);
  switch (in.type) {
  case UV_TTY:
    r = uv_tty_init(nm__raw.loop, &in.h.tty, 0, 1);
    break;
  case UV_NAMED_PIPE:
  case UV_TCP:
  case UV_UDP:
    r = uv_pipe_init(nm__raw.loop, &in.h.pipe, 0);
    if (r == 0)
      r = uv_pipe_open(&in.h.pipe, 0);
    break;
  default:
    /* A file, a character device, or what libuv cannot name (a directory,
     * a closed descriptor): epoll would refuse it and libuv abort, so it
     * is read as a file; a read error is the end of input. */
    in.type = UV_FILE;
    file_next();
    return 0;
  }
  if (r == 0)
    r = uv_read_start((uv_stream_t *)&in.h, alloc_cb, on_read);
  return r;
}

void nm__raw_stdin_pause(void) {
  in.paused = 1;
  if (in.type != UV_FILE)
    uv_read_stop((uv_stream_t *)&in.h);
}

void nm__raw_stdin_resume(void) {
  in.paused = 0;
  if (in.type == UV_FILE)
    file_next();
  else
    uv_read_start((uv_stream_t *)&in.h, alloc_cb, on_read);
}
