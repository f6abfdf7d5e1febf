/* Internal structures of the server core, shared by server.c, conn.c,
 * handlers.c, route.c, sublist.c and keepalive.c. Nothing here is public API;
 * the fault engine (faults/) sees only the host table of fault_host.c. */
#ifndef NM_SERVER_INT_H
#define NM_SERVER_INT_H

#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "auth.h"
#include "natsmock.h"
#include "nm_buf.h"
#include "nm_conn_api.h"
#include "nm_outq.h"
#include "nm_parser.h"

/* One read buffer per server, handed to every read: the parser copies what
 * must outlive a read, so reads never need their own buffers. Allocated on
 * the first read (conn.c), not zeroed: a server is up sooner when start-up
 * does not page in 64 KiB it has not read into yet. */
#define NM_READ_BUF_SIZE (64 * 1024)
/* nats-server's read sizes (client.go startBufSize, minBufSize, and
 * maxBufSize = NM_READ_BUF_SIZE): each connection reads as much as nats-server
 * would, so when it closes on an error the bytes left unread in the kernel,
 * and so FIN versus RST, are the same. */
#define NM_READ_START 512
#define NM_READ_MIN 64
/* Short reads in a row before the read size halves (shortsToShrink). */
#define NM_READ_SHORTS_TO_SHRINK 2
/* Output buffers keep their memory while the connection writes; one that
 * has not been used for this long gives it back (server trim timer). */
#define NM_OUT_IDLE_MS 1000
/* Capacity the control-frame staging buffer keeps between idle ticks. */
#define NM_OUT_STAGE_KEEP 1024
/* From this payload size on, a message for more than one subscriber is
 * copied once into a shared block that every subscriber's queue points at;
 * below it, a copy per subscriber is cheaper than the extra segments. */
#define NM_OUT_SHARE_MIN 1024
/* Longest permission -ERR text (subjects are cut to fit). */
#define NM_PERM_ERR_MAX 1024
/* Limit of the INFO text (with fields merged in by the fault engine). */
#define NM_INFO_MAX (64 * 1024)
/* Longest host string kept for INFO and the listener. */
#define NM_HOST_MAX 256
/* server_id: 'N' + 55 base32 characters, like nats-server's nkey ids. */
#define NM_SERVER_ID_LEN 56
/* Scratch for re-encoding one inbound frame for the observer and the fault
 * engine: a control line plus the largest payload. */
#define NM_IN_SCRATCH_SLACK (NM_PARSER_SCRATCH_MAX + 16)
/* The limit of those scratch buffers for a max_payload. */
static inline size_t nm__frame_scratch_limit(int64_t max_payload) {
  return (size_t)(max_payload > 0 ? max_payload : NM_PARSER_HARD_MAX_PAYLOAD) +
         NM_IN_SCRATCH_SLACK;
}

typedef struct nm__sub_s nm__sub_t;
typedef struct nm__snode_s nm__snode_t;

struct nm__sub_s {
  nm_conn_t *conn; /* NULL once removed */
  nm_slice_t subject;
  nm_slice_t queue; /* n == 0: no queue group */
  nm_slice_t sid;
  uint64_t max; /* 0: no limit */
  uint64_t delivered;
  uint32_t sid_hash;
  int wild;            /* the subject has a '*' or '>' token */
  nm__sub_t *sid_next; /* chain in the connection's sid table */
  nm__sub_t *ix_prev;  /* list of the subs ending at one tree node */
  nm__sub_t *ix_next;  /* (also the dead list once removed) */
  nm__snode_t *node;   /* where it sits in the tree; NULL when not in it */
  char data[];         /* subject, queue and sid bytes */
};

/* One level of the subject tree: the nodes for the literal tokens at this
 * position (a hash table), and the '*' and '>' nodes. */
typedef struct {
  nm__snode_t **buckets; /* NULL until the first literal token */
  uint32_t nbuckets;     /* power of two */
  uint32_t nnodes;
  nm__snode_t *pwc, *fwc;
} nm__slevel_t;

/* One token of one or more subscription subjects: the subs whose subject
 * ends here, and the level of the tokens that follow. */
struct nm__snode_s {
  nm__snode_t *hnext;  /* chain in the level's table */
  nm__slevel_t *level; /* the level holding this node */
  nm__snode_t *up;     /* the node of the previous token; NULL at the root */
  nm__slevel_t next;
  nm__sub_t *head, *tail; /* in subscription order */
  uint32_t hash;
  uint32_t tok_len;
  char tok[];
};

/* A growable array of sub pointers, reused across publishes. */
typedef struct {
  nm__sub_t **v;
  size_t n, cap;
} nm__subvec_t;

/* A cached match result, as nats-server's sublist cache keeps them: later
 * subscriptions are appended to it, which is why a sub added after a subject
 * was published to comes last for that subject. */
