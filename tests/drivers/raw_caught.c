/* raw_caught: every invariant catches the client that breaks it. Each
 * scenario in tests/drivers/misbehave/ connects natsmock-driver-raw with one
 * "misbehave" switch and carries the tag "caught-by:INVARIANT". The harness
 * must fail it on that invariant alone; the same scenario with the switch
 * removed (the control) must pass, so the failure is the switch's doing.
 *
 *   raw_caught HARNESS RAW_DRIVER SCENARIO_DIR */
#include <check.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_SCENARIOS 64
/* A scenario or report file read whole. */
#define MAX_FILE (4 * 1024 * 1024)

static const char *harness, *driver, *dir;
static char *files[MAX_SCENARIOS];
static int nfiles;

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  char *buf;
  size_t n;
  if (f == NULL)
    return NULL;
  buf = malloc(MAX_FILE + 1);
  n = buf != NULL ? fread(buf, 1, MAX_FILE, f) : 0;
  fclose(f);
  if (buf != NULL)
    buf[n] = '\0';
  return buf;
}

static cJSON *load_json(const char *path) {
  char *text = slurp(path);
  cJSON *j = text != NULL ? cJSON_Parse(text) : NULL;
  free(text);
  return j;
}

/* Runs the harness on one scenario file with a JSON report; returns its
 * exit status (-1 if it did not exit normally). */
static int run_harness(const char *scenario, const char *report) {
  pid_t pid = fork();
  int st;
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0)
      dup2(null, 1); /* the console lines; the JSON report has it all */
    execl(harness, harness, "--driver", driver, "--json", report, scenario,
          (char *)NULL);
    _exit(127);
  }
  ck_assert(pid > 0);
  ck_assert(waitpid(pid, &st, 0) == pid);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The one result of a report. */
static const cJSON *only_result(const cJSON *rep) {
  const cJSON *res = cJSON_GetObjectItemCaseSensitive(rep, "results");
  ck_assert_msg(cJSON_GetArraySize(res) == 1, "report: %d results",
                cJSON_GetArraySize(res));
  return cJSON_GetArrayItem(res, 0);
}

static const char *caught_by(const cJSON *sc) {
  const cJSON *t;
  cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(sc, "tags")) {
    if (cJSON_IsString(t) && strncmp(t->valuestring, "caught-by:", 10) == 0)
      return t->valuestring + 10;
  }
  return NULL;
}

/* Removes every "misbehave" field from the steps. */
static void strip_switches(cJSON *sc) {
  cJSON *s;
  cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(sc, "steps"))
      cJSON_DeleteItemFromObjectCaseSensitive(s, "misbehave");
}

START_TEST(test_caught) {
  char path[1024], tmp[] = "/tmp/nm_raw_caught_XXXXXX", report[1100],
                   control[1100];
  cJSON *sc, *rep;
  const cJSON *res, *f;
  const char *inv, *status;
  char want[128], *text;
  FILE *out;
  int code, n = 0;

  snprintf(path, sizeof(path), "%s/%s", dir, files[_i]);
  sc = load_json(path);
  ck_assert_msg(sc != NULL, "cannot read %s", path);
  inv = caught_by(sc);
  ck_assert_msg(inv != NULL, "%s: no caught-by: tag", path);
  snprintf(want, sizeof(want), "invariant %s", inv);
  ck_assert(mkdtemp(tmp) != NULL);

  /* With the switch: FAIL, and only on that invariant. */
  snprintf(report, sizeof(report), "%s/with.json", tmp);
  code = run_harness(path, report);
  ck_assert_msg(code == 1, "%s with the switch: harness exit %d, want 1",
                files[_i], code);
  rep = load_json(report);
  ck_assert_msg(rep != NULL, "no report %s", report);
  res = only_result(rep);
  status =
      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(res, "status"));
  ck_assert_msg(status != NULL && strcmp(status, "FAIL") == 0, "%s: status %s",
                files[_i], status ? status : "?");
  cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(res, "failures")) {
    const char *what =
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "what"));
    ck_assert_msg(what != NULL && strcmp(what, want) == 0,
                  "%s: failed on \"%s\", want only \"%s\"", files[_i],
                  what ? what : "?", want);
    n++;
  }
  ck_assert_msg(n > 0, "%s: no failure listed", files[_i]);
  cJSON_Delete(rep);

  /* The control, without the switch: PASS. */
  strip_switches(sc);
  snprintf(control, sizeof(control), "%s/%s", tmp, files[_i]);
  text = cJSON_Print(sc);
  out = fopen(control, "w");
  ck_assert(out != NULL && text != NULL);
  fputs(text, out);
  fclose(out);
  cJSON_free(text);
  snprintf(report, sizeof(report), "%s/without.json", tmp);
  code = run_harness(control, report);
  rep = load_json(report);
  ck_assert_msg(rep != NULL, "no report %s", report);
  res = only_result(rep);
  status =
      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(res, "status"));
  ck_assert_msg(code == 0 && status != NULL && strcmp(status, "PASS") == 0,
                "%s without the switch: exit %d, status %s", files[_i], code,
                status ? status : "?");
  cJSON_Delete(rep);
  cJSON_Delete(sc);

  unlink(control);
  unlink(report);
  snprintf(report, sizeof(report), "%s/with.json", tmp);
  unlink(report);
  rmdir(tmp);
}
END_TEST

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_scenarios(void) {
  DIR *d = opendir(dir);
  struct dirent *e;
  if (d == NULL)
    return;
  while ((e = readdir(d)) != NULL && nfiles < MAX_SCENARIOS) {
    size_t n = strlen(e->d_name);
    if (n > 5 && strcmp(e->d_name + n - 5, ".json") == 0)
      files[nfiles++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(files, (size_t)nfiles, sizeof(files[0]), by_name);
}

int main(int argc, char **argv) {
  SRunner *sr;
  Suite *s;
  TCase *tc;
  int failed, i;

  if (argc != 4) {
    fprintf(stderr, "usage: raw_caught HARNESS RAW_DRIVER SCENARIO_DIR\n");
    return 2;
  }
  harness = argv[1];
  driver = argv[2];
  dir = argv[3];
  list_scenarios();
  if (nfiles == 0) {
    fprintf(stderr, "raw_caught: no scenarios in %s\n", dir);
    return 1;
  }
  s = suite_create("raw_caught");
  tc = tcase_create("caught");
  tcase_set_timeout(tc, 60);
  tcase_add_loop_test(tc, test_caught, 0, nfiles);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_ENV);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  for (i = 0; i < nfiles; i++)
    free(files[i]);
  return failed == 0 ? 0 : 1;
}
