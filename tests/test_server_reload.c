/* Config reload (SIGHUP), differential: each case starts nats-server 2.9.10
 * and natsmock as processes with the same config file, connects the same
 * clients, rewrites the file, sends SIGHUP, and records what every client
 * then receives (-ERR lines, PONG, closed or not), what a new connection
 * sees (INFO's auth_required and max_payload, the CONNECT answer), and the
 * server's reload log lines ("Reloaded: ...", "Failed to reload server
 * configuration: ...", "Removed sub ...", "Closed N connections ..."). The
 * two records must be the same. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nm_test_check.h"
#include "nm_test_util.h"

/* Text kept from one case run. */
#define RL_OUT_MAX 16384
/* Clients per case. */
#define RL_CLIENTS_MAX 4
/* How long a server may take to log the end of a reload. */
#define RL_RELOAD_WAIT_MS 10000
/* How long a client's answer to its PING (or its close) may take. */
#define RL_ANSWER_WAIT_MS 3000

typedef struct {
  const char *name;
  const char *before, *after; /* config file texts */
  /* Clients connected before the reload: CONNECT json, then protocol they
   * send once connected (SUBs), may be NULL. */
  const char *connect[RL_CLIENTS_MAX];
  const char *setup[RL_CLIENTS_MAX];
  /* Sent by client 0 after the reload, before its PING (NULL: nothing). */
  const char *probe;
  /* Connections made after the reload: CONNECT json. */
  const char *fresh[RL_CLIENTS_MAX];
  /* Which clients the server picks is random (Go's map order): the
   * clients' records are compared as a set. */
  int any_order;
} rl_case_t;

#define USERS_ABC                                                              \
  "authorization { users = [ {user: a, password: pa},\n"                       \
  "  {user: b, password: pb, permissions: {subscribe: {allow: [\"foo.>\", "    \
  "\"bar\"]}}},\n"                                                             \
  "  {user: c, password: pc} ] }\n"

