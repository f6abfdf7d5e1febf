/* The scenarios a natsmock-harness command line names: its PATH arguments
 * (a file as given; a directory walked for *.json, dot entries skipped,
 * sorted per directory, NM_SCENARIO_DIR_DEPTH levels deep), its --name /
 * --tag selection, and the default driver. Shared by ordinary runs
 * (main.c) and --explore; errors are printed as "natsmock-harness: ...". */
#ifndef NM_SCENARIO_FILES_H
#define NM_SCENARIO_FILES_H

#include <stddef.h>

#include "nm_scenario.h"

/* Files one command line may name, and directory levels walked. */
#define NM_SCENARIO_MAX_FILES 10000
#define NM_SCENARIO_DIR_DEPTH 16

typedef struct {
  char *v[NM_SCENARIO_MAX_FILES];
  size_t n;
} nm_scenario_files_t;

/* Adds `path` (a file, or every *.json under a directory). Returns 0, or -1
 * after printing why (it does not exist, too many files). */
int nm_scenario_files_add(nm_scenario_files_t *f, const char *path);
void nm_scenario_files_free(nm_scenario_files_t *f);

/* Whether sc is selected: its name matches one of the globs `names` (or
 * there are none) and it has one of `tags` (or there are none). */
int nm_scenario_selected(const nm_scenario_t *sc, const char *const *names,
                         int nnames, const char *const *tags, int ntags);

/* The natsmock-driver next to this program (BIN/../client/natsmock-driver),
 * as an absolute path to free, or NULL when there is none. */
char *nm_scenario_default_driver(void);

#endif
