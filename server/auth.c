/* Users and permissions (see auth.h). Subjects are matched token by token
 * the way nats-server's sublist matches a subject against permission
 * entries: '*' one token, '>' the rest; a wildcard in the subject being
 * checked only matches the same wildcard or a wider one. */
#include "auth.h"

#include <stdlib.h>
#include <string.h>

/* One permission entry: a subject and, for subscribe lists, a queue. */
typedef struct {
  char *subject;
  char *queue; /* NULL: none */
} entry_t;

typedef struct {
  entry_t *v;
  int n;
  int on; /* the list exists (an allow list may exist and be empty) */
} list_t;

struct nm__perm_s {
  list_t pub_allow, pub_deny, sub_allow, sub_deny;
  int resp;
  int resp_max;
  uint64_t resp_expires_ms;
};

typedef struct {
  char *user, *pass;
  nm__perm_t *perm;
} user_t;

struct nm__auth_s {
  user_t *users;
  int nusers;
  const nm__perm_t **distinct; /* each nm_perms_t compiled once */
  const nm_perms_t **sources;
  int ndistinct;
};

typedef struct {
  char *subject;
  uint64_t t_ms;
  int n;
} reply_t;

struct nm__replies_s {
  reply_t *v;
  int n, cap;
};

static void list_free(list_t *l) {
  for (int i = 0; i < l->n; i++) {
    free(l->v[i].subject);
    free(l->v[i].queue);
  }
  free(l->v);
}

static void perm_free(nm__perm_t *p) {
  if (p == NULL)
    return;
  list_free(&p->pub_allow);
  list_free(&p->pub_deny);
  list_free(&p->sub_allow);
  list_free(&p->sub_deny);
  free(p);
}

/* "subject" or "subject queue" (splitSubjectQueue) into an entry. */
static int entry_of(const char *s, int with_queue, entry_t *e) {
  const char *sp = with_queue ? strpbrk(s, " \t") : NULL;
  memset(e, 0, sizeof(*e));
  if (sp == NULL) {
    e->subject = strdup(s);
    return e->subject ? 0 : -1;
  }
  e->subject = strndup(s, (size_t)(sp - s));
  while (*sp == ' ' || *sp == '\t')
    sp++;
  e->queue = strdup(sp);
  if (e->queue) {
    size_t n = strlen(e->queue);
    while (n > 0 && (e->queue[n - 1] == ' ' || e->queue[n - 1] == '\t'))
      e->queue[--n] = 0;
  }
  return e->subject && e->queue ? 0 : -1;
}

static int list_of(list_t *l, const char *const *v, int n, int on,
                   int with_queue) {
  l->on = on;
  l->n = 0;
  if (n == 0)
    return 0;
  l->v = calloc((size_t)n, sizeof(*l->v));
  if (l->v == NULL)
    return -1;
  for (int i = 0; i < n; i++) {
    if (entry_of(v[i], with_queue, &l->v[i]) < 0)
      return -1;
    l->n++;
  }
  return 0;
}

static nm__perm_t *perm_compile(const nm_perms_t *src) {
  nm__perm_t *p = calloc(1, sizeof(*p));
  if (p == NULL)
    return NULL;
  /* setPermissions: a publish allow list exists when given (even empty);
   * deny and subscribe lists only when they have entries. */
  if (list_of(&p->pub_allow, src->pub.allow, src->pub.nallow,
              src->pub.allow_set, 0) < 0 ||
      list_of(&p->pub_deny, src->pub.deny, src->pub.ndeny, src->pub.ndeny > 0,
              0) < 0 ||
      list_of(&p->sub_allow, src->sub.allow, src->sub.nallow,
              src->sub.nallow > 0, 1) < 0 ||
      list_of(&p->sub_deny, src->sub.deny, src->sub.ndeny, src->sub.ndeny > 0,
              1) < 0) {
    perm_free(p);
    return NULL;
  }
  p->resp = src->allow_responses;
  p->resp_max = src->resp_max;
  p->resp_expires_ms = src->resp_expires_ms;
  return p;
}

void nm__auth_free(nm__auth_t *a) {
  if (a == NULL)
    return;
  for (int i = 0; i < a->nusers; i++) {
    free(a->users[i].user);
    free(a->users[i].pass);
  }
  for (int i = 0; i < a->ndistinct; i++)
    perm_free((nm__perm_t *)a->distinct[i]);
  free(a->distinct);
  free(a->sources);
  free(a->users);
  free(a);
}

