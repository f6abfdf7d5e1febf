/* The monitor: its HTTP server and routes, the index page, /healthz, the
 * endpoints of features natsmock does not have (/routez, /gatewayz, /leafz,
 * answered as nats-server answers with them off), and the query decoders
 * every handler shares. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "monitor_int.h"

const char *const nm__mon_paths[NM_MON_NPATHS] = {
    "/",      "/connz",  "/gatewayz", "/healthz",
    "/leafz", "/routez", "/subsz",    "/varz"};

void nm__mon_bad(nm_http_resp_t *resp, const char *fmt, ...) {
  va_list ap;
  int n;
  char *p;
  resp->status = 400;
  resp->content_type = NULL;
  resp->sniffed = 1;
  nm_buf_clear(&resp->body);
  /* The message whole (it may quote a query value as long as the request
   * line); past the response limit the body stays empty. */
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || (p = nm_buf_reserve(&resp->body, (size_t)n + 1)) == NULL)
    return;
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  nm_buf_commit(&resp->body, (size_t)n);
}

int nm__mon_query(const nm_http_req_t *req, nm_http_resp_t *resp,
                  const char *key, char **val, size_t *len) {
  /* A decoded value is never longer than the raw query. */
  size_t cap = strlen(req->query) + 1;
  long r = nm_http_query_get(req->query, key, NULL, 0);
  *val = NULL;
  *len = 0;
  if (r == 0)
    return 0;
  if ((*val = malloc(cap)) == NULL) {
    resp->status = 500;
    resp->content_type = NULL;
    resp->sniffed = 1;
    nm_buf_clear(&resp->body);
    (void)nm_buf_append_str(&resp->body, "out of memory");
    return -1;
  }
  nm_http_query_get(req->query, key, *val, cap);
  *len = (size_t)r - 1;
  return 1;
}

void nm__mon_bad_value(nm_http_resp_t *resp, const char *prefix,
                       const char *val, size_t len) {
  nm__mon_bad(resp, "%s", prefix);
  (void)nm_buf_append(&resp->body, val, len);
}

/* Go's strconv.Quote of a query value (s[0..n)), malloc'd (NULL when out
 * of memory): printable ASCII and valid multi-byte UTF-8 as is (Go escapes
 * the few non-printable runes there too; natsmock only U+0080..U+00A0 and
 * U+00AD), \a \b \f \n \r \t \v, \" and \\, the other bytes as \xNN. */
static char *go_quote(const char *s, size_t n) {
  static const char kEsc[] = "\a\b\f\n\r\t\v\"\\", kLetter[] = "abfnrtv\"\\";
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  nm_buf_t b;
  nm_buf_init(&b, 0);
  (void)nm_buf_append(&b, "\"", 1);
  for (; p < end; p++) {
    const char *e = *p ? memchr(kEsc, *p, sizeof(kEsc) - 1) : NULL;
    size_t len = nm__utf8_len(p, end);
    if (e) {
      char t[2] = {'\\', kLetter[e - kEsc]};
      (void)nm_buf_append(&b, t, 2);
    } else if (*p >= 0x20 && *p < 0x7f) {
      (void)nm_buf_append(&b, p, 1);
    } else if (len == 2 && *p == 0xc2 && (p[1] <= 0xa0 || p[1] == 0xad)) {
      (void)nm_buf_appendf(&b, "\\u%04x", p[1]);
      p++;
    } else if (len > 1) {
      (void)nm_buf_append(&b, p, len);
      p += len - 1;
    } else {
      (void)nm_buf_appendf(&b, "\\x%02x", *p);
    }
  }
  if (nm_buf_append(&b, "\"", 2) != 0) {
    nm_buf_free(&b);
    return NULL;
  }
  return b.base;
}

/* Reads `key` for a decoder: 1 with *val (free it), 0 when absent or
 * empty, -1 after writing the 500. */
static int decoder_value(const nm_http_req_t *req, nm_http_resp_t *resp,
                         const char *key, char **val, size_t *len) {
  int r = nm__mon_query(req, resp, key, val, len);
  if (r == 1 && *len == 0) {
    free(*val);
    *val = NULL;
    r = 0;
  }
  return r;
}

/* The 400 of a decoder that could not read val (freed here): "Error
 * decoding <what> for '<key>': <fn>: parsing <quoted val>: <why>". */
