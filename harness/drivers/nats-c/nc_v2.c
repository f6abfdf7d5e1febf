/* natsmock-driver-nats-c: protocol version 2 — batch, on_msg handler
 * actions and info (docs/DRIVER-PROTOCOL.md). */
#include <stdlib.h>
#include <string.h>

#include "nc_driver.h"
#include "nm_drv_util.h"

void nm__nc_cmd_batch(int64_t id, const cJSON *cmd) {
  const cJSON *c, *list = cJSON_GetObjectItemCaseSensitive(cmd, "commands");
  if (!cJSON_IsArray(list)) {
    nm_drv_emit(nm_drv_err(id, "bad_command", "batch needs \"commands\""));
    return;
  }
  /* Every entry starts on the executor, back to back: no stdin read, no
   * wait in between (a blocking call starts on its worker as usual). */
  cJSON_ArrayForEach(c, list) {
    int64_t cid = nm_drv_int(c, "id", -1);
    const char *op = nm_drv_str(c, "op");
    if (cid < 0 || op == NULL || strcmp(op, "batch") == 0 ||
        strcmp(op, "exit") == 0)
      nm_drv_emit(nm_drv_err(cid, "bad_command",
                             "a batch entry needs an id and an op (not batch "
                             "or exit)"));
    else
      nm__nc_dispatch(cid, op, c);
  }
  nm_drv_emit(nm_drv_ok(id));
}

/* A handler's flush: natsConnection_FlushTimeout on the handler's own
 * thread, as a user's handler calls it; the result is written when it
 * returns, before the handler goes on. */
static void action_flush(int64_t id, const cJSON *a) {
  natsConnection *nc = nm__nc_conn();
  int64_t t = nm_drv_int(a, "timeout_ms", 0);
  natsStatus s;
  if (nc == NULL) {
    nm_drv_emit(nm_drv_err(id, "closed", "not connected"));
    return;
  }
  s = t > 0 ? natsConnection_FlushTimeout(nc, t) : natsConnection_Flush(nc);
  if (s == NATS_OK)
    nm_drv_emit(nm_drv_ok(id));
  else
    nm__nc_reply_status(id, s);
}

static void action_request(int64_t id, const cJSON *a) {
  const char *subject = nm_drv_str(a, "subject");
  const cJSON *headers = cJSON_GetObjectItemCaseSensitive(a, "headers");
  natsConnection *nc = nm__nc_conn();
  natsMsg *msg = NULL, *reply = NULL;
  const char *why = NULL;
  char *buf = NULL;
  size_t n = 0;
  natsStatus s;

  if (subject == NULL || nm_drv_payload(a, 1, &buf, &n, &why) != 0) {
    nm_drv_emit(
        nm_drv_err(id, "bad_command", why ? why : "request needs \"subject\""));
    return;
  }
  if (nc == NULL) {
    free(buf);
    nm_drv_emit(nm_drv_err(id, "closed", "not connected"));
    return;
  }
  s = nm__nc_msg_build(&msg, subject, NULL, buf, n, headers);
  free(buf);
  if (s == NATS_OK)
    s = natsConnection_RequestMsg(
        &reply, nc, msg, nm_drv_int(a, "timeout_ms", NM_NC_REQUEST_TIMEOUT_MS));
  if (s == NATS_OK) {
    cJSON *ok = nm_drv_ok(id);
    nm_drv_add_payload(ok, natsMsg_GetData(reply),
                       (size_t)natsMsg_GetDataLength(reply), 0);
    nm__nc_add_headers(ok, reply);
    nm_drv_emit(ok);
  } else {
    nm__nc_reply_status(id, s);
  }
  natsMsg_Destroy(reply);
  natsMsg_Destroy(msg);
}

void nm__nc_run_actions(nm_nc_sub_t *ctx, int64_t k) {
  const cJSON *a;
  cJSON_ArrayForEach(a, ctx->on_msg) {
    int64_t id = nm_drv_int(a, "id", -1);
    const char *op = nm_drv_str(a, "op");
    cJSON *ev;
    if (nm_drv_int(a, "at", 0) != k || id < 0 || op == NULL)
      continue;
    ev = nm_drv_event("action");
    cJSON_AddNumberToObject(ev, "id", (double)id);
    cJSON_AddStringToObject(ev, "sub", ctx->tag);
    cJSON_AddNumberToObject(ev, "at", (double)k);
    nm_drv_emit(ev);
    if (strcmp(op, "flush") == 0)
      action_flush(id, a);
    else if (strcmp(op, "request") == 0)
      action_request(id, a);
    else if (strcmp(op, "publish") == 0 || strcmp(op, "unsubscribe") == 0 ||
             strcmp(op, "drain_sub") == 0 || strcmp(op, "drain") == 0 ||
             strcmp(op, "close") == 0)
      /* Calls that return at once in libnats (a drain's or close's end is
       * awaited on a worker, as for a command). */
      nm__nc_dispatch(id, op, a);
    else
      nm_drv_emit(nm_drv_err(id, "bad_command", "not a handler action"));
  }
}

