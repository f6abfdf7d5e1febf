/* The natsmock program's command line against nats-server 2.9.10's: bad
 * flags, ports, signals, files answered with the same exit status and the
 * same message (natsmock's name for nats-server's), and nats.c v3.4.1's test
 * suite's exact command lines (test/test.c, _startServer) started as that
 * suite starts its server, with NATS_TEST_SERVER_EXE pointing at natsmock. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "natsmock.h"
#include "nm_test_check.h"
#include "nm_test_util.h"

/* Output kept from one run. */
#define CLI_OUT_MAX 16384

static const char *natsmock_bin(void) {
  static char path[1024];
  const char *b = getenv("NM_BINARY_DIR");
  snprintf(path, sizeof(path), "%s/server/natsmock", b ? b : ".");
  return path;
}

/* The lines of a run's stderr that carry its answer, with what differs
 * between runs taken out: a log line's "[pid] date time [LVL] " prefix, Go's
 * log "date time " prefix, INF lines, and the program's name. */
static void answer_of(const char *in, const char *prog, char *out, size_t cap) {
  static const char *kLevels[] = {" [FTL] ", " [ERR] ", " [WRN] ", NULL};
  size_t n = 0;
  const char *p = in;
  out[0] = 0;
  while (*p) {
    const char *eol = strchr(p, '\n');
    size_t len = eol ? (size_t)(eol - p) : strlen(p);
    char line[2048];
    snprintf(line, sizeof(line), "%.*s", (int)len, p);
    p += len + (eol ? 1 : 0);
    if (line[0] == '[') {
      /* "[pid] date time.us [LVL] text": only errors count. */
      const char *lv = NULL;
      for (int i = 0; kLevels[i] && lv == NULL; i++)
        lv = strstr(line, kLevels[i]);
      if (lv == NULL)
        continue;
      memmove(line, lv + 1, strlen(lv + 1) + 1);
    } else if (len > 20 && line[4] == '/' && line[7] == '/' &&
               line[13] == ':') {
      memmove(line, line + 20, strlen(line + 20) + 1);
    }
    for (char *q; (q = strstr(line, prog)) != NULL;) {
      size_t pl = strlen(prog);
      memmove(q + 3, q + pl, strlen(q + pl) + 1);
      memcpy(q, "BIN", 3);
    }
    n += (size_t)snprintf(out + n, cap - n, "%s\n", line);
    if (n >= cap)
      break;
  }
}

static int run_stderr(const char *bin, const char *args, char *out,
                      size_t cap) {
  char cmd[4096];
  snprintf(cmd, sizeof(cmd), "cd /tmp && timeout 10 %s %s 2>&1 >/dev/null", bin,
           args);
  return nm_test_shell(cmd, out, cap);
}

/* Each runs to its end at once: a refusal, a parse error, a failed start. */
static const char *kBad[] = {
    "-p abc",
    "-p 4222x",
    "--port=abc",
    "-p 99999999999999999999",
    "-p",
    "--no_such_flag",
    "-xyz=1",
    "---p 1",
    "-D=maybe",
    "-a 127.0.0.1 -p -1 extra",
    "-a 127.0.0.1 -p 70000",
    "-a 127.0.0.1 -p=-5",
    "-a 127.0.0.1 --port 0x10000",
    "-sl nosuchcommand=1",
    "-sl stop=99999999",
    "--signal=reload=notapid",
    "-sl stop=1=2",
    "-t",
    "-c /nonexistent/nm-cli-test.conf",
    "-c /tmp",
    "-a 127.0.0.1 -p -1 -l /nonexistent/nm-cli-test.log",
    "-a 127.0.0.1 -p -1 -P /nonexistent/nm-cli-test.pid",
    "-a 127.0.0.1 -p -1 -P /dev/full",
};

