/* Perturbation classes: what each does to a run, expressed as one fault
 * rule (docs/faults.md), drawn at seeded random points, made smaller for
 * shrinking. docs/exploration.md explains each class and its fairness. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nm_explore.h"

/* ---- randomness ---- */

void nm_rng_seed(nm_rng_t *r, uint64_t seed) {
  r->s = seed ^ 0x6a09e667f3bcc909ull;
}

uint64_t nm_rng_next(nm_rng_t *r) {
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint32_t nm_rng_below(nm_rng_t *r, uint32_t n) {
  return n ? (uint32_t)(nm_rng_next(r) % n) : 0;
}

/* ---- the classes ---- */

static const nm_pert_info_t classes[NM_PC_COUNT] = {
    [NM_PC_SPLIT] = {"split", 1, 1,
                     "an out frame written in pieces (random cuts, or one "
                     "byte per write)"},
    [NM_PC_COALESCE] = {"coalesce", 1, 1,
                        "an out frame written in the same write as an INFO "
                        "that follows it"},
    [NM_PC_LATENCY] = {"latency", 1, 1,
                       "every frame of one direction delayed by the same "
                       "time from a point on (order kept)"},
    [NM_PC_PONG_DELAY] = {"pong_delay", 1, 1,
                          "one PONG written later; later frames overtake it"},
    [NM_PC_PING] = {"ping", 1, 1, "a server PING after a random frame"},
    [NM_PC_INFO] = {"info", 1, 1,
                    "an INFO update (nothing changed) after a random frame"},
    [NM_PC_LDM] = {"ldm", 1, 0,
                   "an INFO announcing lame duck mode after a random frame"},
    [NM_PC_DISCOVER] = {"discover", 1, 0,
                        "an INFO whose connect_urls name a server that is "
                        "down, after a random frame"},
    [NM_PC_PONG_DROP] = {"pong_drop", 0, 0, "one PONG never written"},
    [NM_PC_PONG_DUP] = {"pong_dup", 0, 0, "one PONG written twice"},
    [NM_PC_PONG_INJECT] = {"pong_inject", 0, 0,
                           "an unsolicited PONG after a random frame"},
    [NM_PC_MSG_INJECT] = {"msg_inject", 0, 0,
                          "an unsolicited MSG for a live or dead sid after a "
                          "random frame"},
    [NM_PC_CLOSE] = {"close", 0, 0,
                     "the server closes the connection (FIN) after frame k"},
    [NM_PC_RESET] = {"reset", 0, 0,
                     "the server resets the connection (RST) after frame k"},
    [NM_PC_STALL] = {"stall", 0, 0,
                     "the server stops reading at client frame k"},
};

const nm_pert_info_t *nm_pert_info(nm_pert_class_t c) {
  return (int)c >= 0 && c < NM_PC_COUNT ? &classes[c] : NULL;
}

int nm_pert_class_by_name(const char *name) {
  for (int i = 0; i < NM_PC_COUNT; i++)
    if (strcmp(classes[i].name, name) == 0)
      return i;
  return -1;
}

uint32_t nm_pert_default_mask(void) {
  uint32_t m = 0;
  for (int i = 0; i < NM_PC_COUNT; i++)
    if (classes[i].dflt)
      m |= 1u << i;
  return m;
}

int nm_pert_has_faults(uint32_t mask) {
  for (int i = 0; i < NM_PC_COUNT; i++)
    if ((mask & (1u << i)) && !classes[i].fair)
      return 1;
  return 0;
}

int nm_pert_parse_mask(const char *spec, uint32_t *mask, char *err,
                       size_t errlen) {
  char word[64];
  uint32_t m = 0;
  int first = 1;
  while (*spec) {
    size_t n = strcspn(spec, ",");
    int neg, c;
    uint32_t bits = 0;
    const char *w;
    if (n == 0 || n >= sizeof(word)) {
      snprintf(err, errlen, "--perturb: empty or overlong class name");
      return -1;
    }
    memcpy(word, spec, n);
    word[n] = '\0';
    spec += n + (spec[n] == ',');
    neg = word[0] == '-';
    w = word + neg;
    /* "-x" first means "the default set without x". */
    if (first && neg)
      m = nm_pert_default_mask();
    first = 0;
    if (!strcmp(w, "all")) {
      bits = (1u << NM_PC_COUNT) - 1;
    } else if (!strcmp(w, "default")) {
      bits = nm_pert_default_mask();
    } else if (!strcmp(w, "fair") || !strcmp(w, "faults")) {
      for (int i = 0; i < NM_PC_COUNT; i++)
        if (classes[i].fair == (w[1] == 'a' && w[2] == 'i'))
          bits |= 1u << i;
    } else if ((c = nm_pert_class_by_name(w)) >= 0) {
      bits = 1u << c;
    } else {
      snprintf(err, errlen,
               "--perturb: unknown class \"%s\" (see --list-perturbations)", w);
      return -1;
    }
    m = neg ? (m & ~bits) : (m | bits);
  }
  if (!m) {
    snprintf(err, errlen, "--perturb: no class left");
    return -1;
  }
  *mask = m;
  return 0;
}

/* ---- what a scenario is sensitive to ---- */

static const char *const out_verbs[] = {"INFO", "MSG", "HMSG", "PING",
                                        "PONG", "OK",  "ERR"};
#define NOUT ((int)(sizeof(out_verbs) / sizeof(out_verbs[0])))
#define WATCH_ANY NOUT /* index in watches_out: a watch without a verb */

static int out_verb_index(const char *v) {
  if (!strcasecmp(v, "+OK"))
    v = "OK";
  if (!strcasecmp(v, "-ERR"))
    v = "ERR";
  for (int i = 0; i < NOUT; i++)
    if (!strcasecmp(v, out_verbs[i]))
      return i;
  return -1;
}

static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int closes_conn(const char *what) {
  static const char *const v[] = {"close",  "reset", "restart",
                                  "refuse", "stall", "blackhole"};
  for (size_t i = 0; what && i < sizeof(v) / sizeof(v[0]); i++)
    if (!strcmp(what, v[i]))
      return 1;
  return 0;
}

static void scope_action(const cJSON *a, nm_pert_scope_t *s) {
  const char *d = str(a, "do");
  if (d &&
      (!strcmp(d, "send") || !strcmp(d, "send_raw") || !strcmp(d, "release")))
    s->sends_frames = 1;
  if (closes_conn(d))
    s->server_closes = 1;
}

static void scope_taken_out(nm_pert_scope_t *s, const char *verb) {
  if (s->ntaken_out < 16)
    snprintf(s->taken_out[s->ntaken_out++], NM_PERT_STR, "%s", verb);
}

static void scope_rule(const cJSON *r, nm_pert_scope_t *s) {
  const char *dir = str(r, "dir"), *act = str(r, "action");
  const cJSON *verb = cJSON_GetObjectItemCaseSensitive(r, "verb"), *x;
  cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(r, "then")) {
    scope_action(x, s);
  }
  if (closes_conn(act))
    s->server_closes = 1;
  /* Pass rules count too: a rule of ours installed before theirs that
   * takes a frame would hide it from them (the first taker ends the walk),
   * and their trigger would never fire. */
  if (!dir)
    return;
  if (!strcmp(dir, "in")) {
    s->takes_in = 1;
    return;
  }
  s->takes_out = 1;
  if (cJSON_IsString(verb))
    scope_taken_out(s, verb->valuestring);
  else if (cJSON_IsArray(verb))
    cJSON_ArrayForEach(x, verb) {
      if (cJSON_IsString(x))
        scope_taken_out(s, x->valuestring);
    }
  else
    s->any_taken_out = 1;
}

