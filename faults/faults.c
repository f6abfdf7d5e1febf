/* The fault engine's lifecycle and per-connection state: what a host calls
 * when it starts and stops and when connections open and close. The frame
 * path is faults_rules.c; documents are faults_control.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults_int.h"

nm_faults_t *nm_faults_new(uv_loop_t *loop, const nm_fault_host_t *ops,
                           void *host) {
  nm_faults_t *f;

  if (ops == NULL)
    return NULL;
  f = calloc(1, sizeof(*f));
  if (f == NULL)
    return NULL;
  f->loop = loop;
  f->ops = ops;
  f->held_cap = NM_FAULT_HELD_TOTAL_DEFAULT;
  f->host = host;
  /* The sync plumbing is optional: without a loop, nm_faults_apply_sync
   * reports NM_ESTATE. */
  if (loop != NULL)
    (void)nm__fsync_init(f, loop);
  return f;
}

void nm_faults_stop(nm_faults_t *f) {
  nm__frule_t *r;

  if (f == NULL || f->stopped)
    return;
  f->stopped = 1;
  nm__fsync_stop(f);
  nm__fdefer_stop(f);
  while (f->conns != NULL) {
    nm__fconn_t *st = f->conns;
    nm__fconn_drop_all(f, st);
    f->conns = st->next;
    f->nstates--;
    free(st);
  }
  /* Rules stay installed but inert; free them now so that a stopped server
   * reports no activity. */
  while ((r = f->rules) != NULL) {
    f->rules = r->next;
    nm__frule_free(r);
  }
  f->nrules = 0;
}

void nm_faults_free(nm_faults_t *f) {
  if (f == NULL)
    return;
  if (!f->stopped)
    nm_faults_stop(f);
  nm__fsync_free(f);
  free(f->trace);
  free(f);
}

void nm_faults_set_held_cap(nm_faults_t *f, uint64_t bytes) {
  if (f != NULL)
    f->held_cap = bytes != 0 ? bytes : NM_FAULT_HELD_TOTAL_DEFAULT;
}

void nm_faults_set_control(nm_faults_t *f, int on) {
  if (f != NULL)
    f->control_off = !on;
}

int nm_faults_control_on(const nm_faults_t *f) {
  return f != NULL && !f->control_off;
}

int nm_faults_active(const nm_faults_t *f) {
  return f != NULL && (f->nrules + f->nstates) != 0;
}

void nm_faults_conn_open(nm_faults_t *f, nm_hconn_t *c) {
  /* Nothing per connection until a rule needs it; but this runs on the
   * loop thread, which nm_faults_apply_sync wants to recognise. */
  if (f != NULL && f->sync != NULL)
    nm__fsync_note_loop_thread(f);
}

void nm_faults_conn_close(nm_faults_t *f, nm_hconn_t *c) {
  nm__fconn_t *st;

  if (f == NULL || c == NULL)
    return;
  nm__frules_forget_conn(f, nm__fh_id(f, c));
  st = nm__fconn_get(f, nm__fh_id(f, c), 0);
  if (st == NULL)
    return;
  nm__fconn_drop_all(f, st);
  st->stall = st->blackhole = 0;
  nm__fconn_maybe_free(f, st);
}

nm__fconn_t *nm__fconn_get(nm_faults_t *f, uint64_t id, int create) {
  nm__fconn_t *st;

  for (st = f->conns; st != NULL; st = st->next)
    if (st->id == id)
      return st;
  if (!create || f->stopped)
    return NULL;
  st = calloc(1, sizeof(*st));
  if (st == NULL)
    return NULL;
  st->id = id;
  st->next = f->conns;
  f->conns = st;
  f->nstates++;
  return st;
}

/* A state with nothing in it costs a lookup per frame: free it. */
void nm__fconn_maybe_free(nm_faults_t *f, nm__fconn_t *st) {
  nm__fconn_t **pp;

  if (st->held.head || st->delayed.head || st->stalled.head ||
      st->coalesce.head || st->seq[0].head || st->seq[1].head || st->stall ||
      st->blackhole)
    return;
  for (pp = &f->conns; *pp != NULL; pp = &(*pp)->next) {
    if (*pp == st) {
      *pp = st->next;
      f->nstates--;
      free(st);
      return;
    }
  }
}