static const rl_case_t kCases[] = {
    {"users: a's password changed, b loses foo.>, c removed",
     USERS_ABC,
     "authorization { users = [ {user: a, password: CHANGED},\n"
     "  {user: b, password: pb, permissions: {subscribe: {allow: "
     "[\"bar\"]}}} ] }\n",
     {"{\"user\":\"a\",\"pass\":\"pa\",\"verbose\":false}",
      "{\"user\":\"b\",\"pass\":\"pb\",\"verbose\":false}",
      "{\"user\":\"c\",\"pass\":\"pc\",\"verbose\":false}"},
     {NULL, "SUB foo.x 1\r\nSUB bar 2\r\nSUB foo.> q 3\r\n", NULL},
     NULL,
     {"{\"user\":\"a\",\"pass\":\"pa\",\"verbose\":false}",
      "{\"user\":\"a\",\"pass\":\"CHANGED\",\"verbose\":false}",
      "{\"user\":\"c\",\"pass\":\"pc\",\"verbose\":false}"},
     0},
    {"users: default permissions added",
     "authorization { users = [ {user: a, password: pa} ] }\n",
     "authorization { default_permissions: {subscribe: \"ok.*\"},\n"
     "  users = [ {user: a, password: pa} ] }\n",
     {"{\"user\":\"a\",\"pass\":\"pa\",\"verbose\":false}"},
     {"SUB ok.1 1\r\nSUB no.1 2\r\nSUB ok.* 3\r\n"},
     "SUB no.2 4\r\n",
     {NULL},
     0},
    {"single user: an unchanged user is still closed (nats-server's quirk)",
     "authorization { user: u, password: p }\n",
     "authorization { user: u, password: p }\nmax_payload: 1000\n",
     {"{\"user\":\"u\",\"pass\":\"p\",\"verbose\":false}"},
     {NULL},
     NULL,
     {"{\"user\":\"u\",\"pass\":\"p\",\"verbose\":false}"},
     0},
    {"single user: password changed",
     "authorization { user: u, password: p }\n",
     "authorization { user: u, password: p2 }\n",
     {"{\"user\":\"u\",\"pass\":\"p\",\"verbose\":false}"},
     {NULL},
     NULL,
     {"{\"user\":\"u\",\"pass\":\"p2\",\"verbose\":false}",
      "{\"user\":\"u\",\"pass\":\"p\",\"verbose\":false}"},
     0},
    {"token changed",
     "authorization { token: t1 }\n",
     "authorization { token: t2 }\n",
     {"{\"auth_token\":\"t1\",\"verbose\":false}"},
     {NULL},
     NULL,
     {"{\"auth_token\":\"t2\",\"verbose\":false}",
      "{\"auth_token\":\"t1\",\"verbose\":false}"},
     0},
    {"no auth to token",
     "port: -1\n",
     "authorization { token: t2 }\n",
     {"{\"verbose\":false}"},
     {NULL},
     NULL,
     {"{\"verbose\":false}", "{\"auth_token\":\"t2\",\"verbose\":false}"},
     0},
    {"token to no auth",
     "authorization { token: t1 }\n",
     "port: -1\n",
     {"{\"auth_token\":\"t1\",\"verbose\":false}"},
     {NULL},
     NULL,
     {"{\"verbose\":false}"},
     0},
    {"users list replaced by a token: the old users still get in (2.9.10)",
     "authorization { users = [ {user: a, password: pa} ] }\n",
     "authorization { token: t }\n",
     {"{\"user\":\"a\",\"pass\":\"pa\",\"verbose\":false}"},
     {NULL},
     NULL,
     {"{\"user\":\"a\",\"pass\":\"pa\",\"verbose\":false}",
      "{\"auth_token\":\"t\",\"verbose\":false}", "{\"verbose\":false}"},
     0},
    {"no_auth_user's user removed with it",
     "authorization { users = [ {user: a, password: pa},\n"
     "  {user: b, password: pb} ] }\nno_auth_user: a\n",
     "authorization { users = [ {user: b, password: pb} ] }\n",
     {"{\"verbose\":false}",
      "{\"user\":\"b\",\"pass\":\"pb\",\"verbose\":false}"},
     {NULL, NULL},
     NULL,
     {"{\"verbose\":false}"},
     0},
    {"limits",
     "port: -1\n",
     "max_payload: 100\nmax_control_line: 200\nmax_connections: 5\n"
     "ping_interval: \"30s\"\nping_max: 3\nwrite_deadline: \"3s\"\n"
     "authorization { timeout: 0.5 }\nmax_traced_msg_len: 10\n",
     {"{\"verbose\":false}"},
     {NULL},
     "PUB big 200\r\n",
     {"{\"verbose\":false}"},
     0},
    {"max_connections below the clients connected",
     "port: -1\n",
     "max_connections: 1\n",
     {"{\"verbose\":false}", "{\"verbose\":false}", "{\"verbose\":false}"},
     {NULL, NULL, NULL},
     NULL,
     {NULL},
     1},
    {"logging flags",
     "port: -1\n",
     "debug: true\ntrace: true\nlogtime: false\n",
     {NULL},
     {NULL},
     NULL,
     {NULL},
     0},
    /* Refused: nothing changes (the client stays, old credentials work). */
    {"refused: max_subscriptions",
     "authorization { token: t1 }\n",
     "authorization { token: t2 }\nmax_subscriptions: 3\n",
     {"{\"auth_token\":\"t1\",\"verbose\":false}"},
     {NULL},
     NULL,
     {"{\"auth_token\":\"t1\",\"verbose\":false}"},
     0},
    {"refused: max_pending",
     "port: -1\n",
     "max_pending: 1000000\n",
     {NULL},
     {NULL},
     NULL,
     {NULL},
     0},
    {"refused: lame_duck_duration",
     "port: -1\n",
     "lame_duck_duration: \"40s\"\n",
     {NULL},
     {NULL},
     NULL,
     {NULL},
     0},
    {"refused: lame_duck_grace_period",
     "port: -1\n",
     "lame_duck_grace_period: \"4s\"\n",
     {NULL},
     {NULL},
     NULL,
     {NULL},
     0},
    {"refused: server_name",
     "port: -1\n",
     "server_name: foo\n",
     {NULL},
     {NULL},
     NULL,
     {NULL},
     0},
    {"refused: no_auth_user added",
     "authorization { users = [ {user: a, password: pa} ] }\n",
     "authorization { users = [ {user: a, password: pa} ] }\n"
     "no_auth_user: a\n",
     {"{\"user\":\"a\",\"pass\":\"pa\",\"verbose\":false}"},
     {NULL},
     NULL,
     {"{\"verbose\":false}"},
     0},
    {"refused: no_auth_user dropped while its user stays",
     "authorization { users = [ {user: a, password: pa} ] }\n"
     "no_auth_user: a\n",
     "authorization { users = [ {user: a, password: pa} ] }\n",
     {"{\"verbose\":false}"},
     {NULL},
     NULL,
     {"{\"verbose\":false}"},
     0},
    {"refused: unknown field",
     "authorization { token: t1 }\n",
     "authorization { token: t2 }\nfoo: 1\n",
     {"{\"auth_token\":\"t1\",\"verbose\":false}"},
     {NULL},
     NULL,
     {"{\"auth_token\":\"t1\",\"verbose\":false}"},
     0},
    {"refused: max_payload over max_pending",
     "port: -1\n",
     "max_payload: 100000000\n",
     {NULL},
     {NULL},
     NULL,
     {NULL},
     0},
    {"refused: http_port",
     "port: -1\n",
     "http_port: 8222\n",
     {NULL},
     {NULL},
     NULL,
     {NULL},
     0},
    {"refused: http host and port",
     "port: -1\n",
     "http: \"127.0.0.2:8222\"\n",
     {NULL},
     {NULL},
     NULL,
     {NULL},
     0},
    {"refused: host",
     "port: -1\n",
     "host: 127.0.0.2\n",
     {NULL},
     {NULL},
     NULL,
     {NULL},
     0},
    {"a warning (a duration as a number) does not stop it",
     "port: -1\n",
     "ping_interval: 60\n",
     {NULL},
     {NULL},
     NULL,
     {NULL},
     0},
};

