/* The frame path: every frame of every connection, in and out, is offered to
 * the rules in installation order. A rule counts the frames it matches
 * (after its trigger armed it) and acts on the ones its nth / every / limit
 * select. The first rule that takes the frame (any action but "pass") ends
 * the walk; "pass" rules act and let the frame go on. Then-actions run once
 * the frame's own fate is settled. */
#include <stdio.h>
#include <string.h>

#include "faults_int.h"
#include "nm_subject.h"

int nm__fmatch(nm_faults_t *f, nm_hconn_t *c, const nm__fmatch_t *m, int dir,
               uint64_t conn_id, const nm_frame_t *fr) {
  if (m->dir != dir)
    return 0;
  if (m->name != NULL) {
    /* Asked of the host only for rules that name a client. */
    const char *name =
        f->ops->conn_name != NULL ? f->ops->conn_name(f->host, c) : NULL;
    if (name == NULL || strcmp(name, m->name) != 0)
      return 0;
  }
  if (m->verbs != 0 &&
      ((unsigned)fr->op >= 32 || (m->verbs & (1u << (unsigned)fr->op)) == 0))
    return 0;
  if (m->conn != 0 && m->conn != conn_id)
    return 0;
  if (m->sid != NULL && (fr->sid.p == NULL || fr->sid.n != strlen(m->sid) ||
                         memcmp(fr->sid.p, m->sid, fr->sid.n) != 0))
    return 0;
  if (m->subject != NULL) {
    nm_slice_t pat = {m->subject, strlen(m->subject)};
    if (fr->subject.p == NULL)
      return 0;
    /* Exact text also matches, so a SUB's wildcard subject can be named. */
    if (!(fr->subject.n == pat.n && memcmp(fr->subject.p, pat.p, pat.n) == 0) &&
        !nm_subject_matches(pat, fr->subject))
      return 0;
  }
  return 1;
}

static int selects(const nm__frule_t *r, const nm__fcount_t *n) {
  if (r->nth != 0 && r->every != 0)
    return n->seen >= r->nth && (n->seen - r->nth) % r->every == 0;
  if (r->nth != 0)
    return n->seen == r->nth;
  if (r->every != 0)
    return n->seen % r->every == 0;
  return 1;
}

static void report(nm_faults_t *f, uint64_t id, const nm_frame_t *fr,
                   nm_slice_t bytes, const nm__frule_t *r, const char *detail) {
  nm__fobserve(f, NM_OBS_ACTION, id, fr, bytes, r->id, nm__fact_name(r->action),
               detail);
}

/* Splits a frame into several writes, each its own uv_write. */
static void do_split(nm_faults_t *f, nm_hconn_t *c, nm__frule_t *r,
                     const nm_frame_t *fr, nm_slice_t bytes) {
  size_t cuts[NM_FAULT_CUTS_MAX + 2];
  size_t ncuts = 0, i, j;
  char detail[64];

  cuts[ncuts++] = 0;
  if (r->chunk != 0) {
    size_t at;
    for (at = r->chunk; at < bytes.n && ncuts < NM_FAULT_CUTS_MAX + 1;
         at += r->chunk)
      cuts[ncuts++] = at;
  } else if (bytes.n > 1) {
    /* Distinct random cut points in 1..n-1, sorted (seeded xorshift). */
    size_t want = r->cuts < bytes.n - 1 ? r->cuts : bytes.n - 1;
    while (ncuts < want + 1) {
      size_t at, k;
      r->rng ^= r->rng << 13;
      r->rng ^= r->rng >> 7;
      r->rng ^= r->rng << 17;
      at = 1 + (size_t)(r->rng % (bytes.n - 1));
      for (k = 1; k < ncuts && cuts[k] != at; k++)
        ;
      if (k == ncuts)
        cuts[ncuts++] = at;
    }
    for (i = 2; i < ncuts; i++)
      for (j = i; j > 1 && cuts[j - 1] > cuts[j]; j--) {
        size_t t = cuts[j];
        cuts[j] = cuts[j - 1];
        cuts[j - 1] = t;
      }
  }
  cuts[ncuts] = bytes.n;
  snprintf(detail, sizeof(detail), "%zu writes", ncuts);
  report(f, nm__fh_id(f, c), fr, bytes, r, detail);
  /* Anything waiting to be coalesced goes first, then the pieces. */
  nm__femit(f, c, NULL, 0, NULL, NULL, NULL);
  /* Frames queued before this one are on the wire before it: they are
   * reported first, so the timeline keeps the wire order. */
  nm__fh_observe_pending(f, c);
  nm__fobserve(f, NM_OBS_OUT, nm__fh_id(f, c), fr, bytes, r->id, "split", NULL);
  /* The pieces are reported by the core as raw bytes (no frame), marked
   * "split-piece"; the whole frame was reported above. */
  for (i = 0; i < ncuts; i++)
    (void)nm__fh_write(f, c, bytes.p + cuts[i], cuts[i + 1] - cuts[i], 1, NULL,
                       r->id, "split-piece");
}

