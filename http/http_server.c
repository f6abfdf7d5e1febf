/* The listener, the connections and their requests: bytes in, parsed by
 * libhttp-parser, one request at a time handed to the router (http_router.c),
 * the response queued and written. */
#include <http_parser.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http_int.h"

typedef struct nm__hconn_s nm__hconn_t;

struct nm__hconn_s {
  uv_tcp_t tcp;
  uv_timer_t idle;
  uv_write_t wreq;
  nm_http_server_t *h;
  nm__hconn_t *prev, *next;
  http_parser parser;
  /* The request being read: url, then each header's name and value, each
   * NUL-terminated, in `head` (NM_HTTP_MAX_HEAD_BYTES); offsets below. */
  nm_buf_t head;
  size_t url_off;
  size_t hname[NM_HTTP_MAX_HEADERS], hvalue[NM_HTTP_MAX_HEADERS];
  int nheaders;
  int in_value; /* the last callback was a header value */
  nm_buf_t body;
  int fail_status; /* a limit was passed: answer this and close */
  /* Go's words after the status in its answer ("missing required Host
   * header"), NULL for the bare status; a literal. */
  const char *fail_text;
  nm_buf_t out, inflight;
  int writing;
  int closing;
  int close_after; /* close once the output is written */
  int handles;
  char ip[64];
};

static void conn_closed(uv_handle_t *hd);
static void conn_flush(nm__hconn_t *c);

static void server_maybe_done(nm_http_server_t *h) {
  if (h->closing && h->open_handles == 0 && h->conns == NULL) {
    void (*done)(void *) = h->done;
    void *data = h->done_data;
    free(h);
    if (done)
      done(data);
  }
}

