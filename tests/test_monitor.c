/* natsmock's HTTP monitoring against nats-server 2.9.10's: both started with
 * `-m -1`, the same clients connected to each, then /varz, /connz, /subsz,
 * /healthz and the bad-query answers compared: the same keys in the same
 * order with the same JSON types, and the same values for what both count
 * (connections, messages, bytes, subscriptions, options). Ids, times and
 * ports are compared by type. Then natsmock's own /mock/... endpoints
 * against the $MOCK.* requests on the same server, their auth, and requests
 * the HTTP parser must refuse. */
#define _GNU_SOURCE /* strcasestr */
#include <check.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nm_test_check.h"
#include "nm_test_util.h"

/* One HTTP response kept (the largest answer here is a few KiB). */
#define HTTP_MAX (256 * 1024)
#define IO_MS 5000

typedef struct {
  nm_natsserver_t proc;
  int mport; /* monitoring port from the ports file */
  char ports_json[1024];
} srv_t;

typedef struct {
  int status;
  char head[4096];
  char *body; /* into buf */
  char buf[HTTP_MAX];
} resp_t;

static const char *natsmock_bin(void) {
  static char path[1024];
  const char *b = getenv("NM_BINARY_DIR");
  snprintf(path, sizeof(path), "%s/server/natsmock", b ? b : ".");
  return path;
}

/* The ports file's text and its "monitoring" port. */
static int read_mport(srv_t *s) {
  DIR *d = opendir(s->proc.dir);
  struct dirent *e;
  int port = -1;
  if (d == NULL)
    return -1;
  while ((e = readdir(d)) != NULL) {
    char path[600];
    FILE *f;
    size_t n;
    cJSON *j, *m;
    if (strstr(e->d_name, ".ports") == NULL ||
        strstr(e->d_name, ".tmp") != NULL)
      continue;
    snprintf(path, sizeof(path), "%s/%s", s->proc.dir, e->d_name);
    f = fopen(path, "r");
    if (f == NULL)
      continue;
    n = fread(s->ports_json, 1, sizeof(s->ports_json) - 1, f);
    s->ports_json[n] = 0;
    fclose(f);
    j = cJSON_Parse(s->ports_json);
    m = cJSON_GetObjectItemCaseSensitive(j, "monitoring");
    if (cJSON_IsArray(m) && cJSON_IsString(cJSON_GetArrayItem(m, 0))) {
      const char *u = cJSON_GetArrayItem(m, 0)->valuestring;
      const char *c = strrchr(u, ':');
      port = c ? atoi(c + 1) : -1;
    }
    cJSON_Delete(j);
  }
  closedir(d);
  return port;
}

static void start(srv_t *s, int mock, const char *config,
                  const char *const *extra) {
  const char *args[16];
  int n = 0;
  args[n++] = "-m";
  args[n++] = "-1";
  for (int i = 0; extra && extra[i] && n < 15; i++)
    args[n++] = extra[i];
  args[n] = NULL;
  memset(s, 0, sizeof(*s));
  ck_assert_int_eq(
      mock ? nm_server_proc_start(&s->proc, natsmock_bin(), config, args)
           : nm_natsserver_start(&s->proc, config, args),
      0);
  s->mport = read_mport(s);
  ck_assert_int_gt(s->mport, 0);
}

/* One request on its own connection (HTTP/1.0: the body ends at the close,
 * so no chunked decoding is needed for nats-server's larger answers). */
static void http(int port, const char *method, const char *target,
                 const char *extra_headers, const char *body, resp_t *r) {
  char req[8192];
  nm_peer_state_t st;
  size_t n;
  char *sep;
  int fd = nm_test_connect(port);
  ck_assert_int_ge(fd, 0);
  snprintf(req, sizeof(req),
           "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n%sContent-Length: %zu\r\n\r\n"
           "%s",
           method, target, extra_headers ? extra_headers : "",
           body ? strlen(body) : 0, body ? body : "");
  ck_assert_int_eq(nm_test_send_str(fd, req), 0);
  n = nm_test_read(fd, r->buf, sizeof(r->buf), NULL, IO_MS, 0, &st);
  close(fd);
  ck_assert_msg(st != NM_PEER_OPEN, "%s %s: no close within %d ms", method,
                target, IO_MS);
  sep = strstr(r->buf, "\r\n\r\n");
  ck_assert_msg(sep != NULL, "%s %s: no header end in %zu bytes", method,
                target, n);
  snprintf(r->head, sizeof(r->head), "%.*s", (int)(sep - r->buf), r->buf);
  r->body = sep + 4;
  r->status = atoi(r->buf + 9);
}

static cJSON *get_json(int port, const char *target) {
  static resp_t r;
  cJSON *j;
  http(port, "GET", target, NULL, NULL, &r);
  ck_assert_msg(r.status == 200, "%s: status %d", target, r.status);
  j = cJSON_Parse(r.body);
  ck_assert_msg(j != NULL, "%s: not JSON: %.200s", target, r.body);
  return j;
}

/* A NATS client: CONNECT with a name, lang and version, then `proto`, then
 * a PING answered. Returns the fd. */
static int nats_client(int port, const char *name, const char *proto) {
  char buf[8192], line[512];
  nm_peer_state_t st;
  int fd = nm_test_connect(port);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_gt(nm_test_read_line(fd, buf, sizeof(buf), IO_MS), 0);
  snprintf(line, sizeof(line),
           "CONNECT {\"verbose\":false,\"name\":\"%s\",\"lang\":\"C\","
           "\"version\":\"3.4.1\"}\r\n",
           name);
  ck_assert_int_eq(nm_test_send_str(fd, line), 0);
  ck_assert_int_eq(nm_test_send_str(fd, proto), 0);
  ck_assert_int_eq(nm_test_send_str(fd, "PING\r\n"), 0);
  nm_test_read(fd, buf, sizeof(buf), "PONG\r\n", IO_MS, 0, &st);
  ck_assert_msg(strstr(buf, "PONG\r\n") != NULL, "no PONG: %s", buf);
  return fd;
}

/* Same member names in the same order and the same JSON types, all the
 * way down (arrays: element by element up to the shorter length; their
 * lengths are compared by the callers where they must agree). `skip`:
 * names only one side has, checked by the caller. Returns the number of
 * fields compared. */
static int same_shape(const cJSON *a, const cJSON *b, const char *path,
                      const char *const *skip) {
  int n = 1;
  ck_assert_msg((a->type & 0xff) == (b->type & 0xff) ||
                    (cJSON_IsBool(a) && cJSON_IsBool(b)),
                "%s: type %d (natsmock) vs %d (nats-server)", path,
                a->type & 0xff, b->type & 0xff);
  if (cJSON_IsObject(a)) {
    const cJSON *x = a->child, *y = b->child;
    for (;;) {
      char sub[512];
      while (x && skip) {
        int k = 0;
        while (skip[k] && strcmp(skip[k], x->string))
          k++;
        if (!skip[k])
          break;
        x = x->next;
      }
      while (y && skip) {
        int k = 0;
        while (skip[k] && strcmp(skip[k], y->string))
          k++;
        if (!skip[k])
          break;
        y = y->next;
      }
      if (!x || !y)
        break;
      ck_assert_msg(strcmp(x->string, y->string) == 0,
                    "%s: member \"%s\" (natsmock) where nats-server has "
                    "\"%s\"",
                    path, x->string, y->string);
      snprintf(sub, sizeof(sub), "%s.%s", path, x->string);
      n += same_shape(x, y, sub, skip);
      x = x->next;
      y = y->next;
    }
    ck_assert_msg(x == NULL && y == NULL, "%s: natsmock has %s, nats-server %s",
                  path, x ? x->string : "nothing more",
                  y ? y->string : "nothing more");
  } else if (cJSON_IsArray(a)) {
    int na = cJSON_GetArraySize(a), nb = cJSON_GetArraySize(b);
    for (int i = 0; i < na && i < nb; i++) {
      char sub[512];
      snprintf(sub, sizeof(sub), "%s[%d]", path, i);
      n += same_shape(cJSON_GetArrayItem(a, i), cJSON_GetArrayItem(b, i), sub,
                      skip);
    }
  }
  return n;
}