static const char *natsmock_bin(void) {
  static char path[1024];
  const char *b = getenv("NM_BINARY_DIR");
  snprintf(path, sizeof(path), "%s/server/natsmock", b ? b : ".");
  return path;
}

static void append(char *out, size_t cap, const char *fmt, const char *a,
                   const char *b) {
  size_t n = strlen(out);
  if (n + 1 < cap)
    snprintf(out + n, cap - n, fmt, a, b);
}

static int cmp_str(const void *x, const void *y) {
  return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The lines of what a client received, without PING, PONG and +OK (noted
 * apart), sorted: nats-server removes subscriptions in Go's map order. */
static void describe_answer(char *text, nm_peer_state_t st, char *out,
                            size_t cap) {
  const char *lines[64];
  int n = 0, pong = 0;
  for (char *l = strtok(text, "\r\n"); l && n < 64; l = strtok(NULL, "\r\n")) {
    if (!strcmp(l, "PONG"))
      pong = 1;
    else if (strcmp(l, "PING") && strcmp(l, "+OK"))
      lines[n++] = l;
  }
  qsort(lines, (size_t)n, sizeof(lines[0]), cmp_str);
  for (int i = 0; i < n; i++)
    append(out, cap, "    %s%s\n", lines[i], "");
  append(out, cap, "    %s%s\n", pong ? "PONG" : "no PONG",
         st == NM_PEER_OPEN ? ", open" : ", closed");
}

/* Connects and sends CONNECT (+ setup) + PING; returns the fd once PONG came
 * (the setup's -ERRs, if any, are in what it read), or -1. */
static int connect_client(int port, const char *connect, const char *setup,
                          char *info, size_t infocap, char *answer,
                          size_t anscap, nm_peer_state_t *st) {
  char msg[2048];
  int fd = nm_test_connect(port);
  if (fd < 0)
    return -1;
  if (info && nm_test_read_line(fd, info, infocap, RL_ANSWER_WAIT_MS) < 0)
    info[0] = 0;
  snprintf(msg, sizeof(msg), "CONNECT %s\r\n%sPING\r\n", connect,
           setup ? setup : "");
  nm_test_send_str(fd, msg);
  nm_test_read(fd, answer, anscap, "PONG\r\n", RL_ANSWER_WAIT_MS, 0, st);
  return fd;
}

/* The server's log from `from` on: its reload lines (text after the level),
 * the path of its folder written DIR. */
static void reload_log(const char *log, const char *dir, char *out,
                       size_t cap) {
  static const char *kKeep[] = {"Reloaded", "Failed to reload", "Removed sub",
                                "Closed ", NULL};
  const char *removed[64];
  int nremoved = 0;
  char *copy = strdup(log);
  ck_assert_ptr_nonnull(copy);
  for (char *l = strtok(copy, "\n"); l; l = strtok(NULL, "\n")) {
    /* "[pid] date time [LVL] text" (no date with logtime false). */
    char *lvl = strstr(l, " [");
    char *text, *d;
    int keep = 0;
    if (lvl == NULL || strlen(lvl) < 8 || lvl[5] != ']')
      continue;
    text = lvl + 1;
    for (int i = 0; kKeep[i]; i++)
      if (strstr(text, kKeep[i]) == text + 6)
        keep = 1;
    if (!keep)
      continue;
    while ((d = strstr(text, dir)) != NULL) {
      memcpy(d, "DIR", 3);
      memmove(d + 3, d + strlen(dir), strlen(d + strlen(dir)) + 1);
    }
    if (strstr(text, "Removed sub") && nremoved < 64)
      removed[nremoved++] = text;
    else
      append(out, cap, "  log %s%s\n", text, "");
  }
  qsort(removed, (size_t)nremoved, sizeof(removed[0]), cmp_str);
  for (int i = 0; i < nremoved; i++)
    append(out, cap, "  log %s%s\n", removed[i], "");
  free(copy);
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  char *buf = calloc(1, RL_OUT_MAX * 4);
  size_t n;
  ck_assert_ptr_nonnull(buf);
  if (f == NULL)
    return buf;
  n = fread(buf, 1, RL_OUT_MAX * 4 - 1, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

/* Sends SIGHUP and waits (bounded) for the log to say how the reload
 * ended; returns the log's text from before the signal on. */
static char *signal_reload(const nm_natsserver_t *ns, size_t *from) {
  char path[400];
  long long deadline = nm_test_now_ms() + RL_RELOAD_WAIT_MS;
  char *log;
  snprintf(path, sizeof(path), "%s/server.log", ns->dir);
  log = read_file(path);
  *from = strlen(log);
  free(log);
  ck_assert_int_eq(kill(ns->pid, SIGHUP), 0);
  for (;;) {
    log = read_file(path);
    if (strstr(log + *from, "Reloaded server configuration") ||
        strstr(log + *from, "Failed to reload server configuration"))
      return log;
    free(log);
    ck_assert_msg(nm_test_now_ms() < deadline, "no reload logged by %s",
                  ns->dir);
    usleep(5000); /* another process's log file: no event to await */
  }
}

/* One case against one server binary: the record of what was seen. */
static void run_case(const rl_case_t *k, const char *bin, char *out,
                     size_t cap) {
  nm_natsserver_t ns;
  int fds[RL_CLIENTS_MAX];
  char buf[8192], conf[400];
  nm_peer_state_t st;
  size_t from;
  char *log;
  out[0] = 0;
  ck_assert_msg(nm_server_proc_start(&ns, bin, k->before, NULL) == 0,
                "%s did not start", bin);
  for (int i = 0; i < RL_CLIENTS_MAX; i++) {
    fds[i] = -1;
    if (k->connect[i] == NULL)
      continue;
    fds[i] = connect_client(ns.port, k->connect[i], k->setup[i], NULL, 0, buf,
                            sizeof(buf), &st);
    ck_assert_msg(fds[i] >= 0 && strstr(buf, "PONG\r\n"),
                  "%s: client %d not connected: %s", bin, i, buf);
  }
  snprintf(conf, sizeof(conf), "%s/server.conf", ns.dir);
  {
    FILE *f = fopen(conf, "w");
    ck_assert_ptr_nonnull(f);
    fputs(k->after, f);
    fclose(f);
  }
  log = signal_reload(&ns, &from);
  {
    static char rec[RL_CLIENTS_MAX][RL_OUT_MAX / RL_CLIENTS_MAX];
    const char *recs[RL_CLIENTS_MAX];
    int n = 0;
    for (int i = 0; i < RL_CLIENTS_MAX; i++) {
      if (fds[i] < 0)
        continue;
      if (i == 0 && k->probe)
        nm_test_send_str(fds[i], k->probe);
      nm_test_send_str(fds[i], "PING\r\n");
      nm_test_read(fds[i], buf, sizeof(buf), "PONG\r\n", RL_ANSWER_WAIT_MS, 0,
                   &st);
      snprintf(rec[n], sizeof(rec[n]), "  client %d:\n", k->any_order ? 0 : i);
      describe_answer(buf, st, rec[n], sizeof(rec[n]));
      recs[n] = rec[n];
      n++;
      close(fds[i]);
    }
    if (k->any_order)
      qsort(recs, (size_t)n, sizeof(recs[0]), cmp_str);
    for (int i = 0; i < n; i++)
      append(out, cap, "%s%s", recs[i], "");
  }
  for (int i = 0; i < RL_CLIENTS_MAX && k->fresh[i]; i++) {
    char info[4096];
    const char *mp;
    int fd = connect_client(ns.port, k->fresh[i], NULL, info, sizeof(info), buf,
                            sizeof(buf), &st);
    ck_assert_msg(fd >= 0, "%s: new connection %d refused", bin, i);
    mp = strstr(info, "\"max_payload\":");
    snprintf(conf, sizeof(conf), "  new %s: auth_required %s, %.24s\n",
             k->fresh[i], strstr(info, "\"auth_required\":true") ? "yes" : "no",
             mp ? mp : "no max_payload");
    append(out, cap, "%s%s", conf, "");
    describe_answer(buf, st, out, cap);
    close(fd);
  }
  /* The log once the clients' closes are done (a close may log). */
  free(log);
  snprintf(conf, sizeof(conf), "%s/server.log", ns.dir);
  log = read_file(conf);
  reload_log(log + from, ns.dir, out, cap);
  free(log);
  nm_natsserver_stop(&ns);
}

START_TEST(test_reload_as_nats_server) {
  const rl_case_t *k = &kCases[_i];
  static char want[RL_OUT_MAX], got[RL_OUT_MAX];
  run_case(k, natsmock_bin(), got, sizeof(got));
  /* The log was read: the record says how the reload ended. */
  ck_assert_msg(strstr(got, "log [INF] Reloaded server configuration") ||
                    strstr(got, "log [ERR] Failed to reload server "
                                "configuration: "),
                "[%s] natsmock:\n%s", k->name, got);
  ck_assert_msg(nm_natsserver_available(), "nats-server is not installed");
  run_case(k, "nats-server", want, sizeof(want));
  ck_assert_msg(!strcmp(want, got), "[%s]\nnats-server:\n%snatsmock:\n%s",
                k->name, want, got);
}
END_TEST

/* No -c: nothing to reload, as nats-server says. */
START_TEST(test_reload_without_config) {
  const char *bins[] = {"nats-server", natsmock_bin()};
  char got[2][RL_OUT_MAX];
  for (int b = 0; b < 2; b++) {
    nm_natsserver_t ns;
    size_t from;
    char *log;
    got[b][0] = 0;
    ck_assert_msg(nm_natsserver_available(), "nats-server is not installed");
    ck_assert_int_eq(nm_server_proc_start(&ns, bins[b], NULL, NULL), 0);
    log = signal_reload(&ns, &from);
    reload_log(log + from, ns.dir, got[b], sizeof(got[b]));
    free(log);
    nm_natsserver_stop(&ns);
  }
  ck_assert_msg(strstr(got[1], "can only reload config when a file is "
                               "provided using -c or --config"),
                "%s", got[1]);
  ck_assert_str_eq(got[0], got[1]);
}
END_TEST

static Suite *suite(void) {
  Suite *su = suite_create("server_reload");
  TCase *tc = tcase_create("reload");
  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, test_reload_as_nats_server, 0,
                      (int)(sizeof(kCases) / sizeof(kCases[0])));
  tcase_add_test(tc, test_reload_without_config);
  suite_add_tcase(su, tc);
  return su;
}

int main(void) {
  return nm_test_run_suite(suite(), CK_ENV);
}
