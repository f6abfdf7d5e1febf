/* The config-file subset (nats-server syntax) and duration parsing, as
 * tables; and the natsmock program's command line: ports file, -c, --help,
 * --version. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "natsmock.h"
#include "nm_test_check.h"
#include "nm_test_util.h"

typedef struct {
  const char *text;
  int ok;
  int port;
  const char *host;
  int64_t max_payload;
  int64_t max_control_line;
  int64_t max_pending;
  int max_connections;
  int max_subs;
  uint64_t ping_interval_ms;
  int ping_max;
  uint64_t write_deadline_ms;
  const char *user, *pass, *token;
  uint64_t auth_timeout_ms;
} cfg_case_t;

/* Fields left 0 / NULL in a row are expected at their defaults. */
static const cfg_case_t kCfg[] = {
    {.text = "port: 4333\n", .ok = 1, .port = 4333},
    {.text = "port = 4333\n", .ok = 1, .port = 4333},
    {.text = "port 4333\n", .ok = 1, .port = 4333},
    {.text = "listen: 127.0.0.2:5000\n",
     .ok = 1,
     .port = 5000,
     .host = "127.0.0.2"},
    {.text = "listen: \"0.0.0.0:5001\"\n",
     .ok = 1,
     .port = 5001,
     .host = "0.0.0.0"},
    {.text = "listen: 5002\n", .ok = 1, .port = 5002},
    {.text = "max_payload: 1024\n", .ok = 1, .max_payload = 1024},
    {.text = "max_payload: 1MB\n", .ok = 1, .max_payload = 1048576},
    {.text = "max_payload: 2k\n", .ok = 1, .max_payload = 2000},
    {.text = "max_payload: 2KB\n", .ok = 1, .max_payload = 2048},
    {.text = "max_control_line: 512\n", .ok = 1, .max_control_line = 512},
    {.text = "max_pending: 64MB\n", .ok = 1, .max_pending = 64 * 1024 * 1024},
    {.text = "max_connections: 3\n", .ok = 1, .max_connections = 3},
    {.text = "ping_interval: \"2s\"\n", .ok = 1, .ping_interval_ms = 2000},
    {.text = "ping_interval: 5\n", .ok = 1, .ping_interval_ms = 5000},
    {.text = "ping_interval: \"1m\"\n", .ok = 1, .ping_interval_ms = 60000},
    {.text = "ping_interval: \"500ms\"\n", .ok = 1, .ping_interval_ms = 500},
    {.text = "ping_interval: \"1m30s\"\n", .ok = 1, .ping_interval_ms = 90000},
    {.text = "ping_max: 5\n", .ok = 1, .ping_max = 5},
    {.text = "max_subscriptions: 7\n", .ok = 1, .max_subs = 7},
    {.text = "write_deadline: \"10s\"\n", .ok = 1, .write_deadline_ms = 10000},
    {.text =
         "authorization {\n  user: u\n  password: \"p w\"\n  timeout: 0.5\n}\n",
     .ok = 1,
     .user = "u",
     .pass = "p w",
     .auth_timeout_ms = 500},
    {.text = "authorization: { token: 's3cr#t' }\n",
     .ok = 1,
     .token = "s3cr#t"},
    {.text = "authorization { user: u, timeout: \"0.5s\" }\n",
     .ok = 1,
     .user = "u",
     .auth_timeout_ms = 1000},
    {.text = "authorization { user: u, timeout: 3 }\n",
     .ok = 1,
     .user = "u",
     .auth_timeout_ms = 3000},
    {.text = "# a comment\n// another\nport: 1 # trailing\nping_max: 3; "
             "max_payload: 10,\n",
     .ok = 1,
     .port = 1,
     .max_payload = 10,
     .ping_max = 3},
    /* Clustering is refused, not ignored. */
    {.text = "cluster { port: 6222 routes: [ nats://a:1, nats://b:2 ] }\n"
             "port: 7\n"},
    {.text = "unknown_key: 1\n"},
    {.text = "listen: 127.0.0.1:-1\n",
     .ok = 1,
     .port = -1,
     .host = "127.0.0.1"},
    {.text = "port: -1\n", .ok = 1, .port = -1},
    {.text = "max_payload: -1\n", .ok = 1, .max_payload = -1},
    {.text = "max_control_line: -1\n", .ok = 1, .max_control_line = -1},
    {.text = "max_payload: 3000000000\n"},
    {.text = "ping_interval: \"1e17\"\n"},
    {.text = "ping_interval: \"nan\"\n"},
    {.text = "ping_interval: \"9999999h\"\n"},
    {.text = "write_deadline: \"-1s\"\n"},
    {.text = "authorization { token: t, user: u, password: p }\n"},
    {.text = "authorization { users: [ {user: a, password: b} ], user: c }\n"},
    {.text = "tls { cert_file: x }\n"},
    {.text = "jetstream: false\n", .ok = 1},
    {.text = "jetstream: enabled\n"},
    {.text = "debug: true\ntrace: false\nserver_name: x\n", .ok = 1},
    {.text = "port: \"unterminated\n"},
    {.text = "authorization {\n user: u\n"},
    {.text = "}\n"},
    {.text = "port: abc\n"},
    {.text = "ping_interval: \"2 parsecs\"\n"},
    {.text = "max_payload: 1XB\n"},
    {.text = "port:\n"},
};