static double num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  ck_assert_msg(cJSON_IsNumber(v), "%s is not a number", k);
  return v->valuedouble;
}

/* Until /connz on mport lists `want` open connections (at most 100 tries),
 * a PING on `probe` answered between tries: the server has then handled
 * what came before it, a close included. */
static void await_open_conns(int mport, int want, int probe) {
  char line[64];
  for (int tries = 0; tries < 100; tries++) {
    cJSON *o = get_json(mport, "/connz");
    int open = (int)num(o, "num_connections");
    cJSON_Delete(o);
    if (open == want)
      return;
    ck_assert_int_eq(nm_test_send_str(probe, "PING\r\n"), 0);
    ck_assert_int_gt(nm_test_read_line(probe, line, sizeof(line), IO_MS), 0);
  }
}

static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  ck_assert_msg(cJSON_IsString(v), "%s is not a string", k);
  return v->valuestring;
}

/* The values both servers must agree on, member by member. */
static int same_values(const cJSON *a, const cJSON *b,
                       const char *const *keys) {
  int n = 0;
  for (int i = 0; keys[i]; i++, n++) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(a, keys[i]);
    const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, keys[i]);
    char *tx, *ty;
    ck_assert_msg(x && y, "%s missing (natsmock %p, nats-server %p)", keys[i],
                  (void *)x, (void *)y);
    tx = cJSON_PrintUnformatted(x);
    ty = cJSON_PrintUnformatted(y);
    ck_assert_msg(strcmp(tx, ty) == 0, "%s: natsmock %s, nats-server %s",
                  keys[i], tx, ty);
    cJSON_free(tx);
    cJSON_free(ty);
  }
  return n;
}

/* Both servers with the same two clients: A subscribes foo, bar (queue q)
 * and foo.*, B publishes to foo twice and to foo.x once. */
typedef struct {
  srv_t s[2]; /* 0: natsmock, 1: nats-server */
  int fd[2][2];
  double base_subs[2]; /* subscriptions before any client */
} pair_t;

static void pair_start(pair_t *p) {
  for (int i = 0; i < 2; i++) {
    cJSON *v;
    char buf[4096];
    nm_peer_state_t st;
    start(&p->s[i], i == 0, NULL, NULL);
    v = get_json(p->s[i].mport, "/varz");
    p->base_subs[i] = num(v, "subscriptions");
    cJSON_Delete(v);
    p->fd[i][0] = nats_client(p->s[i].proc.port, "subscriber",
                              "SUB foo 1\r\nSUB bar q 2\r\nSUB foo.* 3\r\n");
    p->fd[i][1] =
        nats_client(p->s[i].proc.port, "publisher",
                    "PUB foo 5\r\nhello\r\nPUB foo 2\r\nhi\r\nPUB foo.x "
                    "3\r\nabc\r\n");
    /* The subscriber got all three before anyone looks. */
    ck_assert_int_eq(nm_test_send_str(p->fd[i][0], "PING\r\n"), 0);
    nm_test_read(p->fd[i][0], buf, sizeof(buf), "PONG\r\n", IO_MS, 0, &st);
    ck_assert_msg(nm_test_count(buf, "MSG ") == 3, "deliveries: %s", buf);
  }
}

static void pair_stop(pair_t *p) {
  for (int i = 0; i < 2; i++) {
    if (p->fd[i][0] >= 0)
      close(p->fd[i][0]);
    close(p->fd[i][1]);
    nm_natsserver_stop(&p->s[i].proc);
  }
}

START_TEST(test_varz_as_nats_server) {
  static const char *const kSkip[] = {"system_account", NULL};
  static const char *const kValues[] = {"version",        "proto",
                                        "host",           "max_connections",
                                        "ping_interval",  "ping_max",
                                        "http_host",      "http_port",
                                        "http_base_path", "https_port",
                                        "auth_timeout",   "max_control_line",
                                        "max_payload",    "max_pending",
                                        "cluster",        "gateway",
                                        "leaf",           "mqtt",
                                        "websocket",      "jetstream",
                                        "tls_timeout",    "write_deadline",
                                        "connections",    "total_connections",
                                        "routes",         "remotes",
                                        "leafnodes",      "in_msgs",
                                        "out_msgs",       "in_bytes",
                                        "out_bytes",      "slow_consumers",
                                        "http_req_stats", NULL};
  pair_t p;
  cJSON *v[2];
  int fields, values;
  if (!nm_natsserver_available())
    return;
  pair_start(&p);
  for (int i = 0; i < 2; i++)
    v[i] = get_json(p.s[i].mport, "/varz");
  fields = same_shape(v[0], v[1], "varz", kSkip);
  values = same_values(v[0], v[1], kValues);
  /* natsmock counts the clients' subscriptions only. */
  ck_assert_double_eq(num(v[0], "subscriptions") - p.base_subs[0],
                      num(v[1], "subscriptions") - p.base_subs[1]);
  ck_assert_double_eq(p.base_subs[0], 0);
  ck_assert_int_eq(num(v[0], "port"), p.s[0].proc.port);
  ck_assert_str_eq(str(v[0], "server_id"), str(v[0], "server_name"));
  ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(v[0], "system_account"));
  printf("varz: %d fields of the same name, order and type, %d values equal "
         "(+ subscriptions over the base)\n",
         fields, values + 1);
  cJSON_Delete(v[0]);
  cJSON_Delete(v[1]);
  pair_stop(&p);
}
END_TEST

/* The connection of a /connz answer with this name. */
static const cJSON *conn_named(const cJSON *connz, const char *name) {
  const cJSON *c;
  cJSON_ArrayForEach(c,
                     cJSON_GetObjectItemCaseSensitive(connz, "connections")) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(c, "name");
    if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
      return c;
  }
  ck_abort_msg("no connection named %s", name);
  return NULL;
}

/* The strings of an array, sorted, joined (Go's subscription lists come in
 * map order). */
static void sorted_list(const cJSON *arr, const char *member, char *out,
                        size_t n) {
  const char *v[64];
  int k = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, arr) {
    const cJSON *s = member ? cJSON_GetObjectItemCaseSensitive(it, member) : it;
    if (k < 64 && cJSON_IsString(s))
      v[k++] = s->valuestring;
  }
  for (int i = 1; i < k; i++)
    for (int j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
      const char *t = v[j];
      v[j] = v[j - 1];
      v[j - 1] = t;
    }
  out[0] = 0;
  for (int i = 0; i < k; i++)
    snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? "," : "", v[i]);
}

/* Sorts every connection's subscription list (plain or detail) by subject:
 * nats-server lists them in Go map order, which changes from run to run. */
