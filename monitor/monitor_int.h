/* Internal to monitor/: the monitor and the handlers of each endpoint. */
#ifndef NM_MONITOR_INT_H
#define NM_MONITOR_INT_H

#include "monitor_json.h"
#include "nm_http.h"
#include "nm_monitor.h"
#include "nm_server_int.h"

/* Paths whose requests nats-server counts in varz http_req_stats, in the
 * order Go prints map keys (sorted). */
enum {
  NM_MON_ROOT,
  NM_MON_CONNZ,
  NM_MON_GATEWAYZ,
  NM_MON_HEALTHZ,
  NM_MON_LEAFZ,
  NM_MON_ROUTEZ,
  NM_MON_SUBSZ,
  NM_MON_VARZ,
  NM_MON_NPATHS
};

/* Closed connections kept for /connz?state=closed: nats-server's default
 * max_closed_clients, at most this many subscriptions each, and at most this
 * many bytes all together (the oldest go first; one connection's
 * subscriptions past them are not kept). */
#define NM_MON_MAX_CLOSED 10000
#define NM_MON_CLOSED_SUBS_MAX 1024
#define NM_MON_CLOSED_BYTES (16 * 1024 * 1024)

typedef struct {
  char *subject, *queue, *sid; /* queue: NULL when none */
  uint64_t msgs, max;
} nm__mon_sub_t;

/* One connection as /connz shows it: an open one (strings borrowed, `open`
 * set, subscriptions read from it) or a closed one (everything owned). */
typedef struct {
  const nm_conn_t *open;
  uint64_t cid;
  char ip[64];
  int port;
  uint64_t start_ns, last_ns, stop_ns; /* stop_ns: 0 while open */
  const char *reason;                  /* nats-server's words; closed only */
  int64_t rtt_ns;
  uint64_t pending, in_msgs, out_msgs, in_bytes, out_bytes, nsubs;
  char *name, *lang, *version, *user;
  nm__mon_sub_t *subs; /* closed: up to NM_MON_CLOSED_SUBS_MAX */
  size_t nkept;
  size_t bytes; /* memory held (closed) */
  /* nats-server 2.9.10 quirk: once a closed connection was listed with
   * subs=detail, its stored record keeps the detail list, and every later
   * /connz shows it (with subs=1 after the plain list). */
  int detail_stuck;
} nm__mon_cinfo_t;

struct nm_monitor_s {
  nm_server_t *srv;
  nm_http_server_t *http;
  char host[NM_HOST_MAX];
  int config_port;
  uint64_t start_wall_ns; /* varz start and config_load_time */
  uint64_t start_hr;
  uint64_t req_stats[NM_MON_NPATHS];
  /* Closed connections, oldest first (a ring). */
  nm__mon_cinfo_t *closed;
  size_t closed_head, nclosed, closed_bytes;
  void (*done)(void *);
  void *done_data;
};

extern const char *const nm__mon_paths[NM_MON_NPATHS];

/* Go's strconv-based query decoders of monitor.go (decodeBool, decodeInt,
 * decodeUint64): 0 with the value (0 when absent), or -1 after writing
 * nats-server's 400 answer into resp. */
int nm__mon_bool(const nm_http_req_t *req, nm_http_resp_t *resp,
                 const char *key, int *v);
int nm__mon_int(const nm_http_req_t *req, nm_http_resp_t *resp, const char *key,
                long long *v);
int nm__mon_uint(const nm_http_req_t *req, nm_http_resp_t *resp,
                 const char *key, unsigned long long *v);
/* The value of `key`, decoded and whole: 1 with *val (malloc'd, NUL after
 * its *len bytes, which may hold a NUL of their own; free it), 0 when
 * absent (*val NULL), -1 out of memory (a 500 written into resp). */
int nm__mon_query(const nm_http_req_t *req, nm_http_resp_t *resp,
                  const char *key, char **val, size_t *len);
/* A 400 with `prefix` then the value's bytes as they are (nats-server's
 * "invalid sorting option: %s"). */
void nm__mon_bad_value(nm_http_resp_t *resp, const char *prefix,
                       const char *val, size_t len);
/* A 400 with a plain-text message, as a handler's w.WriteHeader(400) and
 * w.Write(msg). */
void nm__mon_bad(nm_http_resp_t *resp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* ResponseHandler: the JSON, or JSONP with ?callback=. `err`: the JSON
 * writer hit its limit (NM_HTTP_MAX_OUT): a 500 instead of a cut answer. */
void nm__mon_json_done(const nm_http_req_t *req, nm_http_resp_t *resp,
                       nm_buf_t *json, int err);

/* monitor_closed.c: the server's close hook, and freeing the ring. */
void nm__mon_conn_closing(void *m, nm_conn_t *c, const char *reason);
void nm__mon_closed_free(nm_monitor_t *m);
/* The last-activity wall time of an open connection. */
uint64_t nm__mon_last_ns(const nm_conn_t *c);

void nm__mon_varz(void *m, const nm_http_req_t *req, nm_http_resp_t *resp);
void nm__mon_connz(void *m, const nm_http_req_t *req, nm_http_resp_t *resp);
void nm__mon_subsz(void *m, const nm_http_req_t *req, nm_http_resp_t *resp);
/* /mock/fault, /mock/rules, /mock/clear, /mock/trace. */
void nm__mon_mock(void *m, const nm_http_req_t *req, nm_http_resp_t *resp);

#endif
