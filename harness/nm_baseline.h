/* Expected-failures baselines (scenarios/README.md section 6): a JSON list
 * of {"scenario", "broke", "cause", ["intermittent"]}. An entry names the
 * scenario and what broke in it ("step N", "invariant NAME", "run",
 * "driver protocol"); a failing run is expected only when everything that
 * broke is listed. Every error names the file, the entry and the field. */
#ifndef NM_BASELINE_H
#define NM_BASELINE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "nm_result.h"

/* Largest baseline file read, and entries in one. */
#define NM_BASELINE_MAX_BYTES (1024 * 1024)
#define NM_BASELINE_MAX_ENTRIES 10000

/* Loads and checks `path`. Returns the list, or NULL with the reason in err
 * ("path: [3].broke: ..."). */
cJSON *nm_baseline_load(const char *path, char *err, size_t errlen);
/* The same from text. */
cJSON *nm_baseline_parse(const char *text, size_t len, const char *path,
                         char *err, size_t errlen);

/* The entry for scenario `name`, or NULL. */
const cJSON *nm_baseline_find(const cJSON *bl, const char *name);

/* Applies the baseline to a finished run: FAIL becomes XFAIL when every
 * failure is listed in the entry's "broke" (else it stays FAIL and the
 * reason names what is new); PASS becomes XPASS. */
void nm_baseline_apply(const cJSON *bl, nm_result_t *res);

/* Does failure `what` ("step 4 (await)", "invariant no_loss") fall under
 * baseline item `item` ("step 4", "invariant no_loss")? */
int nm_baseline_item_covers(const char *item, const char *what);

#endif
