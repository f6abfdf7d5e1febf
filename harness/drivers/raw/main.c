/* natsmock-driver-raw: main. Writes hello, reads stdin lines on the libuv
 * loop and runs each as a command; exits on `exit` or end of input. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nm_drv_util.h"
#include "nm_version.h"
#include "raw_driver.h"

nm_raw_t nm__raw;

/* Commands that arrive while the first connect is in progress wait here
 * (libraries have no connection to act on yet either); close and exit do
 * not wait. Above this many bytes stdin is not read until the queue
 * drains. */
#define NM_RAW_MAX_DEFERRED_BYTES (16 * 1024 * 1024)

typedef struct deferred_s {
  struct deferred_s *next;
  size_t len;
  char text[];
} deferred_t;

static struct {
  deferred_t *head, *tail;
  size_t bytes;
  int paused; /* stdin reading stopped */
  uv_check_t check;
} dq;

static int connecting(void) {
  return nm__raw.connect_id >= 0;
}

/* close acts at once, even before a pending connect finishes. */
static int urgent(const char *text) {
  cJSON *c = cJSON_Parse(text);
  const char *op = nm_drv_str(c, "op");
  int u = op != NULL && strcmp(op, "close") == 0;
  cJSON_Delete(c);
  return u;
}

/* exit (or end of input) while commands still wait for a connect: they run
 * first, but a connect that hangs may hold the exit only this long. */
#define NM_RAW_EXIT_GRACE_MS 3000

static struct {
  int pending;
  int64_t id; /* the exit command's id, -1 at end of input */
  uv_timer_t timer;
} ex;

static void on_exit_grace(uv_timer_t *t) {
  (void)t;
  fprintf(stderr, "raw driver: exit while a connect was still pending\n");
  nm__raw_exit(ex.id);
}

/* Exits now, or once the deferred commands have run. */
static void request_exit(int64_t id) {
  if (dq.head == NULL && !connecting()) {
    nm__raw_exit(id);
    return;
  }
  if (ex.pending)
    return;
  ex.pending = 1;
  ex.id = id;
  uv_timer_init(nm__raw.loop, &ex.timer);
  uv_timer_start(&ex.timer, on_exit_grace, NM_RAW_EXIT_GRACE_MS, 0);
}

static int is_exit(const char *text, int64_t *id) {
  cJSON *c = cJSON_Parse(text);
  const char *op = nm_drv_str(c, "op");
  int e = op != NULL && strcmp(op, "exit") == 0;
  *id = nm_drv_int(c, "id", -1);
  cJSON_Delete(c);
  return e;
}

static void handle_line(const char *text, size_t len) {
  deferred_t *d;
  int64_t id;
  if (ex.pending)
    return; /* nothing after exit */
  if (is_exit(text, &id)) {
    request_exit(id);
    return;
  }
  if ((dq.head == NULL && !connecting()) || urgent(text)) {
    nm__raw_command(text);
    return;
  }
  d = malloc(sizeof(*d) + len + 1);
  if (d == NULL) {
    nm_drv_emit(nm_drv_err(-1, "other", "out of memory"));
    return;
  }
  d->next = NULL;
  d->len = len;
  memcpy(d->text, text, len + 1);
  if (dq.tail != NULL)
    dq.tail->next = d;
  else
    dq.head = d;
  dq.tail = d;
  dq.bytes += len;
  if (dq.bytes > NM_RAW_MAX_DEFERRED_BYTES && !dq.paused) {
    nm__raw_stdin_pause();
    dq.paused = 1;
  }
}

/* Runs once per loop iteration: starts deferred commands once the connect
 * has finished, in order, outside any socket callback. */
static void on_check(uv_check_t *c) {
  (void)c;
  while (dq.head != NULL && !connecting()) {
    deferred_t *d = dq.head;
    dq.head = d->next;
    if (dq.head == NULL)
      dq.tail = NULL;
    dq.bytes -= d->len;
    nm__raw_command(d->text);
    free(d);
  }
  if (ex.pending && dq.head == NULL && !connecting()) {
    nm__raw_exit(ex.id);
    return;
  }
  if (dq.paused && dq.bytes <= NM_RAW_MAX_DEFERRED_BYTES / 2) {
    dq.paused = 0;
    nm__raw_stdin_resume();
  }
}