typedef struct nm__cent_s {
  struct nm__cent_s *next;          /* hash chain */
  struct nm__cent_s *older, *newer; /* age list: eviction, one by one */
  uint32_t hash;
  nm__subvec_t res;
  size_t subj_len;
  char subj[];
} nm__cent_t;

typedef struct {
  nm__slevel_t root;
  size_t nsubs;
  nm_slice_t *toks; /* scratch: the tokens of the subject being matched */
  size_t ntoks_cap;
  nm__cent_t **cache; /* NM_SUBLIST_CACHE_BUCKETS chains */
  nm__cent_t *oldest, *newest;
  size_t ncache;
  /* nats-server's sublist stats (/subsz). */
  uint64_t inserts, removes, matches, cache_hits;
} nm__sublist_t;

/* Connection flags. */
enum {
  NM_CF_CONNECTED = 1u << 0,   /* CONNECT processed */
  NM_CF_WRITING = 1u << 1,     /* a uv_write is in flight */
  NM_CF_CLOSING = 1u << 2,     /* close started: no more input or routing */
  NM_CF_FLUSH_CLOSE = 1u << 3, /* close once the output is written */
  NM_CF_READING = 1u << 4,     /* uv_read_start is active */
  NM_CF_NOREAD = 1u << 5,      /* reading turned off by the fault engine */
  NM_CF_BLACKHOLE = 1u << 6,   /* neither read nor write */
  NM_CF_DIRTY = 1u << 7,       /* on the server's flush list */
  NM_CF_IN_READ = 1u << 8,     /* inside the read callback */
  NM_CF_RTT = 1u << 9,         /* a round trip known: CONNECT or a PONG */
  NM_CF_HANDLES = 1u << 10,    /* handles initialised: close them */
  NM_CF_DEAD = 1u << 11,       /* uv_close called on every handle */
  NM_CF_STALLED = 1u << 12,    /* a fast producer, not read for a while */
  NM_CF_PONGED = 1u << 13,     /* answered the client's first PING after
                                * CONNECT (nats-server's firstPongSent) */
};

struct nm_conn_s {
  uv_tcp_t tcp;
  uv_timer_t ping_timer;  /* keepalive */
  uv_timer_t auth_timer;  /* auth timeout before CONNECT */
  uv_timer_t wd_timer;    /* write deadline */
  uv_timer_t stall_timer; /* fast-producer stall */
  uv_write_t wreq;
  nm_server_t *srv;
  uint64_t id;
  unsigned flags;
  int open_handles;
  nm_parser_t parser;
  nm_parser_t *obs_parser; /* splits output into frames for the observer */
  size_t obs_mark; /* queued output bytes already shown to the observer */
  /* Output (nm_outq.h): queued frames, then handed to one uv_write. At
   * most max_pending bytes queued (the slow-consumer rule). */
  nm__outq_t outq;
  /* The rest of a read that a fast-producer stall cut short: fed before
   * anything more is read (at most NM_READ_BUF_SIZE). */
  nm_buf_t held_in;
  /* CONNECT options */
  int verbose, pedantic, echo, headers, no_responders, protocol;
  char *user, *pass, *token; /* kept across CONNECTs, as Go's Unmarshal */
  char *client_name; /* CONNECT "name" (kept the same way); fault rules */
  int mock_anon;     /* admitted as no_auth_user: no $MOCK control */
  /* Permissions of the user it authenticated as (NULL: none), and what
   * they need per connection (auth.h). perm_deliver: deliveries must be
   * checked (a deny filter or allow_responses); the hot path tests only it. */
  const nm__perm_t *perms;
  nm__replies_t *replies;
  int deny_filter;
  int perm_deliver;
  /* keepalive */
  int ping_out;
  uint64_t last_in_ms; /* last activity: CONNECT, PUB, SUB, UNSUB, a delivery */
  uint64_t last_ping_ms; /* last PING from the client */
  uint64_t ping_sent_ms; /* last server PING, 0 before the first */
  uint64_t write_start_ms;
  /* One flush can take more than one uv_write (NM_OUT_WRITE_SEGS): the
   * bytes of it not yet handed over, and whether the next write goes on
   * with it (its write deadline then still runs from write_start_ms, as
   * nats-server's runs from the start of its flush). */
  size_t wd_left;
  int wd_cont;
  int raw_pending;     /* raw uv_writes not yet called back */
  int out_used;        /* flushed since the last trim tick */
  int pub_checked;     /* the pending PUB's pedantic check was done early */
  int pub_checked_now; /* ...for the frame being handled */
  uint32_t rsz;        /* bytes the next read may take */
  uint32_t srs;        /* short reads in a row */
  /* sid -> sub */
  nm__sub_t **sids;
  size_t nsid_buckets, nsubs;
  nm_conn_t *prev, *next; /* server list, in accept order */
  nm_conn_t *dirty_next;  /* server flush list */
  nm_conn_t *stall_next;  /* server list of stalled producers */
  uint64_t stall_on;      /* the consumer it waits for */
  const char *close_reason;
  char ip[64];
  /* What /connz shows (monitor/): accept time (wall clock and uv_hrtime),
   * the last round trip (the CONNECT's delay since the accept, then each
   * PONG after a server PING), nats-server's in/out counters, and the
   * CONNECT's lang and version. */
  uint64_t start_wall_ns, start_hr;
  int port; /* the client's port */
  int64_t rtt_ns;
  uint64_t in_msgs, in_bytes, out_msgs, out_bytes;
  char *lang, *version;
};