/* Keeps a copy of the frame on one of the connection's lists. Returns 0, or
 * an error when over the caps (the frame then passes untouched). */
static int keep(nm_faults_t *f, uint64_t id, int dir, const nm__frule_t *r,
                const nm_frame_t *fr, nm_slice_t bytes, nm__fheld_t **h_out,
                nm__fconn_t **st_out) {
  nm__fconn_t *st = nm__fconn_get(f, id, 1);
  nm__fheld_t *h;

  if (st == NULL)
    return NM_ENOMEM;
  h = nm__fheld_new(f, id, dir, r != NULL ? r->id : "", fr, bytes);
  if (h == NULL || nm__fheld_charge(st, h) != 0) {
    nm__fheld_free(h);
    nm__fconn_maybe_free(f, st);
    return h == NULL ? NM_ENOMEM : NM_ETOOBIG;
  }
  *h_out = h;
  *st_out = st;
  return 0;
}

/* Applies a taking action. Returns NM_FAULT_TAKEN, or NM_FAULT_PASS when
 * the frame must go on (stall of an out frame, a hold over the caps). */
static int act(nm_faults_t *f, nm_hconn_t *c, nm__frule_t *r, int dir,
               const nm_frame_t *fr, nm_slice_t bytes) {
  uint64_t id = nm__fh_id(f, c);
  nm__fconn_t *st;
  nm__fheld_t *h;
  char detail[96];
  int rc;

  switch (r->action) {
  case NM_FACT_HOLD:
  case NM_FACT_DELAY:
  case NM_FACT_COALESCE:
    rc = keep(f, id, dir, r, fr, bytes, &h, &st);
    if (rc != 0) {
      snprintf(detail, sizeof(detail), "not kept (%s): frame passed",
               rc == NM_ETOOBIG ? "held-frame cap reached" : "out of memory");
      report(f, id, fr, bytes, r, detail);
      return NM_FAULT_PASS;
    }
    h->ordered = r->ordered;
    if (r->action == NM_FACT_HOLD) {
      if (r->ordered) {
        nm__fheld_append(&st->seq[dir], h);
        st->blocking[dir]++;
      } else {
        nm__fheld_append(&st->held, h);
      }
      /* Without a timer the frame stays held until released. */
      if (r->ms != 0 && nm__fheld_hold_timer(f, h, r->ms) != 0)
        report(f, id, fr, bytes, r, "release timer failed: held until release");
      snprintf(detail, sizeof(detail), "held (%zu kept on conn)", st->nframes);
    } else if (r->action == NM_FACT_COALESCE) {
      nm__fheld_append(&st->coalesce, h);
      snprintf(detail, sizeof(detail), "waits for the next frame");
    } else {
      rc = nm__fheld_delay(f, st, h, r->ms);
      if (rc != 0) {
        nm__fheld_uncharge(st, h);
        nm__fheld_free(h);
        nm__fconn_maybe_free(f, st);
        report(f, id, fr, bytes, r, "timer failed: frame passed");
        return NM_FAULT_PASS;
      }
      snprintf(detail, sizeof(detail), "%llu ms", (unsigned long long)r->ms);
    }
    report(f, id, fr, bytes, r, detail);
    return NM_FAULT_TAKEN;
  case NM_FACT_DROP:
    report(f, id, fr, bytes, r, NULL);
    return NM_FAULT_TAKEN;
  case NM_FACT_DUPLICATE:
    report(f, id, fr, bytes, r, "twice");
    if (dir == NM_DIR_OUT) {
      nm__femit(f, c, bytes.p, bytes.n, fr, r->id, "duplicate");
      nm__femit(f, c, bytes.p, bytes.n, fr, r->id, "duplicate");
    } else {
      nm__fh_handle(f, c, fr, bytes);
      if (nm__fh_find(f, id) == c)
        nm__fh_handle(f, c, fr, bytes);
    }
    return NM_FAULT_TAKEN;
  case NM_FACT_SPLIT:
    do_split(f, c, r, fr, bytes);
    return NM_FAULT_TAKEN;
  case NM_FACT_CLOSE:
  case NM_FACT_RESET:
    report(f, id, fr, bytes, r, "frame not delivered");
    nm__fh_close(f, c,
                 r->action == NM_FACT_CLOSE ? NM_CLOSE_FLUSH : NM_CLOSE_RST,
                 r->action == NM_FACT_CLOSE ? "fault: close" : "fault: reset");
    return NM_FAULT_TAKEN;
  case NM_FACT_STALL:
    st = nm__fconn_get(f, id, 1);
    if (st == NULL)
      return NM_FAULT_PASS;
    st->stall = 1;
    nm__fh_reading(f, c, 0);
    if (dir == NM_DIR_OUT) {
      report(f, id, fr, bytes, r, "reading stopped after this frame");
      return NM_FAULT_PASS;
    }
    /* The server stops reading at this frame: it and every frame already
     * read after it wait for "resume". */
    h = nm__fheld_new(f, id, dir, r->id, fr, bytes);
    if (h == NULL || nm__fheld_charge(st, h) != 0) {
      nm__fheld_free(h);
      report(f, id, fr, bytes, r, "reading stopped; frame passed (cap)");
      return NM_FAULT_PASS;
    }
    nm__fheld_append(&st->stalled, h);
    report(f, id, fr, bytes, r, "reading stopped at this frame");
    return NM_FAULT_TAKEN;
  case NM_FACT_BLACKHOLE:
    st = nm__fconn_get(f, id, 1);
    if (st != NULL)
      st->blackhole = 1;
    report(f, id, fr, bytes, r, "frame discarded");
    nm__fh_blackhole(f, c, 1);
    return NM_FAULT_TAKEN;
  case NM_FACT_PASS:
    break;
  }
  return NM_FAULT_PASS;
}

