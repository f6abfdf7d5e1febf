/* natsmock-driver-nats-c: main. Writes hello, reads commands on a reader
 * thread, and starts them in order on the executor (this thread). Exits with
 * status 0 on `exit` or when stdin closes. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nc_driver.h"
#include "nm_drv_util.h"
#include "nm_version.h"

/* Bytes of commands queued but not yet started: the reader stops reading
 * stdin above this, so a flood of commands cannot grow memory. */
#define NM_NC_QUEUE_MAX_BYTES (64 * 1024 * 1024)
/* After exit (or EOF) the reader gives the executor this long to reach it;
 * past that a blocked library call is not allowed to keep the process. */
#define NM_NC_EXIT_GRACE_MS 3000

typedef struct line_s {
  struct line_s *next;
  int eof; /* end of input marker */
  size_t len;
  char text[];
} line_t;

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cond;
  line_t *head, *tail;
  size_t bytes;
  int exit_claimed; /* the executor or the reader's timeout is exiting */
} q = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void emit_hello(void) {
  static const char *const features[] = {
      "headers",    "queue",
      "auto_unsub", "flush",
      "drain_sub",  "drain",
      "request",    "no_echo",
      "reconnect",  "reconnect_buffer",
      "lame_duck",  "slow_consumer",
      "verbose",    "pedantic",
      "user_pass",  "token",
      "batch",      "on_msg",
      "info",
  };
  cJSON *o = cJSON_CreateObject();
  cJSON *f = cJSON_CreateArray();
  size_t i;

  cJSON_AddStringToObject(o, "ev", "hello");
  cJSON_AddNumberToObject(o, "protocol", 2);
  cJSON_AddStringToObject(o, "client", "nats.c");
  cJSON_AddStringToObject(o, "version", nats_GetVersion());
  for (i = 0; i < sizeof(features) / sizeof(features[0]); i++)
    cJSON_AddItemToArray(f, cJSON_CreateString(features[i]));
  cJSON_AddItemToObject(o, "features", f);
  nm_drv_emit(o);
}

static void queue_push(line_t *l) {
  pthread_mutex_lock(&q.mu);
  while (q.bytes > NM_NC_QUEUE_MAX_BYTES)
    pthread_cond_wait(&q.cond, &q.mu);
  l->next = NULL;
  if (q.tail != NULL)
    q.tail->next = l;
  else
    q.head = l;
  q.tail = l;
  q.bytes += l->len;
  pthread_cond_broadcast(&q.cond);
  pthread_mutex_unlock(&q.mu);
}

static line_t *queue_pop(void) {
  line_t *l;
  pthread_mutex_lock(&q.mu);
  while (q.head == NULL)
    pthread_cond_wait(&q.cond, &q.mu);
  l = q.head;
  q.head = l->next;
  if (q.head == NULL)
    q.tail = NULL;
  q.bytes -= l->len;
  pthread_cond_broadcast(&q.cond);
  pthread_mutex_unlock(&q.mu);
  return l;
}

/* Peeks at a line for {"op":"exit"} without a full parse on the executor's
 * behalf: the reader needs to know so it can bound the time to exit. */
static int64_t exit_id_of(const char *text) {
  cJSON *c = cJSON_Parse(text);
  int64_t id = -2;
  const char *op;
  if (c == NULL)
    return -2;
  op = nm_drv_str(c, "op");
  if (op != NULL && strcmp(op, "exit") == 0)
    id = nm_drv_int(c, "id", -1);
  cJSON_Delete(c);
  return id;
}

static void *reader_main(void *arg) {
  char *buf = malloc(NM_DRV_MAX_LINE);
  struct timespec until;
  int64_t exit_id = -2; /* -2: none seen; -1: exit without a usable id */

  (void)arg;
  if (buf == NULL) {
    fprintf(stderr, "nats-c driver: out of memory\n");
    _exit(1);
  }
  for (;;) {
    ssize_t n = nm_drv_read_line(stdin, buf, NM_DRV_MAX_LINE);
    line_t *l;
    if (n == -2) {
      nm_drv_emit(nm_drv_err(-1, "bad_command", "command line too long"));
      continue;
    }
    if (n == 0)
      continue;
    l = malloc(sizeof(*l) + (n < 0 ? 1 : (size_t)n + 1));
    if (l == NULL) {
      fprintf(stderr, "nats-c driver: out of memory\n");
      _exit(1);
    }
    l->eof = n < 0;
    l->len = n < 0 ? 0 : (size_t)n;
    memcpy(l->text, buf, l->len);
    l->text[l->len] = '\0';
    if (!l->eof)
      exit_id = exit_id_of(l->text);
    queue_push(l); /* l belongs to the executor from here */
    if (n < 0 || exit_id != -2)
      break;
  }
  free(buf);

  /* Give the executor a bounded time to reach the exit in order. */
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += NM_NC_EXIT_GRACE_MS / 1000;
  pthread_mutex_lock(&q.mu);
  while (!q.exit_claimed) {
    if (pthread_cond_timedwait(&q.cond, &q.mu, &until) != 0)
      break;
  }
  if (q.exit_claimed) {
    /* The executor is exiting; it ends the process. */
    pthread_mutex_unlock(&q.mu);
    return NULL;
  }
  q.exit_claimed = 1;
  pthread_mutex_unlock(&q.mu);
  fprintf(stderr, "nats-c driver: a command was still blocked at exit\n");
  if (exit_id >= 0)
    nm_drv_emit(nm_drv_ok(exit_id));
  _exit(0);
  return NULL;
}

