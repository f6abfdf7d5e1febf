/* natsmock-driver-nats-c: headers between the driver protocol's JSON form
 * ({"Key":["v",...]}) and natsMsg. */
#include <stdlib.h>

#include "nc_driver.h"
#include "nm_drv_util.h"

natsStatus nm__nc_msg_build(natsMsg **msg, const char *subject,
                            const char *reply, const char *data, size_t n,
                            const cJSON *headers) {
  const cJSON *h, *v;
  natsStatus s;

  *msg = NULL;
  s = natsMsg_Create(msg, subject, reply, data, (int)n);
  if (s != NATS_OK || headers == NULL)
    return s;
  cJSON_ArrayForEach(h, headers) {
    /* A bare string stands for a one-value list. */
    if (cJSON_IsString(h)) {
      s = natsMsgHeader_Add(*msg, h->string, h->valuestring);
    } else if (cJSON_IsArray(h)) {
      cJSON_ArrayForEach(v, h) {
        if (!cJSON_IsString(v)) {
          s = NATS_INVALID_ARG;
          break;
        }
        s = natsMsgHeader_Add(*msg, h->string, v->valuestring);
        if (s != NATS_OK)
          break;
      }
    } else {
      s = NATS_INVALID_ARG;
    }
    if (s != NATS_OK)
      break;
  }
  if (s != NATS_OK) {
    natsMsg_Destroy(*msg);
    *msg = NULL;
  }
  return s;
}

void nm__nc_add_headers(cJSON *o, natsMsg *msg) {
  const char **keys = NULL;
  int nkeys = 0, i, j;
  cJSON *h;

  if (natsMsgHeader_Keys(msg, &keys, &nkeys) != NATS_OK || nkeys == 0) {
    free((void *)keys);
    return;
  }
  h = cJSON_AddObjectToObject(o, "headers");
  for (i = 0; i < nkeys; i++) {
    const char **vals = NULL;
    int nvals = 0;
    cJSON *arr = cJSON_AddArrayToObject(h, keys[i]);
    if (natsMsgHeader_Values(msg, keys[i], &vals, &nvals) == NATS_OK) {
      for (j = 0; j < nvals; j++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(vals[j]));
    }
    free((void *)vals);
  }
  free((void *)keys);
}
