/* natsmock-driver-nats-c: the commands that wait (flush, request, drain_sub,
 * drain, close). Each blocking libnats call runs on its own worker thread;
 * a connection drain is answered from the closed callback. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nc_driver.h"
#include "nm_drv_util.h"

typedef struct {
  int64_t id;
  natsConnection *nc;
  int64_t timeout_ms; /* <= 0: the library's default */
  natsSubscription *sub;
  natsMsg *msg; /* request */
  int64_t seq;  /* flush: its place in command order */
} job_t;

static job_t *job_new(int64_t id, natsConnection *nc, int64_t timeout_ms) {
  job_t *j = calloc(1, sizeof(*j));
  if (j == NULL) {
    nm_drv_emit(nm_drv_err(id, "other", "out of memory"));
    return NULL;
  }
  j->id = id;
  j->nc = nc;
  j->timeout_ms = timeout_ms;
  return j;
}

/* until_blocked: see nm__nc_spawn; for calls that write before they wait. */
static void job_start(job_t *j, void (*fn)(void *), int until_blocked) {
  if (nm__nc_spawn(fn, j, until_blocked) != 0) {
    nm_drv_emit(nm_drv_err(j->id, "other", "too many commands in flight"));
    natsMsg_Destroy(j->msg);
    free(j);
  }
}

static natsConnection *conn_or_reply(int64_t id) {
  natsConnection *nc = nm__nc_conn();
  if (nc == NULL)
    nm_drv_emit(nm_drv_err(id, "closed", "not connected"));
  return nc;
}

/* Flush replies leave in command order. nats.c releases flushes in the
 * order of their PINGs (it counts PONGs), so when flush k returns ok every
 * earlier flush has already returned or timed out inside the library; only
 * their threads may not have printed yet. Flush k's ok waits for them, with
 * a bound in case that reasoning ever fails. */
#define NM_NC_FLUSH_ORDER_MS 100

static int64_t flush_next;
static int64_t flush_open[NM_NC_MAX_WORKERS]; /* seqs not yet answered */
static int nflush_open;

/* Under the driver's mutex. */
static int earlier_flush_open(int64_t seq) {
  int i;
  for (i = 0; i < nflush_open; i++)
    if (flush_open[i] < seq)
      return 1;
  return 0;
}

static void flush_done(int64_t seq) {
  int i;
  for (i = 0; i < nflush_open; i++) {
    if (flush_open[i] == seq) {
      flush_open[i] = flush_open[--nflush_open];
      break;
    }
  }
  pthread_cond_broadcast(&nm__nc.cond);
}

static void flush_worker(void *arg) {
  job_t *j = arg;
  natsStatus s = j->timeout_ms > 0
                     ? natsConnection_FlushTimeout(j->nc, j->timeout_ms)
                     : natsConnection_Flush(j->nc);
  cJSON *reply = s == NATS_OK ? nm_drv_ok(j->id) : nm__nc_err_obj(j->id, s);
  int64_t until = nm_drv_now_us() + NM_NC_FLUSH_ORDER_MS * 1000;

  pthread_mutex_lock(&nm__nc.mu);
  while (s == NATS_OK && earlier_flush_open(j->seq) &&
         nm_drv_now_us() < until) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 1000 * 1000;
    if (ts.tv_nsec >= 1000000000) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&nm__nc.cond, &nm__nc.mu, &ts);
  }
  nm_drv_emit(reply); /* under the mutex: the order is the reply order */
  flush_done(j->seq);
  pthread_mutex_unlock(&nm__nc.mu);
  free(j);
}

