/* Invariants: pure functions over a timeline (nm_timeline.h). Each one is
 * documented for scenario authors in scenarios/README.md section 5 and, with
 * its reasoning, at its definition (invariants_*.c); each reports every
 * violation with the timeline entries that show it.
 *
 * The context (nm_inv_ctx_t) is derived once from the timeline: per client,
 * its commands and their results, its connections, the messages its publish
 * commands produced, and its subscriptions with their sids. */
#ifndef NM_INVARIANTS_H
#define NM_INVARIANTS_H

#include <cjson/cJSON.h>

#include "nm_result.h"
#include "nm_timeline.h"

/* Messages expanded from publish commands per run (a publish with count N is
 * N messages); beyond it messages are not tracked and a note says so. */
#define NM_INV_MAX_MSGS 200000
#define NM_INV_MAX_SUBS 256
#define NM_INV_MAX_SIDS 8 /* distinct sids one subscription may get */

/* One message a publish command asked for. */
typedef struct {
  int client;
  size_t cmd;    /* timeline index of the publish command */
  size_t result; /* its ok/err, or NM_TL_NONE */
  uint64_t k;    /* 1-based index within the command */
  const char *subject;
  char *payload; /* owned; body only */
  size_t len;
  int excused; /* the command failed before publishing this one */
  int pending; /* the command had no result when the steps ended */
  size_t seen; /* first IN PUB frame carrying it, or NM_TL_NONE */
} nm_inv_msg_t;

typedef struct {
  int client;
  const char *tag; /* the "sub" of the subscribe command */
  const char *subject;
  const char *queue;
  int64_t max;      /* 0: none (subscribe max, or a later unsubscribe max) */
  int64_t delay_ms; /* handler delay */
  size_t cmd;       /* the subscribe command */
  int nsids;
  const char *sids[NM_INV_MAX_SIDS];
} nm_inv_sub_t;

typedef struct {
  const nm_tl_t *tl;
  size_t *result; /* per timeline index of a CMD: its ok/err, or NONE */
  nm_inv_msg_t *msgs;
  size_t nmsgs;
  int msgs_truncated;
  nm_inv_sub_t subs[NM_INV_MAX_SUBS];
  int nsubs;
  int only_client; /* -1: all */
  /* Multiplies latency bounds and tolerances (bound_ms, tolerance_ms), for
   * slow builds such as sanitizers; 1 by default. */
  double time_scale;
  /* Checks that could not be made because the timeline was cut short
   * (tl->cut_short) and the data they need is missing: "not evaluated",
   * never "failed". Owned by the context. */
  nm_fails_t *not_evaluated;
} nm_inv_ctx_t;

/* Builds the context. Returns 0 or NM_ENOMEM. */
int nm_inv_ctx_init(nm_inv_ctx_t *cx, const nm_tl_t *tl);
void nm_inv_ctx_free(nm_inv_ctx_t *cx);

typedef void (*nm_inv_fn)(const nm_inv_ctx_t *cx, const cJSON *params,
                          const char *what, nm_fails_t *out);

typedef struct {
  const char *name;
  nm_inv_fn fn;
  int needs_server;   /* needs the server's view of the wire */
  const char *params; /* accepted parameter names, comma-separated */
} nm_inv_def_t;

const nm_inv_def_t *nm_inv_find(const char *name);
const nm_inv_def_t *nm_inv_all(size_t *n);

/* Checks one invariant spec (a name string, or an object with "name" and
 * parameters) and appends failures. Returns 0, 1 when skipped because the
 * timeline has no server view, or NM_EINVAL for an unknown name. */
int nm_inv_check(const nm_inv_ctx_t *cx, const cJSON *spec, nm_fails_t *out);
/* Validates a spec: 0 or NM_EINVAL with a message. */
int nm_inv_validate(const cJSON *spec, char *err, size_t errlen);

/* ---- helpers shared by invariants*.c (internal) ---- */
int nm__inv_client_wanted(const nm_inv_ctx_t *cx, const cJSON *params,
                          int client);
int64_t nm__inv_param_int(const cJSON *params, const char *name, int64_t dflt);
const char *nm__inv_param_str(const cJSON *params, const char *name);
/* A latency bound or tolerance parameter in µs, times cx->time_scale. */
uint64_t nm__inv_param_slack_us(const nm_inv_ctx_t *cx, const cJSON *params,
                                const char *name, int64_t dflt_ms);
/* Is timeline entry i a server frame on a connection of `client`? */
int nm__inv_on_client(const nm_inv_ctx_t *cx, size_t i, int client);
/* The first PING the server read from `client` after timeline index `after`,
 * or NM_TL_NONE. */
size_t nm__inv_next_ping(const nm_inv_ctx_t *cx, int client, size_t after);
/* The client's connection that had received CONNECT and was still open at
 * timeline index `at`, or 0. */
uint64_t nm__inv_open_conn_at(const nm_inv_ctx_t *cx, int client, size_t at);
/* The server's close record of connection `conn` at or after index `from`,
 * or NM_TL_NONE. */