/* Keeps the event in the bounded ring that $MOCK.trace reads. */
static void trace_keep(nm_faults_t *f, const nm_obs_event_t *ev) {
  nm__ftrace_t *t;

  if (f->trace == NULL) {
    f->trace = calloc(NM_FAULT_TRACE_MAX, sizeof(*f->trace));
    if (f->trace == NULL)
      return;
  }
  t = &f->trace[f->trace_seq % NM_FAULT_TRACE_MAX];
  t->seq = ++f->trace_seq;
  t->t_us = ev->t_us;
  t->conn_id = ev->conn_id;
  t->op = ev->frame != NULL ? ev->frame->op : NM_OP_NONE;
  snprintf(t->rule, sizeof(t->rule), "%s", ev->rule ? ev->rule : "");
  snprintf(t->action, sizeof(t->action), "%s", ev->action ? ev->action : "");
  snprintf(t->detail, sizeof(t->detail), "%s", ev->detail ? ev->detail : "");
}

void nm_obs_event_fill(nm_obs_event_t *ev, nm_obs_kind_t kind, uint64_t conn_id,
                       const nm_frame_t *frame, nm_slice_t bytes,
                       const char *rule, const char *action,
                       const char *detail) {
  memset(ev, 0, sizeof(*ev));
  ev->kind = kind;
  ev->conn_id = conn_id;
  ev->t_us = uv_hrtime() / 1000;
  ev->frame = frame;
  ev->bytes = bytes;
  ev->rule = rule;
  ev->action = action;
  ev->detail = detail;
}

void nm__fobserve(nm_faults_t *f, nm_obs_kind_t kind, uint64_t conn_id,
                  const nm_frame_t *fr, nm_slice_t bytes, const char *rule,
                  const char *action, const char *detail) {
  nm_obs_event_t ev;

  nm_obs_event_fill(&ev, kind, conn_id, fr, bytes, rule, action, detail);
  if (kind == NM_OBS_ACTION)
    trace_keep(f, &ev);
  nm__fh_observe(f, &ev);
}

const char *nm__fact_name(nm__fact_t a) {
  static const char *const names[] = {
      "pass",     "hold",  "delay", "drop",  "duplicate", "split",
      "coalesce", "close", "reset", "stall", "blackhole",
  };
  if ((unsigned)a < sizeof(names) / sizeof(names[0]))
    return names[a];
  return "?";
}

void nm__frule_free(nm__frule_t *r) {
  if (r == NULL)
    return;
  free(r->match.subject);
  free(r->match.sid);
  free(r->match.name);
  free(r->after.subject);
  free(r->after.sid);
  free(r->after.name);
  free(r->release_on.subject);
  free(r->release_on.sid);
  free(r->release_on.name);
  nm__fdirects_free(&r->then);
  free(r->pc);
  free(r);
}

void nm__frules_reap(nm_faults_t *f) {
  nm__frule_t **pp, *r;

  if (f->walking > 0)
    return;
  pp = &f->rules;
  while ((r = *pp) != NULL) {
    if (r->removed) {
      *pp = r->next;
      nm__frule_free(r);
    } else {
      pp = &r->next;
    }
  }
}

nm__frule_t *nm__frule_find(nm_faults_t *f, const char *id) {
  nm__frule_t *r;

  for (r = f->rules; r != NULL; r = r->next)
    if (!r->removed && strcmp(r->id, id) == 0)
      return r;
  return NULL;
}

nm__fcount_t *nm__frule_count(nm__frule_t *r, uint64_t conn_id) {
  int i;

  if (!r->per_conn)
    return &r->cnt;
  for (i = 0; i < r->npc; i++)
    if (r->pc[i].conn_id == conn_id)
      return &r->pc[i].n;
  if (r->npc == r->pccap) {
    int cap = r->pccap ? r->pccap * 2 : 8;
    nm__fcount_conn_t *v;
    if (cap > NM_FAULT_PERCONN_MAX)
      cap = NM_FAULT_PERCONN_MAX;
    if (cap <= r->npc)
      return NULL;
    v = realloc(r->pc, (size_t)cap * sizeof(*v));
    if (v == NULL)
      return NULL;
    r->pc = v;
    r->pccap = cap;
  }
  memset(&r->pc[r->npc], 0, sizeof(r->pc[r->npc]));
  r->pc[r->npc].conn_id = conn_id;
  r->pc[r->npc].n.armed = !r->has_after;
  return &r->pc[r->npc++].n;
}

void nm__frules_forget_conn(nm_faults_t *f, uint64_t conn_id) {
  nm__frule_t *r;
  int i;

  for (r = f->rules; r != NULL; r = r->next) {
    for (i = 0; r->per_conn && i < r->npc; i++) {
      if (r->pc[i].conn_id == conn_id) {
        r->pc[i] = r->pc[--r->npc];
        break;
      }
    }
  }
}

int nm__frule_spent(const nm__frule_t *r, const nm__fcount_t *n) {
  if (r->limit != 0 && n->acted >= r->limit)
    return 1;
  if (r->nth != 0 && r->every == 0 && n->seen >= r->nth)
    return 1;
  return 0;
}
