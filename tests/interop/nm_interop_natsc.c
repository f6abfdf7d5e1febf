/* A real client against a server: nats.c (libnats 3.4.1) connects to the URL
 * given, subscribes (plain, wildcard, queue), publishes NM_INTEROP_COUNT
 * sequenced messages, flushes and checks that every subscriber got every
 * message in order, then does request/reply (and a request nobody answers),
 * drains a subscription whose handler is slow, and drains the connection.
 * Exit status 0 only when everything was right; each failure is printed. */
#include <nats/nats.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NM_INTEROP_COUNT 100000
#define NM_INTEROP_REQUESTS 100
#define NM_INTEROP_SLOW 300      /* messages through a slow handler */
#define NM_INTEROP_SLOW_US 500   /* the slow handler's work per message */
#define NM_INTEROP_WAIT_MS 60000 /* bound of every wait */

/* One subscription's view of a sequenced stream. */
typedef struct {
  const char *name;
  pthread_mutex_t mu;
  pthread_cond_t cond;
  long next;      /* the sequence number expected next */
  long received;  /* messages seen */
  long misorder;  /* messages that were not `next` */
  int slow;       /* the handler takes NM_INTEROP_SLOW_US per message */
  int after_done; /* messages seen after the drain completed */
  int done;
} stream_t;

static int g_failed;

static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "FAIL: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  g_failed = 1;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void stream_init(stream_t *s, const char *name, int slow) {
  memset(s, 0, sizeof(*s));
  s->name = name;
  s->next = 1;
  s->slow = slow;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cond, NULL);
}

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
                   void *closure) {
  stream_t *s = closure;
  long seq = strtol(natsMsg_GetData(msg), NULL, 10);
  if (s->slow)
    usleep(NM_INTEROP_SLOW_US); /* the point: a handler that takes time */
  pthread_mutex_lock(&s->mu);
  if (s->done)
    s->after_done++;
  if (seq != s->next)
    s->misorder++;
  s->next = seq + 1;
  s->received++;
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->mu);
  natsMsg_Destroy(msg);
}