static int decoder_fail(nm_http_resp_t *resp, const char *what, const char *key,
                        const char *fn, char *val, size_t len,
                        const char *why) {
  char *q = go_quote(val, len);
  nm__mon_bad(resp, "Error decoding %s for '%s': %s: parsing %s: %s", what, key,
              fn, q ? q : "\"\"", why);
  free(q);
  free(val);
  return -1;
}

int nm__mon_bool(const nm_http_req_t *req, nm_http_resp_t *resp,
                 const char *key, int *v) {
  static const char *const kTrue[] = {"1", "t", "T", "TRUE", "true", "True"};
  static const char *const kFalse[] = {"0",     "f",     "F",
                                       "FALSE", "false", "False"};
  char *val;
  size_t len;
  int r;
  *v = 0;
  if ((r = decoder_value(req, resp, key, &val, &len)) <= 0)
    return r;
  for (size_t i = 0; i < 6 && strlen(val) == len; i++) {
    if (strcmp(val, kTrue[i]) == 0 || strcmp(val, kFalse[i]) == 0) {
      *v = strcmp(val, kTrue[i]) == 0;
      free(val);
      return 0;
    }
  }
  return decoder_fail(resp, "boolean", key, "strconv.ParseBool", val, len,
                      "invalid syntax");
}

/* Go's strconv syntax for base-10 integers: an optional sign (Atoi only),
 * digits, nothing else (s[0..n), which may hold a NUL). Returns 0, -1
 * (syntax) or -2 (range). */
static int parse_dec(const char *s, size_t n, int sign_ok,
                     unsigned long long limit_pos, unsigned long long limit_neg,
                     long long *sv, unsigned long long *uv) {
  const char *end = s + n;
  int neg = 0;
  unsigned long long acc = 0;
  int range = 0;
  if (sign_ok && s < end && (*s == '+' || *s == '-'))
    neg = *s++ == '-';
  if (s == end)
    return -1;
  for (; s < end; s++) {
    if (*s < '0' || *s > '9')
      return -1;
    if (acc > (~0ull - 9) / 10)
      range = 1;
    else
      acc = acc * 10 + (unsigned)(*s - '0');
  }
  if (range || acc > (neg ? limit_neg : limit_pos))
    return -2;
  if (sv)
    *sv = neg ? (long long)(0 - acc) : (long long)acc;
  if (uv)
    *uv = acc;
  return 0;
}

int nm__mon_int(const nm_http_req_t *req, nm_http_resp_t *resp, const char *key,
                long long *v) {
  char *val;
  size_t len;
  int r;
  *v = 0;
  if ((r = decoder_value(req, resp, key, &val, &len)) <= 0)
    return r;
  r = parse_dec(val, len, 1, (unsigned long long)INT64_MAX,
                (unsigned long long)INT64_MAX + 1, v, NULL);
  if (r == 0) {
    free(val);
    return 0;
  }
  return decoder_fail(resp, "int", key, "strconv.Atoi", val, len,
                      r == -2 ? "value out of range" : "invalid syntax");
}

int nm__mon_uint(const nm_http_req_t *req, nm_http_resp_t *resp,
                 const char *key, unsigned long long *v) {
  char *val;
  size_t len;
  int r;
  *v = 0;
  if ((r = decoder_value(req, resp, key, &val, &len)) <= 0)
    return r;
  r = parse_dec(val, len, 0, ~0ull, 0, NULL, v);
  if (r == 0) {
    free(val);
    return 0;
  }
  return decoder_fail(resp, "uint64", key, "strconv.ParseUint", val, len,
                      r == -2 ? "value out of range" : "invalid syntax");
}

void nm__mon_json_done(const nm_http_req_t *req, nm_http_resp_t *resp,
                       nm_buf_t *json, int err) {
  char *cb = NULL;
  size_t cblen = 0;
  if (err) {
    resp->status = 500;
    resp->content_type = NULL;
    resp->sniffed = 1;
    nm_buf_clear(&resp->body);
    (void)nm_buf_appendf(&resp->body,
                         "natsmock: the answer is over %d bytes; use limit "
                         "and offset",
                         NM_HTTP_MAX_OUT);
    return;
  }
  if (nm__mon_query(req, resp, "callback", &cb, &cblen) < 0)
    return;
  if (cblen > 0) {
    resp->content_type = "application/javascript";
    (void)nm_buf_append(&resp->body, cb, cblen);
    (void)nm_buf_append(&resp->body, "(", 1);
    (void)nm_buf_append(&resp->body, json->base, json->len);
    (void)nm_buf_append(&resp->body, ")", 1);
  } else {
    resp->content_type = "application/json";
    (void)nm_buf_append(&resp->body, json->base, json->len);
  }
  free(cb);
}

