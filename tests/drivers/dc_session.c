/* See dc_session.h. */
#define _GNU_SOURCE /* pipe2 */
#include "dc_session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nm_drv_util.h"
#include "nm_test_util.h"

char **dc_driver_argv;

static const char *const kCodes[] = {
    "timeout",       "closed",      "draining",      "disconnected",
    "max_payload",   "bad_subject", "not_supported", "buffer_full",
    "no_responders", "auth",        "bad_command",   "other",
};

static void problem(dc_session_t *s, const char *fmt, const char *a,
                    const char *b) {
  if (s->problem[0] == '\0')
    snprintf(s->problem, sizeof(s->problem), fmt, a, b);
}

static int known_code(const char *c) {
  size_t i;
  for (i = 0; c != NULL && i < sizeof(kCodes) / sizeof(kCodes[0]); i++)
    if (strcmp(c, kCodes[i]) == 0)
      return 1;
  return 0;
}

static int sent_index(const dc_session_t *s, int64_t id) {
  int i;
  for (i = 0; i < s->nsent; i++)
    if (s->sent[i] == id)
      return i;
  return -1;
}

/* Checks a msg event's payload fields against size and seq. */
static void check_msg_payload(dc_session_t *s, const cJSON *l) {
  const char *data = dc_str(l, "data");
  const char *b64 = dc_str(l, "data_b64");
  int64_t size = dc_int(l, "size", -1);
  const cJSON *seqv = cJSON_GetObjectItemCaseSensitive(l, "seq");
  char *buf = NULL;
  size_t n = 0;
  uint64_t k;

  if (data != NULL && b64 != NULL)
    problem(s, "msg with both data and data_b64: %s%s", dc_show(l), "");
  if (data != NULL) {
    n = strlen(data);
    buf = strdup(data);
  } else if (b64 != NULL) {
    size_t cap = strlen(b64) / 4 * 3 + 1;
    ssize_t got;
    buf = malloc(cap);
    got = buf != NULL ? nm_b64_decode(b64, strlen(b64), buf, cap) : -1;
    if (got < 0) {
      problem(s, "msg with bad data_b64: %s%s", dc_show(l), "");
      free(buf);
      return;
    }
    n = (size_t)got;
    buf[n] = '\0'; /* cap leaves room: 3 bytes per 4 characters, plus 1 */
  }
  if (buf != NULL) {
    if ((int64_t)n != size)
      problem(s, "msg data length differs from size: %s%s", dc_show(l), "");
    if (n > 256)
      problem(s, "msg data over 256 bytes: %s%s", dc_show(l), "");
    /* seq is the number the payload starts with, present exactly then. */
    {
      int has = n > 0 && buf[0] >= '0' && buf[0] <= '9';
      if (has != (seqv != NULL))
        problem(s, "msg seq present iff the payload starts with digits: %s%s",
                dc_show(l), "");
      else if (has && sscanf(buf, "%lu", &k) == 1 &&
               (double)k != seqv->valuedouble)
        problem(s, "msg seq differs from the payload: %s%s", dc_show(l), "");
    }
    free(buf);
  }
  if (seqv != NULL && !cJSON_IsNumber(seqv))
    problem(s, "msg seq not a number: %s%s", dc_show(l), "");
}

