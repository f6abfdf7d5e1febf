/* natsmock-driver-nats-c: the DRIVER-PROTOCOL.md driver for nats.c (libnats
 * 3.4.1). This header is the state the driver's files share.
 *
 * Threads: a reader thread turns stdin lines into a FIFO; the executor (the
 * main thread) starts every command in arrival order. Calls that return at
 * once in libnats (publish, subscribe, unsubscribe, the start of a drain) run
 * on the executor, so their order on the wire is the command order; calls
 * that block (connect, flush, request, the wait for a drain, close) run on a
 * worker thread each. Events come from libnats' own threads. Every output
 * line goes through nm_drv_emit, which serialises and flushes. */
#ifndef NM_NC_DRIVER_H
#define NM_NC_DRIVER_H

#include <cjson/cJSON.h>
#include <nats/nats.h>
#include <pthread.h>
#include <stdint.h>

/* Subscriptions a driver keeps (each lives until the process exits, so a
 * handler never sees its context freed). */
#define NM_NC_MAX_SUBS 4096
/* Length of a subscription tag, including the NUL. */
#define NM_NC_TAG_MAX 128
/* Worker threads running at once (blocking commands in flight). */
#define NM_NC_MAX_WORKERS 256
/* Connection drains whose reply waits for the closed callback. */
#define NM_NC_MAX_DRAINS 16
/* A publish command's count. */
#define NM_NC_MAX_COUNT 10000000
/* How long the executor waits for a worker's blocking call to block. */
#define NM_NC_START_WAIT_MS 200
/* At exit, how long queued messages get to reach their handlers. */
#define NM_NC_EXIT_SETTLE_MS 1000
/* Default request timeout when the command gives none. */
#define NM_NC_REQUEST_TIMEOUT_MS 10000

typedef struct nm_nc_s nm_nc_t;

typedef struct {
  char tag[NM_NC_TAG_MAX];
  natsSubscription *sub;
  int64_t delay_ms; /* the handler sleeps this long per message */
  /* Under the driver's mutex: */
  int active;       /* the handler is running */
  int64_t handled;  /* handler calls that returned */
  int64_t max;      /* auto-unsubscribe max (0: none) */
  char *reply_with; /* NULL: the handler does not reply */
  cJSON *on_msg;    /* protocol 2 handler actions, or NULL (read-only) */
  int64_t nmsgs;    /* messages the handler received (handler thread) */
  nm_nc_t *drv;
} nm_nc_sub_t;

struct nm_nc_s {
  pthread_mutex_t mu;
  pthread_cond_t cond;
  natsConnection *nc;       /* set once connect succeeded; never destroyed */
  int connecting;           /* a connect worker is running */
  int connect_tried;        /* a connect command was accepted */
  int64_t drain_timeout_ms; /* connect's drain_timeout_ms, 0: library's */
  nm_nc_sub_t *subs[NM_NC_MAX_SUBS];
  int nsubs;
  int workers;
  int64_t drain_ids[NM_NC_MAX_DRAINS];
  int ndrains;
  natsStatus drain_err; /* first "Drain error" reported while draining */
  char drain_err_text[256];
};

/* The one driver state (callbacks reach it through their closure). */
extern nm_nc_t nm__nc;

/* Maps a natsStatus to a DRIVER-PROTOCOL.md error code. */
const char *nm__nc_code(natsStatus s);
/* {"id":id,"ev":"err",...} for a failed libnats call made on this thread,
 * with the library's last error text; reply_status also emits it. */
cJSON *nm__nc_err_obj(int64_t id, natsStatus s);
void nm__nc_reply_status(int64_t id, natsStatus s);

/* Runs fn(job) on a new detached worker thread (nc_spawn.c). With
 * `until_blocked` it returns only once the worker waits inside libnats (a
 * condition wait: the flush's PING or the request's PUB is written by then)
 * or has finished, bounded by NM_NC_START_WAIT_MS; otherwise once the worker
 * runs. So blocking calls begin in command order. Returns 0, or -1 (too many
 * workers or no thread): the caller replies with an error. */
int nm__nc_spawn(void (*fn)(void *), void *job, int until_blocked);

/* Waits until no connect is in flight; returns the connection or NULL. */
natsConnection *nm__nc_conn(void);
/* Finds the newest subscription with this tag (NULL: none). */
nm_nc_sub_t *nm__nc_sub_find(const char *tag);
/* The tag of a libnats subscription (NULL: unknown). */
const char *nm__nc_sub_tag(natsSubscription *sub);

/* Command handlers. Each ends its command with exactly one reply line, now
 * or later from a worker or a callback. `cmd` belongs to the caller. */
void nm__nc_cmd_connect(int64_t id, const cJSON *cmd);
void nm__nc_cmd_publish(int64_t id, const cJSON *cmd);
void nm__nc_cmd_subscribe(int64_t id, const cJSON *cmd);
void nm__nc_cmd_unsubscribe(int64_t id, const cJSON *cmd);
void nm__nc_cmd_flush(int64_t id, const cJSON *cmd);
void nm__nc_cmd_request(int64_t id, const cJSON *cmd);
void nm__nc_cmd_drain_sub(int64_t id, const cJSON *cmd);
void nm__nc_cmd_drain(int64_t id, const cJSON *cmd);
void nm__nc_cmd_close(int64_t id, const cJSON *cmd);
/* Protocol 2 (nc_v2.c). */
void nm__nc_cmd_batch(int64_t id, const cJSON *cmd);
void nm__nc_cmd_info(int64_t id, const cJSON *cmd);
/* Runs the on_msg actions due at the handler's k-th message, on the
 * handler's thread (flush and request block it, as a user's would). */
void nm__nc_run_actions(nm_nc_sub_t *ctx, int64_t k);
/* Starts one command (any op but exit) by name. */
void nm__nc_dispatch(int64_t id, const char *op, const cJSON *cmd);

/* Builds a natsMsg for a publish or request, with the command's headers.
 * Returns NATS_OK or the failing status (the message is then NULL). */
natsStatus nm__nc_msg_build(natsMsg **msg, const char *subject,
                            const char *reply, const char *data, size_t n,
                            const cJSON *headers);
/* Adds "headers" ({"Key":["v",...]}) to an object when msg has any. */
void nm__nc_add_headers(cJSON *o, natsMsg *msg);

/* Waits, at most ms, until every subscription's queued messages have been
 * handled (exit uses it: a message libnats already holds is delivered, as a
 * user's program would let its handlers finish). */
void nm__nc_settle(int ms);

/* The closed callback calls this: replies to every pending drain. */
void nm__nc_drain_finish(void);

#endif
