/* Options, server URLs and the server pool, and error names. No I/O. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nmc_internal.h"

void nmc_opts_init(nmc_opts_t *o) {
  memset(o, 0, sizeof(*o));
  o->timeout_ms = 2000;
  o->ping_interval_ms = 120000;
  o->max_pings_out = 2;
  o->max_reconnect = 60;
  o->reconnect_wait_ms = 2000;
  o->reconnect_jitter_ms = 100;
  o->reconnect_buf_size = 8 * 1024 * 1024;
  o->drain_timeout_ms = 30000;
  o->pending_msgs_limit = 65536;
  o->pending_bytes_limit = 64 * 1024 * 1024;
  o->pong_grace_ms = NMC_PONG_GRACE_MS;
}

static int copy_part(char *dst, size_t cap, const char *p, size_t n) {
  if (n >= cap)
    return NM_EINVAL;
  memcpy(dst, p, n);
  dst[n] = '\0';
  return 0;
}

/* Parses "[nats://][user:pass@|token@]host[:port]" into s. */
static int parse_url(nmc_server_t *s, const char *url) {
  const char *p = url, *at, *colon, *end;
  char port[16];
  long v;

  memset(s, 0, sizeof(*s));
  if (strlen(url) >= NMC_URL_MAX)
    return NM_EINVAL;
  if (strncmp(p, "nats://", 7) == 0)
    p += 7;
  else if (strstr(p, "://"))
    return NM_EINVAL; /* tls:// and ws:// are not supported */
  end = p + strlen(p);
  if (end > p && end[-1] == '/')
    end--;
  at = memchr(p, '@', (size_t)(end - p));
  if (at) {
    colon = memchr(p, ':', (size_t)(at - p));
    if (colon) {
      if (copy_part(s->user, sizeof(s->user), p, (size_t)(colon - p)) ||
          copy_part(s->pass, sizeof(s->pass), colon + 1,
                    (size_t)(at - colon - 1)))
        return NM_EINVAL;
    } else if (copy_part(s->token, sizeof(s->token), p, (size_t)(at - p))) {
      return NM_EINVAL;
    }
    p = at + 1;
  }
  colon = NULL;
  for (const char *q = p; q < end; q++)
    if (*q == ':')
      colon = q;
  if (p[0] == '[') { /* [ipv6]:port */
    const char *rb = memchr(p, ']', (size_t)(end - p));
    if (!rb || copy_part(s->host, sizeof(s->host), p + 1, (size_t)(rb - p - 1)))
      return NM_EINVAL;
    colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
  } else if (copy_part(s->host, sizeof(s->host), p,
                       (size_t)((colon ? colon : end) - p))) {
    return NM_EINVAL;
  }
  if (s->host[0] == '\0')
    return NM_EINVAL;
  s->port = 4222;
  if (colon) {
    char *e;
    if (copy_part(port, sizeof(port), colon + 1, (size_t)(end - colon - 1)))
      return NM_EINVAL;
    v = strtol(port, &e, 10);
    if (*e || v <= 0 || v > 65535)
      return NM_EINVAL;
    s->port = (int)v;
  }
  snprintf(s->url, sizeof(s->url), "nats://%s:%d", s->host, s->port);
  return 0;
}

/* Adds a server unless the same host:port is already in the pool. Returns 1
 * when added, 0 when known, or NM_EINVAL / NMC_EBUFFULL. */
int nmc__pool_add(nmc_conn_t *c, const char *url, int implicit) {
  nmc_server_t s;
  int r = parse_url(&s, url);

  if (r < 0)
    return r;
  for (int i = 0; i < c->nservers; i++)
    if (c->servers[i].port == s.port && strcmp(c->servers[i].host, s.host) == 0)
      return 0;
  if (c->nservers >= NMC_MAX_SERVERS)
    return NMC_EBUFFULL;
  s.implicit = implicit;
  c->servers[c->nservers++] = s;
  return 1;
}

const char *nmc_strerror(int err) {
  const char *s;
  switch (err) {
  case 0:
    return "ok";
  case NMC_EDRAINING:
    return "connection draining";
  case NMC_EDISCONNECTED:
    return "connection lost";
  case NMC_EMAXPAYLOAD:
    return "maximum payload exceeded";
  case NMC_EBADSUBJECT:
    return "invalid subject";
  case NMC_ENOTSUP:
    return "not supported by the server";
  case NMC_EBUFFULL:
    return "outbound buffer limit exceeded";
  case NMC_ENORESPONDERS:
    return "no responders available for request";
  case NMC_ESTALE:
    return "stale connection";
  case NMC_ESERVER:
    return "server error";
  case NMC_ENOSERVERS:
    return "no servers available for connection";
  case NMC_ESLOWCONSUMER:
    return "slow consumer, messages dropped";
  case NM_ETIMEOUT:
    return "timeout";
  case NM_ECLOSED:
    return "connection closed";
  case NM_EAUTH:
    return "authorization violation";
  case NM_EINVAL:
    return "invalid argument";
  case NM_EPROTO:
    return "protocol error";
  case NM_ENOMEM:
    return "out of memory";
  case NM_ESTATE:
    return "not allowed in this state";
  }
  s = nm_errname(err);
  return s ? s : uv_strerror(err);
}
