/* natsmock-driver-nats-c: publish, subscribe, unsubscribe and the message
 * handler. All run on the executor except the handler, which runs on the
 * subscription's libnats dispatcher thread. */
#include <stdlib.h>
#include <string.h>

#include "nc_driver.h"
#include "nm_drv_util.h"
#include "nm_seq.h"

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg,
                   void *closure) {
  nm_nc_sub_t *ctx = closure;
  const char *data = natsMsg_GetData(msg);
  int n = natsMsg_GetDataLength(msg);
  const char *reply = natsMsg_GetReply(msg);
  uint64_t seq = 0;
  int has_seq = nm_seq_read(data, (size_t)n, &seq);
  cJSON *ev;

  (void)sub;
  pthread_mutex_lock(&nm__nc.mu);
  ctx->active = 1;
  pthread_mutex_unlock(&nm__nc.mu);
  ev = nm_drv_event("msg");
  cJSON_AddStringToObject(ev, "sub", ctx->tag);
  cJSON_AddStringToObject(ev, "subject", natsMsg_GetSubject(msg));
  if (reply != NULL && reply[0] != '\0')
    cJSON_AddStringToObject(ev, "reply", reply);
  cJSON_AddNumberToObject(ev, "size", n);
  nm_drv_add_payload(ev, data, (size_t)n, NM_DRV_MSG_DATA_MAX);
  nm__nc_add_headers(ev, msg);
  nm_drv_emit(ev);
  /* Protocol 2: the actions due at this message, inside this handler. */
  if (ctx->on_msg != NULL)
    nm__nc_run_actions(ctx, ++ctx->nmsgs);

  /* A real sleep: the handler is slow the way a user's code is slow, so the
   * library's queueing and drain logic see it. */
  if (ctx->delay_ms > 0)
    nats_Sleep(ctx->delay_ms);
  if (ctx->reply_with != NULL && reply != NULL && reply[0] != '\0') {
    natsStatus s = natsConnection_PublishString(nc, reply, ctx->reply_with);
    if (s != NATS_OK)
      fprintf(stderr, "nats-c driver: reply on %s: %s\n", reply,
              natsStatus_GetText(s));
  }
  if (ctx->delay_ms > 0) {
    ev = nm_drv_event("msg_done");
    cJSON_AddStringToObject(ev, "sub", ctx->tag);
    if (has_seq)
      cJSON_AddNumberToObject(ev, "seq", (double)seq);
    nm_drv_emit(ev);
  }
  natsMsg_Destroy(msg);
  pthread_mutex_lock(&nm__nc.mu);
  ctx->active = 0;
  ctx->handled++;
  pthread_cond_broadcast(&nm__nc.cond);
  pthread_mutex_unlock(&nm__nc.mu);
}

/* Under the driver's mutex. libnats counts a message as delivered when its
 * dispatcher takes it off the queue, before the handler runs; comparing
 * with the handler's own count closes the gap between the two. */
static int sub_busy(const nm_nc_sub_t *c) {
  uint64_t queued = 0;
  int64_t delivered = 0;
  if (c->active)
    return 1;
  if (c->sub == NULL)
    return 0;
  /* A closed subscription answers with an error: nothing to wait for. */
  if (natsSubscription_QueuedMsgs(c->sub, &queued) == NATS_OK && queued > 0)
    return 1;
  if (natsSubscription_GetDelivered(c->sub, &delivered) != NATS_OK)
    return 0;
  /* Past an auto-unsubscribe max, libnats drops without calling. */
  if (c->max > 0 && delivered > c->max)
    delivered = c->max;
  return delivered > c->handled;
}

