/* natsmock-driver-nats-c: the shared state, status mapping, worker threads
 * and the subscription table. */
#include <stdlib.h>
#include <string.h>

#include "nc_driver.h"
#include "nm_drv_util.h"

nm_nc_t nm__nc = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
};

const char *nm__nc_code(natsStatus s) {
  switch (s) {
  case NATS_TIMEOUT:
    return "timeout";
  case NATS_CONNECTION_CLOSED:
  case NATS_INVALID_SUBSCRIPTION:
    return "closed";
  case NATS_DRAINING:
    return "draining";
  case NATS_CONNECTION_DISCONNECTED:
  case NATS_NO_SERVER:
  case NATS_IO_ERROR:
  case NATS_STALE_CONNECTION:
  case NATS_NOT_YET_CONNECTED:
    return "disconnected";
  case NATS_MAX_PAYLOAD:
    return "max_payload";
  case NATS_INVALID_SUBJECT:
  case NATS_INVALID_QUEUE_NAME:
    return "bad_subject";
  case NATS_NO_SERVER_SUPPORT:
    return "not_supported";
  case NATS_INSUFFICIENT_BUFFER:
    return "buffer_full";
  case NATS_NO_RESPONDERS:
    return "no_responders";
  case NATS_CONNECTION_AUTH_FAILED:
  case NATS_NOT_PERMITTED:
    return "auth";
  default:
    return "other";
  }
}

cJSON *nm__nc_err_obj(int64_t id, natsStatus s) {
  natsStatus last = NATS_OK;
  const char *text = nats_GetLastError(&last);
  /* The thread's last error belongs to this failure only when it carries
   * the same status; otherwise the status' own text is the library's. */
  if (text == NULL || text[0] == '\0' || last != s)
    text = natsStatus_GetText(s);
  return nm_drv_err(id, nm__nc_code(s), text);
}

void nm__nc_reply_status(int64_t id, natsStatus s) {
  nm_drv_emit(nm__nc_err_obj(id, s));
}

natsConnection *nm__nc_conn(void) {
  natsConnection *nc;
  pthread_mutex_lock(&nm__nc.mu);
  /* Commands after a connect need its connection: libnats has none to give
   * until the connect call returns, so they wait for it (connect's own
   * timeout bounds the wait). */
  while (nm__nc.connecting)
    pthread_cond_wait(&nm__nc.cond, &nm__nc.mu);
  nc = nm__nc.nc;
  pthread_mutex_unlock(&nm__nc.mu);
  return nc;
}

nm_nc_sub_t *nm__nc_sub_find(const char *tag) {
  nm_nc_sub_t *found = NULL;
  int i;
  pthread_mutex_lock(&nm__nc.mu);
  for (i = nm__nc.nsubs - 1; i >= 0; i--) {
    if (strcmp(nm__nc.subs[i]->tag, tag) == 0) {
      found = nm__nc.subs[i];
      break;
    }
  }
  pthread_mutex_unlock(&nm__nc.mu);
  return found;
}

const char *nm__nc_sub_tag(natsSubscription *sub) {
  const char *tag = NULL;
  int i;
  if (sub == NULL)
    return NULL;
  pthread_mutex_lock(&nm__nc.mu);
  for (i = nm__nc.nsubs - 1; i >= 0; i--) {
    if (nm__nc.subs[i]->sub == sub) {
      tag = nm__nc.subs[i]->tag; /* tags never change or go away */
      break;
    }
  }
  pthread_mutex_unlock(&nm__nc.mu);
  return tag;
}
