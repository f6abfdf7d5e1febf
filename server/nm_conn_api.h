/* The server core's connection operations: what the fault engine may do to
 * a connection of the mock server. The engine does not call these by name:
 * fault_host.c hands them to it as the host table of faults/nm_faults.h
 * (nm__server_fault_host). The core calls the engine (nm_faults_frame once
 * per frame and direction, nm_faults_control for $MOCK.* publishes) only
 * while nm_faults_active() is true, so a server with no rules pays one
 * branch per frame. Internal to the server library: nothing here is public
 * API. */
#ifndef NM_CONN_API_H
#define NM_CONN_API_H

#include <stdint.h>

#include "natsmock.h"
#include "nm_buf.h"
#include "nm_faults.h"
#include "nm_parser.h"

typedef struct nm_conn_s nm_conn_t;

uint64_t nm__conn_id(const nm_conn_t *c);
nm_server_t *nm__conn_server(const nm_conn_t *c);
nm_conn_t *nm__server_find_conn(nm_server_t *s, uint64_t conn_id);
/* Calls fn for every open connection, in accept order. */
void nm__server_each_conn(nm_server_t *s, void (*fn)(nm_conn_t *, void *),
                          void *data);
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

/* fault_host.c: the table above, as the fault engine's host operations
 * (the host pointer is the nm_server_t). */
extern const nm_fault_host_t nm__server_fault_host;

#endif
