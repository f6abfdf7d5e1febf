/* Reading fault documents: rules and direct actions, from cJSON trees into
 * the engine's structs. Everything is checked here, before anything is
 * installed or run, and every error names the offending field, e.g.
 * `rules[0].nth: must be an integer >= 1`. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "faults_int.h"
#include "nm_encode.h"
#include "nm_subject.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return NM_EINVAL;
}

/* Fields every object may carry and the engine ignores. */
static int ignorable(const char *key) {
  return key[0] == '_' || strcmp(key, "comment") == 0;
}

static int known(const char *key, const char *const *names) {
  for (; *names != NULL; names++)
    if (strcmp(key, *names) == 0)
      return 1;
  return ignorable(key);
}

static int check_keys(const cJSON *o, const char *const *names,
                      const char *where, char *err, size_t errlen) {
  const cJSON *it;
  cJSON_ArrayForEach(it, o) {
    if (!known(it->string, names))
      return fail(err, errlen, "%s.%s: unknown field", where, it->string);
  }
  return 0;
}

/* A JSON number that is a whole number in uint64 range (no UB casts). */
static int as_uint(const cJSON *v, uint64_t *out) {
  double d;
  if (!cJSON_IsNumber(v))
    return 0;
  d = v->valuedouble;
  if (!(d >= 0 && d < 18446744073709551616.0) || d != (double)(uint64_t)d)
    return 0;
  *out = (uint64_t)d;
  return 1;
}

static const cJSON *get(const cJSON *o, const char *key) {
  return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* An optional integer in [min, max]. Returns 0 (absent: *out untouched). */
static int get_uint(const cJSON *o, const char *key, uint64_t min, uint64_t max,
                    uint64_t *out, const char *where, char *err,
                    size_t errlen) {
  const cJSON *v = get(o, key);
  uint64_t u;
  if (v == NULL)
    return 0;
  if (!as_uint(v, &u) || u < min || u > max)
    return fail(err, errlen, "%s.%s: must be an integer from %llu to %llu",
                where, key, (unsigned long long)min, (unsigned long long)max);
  *out = u;
  return 0;
}

static int get_bool(const cJSON *o, const char *key, int *out,
                    const char *where, char *err, size_t errlen) {
  const cJSON *v = get(o, key);
  if (v == NULL)
    return 0;
  if (!cJSON_IsBool(v))
    return fail(err, errlen, "%s.%s: must be true or false", where, key);
  *out = cJSON_IsTrue(v);
  return 0;
}

/* An optional string (numbers are accepted for sid-like fields and
 * printed as integers). Returns 0 with *out a malloc'd copy or NULL. */
static int get_str(const cJSON *o, const char *key, int numbers_ok, char **out,
                   const char *where, char *err, size_t errlen) {
  const cJSON *v = get(o, key);
  char tmp[32];
  const char *s;
  uint64_t u;

  *out = NULL;
  if (v == NULL)
    return 0;
  if (numbers_ok && as_uint(v, &u)) {
    snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)u);
    s = tmp;
  } else if (cJSON_IsString(v)) {
    s = v->valuestring;
  } else {
    return fail(err, errlen, "%s.%s: must be a string", where, key);
  }
  if (s[0] == '\0' || strlen(s) >= NM_FAULT_FIELD_MAX)
    return fail(err, errlen, "%s.%s: must be 1 to %d characters", where, key,
                NM_FAULT_FIELD_MAX - 1);
  *out = strdup(s);
  return *out == NULL ? NM_ENOMEM : 0;
}