void nm__nc_cmd_flush(int64_t id, const cJSON *cmd) {
  natsConnection *nc = conn_or_reply(id);
  job_t *j;
  if (nc == NULL ||
      (j = job_new(id, nc, nm_drv_int(cmd, "timeout_ms", 0))) == NULL)
    return;
  pthread_mutex_lock(&nm__nc.mu);
  if (nflush_open >= NM_NC_MAX_WORKERS) {
    pthread_mutex_unlock(&nm__nc.mu);
    nm_drv_emit(nm_drv_err(id, "other", "too many commands in flight"));
    free(j);
    return;
  }
  j->seq = ++flush_next;
  flush_open[nflush_open++] = j->seq;
  pthread_mutex_unlock(&nm__nc.mu);
  if (nm__nc_spawn(flush_worker, j, 1) != 0) {
    pthread_mutex_lock(&nm__nc.mu);
    flush_done(j->seq);
    pthread_mutex_unlock(&nm__nc.mu);
    nm_drv_emit(nm_drv_err(id, "other", "too many commands in flight"));
    free(j);
  }
}

static void request_worker(void *arg) {
  job_t *j = arg;
  natsMsg *reply = NULL;
  natsStatus s =
      natsConnection_RequestMsg(&reply, j->nc, j->msg, j->timeout_ms);
  if (s == NATS_OK) {
    cJSON *ok = nm_drv_ok(j->id);
    nm_drv_add_payload(ok, natsMsg_GetData(reply),
                       (size_t)natsMsg_GetDataLength(reply), 0);
    nm__nc_add_headers(ok, reply);
    nm_drv_emit(ok);
  } else {
    nm__nc_reply_status(j->id, s);
  }
  natsMsg_Destroy(reply);
  natsMsg_Destroy(j->msg);
  free(j);
}

void nm__nc_cmd_request(int64_t id, const cJSON *cmd) {
  const char *subject = nm_drv_str(cmd, "subject");
  const cJSON *headers = cJSON_GetObjectItemCaseSensitive(cmd, "headers");
  const char *why = NULL;
  natsConnection *nc;
  char *buf = NULL;
  size_t n = 0;
  natsStatus s;
  job_t *j;

  if (subject == NULL || (headers != NULL && !cJSON_IsObject(headers))) {
    nm_drv_emit(nm_drv_err(id, "bad_command",
                           "request needs \"subject\"; headers an object"));
    return;
  }
  if (nm_drv_payload(cmd, 1, &buf, &n, &why) != 0) {
    nm_drv_emit(nm_drv_err(id, "bad_command", why));
    return;
  }
  if ((nc = conn_or_reply(id)) == NULL ||
      (j = job_new(id, nc,
                   nm_drv_int(cmd, "timeout_ms", NM_NC_REQUEST_TIMEOUT_MS))) ==
          NULL) {
    free(buf);
    return;
  }
  s = nm__nc_msg_build(&j->msg, subject, NULL, buf, n, headers);
  free(buf);
  if (s != NATS_OK) {
    nm__nc_reply_status(id, s);
    free(j);
    return;
  }
  job_start(j, request_worker, 1);
}

static void drain_sub_worker(void *arg) {
  job_t *j = arg;
  /* No timeout here: the drain itself is bounded (its timeout_ms, or the
   * library's 30 s default) and ends the wait either way. */
  natsStatus s = natsSubscription_WaitForDrainCompletion(j->sub, 0);
  if (s == NATS_OK)
    s = natsSubscription_DrainCompletionStatus(j->sub);
  if (s == NATS_OK)
    nm_drv_emit(nm_drv_ok(j->id));
  else
    nm_drv_emit(nm_drv_err(j->id, nm__nc_code(s), natsStatus_GetText(s)));
  free(j);
}

static int64_t drain_timeout(const cJSON *cmd) {
  int64_t t = nm_drv_int(cmd, "timeout_ms", 0);
  if (t <= 0) {
    pthread_mutex_lock(&nm__nc.mu);
    t = nm__nc.drain_timeout_ms;
    pthread_mutex_unlock(&nm__nc.mu);
  }
  return t;
}

