/* natsmock-driver-raw: the commands. Each runs to its end at once or leaves
 * its reply to the connection (a write, a PONG, a timer). */
#include <stdlib.h>
#include <string.h>

#include "nm_drv_util.h"
#include "nm_encode.h"
#include "raw_driver.h"

/* A publish command's count. */
#define NM_RAW_MAX_COUNT 10000000
/* A header block built from a command. */
#define NM_RAW_MAX_HEADERS (64 * 1024)

static const struct {
  const char *name;
  unsigned bit;
} kSwitches[] = {
    {"flush_ok_early", NM_RAW_FLUSH_OK_EARLY},
    {"reorder_publish", NM_RAW_REORDER_PUBLISH},
    {"drop_publish", NM_RAW_DROP_PUBLISH},
    {"ignore_server_ping", NM_RAW_IGNORE_SERVER_PING},
    {"drain_early", NM_RAW_DRAIN_EARLY},
    {"deliver_after_unsub", NM_RAW_DELIVER_AFTER_UNSUB},
    {"no_connect_first_on_reconnect", NM_RAW_NO_CONNECT_FIRST},
    {"hold_lone_publish", NM_RAW_HOLD_LONE_PUBLISH},
    {"closed_twice", NM_RAW_CLOSED_TWICE},
    {"flush_no_timeout", NM_RAW_FLUSH_NO_TIMEOUT},
    {"pong_lifo", NM_RAW_PONG_LIFO},
    {"reorder_delivery", NM_RAW_REORDER_DELIVERY},
    {"drop_delivery", NM_RAW_DROP_DELIVERY},
    {"resub_full_max", NM_RAW_RESUB_FULL_MAX},
    {"drain_skip_unsub", NM_RAW_DRAIN_SKIP_UNSUB},
};

static void reply_err(int64_t id, const char *code, const char *text) {
  nm_drv_emit(nm_drv_err(id, code, text));
}

/* 1: the connection is established; 2: reconnecting (publishes and
 * flushes are buffered, subscriptions are kept for the resubscribe);
 * 0: neither, and the error reply has been given. */
static int need_conn(int64_t id) {
  if (nm__raw.established && !nm__raw.closing)
    return 1;
  if (nm__raw.reconnecting)
    return 2;
  if (nm__raw.tcp_init)
    reply_err(id, "disconnected", "not connected (connecting)");
  else
    reply_err(id, "closed", "not connected");
  return 0;
}

/* For commands that need the live connection. */
static int need_up(int64_t id) {
  int c = need_conn(id);
  if (c == 2)
    reply_err(id, "disconnected", "not connected (reconnecting)");
  return c == 1;
}

static void reply_write_err(int64_t id, int r) {
  if (r == NM_ETOOBIG)
    reply_err(id, "buffer_full", "outbound bytes over the driver's limit");
  else if (r == NM_ECLOSED)
    reply_err(id, "disconnected", "not connected");
  else
    reply_err(id, "other", r < 0 && r > -5000 ? uv_strerror(r) : "write");
}

void nm__raw_release_held(void) {
  if (nm__raw.held.len > 0)
    nm__raw_send(nm__raw.held.base, nm__raw.held.len);
  nm_buf_clear(&nm__raw.held);
  nm__raw.held_count = 0;
}

int nm__raw_publish_frame(const char *subject, const char *reply,
                          const char *hdrs, size_t hdr_len, const char *data,
                          size_t n) {
  nm_buf_t b;
  unsigned m = nm__raw.misbehave;
  int r;

  nm_buf_init(&b, NM_RAW_MAX_OUT);
  if (hdrs != NULL) {
    char *all = malloc(hdr_len + n + 1);
    if (all == NULL)
      return NM_ENOMEM;
    memcpy(all, hdrs, hdr_len);
    memcpy(all + hdr_len, data, n);
    r = nm_encode_hpub(&b, nm_slice_str(subject), nm_slice_str(reply), hdr_len,
                       (nm_slice_t){all, hdr_len + n});
    free(all);
  } else {
    r = nm_encode_pub(&b, nm_slice_str(subject), nm_slice_str(reply),
                      (nm_slice_t){data, n});
  }
  if (r < 0) {
    nm_buf_free(&b);
    return r;
  }
  nm__raw.pubs++;
  if ((m & NM_RAW_DROP_PUBLISH) && nm__raw.pubs == 3) {
    r = 0; /* the third PUB never leaves, yet the publish reports ok */
  } else if (m & NM_RAW_HOLD_LONE_PUBLISH) {
    /* Kept until the next command arrives: a lone publish waits for
     * company, which is exactly the bug. */
    r = nm_buf_append(&nm__raw.held, b.base, b.len);
    nm__raw.held_count++;
  } else if ((m & NM_RAW_REORDER_PUBLISH) && nm__raw.held_count == 0) {
    /* The first of each pair waits and goes out after the second. */
    r = nm_buf_append(&nm__raw.held, b.base, b.len);
    nm__raw.held_count = 1;
  } else {
    r = nm__raw_send(b.base, b.len);
    if (r == 0 && (m & NM_RAW_REORDER_PUBLISH))
      nm__raw_release_held();
  }
  nm_buf_free(&b);
  return r;
}