static void scope_doc(const cJSON *doc, nm_pert_scope_t *s) {
  const cJSON *x;
  if (cJSON_IsArray(doc)) {
    cJSON_ArrayForEach(x, doc) {
      scope_doc(x, s);
    }
    return;
  }
  cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(doc, "rules")) {
    scope_rule(x, s);
  }
  cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(doc, "actions")) {
    scope_action(x, s);
  }
}

static void scope_match(const cJSON *m, nm_pert_scope_t *s) {
  const char *srv = str(m, "server"), *ev = str(m, "ev"), *verb;
  if (ev) {
    s->watches_lame_duck |= !strcmp(ev, "lame_duck");
    s->watches_discovered |= !strcmp(ev, "discovered");
    return;
  }
  if (!srv)
    return;
  verb = str(m, "verb");
  if (!strcmp(srv, "out")) {
    int i = verb ? out_verb_index(verb) : WATCH_ANY;
    if (i >= 0)
      s->watches_out[i] = 1;
  } else if (!strcmp(srv, "in")) {
    if (!verb || !strcmp(verb, "PONG"))
      s->watches_in_pong = 1;
  } else if (!strcmp(srv, "action") && !str(m, "rule")) {
    s->watches_actions = 1;
  }
}

static void scope_timeout(const cJSON *st, nm_pert_scope_t *s) {
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(st, "timeout_ms");
  uint32_t v;
  if (!cJSON_IsNumber(t) || t->valuedouble <= 0)
    return;
  v = t->valuedouble > 4e9 ? 4000000000u : (uint32_t)t->valuedouble;
  if (!s->min_timeout_ms || v < s->min_timeout_ms)
    s->min_timeout_ms = v;
}

