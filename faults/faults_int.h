/* The fault engine's internal types, shared by faults/faults*.c only.
 *
 * The engine keeps:
 *  - rules (faults_rules.c matches frames against them and counts),
 *  - per-connection state: held and delayed frames, a frame waiting to be
 *    coalesced, the stall / black-hole flags (faults.c, faults_held.c),
 *  - direct actions, parsed from JSON (faults_json_do.c) and run by
 *    faults_direct.c.
 * Connections are always named by id, never kept by pointer across loop
 * turns: a timer that fires after its connection closed finds nothing. */
#ifndef NM_FAULTS_INT_H
#define NM_FAULTS_INT_H

#include <stdint.h>
#include <uv.h>

#include "nm_faults.h"

/* Named limits (docs/faults.md lists them). */
#define NM_FAULT_RULES_MAX 256          /* installed rules */
#define NM_FAULT_DOC_MAX (1024 * 1024)  /* bytes of one JSON document */
#define NM_FAULT_ACTIONS_MAX 256        /* actions in one list */
#define NM_FAULT_ID_MAX 64              /* bytes of a rule id, with NUL */
#define NM_FAULT_FIELD_MAX 1024         /* subject, sid, reply, queue text */
#define NM_FAULT_DATA_MAX (1024 * 1024) /* send_raw / send / publish data */
#define NM_FAULT_HELD_FRAMES_MAX 10000  /* held+delayed frames per conn */
#define NM_FAULT_HELD_BYTES_MAX (16u << 20) /* held+delayed bytes per conn */
/* held+delayed+stalled+coalesced bytes of all connections together, unless
 * the host sets another (nm_faults_set_held_cap; natsmock --max_held). */
#define NM_FAULT_HELD_TOTAL_DEFAULT ((uint64_t)128 << 20)
#define NM_FAULT_DELAY_MAX_MS (3600 * 1000) /* delay, restart */
#define NM_FAULT_PUBLISH_COUNT_MAX 1000000  /* phantom publish count */
#define NM_FAULT_PUBLISH_BYTES_MAX                                             \
  (64u << 20)                  /* count * size of one publish                  \
                                */
#define NM_FAULT_CUTS_MAX 1024 /* random cut points per frame */
#define NM_FAULT_DEPTH_MAX                                                     \
  8 /* nested then-actions (a rule's then can make                             \
       frames that trigger rules again) */
#define NM_FAULT_RESULT_MAX (1024 * 1024) /* JSON result / reply text */
#define NM_FAULT_PERCONN_MAX 4096 /* connections a per_conn rule counts */
#define NM_FAULT_TRACE_MAX 256    /* ACTION events kept for $MOCK.trace */
#define NM_FAULT_REFUSE_MAX 1000  /* refuse: connections (then it ends) */
#define NM_FAULT_RESTART_MAX_MS (60 * 1000) /* restart: listener away */

typedef enum {
  NM_FACT_PASS = 0,
  NM_FACT_HOLD,
  NM_FACT_DELAY,
  NM_FACT_DROP,
  NM_FACT_DUPLICATE,
  NM_FACT_SPLIT,
  NM_FACT_COALESCE,
  NM_FACT_CLOSE,
  NM_FACT_RESET,
  NM_FACT_STALL,
  NM_FACT_BLACKHOLE,
} nm__fact_t;

/* Which connection a direct action addresses. */
typedef enum {
  NM_FCONN_LAST = 0, /* the most recently accepted connection still open */
  NM_FCONN_ALL,
  NM_FCONN_THIS, /* the connection whose frame triggered the rule */
  NM_FCONN_ID,
  NM_FCONN_NAME, /* every open connection whose CONNECT "name" is conn_name */
} nm__fconn_sel_t;

