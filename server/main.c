/* natsmock: the mock server as a program. The command line follows
 * nats-server where the two overlap, so scripts can start either one. */
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "natsmock.h"
#include "nm_proxy.h"

/* Longest path built for the ports file. */
#define NM_PATH_MAX 4096

typedef struct {
  nm_server_t *srv;
  uv_signal_t sigint, sigterm;
  int trace;
  int debug;
  char ports_file[NM_PATH_MAX];
} app_t;

static void log_line(const char *level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* nats-server's log prefix: "[pid] date time.micros [LVL] ". */
static void log_line(const char *level, const char *fmt, ...) {
  struct timeval tv;
  struct tm tm;
  char ts[32];
  va_list ap;
  gettimeofday(&tv, NULL);
  localtime_r(&tv.tv_sec, &tm);
  strftime(ts, sizeof(ts), "%Y/%m/%d %H:%M:%S", &tm);
  fprintf(stderr, "[%d] %s.%06ld [%s] ", (int)getpid(), ts, (long)tv.tv_usec,
          level);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

static void usage(FILE *f) {
  fprintf(f,
          "Usage: natsmock [options]\n"
          "\n"
          "Server options (as nats-server):\n"
          "  -a, --addr, --net <host>     Bind to host address (default "
          "127.0.0.1)\n"
          "  -p, --port <port>            Use port for clients (-1: random)\n"
          "  -n, --name <name>            Server name (default: server id)\n"
          "  -c, --config <file>          Configuration file (nats-server "
          "syntax subset)\n"
          "      --ports_file_dir <dir>   Write <prog>_<pid>.ports there\n"
          "  -D, --debug                  Enable debugging output\n"
          "  -V, --trace                  Trace the raw protocol\n"
          "  -DV                          Debug and trace\n"
          "\n"
          "Authorization options:\n"
          "      --user <user>            User required for connections\n"
          "      --pass <password>        Password required for connections\n"
          "      --auth <token>           Authorization token required\n"
          "\n"
          "natsmock options:\n"
          "      --faults <file>          Fault rules (JSON) loaded at start\n"
          "      --seed <n>               Seed for queue picks and splits\n"
          "\n"
          "  -h, --help                   Show this message\n"
          "  -v, --version                Show version\n");
}

/* -V: every frame in and out, in nats-server's trace shape. */
static void trace_obs(void *data, const nm_obs_event_t *ev) {
  const char *dir;
  switch (ev->kind) {
  case NM_OBS_OPEN:
    log_line("DBG", "cid:%llu - Client connection created",
             (unsigned long long)ev->conn_id);
    return;
  case NM_OBS_CLOSE:
    log_line("DBG", "cid:%llu - Client connection closed: %s",
             (unsigned long long)ev->conn_id, ev->detail ? ev->detail : "");
    return;
  case NM_OBS_IN:
    if (!((app_t *)data)->trace)
      return;
    dir = "<<-";
    break;
  case NM_OBS_OUT:
    if (!((app_t *)data)->trace)
      return;
    dir = "->>";
    break;
  default:
    log_line("DBG", "cid:%llu - %s %s %s", (unsigned long long)ev->conn_id,
             ev->rule ? ev->rule : "", ev->action ? ev->action : "",
             ev->detail ? ev->detail : "");
    return;
  }
  if (ev->frame) {
    const nm_frame_t *f = ev->frame;
    log_line("TRC", "cid:%llu - %s [%.*s]%s%s", (unsigned long long)ev->conn_id,
             dir, (int)(f->line.n > 1024 ? 1024 : f->line.n), f->line.p,
             ev->action ? " " : "", ev->action ? ev->action : "");
    if (f->op == NM_OP_PUB || f->op == NM_OP_HPUB || f->op == NM_OP_MSG ||
        f->op == NM_OP_HMSG)
      log_line("TRC", "cid:%llu - %s MSG_PAYLOAD: [\"%.*s\"]",
               (unsigned long long)ev->conn_id, dir,
               (int)(f->payload.n > 256 ? 256 : f->payload.n), f->payload.p);
  } else {
    log_line("TRC", "cid:%llu - %s %zu raw bytes",
             (unsigned long long)ev->conn_id, dir, ev->bytes.n);
  }
}

static void on_stopped(nm_server_t *s, void *data) {
  app_t *a = data;
  uv_close((uv_handle_t *)&a->sigint, NULL);
  uv_close((uv_handle_t *)&a->sigterm, NULL);
}

static void on_signal(uv_signal_t *h, int signum) {
  app_t *a = h->data;
  log_line("INF", "Trapped \"%s\" signal",
           signum == SIGINT ? "interrupt" : "terminated");
  uv_signal_stop(&a->sigint);
  uv_signal_stop(&a->sigterm);
  log_line("INF", "Server Exiting..");
  nm_server_stop(a->srv, on_stopped, a);
}

/* nats-server's ports file: {"nats":["nats://HOST:PORT"]}, written whole
 * (temp file + rename) so a reader never sees half of it. */
static int write_ports_file(app_t *a, const char *dir, const char *prog,
                            const char *url) {
  char tmp[NM_PATH_MAX + 8];
  FILE *f;
  snprintf(a->ports_file, sizeof(a->ports_file), "%s/%s_%d.ports", dir, prog,
           (int)getpid());
  snprintf(tmp, sizeof(tmp), "%s.tmp", a->ports_file);
  f = fopen(tmp, "w");
  if (f == NULL)
    return -1;
  fprintf(f, "{\"nats\":[\"%s\"]}", url);
  if (fclose(f) != 0 || rename(tmp, a->ports_file) != 0) {
    unlink(tmp);
    return -1;
  }
  return 0;
}

/* `natsmock --proxy URL ...` runs the proxy (proxy/) instead of the mock;
 * its options are parsed there. */
static int wants_proxy(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--proxy") == 0 || strncmp(argv[i], "--proxy=", 8) == 0)
      return 1;
  return 0;
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"addr", required_argument, 0, 'a'},
      {"net", required_argument, 0, 'a'},
      {"port", required_argument, 0, 'p'},
      {"name", required_argument, 0, 'n'},
      {"server_name", required_argument, 0, 'n'},
      {"config", required_argument, 0, 'c'},
      {"ports_file_dir", required_argument, 0, 1},
      {"user", required_argument, 0, 2},
      {"pass", required_argument, 0, 3},
      {"auth", required_argument, 0, 4},
      {"faults", required_argument, 0, 5},
      {"seed", required_argument, 0, 6},
      {"debug", no_argument, 0, 'D'},
      {"trace", no_argument, 0, 'V'},
      {"help", no_argument, 0, 'h'},
      {"version", no_argument, 0, 'v'},
      {0, 0, 0, 0}};
  nm_server_opts_t o;
  app_t a;
  const char *config = NULL, *ports_dir = NULL;
  char err[512], progbuf[NM_PATH_MAX], url[300];
  int ch, r, i;

  if (wants_proxy(argc, argv))
    return nm_proxy_main(argc, argv);
  memset(&a, 0, sizeof(a));
  nm_server_opts_init(&o);
  /* The config file comes first; flags override it, as in nats-server. */
  for (i = 1; i < argc - 1; i++)
    if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config") ||
        !strcmp(argv[i], "-config"))
      config = argv[i + 1];
  if (config && nm_server_opts_load(&o, config, err, sizeof(err)) < 0) {
    fprintf(stderr, "natsmock: %s: %s\n", config, err);
    return 1;
  }
  /* nats-server spells combined flags -DV and -DVV; map them first. */
  for (i = 1; i < argc; i++)
    if (!strcmp(argv[i], "-DV") || !strcmp(argv[i], "-DVV") ||
        !strcmp(argv[i], "-VD")) {
      o.debug = 1;
      a.trace = 1;
      argv[i] = "-D";
    }
  opterr = 1;
  while ((ch = getopt_long(argc, argv, "a:p:n:c:DVhv", longopts, NULL)) != -1) {
    switch (ch) {
    case 'a':
      o.host = optarg;
      break;
    case 'p':
      o.port = atoi(optarg);
      break;
    case 'n':
      o.server_name = optarg;
      break;
    case 'c':
      break;
    case 1:
      ports_dir = optarg;
      break;
    case 2:
      o.user = optarg;
      break;
    case 3:
      o.pass = optarg;
      break;
    case 4:
      o.token = optarg;
      break;
    case 5:
      o.faults_file = optarg;
      break;
    case 6:
      o.seed = strtoull(optarg, NULL, 0);
      break;
    case 'D':
      o.debug = 1;
      break;
    case 'V':
      a.trace = 1;
      break;
    case 'h':
      usage(stdout);
      nm_server_opts_free(&o);
      return 0;
    case 'v':
      printf("natsmock: v%s (emulates nats-server v2.9.10)\n", NM_VERSION);
      nm_server_opts_free(&o);
      return 0;
    default:
      usage(stderr);
      nm_server_opts_free(&o);
      return 1;
    }
  }
  o.trace = a.trace;
  /* The program logs through its observer, in nats-server's format; the
   * library's own debug lines would repeat it. */
  a.debug = o.debug;
  o.debug = 0;
  if (optind < argc) {
    fprintf(stderr, "natsmock: unexpected argument: %s\n", argv[optind]);
    nm_server_opts_free(&o);
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  r = nm_server_new(uv_default_loop(), &o, &a.srv);
  nm_server_opts_free(&o);
  if (r == 0)
    r = nm_server_start(a.srv);
  if (r < 0) {
    fprintf(stderr, "natsmock: cannot start: %s\n",
            nm_errname(r) ? nm_errname(r) : uv_strerror(r));
    if (a.srv) {
      nm_server_stop(a.srv, NULL, NULL);
      uv_run(uv_default_loop(), UV_RUN_DEFAULT);
      nm_server_free(a.srv);
    }
    return 1;
  }
  if (a.trace || a.debug)
    nm_server_set_observer(a.srv, trace_obs, &a);
  log_line("INF", "Starting natsmock v%s (emulating nats-server 2.9.10)",
           NM_VERSION);
  nm_server_url(a.srv, url, sizeof(url));
  log_line("INF", "Listening for client connections on %s", url + 7);
  log_line("INF", "Server is ready");
  if (ports_dir) {
    snprintf(progbuf, sizeof(progbuf), "%s", argv[0]);
    if (write_ports_file(&a, ports_dir, basename(progbuf), url) < 0)
      log_line("ERR", "cannot write ports file in %s", ports_dir);
  }
  uv_signal_init(uv_default_loop(), &a.sigint);
  uv_signal_init(uv_default_loop(), &a.sigterm);
  a.sigint.data = a.sigterm.data = &a;
  uv_signal_start(&a.sigint, on_signal, SIGINT);
  uv_signal_start(&a.sigterm, on_signal, SIGTERM);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  nm_server_free(a.srv);
  if (a.ports_file[0])
    unlink(a.ports_file);
  uv_loop_close(uv_default_loop());
  return 0;
}