void nm_pert_scope(const cJSON *root, nm_pert_scope_t *s) {
  const cJSON *st, *opt;
  memset(s, 0, sizeof(*s));
  /* Every server option but these sets a limit the server enforces by
   * closing the connection (auth, ping, payload, pending...). */
  cJSON_ArrayForEach(opt, cJSON_GetObjectItemCaseSensitive(root, "server")) {
    if (strcmp(opt->string, "server_name") && strcmp(opt->string, "trace") &&
        strcmp(opt->string, "debug"))
      s->server_closes = 1;
  }
  cJSON_ArrayForEach(st, cJSON_GetObjectItemCaseSensitive(root, "steps")) {
    const cJSON *x;
    const char *op = str(st, "do");
    s->nsteps++;
    if ((x = cJSON_GetObjectItemCaseSensitive(st, "fault")) != NULL) {
      s->has_fault = 1;
      scope_doc(x, s);
    }
    if ((x = cJSON_GetObjectItemCaseSensitive(st, "await")) != NULL &&
        cJSON_IsObject(x))
      scope_match(x, s);
    if ((x = cJSON_GetObjectItemCaseSensitive(st, "expect_none")) != NULL)
      scope_match(x, s);
    if (op)
      scope_timeout(st, s);
    if (op && !strcmp(op, "subscribe") && str(st, "subject") &&
        s->nsubjects < 8 && !strpbrk(str(st, "subject"), "*>"))
      snprintf(s->subjects[s->nsubjects++], NM_PERT_STR, "%s",
               str(st, "subject"));
  }
}

/* ---- drawing ---- */

static int takes_out_verb(const nm_pert_scope_t *s, const char *verb) {
  if (s->any_taken_out)
    return 1;
  for (int i = 0; i < s->ntaken_out; i++) {
    int a = out_verb_index(s->taken_out[i]), b = out_verb_index(verb);
    if (a >= 0 && a == b)
      return 1;
  }
  return 0;
}

static int watches_out(const nm_pert_scope_t *s, const char *verb) {
  return s->watches_out[WATCH_ANY] || s->watches_out[out_verb_index(verb)];
}

/* Latency on in frames: only when no rule of the scenario picks in frames
 * (ours, taking every frame, would hide them from it). */
static int latency_in_fits(const nm_pert_scope_t *s) {
  return !s->takes_in;
}

/* On out frames: also nothing may write around the rules (a frame written
 * at once would overtake the delayed ones), no rule of this run may take
 * out frames, and the server must not close connections (a delayed frame
 * of a closed connection is lost, where a network delivers it before the
 * FIN). */
static int latency_out_fits(const nm_pert_scope_t *s, int out_taken) {
  return !s->sends_frames && !s->takes_out && !s->server_closes && !out_taken;
}

/* Can class c be drawn for this scope? (Only what would not disturb the
 * scenario's own rules and observations.) `out_latency`: a latency on out
 * frames is already drawn (nothing else may then take out frames: a frame
 * written at once would overtake the delayed ones). */