static int has_space(const char *s) {
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

static nm_op_t verb_op(const char *name) {
  size_t i;
  for (i = 0; i < sizeof(kVerbs) / sizeof(kVerbs[0]); i++)
    if (strcasecmp(name, kVerbs[i].name) == 0)
      return kVerbs[i].op;
  return NM_OP_NONE;
}

#define OPBIT(op) (1u << (unsigned)(op))
static const uint32_t kServerOnly = OPBIT(NM_OP_MSG) | OPBIT(NM_OP_HMSG);
static const uint32_t kClientOnly = OPBIT(NM_OP_CONNECT) | OPBIT(NM_OP_PUB) |
                                    OPBIT(NM_OP_HPUB) | OPBIT(NM_OP_SUB) |
                                    OPBIT(NM_OP_UNSUB);

/* The name of the lowest op in a bit set. */
static const char *op_name_of(uint32_t bits) {
  size_t i;
  for (i = 0; i < sizeof(kVerbs) / sizeof(kVerbs[0]); i++)
    if (bits & OPBIT(kVerbs[i].op))
      return kVerbs[i].name;
  return "?";
}

uint32_t nm__fverb_bit(const char *name) {
  nm_op_t op = verb_op(name);
  return op == NM_OP_NONE ? 0 : 1u << (unsigned)op;
}

/* "conn": a number, "last", "all" or "this". */
static int get_conn(const cJSON *o, nm__fconn_sel_t def, int in_then,
                    nm__fconn_sel_t *sel, uint64_t *id, const char *where,
                    char *err, size_t errlen) {
  const cJSON *v = get(o, "conn");
  *sel = def;
  *id = 0;
  if (v == NULL)
    return 0;
  if (as_uint(v, id) && *id >= 1) {
    *sel = NM_FCONN_ID;
    return 0;
  }
  *id = 0;
  if (cJSON_IsString(v)) {
    if (strcmp(v->valuestring, "last") == 0)
      return *sel = NM_FCONN_LAST, 0;
    if (strcmp(v->valuestring, "all") == 0)
      return *sel = NM_FCONN_ALL, 0;
    if (strcmp(v->valuestring, "this") == 0)
      return *sel = NM_FCONN_THIS, 0;
  }
  (void)in_then;
  return fail(err, errlen,
              "%s.conn: must be a connection id (1, 2, ...), \"last\", "
              "\"all\" or \"this\"",
              where);
}

/* The match fields shared by a rule and its "after". */
static int parse_match(const cJSON *o, nm__fmatch_t *m, const char *where,
                       char *err, size_t errlen) {
  const cJSON *v;
  int r;

  memset(m, 0, sizeof(*m));
  v = get(o, "dir");
  if (!cJSON_IsString(v) ||
      (strcmp(v->valuestring, "in") != 0 && strcmp(v->valuestring, "out") != 0))
    return fail(err, errlen,
                "%s.dir: required, \"in\" (client to server) or \"out\" "
                "(server to client)",
                where);
  m->dir = strcmp(v->valuestring, "in") == 0 ? NM_DIR_IN : NM_DIR_OUT;
  v = get(o, "verb");
  if (v != NULL) {
    const cJSON *it;
    if (cJSON_IsString(v)) {
      m->verbs = nm__fverb_bit(v->valuestring);
      if (m->verbs == 0)
        return fail(err, errlen, "%s.verb: unknown op \"%s\"", where,
                    v->valuestring);
    } else if (cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0) {
      cJSON_ArrayForEach(it, v) {
        uint32_t bit = cJSON_IsString(it) ? nm__fverb_bit(it->valuestring) : 0;
        if (bit == 0)
          return fail(err, errlen, "%s.verb: unknown op %s%s%s", where,
                      cJSON_IsString(it) ? "\"" : "",
                      cJSON_IsString(it) ? it->valuestring : "(not a string)",
                      cJSON_IsString(it) ? "\"" : "");
        m->verbs |= bit;
      }
    } else {
      return fail(err, errlen,
                  "%s.verb: must be an op name or a non-empty list of them",
                  where);
    }
  }
  if (m->verbs != 0) {
    /* A verb that never travels in that direction is a typo, not a rule. */
    uint32_t never = m->dir == NM_DIR_IN ? kServerOnly : kClientOnly;
    if ((m->verbs & never) != 0)
      return fail(err, errlen, "%s.verb: %s never sends %s (dir \"%s\")", where,
                  m->dir == NM_DIR_IN ? "a client" : "the server",
                  op_name_of(m->verbs & never),
                  m->dir == NM_DIR_IN ? "in" : "out");
  }
  if ((r = get_str(o, "subject", 0, &m->subject, where, err, errlen)) != 0)
    return r;
  if (m->subject != NULL &&
      !nm_subject_valid((nm_slice_t){m->subject, strlen(m->subject)}))
    return fail(err, errlen,
                "%s.subject: \"%s\" is not a valid subject pattern", where,
                m->subject);
  if ((r = get_str(o, "sid", 1, &m->sid, where, err, errlen)) != 0)
    return r;
  if (m->sid != NULL && has_space(m->sid))
    return fail(err, errlen, "%s.sid: must not contain blanks", where);
  v = get(o, "conn");
  if (v != NULL) {
    if (!as_uint(v, &m->conn) || m->conn < 1)
      return fail(err, errlen, "%s.conn: must be a connection id (1, 2, ...)",
                  where);
  }
  return 0;
}

static const struct {
  const char *name;
  nm__fact_t act;
} kActions[] = {
    {"pass", NM_FACT_PASS},           {"hold", NM_FACT_HOLD},
    {"delay", NM_FACT_DELAY},         {"drop", NM_FACT_DROP},
    {"duplicate", NM_FACT_DUPLICATE}, {"split", NM_FACT_SPLIT},
    {"coalesce", NM_FACT_COALESCE},   {"close", NM_FACT_CLOSE},
    {"reset", NM_FACT_RESET},         {"stall", NM_FACT_STALL},
    {"blackhole", NM_FACT_BLACKHOLE},
};

static int valid_id(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n >= NM_FAULT_ID_MAX)
    return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && strchr("-_.:", *s) == NULL)
      return 0;
  return 1;
}