static void conn_close(nm__hconn_t *c) {
  if (c->closing)
    return;
  c->closing = 1;
  c->handles = 2;
  uv_timer_stop(&c->idle);
  uv_close((uv_handle_t *)&c->idle, conn_closed);
  uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void conn_closed(uv_handle_t *hd) {
  nm__hconn_t *c = hd->data;
  nm_http_server_t *h = c->h;
  if (--c->handles > 0)
    return;
  if (c->prev)
    c->prev->next = c->next;
  else
    h->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  h->nconns--;
  nm_buf_free(&c->head);
  nm_buf_free(&c->body);
  nm_buf_free(&c->out);
  nm_buf_free(&c->inflight);
  free(c);
  server_maybe_done(h);
}

static void idle_fired(uv_timer_t *t) {
  conn_close(t->data);
}

static void request_reset(nm__hconn_t *c) {
  nm_buf_clear(&c->head);
  nm_buf_clear(&c->body);
  c->url_off = 0;
  c->nheaders = 0;
  c->in_value = 0;
}

/* A request refused before its handler: Go's status (and words). */
static int refuse(nm__hconn_t *c, int status, const char *text) {
  c->fail_status = status;
  c->fail_text = text;
  return -1;
}

/* Go's "Date:" value: RFC 1123 in GMT. */
static void http_date(char *out, size_t n) {
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(out, n, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* Go's answer to a request it could not read (net/http server.go): status
 * line, plain text, Connection: close, the status (and Go's words, when it
 * has some) as the body; 501 has only its words. */
static void queue_fail(nm__hconn_t *c, int status, const char *text) {
  const char *txt = nm_http_status_text(status);
  const char *sep = text ? ": " : "", *words = text ? text : "";
  if (status == 501)
    (void)nm_buf_appendf(&c->out,
                         "HTTP/1.1 %d %s\r\nContent-Type: text/plain; "
                         "charset=utf-8\r\nConnection: close\r\n\r\n%s",
                         status, txt, words);
  else
    (void)nm_buf_appendf(&c->out,
                         "HTTP/1.1 %d %s%s%s\r\nContent-Type: text/plain; "
                         "charset=utf-8\r\nConnection: close\r\n\r\n%d %s%s%s",
                         status, txt, sep, words, status, txt, sep, words);
  c->close_after = 1;
}

/* Go's http.DetectContentType for a body that starts as plain text (a
 * handler's message): text unless its first 512 bytes hold a binary one. */
static const char *sniffed_type(const nm_buf_t *body) {
  for (size_t i = 0; i < body->len && i < 512; i++) {
    unsigned char ch = (unsigned char)body->base[i];
    if (ch <= 0x08 || ch == 0x0b || (ch >= 0x0e && ch <= 0x1a) ||
        (ch >= 0x1c && ch <= 0x1f))
      return "application/octet-stream";
  }
  return "text/plain; charset=utf-8";
}

static int queue_response(nm__hconn_t *c, const nm_http_req_t *req,
                          nm_http_resp_t *r, int keep_alive) {
  char date[64];
  int head_only = strcmp(req->method, "HEAD") == 0;
  int rc;
  http_date(date, sizeof(date));
  /* Go answers in the request's protocol version. */
  rc = nm_buf_appendf(&c->out, "HTTP/1.%d %d %s\r\n",
                      c->parser.http_minor >= 1 ? 1 : 0, r->status,
                      nm_http_status_text(r->status));
  if (rc == 0 && r->content_type)
    rc = nm_buf_appendf(&c->out, "Content-Type: %s\r\n", r->content_type);
  if (rc == 0 && r->extra_headers[0])
    rc = nm_buf_append_str(&c->out, r->extra_headers);
  if (rc == 0)
    rc = nm_buf_appendf(&c->out, "Date: %s\r\nContent-Length: %zu\r\n", date,
                        r->body.len);
  if (rc == 0 && r->content_type == NULL && r->sniffed)
    rc =
        nm_buf_appendf(&c->out, "Content-Type: %s\r\n", sniffed_type(&r->body));
  /* Go says so to an HTTP/1.1 client; an HTTP/1.0 one expects the close,
   * and is told when the connection stays open. */
  if (rc == 0 && !keep_alive && c->parser.http_minor >= 1)
    rc = nm_buf_append_str(&c->out, "Connection: close\r\n");
  if (rc == 0 && keep_alive && c->parser.http_minor == 0)
    rc = nm_buf_append_str(&c->out, "Connection: keep-alive\r\n");
  if (rc == 0)
    rc = nm_buf_append(&c->out, "\r\n", 2);
  if (rc == 0 && !head_only && r->body.len > 0)
    rc = nm_buf_append(&c->out, r->body.base, r->body.len);
  return rc;
}

/* ---- parser callbacks ---- */

static int head_add(nm__hconn_t *c, const char *at, size_t n) {
  return nm_buf_append(&c->head, at, n) != 0 ? refuse(c, 431, NULL) : 0;
}

static int head_end(nm__hconn_t *c) {
  return head_add(c, "", 1);
}

/* The idle timer is not stopped here: a request must be whole within the
 * idle limit (NM_HTTP_IDLE_MS) of the previous answer (or the accept), so
 * a client that sends a byte now and then cannot hold a slot for ever. */
static int on_message_begin(http_parser *p) {
  request_reset(p->data);
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t n) {
  return head_add(p->data, at, n);
}

static int on_header_field(http_parser *p, const char *at, size_t n) {
  nm__hconn_t *c = p->data;
  if (c->nheaders == 0 || c->in_value) {
    /* A new header: end the url or the previous value. */
    if (head_end(c) != 0)
      return -1;
    if (c->nheaders == NM_HTTP_MAX_HEADERS)
      return refuse(c, 431, NULL);
    c->hname[c->nheaders++] = c->head.len;
    c->in_value = 0;
  }
  return head_add(c, at, n);
}

static int on_header_value(http_parser *p, const char *at, size_t n) {
  nm__hconn_t *c = p->data;
  if (!c->in_value) {
    if (head_end(c) != 0)
      return -1;
    c->hvalue[c->nheaders - 1] = c->head.len;
    c->in_value = 1;
  }
  return head_add(c, at, n);
}

/* Go's httpguts.ValidHostHeader: the bytes a Host value may have. */
static int valid_host(const char *h) {
  for (const unsigned char *p = (const unsigned char *)h; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
          (*p >= 'A' && *p <= 'Z') || strchr("!$%&'()*+,-.:;=[]_~", *p)))
      return 0;
  return 1;
}

/* Go's checks of a request's head (net/http readRequest and its
 * transfer-encoding rule), in its order. */
static int check_head(nm__hconn_t *c, const http_parser *p) {
  const char *host = NULL, *te = NULL;
  int nhost = 0, nte = 0;
  if (p->http_major != 1)
    return refuse(c, 505, "unsupported protocol version");
  for (int i = 0; i < c->nheaders; i++) {
    const char *name = c->head.base + c->hname[i];
    if (strcasecmp(name, "Host") == 0) {
      host = c->head.base + c->hvalue[i];
      nhost++;
    } else if (strcasecmp(name, "Transfer-Encoding") == 0) {
      te = c->head.base + c->hvalue[i];
      nte++;
    }
  }
  if (nte > 0 && p->http_minor >= 1) {
    /* Only one Transfer-Encoding, "chunked" (Go 1.15+); HTTP/1.0 ignores it. */
    while (te && (*te == ' ' || *te == '\t'))
      te++;
    if (nte > 1 || strncasecmp(te, "chunked", 7) != 0 ||
        te[7 + strspn(te + 7, " \t")] != 0)
      return refuse(c, 501, "Unsupported transfer encoding");
  }
  if (nhost > 1)
    return refuse(c, 400, NULL);
  if (p->http_minor >= 1 && nhost == 0 && p->method != HTTP_CONNECT)
    return refuse(c, 400, "missing required Host header");
  if (host && !valid_host(host))
    return refuse(c, 400, "malformed Host header");
  if (p->content_length != ULLONG_MAX && p->content_length > NM_HTTP_MAX_BODY &&
      !(p->flags & F_CHUNKED))
    return refuse(c, 413, NULL);
  return 0;
}

static int on_headers_complete(http_parser *p) {
  nm__hconn_t *c = p->data;
  if (head_end(c) != 0)
    return -1;
  if (c->nheaders > 0 && !c->in_value) {
    /* A name without a value (the parser does not allow it; be safe). */
    c->hvalue[c->nheaders - 1] = c->head.len - 1;
  }
  return check_head(c, p);
}

/* The body: NM_HTTP_MAX_BODY bytes at most (c->body has one byte more, for
 * the NUL the handler gets after it). */
static int on_body(http_parser *p, const char *at, size_t n) {
  nm__hconn_t *c = p->data;
  if (n > NM_HTTP_MAX_BODY - c->body.len || nm_buf_append(&c->body, at, n) != 0)
    return refuse(c, 413, NULL);
  return 0;
}

static int on_message_complete(http_parser *p) {
  nm__hconn_t *c = p->data;
  nm_http_header_t hdrs[NM_HTTP_MAX_HEADERS];
  nm_http_req_t req;
  nm_http_resp_t resp;
  struct http_parser_url u;
  char *url = c->head.base;
  char *q;
  int keep = http_should_keep_alive(p);
  int rc;

  if (nm_buf_append(&c->body, "", 1) != 0)
    return refuse(c, 413, NULL);
  for (int i = 0; i < c->nheaders; i++) {
    hdrs[i].name = c->head.base + c->hname[i];
    hdrs[i].value = c->head.base + c->hvalue[i];
  }
  memset(&req, 0, sizeof(req));
  req.method = http_method_str((enum http_method)p->method);
  req.headers = hdrs;
  req.nheaders = c->nheaders;
  req.body = c->body.base ? c->body.base : "";
  req.body_len = c->body.len ? c->body.len - 1 : 0;
  req.remote_ip = c->ip;
  /* The request target: origin form "/path?query"; an absolute URL
   * ("http://host/path") is read for its path as Go does. */
  http_parser_url_init(&u);
  if (url == NULL ||
      http_parser_parse_url(url, strlen(url), p->method == HTTP_CONNECT, &u) !=
          0 ||
      !(u.field_set & (1 << UF_PATH)))
    return refuse(c, 400, NULL);
  url[u.field_data[UF_PATH].off + u.field_data[UF_PATH].len] = 0;
  req.path = url + u.field_data[UF_PATH].off;
  req.query = "";
  if (u.field_set & (1 << UF_QUERY)) {
    q = url + u.field_data[UF_QUERY].off;
    q[u.field_data[UF_QUERY].len] = 0;
    req.query = q;
  }
  memset(&resp, 0, sizeof(resp));
  resp.status = 200;
  nm_buf_init(&resp.body, NM_HTTP_MAX_OUT);
  nm__http_dispatch(c->h, &req, &resp);
  if (resp.no_answer) {
    nm_buf_free(&resp.body);
    c->close_after = 1;
    return -1;
  }
  rc = queue_response(c, &req, &resp, keep);
  nm_buf_free(&resp.body);
  if (rc != 0) {
    /* Past NM_HTTP_MAX_OUT: nothing more for this client. */
    conn_close(c);
    return -1;
  }
  if (!keep)
    c->close_after = 1;
  request_reset(c);
  return c->close_after ? -1 : 0;
}

static const http_parser_settings kSettings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- socket ---- */

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf) {
  nm__hconn_t *c = hd->data;
  (void)suggested;
  buf->base = c->h->rbuf;
  buf->len = sizeof(c->h->rbuf);
}

static void on_written(uv_write_t *w, int status) {
  nm__hconn_t *c = w->data;
  c->writing = 0;
  nm_buf_clear(&c->inflight);
  if (c->closing)
    return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  /* Everything answered: the next request has NM_HTTP_IDLE_MS from now. */
  if (c->out.len == 0 && !c->close_after)
    uv_timer_start(&c->idle, idle_fired, c->h->idle_ms, 0);
  conn_flush(c);
}

static void conn_flush(nm__hconn_t *c) {
  uv_buf_t b;
  nm_buf_t t;
  if (c->writing || c->closing)
    return;
  if (c->out.len == 0) {
    /* Nothing to write. The idle timer runs on: reads do not restart it
     * (on_written does, once an answer is out). */
    if (c->close_after)
      conn_close(c);
    return;
  }
  t = c->inflight;
  c->inflight = c->out;
  c->out = t;
  b = uv_buf_init(c->inflight.base, (unsigned)c->inflight.len);
  c->writing = 1;
  /* A reader that never reads is closed after the same time. */
  uv_timer_start(&c->idle, idle_fired, c->h->idle_ms, 0);
  c->wreq.data = c;
  if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
    c->writing = 0;
    conn_close(c);
  }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  nm__hconn_t *c = s->data;
  size_t used;
  if (c->closing)
    return;
  if (nread < 0) {
    conn_close(c);
    return;
  }
  if (nread == 0 || c->close_after)
    return;
  used = http_parser_execute(&c->parser, &kSettings, buf->base, (size_t)nread);
  if (c->closing)
    return;
  if (!c->close_after &&
      (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK || used != (size_t)nread)) {
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    int status = c->fail_status;
    if (status == 0)
      status = e == HPE_HEADER_OVERFLOW ? 431 : 400;
    queue_fail(c, status, c->fail_text);
  }
  if (c->close_after)
    uv_read_stop((uv_stream_t *)&c->tcp);
  conn_flush(c);
}