START_TEST(test_bad_command_lines_as_nats_server) {
  char a[CLI_OUT_MAX], b[CLI_OUT_MAX], aa[CLI_OUT_MAX], ba[CLI_OUT_MAX];
  int ra, rb;
  ck_assert_msg(nm_natsserver_available(), "nats-server is not installed");
  ra = run_stderr("nats-server", kBad[_i], a, sizeof(a));
  rb = run_stderr(natsmock_bin(), kBad[_i], b, sizeof(b));
  answer_of(a, "nats-server", aa, sizeof(aa));
  answer_of(b, "natsmock", ba, sizeof(ba));
  ck_assert_msg(ra == rb,
                "[%s]: exit %d (nats-server) vs %d (natsmock)\n%s\n%s",
                kBad[_i], ra, rb, a, b);
  ck_assert_msg(strcmp(aa, ba) == 0,
                "[%s]: nats-server said\n%s\nnatsmock said\n%s", kBad[_i], aa,
                ba);
  ck_assert_msg(aa[0] != 0, "[%s]: no message", kBad[_i]);
}
END_TEST

/* Config files given to both with -c: the same exit status and messages.
 * check=1 runs them with -t (parse and check, then exit); check=0 starts the
 * server (for what is refused only when it starts: max_payload against
 * max_pending, no_auth_user, lame duck periods). */
static const struct {
  const char *text;
  int check;
} kConfigs[] = {
    {"foo: 1\n", 1},
    {"include \".\"\n", 1},
    {"include \"/nm-missing-abs.conf\"\n", 1},
    {"include \"a/../b//./nm-missing.conf\"\n", 1},
    {"port: 1\nfoo: 1\nbar { x: 1 }\n", 1},
    {"  port: 1\n  bogus: 2\n", 1},
    {"include ./nm-missing-include.conf\n", 1},
    {"listen: 127.0.0.1:-1\n", 1},
    {"listen: \"127.0.0.1:abc\"\n", 1},
    {"listen: \"nohostport\"\n", 1},
    {"port: -1\n", 1},
    {"port: \"4222\"\n", 1},
    {"port: 4222.5\n", 1},
    {"debug: 1\n", 1},
    {"max_payload: -1\nmax_control_line: -1\n", 1},
    {"max_payload: 3000000000\n", 1},
    {"max_control_line: 3000000000\n", 1},
    {"max_payload: 1MB\nmax_pending: 2MB\n", 1},
    {"ping_interval: \"1e17\"\n", 1},
    {"ping_interval: nan\n", 1},
    {"ping_interval: \"nan\"\n", 1},
    {"ping_interval: 1e17\n", 1},
    {"ping_interval: \"9999999h\"\n", 1},
    {"ping_interval: \"1e3s\"\n", 1},
    {"ping_interval: \"5\xc3\xa9\"\n", 1},
    {"ping_interval: \"x\\\\y\\t\"\n", 1},
    {"ping_interval: 0.5\n", 1},
    {"ping_interval: 5\n", 1},
    {"write_deadline: \"2x\"\n", 1},
    {"lame_duck_duration: \"10s\"\n", 1},
    {"lame_duck_duration: 30\n", 1},
    {"lame_duck_grace_period: \"-1s\"\n", 1},
    {"authorization { token: t\n user: u\n password: p }\n", 1},
    {"authorization { foo: 1 }\n", 1},
    {"authorization { users: [ {user: a, password: b} ], user: c }\n", 1},
    {"authorization { users: [ {user: a, password: b} ], token: c }\n", 1},
    {"authorization { users: [ {user: a}, {user: a} ] }\n", 1},
    {"authorization { users: [ {password: b} ] }\n", 1},
    {"authorization { users: [ {user: a, bogus: 1} ] }\n", 1},
    {"authorization { users: \"x\" }\n", 1},
    {"authorization { users: [ {user: a, permissions: { publish: { allow: "
     "\"a\", nope: 1 } }} ] }\n",
     1},
    {"authorization { users: [ {user: a, permissions: { pub: \"a b c\" }} ] "
     "}\n",
     1},
    {"authorization { users: [ {user: a, permissions: { what: 1 }} ] }\n", 1},
    {"authorization { users: [ {user: a, permissions: { allow_responses: { "
     "expires: 5 } }} ] }\n",
     1},
    {"authorization { permissions: { publish: \"x\" }, users: [ {user: a} ] "
     "}\n",
     1},
    {"max_pending: 100\nmax_payload: 1000\n", 0},
    {"max_pending: -1\n", 0},
    {"no_auth_user: x\n", 0},
    {"authorization { users: [ {user: a, password: b} ] }\nno_auth_user: x\n",
     0},
    {"lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"40s\"\n", 0},
};