START_TEST(test_config_table) {
  const cfg_case_t *c = &kCfg[_i];
  nm_server_opts_t o, d;
  char err[256] = "";
  int r;
  nm_server_opts_init(&o);
  nm_server_opts_init(&d);
  r = nm_server_opts_parse(&o, c->text, strlen(c->text), err, sizeof(err));
  ck_assert_msg((r == 0) == c->ok, "[%s]: r=%d err=%s", c->text, r, err);
  if (!c->ok) {
    ck_assert_msg(err[0] != 0, "[%s]: no error text", c->text);
    nm_server_opts_free(&o);
    return;
  }
#define EQ(field, want, fmt)                                                   \
  ck_assert_msg(o.field == ((want) ? (want) : d.field),                        \
                "[%s] " #field "=" fmt, c->text, (long long)o.field)
  EQ(port, c->port, "%lld");
  EQ(max_payload, c->max_payload, "%lld");
  EQ(max_control_line, c->max_control_line, "%lld");
  EQ(max_pending, c->max_pending, "%lld");
  EQ(max_connections, c->max_connections, "%lld");
  EQ(max_subs, c->max_subs, "%lld");
  EQ(ping_interval_ms, c->ping_interval_ms, "%lld");
  EQ(ping_max, c->ping_max, "%lld");
  EQ(write_deadline_ms, c->write_deadline_ms, "%lld");
  EQ(auth_timeout_ms, c->auth_timeout_ms, "%lld");
#undef EQ
  ck_assert_str_eq(o.host, c->host ? c->host : d.host);
  if (c->user)
    ck_assert_str_eq(o.user, c->user);
  if (c->pass)
    ck_assert_str_eq(o.pass, c->pass);
  if (c->token)
    ck_assert_str_eq(o.token, c->token);
  if (!c->user && !c->token) {
    ck_assert_ptr_null(o.user);
    ck_assert_ptr_null(o.token);
  }
  nm_server_opts_free(&o);
}
END_TEST

START_TEST(test_durations) {
  static const struct {
    const char *in;
    long long ms; /* -1: refused */
  } t[] = {{"2s", 2000},     {"1m", 60000}, {"500ms", 500},
           {"1h", 3600000},  {"0.25", 250}, {"3", 3000},
           {"1m30s", 90000}, {"", -1},      {"s", -1},
           {"2x", -1},       {"-1s", -1},   {"1500us", 2},
           {"1e17", -1},     {"nan", -1},   {"inf", -1},
           {"9999999h", -1}, {"1e300", -1}, {"2562047h", 9223369200000LL}};
  size_t i;
  for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
    uint64_t ms = 0;
    int r = nm_parse_duration_ms(t[i].in, &ms);
    if (t[i].ms < 0)
      ck_assert_msg(r < 0, "%s accepted as %llu", t[i].in,
                    (unsigned long long)ms);
    else
      ck_assert_msg(r == 0 && ms == (uint64_t)t[i].ms, "%s -> %d %llu", t[i].in,
                    r, (unsigned long long)ms);
  }
}
END_TEST