static void sort_sub_lists(cJSON *connz) {
  cJSON *c;
  cJSON_ArrayForEach(c,
                     cJSON_GetObjectItemCaseSensitive(connz, "connections")) {
    static const char *const kLists[] = {"subscriptions_list",
                                         "subscriptions_list_detail"};
    for (int l = 0; l < 2; l++) {
      cJSON *arr = cJSON_GetObjectItemCaseSensitive(c, kLists[l]);
      int n = cJSON_GetArraySize(arr);
      cJSON *v[64];
      if (!cJSON_IsArray(arr) || n > 64)
        continue;
      for (int i = 0; i < n; i++)
        v[i] = cJSON_DetachItemFromArray(arr, 0);
      for (int i = 1; i < n; i++)
        for (int j = i; j > 0; j--) {
          const char *a = l ? str(v[j - 1], "subject") : v[j - 1]->valuestring;
          const char *b = l ? str(v[j], "subject") : v[j]->valuestring;
          cJSON *t;
          if (strcmp(a, b) <= 0)
            break;
          t = v[j];
          v[j] = v[j - 1];
          v[j - 1] = t;
        }
      for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, v[i]);
    }
  }
}

START_TEST(test_connz_as_nats_server) {
  static const char *const kTop[] = {"num_connections", "total", "offset",
                                     "limit", NULL};
  /* pending_bytes by type only: nats-server lowers it after its write
   * returns, so a client that has read the PONG can ask before it does
   * (seen as 6 under load: the PONG still counted). */
  static const char *const kConn[] = {
      "kind",      "type",          "ip",   "in_msgs", "out_msgs", "in_bytes",
      "out_bytes", "subscriptions", "name", "lang",    "version",  NULL};
  static const char *const kQueries[] = {"/connz",
                                         "/connz?subs=1",
                                         "/connz?subs=detail",
                                         "/connz?sort=msgs_from",
                                         "/connz?sort=bytes_to&subs=true",
                                         "/connz?limit=1&offset=1",
                                         "/connz?state=all",
                                         "/connz?auth=1",
                                         "/connz?sort=subs&limit=1",
                                         NULL};
  pair_t p;
  int fields = 0, values = 0;
  if (!nm_natsserver_available())
    return;
  pair_start(&p);
  for (int q = 0; kQueries[q]; q++) {
    cJSON *c[2];
    const cJSON *a, *b;
    for (int i = 0; i < 2; i++) {
      c[i] = get_json(p.s[i].mport, kQueries[q]);
      sort_sub_lists(c[i]);
    }
    fields += same_shape(c[0], c[1], kQueries[q], NULL);
    values += same_values(c[0], c[1], kTop);
    ck_assert_int_eq(cJSON_GetArraySize(
                         cJSON_GetObjectItemCaseSensitive(c[0], "connections")),
                     cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
                         c[1], "connections")));
    /* The same connections in the same order (sorts by counters). */
    for (int k = 0; k < cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
                            c[0], "connections"));
         k++) {
      a = cJSON_GetArrayItem(
          cJSON_GetObjectItemCaseSensitive(c[0], "connections"), k);
      b = cJSON_GetArrayItem(
          cJSON_GetObjectItemCaseSensitive(c[1], "connections"), k);
      values += same_values(a, b, kConn);
    }
    if (strstr(kQueries[q], "subs=")) {
      char la[512], lb[512];
      const char *member = strstr(kQueries[q], "detail")
                               ? "subscriptions_list_detail"
                               : "subscriptions_list";
      a = conn_named(c[0], "subscriber");
      b = conn_named(c[1], "subscriber");
      sorted_list(cJSON_GetObjectItemCaseSensitive(a, member),
                  strstr(member, "detail") ? "subject" : NULL, la, sizeof(la));
      sorted_list(cJSON_GetObjectItemCaseSensitive(b, member),
                  strstr(member, "detail") ? "subject" : NULL, lb, sizeof(lb));
      ck_assert_str_eq(la, lb);
      ck_assert_str_eq(la, "bar,foo,foo.*");
      values++;
    }
    cJSON_Delete(c[0]);
    cJSON_Delete(c[1]);
  }
  /* cid=: the publisher by its own id on each server. */
  for (int i = 0; i < 2; i++) {
    char q[64];
    cJSON *all = get_json(p.s[i].mport, "/connz"), *one;
    double cid = num(conn_named(all, "publisher"), "cid");
    snprintf(q, sizeof(q), "/connz?cid=%.0f", cid);
    one = get_json(p.s[i].mport, q);
    ck_assert_int_eq(num(one, "num_connections"), 1);
    ck_assert_int_eq(num(one, "limit"), 1);
    ck_assert_int_eq(num(one, "total"), 2);
    ck_assert_str_eq(str(conn_named(one, "publisher"), "name"), "publisher");
    cJSON_Delete(all);
    cJSON_Delete(one);
  }
  printf("connz: %d fields of the same name, order and type, %d values "
         "equal, over %d queries\n",
         fields, values, 9);
  pair_stop(&p);
}
END_TEST

/* A client that closes (after reading everything: a FIN, not a reset) is
 * listed by state=closed with nats-server's reason, its counters and its
 * subscriptions; state=all lists both. */
START_TEST(test_connz_closed_as_nats_server) {
  static const char *const kTop[] = {"num_connections", "total", "offset",
                                     "limit", NULL};
  /* pending_bytes by type only: nats-server may have queued a keepalive
   * PING just before it saw the close. */
  static const char *const kConn[] = {
      "kind",      "type",          "ip",   "in_msgs", "out_msgs", "in_bytes",
      "out_bytes", "subscriptions", "name", "lang",    "version",  "reason",
      NULL};
  static const char *const kQueries[] = {"/connz?state=closed",
                                         "/connz?state=closed&subs=detail",
                                         "/connz?state=all&subs=1",
                                         "/connz?state=closed&sort=stop",
                                         "/connz?state=closed&sort=reason",
                                         NULL};
  pair_t p;
  int fields = 0, values = 0;
  if (!nm_natsserver_available())
    return;
  pair_start(&p);
  for (int i = 0; i < 2; i++) {
    long long deadline = nm_test_now_ms() + IO_MS;
    close(p.fd[i][0]);
    p.fd[i][0] = -1;
    /* No event tells when the server has seen the close: ask until it
     * lists it (bounded). */
    for (;;) {
      cJSON *c = get_json(p.s[i].mport, "/connz?state=closed");
      int got = (int)num(c, "num_connections");
      cJSON_Delete(c);
      if (got == 1)
        break;
      ck_assert_msg(nm_test_now_ms() < deadline, "close not seen");
      usleep(10000);
    }
  }
  for (int q = 0; kQueries[q]; q++) {
    cJSON *c[2];
    int nc;
    for (int i = 0; i < 2; i++) {
      c[i] = get_json(p.s[i].mport, kQueries[q]);
      sort_sub_lists(c[i]);
    }
    fields += same_shape(c[0], c[1], kQueries[q], NULL);
    values += same_values(c[0], c[1], kTop);
    nc = cJSON_GetArraySize(
        cJSON_GetObjectItemCaseSensitive(c[0], "connections"));
    for (int k = 0; k < nc; k++) {
      const cJSON *a = cJSON_GetArrayItem(
          cJSON_GetObjectItemCaseSensitive(c[0], "connections"), k);
      const cJSON *b = cJSON_GetArrayItem(
          cJSON_GetObjectItemCaseSensitive(c[1], "connections"), k);
      if (cJSON_GetObjectItemCaseSensitive(b, "reason") == NULL) {
        /* An open one (state=all). */
        values += same_values(a, b, (const char *const[]){"name", NULL});
        continue;
      }
      values += same_values(a, b, kConn);
      ck_assert_str_eq(str(a, "reason"), "Client Closed");
    }
    cJSON_Delete(c[0]);
    cJSON_Delete(c[1]);
  }
  printf("connz closed: %d fields of the same name, order and type, %d "
         "values equal, over 5 queries\n",
         fields, values);
  pair_stop(&p);
}
END_TEST