/* Sorts the lines of s in place. nats-server lists several config errors in
 * Go map order, which changes from run to run: the set is compared. The
 * program's name goes on whichever error comes first, so a leading "BIN: "
 * is set aside before sorting and put back in front. */
static int cmp_line(const void *x, const void *y) {
  return strcmp(*(char *const *)x, *(char *const *)y);
}
static void sort_lines(char *s) {
  char copy[CLI_OUT_MAX], *lines[256], *p, *save = NULL;
  size_t n = 0, i, len = 0;
  int named = strncmp(s, "BIN: ", 5) == 0;
  snprintf(copy, sizeof(copy), "%s", named ? s + 5 : s);
  for (p = strtok_r(copy, "\n", &save); p && n < 256;
       p = strtok_r(NULL, "\n", &save))
    lines[n++] = p;
  qsort(lines, n, sizeof(lines[0]), cmp_line);
  s[0] = '\0';
  if (named)
    len = (size_t)snprintf(s, CLI_OUT_MAX, "BIN: ");
  for (i = 0; i < n; i++)
    len += (size_t)snprintf(s + len, CLI_OUT_MAX - len, "%s\n", lines[i]);
}

START_TEST(test_configs_as_nats_server) {
  char dir[] = "/tmp/nm-cli-conf-XXXXXX", args[512], a[CLI_OUT_MAX],
       b[CLI_OUT_MAX], aa[CLI_OUT_MAX], ba[CLI_OUT_MAX], cmd[2048];
  int ra, rb;
  ck_assert_msg(nm_natsserver_available(), "nats-server is not installed");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  ck_assert_int_eq(nm_test_write_file(dir, "c.conf", kConfigs[_i].text), 0);
  /* Relative to the file, as both servers print it. */
  snprintf(args, sizeof(args), "%s -a 127.0.0.1 -p -1 -l /dev/null -c c.conf",
           kConfigs[_i].check ? "-t" : "");
  snprintf(cmd, sizeof(cmd),
           "cd %s && timeout 10 nats-server %s 2>&1 "
           ">/dev/null",
           dir, args);
  ra = nm_test_shell(cmd, a, sizeof(a));
  snprintf(cmd, sizeof(cmd), "cd %s && timeout 10 %s %s 2>&1 >/dev/null", dir,
           natsmock_bin(), args);
  rb = nm_test_shell(cmd, b, sizeof(b));
  answer_of(a, "nats-server", aa, sizeof(aa));
  answer_of(b, "natsmock", ba, sizeof(ba));
  ck_assert_msg(ra == rb,
                "[%s]: exit %d (nats-server) vs %d (natsmock)\n%s\n%s",
                kConfigs[_i].text, ra, rb, a, b);
  sort_lines(aa);
  sort_lines(ba);
  ck_assert_msg(strcmp(aa, ba) == 0,
                "[%s]: nats-server said\n%s\nnatsmock said\n%s",
                kConfigs[_i].text, aa, ba);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  nm_test_shell(cmd, a, sizeof(a));
}
END_TEST

/* Flags nats-server has and natsmock does not do: exit 1, one line naming
 * what is missing. */
