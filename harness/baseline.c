/* Expected-failures baselines: loading, checking, applying (nm_baseline.h). */
#define _GNU_SOURCE
#include "nm_baseline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_invariants.h"
#include "nm_scenario.h"

/* Is `item` a well-formed "broke" entry? */
static int item_ok(const char *item, char *why, size_t n) {
  if (!strcmp(item, "run") || !strcmp(item, "driver protocol"))
    return 1;
  if (!strncmp(item, "step ", 5)) {
    char *end;
    long k = strtol(item + 5, &end, 10);
    if (item[5] >= '0' && item[5] <= '9' && *end == '\0' && k >= 0)
      return 1;
    snprintf(why, n, "\"%s\": a step is \"step N\" (N from 0, as reported)",
             item);
    return 0;
  }
  if (!strncmp(item, "invariant ", 10)) {
    if (nm_inv_find(item + 10))
      return 1;
    snprintf(why, n, "\"%s\": unknown invariant", item);
    return 0;
  }
  snprintf(why, n,
           "\"%s\": must be \"step N\", \"invariant NAME\", \"run\" or "
           "\"driver protocol\"",
           item);
  return 0;
}

cJSON *nm_baseline_parse(const char *text, size_t len, const char *path,
                         char *err, size_t errlen) {
  const char *end = NULL;
  cJSON *bl = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  const cJSON *e;
  int i = 0;

  if (!bl) {
    char where[160];
    nm_json_error_where(text, len, end, where, sizeof(where));
    snprintf(err, errlen, "%s: (json): not valid JSON (%s)", path, where);
    return NULL;
  }
  if (!cJSON_IsArray(bl)) {
    snprintf(err, errlen, "%s: (top): a baseline is a JSON list", path);
    goto bad;
  }
  if (cJSON_GetArraySize(bl) > NM_BASELINE_MAX_ENTRIES) {
    snprintf(err, errlen, "%s: (top): more than %d entries", path,
             NM_BASELINE_MAX_ENTRIES);
    goto bad;
  }
  cJSON_ArrayForEach(e, bl) {
    const cJSON *x, *s = cJSON_GetObjectItemCaseSensitive(e, "scenario");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(e, "broke");
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "cause");
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(e, "intermittent");
    char why[256];
    if (!cJSON_IsObject(e)) {
      snprintf(err, errlen, "%s: [%d]: an entry is an object", path, i);
      goto bad;
    }
    cJSON_ArrayForEach(x, e) {
      if (strcmp(x->string, "scenario") && strcmp(x->string, "broke") &&
          strcmp(x->string, "cause") && strcmp(x->string, "intermittent")) {
        snprintf(err, errlen, "%s: [%d].%s: unknown field", path, i, x->string);
        goto bad;
      }
    }
    if (!cJSON_IsString(s) || !s->valuestring[0]) {
      snprintf(err, errlen, "%s: [%d].scenario: required, a scenario name",
               path, i);
      goto bad;
    }
    if (nm_baseline_find(bl, s->valuestring) != e) {
      snprintf(err, errlen, "%s: [%d].scenario: \"%s\" is listed twice", path,
               i, s->valuestring);
      goto bad;
    }
    if (!cJSON_IsString(c) || !c->valuestring[0]) {
      snprintf(err, errlen, "%s: [%d].cause: required, a non-empty string",
               path, i);
      goto bad;
    }
    if (it && !cJSON_IsBool(it)) {
      snprintf(err, errlen, "%s: [%d].intermittent: must be true or false",
               path, i);
      goto bad;
    }
    if (!cJSON_IsArray(b) || cJSON_GetArraySize(b) < 1) {
      snprintf(err, errlen,
               "%s: [%d].broke: required, a list of what broke (\"step N\", "
               "\"invariant NAME\", \"run\", \"driver protocol\")",
               path, i);
      goto bad;
    }
    cJSON_ArrayForEach(x, b) {
      if (!cJSON_IsString(x) || !item_ok(x->valuestring, why, sizeof(why))) {
        snprintf(err, errlen, "%s: [%d].broke: %s", path, i,
                 cJSON_IsString(x) ? why : "items must be strings");
        goto bad;
      }
    }
    i++;
  }
  return bl;
bad:
  cJSON_Delete(bl);
  return NULL;
}

cJSON *nm_baseline_load(const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  char *buf;
  size_t n;
  cJSON *bl;
  if (!f) {
    snprintf(err, errlen, "%s: %s", path, strerror(errno));
    return NULL;
  }
  buf = malloc(NM_BASELINE_MAX_BYTES + 1);
  if (!buf) {
    fclose(f);
    snprintf(err, errlen, "%s: out of memory", path);
    return NULL;
  }
  n = fread(buf, 1, NM_BASELINE_MAX_BYTES + 1, f);
  fclose(f);
  if (n > NM_BASELINE_MAX_BYTES) {
    free(buf);
    snprintf(err, errlen, "%s: larger than %d bytes", path,
             NM_BASELINE_MAX_BYTES);
    return NULL;
  }
  bl = nm_baseline_parse(buf, n, path, err, errlen);
  free(buf);
  return bl;
}

const cJSON *nm_baseline_find(const cJSON *bl, const char *name) {
  const cJSON *e;
  cJSON_ArrayForEach(e, bl) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(e, "scenario");
    if (cJSON_IsString(s) && strcmp(s->valuestring, name) == 0)
      return e;
  }
  return NULL;
}

int nm_baseline_item_covers(const char *item, const char *what) {
  size_t n = strlen(item);
  if (strncmp(item, what, n) != 0)
    return 0;
  /* "step 4" covers "step 4 (await)" but not "step 41 (await)". */
  return what[n] == '\0' || (!strncmp(item, "step ", 5) && what[n] == ' ');
}

static int listed(const cJSON *entry, const char *what) {
  const cJSON *x;
  cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(entry, "broke")) {
    if (nm_baseline_item_covers(x->valuestring, what))
      return 1;
  }
  return 0;
}

void nm_baseline_apply(const cJSON *bl, nm_result_t *res) {
  const cJSON *e = res->sc ? nm_baseline_find(bl, res->sc->name) : NULL;
  const cJSON *cause = cJSON_GetObjectItemCaseSensitive(e, "cause");
  char news[512] = "";
  size_t k;

  if (!e)
    return;
  if (res->status == NM_ST_PASS) {
    res->status = NM_ST_XPASS;
    free(res->reason);
    res->reason = strdup("listed as an expected failure but passed");
    return;
  }
  if (res->status != NM_ST_FAIL)
    return;
  /* fails.kinds holds each kind once (nm_fails_add). */
  for (k = 0; k < res->fails.nkinds; k++) {
    const char *w = res->fails.kinds[k];
    size_t len = strlen(news);
    if (!listed(e, w))
      snprintf(news + len, sizeof(news) - len, "%s%s", len ? ", " : "", w);
  }
  if (news[0] || res->fails.kinds_cut) {
    /* Something broke that the baseline does not name: a new failure. */
    free(res->reason);
    if (asprintf(&res->reason, "not in the baseline: %s%s", news,
                 res->fails.kinds_cut ? " (and more)" : "") < 0)
      res->reason = NULL;
    return;
  }
  res->status = NM_ST_XFAIL;
  free(res->reason);
  res->reason = strdup(cJSON_IsString(cause) ? cause->valuestring : "listed");
}