/* Shape checks on one line, as it arrives. */
static void check_line(dc_session_t *s, const cJSON *l) {
  const cJSON *idv = cJSON_GetObjectItemCaseSensitive(l, "id");
  const char *ev = dc_ev(l);
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(l, "t");

  if (ev == NULL) {
    problem(s, "line without \"ev\": %s%s", dc_show(l), "");
    return;
  }
  if (idv != NULL && strcmp(ev, "action") == 0) {
    /* Protocol 2: a handler started on_msg action `id` (its result comes
     * later, as for any command). */
    int i = cJSON_IsNumber(idv) ? sent_index(s, (int64_t)idv->valuedouble) : -1;
    if (i < 0 || s->replied[i] > 0 || dc_str(l, "sub") == NULL)
      problem(s, "action needs sub and the id of an action not ended: %s%s",
              dc_show(l), "");
    return;
  }
  if (idv != NULL) {
    int i = cJSON_IsNumber(idv) ? sent_index(s, (int64_t)idv->valuedouble) : -1;
    if (strcmp(ev, "ok") != 0 && strcmp(ev, "err") != 0)
      problem(s, "a line with an id must be ok or err: %s%s", dc_show(l), "");
    if (i < 0)
      problem(s, "reply to an id never sent: %s%s", dc_show(l), "");
    else if (++s->replied[i] > 1)
      problem(s, "second reply to one id: %s%s", dc_show(l), "");
    if (strcmp(ev, "err") == 0 &&
        (!known_code(dc_str(l, "code")) || dc_str(l, "error") == NULL))
      problem(s, "err needs a known \"code\" and an \"error\" text: %s%s",
              dc_show(l), "");
    return;
  }
  if (strcmp(ev, "ok") == 0 || strcmp(ev, "err") == 0) {
    /* Only a line the driver could not read has no id. */
    if (strcmp(ev, "ok") == 0 ||
        strcmp(dc_str(l, "code") ? dc_str(l, "code") : "", "bad_command"))
      problem(s, "a reply without id: %s%s", dc_show(l), "");
    return;
  }
  if (t != NULL && !cJSON_IsNumber(t))
    problem(s, "\"t\" must be a number: %s%s", dc_show(l), "");
  if (strcmp(ev, "msg") == 0) {
    if (dc_str(l, "sub") == NULL || dc_str(l, "subject") == NULL ||
        !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(l, "size")))
      problem(s, "msg needs sub, subject and size: %s%s", dc_show(l), "");
    else
      check_msg_payload(s, l);
  } else if (strcmp(ev, "msg_done") == 0) {
    if (dc_str(l, "sub") == NULL)
      problem(s, "msg_done needs sub: %s%s", dc_show(l), "");
  } else if (strcmp(ev, "error") == 0) {
    if (!known_code(dc_str(l, "code")) || dc_str(l, "error") == NULL)
      problem(s, "error event needs a known code and a text: %s%s", dc_show(l),
              "");
  } else if (strcmp(ev, "slow_consumer") == 0) {
    if (dc_str(l, "sub") == NULL)
      problem(s, "slow_consumer needs sub: %s%s", dc_show(l), "");
  } else if (strcmp(ev, "discovered") == 0) {
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(l, "servers")))
      problem(s, "discovered needs servers: %s%s", dc_show(l), "");
  } else if (strcmp(ev, "hello") == 0) {
    if (s->nlines != 1)
      problem(s, "hello after the first line: %s%s", dc_show(l), "");
  } else if (strcmp(ev, "connected") != 0 && strcmp(ev, "reconnected") != 0 &&
             strcmp(ev, "disconnected") != 0 && strcmp(ev, "closed") != 0 &&
             strcmp(ev, "lame_duck") != 0 && strcmp(ev, "frame") != 0) {
    /* "frame" is the raw driver's own event. */
    problem(s, "unknown event: %s%s", dc_show(l), "");
  }
}

static int64_t now_ms(void) {
  return nm_test_now_ms();
}

/* Reads what is available within wait_ms and parses complete lines. Returns
 * the number of new lines, or -1 at EOF with nothing new. */
static int pump(dc_session_t *s, int wait_ms) {
  struct pollfd p = {.fd = s->out_fd, .events = POLLIN};
  int added = 0;
  ssize_t r;
  char *nl;

  if (s->eof)
    return -1;
  if (poll(&p, 1, wait_ms < 0 ? 0 : wait_ms) <= 0)
    return 0;
  if (s->rlen + 65536 > DC_MAX_LINE) {
    problem(s, "an output line over %s bytes%s", "4 MiB", "");
    s->rlen = 0;
  }
  r = read(s->out_fd, s->rbuf + s->rlen, 65536);
  if (r <= 0) {
    if (r < 0 && errno == EINTR)
      return 0;
    s->eof = 1;
    return added > 0 ? added : -1;
  }
  s->rlen += (size_t)r;
  while ((nl = memchr(s->rbuf, '\n', s->rlen)) != NULL) {
    size_t len = (size_t)(nl - s->rbuf);
    cJSON *l = cJSON_ParseWithLength(s->rbuf, len);
    if (l == NULL || !cJSON_IsObject(l)) {
      char snip[80];
      snprintf(snip, sizeof(snip), "%.*s", (int)(len < 60 ? len : 60), s->rbuf);
      problem(s, "stdout line is not a JSON object: %s%s", snip, "");
      cJSON_Delete(l);
    } else if (s->nlines >= DC_MAX_LINES) {
      problem(s, "more than %s lines%s", "20000", "");
      cJSON_Delete(l);
    } else {
      s->lines[s->nlines++] = l;
      check_line(s, l);
      added++;
    }
    memmove(s->rbuf, nl + 1, s->rlen - len - 1);
    s->rlen -= len + 1;
  }
  return added;
}

