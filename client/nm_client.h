/* nmc: natsmock's reference NATS client, on libuv.
 *
 * Everything runs on the caller's uv loop, on the loop's thread; nothing
 * blocks. Every operation that waits (connect, flush, drain, request) reports
 * its end through a callback. One prefix: nmc_. Errors are libuv-style ints:
 * 0 is success, a negative value is an NMC_E* / NM_E* / UV_E* code;
 * nmc_strerror() names any of them.
 *
 * Example (error checks left out):
 *
 *   static int on_msg(nmc_sub_t *s, nmc_msg_t *m, void *data) {
 *     printf("%s: %.*s\n", m->subject, (int)m->len, m->data);
 *     return NMC_DONE;
 *   }
 *   static void on_connected(nmc_conn_t *c, int status, void *data) {
 *     nmc_sub_t *s;
 *     nmc_subscribe(c, "greet", NULL, on_msg, NULL, &s);
 *     nmc_publish(c, "greet", NULL, "hi", 2);
 *   }
 *   ...
 *   const char *urls[] = {"nats://127.0.0.1:4222"};
 *   nmc_opts_t o;
 *   nmc_conn_t *conn;
 *   nmc_opts_init(&o);
 *   o.servers = urls;
 *   o.num_servers = 1;
 *   o.connected_cb = on_connected;
 *   nmc_connect(uv_default_loop(), &o, &conn);
 *   uv_run(uv_default_loop(), UV_RUN_DEFAULT);
 *
 * Lifetime. nmc_connect() allocates the connection and starts connecting.
 * The connection lives until its closed callback has run: it fires exactly
 * once, after every other callback, and when it returns the connection and
 * its subscriptions are freed. Call nmc_close() (or nmc_drain()) to end it;
 * it also ends by itself when the initial connect or every reconnect fails.
 *
 * Output. Publishes, subscriptions and PINGs are appended, as whole frames,
 * to one outbound buffer. The buffer is written in one write:
 *  - before the loop next waits for I/O (a uv_prepare handle), so a lone
 *    publish with no flush reaches the socket within the current loop
 *    iteration: the latency bound is "the callbacks still running in this
 *    iteration", never a timer and never "when more data comes";
 *  - at once, when it passes NMC_WRITE_THRESHOLD bytes.
 * At most one write is in flight; what is queued meanwhile goes out when it
 * completes, or with uv_try_write as soon as the write in flight has handed
 * all its bytes to the kernel (only its callback pending). The buffer keeps
 * track of where its first whole frame starts, so the replay after a
 * reconnect never begins with the tail of a half-sent frame.
 *
 * Flush. nmc_flush() queues a PING behind everything buffered. PONGs are
 * matched to PINGs first-in first-out. A flush that times out keeps its slot
 * as a placeholder, so a late PONG releases the placeholder and never a later
 * flush. Keepalive PINGs also take placeholder slots. The client resyncs by
 * reconnecting (stale) when a timed-out flush's PONG is still missing
 * pong_grace_ms later, or when a PONG popped a timed-out slot while later
 * PINGs were outstanding and then another flush timed out (that PONG was the
 * next PING's: one was lost). So flushes work again within a bounded time
 * (docs/design.md, Fairness). Pending flushes fail with NMC_EDISCONNECTED when
 * the connection drops and NM_ECLOSED when it closes.
 *
 * Delivery. Each subscription delivers serially, in arrival order. A handler
 * returns NMC_DONE, or NMC_ASYNC to finish later with nmc_msg_done(); the
 * next message of that subscription waits until then (messages queue up to
 * the subscription's pending limits; beyond them the newest is dropped and
 * the slow-consumer callback fires).
 *
 * Reconnect. On a lost connection: pending flushes fail, unwritten PUB/HPUB
 * frames are kept (other frames are dropped; subscriptions are resent), and
 * the client retries the server pool with backoff + jitter. While
 * reconnecting, publishes and flush PINGs go to a buffer bounded by
 * reconnect_buf_size (a publish that does not fit fails with NMC_EBUFFULL).
 * On the new connection the order is: CONNECT (+ handshake PING/PONG), every
 * live subscription (SUB, and UNSUB sid n with the remaining auto-unsubscribe
 * count), the buffered frames in publish order, then a PING.
 *
 * Signals. Like libuv, the library leaves SIGPIPE alone: a program should
 * ignore it (signal(SIGPIPE, SIG_IGN)) so that writing to a socket the server
 * closed is an error, not the end of the process. */
