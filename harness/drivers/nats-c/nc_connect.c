/* natsmock-driver-nats-c: the connect command (options onto natsOptions)
 * and the connection callbacks that become events. */
#include <stdlib.h>
#include <string.h>

#include "nc_driver.h"
#include "nm_drv_util.h"

/* The most server URLs a connect command may list. */
#define NM_NC_MAX_SERVERS 64

typedef struct {
  int64_t id;
  natsOptions *opts;
} connect_job_t;

static void on_closed(natsConnection *nc, void *closure) {
  (void)nc;
  (void)closure;
  nm_drv_emit(nm_drv_event("closed"));
  nm__nc_drain_finish();
}

static void on_disconnected(natsConnection *nc, void *closure) {
  cJSON *ev = nm_drv_event("disconnected");
  const char *text = NULL;
  (void)closure;
  if (natsConnection_GetLastError(nc, &text) != NATS_OK && text != NULL &&
      text[0] != '\0')
    cJSON_AddStringToObject(ev, "error", text);
  nm_drv_emit(ev);
}

static void on_reconnected(natsConnection *nc, void *closure) {
  (void)nc;
  (void)closure;
  nm_drv_emit(nm_drv_event("reconnected"));
}

static void on_lame_duck(natsConnection *nc, void *closure) {
  (void)nc;
  (void)closure;
  nm_drv_emit(nm_drv_event("lame_duck"));
}

static void on_discovered(natsConnection *nc, void *closure) {
  cJSON *ev = nm_drv_event("discovered");
  cJSON *list = cJSON_AddArrayToObject(ev, "servers");
  char **servers = NULL;
  int count = 0, i;
  (void)closure;
  if (natsConnection_GetDiscoveredServers(nc, &servers, &count) == NATS_OK) {
    for (i = 0; i < count; i++) {
      cJSON_AddItemToArray(list, cJSON_CreateString(servers[i]));
      free(servers[i]);
    }
    free(servers);
  }
  nm_drv_emit(ev);
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus err,
                     void *closure) {
  const char *tag = nm__nc_sub_tag(sub);
  const char *text = nats_GetLastError(NULL);
  cJSON *ev;
  (void)nc;
  (void)closure;
  if (text == NULL || text[0] == '\0')
    text = natsStatus_GetText(err);
  if (err == NATS_SLOW_CONSUMER) {
    ev = nm_drv_event("slow_consumer");
    cJSON_AddStringToObject(ev, "sub", tag != NULL ? tag : "");
    nm_drv_emit(ev);
    return;
  }
  /* A connection drain reports its failures here before the closed
   * callback; remember the first so the drain's reply can carry it. */
  if (strncmp(text, "Drain error", 11) == 0) {
    pthread_mutex_lock(&nm__nc.mu);
    if (nm__nc.drain_err == NATS_OK) {
      nm__nc.drain_err = err;
      snprintf(nm__nc.drain_err_text, sizeof(nm__nc.drain_err_text), "%s",
               text);
    }
    pthread_mutex_unlock(&nm__nc.mu);
  }
  ev = nm_drv_event("error");
  cJSON_AddStringToObject(ev, "code", nm__nc_code(err));
  cJSON_AddStringToObject(ev, "error", text);
  if (tag != NULL)
    cJSON_AddStringToObject(ev, "sub", tag);
  nm_drv_emit(ev);
}

/* Applies the command's fields to opts. Returns NATS_OK, or a status with
 * *why set for a field the command got wrong. */
