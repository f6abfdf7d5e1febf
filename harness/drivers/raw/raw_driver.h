/* natsmock-driver-raw: a driver with no client library behind it. It writes
 * exactly the frames it is told to (proto/ encoders, or bytes given as is),
 * reports every frame it receives, and can break one client promise on
 * purpose ("misbehave" switches), so scenarios can test a server byte for
 * byte and show that each invariant catches a client that breaks it.
 *
 * One thread, one libuv loop: stdin lines are commands, run in order as
 * they arrive; none blocks (a flush or drain_sub is answered later from the
 * socket's read path or a timer). */
#ifndef NM_RAW_DRIVER_H
#define NM_RAW_DRIVER_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <uv.h>

#include "nm_buf.h"
#include "nm_parser.h"

/* Subscriptions a driver keeps. */
#define NM_RAW_MAX_SUBS 4096
/* Length of a subscription tag, including the NUL. */
#define NM_RAW_TAG_MAX 128
/* Messages waiting for a slow handler (delay_ms) per subscription; more are
 * dropped and reported as slow_consumer, like a client's pending limit. */
#define NM_RAW_MAX_PENDING 65536
/* Outstanding PINGs (flush, drain_sub, handshake) waiting for a PONG. */
#define NM_RAW_MAX_PINGS 4096
/* Bytes queued to the socket and not yet written. */
#define NM_RAW_MAX_OUT (64 * 1024 * 1024)
/* The largest MSG payload accepted from a server. */
#define NM_RAW_MAX_IN_PAYLOAD (8 * 1024 * 1024)
/* Server URLs remembered from INFO connect_urls (for discovered). */
#define NM_RAW_MAX_KNOWN 64
/* The reconnect buffer's default size, as in nats.c and nats.go. */
#define NM_RAW_RECONNECT_BUF (8 * 1024 * 1024)
/* The longest control line reported in a frame event. */
#define NM_RAW_FRAME_LINE_MAX 4096

/* Misbehaviour switches (connect's "misbehave" list). */
enum {
  NM_RAW_FLUSH_OK_EARLY = 1u << 0,
  NM_RAW_REORDER_PUBLISH = 1u << 1,
  NM_RAW_DROP_PUBLISH = 1u << 2,
  NM_RAW_IGNORE_SERVER_PING = 1u << 3,
  NM_RAW_DRAIN_EARLY = 1u << 4,
  NM_RAW_DELIVER_AFTER_UNSUB = 1u << 5,
  NM_RAW_NO_CONNECT_FIRST = 1u << 6,
  NM_RAW_HOLD_LONE_PUBLISH = 1u << 7,
  NM_RAW_CLOSED_TWICE = 1u << 8,
  NM_RAW_FLUSH_NO_TIMEOUT = 1u << 9,
  NM_RAW_PONG_LIFO = 1u << 10,
  NM_RAW_REORDER_DELIVERY = 1u << 11,
  NM_RAW_DROP_DELIVERY = 1u << 12,
  NM_RAW_RESUB_FULL_MAX = 1u << 13,
  NM_RAW_DRAIN_SKIP_UNSUB = 1u << 14,
};

/* What a PONG answers, first in first out. */
typedef enum {
  NM_RAW_PING_HANDSHAKE,
  NM_RAW_PING_FLUSH,
  NM_RAW_PING_DRAIN,
  NM_RAW_PING_SILENT,     /* the reply was already given (timed out, early) */
  NM_RAW_PING_CONN_DRAIN, /* drain: the UNSUBs' PING */
  NM_RAW_PING_CONN_FLUSH, /* drain: the publishes' PING, then close */
} nm_raw_ping_kind_t;

typedef struct {
  nm_raw_ping_kind_t kind;
  int64_t id;  /* command to answer */
  int sub;     /* drain: index in the sub table */
  uint64_t no; /* serial number, to find it from its timer */
} nm_raw_ping_t;

typedef struct nm_raw_pmsg_s {
  struct nm_raw_pmsg_s *next;
  cJSON *ev; /* the msg event, ready to print when the handler starts */
  char *reply;
  uint64_t seq;
  int has_seq;
} nm_raw_pmsg_t;

