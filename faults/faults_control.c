/* Fault documents as a whole (nm_faults_apply) and the run-time control API
 * on "$MOCK." subjects. A document is checked completely before anything
 * changes: a bad document changes nothing. Then, in this order: "clear",
 * "remove", "rules" (installed), "actions" (run). */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults_int.h"
#include "faults_json.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return NM_EINVAL;
}

static void clear_rules(nm_faults_t *f) {
  nm__frule_t *r;
  for (r = f->rules; r != NULL; r = r->next) {
    if (!r->removed) {
      r->removed = 1;
      f->nrules--;
    }
  }
}

static int id_in_list(const char *id, nm__frule_t **v, int n) {
  int i;
  for (i = 0; i < n; i++)
    if (strcmp(v[i]->id, id) == 0)
      return 1;
  return 0;
}

/* Would `id` still name an installed rule after clear/remove? */
static int id_taken(nm_faults_t *f, const char *id, int clear,
                    const cJSON *remove) {
  const cJSON *it;
  if (clear || nm__frule_find(f, id) == NULL)
    return 0;
  cJSON_ArrayForEach(it, remove) {
    if (strcmp(it->valuestring, id) == 0)
      return 0;
  }
  return 1;
}

/* Answers a control request. The answer is control traffic: no rule sees
 * the frames it makes (a rule dropping every MSG must not drop the reply
 * that confirms it). */
static void reply_publish(nm_faults_t *f, nm_slice_t reply,
                          const nm_buf_t *out) {
  f->replying++;
  nm__fh_publish(f, reply, (nm_slice_t){NULL, 0}, 0,
                 (nm_slice_t){out->base, out->len});
  f->replying--;
}

/* Frames of rule `id` kept (held or waiting to coalesce) on any connection. */
static uint64_t held_of(nm_faults_t *f, const char *id) {
  nm__fconn_t *st;
  nm__fheld_t *h;
  uint64_t n = 0;
  for (st = f->conns; st != NULL; st = st->next) {
    for (h = st->held.head; h != NULL; h = h->next)
      n += strcmp(h->rule, id) == 0;
    for (h = st->coalesce.head; h != NULL; h = h->next)
      n += strcmp(h->rule, id) == 0;
    for (h = st->seq[0].head; h != NULL; h = h->next)
      n += h->ordered && !h->ready && strcmp(h->rule, id) == 0;
    for (h = st->seq[1].head; h != NULL; h = h->next)
      n += h->ordered && !h->ready && strcmp(h->rule, id) == 0;
  }
  return n;
}

/* Actions that end the requester's connection, or throw its queued output
 * away, before the answer could be written: close without flush, reset,
 * black-hole, restart without keep_conns. */
static int ends_output(const nm__fdirects_t *d) {
  int i;
  for (i = 0; i < d->n; i++) {
    const nm__fdirect_t *a = &d->v[i];
    if ((a->kind == NM_FDO_CLOSE && !a->flag) || a->kind == NM_FDO_RESET ||
        a->kind == NM_FDO_BLACKHOLE || (a->kind == NM_FDO_RESTART && !a->flag))
      return 1;
  }
  return 0;
}

/* A $MOCK.fault request's actions that would destroy its own answer run
 * once the answer is on its way: on a zero-delay timer, which fires after
 * the host wrote what this loop turn queued. */
typedef struct nm__fdefer_s {
  uv_timer_t timer;
  nm_faults_t *f;
  nm__fdirects_t actions;
  uint64_t this_conn;
  struct nm__fdefer_s *next;
} nm__fdefer_t;

static void defer_closed(uv_handle_t *h) {
  nm__fdefer_t *d = h->data;
  d->f->pending_closes--;
  nm__fdirects_free(&d->actions);
  free(d);
}

static void defer_unlink(nm__fdefer_t *d) {
  nm__fdefer_t **pp;
  for (pp = &d->f->deferred; *pp != NULL; pp = &(*pp)->next)
    if (*pp == d) {
      *pp = d->next;
      break;
    }
}

