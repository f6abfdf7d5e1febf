#include "nm_scenario_files.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_file(nm_scenario_files_t *f, const char *p) {
  if (f->n >= NM_SCENARIO_FILES_MAX) {
    fprintf(stderr, "natsmock-harness: more than %d files\n",
            NM_SCENARIO_FILES_MAX);
    return -1;
  }
  if (!(f->v[f->n] = strdup(p))) {
    fprintf(stderr, "natsmock-harness: out of memory\n");
    return -1;
  }
  f->n++;
  return 0;
}

static int walk(nm_scenario_files_t *f, const char *dir, int depth) {
  DIR *d;
  struct dirent *e;
  char path[PATH_MAX];
  size_t start = f->n;
  int rc = 0;
  if (depth > NM_SCENARIO_DIR_DEPTH)
    return 0;
  if (!(d = opendir(dir))) {
    fprintf(stderr, "natsmock-harness: %s: %s\n", dir, strerror(errno));
    return -1;
  }
  while (rc == 0 && (e = readdir(d)) != NULL) {
    struct stat st;
    size_t n = strlen(e->d_name);
    if (e->d_name[0] == '.')
      continue;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    if (stat(path, &st) != 0)
      continue;
    if (S_ISDIR(st.st_mode))
      rc = walk(f, path, depth + 1);
    else if (n > 5 && strcmp(e->d_name + n - 5, ".json") == 0)
      rc = add_file(f, path);
  }
  closedir(d);
  if (rc == 0)
    qsort(f->v + start, f->n - start, sizeof(char *), cmp_str);
  return rc;
}

int nm_scenario_files_add(nm_scenario_files_t *f, const char *p) {
  struct stat st;
  char buf[PATH_MAX];
  size_t n = strlen(p);
  if (stat(p, &st) != 0) {
    fprintf(stderr, "natsmock-harness: %s: %s\n", p, strerror(errno));
    return -1;
  }
  if (!S_ISDIR(st.st_mode))
    return add_file(f, p);
  /* "dir/" and "dir" name the same files. */
  snprintf(buf, sizeof(buf), "%.*s",
           (int)(n > 1 && p[n - 1] == '/' ? n - 1 : n), p);
  return walk(f, buf, 0);
}

void nm_scenario_files_free(nm_scenario_files_t *f) {
  for (size_t i = 0; i < f->n; i++)
    free(f->v[i]);
  f->n = 0;
}

int nm_scenario_selected(const nm_scenario_t *sc, const char *const *names,
                         int nnames, const char *const *tags, int ntags) {
  int ok = nnames == 0;
  for (int i = 0; i < nnames && !ok; i++)
    ok = fnmatch(names[i], sc->name, 0) == 0;
  if (!ok)
    return 0;
  if (ntags == 0)
    return 1;
  for (int i = 0; i < ntags; i++)
    if (nm_scenario_has_tag(sc, tags[i]))
      return 1;
  return 0;
}

char *nm_default_driver(void) {
  char exe[PATH_MAX], path[PATH_MAX + 64];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0)
    return NULL;
  exe[n] = '\0';
  snprintf(path, sizeof(path), "%s/../client/natsmock-driver", dirname(exe));
  if (access(path, X_OK) != 0)
    return NULL;
  return realpath(path, NULL);
}