static int fits(nm_pert_class_t c, const nm_pert_scope_t *s, int out_taken,
                int out_latency) {
  int injects = c == NM_PC_PING || c == NM_PC_INFO || c == NM_PC_LDM ||
                c == NM_PC_DISCOVER || c == NM_PC_PONG_INJECT ||
                c == NM_PC_MSG_INJECT || c == NM_PC_CLOSE || c == NM_PC_RESET ||
                c == NM_PC_COALESCE;
  if (s->watches_actions)
    return 0;
  if (s->watches_out[WATCH_ANY] && (injects || c == NM_PC_SPLIT))
    return 0;
  switch (c) {
  case NM_PC_SPLIT:
  case NM_PC_COALESCE:
  case NM_PC_PONG_DELAY:
    if (out_latency)
      return 0;
    /* A delayed frame of a connection the server closes is lost, where a
     * real network would deliver it before the FIN. */
    if (c == NM_PC_PONG_DELAY &&
        (s->server_closes || takes_out_verb(s, "PONG") || s->sends_frames))
      return 0;
    if (c == NM_PC_COALESCE && watches_out(s, "INFO"))
      return 0;
    return !s->any_taken_out;
  case NM_PC_LATENCY:
    return latency_in_fits(s) || latency_out_fits(s, out_taken);
  case NM_PC_PING:
    return !watches_out(s, "PING") && !s->watches_in_pong;
  case NM_PC_INFO:
    return !watches_out(s, "INFO");
  case NM_PC_LDM:
    return !watches_out(s, "INFO") && !s->watches_lame_duck;
  case NM_PC_DISCOVER:
    return !watches_out(s, "INFO") && !s->watches_discovered;
  case NM_PC_PONG_DROP:
  case NM_PC_PONG_DUP:
    return !out_latency && !takes_out_verb(s, "PONG") &&
           !watches_out(s, "PONG");
  case NM_PC_PONG_INJECT:
    return !watches_out(s, "PONG");
  case NM_PC_MSG_INJECT:
    return !watches_out(s, "MSG");
  case NM_PC_CLOSE:
  case NM_PC_RESET:
    return 1;
  case NM_PC_STALL:
    return !s->takes_in;
  default:
    return 0;
  }
}

static void draw_one(nm_rng_t *r, nm_pert_class_t c, const nm_pert_scope_t *s,
                     nm_pert_t *p, int *out_taken, int *out_latency) {
  static const char *const split_verbs[] = {"MSG",  "MSG",  "PONG", "PONG",
                                            "INFO", "HMSG", "PING", "OK"};
  /* Coalesced frames come after CONNECT (see nm_pert_rule): no INFO. */
  static const char *const coalesce_verbs[] = {"MSG",  "MSG",  "PONG", "PONG",
                                               "HMSG", "PING", "OK",   "ERR"};
  memset(p, 0, sizeof(*p));
  p->cls = c;
  p->at_step = (int)nm_rng_below(r, (uint32_t)(s->nsteps ? s->nsteps : 1));
  p->nth = 1 + nm_rng_below(r, 4);
  snprintf(p->dir, sizeof(p->dir), "%s", nm_rng_below(r, 2) ? "in" : "out");
  switch (c) {
  case NM_PC_SPLIT:
  case NM_PC_COALESCE: {
    const char *v;
    int tries = 0;
    do
      v = (c == NM_PC_SPLIT ? split_verbs : coalesce_verbs)[nm_rng_below(r, 8)];
    while (takes_out_verb(s, v) && ++tries < 16);
    snprintf(p->dir, sizeof(p->dir), "out");
    snprintf(p->verb, sizeof(p->verb), "%s", v);
    if (c == NM_PC_SPLIT) {
      p->cuts = nm_rng_below(r, 4) == 0 ? 0 : 1 + nm_rng_below(r, 8);
      p->seed = 1 + nm_rng_below(r, 1000000);
    }
    *out_taken = 1;
    break;
  }
  case NM_PC_LATENCY:
    if (latency_out_fits(s, *out_taken) &&
        (!latency_in_fits(s) || nm_rng_below(r, 2)))
      snprintf(p->dir, sizeof(p->dir), "out");
    else
      snprintf(p->dir, sizeof(p->dir), "in");
    p->ms = 1 + nm_rng_below(r, 30);
    if (!strcmp(p->dir, "out"))
      *out_latency = 1;
    break;
  case NM_PC_PONG_DELAY: {
    uint32_t cap = NM_PERT_MAX_DELAY_MS;
    /* Within what the scenario's timeouts allow: a quarter of its
     * shortest command timeout. */
    if (s->min_timeout_ms && s->min_timeout_ms / 4 < cap)
      cap = s->min_timeout_ms / 4;
    snprintf(p->dir, sizeof(p->dir), "out");
    snprintf(p->verb, sizeof(p->verb), "PONG");
    p->ms = 1 + nm_rng_below(r, cap ? cap : 1);
    *out_taken = 1;
    break;
  }
  case NM_PC_PONG_DROP:
  case NM_PC_PONG_DUP:
    snprintf(p->dir, sizeof(p->dir), "out");
    snprintf(p->verb, sizeof(p->verb), "PONG");
    *out_taken = 1;
    break;
  case NM_PC_MSG_INJECT:
    snprintf(p->sid, sizeof(p->sid), "%u",
             nm_rng_below(r, 4) == 0 ? 99u : 1 + nm_rng_below(r, 3));
    snprintf(p->subject, sizeof(p->subject), "%s",
             s->nsubjects ? s->subjects[nm_rng_below(r, (uint32_t)s->nsubjects)]
                          : "explore.stray");
    break;
  case NM_PC_STALL:
    snprintf(p->dir, sizeof(p->dir), "in");
    break;
  default:
    break;
  }
}