static const char *natsmock_bin(void) {
  static char path[1024];
  const char *b = getenv("NM_BINARY_DIR");
  snprintf(path, sizeof(path), "%s/server/natsmock", b ? b : ".");
  return path;
}

/* The program, started the way tests start nats-server: it writes
 * natsmock_<pid>.ports with nats-server's JSON and serves on that port;
 * -c applies a config file; SIGTERM stops it (exit 1, as nats-server). */
START_TEST(test_program_ports_file_and_config) {
  nm_natsserver_t ns;
  char out[4096];
  nm_peer_state_t st;
  int fd, status;
  ck_assert_int_eq(nm_server_proc_start(&ns, natsmock_bin(),
                                        "max_payload: 100\nping_max: 3\n",
                                        NULL),
                   0);
  fd = nm_test_connect(ns.port);
  ck_assert_int_ge(fd, 0);
  nm_test_send_str(fd, "CONNECT {\"verbose\":false}\r\nPING\r\n");
  nm_test_read(fd, out, sizeof(out), "PONG\r\n", 3000, 0, &st);
  ck_assert_ptr_nonnull(strstr(out, "\"max_payload\":100,"));
  ck_assert_ptr_nonnull(strstr(out, " \r\nPONG\r\n"));
  close(fd);
  kill(ns.pid, SIGTERM);
  ck_assert_int_eq(waitpid(ns.pid, &status, 0), ns.pid);
  /* nats-server exits 1 on SIGTERM (0 on SIGINT). */
  ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
  ns.pid = 0;
  nm_natsserver_stop(&ns);
}
END_TEST

static int run_status(const char *arg, char *out, size_t cap) {
  char cmd[2048];
  snprintf(cmd, sizeof(cmd), "%s %s 2>&1", natsmock_bin(), arg);
  return nm_test_shell(cmd, out, cap);
}

START_TEST(test_program_help_version) {
  char out[8192];
  ck_assert_int_eq(run_status("--help", out, sizeof(out)), 0);
  ck_assert_ptr_nonnull(strstr(out, "--ports_file_dir"));
  ck_assert_int_eq(run_status("--version", out, sizeof(out)), 0);
  ck_assert_ptr_nonnull(strstr(out, NM_VERSION));
  /* Go's flag package, as nats-server uses it: the error, the usage, 0. */
  ck_assert_int_eq(run_status("--no-such-flag", out, sizeof(out)), 0);
  ck_assert_ptr_nonnull(
      strstr(out, "flag provided but not defined: -no-such-flag"));
  ck_assert_int_ne(run_status("-c /nonexistent/file.conf", out, sizeof(out)),
                   0);
}
END_TEST

static Suite *suite(void) {
  Suite *su = suite_create("server_config");
  TCase *tc = tcase_create("config");
  tcase_set_timeout(tc, 30);
  tcase_add_loop_test(tc, test_config_table, 0,
                      (int)(sizeof(kCfg) / sizeof(kCfg[0])));
  tcase_add_test(tc, test_durations);
  tcase_add_test(tc, test_program_ports_file_and_config);
  tcase_add_test(tc, test_program_help_version);
  suite_add_tcase(su, tc);
  return su;
}

int main(void) {
  return nm_test_run_suite(suite(), CK_ENV);
}
