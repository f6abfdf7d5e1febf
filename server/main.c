/* natsmock: the mock server as a program, a drop-in for nats-server 2.9.10
 * in test suites. The command line is nats-server's (cli_flags.c): what
 * natsmock implements behaves as there, what it does not is refused at start
 * with exit 1 and a one-line reason. docs/server.md lists every flag. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_flags.h"
#include "cli_log.h"
#include "cli_signal.h"
#include "natsmock.h"
#include "nm_buf.h"
#include "nm_monitor.h"
#include "nm_proxy.h"
#include "nm_redact.h"
#include "nm_stdfds.h"
#include "reload.h"

#define log_line nm_log

/* Longest path built for the ports file. */
#define NM_PATH_MAX 4096
/* nats-server's port when none is given. */
#define NM_DEFAULT_PORT 4222

typedef struct {
  nm_server_t *srv;
  nm_monitor_t *mon; /* -m / http: monitoring (monitor/) */
  uv_signal_t sigint, sigterm, sigusr1, sigusr2, sighup;
  int trace;
  int debug;
  int exit_code;
  int in_ldm;
  int64_t max_traced;
  char ports_file[NM_PATH_MAX];
  /* For a config reload (SIGHUP): the command line, the -c file, and the
   * options the server runs with (nm_server_opts_baseline'd, the bound
   * port). */
  nm_cli_t cli;
  const char *config;
  const char *prog;
  nm_server_opts_t opts;
  char url[300], mon_url[300];
} app_t;

static void usage(FILE *f) {
  fprintf(f,
          "\n"
          "Usage: natsmock [options]\n"
          "\n"
          "nats-server 2.9.10's command line; flags take one or two dashes.\n"
          "Refused at start (exit 1): tls, clustering, jetstream, syslog,\n"
          "https monitoring, profiling, log_size_limit (docs/server.md).\n"
          "\n"
          "Server Options:\n"
          "    -a, --addr, --net <host>         Bind to host address "
          "(default: 127.0.0.1)\n"
          "    -p, --port <port>                Use port for clients "
          "(default: 4222, -1: random)\n"
          "    -n, --name\n"
          "        --server_name <server_name>  Server name (default: auto)\n"
          "    -P, --pid <file>                 File to store PID\n"
          "    -m, --http_port <port>           Use port for http monitoring\n"
          "    -c, --config <file>              Configuration file\n"
          "    -t                               Test configuration and exit\n"
          "    -sl,--signal <signal>[=<pid>]    Send signal to natsmock "
          "process (ldm, stop, quit, term, reopen, reload)\n"
          "        --ports_file_dir <dir>       Creates a ports file in the "
          "specified directory (<executable_name>_<pid>.ports).\n"
          "\n"
          "Logging Options:\n"
          "    -l, --log <file>                 File to redirect log output\n"
          "    -T, --logtime                    Timestamp log entries "
          "(default: true)\n"
          "    -D, --debug                      Enable debugging output\n"
          "    -V, --trace                      Trace the raw protocol\n"
          "    -VV                              Verbose trace\n"
          "    -DV                              Debug and trace\n"
          "    -DVV                             Debug and verbose trace\n"
          "        --max_traced_msg_len <len>   Maximum printable length for "
          "traced messages (default: unlimited)\n"
          "\n"
          "Authorization Options:\n"
          "        --user <user>                User required for connections\n"
          "        --pass <password>            Password required for "
          "connections\n"
          "        --auth <token>               Authorization token required "
          "for connections\n"
          "\n"
          "natsmock Options:\n"
          "        --faults <file>              Fault rules (JSON) loaded at "
          "start\n"
          "        --seed <n>                   Seed for queue picks and "
          "splits\n"
          "        --no_mock_control            No $MOCK requests\n"
          "        --max_held <bytes>           Bytes fault rules may hold, "
          "all connections (128 MiB)\n"
          "\n"
          "Common Options:\n"
          "    -h, --help                       Show this message\n"
          "    -v, --version                    Show version\n");
}

