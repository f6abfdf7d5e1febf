/* nats.c (libnats 3.4.1) and lame duck mode, run by `nm_interop_run --ldm`:
 *
 *   nm_interop_ldm_natsc URL_A URL_B PID_A
 *
 * connects with the server list A, B (in that order), checks it is on A and
 * that a publish/subscribe round trip works, puts A in lame duck mode
 * (SIGUSR2 to PID_A, what `--signal ldm` sends), then expects the lame duck
 * callback (natsOptions_SetLameDuckModeCB), the reconnect (to B, once A
 * closes it after its grace period), and a round trip on B through the
 * subscription made on A. Every wait is bounded; exit 0 only when all of it
 * happened, each failure printed with what was seen. */
#include <nats/nats.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

/* Bound of each wait (the grace period is 1 s). */
#define LDM_WAIT_MS 15000

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static int g_ldm, g_reconnected, g_disconnected, g_msgs;
static long long g_t0, g_t_ldm, g_t_reconnected;

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void bump(int *counter, long long *when) {
  pthread_mutex_lock(&g_mu);
  (*counter)++;
  if (when)
    *when = now_ms();
  pthread_cond_broadcast(&g_cond);
  pthread_mutex_unlock(&g_mu);
}

static void on_ldm(natsConnection *nc, void *closure) {
  (void)nc;
  (void)closure;
  bump(&g_ldm, &g_t_ldm);
}

static void on_reconnected(natsConnection *nc, void *closure) {
  (void)nc;
  (void)closure;
  bump(&g_reconnected, &g_t_reconnected);
}

static void on_disconnected(natsConnection *nc, void *closure) {
  (void)nc;
  (void)closure;
  bump(&g_disconnected, NULL);
}

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
                   void *closure) {
  (void)nc;
  (void)sub;
  (void)closure;
  natsMsg_Destroy(msg);
  bump(&g_msgs, NULL);
}

/* Waits until *counter reaches n; 0, or -1 after LDM_WAIT_MS. */
static int wait_for(int *counter, int n) {
  struct timespec ts;
  int r = 0;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += LDM_WAIT_MS / 1000;
  pthread_mutex_lock(&g_mu);
  while (*counter < n && r == 0)
    r = pthread_cond_timedwait(&g_cond, &g_mu, &ts);
  r = *counter >= n ? 0 : -1;
  pthread_mutex_unlock(&g_mu);
  return r;
}

/* Publishes on the subject and waits for the subscription to get it. */
static int round_trip(natsConnection *nc, int expect) {
  natsStatus s = natsConnection_PublishString(nc, "ldm.check", "x");
  if (s == NATS_OK)
    s = natsConnection_FlushTimeout(nc, LDM_WAIT_MS);
  if (s != NATS_OK) {
    fprintf(stderr, "FAIL: publish/flush: %s\n", natsStatus_GetText(s));
    return -1;
  }
  if (wait_for(&g_msgs, expect) < 0) {
    fprintf(stderr, "FAIL: message %d not received\n", expect);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  natsOptions *opts = NULL;
  natsConnection *nc = NULL;
  natsSubscription *sub = NULL;
  char url[256];
  const char *servers[2];
  int failed = 0;
  natsStatus s;

  if (argc != 4) {
    fprintf(stderr, "usage: %s URL_A URL_B PID_A\n", argv[0]);
    return 2;
  }
  servers[0] = argv[1];
  servers[1] = argv[2];
  s = natsOptions_Create(&opts);
  if (s == NATS_OK)
    s = natsOptions_SetServers(opts, servers, 2);
  if (s == NATS_OK)
    s = natsOptions_SetNoRandomize(opts, true);
  if (s == NATS_OK)
    s = natsOptions_SetLameDuckModeCB(opts, on_ldm, NULL);
  if (s == NATS_OK)
    s = natsOptions_SetReconnectedCB(opts, on_reconnected, NULL);
  if (s == NATS_OK)
    s = natsOptions_SetDisconnectedCB(opts, on_disconnected, NULL);
  if (s == NATS_OK)
    s = natsOptions_SetReconnectWait(opts, 100);
  if (s == NATS_OK)
    s = natsOptions_SetMaxReconnect(opts, 50);
  if (s == NATS_OK)
    s = natsConnection_Connect(&nc, opts);
  if (s == NATS_OK)
    s = natsConnection_Subscribe(&sub, nc, "ldm.check", on_msg, NULL);
  if (s != NATS_OK) {
    fprintf(stderr, "FAIL: connect/subscribe: %s\n", natsStatus_GetText(s));
    return 1;
  }
  natsConnection_GetConnectedUrl(nc, url, sizeof(url));
  if (strcmp(url, argv[1]) != 0) {
    fprintf(stderr, "FAIL: connected to %s, not A (%s)\n", url, argv[1]);
    failed = 1;
  }
  if (round_trip(nc, 1) < 0)
    failed = 1;

  g_t0 = now_ms();
  if (kill((pid_t)atoi(argv[3]), SIGUSR2) != 0) {
    perror("FAIL: kill SIGUSR2");
    failed = 1;
  }
  if (wait_for(&g_ldm, 1) < 0) {
    fprintf(stderr, "FAIL: no lame duck callback within %d ms\n", LDM_WAIT_MS);
    failed = 1;
  }
  if (wait_for(&g_reconnected, 1) < 0) {
    fprintf(stderr, "FAIL: no reconnect within %d ms (disconnected %d)\n",
            LDM_WAIT_MS, g_disconnected);
    failed = 1;
  } else {
    natsConnection_GetConnectedUrl(nc, url, sizeof(url));
    if (strcmp(url, argv[2]) != 0) {
      fprintf(stderr, "FAIL: reconnected to %s, not B (%s)\n", url, argv[2]);
      failed = 1;
    }
    if (round_trip(nc, 2) < 0)
      failed = 1;
  }
  printf("nats.c: lame duck callback after %lld ms, reconnected after %lld "
         "ms to %s, round trip on B %s\n",
         g_ldm ? g_t_ldm - g_t0 : -1LL,
         g_reconnected ? g_t_reconnected - g_t0 : -1LL, url,
         g_msgs >= 2 ? "ok" : "missing");
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(nc);
  natsOptions_Destroy(opts);
  nats_Close();
  return failed;
}