void nm__nc_settle(int ms) {
  int64_t deadline = nm_drv_now_us() + (int64_t)ms * 1000;
  pthread_mutex_lock(&nm__nc.mu);
  for (;;) {
    struct timespec until;
    int busy = 0, i;
    for (i = 0; i < nm__nc.nsubs && !busy; i++)
      busy = sub_busy(nm__nc.subs[i]);
    if (!busy || nm_drv_now_us() >= deadline)
      break;
    /* Handlers signal when they end; the slice covers a message that was
     * queued while nothing ran. */
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 10 * 1000 * 1000;
    if (until.tv_nsec >= 1000000000) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&nm__nc.cond, &nm__nc.mu, &until);
  }
  pthread_mutex_unlock(&nm__nc.mu);
}

static natsConnection *conn_or_reply(int64_t id) {
  natsConnection *nc = nm__nc_conn();
  if (nc == NULL)
    nm_drv_emit(nm_drv_err(id, "closed", "not connected"));
  return nc;
}

void nm__nc_cmd_publish(int64_t id, const cJSON *cmd) {
  const char *subject = nm_drv_str(cmd, "subject");
  const char *reply = nm_drv_str(cmd, "reply");
  const cJSON *headers = cJSON_GetObjectItemCaseSensitive(cmd, "headers");
  int64_t count = nm_drv_int(cmd, "count", 1), k;
  natsConnection *nc;

  if (subject == NULL || count < 1 || count > NM_NC_MAX_COUNT ||
      (headers != NULL && !cJSON_IsObject(headers))) {
    nm_drv_emit(nm_drv_err(id, "bad_command",
                           "publish needs \"subject\"; count 1..10000000; "
                           "headers an object"));
    return;
  }
  if ((nc = conn_or_reply(id)) == NULL)
    return;
  for (k = 1; k <= count; k++) {
    const char *why = NULL;
    char *buf;
    size_t n;
    natsStatus s;

    if (nm_drv_payload(cmd, (uint64_t)k, &buf, &n, &why) != 0) {
      cJSON *e = nm_drv_err(id, "bad_command", why);
      cJSON_AddNumberToObject(e, "published", (double)(k - 1));
      nm_drv_emit(e);
      return;
    }
    if (headers != NULL) {
      natsMsg *msg = NULL;
      s = nm__nc_msg_build(&msg, subject, reply, buf, n, headers);
      if (s == NATS_OK)
        s = natsConnection_PublishMsg(nc, msg);
      natsMsg_Destroy(msg);
    } else if (reply != NULL) {
      s = natsConnection_PublishRequest(nc, subject, reply, buf, (int)n);
    } else {
      s = natsConnection_Publish(nc, subject, buf, (int)n);
    }
    free(buf);
    if (s != NATS_OK) {
      cJSON *e = nm__nc_err_obj(id, s);
      cJSON_AddNumberToObject(e, "published", (double)(k - 1));
      nm_drv_emit(e);
      return;
    }
  }
  nm_drv_emit(nm_drv_ok(id));
}

static natsStatus set_limits(natsSubscription *sub, const cJSON *cmd) {
  int64_t msgs = nm_drv_int(cmd, "pending_msgs_limit", 0);
  int64_t bytes = nm_drv_int(cmd, "pending_bytes_limit", 0);
  int cur_msgs = 0, cur_bytes = 0;
  natsStatus s;

  if (msgs == 0 && bytes == 0)
    return NATS_OK;
  s = natsSubscription_GetPendingLimits(sub, &cur_msgs, &cur_bytes);
  if (s != NATS_OK)
    return s;
  return natsSubscription_SetPendingLimits(sub,
                                           msgs != 0 ? (int)msgs : cur_msgs,
                                           bytes != 0 ? (int)bytes : cur_bytes);
}