START_TEST(test_subsz_and_healthz_as_nats_server) {
  static const char *const kPage[] = {"total", "offset", "limit", NULL};
  static const char *const kSub[] = {"account", "subject", "qgroup",
                                     "sid",     "msgs",    NULL};
  static const char *const kHealth[] = {"/healthz",
                                        "/healthz?js-enabled-only=true",
                                        "/healthz?js-server-only=1", NULL};
  pair_t p;
  cJSON *s[2];
  resp_t *r = malloc(sizeof(*r));
  char body[2][64];
  int fields = 0, values = 0;
  if (!nm_natsserver_available()) {
    free(r);
    return;
  }
  pair_start(&p);
  for (int i = 0; i < 2; i++)
    s[i] = get_json(p.s[i].mport, "/subsz");
  fields += same_shape(s[0], s[1], "subsz", NULL);
  ck_assert_double_eq(num(s[0], "num_subscriptions") - p.base_subs[0],
                      num(s[1], "num_subscriptions") - p.base_subs[1]);
  values++;
  cJSON_Delete(s[0]);
  cJSON_Delete(s[1]);
  /* subs=1 with test=: the client subscriptions a publish reaches (the
   * test subject keeps nats-server's $SYS ones out). */
  for (int i = 0; i < 2; i++)
    s[i] = get_json(p.s[i].mport, "/subsz?subs=1&test=foo.x");
  fields += same_shape(s[0], s[1], "subsz?subs=1", NULL);
  values += same_values(s[0], s[1], kPage);
  ck_assert_int_eq(num(s[0], "total"), 1);
  values += same_values(
      cJSON_GetArrayItem(
          cJSON_GetObjectItemCaseSensitive(s[0], "subscriptions_list"), 0),
      cJSON_GetArrayItem(
          cJSON_GetObjectItemCaseSensitive(s[1], "subscriptions_list"), 0),
      (const char *const[]){"account", "subject", "sid", "msgs", NULL});
  (void)kSub;
  cJSON_Delete(s[0]);
  cJSON_Delete(s[1]);
  for (int h = 0; kHealth[h]; h++) {
    for (int i = 0; i < 2; i++) {
      http(p.s[i].mport, "GET", kHealth[h], NULL, NULL, r);
      ck_assert_int_eq(r->status, 200);
      snprintf(body[i], sizeof(body[i]), "%s", r->body);
    }
    ck_assert_str_eq(body[0], body[1]);
    values++;
  }
  /* The endpoints of features natsmock has not: nats-server's answers with
   * them off. */
  for (int e = 0; e < 3; e++) {
    static const char *const kOff[] = {"/routez", "/gatewayz", "/leafz"};
    for (int i = 0; i < 2; i++)
      s[i] = get_json(p.s[i].mport, kOff[e]);
    fields += same_shape(s[0], s[1], kOff[e], NULL);
    cJSON_DeleteItemFromObjectCaseSensitive(s[0], "server_id");
    cJSON_DeleteItemFromObjectCaseSensitive(s[1], "server_id");
    cJSON_DeleteItemFromObjectCaseSensitive(s[0], "now");
    cJSON_DeleteItemFromObjectCaseSensitive(s[1], "now");
    ck_assert(cJSON_Compare(s[0], s[1], 1));
    values++;
    cJSON_Delete(s[0]);
    cJSON_Delete(s[1]);
  }
  printf("subsz/healthz/routez/gatewayz/leafz: %d fields of the same name, "
         "order and type, %d "
         "values equal\n",
         fields, values);
  free(r);
  pair_stop(&p);
}
END_TEST

/* Answers to bad queries and unknown paths: status, Content-Type and body
 * byte for byte. */
static const char *const kBadQueries[] = {
    "/connz?sort=foo",
    "/connz?limit=x",
    "/connz?offset=1.5",
    "/connz?limit=99999999999999999999",
    "/connz?cid=x",
    "/connz?cid=-1",
    "/connz?state=x",
    "/connz?sort=stop",
    "/connz?sort=reason&state=open",
    "/connz?auth=maybe",
    "/connz?subs=2",
    "/subsz?subs=yes",
    "/subsz?offset=z",
    "/subsz?subs=1&test=foo.*",
    "/healthz?js-enabled=x",
    "/healthz?js-enabled-only=2",
    "/routez?subs=x",
    "/nope",
    "/varz/",
    "/mock",
    "/connz/x",
    /* A NUL, a new line, UTF-8, a C1 control and a bad byte in values. */
    "/connz?limit=1%002",
    "/connz?sort=cid%00x",
    "/connz?state=open%00",
    "/connz?limit=%0A%C3%A9%C2%85%FF",
    "/connz?limit=%ED%A0%80%C0%AF%F4%90%80%80",
    "/subsz?subs=1&test=a%00.*",
};

static void header_value(const char *head, const char *name, char *out,
                         size_t n) {
  const char *p = strcasestr(head, name);
  out[0] = 0;
  if (p) {
    const char *e;
    p += strlen(name);
    e = strstr(p, "\r\n");
    snprintf(out, n, "%.*s", (int)(e ? e - p : (long)strlen(p)), p);
  }
}

/* One query to both servers: the same status, Content-Type and body. */
static void same_answer_as_nats_server(const char *q) {
  srv_t s[2];
  resp_t *r[2];
  char ct[2][128];
  ck_assert_msg(nm_natsserver_available(), "nats-server is not installed");
  for (int i = 0; i < 2; i++) {
    r[i] = malloc(sizeof(*r[i]));
    start(&s[i], i == 0, NULL, NULL);
    http(s[i].mport, "GET", q, NULL, NULL, r[i]);
    header_value(r[i]->head, "\r\nContent-Type: ", ct[i], sizeof(ct[i]));
    nm_natsserver_stop(&s[i].proc);
  }
  /* Messages cut: a query may be 5 KiB long. */
  ck_assert_msg(r[0]->status == r[1]->status, "%.200s: status %d vs %d", q,
                r[0]->status, r[1]->status);
  ck_assert_msg(strcmp(ct[0], ct[1]) == 0, "%.200s: type %s vs %s", q, ct[0],
                ct[1]);
  ck_assert_msg(strcmp(r[0]->body, r[1]->body) == 0,
                "%.200s: body\n%.300s\nvs\n%.300s", q, r[0]->body, r[1]->body);
  for (int i = 0; i < 2; i++)
    free(r[i]);
}

START_TEST(test_bad_queries_as_nats_server) {
  same_answer_as_nats_server(kBadQueries[_i]);
}
END_TEST

/* Values longer than any fixed buffer (before, a value of 4 KiB or more
 * was taken as absent, and longer than 511 bytes was cut in the answer):
 * nats-server quotes them whole. */
START_TEST(test_long_query_values_as_nats_server) {
  static const char *const kKeys[] = {
      "/connz?limit=", "/connz?sort=", "/connz?state=", "/subsz?subs=1&test=*.",
      "/healthz?js-enabled="};
  char q[6000];
  size_t n = strlen(kKeys[_i]);
  memcpy(q, kKeys[_i], n);
  memset(q + n, 'x', 5000);
  q[n + 5000] = 0;
  same_answer_as_nats_server(q);
}
END_TEST

/* The ports file lists the monitoring URL in nats-server's shape, and the
 * http config keys start monitoring as -m does. */
