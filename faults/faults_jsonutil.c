/* Typed, checked access to fault-document fields (faults_json.h). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "faults_json.h"
#include "nm_encode.h"
#include "nm_subject.h"

int nm_json_merge_print(cJSON *o, const char *extra, nm_buf_t *out) {
  cJSON *x, *it;
  char *txt;
  int r;

  if (extra != NULL) {
    x = cJSON_Parse(extra);
    if (x == NULL || !cJSON_IsObject(x)) {
      cJSON_Delete(x);
      cJSON_Delete(o);
      return NM_EINVAL;
    }
    /* Each member moves with its own key: ReplaceItemViaPointer and
     * AddItemToArray keep it (the by-name calls would copy it). */
    while ((it = x->child) != NULL) {
      cJSON *old = it->string != NULL
                       ? cJSON_GetObjectItemCaseSensitive(o, it->string)
                       : NULL;
      cJSON_DetachItemViaPointer(x, it);
      if (old != NULL)
        cJSON_ReplaceItemViaPointer(o, old, it);
      else
        cJSON_AddItemToArray(o, it);
    }
    cJSON_Delete(x);
  }
  txt = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (txt == NULL)
    return NM_ENOMEM;
  r = nm_buf_append_str(out, txt);
  cJSON_free(txt);
  return r;
}

int nm__fj_fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return NM_EINVAL;
}

/* Fields every object may carry and the engine ignores. */
static int fj_ignorable(const char *key) {
  return key[0] == '_' || strcmp(key, "comment") == 0;
}

static int fj_known(const char *key, const char *const *names) {
  for (; *names != NULL; names++)
    if (strcmp(key, *names) == 0)
      return 1;
  return fj_ignorable(key);
}

int nm__fj_check_keys(const cJSON *o, const char *const *names,
                      const char *where, char *err, size_t errlen) {
  const cJSON *it;
  cJSON_ArrayForEach(it, o) {
    if (!fj_known(it->string, names))
      return nm__fj_fail(err, errlen, "%s.%s: unknown field", where,
                         it->string);
  }
  return 0;
}

/* A JSON number that is a whole number in uint64 range (no UB casts). */
int nm__fj_as_uint(const cJSON *v, uint64_t *out) {
  double d;
  if (!cJSON_IsNumber(v))
    return 0;
  d = v->valuedouble;
  if (!(d >= 0 && d < 18446744073709551616.0) || d != (double)(uint64_t)d)
    return 0;
  *out = (uint64_t)d;
  return 1;
}

const cJSON *nm__fj_get(const cJSON *o, const char *key) {
  return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* An optional integer in [min, max]. Returns 0 (absent: *out untouched). */
int nm__fj_uint(const cJSON *o, const char *key, uint64_t min, uint64_t max,
                uint64_t *out, const char *where, char *err, size_t errlen) {
  const cJSON *v = nm__fj_get(o, key);
  uint64_t u;
  if (v == NULL)
    return 0;
  if (!nm__fj_as_uint(v, &u) || u < min || u > max)
    return nm__fj_fail(err, errlen,
                       "%s.%s: must be an integer from %llu to %llu", where,
                       key, (unsigned long long)min, (unsigned long long)max);
  *out = u;
  return 0;
}

int nm__fj_bool(const cJSON *o, const char *key, int *out, const char *where,
                char *err, size_t errlen) {
  const cJSON *v = nm__fj_get(o, key);
  if (v == NULL)
    return 0;
  if (!cJSON_IsBool(v))
    return nm__fj_fail(err, errlen, "%s.%s: must be true or false", where, key);
  *out = cJSON_IsTrue(v);
  return 0;
}

/* An optional string (numbers are accepted for sid-like fields and
 * printed as integers). Returns 0 with *out a malloc'd copy or NULL. */
int nm__fj_str(const cJSON *o, const char *key, int numbers_ok, char **out,
               const char *where, char *err, size_t errlen) {
  const cJSON *v = nm__fj_get(o, key);
  char tmp[32];
  const char *s;
  uint64_t u;

  *out = NULL;
  if (v == NULL)
    return 0;
  if (numbers_ok && nm__fj_as_uint(v, &u)) {
    snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)u);
    s = tmp;
  } else if (cJSON_IsString(v)) {
    s = v->valuestring;
  } else {
    return nm__fj_fail(err, errlen, "%s.%s: must be a string", where, key);
  }
  if (s[0] == '\0' || strlen(s) >= NM_FAULT_FIELD_MAX)
    return nm__fj_fail(err, errlen, "%s.%s: must be 1 to %d characters", where,
                       key, NM_FAULT_FIELD_MAX - 1);
  *out = strdup(s);
  return *out == NULL ? NM_ENOMEM : 0;
}