int nm_pert_draw(nm_rng_t *r, uint32_t mask, const nm_pert_scope_t *s, int max,
                 nm_pert_t *out) {
  int want, n = 0, out_taken = 0, out_latency = 0;
  if (max > NM_PERT_MAX)
    max = NM_PERT_MAX;
  want = 1 + (int)nm_rng_below(r, 3);
  if (want > max)
    want = max;
  for (int k = 0; k < want; k++) {
    int cand[NM_PC_COUNT], nc = 0;
    for (int c = 0; c < NM_PC_COUNT; c++)
      if ((mask & (1u << c)) &&
          fits((nm_pert_class_t)c, s, out_taken, out_latency))
        cand[nc++] = c;
    if (!nc)
      break;
    draw_one(r, (nm_pert_class_t)cand[nm_rng_below(r, (uint32_t)nc)], s,
             &out[n++], &out_taken, &out_latency);
  }
  return n;
}

/* ---- as a fault rule ---- */

static cJSON *send_action(const char *op) {
  cJSON *a = cJSON_CreateObject(), *f;
  cJSON_AddStringToObject(a, "do", "send");
  f = cJSON_AddObjectToObject(a, "frame");
  cJSON_AddStringToObject(f, "op", op);
  return a;
}

cJSON *nm_pert_rule(const nm_pert_t *p, int k) {
  cJSON *r = cJSON_CreateObject(), *then = NULL, *a;
  char id[64];
  snprintf(id, sizeof(id), "xp%d-%s", k, classes[p->cls].name);
  cJSON_AddStringToObject(r, "id", id);
  cJSON_AddStringToObject(r, "dir", p->dir);
  if (p->verb[0])
    cJSON_AddStringToObject(r, "verb", p->verb);
  if (p->cls != NM_PC_LATENCY) {
    cJSON_AddNumberToObject(r, "nth", p->nth);
    cJSON_AddNumberToObject(r, "limit", 1);
  }
  /* Until the PONG that ends a client's handshake (CONNECT, PING) a server
   * sends nothing but its INFO: nats-server reads CONNECT and PING in one
   * read and answers before anything else can be queued, and clients (the
   * reference, nats.go) reject anything but PONG there. Frames the rule
   * adds wait for that PONG, on each connection by itself (per_conn).
   * Latency waits for the CONNECT: the mock's parser checks auth as it
   * reads, so a CONNECT delayed behind the fault engine would let the PING
   * after it reach the parser first (a real network delays both alike). */
  if (p->cls != NM_PC_SPLIT && p->cls != NM_PC_PONG_DELAY &&
      p->cls != NM_PC_PONG_DROP && p->cls != NM_PC_PONG_DUP &&
      p->cls != NM_PC_STALL) {
    cJSON *after = cJSON_AddObjectToObject(r, "after");
    int lat = p->cls == NM_PC_LATENCY;
    cJSON_AddStringToObject(after, "dir", lat ? "in" : "out");
    cJSON_AddStringToObject(after, "verb", lat ? "CONNECT" : "PONG");
    cJSON_AddTrueToObject(r, "per_conn");
  }
  switch (p->cls) {
  case NM_PC_SPLIT:
    cJSON_AddStringToObject(r, "action", "split");
    if (p->cuts) {
      cJSON_AddNumberToObject(r, "cuts", p->cuts);
      cJSON_AddNumberToObject(r, "seed", p->seed);
    } else {
      cJSON_AddNumberToObject(r, "chunk", 1);
    }
    break;
  case NM_PC_COALESCE:
    cJSON_AddStringToObject(r, "action", "coalesce");
    then = cJSON_AddArrayToObject(r, "then");
    a = send_action("INFO");
    cJSON_AddObjectToObject(cJSON_GetObjectItem(a, "frame"), "fields");
    cJSON_AddItemToArray(then, a);
    break;
  case NM_PC_LATENCY:
  case NM_PC_PONG_DELAY:
    cJSON_AddStringToObject(r, "action", "delay");
    cJSON_AddNumberToObject(r, "ms", p->ms);
    /* As docs/exploration.md describes them: later frames are not held
     * back (delays are "ordered" by default since the engine keeps TCP
     * order). */
    cJSON_AddFalseToObject(r, "ordered");
    break;
  case NM_PC_PONG_DROP:
    cJSON_AddStringToObject(r, "action", "drop");
    break;
  case NM_PC_PONG_DUP:
    cJSON_AddStringToObject(r, "action", "duplicate");
    break;
  case NM_PC_STALL:
    cJSON_AddStringToObject(r, "action", "stall");
    break;
  default:
    cJSON_AddStringToObject(r, "action", "pass");
    then = cJSON_AddArrayToObject(r, "then");
    if (p->cls == NM_PC_PING) {
      cJSON_AddItemToArray(then, send_action("PING"));
    } else if (p->cls == NM_PC_PONG_INJECT) {
      cJSON_AddItemToArray(then, send_action("PONG"));
    } else if (p->cls == NM_PC_INFO || p->cls == NM_PC_LDM ||
               p->cls == NM_PC_DISCOVER) {
      cJSON *fields;
      a = send_action("INFO");
      fields =
          cJSON_AddObjectToObject(cJSON_GetObjectItem(a, "frame"), "fields");
      if (p->cls == NM_PC_LDM)
        cJSON_AddTrueToObject(fields, "ldm");
      if (p->cls == NM_PC_DISCOVER) {
        cJSON *u = cJSON_AddArrayToObject(fields, "connect_urls");
        cJSON_AddItemToArray(u, cJSON_CreateString("127.0.0.1:1"));
      }
      cJSON_AddItemToArray(then, a);
    } else if (p->cls == NM_PC_MSG_INJECT) {
      cJSON *f;
      a = send_action("MSG");
      f = cJSON_GetObjectItem(a, "frame");
      cJSON_AddStringToObject(f, "subject", p->subject);
      cJSON_AddStringToObject(f, "sid", p->sid);
      cJSON_AddStringToObject(f, "data", "999999");
      cJSON_AddItemToArray(then, a);
    } else if (p->cls == NM_PC_CLOSE || p->cls == NM_PC_RESET) {
      a = cJSON_CreateObject();
      cJSON_AddStringToObject(a, "do",
                              p->cls == NM_PC_CLOSE ? "close" : "reset");
      cJSON_AddItemToArray(then, a);
    }
    break;
  }
  return r;
}