typedef struct {
  char tag[NM_RAW_TAG_MAX];
  char *subject;
  char *queue;
  char *reply_with;
  int64_t delay_ms;
  uint64_t sid;
  int64_t max;        /* auto-unsubscribe after this many (0: none) */
  uint64_t delivered; /* messages handed to the handler */
  int unsubscribed;   /* UNSUB sent: later MSGs are dropped */
  int draining;       /* drain_sub waiting for its PONG or the handler */
  int64_t drain_id;   /* the drain_sub to answer once drained */
  int drain_ponged;   /* the drain's PONG came */
  /* The slow handler: one message in progress, the rest queued. */
  uv_timer_t timer;
  int timer_init;
  int busy;
  nm_raw_pmsg_t *head, *tail;
  size_t pending;
  uint64_t busy_seq;
  int busy_has_seq;
  char *busy_reply;
  /* reorder_delivery: the first of a pair, delivered after the second. */
  cJSON *held_ev;
  char *held_reply;
} nm_raw_sub_t;

typedef struct {
  uv_loop_t *loop;
  char *line; /* stdin line being assembled (NM_DRV_MAX_LINE) */
  size_t line_len;
  int line_overflow;

  /* The connection. */
  uv_tcp_t tcp;
  int tcp_init;       /* uv_tcp_init done and not yet closed */
  int connected;      /* TCP up */
  int established;    /* handshake done (or not asked for): usable */
  int reconnecting;   /* lost, trying again; publishes are buffered */
  int no_reconnect;   /* the server's -ERR said: do not come back */
  int64_t attempts;   /* dials since the last established connection */
  int closing;        /* uv_close called */
  int user_closed;    /* by the close command: no reconnect */
  int64_t connect_id; /* connect command waiting (TCP or handshake PONG) */
  int64_t close_id;   /* close command waiting for the close */
  int handshake;
  unsigned misbehave;
  char host[256];
  char name[256];    /* connect's "name", sent in CONNECT when set */
  int no_responders; /* connect's "no_responders": sent in CONNECT */
  int port;
  int reconnect; /* reconnect after an unexpected close */
  int64_t reconnect_wait_ms;
  uv_timer_t reconnect_timer;
  /* Publishes and flush PINGs made while reconnecting. */
  nm_buf_t rbuf;
  int64_t rbuf_limit;
  nm_raw_ping_t qpings[NM_RAW_MAX_PINGS]; /* entries of the PINGs in rbuf */
  size_t nqpings;
  /* Keepalive (connect's ping_interval_ms, max_pings_out). */
  uv_timer_t ka_timer;
  int64_t ping_interval_ms;
  int64_t max_pings_out;
  int64_t pings_out;
  char *known[NM_RAW_MAX_KNOWN];
  int nknown;
  uv_connect_t creq;
  nm_parser_t parser;
  size_t out_bytes;    /* queued to libuv, not yet written */
  int64_t max_payload; /* from the server's last INFO (publish checks it) */

  /* PINGs in flight, FIFO. */
  nm_raw_ping_t pings[NM_RAW_MAX_PINGS];
  size_t ping_head, ping_count;
  uint64_t ping_no;

  /* Publish bookkeeping for the misbehaviours. */
  uint64_t pubs;    /* PUB/HPUB frames produced so far */
  uint64_t msgs_in; /* MSG/HMSG frames for live subscriptions */

  /* A connection drain in progress (drain command), or -1. */
  int64_t drain_id;
  int drain_phase;   /* 1: UNSUBs' PONG awaited, 2: handlers, 3: last PONG */
  int draining_pubs; /* publish is refused */
  nm_buf_t held;     /* a PUB held back (reorder, hold_lone) */
  int held_count;    /* frames in held */

  nm_raw_sub_t *subs[NM_RAW_MAX_SUBS];
  int nsubs;
  uint64_t next_sid;
} nm_raw_t;

extern nm_raw_t nm__raw;
/* Reconnect attempts before giving up (connect's "max_reconnect"). */
extern int64_t nm__raw_max_reconnect;

/* Connection (raw_conn.c). */
/* Sets up the parser, buffers and timers. Returns 0 or an error. */
int nm__raw_conn_init(void);
/* Starts a TCP connect to host:port. Returns 0 or a uv error. */
int nm__raw_dial(void);
/* Writes bytes to the socket now (copied). `id` >= 0: reply ok once
 * written. Returns 0, NM_ECLOSED (no socket) or NM_ETOOBIG (NM_RAW_MAX_OUT).
 * For the driver's own frames (CONNECT, PING, PONG, SUB, UNSUB). */