typedef enum {
  NM_FDO_SEND_RAW = 0,
  NM_FDO_SEND,
  NM_FDO_PUBLISH,
  NM_FDO_RELEASE,
  NM_FDO_CLOSE,
  NM_FDO_RESET,
  NM_FDO_STALL,
  NM_FDO_RESUME,
  NM_FDO_BLACKHOLE,
  NM_FDO_RESTART,
  NM_FDO_REFUSE,
} nm__fdo_t;

/* A frame match. Empty fields match anything. */
typedef struct {
  int dir;        /* NM_DIR_IN or NM_DIR_OUT */
  uint32_t verbs; /* bit (1 << nm_op_t); 0: any */
  char *subject;  /* NATS pattern, or NULL */
  char *sid;      /* exact sid, or NULL */
  uint64_t conn;  /* connection id, or 0 */
  char *name;     /* the client's CONNECT "name", exact, or NULL */
} nm__fmatch_t;

/* One direct action, parsed and checked. Strings are owned. */
typedef struct {
  nm__fdo_t kind;
  nm__fconn_sel_t sel;
  uint64_t conn_id;
  char *conn_name; /* NM_FCONN_NAME */
  /* send_raw: data. send: op and fields. publish: subject etc. */
  nm_op_t op;
  char *subject;
  char *sid;
  char *reply;
  char *text;   /* send ERR: the text inside the quotes */
  char *fields; /* send INFO: JSON object text merged over the real INFO */
  char *data;   /* payload (send_raw: the raw bytes); not NUL-safe: len */
  size_t len;
  int has_data;
  char *hdrs; /* header block "NATS/1.0...\r\n\r\n", or NULL */
  size_t hdr_len;
  uint64_t count; /* publish: messages; release: frames (0: all) */
  uint64_t size;  /* publish: sequenced payload size */
  uint64_t start; /* publish: first sequence number */
  uint64_t ms;    /* restart */
  int flag;       /* close: flush first; restart: keep connections */
  char rule[NM_FAULT_ID_MAX]; /* release: rule id, "" for all */
} nm__fdirect_t;

typedef struct {
  nm__fdirect_t *v;
  int n;
} nm__fdirects_t;

/* A rule's counters: one set, or one per connection ("per_conn"). */
typedef struct {
  uint64_t after_seen; /* frames matching `after` so far */
  int armed;
  uint64_t seen;  /* frames matched since armed */
  uint64_t acted; /* times it acted */
} nm__fcount_t;

typedef struct {
  uint64_t conn_id;
  nm__fcount_t n;
} nm__fcount_conn_t;

typedef struct nm__frule_s nm__frule_t;
struct nm__frule_s {
  nm__frule_t *next;
  char id[NM_FAULT_ID_MAX];
  nm__fmatch_t match;
  int has_after;
  nm__fmatch_t after;
  uint64_t after_nth; /* arm on the n-th frame matching `after` (default 1) */
  uint64_t nth, every, limit;
  nm__fcount_t cnt;      /* the counters, unless per_conn */
  int per_conn;          /* counters per connection, in `pc` */
  int ordered;           /* hold/delay: later frames wait behind the kept one */
  nm__fcount_conn_t *pc; /* open connections seen, at most */
  int npc, pccap;        /* NM_FAULT_PERCONN_MAX */
  uint64_t seen_total, acted_total; /* for $MOCK.rules, all connections */
  int removed;                      /* unlinked once no frame walk is running */
  nm__fact_t action;
  uint64_t ms; /* delay; hold: release after ms (0: never) */
  int has_release_on;
  nm__fmatch_t release_on; /* hold: a frame that releases the rule's frames
                              kept on its connection */
  uint64_t chunk;          /* split: bytes per write */
  uint64_t cuts;           /* split: random cut points */
  uint64_t rng;            /* split: xorshift state, from "seed" */
  nm__fdirects_t then;
};

/* A copied frame, held, delayed or waiting to be coalesced. The frame's
 * slices point into `data` (one allocation with the struct). */
