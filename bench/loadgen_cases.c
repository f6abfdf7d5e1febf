/* The measured cases of the load generator. Each prints one line of
 * key=value pairs on stdout; throughput is published messages per second,
 * cpu_s_per_M the server's CPU seconds per million published messages. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nm_loadgen.h"

/* ---- subjects ---- */

static size_t subj_bench(size_t i, char *b, size_t cap) {
  return (size_t)snprintf(b, cap, "bench");
}
/* 1,000 subjects, each matched by foo.*.bar and foo.> */
#define NM_LG_WILD_SUBJECTS 1000
static size_t subj_wild(size_t i, char *b, size_t cap) {
  return (size_t)snprintf(b, cap, "foo.%zu.bar", i);
}
static size_t subj_lit(size_t i, char *b, size_t cap) {
  return (size_t)snprintf(b, cap, "sub.%zu", i);
}
static size_t subj_under_wild(size_t i, char *b, size_t cap) {
  return (size_t)snprintf(b, cap, "sub.%zu.x", i);
}

/* ---- subscribers: one thread reads them all ---- */

typedef struct {
  nm_lg_conn_t *conns;
  int n;
  uint64_t want; /* MSGs in all */
  double t_end;  /* when the last one arrived */
} readers_t;

static void *reader_main(void *arg) {
  readers_t *r = arg;
  int ep = epoll_create1(0), i;
  uint64_t total = 0;
  char *buf = malloc(NM_LG_READ_SIZE);
  struct epoll_event ev, evs[64];
  if (ep < 0 || buf == NULL)
    nm_lg_die("epoll_create1: %s", strerror(errno));
  for (i = 0; i < r->n; i++) {
    ev.events = EPOLLIN;
    ev.data.ptr = &r->conns[i];
    if (epoll_ctl(ep, EPOLL_CTL_ADD, r->conns[i].fd, &ev) < 0)
      nm_lg_die("epoll_ctl: %s", strerror(errno));
  }
  while (total < r->want) {
    int k = epoll_wait(ep, evs, 64, -1);
    if (k < 0 && errno == EINTR)
      continue;
    if (k < 0)
      nm_lg_die("epoll_wait: %s", strerror(errno));
    for (i = 0; i < k; i++) {
      nm_lg_conn_t *c = evs[i].data.ptr;
      uint64_t before = c->msgs;
      ssize_t n = read(c->fd, buf, NM_LG_READ_SIZE);
      if (n <= 0)
        nm_lg_die("subscriber closed by the server after %llu of %llu "
                  "messages (slow consumer?)",
                  (unsigned long long)total, (unsigned long long)r->want);
      if (nm_lg_scan(c, buf, (size_t)n) < 0)
        nm_lg_die("control line longer than %d bytes", NM_LG_LINE_MAX);
      total += c->msgs - before;
    }
  }
  r->t_end = nm_lg_now();
  free(buf);
  close(ep);
  return NULL;
}

static void subscribe(nm_lg_conn_t *c, const char *subject, const char *queue,
                      int sid) {
  char line[256];
  int n = snprintf(line, sizeof(line), "SUB %s%s%s %d\r\nPING\r\n", subject,
                   queue ? " " : "", queue ? queue : "", sid);
  if (nm_lg_write_all(c->fd, line, (size_t)n) < 0)
    nm_lg_die("SUB: %s", strerror(errno));
  nm_lg_wait_pongs(c, c->pongs + 1);
}

/* Publishes and waits until the readers have everything; prints the
 * figures. */
static int run_measured(pid_t pid, const char *name, readers_t *rd,
                        nm_lg_subject_fn fn, size_t nsubj, long count,
                        size_t size, int port) {
  nm_lg_conn_t pub;
  pthread_t th;
  double t0, t1, c0, c1;
  long hwm;
  nm_lg_open(&pub, port);
  nm_lg_proc_reset_peak(pid);
  if (rd && pthread_create(&th, NULL, reader_main, rd) != 0)
    nm_lg_die("pthread_create");
  c0 = nm_lg_proc_cpu_s(pid);
  t0 = nm_lg_now();
  nm_lg_publish(pub.fd, fn, nsubj, count, size);
  if (nm_lg_write_all(pub.fd, "PING\r\n", 6) < 0)
    nm_lg_die("PING: %s", strerror(errno));
  nm_lg_wait_pongs(&pub, pub.pongs + 1);
  t1 = nm_lg_now();
  if (rd) {
    pthread_join(th, NULL);
    if (rd->t_end > t1)
      t1 = rd->t_end;
  }
  c1 = nm_lg_proc_cpu_s(pid);
  hwm = nm_lg_proc_status_kb(pid, "VmHWM");
  printf("case=%s count=%ld size=%zu secs=%.4f msgs_per_s=%.0f "
         "cpu_s=%.3f cpu_s_per_M=%.4f peak_rss_kb=%ld\n",
         name, count, size, t1 - t0, (double)count / (t1 - t0), c1 - c0,
         (c1 - c0) * 1e6 / (double)count, hwm);
  close(pub.fd);
  return pub.err || (rd && rd->conns->err);
}

