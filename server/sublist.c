/* The subscription index used for routing: a tree with one level per subject
 * token (literal tokens in a hash table per level, '*' and '>' beside them),
 * as nats-server's sublist, and in front of it a cache of match results.
 *
 * Matching returns subs in the order nats-server 2.9.10 delivers them, so the
 * MSGs one connection gets for one publish come in the same order. A fresh
 * match is the tree walk itself: at every level the '>' subs, then the '*'
 * branch for the remaining tokens, then the literal branch; at the end the
 * literal node's subs, then the last level's '*' node's subs. Subs ending at
 * one node keep subscription order. A cached result keeps cache order: subs
 * that arrive after a subject was cached are appended, and a removal drops
 * the cached results it was in. */
#include <stdlib.h>
#include <string.h>

#include "nm_server_int.h"
#include "nm_subject.h"

/* Literal tokens per level before its table stops doubling (a longer chain
 * is slower, not wrong). */
#define NM_SLEVEL_MAX_BUCKETS (1u << 24)
#define NM_SLEVEL_MIN_BUCKETS 4
/* nats-server's slCacheMax. Past it, the oldest result is dropped, one at a
 * time (nats-server drops entries at random; either way the order of a later
 * match is a walk's). */
#define NM_SUBLIST_CACHE_MAX 1024
#define NM_SUBLIST_CACHE_BUCKETS 2048
/* A result with more subs than this is not cached (nor kept growing), so
 * the cache holds at most NM_SUBLIST_CACHE_MAX * this many pointers. Only
 * the order among that many subscribers can then differ from nats-server. */
#define NM_SUBLIST_CACHE_RESULT_MAX 4096

/* Eight bytes per step (FNV-1a took one multiply per byte, a tenth of a
 * small PUB's cost), then a final mix so that the low bits the tables mask
 * with depend on every byte. Tables are never walked in hash order where
 * the order shows, so only the speed of this function matters. */
static inline uint64_t hash_mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

uint32_t nm__hash(const char *p, size_t n) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)n, w = 0;
  uint32_t a, b;
  for (; n > 8; p += 8, n -= 8) {
    memcpy(&w, p, 8);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
  }
  /* The last 1..8 bytes, read as two overlapping halves. */
  if (n >= 4) {
    memcpy(&a, p, 4);
    memcpy(&b, p + n - 4, 4);
    w = ((uint64_t)a << 32) | b;
  } else if (n > 0) {
    w = (uint64_t)(unsigned char)p[0] << 16 |
        (uint64_t)(unsigned char)p[n / 2] << 8 | (unsigned char)p[n - 1];
  }
  return (uint32_t)hash_mix((h ^ w) * 0xc4ceb9fe1a85ec53ull);
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

/* The cache's buckets come with its first entry: a server that never
 * routes a message does not touch (page in) them. */
int nm__sublist_init(nm__sublist_t *l) {
  memset(l, 0, sizeof(*l));
  return 0;
}

/* ---- the match cache ---- */

static void cache_unlink_age(nm__sublist_t *l, nm__cent_t *e) {
  if (e->older)
    e->older->newer = e->newer;
  else
    l->oldest = e->newer;
  if (e->newer)
    e->newer->older = e->older;
  else
    l->newest = e->older;
}

/* Short keys compared in place: a memcmp call costs more than the compare
 * for a subject of a few bytes. */
static inline int same_bytes(const char *a, const char *b, size_t n) {
  uint64_t x, y;
  for (; n >= 8; a += 8, b += 8, n -= 8) {
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    if (x != y)
      return 0;
  }
  while (n--)
    if (*a++ != *b++)
      return 0;
  return 1;
}

/* The cache must exist (l->cache != NULL). */
static nm__cent_t **cache_slot(nm__sublist_t *l, const char *p, size_t n,
                               uint32_t h) {
  nm__cent_t **pp = &l->cache[h & (NM_SUBLIST_CACHE_BUCKETS - 1)];
  for (; *pp; pp = &(*pp)->next)
    if ((*pp)->hash == h && (*pp)->subj_len == n &&
        same_bytes((*pp)->subj, p, n))
      break;
  return pp;
}

