/* Observation: every frame in and out of every connection, connection open
 * and close, and what fault rules did. A host (the mock server, the proxy)
 * reports these to the embedder's callback; the harness builds its timeline
 * from them. The fault engine makes ACTION events (and OUT events for bytes
 * it writes itself) and hands them to its host. Public: installed as
 * <natsmock/nm_obs.h>, included by natsmock.h. */
#ifndef NM_OBS_H
#define NM_OBS_H

#include <stdint.h>

#include "nm_frame.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  NM_OBS_OPEN = 1, /* a connection was accepted */
  NM_OBS_IN,       /* a frame was received (before any rule) */
  NM_OBS_OUT,      /* bytes of a frame were handed to the socket */
  NM_OBS_CLOSE,    /* the connection closed */
  NM_OBS_ACTION,   /* a fault rule or direct action acted */
} nm_obs_kind_t;

/* Which side of a proxy an event is about. The mock server has only the
 * client leg (0). */
typedef enum {
  NM_OBS_LEG_CLIENT = 0,   /* the client's connection */
  NM_OBS_LEG_UPSTREAM = 1, /* the proxy's connection to the real server */
} nm_obs_leg_t;

typedef struct {
  nm_obs_kind_t kind;
  uint64_t conn_id; /* 1, 2, ... in accept order; same as INFO client_id */
  uint64_t t_us;    /* uv_hrtime()/1000 */
  const nm_frame_t *frame; /* IN and OUT: the parsed frame */
  nm_slice_t bytes;        /* IN and OUT: the raw bytes of the frame */
  const char *rule;        /* the rule that touched it, or NULL */
  const char *action;      /* what it did ("hold", "drop", ...), or NULL;
                              CLOSE: how the socket ended, "fin" or "reset" */
  const char *detail;      /* CLOSE: reason; ACTION: free text */
  nm_obs_leg_t leg;        /* NM_OBS_LEG_CLIENT unless a proxy says so */
} nm_obs_event_t;

typedef void (*nm_obs_cb)(void *data, const nm_obs_event_t *ev);

#ifdef __cplusplus
}
#endif

#endif
