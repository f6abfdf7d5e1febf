/* The exploration: N seeded runs (in parallel with -j), then, one failing
 * run at a time, confirm it, check it against the reference client, shrink
 * it, replay the shrunk scenario, write it, and report. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "nm_explore_int.h"
#include "nm_report.h"
#include "nm_runner.h"

typedef struct {
  const nm_explore_opts_t *o;
  nm_xrun_t *runs;
  uint64_t next, done, started_us;
  uint64_t npert, per_class[NM_PC_COUNT];
  uint64_t nfail, npass, nskip, nerror;
  uint64_t stop_at_us;
  uint64_t extra_runs; /* confirm, shrink, replay, reference runs */
  uint64_t nnostart;   /* failing runs whose driver did not start */
  pthread_mutex_t mu;
} xctx_t;

static uint64_t now_us(void) {
  return uv_hrtime() / 1000;
}

/* ---- one run ---- */

static cJSON *base_doc(const nm_explore_opts_t *o, int wl, uint64_t seed) {
  return o->wl[wl].root ? cJSON_Duplicate(o->wl[wl].root, 1)
                        : nm_gen_workload(seed, nm_pert_has_faults(o->mask));
}

static const char *base_path(const nm_explore_opts_t *o, int wl, char *buf,
                             size_t n) {
  if (o->wl[wl].root)
    return o->wl[wl].path;
  snprintf(buf, n, "generated/gen.json");
  return buf;
}

/* Runs doc with driver; fills res; returns the scenario (res->sc), which
 * the caller frees after res, or NULL (res is then an ERROR). */
static nm_scenario_t *run_doc(const nm_explore_opts_t *o, const cJSON *doc,
                              const char *path, const char *driver,
                              uint64_t seed, int keep_tl, nm_result_t *res) {
  char *text = cJSON_PrintUnformatted(doc);
  char err[1024];
  nm_scenario_t *sc = NULL;
  nm_run_opts_t ro;
  nm_result_init(res);
  if (!text ||
      nm_scenario_parse(text, strlen(text), path, &sc, err, sizeof(err)) != 0) {
    res->status = NM_ST_ERROR;
    res->reason = strdup(text ? err : "out of memory");
    cJSON_free(text);
    return NULL;
  }
  cJSON_free(text);
  memset(&ro, 0, sizeof(ro));
  ro.driver_cmd = driver;
  ro.seed = seed;
  ro.keep_timeline = keep_tl;
  ro.time_scale = o->time_scale;
  nm_run_scenario(sc, &ro, 1, res);
  return sc;
}

/* Did the run fail because a driver did not start in time (it printed no
 * hello)? That is the machine's load (a Node driver under a load average
 * of 20 on 2 cores takes more than the harness's limit), never a finding. */
static int driver_did_not_start(const nm_result_t *res) {
  for (size_t i = 0; i < res->fails.n; i++)
    if (!strcmp(res->fails.v[i].what, "run") && res->fails.v[i].message &&
        strstr(res->fails.v[i].message, "printed no hello"))
      return 1;
  return 0;
}

/* The failure's key: the first invariant that failed, else "step" (a step
 * failed) or "run" (the run itself: a driver died, a timeout), or
 * NM_EXPLORE_KEY_NO_START (the driver did not start: not examined). */
static void fail_key(const nm_result_t *res, char *key, size_t n) {
  key[0] = '\0';
  if (res->status != NM_ST_FAIL && res->status != NM_ST_ERROR)
    return;
  if (driver_did_not_start(res)) {
    snprintf(key, n, "%s", NM_EXPLORE_KEY_NO_START);
    return;
  }
  if (res->status == NM_ST_ERROR) {
    snprintf(key, n, "error");
    return;
  }
  for (size_t i = 0; i < res->fails.n; i++)
    if (!strncmp(res->fails.v[i].what, "invariant ", 10)) {
      snprintf(key, n, "%s", res->fails.v[i].what);
      return;
    }
  if (res->fails.n && !strncmp(res->fails.v[0].what, "step", 4))
    snprintf(key, n, "step");
  else if (res->fails.n)
    snprintf(key, n, "%s", res->fails.v[0].what);
  else
    snprintf(key, n, "run");
}

static void free_run(nm_result_t *res, nm_scenario_t *sc) {
  nm_result_free(res);
  if (sc)
    nm_scenario_free(sc);
}

