/* A driver child process (DRIVER-PROTOCOL.md): spawned with uv_spawn through
 * /bin/sh -c "exec CMD", commands written to its stdin one JSON line each,
 * its stdout split into lines, its stderr kept (bounded) for the report. */
#ifndef NM_DRIVER_H
#define NM_DRIVER_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <uv.h>

#include "nm_buf.h"

/* Longest stdout line accepted from a driver; a longer one is a protocol
 * violation and is cut. */
#define NM_DRV_MAX_LINE (4 * 1024 * 1024)
/* stderr bytes kept per driver. */
#define NM_DRV_MAX_STDERR (16 * 1024)

typedef struct nm_drv_s nm_drv_t;
typedef void (*nm_drv_line_cb)(nm_drv_t *d, const char *line, size_t len);
typedef void (*nm_drv_exit_cb)(nm_drv_t *d);

struct nm_drv_s {
  uv_process_t proc;
  uv_pipe_t in, out, err;
  int open_handles; /* handles not yet closed */
  int client;
  void *data; /* for the owner */
  nm_drv_line_cb on_line;
  nm_drv_exit_cb on_exit;
  nm_buf_t line;     /* a partial stdout line */
  int line_overflow; /* the current line passed NM_DRV_MAX_LINE */
  nm_buf_t errlog;   /* stderr, first NM_DRV_MAX_STDERR bytes */
  size_t err_dropped;
  int spawned, exited, stdin_closed, eof;
  int64_t exit_status;
  int term_signal;
};

/* Spawns `cmd` on `loop`. Returns 0 or a negative libuv code. */
int nm__drv_start(nm_drv_t *d, uv_loop_t *loop, const char *cmd, int client,
                  nm_drv_line_cb on_line, nm_drv_exit_cb on_exit, void *data);
/* Takes the lines already waiting in the driver's stdout, now, ahead of
 * libuv's next read. The harness calls it before it records bytes a client
 * sent: a driver prints what it is about to do before doing it, so this keeps
 * every line printed before those bytes ahead of them in the timeline. A line
 * printed just after the bytes (a result, "closed") and waiting by then lands
 * ahead of them too, so "line before frame" in the timeline does not prove
 * "printed before sent". Thread-safe (a buffer per thread), not reentrant. */
void nm__drv_drain(nm_drv_t *d);
/* Writes one command line (cJSON printed unformatted + "\n"). */
int nm__drv_send(nm_drv_t *d, const cJSON *cmd);
void nm__drv_close_stdin(nm_drv_t *d);
void nm__drv_kill(nm_drv_t *d, int sig);
/* Closes every handle (after exit or kill). */
void nm__drv_close(nm_drv_t *d);
/* stderr text (NUL-terminated view); call once the driver is done. */
const char *nm__drv_stderr(nm_drv_t *d);
/* Frees the buffers (after nm__drv_close's handles are closed). */
void nm__drv_free(nm_drv_t *d);

#endif
