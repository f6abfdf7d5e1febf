/* Reading direct actions ("do": send_raw, send, publish, release, close,
 * reset, stall, resume, blackhole, restart, refuse) from JSON, checked, into
 * nm__fdirect_t. Every error names the offending field. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "faults_json.h"
#include "nm_b64.h"
#include "nm_encode.h"
#include "nm_subject.h"

static const struct {
  const char *name;
  nm__fdo_t kind;
} kDos[] = {
    {"send_raw", NM_FDO_SEND_RAW},   {"send", NM_FDO_SEND},
    {"publish", NM_FDO_PUBLISH},     {"release", NM_FDO_RELEASE},
    {"close", NM_FDO_CLOSE},         {"reset", NM_FDO_RESET},
    {"stall", NM_FDO_STALL},         {"resume", NM_FDO_RESUME},
    {"blackhole", NM_FDO_BLACKHOLE}, {"restart", NM_FDO_RESTART},
    {"refuse", NM_FDO_REFUSE},
};

static void direct_free(nm__fdirect_t *a) {
  free(a->conn_name);
  free(a->subject);
  free(a->sid);
  free(a->reply);
  free(a->text);
  free(a->fields);
  free(a->data);
  free(a->hdrs);
  memset(a, 0, sizeof(*a));
}

void nm__fdirects_free(nm__fdirects_t *d) {
  int i;
  for (i = 0; i < d->n; i++)
    direct_free(&d->v[i]);
  free(d->v);
  d->v = NULL;
  d->n = 0;
}

/* "data" (text) or "data_b64" into a->data / a->len. */
static int get_data(const cJSON *o, nm__fdirect_t *a, int required,
                    const char *where, char *err, size_t errlen) {
  const cJSON *t = nm__fj_get(o, "data"), *b = nm__fj_get(o, "data_b64");
  if (t != NULL && b != NULL)
    return nm__fj_fail(err, errlen,
                       "%s: give \"data\" or \"data_b64\", not both", where);
  if (t == NULL && b == NULL) {
    if (required)
      return nm__fj_fail(err, errlen, "%s.data: required (or data_b64)", where);
    return 0;
  }
  if (t != NULL) {
    if (!cJSON_IsString(t))
      return nm__fj_fail(err, errlen, "%s.data: must be a string", where);
    a->len = strlen(t->valuestring);
    if (a->len > NM_FAULT_DATA_MAX)
      return nm__fj_fail(err, errlen, "%s.data: over %d bytes", where,
                         NM_FAULT_DATA_MAX);
    a->data = malloc(a->len + 1);
    if (a->data == NULL)
      return NM_ENOMEM;
    memcpy(a->data, t->valuestring, a->len + 1);
  } else {
    size_t n;
    ssize_t got;
    if (!cJSON_IsString(b))
      return nm__fj_fail(err, errlen, "%s.data_b64: must be a string", where);
    n = strlen(b->valuestring);
    if (n / 4 * 3 > NM_FAULT_DATA_MAX)
      return nm__fj_fail(err, errlen, "%s.data_b64: over %d bytes", where,
                         NM_FAULT_DATA_MAX);
    a->data = malloc(nm_b64_dec_max(n) + 1);
    if (a->data == NULL)
      return NM_ENOMEM;
    got = nm_b64_decode(b->valuestring, n, a->data, nm_b64_dec_max(n));
    if (got < 0)
      return nm__fj_fail(err, errlen, "%s.data_b64: not valid base64", where);
    a->len = (size_t)got;
  }
  a->has_data = 1;
  return 0;
}

static int hdr_append(nm_buf_t *b, const char *s) {
  return nm_buf_append_str(b, s);
}

/* "headers": {"K": ["v", ...] or "v"} and "status" (+ "description") into
 * a header block "NATS/1.0[ status[ description]]\r\nK: v\r\n...\r\n". */
