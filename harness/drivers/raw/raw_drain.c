/* natsmock-driver-raw: the connection drain, done the way a correct client
 * does it: UNSUB every live subscription, PING; once its PONG came, every
 * handler is idle and no request waits for its reply, UNSUB the request
 * inbox, refuse publishes and PING again; on that PONG close, emit closed,
 * answer ok. The switch drain_skip_unsub leaves out the UNSUBs. */
#include <string.h>

#include "nm_drv_util.h"
#include "nm_encode.h"
#include "raw_driver.h"

/* The publishes' flush: the last step before the close. */
static void drain_flush(void) {
  nm__raw.drain_phase = 3;
  nm__raw.draining_pubs = 1;
  /* The request inbox goes last: requests in flight got their replies. */
  nm__raw_request_unsub();
  if (nm__raw_ping(NM_RAW_PING_CONN_FLUSH, nm__raw.drain_id, -1, 0) < 0) {
    nm__raw.user_closed = 1;
    nm__raw_close();
  }
}

void nm__raw_cmd_drain(int64_t id, const cJSON *cmd) {
  int64_t timeout = nm_drv_int(cmd, "timeout_ms", 30000);
  nm_buf_t b;
  int i, r = 0;

  if (!nm__raw.established || nm__raw.closing) {
    nm_drv_emit(nm_drv_err(
        id,
        nm__raw.tcp_init || nm__raw.reconnecting ? "disconnected" : "closed",
        "not connected"));
    return;
  }
  if (nm__raw.drain_id >= 0) {
    nm_drv_emit(nm_drv_err(id, "draining", "a drain is in progress"));
    return;
  }
  nm_buf_init(&b, 64 * 1024 * 1024);
  for (i = 0; i < nm__raw.nsubs; i++) {
    nm_raw_sub_t *s = nm__raw.subs[i];
    char sid[24];
    if (s->unsubscribed)
      continue;
    s->unsubscribed = 1;
    s->draining = 1;
    s->drain_ponged = 0;
    s->drain_id = -1; /* answered by the connection drain */
    if (nm__raw.misbehave & NM_RAW_DRAIN_SKIP_UNSUB)
      continue; /* the bug: the server keeps the interest */
    snprintf(sid, sizeof(sid), "%llu", (unsigned long long)s->sid);
    if (r == 0)
      r = nm_encode_unsub(&b, nm_slice_str(sid), -1);
  }
  if (r == 0 && b.len > 0)
    r = nm__raw_write(b.base, b.len, -1);
  nm_buf_free(&b);
  nm__raw.drain_id = id;
  nm__raw.drain_phase = 1;
  if (r == 0)
    r = nm__raw_ping(NM_RAW_PING_CONN_DRAIN, id, -1, timeout);
  if (r < 0) {
    nm__raw.drain_id = -1;
    nm__raw.drain_phase = 0;
    nm_drv_emit(nm_drv_err(id, "other", "drain could not be written"));
  }
}

void nm__raw_drain_pong(nm_raw_ping_kind_t kind) {
  int i;
  if (nm__raw.drain_id < 0)
    return;
  if (kind == NM_RAW_PING_CONN_DRAIN) {
    /* Every MSG sent before the UNSUBs has arrived; later ones are
     * dropped. */
    for (i = 0; i < nm__raw.nsubs; i++)
      if (nm__raw.subs[i]->draining)
        nm__raw_drain_ponged(i);
    nm__raw.drain_phase = 2;
    nm__raw_drain_check();
    return;
  }
  /* The last PONG: close; on_close emits closed and answers the drain. */
  nm__raw.close_id = nm__raw.drain_id;
  nm__raw.drain_id = -1;
  nm__raw.drain_phase = 0;
  nm__raw.user_closed = 1;
  nm__raw_close();
}

void nm__raw_drain_check(void) {
  if (nm__raw.drain_id >= 0 && nm__raw.drain_phase == 2 &&
      nm__raw_subs_idle() && nm__raw_request_pending() == 0)
    drain_flush();
}