static int parse_url(const char *url) {
  const char *p = url, *at, *colon;
  size_t hlen;

  if (strncmp(p, "nats://", 7) == 0)
    p += 7;
  else if (strncmp(p, "tcp://", 6) == 0)
    p += 6;
  if ((at = strchr(p, '@')) != NULL)
    p = at + 1; /* credentials are not the raw driver's business */
  colon = strrchr(p, ':');
  if (colon == NULL)
    return -1;
  hlen = (size_t)(colon - p);
  if (hlen == 0 || hlen >= sizeof(nm__raw.host))
    return -1;
  memcpy(nm__raw.host, p, hlen);
  nm__raw.host[hlen] = '\0';
  if (strcmp(nm__raw.host, "localhost") == 0)
    strcpy(nm__raw.host, "127.0.0.1");
  nm__raw.port = atoi(colon + 1);
  return nm__raw.port > 0 && nm__raw.port < 65536 ? 0 : -1;
}

static void cmd_connect(int64_t id, const cJSON *cmd) {
  const cJSON *servers = cJSON_GetObjectItemCaseSensitive(cmd, "servers");
  const cJSON *mis = cJSON_GetObjectItemCaseSensitive(cmd, "misbehave");
  const cJSON *it;
  const cJSON *first = cJSON_GetArrayItem(servers, 0);
  unsigned bits = 0;
  size_t i;
  int r;

  if (nm__raw.tcp_init || nm__raw.established || nm__raw.reconnecting) {
    reply_err(id, "other", "this driver holds one connection");
    return;
  }
  if (!cJSON_IsString(first) || parse_url(first->valuestring) != 0) {
    reply_err(id, "bad_command", "\"servers\"[0] must be a host:port URL");
    return;
  }
  cJSON_ArrayForEach(it, mis) {
    for (i = 0; i < sizeof(kSwitches) / sizeof(kSwitches[0]); i++)
      if (cJSON_IsString(it) && strcmp(it->valuestring, kSwitches[i].name) == 0)
        break;
    if (i == sizeof(kSwitches) / sizeof(kSwitches[0])) {
      reply_err(id, "bad_command", "unknown \"misbehave\" switch");
      return;
    }
    bits |= kSwitches[i].bit;
  }
  nm__raw.misbehave = bits;
  snprintf(nm__raw.name, sizeof(nm__raw.name), "%s",
           nm_drv_str(cmd, "name") != NULL ? nm_drv_str(cmd, "name") : "");
  nm__raw.handshake = nm_drv_bool(cmd, "handshake", 1);
  nm__raw.no_responders = nm_drv_bool(cmd, "no_responders", 0);
  nm__raw.reconnect = nm_drv_bool(cmd, "reconnect", 0);
  nm__raw.reconnect_wait_ms = nm_drv_int(cmd, "reconnect_wait_ms", 100);
  nm__raw_max_reconnect = nm_drv_int(cmd, "max_reconnect", 10);
  nm__raw.rbuf_limit =
      nm_drv_int(cmd, "reconnect_buf_bytes", NM_RAW_RECONNECT_BUF);
  nm__raw.ping_interval_ms = nm_drv_int(cmd, "ping_interval_ms", 0);
  nm__raw.max_pings_out = nm_drv_int(cmd, "max_pings_out", 2);
  nm__raw.attempts = 0;
  nm__raw.no_reconnect = 0;
  nm__raw.user_closed = 0;
  nm__raw.drain_id = -1;
  nm__raw.drain_phase = 0;
  nm__raw.draining_pubs = 0;
  nm__raw.connect_id = id;
  r = nm__raw_dial();
  if (r < 0 && nm__raw.connect_id >= 0) {
    nm__raw.connect_id = -1;
    reply_err(id, "disconnected", uv_strerror(r));
  }
}