#ifndef NM_CLIENT_H
#define NM_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "nm_errors.h"

#include "nm_version.h"

#define NMC_VERSION NM_VERSION /* the client is versioned with natsmock */

/* Client error codes (the NM_E* codes of nm_errors.h are also used:
 * NM_ETIMEOUT, NM_ECLOSED, NM_EAUTH, NM_EINVAL, NM_EPROTO, NM_ENOMEM,
 * NM_ESTATE). */
enum {
  NMC_EDRAINING = -5101,     /* the connection is draining */
  NMC_EDISCONNECTED = -5102, /* the connection dropped while waiting */
  NMC_EMAXPAYLOAD = -5103,   /* payload larger than the server's max_payload */
  NMC_EBADSUBJECT = -5104,   /* invalid subject or queue name */
  NMC_ENOTSUP = -5105,       /* the server lacks the feature (headers) */
  NMC_EBUFFULL = -5106,      /* outbound or reconnect buffer full */
  NMC_ENORESPONDERS = -5107, /* request: no one subscribes to the subject */
  NMC_ESTALE = -5108,        /* PINGs unanswered: stale connection */
  NMC_ESERVER = -5109,       /* the server sent -ERR (text: nmc_last_error) */
  NMC_ENOSERVERS = -5110,    /* no server could be reached */
  NMC_ESLOWCONSUMER = -5111, /* a subscription dropped a message */
};

/* Limits and tunables. */
#define NMC_WRITE_THRESHOLD (32 * 1024)    /* write at once past this */
#define NMC_OUT_MAX (64 * 1024 * 1024)     /* outbound buffer while connected */
#define NMC_MAX_SERVERS 64                 /* server pool size */
#define NMC_MAX_PINGS_PENDING 100000       /* PINGs awaiting a PONG */
#define NMC_MAX_REQUESTS 100000            /* requests awaiting a reply */
#define NMC_PONG_GRACE_MS 2000             /* see Flush above */
#define NMC_MAX_INBOUND (64 * 1024 * 1024) /* largest MSG payload accepted */

enum { NMC_DONE = 0, NMC_ASYNC = 1 }; /* handler return values */

typedef enum {
  NMC_CONNECTING = 0,
  NMC_CONNECTED,
  NMC_RECONNECTING,
  NMC_DRAINING_SUBS,
  NMC_DRAINING_PUBS,
  NMC_CLOSED,
} nmc_status_t;

typedef struct nmc_conn_s nmc_conn_t;
typedef struct nmc_sub_s nmc_sub_t;

/* A received message. Read-only; valid until the handler returns NMC_DONE or
 * nmc_msg_done() is called. Strings are NUL-terminated. */
typedef struct {
  const char *subject;
  const char *reply; /* NULL when none */
  const char *hdr;   /* header block ("NATS/1.0...\r\n\r\n") or NULL */
  size_t hdr_len;
  const char *data; /* payload body (after the header block) */
  size_t len;
  nmc_sub_t *sub;
} nmc_msg_t;

/* Callbacks. `status` is 0 or an error code. */
typedef int (*nmc_msg_cb)(nmc_sub_t *sub, nmc_msg_t *msg, void *data);
typedef void (*nmc_done_cb)(nmc_conn_t *c, int status, void *data);
typedef void (*nmc_request_cb)(nmc_conn_t *c, int status, nmc_msg_t *reply,
                               void *data);
