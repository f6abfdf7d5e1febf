/* Scenario files (scenarios/README.md is the format): loading and checking.
 * A loaded scenario keeps its cJSON document; steps are read from it by the
 * runner. Every error names the file and the field. */
#ifndef NM_SCENARIO_H
#define NM_SCENARIO_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "nm_timeline.h"

/* Largest scenario file read. */
#define NM_SCENARIO_MAX_BYTES (4 * 1024 * 1024)
#define NM_SCENARIO_MAX_STEPS 10000
#define NM_SCENARIO_DEFAULT_TIMEOUT_MS 20000
#define NM_STEP_DEFAULT_WITHIN_MS 5000
/* Commands in one batch, and actions in one subscription's on_msg. */
#define NM_SCENARIO_MAX_BATCH 1000
#define NM_SCENARIO_MAX_ACTIONS 100

typedef enum {
  NM_STEP_CMD = 1,
  NM_STEP_AWAIT,
  NM_STEP_EXPECT_NONE,
  NM_STEP_FAULT,
  NM_STEP_SLEEP,
} nm_step_kind_t;

typedef struct nm_scenario_s {
  char *path;
  char *name;
  char *summary;
  cJSON *tags;     /* array of strings (in root) */
  cJSON *requires; /* array of strings (in root) */
  cJSON *server;   /* object (in root), or NULL */
  int nclients;
  char *clients[NM_TL_MAX_CLIENTS];
  uint64_t timeout_ms;
  int real_server;   /* may run with --server */
  int has_fault;     /* a fault step: never with --server */
  int server_await;  /* an await/expect_none on server frames */
  cJSON *steps;      /* array (in root) */
  cJSON *invariants; /* array (in root), or NULL */
  /* Per step, resolved at load: kind and client index. */
  nm_step_kind_t *kinds;
  int *step_client;
  cJSON *root;
} nm_scenario_t;

/* Loads and checks a file. Returns 0, or NM_EINVAL with "path: field:
 * problem" in err. */
int nm_scenario_load(const char *path, nm_scenario_t **out, char *err,
                     size_t errlen);
/* The same from text (path is used for the default name and messages). */
int nm_scenario_parse(const char *text, size_t len, const char *path,
                      nm_scenario_t **out, char *err, size_t errlen);
void nm_scenario_free(nm_scenario_t *sc);

int nm_scenario_has_tag(const nm_scenario_t *sc, const char *tag);
/* "line L, column C, at \"TEXT\"" for a cJSON parse error at `at` (where
 * cJSON_ParseWithLengthOpts stopped) in text. */
void nm_json_error_where(const char *text, size_t len, const char *at,
                         char *out, size_t outlen);
/* scenario_cmd.c: the ops a command step may name, the fields each takes,
 * and the features a scenario may require. */
int nm_scenario_op_known(const char *op);
int nm_scenario_op_field_known(const char *op, const char *field);
int nm_scenario_feature_known(const char *feature);
/* "subject, reply, ..." : the fields op takes, for messages. */
void nm_scenario_op_fields(const char *op, char *out, size_t n);
/* The option names accepted in "server". */
int nm_scenario_server_opt_known(const char *name);

#endif