int nm_lg_case_pub(pid_t pid, int port, long count, size_t size) {
  return run_measured(pid, "pub", NULL, subj_bench, 1, count, size, port);
}

int nm_lg_case_fan(pid_t pid, int port, long count, size_t size, int nsubs,
                   int queue) {
  nm_lg_conn_t *subs = calloc((size_t)nsubs, sizeof(*subs));
  readers_t rd;
  char name[32];
  int i, rc;
  if (subs == NULL)
    nm_lg_die("out of memory");
  for (i = 0; i < nsubs; i++) {
    nm_lg_open(&subs[i], port);
    subscribe(&subs[i], "bench", queue ? "q" : NULL, 1);
  }
  rd.conns = subs;
  rd.n = nsubs;
  rd.want = (uint64_t)count * (queue ? 1 : (uint64_t)nsubs);
  snprintf(name, sizeof(name), queue ? "queue%d" : "fan%d", nsubs);
  rc = run_measured(pid, name, &rd, subj_bench, 1, count, size, port);
  for (i = 0; i < nsubs; i++)
    close(subs[i].fd);
  free(subs);
  return rc;
}

int nm_lg_case_wild(pid_t pid, int port, long count, size_t size) {
  nm_lg_conn_t subs[2];
  readers_t rd = {subs, 2, 2 * (uint64_t)count, 0};
  int rc;
  nm_lg_open(&subs[0], port);
  subscribe(&subs[0], "foo.*.bar", NULL, 1);
  nm_lg_open(&subs[1], port);
  subscribe(&subs[1], "foo.>", NULL, 1);
  rc = run_measured(pid, "wild", &rd, subj_wild, NM_LG_WILD_SUBJECTS, count,
                    size, port);
  close(subs[0].fd);
  close(subs[1].fd);
  return rc;
}

/* One connection holds nsubs subscriptions (sub.N or sub.N.*); the set-up is
 * timed up to the PONG that follows the last SUB; then every subject is
 * published to in turn. */
int nm_lg_case_subs(pid_t pid, int port, long nsubs, int wild, long count,
                    size_t size) {
  nm_lg_conn_t sub;
  readers_t rd = {&sub, 1, (uint64_t)count, 0};
  size_t cap = (size_t)nsubs * 40 + 16, len = 0;
  char *cmds = malloc(cap), name[32];
  double t0, t1, c0, c1;
  long rss0, rss1;
  long i;
  if (cmds == NULL)
    nm_lg_die("out of memory");
  for (i = 0; i < nsubs; i++)
    len += (size_t)snprintf(cmds + len, cap - len, "SUB sub.%ld%s %ld\r\n", i,
                            wild ? ".*" : "", i + 1);
  len += (size_t)snprintf(cmds + len, cap - len, "PING\r\n");
  nm_lg_open(&sub, port);
  rss0 = nm_lg_proc_status_kb(pid, "VmRSS");
  c0 = nm_lg_proc_cpu_s(pid);
  t0 = nm_lg_now();
  if (nm_lg_write_all(sub.fd, cmds, len) < 0)
    nm_lg_die("SUB: %s", strerror(errno));
  nm_lg_wait_pongs(&sub, sub.pongs + 1);
  t1 = nm_lg_now();
  c1 = nm_lg_proc_cpu_s(pid);
  rss1 = nm_lg_proc_status_kb(pid, "VmRSS");
  free(cmds);
  printf("case=subs_setup kind=%s subs=%ld setup_s=%.4f setup_cpu_s=%.3f "
         "rss_kb=%ld rss_added_kb=%ld\n",
         wild ? "wild" : "literal", nsubs, t1 - t0, c1 - c0, rss1, rss1 - rss0);
  snprintf(name, sizeof(name), "subs_%s", wild ? "wild" : "literal");
  i = run_measured(pid, name, &rd, wild ? subj_under_wild : subj_lit,
                   (size_t)nsubs, count, size, port);
  close(sub.fd);
  return (int)i;
}