static void emit_hello(void) {
  static const char *const features[] = {
      "headers",          "queue",     "auto_unsub", "flush",
      "drain_sub",        "drain",     "request",    "reconnect",
      "reconnect_buffer", "lame_duck", "raw",
  };
  static const char *const switches[] = {
      "flush_ok_early",
      "reorder_publish",
      "drop_publish",
      "ignore_server_ping",
      "drain_early",
      "deliver_after_unsub",
      "no_connect_first_on_reconnect",
      "hold_lone_publish",
      "closed_twice",
      "flush_no_timeout",
      "pong_lifo",
      "reorder_delivery",
      "drop_delivery",
      "resub_full_max",
      "drain_skip_unsub",
  };
  cJSON *o = cJSON_CreateObject();
  cJSON *f, *m;
  size_t i;

  cJSON_AddStringToObject(o, "ev", "hello");
  cJSON_AddNumberToObject(o, "protocol", 1);
  cJSON_AddStringToObject(o, "client", "natsmock-raw");
  cJSON_AddStringToObject(o, "version", NM_VERSION);
  f = cJSON_AddArrayToObject(o, "features");
  for (i = 0; i < sizeof(features) / sizeof(features[0]); i++)
    cJSON_AddItemToArray(f, cJSON_CreateString(features[i]));
  /* Not part of protocol 1: the switches this driver understands. */
  m = cJSON_AddArrayToObject(o, "misbehave");
  for (i = 0; i < sizeof(switches) / sizeof(switches[0]); i++)
    cJSON_AddItemToArray(m, cJSON_CreateString(switches[i]));
  nm_drv_emit(o);
}

static void close_walk(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, h->data == nm__raw_heap_handle ? nm__raw_free_handle : NULL);
}

/* Replies (id >= 0), closes every handle, frees, exits 0. */
void nm__raw_exit(int64_t id) {
  if (id >= 0)
    nm_drv_emit(nm_drv_ok(id));
  /* Nothing after exit's ok: no closed event from the teardown. */
  nm__raw.user_closed = 1;
  nm__raw.misbehave = 0;
  uv_walk(nm__raw.loop, close_walk, NULL);
  nm_drv_out_init(fopen("/dev/null", "w"));
  uv_run(nm__raw.loop, UV_RUN_DEFAULT);
  nm__raw_subs_free();
  nm_parser_free(&nm__raw.parser);
  nm_buf_free(&nm__raw.held);
  nm_buf_free(&nm__raw.rbuf);
  while (nm__raw.nknown > 0)
    free(nm__raw.known[--nm__raw.nknown]);
  free(nm__raw.line);
  while (dq.head != NULL) {
    deferred_t *d = dq.head;
    dq.head = d->next;
    free(d);
  }
  uv_loop_close(nm__raw.loop);
  exit(0);
}

/* Bytes from stdin (n < 0: end of input), cut into command lines. */
static void on_stdin(const char *p, ssize_t n) {
  ssize_t i;
  if (n < 0) {
    request_exit(-1);
    return;
  }
  for (i = 0; i < n; i++) {
    char c = p[i];
    if (c != '\n') {
      if (nm__raw.line_len + 1 < NM_DRV_MAX_LINE)
        nm__raw.line[nm__raw.line_len++] = c;
      else
        nm__raw.line_overflow = 1;
      continue;
    }
    if (nm__raw.line_len > 0 && nm__raw.line[nm__raw.line_len - 1] == '\r')
      nm__raw.line_len--;
    nm__raw.line[nm__raw.line_len] = '\0';
    if (nm__raw.line_overflow)
      nm_drv_emit(nm_drv_err(-1, "bad_command", "command line too long"));
    else if (nm__raw.line_len > 0)
      handle_line(nm__raw.line, nm__raw.line_len);
    nm__raw.line_len = 0;
    nm__raw.line_overflow = 0;
  }
}

int main(int argc, char **argv) {
  int r = nm_drv_cli(
      argc, argv, "natsmock-driver-raw", NM_VERSION,
      "A natsmock driver with no client library: writes the NATS frames the\n"
      "harness's commands ask for (JSON lines on stdin, events on stdout;\n"
      "docs/DRIVER-PROTOCOL.md, harness/drivers/raw/README.md). stdin may be\n"
      "a pipe, a terminal or a file.\n");
  if (r >= 0)
    return r;

  signal(SIGPIPE, SIG_IGN);
  nm__raw.loop = uv_default_loop();
  nm__raw.connect_id = -1;
  nm__raw.close_id = -1;
  nm__raw.drain_id = -1;
  nm__raw.max_payload = 1024 * 1024; /* until an INFO says otherwise */
  nm__raw.line = malloc(NM_DRV_MAX_LINE);
  nm_buf_init(&nm__raw.held, NM_RAW_MAX_OUT);
  if (nm__raw.line == NULL || nm__raw_conn_init() != 0) {
    fprintf(stderr, "raw driver: out of memory\n");
    return 1;
  }
  uv_check_init(nm__raw.loop, &dq.check);
  uv_check_start(&dq.check, on_check);
  uv_unref((uv_handle_t *)&dq.check);
  emit_hello();
  r = nm__raw_stdin_start(on_stdin);
  if (r != 0) {
    fprintf(stderr, "raw driver: stdin: %s\n", uv_strerror(r));
    return 1;
  }
  uv_run(nm__raw.loop, UV_RUN_DEFAULT);
  nm__raw_exit(-1);
  return 0;
}