void nm__nc_cmd_drain_sub(int64_t id, const cJSON *cmd) {
  const char *tag = nm_drv_str(cmd, "sub");
  nm_nc_sub_t *ctx = tag != NULL ? nm__nc_sub_find(tag) : NULL;
  int64_t timeout = drain_timeout(cmd);
  natsConnection *nc = conn_or_reply(id);
  natsSubscription *sub;
  natsStatus s;
  job_t *j;

  if (nc == NULL)
    return;
  pthread_mutex_lock(&nm__nc.mu);
  sub = ctx != NULL ? ctx->sub : NULL;
  pthread_mutex_unlock(&nm__nc.mu);
  if (sub == NULL) {
    nm_drv_emit(nm_drv_err(id, "bad_command", "unknown \"sub\""));
    return;
  }
  /* Starting a drain does not block (the UNSUB is queued); only the wait
   * does, so the start stays in command order on the executor. */
  s = timeout > 0 ? natsSubscription_DrainTimeout(sub, timeout)
                  : natsSubscription_Drain(sub);
  if (s != NATS_OK) {
    nm__nc_reply_status(id, s);
    return;
  }
  if ((j = job_new(id, nc, timeout)) == NULL)
    return;
  j->sub = sub;
  job_start(j, drain_sub_worker, 0);
}

void nm__nc_cmd_drain(int64_t id, const cJSON *cmd) {
  int64_t timeout = drain_timeout(cmd);
  natsConnection *nc = conn_or_reply(id);
  natsStatus s;

  if (nc == NULL)
    return;
  pthread_mutex_lock(&nm__nc.mu);
  if (nm__nc.ndrains >= NM_NC_MAX_DRAINS) {
    pthread_mutex_unlock(&nm__nc.mu);
    nm_drv_emit(nm_drv_err(id, "other", "too many drains in flight"));
    return;
  }
  /* Listed before the call: the drain can finish, and the closed callback
   * run, before DrainTimeout returns. */
  nm__nc.drain_ids[nm__nc.ndrains++] = id;
  pthread_mutex_unlock(&nm__nc.mu);
  s = timeout > 0 ? natsConnection_DrainTimeout(nc, timeout)
                  : natsConnection_Drain(nc);
  if (s != NATS_OK) {
    int i, found = 0;
    pthread_mutex_lock(&nm__nc.mu);
    for (i = 0; i < nm__nc.ndrains; i++) {
      if (nm__nc.drain_ids[i] == id) {
        nm__nc.drain_ids[i] = nm__nc.drain_ids[--nm__nc.ndrains];
        found = 1;
        break;
      }
    }
    pthread_mutex_unlock(&nm__nc.mu);
    if (found)
      nm__nc_reply_status(id, s);
  }
}

void nm__nc_drain_finish(void) {
  int64_t ids[NM_NC_MAX_DRAINS];
  natsStatus err;
  char text[sizeof(nm__nc.drain_err_text)];
  int n, i;

  pthread_mutex_lock(&nm__nc.mu);
  n = nm__nc.ndrains;
  memcpy(ids, nm__nc.drain_ids, sizeof(ids[0]) * (size_t)n);
  nm__nc.ndrains = 0;
  err = nm__nc.drain_err;
  memcpy(text, nm__nc.drain_err_text, sizeof(text));
  pthread_mutex_unlock(&nm__nc.mu);
  for (i = 0; i < n; i++) {
    if (err == NATS_OK)
      nm_drv_emit(nm_drv_ok(ids[i]));
    else
      nm_drv_emit(nm_drv_err(ids[i], nm__nc_code(err), text));
  }
}

static void close_worker(void *arg) {
  job_t *j = arg;
  natsConnection_Close(j->nc);
  nm_drv_emit(nm_drv_ok(j->id));
  free(j);
}

void nm__nc_cmd_close(int64_t id, const cJSON *cmd) {
  natsConnection *nc = conn_or_reply(id);
  job_t *j;
  (void)cmd;
  if (nc == NULL || (j = job_new(id, nc, 0)) == NULL)
    return;
  job_start(j, close_worker, 1);
}