struct nm_server_s {
  uv_loop_t *loop;
  nm_server_opts_t opts; /* strings point into owned copies below */
  char *s_host, *s_name, *s_user, *s_pass, *s_token, *s_faults, *s_noauth;
  uv_tcp_t listener;
  int listening; /* the listener handle is open */
  int port;
  uv_check_t flush_check;
  uv_prepare_t flush_prepare;
  int started;          /* check, prepare and restart timer are open */
  int listener_closing; /* uv_close on the listener not yet called back */
  int stop_done;
  uv_timer_t restart_timer;
  /* lame duck mode (lame_duck.c) */
  uv_timer_t ldm_timer;
  int ldm;           /* entered */
  uint64_t *ldm_ids; /* the connections to close, in order */
  size_t ldm_n, ldm_next;
  uint64_t ldm_si_ms; /* interval between closes */
  size_t ldm_batch;   /* closes per interval */
  void (*ldm_done)(nm_server_t *, void *);
  void *ldm_data;
  uv_timer_t trim_timer; /* idle output buffers give memory back */
  int open_handles;      /* server handles not yet closed */
  int stopping;
  void (*stop_cb)(nm_server_t *, void *);
  void *stop_data;
  uint64_t next_cid;
  int nconns;
  int refuse_next;
  nm_conn_t *head, *tail; /* open connections */
  nm_conn_t *dirty;       /* connections with output to flush */
  nm_conn_t *stalled;     /* producers waiting for a consumer */
  nm__sublist_t subs;
  nm__auth_t *auth;         /* users list; NULL: none */
  int64_t info_max_payload; /* max_payload as INFO shows it (may be < 0) */
  nm__subvec_t match;       /* routing scratch */
  nm__subvec_t qgroup;      /* routing scratch: one queue group */
  int route_depth;
  nm__sub_t *dead;     /* removed subs, freed when no routing is under way */
  nm_buf_t scratch;    /* one outbound frame when the fault engine is active */
  nm_buf_t ostage;     /* one control frame (INFO, PONG...) before queueing */
  nm__opool_t opool;   /* output blocks of every connection (nm_outq.h) */
  nm_buf_t in_scratch; /* one inbound frame for the observer / faults */
  char server_id[NM_SERVER_ID_LEN + 1];
  uint64_t rng; /* xorshift64* state */
  nm_faults_t *faults;
  /* Totals for /varz (monitor/): messages and payload bytes in and out,
   * connections closed as slow consumers. */
  uint64_t in_msgs, in_bytes, out_msgs, out_bytes, slow_consumers;
  /* Called as a connection starts closing, its subscriptions still there
   * (the monitor keeps closed connections for /connz?state=closed). */
  void (*on_conn_close)(void *data, nm_conn_t *c, const char *reason);
  void *on_conn_close_data;
  nm_obs_cb obs;
  void *obs_data;
  char *rbuf; /* NM_READ_BUF_SIZE bytes, from the first read on */
  /* nm_server_start_thread */
  uv_thread_t thread;
  uv_loop_t *own_loop;
  uv_async_t stop_async;
  uv_sem_t thread_sem;
  int thread_rc;
};