static const char *status_name(natsConnStatus st) {
  switch (st) {
  case NATS_CONN_STATUS_DISCONNECTED:
    return "disconnected";
  case NATS_CONN_STATUS_CONNECTING:
    return "connecting";
  case NATS_CONN_STATUS_CONNECTED:
    return "connected";
  case NATS_CONN_STATUS_CLOSED:
    return "closed";
  case NATS_CONN_STATUS_RECONNECTING:
    return "reconnecting";
  case NATS_CONN_STATUS_DRAINING_SUBS:
    return "draining_subs";
  case NATS_CONN_STATUS_DRAINING_PUBS:
    return "draining_pubs";
  }
  return "unknown";
}

static void add_servers(cJSON *o, const char *key, char **list, int n) {
  cJSON *a = cJSON_AddArrayToObject(o, key);
  for (int i = 0; i < n; i++) {
    cJSON_AddItemToArray(a, cJSON_CreateString(list[i]));
    free(list[i]);
  }
  free(list);
}

void nm__nc_cmd_info(int64_t id, const cJSON *cmd) {
  natsConnection *nc = nm__nc_conn();
  cJSON *ok = nm_drv_ok(id), *subs;
  char url[256], **list = NULL;
  int n = 0;
  natsStatistics *stats = NULL;
  (void)cmd;
  if (nc == NULL) {
    cJSON_AddStringToObject(ok, "status", "closed");
    nm_drv_emit(ok);
    return;
  }
  cJSON_AddStringToObject(ok, "status", status_name(natsConnection_Status(nc)));
  if (natsConnection_GetConnectedUrl(nc, url, sizeof(url)) == NATS_OK && url[0])
    cJSON_AddStringToObject(ok, "connected_url", url);
  if (natsConnection_GetServers(nc, &list, &n) == NATS_OK)
    add_servers(ok, "servers", list, n);
  list = NULL;
  n = 0;
  if (natsConnection_GetDiscoveredServers(nc, &list, &n) == NATS_OK)
    add_servers(ok, "discovered", list, n);
  if (natsStatistics_Create(&stats) == NATS_OK &&
      natsConnection_GetStats(nc, stats) == NATS_OK) {
    uint64_t rc = 0;
    natsStatistics_GetCounts(stats, NULL, NULL, NULL, NULL, &rc);
    cJSON_AddNumberToObject(ok, "reconnects", (double)rc);
  }
  natsStatistics_Destroy(stats);
  cJSON_AddNumberToObject(ok, "max_payload",
                          (double)natsConnection_GetMaxPayload(nc));
  {
    const char *last = NULL;
    if (natsConnection_GetLastError(nc, &last) != NATS_OK && last && last[0])
      cJSON_AddStringToObject(ok, "last_error", last);
  }
  subs = cJSON_AddArrayToObject(ok, "subs");
  pthread_mutex_lock(&nm__nc.mu);
  for (int i = 0; i < nm__nc.nsubs; i++) {
    nm_nc_sub_t *c = nm__nc.subs[i];
    cJSON *x;
    int pm = 0, pb = 0;
    int64_t delivered = 0, dropped = 0;
    if (c->sub == NULL)
      continue;
    x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "sub", c->tag);
    cJSON_AddBoolToObject(x, "valid", natsSubscription_IsValid(c->sub));
    if (natsSubscription_GetDelivered(c->sub, &delivered) == NATS_OK)
      cJSON_AddNumberToObject(x, "delivered", (double)delivered);
    if (natsSubscription_GetDropped(c->sub, &dropped) == NATS_OK)
      cJSON_AddNumberToObject(x, "dropped", (double)dropped);
    if (natsSubscription_GetPending(c->sub, &pm, &pb) == NATS_OK) {
      cJSON_AddNumberToObject(x, "pending_msgs", pm);
      cJSON_AddNumberToObject(x, "pending_bytes", pb);
    }
    cJSON_AddItemToArray(subs, x);
  }
  pthread_mutex_unlock(&nm__nc.mu);
  nm_drv_emit(ok);
}