int nm__fjson_rule(nm_faults_t *f, const void *json, int index,
                   nm__frule_t **out, char *err, size_t errlen) {
  static const char *const keys[] = {
      "id",    "dir",   "verb",  "subject", "sid",      "conn",
      "nth",   "every", "limit", "after",   "action",   "ms",
      "chunk", "cuts",  "seed",  "then",    "per_conn", NULL};
  static const char *const after_keys[] = {"dir",  "verb", "subject", "sid",
                                           "conn", "nth",  NULL};
  const cJSON *o = json, *v;
  char where[48], awhere[64];
  nm__frule_t *r;
  /* No "seed": the server's --seed, else a fixed one (reruns cut alike). */
  uint64_t seed = nm__server_seed(f->srv) ? nm__server_seed(f->srv) : 1;
  size_t i;
  int rc;

  *out = NULL;
  snprintf(where, sizeof(where), "rules[%d]", index);
  if (!cJSON_IsObject(o))
    return fail(err, errlen, "%s: must be an object", where);
  if ((rc = check_keys(o, keys, where, err, errlen)) != 0)
    return rc;
  r = calloc(1, sizeof(*r));
  if (r == NULL)
    return NM_ENOMEM;

  v = get(o, "id");
  if (v != NULL) {
    if (!cJSON_IsString(v) || !valid_id(v->valuestring)) {
      rc = fail(err, errlen,
                "%s.id: must be 1 to %d characters of letters, digits, - _ . :",
                where, NM_FAULT_ID_MAX - 1);
      goto fail;
    }
    snprintf(r->id, sizeof(r->id), "%s", v->valuestring);
  }
  if ((rc = parse_match(o, &r->match, where, err, errlen)) != 0)
    goto fail;
  if ((rc = get_uint(o, "nth", 1, UINT32_MAX, &r->nth, where, err, errlen)) ||
      (rc = get_uint(o, "every", 1, UINT32_MAX, &r->every, where, err,
                     errlen)) ||
      (rc = get_uint(o, "limit", 1, UINT32_MAX, &r->limit, where, err, errlen)))
    goto fail;

  r->cnt.armed = 1;
  if ((rc = get_bool(o, "per_conn", &r->per_conn, where, err, errlen)) != 0)
    goto fail;
  v = get(o, "after");
  if (v != NULL) {
    snprintf(awhere, sizeof(awhere), "%s.after", where);
    if (!cJSON_IsObject(v)) {
      rc = fail(err, errlen, "%s: must be an object", awhere);
      goto fail;
    }
    if ((rc = check_keys(v, after_keys, awhere, err, errlen)) != 0 ||
        (rc = parse_match(v, &r->after, awhere, err, errlen)) != 0)
      goto fail;
    r->after_nth = 1;
    if ((rc = get_uint(v, "nth", 1, UINT32_MAX, &r->after_nth, awhere, err,
                       errlen)) != 0)
      goto fail;
    r->has_after = 1;
    r->cnt.armed = 0;
  }

  v = get(o, "then");
  if (v != NULL) {
    char twhere[64];
    snprintf(twhere, sizeof(twhere), "%s.then", where);
    if ((rc = nm__fjson_directs(v, twhere, 1, &r->then, err, errlen)) != 0)
      goto fail;
  }

  v = get(o, "action");
  if (v == NULL && r->then.n > 0) {
    r->action = NM_FACT_PASS;
  } else {
    for (i = 0; i < sizeof(kActions) / sizeof(kActions[0]); i++)
      if (cJSON_IsString(v) && strcmp(v->valuestring, kActions[i].name) == 0)
        break;
    if (i == sizeof(kActions) / sizeof(kActions[0])) {
      rc = fail(err, errlen,
                "%s.action: required (unless \"then\" is given), one of pass "
                "hold delay drop duplicate split coalesce close reset stall "
                "blackhole",
                where);
      goto fail;
    }
    r->action = kActions[i].act;
  }
  if ((r->action == NM_FACT_SPLIT || r->action == NM_FACT_COALESCE) &&
      r->match.dir != NM_DIR_OUT) {
    rc = fail(err, errlen, "%s.action: \"%s\" works on \"dir\":\"out\" only",
              where, nm__fact_name(r->action));
    goto fail;
  }
  if (r->action == NM_FACT_DELAY) {
    if (get(o, "ms") == NULL) {
      rc = fail(err, errlen, "%s.ms: required for \"delay\"", where);
      goto fail;
    }
    if ((rc = get_uint(o, "ms", 0, NM_FAULT_DELAY_MAX_MS, &r->ms, where, err,
                       errlen)) != 0)
      goto fail;
  } else if (get(o, "ms") != NULL) {
    rc = fail(err, errlen, "%s.ms: only for \"delay\"", where);
    goto fail;
  }
  if (r->action == NM_FACT_SPLIT) {
    if ((get(o, "chunk") == NULL) == (get(o, "cuts") == NULL)) {
      rc = fail(err, errlen,
                "%s: \"split\" needs exactly one of \"chunk\" or \"cuts\"",
                where);
      goto fail;
    }
    if ((rc = get_uint(o, "chunk", 1, UINT32_MAX, &r->chunk, where, err,
                       errlen)) ||
        (rc = get_uint(o, "cuts", 1, NM_FAULT_CUTS_MAX, &r->cuts, where, err,
                       errlen)) ||
        (rc = get_uint(o, "seed", 0, UINT64_MAX >> 11, &seed, where, err,
                       errlen)))
      goto fail;
    /* xorshift never leaves 0: mix the seed into a fixed odd constant. */
    r->rng = (seed ^ 0x9E3779B97F4A7C15ull) | 1;
  } else if (get(o, "chunk") || get(o, "cuts") || get(o, "seed")) {
    rc = fail(err, errlen,
              "%s: \"chunk\", \"cuts\", \"seed\" only for \"split\"", where);
    goto fail;
  }
  *out = r;
  return 0;
fail:
  nm__frule_free(r);
  return rc;
}

