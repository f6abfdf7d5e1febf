/* The INFO a client gets through the proxy. The upstream's INFO is passed
 * as it came, byte for byte, unless it lists `connect_urls` (a cluster
 * advertising its members): clients would reconnect to those directly,
 * around the proxy, so the list is replaced by the proxy's own address
 * (option keep_connect_urls leaves it). Every other field is the server's. */
#define _GNU_SOURCE /* memmem */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_proxy_int.h"

int nm__proxy_info(nm_proxy_t *px, nm_slice_t json, nm_buf_t *out,
                   int *changed) {
  cJSON *o, *urls, *mine;
  char addr[NM_PROXY_HOST_MAX + 16], *txt;
  int r;

  *changed = 0;
  if (px->opts.keep_connect_urls)
    return 0;
  /* Cheap test first: most INFOs (a lone server) have no such field. */
  if (json.n < 14 || memmem(json.p, json.n, "\"connect_urls\"", 14) == NULL)
    return 0;
  o = cJSON_ParseWithLength(json.p, json.n);
  urls = cJSON_GetObjectItemCaseSensitive(o, "connect_urls");
  if (!cJSON_IsArray(urls)) {
    cJSON_Delete(o);
    return 0;
  }
  snprintf(addr, sizeof(addr), "%s:%d", px->opts.host, px->port);
  mine = cJSON_CreateArray();
  if (mine == NULL) {
    cJSON_Delete(o);
    return NM_ENOMEM;
  }
  cJSON_AddItemToArray(mine, cJSON_CreateString(addr));
  cJSON_ReplaceItemInObjectCaseSensitive(o, "connect_urls", mine);
  txt = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (txt == NULL)
    return NM_ENOMEM;
  /* nats-server's shape: "INFO " json " \r\n". */
  r = nm_buf_appendf(out, "INFO %s \r\n", txt);
  cJSON_free(txt);
  if (r == 0)
    *changed = 1;
  return r;
}

int nm__proxy_info_merge(const char *json, const char *extra, nm_buf_t *out) {
  cJSON *o = cJSON_Parse(json != NULL ? json : "{}");

  if (o == NULL || !cJSON_IsObject(o)) {
    cJSON_Delete(o);
    o = cJSON_CreateObject();
    if (o == NULL)
      return NM_ENOMEM;
  }
  return nm_json_merge_print(o, extra, out);
}