static void on_connection(uv_stream_t *ls, int status) {
  nm_http_server_t *h = ls->data;
  nm__hconn_t *c;
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  if (status < 0 || h->closing)
    return;
  c = calloc(1, sizeof(*c));
  if (c == NULL)
    return;
  c->h = h;
  uv_tcp_init(h->loop, &c->tcp);
  uv_timer_init(h->loop, &c->idle);
  c->tcp.data = c->idle.data = c;
  c->next = h->conns;
  if (h->conns)
    h->conns->prev = c;
  h->conns = c;
  h->nconns++;
  nm_buf_init(&c->head, NM_HTTP_MAX_HEAD_BYTES);
  nm_buf_init(&c->body, NM_HTTP_MAX_BODY + 1);
  nm_buf_init(&c->out, NM_HTTP_MAX_OUT);
  nm_buf_init(&c->inflight, NM_HTTP_MAX_OUT);
  if (uv_accept(ls, (uv_stream_t *)&c->tcp) != 0 ||
      h->nconns > NM_HTTP_MAX_CONNS) {
    conn_close(c);
    return;
  }
  snprintf(c->ip, sizeof(c->ip), "127.0.0.1");
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
    if (ss.ss_family == AF_INET)
      uv_ip4_name((struct sockaddr_in *)&ss, c->ip, sizeof(c->ip));
    else if (ss.ss_family == AF_INET6)
      uv_ip6_name((struct sockaddr_in6 *)&ss, c->ip, sizeof(c->ip));
  }
  uv_tcp_nodelay(&c->tcp, 1);
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  uv_timer_start(&c->idle, idle_fired, c->h->idle_ms, 0);
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
    conn_close(c);
}

