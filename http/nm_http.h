/* A small HTTP/1.1 server on a libuv loop: a listener, requests parsed by
 * Debian's libhttp-parser (nodejs/http-parser), and a router from exact paths
 * to handlers. It knows nothing of NATS: the mock's monitoring endpoints
 * (monitor/) and, later, the proxy's register their handlers here.
 *
 * Everything it keeps has a named limit (below). A request it cannot take
 * gets the answer Go's net/http gives (400 Bad Request, 431 Request Header
 * Fields Too Large, 413, 505...), then the connection closes; nothing
 * crashes, nothing grows without bound. Handlers run on the loop thread,
 * synchronously: they fill in the response before they return. */
#ifndef NM_HTTP_H
#define NM_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "nm_buf.h"

/* The request line and the headers together (Go's default is 1 MiB; a
 * monitoring or control request is a few hundred bytes). */
#define NM_HTTP_MAX_HEAD_BYTES (64 * 1024)
/* Header lines per request. */
#define NM_HTTP_MAX_HEADERS 64
/* Request body (a fault document is at most 1 MiB). */
#define NM_HTTP_MAX_BODY (1024 * 1024)
/* Open HTTP connections; one more is accepted and closed at once. */
#define NM_HTTP_MAX_CONNS 128
/* Responses queued on one connection and not yet written (pipelined
 * requests); past it the connection is closed. */
#define NM_HTTP_MAX_OUT (32 * 1024 * 1024)
/* A connection is closed when a request is not whole this long after the
 * previous answer (or the accept), or an answer not written within it
 * (the default; nm_http_set_idle_ms changes it). */
#define NM_HTTP_IDLE_MS 60000
/* Routes per server. */
#define NM_HTTP_MAX_ROUTES 32

typedef struct nm_http_server_s nm_http_server_t;

typedef struct {
  const char *name; /* as sent (compare with strcasecmp) */
  const char *value;
} nm_http_header_t;

typedef struct {
  const char *method; /* "GET", "POST", ... */
  const char *path;   /* the URL's path, as sent (not decoded) */
  const char *query;  /* the raw query after '?', "" when none */
  const char *body;   /* NUL-terminated too */
  size_t body_len;
  const nm_http_header_t *headers;
  int nheaders;
  const char *remote_ip;
} nm_http_req_t;

typedef struct {
  int status; /* 200 unless set */
  /* Content-Type, written first (Go: a type the handler set). NULL with
   * `sniffed`: after Content-Length, "text/plain; charset=utf-8" (or
   * "application/octet-stream" for a body with binary bytes), as Go's
   * net/http adds it when the handler set none. */
  const char *content_type;
  int sniffed;
  /* The handler failed as a Go handler that panics: no answer, and the
   * connection is closed once the earlier answers are written. */
  int no_answer;
  /* More header lines, each ending in "\r\n" (e.g. WWW-Authenticate). */
  char extra_headers[256];
  nm_buf_t body;
} nm_http_resp_t;

typedef void (*nm_http_handler_fn)(void *data, const nm_http_req_t *req,
                                   nm_http_resp_t *resp);

/* A server on `loop`, not listening yet. NULL: no memory. */
nm_http_server_t *nm_http_server_new(uv_loop_t *loop);
/* Routes `path` (exact match) to fn. Returns 0 or NM_ETOOBIG. */
int nm_http_route(nm_http_server_t *h, const char *path, nm_http_handler_fn fn,
                  void *data);
/* Binds host:port (0: an ephemeral port) and listens. 0 or a libuv code. */
int nm_http_listen(nm_http_server_t *h, const char *host, int port);
/* The idle limit of connections accepted from now on (NM_HTTP_IDLE_MS
 * unless set; a test shortens it). */
void nm_http_set_idle_ms(nm_http_server_t *h, unsigned ms);
/* The port it listens on (after nm_http_listen). */
int nm_http_port(const nm_http_server_t *h);
/* Closes the listener and every connection; `done` runs once every handle
 * is closed, after which the server is freed (the loop must run). */
void nm_http_close(nm_http_server_t *h, void (*done)(void *), void *data);

/* The value of header `name` (case-insensitive), NULL when absent. */
const char *nm_http_header(const nm_http_req_t *req, const char *name);

/* Go's url.Values.Get on a raw query: the first value of `key`, decoded
 * (%XX and '+'), into out (NUL-terminated, cut to n-1 bytes: n =
 * strlen(query) + 1 always holds it whole; it may hold a NUL of its own,
 * from %00). Returns 0 when the key is not there, else 1 + the decoded
 * length (1 for an empty value). */
long nm_http_query_get(const char *query, const char *key, char *out, size_t n);

/* Go's reason phrase for a status ("Bad Request"), "" when unknown. */
const char *nm_http_status_text(int status);

#endif
