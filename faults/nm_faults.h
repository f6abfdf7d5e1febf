/* The fault engine: a stage every frame of a connection passes through once
 * per direction, and the control plane ($MOCK.* requests, fault documents)
 * that installs rules and runs direct actions. docs/faults.md is the
 * document format; this header is what a host embeds.
 *
 * A host owns sockets and connections (the mock server in server/, the proxy
 * in proxy/). The engine never calls a host by name: it sees connections only
 * through the table of operations below (nm_fault_host_t) and an opaque
 * host pointer, so the arrows go one way: host -> faults -> proto.
 *
 * Frame path, inbound (client to server, dir "in"):
 *   parser -> host observes IN -> nm_faults_frame(NM_DIR_IN)
 *     PASS:  the host handles the frame as usual.
 *     TAKEN: the engine kept, dropped or handled it; it may later give it
 *            back with ops->handle_frame (hold, delay, duplicate, stall).
 * Frame path, outbound (server to client, dir "out"):
 *   host builds the frame's bytes -> nm_faults_frame(NM_DIR_OUT)
 *     PASS:  the host queues the bytes for the socket as usual.
 *     TAKEN: the engine writes them later (or never) with ops->write_raw.
 * A host calls the stage only while nm_faults_active() is true, so with no
 * rules a frame costs one branch. Call everything on the host's loop thread
 * (nm_faults_apply_sync is the one exception). */
#ifndef NM_FAULTS_H
#define NM_FAULTS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "nm_buf.h"
#include "nm_obs.h"
#include "nm_parser.h"

typedef struct nm_faults_s nm_faults_t;

/* A host's connection. The engine never looks inside: the host casts its
 * own connection pointer to and from this type. */
typedef struct nm_hconn_s nm_hconn_t;

enum { NM_DIR_IN = 0, NM_DIR_OUT = 1 };
enum { NM_FAULT_PASS = 0, NM_FAULT_TAKEN = 1 };

/* How to end a connection. */
typedef enum {
  NM_CLOSE_FLUSH = 0, /* write what is queued, then FIN */
  NM_CLOSE_FIN,       /* FIN now, drop queued output */
  NM_CLOSE_RST,       /* SO_LINGER 0 then close: the peer sees ECONNRESET */
} nm_close_how_t;

/* What a host provides. `host` is the pointer given to nm_faults_new. Every
 * operation is required (none may be NULL), except observe_pending. */
typedef struct {
  uint64_t (*conn_id)(void *host, const nm_hconn_t *c);
  /* The open connection with that id, or NULL (also while it closes). */
  nm_hconn_t *(*find_conn)(void *host, uint64_t conn_id);
  /* Calls fn for every open connection, in accept order. */
  void (*each_conn)(void *host, void (*fn)(nm_hconn_t *, void *), void *data);
  /* Queues raw bytes for the client's socket, bypassing the engine. With
   * `now` set the bytes go out in their own write at once (after whatever
   * is queued), so a split frame reaches the peer in pieces. The host
   * reports them as an OUT event with `f` (NULL: raw bytes) and
   * rule/action. Returns 0 or a negative code. */
  int (*write_raw)(void *host, nm_hconn_t *c, const char *p, size_t n, int now,
                   const nm_frame_t *f, const char *rule, const char *action);
  void (*close)(void *host, nm_hconn_t *c, nm_close_how_t how,
                const char *reason);
  /* Stop (0) or resume (1) reading from the client. */
  void (*set_reading)(void *host, nm_hconn_t *c, int on);
  /* Black hole: stop reading and writing, keep the socket open; output
   * queued meanwhile is discarded. */
  void (*set_blackhole)(void *host, nm_hconn_t *c, int on);
  /* Handles an inbound frame as if the parser had just produced it,
   * skipping the engine (released, delayed, duplicated frames). `bytes` is
   * its wire form (a proxy forwards those). */
  void (*handle_frame)(void *host, nm_hconn_t *c, const nm_frame_t *f,
                       nm_slice_t bytes);
  /* Publishes as a phantom publisher (no connection): PUB, or HPUB when
   * hdr_len > 0 (the payload then starts with the header block). Also
   * carries the replies to $MOCK.* requests. */
  void (*publish)(void *host, nm_slice_t subject, nm_slice_t reply,
                  size_t hdr_len, nm_slice_t payload);
  /* Closes the listener and reopens it on the same port after delay_ms. */
  int (*restart_listener)(void *host, uint64_t delay_ms);
  /* The next k accepted connections are closed at once, before INFO. */
  void (*refuse_next)(void *host, int k);
  /* The INFO JSON the host would send to c, with the fields of `extra` (a
   * JSON object text, or NULL) merged in. Appended to out. */
  int (*info_json)(void *host, nm_hconn_t *c, const char *extra, nm_buf_t *out);
  /* Reports an ACTION event, or OUT for bytes the engine wrote. */
  void (*observe)(void *host, const nm_obs_event_t *ev);
  /* The configured seed for random splits (0: none given). */
  uint64_t (*seed)(void *host);
  /* Optional (NULL: nothing to do): reports to the observer the frames
   * queued for c's socket that were not reported yet, so that the next
   * event the engine reports (a split frame) follows them, as on the wire. */
  void (*observe_pending)(void *host, nm_hconn_t *c);
  /* Optional (NULL: rules with "name" match no connection): the "name"
   * the client gave in its CONNECT, or NULL. */
  const char *(*conn_name)(void *host, const nm_hconn_t *c);
} nm_fault_host_t;