nm_http_server_t *nm_http_server_new(uv_loop_t *loop) {
  nm_http_server_t *h = calloc(1, sizeof(*h));
  if (h == NULL)
    return NULL;
  h->loop = loop;
  h->idle_ms = NM_HTTP_IDLE_MS;
  return h;
}

void nm_http_set_idle_ms(nm_http_server_t *h, unsigned ms) {
  h->idle_ms = ms;
}

int nm_http_listen(nm_http_server_t *h, const char *host, int port) {
  struct sockaddr_storage ss;
  int rc, len = sizeof(ss);
  if (strchr(host, ':'))
    rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
  else
    rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
  if (rc != 0)
    return rc;
  if ((rc = uv_tcp_init(h->loop, &h->listener)) != 0)
    return rc;
  h->listener.data = h;
  h->open_handles++;
  h->listening = 1;
  if ((rc = uv_tcp_bind(&h->listener, (struct sockaddr *)&ss, 0)) != 0 ||
      (rc = uv_listen((uv_stream_t *)&h->listener, 128, on_connection)) != 0)
    return rc;
  if (uv_tcp_getsockname(&h->listener, (struct sockaddr *)&ss, &len) == 0)
    h->port =
        ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                       : ((struct sockaddr_in *)&ss)->sin_port);
  return 0;
}

int nm_http_port(const nm_http_server_t *h) {
  return h->port;
}

static void listener_closed(uv_handle_t *hd) {
  nm_http_server_t *h = hd->data;
  h->open_handles--;
  server_maybe_done(h);
}

void nm_http_close(nm_http_server_t *h, void (*done)(void *), void *data) {
  nm__hconn_t *c, *next;
  if (h == NULL) {
    if (done)
      done(data);
    return;
  }
  h->closing = 1;
  h->done = done;
  h->done_data = data;
  for (c = h->conns; c != NULL; c = next) {
    next = c->next;
    conn_close(c);
  }
  if (h->listening) {
    h->listening = 0;
    uv_close((uv_handle_t *)&h->listener, listener_closed);
    return;
  }
  server_maybe_done(h);
}

const char *nm_http_header(const nm_http_req_t *req, const char *name) {
  for (int i = 0; i < req->nheaders; i++)
    if (strcasecmp(req->headers[i].name, name) == 0)
      return req->headers[i].value;
  return NULL;
}