/* ---- phase 1: the exploration runs ---- */

/* Run i's workload: each in turn, or with --generate-share P the generated
 * one (the last) on P percent of the runs, spread evenly (run i is
 * generated when floor((i+1)P/100) passes floor(iP/100)), the scenario
 * files in turn on the others. */
static int workload_of(const nm_explore_opts_t *o, uint64_t i) {
  uint64_t p = (uint64_t)o->gen_share, before;
  int nfiles = o->nwl - 1;
  if (o->gen_share < 0 || o->wl[o->nwl - 1].root != NULL)
    return (int)(i % (uint64_t)o->nwl);
  before = i * p / 100;
  if (nfiles == 0 || (i + 1) * p / 100 > before)
    return o->nwl - 1;
  return (int)((i - before) % (uint64_t)nfiles);
}

static void *worker(void *arg) {
  xctx_t *x = arg;
  const nm_explore_opts_t *o = x->o;
  for (;;) {
    uint64_t i;
    nm_xrun_t *r;
    nm_pert_scope_t scope;
    nm_rng_t rng;
    cJSON *base, *doc;
    nm_result_t res;
    nm_scenario_t *sc;
    char pbuf[64], key[NM_EXPLORE_KEY_MAX];

    pthread_mutex_lock(&x->mu);
    if (x->next >= o->runs || (x->stop_at_us && now_us() >= x->stop_at_us)) {
      pthread_mutex_unlock(&x->mu);
      return NULL;
    }
    i = x->next++;
    pthread_mutex_unlock(&x->mu);

    r = &x->runs[i];
    r->seed = o->seed + i;
    r->wl = workload_of(o, i);
    base = base_doc(o, r->wl, r->seed);
    nm_pert_scope(base, &scope);
    nm_rng_seed(&rng, r->seed);
    r->c.np = nm_pert_draw(&rng, o->mask, &scope, NM_PERT_MAX, r->c.p);
    doc = nm_candidate_doc(base, &r->c);
    sc = run_doc(o, doc, base_path(o, r->wl, pbuf, sizeof(pbuf)), o->driver,
                 r->seed, 0, &res);
    r->status = res.status;
    r->duration_us = res.duration_us;
    fail_key(&res, key, sizeof(key));
    snprintf(r->key, sizeof(r->key), "%s", key);

    pthread_mutex_lock(&x->mu);
    x->done++;
    x->npert += (uint64_t)r->c.np;
    for (int k = 0; k < r->c.np; k++)
      x->per_class[r->c.p[k].cls]++;
    if (res.status == NM_ST_FAIL)
      x->nfail++;
    else if (res.status == NM_ST_ERROR)
      x->nerror++;
    else if (res.status == NM_ST_SKIP)
      x->nskip++;
    else
      x->npass++;
    if (res.status == NM_ST_FAIL || res.status == NM_ST_ERROR) {
      printf("[run %llu seed %llu] %s %s: %s", (unsigned long long)i,
             (unsigned long long)r->seed, nm_status_name(res.status),
             sc ? sc->name : "?", key);
      for (int k = 0; k < r->c.np; k++)
        printf("%s%s", k ? ", " : " under ",
               nm_pert_label(&r->c.p[k], pbuf, sizeof(pbuf)));
      if (res.status == NM_ST_ERROR && res.reason)
        printf(" (%s)", res.reason);
      if (res.status == NM_ST_FAIL && res.fails.n)
        printf("\n      %s: %s", res.fails.v[0].what, res.fails.v[0].message);
      printf("\n");
    } else if (x->done % 50 == 0) {
      printf("[%llu/%llu runs] %llu failed so far, %.0f s\n",
             (unsigned long long)x->done, (unsigned long long)o->runs,
             (unsigned long long)(x->nfail + x->nerror),
             (double)(now_us() - x->started_us) / 1e6);
    }
    fflush(stdout);
    pthread_mutex_unlock(&x->mu);

    free_run(&res, sc);
    cJSON_Delete(doc);
    cJSON_Delete(base);
  }
}

/* ---- phase 2: findings ---- */

typedef struct {
  xctx_t *x;
  const cJSON *base;
  const char *path;
  uint64_t seed;
  const char *key;
} oracle_arg_t;