START_TEST(test_ports_file_and_config_keys) {
  static const char *const kConfigs[] = {
      "http_port: -1\n", "monitor_port: -1\n", "http: \"127.0.0.1:-1\"\n",
      "http: -1\n"};
  for (int c = 0; c < 4; c++) {
    srv_t s;
    cJSON *j;
    char url[64];
    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(
        nm_server_proc_start(&s.proc, natsmock_bin(), kConfigs[c], NULL), 0);
    s.mport = read_mport(&s);
    ck_assert_msg(s.mport > 0, "%s: ports file %s", kConfigs[c], s.ports_json);
    snprintf(url, sizeof(url), "{\"nats\":[\"nats://127.0.0.1:%d\"],",
             s.proc.port);
    ck_assert_msg(strncmp(s.ports_json, url, strlen(url)) == 0, "%s",
                  s.ports_json);
    j = get_json(s.mport, "/varz");
    ck_assert_int_eq(num(j, "http_port"), -1);
    cJSON_Delete(j);
    nm_natsserver_stop(&s.proc);
  }
}
END_TEST

/* A $MOCK.<verb> request on a NATS connection; the answer's payload into
 * out. */
static void mock_request(int fd, const char *verb, const char *payload,
                         char *out, size_t n) {
  char req[4096], buf[16384];
  nm_peer_state_t st;
  const char *p;
  snprintf(req, sizeof(req), "PUB $MOCK.%s _r.%s %zu\r\n%s\r\nPING\r\n", verb,
           verb, strlen(payload), payload);
  ck_assert_int_eq(nm_test_send_str(fd, req), 0);
  nm_test_read(fd, buf, sizeof(buf), "PONG\r\n", IO_MS, 0, &st);
  p = strstr(buf, "MSG _r.");
  ck_assert_msg(p != NULL, "no answer to $MOCK.%s: %s", verb, buf);
  p = strstr(p, "\r\n") + 2;
  snprintf(out, n, "%.*s", (int)(strstr(p, "\r\n") - p), p);
}

START_TEST(test_mock_endpoints_answer_as_mock_requests) {
  static const char *const kDocs[] = {
      /* INFO: the control connection is past its INFO already. */
      "{\"rules\":[{\"id\":\"h1\",\"dir\":\"out\",\"verb\":\"INFO\","
      "\"action\":\"drop\"}]}",
      "{\"rules\":[{\"id\":\"h1\",\"action\":\"drop\"}]}", /* id in use */
      "{\"rules\":[{\"dir\":\"sideways\"}]}",
      "{\"bogus\":1}",
      "not json",
  };
  srv_t s;
  resp_t *r = malloc(sizeof(*r));
  char via_nats[8192];
  int fd;
  start(&s, 1, NULL, NULL);
  fd = nats_client(s.proc.port, "ctl", "SUB _r.> 1\r\n");
  for (int d = 0; d < 5; d++) {
    /* The same document over HTTP and over NATS: the same answer (after
     * the HTTP one, a second install of h1 is refused either way). */
    http(s.mport, "POST", "/mock/fault", NULL, kDocs[d], r);
    if (d == 0) {
      ck_assert_int_eq(r->status, 200);
      ck_assert_str_eq(r->body, "{\"ok\":true,\"rules\":[\"h1\"]}");
      mock_request(fd, "fault", kDocs[1], via_nats, sizeof(via_nats));
      http(s.mport, "PUT", "/mock/fault", NULL, kDocs[1], r);
    } else {
      mock_request(fd, "fault", kDocs[d], via_nats, sizeof(via_nats));
    }
    ck_assert_int_eq(r->status, 400);
    ck_assert_str_eq(r->body, via_nats);
    ck_assert_msg(strstr(r->head, "Content-Type: application/json"), "%s",
                  r->head);
  }
  http(s.mport, "GET", "/mock/rules", NULL, NULL, r);
  mock_request(fd, "rules", "", via_nats, sizeof(via_nats));
  ck_assert_int_eq(r->status, 200);
  ck_assert_str_eq(r->body, via_nats);
  ck_assert_msg(strstr(r->body, "\"id\":\"h1\""), "%s", r->body);
  http(s.mport, "GET", "/mock/trace?since=1", NULL, NULL, r);
  mock_request(fd, "trace", "{\"since\":1}", via_nats, sizeof(via_nats));
  ck_assert_str_eq(r->body, via_nats);
  http(s.mport, "POST", "/mock/trace", NULL, "{\"since\":0}", r);
  mock_request(fd, "trace", "{\"since\":0}", via_nats, sizeof(via_nats));
  ck_assert_str_eq(r->body, via_nats);
  http(s.mport, "POST", "/mock/trace", NULL, "{\"until\":0}", r);
  mock_request(fd, "trace", "{\"until\":0}", via_nats, sizeof(via_nats));
  ck_assert_int_eq(r->status, 400);
  ck_assert_str_eq(r->body, via_nats);
  http(s.mport, "DELETE", "/mock/clear", NULL, NULL, r);
  ck_assert_int_eq(r->status, 200);
  mock_request(fd, "clear", "", via_nats, sizeof(via_nats));
  ck_assert_str_eq(r->body, via_nats);
  http(s.mport, "GET", "/mock/rules", NULL, NULL, r);
  ck_assert_str_eq(r->body, "{\"ok\":true,\"rules\":[]}");
  /* Methods. */
  http(s.mport, "GET", "/mock/fault", NULL, NULL, r);
  ck_assert_int_eq(r->status, 405);
  ck_assert_msg(strstr(r->head, "\r\nAllow: POST, PUT"), "%s", r->head);
  http(s.mport, "POST", "/mock/rules", NULL, "{}", r);
  ck_assert_int_eq(r->status, 405);
  http(s.mport, "GET", "/mock/clear", NULL, NULL, r);
  ck_assert_int_eq(r->status, 405);
  close(fd);
  nm_natsserver_stop(&s.proc);
  free(r);
}
END_TEST

START_TEST(test_mock_endpoints_off_and_auth) {
  static const char *const kNoMock[] = {"--no_mock_control", NULL};
  static const char *const kUser[] = {"--user", "u", "--pass", "p", NULL};
  static const char *const kToken[] = {"--auth", "s3cret", NULL};
  static const char kUsers[] =
      "authorization { users = [ {user: a, password: pa},"
      " {user: b, password: pb, permissions: {publish: {deny: "
      "\"$MOCK.>\"}}} ] }\nno_auth_user: a\n";
  srv_t s;
  resp_t *r = malloc(sizeof(*r));
  cJSON *v;

  start(&s, 1, NULL, kNoMock);
  http(s.mport, "GET", "/mock/rules", NULL, NULL, r);
  ck_assert_int_eq(r->status, 404);
  http(s.mport, "GET", "/varz", NULL, NULL, r);
  ck_assert_int_eq(r->status, 200);
  nm_natsserver_stop(&s.proc);

  start(&s, 1, NULL, kUser);
  http(s.mport, "GET", "/mock/rules", NULL, NULL, r);
  ck_assert_int_eq(r->status, 401);
  ck_assert_msg(strstr(r->head, "Www-Authenticate: Basic realm=\"natsmock\""),
                "%s", r->head);
  http(s.mport, "GET", "/mock/rules", "Authorization: Basic dTp4\r\n", NULL,
       r); /* u:x */
  ck_assert_int_eq(r->status, 401);
  http(s.mport, "GET", "/mock/rules", "Authorization: Basic dTpw\r\n", NULL,
       r); /* u:p */
  ck_assert_int_eq(r->status, 200);
  /* Monitoring stays open, as in nats-server; varz says auth_required. */
  v = get_json(s.mport, "/varz");
  ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "auth_required")));
  cJSON_Delete(v);
  nm_natsserver_stop(&s.proc);

  start(&s, 1, NULL, kToken);
  http(s.mport, "GET", "/mock/rules", "Authorization: Bearer nope\r\n", NULL,
       r);
  ck_assert_int_eq(r->status, 401);
  http(s.mport, "GET", "/mock/rules", "Authorization: Bearer s3cret\r\n", NULL,
       r);
  ck_assert_int_eq(r->status, 200);
  nm_natsserver_stop(&s.proc);

  start(&s, 1, kUsers, NULL);
  /* no_auth_user lets nobody in here. */
  http(s.mport, "GET", "/mock/rules", NULL, NULL, r);
  ck_assert_int_eq(r->status, 401);
  http(s.mport, "GET", "/mock/rules", "Authorization: Basic YTpwYQ==\r\n", NULL,
       r); /* a:pa */
  ck_assert_int_eq(r->status, 200);
  http(s.mport, "POST", "/mock/clear", "Authorization: Basic YjpwYg==\r\n",
       NULL, r); /* b:pb, denied $MOCK.> */
  ck_assert_int_eq(r->status, 403);
  ck_assert_str_eq(r->body, "{\"ok\":false,\"error\":\"Permissions Violation "
                            "for Publish to \\\"$MOCK.clear\\\"\"}");
  nm_natsserver_stop(&s.proc);
  free(r);
}
END_TEST

