/* Routes (exact paths), the query string as Go's url.Values reads it, and
 * the reason phrases of the statuses this server answers with. */
#include <stdio.h>
#include <string.h>

#include "http_int.h"

int nm_http_route(nm_http_server_t *h, const char *path, nm_http_handler_fn fn,
                  void *data) {
  nm__hroute_t *r;
  if (h->nroutes == NM_HTTP_MAX_ROUTES ||
      strlen(path) >= sizeof(h->routes[0].path))
    return NM_ETOOBIG;
  r = &h->routes[h->nroutes++];
  snprintf(r->path, sizeof(r->path), "%s", path);
  r->fn = fn;
  r->data = data;
  return 0;
}

void nm__http_dispatch(nm_http_server_t *h, const nm_http_req_t *req,
                       nm_http_resp_t *resp) {
  for (int i = 0; i < h->nroutes; i++) {
    if (strcmp(h->routes[i].path, req->path) == 0) {
      h->routes[i].fn(h->routes[i].data, req, resp);
      return;
    }
  }
  /* Go's http.NotFound. */
  resp->status = 404;
  resp->content_type = "text/plain; charset=utf-8";
  snprintf(resp->extra_headers, sizeof(resp->extra_headers),
           "X-Content-Type-Options: nosniff\r\n");
  (void)nm_buf_append_str(&resp->body, "404 page not found\n");
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Go's url.QueryUnescape of p[0..n): the decoded bytes go into out, at
 * most cap of them (cap 0: none); the whole text is checked either way.
 * Returns the decoded length (which may pass cap) or -1 for a bad escape. */
static long unescape(const char *p, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++, o++) {
    char ch = p[i];
    if (ch == '%') {
      int hi, lo;
      if (i + 2 >= n)
        return -1;
      hi = hexval(p[i + 1]);
      lo = hexval(p[i + 2]);
      if (hi < 0 || lo < 0)
        return -1;
      ch = (char)(hi * 16 + lo);
      i += 2;
    } else if (ch == '+') {
      ch = ' ';
    }
    if (o < cap)
      out[o] = ch;
  }
  return (long)o;
}

long nm_http_query_get(const char *query, const char *key, char *out,
                       size_t n) {
  const char *p = query;
  size_t klen = strlen(key);
  /* A longer key decodes to more than any key asked for here. */
  char kbuf[256];
  if (n > 0)
    out[0] = 0;
  while (p && *p) {
    const char *amp = strchr(p, '&');
    size_t len = amp ? (size_t)(amp - p) : strlen(p);
    const char *eq = memchr(p, '=', len);
    size_t kl = eq ? (size_t)(eq - p) : len;
    size_t vl = eq ? len - kl - 1 : 0;
    long dk, dv;
    /* Go (1.17+) skips a pair with ';', and one with a bad escape. The
     * value is decoded straight into out (cut to n - 1 bytes). */
    if (memchr(p, ';', len) == NULL && kl > 0 && kl < sizeof(kbuf) &&
        (dk = unescape(p, kl, kbuf, sizeof(kbuf))) >= 0 && (size_t)dk == klen &&
        memcmp(kbuf, key, klen) == 0 &&
        (dv = eq ? unescape(eq + 1, vl, out, n > 0 ? n - 1 : 0) : 0) >= 0) {
      if (n > 0)
        out[(size_t)dv < n - 1 ? (size_t)dv : n - 1] = 0;
      return dv + 1;
    }
    p = amp ? amp + 1 : NULL;
  }
  if (n > 0)
    out[0] = 0;
  return 0;
}

const char *nm_http_status_text(int status) {
  switch (status) {
  case 200:
    return "OK";
  case 204:
    return "No Content";
  case 400:
    return "Bad Request";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 413:
    return "Request Entity Too Large";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 503:
    return "Service Unavailable";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return "";
  }
}
