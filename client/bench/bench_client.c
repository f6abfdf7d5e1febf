/* Throughput of the nmc client next to libnats (nats.c), against the same
 * nats-server in the same run (ci/bench-client starts the server):
 *  - publish: N publishes then a flush, on one connection;
 *  - pub->sub: N messages from one connection to a subscriber on another.
 * Usage: nm-bench-client URL [N] [SIZE]. Prints one line per measurement
 * and the nmc/libnats ratios. Not a test: numbers depend on the machine. */
#include <nats/nats.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "nm_client.h"

#define BATCH 1000 /* publishes per loop iteration in pub->sub */

static const char *url;
static long n_msgs = 1000000;
static size_t msg_size = 16;
static char *payload;

static double now_s(void) {
  return (double)uv_hrtime() / 1e9;
}

/* ---- nmc ---- */

static uv_loop_t loop;
static nmc_conn_t *pubc, *subc;
static int flushed, connected;
static long received, sent;
static uv_idle_t idle;

static void on_conn(nmc_conn_t *c, int status, void *d) {
  if (status) {
    fprintf(stderr, "nmc connect: %s\n", nmc_strerror(status));
    exit(1);
  }
  connected++;
}

static void on_flush(nmc_conn_t *c, int status, void *d) {
  if (status)
    fprintf(stderr, "nmc flush: %s\n", nmc_strerror(status));
  flushed++;
}

static int on_msg(nmc_sub_t *s, nmc_msg_t *m, void *d) {
  received++;
  return NMC_DONE;
}

static nmc_conn_t *nmc_open(void) {
  nmc_opts_t o;
  nmc_conn_t *c;
  const char *urls[1] = {url};
  nmc_opts_init(&o);
  o.servers = urls;
  o.num_servers = 1;
  o.connected_cb = on_conn;
  o.pending_msgs_limit = (size_t)n_msgs + 1;
  if (nmc_connect(&loop, &o, &c) != 0)
    exit(1);
  return c;
}

static void publish_one(nmc_conn_t *c) {
  int r;
  while ((r = nmc_publish(c, "bench", NULL, payload, msg_size)) == NMC_EBUFFULL)
    uv_run(&loop, UV_RUN_NOWAIT); /* let the write complete */
  if (r) {
    fprintf(stderr, "nmc publish: %s\n", nmc_strerror(r));
    exit(1);
  }
}

static void on_idle(uv_idle_t *h) {
  for (int i = 0; i < BATCH && sent < n_msgs; i++, sent++)
    publish_one(pubc);
  if (sent == n_msgs)
    uv_idle_stop(h);
}

static double nmc_pub(void) {
  double t0;
  flushed = 0;
  t0 = now_s();
  for (long i = 0; i < n_msgs; i++)
    publish_one(pubc);
  nmc_flush(pubc, 60000, on_flush, NULL);
  while (!flushed)
    uv_run(&loop, UV_RUN_ONCE);
  return (double)n_msgs / (now_s() - t0);
}

static double nmc_pubsub(void) {
  nmc_sub_t *s;
  double t0;
  nmc_subscribe(subc, "bench", NULL, on_msg, NULL, &s);
  flushed = 0;
  nmc_flush(subc, 10000, on_flush, NULL);
  while (!flushed)
    uv_run(&loop, UV_RUN_ONCE);
  received = sent = 0;
  t0 = now_s();
  uv_idle_init(&loop, &idle);
  uv_idle_start(&idle, on_idle);
  while (received < n_msgs)
    uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&idle, NULL);
  nmc_unsubscribe(s, 0);
  return (double)n_msgs / (now_s() - t0);
}

/* ---- libnats ---- */

static atomic_long nats_received;

static void nats_on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
                        void *closure) {
  atomic_fetch_add(&nats_received, 1);
  natsMsg_Destroy(msg);
}

static natsConnection *nats_open(void) {
  natsConnection *nc = NULL;
  natsStatus s = natsConnection_ConnectTo(&nc, url);
  if (s != NATS_OK) {
    fprintf(stderr, "libnats connect: %s\n", natsStatus_GetText(s));
    exit(1);
  }
  return nc;
}

static double nats_pub(natsConnection *nc) {
  double t0 = now_s();
  for (long i = 0; i < n_msgs; i++)
    natsConnection_Publish(nc, "bench", payload, (int)msg_size);
  natsConnection_FlushTimeout(nc, 60000);
  return (double)n_msgs / (now_s() - t0);
}

static double nats_pubsub(natsConnection *pc, natsConnection *sc) {
  natsSubscription *sub = NULL;
  double t0, deadline;
  natsConnection_Subscribe(&sub, sc, "bench", nats_on_msg, NULL);
  natsSubscription_SetPendingLimits(sub, -1, -1);
  natsConnection_Flush(sc);
  atomic_store(&nats_received, 0);
  t0 = now_s();
  deadline = t0 + 120;
  for (long i = 0; i < n_msgs; i++)
    natsConnection_Publish(pc, "bench", payload, (int)msg_size);
  natsConnection_Flush(pc);
  while (atomic_load(&nats_received) < n_msgs && now_s() < deadline)
    nats_Sleep(1);
  t0 = (double)atomic_load(&nats_received) / (now_s() - t0);
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
  return t0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(*v), cmp_double);
  return v[n / 2];
}

#define ROUNDS 3

int main(int argc, char **argv) {
  natsConnection *np, *ns;
  double a[ROUNDS], b[ROUNDS], c[ROUNDS], d[ROUNDS];

  if (argc < 2) {
    fprintf(stderr, "usage: %s URL [N] [SIZE]\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  url = argv[1];
  if (argc > 2)
    n_msgs = atol(argv[2]);
  if (argc > 3)
    msg_size = (size_t)atol(argv[3]);
  payload = malloc(msg_size + 1);
  memset(payload, 'x', msg_size);

  uv_loop_init(&loop);
  pubc = nmc_open();
  subc = nmc_open();
  while (connected < 2)
    uv_run(&loop, UV_RUN_ONCE);
  np = nats_open();
  ns = nats_open();
  /* Interleaved rounds, medians: the machine is shared, so one run of each
   * side back to back would mostly measure the neighbours. */
  for (int r = 0; r < ROUNDS; r++) {
    a[r] = nmc_pub();
    c[r] = nats_pub(np);
    b[r] = nmc_pubsub();
    d[r] = nats_pubsub(np, ns);
  }
  nmc_close(pubc);
  nmc_close(subc);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  natsConnection_Destroy(np);
  natsConnection_Destroy(ns);
  nats_Close();

  printf("messages: %ld x %zu bytes, median of %d interleaved rounds\n", n_msgs,
         msg_size, ROUNDS);
  printf("publish   nmc %10.0f msg/s   libnats %10.0f msg/s   ratio %.2f\n",
         median(a, ROUNDS), median(c, ROUNDS),
         median(a, ROUNDS) / median(c, ROUNDS));
  printf("pub->sub  nmc %10.0f msg/s   libnats %10.0f msg/s   ratio %.2f\n",
         median(b, ROUNDS), median(d, ROUNDS),
         median(b, ROUNDS) / median(d, ROUNDS));
  free(payload);
  return 0;
}