static void print_version(void) {
  printf("natsmock: v%s (emulates nats-server v2.9.10)\n", NM_VERSION);
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
    nm_slice_t text = f->line;
    nm_buf_t red;
    /* A CONNECT's password and token are written [REDACTED] (and the line
     * is left out when that fails). */
    nm_buf_init(&red, 0);
    if (f->op == NM_OP_CONNECT) {
      if (nm_redact_append(&red, f->line.p, f->line.n) == 0 && red.base)
        text = (nm_slice_t){red.base, red.len};
      else
        text.p = NULL;
    }
    if (text.p)
      log_line("TRC", "cid:%llu - %s [%.*s]%s%s",
               (unsigned long long)ev->conn_id, dir,
               (int)(text.n > 1024 ? 1024 : text.n), text.p,
               ev->action ? " " : "", ev->action ? ev->action : "");
    nm_buf_free(&red);
    if (f->op == NM_OP_PUB || f->op == NM_OP_HPUB || f->op == NM_OP_MSG ||
        f->op == NM_OP_HMSG) {
      /* Whole payloads, as nats-server, unless --max_traced_msg_len. */
      int64_t lim = ((app_t *)data)->max_traced;
      size_t n = f->payload.n;
      int cut = lim > 0 && n > (size_t)lim;
      if (cut)
        n = (size_t)lim;
      log_line("TRC", "cid:%llu - %s MSG_PAYLOAD: [\"%.*s\"%s]",
               (unsigned long long)ev->conn_id, dir, (int)n, f->payload.p,
               cut ? "..." : "");
    }
  } else {
    log_line("TRC", "cid:%llu - %s %zu raw bytes",
             (unsigned long long)ev->conn_id, dir, ev->bytes.n);
  }
}

static void on_stopped(nm_server_t *s, void *data) {
  app_t *a = data;
  (void)s;
  uv_close((uv_handle_t *)&a->sigint, NULL);
  uv_close((uv_handle_t *)&a->sigterm, NULL);
  uv_close((uv_handle_t *)&a->sigusr1, NULL);
  uv_close((uv_handle_t *)&a->sigusr2, NULL);
  uv_close((uv_handle_t *)&a->sighup, NULL);
}

static void stop_all(app_t *a) {
  uv_signal_stop(&a->sigint);
  uv_signal_stop(&a->sigterm);
  uv_signal_stop(&a->sigusr2);
  uv_signal_stop(&a->sighup);
  log_line("INF", "Initiating Shutdown...");
  nm_monitor_stop(a->mon, NULL, NULL);
  a->mon = NULL;
  nm_server_stop(a->srv, on_stopped, a);
}

/* Lame duck mode is over (every client closed): shut down, exit 0. */
static void on_ldm_done(nm_server_t *s, void *data) {
  (void)s;
  stop_all(data);
}

/* SIGUSR2 (or --signal ldm): lame duck mode, as nats-server. */
static void on_ldm(uv_signal_t *h, int signum) {
  app_t *a = h->data;
  (void)signum;
  if (a->debug)
    log_line("DBG", "Trapped \"user defined signal 2\" signal");
  if (a->in_ldm)
    return;
  a->in_ldm = 1;
  log_line("INF", "Entering lame duck mode, stop accepting new clients");
  nm_server_lame_duck(a->srv, on_ldm_done, a);
}

static void on_signal(uv_signal_t *h, int signum) {
  app_t *a = h->data;
  if (a->debug)
    log_line("DBG", "Trapped \"%s\" signal",
             signum == SIGINT ? "interrupt" : "terminated");
  /* nats-server ignores SIGTERM in lame duck mode (it is shutting down
   * already), exits 1 on it otherwise, 0 on SIGINT. */
  if (signum == SIGTERM && a->in_ldm)
    return;
  a->exit_code = signum == SIGTERM ? 1 : 0;
  stop_all(a);
}

/* SIGUSR1: reopen the -l file (log rotation). */
static void on_reopen(uv_signal_t *h, int signum) {
  char err[512];
  (void)h;
  (void)signum;
  if (nm_log_reopen(err, sizeof(err)) < 0)
    log_line("ERR", "Error reopening log file: %s", err);
  else
    log_line("INF", "File log re-opened");
}

/* nats-server's ports file: {"nats":["nats://HOST:PORT"]}, with
 * "monitoring":["http://HOST:PORT"] when monitoring is on, written whole
 * (temp file + rename) so a reader never sees half of it. */