const char *nm_pert_label(const nm_pert_t *p, char *buf, size_t n) {
  const char *name = classes[p->cls].name;
  switch (p->cls) {
  case NM_PC_SPLIT:
    if (p->cuts)
      snprintf(buf, n, "split(%s #%u, %u cuts, seed %u)", p->verb, p->nth,
               p->cuts, p->seed);
    else
      snprintf(buf, n, "split(%s #%u, 1 byte per write)", p->verb, p->nth);
    break;
  case NM_PC_COALESCE:
    snprintf(buf, n, "coalesce(%s #%u with an INFO)", p->verb, p->nth);
    break;
  case NM_PC_LATENCY:
    snprintf(buf, n, "latency(%s, %u ms)", p->dir, p->ms);
    break;
  case NM_PC_PONG_DELAY:
    snprintf(buf, n, "pong_delay(#%u, %u ms)", p->nth, p->ms);
    break;
  case NM_PC_PONG_DROP:
  case NM_PC_PONG_DUP:
    snprintf(buf, n, "%s(#%u)", name, p->nth);
    break;
  case NM_PC_MSG_INJECT:
    snprintf(buf, n, "msg_inject(sid %s, after %s frame #%u)", p->sid, p->dir,
             p->nth);
    break;
  case NM_PC_STALL:
    snprintf(buf, n, "stall(at in frame #%u)", p->nth);
    break;
  default:
    snprintf(buf, n, "%s(after %s frame #%u)", name, p->dir, p->nth);
    break;
  }
  return buf;
}