typedef struct nm__fheld_s nm__fheld_t;
struct nm__fheld_s {
  nm__fheld_t *next, *prev; /* on one nm__fheld_list_t */
  nm_faults_t *f;
  uint64_t conn_id;
  int dir;
  char rule[NM_FAULT_ID_MAX];
  nm_frame_t fr;
  nm_slice_t bytes;
  size_t cost;  /* bytes charged to the connection's cap */
  int timer_on; /* delay: timer initialised (closed on cancel) */
  int on_held;  /* the timer's entry is on the hold queue (release_ms) */
  int ordered;  /* on seq[dir]: blocks what follows until ready */
  int ready;    /* on seq[dir]: may be delivered (released, timer fired,
                   or a frame that only waits for those before it) */
  uv_timer_t timer;
};

/* A list of kept frames: appending and unlinking are O(1), so a long hold
 * queue never makes the loop walk it per frame. */
typedef struct {
  nm__fheld_t *head, *tail;
} nm__fheld_list_t;

/* Per-connection engine state, made on first need. */
typedef struct nm__fconn_s nm__fconn_t;
struct nm__fconn_s {
  nm__fconn_t *next;
  uint64_t id;
  nm__fheld_list_t held;     /* hold queue, all rules, arrival order */
  nm__fheld_list_t delayed;  /* frames with a running timer */
  nm__fheld_list_t stalled;  /* inbound frames read after a stall */
  nm__fheld_list_t coalesce; /* out frames waiting for the next write */
  /* "ordered" holds and delays, per direction: the kept frame and every
   * frame after it on that connection and direction, in stream order. */
  nm__fheld_list_t seq[2];
  int blocking[2];        /* entries on seq[dir] not ready yet */
  size_t nframes, nbytes; /* charged against the caps */
  int stall, blackhole;
};

typedef struct nm__fsync_s nm__fsync_t;
typedef struct nm__fdefer_s nm__fdefer_t;

/* One ACTION event, kept for $MOCK.trace (text fields truncated). */
typedef struct {
  uint64_t seq; /* 1, 2, ... since start */
  uint64_t t_us;
  uint64_t conn_id;
  nm_op_t op; /* the frame acted on, or NM_OP_NONE */
  char rule[NM_FAULT_ID_MAX];
  char action[16];
  char detail[96];
} nm__ftrace_t;

struct nm_faults_s {
  uv_loop_t *loop;            /* timers; NULL: no delays, no sync */
  const nm_fault_host_t *ops; /* the host's operations (the only way out) */
  void *host;                 /* their first argument */
  nm__frule_t *rules;
  int nrules;  /* installed, not removed */
  int nstates; /* nm__fconn_t in `conns` */
  nm__fconn_t *conns;
  uint64_t next_rule_no; /* default ids r1, r2, ... */
  int walking;           /* frame walks in progress (rules may not be freed) */
  int depth;             /* then-action nesting */
  int stopped;
  int pending_closes;  /* timers being closed */
  nm__fsync_t *sync;   /* nm_faults_apply_sync plumbing, or NULL */
  nm__ftrace_t *trace; /* ring of NM_FAULT_TRACE_MAX, allocated on first use */
  uint64_t trace_seq;  /* events recorded so far */
  int replying;        /* answering a control request: rules stand aside */
  nm__fdefer_t *deferred; /* request actions waiting for their answer */
  uint64_t held_total;    /* bytes kept on all connections */
  uint64_t held_cap;      /* their cap (NM_FAULT_HELD_TOTAL_DEFAULT) */
  int control_off; /* $MOCK. subjects are ordinary (nm_faults_set_control) */
};

