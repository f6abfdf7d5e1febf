/* natsmock: a loopback NATS server that speaks the client protocol exactly as
 * nats-server 2.9.10 does, and that can be scripted to misbehave.
 *
 * The embedding API. A server runs on the caller's uv loop (nm_server_new +
 * nm_server_start) or on a thread of its own (nm_server_start_thread). There
 * is no global state: several servers can live in one process.
 *
 * Installed as <natsmock/natsmock.h> beside the headers it includes
 * (nm_errors.h, nm_buf.h, nm_obs.h, nm_frame.h, nm_version.h); link
 * natsmock::server (CMake) or `pkg-config --libs natsmock`. */
#ifndef NATSMOCK_H
#define NATSMOCK_H

#include <stdint.h>
#include <uv.h>

#include "nm_buf.h"
#include "nm_errors.h"
#include "nm_obs.h"
#include "nm_version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nm_server_s nm_server_t;

/* A subject permission of nats-server's authorization block: allow and deny
 * lists of subjects (wildcards allowed; a subscribe entry may be "subject
 * queue"). allow_set: an allow list was given, even an empty one (for
 * publish, an empty allow list allows nothing). */
typedef struct {
  const char *const *allow;
  int nallow;
  int allow_set;
  const char *const *deny;
  int ndeny;
} nm_subject_perm_t;

/* A user's permissions (nats-server's `permissions` block). */
typedef struct {
  nm_subject_perm_t pub, sub;
  int allow_responses;      /* may publish to the replies of what it got */
  int resp_max;             /* replies per request: 1 */
  uint64_t resp_expires_ms; /* how long a reply may be sent: 120000 */
} nm_perms_t;

/* One entry of `authorization { users = [...] }`. */
typedef struct {
  const char *user;
  const char *password;
  const nm_perms_t *perms; /* NULL: everything allowed */
} nm_user_t;

/* Settings, named after nats-server's config keys. nm_server_opts_init fills
 * in nats-server 2.9.10's defaults. Strings are copied by nm_server_new. */
typedef struct {
  const char *host;        /* "127.0.0.1" */
  int port;                /* 0 (or -1): an ephemeral port */
  const char *server_name; /* NULL: same as the generated server_id */
  const char *user;        /* user/password auth when both set */
  const char *pass;
  const char *token;         /* token auth when set */
  uint64_t auth_timeout_ms;  /* 2000 */
  int64_t max_payload;       /* 1048576; < 0: no limit (as nats-server) */
  int64_t max_control_line;  /* 4096; < 0: every op with arguments fails */
  int64_t max_pending;       /* 64 MiB: slow-consumer limit per conn */
  int max_connections;       /* 65536 */
  int max_subs;              /* max_subscriptions per connection; 0: no limit */
  uint64_t ping_interval_ms; /* 120000 */
  int ping_max;              /* 2 */
  uint64_t write_deadline_ms; /* 10000 */
  int trace;                  /* -V: protocol trace on stderr */
  int debug;                  /* -D: debug log on stderr */
  const char *faults_file;    /* --faults FILE: JSON rules loaded at start */
  uint64_t seed; /* queue-group choice and random splits; 0: time */
  /* The fault engine (docs/faults.md), natsmock's own settings: */
  int64_t max_held;    /* bytes kept by fault rules (held, delayed,
                          stalled), all connections together: 128 MiB;
                          0: the same (--max_held, config max_held) */
  int no_mock_control; /* 1: $MOCK.> is an ordinary subject, no control
                          requests (--no_mock_control); 0: answered */
  /* nats-server's keys of the same names. The files, logtime, http and
   * max_traced_msg_len are the natsmock program's (the library does not
   * use them); nm_server_lame_duck follows the two lame duck periods. */
  const char *log_file;           /* log_file */
  const char *pid_file;           /* pid_file */
  const char *ports_file_dir;     /* ports_file_dir */
  int logtime;                    /* logtime: 1 */
  int http_port;                  /* http_port / http: 0 none, -1 random */
  const char *http_host;          /* http host, NULL: the client host */
  uint64_t lame_duck_duration_ms; /* 120000 */
  uint64_t lame_duck_grace_ms;    /* lame_duck_grace_period: 10000 */
  int64_t max_traced_msg_len;     /* 0: whole payloads in the trace */
  /* authorization { users = [...] }: user/password entries with their
   * permissions; users_set: the list was given (even empty). */
  const nm_user_t *users;
  int nusers;
  int users_set;
  const char *no_auth_user; /* the user a CONNECT without credentials is */
  /* Warnings nats-server prints for the config file (e.g. a duration given
   * as a number), one per line; NULL when none. */
  const char *config_warnings;
  void *strings_; /* private: strings kept by nm_server_opts_load/_parse */
} nm_server_opts_t;

void nm_server_opts_init(nm_server_opts_t *o);