/* Ends the process for exit/EOF. _exit: worker threads may sit in blocking
 * library calls, and a clean nats_Close would wait for them; the OS closes
 * the socket. */
static void do_exit(int64_t id) {
  int mine;
  pthread_mutex_lock(&q.mu);
  mine = !q.exit_claimed;
  q.exit_claimed = 1;
  pthread_cond_broadcast(&q.cond);
  pthread_mutex_unlock(&q.mu);
  if (!mine)
    for (;;)
      pause(); /* the reader is ending the process */
  nm__nc_settle(NM_NC_EXIT_SETTLE_MS);
  if (id >= 0)
    nm_drv_emit(nm_drv_ok(id));
  _exit(0);
}

void nm__nc_dispatch(int64_t id, const char *op, const cJSON *cmd) {
  static const struct {
    const char *op;
    void (*fn)(int64_t, const cJSON *);
  } ops[] = {
      {"connect", nm__nc_cmd_connect},
      {"publish", nm__nc_cmd_publish},
      {"subscribe", nm__nc_cmd_subscribe},
      {"unsubscribe", nm__nc_cmd_unsubscribe},
      {"flush", nm__nc_cmd_flush},
      {"request", nm__nc_cmd_request},
      {"drain_sub", nm__nc_cmd_drain_sub},
      {"drain", nm__nc_cmd_drain},
      {"close", nm__nc_cmd_close},
      {"batch", nm__nc_cmd_batch},
      {"info", nm__nc_cmd_info},
  };
  size_t i;
  for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
    if (strcmp(op, ops[i].op) == 0) {
      ops[i].fn(id, cmd);
      return;
    }
  }
  nm_drv_emit(nm_drv_err(id, "bad_command", "unknown op"));
}

static void dispatch(const char *text) {
  cJSON *cmd = cJSON_Parse(text);
  const cJSON *idv;
  const char *op;
  int64_t id;

  if (cmd == NULL || !cJSON_IsObject(cmd)) {
    nm_drv_emit(nm_drv_err(-1, "bad_command", "not a JSON object"));
    cJSON_Delete(cmd);
    return;
  }
  idv = cJSON_GetObjectItemCaseSensitive(cmd, "id");
  id = nm_drv_int(cmd, "id", -1);
  op = nm_drv_str(cmd, "op");
  if (!cJSON_IsNumber(idv) || id < 0) {
    nm_drv_emit(nm_drv_err(-1, "bad_command", "missing or bad \"id\""));
  } else if (op == NULL) {
    nm_drv_emit(nm_drv_err(id, "bad_command", "missing \"op\""));
  } else if (strcmp(op, "exit") == 0) {
    cJSON_Delete(cmd);
    do_exit(id);
  } else {
    nm__nc_dispatch(id, op, cmd);
  }
  cJSON_Delete(cmd);
}

int main(int argc, char **argv) {
  pthread_t reader;
  natsStatus s;
  int rc = nm_drv_cli(
      argc, argv, "natsmock-driver-nats-c", NM_VERSION,
      "The natsmock driver for nats.c (libnats " NATS_VERSION_STRING "): JSON\n"
      "commands on stdin, events on stdout, one per line\n"
      "(docs/DRIVER-PROTOCOL.md). stdin may be a pipe, a terminal or a "
      "file.\n");

  if (rc >= 0)
    return rc;

  /* A peer that vanishes must be an error from write(), not a signal. */
  signal(SIGPIPE, SIG_IGN);
  s = nats_Open(-1);
  if (s != NATS_OK) {
    fprintf(stderr, "nats-c driver: nats_Open: %s\n", natsStatus_GetText(s));
    return 1;
  }
  emit_hello();
  if (pthread_create(&reader, NULL, reader_main, NULL) != 0) {
    fprintf(stderr, "nats-c driver: cannot start the reader thread\n");
    return 1;
  }
  pthread_detach(reader);
  for (;;) {
    line_t *l = queue_pop();
    if (l->eof) {
      free(l);
      do_exit(-1);
    }
    dispatch(l->text);
    free(l);
  }
}