static void cmd_send(int64_t id, const cJSON *cmd) {
  const char *why = NULL;
  char *buf;
  size_t n;
  int r;

  if (nm_drv_str(cmd, "data") == NULL && nm_drv_str(cmd, "data_b64") == NULL) {
    reply_err(id, "bad_command", "send needs \"data\" or \"data_b64\"");
    return;
  }
  if (nm_drv_payload(cmd, 1, &buf, &n, &why) != 0) {
    reply_err(id, "bad_command", why);
    return;
  }
  if (need_up(id)) {
    r = nm__raw_write(buf, n, id); /* ok once written */
    if (r < 0)
      reply_write_err(id, r);
  }
  free(buf);
}

/* Builds "NATS/1.0\r\nK: v\r\n...\r\n" from {"K":["v",...]}. */
int nm__raw_build_headers(const cJSON *h, nm_buf_t *b) {
  const cJSON *k, *v;
  if (nm_buf_append_str(b, "NATS/1.0\r\n") < 0)
    return -1;
  cJSON_ArrayForEach(k, h) {
    if (cJSON_IsString(k)) {
      if (nm_buf_appendf(b, "%s: %s\r\n", k->string, k->valuestring) < 0)
        return -1;
      continue;
    }
    if (!cJSON_IsArray(k))
      return -1;
    cJSON_ArrayForEach(v, k) {
      if (!cJSON_IsString(v) ||
          nm_buf_appendf(b, "%s: %s\r\n", k->string, v->valuestring) < 0)
        return -1;
    }
  }
  return nm_buf_append_str(b, "\r\n") < 0 ? -1 : 0;
}

static void cmd_publish(int64_t id, const cJSON *cmd) {
  const char *subject = nm_drv_str(cmd, "subject");
  const char *reply = nm_drv_str(cmd, "reply");
  const cJSON *headers = cJSON_GetObjectItemCaseSensitive(cmd, "headers");
  int64_t count = nm_drv_int(cmd, "count", 1), k;
  nm_buf_t hb;

  if (subject == NULL || subject[0] == '\0' || count < 1 ||
      count > NM_RAW_MAX_COUNT ||
      (headers != NULL && !cJSON_IsObject(headers))) {
    reply_err(id, "bad_command",
              "publish needs \"subject\"; count 1..10000000; headers an "
              "object");
    return;
  }
  if (!need_conn(id))
    return;
  if (nm__raw.draining_pubs) {
    reply_err(id, "draining", "the connection is draining");
    return;
  }
  nm_buf_init(&hb, NM_RAW_MAX_HEADERS);
  if (headers != NULL && nm__raw_build_headers(headers, &hb) != 0) {
    nm_buf_free(&hb);
    reply_err(id, "bad_command", "bad \"headers\"");
    return;
  }
  for (k = 1; k <= count; k++) {
    const char *why = NULL;
    char *buf;
    size_t n;
    int r;
    if (nm_drv_payload(cmd, (uint64_t)k, &buf, &n, &why) != 0) {
      cJSON *e = nm_drv_err(id, "bad_command", why);
      cJSON_AddNumberToObject(e, "published", (double)(k - 1));
      nm_drv_emit(e);
      nm_buf_free(&hb);
      return;
    }
    if ((int64_t)(n + hb.len) > nm__raw.max_payload) {
      cJSON *e = nm_drv_err(id, "max_payload",
                            "payload over the server's max_payload");
      cJSON_AddNumberToObject(e, "published", (double)(k - 1));
      nm_drv_emit(e);
      free(buf);
      nm_buf_free(&hb);
      return;
    }
    r = nm__raw_publish_frame(subject, reply, headers ? hb.base : NULL, hb.len,
                              buf, n);
    free(buf);
    if (r < 0) {
      cJSON *e = nm_drv_err(id, r == NM_ETOOBIG ? "buffer_full" : "other",
                            "publish could not be queued");
      cJSON_AddNumberToObject(e, "published", (double)(k - 1));
      nm_drv_emit(e);
      nm_buf_free(&hb);
      return;
    }
  }
  nm_buf_free(&hb);
  nm_drv_emit(nm_drv_ok(id));
}

