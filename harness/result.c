/* Failure lists and run results. */
#include "nm_result.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One failure message: long enough for a sentence with a few subjects. */
#define NM_FAIL_MSG_MAX 1024

void nm_fails_init(nm_fails_t *f) {
  memset(f, 0, sizeof(*f));
}

void nm_fails_free(nm_fails_t *f) {
  for (size_t i = 0; i < f->n; i++) {
    free(f->v[i].what);
    free(f->v[i].message);
    cJSON_Delete(f->v[i].evidence);
  }
  for (size_t i = 0; i < f->nkinds; i++)
    free(f->kinds[i]);
  nm_fails_init(f);
}

void nm_fails_add(nm_fails_t *f, const char *what, const nm_tl_t *tl,
                  const size_t *idx, size_t nidx, const char *fmt, ...) {
  char msg[NM_FAIL_MSG_MAX];
  nm_failure_t *x;
  va_list ap;
  size_t kept = 0, k;

  for (k = 0; k < f->nkinds && strcmp(f->kinds[k], what) != 0; k++)
    ;
  if (k == f->nkinds) {
    if (f->nkinds < NM_FAILS_KINDS_MAX)
      f->kinds[f->nkinds++] = strdup(what);
    else
      f->kinds_cut = 1;
  }
  if (f->n >= NM_FAILS_MAX) {
    f->more++;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  x = &f->v[f->n++];
  x->what = strdup(what);
  x->message = strdup(msg);
  x->evidence = cJSON_CreateArray();
  for (size_t i = 0; tl && i < nidx && kept < NM_EVIDENCE_MAX; i++) {
    if (idx[i] == NM_TL_NONE || idx[i] >= tl->n)
      continue;
    cJSON_AddItemToArray(x->evidence, nm_tl_ev_json(tl, idx[i]));
    kept++;
  }
}

size_t nm_fails_count(const nm_fails_t *f) {
  return f->n + f->more;
}

const char *nm_status_name(nm_status_t s) {
  static const char *const names[] = {"PASS",  "FAIL",  "SKIP",
                                      "XFAIL", "XPASS", "ERROR"};
  return (unsigned)s < 6 ? names[s] : "?";
}

void nm_result_init(nm_result_t *r) {
  memset(r, 0, sizeof(*r));
  nm_fails_init(&r->fails);
}

void nm_result_free(nm_result_t *r) {
  free(r->file);
  free(r->reason);
  free(r->inv_skip);
  free(r->not_evaluated);
  free(r->driver_stderr);
  free(r->driver_name);
  nm_fails_free(&r->fails);
  if (r->tl) {
    nm_tl_free(r->tl);
    free(r->tl);
  }
  nm_result_init(r);
}
