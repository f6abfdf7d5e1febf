/* Closed connections for /connz?state=closed|all, as nats-server keeps
 * them: what /connz showed of the connection when it started closing, with
 * its subscriptions, and nats-server's word for why it closed. */
#include <stdlib.h>
#include <string.h>

#include "monitor_int.h"

/* natsmock's close reasons (conn.c, handlers.c) in nats-server's words
 * (ClosedState.String()). Reasons only the fault engine gives (a rule's
 * close, reset or refusal) keep natsmock's own text. */
static const struct {
  const char *mock, *nats;
} kReasons[] = {
    {"client closed", "Client Closed"},
    {"read error", "Read Error"},
    {"write error", "Write Error"},
    {"slow consumer", "Slow Consumer (Pending Bytes)"},
    {"slow consumer (write deadline)", "Slow Consumer (Write Deadline)"},
    {"server shutdown", "Server Shutdown"},
    {"stale connection", "Stale Connection"},
    {"authentication timeout", "Authentication Timeout"},
    {"Authorization Violation", "Authentication Failure"},
    {"Unknown Protocol Operation", "Protocol Violation"},
    {"parser error", "Protocol Violation"},
    {"protocol violation (arguments)", "Protocol Violation"},
    {"invalid CONNECT json", "Protocol Violation"},
    {"invalid CONNECT field", "Protocol Violation"},
    {"invalid INFO json", "Protocol Violation"},
    {"message headers not supported", "Protocol Violation"},
    {"client sent -ERR", "Parse Error"},
    {"invalid client protocol", "Bad Client Protocol Version"},
    {"no responders requires headers support",
     "No Responders Requires Headers"},
    {"maximum control line exceeded", "Maximum Control Line Exceeded"},
    {"maximum connections exceeded", "Maximum Connections Exceeded"},
    {"Maximum Payload Violation", "Maximum Message Payload Exceeded"},
};

static const char *nats_reason(const char *r) {
  if (r == NULL)
    return "Client Closed";
  for (size_t i = 0; i < sizeof(kReasons) / sizeof(kReasons[0]); i++)
    if (strcmp(kReasons[i].mock, r) == 0)
      return kReasons[i].nats;
  return r; /* a string literal of natsmock's (fault engine) */
}

uint64_t nm__mon_last_ns(const nm_conn_t *c) {
  /* The loop time of the last activity (ms), placed on the wall clock from
   * the accept (the same answer at every request). */
  uint64_t t = c->start_wall_ns;
  if (c->last_in_ms * 1000000 > c->start_hr)
    t += c->last_in_ms * 1000000 - c->start_hr;
  return t;
}

static char *dup_n(const char *p, size_t n, size_t *bytes) {
  char *d = malloc(n + 1);
  if (d == NULL)
    return NULL;
  memcpy(d, p, n);
  d[n] = 0;
  *bytes += n + 1;
  return d;
}

static char *dup_s(const char *s, size_t *bytes) {
  return s ? dup_n(s, strlen(s), bytes) : NULL;
}

static void cinfo_free(nm__mon_cinfo_t *ci) {
  free(ci->name);
  free(ci->lang);
  free(ci->version);
  free(ci->user);
  for (size_t i = 0; i < ci->nkept; i++) {
    free(ci->subs[i].subject);
    free(ci->subs[i].queue);
    free(ci->subs[i].sid);
  }
  free(ci->subs);
  memset(ci, 0, sizeof(*ci));
}

static void drop_oldest(nm_monitor_t *m) {
  nm__mon_cinfo_t *ci = &m->closed[m->closed_head];
  m->closed_bytes -= ci->bytes;
  cinfo_free(ci);
  m->closed_head = (m->closed_head + 1) % NM_MON_MAX_CLOSED;
  m->nclosed--;
}

void nm__mon_conn_closing(void *data, nm_conn_t *c, const char *reason) {
  nm_monitor_t *m = data;
  nm__mon_cinfo_t ci;
  size_t k = 0;
  memset(&ci, 0, sizeof(ci));
  if (m->closed == NULL) {
    m->closed = calloc(NM_MON_MAX_CLOSED, sizeof(*m->closed));
    if (m->closed == NULL)
      return;
  }
  ci.cid = c->id;
  memcpy(ci.ip, c->ip, sizeof(ci.ip));
  ci.port = c->port;
  ci.start_ns = c->start_wall_ns;
  ci.last_ns = nm__mon_last_ns(c);
  ci.stop_ns = nm__wall_ns();
  ci.reason = nats_reason(reason);
  ci.rtt_ns = c->rtt_ns;
  ci.pending = nm__conn_pending(c);
  ci.in_msgs = c->in_msgs;
  ci.out_msgs = c->out_msgs;
  ci.in_bytes = c->in_bytes;
  ci.out_bytes = c->out_bytes;
  ci.nsubs = c->nsubs;
  ci.bytes = sizeof(ci);
  ci.name = dup_s(c->client_name, &ci.bytes);
  ci.lang = dup_s(c->lang, &ci.bytes);
  ci.version = dup_s(c->version, &ci.bytes);
  ci.user = dup_s(c->user && c->user[0] ? c->user : c->token, &ci.bytes);
  if (c->nsubs > 0) {
    size_t want =
        c->nsubs < NM_MON_CLOSED_SUBS_MAX ? c->nsubs : NM_MON_CLOSED_SUBS_MAX;
    int full = 0;
    ci.subs = calloc(want, sizeof(*ci.subs));
    ci.bytes += want * sizeof(*ci.subs);
    for (size_t i = 0; ci.subs && i < c->nsid_buckets && k < want && !full; i++)
      for (const nm__sub_t *s = c->sids[i]; s != NULL && k < want;
           s = s->sid_next) {
        nm__mon_sub_t *d;
        /* One record alone stays within the ring's bytes: the
         * subscriptions past them are not kept. */
        if (ci.bytes + s->subject.n + s->queue.n + s->sid.n + 3 >
            NM_MON_CLOSED_BYTES) {
          full = 1;
          break;
        }
        d = &ci.subs[k++];
        d->subject = dup_n(s->subject.p, s->subject.n, &ci.bytes);
        d->queue = s->queue.n ? dup_n(s->queue.p, s->queue.n, &ci.bytes) : NULL;
        d->sid = dup_n(s->sid.p, s->sid.n, &ci.bytes);
        d->msgs = s->delivered;
        d->max = s->max;
      }
    ci.nkept = k;
  }
  while (m->nclosed > 0 && (m->nclosed == NM_MON_MAX_CLOSED ||
                            m->closed_bytes + ci.bytes > NM_MON_CLOSED_BYTES))
    drop_oldest(m);
  m->closed[(m->closed_head + m->nclosed) % NM_MON_MAX_CLOSED] = ci;
  m->nclosed++;
  m->closed_bytes += ci.bytes;
}

void nm__mon_closed_free(nm_monitor_t *m) {
  while (m->nclosed > 0)
    drop_oldest(m);
  free(m->closed);
  m->closed = NULL;
}