static int oracle(const nm_candidate_t *c, void *arg) {
  oracle_arg_t *a = arg;
  cJSON *doc = nm_candidate_doc(a->base, c);
  nm_result_t res;
  nm_scenario_t *sc =
      run_doc(a->x->o, doc, a->path, a->x->o->driver, a->seed, 0, &res);
  char key[NM_EXPLORE_KEY_MAX];
  fail_key(&res, key, sizeof(key));
  a->x->extra_runs++;
  free_run(&res, sc);
  cJSON_Delete(doc);
  return strcmp(key, a->key) == 0;
}

static void cause_of(const nm_candidate_t *c, char *buf, size_t n) {
  char one[64];
  /* Sorted, distinct: the same minimal cause found twice reads the same. */
  const char *v[NM_PERT_MAX];
  char store[NM_PERT_MAX][64];
  int m = 0;
  for (int i = 0; i < c->np; i++) {
    int dup = 0;
    nm_pert_cause(&c->p[i], one, sizeof(one));
    for (int k = 0; k < m; k++)
      dup |= !strcmp(v[k], one);
    if (dup)
      continue;
    snprintf(store[m], sizeof(store[m]), "%s", one);
    v[m] = store[m];
    m++;
  }
  for (int i = 1; i < m; i++)
    for (int k = i; k > 0 && strcmp(v[k - 1], v[k]) > 0; k--) {
      const char *t = v[k];
      v[k] = v[k - 1];
      v[k - 1] = t;
    }
  buf[0] = '\0';
  for (int i = 0; i < m; i++)
    snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", i ? "+" : "", v[i]);
  if (!m)
    snprintf(buf, n, "none");
}

static void labels_of(const nm_candidate_t *c, char *buf, size_t n) {
  char one[96];
  buf[0] = '\0';
  for (int i = 0; i < c->np; i++)
    snprintf(buf + strlen(buf), n - strlen(buf), "%s%s (before step %d)",
             i ? ", " : "", nm_pert_label(&c->p[i], one, sizeof(one)),
             c->p[i].at_step);
  if (!c->np)
    snprintf(buf, n, "none");
}

/* Does `cause` (tokens joined by '+') only use tokens of `have`? */
static int cause_within(const char *cause, const char *have) {
  char tok[64];
  while (*cause) {
    size_t k = strcspn(cause, "+");
    const char *h = have;
    int found = 0;
    snprintf(tok, sizeof(tok), "%.*s", (int)k, cause);
    while (*h && !found) {
      size_t j = strcspn(h, "+");
      found = j == strlen(tok) && !strncmp(h, tok, j);
      h += j + (h[j] == '+');
    }
    if (!found && strcmp(tok, "none"))
      return 0;
    cause += k + (cause[k] == '+');
  }
  return 1;
}

static void slug(const char *in, char *out, size_t n) {
  size_t j = 0;
  for (; *in && j + 1 < n; in++) {
    unsigned char ch = (unsigned char)*in;
    if (!strncmp(in, "invariant ", 10)) {
      in += 9;
      continue;
    }
    out[j++] = isalnum(ch) || ch == '_' || ch == '.' ? (char)ch : '-';
  }
  out[j] = '\0';
}

/* The shrunk scenario: the workload with the kept perturbations in place,
 * under a name that says what broke and why. */
static cJSON *finding_doc(const nm_explore_opts_t *o, const nm_xrun_t *r,
                          const cJSON *base, const nm_candidate_t *c,
                          const nm_finding_t *f, char *name, size_t nn) {
  cJSON *doc = nm_candidate_doc(base, c), *tags;
  char k[NM_EXPLORE_KEY_MAX], cs[NM_EXPLORE_CAUSE_MAX], wl[256], *sum;
  slug(f->key, k, sizeof(k));
  slug(f->cause, cs, sizeof(cs));
  slug(f->workload, wl, sizeof(wl));
  snprintf(name, nn, "explore-%s-%s-%s", k, cs, wl);
  cJSON_DeleteItemFromObjectCaseSensitive(doc, "name");
  cJSON_AddStringToObject(doc, "name", name);
  if (asprintf(&sum,
               "Found by exploration (seed %llu, run %llu of %s): %s fails "
               "under %s.",
               (unsigned long long)r->seed,
               (unsigned long long)(r->seed - o->seed), f->workload, f->key,
               f->labels) < 0)
    sum = NULL;
  cJSON_DeleteItemFromObjectCaseSensitive(doc, "summary");
  cJSON_AddStringToObject(doc, "summary", sum ? sum : "");
  free(sum);
  tags = cJSON_GetObjectItemCaseSensitive(doc, "tags");
  if (!tags)
    tags = cJSON_AddArrayToObject(doc, "tags");
  cJSON_AddItemToArray(tags, cJSON_CreateString("explore"));
  return doc;
}