static void cache_drop(nm__sublist_t *l, nm__cent_t *e) {
  nm__cent_t **pp = &l->cache[e->hash & (NM_SUBLIST_CACHE_BUCKETS - 1)];
  while (*pp != e)
    pp = &(*pp)->next;
  *pp = e->next;
  cache_unlink_age(l, e);
  nm__subvec_free(&e->res);
  free(e);
  l->ncache--;
}

/* A new sub joins every cached result it matches, at the end. */
static void cache_add_sub(nm__sublist_t *l, nm__sub_t *sub) {
  nm__cent_t *e, *older;
  if (l->ncache == 0)
    return;
  if (!sub->wild) {
    e = *cache_slot(l, sub->subject.p, sub->subject.n,
                    nm__hash(sub->subject.p, sub->subject.n));
    if (e && (e->res.n >= NM_SUBLIST_CACHE_RESULT_MAX ||
              nm__subvec_push(&e->res, sub) < 0))
      cache_drop(l, e);
    return;
  }
  for (e = l->newest; e; e = older) {
    older = e->older;
    if (nm_subject_matches(sub->subject, (nm_slice_t){e->subj, e->subj_len}) &&
        (e->res.n >= NM_SUBLIST_CACHE_RESULT_MAX ||
         nm__subvec_push(&e->res, sub) < 0))
      cache_drop(l, e);
  }
}

/* A removed sub takes every cached result it was in with it. */
static void cache_remove_sub(nm__sublist_t *l, nm__sub_t *sub) {
  nm__cent_t *e, *older;
  if (l->ncache == 0)
    return;
  if (!sub->wild) {
    e = *cache_slot(l, sub->subject.p, sub->subject.n,
                    nm__hash(sub->subject.p, sub->subject.n));
    if (e)
      cache_drop(l, e);
    return;
  }
  for (e = l->newest; e; e = older) {
    older = e->older;
    if (nm_subject_matches(sub->subject, (nm_slice_t){e->subj, e->subj_len}))
      cache_drop(l, e);
  }
}

static void cache_store(nm__sublist_t *l, nm_slice_t subject, uint32_t h,
                        nm__sub_t *const *v, size_t n) {
  nm__cent_t *e, **pp;
  size_t i;
  if (n > NM_SUBLIST_CACHE_RESULT_MAX)
    return;
  if (l->cache == NULL &&
      (l->cache = calloc(NM_SUBLIST_CACHE_BUCKETS, sizeof(*l->cache))) == NULL)
    return; /* uncached is slower, not wrong */
  while (l->ncache >= NM_SUBLIST_CACHE_MAX)
    cache_drop(l, l->oldest);
  e = malloc(sizeof(*e) + subject.n);
  if (e == NULL)
    return; /* uncached is slower, not wrong */
  memset(e, 0, sizeof(*e));
  e->hash = h;
  e->subj_len = subject.n;
  memcpy(e->subj, subject.p, subject.n);
  for (i = 0; i < n; i++)
    if (nm__subvec_push(&e->res, v[i]) < 0) {
      nm__subvec_free(&e->res);
      free(e);
      return;
    }
  pp = &l->cache[h & (NM_SUBLIST_CACHE_BUCKETS - 1)];
  e->next = *pp;
  *pp = e;
  e->older = l->newest;
  if (l->newest)
    l->newest->newer = e;
  else
    l->oldest = e;
  l->newest = e;
  l->ncache++;
}

/* ---- the tree ---- */

static nm__snode_t *level_find(const nm__slevel_t *lv, const char *t, size_t n,
                               uint32_t h) {
  nm__snode_t *x;
  if (lv->buckets == NULL)
    return NULL;
  for (x = lv->buckets[h & (lv->nbuckets - 1)]; x; x = x->hnext)
    if (x->hash == h && x->tok_len == n && memcmp(x->tok, t, n) == 0)
      return x;
  return NULL;
}

static void level_grow(nm__slevel_t *lv) {
  uint32_t nb = lv->nbuckets ? lv->nbuckets * 2 : NM_SLEVEL_MIN_BUCKETS, i;
  nm__snode_t **b;
  if (nb > NM_SLEVEL_MAX_BUCKETS)
    return;
  b = calloc(nb, sizeof(*b));
  if (b == NULL)
    return;
  for (i = 0; i < lv->nbuckets; i++) {
    nm__snode_t *x = lv->buckets[i];
    while (x) {
      nm__snode_t *nx = x->hnext;
      x->hnext = b[x->hash & (nb - 1)];
      b[x->hash & (nb - 1)] = x;
      x = nx;
    }
  }
  free(lv->buckets);
  lv->buckets = b;
  lv->nbuckets = nb;
}