static void cmd_subscribe(int64_t id, const cJSON *cmd) {
  const char *tag = nm_drv_str(cmd, "sub");
  const char *subject = nm_drv_str(cmd, "subject");
  const char *queue = nm_drv_str(cmd, "queue");
  const char *reply_with = nm_drv_str(cmd, "reply_with");
  int64_t max = nm_drv_int(cmd, "max", 0);
  nm_raw_sub_t *s;
  char sid[24];
  nm_buf_t b;
  int r;

  if (tag == NULL || subject == NULL || strlen(tag) >= NM_RAW_TAG_MAX) {
    reply_err(id, "bad_command",
              "subscribe needs \"sub\" (under 128 bytes) and \"subject\"");
    return;
  }
  if (!need_conn(id))
    return;
  if (nm__raw.nsubs >= NM_RAW_MAX_SUBS) {
    reply_err(id, "other", "too many subscriptions");
    return;
  }
  s = calloc(1, sizeof(*s));
  if (s == NULL || (s->subject = strdup(subject)) == NULL ||
      (queue != NULL && (s->queue = strdup(queue)) == NULL) ||
      (reply_with != NULL && (s->reply_with = strdup(reply_with)) == NULL)) {
    if (s != NULL) {
      free(s->subject);
      free(s->queue);
      free(s);
    }
    reply_err(id, "other", "out of memory");
    return;
  }
  snprintf(s->tag, sizeof(s->tag), "%s", tag);
  s->delay_ms = nm_drv_int(cmd, "delay_ms", 0);
  s->sid = ++nm__raw.next_sid;
  s->max = max > 0 ? max : 0;
  s->drain_id = -1;
  nm__raw.subs[nm__raw.nsubs++] = s;

  snprintf(sid, sizeof(sid), "%llu", (unsigned long long)s->sid);
  nm_buf_init(&b, NM_RAW_MAX_OUT);
  r = nm_encode_sub(&b, nm_slice_str(subject), nm_slice_str(queue),
                    nm_slice_str(sid));
  if (r == 0 && max > 0)
    r = nm_encode_unsub(&b, nm_slice_str(sid), (long long)max);
  /* While reconnecting the subscription is only kept: the resubscribe after
   * the handshake sends it. */
  if (r == 0 && nm__raw.established)
    r = nm__raw_write(b.base, b.len, -1);
  nm_buf_free(&b);
  if (r < 0)
    reply_write_err(id, r);
  else
    nm_drv_emit(nm_drv_ok(id));
}

static void cmd_unsubscribe(int64_t id, const cJSON *cmd) {
  const char *tag = nm_drv_str(cmd, "sub");
  nm_raw_sub_t *s = tag != NULL ? nm__raw_sub_find(tag) : NULL;
  int64_t max = nm_drv_int(cmd, "max", 0);
  char sid[24];
  nm_buf_t b;
  int r;

  if (s == NULL) {
    reply_err(id, "bad_command", "unknown \"sub\"");
    return;
  }
  if (!need_conn(id))
    return;
  snprintf(sid, sizeof(sid), "%llu", (unsigned long long)s->sid);
  nm_buf_init(&b, 64);
  r = nm_encode_unsub(&b, nm_slice_str(sid), max > 0 ? (long long)max : -1);
  if (r == 0 && nm__raw.established) /* else: not resubscribed later */
    r = nm__raw_write(b.base, b.len, -1);
  nm_buf_free(&b);
  if (r < 0) {
    reply_write_err(id, r);
    return;
  }
  if (max > 0)
    s->max = max;
  else
    s->unsubscribed = 1;
  nm_drv_emit(nm_drv_ok(id));
}

static void cmd_flush(int64_t id, const cJSON *cmd) {
  int early = (nm__raw.misbehave & NM_RAW_FLUSH_OK_EARLY) != 0;
  int r;
  if (!need_conn(id))
    return;
  /* flush_no_timeout: the bug of a flush that waits forever. */
  r = nm__raw_ping(early ? NM_RAW_PING_SILENT : NM_RAW_PING_FLUSH, id, -1,
                   early || (nm__raw.misbehave & NM_RAW_FLUSH_NO_TIMEOUT)
                       ? 0
                       : nm_drv_int(cmd, "timeout_ms", 10000));
  if (r < 0)
    reply_write_err(id, r);
  else if (early)
    nm_drv_emit(nm_drv_ok(id)); /* before the PONG: the bug on purpose */
}