/* Writes the header of every nats-server answer: server_id and now. */
static void id_now(nm__jw_t *w, nm_monitor_t *m) {
  char t[64];
  nm__jw_str(w, "server_id", m->srv->server_id);
  nm__go_time(nm__wall_ns(), t, sizeof(t));
  nm__jw_str(w, "now", t);
}

/* The index page: nats-server's links (the endpoints natsmock lacks answer
 * 404 here). */
static void on_root(void *data, const nm_http_req_t *req,
                    nm_http_resp_t *resp) {
  nm_monitor_t *m = data;
  (void)req;
  m->req_stats[NM_MON_ROOT]++;
  resp->content_type = "text/html; charset=utf-8";
  (void)nm_buf_append_str(&resp->body,
                          "<html lang=\"en\">\n"
                          "  <head>\n"
                          "    <title>natsmock monitoring</title>\n"
                          "  </head>\n"
                          "  <body>\n"
                          "    <a href=https://github.com/nats-io/nats-server "
                          "class='version'>v2.9.10</a>\n"
                          "    <br/>\n"
                          "    <a href=./varz>General</a>\n"
                          "    <a href=./jsz>JetStream</a>\n"
                          "    <a href=./connz>Connections</a>\n"
                          "    <a href=./accountz>Accounts</a>\n"
                          "    <a href=./accstatz>Account Stats</a>\n"
                          "    <a href=./subsz>Subscriptions</a>\n"
                          "    <a href=./routez>Routes</a>\n"
                          "    <a href=./leafz>LeafNodes</a>\n"
                          "    <a href=./gatewayz>Gateways</a>\n"
                          "    <a href=./healthz class=last>Health Probe</a>\n"
                          "  </body>\n"
                          "</html>\n");
}

static void on_healthz(void *data, const nm_http_req_t *req,
                       nm_http_resp_t *resp) {
  nm_monitor_t *m = data;
  nm_buf_t b;
  nm__jw_t w;
  int v;
  m->req_stats[NM_MON_HEALTHZ]++;
  /* The options are checked as nats-server checks them; without
   * JetStream none changes the answer. */
  if (nm__mon_bool(req, resp, "js-enabled", &v) < 0 ||
      nm__mon_bool(req, resp, "js-enabled-only", &v) < 0 ||
      nm__mon_bool(req, resp, "js-server-only", &v) < 0)
    return;
  nm_buf_init(&b, NM_HTTP_MAX_OUT);
  nm__jw_init(&w, &b, 0);
  nm__jw_obj(&w, NULL);
  nm__jw_str(&w, "status", "ok");
  nm__jw_end_obj(&w);
  nm__mon_json_done(req, resp, &b, w.err);
  nm_buf_free(&b);
}

static void on_routez(void *data, const nm_http_req_t *req,
                      nm_http_resp_t *resp) {
  nm_monitor_t *m = data;
  nm_buf_t b;
  nm__jw_t w;
  int v;
  char sv[16];
  m->req_stats[NM_MON_ROUTEZ]++;
  /* decodeSubs: "detail" or a boolean. */
  if (!(nm_http_query_get(req->query, "subs", sv, sizeof(sv)) &&
        strcasecmp(sv, "detail") == 0) &&
      nm__mon_bool(req, resp, "subs", &v) < 0)
    return;
  nm_buf_init(&b, NM_HTTP_MAX_OUT);
  nm__jw_init(&w, &b, 1);
  nm__jw_obj(&w, NULL);
  id_now(&w, m);
  nm__jw_int(&w, "num_routes", 0);
  nm__jw_arr(&w, "routes");
  nm__jw_end_arr(&w);
  nm__jw_end_obj(&w);
  nm__mon_json_done(req, resp, &b, w.err);
  nm_buf_free(&b);
}

static void on_gatewayz(void *data, const nm_http_req_t *req,
                        nm_http_resp_t *resp) {
  nm_monitor_t *m = data;
  nm_buf_t b;
  nm__jw_t w;
  int v;
  m->req_stats[NM_MON_GATEWAYZ]++;
  if (nm__mon_bool(req, resp, "accs", &v) < 0)
    return;
  nm_buf_init(&b, NM_HTTP_MAX_OUT);
  nm__jw_init(&w, &b, 1);
  nm__jw_obj(&w, NULL);
  id_now(&w, m);
  nm__jw_obj(&w, "outbound_gateways");
  nm__jw_end_obj(&w);
  nm__jw_obj(&w, "inbound_gateways");
  nm__jw_end_obj(&w);
  nm__jw_end_obj(&w);
  nm__mon_json_done(req, resp, &b, w.err);
  nm_buf_free(&b);
}