/* ---- server.c ---- */
uint64_t nm__now_ms(nm_server_t *s);
/* Wall clock in ns (what /connz and /varz show as times). */
static inline uint64_t nm__wall_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
uint64_t nm__rand(nm_server_t *s);
void nm__server_mark_dirty(nm_server_t *s, nm_conn_t *c);
void nm__server_conn_closed(nm_server_t *s, nm_conn_t *c); /* freeing c */
void nm__server_free_dead(nm_server_t *s);
/* Stops accepting (the listener is closed). */
void nm__server_close_listener(nm_server_t *s);
void nm__trace(nm_server_t *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- lame_duck.c ---- */
void nm__ldm_free(nm_server_t *s);

/* ---- conn.c ---- */
nm_conn_t *nm__conn_new(nm_server_t *s);
/* Starts a freshly accepted connection: INFO, timers, reading. */
void nm__conn_start(nm_conn_t *c);
/* Output of one frame: the buffer to encode into, then commit. */
nm_buf_t *nm__conn_out_begin(nm_conn_t *c);
void nm__conn_out_end(nm_conn_t *c, nm_buf_t *b, size_t mark,
                      const nm_frame_t *f);
void nm__conn_flush(nm_conn_t *c);
void nm__conn_trim_idle(nm_conn_t *c);
int nm__conn_send_err(nm_conn_t *c, const char *text);
void nm__conn_send_simple(nm_conn_t *c, nm_op_t op); /* PING PONG +OK */
void nm__conn_send_info(nm_conn_t *c);
/* INFO with more fields (a JSON object's members, e.g. {"ldm":true}). */
void nm__conn_send_info_extra(nm_conn_t *c, const char *extra);

size_t nm__conn_pending(const nm_conn_t *c);
/* n more bytes may be queued: max_pending is a hard limit on the queue. */
static inline int nm__conn_out_room(const nm_conn_t *c, size_t n) {
  size_t lim = (size_t)c->srv->opts.max_pending;
  return n <= lim && c->outq.queued <= lim - n;
}
/* After queueing into c->outq directly: the slow-consumer check and the
 * flush list (what nm__conn_out_end does after its append). */
void nm__conn_out_queued(nm_conn_t *c);
void nm__conn_update_reading(nm_conn_t *c);

/* ---- stall.c ---- */
/* After queueing for consumer c: past half of max_pending, the producer
 * stops being read until c drains or a while passes, as nats-server. */
void nm__stall_check(nm_conn_t *producer, nm_conn_t *consumer);
/* c wrote some output (or is closing): resume producers waiting on it. */
void nm__stall_release(nm_conn_t *consumer, int closing);
/* The producer is closing: off the stalled list. */
void nm__stall_forget(nm_conn_t *producer);

/* ---- handlers.c ---- */
/* processClientOrLeafAuthentication for c's CONNECT credentials (kept from
 * its last CONNECT): 1 when they pass the server's auth, 0 when not; sets
 * c->perms (and takes no_auth_user for a CONNECT without credentials). */
int nm__conn_authenticate(nm_conn_t *c);
int nm__conn_on_frame(nm_parser_t *p, const nm_frame_t *f);
/* End of a read: nats-server's quirks for a PUB whose payload is pending. */
void nm__conn_read_done(nm_conn_t *c);
/* Applies a parser error: -ERR and close as nats-server does. */
void nm__conn_parser_error(nm_conn_t *c);
void nm__conn_clear_subs(nm_conn_t *c);
void nm__conn_remove_sub(nm_conn_t *c, nm__sub_t *sub);

/* ---- route.c ---- */
/* hdr_txt / size_txt: the size fields as the publisher wrote them, echoed
 * in MSG/HMSG like nats-server does; empty: formatted from the lengths. */
void nm__route(nm_server_t *s, nm_conn_t *from, nm_slice_t subject,
               nm_slice_t reply, size_t hdr_len, nm_slice_t payload,
               nm_slice_t hdr_txt, nm_slice_t size_txt);

/* ---- keepalive.c ---- */
void nm__keepalive_start(nm_conn_t *c, uint64_t first_ms);
void nm__keepalive_on_connect(nm_conn_t *c);
void nm__auth_timer_start(nm_conn_t *c);

/* ---- sublist.c ---- */
int nm__sublist_init(nm__sublist_t *l);
void nm__sublist_free(nm__sublist_t *l);
int nm__sublist_insert(nm__sublist_t *l, nm__sub_t *sub);
void nm__sublist_remove(nm__sublist_t *l, nm__sub_t *sub);
/* Appends every sub matching `subject` to out, plain subs in nats-server's
 * delivery order. Returns 0 or NM_ENOMEM. */
int nm__sublist_match(nm__sublist_t *l, nm_slice_t subject, nm__subvec_t *out);
int nm__subvec_push(nm__subvec_t *v, nm__sub_t *s);
void nm__subvec_free(nm__subvec_t *v);
uint32_t nm__hash(const char *p, size_t n);

/* ---- json_strict.c ---- */
/* 1 when the text is one JSON value (and blanks) by Go's rules. */
int nm__json_valid(nm_slice_t j);
/* The raw text of the index-th member's value of a top-level object.
 * Returns 0 or -1. */
int nm__json_member_raw(nm_slice_t j, size_t index, nm_slice_t *raw);
/* A NUL-terminated copy of valid JSON text (free() it) in which every \u
 * escape of a lone UTF-16 surrogate reads \ufffd: Go's decoder puts U+FFFD
 * there, where cJSON refuses the whole text. NULL when out of memory. */
char *nm__json_mend_surrogates(nm_slice_t j);

/* ---- info.c ---- */
void nm__server_id_gen(nm_server_t *s);

#endif