/* The host's operations, one call each (nm_faults.h describes them). */
static inline uint64_t nm__fh_id(const nm_faults_t *f, const nm_hconn_t *c) {
  return f->ops->conn_id(f->host, c);
}
static inline nm_hconn_t *nm__fh_find(const nm_faults_t *f, uint64_t id) {
  return f->ops->find_conn(f->host, id);
}
static inline void nm__fh_each(const nm_faults_t *f,
                               void (*fn)(nm_hconn_t *, void *), void *data) {
  f->ops->each_conn(f->host, fn, data);
}
static inline int nm__fh_write(const nm_faults_t *f, nm_hconn_t *c,
                               const char *p, size_t n, int now,
                               const nm_frame_t *fr, const char *rule,
                               const char *action) {
  return f->ops->write_raw(f->host, c, p, n, now, fr, rule, action);
}
static inline void nm__fh_observe_pending(const nm_faults_t *f, nm_hconn_t *c) {
  if (f->ops->observe_pending)
    f->ops->observe_pending(f->host, c);
}
static inline void nm__fh_close(const nm_faults_t *f, nm_hconn_t *c,
                                nm_close_how_t how, const char *reason) {
  f->ops->close(f->host, c, how, reason);
}
static inline void nm__fh_reading(const nm_faults_t *f, nm_hconn_t *c, int on) {
  f->ops->set_reading(f->host, c, on);
}
static inline void nm__fh_blackhole(const nm_faults_t *f, nm_hconn_t *c,
                                    int on) {
  f->ops->set_blackhole(f->host, c, on);
}
static inline void nm__fh_handle(const nm_faults_t *f, nm_hconn_t *c,
                                 const nm_frame_t *fr, nm_slice_t bytes) {
  f->ops->handle_frame(f->host, c, fr, bytes);
}
static inline void nm__fh_publish(const nm_faults_t *f, nm_slice_t subject,
                                  nm_slice_t reply, size_t hdr_len,
                                  nm_slice_t payload) {
  f->ops->publish(f->host, subject, reply, hdr_len, payload);
}
static inline int nm__fh_restart(const nm_faults_t *f, uint64_t delay_ms) {
  return f->ops->restart_listener(f->host, delay_ms);
}
static inline void nm__fh_refuse(const nm_faults_t *f, int k) {
  f->ops->refuse_next(f->host, k);
}
static inline int nm__fh_info(const nm_faults_t *f, nm_hconn_t *c,
                              const char *extra, nm_buf_t *out) {
  return f->ops->info_json(f->host, c, extra, out);
}
static inline void nm__fh_observe(const nm_faults_t *f,
                                  const nm_obs_event_t *ev) {
  f->ops->observe(f->host, ev);
}
static inline uint64_t nm__fh_seed(const nm_faults_t *f) {
  return f->ops->seed(f->host);
}

/* faults.c */
nm__fconn_t *nm__fconn_get(nm_faults_t *f, uint64_t id, int create);
void nm__fconn_maybe_free(nm_faults_t *f, nm__fconn_t *st);
void nm__fobserve(nm_faults_t *f, nm_obs_kind_t kind, uint64_t conn_id,
                  const nm_frame_t *fr, nm_slice_t bytes, const char *rule,
                  const char *action, const char *detail);
const char *nm__fact_name(nm__fact_t a);
void nm__frule_free(nm__frule_t *r);
/* Unlinks removed rules when no walk runs. */
void nm__frules_reap(nm_faults_t *f);
nm__frule_t *nm__frule_find(nm_faults_t *f, const char *id);
/* The counters for a frame of connection conn_id (NULL: table full). */
nm__fcount_t *nm__frule_count(nm__frule_t *r, uint64_t conn_id);
/* Forgets a closed connection's per_conn counters. */
void nm__frules_forget_conn(nm_faults_t *f, uint64_t conn_id);
int nm__frule_spent(const nm__frule_t *r, const nm__fcount_t *n);

/* faults_held.c */
/* Copies a frame (its slices and bytes) into one allocation. */
nm__fheld_t *nm__fheld_new(nm_faults_t *f, uint64_t conn_id, int dir,
                           const char *rule, const nm_frame_t *fr,
                           nm_slice_t bytes);
