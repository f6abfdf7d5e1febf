/* The timeline of one scenario run: every frame the mock received and sent
 * (per connection, with time and the rule that touched it), every command the
 * harness sent to a driver and every line a driver printed, in the order the
 * harness saw them. Invariants are pure functions of this structure, so it
 * can also be built by hand in tests.
 *
 * Bounded: at most NM_TL_MAX_EVENTS entries (later ones are counted in
 * `dropped`, never stored), NM_TL_MAX_PAYLOAD stored payload bytes per frame
 * and NM_TL_PAYLOAD_BUDGET in all (the full size stays in `bytes` /
 * `payload_size`). No I/O. */
#ifndef NM_TIMELINE_H
#define NM_TIMELINE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "nm_parser.h"

#define NM_TL_MAX_EVENTS 500000
#define NM_TL_MAX_PAYLOAD (64 * 1024)
/* Payload bytes stored per timeline; past it each frame keeps only its first
 * NM_TL_MIN_PAYLOAD bytes (enough for sequence numbers and short data). */
#define NM_TL_PAYLOAD_BUDGET (64u * 1024 * 1024)
#define NM_TL_MIN_PAYLOAD 64
#define NM_TL_MAX_CLIENTS 16
#define NM_TL_MAX_CONNS 4096
#define NM_TL_NONE ((size_t)-1)

typedef enum {
  NM_TL_OPEN = 1, /* server: a connection was accepted */
  NM_TL_IN,       /* server: a frame was received (before any rule) */
  NM_TL_OUT,      /* server: a frame was handed to the socket (`action`:
                     a rule's, e.g. "release", "delay", "split") */
  NM_TL_CLOSE,    /* server: the connection closed (`detail`: reason) */
  NM_TL_ACTION,   /* server: a rule or direct action acted; a frame the
                     rule took (held, dropped...) is here (`detail`) */
  NM_TL_CMD,      /* harness -> driver: a command (`json`) */
  NM_TL_EV,       /* driver -> harness: an event or a result (`json`) */
  NM_TL_NOTE,     /* harness note (`detail`, `json`) */
  /* Proxy mode only, the proxy's other leg (proxy <-> real server): a frame
   * read from the server (before any rule), bytes written to it. After the
   * server kinds on purpose: the invariants judge the client leg (OPEN to
   * ACTION) and never see these. */
  NM_TL_UP_IN,
  NM_TL_UP_OUT,
} nm_tl_kind_t;

typedef struct {
  nm_tl_kind_t kind;
  uint64_t t_us; /* since the run started, harness clock */
  int64_t drv_t; /* EV: the driver's own "t" (µs), or -1 */
  int client;    /* CMD/EV: the client index; else -1 (see nm_tl_owner) */
  uint64_t conn; /* server kinds: the connection id */
  /* Server frames (IN, OUT). Strings are owned, NUL-terminated, or NULL. */
  nm_op_t op;
  char *subject, *reply, *sid, *queue, *max;
  char *payload;       /* header block + body, up to NM_TL_MAX_PAYLOAD */
  size_t payload_len;  /* bytes stored in payload */
  size_t payload_size; /* the frame's real payload size */
  size_t hdr_len;      /* header block length (HPUB, HMSG) */
  size_t bytes;        /* wire bytes of the frame */
  char *rule, *action, *detail;
  /* CMD / EV / NOTE */
  const char *ev; /* CMD: the op; EV: "ev" (points into json) */
  int64_t id;     /* the command id, or -1 */
  cJSON *json;    /* owned */
} nm_tl_ev_t;

typedef struct {
  nm_tl_ev_t *v;
  size_t n, cap;
  size_t dropped;       /* entries refused because of NM_TL_MAX_EVENTS */
  size_t payload_bytes; /* payload bytes stored so far */
  int frozen;           /* set when the steps ended: appends are ignored */
  /* The steps ended early (a step failed, the run timed out, a driver
   * died): what did not happen yet may simply not have been recorded. */
  int cut_short;
  int nclients;
  char *clients[NM_TL_MAX_CLIENTS];
  /* conn id -> client index (-1: unknown). Conn ids above the table size
   * are unattributed. */
  int owner[NM_TL_MAX_CONNS];
  int server_view;       /* 0: a real server, its frames are not seen */
  uint64_t wall_base_us; /* realtime (µs since the epoch) at t = 0 */
} nm_tl_t;

/* Caller storage; never allocates. Client names are copied. */
void nm_tl_init(nm_tl_t *tl);
int nm_tl_add_client(nm_tl_t *tl, const char *name);
void nm_tl_free(nm_tl_t *tl);

/* Appends a zeroed entry of `kind` at time t_us and returns it (NULL when
 * frozen or full). Fill the fields with owned copies (nm_tl_strdup). */
nm_tl_ev_t *nm_tl_append(nm_tl_t *tl, nm_tl_kind_t kind, uint64_t t_us);
char *nm_tl_strndup(const char *p, size_t n);

/* Appends a server frame from a parsed frame. */
nm_tl_ev_t *nm_tl_add_frame(nm_tl_t *tl, nm_tl_kind_t kind, uint64_t t_us,
                            uint64_t conn, const nm_frame_t *f, size_t bytes,
                            const char *rule, const char *action);
/* Replaces, at any depth, the value of every member whose key names a
 * secret (nm_redact_key: pass, password, token, auth_token) with
 * "[REDACTED]". Every JSON the timeline stores goes through it. */
void nm_tl_redact_json(cJSON *j);
/* Appends a CMD (takes ownership of json). */
nm_tl_ev_t *nm_tl_add_cmd(nm_tl_t *tl, uint64_t t_us, int client, cJSON *json);
/* Appends a driver line (takes ownership of json). */
nm_tl_ev_t *nm_tl_add_line(nm_tl_t *tl, uint64_t t_us, int client, cJSON *json);

/* Attributes a connection to a client. */
void nm_tl_set_owner(nm_tl_t *tl, uint64_t conn, int client);
/* The client a connection belongs to, or -1. With one client, every
 * connection is that client's. */
int nm_tl_owner(const nm_tl_t *tl, uint64_t conn);
int nm_tl_client_index(const nm_tl_t *tl, const char *name);

/* Helpers for invariants. */
const char *nm_tl_verb(nm_op_t op); /* "PUB", "+OK", "-ERR", ... */
nm_op_t nm_tl_verb_op(const char *verb);
const char *nm_tl_kind_name(nm_tl_kind_t k);
/* True for a frame the server wrote to the socket (an OUT entry). */
int nm_tl_sent(const nm_tl_ev_t *e);
/* The payload body (after any header block). */
const char *nm_tl_body(const nm_tl_ev_t *e, size_t *len);
/* A field of a CMD/EV line: string or NULL / integer or dflt. */
const char *nm_tl_str(const nm_tl_ev_t *e, const char *field);
int64_t nm_tl_int(const nm_tl_ev_t *e, const char *field, int64_t dflt);

/* One entry as a JSON object for evidence and reports (caller owns). */
cJSON *nm_tl_ev_json(const nm_tl_t *tl, size_t i);

#endif
