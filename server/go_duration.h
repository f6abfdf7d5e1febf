/* Go's texts that nats-server's answers carry. time.ParseDuration and
 * Duration.String, as nats-server reads and prints durations ("1m30s",
 * "500ms", "1h"): the same accepted forms, the same limits (about 292
 * years), the same error messages. And an errno as Go's os errors spell
 * it. */
#ifndef NM_GO_DURATION_H
#define NM_GO_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Returns 0 with nanoseconds in *ns, or -1 with Go's message in err
 * ("time: invalid duration \"nan\"", "time: unknown unit \"e\" in duration
 * \"1e3s\"", "time: missing unit in duration \"5\""). */
int nm_go_parse_duration(const char *s, int64_t *ns, char *err, size_t errlen);
/* Go's Duration.String ("1m0s", "1.5s", "500ms", "0s") into out. */
const char *nm_go_duration_string(int64_t ns, char *out, size_t n);
/* strerror(e) as Go spells it ("no such file or directory") into buf. */
const char *nm_go_strerror(int e, char *buf, size_t n);

#endif
