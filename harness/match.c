/* Await and expect_none matching. Client events match field by field (JSON
 * equality); server entries match on kind, verb, frame fields, payload,
 * connection, owning client, and the rule/action that touched them. */
#include "nm_match.h"

#include <stdlib.h>
#include <string.h>

#include "nm_seq.h"

static const char *const control_keys[] = {"client", "count", "since"};

static int is_control(const char *k) {
  for (size_t i = 0; i < sizeof(control_keys) / sizeof(control_keys[0]); i++)
    if (strcmp(k, control_keys[i]) == 0)
      return 1;
  return 0;
}

static nm_tl_kind_t server_kind(const char *s) {
  if (!strcmp(s, "in"))
    return NM_TL_IN;
  if (!strcmp(s, "out"))
    return NM_TL_OUT;
  if (!strcmp(s, "open"))
    return NM_TL_OPEN;
  if (!strcmp(s, "close"))
    return NM_TL_CLOSE;
  if (!strcmp(s, "action"))
    return NM_TL_ACTION;
  return 0;
}

static int str_eq(const char *have, const cJSON *want) {
  return cJSON_IsString(want) && have && strcmp(have, want->valuestring) == 0;
}

static int match_server(const nm_tl_t *tl, const nm_tl_ev_t *e,
                        const cJSON *m) {
  const cJSON *x;
  cJSON_ArrayForEach(x, m) {
    const char *k = x->string;
    if (!strcmp(k, "server")) {
      if (e->kind != server_kind(x->valuestring))
        return 0;
    } else if (!strcmp(k, "verb")) {
      if (!cJSON_IsString(x) || e->op != nm_tl_verb_op(x->valuestring))
        return 0;
    } else if (!strcmp(k, "subject")) {
      if (!str_eq(e->subject, x))
        return 0;
    } else if (!strcmp(k, "reply")) {
      if (!str_eq(e->reply, x))
        return 0;
    } else if (!strcmp(k, "sid")) {
      if (!str_eq(e->sid, x))
        return 0;
    } else if (!strcmp(k, "queue")) {
      if (!str_eq(e->queue, x))
        return 0;
    } else if (!strcmp(k, "max")) {
      if (!str_eq(e->max, x))
        return 0;
    } else if (!strcmp(k, "rule")) {
      if (!str_eq(e->rule, x))
        return 0;
    } else if (!strcmp(k, "action")) {
      if (!str_eq(e->action, x))
        return 0;
    } else if (!strcmp(k, "detail")) {
      if (!e->detail || !cJSON_IsString(x) ||
          !strstr(e->detail, x->valuestring))
        return 0;
    } else if (!strcmp(k, "data")) {
      size_t n;
      const char *b = nm_tl_body(e, &n);
      if (!cJSON_IsString(x) || strlen(x->valuestring) != n ||
          memcmp(b, x->valuestring, n) != 0)
        return 0;
    } else if (!strcmp(k, "seq")) {
      size_t n;
      const char *b = nm_tl_body(e, &n);
      uint64_t seq;
      if (!cJSON_IsNumber(x) || !nm_seq_read(b, n, &seq) ||
          seq != (uint64_t)x->valuedouble)
        return 0;
    } else if (!strcmp(k, "conn")) {
      if (!cJSON_IsNumber(x) || e->conn != (uint64_t)x->valuedouble)
        return 0;
    } else if (!strcmp(k, "client")) {
      int o = nm_tl_owner(tl, e->conn);
      if (!cJSON_IsString(x) || o < 0 ||
          o != nm_tl_client_index(tl, x->valuestring))
        return 0;
    }
  }
  return 1;
}

static int match_client(const nm_tl_t *tl, const nm_tl_ev_t *e, const cJSON *m,
                        int client) {
  const cJSON *x, *c = cJSON_GetObjectItemCaseSensitive(m, "client");
  if (e->kind != NM_TL_EV)
    return 0;
  if (cJSON_IsString(c))
    client = nm_tl_client_index(tl, c->valuestring);
  if (e->client != client)
    return 0;
  cJSON_ArrayForEach(x, m) {
    const cJSON *have;
    if (is_control(x->string))
      continue;
    have = cJSON_GetObjectItemCaseSensitive(e->json, x->string);
    if (!have || !cJSON_Compare(have, x, 1))
      return 0;
  }
  return 1;
}

int nm__match(const nm_tl_t *tl, size_t i, const cJSON *m, int client) {
  const nm_tl_ev_t *e = &tl->v[i];
  if (cJSON_GetObjectItemCaseSensitive(m, "server"))
    return e->kind >= NM_TL_OPEN && e->kind <= NM_TL_ACTION &&
           match_server(tl, e, m);
  return match_client(tl, e, m, client);
}

int nm__match_expect(const nm_tl_ev_t *result, const cJSON *expect) {
  const cJSON *x;
  if (!expect)
    return strcmp(result->ev, "ok") == 0;
  if (cJSON_IsString(expect)) {
    if (!strcmp(expect->valuestring, "any"))
      return 1;
    return strcmp(result->ev, expect->valuestring) == 0;
  }
  cJSON_ArrayForEach(x, expect) {
    const cJSON *have =
        cJSON_GetObjectItemCaseSensitive(result->json, x->string);
    if (!have || !cJSON_Compare(have, x, 1))
      return 0;
  }
  return 1;
}

size_t nm__match_near(const nm_tl_t *tl, size_t from, const cJSON *m,
                      int client, size_t *out, size_t max) {
  const cJSON *srv = cJSON_GetObjectItemCaseSensitive(m, "server");
  const cJSON *ev = cJSON_GetObjectItemCaseSensitive(m, "ev");
  const cJSON *verb = cJSON_GetObjectItemCaseSensitive(m, "verb");
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "client");
  size_t n = 0;

  if (!srv && cJSON_IsString(c))
    client = nm_tl_client_index(tl, c->valuestring);
  /* Walk back from the end, keep the most recent `max`. */
  for (size_t i = tl->n; i > from && n < max; i--) {
    const nm_tl_ev_t *e = &tl->v[i - 1];
    int near;
    if (srv)
      near =
          e->kind == server_kind(srv->valuestring) &&
          (!cJSON_IsString(verb) || e->op == nm_tl_verb_op(verb->valuestring));
    else
      near = e->kind == NM_TL_EV && e->client == client && cJSON_IsString(ev) &&
             strcmp(e->ev, ev->valuestring) == 0;
    if (near)
      out[n++] = i - 1;
  }
  /* Oldest first. */
  for (size_t a = 0, b = n ? n - 1 : 0; a < b; a++, b--) {
    size_t t = out[a];
    out[a] = out[b];
    out[b] = t;
  }
  return n;
}
