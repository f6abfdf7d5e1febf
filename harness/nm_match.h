/* Matching timeline entries against the match objects of awaits and
 * expect_none steps (scenarios/README.md 3.2). Pure functions. */
#ifndef NM_MATCH_H
#define NM_MATCH_H

#include <cjson/cJSON.h>

#include "nm_timeline.h"

/* Does entry i match `m`? `client` is the step's current client (used for
 * client events when m has no "client"). */
int nm__match(const nm_tl_t *tl, size_t i, const cJSON *m, int client);
/* Does a result line (ok/err) satisfy an "expect" value (NULL: "ok")? */
int nm__match_expect(const nm_tl_ev_t *result, const cJSON *expect);
/* Entries that come closest to m (same kind and client or verb), for the
 * evidence of a failed await: up to `max` indices, most recent last.
 * Returns the count. */
size_t nm__match_near(const nm_tl_t *tl, size_t from, const cJSON *m,
                      int client, size_t *out, size_t max);

#endif