/* The node for token t at level lv, created when missing. */
static nm__snode_t *level_get(nm__slevel_t *lv, nm__snode_t *up, const char *t,
                              size_t n) {
  int pwc = n == 1 && t[0] == '*', fwc = n == 1 && t[0] == '>';
  uint32_t h = 0;
  nm__snode_t *x;
  if (pwc && lv->pwc)
    return lv->pwc;
  if (fwc && lv->fwc)
    return lv->fwc;
  if (!pwc && !fwc) {
    h = nm__hash(t, n);
    if ((x = level_find(lv, t, n, h)) != NULL)
      return x;
    if (lv->nnodes >= lv->nbuckets)
      level_grow(lv);
    if (lv->buckets == NULL)
      return NULL;
  }
  x = calloc(1, sizeof(*x) + n);
  if (x == NULL)
    return NULL;
  x->level = lv;
  x->up = up;
  x->hash = h;
  x->tok_len = (uint32_t)n;
  memcpy(x->tok, t, n);
  if (pwc) {
    lv->pwc = x;
  } else if (fwc) {
    lv->fwc = x;
  } else {
    x->hnext = lv->buckets[h & (lv->nbuckets - 1)];
    lv->buckets[h & (lv->nbuckets - 1)] = x;
    lv->nnodes++;
  }
  return x;
}

static int node_empty(const nm__snode_t *x) {
  return x->head == NULL && x->next.nnodes == 0 && x->next.pwc == NULL &&
         x->next.fwc == NULL;
}