static void cmd_drain_sub(int64_t id, const cJSON *cmd) {
  const char *tag = nm_drv_str(cmd, "sub");
  nm_raw_sub_t *s = tag != NULL ? nm__raw_sub_find(tag) : NULL;
  int early = (nm__raw.misbehave & NM_RAW_DRAIN_EARLY) != 0;
  char frame[48];
  int r, i;

  if (s == NULL || s->unsubscribed) {
    reply_err(id, s == NULL ? "bad_command" : "closed",
              s == NULL ? "unknown \"sub\"" : "already unsubscribed");
    return;
  }
  if (!need_up(id))
    return;
  for (i = 0; nm__raw.subs[i] != s; i++)
    ;
  snprintf(frame, sizeof(frame), "UNSUB %llu\r\n", (unsigned long long)s->sid);
  r = nm__raw_write(frame, strlen(frame), -1);
  if (r == 0)
    r = nm__raw_ping(NM_RAW_PING_DRAIN, id, i,
                     early ? 0 : nm_drv_int(cmd, "timeout_ms", 30000));
  if (r < 0) {
    reply_write_err(id, r);
    return;
  }
  s->unsubscribed = 1;
  s->draining = 1;
  s->drain_ponged = 0;
  s->drain_id = early ? -1 : id;
  if (early)
    nm_drv_emit(nm_drv_ok(id)); /* before the PONG: the bug on purpose */
}

static void cmd_close(int64_t id) {
  nm__raw.user_closed = 1;
  if (nm__raw.tcp_init) {
    nm__raw.close_id = id;
    nm__raw_close();
  } else if (nm__raw.reconnecting) {
    /* Between attempts: no socket to close, only the waiting to end. */
    uv_timer_stop(&nm__raw.reconnect_timer);
    nm__raw.reconnecting = 0;
    nm__raw_fail_queued("closed", "connection closed");
    nm_buf_clear(&nm__raw.rbuf);
    nm_drv_emit(nm_drv_event("closed"));
    nm_drv_emit(nm_drv_ok(id));
  } else {
    reply_err(id, "closed", "not connected");
  }
}

void nm__raw_command(const char *text) {
  cJSON *cmd = cJSON_Parse(text);
  const cJSON *idv = cJSON_GetObjectItemCaseSensitive(cmd, "id");
  const char *op = nm_drv_str(cmd, "op");
  int64_t id = nm_drv_int(cmd, "id", -1);

  /* hold_lone_publish keeps a publish until the next command: here. */
  if (nm__raw.misbehave & NM_RAW_HOLD_LONE_PUBLISH)
    nm__raw_release_held();
  if (!cJSON_IsObject(cmd)) {
    reply_err(-1, "bad_command", "not a JSON object");
  } else if (!cJSON_IsNumber(idv) || id < 0) {
    reply_err(-1, "bad_command", "missing or bad \"id\"");
  } else if (op == NULL) {
    reply_err(id, "bad_command", "missing \"op\"");
  } else if (strcmp(op, "publish") == 0) {
    cmd_publish(id, cmd);
  } else {
    /* Anything but a publish ends a pair that reorder_publish holds. */
    if (nm__raw.misbehave & NM_RAW_REORDER_PUBLISH)
      nm__raw_release_held();
    if (strcmp(op, "connect") == 0)
      cmd_connect(id, cmd);
    else if (strcmp(op, "send") == 0)
      cmd_send(id, cmd);
    else if (strcmp(op, "subscribe") == 0)
      cmd_subscribe(id, cmd);
    else if (strcmp(op, "unsubscribe") == 0)
      cmd_unsubscribe(id, cmd);
    else if (strcmp(op, "flush") == 0)
      cmd_flush(id, cmd);
    else if (strcmp(op, "drain_sub") == 0)
      cmd_drain_sub(id, cmd);
    else if (strcmp(op, "drain") == 0)
      nm__raw_cmd_drain(id, cmd);
    else if (strcmp(op, "request") == 0)
      nm__raw_cmd_request(id, cmd);
    else if (strcmp(op, "close") == 0)
      cmd_close(id);
    else if (strcmp(op, "exit") == 0) {
      /* main.c handles exit before it gets here; kept for completeness. */
      cJSON_Delete(cmd);
      nm__raw_exit(id);
      return;
    } else
      reply_err(id, "bad_command", "unknown op");
  }
  cJSON_Delete(cmd);
}