static int is_op(const cJSON *st, const char *op) {
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(st, "do");
  return cJSON_IsString(d) && !strcmp(d->valuestring, op);
}

/* Command steps of a generated workload that the shrinker may remove:
 * every command but the connects and the closing flushes (without them the
 * last messages are still in flight when the steps end, and no_loss or
 * delivered_all would blame the client for the shortened workload).
 * Scenario files keep their steps (their awaits depend on them). */
static int droppable(const cJSON *base, int generated, int *steps, int max) {
  const cJSON *all = cJSON_GetObjectItemCaseSensitive(base, "steps"), *st;
  int i = 0, n = 0, settle = cJSON_GetArraySize(all);
  if (!generated)
    return 0;
  while (settle > 0 && is_op(cJSON_GetArrayItem(all, settle - 1), "flush"))
    settle--;
  cJSON_ArrayForEach(st, all) {
    /* An await goes with the command it waits for (nm_candidate_doc). */
    if (i < settle && !is_op(st, "connect") &&
        cJSON_GetObjectItemCaseSensitive(st, "do") && n < max)
      steps[n++] = i;
    i++;
  }
  return n;
}

static nm_finding_t *find_dup(nm_finding_t *f, int nf, const char *key,
                              const char *cause, const char *workload) {
  for (int i = 0; i < nf; i++)
    if (!strcmp(f[i].key, key) && !strcmp(f[i].cause, cause) &&
        (!workload || !strcmp(f[i].workload, workload)))
      return &f[i];
  return NULL;
}

static int write_doc(const cJSON *doc, const char *path) {
  char *text = cJSON_Print(doc);
  FILE *fp = text ? fopen(path, "w") : NULL;
  int rc = -1;
  if (fp) {
    rc = fputs(text, fp) < 0 || fputc('\n', fp) < 0 ? -1 : 0;
    if (fclose(fp) != 0)
      rc = -1;
  }
  cJSON_free(text);
  return rc;
}