static void on_leafz(void *data, const nm_http_req_t *req,
                     nm_http_resp_t *resp) {
  nm_monitor_t *m = data;
  nm_buf_t b;
  nm__jw_t w;
  int v;
  m->req_stats[NM_MON_LEAFZ]++;
  if (nm__mon_bool(req, resp, "subs", &v) < 0)
    return;
  nm_buf_init(&b, NM_HTTP_MAX_OUT);
  nm__jw_init(&w, &b, 1);
  nm__jw_obj(&w, NULL);
  id_now(&w, m);
  nm__jw_int(&w, "leafnodes", 0);
  /* A nil slice in Go: null. */
  nm__jw_raw(&w, "leafs", "null");
  nm__jw_end_obj(&w);
  nm__mon_json_done(req, resp, &b, w.err);
  nm_buf_free(&b);
}

int nm_monitor_start(nm_server_t *s, const nm_monitor_opts_t *o,
                     nm_monitor_t **out) {
  nm_monitor_t *m;
  int rc;
  *out = NULL;
  m = calloc(1, sizeof(*m));
  if (m == NULL)
    return NM_ENOMEM;
  m->srv = s;
  m->config_port = o->config_port;
  m->start_wall_ns = nm__wall_ns();
  m->start_hr = uv_hrtime();
  snprintf(m->host, sizeof(m->host), "%s",
           o->host && o->host[0] ? o->host : s->opts.host);
  m->http = nm_http_server_new(s->loop);
  if (m->http == NULL) {
    free(m);
    return NM_ENOMEM;
  }
  nm_http_route(m->http, "/", on_root, m);
  nm_http_route(m->http, "/varz", nm__mon_varz, m);
  nm_http_route(m->http, "/connz", nm__mon_connz, m);
  nm_http_route(m->http, "/subsz", nm__mon_subsz, m);
  nm_http_route(m->http, "/subscriptionsz", nm__mon_subsz, m);
  nm_http_route(m->http, "/healthz", on_healthz, m);
  nm_http_route(m->http, "/routez", on_routez, m);
  nm_http_route(m->http, "/gatewayz", on_gatewayz, m);
  nm_http_route(m->http, "/leafz", on_leafz, m);
  if (o->mock_endpoints) {
    nm_http_route(m->http, "/mock/fault", nm__mon_mock, m);
    nm_http_route(m->http, "/mock/rules", nm__mon_mock, m);
    nm_http_route(m->http, "/mock/clear", nm__mon_mock, m);
    nm_http_route(m->http, "/mock/trace", nm__mon_mock, m);
  }
  rc = nm_http_listen(m->http, m->host, o->port < 0 ? 0 : o->port);
  if (rc != 0) {
    nm_http_close(m->http, NULL, NULL);
    free(m);
    return rc;
  }
  s->on_conn_close = nm__mon_conn_closing;
  s->on_conn_close_data = m;
  *out = m;
  return 0;
}

int nm_monitor_port(const nm_monitor_t *m) {
  return nm_http_port(m->http);
}

const char *nm_monitor_url(const nm_monitor_t *m, char *out, size_t n) {
  if (strchr(m->host, ':'))
    snprintf(out, n, "http://[%s]:%d", m->host, nm_monitor_port(m));
  else
    snprintf(out, n, "http://%s:%d", m->host, nm_monitor_port(m));
  return out;
}

static void http_closed(void *data) {
  nm_monitor_t *m = data;
  void (*done)(void *) = m->done;
  void *dd = m->done_data;
  nm__mon_closed_free(m);
  free(m);
  if (done)
    done(dd);
}

void nm_monitor_stop(nm_monitor_t *m, void (*done)(void *), void *data) {
  if (m == NULL) {
    if (done)
      done(data);
    return;
  }
  m->done = done;
  m->done_data = data;
  if (m->srv->on_conn_close_data == m) {
    m->srv->on_conn_close = NULL;
    m->srv->on_conn_close_data = NULL;
  }
  nm_http_close(m->http, http_closed, m);
}