START_TEST(test_refused_flags) {
  static const char *kRefused[] = {
      "-tls",
      "--tlscert=x.pem",
      "-js",
      "-sd /tmp/x",
      "-routes nats://127.0.0.1:1",
      "-cluster nats://127.0.0.1:1",
      "-syslog",
      "-ms 8222",
      "-profile 6060",
      "-cluster_name abc",
  };
  char out[CLI_OUT_MAX];
  for (size_t i = 0; i < sizeof(kRefused) / sizeof(kRefused[0]); i++) {
    int r = run_stderr(natsmock_bin(), kRefused[i], out, sizeof(out));
    ck_assert_msg(r == 1, "[%s]: exit %d: %s", kRefused[i], r, out);
    ck_assert_msg(strstr(out, "natsmock does not support") != NULL &&
                      nm_test_count(out, "\n") == 1,
                  "[%s]: %s", kRefused[i], out);
  }
  /* Asking for nothing is not refused: -tls=false starts. */
  {
    const char *args[] = {"-tls=false", "-js=false", NULL};
    nm_natsserver_t ns;
    ck_assert_int_eq(nm_server_proc_start(&ns, natsmock_bin(), NULL, args), 0);
    nm_natsserver_stop(&ns);
  }
}
END_TEST

/* Connects, sends CONNECT with the credentials, expects PONG (1) or the
 * Authorization Violation (0). */
static int connect_with(int port, const char *connect_json) {
  char buf[4096], msg[1024];
  nm_peer_state_t st;
  int fd = nm_test_connect(port), ok;
  ck_assert_int_ge(fd, 0);
  snprintf(msg, sizeof(msg), "CONNECT %s\r\nPING\r\n", connect_json);
  nm_test_send_str(fd, msg);
  nm_test_read(fd, buf, sizeof(buf), "PONG\r\n", 3000, 0, &st);
  ok = strstr(buf, "PONG\r\n") != NULL;
  ck_assert_msg(ok || strstr(buf, "Authorization Violation"), "%s", buf);
  close(fd);
  return ok;
}

/* Splits a command line at blanks, as nats.c's test.c does. */
static int split_line(char *line, const char **argv, int max) {
  int n = 0;
  for (char *t = strtok(line, " \t\n"); t && n < max - 1;
       t = strtok(NULL, " \t\n"))
    argv[n++] = t;
  argv[n] = NULL;
  return n;
}

/* nats.c v3.4.1 test/test.c: every command line its tests pass to
 * _startServer that needs one plain server, with what the test then sends.
 * The suite adds " -a 127.0.0.1" when the line has no "-a " and " -l
 * server.log" always; here "-p -1" is added last as well (Go's flag package
 * keeps the last value), so the test runs on an ephemeral port. */
static const struct {
  const char *line;
  const char *good, *bad; /* CONNECT that must pass / fail; NULL: none */
} kNatsC[] = {
    {"", "{}", NULL},
    {"-p 22222", "{}", NULL},
    {"-p 4222", "{}", NULL},
    {"-a 127.0.0.1 -p 4222", "{}", NULL},
    {"-DV", "{}", NULL},
    {"-auth testSecret -p 8232", "{\"auth_token\":\"testSecret\"}",
     "{\"auth_token\":\"x\"}"},
    {"-p 22223 --user ivan --pass foo", "{\"user\":\"ivan\",\"pass\":\"foo\"}",
     "{\"user\":\"ivan\",\"pass\":\"x\"}"},
    {"-p 22224 --auth token3", "{\"auth_token\":\"token3\"}", "{}"},
    {"-a 127.0.0.1 -p 4222 -user ivan -pass password",
     "{\"user\":\"ivan\",\"pass\":\"password\"}", "{}"},
    {"-p 1223 -user ivan -pass secret",
     "{\"user\":\"ivan\",\"pass\":\"secret\"}",
     "{\"user\":\"ivan\",\"pass\":\"foo\"}"},
    {"--user ivan --pass foo -p 8232", "{\"user\":\"ivan\",\"pass\":\"foo\"}",
     "{}"},
};