/* Waits until the stream has `count` messages; returns 0 or -1. */
static int stream_wait(stream_t *s, long count) {
  long long deadline = now_ms() + NM_INTEROP_WAIT_MS;
  int rc = 0;
  pthread_mutex_lock(&s->mu);
  while (s->received < count) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 1;
    pthread_cond_timedwait(&s->cond, &s->mu, &ts);
    if (now_ms() > deadline) {
      rc = -1;
      break;
    }
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

static void stream_check(stream_t *s, long count) {
  pthread_mutex_lock(&s->mu);
  if (s->received != count || s->misorder != 0)
    fail("%s: received %ld of %ld, %ld out of order", s->name, s->received,
         count, s->misorder);
  else
    printf("ok: %s received %ld in order\n", s->name, s->received);
  pthread_mutex_unlock(&s->mu);
}

static void on_request(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
                       void *closure) {
  char reply[128];
  snprintf(reply, sizeof(reply), "echo:%.*s", natsMsg_GetDataLength(msg),
           natsMsg_GetData(msg));
  natsConnection_PublishString(nc, natsMsg_GetReply(msg), reply);
  natsMsg_Destroy(msg);
}

static pthread_mutex_t g_closed_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_closed_cond = PTHREAD_COND_INITIALIZER;
static int g_closed;

static void on_closed(natsConnection *nc, void *closure) {
  pthread_mutex_lock(&g_closed_mu);
  g_closed = 1;
  pthread_cond_broadcast(&g_closed_cond);
  pthread_mutex_unlock(&g_closed_mu);
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus err,
                     void *closure) {
  fail("async error: %s", natsStatus_GetText(err));
}

static int publish_seq(natsConnection *nc, const char *subj, long count) {
  char buf[32];
  for (long i = 1; i <= count; i++) {
    int n = snprintf(buf, sizeof(buf), "%ld", i);
    natsStatus s = natsConnection_Publish(nc, subj, buf, n + 1); /* with NUL */
    if (s != NATS_OK) {
      fail("publish %ld on %s: %s", i, subj, natsStatus_GetText(s));
      return -1;
    }
  }
  return 0;
}

#define NM_CHECK(call)                                                         \
  do {                                                                         \
    natsStatus s_ = (call);                                                    \
    if (s_ != NATS_OK) {                                                       \
      fail("%s: %s", #call, natsStatus_GetText(s_));                           \
      goto out;                                                                \
    }                                                                          \
  } while (0)

int main(int argc, char **argv) {
  natsOptions *opts = NULL;
  natsConnection *nc = NULL;
  natsSubscription *plain = NULL, *wild = NULL, *queue = NULL, *svc = NULL;
  natsSubscription *slow = NULL, *slow_conn = NULL;
  stream_t s_plain, s_wild, s_queue, s_slow, s_slow_conn;
  long long t0;

  if (argc != 2) {
    fprintf(stderr, "usage: %s nats://HOST:PORT\n", argv[0]);
    return 2;
  }
  stream_init(&s_plain, "plain sub seq.plain", 0);
  stream_init(&s_wild, "wildcard sub seq.*", 0);
  stream_init(&s_queue, "queue sub seq.plain/q", 0);
  stream_init(&s_slow, "slow sub (drained)", 1);
  stream_init(&s_slow_conn, "slow sub (connection drained)", 1);

  NM_CHECK(natsOptions_Create(&opts));
  NM_CHECK(natsOptions_SetURL(opts, argv[1]));
  NM_CHECK(natsOptions_SetTimeout(opts, 5000));
  NM_CHECK(natsOptions_SetAllowReconnect(opts, false));
  /* Room for the whole stream: the default 65536 could drop messages while
   * the publisher outruns the handlers, which would be our fault, not the
   * server's. */
  NM_CHECK(natsOptions_SetMaxPendingMsgs(opts, 4 * NM_INTEROP_COUNT));
  NM_CHECK(natsOptions_SetClosedCB(opts, on_closed, NULL));
  NM_CHECK(natsOptions_SetErrorHandler(opts, on_error, NULL));
  NM_CHECK(natsConnection_Connect(&nc, opts));
  printf("ok: connected to %s\n", argv[1]);

  NM_CHECK(natsConnection_Subscribe(&plain, nc, "seq.plain", on_msg, &s_plain));
  NM_CHECK(natsConnection_Subscribe(&wild, nc, "seq.*", on_msg, &s_wild));
  NM_CHECK(natsConnection_QueueSubscribe(&queue, nc, "seq.plain", "q", on_msg,
                                         &s_queue));
  t0 = now_ms();
  if (publish_seq(nc, "seq.plain", NM_INTEROP_COUNT) != 0)
    goto out;
  NM_CHECK(natsConnection_FlushTimeout(nc, NM_INTEROP_WAIT_MS));
  printf("ok: published and flushed %d in %lld ms\n", NM_INTEROP_COUNT,
         now_ms() - t0);
  if (stream_wait(&s_plain, NM_INTEROP_COUNT) ||
      stream_wait(&s_wild, NM_INTEROP_COUNT) ||
      stream_wait(&s_queue, NM_INTEROP_COUNT))
    fail("timed out waiting for the stream");
  stream_check(&s_plain, NM_INTEROP_COUNT);
  stream_check(&s_wild, NM_INTEROP_COUNT);
  stream_check(&s_queue, NM_INTEROP_COUNT);
  printf("ok: stream received in %lld ms\n", now_ms() - t0);

  /* Request/reply, then a request nobody answers (no responders). */
  NM_CHECK(natsConnection_Subscribe(&svc, nc, "svc.echo", on_request, NULL));
  NM_CHECK(natsConnection_FlushTimeout(nc, 5000));
  for (int i = 0; i < NM_INTEROP_REQUESTS; i++) {
    natsMsg *reply = NULL;
    char req[32], want[48];
    snprintf(req, sizeof(req), "req-%d", i);
    snprintf(want, sizeof(want), "echo:%s", req);
    NM_CHECK(natsConnection_RequestString(&reply, nc, "svc.echo", req, 5000));
    if (strcmp(natsMsg_GetData(reply), want) != 0)
      fail("request %d: reply '%s'", i, natsMsg_GetData(reply));
    natsMsg_Destroy(reply);
  }
  printf("ok: %d requests answered\n", NM_INTEROP_REQUESTS);
  {
    natsMsg *reply = NULL;
    natsStatus s =
        natsConnection_RequestString(&reply, nc, "svc.nobody", "x", 5000);
    if (s != NATS_NO_RESPONDERS)
      fail("request to nobody: %s, not NATS_NO_RESPONDERS",
           natsStatus_GetText(s));
    else
      printf("ok: request to nobody gets no responders\n");
    natsMsg_Destroy(reply);
  }

  /* Subscription drain with a slow handler: every message already sent to
   * us is handled before the drain completes, none after. */
  NM_CHECK(natsConnection_Subscribe(&slow, nc, "slow.sub", on_msg, &s_slow));
  NM_CHECK(natsConnection_FlushTimeout(nc, 5000));
  if (publish_seq(nc, "slow.sub", NM_INTEROP_SLOW) != 0)
    goto out;
  NM_CHECK(natsConnection_FlushTimeout(nc, 5000));
  NM_CHECK(natsSubscription_Drain(slow));
  NM_CHECK(natsSubscription_WaitForDrainCompletion(slow, NM_INTEROP_WAIT_MS));
  NM_CHECK(natsSubscription_DrainCompletionStatus(slow));
  pthread_mutex_lock(&s_slow.mu);
  s_slow.done = 1;
  if (s_slow.received != NM_INTEROP_SLOW || s_slow.misorder)
    fail("sub drain completed after %ld of %d (%ld out of order)",
         s_slow.received, NM_INTEROP_SLOW, s_slow.misorder);
  pthread_mutex_unlock(&s_slow.mu);
  /* After the drain the server must not deliver on that subject to us. */
  NM_CHECK(natsConnection_PublishString(nc, "slow.sub", "999999"));
  NM_CHECK(natsConnection_FlushTimeout(nc, 5000));
  pthread_mutex_lock(&s_slow.mu);
  if (s_slow.after_done)
    fail("%d message(s) handled after the sub drain completed",
         s_slow.after_done);
  else
    printf("ok: sub drained: %ld handled before completion, none after\n",
           s_slow.received);
  pthread_mutex_unlock(&s_slow.mu);

  /* Connection drain: in-flight messages are handled, then it closes. */
  NM_CHECK(natsConnection_Subscribe(&slow_conn, nc, "slow.conn", on_msg,
                                    &s_slow_conn));
  NM_CHECK(natsConnection_FlushTimeout(nc, 5000));
  if (publish_seq(nc, "slow.conn", NM_INTEROP_SLOW) != 0)
    goto out;
  NM_CHECK(natsConnection_FlushTimeout(nc, 5000));
  NM_CHECK(natsConnection_DrainTimeout(nc, NM_INTEROP_WAIT_MS));
  {
    long long deadline = now_ms() + NM_INTEROP_WAIT_MS;
    pthread_mutex_lock(&g_closed_mu);
    while (!g_closed && now_ms() < deadline) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_sec += 1;
      pthread_cond_timedwait(&g_closed_cond, &g_closed_mu, &ts);
    }
    if (!g_closed)
      fail("connection drain: never closed");
    pthread_mutex_unlock(&g_closed_mu);
  }
  pthread_mutex_lock(&s_slow_conn.mu);
  if (s_slow_conn.received != NM_INTEROP_SLOW || s_slow_conn.misorder)
    fail("connection drain closed after %ld of %d handled",
         s_slow_conn.received, NM_INTEROP_SLOW);
  else
    printf("ok: connection drained: %ld handled, then closed\n",
           s_slow_conn.received);
  pthread_mutex_unlock(&s_slow_conn.mu);
  if (!natsConnection_IsClosed(nc))
    fail("connection not closed after drain");

out:
  natsSubscription_Destroy(plain);
  natsSubscription_Destroy(wild);
  natsSubscription_Destroy(queue);
  natsSubscription_Destroy(svc);
  natsSubscription_Destroy(slow);
  natsSubscription_Destroy(slow_conn);
  natsConnection_Destroy(nc);
  natsOptions_Destroy(opts);
  nats_CloseAndWait(5000);
  printf("%s\n", g_failed ? "FAILED" : "PASSED");
  return g_failed ? 1 : 0;
}