/* Requests the parser must refuse get Go's answer and a close; the
 * malformed one byte for byte as nats-server's; the server lives on. */
START_TEST(test_bad_requests_answered_and_survived) {
  static const struct {
    const char *req;
    int status;
  } kBad[] = {
      {"GARBAGE\r\n\r\n", 400},
      {"GET /varz HTTP/1.1\r\nBad Header\r\n\r\n", 400},
      {"GET /varz HTTP/2.0\r\n\r\n", 505},
      {"POST /mock/fault HTTP/1.1\r\nHost: x\r\nContent-Length: "
       "9999999\r\n\r\n",
       413},
      {"POST /mock/fault HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
       "chunked\r\n\r\nzz\r\n",
       400},
  };
  srv_t s[2];
  char buf[2][4096], big[70000 + 64];
  nm_peer_state_t st;
  if (!nm_natsserver_available())
    return;
  for (int i = 0; i < 2; i++)
    start(&s[i], i == 0, NULL, NULL);
  for (size_t k = 0; k < sizeof(kBad) / sizeof(kBad[0]); k++) {
    char want[64];
    int fd = nm_test_connect(s[0].mport);
    ck_assert_int_eq(nm_test_send_str(fd, kBad[k].req), 0);
    nm_test_read(fd, buf[0], sizeof(buf[0]), NULL, IO_MS, 0, &st);
    close(fd);
    ck_assert_msg(st != NM_PEER_OPEN, "%s: left open", kBad[k].req);
    snprintf(want, sizeof(want), "HTTP/1.1 %d ", kBad[k].status);
    ck_assert_msg(strncmp(buf[0], want, strlen(want)) == 0, "%s: %s",
                  kBad[k].req, buf[0]);
    if (k == 0) {
      fd = nm_test_connect(s[1].mport);
      ck_assert_int_eq(nm_test_send_str(fd, kBad[k].req), 0);
      nm_test_read(fd, buf[1], sizeof(buf[1]), NULL, IO_MS, 0, &st);
      close(fd);
      ck_assert_str_eq(buf[0], buf[1]);
    }
  }
  /* Past 64 KiB of headers: 431 (Go's own limit is 1 MiB). */
  {
    int fd = nm_test_connect(s[0].mport);
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    memcpy(big, "GET /varz HTTP/1.1\r\nX: ", 23);
    ck_assert_int_eq(nm_test_send_str(fd, big), 0);
    nm_test_read(fd, buf[0], sizeof(buf[0]), NULL, IO_MS, 0, &st);
    close(fd);
    ck_assert_msg(strncmp(buf[0], "HTTP/1.1 431 ", 13) == 0, "%s", buf[0]);
  }
  /* Pipelined requests on one keep-alive connection, answered in order. */
  {
    int fd = nm_test_connect(s[0].mport);
    ck_assert_int_eq(
        nm_test_send_str(
            fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                "\r\n"),
        0);
    nm_test_read(fd, buf[0], sizeof(buf[0]), NULL, IO_MS, 0, &st);
    close(fd);
    ck_assert_int_eq(nm_test_count(buf[0], "HTTP/1.1 200 OK"), 2);
    ck_assert_int_eq(nm_test_count(buf[0], "HTTP/1.1 404 Not Found"), 1);
    ck_assert_ptr_nonnull(strstr(buf[0], "404 page not found"));
  }
  {
    resp_t *r = malloc(sizeof(*r));
    http(s[0].mport, "GET", "/healthz", NULL, NULL, r);
    ck_assert_int_eq(r->status, 200);
    free(r);
  }
  for (int i = 0; i < 2; i++)
    nm_natsserver_stop(&s[i].proc);
}
END_TEST

/* Requests Go's net/http refuses, or answers in its own way, before any
 * handler runs: natsmock's whole answer must be nats-server's, byte for byte
 * (the Date value aside). `until`: the end of an answer on a connection
 * that stays open (NULL: read to the close). */
static const struct {
  const char *req, *until;
} kRawHttp[] = {
    {"GET /healthz HTTP/1.1\r\n\r\n", NULL},
    {"GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n", NULL},
    {"GET /healthz HTTP/1.1\r\nHost: x\r\n Connection: close\r\n\r\n", NULL},
    {"GET /healthz HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", NULL},
    {"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", NULL},
    {"GET /healthz HTTP/0.9\r\nHost: x\r\n\r\n", NULL},
    {"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
     NULL},
    {"GET /healthz HTTP/1.0\r\n\r\n", NULL},
    {"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
     "{\"status\":\"ok\"}"},
    {"GET /nope HTTP/1.0\r\nHost: x\r\n\r\n", NULL},
    {"GET /healthz HTTP/1.1\r\nHost: [::1]:8222\r\nConnection: close\r\n\r\n",
     NULL},
};

static void date_blanked(char *s) {
  char *d = strstr(s, "\r\nDate: ");
  if (d) {
    char *e = strstr(d + 2, "\r\n");
    if (e)
      memmove(d + 8, e, strlen(e) + 1);
  }
}

START_TEST(test_raw_http_as_nats_server) {
  srv_t s[2];
  char buf[2][4096];
  ck_assert_msg(nm_natsserver_available(), "nats-server is not installed");
  for (int i = 0; i < 2; i++)
    start(&s[i], i == 0, NULL, NULL);
  for (size_t k = 0; k < sizeof(kRawHttp) / sizeof(kRawHttp[0]); k++) {
    for (int i = 0; i < 2; i++) {
      nm_peer_state_t st;
      int fd = nm_test_connect(s[i].mport);
      ck_assert_int_ge(fd, 0);
      ck_assert_int_eq(nm_test_send_str(fd, kRawHttp[k].req), 0);
      nm_test_read(fd, buf[i], sizeof(buf[i]), kRawHttp[k].until, IO_MS, 0,
                   &st);
      close(fd);
      ck_assert_msg(kRawHttp[k].until || st != NM_PEER_OPEN, "%s: left open",
                    kRawHttp[k].req);
      date_blanked(buf[i]);
    }
    ck_assert_msg(strcmp(buf[0], buf[1]) == 0,
                  "%s\nnatsmock:\n%s\nnats-server:\n%s", kRawHttp[k].req,
                  buf[0], buf[1]);
  }
  for (int i = 0; i < 2; i++)
    nm_natsserver_stop(&s[i].proc);
}
END_TEST