typedef void (*nmc_event_cb)(nmc_conn_t *c, void *data);
typedef void (*nmc_error_cb)(nmc_conn_t *c, int err, const char *text,
                             nmc_sub_t *sub, void *data);
typedef void (*nmc_servers_cb)(nmc_conn_t *c, const char *const *urls, int n,
                               void *data);

typedef struct {
  const char *const *servers; /* "nats://[user:pass@|token@]host:port" */
  int num_servers;
  const char *name;
  const char *user, *pass, *token; /* override those in the URLs */
  int verbose, pedantic;
  int no_echo;
  int no_randomize;
  uint64_t timeout_ms;       /* handshake deadline (2000) */
  uint64_t ping_interval_ms; /* keepalive PING period (120000) */
  int max_pings_out;         /* stale after this many unanswered (2) */
  int no_reconnect;
  int max_reconnect;            /* attempts per server, -1 forever (60) */
  uint64_t reconnect_wait_ms;   /* (2000) */
  uint64_t reconnect_jitter_ms; /* random extra wait, up to (100) */
  size_t reconnect_buf_size;    /* (8 MiB) */
  uint64_t drain_timeout_ms;    /* connection drain (30000) */
  size_t pending_msgs_limit;    /* per-subscription default (65536) */
  size_t pending_bytes_limit;   /* (64 MiB) */
  uint64_t pong_grace_ms;       /* NMC_PONG_GRACE_MS; see Flush above */

  /* Connection events; all optional. */
  nmc_done_cb connected_cb; /* initial connect: 0, or why it failed */
  nmc_event_cb disconnected_cb;
  nmc_event_cb reconnected_cb;
  nmc_event_cb closed_cb; /* exactly once, last */
  nmc_error_cb error_cb;  /* async errors: -ERR, slow consumer, drain */
  nmc_event_cb lame_duck_cb;
  nmc_servers_cb discovered_cb;
  void *data; /* passed to every connection callback */
} nmc_opts_t;

/* Fills in the defaults above. */
void nmc_opts_init(nmc_opts_t *o);

/* Starts connecting. *out is valid until the closed callback returns. The
 * options' strings are copied. Descriptors 0-2, when closed, are opened on
 * /dev/null first, so no socket of the client takes them. Returns 0 (the
 * outcome goes to connected_cb), or NM_EINVAL (bad URL or options) /
 * NM_ENOMEM / a negative errno (/dev/null could not be opened), with nothing
 * allocated. */
int nmc_connect(uv_loop_t *loop, const nmc_opts_t *o, nmc_conn_t **out);

/* Publishes `len` bytes. Returns 0 once the frame is buffered, or one of:
 * NMC_EBADSUBJECT, NM_ECLOSED, NMC_EDRAINING (connection draining its
 * publishes), NMC_EMAXPAYLOAD, NMC_EBUFFULL. */
int nmc_publish(nmc_conn_t *c, const char *subject, const char *reply,
                const void *data, size_t len);
/* The same with a header block (must start "NATS/1.0" and end "\r\n\r\n").
 * Also NMC_ENOTSUP when the server does not take headers. */
int nmc_publish_hdr(nmc_conn_t *c, const char *subject, const char *reply,
                    const char *hdr, size_t hdr_len, const void *data,
                    size_t len);

/* Subscribes (queue may be NULL). Returns 0 and *out, or NMC_EBADSUBJECT,
 * NM_ECLOSED, NMC_EDRAINING, NM_ENOMEM. */
int nmc_subscribe(nmc_conn_t *c, const char *subject, const char *queue,
                  nmc_msg_cb cb, void *data, nmc_sub_t **out);
/* Called once when the library removes the subscription (unsubscribe,
 * auto-unsubscribe reached, drain done, connection closed); after it the
 * pointer must not be passed to nmc_ calls (finishing an outstanding
 * message with nmc_msg_done stays valid). */