static natsStatus set_options(natsOptions *opts, const cJSON *cmd,
                              const char **why) {
  const cJSON *servers = cJSON_GetObjectItemCaseSensitive(cmd, "servers");
  const char *urls[NM_NC_MAX_SERVERS];
  const char *name = nm_drv_str(cmd, "name");
  const char *user = nm_drv_str(cmd, "user");
  const char *pass = nm_drv_str(cmd, "pass");
  const char *token = nm_drv_str(cmd, "token");
  const cJSON *it;
  natsStatus s = NATS_OK;
  int n = 0;
  int64_t v;

  if (!cJSON_IsArray(servers) || cJSON_GetArraySize(servers) == 0 ||
      cJSON_GetArraySize(servers) > NM_NC_MAX_SERVERS) {
    *why = "\"servers\" must list 1 to 64 URLs";
    return NATS_INVALID_ARG;
  }
  cJSON_ArrayForEach(it, servers) {
    if (!cJSON_IsString(it)) {
      *why = "\"servers\" must hold strings";
      return NATS_INVALID_ARG;
    }
    urls[n++] = it->valuestring;
  }
  *why = NULL;
  s = natsOptions_SetServers(opts, urls, n);
  if (s == NATS_OK && name != NULL)
    s = natsOptions_SetName(opts, name);
  if (s == NATS_OK && (user != NULL || pass != NULL))
    s = natsOptions_SetUserInfo(opts, user, pass);
  if (s == NATS_OK && token != NULL)
    s = natsOptions_SetToken(opts, token);
  if (s == NATS_OK)
    s = natsOptions_SetVerbose(opts, nm_drv_bool(cmd, "verbose", 0));
  if (s == NATS_OK)
    s = natsOptions_SetPedantic(opts, nm_drv_bool(cmd, "pedantic", 0));
  if (s == NATS_OK && !nm_drv_bool(cmd, "echo", 1))
    s = natsOptions_SetNoEcho(opts, true);
  if (s == NATS_OK && (v = nm_drv_int(cmd, "timeout_ms", -1)) >= 0)
    s = natsOptions_SetTimeout(opts, v);
  if (s == NATS_OK)
    s = natsOptions_SetAllowReconnect(opts, nm_drv_bool(cmd, "reconnect", 1));
  if (s == NATS_OK && (v = nm_drv_int(cmd, "max_reconnect", -2)) >= -1)
    s = natsOptions_SetMaxReconnect(opts, (int)v);
  if (s == NATS_OK && (v = nm_drv_int(cmd, "reconnect_wait_ms", -1)) >= 0)
    s = natsOptions_SetReconnectWait(opts, v);
  if (s == NATS_OK && (v = nm_drv_int(cmd, "reconnect_jitter_ms", -1)) >= 0)
    s = natsOptions_SetReconnectJitter(opts, v, v);
  if (s == NATS_OK && (v = nm_drv_int(cmd, "reconnect_buf_bytes", -1)) >= 0)
    s = natsOptions_SetReconnectBufSize(opts, (int)v);
  if (s == NATS_OK && (v = nm_drv_int(cmd, "ping_interval_ms", -1)) > 0)
    s = natsOptions_SetPingInterval(opts, v);
  if (s == NATS_OK && (v = nm_drv_int(cmd, "max_pings_out", -1)) >= 0)
    s = natsOptions_SetMaxPingsOut(opts, (int)v);
  if (s == NATS_OK && nm_drv_bool(cmd, "no_randomize", 0))
    s = natsOptions_SetNoRandomize(opts, true);
  if (s == NATS_OK)
    s = natsOptions_SetErrorHandler(opts, on_error, NULL);
  if (s == NATS_OK)
    s = natsOptions_SetClosedCB(opts, on_closed, NULL);
  if (s == NATS_OK)
    s = natsOptions_SetDisconnectedCB(opts, on_disconnected, NULL);
  if (s == NATS_OK)
    s = natsOptions_SetReconnectedCB(opts, on_reconnected, NULL);
  if (s == NATS_OK)
    s = natsOptions_SetDiscoveredServersCB(opts, on_discovered, NULL);
  if (s == NATS_OK)
    s = natsOptions_SetLameDuckModeCB(opts, on_lame_duck, NULL);
  return s;
}

static void connect_worker(void *arg) {
  connect_job_t *job = arg;
  natsConnection *nc = NULL;
  natsStatus s = natsConnection_Connect(&nc, job->opts);

  pthread_mutex_lock(&nm__nc.mu);
  if (s == NATS_OK)
    nm__nc.nc = nc;
  else
    nm__nc.connect_tried = 0; /* a failed connect may be tried again */
  pthread_mutex_unlock(&nm__nc.mu);
  if (s == NATS_OK) {
    /* nats.c has no callback for a first connect that succeeds at once
     * (its connected callback serves only retry-on-failed-connect): the
     * call's return is the library's report. */
    nm_drv_emit(nm_drv_event("connected"));
    nm_drv_emit(nm_drv_ok(job->id));
  } else {
    nm__nc_reply_status(job->id, s);
  }
  natsOptions_Destroy(job->opts);
  free(job);
  pthread_mutex_lock(&nm__nc.mu);
  nm__nc.connecting = 0;
  pthread_cond_broadcast(&nm__nc.cond);
  pthread_mutex_unlock(&nm__nc.mu);
}

void nm__nc_cmd_connect(int64_t id, const cJSON *cmd) {
  connect_job_t *job;
  natsOptions *opts = NULL;
  const char *why = NULL;
  natsStatus s;

  pthread_mutex_lock(&nm__nc.mu);
  if (nm__nc.connect_tried) {
    pthread_mutex_unlock(&nm__nc.mu);
    nm_drv_emit(nm_drv_err(id, "other", "this driver holds one connection"));
    return;
  }
  pthread_mutex_unlock(&nm__nc.mu);

  s = natsOptions_Create(&opts);
  if (s == NATS_OK)
    s = set_options(opts, cmd, &why);
  if (s != NATS_OK) {
    natsOptions_Destroy(opts);
    if (why != NULL)
      nm_drv_emit(nm_drv_err(id, "bad_command", why));
    else
      nm__nc_reply_status(id, s);
    return;
  }
  job = malloc(sizeof(*job));
  if (job == NULL) {
    natsOptions_Destroy(opts);
    nm_drv_emit(nm_drv_err(id, "other", "out of memory"));
    return;
  }
  job->id = id;
  job->opts = opts;
  pthread_mutex_lock(&nm__nc.mu);
  nm__nc.connect_tried = 1;
  nm__nc.connecting = 1;
  nm__nc.drain_timeout_ms = nm_drv_int(cmd, "drain_timeout_ms", 0);
  pthread_mutex_unlock(&nm__nc.mu);
  if (nm__nc_spawn(connect_worker, job, 0) != 0) {
    natsOptions_Destroy(opts);
    free(job);
    pthread_mutex_lock(&nm__nc.mu);
    nm__nc.connecting = 0;
    nm__nc.connect_tried = 0;
    pthread_cond_broadcast(&nm__nc.cond);
    pthread_mutex_unlock(&nm__nc.mu);
    nm_drv_emit(nm_drv_err(id, "other", "cannot start a worker thread"));
  }
}
