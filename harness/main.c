/* natsmock-harness: runs scenario files against a client driver (see
 * scenarios/README.md section 7 for the options). Exit status: 0 when every
 * run passed or was expected, 1 otherwise, 2 for a usage or set-up error. */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "nm_baseline.h"
#include "nm_explore.h"
#include "nm_progress.h"
#include "nm_report.h"
#include "nm_runner.h"
#include "nm_scenario.h"
#include "nm_scenario_files.h"
#include "nm_stdfds.h"
#include "nm_version.h"

/* Bounds on what the command line can ask for. */
#define NM_MAX_PATTERNS 64
#define NM_MAX_JOBS 64
#define NM_MAX_REPEAT 100000
#define NM_MAX_SHARDS 1000

typedef struct {
  nm_scenario_files_t files;
  const char *names[NM_MAX_PATTERNS];
  int nnames;
  const char *tags[NM_MAX_PATTERNS];
  int ntags;
  char name_hit[NM_MAX_PATTERNS], tag_hit[NM_MAX_PATTERNS];
  cJSON *loaded; /* every scenario name loaded: {"name": true} */
  const char *driver, *server, *junit, *json, *trace, *html, *xfail;
  const char *record; /* --record DIR: every run's whole timeline */
  int proxy; /* --proxy: faults through natsmock's proxy (with --server) */
  int list, repeat, jobs, verbose;
  int shard_i, shard_n; /* --shard I/N: 1 <= I <= N; 0/0 when not given */
  const char *shard;    /* the --shard text, for the reports */
  uint64_t seed;
  double time_scale;
} cli_t;

typedef struct {
  const cli_t *cli;
  nm_run_opts_t ro;
  nm_result_t *res;
  nm_scenario_t **sc; /* per job */
  int *rep;           /* per job */
  size_t njobs, next;
  cJSON *xfail;
  nm_progress_t *progress;
  pthread_mutex_t mu;
} pool_t;

/* Realtime in µs since the epoch (report timestamps). */
static uint64_t wall_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: natsmock-harness [options] [PATH...]\n"
          "  PATH                     scenario files or folders (*.json, "
          "recursive)\n"
          "  --driver CMD             driver command line (default: "
          "natsmock-driver next to the harness)\n"
          "  --name GLOB              only scenarios whose name matches "
          "(repeatable)\n"
          "  --tag T                  only scenarios with tag T "
          "(repeatable)\n"
          "  --list                   list the selected scenarios and exit\n"
          "  --repeat N               run each scenario N times\n"
          "  --seed S                 the mock's seed\n"
          "  -j N                     N scenarios in parallel\n"
          "  --expected-failures FILE baseline: "
          "[{\"scenario\":NAME,\"broke\":[\"step N\"|\"invariant "
          "I\"],\"cause\":TEXT}]\n"
          "  --server CMD             run fault-free scenarios against a "
          "real server (e.g. nats-server)\n"
          "  --proxy                  with --server: run fault scenarios too, "
          "through\n"
          "                           natsmock's proxy in front of it "
          "(docs/proxy.md)\n"
          "  --junit FILE, --json FILE, --html FILE, --trace DIR   reports\n"
          "  --record DIR             every run's whole timeline (client "
          "events, frames,\n"
          "                           opens and closes), and with --html "
          "every run drawn\n"
          "  --time-scale F           multiply latency bounds and tolerances "
          "(also the 10 s\n"
          "                           limit for a driver's hello) by F >= 1\n"
          "                           (default: $NM_HARNESS_TIME_SCALE, else "
          "1)\n"
          "  --shard I/N              only the I-th of N slices of the "
          "selection (1 <= I <= N):\n"
          "                           the k-th selected scenario (sorted by "
          "path, from 0) is in\n"
          "                           slice k %% N + 1, and an unloadable "
          "file by its place among\n"
          "                           the files, so N jobs cover the suite "
          "exactly once\n"
          "  -v                       print failure evidence\n"
          "  --version                print the version and exit\n"
          "  --explore N ...          explore schedules (--explore --help)\n"
          "  --help                   this text\n");
}

/* Is the first word of a driver or server command an executable (a path,
 * or a name on PATH)? Catches a mistyped --driver before every run fails. */