int dc_start(dc_session_t *s) {
  int in[2], out[2];
  const cJSON *f, *it;

  memset(s, 0, sizeof(*s));
  s->pid = -1;
  s->next_id = 1;
  s->rbuf = malloc(DC_MAX_LINE);
  if (s->rbuf == NULL || pipe2(in, O_CLOEXEC) != 0)
    return -1;
  if (pipe2(out, O_CLOEXEC) != 0)
    return -1;
  s->pid = fork();
  if (s->pid == 0) {
    /* A checker that dies takes its driver along. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(in[0], 0);
    dup2(out[1], 1);
    execvp(dc_driver_argv[0], dc_driver_argv);
    fprintf(stderr, "driver_check: cannot run %s: %s\n", dc_driver_argv[0],
            strerror(errno));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  s->in_fd = in[1];
  s->out_fd = out[0];
  if (s->pid < 0)
    return -1;
  signal(SIGPIPE, SIG_IGN);
  {
    int from = 0;
    const cJSON *h = dc_wait(s, &from, dc_is_ev, "hello", 5000);
    if (h == NULL || from != 1) {
      problem(s, "no hello as the first line within 5 s%s%s", "", "");
      return -1;
    }
    s->hello = (cJSON *)h;
  }
  f = cJSON_GetObjectItemCaseSensitive(s->hello, "features");
  if ((dc_int(s->hello, "protocol", 0) != 1 &&
       dc_int(s->hello, "protocol", 0) != 2) ||
      dc_str(s->hello, "client") == NULL ||
      dc_str(s->hello, "version") == NULL || !cJSON_IsArray(f)) {
    problem(s, "hello needs protocol 1 or 2, client, version, features: %s%s",
            dc_show(s->hello), "");
    return -1;
  }
  cJSON_ArrayForEach(it, f) {
    if (!cJSON_IsString(it)) {
      problem(s, "hello features must be strings%s%s", "", "");
      return -1;
    }
  }
  return 0;
}

/* Waits (bounded) for the child to end; returns its wait status or -1. */
static int reap(dc_session_t *s, int timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  int st;
  while (s->pid > 0) {
    pid_t r = waitpid(s->pid, &st, WNOHANG);
    if (r == s->pid) {
      s->pid = -1;
      return st;
    }
    if (now_ms() >= deadline)
      return -1;
    /* Reading keeps a chatty driver from blocking on a full pipe. */
    if (pump(s, 10) < 0) {
      struct timespec ts = {0, 5 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
  }
  return -1;
}

int dc_exit(dc_session_t *s) {
  int64_t id = dc_send(s, "{\"op\":\"exit\"}");
  const cJSON *r = id >= 0 ? dc_reply(s, id, 3000) : NULL;
  int st;
  if (r == NULL || !dc_is_ok(r)) {
    problem(s, "exit: no ok within 3 s%s%s", "", "");
    return -1;
  }
  close(s->in_fd);
  s->in_fd = -1;
  st = reap(s, 3000);
  if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    problem(s, "exit: the driver did not exit with status 0 within 3 s%s%s", "",
            "");
    return -1;
  }
  return 0;
}

int dc_eof(dc_session_t *s) {
  int st;
  close(s->in_fd);
  s->in_fd = -1;
  st = reap(s, 3000);
  if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    problem(s, "EOF: the driver did not exit with status 0 within 3 s%s%s", "",
            "");
    return -1;
  }
  return 0;
}

void dc_free(dc_session_t *s) {
  int i;
  if (s->pid > 0) {
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = -1;
  }
  if (s->in_fd > 0)
    close(s->in_fd);
  if (s->out_fd > 0)
    close(s->out_fd);
  s->in_fd = s->out_fd = -1;
  for (i = 0; i < s->nlines; i++)
    cJSON_Delete(s->lines[i]);
  s->nlines = 0;
  s->hello = NULL;
  free(s->rbuf);
  s->rbuf = NULL;
}

int dc_has(const dc_session_t *s, const char *feature) {
  const cJSON *it;
  cJSON_ArrayForEach(it,
                     cJSON_GetObjectItemCaseSensitive(s->hello, "features")) {
    if (cJSON_IsString(it) && strcmp(it->valuestring, feature) == 0)
      return 1;
  }
  return 0;
}

int dc_send_raw(dc_session_t *s, const char *line) {
  size_t n = strlen(line);
  const char *p = line;
  while (n > 0) {
    ssize_t w = write(s->in_fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return write(s->in_fd, "\n", 1) == 1 ? 0 : -1;
}

int64_t dc_take_id(dc_session_t *s) {
  if (s->nsent >= DC_MAX_IDS)
    return -1;
  s->sent[s->nsent] = s->next_id;
  s->replied[s->nsent++] = 0;
  return s->next_id++;
}

int64_t dc_send(dc_session_t *s, const char *json) {
  cJSON *c = cJSON_Parse(json);
  char *text;
  int64_t id = s->next_id++;
  int r;

  if (c == NULL || s->nsent >= DC_MAX_IDS) {
    cJSON_Delete(c);
    return -1;
  }
  cJSON_AddNumberToObject(c, "id", (double)id);
  text = cJSON_PrintUnformatted(c);
  cJSON_Delete(c);
  if (text == NULL)
    return -1;
  s->sent[s->nsent] = id;
  s->replied[s->nsent++] = 0;
  r = dc_send_raw(s, text);
  cJSON_free(text);
  return r == 0 ? id : -1;
}

const cJSON *dc_wait(dc_session_t *s, int *from, dc_pred_t pred,
                     const void *arg, int timeout_ms) {
  int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    int i = dc_find(s, *from, pred, arg);
    int64_t left;
    if (i >= 0) {
      *from = i + 1;
      return s->lines[i];
    }
    left = deadline - now_ms();
    if (left <= 0 || pump(s, (int)left) < 0)
      return NULL;
  }
}

static int is_reply(const cJSON *l, const void *arg) {
  const cJSON *idv = cJSON_GetObjectItemCaseSensitive(l, "id");
  const char *ev = dc_ev(l);
  return cJSON_IsNumber(idv) && ev &&
         (strcmp(ev, "ok") == 0 || strcmp(ev, "err") == 0) &&
         (int64_t)idv->valuedouble == *(const int64_t *)arg;
}

const cJSON *dc_reply(dc_session_t *s, int64_t id, int timeout_ms) {
  int from = 0;
  return dc_wait(s, &from, is_reply, &id, timeout_ms);
}

int dc_reply_index(const dc_session_t *s, int64_t id) {
  return dc_find(s, 0, is_reply, &id);
}

void dc_drain_output(dc_session_t *s, int ms) {
  int64_t deadline = now_ms() + ms;
  int64_t left;
  while ((left = deadline - now_ms()) > 0)
    if (pump(s, (int)left) < 0)
      break;
}

int dc_is_ev(const cJSON *line, const void *ev) {
  const char *e = dc_ev(line);
  return e != NULL && cJSON_GetObjectItemCaseSensitive(line, "id") == NULL &&
         strcmp(e, (const char *)ev) == 0;
}

int dc_is_any_err(const cJSON *line, const void *arg) {
  const char *e = dc_ev(line);
  (void)arg;
  return e != NULL && strcmp(e, "err") == 0;
}

int dc_is_msg(const cJSON *line, const void *arg) {
  const dc_msg_match_t *m = arg;
  const char *sub = dc_str(line, "sub");
  if (!dc_is_ev(line, m->ev))
    return 0;
  if (m->sub != NULL && (sub == NULL || strcmp(sub, m->sub) != 0))
    return 0;
  return m->seq < 0 || dc_int(line, "seq", -1) == m->seq;
}

int dc_count(const dc_session_t *s, const char *ev, const char *sub) {
  int i, n = 0;
  for (i = 0; i < s->nlines; i++) {
    const char *ls = dc_str(s->lines[i], "sub");
    if (dc_is_ev(s->lines[i], ev) &&
        (sub == NULL || (ls != NULL && strcmp(ls, sub) == 0)))
      n++;
  }
  return n;
}

int dc_find(const dc_session_t *s, int from, dc_pred_t pred, const void *arg) {
  int i;
  for (i = from < 0 ? 0 : from; i < s->nlines; i++)
    if (pred(s->lines[i], arg))
      return i;
  return -1;
}

const char *dc_ev(const cJSON *line) {
  return dc_str(line, "ev");
}

const char *dc_str(const cJSON *line, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(line, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

int64_t dc_int(const cJSON *line, const char *key, int64_t def) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(line, key);
  return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : def;
}

int dc_is_ok(const cJSON *reply) {
  const char *e = reply != NULL ? dc_ev(reply) : NULL;
  return e != NULL && strcmp(e, "ok") == 0;
}

const char *dc_show(const cJSON *line) {
  static char buf[400];
  char *t = line != NULL ? cJSON_PrintUnformatted(line) : NULL;
  snprintf(buf, sizeof(buf), "%.380s", t != NULL ? t : "(none)");
  cJSON_free(t);
  return buf;
}
