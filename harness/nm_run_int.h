/* Internal state of one run, shared by runner.c (set-up, teardown),
 * steps.c (the steps and their matching) and realserver.c. */
#ifndef NM_RUN_INT_H
#define NM_RUN_INT_H

#include <uv.h>

#include "natsmock.h"
#include "nm_driver.h"
#include "nm_proxy.h"
#include "nm_runner.h"

/* Messages of fatal conditions (driver died, run timed out). */
#define NM_RUN_MSG_MAX 512
/* Commands per client whose results are tracked (one byte each). */
#define NM_RUN_MAX_CMDS (1u << 20)
/* Longest connection name remembered per client. */
#define NM_RUN_NAME_MAX 256
/* Directory path of a real server's temp dir. */
#define NM_RUN_PATH_MAX 256

typedef struct {
  uv_process_t proc;
  int spawned, exited, closed;
  uv_fs_event_t watch;
  int watching;
  char dir[NM_RUN_PATH_MAX];
  int port;
  nm_proxy_t *proxy; /* --proxy: in front of the real server, or NULL */
  int proxy_done;
} nm_realsrv_t;

typedef struct nm_run_s {
  uv_loop_t loop;
  uv_timer_t timer;
  const nm_scenario_t *sc;
  const nm_run_opts_t *o;
  nm_result_t *res;
  nm_tl_t *tl;
  uint64_t t0_ns;       /* uv_hrtime() at the start */
  uint64_t deadline_us; /* the scenario's timeout, run clock */
  nm_server_t *srv;
  int srv_done;
  nm_realsrv_t real;
  char url[128];
  nm_drv_t drv[NM_TL_MAX_CLIENTS];
  int ndrv;
  cJSON *hello[NM_TL_MAX_CLIENTS];
  int64_t next_id[NM_TL_MAX_CLIENTS];
  cJSON *names; /* "as" -> [client, id, timeline index] */
  /* on_msg actions not started yet: "client:id" -> the driver command */
  cJSON *actions;
  /* The connection name each client's last connect command gave, so that
   * a scenario that sets "name" still has its connections attributed. */
  char conn_name[NM_TL_MAX_CLIENTS][NM_RUN_NAME_MAX];
  nm_buf_t answered[NM_TL_MAX_CLIENTS]; /* per command id: 1 once ended */
  int fatal;
  char fatal_msg[NM_RUN_MSG_MAX];
  int in_teardown;
} nm_run_t;

/* Microseconds since the run started. */
uint64_t nm__run_now(const nm_run_t *r);
/* Runs the loop until pred(r, arg) is true (1), the deadline passes (0), or
 * a fatal condition or the run's timeout (-1). */
int nm__run_wait(nm_run_t *r, int (*pred)(nm_run_t *, void *), void *arg,
                 uint64_t deadline_us);
/* Marks the run failed for good (first message wins). */
void nm__run_fatal(nm_run_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Notes that command `id` of `client` was sent. */
void nm__run_sent(nm_run_t *r, int client, int64_t id);

/* A driver reported `{"ev":"action","id":N}`: the handler started on_msg
 * action N; it enters the timeline as a command now. */
void nm__run_action_started(nm_run_t *r, int client, const cJSON *line);

/* Runs every step; failures go to r->res. Returns 0 when all passed. */
int nm__run_steps(nm_run_t *r);

/* Real server (realserver.c). */
int nm__realsrv_start(nm_run_t *r, const char *cmd, const cJSON *opts);
/* The runner's observer (the timeline), for the proxy. */
void nm__run_on_obs(void *data, const nm_obs_event_t *ev);
void nm__realsrv_stop(nm_run_t *r);

#endif