/* A new engine on `loop` (timers for delays; NULL: no delays and no
 * nm_faults_apply_sync). `ops` must outlive the engine. NULL: no memory. */
nm_faults_t *nm_faults_new(uv_loop_t *loop, const nm_fault_host_t *ops,
                           void *host);
/* Cancels timers, drops held frames and rules; idempotent. */
void nm_faults_stop(nm_faults_t *f);
void nm_faults_free(nm_faults_t *f);
/* True when any rule or per-connection state is installed. */
int nm_faults_active(const nm_faults_t *f);

/* The stage: offers one frame (dir NM_DIR_IN or NM_DIR_OUT; `bytes` is its
 * wire form) to the rules. NM_FAULT_PASS or NM_FAULT_TAKEN, see above. */
int nm_faults_frame(nm_faults_t *f, nm_hconn_t *c, int dir,
                    const nm_frame_t *fr, nm_slice_t bytes);

/* A connection opened / is closing (drops its held frames and counters). */
void nm_faults_conn_open(nm_faults_t *f, nm_hconn_t *c);
void nm_faults_conn_close(nm_faults_t *f, nm_hconn_t *c);

/* 1 when a PUB subject is for the control plane ("$MOCK." and below). */
int nm_faults_is_control(nm_slice_t subject);
/* The cap on bytes the engine keeps (held, delayed, stalled, coalesced
 * frames, copies included) over all connections together; 0: the default,
 * 128 MiB. Each connection has its own cap too (16 MiB, 10000 frames). A
 * frame over either cap is not kept: it passes (a stalled one is
 * discarded), and an ACTION event says so. */
void nm_faults_set_held_cap(nm_faults_t *f, uint64_t bytes);
/* The control plane is on by default. Off (on = 0): nm_faults_control
 * answers nothing and "$MOCK." subjects are ordinary subjects, seen by the
 * rules like any other; the host routes them as usual. */
void nm_faults_set_control(nm_faults_t *f, int on);
int nm_faults_control_on(const nm_faults_t *f);
/* Answers a control request the host does not let through (e.g. from an
 * unauthenticated connection) with {"ok":false,"error":why} on `reply`. */
void nm_faults_control_deny(nm_faults_t *f, nm_slice_t reply, const char *why);
/* A PUB to a control subject from connection c (NULL: none). The answer
 * goes to `reply` through ops->publish when reply is set. The host routes
 * such publishes nowhere else. Control traffic is apart from the data
 * plane: the engine's rules never see a control PUB nor the frames its
 * answer makes, and the answer to a request whose actions would close its
 * own connection (close without flush, reset, black-hole, restart without
 * keep_conns) is written before those actions run. */
void nm_faults_control(nm_faults_t *f, nm_hconn_t *c, nm_slice_t subject,
                       nm_slice_t reply, nm_slice_t payload);

