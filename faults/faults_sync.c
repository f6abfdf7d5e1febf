/* nm_faults_apply_sync: applies a fault document from any thread. The
 * request is queued under a mutex, the host's loop is woken with a
 * uv_async_t, the loop thread applies it with nm_faults_apply, and the
 * caller waits (bounded) for the answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults_int.h"

/* How long a caller waits for the loop thread before giving up. */
#define NM_FAULT_SYNC_WAIT_MS 10000

typedef struct sync_req_s sync_req_t;
struct sync_req_s {
  sync_req_t *next;
  char *json;
  nm_buf_t res;
  char err[512];
  int rc;
  int done;
  int abandoned; /* the caller gave up: the loop side frees it */
  uv_cond_t cond;
};

struct nm__fsync_s {
  uv_async_t async;
  uv_mutex_t mu;
  sync_req_t *queue;
  int closed;
  int handle_on;
  int orphaned; /* freed by the engine while the handle was closing */
  nm_faults_t *f;
  uv_thread_t loop_thread;
  int loop_thread_known;
};

static void req_free(sync_req_t *q) {
  nm_buf_free(&q->res);
  uv_cond_destroy(&q->cond);
  free(q->json);
  free(q);
}

/* Under the mutex: hand the answer back, or free an abandoned request. */
static void req_finish(sync_req_t *q) {
  if (q->abandoned) {
    req_free(q);
    return;
  }
  q->done = 1;
  uv_cond_signal(&q->cond);
}

static void on_async(uv_async_t *a) {
  nm__fsync_t *s = a->data;
  sync_req_t *q;

  uv_mutex_lock(&s->mu);
  s->loop_thread = uv_thread_self();
  s->loop_thread_known = 1;
  for (;;) {
    q = s->queue;
    if (q == NULL)
      break;
    s->queue = q->next;
    /* Applying can take a while (a large publish): not under the lock. */
    uv_mutex_unlock(&s->mu);
    q->rc = nm_faults_apply(s->f, q->json, &q->res, q->err, sizeof(q->err));
    uv_mutex_lock(&s->mu);
    req_finish(q);
  }
  uv_mutex_unlock(&s->mu);
}

void nm__fsync_note_loop_thread(nm_faults_t *f) {
  nm__fsync_t *s = f->sync;
  if (s == NULL)
    return;
  uv_mutex_lock(&s->mu);
  if (!s->loop_thread_known) {
    s->loop_thread = uv_thread_self();
    s->loop_thread_known = 1;
  }
  uv_mutex_unlock(&s->mu);
}

int nm__fsync_init(nm_faults_t *f, uv_loop_t *loop) {
  nm__fsync_t *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return NM_ENOMEM;
  if (uv_mutex_init(&s->mu) != 0) {
    free(s);
    return NM_ENOMEM;
  }
  if (uv_async_init(loop, &s->async, on_async) != 0) {
    uv_mutex_destroy(&s->mu);
    free(s);
    return NM_ENOMEM;
  }
  s->handle_on = 1;
  s->async.data = s;
  s->f = f;
  /* The wake-up handle alone must not keep the server's loop running. */
  uv_unref((uv_handle_t *)&s->async);
  f->sync = s;
  return 0;
}

static void on_async_closed(uv_handle_t *h) {
  nm__fsync_t *s = h->data;
  s->handle_on = 0;
  if (s->orphaned) {
    uv_mutex_destroy(&s->mu);
    free(s);
  }
}

void nm__fsync_stop(nm_faults_t *f) {
  nm__fsync_t *s = f->sync;
  sync_req_t *q;

  if (s == NULL)
    return;
  uv_mutex_lock(&s->mu);
  s->closed = 1;
  while ((q = s->queue) != NULL) {
    s->queue = q->next;
    q->rc = NM_ECLOSED;
    snprintf(q->err, sizeof(q->err), "the server is stopping");
    req_finish(q);
  }
  uv_mutex_unlock(&s->mu);
  if (s->handle_on && !uv_is_closing((uv_handle_t *)&s->async))
    uv_close((uv_handle_t *)&s->async, on_async_closed);
}

void nm__fsync_free(nm_faults_t *f) {
  nm__fsync_t *s = f->sync;
  if (s == NULL)
    return;
  f->sync = NULL;
  if (s->handle_on && uv_is_closing((uv_handle_t *)&s->async)) {
    /* Freed before the loop ran the close: the close callback frees it. */
    s->orphaned = 1;
    return;
  }
  uv_mutex_destroy(&s->mu);
  free(s);
}

int nm_faults_apply_sync(nm_faults_t *f, const char *json, nm_buf_t *result,
                         char *err, size_t errlen) {
  nm__fsync_t *s = f != NULL ? f->sync : NULL;
  uv_thread_t self = uv_thread_self();
  sync_req_t *q;
  uint64_t deadline;
  int rc;

  if (s == NULL) {
    if (err != NULL && errlen > 0)
      snprintf(err, errlen, "no fault engine on this server");
    return NM_ESTATE;
  }
  uv_mutex_lock(&s->mu);
  if (s->loop_thread_known && uv_thread_equal(&self, &s->loop_thread)) {
    /* Already on the loop thread: waiting would deadlock. */
    uv_mutex_unlock(&s->mu);
    return nm_faults_apply(f, json, result, err, errlen);
  }
  if (s->closed) {
    uv_mutex_unlock(&s->mu);
    if (err != NULL && errlen > 0)
      snprintf(err, errlen, "the server is stopping");
    return NM_ECLOSED;
  }
  q = calloc(1, sizeof(*q));
  if (q == NULL || uv_cond_init(&q->cond) != 0) {
    uv_mutex_unlock(&s->mu);
    free(q);
    return NM_ENOMEM;
  }
  q->json = strdup(json != NULL ? json : "");
  nm_buf_init(&q->res, NM_FAULT_RESULT_MAX);
  if (q->json == NULL) {
    uv_mutex_unlock(&s->mu);
    req_free(q);
    return NM_ENOMEM;
  }
  /* Append: requests from one thread apply in order. */
  {
    sync_req_t **tail = &s->queue;
    while (*tail != NULL)
      tail = &(*tail)->next;
    *tail = q;
  }
  uv_async_send(&s->async);
  deadline = uv_hrtime() + (uint64_t)NM_FAULT_SYNC_WAIT_MS * 1000000u;
  while (!q->done) {
    uint64_t now = uv_hrtime();
    if (now >= deadline ||
        uv_cond_timedwait(&q->cond, &s->mu, deadline - now) != 0) {
      if (q->done)
        break;
      if (uv_hrtime() < deadline)
        continue;
      /* Still queued: unlink it; being applied: leave it to the loop. */
      {
        sync_req_t **pp = &s->queue;
        while (*pp != NULL && *pp != q)
          pp = &(*pp)->next;
        if (*pp == q) {
          *pp = q->next;
          uv_mutex_unlock(&s->mu);
          req_free(q);
        } else {
          q->abandoned = 1;
          uv_mutex_unlock(&s->mu);
        }
      }
      if (err != NULL && errlen > 0)
        snprintf(err, errlen, "the server's loop did not answer in %d ms",
                 NM_FAULT_SYNC_WAIT_MS);
      return NM_ETIMEOUT;
    }
  }
  uv_mutex_unlock(&s->mu);
  rc = q->rc;
  if (err != NULL && errlen > 0)
    snprintf(err, errlen, "%s", q->err);
  if (result != NULL && q->res.len > 0)
    (void)nm_buf_append(result, q->res.base, q->res.len);
  req_free(q);
  return rc;
}