typedef void (*nmc_removed_cb)(nmc_sub_t *s, void *data);
void nmc_sub_set_removed_cb(nmc_sub_t *s, nmc_removed_cb cb);
/* The `data` given to nmc_subscribe. */
void *nmc_sub_data(const nmc_sub_t *s);
/* Per-subscription pending limits (0 leaves a limit unchanged). */
void nmc_sub_set_pending_limits(nmc_sub_t *s, size_t msgs, size_t bytes);
/* Removes the subscription now (no further handler calls), or, with max > 0,
 * after `max` messages in all. The sub is freed once its last handler is
 * done; do not use it after this call. Returns 0 or NM_ECLOSED /
 * NMC_EDRAINING. */
int nmc_unsubscribe(nmc_sub_t *s, uint64_t max);
/* Drains: UNSUB, then a PING fence. Every message that arrived before the
 * fence's PONG is handled (its handler done) before `cb` runs with 0; none
 * after. On timeout `cb` gets NM_ETIMEOUT and the sub is removed at once.
 * The sub is freed after `cb`. timeout_ms 0 means the drain timeout. */
int nmc_sub_drain(nmc_sub_t *s, uint64_t timeout_ms, nmc_done_cb cb,
                  void *data);
/* Finishes a message whose handler returned NMC_ASYNC. */
void nmc_msg_done(nmc_msg_t *m);
/* Messages dropped: pending limits, or arrived after a drain fence. */
uint64_t nmc_sub_dropped(const nmc_sub_t *s);
uint64_t nmc_sub_delivered(const nmc_sub_t *s);

/* Flushes: `cb` gets 0 when the server answered a PING queued behind
 * everything buffered, else NM_ETIMEOUT, NMC_EDISCONNECTED or NM_ECLOSED.
 * timeout_ms must be > 0. Returns 0, or an error (and cb is not called). */
int nmc_flush(nmc_conn_t *c, uint64_t timeout_ms, nmc_done_cb cb, void *data);

/* Sends a request on the shared inbox subscription. `cb` gets 0 and the
 * reply, or NM_ETIMEOUT, NMC_ENORESPONDERS, NM_ECLOSED. Returns 0, a publish
 * error, or NMC_EBUFFULL past NMC_MAX_REQUESTS pending. */
int nmc_request(nmc_conn_t *c, const char *subject, const char *hdr,
                size_t hdr_len, const void *data, size_t len,
                uint64_t timeout_ms, nmc_request_cb cb, void *cbdata);

/* Drains the connection: drains every subscription (the request inbox last),
 * refusing new subscriptions; then refuses publishes, flushes and closes.
 * `cb` runs before the closed callback with 0, or NM_ETIMEOUT when the drain
 * timeout (0: the option's) passed first. Returns 0, NM_ECLOSED, or
 * NMC_EDISCONNECTED while not connected (the connection is left alone), or
 * NMC_EDRAINING when a drain is already running. */
int nmc_drain(nmc_conn_t *c, uint64_t timeout_ms, nmc_done_cb cb, void *data);

/* Closes now: pending flushes, drains and requests fail with NM_ECLOSED,
 * then the disconnected (if connected) and closed callbacks run. Idempotent. */
void nmc_close(nmc_conn_t *c);

nmc_status_t nmc_status(const nmc_conn_t *c);
/* The last error's text (a server's -ERR text, or a description). */
const char *nmc_last_error(const nmc_conn_t *c);
int64_t nmc_max_payload(const nmc_conn_t *c);
/* The URL of the server connected to ("" when none). */
const char *nmc_connected_url(const nmc_conn_t *c);
/* Counters: messages for unknown sids dropped, reconnects done. */
uint64_t nmc_unknown_sid_drops(const nmc_conn_t *c);
uint64_t nmc_reconnects(const nmc_conn_t *c);

/* The status code of a header block ("NATS/1.0 503" gives 503), or 0. */
int nmc_msg_status(const nmc_msg_t *m);
/* Names any error code (nmc, nm or uv). */
const char *nmc_strerror(int err);

#endif
