/* The proxy's internals, shared by the .c files of proxy/ only.
 *
 * A pair is one client connection and the proxy's connection to the
 * upstream server for it. Each side is a leg: a socket, a parser for what
 * arrives on it, the tail of a frame not yet complete (`carry`), and the
 * bytes queued for its socket (`out`). Reading a leg feeds its parser; each
 * complete frame goes through the fault stage and, untouched, is appended to
 * the other leg's `out` as the exact bytes read. Queued bytes are written at
 * the end of the read callback (or at once when nothing is being read).
 * While no rule is installed, the start of a client frame still incomplete
 * at the end of a read is forwarded at once too (unless it may be a publish
 * to $MOCK.*), so the server sees the client's reads as they came. */
#ifndef NM_PROXY_INT_H
#define NM_PROXY_INT_H

#include <stdint.h>
#include <uv.h>

#include "nm_buf.h"
#include "nm_faults.h"
#include "nm_parser.h"
#include "nm_proxy.h"

/* Named limits. */
#define NM_PROXY_READ_BUF (64 * 1024) /* one read */
/* Bytes queued or in flight towards one socket before the proxy stops
 * reading the other side (resumed below half). */
#define NM_PROXY_PENDING_MAX (64u << 20)
/* A frame that spans reads is kept until complete: at most a control line
 * and the parser's hard payload cap. */
#define NM_PROXY_CARRY_MAX (NM_PARSER_HARD_MAX_PAYLOAD + NM_PARSER_SCRATCH_MAX)
/* The upstream INFO kept per pair (for "send INFO" actions). */
#define NM_PROXY_INFO_MAX (NM_PARSER_SCRATCH_MAX)
#define NM_PROXY_HOST_MAX 256
/* PINGs of our own in flight per pair (echo-off publishes, proxy_own.c);
 * past it a publish goes on at once. */
#define NM_PROXY_BARRIERS_MAX 16

enum { NM_PSIDE_CLIENT = 0, NM_PSIDE_UPSTREAM = 1 };

typedef struct nm__pconn_s nm__pconn_t;

typedef struct {
  uv_tcp_t tcp;
  nm__pconn_t *pc;
  int side;
  int inited;  /* tcp initialised (must be closed) */
  int reading; /* uv_read_start in effect */
  int raw;     /* the parser gave up: the rest is forwarded unparsed */
  nm_parser_t parser;
  nm_buf_t carry;    /* bytes of a frame that began in an earlier read */
  size_t carry_sent; /* of which already forwarded (client leg, see feed) */
  const char *feed;  /* the buffer being fed, during a feed */
  size_t cur;        /* where the next frame starts in `feed` */
  nm_buf_t out;      /* queued for this socket */
  size_t inflight;   /* bytes in uv_write requests */
  unsigned nwrites;  /* uv_write requests not completed */
  int close_after;   /* closing: 1 FIN, 2 RST once nwrites reaches 0 */
} nm__pleg_t;

struct nm__pconn_s {
  nm__pconn_t *next, *prev; /* the proxy's open pairs, accept order */
  nm__pconn_t *dirty_next;
  nm_proxy_t *px;
  uint64_t id; /* 1, 2, ... in accept order */
  nm__pleg_t cl, up;
  uv_connect_t creq;
  int up_connected;
  int dirty;       /* on px->dirty */
  int closing;     /* no longer open: no reads, no new frames */
  int flush_close; /* close the client once its output is written */
  int stalled;     /* the engine stopped reading the client */
  int blackhole;   /* the engine black-holed the client */
  int verbose;     /* the client's CONNECT asked for +OK */
  int no_echo;     /* the client's CONNECT said "echo":false */
  /* Phantom publishes for a client with echo off wait until the server has
   * handled what the client sent before them (its SUB of the inbox): a
   * PING behind those frames, and its PONG (proxy_own.c). */
  nm_buf_t after_pong; /* the PUBs waiting, oldest first */
  uint64_t pings_up;   /* PINGs queued to the server (the client's, ours) */
  uint64_t pongs_up;   /* PONGs read from the server */
  uint64_t frames_up;  /* client frames queued to the server */
  struct {
    uint64_t pong;   /* the PONG (pongs_up count) that answers our PING */
    uint64_t frames; /* frames_up when it was sent */
    size_t end;      /* after_pong bytes it releases */
  } barrier[NM_PROXY_BARRIERS_MAX];
  int nbarriers;
  char *name;       /* the client's CONNECT "name" (rules select by it) */
  int cl_eof;       /* the client half-closed: passed on, answers still flow */
  int reset_client; /* the server reset: the client gets its bytes, then RST */
  int up_failed;    /* a write to the server failed: its end is gone; what
                     * it sent is read to the end, nothing more goes to it */
  int up_reset;     /* that write said ECONNRESET: the server reset */
  uint64_t swallow_ok; /* +OK owed for injected publishes (verbose) */
  int handles;         /* uv handles still to close before freeing */
  char *info;          /* the upstream's last INFO JSON as sent to the client */
  const char *close_reason;
};