/* A frame arriving on a stalled or black-holed connection. */
static int gate(nm_faults_t *f, nm__fconn_t *st, int dir, uint64_t id,
                const nm_frame_t *fr, nm_slice_t bytes) {
  nm__fheld_t *h;

  if (st->blackhole) {
    nm__fobserve(f, NM_OBS_ACTION, id, fr, bytes, NULL, "blackhole",
                 "frame discarded");
    return NM_FAULT_TAKEN;
  }
  if (!st->stall || dir != NM_DIR_IN)
    return NM_FAULT_PASS;
  h = nm__fheld_new(f, id, dir, "", fr, bytes);
  if (h == NULL || nm__fheld_charge(st, h) != 0) {
    nm__fheld_free(h);
    nm__fobserve(f, NM_OBS_ACTION, id, fr, bytes, NULL, "stall",
                 "frame discarded: held-frame cap reached");
    return NM_FAULT_TAKEN;
  }
  nm__fheld_append(&st->stalled, h);
  return NM_FAULT_TAKEN;
}

int nm_faults_frame(nm_faults_t *f, nm_hconn_t *c, int dir,
                    const nm_frame_t *fr, nm_slice_t bytes) {
  nm__frule_t *acted[NM_FAULT_RULES_MAX];
  char release[8][NM_FAULT_ID_MAX]; /* hold rules whose release_on matched */
  int nrelease = 0;
  nm__frule_t *r, *taker = NULL;
  nm__fcount_t *n;
  uint64_t id;
  nm__fconn_t *st;
  int nacted = 0, result = NM_FAULT_PASS, has_then = 0, i;

  if (f == NULL || f->stopped || f->replying)
    return NM_FAULT_PASS;
  /* Control requests are not data: no rule may hold, drop or count them,
   * or the control plane could lock itself out. */
  if (dir == NM_DIR_IN && (fr->op == NM_OP_PUB || fr->op == NM_OP_HPUB) &&
      !f->control_off && nm_faults_is_control(fr->subject))
    return NM_FAULT_PASS;
  id = nm__fh_id(f, c);
  st = nm__fconn_get(f, id, 0);
  if (st != NULL && (st->blackhole || st->stall)) {
    result = gate(f, st, dir, id, fr, bytes);
    if (result == NM_FAULT_TAKEN)
      return result;
  }

  f->walking++;
  for (r = f->rules; r != NULL; r = r->next) {
    if (r->removed)
      continue;
    if (r->has_release_on && nrelease < 8 &&
        nm__fmatch(f, c, &r->release_on, dir, id, fr))
      snprintf(release[nrelease++], NM_FAULT_ID_MAX, "%s", r->id);
    n = nm__frule_count(r, id);
    if (n == NULL)
      continue; /* per_conn table full: this connection is not counted */
    if (!n->armed) {
      /* The trigger frame itself is not counted by the rule it arms. */
      if (nm__fmatch(f, c, &r->after, dir, id, fr) &&
          ++n->after_seen >= r->after_nth) {
        n->armed = 1;
        nm__fobserve(f, NM_OBS_ACTION, id, fr, bytes, r->id, "armed",
                     "trigger seen");
      }
      continue;
    }
    if (taker != NULL || nm__frule_spent(r, n) ||
        !nm__fmatch(f, c, &r->match, dir, id, fr))
      continue;
    n->seen++;
    r->seen_total++;
    if (!selects(r, n))
      continue;
    n->acted++;
    r->acted_total++;
    /* Rules added during a walk can outnumber the array: those still act,
     * without then-actions. */
    if (nacted < NM_FAULT_RULES_MAX) {
      acted[nacted++] = r;
      if (r->then.n > 0)
        has_then = 1;
    }
    if (r->action == NM_FACT_PASS) {
      report(f, id, fr, bytes, r, NULL);
      continue;
    }
    result = act(f, c, r, dir, fr, bytes);
    if (result == NM_FAULT_TAKEN)
      taker = r;
  }

  /* A frame that passes while an ordered hold or delay of its connection
   * and direction waits goes behind it, as TCP would keep it. Over the
   * caps it passes (out of order; the observer says so). */
  if (result == NM_FAULT_PASS && (st = nm__fconn_get(f, id, 0)) != NULL &&
      st->blocking[dir] > 0) {
    nm__fheld_t *h =
        nm__fheld_new(f, id, dir, nacted > 0 ? acted[0]->id : "", fr, bytes);
    if (h != NULL && nm__fheld_charge(st, h) == 0) {
      h->ready = 1;
      nm__fheld_append(&st->seq[dir], h);
      result = NM_FAULT_TAKEN;
    } else {
      nm__fheld_free(h);
      nm__fobserve(f, NM_OBS_ACTION, id, fr, bytes, NULL, "ordered",
                   "not kept (held-frame cap reached): frame passed ahead");
    }
  }

  /* An out frame that passes is written by the engine itself when
   * something must follow it at once: then-actions (what they send comes
   * after the frame), or a frame waiting to be coalesced with it. An in
   * frame that passes is handled by the core after the then-actions ran:
   * "when the server receives X" means before it acted on X. */
  if (result == NM_FAULT_PASS && dir == NM_DIR_OUT &&
      (has_then ||
       ((st = nm__fconn_get(f, id, 0)) != NULL && st->coalesce.head)) &&
      nm__fh_find(f, id) == c) {
    /* The open-connection check (a search of the host's connections) only
     * when the engine must write: a frame no rule acted on costs none. */
    {
      const char *rid = nacted > 0 ? acted[0]->id : NULL;
      nm__femit(f, c, bytes.p, bytes.n, fr, rid, rid ? "pass" : NULL);
      result = NM_FAULT_TAKEN;
    }
  }

  if (has_then) {
    for (i = 0; i < nacted; i++) {
      if (acted[i]->then.n == 0)
        continue;
      if (f->depth >= NM_FAULT_DEPTH_MAX) {
        nm__fobserve(f, NM_OBS_ACTION, id, NULL, (nm_slice_t){NULL, 0},
                     acted[i]->id, "then",
                     "skipped: then-actions nested too deep");
        continue;
      }
      f->depth++;
      nm__fdirects_run(f, &acted[i]->then, id, acted[i]->id);
      f->depth--;
    }
  }
  /* release_on: the frames the rule holds on this connection go first, as
   * if released just before the matching frame is handled or written. */
  for (i = 0; i < nrelease; i++) {
    char rdetail[96];
    uint64_t k = nm__fheld_release(f, id, release[i], 0);
    snprintf(rdetail, sizeof(rdetail), "release_on matched: %llu frame(s)",
             (unsigned long long)k);
    nm__fobserve(f, NM_OBS_ACTION, id, fr, bytes, release[i], "release",
                 rdetail);
  }
  f->walking--;
  nm__frules_reap(f);
  return result;
}