static void defer_fire(uv_timer_t *t) {
  nm__fdefer_t *d = t->data;
  nm_faults_t *f = d->f;
  defer_unlink(d);
  if (!f->stopped) {
    f->walking++;
    nm__fdirects_run(f, &d->actions, d->this_conn, NULL);
    f->walking--;
    nm__frules_reap(f);
  }
  f->pending_closes++;
  uv_close((uv_handle_t *)&d->timer, defer_closed);
}

void nm__fdefer_stop(nm_faults_t *f) {
  nm__fdefer_t *d;
  while ((d = f->deferred) != NULL) {
    f->deferred = d->next;
    f->pending_closes++;
    uv_close((uv_handle_t *)&d->timer, defer_closed);
  }
}

/* Runs a document's actions now, or (see above) after its answer left. */
static void run_or_defer(nm_faults_t *f, nm__fdirects_t *actions,
                         uint64_t this_conn, nm_slice_t reply) {
  nm__fdefer_t *d;
  if (reply.n > 0 && f->loop != NULL && ends_output(actions) &&
      (d = calloc(1, sizeof(*d))) != NULL) {
    if (uv_timer_init(f->loop, &d->timer) == 0) {
      d->f = f;
      d->actions = *actions;
      actions->v = NULL;
      actions->n = 0;
      d->this_conn = this_conn;
      d->timer.data = d;
      d->next = f->deferred;
      f->deferred = d;
      (void)uv_timer_start(&d->timer, defer_fire, 0, 0);
      return;
    }
    free(d);
  }
  f->walking++;
  nm__fdirects_run(f, actions, this_conn, NULL);
  f->walking--;
  nm__frules_reap(f);
}

/* With `reply` set (a $MOCK.fault request), the result is published there
 * before the actions run, so a request whose actions close the requesting
 * connection (close, reset, restart) still gets its answer first. */