static void handle_failure(xctx_t *x, uint64_t i, nm_finding_t *fs, int *nf,
                           uint64_t deadline_us) {
  const nm_explore_opts_t *o = x->o;
  nm_xrun_t *r = &x->runs[i];
  nm_finding_t *f, *dup;
  cJSON *base = base_doc(o, r->wl, r->seed), *doc = NULL;
  char pbuf[64], cause[NM_EXPLORE_CAUSE_MAX], wl[256], name[1024];
  const char *path = base_path(o, r->wl, pbuf, sizeof(pbuf));
  nm_candidate_t c = r->c;
  nm_result_t res;
  nm_scenario_t *sc;
  int steps[NM_SCENARIO_MAX_STEPS / 64], nsteps;
  char key[NM_EXPLORE_KEY_MAX];

  snprintf(wl, sizeof(wl), "%s",
           o->wl[r->wl].root ? o->wl[r->wl].name : "generated");
  if (!strcmp(r->key, NM_EXPLORE_KEY_NO_START)) {
    x->nnostart++;
    cJSON_Delete(base);
    return;
  }
  cause_of(&c, cause, sizeof(cause));
  /* A failure of the same workload and key whose cause is already within
   * this run's perturbations: counted, not shrunk again. */
  for (int k = 0; k < *nf; k++)
    if (!strcmp(fs[k].workload, wl) && !strcmp(fs[k].key, r->key) &&
        cause_within(fs[k].cause, cause)) {
      fs[k].hits++;
      cJSON_Delete(base);
      return;
    }
  if (*nf >= NM_EXPLORE_MAX_FINDINGS || now_us() >= deadline_us) {
    printf("explore: run %llu (%s, %s) not examined: %s\n",
           (unsigned long long)i, wl, r->key,
           *nf >= NM_EXPLORE_MAX_FINDINGS ? "too many findings"
                                          : "time budget spent");
    cJSON_Delete(base);
    return;
  }
  f = &fs[*nf];
  memset(f, 0, sizeof(*f));
  nm_result_init(&f->res);
  snprintf(f->key, sizeof(f->key), "%s", r->key);
  snprintf(f->workload, sizeof(f->workload), "%s", wl);
  f->seed = r->seed;
  f->run = i;
  f->hits = 1;
  f->ref_fails = -1;

  /* The reference client on the very same run: if it fails too, the
   * perturbation is one no client could be expected to handle (or the
   * harness is unfair): recorded, not scored, not shrunk. */
  if (o->reference && !o->driver_is_reference) {
    doc = nm_candidate_doc(base, &c);
    sc = run_doc(o, doc, path, o->reference, r->seed, 0, &res);
    x->extra_runs++;
    fail_key(&res, key, sizeof(key));
    free_run(&res, sc);
    cJSON_Delete(doc);
    doc = NULL;
    if (key[0]) {
      snprintf(f->cause, sizeof(f->cause), "%s", cause);
      if ((dup = find_dup(fs, *nf, f->key, f->cause, NULL)) != NULL &&
          !dup->scored) {
        dup->hits++;
        cJSON_Delete(base);
        return;
      }
      labels_of(&c, f->labels, sizeof(f->labels));
      f->ref_fails = 1;
      snprintf(f->why, sizeof(f->why),
               "the reference client fails the same run (%s): not a fault "
               "a client can be blamed for",
               key);
      doc = finding_doc(o, r, base, &c, f, name, sizeof(name));
      f->sc = run_doc(o, doc, path, o->driver, r->seed, 1, &f->res);
      x->extra_runs++;
      f->replays = 1;
      f->replay_fails = f->res.status == NM_ST_FAIL;
      (*nf)++;
      goto out;
    }
  }

  {
    oracle_arg_t oa = {x, base, path, r->seed, r->key};
    /* How often does it fail? A real client's own timing can make a run
     * fail only sometimes: then each shrink candidate gets several runs
     * (nm_shrink_kofn), else a candidate that kept the cause but happened
     * to pass would be taken for one that lost it. */
    f->confirm_runs = NM_SHRINK_CONFIRM_RUNS;
    for (int k = 0; k < f->confirm_runs; k++)
      f->confirm_fails += oracle(&c, &oa) == 1;
    f->per_candidate =
        nm_shrink_runs_per_candidate(f->confirm_fails, f->confirm_runs);
    if (f->per_candidate > 0) {
      nm_kofn_t kofn = {oracle, &oa, f->per_candidate, NM_SHRINK_MAX_TRIES * 2,
                        0};
      nsteps = droppable(base, o->wl[r->wl].root == NULL, steps,
                         (int)(sizeof(steps) / sizeof(steps[0])));
      nm_shrink(&c, steps, nsteps, NM_SHRINK_MAX_TRIES, nm_shrink_kofn, &kofn);
      f->shrink_runs = kofn.runs;
      f->shrunk = 1;
    }
  }
  cause_of(&c, f->cause, sizeof(f->cause));
  labels_of(&c, f->labels, sizeof(f->labels));
  if ((dup = find_dup(fs, *nf, f->key, f->cause, NULL)) != NULL) {
    dup->hits++;
    cJSON_Delete(base);
    return;
  }
  doc = finding_doc(o, r, base, &c, f, name, sizeof(name));

  /* Replays of the shrunk scenario, exactly as written. */
  f->replays = o->replays;
  for (int k = 0; k < o->replays; k++) {
    nm_result_t rr;
    nm_scenario_t *rs = run_doc(o, doc, path, o->driver, r->seed, 1, &rr);
    x->extra_runs++;
    fail_key(&rr, key, sizeof(key));
    /* Only the same failure reproduces it; a driver that did not start
     * is counted apart (the machine's load). */
    if (!strcmp(key, NM_EXPLORE_KEY_NO_START))
      f->replay_nostart++;
    else if (key[0] && strcmp(key, f->key) == 0)
      f->replay_fails++;
    if (key[0] && !strcmp(key, f->key) && !f->sc) {
      f->res = rr;
      f->sc = rs;
    } else {
      free_run(&rr, rs);
    }
  }
  if (!f->sc)
    f->sc = run_doc(o, doc, path, o->driver, r->seed, 1, &f->res);
  /* The reference client gets as many runs as the client's replays (at
   * least one): a scenario whose outcome depends on timing for any client
   * may pass a single reference run by chance, and must not be scored. */
  if (o->reference && !o->driver_is_reference) {
    f->ref_runs = o->replays > 0 ? o->replays : 1;
    for (int k = 0; k < f->ref_runs; k++) {
      sc = run_doc(o, doc, path, o->reference, r->seed, 0, &res);
      x->extra_runs++;
      fail_key(&res, key, sizeof(key));
      if (key[0] && strcmp(key, NM_EXPLORE_KEY_NO_START))
        f->ref_fail_runs++;
      free_run(&res, sc);
    }
    f->ref_fails = f->ref_fail_runs > 0;
  }
  if (f->ref_fails == 1)
    snprintf(f->why, sizeof(f->why),
             "the reference client fails the shrunk scenario too (%d of %d "
             "runs)",
             f->ref_fail_runs, f->ref_runs);
  else if (!f->replay_fails)
    snprintf(f->why, sizeof(f->why),
             "the shrunk scenario never failed again in %d replays",
             f->replays);
  else
    f->scored = 1;
  (*nf)++;

out:
  snprintf(f->file, sizeof(f->file), "%s/%s.json", o->out_dir, name);
  if (write_doc(doc, f->file) != 0)
    fprintf(stderr, "natsmock-harness: %s: %s\n", f->file, strerror(errno));
  if (f->sc && f->res.tl) {
    char tdir[NM_EXPLORE_PATH_MAX];
    snprintf(tdir, sizeof(tdir), "%s/traces", o->out_dir);
    if ((mkdir(tdir, 0777) != 0 && errno != EEXIST) ||
        nm_report_trace(&f->res, tdir) != 0)
      fprintf(stderr, "natsmock-harness: traces in %s: %s\n", tdir,
              strerror(errno));
  }
  /* The reports' view: a scored finding is a failure; the rest are
   * reported as skipped, with the reason. */
  if (!f->scored && f->sc) {
    f->res.status = NM_ST_SKIP;
    free(f->res.reason);
    f->res.reason = strdup(f->why);
  }
  printf("explore: finding %d: %s / %s (%s, seed %llu): %d of %d replays "
         "fail%s; %s\n      %s\n",
         *nf, f->key, f->cause, f->workload, (unsigned long long)f->seed,
         f->replay_fails, f->replays,
         f->ref_fails < 0   ? ""
         : f->ref_fails > 0 ? ", the reference client fails too"
                            : ", the reference client passes",
         f->scored ? "scored" : "not scored", f->file);
  fflush(stdout);
  cJSON_Delete(doc);
  cJSON_Delete(base);
}