int nm__fj_has_space(const char *s) {
  for (; *s; s++)
    if (isspace((unsigned char)*s))
      return 1;
  return 0;
}

static const struct {
  const char *name;
  nm_op_t op;
} kVerbs[] = {
    {"CONNECT", NM_OP_CONNECT}, {"INFO", NM_OP_INFO}, {"PUB", NM_OP_PUB},
    {"HPUB", NM_OP_HPUB},       {"SUB", NM_OP_SUB},   {"UNSUB", NM_OP_UNSUB},
    {"MSG", NM_OP_MSG},         {"HMSG", NM_OP_HMSG}, {"PING", NM_OP_PING},
    {"PONG", NM_OP_PONG},       {"OK", NM_OP_OK},     {"+OK", NM_OP_OK},
    {"ERR", NM_OP_ERR},         {"-ERR", NM_OP_ERR},
};

nm_op_t nm__fj_verb_op(const char *name) {
  size_t i;
  for (i = 0; i < sizeof(kVerbs) / sizeof(kVerbs[0]); i++)
    if (strcasecmp(name, kVerbs[i].name) == 0)
      return kVerbs[i].op;
  return NM_OP_NONE;
}

/* The name of the lowest op in a bit set. */
const char *nm__fj_op_name_of(uint32_t bits) {
  size_t i;
  for (i = 0; i < sizeof(kVerbs) / sizeof(kVerbs[0]); i++)
    if (bits & NM_FJ_OPBIT(kVerbs[i].op))
      return kVerbs[i].name;
  return "?";
}

uint32_t nm__fverb_bit(const char *name) {
  nm_op_t op = nm__fj_verb_op(name);
  return op == NM_OP_NONE ? 0 : 1u << (unsigned)op;
}

/* "conn": a number, "last", "all" or "this". */
int nm__fj_conn(const cJSON *o, nm__fconn_sel_t def, int in_then,
                nm__fdirect_t *a, const char *where, char *err, size_t errlen) {
  static const char *const k_name[] = {"name", NULL};
  const cJSON *v = nm__fj_get(o, "conn");
  uint64_t *id = &a->conn_id;
  a->sel = def;
  *id = 0;
  if (v == NULL)
    return 0;
  if (nm__fj_as_uint(v, id) && *id >= 1) {
    a->sel = NM_FCONN_ID;
    return 0;
  }
  *id = 0;
  if (cJSON_IsString(v)) {
    if (strcmp(v->valuestring, "last") == 0)
      return a->sel = NM_FCONN_LAST, 0;
    if (strcmp(v->valuestring, "all") == 0)
      return a->sel = NM_FCONN_ALL, 0;
    if (strcmp(v->valuestring, "this") == 0)
      return a->sel = NM_FCONN_THIS, 0;
  }
  if (cJSON_IsObject(v)) {
    char in[96];
    int rc;
    snprintf(in, sizeof(in), "%s.conn", where);
    if ((rc = nm__fj_check_keys(v, k_name, in, err, errlen)) ||
        (rc = nm__fj_str(v, "name", 0, &a->conn_name, in, err, errlen)))
      return rc;
    if (a->conn_name == NULL)
      return nm__fj_fail(err, errlen, "%s.name: required", in);
    a->sel = NM_FCONN_NAME;
    return 0;
  }
  (void)in_then;
  return nm__fj_fail(err, errlen,
                     "%s.conn: must be a connection id (1, 2, ...), \"last\", "
                     "\"all\", \"this\" or {\"name\": NAME}",
                     where);
}

int nm__fj_valid_id(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n >= NM_FAULT_ID_MAX)
    return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && strchr("-_.:", *s) == NULL)
      return 0;
  return 1;
}