/* The proxy's own upstream connection (proxy_own.c). */
enum { NM_POWN_NONE = 0, NM_POWN_CONNECTING, NM_POWN_OPEN, NM_POWN_CLOSING };

typedef struct {
  int state; /* NM_POWN_* */
  uv_tcp_t tcp;
  uv_connect_t creq;
  nm_parser_t parser; /* the server's frames (PING, -ERR) */
  nm_buf_t out;       /* CONNECT and publishes not yet handed to the socket */
  size_t inflight;    /* bytes in the uv_write in flight */
  unsigned nwrites;
} nm__pown_t;

struct nm_proxy_s {
  uv_loop_t *loop;
  nm_proxy_opts_t opts;
  char *s_host, *s_faults;
  char up_host[NM_PROXY_HOST_MAX];
  int up_port;
  struct sockaddr_storage up_addr;
  uv_tcp_t listener;
  int listening, listener_closing;
  int port;
  uv_timer_t restart_timer;
  int refuse_next;
  nm__pconn_t *head, *tail;
  int nconns;
  uint64_t next_id;
  nm__pconn_t *dirty;
  int in_read;      /* inside a read callback: writes wait for its end */
  nm__pconn_t *cur; /* the pair whose frame is being handled, or NULL */
  nm_faults_t *faults;
  nm__pown_t own;                /* phantom publishes go out here */
  struct nm_http_server_s *http; /* the control port, or NULL */
  nm_obs_cb obs;
  void *obs_data;
  int obs_upstream;
  char rbuf[NM_PROXY_READ_BUF];
  int stopping, handles;
  void (*done)(nm_proxy_t *, void *);
  void *done_data;
  /* on a thread of its own */
  uv_loop_t *own_loop;
  uv_thread_t thread;
  uv_async_t stop_async;
};

/* pconn.c */
void nm__pconn_accept(nm_proxy_t *px);
void nm__pconn_close(nm__pconn_t *pc, nm_close_how_t how, const char *reason);
nm__pconn_t *nm__pconn_find(nm_proxy_t *px, uint64_t id);
/* Queues bytes for a leg's socket; written at the end of the current read,
 * or now when none is running. `now`: in a write of their own, at once. */
int nm__pleg_queue(nm__pleg_t *leg, const char *p, size_t n, int now);
void nm__pconn_update_reading(nm__pconn_t *pc);
/* The client's frame after the stage: control publishes are answered,
 * everything else goes upstream. */
/* Passes a client frame on (or answers it, $MOCK.*); its first `sent` bytes
 * were forwarded already, while the frame was incomplete. */
void nm__pconn_pass_in(nm__pconn_t *pc, const nm_frame_t *f, nm_slice_t bytes,
                       size_t sent);
void nm__proxy_flush_dirty(nm_proxy_t *px);

/* proxy.c */
void nm__proxy_observe(nm_proxy_t *px, nm_obs_kind_t kind, nm_obs_leg_t leg,
                       uint64_t id, const nm_frame_t *f, nm_slice_t bytes,
                       const char *rule, const char *action,
                       const char *detail);
int nm__proxy_listen(nm_proxy_t *px, int port);
void nm__proxy_close_listener(nm_proxy_t *px);
void nm__proxy_handle_closed(nm_proxy_t *px);

/* proxy_info.c: the INFO passed to clients. Rewrites `connect_urls` to the
 * proxy's address unless kept; sets *changed and fills out (the whole
 * frame) when it rewrote. */
int nm__proxy_info(nm_proxy_t *px, nm_slice_t json, nm_buf_t *out,
                   int *changed);
/* The INFO JSON with the fields of `extra` merged over it. */
int nm__proxy_info_merge(const char *json, const char *extra, nm_buf_t *out);

/* proxy_http.c: the control port (opts.http_port). */
int nm__proxy_http_start(nm_proxy_t *px);
void nm__proxy_http_stop(nm_proxy_t *px);

/* proxy_own.c: the proxy's own upstream connection, for phantom
 * publishes. Publishes the PUB/HPUB bytes there (opening it first when
 * needed); 0 or a negative code (an ACTION event says why it was dropped). */
void nm__proxy_own_init(nm_proxy_t *px);
int nm__proxy_own_publish(nm_proxy_t *px, const char *p, size_t n);
void nm__proxy_own_close(nm_proxy_t *px);
/* The same for a client with echo off, once the server has handled what
 * that client sent before (a PING behind it, then its PONG). */
void nm__proxy_own_publish_after(nm__pconn_t *pc, const char *p, size_t n);
/* A PONG from pc's server: 1 when it answers one of our PINGs (the
 * publishes waiting for it go out; the client must not see it). */
int nm__proxy_own_pong(nm__pconn_t *pc);
void nm__proxy_own_free(nm_proxy_t *px);

/* proxy_host.c */
extern const nm_fault_host_t nm__proxy_fault_host;

#endif