static int apply_doc(nm_faults_t *f, const char *json, uint64_t this_conn,
                     nm_slice_t reply, nm_buf_t *result, char *err,
                     size_t errlen) {
  static const char *const keys[] = {"rules", "remove", "clear", "actions",
                                     NULL};
  nm__frule_t **add = NULL;
  nm__fdirects_t actions = {NULL, 0};
  cJSON *doc = NULL;
  const cJSON *rules, *remove, *clear, *acts, *it;
  int nadd = 0, do_clear = 0, nremove = 0, i, rc = 0, keep;
  const char *end = NULL;
  size_t n;

  if (f->stopped)
    return fail(err, errlen, "the server is stopped");
  n = json != NULL ? strlen(json) : 0;
  if (n == 0)
    return fail(err, errlen, "empty document");
  if (n > NM_FAULT_DOC_MAX)
    return fail(err, errlen, "document over %d bytes", NM_FAULT_DOC_MAX);
  doc = cJSON_ParseWithLengthOpts(json, n, &end, 0);
  if (doc == NULL) {
    const char *at = cJSON_GetErrorPtr();
    return fail(err, errlen, "not valid JSON (at byte %ld)",
                at != NULL && at >= json && at <= json + n ? (long)(at - json)
                                                           : -1L);
  }
  /* One document, nothing after it but blanks: `{...}x` is a typo. */
  while (end != NULL && end < json + n &&
         (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
    end++;
  if (end == NULL || end != json + n) {
    rc = fail(err, errlen,
              "not valid JSON (text after the document at byte %ld)",
              end != NULL ? (long)(end - json) : -1L);
    goto done;
  }
  if (!cJSON_IsObject(doc)) {
    rc = fail(err, errlen, "the document must be a JSON object");
    goto done;
  }
  cJSON_ArrayForEach(it, doc) {
    const char *const *k;
    for (k = keys; *k != NULL && strcmp(*k, it->string) != 0; k++)
      ;
    if (*k == NULL && it->string[0] != '_' &&
        strcmp(it->string, "comment") != 0) {
      rc = fail(err, errlen,
                "%s: unknown field (expected rules, remove, clear, actions)",
                it->string);
      goto done;
    }
  }

  clear = cJSON_GetObjectItemCaseSensitive(doc, "clear");
  if (clear != NULL) {
    if (!cJSON_IsBool(clear)) {
      rc = fail(err, errlen, "clear: must be true or false");
      goto done;
    }
    do_clear = cJSON_IsTrue(clear);
  }
  remove = cJSON_GetObjectItemCaseSensitive(doc, "remove");
  if (remove != NULL) {
    if (!cJSON_IsArray(remove)) {
      rc = fail(err, errlen, "remove: must be a list of rule ids");
      goto done;
    }
    i = 0;
    cJSON_ArrayForEach(it, remove) {
      if (!cJSON_IsString(it)) {
        rc = fail(err, errlen, "remove[%d]: must be a rule id", i);
        goto done;
      }
      if (!do_clear && nm__frule_find(f, it->valuestring) == NULL) {
        rc = fail(err, errlen, "remove[%d]: no rule \"%.64s\" is installed", i,
                  it->valuestring);
        goto done;
      }
      i++;
    }
    nremove = i;
  }

  rules = cJSON_GetObjectItemCaseSensitive(doc, "rules");
  if (rules != NULL) {
    int count;
    if (!cJSON_IsArray(rules)) {
      rc = fail(err, errlen, "rules: must be a list of rules");
      goto done;
    }
    count = cJSON_GetArraySize(rules);
    keep = do_clear ? 0 : f->nrules - nremove;
    if (count + keep > NM_FAULT_RULES_MAX) {
      rc = fail(err, errlen,
                "rules: %d installed + %d new is over the limit of %d rules",
                keep, count, NM_FAULT_RULES_MAX);
      goto done;
    }
    add = calloc((size_t)(count > 0 ? count : 1), sizeof(*add));
    if (add == NULL) {
      rc = NM_ENOMEM;
      goto done;
    }
    cJSON_ArrayForEach(it, rules) {
      rc = nm__fjson_rule(f, it, nadd, &add[nadd], err, errlen);
      if (rc != 0)
        goto done;
      nadd++;
      if (add[nadd - 1]->id[0] != '\0' &&
          (id_in_list(add[nadd - 1]->id, add, nadd - 1) ||
           id_taken(f, add[nadd - 1]->id, do_clear, remove))) {
        rc = fail(err, errlen, "rules[%d].id: \"%s\" is already in use",
                  nadd - 1, add[nadd - 1]->id);
        goto done;
      }
    }
  }
  acts = cJSON_GetObjectItemCaseSensitive(doc, "actions");
  if (acts != NULL &&
      (rc = nm__fjson_directs(acts, "actions", 0, &actions, err, errlen)) != 0)
    goto done;
  /* A release names a rule this document adds, an installed one, or one
   * whose frames are still kept: anything else is a typo, answered as
   * `remove` answers an unknown id. */
  for (i = 0; i < actions.n; i++) {
    const char *id = actions.v[i].rule;
    if (actions.v[i].kind != NM_FDO_RELEASE || id[0] == '\0')
      continue;
    if (!id_in_list(id, add, nadd) && nm__frule_find(f, id) == NULL &&
        held_of(f, id) == 0) {
      rc = fail(err, errlen,
                "actions[%d].rule: no rule \"%s\" is installed or holds "
                "frames",
                i, id);
      goto done;
    }
  }

  /* Checked: now change things. */
  if (do_clear) {
    clear_rules(f);
    nm__fobserve(f, NM_OBS_ACTION, this_conn, NULL, (nm_slice_t){NULL, 0}, NULL,
                 "clear", "every rule removed");
  }
  if (remove != NULL) {
    cJSON_ArrayForEach(it, remove) {
      nm__frule_t *r = nm__frule_find(f, it->valuestring);
      if (r != NULL) {
        r->removed = 1;
        f->nrules--;
        nm__fobserve(f, NM_OBS_ACTION, this_conn, NULL, (nm_slice_t){NULL, 0},
                     r->id, "remove", NULL);
      }
    }
  }
  nm__frules_reap(f);
  {
    nm__frule_t **tail = &f->rules;
    while (*tail != NULL)
      tail = &(*tail)->next;
    for (i = 0; i < nadd; i++) {
      nm__frule_t *r = add[i];
      if (r->id[0] == '\0') {
        do
          snprintf(r->id, sizeof(r->id), "r%llu",
                   (unsigned long long)++f->next_rule_no);
        while (nm__frule_find(f, r->id) != NULL ||
               id_in_list(r->id, add + i + 1, nadd - i - 1));
      }
      *tail = r;
      tail = &r->next;
      f->nrules++;
      nm__fobserve(f, NM_OBS_ACTION, 0, NULL, (nm_slice_t){NULL, 0}, r->id,
                   "install", nm__fact_name(r->action));
    }
  }
  if (result != NULL) {
    rc = nm_buf_append_str(result, "{\"ok\":true,\"rules\":[");
    for (i = 0; rc == 0 && i < nadd; i++)
      rc = nm_buf_appendf(result, "%s\"%s\"", i ? "," : "", add[i]->id);
    if (rc == 0)
      rc = nm_buf_append_str(result, "]}");
    rc = 0; /* the document applied; a short result is not a failure */
  }
  nadd = 0; /* installed: owned by the engine now */
  if (reply.n > 0 && result != NULL)
    reply_publish(f, reply, result);
  if (actions.n > 0)
    run_or_defer(f, &actions, this_conn, reply);
done:
  for (i = 0; i < nadd; i++)
    nm__frule_free(add[i]);
  free(add);
  nm__fdirects_free(&actions);
  cJSON_Delete(doc);
  return rc;
}

int nm_faults_apply(nm_faults_t *f, const char *json, nm_buf_t *result,
                    char *err, size_t errlen) {
  char dummy[8];
  if (err == NULL || errlen == 0) {
    err = dummy;
    errlen = sizeof(dummy);
  }
  err[0] = '\0';
  if (f == NULL)
    return fail(err, errlen, "no fault engine");
  /* Not a loop-thread mark: the core applies a --faults file from the
   * thread that starts the server, before its loop thread runs. */
  return apply_doc(f, json, 0, (nm_slice_t){NULL, 0}, result, err, errlen);
}

/* {"ok":true,"rules":[{...}, ...]}: every installed rule and its counters. */
static int list_rules(nm_faults_t *f, nm_buf_t *out) {
  cJSON *root = cJSON_CreateObject(), *arr;
  nm__frule_t *r;

  if (root == NULL)
    return NM_ENOMEM;
  cJSON_AddBoolToObject(root, "ok", 1);
  arr = cJSON_AddArrayToObject(root, "rules");
  for (r = f->rules; arr != NULL && r != NULL; r = r->next) {
    cJSON *o;
    double held = 0;
    int armed, i;
    if (r->removed)
      continue;
    held = (double)held_of(f, r->id);
    o = cJSON_CreateObject();
    if (o == NULL)
      break;
    cJSON_AddStringToObject(o, "id", r->id);
    cJSON_AddStringToObject(o, "dir", r->match.dir == NM_DIR_IN ? "in" : "out");
    cJSON_AddStringToObject(o, "action", nm__fact_name(r->action));
    armed = r->cnt.armed;
    for (i = 0; r->per_conn && i < r->npc; i++)
      armed |= r->pc[i].n.armed;
    cJSON_AddBoolToObject(o, "armed", armed);
    cJSON_AddBoolToObject(o, "per_conn", r->per_conn);
    cJSON_AddNumberToObject(o, "seen", (double)r->seen_total);
    cJSON_AddNumberToObject(o, "acted", (double)r->acted_total);
    cJSON_AddBoolToObject(o, "spent",
                          !r->per_conn && nm__frule_spent(r, &r->cnt));
    cJSON_AddNumberToObject(o, "held", held);
    cJSON_AddItemToArray(arr, o);
  }
  return nm_json_merge_print(root, NULL, out);
}

/* {"ok":true,"dropped":N,"events":[...]}: the ACTION events kept, oldest
 * first, with seq greater than `since` (payload {"since":N}, default 0). */
static int list_trace(nm_faults_t *f, nm_slice_t payload, nm_buf_t *out) {
  cJSON *root, *arr, *req;
  uint64_t since = 0, first, k;

  if (payload.n > 0) {
    const char *end = NULL;
    const cJSON *v = NULL, *it;
    int bad = payload.n >= 256;
    req = bad ? NULL : cJSON_ParseWithLengthOpts(payload.p, payload.n, &end, 0);
    while (req != NULL && end < payload.p + payload.n &&
           (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
      end++;
    bad = req == NULL || end != payload.p + payload.n || !cJSON_IsObject(req);
    if (!bad) {
      cJSON_ArrayForEach(it, req) {
        if (strcmp(it->string, "since") != 0)
          bad = 1;
      }
    }
    v = bad ? NULL : cJSON_GetObjectItemCaseSensitive(req, "since");
    if (v != NULL && !nm__fj_as_uint(v, &since))
      bad = 1;
    cJSON_Delete(req);
    if (bad)
      return NM_EINVAL;
  }
  root = cJSON_CreateObject();
  if (root == NULL)
    return NM_ENOMEM;
  first = f->trace_seq > NM_FAULT_TRACE_MAX
              ? f->trace_seq - NM_FAULT_TRACE_MAX + 1
              : 1;
  if (since + 1 > first)
    first = since + 1;
  cJSON_AddBoolToObject(root, "ok", 1);
  /* Events that fell out of the ring before they could be read. */
  cJSON_AddNumberToObject(
      root, "dropped",
      (double)(f->trace_seq > NM_FAULT_TRACE_MAX &&
                       since < f->trace_seq - NM_FAULT_TRACE_MAX
                   ? f->trace_seq - NM_FAULT_TRACE_MAX - since
                   : 0));
  arr = cJSON_AddArrayToObject(root, "events");
  for (k = first; arr != NULL && f->trace != NULL && k <= f->trace_seq; k++) {
    const nm__ftrace_t *t = &f->trace[(k - 1) % NM_FAULT_TRACE_MAX];
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
      break;
    cJSON_AddNumberToObject(o, "seq", (double)t->seq);
    cJSON_AddNumberToObject(o, "t_us", (double)t->t_us);
    cJSON_AddNumberToObject(o, "conn", (double)t->conn_id);
    if (t->op != NM_OP_NONE)
      cJSON_AddStringToObject(o, "verb", nm_op_name(t->op));
    if (t->rule[0])
      cJSON_AddStringToObject(o, "rule", t->rule);
    cJSON_AddStringToObject(o, "action", t->action);
    if (t->detail[0])
      cJSON_AddStringToObject(o, "detail", t->detail);
    cJSON_AddItemToArray(arr, o);
  }
  return nm_json_merge_print(root, NULL, out);
}

void nm__fcontrol_error(nm_buf_t *out, const char *msg) {
  cJSON *o = cJSON_CreateObject();
  char *text;
  if (o == NULL)
    return;
  cJSON_AddBoolToObject(o, "ok", 0);
  cJSON_AddStringToObject(o, "error", msg);
  text = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (text != NULL) {
    nm_buf_clear(out);
    (void)nm_buf_append_str(out, text);
    cJSON_free(text);
  }
}

static const char kPrefix[] = "$MOCK.";

int nm_faults_is_control(nm_slice_t subject) {
  return subject.n >= sizeof(kPrefix) - 1 &&
         memcmp(subject.p, kPrefix, sizeof(kPrefix) - 1) == 0;
}

void nm_faults_control_deny(nm_faults_t *f, nm_slice_t reply, const char *why) {
  nm_buf_t out;
  if (f == NULL || f->stopped || reply.n == 0)
    return;
  nm_buf_init(&out, NM_FAULT_RESULT_MAX);
  nm__fcontrol_error(&out, why);
  reply_publish(f, reply, &out);
  nm_buf_free(&out);
}

/* The answer to the control request on `subject` into out. Returns 1 when
 * apply_doc already published it on `reply`. */
static int control_answer(nm_faults_t *f, nm_hconn_t *c, nm_slice_t subject,
                          nm_slice_t reply, nm_slice_t payload, nm_buf_t *out) {
  char err[512];
  char *doc = NULL;
  const char *verb;
  size_t vn;
  int rc = 0, answered = 0;

  verb = subject.p + sizeof(kPrefix) - 1;
  vn = subject.n - (sizeof(kPrefix) - 1);
  err[0] = '\0';
  if (vn == 5 && memcmp(verb, "fault", 5) == 0) {
    doc = malloc(payload.n + 1);
    if (doc == NULL) {
      rc = NM_ENOMEM;
      snprintf(err, sizeof(err), "out of memory");
    } else {
      if (payload.n > 0)
        memcpy(doc, payload.p, payload.n);
      doc[payload.n] = '\0';
      if (memchr(doc, '\0', payload.n) != NULL) {
        rc = NM_EINVAL;
        snprintf(err, sizeof(err), "the document contains a NUL byte");
      } else {
        rc = apply_doc(f, doc, c != NULL ? nm__fh_id(f, c) : 0, reply, out, err,
                       sizeof(err));
        if (rc == 0)
          answered = 1; /* apply_doc published the answer */
      }
    }
  } else if (vn == 5 && memcmp(verb, "rules", 5) == 0) {
    rc = list_rules(f, out);
    if (rc != 0)
      snprintf(err, sizeof(err), "rule list too large");
  } else if (vn == 5 && memcmp(verb, "trace", 5) == 0) {
    rc = list_trace(f, payload, out);
    if (rc == NM_EINVAL)
      snprintf(err, sizeof(err),
               "$MOCK.trace: the payload must be empty or {\"since\": N} "
               "with N a whole number");
    else if (rc != 0)
      snprintf(err, sizeof(err), "trace too large");
  } else if (vn == 5 && memcmp(verb, "clear", 5) == 0) {
    clear_rules(f);
    nm__frules_reap(f);
    nm__fobserve(f, NM_OBS_ACTION, c != NULL ? nm__fh_id(f, c) : 0, NULL,
                 (nm_slice_t){NULL, 0}, NULL, "clear", "every rule removed");
    rc = nm_buf_append_str(out, "{\"ok\":true,\"rules\":[]}");
  } else {
    rc = NM_EINVAL;
    snprintf(err, sizeof(err),
             "unknown control subject %.*s (use $MOCK.fault, $MOCK.rules, "
             "$MOCK.clear, $MOCK.trace)",
             (int)(subject.n > 100 ? 100 : subject.n), subject.p);
  }
  if (rc != 0) {
    nm__fcontrol_error(out, err[0] ? err : "failed");
    answered = 0;
  }
  free(doc);
  return answered;
}

void nm_faults_control(nm_faults_t *f, nm_hconn_t *c, nm_slice_t subject,
                       nm_slice_t reply, nm_slice_t payload) {
  nm_buf_t out;
  int answered;
  if (f == NULL || f->control_off || !nm_faults_is_control(subject))
    return;
  nm_buf_init(&out, NM_FAULT_RESULT_MAX);
  answered = control_answer(f, c, subject, reply, payload, &out);
  if (reply.n > 0 && !answered && !f->stopped)
    reply_publish(f, reply, &out);
  nm_buf_free(&out);
}

int nm_faults_control_local(nm_faults_t *f, const char *verb,
                            nm_slice_t payload, nm_buf_t *out) {
  char subject[64];
  int n;
  if (f == NULL || f->control_off)
    return NM_ESTATE;
  n = snprintf(subject, sizeof(subject), "%s%s", kPrefix, verb);
  if (n < 0 || (size_t)n >= sizeof(subject))
    return NM_EINVAL;
  (void)control_answer(f, NULL, (nm_slice_t){subject, (size_t)n},
                       (nm_slice_t){NULL, 0}, payload, out);
  return 0;
}