void nm__nc_cmd_subscribe(int64_t id, const cJSON *cmd) {
  const char *tag = nm_drv_str(cmd, "sub");
  const char *subject = nm_drv_str(cmd, "subject");
  const char *queue = nm_drv_str(cmd, "queue");
  const char *reply_with = nm_drv_str(cmd, "reply_with");
  int64_t max = nm_drv_int(cmd, "max", 0);
  natsSubscription *sub = NULL;
  natsConnection *nc;
  nm_nc_sub_t *ctx;
  natsStatus s;

  if (tag == NULL || subject == NULL || strlen(tag) >= NM_NC_TAG_MAX) {
    nm_drv_emit(nm_drv_err(id, "bad_command",
                           "subscribe needs \"sub\" (under 128 bytes) and "
                           "\"subject\""));
    return;
  }
  if ((nc = conn_or_reply(id)) == NULL)
    return;
  ctx = calloc(1, sizeof(*ctx));
  if (ctx == NULL ||
      (reply_with != NULL && (ctx->reply_with = strdup(reply_with)) == NULL)) {
    free(ctx);
    nm_drv_emit(nm_drv_err(id, "other", "out of memory"));
    return;
  }
  snprintf(ctx->tag, sizeof(ctx->tag), "%s", tag);
  ctx->delay_ms = nm_drv_int(cmd, "delay_ms", 0);
  ctx->max = max > 0 ? max : 0;
  if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(cmd, "on_msg")))
    ctx->on_msg =
        cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(cmd, "on_msg"), 1);
  ctx->drv = &nm__nc;

  pthread_mutex_lock(&nm__nc.mu);
  if (nm__nc.nsubs >= NM_NC_MAX_SUBS) {
    pthread_mutex_unlock(&nm__nc.mu);
    free(ctx->reply_with);
    free(ctx);
    nm_drv_emit(nm_drv_err(id, "other", "too many subscriptions"));
    return;
  }
  /* Listed before the subscribe call: the handler can run before the call
   * returns. Entries stay for the life of the process. */
  nm__nc.subs[nm__nc.nsubs++] = ctx;
  pthread_mutex_unlock(&nm__nc.mu);

  if (queue != NULL)
    s = natsConnection_QueueSubscribe(&sub, nc, subject, queue, on_msg, ctx);
  else
    s = natsConnection_Subscribe(&sub, nc, subject, on_msg, ctx);
  if (s != NATS_OK) {
    nm__nc_reply_status(id, s);
    return; /* the listed entry keeps a NULL sub and is never matched */
  }
  pthread_mutex_lock(&nm__nc.mu);
  ctx->sub = sub;
  pthread_mutex_unlock(&nm__nc.mu);
  if (max > 0)
    s = natsSubscription_AutoUnsubscribe(sub, (int)max);
  if (s == NATS_OK)
    s = set_limits(sub, cmd);
  if (s != NATS_OK)
    nm__nc_reply_status(id, s);
  else
    nm_drv_emit(nm_drv_ok(id));
}

void nm__nc_cmd_unsubscribe(int64_t id, const cJSON *cmd) {
  const char *tag = nm_drv_str(cmd, "sub");
  int64_t max = nm_drv_int(cmd, "max", 0);
  nm_nc_sub_t *ctx = tag != NULL ? nm__nc_sub_find(tag) : NULL;
  natsSubscription *sub;
  natsStatus s;

  if (nm__nc_conn() == NULL) {
    nm_drv_emit(nm_drv_err(id, "closed", "not connected"));
    return;
  }
  pthread_mutex_lock(&nm__nc.mu);
  sub = ctx != NULL ? ctx->sub : NULL;
  pthread_mutex_unlock(&nm__nc.mu);
  if (sub == NULL) {
    nm_drv_emit(nm_drv_err(id, "bad_command", "unknown \"sub\""));
    return;
  }
  if (max > 0) {
    s = natsSubscription_AutoUnsubscribe(sub, (int)max);
    pthread_mutex_lock(&nm__nc.mu);
    ctx->max = max;
    pthread_mutex_unlock(&nm__nc.mu);
  } else {
    s = natsSubscription_Unsubscribe(sub);
  }
  if (s != NATS_OK)
    nm__nc_reply_status(id, s);
  else
    nm_drv_emit(nm_drv_ok(id));
}
