/* natsmock-driver-raw: what the driver does with each frame the server
 * sends (after reporting it as a `frame` event), and its own keepalive
 * PINGs. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nm_drv_util.h"
#include "raw_driver.h"

/* INFO: the payload limit, lame duck mode, and servers not seen before. */
static void on_info(const nm_frame_t *f) {
  cJSON *info = cJSON_ParseWithLength(f->json.p, f->json.n);
  const cJSON *mp = cJSON_GetObjectItemCaseSensitive(info, "max_payload");
  const cJSON *urls = cJSON_GetObjectItemCaseSensitive(info, "connect_urls");
  const cJSON *u;
  cJSON *added = NULL;

  /* Like a client, publish refuses payloads over the server's limit. */
  if (cJSON_IsNumber(mp))
    nm__raw.max_payload = (int64_t)mp->valuedouble;
  cJSON_ArrayForEach(u, urls) {
    int i, known = 0;
    if (!cJSON_IsString(u))
      continue;
    for (i = 0; i < nm__raw.nknown && !known; i++)
      known = strcmp(nm__raw.known[i], u->valuestring) == 0;
    if (known || nm__raw.nknown >= NM_RAW_MAX_KNOWN)
      continue;
    nm__raw.known[nm__raw.nknown] = strdup(u->valuestring);
    if (nm__raw.known[nm__raw.nknown] == NULL)
      continue;
    nm__raw.nknown++;
    if (added == NULL)
      added = cJSON_CreateArray();
    cJSON_AddItemToArray(added, cJSON_CreateString(u->valuestring));
  }
  /* Servers listed in the first INFO are not news: clients report only
   * what an INFO after the handshake adds. */
  if (added != NULL && nm__raw.established) {
    cJSON *ev = nm_drv_event("discovered");
    cJSON_AddItemToObject(ev, "servers", added);
    nm_drv_emit(ev);
  } else {
    cJSON_Delete(added);
  }
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(info, "ldm")))
    nm_drv_emit(nm_drv_event("lame_duck"));
  cJSON_Delete(info);
}

/* -ERR, as the nats.c and nats.go clients treat it: permission and subject
 * errors leave the connection up; Stale Connection means reconnect; auth
 * errors are reported (the server closes); anything else closes the
 * connection for good. */
static void on_err(const nm_frame_t *f) {
  char text[512];
  const char *p = f->text.p;
  size_t n = f->text.n;
  int auth;
  cJSON *ev;

  while (n > 0 && (*p == ' ' || *p == '\''))
    p++, n--;
  while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\''))
    n--;
  snprintf(text, sizeof(text), "%.*s", (int)n, p);
  auth = strstr(text, "Authorization Violation") != NULL ||
         strstr(text, "Authentication") != NULL;
  ev = nm_drv_event("error");
  cJSON_AddStringToObject(ev, "code", auth ? "auth" : "other");
  cJSON_AddStringToObject(ev, "error", text);
  nm_drv_emit(ev);
  if (auth || strstr(text, "Permissions Violation") != NULL ||
      strstr(text, "Invalid Subject") != NULL ||
      strstr(text, "Invalid Publish Subject") != NULL ||
      strstr(text, "maximum subscriptions exceeded") != NULL)
    return;
  if (strcasecmp(text, "Stale Connection") != 0)
    nm__raw.no_reconnect = 1;
  nm__raw_close();
}

int nm__raw_on_frame(nm_parser_t *parser, const nm_frame_t *f) {
  char line[NM_RAW_FRAME_LINE_MAX + 1];
  size_t n =
      f->line.n < NM_RAW_FRAME_LINE_MAX ? f->line.n : NM_RAW_FRAME_LINE_MAX;
  cJSON *ev = nm_drv_event("frame");

  (void)parser;
  memcpy(line, f->line.p, n);
  line[n] = '\0';
  cJSON_AddStringToObject(ev, "verb", nm_op_name(f->op));
  cJSON_AddStringToObject(ev, "line", line);
  cJSON_AddNumberToObject(ev, "size", (double)f->payload.n);
  nm_drv_emit(ev);

  switch (f->op) {
  case NM_OP_INFO:
    on_info(f);
    break;
  case NM_OP_PING:
    if (!(nm__raw.misbehave & NM_RAW_IGNORE_SERVER_PING))
      nm__raw_write("PONG\r\n", 6, -1);
    break;
  case NM_OP_PONG:
    nm__raw.pings_out = 0; /* any PONG shows the server is alive */
    nm__raw_pong();
    break;
  case NM_OP_ERR:
    on_err(f);
    break;
  case NM_OP_MSG:
  case NM_OP_HMSG:
    nm__raw_deliver(f);
    break;
  default:
    break;
  }
  return 0;
}

/* Keepalive: a PING each interval; more than max_pings_out unanswered means
 * the connection is stale, and it is dropped (then reconnected when
 * allowed). */
static void on_keepalive(uv_timer_t *t) {
  (void)t;
  if (!nm__raw.established)
    return;
  if (nm__raw.pings_out >= nm__raw.max_pings_out) {
    cJSON *ev = nm_drv_event("error");
    cJSON_AddStringToObject(ev, "code", "disconnected");
    cJSON_AddStringToObject(ev, "error", "stale connection");
    nm_drv_emit(ev);
    nm__raw_close();
    return;
  }
  nm__raw.pings_out++;
  nm__raw_ping(NM_RAW_PING_SILENT, -1, -1, 0);
}

void nm__raw_keepalive_start(void) {
  nm__raw.pings_out = 0;
  if (nm__raw.ping_interval_ms > 0)
    uv_timer_start(&nm__raw.ka_timer, on_keepalive,
                   (uint64_t)nm__raw.ping_interval_ms,
                   (uint64_t)nm__raw.ping_interval_ms);
}

void nm__raw_keepalive_stop(void) {
  uv_timer_stop(&nm__raw.ka_timer);
}
