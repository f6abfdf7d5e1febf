/* natsmock's proxy: the fault engine in front of a real NATS server.
 *
 * Clients connect to the proxy; for each one it opens one connection to the
 * upstream server and parses both directions with proto's parser. Every
 * frame passes the fault stage once (dir "in": client to server, "out":
 * server to client). Frames no rule takes are forwarded as the exact bytes
 * received, in order, written at the end of the read that brought them (no
 * timer, no added loop turn). What the proxy itself changes is listed in
 * docs/proxy.md: `connect_urls` of the upstream INFO (rewritten to the
 * proxy's address unless keep_connect_urls), the `$MOCK.*` control
 * publishes (answered by the proxy, never forwarded), and the +OK a verbose
 * upstream sends for a publish the proxy injected (not passed on). Phantom
 * publishes made outside a client's frame, or for a client with echo off,
 * go on a connection of the proxy's own (CONNECT name "natsmock-proxy"),
 * opened on the first one. */
#ifndef NM_PROXY_H
#define NM_PROXY_H

#include <stdint.h>
#include <uv.h>

#include "nm_buf.h"
#include "nm_obs.h"

typedef struct nm_proxy_s nm_proxy_t;

typedef struct {
  const char *host;        /* listen address; "127.0.0.1" */
  int port;                /* 0 (or -1): an ephemeral port */
  const char *upstream;    /* "nats://HOST:PORT" or "HOST:PORT" (required) */
  const char *faults_file; /* JSON fault document applied at start, or NULL */
  uint64_t seed;           /* random splits; 0: none given */
  int keep_connect_urls;   /* pass the upstream's connect_urls unchanged */
  int trace;               /* -V: both legs' frames on stderr */
  /* The HTTP control port (the /mock endpoints, docs/proxy.md) on `host`:
   * 0 none, -1 a random one. No auth: anyone who reaches it may use it. */
  int http_port;
  int no_mock_control; /* no $MOCK.* control, no /mock endpoints */
} nm_proxy_opts_t;

void nm_proxy_opts_init(nm_proxy_opts_t *o);

/* Creates a proxy on `loop`: checks the options, resolves the upstream
 * address, loads the faults file. 0, or a negative code with a one-line
 * message in err. */
int nm_proxy_new(uv_loop_t *loop, const nm_proxy_opts_t *o, nm_proxy_t **out,
                 char *err, size_t errlen);
/* Binds and listens (the clients' port, then the control port when asked
 * for). 0 or a negative libuv code. */
int nm_proxy_start(nm_proxy_t *p);
int nm_proxy_port(const nm_proxy_t *p);
/* The HTTP control port (after nm_proxy_start); 0 when there is none. */
int nm_proxy_http_port(const nm_proxy_t *p);
/* "nats://HOST:PORT" of the proxy into out; returns out. */
const char *nm_proxy_url(const nm_proxy_t *p, char *out, size_t n);
int nm_proxy_num_conns(const nm_proxy_t *p);
/* Stops listening and closes every pair; `done` runs once all handles are
 * closed (the loop must run until then). */
void nm_proxy_stop(nm_proxy_t *p, void (*done)(nm_proxy_t *, void *),
                   void *data);
/* Frees a stopped proxy. */
void nm_proxy_free(nm_proxy_t *p);

/* The proxy on a thread with its own loop (tests). */
int nm_proxy_start_thread(const nm_proxy_opts_t *o, nm_proxy_t **out, char *err,
                          size_t errlen);
void nm_proxy_stop_thread(nm_proxy_t *p);

/* Observer, as nm_server_set_observer: OPEN, IN (a frame from the client,
 * before any rule), OUT (bytes handed to the client's socket), CLOSE,
 * ACTION; ev->leg is NM_OBS_LEG_CLIENT. With upstream_leg set the upstream
 * side is reported too, with ev->leg NM_OBS_LEG_UPSTREAM: IN for a frame
 * read from the server (before any rule), OUT for bytes written to it. */
void nm_proxy_set_observer(nm_proxy_t *p, nm_obs_cb cb, void *data,
                           int upstream_leg);

/* Fault documents (docs/faults.md), as nm_server_fault / _sync. */
int nm_proxy_fault(nm_proxy_t *p, const char *json, nm_buf_t *result, char *err,
                   size_t errlen);
int nm_proxy_fault_sync(nm_proxy_t *p, const char *json, nm_buf_t *result,
                        char *err, size_t errlen);

/* The proxy as a program: `natsmock --proxy URL [-a HOST] [-p PORT]
 * [-m PORT] [--faults FILE] [--seed N] [--keep-connect-urls]
 * [--no_mock_control] [-V]`. Runs until
 * SIGINT/SIGTERM; returns the exit status. */
int nm_proxy_main(int argc, char **argv);

#endif