START_TEST(test_natsc_suite_command_lines) {
  char line[512], logpath[300], dir[] = "/tmp/nm-cli-XXXXXX", out[4096];
  const char *argv[40];
  int n;
  nm_natsserver_t ns;
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(line, sizeof(line), "%s", kNatsC[_i].line);
  n = split_line(line, argv, 30);
  if (strstr(kNatsC[_i].line, "-a ") == NULL) {
    argv[n++] = "-a";
    argv[n++] = "127.0.0.1";
  }
  snprintf(logpath, sizeof(logpath), "%s/server.log", dir);
  argv[n++] = "-l";
  argv[n++] = logpath;
  argv[n++] = "-p";
  argv[n++] = "-1";
  argv[n] = NULL;
  ck_assert_msg(nm_server_proc_start(&ns, natsmock_bin(), NULL, argv) == 0,
                "[%s] did not start", kNatsC[_i].line);
  if (kNatsC[_i].good)
    ck_assert_msg(connect_with(ns.port, kNatsC[_i].good) == 1, "[%s] %s",
                  kNatsC[_i].line, kNatsC[_i].good);
  if (kNatsC[_i].bad)
    ck_assert_msg(connect_with(ns.port, kNatsC[_i].bad) == 0, "[%s] %s",
                  kNatsC[_i].line, kNatsC[_i].bad);
  nm_natsserver_stop(&ns);
  /* -l: the log went to the file, not to stderr. */
  snprintf(line, sizeof(line), "cat %s", logpath);
  ck_assert_int_eq(nm_test_shell(line, out, sizeof(out)), 0);
  ck_assert_msg(strstr(out, "Server is ready") != NULL, "%s", out);
  snprintf(line, sizeof(line), "rm -rf %s", dir);
  nm_test_shell(line, out, sizeof(out));
}
END_TEST

/* The lines of that suite natsmock refuses (clustering, tls, jetstream):
 * exit 1 and a reason, never an open server that passes for one. */
START_TEST(test_natsc_suite_refused_lines) {
  static const char *kLines[] = {
      "-a 127.0.0.1 -p 4224 -cluster nats://127.0.0.1:6224 -cluster_name abc "
      "-routes nats://127.0.0.1:6222,nats://127.0.0.1:6223",
      "-p 4443 -cluster_name abc -cluster nats://127.0.0.1:6222 -tls -tlscert "
      "certs/server-cert.pem -tlskey certs/server-key.pem -tlscacert "
      "certs/ca.pem -user user -pass pwd",
      "-js -sd /tmp/nm-js",
  };
  char out[CLI_OUT_MAX], args[1024];
  for (size_t i = 0; i < sizeof(kLines) / sizeof(kLines[0]); i++) {
    snprintf(args, sizeof(args), "%s -a 127.0.0.1 -l /dev/null", kLines[i]);
    ck_assert_int_eq(run_stderr(natsmock_bin(), args, out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "natsmock does not support"), "%s", out);
  }
}
END_TEST

/* No -p: nats-server's 4222. Checked only when 4222 is free here. */
START_TEST(test_default_port_4222) {
  struct sockaddr_in sa;
  int probe = socket(AF_INET, SOCK_STREAM, 0), one = 1, fd;
  pid_t pid;
  char buf[4096];
  nm_peer_state_t st;
  long long deadline;
  int exited = 0, status = 0;
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_port = htons(4222);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(probe, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
    fprintf(stderr, "test_default_port_4222: 4222 is taken here; skipped\n");
    close(probe);
    return;
  }
  close(probe);
  pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    /* A test that dies (Check's timeout kills it) takes its server along:
     * never a natsmock left on 4222. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execl(natsmock_bin(), "natsmock", "-a", "127.0.0.1", "-l", "/dev/null",
          (char *)NULL);
    _exit(127);
  }
  deadline = nm_test_now_ms() + 10000;
  buf[0] = '\0';
  while ((fd = nm_test_connect(4222)) < 0 && nm_test_now_ms() < deadline &&
         (exited = waitpid(pid, &status, WNOHANG) == pid) == 0)
    usleep(10000); /* waiting for a child to listen: no event to await */
  if (fd >= 0) {
    nm_test_read(fd, buf, sizeof(buf), "\r\n", 3000, 0, &st);
    close(fd);
  }
  /* Stopped before any assertion, so a failure leaves no server behind. */
  if (!exited) {
    kill(pid, SIGINT);
    waitpid(pid, &status, 0);
  }
  ck_assert_msg(!exited, "natsmock exited before listening (status %d)",
                status);
  ck_assert_msg(fd >= 0, "natsmock did not listen on 4222 within 10 s");
  ck_assert_msg(strstr(buf, "\"port\":4222"), "%s", buf);
}
END_TEST

