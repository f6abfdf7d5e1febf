/* The subscription index used for routing: a hash of literal subjects plus a
 * list of wildcard subscriptions, and in front of it a cache of match
 * results. Matching returns subs in the order nats-server 2.9.10 delivers
 * them, so the MSGs one connection gets for one publish come in the same
 * order: a fresh match in its sublist walk order (see sub_order_cmp); a
 * cached one in cache order, where subs that arrived after the subject was
 * cached are appended, and a removal drops the cached results it was in. */
#include <stdlib.h>
#include <string.h>

#include "nm_server_int.h"
#include "nm_subject.h"

/* Most literal subjects a table grows to before it stops doubling. */
#define NM_SUBLIST_MAX_BUCKETS (1u << 24)
#define NM_SUBLIST_MIN_BUCKETS 64
/* nats-server's slCacheMax. Past it, nats-server evicts at random; natsmock
 * empties the cache (either way the order of later matches is a walk's). */
#define NM_SUBLIST_CACHE_MAX 1024
#define NM_SUBLIST_CACHE_BUCKETS 2048
/* A result with more subs than this is not cached (nor kept growing), so
 * the cache holds at most NM_SUBLIST_CACHE_MAX * this many pointers. Only
 * the order among that many subscribers can then differ from nats-server. */
#define NM_SUBLIST_CACHE_RESULT_MAX 4096

uint32_t nm__hash(const char *p, size_t n) {
  uint32_t h = 2166136261u; /* FNV-1a */
  size_t i;
  for (i = 0; i < n; i++) {
    h ^= (unsigned char)p[i];
    h *= 16777619u;
  }
  return h;
}

int nm__subvec_push(nm__subvec_t *v, nm__sub_t *s) {
  if (v->n == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 16;
    nm__sub_t **nv = realloc(v->v, cap * sizeof(*nv));
    if (nv == NULL)
      return NM_ENOMEM;
    v->v = nv;
    v->cap = cap;
  }
  v->v[v->n++] = s;
  return 0;
}

void nm__subvec_free(nm__subvec_t *v) {
  free(v->v);
  memset(v, 0, sizeof(*v));
}

int nm__sublist_init(nm__sublist_t *l) {
  memset(l, 0, sizeof(*l));
  l->buckets = calloc(NM_SUBLIST_MIN_BUCKETS, sizeof(*l->buckets));
  if (l->buckets == NULL)
    return NM_ENOMEM;
  l->nbuckets = NM_SUBLIST_MIN_BUCKETS;
  l->cache = calloc(NM_SUBLIST_CACHE_BUCKETS, sizeof(*l->cache));
  if (l->cache == NULL) {
    free(l->buckets);
    l->buckets = NULL;
    return NM_ENOMEM;
  }
  return 0;
}

/* ---- the match cache ---- */

static void cent_free(nm__cent_t *e) {
  nm__subvec_free(&e->res);
  free(e);
}

static void cache_clear(nm__sublist_t *l) {
  size_t i;
  if (l->cache == NULL)
    return;
  for (i = 0; i < NM_SUBLIST_CACHE_BUCKETS; i++) {
    while (l->cache[i]) {
      nm__cent_t *e = l->cache[i];
      l->cache[i] = e->next;
      cent_free(e);
    }
  }
  l->ncache = 0;
}

static nm__cent_t **cache_slot(nm__sublist_t *l, const char *p, size_t n,
                               uint32_t h) {
  nm__cent_t **pp = &l->cache[h & (NM_SUBLIST_CACHE_BUCKETS - 1)];
  for (; *pp; pp = &(*pp)->next)
    if ((*pp)->hash == h && (*pp)->subj_len == n &&
        memcmp((*pp)->subj, p, n) == 0)
      break;
  return pp;
}

static void cache_drop(nm__sublist_t *l, nm__cent_t **pp) {
  nm__cent_t *e = *pp;
  *pp = e->next;
  cent_free(e);
  l->ncache--;
}

/* A new sub joins every cached result it matches, at the end. */
static void cache_add_sub(nm__sublist_t *l, nm__sub_t *sub) {
  size_t i;
  nm__cent_t **pp, *e;
  if (!sub->wild) {
    pp = cache_slot(l, sub->subject.p, sub->subject.n,
                    nm__hash(sub->subject.p, sub->subject.n));
    if (*pp && ((*pp)->res.n >= NM_SUBLIST_CACHE_RESULT_MAX ||
                nm__subvec_push(&(*pp)->res, sub) < 0))
      cache_drop(l, pp);
    return;
  }
  for (i = 0; i < NM_SUBLIST_CACHE_BUCKETS; i++)
    for (pp = &l->cache[i]; (e = *pp) != NULL;) {
      nm_slice_t key = {e->subj, e->subj_len};
      if (nm_subject_matches(sub->subject, key) &&
          (e->res.n >= NM_SUBLIST_CACHE_RESULT_MAX ||
           nm__subvec_push(&e->res, sub) < 0)) {
        cache_drop(l, pp);
        continue;
      }
      pp = &e->next;
    }
}

