/* Lame duck mode (nats-server 2.9.10's lameDuckMode): no new clients, an
 * INFO with "ldm":true to every client that has had its first PONG, then
 * after the grace period the clients are closed one at a time, spread over
 * what is left of lame_duck_duration (at least 1 s, at most 1 s between two
 * closes, each pause drawn between half and all of that interval), and the
 * host is told to shut down. */
#include <stdlib.h>

#include "nm_server_int.h"

static void ldm_finish(nm_server_t *s) {
  void (*cb)(nm_server_t *, void *) = s->ldm_done;
  s->ldm_done = NULL;
  if (cb)
    cb(s, s->ldm_data);
}

static void ldm_close_next(uv_timer_t *t) {
  nm_server_t *s = t->data;
  if (s->stopping)
    return;
  while (s->ldm_next < s->ldm_n) {
    size_t i = s->ldm_next++;
    nm_conn_t *c = nm__server_find_conn(s, s->ldm_ids[i]);
    uint64_t si = s->ldm_si_ms, v;
    if (c)
      nm__conn_close(c, NM_CLOSE_FIN, "server shutdown");
    if (s->ldm_next == s->ldm_n)
      break;
    if (s->ldm_batch == 1 || i % s->ldm_batch == 0) {
      v = si ? nm__rand(s) % si : 0;
      if (v < si / 2)
        v = si / 2;
      uv_timer_start(&s->ldm_timer, ldm_close_next, v, 0);
      return;
    }
  }
  ldm_finish(s);
}

int nm_server_lame_duck(nm_server_t *s, void (*done)(nm_server_t *, void *),
                        void *data) {
  uint64_t dur;
  size_t n = 0;
  nm_conn_t *c;
  if (s->stopping || s->ldm || !s->started)
    return NM_ESTATE;
  s->ldm = 1;
  s->ldm_done = done;
  s->ldm_data = data;
  nm__server_close_listener(s);
  for (c = s->head; c; c = c->next)
    if (!(c->flags & NM_CF_CLOSING))
      n++;
  if (n == 0) {
    ldm_finish(s);
    return 0;
  }
  s->ldm_ids = calloc(n, sizeof(*s->ldm_ids));
  if (s->ldm_ids == NULL) {
    ldm_finish(s);
    return 0;
  }
  for (c = s->head; c; c = c->next)
    if (!(c->flags & NM_CF_CLOSING)) {
      s->ldm_ids[s->ldm_n++] = c->id;
      /* sendLDMToClients: only clients that can take an async INFO. */
      if (c->protocol >= 1 && (c->flags & NM_CF_PONGED))
        nm__conn_send_info_extra(c, "{\"ldm\":true}");
    }
  dur = s->opts.lame_duck_duration_ms > s->opts.lame_duck_grace_ms
            ? s->opts.lame_duck_duration_ms - s->opts.lame_duck_grace_ms
            : 0;
  if (dur == 0)
    dur = 1000;
  s->ldm_si_ms = dur / s->ldm_n;
  s->ldm_batch = 1;
  if (s->ldm_si_ms < 1) {
    s->ldm_si_ms = 1;
    s->ldm_batch = s->ldm_n / dur;
  } else if (s->ldm_si_ms > 1000) {
    s->ldm_si_ms = 1000;
  }
  uv_timer_start(&s->ldm_timer, ldm_close_next, s->opts.lame_duck_grace_ms, 0);
  return 0;
}

void nm__ldm_free(nm_server_t *s) {
  free(s->ldm_ids);
  s->ldm_ids = NULL;
}
