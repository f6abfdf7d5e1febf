/* nm_loadgen: the raw-socket load generator of ci/bench.
 *
 *   nm_loadgen pub     PID PORT COUNT SIZE        publish-only
 *   nm_loadgen fan     PID PORT COUNT SIZE NSUBS  1 -> NSUBS (same subject)
 *   nm_loadgen queue   PID PORT COUNT SIZE NSUBS  one queue group of NSUBS
 *   nm_loadgen wild    PID PORT COUNT SIZE        1,000 subjects foo.N.bar,
 *                                                 subs foo.*.bar and foo.>
 *   nm_loadgen subs    PID PORT NSUBS literal|wild COUNT SIZE
 *                                                 NSUBS subs on one conn
 *   nm_loadgen rtt     PORT ROUNDS                PING->PONG vs loopback floor
 *   nm_loadgen idle    PID PORT NCONNS            RSS with NCONNS connected
 *   nm_loadgen startup BINARY RUNS                exec to first INFO byte
 *
 * PID is the server's process (its CPU and memory come from /proc/PID; 0
 * leaves them out). Prints one line of key=value pairs; exits 0 only when
 * the run was complete (every message counted, no -ERR). A benchmark, not a
 * test. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "nm_loadgen.h"

static long arg_long(const char *s, const char *what, long lo, long hi) {
  char *e;
  long v = strtol(s, &e, 10);
  if (*s == 0 || *e != 0 || v < lo || v > hi)
    nm_lg_die("%s must be an integer from %ld to %ld, not '%s'", what, lo, hi,
              s);
  return v;
}

static void on_alarm(int sig) {
  static const char m[] = "nm_loadgen: case timed out\n";
  (void)sig;
  if (write(2, m, sizeof(m) - 1) < 0) {
  }
  _exit(2);
}

static void usage(void) {
  fputs("usage: nm_loadgen pub|fan|queue|wild PID PORT COUNT SIZE [NSUBS]\n"
        "       nm_loadgen subs PID PORT NSUBS literal|wild COUNT SIZE\n"
        "       nm_loadgen rtt PORT ROUNDS\n"
        "       nm_loadgen idle PID PORT NCONNS\n"
        "       nm_loadgen startup BINARY RUNS\n",
        stderr);
  exit(1);
}

int main(int argc, char **argv) {
  const char *m = argc > 1 ? argv[1] : "";
  struct rlimit rl;
  pid_t pid;
  int port;

  signal(SIGPIPE, SIG_IGN);
  signal(SIGALRM, on_alarm);
  alarm(NM_LG_CASE_TIMEOUT_S);
  /* 1,000 idle connections need more than the usual 1,024 descriptors. */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (strcmp(m, "startup") == 0 && argc == 4)
    return nm_lg_case_startup(argv[2], (int)arg_long(argv[3], "RUNS", 1, 1000));
  if (strcmp(m, "rtt") == 0 && argc == 4)
    return nm_lg_case_rtt((int)arg_long(argv[2], "PORT", 1, 65535),
                          arg_long(argv[3], "ROUNDS", 1, 10000000));
  if (argc < 4)
    usage();
  pid = (pid_t)arg_long(argv[2], "PID", 0, 1L << 30);
  port = (int)arg_long(argv[3], "PORT", 1, 65535);
  if (strcmp(m, "idle") == 0 && argc == 5)
    return nm_lg_case_idle(pid, port,
                           arg_long(argv[4], "NCONNS", 1, NM_LG_MAX_CONNS));
  if (strcmp(m, "subs") == 0 && argc == 8) {
    int wild = strcmp(argv[5], "wild") == 0;
    if (!wild && strcmp(argv[5], "literal") != 0)
      nm_lg_die("subs: literal or wild, not '%s'", argv[5]);
    return nm_lg_case_subs(
        pid, port, arg_long(argv[4], "NSUBS", 1, NM_LG_MAX_SUBS), wild,
        arg_long(argv[6], "COUNT", 1, NM_LG_MAX_COUNT),
        (size_t)arg_long(argv[7], "SIZE", 0, NM_LG_MAX_SIZE));
  }
  if (argc < 6)
    usage();
  {
    long count = arg_long(argv[4], "COUNT", 1, NM_LG_MAX_COUNT);
    size_t size = (size_t)arg_long(argv[5], "SIZE", 0, NM_LG_MAX_SIZE);
    if (strcmp(m, "pub") == 0 && argc == 6)
      return nm_lg_case_pub(pid, port, count, size);
    if (strcmp(m, "wild") == 0 && argc == 6)
      return nm_lg_case_wild(pid, port, count, size);
    if ((strcmp(m, "fan") == 0 || strcmp(m, "queue") == 0) && argc == 7)
      return nm_lg_case_fan(pid, port, count, size,
                            (int)arg_long(argv[6], "NSUBS", 1, 10000),
                            strcmp(m, "queue") == 0);
  }
  usage();
  return 1;
}