int nm__auth_new(const nm_server_opts_t *o, nm__auth_t **out) {
  nm__auth_t *a;
  *out = NULL;
  if (o->nusers <= 0 || o->users == NULL)
    return 0;
  a = calloc(1, sizeof(*a));
  if (a == NULL)
    return NM_ENOMEM;
  a->users = calloc((size_t)o->nusers, sizeof(*a->users));
  a->distinct = calloc((size_t)o->nusers, sizeof(*a->distinct));
  a->sources = calloc((size_t)o->nusers, sizeof(*a->sources));
  if (a->users == NULL || a->distinct == NULL || a->sources == NULL)
    goto oom;
  for (int i = 0; i < o->nusers; i++) {
    const nm_user_t *u = &o->users[i];
    user_t *d = &a->users[i];
    a->nusers++;
    d->user = strdup(u->user ? u->user : "");
    d->pass = strdup(u->password ? u->password : "");
    if (d->user == NULL || d->pass == NULL)
      goto oom;
    if (u->perms) {
      int k;
      for (k = 0; k < a->ndistinct; k++)
        if (a->sources[k] == u->perms)
          break;
      if (k == a->ndistinct) {
        a->distinct[k] = perm_compile(u->perms);
        if (a->distinct[k] == NULL)
          goto oom;
        a->sources[k] = u->perms;
        a->ndistinct++;
      }
      d->perm = (nm__perm_t *)a->distinct[k];
    }
  }
  *out = a;
  return 0;
oom:
  nm__auth_free(a);
  return NM_ENOMEM;
}

static const user_t *find_user(const nm__auth_t *a, const char *user) {
  for (int i = 0; a != NULL && i < a->nusers; i++)
    if (!strcmp(a->users[i].user, user))
      return &a->users[i];
  return NULL;
}

const char *nm__auth_password(const nm__auth_t *a, const char *user) {
  const user_t *u = find_user(a, user);
  return u ? u->pass : NULL;
}

int nm__auth_has_users(const nm__auth_t *a) {
  return a != NULL && a->nusers > 0;
}

int nm__auth_users(const nm__auth_t *a, const char *user, const char *pass,
                   const char *token, const nm__perm_t **perms) {
  const user_t *u;
  *perms = NULL;
  if (!nm__auth_has_users(a) || user == NULL || user[0] == 0)
    return 0;
  (void)token;
  if ((u = find_user(a, user)) == NULL || strcmp(u->pass, pass ? pass : ""))
    return -1;
  *perms = u->perm;
  return 1;
}

int nm__auth_required(const nm__auth_t *a, const nm_server_opts_t *o) {
  return o->user || o->token || nm__auth_has_users(a);
}

static int str_eq(const char *a, const char *b) {
  return strcmp(a ? a : "", b ? b : "") == 0;
}

int nm__auth_check(const nm__auth_t *a, const nm_server_opts_t *o,
                   const char *user, const char *pass, const char *token,
                   const nm__perm_t **perms) {
  int r = nm__auth_users(a, user, pass, token, perms);
  if (r != 0)
    return r > 0;
  if (o->token)
    return token != NULL && strcmp(token, o->token) == 0;
  if (o->user)
    return user != NULL && str_eq(user, o->user) && str_eq(pass, o->pass);
  return 0;
}

/* ---- subject matching ---- */

static size_t tok_len(const char *p, const char *end) {
  const char *d = memchr(p, '.', (size_t)(end - p));
  return d ? (size_t)(d - p) : (size_t)(end - p);
}

/* Splits a subject into at most max tokens; -1 when there are more. */
static int tokens_of(const char *s, size_t n, nm_slice_t *t, int max) {
  int k = 0;
  const char *e = s + n;
  for (;;) {
    size_t l = tok_len(s, e);
    if (k == max)
      return -1;
    t[k++] = (nm_slice_t){s, l};
    if (s + l >= e)
      return k;
    s += l + 1;
  }
}

/* Go's isSubsetMatchTokenized(tokens of a, test b): everything a matches,
 * b matches. */
