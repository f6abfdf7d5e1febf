/* The internal seam between the server core (server.c, conn.c, ...) and the
 * fault engine (faults*.c). The core owns sockets, parsing, routing and
 * writing; the fault engine owns rules, held frames and timers. Both are
 * internal to the server library: nothing here is public API.
 *
 * Frame path, inbound:  socket -> parser -> observer(IN) ->
 *   nm__faults_inbound() -> PASS: nm__conn_handle_frame() (normal handling)
 *                           TAKEN: the engine keeps a copy and may later call
 *                                  nm__conn_handle_frame() itself (hold,
 *                                  delay, duplicate) or never (drop).
 * Frame path, outbound: core builds the frame's bytes -> nm__faults_outbound()
 *   -> PASS: appended to the conn's output buffer (batched write)
 *      TAKEN: the engine writes it later (or never) with nm__conn_write_raw().
 * The core calls into the engine only when nm__faults_active() is true, so a
 * server with no rules pays one branch per frame. */
#ifndef NM_CONN_API_H
#define NM_CONN_API_H

#include <stdint.h>

#include "natsmock.h"
#include "nm_buf.h"
#include "nm_parser.h"

typedef struct nm_conn_s nm_conn_t;
typedef struct nm_faults_s nm_faults_t;

enum { NM_DIR_IN = 0, NM_DIR_OUT = 1 };
enum { NM_FAULT_PASS = 0, NM_FAULT_TAKEN = 1 };

/* How to end a connection. */
typedef enum {
  NM_CLOSE_FLUSH = 0, /* write what is queued, then FIN */
  NM_CLOSE_FIN,       /* FIN now, drop queued output */
  NM_CLOSE_RST,       /* SO_LINGER 0 then close: the peer sees ECONNRESET */
} nm_close_how_t;

/* ---- provided by the core, used by the fault engine ---- */

uint64_t nm__conn_id(const nm_conn_t *c);
nm_server_t *nm__conn_server(const nm_conn_t *c);
nm_conn_t *nm__server_find_conn(nm_server_t *s, uint64_t conn_id);
/* Calls fn for every open connection, in accept order. */
void nm__server_each_conn(nm_server_t *s, void (*fn)(nm_conn_t *, void *),
                          void *data);
nm_faults_t *nm__server_faults(nm_server_t *s);
/* Emits an observer event (ACTION, or OUT for bytes the engine wrote). */
void nm__server_observe(nm_server_t *s, const nm_obs_event_t *ev);

/* Handles an inbound frame as if the parser had just produced it, skipping
 * the fault engine (used to release held or delayed frames). */
void nm__conn_handle_frame(nm_conn_t *c, const nm_frame_t *f);
/* Queues raw bytes for the socket, bypassing the fault engine. With
 * `now` set the bytes go out in their own write at once (after whatever is
 * already queued), so a split frame really reaches the peer in pieces.
 * The bytes are reported to the observer as an OUT event with `f` (NULL:
 * raw bytes, e.g. send_raw or the pieces of a split frame) and rule/action.
 * Returns 0 or a negative code. */
int nm__conn_write_raw(nm_conn_t *c, const char *p, size_t n, int now,
                       const nm_frame_t *f, const char *rule,
                       const char *action);
/* Reports to the observer the frames queued for the socket and not yet
 * reported, so that an event the engine reports next follows them. */
void nm__conn_observe_pending(nm_conn_t *c);
void nm__conn_close(nm_conn_t *c, nm_close_how_t how, const char *reason);
/* Stop (0) or resume (1) reading from the socket. */
void nm__conn_set_reading(nm_conn_t *c, int on);
/* Black hole: stop reading and writing; keep the socket open. Output queued
 * meanwhile is discarded. */
void nm__conn_set_blackhole(nm_conn_t *c, int on);
/* Publishes as if a client (a phantom publisher with no connection) sent
 * PUB/HPUB: routed to every matching subscription. */
void nm__server_publish(nm_server_t *s, nm_slice_t subject, nm_slice_t reply,
                        size_t hdr_len, nm_slice_t payload);
/* Closes the listener, and reopens it on the same port after delay_ms. */
int nm__server_restart_listener(nm_server_t *s, uint64_t delay_ms);
/* The next k accepted connections are closed at once, before INFO. */
void nm__server_refuse_next(nm_server_t *s, int k);
/* The INFO JSON this server would send to c, with fields in `extra` (a JSON
 * object text, may be NULL) merged in / overriding. Appended to out. */
int nm__server_info_json(nm_server_t *s, nm_conn_t *c, const char *extra,
                         nm_buf_t *out);

/* opts.seed as configured (0: none given). Implemented in faults.c. */
uint64_t nm__server_seed(const nm_server_t *s);

/* ---- provided by the fault engine, called by the core ---- */

nm_faults_t *nm__faults_new(nm_server_t *s);
void nm__faults_free(nm_faults_t *f);
/* Starts timers etc.; stop cancels them and drops held frames. */
void nm__faults_stop(nm_faults_t *f);
/* True when any rule or trigger is installed. */
int nm__faults_active(const nm_faults_t *f);
/* See the frame path above. `bytes` is the frame's wire form. */
int nm__faults_inbound(nm_faults_t *f, nm_conn_t *c, const nm_frame_t *fr,
                       nm_slice_t bytes);
int nm__faults_outbound(nm_faults_t *f, nm_conn_t *c, const nm_frame_t *fr,
                        nm_slice_t bytes);
/* A connection opened / closed (drops its held frames, cancels timers). */
void nm__faults_conn_open(nm_faults_t *f, nm_conn_t *c);
void nm__faults_conn_close(nm_faults_t *f, nm_conn_t *c);
/* A PUB to a subject under "$MOCK." from a client: the control API. The
 * engine answers by nm__server_publish to `reply` when reply is set. The
 * core does not route $MOCK. publishes anywhere else. */
void nm__faults_control(nm_faults_t *f, nm_conn_t *c, nm_slice_t subject,
                        nm_slice_t reply, nm_slice_t payload);
/* Applies a fault command document (rules to add or remove, direct actions;
 * the format is docs/faults.md). nm_server_fault forwards here. */
int nm__faults_apply(nm_faults_t *f, const char *json, nm_buf_t *result,
                     char *err, size_t errlen);

#endif