/* -P writes the pid; --signal quit=PIDFILE stops that process (SIGINT,
 * exit 0); the ports file is gone after it. */
START_TEST(test_pid_file_and_signal_quit) {
  nm_natsserver_t ns;
  char pidfile[300], cmd[2048], out[4096];
  const char *args[4];
  int status;
  snprintf(pidfile, sizeof(pidfile), "/tmp/nm-cli-pid-%d", (int)getpid());
  args[0] = "-P";
  args[1] = pidfile;
  args[2] = NULL;
  ck_assert_int_eq(nm_server_proc_start(&ns, natsmock_bin(), NULL, args), 0);
  snprintf(cmd, sizeof(cmd), "cat %s", pidfile);
  ck_assert_int_eq(nm_test_shell(cmd, out, sizeof(out)), 0);
  ck_assert_int_eq(atoi(out), (int)ns.pid);
  ck_assert_ptr_null(strchr(out, '\n'));
  snprintf(cmd, sizeof(cmd), "%s --signal quit=%s", natsmock_bin(), pidfile);
  ck_assert_int_eq(nm_test_shell(cmd, out, sizeof(out)), 0);
  ck_assert_int_eq(waitpid(ns.pid, &status, 0), ns.pid);
  ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ns.pid = 0;
  nm_natsserver_stop(&ns);
  unlink(pidfile);
}
END_TEST

/* Lame duck mode, the same test against both servers: --signal ldm=PID
 * (SIGUSR2); a client with protocol 1 that had its first PONG gets an INFO
 * with "ldm":true, a protocol-0 one does not; no new connection is accepted;
 * both are closed after the grace period; the process exits 0. */
static void lame_duck_on(const char *bin) {
  nm_natsserver_t ns;
  char buf[8192], cmd[2048];
  nm_peer_state_t st;
  int a, b, status, fd;
  long long t0, t1;
  ck_assert_int_eq(nm_server_proc_start(&ns, bin,
                                        "lame_duck_duration: \"30s\"\n"
                                        "lame_duck_grace_period: \"500ms\"\n",
                                        NULL),
                   0);
  a = nm_test_connect(ns.port);
  b = nm_test_connect(ns.port);
  ck_assert_int_ge(a, 0);
  ck_assert_int_ge(b, 0);
  nm_test_send_str(a, "CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n");
  nm_test_send_str(b, "CONNECT {\"verbose\":false,\"protocol\":0}\r\nPING\r\n");
  nm_test_read(a, buf, sizeof(buf), "PONG\r\n", 3000, 0, &st);
  nm_test_read(b, buf, sizeof(buf), "PONG\r\n", 3000, 0, &st);
  snprintf(cmd, sizeof(cmd), "%s --signal ldm=%d", bin, (int)ns.pid);
  t0 = nm_test_now_ms();
  ck_assert_int_eq(nm_test_shell(cmd, buf, sizeof(buf)), 0);
  nm_test_read(a, buf, sizeof(buf), "\r\n", 3000, 0, &st);
  ck_assert_msg(strstr(buf, "INFO {") == buf && strstr(buf, ",\"ldm\":true} "),
                "%s: %s", bin, buf);
  /* Closed after the grace period (0.5 s), well before the duration. */
  nm_test_read(a, buf, sizeof(buf), NULL, 8000, 0, &st);
  t1 = nm_test_now_ms();
  ck_assert_msg(st != NM_PEER_OPEN, "%s: still open", bin);
  ck_assert_msg(t1 - t0 >= 450 && t1 - t0 < 5000, "%s: closed after %lld ms",
                bin, t1 - t0);
  nm_test_read(b, buf, sizeof(buf), NULL, 8000, 0, &st);
  ck_assert_msg(st != NM_PEER_OPEN, "%s: b still open", bin);
  ck_assert_msg(strstr(buf, "ldm") == NULL, "%s: protocol 0 got %s", bin, buf);
  fd = nm_test_connect(ns.port);
  ck_assert_msg(fd < 0, "%s: accepted a connection in lame duck mode", bin);
  ck_assert_int_eq(waitpid(ns.pid, &status, 0), ns.pid);
  ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: status %d",
                bin, status);
  ns.pid = 0;
  close(a);
  close(b);
  nm_natsserver_stop(&ns);
}

