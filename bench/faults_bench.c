/* nm_faults_bench: what the fault engine costs the mock server's loop.
 * Not a test, not installed; docs/bench.md has the figures and the command.
 *
 *   nm_faults_bench [SUBSCRIBERS] [MESSAGES] [HOLD_SUBSCRIBERS] [HOLD_COUNT]
 *
 * 1. fan-out: SUBSCRIBERS raw sockets subscribe to "fan"; a phantom publish
 *    of MESSAGES messages is fanned out to all of them, timed from the
 *    request until every subscriber has read every message; once with no
 *    rule, once with a rule installed that picks nothing. The ratio is the
 *    cost of an installed-but-unmatched rule.
 * 2. hold: HOLD_SUBSCRIBERS subscribers, a rule holding every MSG, one
 *    "publish count HOLD_COUNT" action: how long the loop is busy applying
 *    it (the held frames are appended), then releasing them. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "natsmock.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  fprintf(stderr, "nm_faults_bench: %s\n", what);
  exit(1);
}

static int dial(int port) {
  struct sockaddr_in a;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    die("socket");
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
    die("connect");
  return fd;
}

static void send_all(int fd, const char *s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w <= 0)
      die("write");
    s += w;
    n -= (size_t)w;
  }
}

/* Reads from every fd until each has seen `want` bytes (bounded). */
static void drain(int *fds, int n, size_t want, double limit_s) {
  struct pollfd *p = calloc((size_t)n, sizeof(*p));
  size_t *got = calloc((size_t)n, sizeof(*got));
  char buf[65536];
  double end = now_s() + limit_s;
  int left = n, i;
  if (p == NULL || got == NULL)
    die("memory");
  for (i = 0; i < n; i++) {
    p[i].fd = fds[i];
    p[i].events = POLLIN;
  }
  while (left > 0) {
    if (now_s() > end)
      die("timed out waiting for subscribers");
    if (poll(p, (nfds_t)n, 1000) < 0 && errno != EINTR)
      die("poll");
    for (i = 0; i < n; i++) {
      ssize_t r;
      if (!(p[i].revents & POLLIN))
        continue;
      r = read(fds[i], buf, sizeof(buf));
      if (r <= 0)
        die("subscriber closed");
      if (got[i] < want && (got[i] += (size_t)r) >= want)
        left--;
    }
  }
  free(p);
  free(got);
}

/* Subscribes n raw clients to "fan" and waits for each one's PONG. */
static int *subscribers(int port, int n) {
  int *fds = malloc((size_t)n * sizeof(*fds)), i;
  if (fds == NULL)
    die("memory");
  /* One at a time: INFO (length varies), then our PONG. */
  for (i = 0; i < n; i++) {
    char buf[4096];
    size_t len = 0;
    fds[i] = dial(port);
    send_all(fds[i], "CONNECT {\"verbose\":false}\r\nSUB fan 1\r\nPING\r\n");
    for (;;) {
      ssize_t r = read(fds[i], buf + len, sizeof(buf) - 1 - len);
      if (r <= 0) {
        fprintf(stderr, "subscriber %d: %s\n", i,
                r < 0 ? strerror(errno) : "closed");
        die("handshake");
      }
      len += (size_t)r;
      buf[len] = '\0';
      if (len >= 6 && strcmp(buf + len - 6, "PONG\r\n") == 0)
        break;
    }
  }
  return fds;
}

static void apply(nm_server_t *s, const char *doc) {
  char err[256] = "";
  if (nm_server_fault_sync(s, doc, NULL, err, sizeof(err)) != 0) {
    fprintf(stderr, "fault %s: %s\n", doc, err);
    exit(1);
  }
}

static double fanout(nm_server_t *s, int *fds, int n, int msgs) {
  char doc[256];
  /* "MSG fan 1 4\r\nxxxx\r\n" with size 4: 19 bytes a message. */
  size_t want = (size_t)msgs * 19;
  double t0;
  snprintf(doc, sizeof(doc),
           "{\"actions\":[{\"do\":\"publish\",\"subject\":\"fan\","
           "\"count\":%d,\"size\":4}]}",
           msgs);
  t0 = now_s();
  apply(s, doc);
  drain(fds, n, want, 600);
  return now_s() - t0;
}

int main(int argc, char **argv) {
  int subs = argc > 1 ? atoi(argv[1]) : 5000;
  int msgs = argc > 2 ? atoi(argv[2]) : 20;
  int hsubs = argc > 3 ? atoi(argv[3]) : 50;
  int hcount = argc > 4 ? atoi(argv[4]) : 10000;
  nm_server_opts_t o;
  nm_server_t *s;
  double plain, ruled, t0, held_s, rel_s;
  int *fds, i;

  if (subs < 1 || msgs < 1 || msgs > 9999 || hsubs < 1 || hcount < 1 ||
      hcount > 9999)
    die("usage: nm_faults_bench [SUBSCRIBERS] [MESSAGES<10000] "
        "[HOLD_SUBSCRIBERS] [HOLD_COUNT<10000]");
  nm_server_opts_init(&o);
  o.port = 0;
  o.max_connections = subs + hsubs + 10;
  if (nm_server_start_thread(&o, &s) != 0)
    die("server start");

  fds = subscribers(nm_server_port(s), subs);
  (void)fanout(s, fds, subs, msgs); /* warm-up */
  plain = fanout(s, fds, subs, msgs);
  apply(s, "{\"rules\":[{\"dir\":\"out\",\"verb\":\"MSG\",\"subject\":"
           "\"nope\",\"action\":\"drop\"}]}");
  ruled = fanout(s, fds, subs, msgs);
  apply(s, "{\"clear\":true}");
  printf("fan-out to %d subscribers, %d messages: no rule %.1f ms, "
         "unmatched rule %.1f ms, ratio %.2f\n",
         subs, msgs, plain * 1e3, ruled * 1e3, ruled / plain);
  for (i = 0; i < subs; i++)
    close(fds[i]);
  free(fds);

  fds = subscribers(nm_server_port(s), hsubs);
  {
    char doc[256];
    apply(s, "{\"rules\":[{\"id\":\"h\",\"dir\":\"out\",\"verb\":\"MSG\","
             "\"action\":\"hold\"}]}");
    snprintf(doc, sizeof(doc),
             "{\"actions\":[{\"do\":\"publish\",\"subject\":\"fan\","
             "\"count\":%d,\"size\":4}]}",
             hcount);
    t0 = now_s();
    apply(s, doc);
    held_s = now_s() - t0;
    t0 = now_s();
    apply(s, "{\"actions\":[{\"do\":\"release\",\"rule\":\"h\"}]}");
    drain(fds, hsubs, (size_t)hcount * 19, 600);
    rel_s = now_s() - t0;
  }
  printf("hold on MSG to %d subscribers, publish count %d: loop busy %.1f ms "
         "holding, %.1f ms releasing and delivering\n",
         hsubs, hcount, held_s * 1e3, rel_s * 1e3);
  for (i = 0; i < hsubs; i++)
    close(fds[i]);
  free(fds);
  nm_server_stop_thread(s);
  return 0;
}