static int get_headers(const cJSON *o, nm__fdirect_t *a, int allow_status,
                       const char *where, char *err, size_t errlen) {
  const cJSON *h = nm__fj_get(o, "headers"), *st = nm__fj_get(o, "status"),
              *desc = nm__fj_get(o, "description"), *k, *v;
  nm_buf_t b;
  int rc = 0;

  if (h == NULL && st == NULL && desc == NULL)
    return 0;
  if (!allow_status && (st != NULL || desc != NULL))
    return nm__fj_fail(err, errlen, "%s: \"status\" only in a send HMSG frame",
                       where);
  if (h != NULL && !cJSON_IsObject(h))
    return nm__fj_fail(err, errlen, "%s.headers: must be an object", where);
  if (st != NULL && (!cJSON_IsString(st) || strlen(st->valuestring) != 3 ||
                     !isdigit((unsigned char)st->valuestring[0]) ||
                     !isdigit((unsigned char)st->valuestring[1]) ||
                     !isdigit((unsigned char)st->valuestring[2])))
    return nm__fj_fail(err, errlen,
                       "%s.status: must be a 3-digit string, e.g. \"503\"",
                       where);
  if (desc != NULL && (st == NULL || !cJSON_IsString(desc) ||
                       strpbrk(desc->valuestring, "\r\n") != NULL))
    return nm__fj_fail(err, errlen,
                       "%s.description: a one-line string, with \"status\"",
                       where);
  nm_buf_init(&b, NM_FAULT_DATA_MAX);
  rc = hdr_append(&b, "NATS/1.0");
  if (rc == 0 && st != NULL)
    rc = nm_buf_appendf(&b, " %s", st->valuestring);
  if (rc == 0 && desc != NULL)
    rc = nm_buf_appendf(&b, " %s", desc->valuestring);
  if (rc == 0)
    rc = hdr_append(&b, "\r\n");
  if (h != NULL) {
    cJSON_ArrayForEach(k, h) {
      if (rc != 0)
        break;
      if (k->string[0] == '\0' || strpbrk(k->string, ": \t\r\n") != NULL) {
        rc = nm__fj_fail(err, errlen, "%s.headers: bad header name \"%s\"",
                         where, k->string);
        break;
      }
      if (cJSON_IsString(k)) {
        if (strpbrk(k->valuestring, "\r\n") != NULL) {
          rc = nm__fj_fail(err, errlen, "%s.headers.%s: no CR or LF in values",
                           where, k->string);
          break;
        }
        rc = nm_buf_appendf(&b, "%s: %s\r\n", k->string, k->valuestring);
        continue;
      }
      if (!cJSON_IsArray(k)) {
        rc = nm__fj_fail(err, errlen,
                         "%s.headers.%s: must be a string or a list of strings",
                         where, k->string);
        break;
      }
      cJSON_ArrayForEach(v, k) {
        if (!cJSON_IsString(v) || strpbrk(v->valuestring, "\r\n") != NULL) {
          rc = nm__fj_fail(err, errlen,
                           "%s.headers.%s: values must be one-line strings",
                           where, k->string);
          break;
        }
        rc = nm_buf_appendf(&b, "%s: %s\r\n", k->string, v->valuestring);
        if (rc != 0)
          break;
      }
    }
  }
  if (rc == 0)
    rc = hdr_append(&b, "\r\n");
  if (rc != 0) {
    nm_buf_free(&b);
    return rc == NM_ETOOBIG
               ? nm__fj_fail(err, errlen, "%s.headers: too large", where)
               : rc;
  }
  a->hdrs = b.base;
  a->hdr_len = b.len;
  return 0;
}

static int parse_send(const cJSON *o, nm__fdirect_t *a, const char *where,
                      char *err, size_t errlen) {
  static const char *const keys[] = {
      "op",      "subject", "sid",         "reply", "data",   "data_b64",
      "headers", "status",  "description", "text",  "fields", NULL};
  const cJSON *fr = nm__fj_get(o, "frame"), *op, *v;
  char fwhere[112]; /* where (at most 96) + ".frame" */
  int rc;

  snprintf(fwhere, sizeof(fwhere), "%s.frame", where);
  if (!cJSON_IsObject(fr))
    return nm__fj_fail(err, errlen, "%s: required, an object with \"op\"",
                       fwhere);
  if ((rc = nm__fj_check_keys(fr, keys, fwhere, err, errlen)) != 0)
    return rc;
  op = nm__fj_get(fr, "op");
  a->op = cJSON_IsString(op) ? nm__fj_verb_op(op->valuestring) : NM_OP_NONE;
  switch (a->op) {
  case NM_OP_MSG:
  case NM_OP_HMSG:
    if ((rc = nm__fj_str(fr, "subject", 0, &a->subject, fwhere, err, errlen)) ||
        (rc = nm__fj_str(fr, "sid", 1, &a->sid, fwhere, err, errlen)) ||
        (rc = nm__fj_str(fr, "reply", 0, &a->reply, fwhere, err, errlen)))
      return rc;
    if (a->subject == NULL || a->sid == NULL)
      return nm__fj_fail(err, errlen,
                         "%s: \"subject\" and \"sid\" are required", fwhere);
    if (nm__fj_has_space(a->subject) || nm__fj_has_space(a->sid) ||
        (a->reply && nm__fj_has_space(a->reply)))
      return nm__fj_fail(err, errlen,
                         "%s: subject, sid, reply must have no blanks", fwhere);
    if ((rc = get_data(fr, a, 0, fwhere, err, errlen)) != 0)
      return rc;
    if (a->op == NM_OP_MSG &&
        (nm__fj_get(fr, "headers") || nm__fj_get(fr, "status")))
      return nm__fj_fail(err, errlen, "%s: headers and status need op \"HMSG\"",
                         fwhere);
    if ((rc = get_headers(fr, a, 1, fwhere, err, errlen)) != 0)
      return rc;
    if (a->op == NM_OP_HMSG && a->hdrs == NULL) {
      a->hdrs = strdup("NATS/1.0\r\n\r\n");
      if (a->hdrs == NULL)
        return NM_ENOMEM;
      a->hdr_len = strlen(a->hdrs);
    }
    return 0;
  case NM_OP_ERR:
    v = nm__fj_get(fr, "text");
    if (!cJSON_IsString(v) || strpbrk(v->valuestring, "\r\n") != NULL ||
        strlen(v->valuestring) >= NM_FAULT_FIELD_MAX)
      return nm__fj_fail(
          err, errlen,
          "%s.text: required, one line: the error text without quotes", fwhere);
    a->text = strdup(v->valuestring);
    return a->text == NULL ? NM_ENOMEM : 0;
  case NM_OP_INFO:
    v = nm__fj_get(fr, "fields");
    if (v != NULL) {
      if (!cJSON_IsObject(v))
        return nm__fj_fail(err, errlen, "%s.fields: must be an object", fwhere);
      a->fields = cJSON_PrintUnformatted(v);
      if (a->fields == NULL)
        return NM_ENOMEM;
    }
    return 0;
  case NM_OP_PING:
  case NM_OP_PONG:
  case NM_OP_OK:
    return 0;
  default:
    return nm__fj_fail(err, errlen,
                       "%s.op: one of MSG HMSG PING PONG ERR INFO OK", fwhere);
  }
}