/* Reads a nats-server 2.9.10 config file into o. Every key nats-server knows
 * is either applied as nats-server does or refused ("natsmock does not
 * support tls"); unknown keys, wrong types and bad values fail with
 * nats-server's messages ("FILE:LINE:COL: unknown field \"x\""), all of them,
 * one per line, in err (size errlen). docs/server.md lists every key.
 * Returns 0 or NM_EINVAL. */
int nm_server_opts_load(nm_server_opts_t *o, const char *path, char *err,
                        size_t errlen);
/* The same from text in memory (n bytes). */
int nm_server_opts_parse(nm_server_opts_t *o, const char *text, size_t n,
                         char *err, size_t errlen);
/* Frees the strings _load/_parse kept for o (after nm_server_new, which
 * copies what it needs). */
void nm_server_opts_free(nm_server_opts_t *o);
/* What nats-server checks once the config and the flags are read: max_payload
 * against max_pending, lame duck durations, no_auth_user. Returns 0 or
 * NM_EINVAL with nats-server's message. */
int nm_server_opts_validate(const nm_server_opts_t *o, char *err,
                            size_t errlen);
/* Go durations ("2s", "1m", "500ms", "1h30m") or a plain non-negative
 * number of seconds, into milliseconds. Returns 0 or -1 (also for what does
 * not fit, NaN and infinities). */
int nm_parse_duration_ms(const char *v, uint64_t *out);

/* Creates a server on `loop`. Returns 0 or a negative code. */
int nm_server_new(uv_loop_t *loop, const nm_server_opts_t *o,
                  nm_server_t **out);
/* Binds and listens. Returns 0 or a negative libuv/nm code. Sets SIGPIPE to
 * SIG_IGN when it is at its default (libuv writes with write(2)), and opens
 * /dev/null on any of descriptors 0-2 that is closed, so that no socket
 * takes one of them (libuv aborts closing those). */
int nm_server_start(nm_server_t *s);
/* The port it listens on (after start). */
int nm_server_port(const nm_server_t *s);
/* "nats://127.0.0.1:PORT" into out; returns out. */
const char *nm_server_url(const nm_server_t *s, char *out, size_t n);
/* Stops listening and closes every connection; `done` runs once all handles
 * are closed (the loop must keep running until then). */
void nm_server_stop(nm_server_t *s, void (*done)(nm_server_t *, void *),
                    void *data);
/* Lame duck mode, as nats-server 2.9.10's (SIGUSR2): stop accepting, send
 * every client that has had its first PONG an INFO with "ldm":true, wait
 * opts.lame_duck_grace_ms, then close the clients one by one spread over
 * lame_duck_duration_ms minus the grace (at most 1 s apart), and call `done`
 * (on the loop), after which the host stops the server. Once only; returns 0
 * or NM_ESTATE. */
int nm_server_lame_duck(nm_server_t *s, void (*done)(nm_server_t *, void *),
                        void *data);
/* Frees a stopped server (call from `done` or after it ran). */
void nm_server_free(nm_server_t *s);

/* The same server on a thread with its own loop (descriptors 0-2 held
 * before the loop is made). nm_server_stop_thread stops it, joins the
 * thread and frees everything. */
int nm_server_start_thread(const nm_server_opts_t *o, nm_server_t **out);
void nm_server_stop_thread(nm_server_t *s);

uv_loop_t *nm_server_loop(nm_server_t *s);
/* Number of client connections now open. */
int nm_server_num_conns(const nm_server_t *s);

/* Observation: every frame in and out of every connection, and connection
 * open and close, are reported here (the harness builds its timeline from
 * this). The event types are in nm_obs.h. Called on the server's loop. */
void nm_server_set_observer(nm_server_t *s, nm_obs_cb cb, void *data);

/* Fault injection: applies a fault command document (JSON): rules to add or
 * remove, or a direct action (send raw bytes or a frame, phantom publish,
 * release held frames, close/reset a connection, restart the listener,
 * refuse the next K connections). The same documents come from a --faults
 * file and from $MOCK.> requests; docs/faults.md is the format. A JSON
 * result (e.g. the ids of added rules) is appended to `result` when it is not
 * NULL. Call on the server's loop thread. Returns 0 or NM_EINVAL with a
 * message in err. */
int nm_server_fault(nm_server_t *s, const char *json, nm_buf_t *result,
                    char *err, size_t errlen);
/* The same from any other thread (e.g. a test beside nm_server_start_thread):
 * the document is handed to the server's loop thread, applied there, and the
 * call waits for the answer (at most 10 s: NM_ETIMEOUT). On the loop thread
 * itself use nm_server_fault (this call recognises the loop thread only once
 * it has accepted a connection). NM_ECLOSED once the server is stopping. */
int nm_server_fault_sync(nm_server_t *s, const char *json, nm_buf_t *result,
                         char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
