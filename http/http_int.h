/* Internal to http/: the server structure shared by the listener
 * (http_server.c) and the router (http_router.c). */
#ifndef NM_HTTP_INT_H
#define NM_HTTP_INT_H

#include "nm_http.h"

/* One read buffer per server (every read is parsed at once). */
#define NM_HTTP_READ_BUF 65536

typedef struct {
  char path[128];
  nm_http_handler_fn fn;
  void *data;
} nm__hroute_t;

struct nm__hconn_s;

struct nm_http_server_s {
  uv_loop_t *loop;
  uv_tcp_t listener;
  int listening;
  int port;
  int open_handles;
  int closing;
  unsigned idle_ms; /* NM_HTTP_IDLE_MS unless set */
  void (*done)(void *);
  void *done_data;
  struct nm__hconn_s *conns;
  int nconns;
  nm__hroute_t routes[NM_HTTP_MAX_ROUTES];
  int nroutes;
  char rbuf[NM_HTTP_READ_BUF];
};

/* Finds the route of req->path and runs it; Go's 404 when none. */
void nm__http_dispatch(nm_http_server_t *h, const nm_http_req_t *req,
                       nm_http_resp_t *resp);

#endif