/* ---- flush round trip, next to a raw loopback floor ---- */

static void *echo_main(void *arg) {
  int lfd = *(int *)arg, fd = accept(lfd, NULL, NULL);
  char buf[4096];
  ssize_t n;
  while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
    if (nm_lg_write_all(fd, buf, (size_t)n) < 0)
      break;
  if (fd >= 0)
    close(fd);
  return NULL;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Median and p99 of `rounds` PING -> PONG round trips on c, in us. */
static void round_trips(nm_lg_conn_t *c, long rounds, double *med,
                        double *p99) {
  double *t = malloc((size_t)rounds * sizeof(*t));
  long i;
  if (t == NULL)
    nm_lg_die("out of memory");
  for (i = 0; i < rounds; i++) {
    double a = nm_lg_now();
    if (nm_lg_write_all(c->fd, "PING\r\n", 6) < 0)
      nm_lg_die("PING: %s", strerror(errno));
    nm_lg_wait_pongs(c, c->pongs + 1);
    t[i] = (nm_lg_now() - a) * 1e6;
  }
  qsort(t, (size_t)rounds, sizeof(*t), cmp_double);
  *med = t[rounds / 2];
  *p99 = t[(rounds * 99) / 100];
  free(t);
}

/* Median and p99 of `rounds` round trips of "PING\r\n" through the echo
 * thread, in us. */
static void echo_trips(int fd, long rounds, double *med, double *p99) {
  double *t = malloc((size_t)rounds * sizeof(*t));
  long i;
  if (t == NULL)
    nm_lg_die("out of memory");
  for (i = 0; i < rounds; i++) {
    double a = nm_lg_now();
    char b[6];
    size_t got = 0;
    if (nm_lg_write_all(fd, "PING\r\n", 6) < 0)
      nm_lg_die("echo write: %s", strerror(errno));
    while (got < 6) {
      ssize_t r = read(fd, b + got, 6 - got);
      if (r <= 0)
        nm_lg_die("echo read: %s", strerror(errno));
      got += (size_t)r;
    }
    t[i] = (nm_lg_now() - a) * 1e6;
  }
  qsort(t, (size_t)rounds, sizeof(*t), cmp_double);
  *med = t[rounds / 2];
  *p99 = t[(rounds * 99) / 100];
  free(t);
}

/* A loopback listener on an ephemeral port; returns its fd, port in *port. */
static int echo_listener(int *port) {
  struct sockaddr_in a;
  socklen_t al = sizeof(a);
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
      listen(lfd, 1) < 0 || getsockname(lfd, (struct sockaddr *)&a, &al) < 0)
    nm_lg_die("echo listener: %s", strerror(errno));
  *port = ntohs(a.sin_port);
  return lfd;
}

/* Blocks of NM_LG_RTT_BLOCK round trips, the floors and the server in turn,
 * so that a change of load hits all three; the figures are the means of the
 * blocks' medians and p99s.
 *
 * Two floors, both one blocking read and one write on the far side, no event
 * loop: an echo in a process of its own (the floor: the server is a process
 * of its own too, and a wake-up that switches address space costs more than
 * one between threads, markedly on a paravirtualised VM), and an echo thread
 * in this process (what earlier versions called the floor, still printed). */
#define NM_LG_RTT_BLOCK 1000