/* ---- reports ---- */

static cJSON *summary_json(const xctx_t *x, const nm_finding_t *fs, int nf,
                           double secs) {
  const nm_explore_opts_t *o = x->o;
  cJSON *j = cJSON_CreateObject(), *a, *pc;
  cJSON_AddStringToObject(j, "tool", "natsmock-harness --explore");
  cJSON_AddStringToObject(j, "driver_cmd", o->driver);
  cJSON_AddStringToObject(j, "reference_cmd", o->reference ? o->reference : "");
  cJSON_AddNumberToObject(j, "seed", (double)o->seed);
  cJSON_AddNumberToObject(j, "runs_asked", (double)o->runs);
  cJSON_AddNumberToObject(j, "runs", (double)x->done);
  cJSON_AddNumberToObject(j, "passed", (double)x->npass);
  cJSON_AddNumberToObject(j, "failed", (double)x->nfail);
  cJSON_AddNumberToObject(j, "skipped", (double)x->nskip);
  cJSON_AddNumberToObject(j, "errors", (double)x->nerror);
  cJSON_AddNumberToObject(j, "extra_runs", (double)x->extra_runs);
  cJSON_AddNumberToObject(j, "driver_did_not_start", (double)x->nnostart);
  cJSON_AddNumberToObject(j, "perturbations", (double)x->npert);
  pc = cJSON_AddObjectToObject(j, "perturbations_by_class");
  for (int c = 0; c < NM_PC_COUNT; c++)
    if (o->mask & (1u << c))
      cJSON_AddNumberToObject(pc, nm_pert_info((nm_pert_class_t)c)->name,
                              (double)x->per_class[c]);
  cJSON_AddNumberToObject(j, "duration_s", secs);
  a = cJSON_AddArrayToObject(j, "workloads");
  for (int w = 0; w < o->nwl; w++)
    cJSON_AddItemToArray(
        a, cJSON_CreateString(o->wl[w].root ? o->wl[w].name : "(generated)"));
  a = cJSON_AddArrayToObject(j, "findings");
  for (int i = 0; i < nf; i++) {
    const nm_finding_t *f = &fs[i];
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "key", f->key);
    cJSON_AddStringToObject(e, "cause", f->cause);
    cJSON_AddStringToObject(e, "perturbations", f->labels);
    cJSON_AddStringToObject(e, "workload", f->workload);
    cJSON_AddNumberToObject(e, "seed", (double)f->seed);
    cJSON_AddNumberToObject(e, "run", (double)f->run);
    cJSON_AddNumberToObject(e, "hits", f->hits);
    cJSON_AddBoolToObject(e, "shrunk", f->shrunk);
    cJSON_AddNumberToObject(e, "shrink_runs", f->shrink_runs);
    cJSON_AddNumberToObject(e, "confirm_runs", f->confirm_runs);
    cJSON_AddNumberToObject(e, "confirm_failures", f->confirm_fails);
    cJSON_AddNumberToObject(e, "runs_per_candidate", f->per_candidate);
    cJSON_AddNumberToObject(e, "replays", f->replays);
    cJSON_AddNumberToObject(e, "replay_failures", f->replay_fails);
    cJSON_AddNumberToObject(e, "replays_not_started", f->replay_nostart);
    if (f->ref_fails >= 0)
      cJSON_AddBoolToObject(e, "reference_fails", f->ref_fails);
    if (f->ref_runs > 0) {
      cJSON_AddNumberToObject(e, "reference_runs", f->ref_runs);
      cJSON_AddNumberToObject(e, "reference_failures", f->ref_fail_runs);
    }
    cJSON_AddBoolToObject(e, "scored", f->scored);
    if (f->why[0])
      cJSON_AddStringToObject(e, "not_scored_because", f->why);
    cJSON_AddStringToObject(e, "scenario", f->file);
    if (f->res.fails.n)
      cJSON_AddStringToObject(e, "message", f->res.fails.v[0].message);
    cJSON_AddItemToArray(a, e);
  }
  return j;
}

