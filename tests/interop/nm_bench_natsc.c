/* The load generator of ci/bench-natsc (called by ci/bench), on libnats
 * (nats.c):
 *
 *   nm_bench_natsc pub     URL COUNT SIZE   publish-only throughput
 *   nm_bench_natsc pubsub  URL COUNT SIZE   pub -> sub 1:1 (two connections)
 *   nm_bench_natsc latency URL COUNT        flush round trips
 *
 * Prints one line of key=value pairs. Exit status 0 only when the run was
 * complete (every message received, every flush answered). */
#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NM_BENCH_MAX_COUNT 100000000L
#define NM_BENCH_MAX_SIZE (1 << 20)
#define NM_BENCH_WAIT_MS 120000 /* bound of every wait */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cond;
  long received;
  long want;
  double last;
} counter_t;

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
                   void *closure) {
  counter_t *c = closure;
  natsMsg_Destroy(msg);
  /* Signal only at the end: one lock per message would be the benchmark. */
  if (__atomic_add_fetch(&c->received, 1, __ATOMIC_RELAXED) == c->want) {
    pthread_mutex_lock(&c->mu);
    c->last = now_s();
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
  }
}

static natsStatus connect_to(natsConnection **nc, const char *url, long count) {
  natsOptions *o = NULL;
  natsStatus s = natsOptions_Create(&o);
  if (s == NATS_OK)
    s = natsOptions_SetURL(o, url);
  if (s == NATS_OK)
    s = natsOptions_SetAllowReconnect(o, false);
  if (s == NATS_OK)
    s = natsOptions_SetMaxPendingMsgs(o, (int)(count + 1024));
  if (s == NATS_OK)
    s = natsConnection_Connect(nc, o);
  natsOptions_Destroy(o);
  return s;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int run_pub(const char *url, long count, int size, int with_sub) {
  natsConnection *pub = NULL, *subc = NULL;
  natsSubscription *sub = NULL;
  counter_t ctr = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0,
                   count, 0};
  char *payload = calloc(1, (size_t)size + 1);
  natsStatus s;
  double t0, t1;
  int rc = 1;

  memset(payload, 'x', (size_t)size);
  s = connect_to(&pub, url, count);
  if (s == NATS_OK && with_sub) {
    s = connect_to(&subc, url, count);
    if (s == NATS_OK)
      s = natsConnection_Subscribe(&sub, subc, "bench", on_msg, &ctr);
    if (s == NATS_OK)
      s = natsSubscription_SetPendingLimits(sub, (int)(count + 1024), 1 << 30);
    if (s == NATS_OK)
      s = natsConnection_FlushTimeout(subc, 5000);
  }
  if (s != NATS_OK) {
    fprintf(stderr, "setup: %s\n", natsStatus_GetText(s));
    goto out;
  }
  t0 = now_s();
  for (long i = 0; i < count && s == NATS_OK; i++)
    s = natsConnection_Publish(pub, "bench", payload, size);
  if (s == NATS_OK)
    s = natsConnection_FlushTimeout(pub, NM_BENCH_WAIT_MS);
  t1 = now_s();
  if (s != NATS_OK) {
    fprintf(stderr, "publish: %s\n", natsStatus_GetText(s));
    goto out;
  }
  if (with_sub) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += NM_BENCH_WAIT_MS / 1000;
    pthread_mutex_lock(&ctr.mu);
    while (__atomic_load_n(&ctr.received, __ATOMIC_RELAXED) < count)
      if (pthread_cond_timedwait(&ctr.cond, &ctr.mu, &ts) != 0)
        break;
    pthread_mutex_unlock(&ctr.mu);
    if (ctr.received != count) {
      fprintf(stderr, "received %ld of %ld\n", ctr.received, count);
      goto out;
    }
    t1 = ctr.last;
  }
  printf("mode=%s count=%ld size=%d seconds=%.4f msgs_per_s=%.0f\n",
         with_sub ? "pubsub" : "pub", count, size, t1 - t0,
         (double)count / (t1 - t0));
  rc = 0;
out:
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(pub);
  natsConnection_Destroy(subc);
  free(payload);
  return rc;
}

static int run_latency(const char *url, long count) {
  natsConnection *nc = NULL;
  double *rtt = calloc((size_t)count, sizeof(double));
  natsStatus s = connect_to(&nc, url, 1);
  int rc = 1;
  if (s != NATS_OK || !rtt) {
    fprintf(stderr, "setup: %s\n", natsStatus_GetText(s));
    goto out;
  }
  for (long i = 0; i < count; i++) {
    double t0 = now_s();
    s = natsConnection_FlushTimeout(nc, 5000);
    if (s != NATS_OK) {
      fprintf(stderr, "flush %ld: %s\n", i, natsStatus_GetText(s));
      goto out;
    }
    rtt[i] = (now_s() - t0) * 1e6;
  }
  qsort(rtt, (size_t)count, sizeof(double), cmp_double);
  printf("mode=latency count=%ld median_us=%.1f p99_us=%.1f\n", count,
         rtt[count / 2], rtt[(count * 99) / 100]);
  rc = 0;
out:
  natsConnection_Destroy(nc);
  free(rtt);
  return rc;
}

int main(int argc, char **argv) {
  long count;
  int size = 16;
  int rc;
  if (argc < 4) {
    fprintf(stderr, "usage: %s pub|pubsub|latency URL COUNT [SIZE]\n", argv[0]);
    return 2;
  }
  count = atol(argv[3]);
  if (argc > 4)
    size = atoi(argv[4]);
  if (count <= 0 || count > NM_BENCH_MAX_COUNT || size < 0 ||
      size > NM_BENCH_MAX_SIZE) {
    fprintf(stderr, "bad COUNT or SIZE\n");
    return 2;
  }
  if (strcmp(argv[1], "pub") == 0)
    rc = run_pub(argv[2], count, size, 0);
  else if (strcmp(argv[1], "pubsub") == 0)
    rc = run_pub(argv[2], count, size, 1);
  else if (strcmp(argv[1], "latency") == 0)
    rc = run_latency(argv[2], count);
  else
    rc = 2;
  nats_CloseAndWait(5000);
  return rc;
}