/* A removed sub takes every cached result it was in with it. */
static void cache_remove_sub(nm__sublist_t *l, nm__sub_t *sub) {
  size_t i;
  nm__cent_t **pp, *e;
  if (!sub->wild) {
    pp = cache_slot(l, sub->subject.p, sub->subject.n,
                    nm__hash(sub->subject.p, sub->subject.n));
    if (*pp)
      cache_drop(l, pp);
    return;
  }
  for (i = 0; i < NM_SUBLIST_CACHE_BUCKETS; i++)
    for (pp = &l->cache[i]; (e = *pp) != NULL;) {
      nm_slice_t key = {e->subj, e->subj_len};
      if (nm_subject_matches(sub->subject, key))
        cache_drop(l, pp);
      else
        pp = &e->next;
    }
}

/* Entries are freed when their last sub leaves; subs belong to connections
 * and are freed by them. */
void nm__sublist_free(nm__sublist_t *l) {
  size_t i;
  cache_clear(l);
  free(l->cache);
  for (i = 0; i < l->nbuckets; i++) {
    nm__subent_t *e = l->buckets[i];
    while (e) {
      nm__subent_t *n = e->next;
      free(e);
      e = n;
    }
  }
  free(l->buckets);
  memset(l, 0, sizeof(*l));
}

static int is_wild(nm_slice_t s) {
  size_t i, start = 0;
  for (i = 0; i <= s.n; i++) {
    if (i == s.n || s.p[i] == '.') {
      if (i - start == 1 && (s.p[start] == '*' || s.p[start] == '>'))
        return 1;
      start = i + 1;
    }
  }
  return 0;
}

static nm__subent_t *ent_find(nm__sublist_t *l, const char *p, size_t n,
                              uint32_t h) {
  nm__subent_t *e = l->buckets[h & (l->nbuckets - 1)];
  for (; e; e = e->next)
    if (e->hash == h && e->subj_len == n && memcmp(e->subj, p, n) == 0)
      return e;
  return NULL;
}

static void grow(nm__sublist_t *l) {
  size_t nb = l->nbuckets * 2, i;
  nm__subent_t **b;
  if (nb > NM_SUBLIST_MAX_BUCKETS)
    return;
  b = calloc(nb, sizeof(*b));
  if (b == NULL)
    return; /* a longer chain is slower, not wrong */
  for (i = 0; i < l->nbuckets; i++) {
    nm__subent_t *e = l->buckets[i];
    while (e) {
      nm__subent_t *n = e->next;
      e->next = b[e->hash & (nb - 1)];
      b[e->hash & (nb - 1)] = e;
      e = n;
    }
  }
  free(l->buckets);
  l->buckets = b;
  l->nbuckets = nb;
}

int nm__sublist_insert(nm__sublist_t *l, nm__sub_t *sub) {
  sub->wild = is_wild(sub->subject);
  sub->ix_next = NULL;
  if (sub->wild) {
    sub->ent = NULL;
    sub->ix_prev = l->wild_tail;
    if (l->wild_tail)
      l->wild_tail->ix_next = sub;
    else
      l->wild_head = sub;
    l->wild_tail = sub;
    l->nwild++;
  } else {
    uint32_t h = nm__hash(sub->subject.p, sub->subject.n);
    nm__subent_t *e = ent_find(l, sub->subject.p, sub->subject.n, h);
    if (e == NULL) {
      e = malloc(sizeof(*e) + sub->subject.n);
      if (e == NULL)
        return NM_ENOMEM;
      memset(e, 0, sizeof(*e));
      e->hash = h;
      e->subj_len = sub->subject.n;
      memcpy(e->subj, sub->subject.p, sub->subject.n);
      e->next = l->buckets[h & (l->nbuckets - 1)];
      l->buckets[h & (l->nbuckets - 1)] = e;
      l->nents++;
      if (l->nents > l->nbuckets)
        grow(l);
    }
    sub->ent = e;
    sub->ix_prev = e->tail;
    if (e->tail)
      e->tail->ix_next = sub;
    else
      e->head = sub;
    e->tail = sub;
    e->n++;
  }
  l->nsubs++;
  cache_add_sub(l, sub);
  return 0;
}

void nm__sublist_remove(nm__sublist_t *l, nm__sub_t *sub) {
  cache_remove_sub(l, sub);
  if (sub->wild) {
    if (sub->ix_prev)
      sub->ix_prev->ix_next = sub->ix_next;
    else
      l->wild_head = sub->ix_next;
    if (sub->ix_next)
      sub->ix_next->ix_prev = sub->ix_prev;
    else
      l->wild_tail = sub->ix_prev;
    l->nwild--;
  } else {
    nm__subent_t *e = sub->ent, **pp;
    if (sub->ix_prev)
      sub->ix_prev->ix_next = sub->ix_next;
    else
      e->head = sub->ix_next;
    if (sub->ix_next)
      sub->ix_next->ix_prev = sub->ix_prev;
    else
      e->tail = sub->ix_prev;
    if (--e->n == 0) {
      pp = &l->buckets[e->hash & (l->nbuckets - 1)];
      while (*pp != e)
        pp = &(*pp)->next;
      *pp = e->next;
      free(e);
      l->nents--;
    }
    sub->ent = NULL;
  }
  sub->ix_prev = sub->ix_next = NULL;
  l->nsubs--;
}