/* ---- direct actions ---- */

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
  const cJSON *t = get(o, "data"), *b = get(o, "data_b64");
  if (t != NULL && b != NULL)
    return fail(err, errlen, "%s: give \"data\" or \"data_b64\", not both",
                where);
  if (t == NULL && b == NULL) {
    if (required)
      return fail(err, errlen, "%s.data: required (or data_b64)", where);
    return 0;
  }
  if (t != NULL) {
    if (!cJSON_IsString(t))
      return fail(err, errlen, "%s.data: must be a string", where);
    a->len = strlen(t->valuestring);
    if (a->len > NM_FAULT_DATA_MAX)
      return fail(err, errlen, "%s.data: over %d bytes", where,
                  NM_FAULT_DATA_MAX);
    a->data = malloc(a->len + 1);
    if (a->data == NULL)
      return NM_ENOMEM;
    memcpy(a->data, t->valuestring, a->len + 1);
  } else {
    size_t n;
    long got;
    if (!cJSON_IsString(b))
      return fail(err, errlen, "%s.data_b64: must be a string", where);
    n = strlen(b->valuestring);
    if (n / 4 * 3 > NM_FAULT_DATA_MAX)
      return fail(err, errlen, "%s.data_b64: over %d bytes", where,
                  NM_FAULT_DATA_MAX);
    a->data = malloc((n / 4 + 1) * 3 + 1);
    if (a->data == NULL)
      return NM_ENOMEM;
    got = nm__fb64_decode(b->valuestring, n, a->data);
    if (got < 0)
      return fail(err, errlen, "%s.data_b64: not valid base64", where);
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
  const cJSON *h = get(o, "headers"), *st = get(o, "status"),
              *desc = get(o, "description"), *k, *v;
  nm_buf_t b;
  int rc = 0;

  if (h == NULL && st == NULL && desc == NULL)
    return 0;
  if (!allow_status && (st != NULL || desc != NULL))
    return fail(err, errlen, "%s: \"status\" only in a send HMSG frame", where);
  if (h != NULL && !cJSON_IsObject(h))
    return fail(err, errlen, "%s.headers: must be an object", where);
  if (st != NULL && (!cJSON_IsString(st) || strlen(st->valuestring) != 3 ||
                     !isdigit((unsigned char)st->valuestring[0]) ||
                     !isdigit((unsigned char)st->valuestring[1]) ||
                     !isdigit((unsigned char)st->valuestring[2])))
    return fail(err, errlen,
                "%s.status: must be a 3-digit string, e.g. \"503\"", where);
  if (desc != NULL && (st == NULL || !cJSON_IsString(desc) ||
                       strpbrk(desc->valuestring, "\r\n") != NULL))
    return fail(err, errlen,
                "%s.description: a one-line string, with \"status\"", where);
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
        rc = fail(err, errlen, "%s.headers: bad header name \"%s\"", where,
                  k->string);
        break;
      }
      if (cJSON_IsString(k)) {
        if (strpbrk(k->valuestring, "\r\n") != NULL) {
          rc = fail(err, errlen, "%s.headers.%s: no CR or LF in values", where,
                    k->string);
          break;
        }
        rc = nm_buf_appendf(&b, "%s: %s\r\n", k->string, k->valuestring);
        continue;
      }
      if (!cJSON_IsArray(k)) {
        rc = fail(err, errlen,
                  "%s.headers.%s: must be a string or a list of strings", where,
                  k->string);
        break;
      }
      cJSON_ArrayForEach(v, k) {
        if (!cJSON_IsString(v) || strpbrk(v->valuestring, "\r\n") != NULL) {
          rc = fail(err, errlen,
                    "%s.headers.%s: values must be one-line strings", where,
                    k->string);
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
    return rc == NM_ETOOBIG ? fail(err, errlen, "%s.headers: too large", where)
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
  const cJSON *fr = get(o, "frame"), *op, *v;
  char fwhere[80];
  int rc;

  snprintf(fwhere, sizeof(fwhere), "%s.frame", where);
  if (!cJSON_IsObject(fr))
    return fail(err, errlen, "%s: required, an object with \"op\"", fwhere);
  if ((rc = check_keys(fr, keys, fwhere, err, errlen)) != 0)
    return rc;
  op = get(fr, "op");
  a->op = cJSON_IsString(op) ? verb_op(op->valuestring) : NM_OP_NONE;
  switch (a->op) {
  case NM_OP_MSG:
  case NM_OP_HMSG:
    if ((rc = get_str(fr, "subject", 0, &a->subject, fwhere, err, errlen)) ||
        (rc = get_str(fr, "sid", 1, &a->sid, fwhere, err, errlen)) ||
        (rc = get_str(fr, "reply", 0, &a->reply, fwhere, err, errlen)))
      return rc;
    if (a->subject == NULL || a->sid == NULL)
      return fail(err, errlen, "%s: \"subject\" and \"sid\" are required",
                  fwhere);
    if (has_space(a->subject) || has_space(a->sid) ||
        (a->reply && has_space(a->reply)))
      return fail(err, errlen, "%s: subject, sid, reply must have no blanks",
                  fwhere);
    if ((rc = get_data(fr, a, 0, fwhere, err, errlen)) != 0)
      return rc;
    if (a->op == NM_OP_MSG && (get(fr, "headers") || get(fr, "status")))
      return fail(err, errlen, "%s: headers and status need op \"HMSG\"",
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
    v = get(fr, "text");
    if (!cJSON_IsString(v) || strpbrk(v->valuestring, "\r\n") != NULL ||
        strlen(v->valuestring) >= NM_FAULT_FIELD_MAX)
      return fail(err, errlen,
                  "%s.text: required, one line: the error text without quotes",
                  fwhere);
    a->text = strdup(v->valuestring);
    return a->text == NULL ? NM_ENOMEM : 0;
  case NM_OP_INFO:
    v = get(fr, "fields");
    if (v != NULL) {
      if (!cJSON_IsObject(v))
        return fail(err, errlen, "%s.fields: must be an object", fwhere);
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
    return fail(err, errlen, "%s.op: one of MSG HMSG PING PONG ERR INFO OK",
                fwhere);
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
  const cJSON *v = get(o, "do");
  size_t i;
  int rc;

  memset(a, 0, sizeof(*a));
  if (!cJSON_IsObject(o))
    return fail(err, errlen, "%s: must be an object with \"do\"", where);
  for (i = 0; i < sizeof(kDos) / sizeof(kDos[0]); i++)
    if (cJSON_IsString(v) && strcmp(v->valuestring, kDos[i].name) == 0)
      break;
  if (i == sizeof(kDos) / sizeof(kDos[0]))
    return fail(err, errlen,
                "%s.do: required, one of send_raw send publish release close "
                "reset stall resume blackhole restart refuse",
                where);
  a->kind = kDos[i].kind;
  switch (a->kind) {
  case NM_FDO_SEND_RAW:
    if ((rc = check_keys(o, k_raw, where, err, errlen)) ||
        (rc = get_conn(o, def, in_then, &a->sel, &a->conn_id, where, err,
                       errlen)))
      return rc;
    return get_data(o, a, 1, where, err, errlen);
  case NM_FDO_SEND:
    if ((rc = check_keys(o, k_send, where, err, errlen)) ||
        (rc = get_conn(o, def, in_then, &a->sel, &a->conn_id, where, err,
                       errlen)))
      return rc;
    return parse_send(o, a, where, err, errlen);
  case NM_FDO_PUBLISH:
    if ((rc = check_keys(o, k_pub, where, err, errlen)) ||
        (rc = get_str(o, "subject", 0, &a->subject, where, err, errlen)) ||
        (rc = get_str(o, "reply", 0, &a->reply, where, err, errlen)))
      return rc;
    if (a->subject == NULL ||
        !nm_subject_valid_literal(nm_slice_str(a->subject)))
      return fail(err, errlen,
                  "%s.subject: required, a subject without wildcards", where);
    if (strncmp(a->subject, "$MOCK.", 6) == 0)
      return fail(err, errlen,
                  "%s.subject: $MOCK. subjects are the control API, not "
                  "routed",
                  where);
    if (a->reply != NULL && has_space(a->reply))
      return fail(err, errlen, "%s.reply: must have no blanks", where);
    a->count = 1;
    a->start = 1;
    if ((rc = get_data(o, a, 0, where, err, errlen)) ||
        (rc = get_headers(o, a, 0, where, err, errlen)) ||
        (rc = get_uint(o, "count", 1, NM_FAULT_PUBLISH_COUNT_MAX, &a->count,
                       where, err, errlen)) ||
        (rc = get_uint(o, "size", 0, NM_FAULT_DATA_MAX, &a->size, where, err,
                       errlen)) ||
        (rc = get_uint(o, "start", 1, UINT32_MAX, &a->start, where, err,
                       errlen)))
      return rc;
    if (a->has_data && get(o, "size") != NULL)
      return fail(err, errlen, "%s.size: only for sequenced payloads (no data)",
                  where);
    if (a->count * ((a->has_data ? a->len : a->size + 12) + a->hdr_len) >
        NM_FAULT_PUBLISH_BYTES_MAX)
      return fail(err, errlen, "%s: count x size over %u bytes", where,
                  NM_FAULT_PUBLISH_BYTES_MAX);
    return 0;
  case NM_FDO_RELEASE:
    if ((rc = check_keys(o, k_rel, where, err, errlen)) ||
        (rc = get_conn(o, NM_FCONN_ALL, in_then, &a->sel, &a->conn_id, where,
                       err, errlen)) ||
        (rc = get_uint(o, "count", 1, UINT32_MAX, &a->count, where, err,
                       errlen)))
      return rc;
    v = get(o, "rule");
    if (v != NULL) {
      if (!cJSON_IsString(v) || !valid_id(v->valuestring))
        return fail(err, errlen, "%s.rule: must be a rule id", where);
      snprintf(a->rule, sizeof(a->rule), "%s", v->valuestring);
    }
    return 0;
  case NM_FDO_CLOSE:
    a->flag = 1;
    if ((rc = check_keys(o, k_close, where, err, errlen)) ||
        (rc = get_bool(o, "flush", &a->flag, where, err, errlen)))
      return rc;
    return get_conn(o, def, in_then, &a->sel, &a->conn_id, where, err, errlen);
  case NM_FDO_RESET:
  case NM_FDO_STALL:
  case NM_FDO_RESUME:
  case NM_FDO_BLACKHOLE:
    if ((rc = check_keys(o, k_conn, where, err, errlen)) != 0)
      return rc;
    return get_conn(o, def, in_then, &a->sel, &a->conn_id, where, err, errlen);
  case NM_FDO_RESTART:
    if ((rc = check_keys(o, k_restart, where, err, errlen)) ||
        (rc = get_uint(o, "ms", 0, NM_FAULT_DELAY_MAX_MS, &a->ms, where, err,
                       errlen)))
      return rc;
    return get_bool(o, "keep_conns", &a->flag, where, err, errlen);
  case NM_FDO_REFUSE:
    if ((rc = check_keys(o, k_refuse, where, err, errlen)) != 0)
      return rc;
    if (get(o, "count") == NULL)
      return fail(err, errlen, "%s.count: required", where);
    return get_uint(o, "count", 1, INT32_MAX, &a->count, where, err, errlen);
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
    return fail(err, errlen, "%s: must be a list of actions", where);
  n = cJSON_GetArraySize(arr);
  if (n > NM_FAULT_ACTIONS_MAX)
    return fail(err, errlen, "%s: more than %d actions", where,
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
