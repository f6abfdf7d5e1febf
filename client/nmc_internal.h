/* The client's private structures and the seams between its files:
 * conn.c (sockets, handshake, reconnect, close), out.c (outbound buffer),
 * pong.c (PING/PONG FIFO, flush, keepalive), sub.c (subscriptions, delivery,
 * sub drain), request.c (request/reply), drain.c (connection drain) and
 * pool.c (URLs, server pool, options, error names). */
#ifndef NMC_INTERNAL_H
#define NMC_INTERNAL_H

#include <stdint.h>
#include <uv.h>

#include "nm_buf.h"
#include "nm_client.h"
#include "nm_parser.h"

#define NMC_SID_BUCKETS 1024
#define NMC_URL_MAX 300
#define NMC_ERR_MAX 256
#define NMC_CONNECT_MAX 4096 /* our CONNECT line */
#define NMC_READ_BUF (64 * 1024)

#define nmc__container_of(ptr, type, member)                                   \
  ((type *)((char *)(ptr)-offsetof(type, member)))

typedef struct {
  char host[256];
  int port;
  char user[128], pass[128], token[256];
  char url[NMC_URL_MAX]; /* as given or learnt, for display */
  int implicit;          /* learnt from connect_urls */
  int attempts;          /* failed attempts since the last success */
  uint64_t last_attempt; /* loop time (ms) of the last attempt, 0 never */
} nmc_server_t;

/* One TCP connection. It owns the bytes of the write in flight, so that a
 * socket being closed never shares memory with the next one. */
typedef struct {
  uv_tcp_t tcp;
  uv_connect_t creq;
  uv_write_t wreq;
  nm_buf_t inflight;
  int writing;
  int dead; /* detached from the connection; closing */
  nmc_conn_t *c;
  char rbuf[NMC_READ_BUF];
} nmc_sock_t;

/* A PING awaiting its PONG. cb NULL: a placeholder (keepalive PING, or a
 * flush that has already given up). */
typedef struct nmc_pong_s {
  struct nmc_pong_s *next;
  nmc_conn_t *c;
  uv_timer_t timer;
  int has_timer;
  int timed_out;
  nmc_done_cb cb;
  void *data;
} nmc_pong_t;

/* A queued message: the public view plus one copy of all its bytes. */
typedef struct nmc_pmsg_s {
  nmc_msg_t m;
  struct nmc_pmsg_s *next;
  size_t size; /* counted against pending_bytes */
  char bytes[];
} nmc_pmsg_t;

struct nmc_sub_s {
  nmc_conn_t *c; /* NULL once the connection is gone */
  uint64_t sid;
  char *subject;
  char *queue;
  nmc_msg_cb cb;
  void *data;
  nmc_removed_cb removed_cb;
  nmc_sub_t *hnext;       /* sid hash chain */
  nmc_sub_t *next, *prev; /* connection's list, creation order */
  int refs;               /* list + async message + drain timer */
  int removed;            /* unsubscribed: no more deliveries */
  uint64_t max;           /* auto-unsubscribe after this many (0: none) */
  uint64_t received;      /* accepted into the queue */
  uint64_t delivered;     /* handed to the handler */
  uint64_t dropped;
  nmc_pmsg_t *qhead, *qtail;
  size_t qmsgs, qbytes, lim_msgs, lim_bytes;
  nmc_pmsg_t *busy; /* the message whose handler is not done */
  int dispatching;
  int is_inbox;
  int draining, fenced;
  int in_conn_drain; /* tell drain.c when done */
  uv_timer_t drain_timer;
  int drain_timer_on;
  nmc_done_cb drain_cb;
  void *drain_data;
};

typedef struct nmc_req_s {
  struct nmc_req_s *next;
  nmc_conn_t *c;
  uint64_t id;
  uv_timer_t timer;
  nmc_request_cb cb;
  void *data;
} nmc_req_t;

enum { HS_NONE = 0, HS_INFO, HS_OK, HS_PONG, HS_DONE };