#define NM_SUBSET_TOKENS_MAX 256
static int subset(const char *a, size_t an, const char *b, size_t bn) {
  nm_slice_t ta[NM_SUBSET_TOKENS_MAX], tb[NM_SUBSET_TOKENS_MAX];
  int na = tokens_of(a, an, ta, NM_SUBSET_TOKENS_MAX);
  int nb = tokens_of(b, bn, tb, NM_SUBSET_TOKENS_MAX);
  if (na < 0 || nb < 0)
    return 0;
  for (int i = 0; i < nb; i++) {
    nm_slice_t t2 = tb[i], t1;
    if (i >= na || t2.n == 0)
      return 0;
    if (t2.n == 1 && t2.p[0] == '>')
      return 1;
    t1 = ta[i];
    if (t1.n == 0 || (t1.n == 1 && t1.p[0] == '>'))
      return 0;
    if (t1.n == 1 && t1.p[0] == '*') {
      if (!(t2.n == 1 && t2.p[0] == '*'))
        return 0;
      continue;
    }
    if (t2.p[0] != '*' && (t1.n != t2.n || memcmp(t1.p, t2.p, t1.n) != 0))
      return 0;
  }
  return na == nb;
}

/* Does pattern (with wildcards) match subject (its tokens taken as they
 * are: a wildcard there only matches the same wildcard or a wider one)? */
static int match(const char *pat, nm_slice_t subj) {
  nm_slice_t tp[NM_SUBSET_TOKENS_MAX], ts[NM_SUBSET_TOKENS_MAX];
  int np = tokens_of(pat, strlen(pat), tp, NM_SUBSET_TOKENS_MAX);
  int ns = tokens_of(subj.p, subj.n, ts, NM_SUBSET_TOKENS_MAX);
  if (np < 0 || ns < 0 || subj.n == 0)
    return 0;
  for (int i = 0; i < np; i++) {
    if (tp[i].n == 1 && tp[i].p[0] == '>')
      return ns > i;
    if (i >= ns)
      return 0;
    if (tp[i].n == 1 && tp[i].p[0] == '*')
      continue;
    if (tp[i].n != ts[i].n || memcmp(tp[i].p, ts[i].p, ts[i].n) != 0)
      return 0;
  }
  return np == ns;
}

static int has_wildcard(nm_slice_t s) {
  for (size_t i = 0; i < s.n; i++)
    if ((s.p[i] == '*' || s.p[i] == '>') && (i == 0 || s.p[i - 1] == '.') &&
        (i + 1 == s.n || s.p[i + 1] == '.'))
      return 1;
  return 0;
}

/* queueMatches: the queue is one of the entries' queues (literally, or
 * inside a wildcard queue name). */
static int queue_matches(nm_slice_t queue, const list_t *l, nm_slice_t subj) {
  for (int i = 0; i < l->n; i++) {
    const entry_t *e = &l->v[i];
    nm_slice_t qn;
    if (e->queue == NULL || !match(e->subject, subj))
      continue;
    qn = (nm_slice_t){e->queue, strlen(e->queue)};
    if ((qn.n == queue.n && memcmp(qn.p, queue.p, queue.n) == 0) ||
        (has_wildcard(qn) && subset(queue.p, queue.n, qn.p, qn.n)))
      return 1;
  }
  return 0;
}

/* Entries matching subj: *plain those without a queue, *queued with. */
static void count_matches(const list_t *l, nm_slice_t subj, int *plain,
                          int *queued) {
  *plain = *queued = 0;
  for (int i = 0; i < l->n; i++)
    if (match(l->v[i].subject, subj)) {
      if (l->v[i].queue)
        (*queued)++;
      else
        (*plain)++;
    }
}

static int any_match(const list_t *l, nm_slice_t subj) {
  for (int i = 0; i < l->n; i++)
    if (l->v[i].queue == NULL && match(l->v[i].subject, subj))
      return 1;
  return 0;
}

/* ---- replies (allow_responses) ---- */

void nm__replies_free(nm__replies_t *r) {
  if (r == NULL)
    return;
  for (int i = 0; i < r->n; i++)
    free(r->v[i].subject);
  free(r->v);
  free(r);
}

static reply_t *reply_find(nm__replies_t *r, nm_slice_t s) {
  if (r == NULL)
    return NULL;
  for (int i = 0; i < r->n; i++)
    if (strlen(r->v[i].subject) == s.n && !memcmp(r->v[i].subject, s.p, s.n))
      return &r->v[i];
  return NULL;
}

static void reply_drop(nm__replies_t *r, reply_t *e) {
  free(e->subject);
  *e = r->v[--r->n];
}