/* nats-server walks its token tree level by level; at a level that is not
 * the subject's last it visits '>' subs, then the '*' branch, then the
 * literal branch; at the last level '>' subs, then literal, then '*'. This
 * ranks a pattern's token at position i accordingly. */
static int tok_rank(const char *t, size_t n, int last) {
  if (n == 1 && t[0] == '>')
    return 0;
  if (n == 1 && t[0] == '*')
    return last ? 2 : 1;
  return last ? 1 : 2;
}

static size_t tok_len(const char *p, size_t n) {
  const char *d = memchr(p, '.', n);
  return d ? (size_t)(d - p) : n;
}

/* Both patterns match the same subject of `ntok` tokens, so equal ranks at
 * every position mean the same pattern. */
static int sub_order_cmp(nm_slice_t a, nm_slice_t b, size_t ntok) {
  size_t i, ia = 0, ib = 0;
  for (i = 0; i < ntok && ia < a.n && ib < b.n; i++) {
    size_t la = tok_len(a.p + ia, a.n - ia), lb = tok_len(b.p + ib, b.n - ib);
    int last = i + 1 == ntok;
    int ra = tok_rank(a.p + ia, la, last), rb = tok_rank(b.p + ib, lb, last);
    if (ra != rb)
      return ra - rb;
    if (ra == 0)
      return 0;
    ia += la + 1;
    ib += lb + 1;
  }
  return 0;
}

static int match_walk(nm__sublist_t *l, nm_slice_t subject, nm__subvec_t *out) {
  size_t start = out->n, nlit, i, j, ntok = 1;
  nm__sub_t *s;
  nm__subent_t *e;
  uint32_t h = nm__hash(subject.p, subject.n);

  e = ent_find(l, subject.p, subject.n, h);
  if (e)
    for (s = e->head; s; s = s->ix_next)
      if (nm__subvec_push(out, s) < 0)
        return NM_ENOMEM;
  nlit = out->n - start;
  for (s = l->wild_head; s; s = s->ix_next)
    if (nm_subject_matches(s->subject, subject))
      if (nm__subvec_push(out, s) < 0)
        return NM_ENOMEM;
  if (out->n - start == nlit || out->n - start < 2)
    return 0;
  for (i = 0; i < subject.n; i++)
    ntok += subject.p[i] == '.';
  /* Stable insertion sort: small sets, already in subscription order. */
  for (i = start + 1; i < out->n; i++) {
    nm__sub_t *x = out->v[i];
    for (j = i; j > start; j--) {
      if (sub_order_cmp(out->v[j - 1]->subject, x->subject, ntok) <= 0)
        break;
      out->v[j] = out->v[j - 1];
    }
    out->v[j] = x;
  }
  return 0;
}

/* nats-server neither matches nor caches a subject with an empty token. */
static int has_empty_token(nm_slice_t s) {
  size_t i;
  if (s.n == 0 || s.p[0] == '.' || s.p[s.n - 1] == '.')
    return 1;
  for (i = 1; i < s.n; i++)
    if (s.p[i] == '.' && s.p[i - 1] == '.')
      return 1;
  return 0;
}

int nm__sublist_match(nm__sublist_t *l, nm_slice_t subject, nm__subvec_t *out) {
  uint32_t h = nm__hash(subject.p, subject.n);
  nm__cent_t **pp = cache_slot(l, subject.p, subject.n, h), *e = *pp;
  size_t start = out->n, i;
  int r;

  if (e != NULL) {
    /* Copied out: delivering can remove subs, which drops cache entries. */
    for (i = 0; i < e->res.n; i++)
      if (nm__subvec_push(out, e->res.v[i]) < 0)
        return NM_ENOMEM;
    return 0;
  }
  if (has_empty_token(subject))
    return 0;
  r = match_walk(l, subject, out);
  if (r < 0)
    return r;
  if (out->n - start > NM_SUBLIST_CACHE_RESULT_MAX)
    return 0;
  if (l->ncache >= NM_SUBLIST_CACHE_MAX)
    cache_clear(l);
  e = malloc(sizeof(*e) + subject.n);
  if (e == NULL)
    return 0; /* uncached is slower, not wrong */
  memset(e, 0, sizeof(*e));
  e->hash = h;
  e->subj_len = subject.n;
  memcpy(e->subj, subject.p, subject.n);
  for (i = start; i < out->n; i++)
    if (nm__subvec_push(&e->res, out->v[i]) < 0) {
      cent_free(e);
      return 0;
    }
  pp = &l->cache[h & (NM_SUBLIST_CACHE_BUCKETS - 1)];
  e->next = *pp;
  *pp = e;
  l->ncache++;
  return 0;
}