struct nmc_conn_s {
  uv_loop_t *loop;
  nmc_opts_t o;
  char *s_name, *s_user, *s_pass, *s_token; /* copies of the options */
  nmc_status_t status;
  int closing; /* nmc_close ran: waiting for handles */
  int handles; /* open uv handles owned by this connection */
  int ever_connected;

  nmc_server_t servers[NMC_MAX_SERVERS];
  int nservers, cur, tried_initial;
  nmc_sock_t *sock;
  nm_parser_t parser;
  int hs;
  int64_t max_payload;
  int srv_headers;

  nm_buf_t out;     /* frames not yet given to a socket */
  size_t out_sent;  /* bytes at its front already written (skipped) */
  size_t out_cut;   /* then this many bytes end a half-sent frame */
  size_t out_mark;  /* out.len at the last write attempt (out.c) */
  nm_parser_t scan; /* finds frame boundaries in out (out.c) */
  int scan_on;
  uv_prepare_t prep;
  int prep_on;
  uv_timer_t hs_timer, ping_timer, reconnect_timer, drain_timer;

  nmc_pong_t *phead, *ptail;
  size_t npongs;
  int pings_out;
  int pong_doubt; /* see nmc__pong_received */

  nmc_sub_t *buckets[NMC_SID_BUCKETS];
  nmc_sub_t *shead, *stail;
  uint64_t next_sid;

  nmc_sub_t *inbox;
  char inbox_prefix[64];
  nmc_req_t *reqs;
  size_t nreqs;
  uint64_t next_req;

  nmc_done_cb drain_cb;
  void *drain_data;
  int drain_left;
  int drain_on;
  int drain_wait_reqs;

  char err[NMC_ERR_MAX];
  uint64_t unknown_sid_drops, reconnects;
  uint64_t rng;
};

/* conn.c */
void nmc__conn_lost(nmc_conn_t *c, int err, const char *text);
void nmc__set_error(nmc_conn_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void nmc__handle_init(nmc_conn_t *c, uv_handle_t *h);
void nmc__handle_close(nmc_conn_t *c, uv_handle_t *h, uv_close_cb cb);
void nmc__handle_closed(nmc_conn_t *c);
int nmc__connected(const nmc_conn_t *c); /* handshake done, socket live */
void nmc__async_error(nmc_conn_t *c, int err, const char *text, nmc_sub_t *s);
uint64_t nmc__rand(nmc_conn_t *c);

/* out.c */
void nmc__out_kick(nmc_conn_t *c);  /* schedule or do the write */
void nmc__out_write(nmc_conn_t *c); /* write now if possible */
void nmc__out_keep_pubs(nmc_conn_t *c);
size_t nmc__out_boundary(nmc_conn_t *c, size_t want);
int nmc__sock_write(nmc_sock_t *k, nm_buf_t *b);

/* pong.c */
int nmc__ping_push(nmc_conn_t *c, uint64_t timeout_ms, nmc_done_cb cb,
                   void *data);
void nmc__pong_received(nmc_conn_t *c);
void nmc__pongs_fail(nmc_conn_t *c, int err);
void nmc__keepalive_start(nmc_conn_t *c);

/* sub.c */
void nmc__msg_received(nmc_conn_t *c, const nm_frame_t *f);
int nmc__subs_replay(nmc_conn_t *c, nm_buf_t *b);
void nmc__subs_close_all(nmc_conn_t *c, int err);
int nmc__sub_drain(nmc_sub_t *s, uint64_t timeout_ms, nmc_done_cb cb,
                   void *data);
nmc_sub_t *nmc__sub_new(nmc_conn_t *c, const char *subject, const char *queue,
                        nmc_msg_cb cb, void *data, int *err);
void nmc__sub_remove(nmc_sub_t *s);

/* request.c */
void nmc__reqs_fail(nmc_conn_t *c, int err);

/* drain.c */
void nmc__drain_sub_done(nmc_conn_t *c);
void nmc__drain_req_done(nmc_conn_t *c);
void nmc__drain_abort(nmc_conn_t *c, int err);

/* pool.c */
int nmc__pool_add(nmc_conn_t *c, const char *url, int implicit);

#endif
