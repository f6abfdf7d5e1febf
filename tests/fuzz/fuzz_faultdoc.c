/* libFuzzer target for fault documents (the JSON of docs/faults.md, as
 * given to --faults, $MOCK.fault and nm_server_fault): each input is applied
 * to a fresh server that was created but never started, which is then
 * stopped and freed. It asserts that nothing crashes or leaks (ASan, UBSan),
 * that an accepted document answers a JSON result and a refused one a
 * message. Rules stay installed until the server is freed, so their state
 * (held frames, timers) is torn down every run. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "natsmock.h"
#include "nm_buf.h"

/* Documents longer than this are not interesting and slow the search. */
#define FZ_DOC_MAX (64 * 1024)

static void stopped(nm_server_t *s, void *data) {
  (void)s;
  *(int *)data = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static uv_loop_t loop;
  static int loop_ready;
  nm_server_opts_t o;
  nm_server_t *srv = NULL;
  nm_buf_t result;
  char err[512], *doc;
  int r, done = 0;

  if (size > FZ_DOC_MAX)
    return 0;
  if (!loop_ready) {
    if (uv_loop_init(&loop) != 0)
      abort();
    loop_ready = 1;
  }
  doc = malloc(size + 1);
  if (doc == NULL)
    return 0;
  memcpy(doc, data, size);
  doc[size] = '\0';

  nm_server_opts_init(&o);
  if (nm_server_new(&loop, &o, &srv) != 0)
    abort();
  nm_buf_init(&result, 1 << 20);
  err[0] = '\0';
  r = nm_server_fault(srv, doc, &result, err, sizeof(err));
  if (r == 0 && result.len == 0)
    abort();
  if (r != 0 && err[0] == '\0')
    abort();
  nm_buf_free(&result);
  nm_server_stop(srv, stopped, &done);
  /* Bounded: closing handles takes a loop turn or two. */
  for (int i = 0; i < 1000 && !done; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  if (!done)
    abort();
  nm_server_free(srv);
  free(doc);
  return 0;
}