/* Frees x and every ancestor left empty by it. */
static void prune(nm__snode_t *x) {
  while (x && node_empty(x)) {
    nm__slevel_t *lv = x->level;
    nm__snode_t *up = x->up;
    if (lv->pwc == x) {
      lv->pwc = NULL;
    } else if (lv->fwc == x) {
      lv->fwc = NULL;
    } else {
      nm__snode_t **pp = &lv->buckets[x->hash & (lv->nbuckets - 1)];
      while (*pp != x)
        pp = &(*pp)->hnext;
      *pp = x->hnext;
      if (--lv->nnodes == 0) {
        free(lv->buckets);
        lv->buckets = NULL;
        lv->nbuckets = 0;
      }
    }
    free(x->next.buckets);
    free(x);
    x = up;
  }
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

/* The subject is valid (nm_subject_valid): no empty token, '>' last. */
int nm__sublist_insert(nm__sublist_t *l, nm__sub_t *sub) {
  nm__slevel_t *lv = &l->root;
  nm__snode_t *x = NULL;
  const char *p = sub->subject.p, *end = p + sub->subject.n;

  sub->wild = is_wild(sub->subject);
  sub->node = NULL;
  while (p < end) {
    const char *d = memchr(p, '.', (size_t)(end - p));
    size_t n = d ? (size_t)(d - p) : (size_t)(end - p);
    nm__snode_t *nx = level_get(lv, x, p, n);
    if (nx == NULL) {
      prune(x);
      return NM_ENOMEM;
    }
    x = nx;
    lv = &x->next;
    p += n + 1;
  }
  if (x == NULL)
    return NM_EINVAL;
  sub->node = x;
  sub->ix_next = NULL;
  sub->ix_prev = x->tail;
  if (x->tail)
    x->tail->ix_next = sub;
  else
    x->head = sub;
  x->tail = sub;
  l->nsubs++;
  l->inserts++;
  cache_add_sub(l, sub);
  return 0;
}

void nm__sublist_remove(nm__sublist_t *l, nm__sub_t *sub) {
  nm__snode_t *x = sub->node;
  if (x == NULL)
    return;
  cache_remove_sub(l, sub);
  if (sub->ix_prev)
    sub->ix_prev->ix_next = sub->ix_next;
  else
    x->head = sub->ix_next;
  if (sub->ix_next)
    sub->ix_next->ix_prev = sub->ix_prev;
  else
    x->tail = sub->ix_prev;
  sub->ix_prev = sub->ix_next = NULL;
  sub->node = NULL;
  l->nsubs--;
  l->removes++;
  prune(x);
}

static void level_free(nm__slevel_t *lv) {
  uint32_t i;
  for (i = 0; i < lv->nbuckets; i++)
    while (lv->buckets[i]) {
      nm__snode_t *x = lv->buckets[i];
      lv->buckets[i] = x->hnext;
      level_free(&x->next);
      free(x);
    }
  free(lv->buckets);
  if (lv->pwc) {
    level_free(&lv->pwc->next);
    free(lv->pwc);
  }
  if (lv->fwc) {
    level_free(&lv->fwc->next);
    free(lv->fwc);
  }
  memset(lv, 0, sizeof(*lv));
}

/* Nodes are freed here; subs belong to connections and are freed by them. */
void nm__sublist_free(nm__sublist_t *l) {
  while (l->oldest)
    cache_drop(l, l->oldest);
  free(l->cache);
  level_free(&l->root);
  free(l->toks);
  memset(l, 0, sizeof(*l));
}

/* ---- matching ---- */

static int push_node(const nm__snode_t *x, nm__subvec_t *out) {
  nm__sub_t *s;
  for (s = x->head; s; s = s->ix_next)
    if (nm__subvec_push(out, s) < 0)
      return NM_ENOMEM;
  return 0;
}

static int match_level(const nm__slevel_t *lv, const nm_slice_t *t, size_t nt,
                       nm__subvec_t *out) {
  const nm__snode_t *x = NULL, *pwc = NULL;
  size_t i;
  for (i = 0; i < nt; i++) {
    if (lv == NULL)
      return 0;
    if (lv->fwc && push_node(lv->fwc, out) < 0)
      return NM_ENOMEM;
    if ((pwc = lv->pwc) != NULL &&
        match_level(&pwc->next, t + i + 1, nt - i - 1, out) < 0)
      return NM_ENOMEM;
    x = level_find(lv, t[i].p, t[i].n, nm__hash(t[i].p, t[i].n));
    lv = x ? &x->next : NULL;
  }
  if (x && push_node(x, out) < 0)
    return NM_ENOMEM;
  if (pwc && push_node(pwc, out) < 0)
    return NM_ENOMEM;
  return 0;
}

/* Splits the subject into l->toks. Returns the count, 0 for a subject with
 * an empty token (nats-server neither matches nor caches it), or -1. */
static long tokenize(nm__sublist_t *l, nm_slice_t s) {
  size_t n = 0, start = 0, i;
  for (i = 0; i <= s.n; i++) {
    if (i < s.n && s.p[i] != '.')
      continue;
    if (i == start)
      return 0;
    if (n == l->ntoks_cap) {
      size_t cap = l->ntoks_cap ? l->ntoks_cap * 2 : 16;
      nm_slice_t *nt = realloc(l->toks, cap * sizeof(*nt));
      if (nt == NULL)
        return -1;
      l->toks = nt;
      l->ntoks_cap = cap;
    }
    l->toks[n++] = (nm_slice_t){s.p + start, i - start};
    start = i + 1;
  }
  return (long)n;
}

int nm__sublist_match(nm__sublist_t *l, nm_slice_t subject, nm__subvec_t *out) {
  uint32_t h = nm__hash(subject.p, subject.n);
  nm__cent_t *e = l->cache ? *cache_slot(l, subject.p, subject.n, h) : NULL;
  size_t start = out->n, i;
  long nt;

  l->matches++;
  if (e != NULL) {
    l->cache_hits++;
    /* Copied out: delivering can remove subs, which drops cache entries. */
    for (i = 0; i < e->res.n; i++)
      if (nm__subvec_push(out, e->res.v[i]) < 0)
        return NM_ENOMEM;
    return 0;
  }
  nt = tokenize(l, subject);
  if (nt < 0)
    return NM_ENOMEM;
  if (nt == 0)
    return 0;
  if (match_level(&l->root, l->toks, (size_t)nt, out) < 0)
    return NM_ENOMEM;
  /* No match leaves out->v NULL: no pointer arithmetic on it (UB). */
  cache_store(l, subject, h, out->n > start ? out->v + start : NULL,
              out->n - start);
  return 0;
}
