/* Reading a fault rule from JSON into an nm__frule_t. Everything is checked
 * before anything is installed, and every error names the offending field,
 * e.g. `rules[0].nth: must be an integer from 1 to 4294967295`. Direct
 * actions are faults_json_do.c. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "faults_json.h"
#include "nm_encode.h"
#include "nm_subject.h"

/* The match fields shared by a rule and its "after". */
static int parse_match(const cJSON *o, nm__fmatch_t *m, const char *where,
                       char *err, size_t errlen) {
  const cJSON *v;
  int r;

  memset(m, 0, sizeof(*m));
  v = nm__fj_get(o, "dir");
  if (!cJSON_IsString(v) ||
      (strcmp(v->valuestring, "in") != 0 && strcmp(v->valuestring, "out") != 0))
    return nm__fj_fail(err, errlen,
                       "%s.dir: required, \"in\" (client to server) or \"out\" "
                       "(server to client)",
                       where);
  m->dir = strcmp(v->valuestring, "in") == 0 ? NM_DIR_IN : NM_DIR_OUT;
  v = nm__fj_get(o, "verb");
  if (v != NULL) {
    const cJSON *it;
    if (cJSON_IsString(v)) {
      m->verbs = nm__fverb_bit(v->valuestring);
      if (m->verbs == 0)
        return nm__fj_fail(err, errlen, "%s.verb: unknown op \"%s\"", where,
                           v->valuestring);
    } else if (cJSON_IsArray(v) && cJSON_GetArraySize(v) > 0) {
      cJSON_ArrayForEach(it, v) {
        uint32_t bit = cJSON_IsString(it) ? nm__fverb_bit(it->valuestring) : 0;
        if (bit == 0)
          return nm__fj_fail(err, errlen, "%s.verb: unknown op %s%s%s", where,
                             cJSON_IsString(it) ? "\"" : "",
                             cJSON_IsString(it) ? it->valuestring
                                                : "(not a string)",
                             cJSON_IsString(it) ? "\"" : "");
        m->verbs |= bit;
      }
    } else {
      return nm__fj_fail(
          err, errlen,
          "%s.verb: must be an op name or a non-empty list of them", where);
    }
  }
  if (m->verbs != 0) {
    /* A verb that never travels in that direction is a typo, not a rule. */
    uint32_t never =
        m->dir == NM_DIR_IN ? NM_FJ_SERVER_ONLY : NM_FJ_CLIENT_ONLY;
    if ((m->verbs & never) != 0)
      return nm__fj_fail(err, errlen, "%s.verb: %s never sends %s (dir \"%s\")",
                         where, m->dir == NM_DIR_IN ? "a client" : "the server",
                         nm__fj_op_name_of(m->verbs & never),
                         m->dir == NM_DIR_IN ? "in" : "out");
  }
  if ((r = nm__fj_str(o, "subject", 0, &m->subject, where, err, errlen)) != 0)
    return r;
  if (m->subject != NULL &&
      !nm_subject_valid((nm_slice_t){m->subject, strlen(m->subject)}))
    return nm__fj_fail(err, errlen,
                       "%s.subject: \"%s\" is not a valid subject pattern",
                       where, m->subject);
  if ((r = nm__fj_str(o, "sid", 1, &m->sid, where, err, errlen)) != 0)
    return r;
  if (m->sid != NULL && nm__fj_has_space(m->sid))
    return nm__fj_fail(err, errlen, "%s.sid: must not contain blanks", where);
  v = nm__fj_get(o, "conn");
  if (v != NULL) {
    if (!nm__fj_as_uint(v, &m->conn) || m->conn < 1)
      return nm__fj_fail(err, errlen,
                         "%s.conn: must be a connection id (1, 2, ...)", where);
  }
  if ((r = nm__fj_str(o, "name", 0, &m->name, where, err, errlen)) != 0)
    return r;
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

int nm__fjson_rule(nm_faults_t *f, const void *json, int index,
                   nm__frule_t **out, char *err, size_t errlen) {
  static const char *const keys[] = {
      "id",         "dir",        "verb",    "subject", "sid",      "conn",
      "nth",        "every",      "limit",   "after",   "action",   "ms",
      "chunk",      "cuts",       "seed",    "then",    "per_conn", "name",
      "release_ms", "release_on", "ordered", NULL};
  static const char *const after_keys[] = {"dir",  "verb", "subject", "sid",
                                           "conn", "nth",  "name",    NULL};
  const cJSON *o = json, *v;
  char where[48], awhere[64];
  nm__frule_t *r;
  /* No "seed": the server's --seed, else a fixed one (reruns cut alike). */
  uint64_t seed = nm__fh_seed(f) ? nm__fh_seed(f) : 1;
  size_t i;
  int rc;

  *out = NULL;
  snprintf(where, sizeof(where), "rules[%d]", index);
  if (!cJSON_IsObject(o))
    return nm__fj_fail(err, errlen, "%s: must be an object", where);
  if ((rc = nm__fj_check_keys(o, keys, where, err, errlen)) != 0)
    return rc;
  r = calloc(1, sizeof(*r));
  if (r == NULL)
    return NM_ENOMEM;

  v = nm__fj_get(o, "id");
  if (v != NULL) {
    if (!cJSON_IsString(v) || !nm__fj_valid_id(v->valuestring)) {
      rc = nm__fj_fail(
          err, errlen,
          "%s.id: must be 1 to %d characters of letters, digits, - _ . :",
          where, NM_FAULT_ID_MAX - 1);
      goto fail;
    }
    snprintf(r->id, sizeof(r->id), "%s", v->valuestring);
  }
  if ((rc = parse_match(o, &r->match, where, err, errlen)) != 0)
    goto fail;
  if ((rc =
           nm__fj_uint(o, "nth", 1, UINT32_MAX, &r->nth, where, err, errlen)) ||
      (rc = nm__fj_uint(o, "every", 1, UINT32_MAX, &r->every, where, err,
                        errlen)) ||
      (rc = nm__fj_uint(o, "limit", 1, UINT32_MAX, &r->limit, where, err,
                        errlen)))
    goto fail;

  r->cnt.armed = 1;
  if ((rc = nm__fj_bool(o, "per_conn", &r->per_conn, where, err, errlen)) != 0)
    goto fail;
  v = nm__fj_get(o, "after");
  if (v != NULL) {
    snprintf(awhere, sizeof(awhere), "%s.after", where);
    if (!cJSON_IsObject(v)) {
      rc = nm__fj_fail(err, errlen, "%s: must be an object", awhere);
      goto fail;
    }
    if ((rc = nm__fj_check_keys(v, after_keys, awhere, err, errlen)) != 0 ||
        (rc = parse_match(v, &r->after, awhere, err, errlen)) != 0)
      goto fail;
    r->after_nth = 1;
    if ((rc = nm__fj_uint(v, "nth", 1, UINT32_MAX, &r->after_nth, awhere, err,
                          errlen)) != 0)
      goto fail;
    r->has_after = 1;
    r->cnt.armed = 0;
  }

  v = nm__fj_get(o, "then");
  if (v != NULL) {
    char twhere[64];
    snprintf(twhere, sizeof(twhere), "%s.then", where);
    if ((rc = nm__fjson_directs(v, twhere, 1, &r->then, err, errlen)) != 0)
      goto fail;
  }

  v = nm__fj_get(o, "action");
  if (v == NULL && r->then.n > 0) {
    r->action = NM_FACT_PASS;
  } else {
    for (i = 0; i < sizeof(kActions) / sizeof(kActions[0]); i++)
      if (cJSON_IsString(v) && strcmp(v->valuestring, kActions[i].name) == 0)
        break;
    if (i == sizeof(kActions) / sizeof(kActions[0])) {
      rc = nm__fj_fail(
          err, errlen,
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
    rc = nm__fj_fail(err, errlen,
                     "%s.action: \"%s\" works on \"dir\":\"out\" only", where,
                     nm__fact_name(r->action));
    goto fail;
  }
  if (r->action == NM_FACT_DELAY) {
    if (nm__fj_get(o, "ms") == NULL) {
      rc = nm__fj_fail(err, errlen, "%s.ms: required for \"delay\"", where);
      goto fail;
    }
    if ((rc = nm__fj_uint(o, "ms", 0, NM_FAULT_DELAY_MAX_MS, &r->ms, where, err,
                          errlen)) != 0)
      goto fail;
  } else if (nm__fj_get(o, "ms") != NULL) {
    rc = nm__fj_fail(err, errlen, "%s.ms: only for \"delay\"", where);
    goto fail;
  }
  /* By default a held or delayed frame keeps TCP order: what follows it on
   * its connection and direction waits behind it. */
  r->ordered = r->action == NM_FACT_HOLD || r->action == NM_FACT_DELAY;
  if ((rc = nm__fj_bool(o, "ordered", &r->ordered, where, err, errlen)) != 0)
    goto fail;
  if (nm__fj_get(o, "ordered") != NULL && r->action != NM_FACT_HOLD &&
      r->action != NM_FACT_DELAY) {
    rc = nm__fj_fail(err, errlen, "%s.ordered: only for \"hold\" and \"delay\"",
                     where);
    goto fail;
  }
  /* A hold can end by itself: after release_ms, or when a frame matching
   * release_on is seen on the connection. */
  if ((nm__fj_get(o, "release_ms") != NULL ||
       nm__fj_get(o, "release_on") != NULL) &&
      r->action != NM_FACT_HOLD) {
    rc = nm__fj_fail(err, errlen,
                     "%s: \"release_ms\" and \"release_on\" only for \"hold\"",
                     where);
    goto fail;
  }
  if ((rc = nm__fj_uint(o, "release_ms", 1, NM_FAULT_DELAY_MAX_MS, &r->ms,
                        where, err, errlen)) != 0)
    goto fail;
  v = nm__fj_get(o, "release_on");
  if (v != NULL) {
    static const char *const rel_keys[] = {"dir",  "verb", "subject", "sid",
                                           "conn", "name", NULL};
    snprintf(awhere, sizeof(awhere), "%s.release_on", where);
    if (!cJSON_IsObject(v)) {
      rc = nm__fj_fail(err, errlen, "%s: must be an object", awhere);
      goto fail;
    }
    if ((rc = nm__fj_check_keys(v, rel_keys, awhere, err, errlen)) != 0 ||
        (rc = parse_match(v, &r->release_on, awhere, err, errlen)) != 0)
      goto fail;
    r->has_release_on = 1;
  }
  if (r->action == NM_FACT_SPLIT) {
    if ((nm__fj_get(o, "chunk") == NULL) == (nm__fj_get(o, "cuts") == NULL)) {
      rc = nm__fj_fail(
          err, errlen,
          "%s: \"split\" needs exactly one of \"chunk\" or \"cuts\"", where);
      goto fail;
    }
    if ((rc = nm__fj_uint(o, "chunk", 1, UINT32_MAX, &r->chunk, where, err,
                          errlen)) ||
        (rc = nm__fj_uint(o, "cuts", 1, NM_FAULT_CUTS_MAX, &r->cuts, where, err,
                          errlen)) ||
        (rc = nm__fj_uint(o, "seed", 0, UINT64_MAX >> 11, &seed, where, err,
                          errlen)))
      goto fail;
    /* xorshift never leaves 0: mix the seed into a fixed odd constant. */
    r->rng = (seed ^ 0x9E3779B97F4A7C15ull) | 1;
  } else if (nm__fj_get(o, "chunk") || nm__fj_get(o, "cuts") ||
             nm__fj_get(o, "seed")) {
    rc = nm__fj_fail(err, errlen,
                     "%s: \"chunk\", \"cuts\", \"seed\" only for \"split\"",
                     where);
    goto fail;
  }
  *out = r;
  return 0;
fail:
  nm__frule_free(r);
  return rc;
}
