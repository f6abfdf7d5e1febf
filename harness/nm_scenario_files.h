/* The scenario files a command line names: files as given, folders walked
 * for *.json (recursively, hidden entries skipped, each folder's files
 * sorted by path), and the reference driver next to the harness. Shared by
 * ordinary runs (main.c) and --explore (explore_cli.c). */
#ifndef NM_SCENARIO_FILES_H
#define NM_SCENARIO_FILES_H

#include <stddef.h>

#include "nm_scenario.h"

#define NM_SCENARIO_FILES_MAX 10000
#define NM_SCENARIO_DIR_DEPTH 16 /* deeper folders are not walked */

typedef struct {
  char *v[NM_SCENARIO_FILES_MAX];
  size_t n;
} nm_scenario_files_t;

/* Adds a file, or a folder's *.json files. Returns 0, or -1 after printing
 * a one-line error (a path that does not exist, too many files). */
int nm_scenario_files_add(nm_scenario_files_t *f, const char *path);
void nm_scenario_files_free(nm_scenario_files_t *f);

/* Whether sc is selected by --name / --tag: its name matches one of the
 * globs `names` (or there are none) and it has one of `tags` (or there are
 * none). */
int nm_scenario_selected(const nm_scenario_t *sc, const char *const *names,
                         int nnames, const char *const *tags, int ntags);

/* The reference client's driver (../client/natsmock-driver next to the
 * running harness), as a malloc'ed real path, or NULL. */
char *nm_default_driver(void);

#endif