static int parse_direct(const cJSON *o, nm__fdirect_t *a, const char *where,
                        int in_then, char *err, size_t errlen) {
  static const char *const k_raw[] = {"do", "conn", "data", "data_b64", NULL};
  static const char *const k_send[] = {"do", "conn", "frame", NULL};
  static const char *const k_pub[] = {"do",       "subject", "reply", "data",
                                      "data_b64", "headers", "count", "size",
                                      "start",    NULL};
  static const char *const k_rel[] = {"do", "conn", "rule", "count", NULL};
  static const char *const k_close[] = {"do", "conn", "flush", NULL};
  static const char *const k_conn[] = {"do", "conn", NULL};
  static const char *const k_restart[] = {"do", "ms", "keep_conns", NULL};
  static const char *const k_refuse[] = {"do", "count", NULL};
  nm__fconn_sel_t def = in_then ? NM_FCONN_THIS : NM_FCONN_LAST;
  const cJSON *v = nm__fj_get(o, "do");
  size_t i;
  int rc;

  memset(a, 0, sizeof(*a));
  if (!cJSON_IsObject(o))
    return nm__fj_fail(err, errlen, "%s: must be an object with \"do\"", where);
  for (i = 0; i < sizeof(kDos) / sizeof(kDos[0]); i++)
    if (cJSON_IsString(v) && strcmp(v->valuestring, kDos[i].name) == 0)
      break;
  if (i == sizeof(kDos) / sizeof(kDos[0]))
    return nm__fj_fail(
        err, errlen,
        "%s.do: required, one of send_raw send publish release close "
        "reset stall resume blackhole restart refuse",
        where);
  a->kind = kDos[i].kind;
  switch (a->kind) {
  case NM_FDO_SEND_RAW:
    if ((rc = nm__fj_check_keys(o, k_raw, where, err, errlen)) ||
        (rc = nm__fj_conn(o, def, in_then, a, where, err, errlen)))
      return rc;
    return get_data(o, a, 1, where, err, errlen);
  case NM_FDO_SEND:
    if ((rc = nm__fj_check_keys(o, k_send, where, err, errlen)) ||
        (rc = nm__fj_conn(o, def, in_then, a, where, err, errlen)))
      return rc;
    return parse_send(o, a, where, err, errlen);
  case NM_FDO_PUBLISH:
    if ((rc = nm__fj_check_keys(o, k_pub, where, err, errlen)) ||
        (rc = nm__fj_str(o, "subject", 0, &a->subject, where, err, errlen)) ||
        (rc = nm__fj_str(o, "reply", 0, &a->reply, where, err, errlen)))
      return rc;
    if (a->subject == NULL ||
        !nm_subject_valid_literal(nm_slice_str(a->subject)))
      return nm__fj_fail(err, errlen,
                         "%s.subject: required, a subject without wildcards",
                         where);
    if (strncmp(a->subject, "$MOCK.", 6) == 0)
      return nm__fj_fail(err, errlen,
                         "%s.subject: $MOCK. subjects are the control API, not "
                         "routed",
                         where);
    if (a->reply != NULL && nm__fj_has_space(a->reply))
      return nm__fj_fail(err, errlen, "%s.reply: must have no blanks", where);
    a->count = 1;
    a->start = 1;
    if ((rc = get_data(o, a, 0, where, err, errlen)) ||
        (rc = get_headers(o, a, 0, where, err, errlen)) ||
        (rc = nm__fj_uint(o, "count", 1, NM_FAULT_PUBLISH_COUNT_MAX, &a->count,
                          where, err, errlen)) ||
        (rc = nm__fj_uint(o, "size", 0, NM_FAULT_DATA_MAX, &a->size, where, err,
                          errlen)) ||
        (rc = nm__fj_uint(o, "start", 1, UINT32_MAX, &a->start, where, err,
                          errlen)))
      return rc;
    if (a->has_data && nm__fj_get(o, "size") != NULL)
      return nm__fj_fail(
          err, errlen, "%s.size: only for sequenced payloads (no data)", where);
    if (a->count * ((a->has_data ? a->len : a->size + 12) + a->hdr_len) >
        NM_FAULT_PUBLISH_BYTES_MAX)
      return nm__fj_fail(err, errlen, "%s: count x size over %u bytes", where,
                         NM_FAULT_PUBLISH_BYTES_MAX);
    return 0;
  case NM_FDO_RELEASE:
    if ((rc = nm__fj_check_keys(o, k_rel, where, err, errlen)) ||
        (rc = nm__fj_conn(o, NM_FCONN_ALL, in_then, a, where, err, errlen)) ||
        (rc = nm__fj_uint(o, "count", 1, UINT32_MAX, &a->count, where, err,
                          errlen)))
      return rc;
    v = nm__fj_get(o, "rule");
    if (v != NULL) {
      if (!cJSON_IsString(v) || !nm__fj_valid_id(v->valuestring))
        return nm__fj_fail(err, errlen, "%s.rule: must be a rule id", where);
      snprintf(a->rule, sizeof(a->rule), "%s", v->valuestring);
    }
    return 0;
  case NM_FDO_CLOSE:
    a->flag = 1;
    if ((rc = nm__fj_check_keys(o, k_close, where, err, errlen)) ||
        (rc = nm__fj_bool(o, "flush", &a->flag, where, err, errlen)))
      return rc;
    return nm__fj_conn(o, def, in_then, a, where, err, errlen);
  case NM_FDO_RESET:
  case NM_FDO_STALL:
  case NM_FDO_RESUME:
  case NM_FDO_BLACKHOLE:
    if ((rc = nm__fj_check_keys(o, k_conn, where, err, errlen)) != 0)
      return rc;
    return nm__fj_conn(o, def, in_then, a, where, err, errlen);
  case NM_FDO_RESTART:
    if ((rc = nm__fj_check_keys(o, k_restart, where, err, errlen)) ||
        (rc = nm__fj_uint(o, "ms", 0, NM_FAULT_RESTART_MAX_MS, &a->ms, where,
                          err, errlen)))
      return rc;
    return nm__fj_bool(o, "keep_conns", &a->flag, where, err, errlen);
  case NM_FDO_REFUSE:
    if ((rc = nm__fj_check_keys(o, k_refuse, where, err, errlen)) != 0)
      return rc;
    if (nm__fj_get(o, "count") == NULL)
      return nm__fj_fail(err, errlen, "%s.count: required", where);
    /* Bounded: a refusal that never ends leaves a server only a restart
     * repairs. */
    return nm__fj_uint(o, "count", 1, NM_FAULT_REFUSE_MAX, &a->count, where,
                       err, errlen);
  }
  return NM_EINVAL;
}

int nm__fjson_directs(const void *json, const char *where, int in_then,
                      nm__fdirects_t *out, char *err, size_t errlen) {
  const cJSON *arr = json, *it;
  char iwhere[96];
  int n, i = 0, rc;

  out->v = NULL;
  out->n = 0;
  if (!cJSON_IsArray(arr))
    return nm__fj_fail(err, errlen, "%s: must be a list of actions", where);
  n = cJSON_GetArraySize(arr);
  if (n > NM_FAULT_ACTIONS_MAX)
    return nm__fj_fail(err, errlen, "%s: more than %d actions", where,
                       NM_FAULT_ACTIONS_MAX);
  if (n == 0)
    return 0;
  out->v = calloc((size_t)n, sizeof(*out->v));
  if (out->v == NULL)
    return NM_ENOMEM;
  cJSON_ArrayForEach(it, arr) {
    snprintf(iwhere, sizeof(iwhere), "%s[%d]", where, i);
    rc = parse_direct(it, &out->v[i], iwhere, in_then, err, errlen);
    out->n = i + 1;
    if (rc != 0) {
      nm__fdirects_free(out);
      return rc;
    }
    i++;
  }
  return 0;
}