const char *nm_pert_cause(const nm_pert_t *p, char *buf, size_t n) {
  const char *name = classes[p->cls].name;
  if (p->cls == NM_PC_SPLIT || p->cls == NM_PC_COALESCE)
    snprintf(buf, n, "%s-%s", name, p->verb);
  else if (p->cls == NM_PC_LATENCY)
    snprintf(buf, n, "%s-%s", name, p->dir);
  else if (p->cls == NM_PC_MSG_INJECT)
    snprintf(buf, n, "%s-%s", name, strcmp(p->sid, "99") ? "live" : "dead");
  else
    snprintf(buf, n, "%s", name);
  return buf;
}

int nm_pert_smaller(const nm_pert_t *p, nm_pert_t *out) {
  *out = *p;
  switch (p->cls) {
  case NM_PC_SPLIT:
    if (p->cuts == 1)
      return 0;
    out->cuts = 1;
    if (!out->seed)
      out->seed = 1;
    return 1;
  case NM_PC_LATENCY:
  case NM_PC_PONG_DELAY:
    if (p->ms <= 1)
      return 0;
    out->ms = p->ms / 2;
    return 1;
  default:
    return 0;
  }
}

/* ---- the document with the perturbations in place ---- */

static int dropped(const nm_candidate_t *c, int step) {
  for (int i = 0; i < c->ndrop; i++)
    if (c->drop_steps[i] == step)
      return 1;
  return 0;
}

static const char *step_str(const cJSON *st, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(st, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Does the await step `st` wait for what a removed step would have done?
 * A named command ("as") that was removed, or the "closed" event of a
 * client whose close or drain was removed (`gone_end` lists those clients,
 * ',' separated). Such an await goes with its command. */
static int awaits_removed(const cJSON *st, const cJSON *gone_names,
                          const char *gone_end) {
  const cJSON *aw = cJSON_GetObjectItemCaseSensitive(st, "await");
  const char *client = step_str(st, "client"), *ev;
  char key[64];
  if (cJSON_IsString(aw))
    return cJSON_GetObjectItemCaseSensitive(gone_names, aw->valuestring) !=
           NULL;
  ev = cJSON_IsObject(aw) ? step_str(aw, "ev") : NULL;
  if (!ev || strcmp(ev, "closed") || !client)
    return 0;
  snprintf(key, sizeof(key), ",%s,", client);
  return strstr(gone_end, key) != NULL;
}

cJSON *nm_candidate_doc(const cJSON *root, const nm_candidate_t *c) {
  cJSON *doc = cJSON_Duplicate(root, 1);
  cJSON *old = cJSON_DetachItemFromObjectCaseSensitive(doc, "steps");
  cJSON *steps = cJSON_CreateArray(), *st;
  cJSON *gone_names = cJSON_CreateObject();
  char gone_end[256] = ",";
  int nold = cJSON_GetArraySize(old), i = 0;

  for (st = old ? old->child : NULL; i <= nold; i++) {
    cJSON *rules = NULL;
    for (int k = 0; k < c->np; k++) {
      int at = c->p[k].at_step;
      if (at > nold)
        at = nold;
      if (at != i)
        continue;
      if (!rules) {
        cJSON *fs = cJSON_CreateObject();
        cJSON *fd = cJSON_AddObjectToObject(fs, "fault");
        cJSON_AddStringToObject(fd, "_explore", "perturbation");
        rules = cJSON_AddArrayToObject(fd, "rules");
        cJSON_AddItemToArray(steps, fs);
      }
      cJSON_AddItemToArray(rules, nm_pert_rule(&c->p[k], k + 1));
    }
    if (i < nold) {
      cJSON *next = st->next;
      if (dropped(c, i)) {
        const char *as = step_str(st, "as"), *op = step_str(st, "do");
        const char *client = step_str(st, "client");
        if (as)
          cJSON_AddTrueToObject(gone_names, as);
        if (op && client && (!strcmp(op, "close") || !strcmp(op, "drain")) &&
            strlen(gone_end) + strlen(client) + 2 < sizeof(gone_end))
          snprintf(gone_end + strlen(gone_end),
                   sizeof(gone_end) - strlen(gone_end), "%s,", client);
      } else if (!awaits_removed(st, gone_names, gone_end)) {
        cJSON_AddItemToArray(steps, cJSON_Duplicate(st, 1));
      }
      st = next;
    }
  }
  cJSON_Delete(gone_names);
  cJSON_Delete(old);
  cJSON_AddItemToObject(doc, "steps", steps);
  return doc;
}