static int command_exists(const char *cmd) {
  char word[PATH_MAX], path[PATH_MAX * 2];
  const char *env = getenv("PATH");
  size_t n = strcspn(cmd, " \t");
  if (n == 0 || n >= sizeof(word))
    return 0;
  memcpy(word, cmd, n);
  word[n] = '\0';
  if (strchr(word, '/'))
    return access(word, X_OK) == 0;
  while (env && *env) {
    size_t len = strcspn(env, ":");
    snprintf(path, sizeof(path), "%.*s/%s", (int)len, env, word);
    if (access(path, X_OK) == 0)
      return 1;
    env += len + (env[len] == ':');
  }
  return 0;
}

/* Why a scenario cannot run against a real server, or NULL. Through the
 * proxy (--proxy) fault steps and awaited server frames work: the proxy
 * hosts the fault engine and reports both directions. */
static const char *real_skip(const nm_scenario_t *sc, int proxy) {
  if (proxy)
    return sc->real_server ? NULL : "marked real_server: false";
  if (sc->has_fault)
    return "uses fault steps (needs the mock)";
  if (sc->server_await)
    return "awaits server frames (needs the mock's view)";
  if (!sc->real_server)
    return "marked real_server: false";
  return NULL;
}

/* Remembers which --name / --tag patterns matched, and every scenario name
 * loaded (the baseline must name loaded scenarios). */
static void note_names(cli_t *c, const nm_scenario_t *sc) {
  for (int i = 0; i < c->nnames; i++)
    if (fnmatch(c->names[i], sc->name, 0) == 0)
      c->name_hit[i] = 1;
  for (int i = 0; i < c->ntags; i++)
    if (nm_scenario_has_tag(sc, c->tags[i]))
      c->tag_hit[i] = 1;
  if (!c->loaded)
    c->loaded = cJSON_CreateObject();
  if (c->loaded && !cJSON_GetObjectItemCaseSensitive(c->loaded, sc->name))
    cJSON_AddTrueToObject(c->loaded, sc->name);
}

/* A --name or --tag that matches no scenario is a typo that would run
 * nothing (and pass): an error. */
static int unmatched_selection(const cli_t *c) {
  int bad = 0;
  for (int i = 0; i < c->nnames; i++)
    if (!c->name_hit[i]) {
      fprintf(stderr, "natsmock-harness: --name %s: matches no scenario\n",
              c->names[i]);
      bad = 1;
    }
  for (int i = 0; i < c->ntags; i++)
    if (!c->tag_hit[i]) {
      fprintf(stderr, "natsmock-harness: --tag %s: no scenario has it\n",
              c->tags[i]);
      bad = 1;
    }
  return bad ? -1 : 0;
}

/* Loads --expected-failures; an entry naming no loaded scenario is an
 * error (a renamed scenario would otherwise lose its baseline silently). */
static int check_baseline(const cli_t *c, pool_t *p) {
  char err[1024];
  const cJSON *e;
  int i = 0, bad = 0;
  p->xfail = nm_baseline_load(c->xfail, err, sizeof(err));
  if (!p->xfail) {
    fprintf(stderr, "natsmock-harness: %s\n", err);
    return -1;
  }
  cJSON_ArrayForEach(e, p->xfail) {
    const char *n =
        cJSON_GetObjectItemCaseSensitive(e, "scenario")->valuestring;
    if (!cJSON_GetObjectItemCaseSensitive(c->loaded, n)) {
      fprintf(stderr,
              "natsmock-harness: %s: [%d].scenario: \"%s\" names no "
              "scenario among the files given\n",
              c->xfail, i, n);
      bad = 1;
    }
    i++;
  }
  return bad ? -1 : 0;
}

static void *worker(void *arg) {
  pool_t *p = arg;
  for (;;) {
    size_t j;
    nm_result_t *res;
    pthread_mutex_lock(&p->mu);
    j = p->next < p->njobs ? p->next++ : p->njobs;
    pthread_mutex_unlock(&p->mu);
    if (j >= p->njobs)
      return NULL;
    res = &p->res[j];
    nm_result_init(res);
    {
      char label[128];
      snprintf(label, sizeof(label), p->cli->repeat > 1 ? "%s #%d" : "%s",
               p->sc[j]->name, p->rep[j]);
      nm_progress_start(p->progress, j, label);
    }
    res->wall_start_us = wall_now_us();
    if (p->cli->server && real_skip(p->sc[j], p->cli->proxy)) {
      res->sc = p->sc[j];
      res->rep = p->rep[j];
      res->status = NM_ST_SKIP;
      res->reason = strdup(real_skip(p->sc[j], p->cli->proxy));
    } else {
      nm_run_scenario(p->sc[j], &p->ro, p->rep[j], res);
    }
    res->repeated = p->cli->repeat > 1;
    nm_baseline_apply(p->xfail, res);
    if (p->cli->record && res->tl && nm_report_record(res, p->cli->record) != 0)
      fprintf(stderr, "natsmock-harness: writing records to %s: %s\n",
              p->cli->record, strerror(errno));
    if (p->cli->trace && res->tl && nm_report_trace(res, p->cli->trace) != 0)
      fprintf(stderr, "natsmock-harness: writing traces to %s: %s\n",
              p->cli->trace, strerror(errno));
    /* Keep timelines only for what the HTML report draws. */
    if (res->tl &&
        (!p->cli->html || (res->status != NM_ST_FAIL && !p->cli->record))) {
      nm_tl_free(res->tl);
      free(res->tl);
      res->tl = NULL;
    }
    nm_progress_done(p->progress, j, res); /* counts and prints it */
  }
}