/* An offset and limit whose sum passes 2^63 - 1: nats-server's sum wraps
 * and its handler panics on the slice, so the connection closes without an
 * answer (with a connection open; and for /subsz?subs=1 always). Before,
 * natsmock's sum overflowed too (undefined behaviour) and it answered with
 * a negative or huge num_connections. The same limits without the wrap get
 * an answer from both. */
START_TEST(test_offset_limit_wrap_as_nats_server) {
  static const char *const kWrap[] = {
      "/connz?offset=1&limit=9223372036854775807",
      "/connz?offset=9223372036854775807&limit=9223372036854775807",
      "/subsz?subs=1&offset=1&limit=9223372036854775807",
      /* limit -1 is the default 1024. */
      "/connz?offset=9223372036854775807&limit=-1",
  };
  static const char *const kNoWrap[] = {
      "/connz?offset=0&limit=9223372036854775807",
      "/subsz?subs=1&offset=9223372036854775806&limit=1",
      "/connz?offset=9223372036854775806&limit=1",
      "/subsz?subs=1&offset=0&limit=9223372036854775807",
  };
  srv_t s[2];
  int fd[2];
  ck_assert_msg(nm_natsserver_available(), "nats-server is not installed");
  for (int i = 0; i < 2; i++) {
    start(&s[i], i == 0, NULL, NULL);
    fd[i] = nats_client(s[i].proc.port, "c", "SUB foo 1\r\n");
  }
  for (size_t k = 0; k < 4; k++) {
    for (int i = 0; i < 2; i++) {
      char buf[4096], req[256];
      nm_peer_state_t st;
      size_t n;
      int c = nm_test_connect(s[i].mport);
      resp_t *r = malloc(sizeof(*r));
      ck_assert_int_ge(c, 0);
      snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n",
               kWrap[k]);
      ck_assert_int_eq(nm_test_send_str(c, req), 0);
      n = nm_test_read(c, buf, sizeof(buf), NULL, IO_MS, 0, &st);
      close(c);
      ck_assert_msg(n == 0 && st != NM_PEER_OPEN,
                    "%s (%s): %zu bytes, %s: %.200s", kWrap[k],
                    i ? "nats-server" : "natsmock", n,
                    st == NM_PEER_OPEN ? "open" : "closed", buf);
      http(s[i].mport, "GET", kNoWrap[k], NULL, NULL, r);
      ck_assert_msg(r->status == 200, "%s: %d", kNoWrap[k], r->status);
      ck_assert_msg(strstr(r->body, "\"num_connections\": -") == NULL, "%s: %s",
                    kNoWrap[k], r->body);
      free(r);
    }
  }
  for (int i = 0; i < 2; i++) {
    close(fd[i]);
    nm_natsserver_stop(&s[i].proc);
  }
}
END_TEST

/* A subject longer than any fixed buffer (5000 bytes, with max_control_line
 * raised on both servers) is shown whole in /connz (open and closed) and
 * /subsz, as nats-server shows it; before, natsmock cut it to 4095 bytes. */
START_TEST(test_long_subject_shown_whole) {
  static const char kConf[] = "max_control_line: 16384\n";
  static char subject[5001], sub[5100], target[5200];
  srv_t s[2];
  ck_assert_msg(nm_natsserver_available(), "nats-server is not installed");
  memset(subject, 'a', 5000);
  subject[5000] = 0;
  snprintf(sub, sizeof(sub), "SUB %s 1\r\n", subject);
  snprintf(target, sizeof(target), "/subsz?subs=1&test=%s", subject);
  for (int i = 0; i < 2; i++) {
    static const char *const kPaths[] = {"/connz?subs=1", "/connz?subs=detail",
                                         NULL, "/connz?state=closed&subs=1"};
    int fd;
    start(&s[i], i == 0, kConf, NULL);
    fd = nats_client(s[i].proc.port, "long", sub);
    for (int k = 0; k < 4; k++) {
      cJSON *j, *item;
      const char *got;
      if (k == 3) {
        /* Closed: the subscriptions kept with the connection. */
        int probe = nats_client(s[i].proc.port, "probe", "");
        close(fd);
        /* The server has seen the close once a later client's PING is
         * answered after it and /connz lists one connection. */
        await_open_conns(s[i].mport, 1, probe);
        close(probe);
      }
      j = get_json(s[i].mport, kPaths[k] ? kPaths[k] : target);
      item =
          k == 2
              ? cJSON_GetObjectItemCaseSensitive(j, "subscriptions_list")
              : cJSON_GetObjectItemCaseSensitive(
                    cJSON_GetArrayItem(
                        cJSON_GetObjectItemCaseSensitive(j, "connections"), 0),
                    k == 1 ? "subscriptions_list_detail"
                           : "subscriptions_list");
      item = cJSON_GetArrayItem(item, 0);
      if (k == 1 || k == 2)
        item = cJSON_GetObjectItemCaseSensitive(item, "subject");
      got = cJSON_GetStringValue(item);
      ck_assert_msg(
          got && strcmp(got, subject) == 0, "%s %s: a subject of %zu bytes",
          i ? "nats-server" : "natsmock",
          kPaths[k] ? kPaths[k] : "/subsz?subs=1&test=", got ? strlen(got) : 0);
      cJSON_Delete(j);
    }
    nm_natsserver_stop(&s[i].proc);
  }
}
END_TEST

/* The first line of `body` that starts (after its indent) with `prefix`,
 * into out ("" when none). */
static void line_with(const char *body, const char *prefix, char *out,
                      size_t n) {
  const char *p = body;
  out[0] = 0;
  while (p && *p) {
    const char *e = strchr(p, '\n');
    const char *t = p + strspn(p, " ");
    if (strncmp(t, prefix, strlen(prefix)) == 0) {
      snprintf(out, n, "%.*s", (int)(e ? e - t : (long)strlen(t)), t);
      return;
    }
    p = e ? e + 1 : NULL;
  }
}

/* Bytes that are not valid UTF-8, and U+2028, in a client's CONNECT name
 * and in a subject: written as nats-server writes them, byte for byte (the
 * name's bad byte as the U+FFFD its JSON decoder stored, the subject's as
 * Go's encoder's \ufffd, U+2028 escaped). Before, natsmock wrote the bad
 * bytes raw (not JSON) and U+2028 unescaped. */
START_TEST(test_json_strings_as_nats_server) {
  srv_t s[2];
  char line[2][3][512];
  ck_assert_msg(nm_natsserver_available(), "nats-server is not installed");
  for (int i = 0; i < 2; i++) {
    resp_t *r = malloc(sizeof(*r));
    int fd;
    start(&s[i], i == 0, NULL, NULL);
    fd = nats_client(s[i].proc.port,
                     "n\xff\xed\xa0\x80m\xe2\x80\xa8"
                     "e",
                     "SUB s\xffu\xe2\x80\xa9"
                     "b\xc0\xaf 1\r\n");
    http(s[i].mport, "GET", "/connz?subs=1", NULL, NULL, r);
    line_with(r->body, "\"name\":", line[i][0], sizeof(line[i][0]));
    line_with(r->body, "\"s\\", line[i][1], sizeof(line[i][1]));
    http(s[i].mport, "GET", "/connz?subs=detail", NULL, NULL, r);
    line_with(r->body, "\"subject\":", line[i][2], sizeof(line[i][2]));
    close(fd);
    nm_natsserver_stop(&s[i].proc);
    free(r);
  }
  for (int k = 0; k < 3; k++)
    ck_assert_msg(line[1][k][0] && strcmp(line[0][k], line[1][k]) == 0,
                  "natsmock %s, nats-server %s", line[0][k], line[1][k]);
}
END_TEST