size_t nm__inv_close_of(const nm_inv_ctx_t *cx, uint64_t conn, size_t from);
/* The subscription a (client, sid) belongs to, or NULL. */
const nm_inv_sub_t *nm__inv_sub_by_sid(const nm_inv_ctx_t *cx, int client,
                                       const char *sid);
const nm_inv_sub_t *nm__inv_sub_by_tag(const nm_inv_ctx_t *cx, int client,
                                       const char *tag);
/* FIFO PING/PONG pairing on one connection: the index of the PONG the server
 * sent that answers the PING IN at timeline index `ping`, or NM_TL_NONE. A
 * PONG sent while no PING is outstanding answers nothing. */
size_t nm__inv_pong_for(const nm_inv_ctx_t *cx, size_t ping);
/* The PONG a client may fairly have taken as the answer to the PING at
 * `ping` (docs/design.md, Fairness): nm__inv_pong_for's pairing, except that
 * a PONG sent when no PING was outstanding answers the next PING the server
 * reads on that connection (every later pairing shifts with it), since the
 * client may not have read it before it sent that PING — unless it proved
 * it had, by answering a server PING written after it. Such an answer
 * precedes its PING in the timeline. For checks of what a client MAY do;
 * what it MUST do (flush_liveness) keeps nm__inv_pong_for. */
size_t nm__inv_pong_may_answer(const nm_inv_ctx_t *cx, size_t ping);
/* Does the frame at i carry message m (same subject and body)? */
int nm__inv_frame_is_msg(const nm_tl_ev_t *e, const nm_inv_msg_t *m);
/* Does a msg event match the MSG frame f (subject, then seq / data /
 * size)? */
int nm__inv_event_is_frame(const nm_tl_ev_t *ev, const nm_tl_ev_t *f);
/* The result entry of the command at timeline index cmd, or NM_TL_NONE. */
size_t nm__inv_result(const nm_inv_ctx_t *cx, size_t cmd);
/* A failure that rests on something NOT having happened (a close never
 * recorded, a result never reported, a message never received): added to
 * `out` normally, but to cx->not_evaluated when the timeline was cut short,
 * since the missing entry may only have come later. */
void nm__inv_absent(const nm_inv_ctx_t *cx, nm_fails_t *out, const char *what,
                    const size_t *idx, size_t nidx, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* A check not made because a fault no client can detect (docs/design.md,
 * Fairness) decided the outcome: recorded with the run's "not evaluated"
 * notes, never a failure. */
void nm__inv_not_blamed(const nm_inv_ctx_t *cx, const char *what,
                        const size_t *idx, size_t nidx, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Client name for messages. */
const char *nm__inv_cname(const nm_inv_ctx_t *cx, int client);

/* The invariants (invariants_*.c). */
void nm__inv_publish_order(const nm_inv_ctx_t *, const cJSON *, const char *,
                           nm_fails_t *);
void nm__inv_no_loss(const nm_inv_ctx_t *, const cJSON *, const char *,
                     nm_fails_t *);
void nm__inv_lone_publish_latency(const nm_inv_ctx_t *, const cJSON *,
                                  const char *, nm_fails_t *);
void nm__inv_flush_fence(const nm_inv_ctx_t *, const cJSON *, const char *,
                         nm_fails_t *);
void nm__inv_flush_timeout(const nm_inv_ctx_t *, const cJSON *, const char *,
                           nm_fails_t *);
void nm__inv_pong_fifo(const nm_inv_ctx_t *, const cJSON *, const char *,
                       nm_fails_t *);
void nm__inv_delivery_order(const nm_inv_ctx_t *, const cJSON *, const char *,
                            nm_fails_t *);
void nm__inv_delivered_all(const nm_inv_ctx_t *, const cJSON *, const char *,
                           nm_fails_t *);
void nm__inv_drain_sub_fence(const nm_inv_ctx_t *, const cJSON *, const char *,
                             nm_fails_t *);
void nm__inv_auto_unsub_max(const nm_inv_ctx_t *, const cJSON *, const char *,
                            nm_fails_t *);
void nm__inv_flush_liveness(const nm_inv_ctx_t *, const cJSON *, const char *,
                            nm_fails_t *);
void nm__inv_close_reports(const nm_inv_ctx_t *, const cJSON *, const char *,
                           nm_fails_t *);
void nm__inv_drain_conn(const nm_inv_ctx_t *, const cJSON *, const char *,
                        nm_fails_t *);
void nm__inv_reconnect_connect_first(const nm_inv_ctx_t *, const cJSON *,
                                     const char *, nm_fails_t *);
void nm__inv_replay_order(const nm_inv_ctx_t *, const cJSON *, const char *,
                          nm_fails_t *);
void nm__inv_server_ping_answered(const nm_inv_ctx_t *, const cJSON *,
                                  const char *, nm_fails_t *);
void nm__inv_closed_once(const nm_inv_ctx_t *, const cJSON *, const char *,
                         nm_fails_t *);

#endif