/* Whether the k-th item (from 0) belongs to this --shard. */
static int in_shard(const cli_t *c, size_t k) {
  return c->shard_n == 0 || (int)(k % (size_t)c->shard_n) == c->shard_i - 1;
}

static int parse_args(cli_t *c, int argc, char **argv) {
  static const struct option opts[] = {
      {"driver", required_argument, 0, 'd'},
      {"name", required_argument, 0, 'n'},
      {"tag", required_argument, 0, 't'},
      {"list", no_argument, 0, 'l'},
      {"repeat", required_argument, 0, 'r'},
      {"seed", required_argument, 0, 's'},
      {"expected-failures", required_argument, 0, 'x'},
      {"server", required_argument, 0, 'S'},
      {"proxy", no_argument, 0, 'P'},
      {"junit", required_argument, 0, 'J'},
      {"json", required_argument, 0, 'O'},
      {"trace", required_argument, 0, 'T'},
      {"html", required_argument, 0, 'H'},
      {"record", required_argument, 0, 'R'},
      {"time-scale", required_argument, 0, 'X'},
      {"shard", required_argument, 0, 'K'},
      {"version", no_argument, 0, 'V'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  int ch;
  const char *env = getenv("NM_HARNESS_TIME_SCALE");
  c->repeat = 1;
  c->jobs = 1;
  /* Slow builds (sanitizers) set this so latency bounds keep their sense. */
  c->time_scale = env ? strtod(env, NULL) : 1.0;
  if (c->time_scale < 1.0 || c->time_scale > 1000.0)
    c->time_scale = 1.0;
  while ((ch = getopt_long(argc, argv, "j:vh", opts, NULL)) != -1) {
    char *end = NULL;
    switch (ch) {
    case 'd':
      c->driver = optarg;
      break;
    case 'n':
      if (c->nnames >= NM_MAX_PATTERNS)
        return -1;
      c->names[c->nnames++] = optarg;
      break;
    case 't':
      if (c->ntags >= NM_MAX_PATTERNS)
        return -1;
      c->tags[c->ntags++] = optarg;
      break;
    case 'l':
      c->list = 1;
      break;
    case 'r':
      c->repeat = (int)strtol(optarg, &end, 10);
      if (*end || c->repeat < 1 || c->repeat > NM_MAX_REPEAT)
        return -1;
      break;
    case 's':
      c->seed = strtoull(optarg, &end, 10);
      if (*end)
        return -1;
      break;
    case 'j':
      c->jobs = (int)strtol(optarg, &end, 10);
      if (*end || c->jobs < 1 || c->jobs > NM_MAX_JOBS)
        return -1;
      break;
    case 'x':
      c->xfail = optarg;
      break;
    case 'S':
      c->server = optarg;
      break;
    case 'P':
      c->proxy = 1;
      break;
    case 'J':
      c->junit = optarg;
      break;
    case 'O':
      c->json = optarg;
      break;
    case 'T':
      c->trace = optarg;
      break;
    case 'H':
      c->html = optarg;
      break;
    case 'R':
      c->record = optarg;
      break;
    case 'X':
      c->time_scale = strtod(optarg, &end);
      if (*end || c->time_scale < 1.0 || c->time_scale > 1000.0)
        return -1;
      break;
    case 'K': {
      char *slash;
      c->shard = optarg;
      c->shard_i = (int)strtol(optarg, &slash, 10);
      if (*slash != '/' || slash == optarg)
        goto bad_shard;
      c->shard_n = (int)strtol(slash + 1, &end, 10);
      if (*end || end == slash + 1 || c->shard_n < 1 ||
          c->shard_n > NM_MAX_SHARDS || c->shard_i < 1 ||
          c->shard_i > c->shard_n)
        goto bad_shard;
      break;
    bad_shard:
      fprintf(stderr,
              "natsmock-harness: --shard %s: expected I/N with 1 <= I <= N "
              "<= %d\n",
              optarg, NM_MAX_SHARDS);
      return -2;
    }
    case 'V':
      printf("natsmock-harness %s\n", NM_VERSION);
      exit(0);
    case 'v':
      c->verbose = 1;
      break;
    case 'h':
      usage(stdout);
      exit(0);
    default:
      return -1;
    }
  }
  for (int i = optind; i < argc; i++)
    if (nm_scenario_files_add(&c->files, argv[i]) != 0)
      return -2;
  return 0;
}

int main(int argc, char **argv) {
  static cli_t cli;
  pool_t pool;
  nm_scenario_t **all = NULL;
  nm_result_t *errors = NULL;
  size_t nall = 0, nerr = 0, nsel = 0, nsel_seen = 0;
  char *driver = NULL;
  pthread_t th[NM_MAX_JOBS];
  nm_report_t rep = {0};
  uint64_t t0;
  int rc, exit_code = 0;

  /* Before any loop or socket exists: started with 0-2 closed, a run's
   * loop or a driver pipe would take them (libuv aborts closing fd 0-2). */
  nm_hold_std_fds();
  if (nm_explore_wanted(argc, argv))
    return nm_explore_main(argc, argv); /* harness/explore_cli.c */
  signal(SIGPIPE, SIG_IGN);
  memset(&pool, 0, sizeof(pool));
  pthread_mutex_init(&pool.mu, NULL);
  rc = parse_args(&cli, argc, argv);
  if (rc != 0) {
    if (rc == -1)
      usage(stderr);
    exit_code = 2;
    goto out;
  }
  if (cli.files.n == 0) {
    fprintf(stderr, "natsmock-harness: no scenario files given\n");
    usage(stderr);
    exit_code = 2;
    goto out;
  }
  all = calloc(cli.files.n, sizeof(*all));
  errors = calloc(cli.files.n * 2, sizeof(*errors));
  if (!all || !errors) {
    exit_code = 2;
    goto out;
  }
  for (size_t i = 0; i < cli.files.n; i++) {
    char err[1024];
    nm_scenario_t *sc;
    if (nm_scenario_load(cli.files.v[i], &sc, err, sizeof(err)) != 0) {
      if (!in_shard(&cli, i))
        continue; /* another shard reports it */
      nm_result_init(&errors[nerr]);
      errors[nerr].status = NM_ST_ERROR;
      errors[nerr].reason = strdup(err);
      errors[nerr].file = strdup(cli.files.v[i]);
      errors[nerr].wall_start_us = wall_now_us();
      nerr++;
      fprintf(stderr, "natsmock-harness: %s\n", err);
      continue;
    }
    for (size_t k = 0; k < nall; k++)
      if (strcmp(all[k]->name, sc->name) == 0) {
        char msg[1024];
        snprintf(msg, sizeof(msg), "%s: name \"%s\" is also used by %s",
                 sc->path, sc->name, all[k]->path);
        if (!in_shard(&cli, i))
          break; /* another shard reports it */
        fprintf(stderr, "natsmock-harness: %s\n", msg);
        nm_result_init(&errors[nerr]);
        errors[nerr].status = NM_ST_ERROR;
        errors[nerr].reason = strdup(msg);
        errors[nerr].file = strdup(cli.files.v[i]);
        errors[nerr].wall_start_us = wall_now_us();
        nerr++;
        break;
      }
    note_names(&cli, sc);
    if (nm_scenario_selected(sc, cli.names, cli.nnames, cli.tags, cli.ntags) &&
        in_shard(&cli, nsel_seen++))
      all[nall++] = sc;
    else
      nm_scenario_free(sc);
  }
  if (unmatched_selection(&cli) != 0) {
    exit_code = 2;
    goto out;
  }
  if (cli.list) {
    for (size_t i = 0; i < nall; i++) {
      const cJSON *t;
      printf("%-48s %s [", all[i]->name, all[i]->path);
      cJSON_ArrayForEach(t, all[i]->tags) {
        printf("%s%s", t == all[i]->tags->child ? "" : ",", t->valuestring);
      }
      printf("] %s\n", all[i]->summary);
    }
    exit_code = nerr ? 2 : 0;
    goto out;
  }
  if (!cli.driver) {
    driver = nm_default_driver();
    if (!driver) {
      fprintf(stderr, "natsmock-harness: natsmock-driver not found next to "
                      "the harness (../client/natsmock-driver); use "
                      "--driver CMD\n");
      exit_code = 2;
      goto out;
    }
    cli.driver = driver;
  }
  if (!command_exists(cli.driver) ||
      (cli.server && !command_exists(cli.server))) {
    fprintf(stderr, "natsmock-harness: not an executable: %s\n",
            !command_exists(cli.driver) ? cli.driver : cli.server);
    exit_code = 2;
    goto out;
  }
  if (cli.trace && mkdir(cli.trace, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "natsmock-harness: %s: %s\n", cli.trace, strerror(errno));
    exit_code = 2;
    goto out;
  }
  if (cli.record && mkdir(cli.record, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "natsmock-harness: %s: %s\n", cli.record, strerror(errno));
    exit_code = 2;
    goto out;
  }
  pool.cli = &cli;
  if (cli.xfail && check_baseline(&cli, &pool) != 0) {
    exit_code = 2;
    goto out;
  }
  pool.ro.driver_cmd = cli.driver;
  pool.ro.server_cmd = cli.server;
  pool.ro.proxy = cli.proxy;
  pool.ro.seed = cli.seed;
  pool.ro.keep_timeline = cli.trace || cli.html || cli.record;
  pool.ro.time_scale = cli.time_scale;
  nsel = nall * (size_t)cli.repeat;
  pool.njobs = nsel;
  pool.res = calloc(nsel + nerr + 1, sizeof(nm_result_t));
  pool.sc = calloc(nsel + 1, sizeof(*pool.sc));
  pool.rep = calloc(nsel + 1, sizeof(int));
  if (!pool.res || !pool.sc || !pool.rep) {
    exit_code = 2;
    goto out;
  }
  for (size_t i = 0, j = 0; i < nall; i++)
    for (int k = 1; k <= cli.repeat; k++, j++) {
      pool.sc[j] = all[i];
      pool.rep[j] = k;
    }
  t0 = uv_hrtime();
  rep.wall_start_us = wall_now_us();
  if (cli.jobs > (int)nsel)
    cli.jobs = nsel ? (int)nsel : 1;
  pool.progress = nm_progress_new(stdout, nsel, -1, cli.verbose);
  for (int i = 0; i < cli.jobs; i++)
    pthread_create(&th[i], NULL, worker, &pool);
  for (int i = 0; i < cli.jobs; i++)
    pthread_join(th[i], NULL);
  nm_progress_free(pool.progress);
  pool.progress = NULL;
  /* The error entries move into the report (and are freed with it). */
  for (size_t i = 0; i < nerr; i++)
    pool.res[nsel + i] = errors[i];

  rep.v = pool.res;
  rep.n = nsel + nerr;
  rep.duration_us = (uv_hrtime() - t0) / 1000;
  rep.driver_cmd = cli.driver;
  rep.shard = cli.shard;
  rep.server_cmd = cli.server;
  for (size_t i = 0; i < rep.n; i++)
    if (rep.v[i].status == NM_ST_FAIL || rep.v[i].status == NM_ST_ERROR)
      exit_code = 1;
  for (size_t i = 0; i < nerr; i++)
    printf("ERROR %s\n", errors[i].reason);
  nm_report_totals(stdout, &rep);
  if (cli.junit && nm_report_junit(&rep, cli.junit) != 0) {
    fprintf(stderr, "natsmock-harness: %s: %s\n", cli.junit, strerror(errno));
    exit_code = 2;
  }
  if (cli.json && nm_report_json(&rep, cli.json) != 0) {
    fprintf(stderr, "natsmock-harness: %s: %s\n", cli.json, strerror(errno));
    exit_code = 2;
  }
  if (cli.html && nm_report_html(&rep, cli.html) != 0) {
    fprintf(stderr, "natsmock-harness: %s: %s\n", cli.html, strerror(errno));
    exit_code = 2;
  }
  if (nsel == 0 && nerr > 0)
    exit_code = 2;
  for (size_t i = 0; i < rep.n; i++)
    nm_result_free(&rep.v[i]);
  nerr = 0; /* now owned by the report, freed above */

out:
  for (size_t i = 0; errors && i < nerr; i++)
    nm_result_free(&errors[i]);
  for (size_t i = 0; all && i < nall; i++)
    nm_scenario_free(all[i]);
  nm_scenario_files_free(&cli.files);
  free(all);
  free(errors);
  free(pool.res);
  free(pool.sc);
  free(pool.rep);
  cJSON_Delete(pool.xfail);
  cJSON_Delete(cli.loaded);
  free(driver);
  pthread_mutex_destroy(&pool.mu);
  return exit_code;
}