int nm__raw_write(const void *p, size_t n, int64_t id);
/* A user frame (PUB): written when the connection is established, put in
 * the reconnect buffer while reconnecting. Returns 0, NM_ECLOSED or
 * NM_ETOOBIG (the reconnect buffer is full). */
int nm__raw_send(const void *p, size_t n);
/* The handshake's PONG came (or no handshake was asked for): connected or
 * reconnected. id: the connect command, or -1. */
void nm__raw_handshake_done(int64_t id);
/* Closes the connection (idempotent). */
void nm__raw_close(void);

/* PINGs (raw_pings.c). A handle whose data is nm__raw_heap_handle was
 * malloc'd on its own and is freed by nm__raw_free_handle when closed. */
extern char nm__raw_heap_handle[];
void nm__raw_free_handle(uv_handle_t *h);
/* Writes a PING (or queues it in the reconnect buffer) with its entry.
 * Returns 0 or an nm_ code. */
int nm__raw_ping(nm_raw_ping_kind_t kind, int64_t id, int sub,
                 int64_t timeout_ms);
/* The PONG for the oldest PING came. */
void nm__raw_pong(void);
/* The queued PINGs were written: their entries join the list. */
void nm__raw_pings_promote(void);
/* Fails every written PING (the connection is gone) / every queued one. */
void nm__raw_fail_pings(const char *code, const char *text);
void nm__raw_fail_queued(const char *code, const char *text);

/* Frames and keepalive (raw_frames.c). */
int nm__raw_on_frame(nm_parser_t *parser, const nm_frame_t *f);
void nm__raw_keepalive_start(void);
void nm__raw_keepalive_stop(void);
/* Writes the PUB that reorder/hold_lone kept back, if any. */
void nm__raw_release_held(void);

/* Requests (raw_request.c). */
void nm__raw_cmd_request(int64_t id, const cJSON *cmd);
/* Appends the inbox SUB (when there is one) for a (re)subscribe. */
int nm__raw_request_sub(nm_buf_t *b);
/* Requests waiting for a reply. */
int nm__raw_request_pending(void);
/* Writes UNSUB for the inbox (drain). */
int nm__raw_request_unsub(void);
/* A MSG/HMSG: returns 1 when it was for the inbox (handled). */
int nm__raw_request_deliver(uint64_t sid, const nm_frame_t *f);
/* Fails every waiting request. */
void nm__raw_request_fail_all(const char *code);

/* Subscriptions (raw_subs.c). */
/* {"K":["v",...]} from an HMSG header block. */
cJSON *nm__raw_headers_json(const char *p, size_t n);
nm_raw_sub_t *nm__raw_sub_find(const char *tag);
/* A MSG or HMSG frame from the server. */
void nm__raw_deliver(const nm_frame_t *f);
/* The PONG for a drain_sub came. */
void nm__raw_drain_ponged(int sub);
/* Frees every subscription (exit). */
void nm__raw_subs_free(void);

/* Connection drain (raw_drain.c). */
void nm__raw_cmd_drain(int64_t id, const cJSON *cmd);
/* A drain PING got its PONG. */
void nm__raw_drain_pong(nm_raw_ping_kind_t kind);
/* A handler finished: the drain may go on. */
void nm__raw_drain_check(void);
/* 1 when no subscription's handler is busy or has messages waiting. */
int nm__raw_subs_idle(void);

/* stdin (raw_stdin.c): on_bytes gets each chunk, then n < 0 at the end. */
int nm__raw_stdin_start(void (*on_bytes)(const char *p, ssize_t n));
void nm__raw_stdin_pause(void);
void nm__raw_stdin_resume(void);

/* Commands (raw_cmds.c). */
void nm__raw_command(const char *text);
/* Replies to exit (id >= 0), tears everything down and exits 0 (main.c). */
void nm__raw_exit(int64_t id);
/* "NATS/1.0\r\nK: v\r\n...\r\n" from {"K":["v",...]}; 0 or -1. */
int nm__raw_build_headers(const cJSON *h, nm_buf_t *b);
/* Writes a PUB or HPUB frame, applying the publish misbehaviours. */
int nm__raw_publish_frame(const char *subject, const char *reply,
                          const char *hdrs, size_t hdr_len, const char *data,
                          size_t n);

#endif