static int write_ports_file(app_t *a, const char *dir, const char *prog,
                            const char *url, const char *mon_url, char *err,
                            size_t errlen) {
  char tmp[NM_PATH_MAX + 8], eb[128];
  FILE *f;
  snprintf(a->ports_file, sizeof(a->ports_file), "%s/%s_%d.ports", dir, prog,
           (int)getpid());
  snprintf(tmp, sizeof(tmp), "%s.tmp", a->ports_file);
  f = fopen(tmp, "w");
  if (f == NULL) {
    snprintf(err, errlen, "open %s: %s", a->ports_file,
             nm_go_strerror(errno, eb, sizeof(eb)));
    return -1;
  }
  if (mon_url)
    fprintf(f, "{\"nats\":[\"%s\"],\"monitoring\":[\"%s\"]}", url, mon_url);
  else
    fprintf(f, "{\"nats\":[\"%s\"]}", url);
  if (fclose(f) != 0 || rename(tmp, a->ports_file) != 0) {
    snprintf(err, errlen, "write %s: %s", a->ports_file,
             nm_go_strerror(errno, eb, sizeof(eb)));
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

/* The pid as text, no newline, mode 0660: nats-server's pid file (its
 * errors as Go's os.WriteFile words them: "open ..." or "write ..."). */
static int write_pid_file(const char *path, char *err, size_t errlen) {
  char eb[128], txt[32];
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0660);
  int n = snprintf(txt, sizeof(txt), "%d", (int)getpid());
  if (fd < 0 || write(fd, txt, (size_t)n) != n) {
    snprintf(err, errlen, "%s %s: %s", fd < 0 ? "open" : "write", path,
             nm_go_strerror(errno, eb, sizeof(eb)));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  close(fd);
  return 0;
}

/* A flag that turns on something natsmock lacks: a true bool, a non-empty
 * string, a non-zero number (-tls=false or -routes "" ask for nothing). */
static int flag_enables(const nm_flag_set_t *fs) {
  if (fs->def->kind == NM_FLAG_STRING)
    return fs->value[0] != 0;
  return fs->num != 0;
}

/* Flags over the config file's settings, as nats-server's second pass. */
static void apply_flags(const nm_cli_t *cli, nm_server_opts_t *o,
                        int64_t *port) {
  for (int i = 0; i < cli->nset; i++) {
    const nm_flag_set_t *fs = &cli->set[i];
    switch (fs->def->id) {
    case NM_F_PORT:
      *port = fs->num;
      break;
    case NM_F_NAME:
      o->server_name = fs->value;
      break;
    case NM_F_ADDR:
      o->host = fs->value;
      break;
    case NM_F_DEBUG:
      o->debug = (int)fs->num;
      break;
    case NM_F_TRACE:
    case NM_F_VV:
      o->trace = (int)fs->num;
      break;
    case NM_F_DV:
    case NM_F_DVV:
      o->debug = o->trace = (int)fs->num;
      break;
    case NM_F_LOGTIME:
      o->logtime = (int)fs->num;
      break;
    case NM_F_USER:
      o->user = fs->value;
      break;
    case NM_F_PASS:
      o->pass = fs->value;
      break;
    case NM_F_AUTH:
      o->token = fs->value;
      break;
    case NM_F_HTTP_PORT:
      o->http_port = (int)fs->num;
      break;
    case NM_F_PID:
      o->pid_file = fs->value;
      break;
    case NM_F_PORTS_FILE_DIR:
      o->ports_file_dir = fs->value;
      break;
    case NM_F_LOG:
      o->log_file = fs->value;
      break;
    case NM_F_MAX_TRACED_MSG_LEN:
      o->max_traced_msg_len = fs->num;
      break;
    case NM_F_FAULTS:
      o->faults_file = fs->value;
      break;
    case NM_F_SEED:
      o->seed = (uint64_t)fs->num;
      break;
    /* natsmock's own: the fault engine's settings (docs/faults.md). */
    case NM_F_NO_MOCK_CONTROL:
      o->no_mock_control = fs->num != 0;
      break;
    case NM_F_MAX_HELD:
      o->max_held = fs->num;
      break;
    default:
      break;
    }
  }
}

/* A boolean flag given and true. */
static int flag_on(const nm_cli_t *cli, int id) {
  const nm_flag_set_t *fs = nm_cli_last(cli, id);
  return fs != NULL && fs->num != 0;
}

/* Exit 1 once the options are read: what was made so far is undone (the
 * server stopped and freed, the options' strings, the -l file). */
static int fail(app_t *a, nm_server_opts_t *o) {
  if (a->srv) {
    nm_server_stop(a->srv, NULL, NULL);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    nm_server_free(a->srv);
  }
  nm_server_opts_free(o);
  nm_log_close();
  return 1;
}

/* nats-server's port: 0 means its default, -1 a random one (0 here). */
static int64_t baseline_port(int64_t port) {
  return port == 0 ? NM_DEFAULT_PORT : port == -1 ? 0 : port;
}

/* The options as nats-server reads them, at start and on a reload: its
 * defaults, then the -c file (errors in err: -1). The flags go over them
 * next (apply_flags). */
static int read_config(const char *config, nm_server_opts_t *o, char *err,
                       size_t errlen) {
  nm_server_opts_init(o);
  return config && nm_server_opts_load(o, config, err, errlen) < 0 ? -1 : 0;
}

static void reload_log(void *data, const char *level, const char *line) {
  (void)data;
  log_line(level, "%s", line);
}

/* What the program itself runs after a reload: trace and debug, log time,
 * the log file, the pid file, the ports file (nats-server's Apply of the
 * same options). */
static void reload_program(app_t *a, const nm_server_opts_t *n) {
  const nm_server_opts_t *o = &a->opts;
  char err[NM_PATH_MAX + 512];
  a->trace = n->trace;
  a->debug = n->debug;
  a->max_traced = n->max_traced_msg_len;
  nm_server_set_observer(a->srv, a->trace || a->debug ? trace_obs : NULL,
                         a->trace || a->debug ? a : NULL);
  nm_log_set_time(n->logtime);
  if (strcmp(o->log_file ? o->log_file : "", n->log_file ? n->log_file : "")) {
    if (n->log_file == NULL || n->log_file[0] == 0)
      nm_log_close();
    else if (nm_log_open(n->log_file, err, sizeof(err)) < 0)
      log_line("ERR", "Error opening log file: %s", err);
  }
  if (n->pid_file && n->pid_file[0] &&
      strcmp(o->pid_file ? o->pid_file : "", n->pid_file) &&
      write_pid_file(n->pid_file, err, sizeof(err)) < 0)
    log_line("ERR", "Failed to write pidfile: %s", err);
  if (strcmp(o->ports_file_dir ? o->ports_file_dir : "",
             n->ports_file_dir ? n->ports_file_dir : "")) {
    if (a->ports_file[0])
      unlink(a->ports_file);
    a->ports_file[0] = 0;
    if (n->ports_file_dir && n->ports_file_dir[0] &&
        write_ports_file(a, n->ports_file_dir, a->prog, a->url,
                         a->mon ? a->mon_url : NULL, err, sizeof(err)) < 0) {
      log_line("ERR", "Error writing ports file (%s): %s", a->ports_file, err);
      a->ports_file[0] = 0;
    }
  }
}

/* A config reload, as nats-server's: the file and the flags read as at
 * start, then the server compares and applies them (reload.c), then the
 * program its own parts. A failure changes nothing. */
static int reload(app_t *a, char *err, size_t errlen) {
  nm_server_opts_t next;
  int64_t port;
  if (a->config == NULL) {
    snprintf(err, errlen,
             "can only reload config when a file is provided "
             "using -c or --config");
    return -1;
  }
  if (read_config(a->config, &next, err, errlen) < 0)
    goto fail;
  /* The file's warnings (a duration given as a number) do not stop a
   * reload, and nats-server does not log them then. */
  port = next.port;
  apply_flags(&a->cli, &next, &port);
  port = baseline_port(port);
  next.port = port > 65535 || port < 0 ? -1 : (int)port;
  nm_server_opts_baseline(&next);
  if (nm_server_reload(a->srv, &a->opts, &next, reload_log, a, err, errlen) < 0)
    goto fail;
  reload_program(a, &next);
  next.port = a->opts.port;
  nm_server_opts_free(&a->opts);
  a->opts = next;
  log_line("INF", "Reloaded server configuration");
  return 0;
fail:
  /* Messages end with a new line; the log line adds its own. */
  for (size_t n = strlen(err); n > 0 && err[n - 1] == '\n'; n--)
    err[n - 1] = 0;
  nm_server_opts_free(&next);
  return -1;
}

/* SIGHUP (or --signal reload). */
static void on_reload(uv_signal_t *h, int signum) {
  app_t *a = h->data;
  char err[NM_PATH_MAX + 512];
  (void)signum;
  if (a->debug)
    log_line("DBG", "Trapped \"hangup\" signal");
  if (reload(a, err, sizeof(err)) < 0)
    log_line("ERR", "Failed to reload server configuration: %s", err);
}

int main(int argc, char **argv) {
  nm_cli_t cli;
  nm_server_opts_t o;
  app_t a;
  const nm_flag_set_t *fs;
  const char *config = NULL;
  char err[NM_PATH_MAX + 512], progbuf[NM_PATH_MAX], url[300], mon_url[300];
  const char *prog;
  int64_t port = 0;
  int r, check;

  /* Before the -l file, the pid file or a socket can take 0-2. */
  if ((r = nm_hold_std_fds()) < 0) {
    fprintf(stderr, "natsmock: open /dev/null: %s\n", strerror(-r));
    return 1;
  }
  if (wants_proxy(argc, argv))
    return nm_proxy_main(argc, argv);
  memset(&a, 0, sizeof(a));
  snprintf(progbuf, sizeof(progbuf), "%s", argv[0]);
  prog = basename(progbuf);
  /* Go's flag package: the error on stderr, then the usage, which for
   * nats-server prints on stdout and exits 0. */
  if (nm_cli_parse(&cli, argc, argv, err, sizeof(err)) < 0) {
    fprintf(stderr, "%s\n", err);
    usage(stdout);
    return 0;
  }
  if (flag_on(&cli, NM_F_VERSION)) {
    print_version();
    return 0;
  }
  if (flag_on(&cli, NM_F_HELP)) {
    usage(stdout);
    return 0;
  }
  for (int i = 0; i < cli.nrest; i++) {
    if (!strcmp(cli.rest[i], "version")) {
      print_version();
      return 0;
    }
    if (!strcmp(cli.rest[i], "help")) {
      usage(stdout);
      return 0;
    }
    fprintf(stderr, "natsmock: unrecognized command: \"%s\"\n", cli.rest[i]);
    return 1;
  }
  if ((fs = nm_cli_last(&cli, NM_F_SIGNAL)) != NULL && fs->value[0]) {
    if (nm_cli_signal(fs->value, prog, err, sizeof(err)) < 0) {
      fprintf(stderr, "natsmock: %s\n", err);
      return 1;
    }
    return 0;
  }
  for (int i = 0; i < cli.nset; i++)
    if (cli.set[i].def->refused && flag_enables(&cli.set[i])) {
      fprintf(stderr, "natsmock: natsmock does not support %s (flag -%s)\n",
              cli.set[i].def->refused, cli.set[i].def->name);
      return 1;
    }

  check = flag_on(&cli, NM_F_CHECK_CONFIG);
  if ((fs = nm_cli_last(&cli, NM_F_CONFIG)) != NULL && fs->value[0])
    config = fs->value;
  if (read_config(config, &o, err, sizeof(err)) < 0) {
    /* nats-server prints its list of config errors (each ending in a new
     * line) after its name, then one more new line. */
    fprintf(stderr, "natsmock: %s\n", err);
    return fail(&a, &o);
  }
  /* Warnings only: nats-server prints them and goes on, except with -t,
   * where they fail the check like errors. */
  if (o.config_warnings && check) {
    fprintf(stderr, "natsmock: %s\n", o.config_warnings);
    return fail(&a, &o);
  }
  if (o.config_warnings)
    fputs(o.config_warnings, stderr);
  port = o.port;
  if (check) {
    if (config == NULL)
      fprintf(stderr, "natsmock: must specify [-c, --config] option to check "
                      "configuration file syntax\n");
    else
      fprintf(stderr, "natsmock: configuration file %s is valid\n", config);
    nm_server_opts_free(&o);
    return config ? 0 : 1;
  }
  apply_flags(&cli, &o, &port);
  if (nm_server_opts_validate(&o, err, sizeof(err)) < 0) {
    fprintf(stderr, "natsmock: %s\n", err);
    return fail(&a, &o);
  }

  nm_log_set_time(o.logtime);
  if (o.log_file && o.log_file[0] &&
      nm_log_open(o.log_file, err, sizeof(err)) < 0) {
    /* Go's log package: date, time, the message. */
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y/%m/%d %H:%M:%S", &tm);
    fprintf(stderr, "%s error opening file: %s\n", ts, err);
    return fail(&a, &o);
  }
  a.trace = o.trace;
  a.max_traced = o.max_traced_msg_len;
  a.debug = o.debug;
  log_line("INF", "Starting natsmock v%s (emulating nats-server 2.9.10)",
           NM_VERSION);
  port = baseline_port(port);
  if (port < 0 || port > 65535) {
    log_line("FTL",
             "Error listening on port: %s:%lld, \"listen tcp: address %lld: "
             "invalid port\"",
             o.host, (long long)port, (long long)port);
    return fail(&a, &o);
  }
  o.port = (int)port;
  {
    nm_server_opts_t lib = o;
    /* The program logs through its observer, in nats-server's format; the
     * library's own debug lines would repeat it. */
    lib.debug = 0;
    r = nm_server_new(uv_default_loop(), &lib, &a.srv);
  }
  if (r == 0)
    r = nm_server_start(a.srv);
  if (r < 0) {
    log_line("FTL", "Error listening on port: %s:%d, \"%s\"", o.host, o.port,
             nm_errname(r) ? nm_errname(r) : uv_strerror(r));
    return fail(&a, &o);
  }
  if (a.trace || a.debug)
    nm_server_set_observer(a.srv, trace_obs, &a);
  if (o.pid_file && o.pid_file[0] &&
      write_pid_file(o.pid_file, err, sizeof(err)) < 0) {
    log_line("FTL", "Could not write pidfile: %s", err);
    return fail(&a, &o);
  }
  if (o.http_port != 0) {
    /* nats-server: the http host defaults to the client host; -1 asks for
     * a random port. */
    nm_monitor_opts_t mo = {o.http_host, o.http_port, o.http_port,
                            !o.no_mock_control};
    const char *mhost = o.http_host && o.http_host[0] ? o.http_host : o.host;
    int bad_port = o.http_port < -1 || o.http_port > 65535;
    r = bad_port ? UV_EINVAL : nm_monitor_start(a.srv, &mo, &a.mon);
    if (r < 0) {
      if (bad_port)
        log_line("FTL",
                 "Can't start monitoring: can't listen to the monitor port: "
                 "listen tcp: address %d: invalid port",
                 o.http_port);
      else
        log_line("FTL",
                 "Can't start monitoring: can't listen to the monitor port: "
                 "listen tcp %s:%d: bind: %s",
                 mhost, o.http_port,
                 nm_errname(r) ? nm_errname(r) : uv_strerror(r));
      return fail(&a, &o);
    }
    nm_monitor_url(a.mon, mon_url, sizeof(mon_url));
    log_line("INF", "Starting http monitor on %s", mon_url + 7);
  }
  nm_server_url(a.srv, url, sizeof(url));
  log_line("INF", "Listening for client connections on %s", url + 7);
  log_line("INF", "Server is ready");
  /* Kept for a reload: the options as running. The signals are caught
   * before the ports file says the server is ready (a test that signals it
   * then must not find SIGHUP or SIGUSR2 still at their default, which
   * ends the process). */
  a.cli = cli;
  a.config = config;
  a.prog = prog;
  snprintf(a.url, sizeof(a.url), "%s", url);
  snprintf(a.mon_url, sizeof(a.mon_url), "%s", a.mon ? mon_url : "");
  a.opts = o;
  nm_server_opts_baseline(&a.opts);
  a.opts.port = nm_server_port(a.srv);
  uv_signal_init(uv_default_loop(), &a.sigint);
  uv_signal_init(uv_default_loop(), &a.sigterm);
  uv_signal_init(uv_default_loop(), &a.sigusr1);
  uv_signal_init(uv_default_loop(), &a.sigusr2);
  uv_signal_init(uv_default_loop(), &a.sighup);
  a.sigint.data = a.sigterm.data = a.sigusr1.data = &a;
  a.sigusr2.data = a.sighup.data = &a;
  uv_signal_start(&a.sigint, on_signal, SIGINT);
  uv_signal_start(&a.sigterm, on_signal, SIGTERM);
  uv_signal_start(&a.sigusr1, on_reopen, SIGUSR1);
  uv_signal_start(&a.sigusr2, on_ldm, SIGUSR2);
  uv_signal_start(&a.sighup, on_reload, SIGHUP);
  if (o.ports_file_dir && o.ports_file_dir[0] &&
      write_ports_file(&a, o.ports_file_dir, prog, url, a.mon ? mon_url : NULL,
                       err, sizeof(err)) < 0) {
    log_line("ERR", "Error writing ports file (%s): %s", a.ports_file, err);
    a.ports_file[0] = 0;
  }
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  nm_server_free(a.srv);
  if (a.ports_file[0])
    unlink(a.ports_file);
  log_line("INF", "Server Exiting..");
  nm_server_opts_free(&a.opts);
  nm_log_close();
  uv_loop_close(uv_default_loop());
  return a.exit_code;
}