/* The answer a request on "$MOCK.<verb>" would get ("fault", "rules",
 * "clear", "trace"; the same JSON, errors included), appended to `out`
 * instead of published: for hosts that take control requests another way
 * (the mock's HTTP /mock endpoints). A "fault" document's actions run at
 * once (no requesting NATS connection waits for its answer). Returns 0, or
 * NM_ESTATE when the control plane is off. On the loop thread. */
int nm_faults_control_local(nm_faults_t *f, const char *verb,
                            nm_slice_t payload, nm_buf_t *out);

/* The control requests as a transport other than NATS brings them: the
 * /mock/VERB endpoints over HTTP (the mock's monitoring port, the proxy's
 * control port). A request is a verb and what it means to do: */
typedef enum {
  NM_FAULTS_READ = 1,   /* asks, no body (HTTP GET, HEAD): rules, trace */
  NM_FAULTS_CHANGE = 2, /* carries a body (POST, PUT): fault, clear, trace */
  NM_FAULTS_DELETE = 4, /* removes (DELETE): clear */
} nm_faults_method_t;

/* The methods (NM_FAULTS_* bits) `verb` takes; 0 for an unknown verb. */
unsigned nm_faults_control_methods(const char *verb);
/* For the hosts' HTTP endpoints, by name only (faults/ does not depend on
 * http/): the method an HTTP method name asks for (GET and HEAD read, POST
 * and PUT change, DELETE deletes; 0 for any other), and the names of the
 * methods `verb` takes, as an Allow header lists them ("POST, PUT"; "" for
 * an unknown verb). */
nm_faults_method_t nm_faults_method_named(const char *http_method);
const char *nm_faults_control_allow(const char *verb);

/* Answers one such request: `verb` ("fault", "rules", "clear", "trace"),
 * method `m`, `body` (the document for fault, {"since":N} for trace; a
 * clear ignores it) and, for a READ of trace, `since`: its since argument
 * as decoded, with its whole length (p NULL: none; anything but 1 to 63
 * digits, e.g. a value cut short by the caller's buffer or one with a NUL,
 * is refused as $MOCK.trace refuses it). The answer is the JSON a request on
 * $MOCK.<verb> would get, NUL-terminated in out (cleared first); returns
 * the status: 200 for {"ok":true,...}, 400 for {"ok":false,...}, 404 for an
 * unknown verb or while the control plane is off, 405 when the verb does
 * not take `m` (nm_faults_control_methods says which it takes). A fault
 * document's actions run at once. On the loop thread. */
int nm_faults_control_request(nm_faults_t *f, const char *verb,
                              nm_faults_method_t m, nm_slice_t body,
                              nm_slice_t since, nm_buf_t *out);

/* Applies a fault command document (rules to add or remove, direct
 * actions). A JSON result is appended to `result` when not NULL. Returns 0
 * or NM_EINVAL with a message in err. On the loop thread. */
int nm_faults_apply(nm_faults_t *f, const char *json, nm_buf_t *result,
                    char *err, size_t errlen);
/* The same from any thread: handed to the loop thread, waited for (at most
 * 10 s: NM_ETIMEOUT). NM_ECLOSED once stopping, NM_ESTATE with no loop. */
int nm_faults_apply_sync(nm_faults_t *f, const char *json, nm_buf_t *result,
                         char *err, size_t errlen);

/* Small helpers the hosts share with the engine. */

/* Fills *ev (leg: client) stamped now (uv_hrtime()/1000), the one way every
 * host and the engine build an observer event. */
void nm_obs_event_fill(nm_obs_event_t *ev, nm_obs_kind_t kind, uint64_t conn_id,
                       const nm_frame_t *frame, nm_slice_t bytes,
                       const char *rule, const char *action,
                       const char *detail);

struct cJSON;
/* Moves every member of the JSON object text `extra` (NULL: none) into the
 * object o, replacing a member of the same name in place or appending it,
 * then appends o's unformatted text to out. Frees o in every case. 0,
 * NM_EINVAL (extra is not a JSON object) or NM_ENOMEM. The INFO a host
 * sends with a "send INFO" action's fields merged in. */
int nm_json_merge_print(struct cJSON *o, const char *extra, nm_buf_t *out);

#endif