START_TEST(test_lame_duck_as_nats_server) {
  ck_assert_msg(nm_natsserver_available(), "nats-server is not installed");
  lame_duck_on("nats-server");
  lame_duck_on(natsmock_bin());
}
END_TEST

/* SIGHUP (--signal reload) without -c does not kill it: the reload is
 * refused with nats-server's error line (test_server_reload compares the
 * line with nats-server's), and only once that line is logged (the signal
 * was handled) is the server asked to keep serving. */
START_TEST(test_reload_refused_not_fatal) {
  nm_natsserver_t ns;
  char cmd[2048], out[4096], path[320];
  nm_peer_state_t st;
  long long deadline;
  int fd, logged = 0;
  ck_assert_int_eq(nm_server_proc_start(&ns, natsmock_bin(), NULL, NULL), 0);
  snprintf(cmd, sizeof(cmd), "%s --signal reload=%d", natsmock_bin(),
           (int)ns.pid);
  ck_assert_int_eq(nm_test_shell(cmd, out, sizeof(out)), 0);
  snprintf(path, sizeof(path), "%s/server.log", ns.dir);
  snprintf(cmd, sizeof(cmd), "cat %s", path);
  deadline = nm_test_now_ms() + 10000;
  while (!logged && nm_test_now_ms() < deadline) {
    nm_test_shell(cmd, out, sizeof(out));
    logged =
        strstr(out, "can only reload config when a file is provided") != NULL;
    if (!logged)
      usleep(5000); /* another process's log file: no event to await */
  }
  ck_assert_msg(logged, "no reload error logged: %s", out);
  fd = nm_test_connect(ns.port);
  ck_assert_int_ge(fd, 0);
  nm_test_send_str(fd, "CONNECT {}\r\nPING\r\n");
  nm_test_read(fd, out, sizeof(out), "PONG\r\n", 3000, 0, &st);
  ck_assert_ptr_nonnull(strstr(out, "PONG\r\n"));
  close(fd);
  nm_natsserver_stop(&ns);
}
END_TEST

static Suite *suite(void) {
  Suite *su = suite_create("server_cli");
  TCase *tc = tcase_create("cli");
  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, test_bad_command_lines_as_nats_server, 0,
                      (int)(sizeof(kBad) / sizeof(kBad[0])));
  tcase_add_test(tc, test_refused_flags);
  tcase_add_loop_test(tc, test_configs_as_nats_server, 0,
                      (int)(sizeof(kConfigs) / sizeof(kConfigs[0])));
  tcase_add_loop_test(tc, test_natsc_suite_command_lines, 0,
                      (int)(sizeof(kNatsC) / sizeof(kNatsC[0])));
  tcase_add_test(tc, test_natsc_suite_refused_lines);
  tcase_add_test(tc, test_default_port_4222);
  tcase_add_test(tc, test_pid_file_and_signal_quit);
  tcase_add_test(tc, test_lame_duck_as_nats_server);
  tcase_add_test(tc, test_reload_refused_not_fatal);
  suite_add_tcase(su, tc);
  return su;
}

int main(void) {
  return nm_test_run_suite(suite(), CK_ENV);
}