/* The closed-connection ring's byte bound holds for one connection too: a
 * client with 300 subscriptions of 60,000-byte subjects (18 MB) closes, and
 * /connz?state=closed keeps only as many of them as fit in 16 MiB. Before,
 * the record was kept whole past the bound. (natsmock only: nats-server
 * keeps every subscription.) */
START_TEST(test_closed_ring_bytes_bound_one_connection) {
  enum { NSUBS = 300, SUBJ = 60000 };
  static const char kConf[] = "max_control_line: 65536\n";
  const size_t cap = 24u << 20;
  char *big = malloc(SUBJ + 64), *body = malloc(cap), buf[64];
  nm_peer_state_t st;
  srv_t s;
  cJSON *j, *list;
  int fd, probe, kept;
  ck_assert_ptr_nonnull(big);
  ck_assert_ptr_nonnull(body);
  start(&s, 1, kConf, NULL);
  fd = nats_client(s.proc.port, "big", "");
  for (int i = 0; i < NSUBS; i++) {
    int n = snprintf(big, SUBJ + 64, "SUB %05d", i);
    memset(big + n, 'x', SUBJ - 5);
    snprintf(big + n + SUBJ - 5, 64, " %d\r\n", i + 1);
    ck_assert_int_eq(nm_test_send_str(fd, big), 0);
  }
  ck_assert_int_eq(nm_test_send_str(fd, "PING\r\n"), 0);
  nm_test_read(fd, buf, sizeof(buf), "PONG\r\n", IO_MS, 0, &st);
  ck_assert_msg(strstr(buf, "PONG"), "%s", buf);
  close(fd);
  /* The close is seen once a later client's PING is answered and /connz
   * lists that client alone. */
  probe = nats_client(s.proc.port, "probe", "");
  for (int tries = 0; tries < 100; tries++) {
    cJSON *o = get_json(s.mport, "/connz");
    int open = (int)num(o, "num_connections");
    cJSON_Delete(o);
    if (open == 1)
      break;
    ck_assert_int_eq(nm_test_send_str(probe, "PING\r\n"), 0);
    nm_test_read(probe, buf, sizeof(buf), "PONG\r\n", IO_MS, 0, &st);
  }
  fd = nm_test_connect(s.mport);
  ck_assert_int_eq(
      nm_test_send_str(fd, "GET /connz?state=closed&subs=1 HTTP/1.0\r\n\r\n"),
      0);
  nm_test_read(fd, body, cap, NULL, 4 * IO_MS, 0, &st);
  close(fd);
  ck_assert_msg(strstr(body, "\r\n\r\n"), "%.200s", body);
  j = cJSON_Parse(strstr(body, "\r\n\r\n") + 4);
  ck_assert_ptr_nonnull(j);
  list = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "connections"), 0),
      "subscriptions_list");
  kept = cJSON_GetArraySize(list);
  ck_assert_msg(kept > 0 && (size_t)kept * SUBJ <= (16u << 20),
                "%d subscriptions of %d bytes kept", kept, SUBJ);
  cJSON_Delete(j);
  close(probe); /* open till now: its close would make room in the ring */
  nm_natsserver_stop(&s.proc);
  free(big);
  free(body);
}
END_TEST

/* /connz?user=: nats-server filters the page it cut (offset, limit) by the
 * authorized user, and keeps total as the count before the filter. Before,
 * natsmock ignored user= and listed everyone. Clients u, v, u (the last
 * closed), named after their user. */
START_TEST(test_connz_user_filter_as_nats_server) {
  static const char *const kQueries[] = {
      "/connz?user=u",
      "/connz?user=u&limit=1&offset=1",
      "/connz?user=zz",
      "/connz?user=u&state=all",
      "/connz?user=u&state=closed",
      "/connz?user=u&auth=1&subs=1",
      "/connz?user=v&sort=cid",
  };
  enum { NQ = sizeof(kQueries) / sizeof(kQueries[0]) };
  static char got[2][NQ][256];
  srv_t s[2];
  ck_assert_msg(nm_natsserver_available(), "nats-server is not installed");
  for (int i = 0; i < 2; i++) {
    static const char *const kUsers[] = {"u", "v", "u"};
    int fd[3];
    start(&s[i], i == 0, NULL, NULL);
    for (int c = 0; c < 3; c++) {
      char line[256], buf[4096];
      nm_peer_state_t st;
      fd[c] = nm_test_connect(s[i].proc.port);
      ck_assert_int_ge(fd[c], 0);
      ck_assert_int_gt(nm_test_read_line(fd[c], buf, sizeof(buf), IO_MS), 0);
      snprintf(line, sizeof(line),
               "CONNECT {\"verbose\":false,\"user\":\"%s\",\"name\":\"%s%d\"}"
               "\r\nPING\r\n",
               kUsers[c], kUsers[c], c);
      ck_assert_int_eq(nm_test_send_str(fd[c], line), 0);
      nm_test_read(fd[c], buf, sizeof(buf), "PONG\r\n", IO_MS, 0, &st);
      ck_assert_msg(strstr(buf, "PONG"), "%s", buf);
    }
    close(fd[2]);
    /* The close is seen once /connz lists two. */
    await_open_conns(s[i].mport, 2, fd[0]);
    for (int q = 0; q < NQ; q++) {
      cJSON *j = get_json(s[i].mport, kQueries[q]);
      const cJSON *c;
      int n = snprintf(got[i][q], sizeof(got[i][q]),
                       "num %d total %d:", (int)num(j, "num_connections"),
                       (int)num(j, "total"));
      cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(j, "connections"))
          n += snprintf(got[i][q] + n, sizeof(got[i][q]) - (size_t)n, " %s",
                        str(c, "name"));
      cJSON_Delete(j);
    }
    close(fd[0]);
    close(fd[1]);
    nm_natsserver_stop(&s[i].proc);
  }
  for (int q = 0; q < NQ; q++)
    ck_assert_msg(strcmp(got[0][q], got[1][q]) == 0,
                  "%s: natsmock %s, nats-server %s", kQueries[q], got[0][q],
                  got[1][q]);
}
END_TEST

static Suite *suite(void) {
  Suite *su = suite_create("monitor");
  TCase *tc = tcase_create("monitor");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_varz_as_nats_server);
  tcase_add_test(tc, test_connz_as_nats_server);
  tcase_add_test(tc, test_connz_closed_as_nats_server);
  tcase_add_test(tc, test_subsz_and_healthz_as_nats_server);
  tcase_add_loop_test(tc, test_bad_queries_as_nats_server, 0,
                      (int)(sizeof(kBadQueries) / sizeof(kBadQueries[0])));
  tcase_add_loop_test(tc, test_long_query_values_as_nats_server, 0, 5);
  tcase_add_test(tc, test_offset_limit_wrap_as_nats_server);
  tcase_add_test(tc, test_long_subject_shown_whole);
  tcase_add_test(tc, test_json_strings_as_nats_server);
  tcase_add_test(tc, test_closed_ring_bytes_bound_one_connection);
  tcase_add_test(tc, test_connz_user_filter_as_nats_server);
  tcase_add_test(tc, test_ports_file_and_config_keys);
  tcase_add_test(tc, test_mock_endpoints_answer_as_mock_requests);
  tcase_add_test(tc, test_mock_endpoints_off_and_auth);
  tcase_add_test(tc, test_bad_requests_answered_and_survived);
  tcase_add_test(tc, test_raw_http_as_nats_server);
  suite_add_tcase(su, tc);
  return su;
}

int main(void) {
  return nm_test_run_suite(suite(), CK_NORMAL);
}
