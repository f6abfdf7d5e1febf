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

struct nm_monitor_s {
  nm_server_t *srv;
  nm_http_server_t *http;
  char host[NM_HOST_MAX];
  int config_port;
  uint64_t start_wall_ns; /* varz start and config_load_time */
  uint64_t start_hr;
  uint64_t req_stats[NM_MON_NPATHS];
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
/* A 400 with a plain-text message, as a handler's w.WriteHeader(400) and
 * w.Write(msg). */
void nm__mon_bad(nm_http_resp_t *resp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* ResponseHandler: the JSON, or JSONP with ?callback=. `err`: the JSON
 * writer hit its limit (NM_HTTP_MAX_OUT): a 500 instead of a cut answer. */
void nm__mon_json_done(const nm_http_req_t *req, nm_http_resp_t *resp,
                       nm_buf_t *json, int err);

void nm__mon_varz(void *m, const nm_http_req_t *req, nm_http_resp_t *resp);
void nm__mon_connz(void *m, const nm_http_req_t *req, nm_http_resp_t *resp);
void nm__mon_subsz(void *m, const nm_http_req_t *req, nm_http_resp_t *resp);
/* /mock/fault, /mock/rules, /mock/clear, /mock/trace. */
void nm__mon_mock(void *m, const nm_http_req_t *req, nm_http_resp_t *resp);

#endif