/* Frees an entry; a delayed one closes its timer first. */
void nm__fheld_free(nm__fheld_t *h);
/* Charges an entry to its connection's caps: 0 or NM_ETOOBIG. */
int nm__fheld_charge(nm__fconn_t *st, nm__fheld_t *h);
void nm__fheld_uncharge(nm__fconn_t *st, nm__fheld_t *h);
void nm__fheld_append(nm__fheld_list_t *l, nm__fheld_t *h);
void nm__fheld_unlink(nm__fheld_list_t *l, nm__fheld_t *h);
/* Moves every entry of `from` (in order) to the end of `to`. */
void nm__fheld_splice(nm__fheld_list_t *to, nm__fheld_list_t *from);
int nm__fheld_delay(nm_faults_t *f, nm__fconn_t *st, nm__fheld_t *h,
                    uint64_t ms);
/* A held entry (already on the hold queue) released by itself after ms. */
int nm__fheld_hold_timer(nm_faults_t *f, nm__fheld_t *h, uint64_t ms);
/* Marks an ordered entry ready and delivers what can go on its
 * connection and direction, in order. */
void nm__fseq_ready(nm_faults_t *f, nm__fheld_t *h);
/* Delivers the ready entries at the head of seq[dir]. */
void nm__fseq_flush(nm_faults_t *f, uint64_t conn_id, int dir);
/* Delivers an entry now: writes (out) or handles (in). */
void nm__fheld_deliver(nm_faults_t *f, nm_hconn_t *c, nm__fheld_t *h,
                       const char *action);
/* Releases held frames (rule "" = all rules; max 0 = all) of one
 * connection, in order. Returns how many. */
uint64_t nm__fheld_release(nm_faults_t *f, uint64_t conn_id, const char *rule,
                           uint64_t max);
/* Drops everything the engine keeps for a connection. */
void nm__fconn_drop_all(nm_faults_t *f, nm__fconn_t *st);
/* Writes out-bytes on a connection, first any frame waiting to be
 * coalesced, so both leave in one write. */
void nm__femit(nm_faults_t *f, nm_hconn_t *c, const char *p, size_t n,
               const nm_frame_t *fr, const char *rule, const char *action);

/* faults_rules.c */
int nm__fmatch(nm_faults_t *f, nm_hconn_t *c, const nm__fmatch_t *m, int dir,
               uint64_t conn_id, const nm_frame_t *fr);

/* faults_json.c (a rule), faults_json_do.c (an action list). `err` gets a
 * message naming the offending field. */
int nm__fjson_rule(nm_faults_t *f, const void *json, int index,
                   nm__frule_t **out, char *err, size_t errlen);
int nm__fjson_directs(const void *json, const char *where, int in_then,
                      nm__fdirects_t *out, char *err, size_t errlen);
void nm__fdirects_free(nm__fdirects_t *d);
uint32_t nm__fverb_bit(const char *name);

/* faults_direct.c: runs actions. `this_conn` is the triggering connection
 * (0 outside then-lists); rule is the triggering rule id or NULL. */
void nm__fdirects_run(nm_faults_t *f, const nm__fdirects_t *d,
                      uint64_t this_conn, const char *rule);

/* faults_frame.c: encodes a "send" action's frame for connection c. The
 * frame description for the observer points into the action and `out`. */
int nm__fframe_build(nm_faults_t *f, nm_hconn_t *c, const nm__fdirect_t *a,
                     nm_buf_t *out, nm_frame_t *fr);

/* faults_control.c: cancels actions still waiting for their answer. */
void nm__fdefer_stop(nm_faults_t *f);
/* Replaces out's text with {"ok":false,"error":msg}. */
void nm__fcontrol_error(nm_buf_t *out, const char *msg);

/* faults_sync.c */
int nm__fsync_init(nm_faults_t *f, uv_loop_t *loop);
void nm__fsync_stop(nm_faults_t *f);
void nm__fsync_free(nm_faults_t *f);
/* Called on the loop thread (a connection opened): lets
 * nm_faults_apply_sync called on that thread apply directly. */
void nm__fsync_note_loop_thread(nm_faults_t *f);

#endif