/* pruneReplyPerms: the used-up and expired ones go. */
static void replies_prune(const nm__perm_t *p, nm__replies_t *r, uint64_t now) {
  for (int i = 0; i < r->n;) {
    reply_t *e = &r->v[i];
    if ((p->resp_max > 0 && e->n >= p->resp_max) ||
        (p->resp_expires_ms > 0 && now - e->t_ms > p->resp_expires_ms))
      reply_drop(r, e);
    else
      i++;
  }
}

void nm__perm_note_reply(const nm__perm_t *p, nm__replies_t **rp,
                         nm_slice_t reply, uint64_t now_ms) {
  nm__replies_t *r = *rp;
  reply_t *e;
  if (p == NULL || !p->resp || reply.n == 0 || reply.n > NM_REPLY_SUBJECT_MAX)
    return;
  if (r == NULL && (r = *rp = calloc(1, sizeof(*r))) == NULL)
    return;
  if ((e = reply_find(r, reply)) != NULL) {
    e->t_ms = now_ms;
    e->n = 0;
    return;
  }
  if (r->n >= NM_REPLY_PERM_LIMIT) {
    replies_prune(p, r, now_ms);
    /* Still full: the oldest goes (nats-server's map would only grow). */
    if (r->n >= NM_REPLY_PERM_LIMIT) {
      int oldest = 0;
      for (int i = 1; i < r->n; i++)
        if (r->v[i].t_ms < r->v[oldest].t_ms)
          oldest = i;
      reply_drop(r, &r->v[oldest]);
    }
  }
  if (r->n == r->cap) {
    int cap = r->cap ? r->cap * 2 : 16;
    reply_t *v = realloc(r->v, sizeof(*v) * (size_t)cap);
    if (v == NULL)
      return;
    r->v = v;
    r->cap = cap;
  }
  e = &r->v[r->n];
  if ((e->subject = strndup(reply.p, reply.n)) == NULL)
    return;
  e->t_ms = now_ms;
  e->n = 0;
  r->n++;
}

int nm__perm_tracks_replies(const nm__perm_t *p) {
  return p != NULL && p->resp;
}

/* ---- checks ---- */

int nm__perm_pub(const nm__perm_t *p, nm__replies_t **rp, nm_slice_t subject,
                 uint64_t now_ms) {
  int allowed = 1;
  reply_t *e;
  if (p == NULL || (!p->pub_allow.on && !p->pub_deny.on))
    return 1;
  if (p->pub_allow.on)
    allowed = any_match(&p->pub_allow, subject);
  if (allowed && p->pub_deny.on)
    allowed = !any_match(&p->pub_deny, subject);
  if (allowed || !p->resp)
    return allowed;
  /* A reply it was sent: allowed resp_max times within resp_expires. */
  if ((e = reply_find(*rp, subject)) == NULL)
    return 0;
  e->n++;
  if ((p->resp_max > 0 && e->n > p->resp_max) ||
      (p->resp_expires_ms > 0 && now_ms - e->t_ms > p->resp_expires_ms)) {
    reply_drop(*rp, e);
    return 0;
  }
  return 1;
}

int nm__perm_sub(const nm__perm_t *p, nm_slice_t subject, nm_slice_t queue,
                 int *deny_filter) {
  int allowed = 1, plain, queued;
  if (p == NULL)
    return 1;
  if (p->sub_allow.on) {
    count_matches(&p->sub_allow, subject, &plain, &queued);
    allowed = plain > 0;
    if (queue.n > 0 && queued > 0)
      allowed = queue_matches(queue, &p->sub_allow, subject);
  }
  if (allowed && p->sub_deny.on) {
    count_matches(&p->sub_deny, subject, &plain, &queued);
    allowed = plain == 0;
    if (queue.n > 0 && queued > 0)
      allowed = !queue_matches(queue, &p->sub_deny, subject);
    /* A wildcard subscription that covers a denied subject: what it would
     * receive on that subject is filtered at delivery. */
    if (allowed && !*deny_filter && has_wildcard(subject))
      for (int i = 0; i < p->sub_deny.n; i++) {
        const char *d = p->sub_deny.v[i].subject;
        if (p->sub_deny.v[i].queue == NULL &&
            subset(d, strlen(d), subject.p, subject.n)) {
          *deny_filter = 1;
          break;
        }
      }
  }
  return allowed;
}

int nm__perm_deliver(const nm__perm_t *p, nm_slice_t subject) {
  return p == NULL || !any_match(&p->sub_deny, subject);
}
