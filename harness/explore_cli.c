/* natsmock-harness --explore N: the command line of the exploration
 * (docs/exploration.md). main.c hands the whole argument list over when
 * --explore is among it. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "nm_baseline.h"
#include "nm_explore_int.h"
#include "nm_scenario_files.h"

#define NM_XCLI_MAX_PATTERNS 64

typedef struct {
  nm_scenario_files_t files;
  const char *names[NM_XCLI_MAX_PATTERNS];
  int nnames;
  const char *tags[NM_XCLI_MAX_PATTERNS];
  int ntags;
  const char *xfail;
  int generate, seed_given, no_reference, list_classes;
  const char *perturb;
} xcli_t;

static void usage(FILE *f) {
  fprintf(f,
          "usage: natsmock-harness --explore N [options] [PATH...]\n"
          "  --explore N              N seeded runs, each a workload with "
          "random perturbations\n"
          "  --seed S                 the first run's seed (run i uses S+i); "
          "default: from the clock, printed\n"
          "  --perturb CLASS,...      classes to draw from: names, fair, "
          "faults, all, default; -NAME excludes\n"
          "                           (default: the fair default set; "
          "--list-perturbations)\n"
          "  --generate               add generated workloads (one in every "
          "W runs, W = workloads)\n"
          "  --generate-share P       with --generate: P percent of the runs "
          "(0 to 100) instead\n"
          "  --explore-out DIR        shrunk scenarios, traces and "
          "explore.json (default explore-out)\n"
          "  --explore-time S         start no run after S seconds\n"
          "  --explore-replays N      replays of each shrunk scenario "
          "(default 10)\n"
          "  --reference CMD          the yardstick driver (default: "
          "natsmock-driver); --no-reference\n"
          "  --driver CMD, --name GLOB, --tag T, -j N, --expected-failures "
          "FILE (skipped),\n"
          "  --junit FILE, --json FILE, --html FILE, --time-scale F, -v    "
          "as for ordinary runs\n");
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out) {
  char *end = NULL;
  unsigned long long v;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno || !*s || *end || v > max || s[0] == '-')
    return -1;
  *out = v;
  return 0;
}

static int bad(const char *flag, const char *val) {
  fprintf(stderr, "natsmock-harness: %s: bad value \"%s\"\n", flag, val);
  return -1;
}

static int parse_args(xcli_t *c, nm_explore_opts_t *o, int argc, char **argv) {
  enum {
    O_EXPLORE = 1000,
    O_SEED,
    O_PERTURB,
    O_OUT,
    O_GENERATE,
    O_GEN_SHARE,
    O_TIME,
    O_REPLAYS,
    O_REFERENCE,
    O_NOREF,
    O_DRIVER,
    O_NAME,
    O_TAG,
    O_XFAIL,
    O_JUNIT,
    O_JSON,
    O_HTML,
    O_SCALE,
    O_LIST,
  };
  static const struct option opts[] = {
      {"explore", required_argument, 0, O_EXPLORE},
      {"seed", required_argument, 0, O_SEED},
      {"perturb", required_argument, 0, O_PERTURB},
      {"explore-out", required_argument, 0, O_OUT},
      {"generate", no_argument, 0, O_GENERATE},
      {"generate-share", required_argument, 0, O_GEN_SHARE},
      {"explore-time", required_argument, 0, O_TIME},
      {"explore-replays", required_argument, 0, O_REPLAYS},
      {"reference", required_argument, 0, O_REFERENCE},
      {"no-reference", no_argument, 0, O_NOREF},
      {"driver", required_argument, 0, O_DRIVER},
      {"name", required_argument, 0, O_NAME},
      {"tag", required_argument, 0, O_TAG},
      {"expected-failures", required_argument, 0, O_XFAIL},
      {"junit", required_argument, 0, O_JUNIT},
      {"json", required_argument, 0, O_JSON},
      {"html", required_argument, 0, O_HTML},
      {"time-scale", required_argument, 0, O_SCALE},
      {"list-perturbations", no_argument, 0, O_LIST},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  const char *env = getenv("NM_HARNESS_TIME_SCALE");
  int ch;
  uint64_t v;
  o->replays = 10;
  o->gen_share = -1;
  o->jobs = 1;
  o->out_dir = "explore-out";
  o->time_scale = env ? strtod(env, NULL) : 1.0;
  if (o->time_scale < 1.0 || o->time_scale > 1000.0)
    o->time_scale = 1.0;
  optind = 1;
  while ((ch = getopt_long(argc, argv, "j:vh", opts, NULL)) != -1) {
    char *end = NULL;
    switch (ch) {
    case O_EXPLORE:
      if (parse_u64(optarg, NM_EXPLORE_MAX_RUNS, &o->runs) || !o->runs)
        return bad("--explore", optarg);
      break;
    case O_SEED:
      if (parse_u64(optarg, 0x7fffffffull, &o->seed))
        return bad("--seed (0 to 2147483647)", optarg);
      c->seed_given = 1;
      break;
    case O_PERTURB:
      c->perturb = optarg;
      break;
    case O_OUT:
      o->out_dir = optarg;
      break;
    case O_GENERATE:
      c->generate = 1;
      break;
    case O_GEN_SHARE:
      if (parse_u64(optarg, 100, &v))
        return bad("--generate-share (0 to 100)", optarg);
      o->gen_share = (int)v;
      break;
    case O_TIME:
      o->budget_s = strtod(optarg, &end);
      if (*end || o->budget_s <= 0 || o->budget_s > 7 * 86400)
        return bad("--explore-time", optarg);
      break;
    case O_REPLAYS:
      if (parse_u64(optarg, NM_EXPLORE_MAX_REPLAYS, &v) || !v)
        return bad("--explore-replays (1 to 100)", optarg);
      o->replays = (int)v;
      break;
    case O_REFERENCE:
      o->reference = optarg;
      break;
    case O_NOREF:
      c->no_reference = 1;
      break;
    case O_DRIVER:
      o->driver = optarg;
      break;
    case O_NAME:
      if (c->nnames >= NM_XCLI_MAX_PATTERNS)
        return bad("--name", "too many");
      c->names[c->nnames++] = optarg;
      break;
    case O_TAG:
      if (c->ntags >= NM_XCLI_MAX_PATTERNS)
        return bad("--tag", "too many");
      c->tags[c->ntags++] = optarg;
      break;
    case O_XFAIL:
      c->xfail = optarg;
      break;
    case O_JUNIT:
      o->junit = optarg;
      break;
    case O_JSON:
      o->json = optarg;
      break;
    case O_HTML:
      o->html = optarg;
      break;
    case O_SCALE:
      o->time_scale = strtod(optarg, &end);
      if (*end || o->time_scale < 1.0 || o->time_scale > 1000.0)
        return bad("--time-scale", optarg);
      break;
    case O_LIST:
      c->list_classes = 1;
      break;
    case 'j':
      if (parse_u64(optarg, 64, &v) || !v)
        return bad("-j", optarg);
      o->jobs = (int)v;
      break;
    case 'v':
      o->verbose = 1;
      break;
    case 'h':
      usage(stdout);
      exit(0);
    default:
      usage(stderr);
      return -1;
    }
  }
  for (int i = optind; i < argc; i++)
    if (nm_scenario_files_add(&c->files, argv[i]) != 0)
      return -1;
  return 0;
}

static void list_classes(void) {
  uint32_t d = nm_pert_default_mask();
  printf("%-12s %-6s %-8s %s\n", "class", "kind", "default", "what");
  for (int i = 0; i < NM_PC_COUNT; i++) {
    const nm_pert_info_t *p = nm_pert_info((nm_pert_class_t)i);
    printf("%-12s %-6s %-8s %s\n", p->name, p->fair ? "fair" : "fault",
           (d >> i) & 1 ? "yes" : "no", p->what);
  }
}

int nm_explore_wanted(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--"))
      return 0;
    if (!strcmp(argv[i], "--explore") || !strncmp(argv[i], "--explore=", 10) ||
        !strcmp(argv[i], "--list-perturbations"))
      return 1;
  }
  return 0;
}

int nm_explore_main(int argc, char **argv) {
  static xcli_t c;
  nm_explore_opts_t o;
  nm_scenario_t **sc = NULL;
  cJSON *xf = NULL;
  char *ref = NULL, err[1024];
  int nsc = 0, rc = 2, excluded = 0, load_errors = 0;

  signal(SIGPIPE, SIG_IGN);
  memset(&o, 0, sizeof(o));
  if (parse_args(&c, &o, argc, argv) != 0)
    goto out;
  if (c.list_classes) {
    list_classes();
    rc = 0;
    goto out;
  }
  o.mask = nm_pert_default_mask();
  if (c.perturb && nm_pert_parse_mask(c.perturb, &o.mask, err, sizeof(err))) {
    fprintf(stderr, "natsmock-harness: %s\n", err);
    goto out;
  }
  if (!o.runs) {
    fprintf(stderr, "natsmock-harness: --explore N is required\n");
    goto out;
  }
  if (o.gen_share >= 0 && !c.generate) {
    fprintf(stderr, "natsmock-harness: --generate-share needs --generate\n");
    goto out;
  }
  if (c.files.n == 0 && !c.generate) {
    fprintf(stderr,
            "natsmock-harness: --explore needs scenario PATHs, --generate, "
            "or both\n");
    goto out;
  }
  if (!c.seed_given)
    o.seed = ((uint64_t)time(NULL) ^ (uv_hrtime() >> 10)) & 0x3fffffffull;
  if (o.seed + o.runs > 0x7fffffffull)
    o.seed = o.seed % (0x7fffffffull - o.runs);
  if (c.xfail && !(xf = nm_baseline_load(c.xfail, err, sizeof(err)))) {
    fprintf(stderr, "natsmock-harness: %s\n", err);
    goto out;
  }
  if (mkdir(o.out_dir, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "natsmock-harness: %s: %s\n", o.out_dir, strerror(errno));
    goto out;
  }
  ref = nm_default_driver();
  if (!o.driver && !ref) {
    fprintf(stderr, "natsmock-harness: natsmock-driver not found next to the "
                    "harness; use --driver CMD\n");
    goto out;
  }
  if (!o.driver)
    o.driver = ref;
  if (!o.reference)
    o.reference = ref;
  if (c.no_reference)
    o.reference = NULL;
  o.driver_is_reference = o.reference && !strcmp(o.driver, o.reference);

  sc = calloc(c.files.n + 1, sizeof(*sc));
  o.wl = calloc(c.files.n + 1, sizeof(*o.wl));
  if (!sc || !o.wl)
    goto out;
  for (size_t i = 0; i < c.files.n; i++) {
    char lerr[1024];
    nm_scenario_t *s;
    if (nm_scenario_load(c.files.v[i], &s, lerr, sizeof(lerr)) != 0) {
      /* Reported and left out; the rest is explored (exit status 1). */
      fprintf(stderr, "natsmock-harness: %s (not explored)\n", lerr);
      load_errors++;
      continue;
    }
    if (!nm_scenario_selected(s, c.names, c.nnames, c.tags, c.ntags)) {
      nm_scenario_free(s);
      continue;
    }
    /* A scenario the client is known to fail fails in every run: its
     * failures are already known; explore the others. */
    if (xf && nm_baseline_find(xf, s->name)) {
      excluded++;
      nm_scenario_free(s);
      continue;
    }
    sc[nsc] = s;
    o.wl[nsc].name = s->name;
    o.wl[nsc].path = s->path;
    o.wl[nsc].root = s->root;
    nsc++;
  }
  o.nwl = nsc;
  if (c.generate) {
    o.wl[o.nwl].name = "";
    o.wl[o.nwl].path = "generated/gen.json";
    o.wl[o.nwl].root = NULL;
    o.nwl++;
  }
  if (!o.nwl) {
    fprintf(stderr, "natsmock-harness: no workload selected\n");
    goto out;
  }
  if (excluded)
    printf("explore: %d scenario(s) of the expected-failures list left out\n",
           excluded);
  rc = nm__explore_run(&o);
  if (load_errors) {
    fprintf(stderr,
            "natsmock-harness: %d scenario file(s) could not be loaded and "
            "were not explored\n",
            load_errors);
    if (rc == 0)
      rc = 1;
  }

out:
  for (int i = 0; sc && i < nsc; i++)
    nm_scenario_free(sc[i]);
  nm_scenario_files_free(&c.files);
  free(sc);
  free(o.wl);
  free(ref);
  cJSON_Delete(xf);
  return rc;
}