int nm__explore_run(const nm_explore_opts_t *o) {
  xctx_t x;
  pthread_t th[64];
  nm_finding_t *fs = calloc(NM_EXPLORE_MAX_FINDINGS, sizeof(*fs));
  int nf = 0, jobs = o->jobs < 1 ? 1 : (o->jobs > 64 ? 64 : o->jobs);
  int nscored = 0, exit_code = 0;
  uint64_t t0 = now_us(), deadline;
  double secs;
  char path[NM_EXPLORE_PATH_MAX];
  cJSON *sum;

  memset(&x, 0, sizeof(x));
  x.o = o;
  x.runs = calloc(o->runs ? o->runs : 1, sizeof(*x.runs));
  if (!x.runs || !fs) {
    free(x.runs);
    free(fs);
    fprintf(stderr, "natsmock-harness: out of memory for %llu runs\n",
            (unsigned long long)o->runs);
    return 2;
  }
  pthread_mutex_init(&x.mu, NULL);
  x.started_us = t0;
  x.stop_at_us = o->budget_s > 0 ? t0 + (uint64_t)(o->budget_s * 1e6) : 0;
  printf("explore: %llu runs, seed %llu, %d workload(s), classes:",
         (unsigned long long)o->runs, (unsigned long long)o->seed, o->nwl);
  for (int c = 0; c < NM_PC_COUNT; c++)
    if (o->mask & (1u << c))
      printf(" %s", nm_pert_info((nm_pert_class_t)c)->name);
  printf("\n");
  fflush(stdout);
  for (int i = 0; i < jobs; i++)
    pthread_create(&th[i], NULL, worker, &x);
  for (int i = 0; i < jobs; i++)
    pthread_join(th[i], NULL);

  /* Findings, in run order (a seed's outcome does not depend on -j). As
   * long again as the exploration itself, at most, when it had a budget. */
  deadline = x.stop_at_us ? now_us() + (now_us() - t0) : UINT64_MAX;
  for (uint64_t i = 0; i < x.done; i++)
    if (x.runs[i].status == NM_ST_FAIL || x.runs[i].status == NM_ST_ERROR)
      handle_failure(&x, i, fs, &nf, deadline);
  secs = (double)(now_us() - t0) / 1e6;

  for (int i = 0; i < nf; i++)
    nscored += fs[i].scored;
  printf("explore: %llu runs (%llu passed, %llu failed, %llu skipped, %llu "
         "errors) and %llu more to confirm, shrink and replay, in %.1f s; "
         "%llu perturbations (",
         (unsigned long long)x.done, (unsigned long long)x.npass,
         (unsigned long long)x.nfail, (unsigned long long)x.nskip,
         (unsigned long long)x.nerror, (unsigned long long)x.extra_runs, secs,
         (unsigned long long)x.npert);
  for (int c = 0, first = 1; c < NM_PC_COUNT; c++)
    if (o->mask & (1u << c)) {
      printf("%s%s %llu", first ? "" : ", ",
             nm_pert_info((nm_pert_class_t)c)->name,
             (unsigned long long)x.per_class[c]);
      first = 0;
    }
  printf("); seed %llu\n", (unsigned long long)o->seed);
  if (x.nnostart)
    printf("explore: %llu failing run(s) not examined: a driver printed no "
           "hello in time (the machine's load, not the client)\n",
           (unsigned long long)x.nnostart);
  printf("explore: %d distinct finding(s), %d scored against the client\n", nf,
         nscored);
  for (int i = 0; i < nf; i++) {
    const nm_finding_t *f = &fs[i];
    printf("  [%d] %s / %s  (%s, seed %llu, %d run(s))\n", i + 1, f->key,
           f->cause, f->workload, (unsigned long long)f->seed, f->hits);
    printf("      under: %s\n", f->labels);
    if (f->res.fails.n)
      printf("      %s: %s\n", f->res.fails.v[0].what,
             f->res.fails.v[0].message);
    if (f->confirm_runs)
      printf("      confirmed: %d of %d runs fail%s; shrunk: %s (%d runs, %d "
             "per candidate)\n",
             f->confirm_fails, f->confirm_runs,
             f->confirm_fails && f->confirm_fails < f->confirm_runs ? " (flaky)"
                                                                    : "",
             f->shrunk ? "yes" : "no, it did not fail again", f->shrink_runs,
             f->per_candidate);
    printf("      replays: %d of %d fail%s%s; %s%s\n", f->replay_fails,
           f->replays,
           f->replay_fails && f->replay_fails < f->replays ? " (flaky)" : "",
           f->replay_nostart ? " (some did not start: see explore.json)" : "",
           f->scored ? "scored" : "not scored: ", f->scored ? "" : f->why);
    printf("      scenario: %s\n", f->file);
  }

  sum = summary_json(&x, fs, nf, secs);
  snprintf(path, sizeof(path), "%s/explore.json", o->out_dir);
  if (write_doc(sum, path) != 0) {
    fprintf(stderr, "natsmock-harness: %s: %s\n", path, strerror(errno));
    exit_code = 2;
  }
  cJSON_Delete(sum);

  {
    nm_report_t rep = {0};
    nm_result_t *v = calloc((size_t)nf + 1, sizeof(*v));
    size_t n = 0;
    for (int i = 0; i < nf; i++)
      if (fs[i].sc)
        v[n++] = fs[i].res;
    rep.v = v;
    rep.n = n;
    rep.duration_us = (uint64_t)(secs * 1e6);
    rep.driver_cmd = o->driver;
    rep.server_cmd = NULL;
    if (o->junit && nm_report_junit(&rep, o->junit) != 0)
      exit_code = 2;
    if (o->json && nm_report_json(&rep, o->json) != 0)
      exit_code = 2;
    if (o->html && nm_report_html(&rep, o->html) != 0)
      exit_code = 2;
    free(v);
  }
  if (!exit_code)
    exit_code = nscored || x.nerror ? 1 : 0;
  for (int i = 0; i < nf; i++) {
    nm_result_free(&fs[i].res);
    if (fs[i].sc)
      nm_scenario_free(fs[i].sc);
  }
  free(fs);
  free(x.runs);
  pthread_mutex_destroy(&x.mu);
  return exit_code;
}