int nm_lg_case_rtt(int port, long rounds) {
  int tport, pport, tl = echo_listener(&tport), pl = echo_listener(&pport);
  int tfd, pfd, nblk = 0;
  pid_t child, self;
  pthread_t th;
  nm_lg_conn_t srv;
  double fmed = 0, fp99 = 0, tmed = 0, tp99 = 0, smed = 0, sp99 = 0, m, p;
  long done, blk;

  self = getpid();
  child = fork();
  if (child < 0)
    nm_lg_die("fork: %s", strerror(errno));
  if (child == 0) {
    /* Gone with the load generator, even when it dies before connecting
     * (the echo would wait in accept for ever). */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != self)
      _exit(0);
    close(tl);
    echo_main(&pl);
    _exit(0);
  }
  close(pl);
  if (pthread_create(&th, NULL, echo_main, &tl) != 0)
    nm_lg_die("pthread_create");
  tfd = nm_lg_dial(tport);
  pfd = nm_lg_dial(pport);
  if (tfd < 0 || pfd < 0)
    nm_lg_die("echo connect: %s", strerror(errno));
  nm_lg_open(&srv, port);
  for (done = 0; done < rounds; done += blk, nblk++) {
    blk = rounds - done < NM_LG_RTT_BLOCK ? rounds - done : NM_LG_RTT_BLOCK;
    echo_trips(pfd, blk, &m, &p);
    fmed += m;
    fp99 += p;
    echo_trips(tfd, blk, &m, &p);
    tmed += m;
    tp99 += p;
    round_trips(&srv, blk, &m, &p);
    smed += m;
    sp99 += p;
  }
  fmed /= nblk;
  fp99 /= nblk;
  tmed /= nblk;
  tp99 /= nblk;
  smed /= nblk;
  sp99 /= nblk;
  printf("case=rtt rounds=%ld median_us=%.1f p99_us=%.1f floor_median_us=%.1f "
         "floor_p99_us=%.1f median_over_floor=%.2f thread_floor_median_us=%.1f "
         "thread_floor_p99_us=%.1f median_over_thread_floor=%.2f\n",
         rounds, smed, sp99, fmed, fp99, smed / fmed, tmed, tp99, smed / tmed);
  close(tfd);
  close(pfd);
  close(srv.fd);
  pthread_join(th, NULL);
  waitpid(child, NULL, 0);
  close(tl);
  return srv.err;
}

/* ---- idle connections ---- */

int nm_lg_case_idle(pid_t pid, int port, long nconns) {
  nm_lg_conn_t *c = calloc((size_t)nconns, sizeof(*c));
  long i, rss;
  if (c == NULL)
    nm_lg_die("out of memory");
  for (i = 0; i < nconns; i++)
    nm_lg_open(&c[i], port);
  rss = nm_lg_proc_status_kb(pid, "VmRSS");
  printf("case=idle conns=%ld rss_kb=%ld\n", nconns, rss);
  for (i = 0; i < nconns; i++)
    close(c[i].fd);
  free(c);
  return 0;
}

/* ---- start-up to the first INFO byte ---- */

static int free_port(void) {
  struct sockaddr_in a;
  socklen_t al = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0), port;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
      getsockname(fd, (struct sockaddr *)&a, &al) < 0)
    nm_lg_die("free port: %s", strerror(errno));
  port = ntohs(a.sin_port);
  close(fd);
  return port;
}

int nm_lg_case_startup(const char *bin, int runs) {
  double *t = malloc((size_t)runs * sizeof(*t));
  int i;
  if (t == NULL)
    nm_lg_die("out of memory");
  for (i = 0; i < runs; i++) {
    char ps[16], b;
    int port = free_port(), fd = -1;
    double t0 = nm_lg_now(), deadline = t0 + 10;
    pid_t child;
    snprintf(ps, sizeof(ps), "%d", port);
    child = fork();
    if (child == 0) {
      freopen("/dev/null", "w", stdout);
      freopen("/dev/null", "w", stderr);
      execlp(bin, bin, "-a", "127.0.0.1", "-p", ps, (char *)NULL);
      _exit(127);
    }
    /* Another process's listen(2) has no event to wait for: poll connect
     * every 100 us. */
    while ((fd = nm_lg_dial(port)) < 0) {
      if (nm_lg_now() > deadline)
        nm_lg_die("%s did not listen on %d within 10 s", bin, port);
      usleep(100);
    }
    if (read(fd, &b, 1) != 1)
      nm_lg_die("%s sent no INFO", bin);
    t[i] = (nm_lg_now() - t0) * 1e3;
    close(fd);
    kill(child, SIGTERM);
    waitpid(child, NULL, 0);
  }
  qsort(t, (size_t)runs, sizeof(*t), cmp_double);
  printf("case=startup runs=%d median_ms=%.2f min_ms=%.2f\n", runs, t[runs / 2],
         t[0]);
  free(t);
  return 0;
}
