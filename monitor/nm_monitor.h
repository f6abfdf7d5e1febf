/* The mock server's HTTP monitoring, as nats-server 2.9.10's `-m`/`http`:
 * /, /varz, /connz, /subsz, /healthz (and /routez, /gatewayz, /leafz with
 * those features off), plus natsmock's own /mock/... control endpoints (the
 * $MOCK.* requests over HTTP). It serves on the server's loop with the
 * HTTP module of http/. docs/server.md, "Monitoring", says what differs
 * from nats-server. */
#ifndef NM_MONITOR_H
#define NM_MONITOR_H

#include "natsmock.h"

typedef struct nm_monitor_s nm_monitor_t;

typedef struct {
  const char *host;   /* NULL: the server's host */
  int port;           /* 0 or -1: an ephemeral port */
  int config_port;    /* as configured (varz http_port shows it: -1) */
  int mock_endpoints; /* serve /mock/... (off with --no_mock_control) */
} nm_monitor_opts_t;

/* Starts monitoring `s` on its loop (after nm_server_start). Returns 0 or a
 * negative libuv/nm code (then *out is NULL). */
int nm_monitor_start(nm_server_t *s, const nm_monitor_opts_t *o,
                     nm_monitor_t **out);
/* The port it listens on. */
int nm_monitor_port(const nm_monitor_t *m);
/* "http://HOST:PORT" into out; returns out. */
const char *nm_monitor_url(const nm_monitor_t *m, char *out, size_t n);
/* Closes the listener and its connections; `done` runs when every handle
 * is closed (the loop must run), after which m is freed. */
void nm_monitor_stop(nm_monitor_t *m, void (*done)(void *), void *data);

#endif
