/* The subset of nats-server's config-file syntax natsmock reads, so one file
 * serves both servers: `key: value`, `key = value` or `key value`; blocks in
 * braces; quoted or bare strings; comments with # or //; durations "2s",
 * "1m", "500ms" or a number of seconds; sizes with k/kb/m/mb/g/gb. Keys
 * natsmock does not know are ignored, like nats-server's unknown-field
 * warnings. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "natsmock.h"

/* A config file larger than this is refused. */
#define NM_CONFIG_MAX (1024 * 1024)
/* Longest key or value kept. */
#define NM_CONFIG_TOKEN_MAX 4096
/* Deepest block nesting followed. */
#define NM_CONFIG_DEPTH_MAX 16

typedef struct str_node {
  struct str_node *next;
  char s[];
} str_node_t;

typedef struct {
  const char *p, *end;
  int line;
  nm_server_opts_t *o;
  char *err;
  size_t errlen;
} cfg_t;

static const char *keep_str(nm_server_opts_t *o, const char *s) {
  size_t n = strlen(s);
  str_node_t *node = malloc(sizeof(*node) + n + 1);
  if (node == NULL)
    return NULL;
  memcpy(node->s, s, n + 1);
  node->next = o->strings_;
  o->strings_ = node;
  return node->s;
}

void nm_server_opts_free(nm_server_opts_t *o) {
  str_node_t *n = o->strings_;
  while (n) {
    str_node_t *next = n->next;
    free(n);
    n = next;
  }
  o->strings_ = NULL;
}

static int fail(cfg_t *c, const char *msg, const char *what) {
  snprintf(c->err, c->errlen, "line %d: %s%s%s", c->line, msg, what ? ": " : "",
           what ? what : "");
  return NM_EINVAL;
}

/* Skips blanks, newlines, separators and comments. */
static void skip_space(cfg_t *c, int newlines) {
  while (c->p < c->end) {
    char ch = *c->p;
    if (ch == '\n') {
      if (!newlines)
        return;
      c->line++;
      c->p++;
    } else if (ch == ' ' || ch == '\t' || ch == '\r' ||
               (newlines && (ch == ',' || ch == ';'))) {
      c->p++;
    } else if (ch == '#' ||
               (ch == '/' && c->p + 1 < c->end && c->p[1] == '/')) {
      while (c->p < c->end && *c->p != '\n')
        c->p++;
    } else {
      return;
    }
  }
}

/* A quoted or bare token into out. Bare keys stop at blanks, ':', '=' and
 * braces; bare values at blanks, ',', ';', '}', ']' or a comment, as in
 * nats-server's lexer. */
static int read_token(cfg_t *c, char *out, int is_key, int *quoted) {
  size_t n = 0;
  *quoted = 0;
  if (c->p < c->end && (*c->p == '"' || *c->p == '\'')) {
    char q = *c->p++;
    *quoted = 1;
    while (c->p < c->end && *c->p != q) {
      char ch = *c->p++;
      if (ch == '\n')
        return fail(c, "unterminated string", NULL);
      if (ch == '\\' && q == '"' && c->p < c->end) {
        ch = *c->p++;
        ch = ch == 'n' ? '\n' : ch == 't' ? '\t' : ch;
      }
      if (n + 1 >= NM_CONFIG_TOKEN_MAX)
        return fail(c, "string too long", NULL);
      out[n++] = ch;
    }
    if (c->p >= c->end)
      return fail(c, "unterminated string", NULL);
    c->p++;
    out[n] = 0;
    return 0;
  }
  while (c->p < c->end) {
    char ch = *c->p;
    if (is_key && (isspace((unsigned char)ch) || ch == ':' || ch == '=' ||
                   ch == '{' || ch == '}'))
      break;
    if (!is_key && (isspace((unsigned char)ch) || ch == ',' || ch == ';' ||
                    ch == '}' || ch == ']' || ch == '#' ||
                    (ch == '/' && c->p + 1 < c->end && c->p[1] == '/')))
      break;
    if (n + 1 >= NM_CONFIG_TOKEN_MAX)
      return fail(c, "token too long", NULL);
    out[n++] = ch;
    c->p++;
  }
  while (n > 0 && isspace((unsigned char)out[n - 1]))
    n--;
  out[n] = 0;
  if (n == 0)
    return fail(c, is_key ? "expected a key" : "expected a value", NULL);
  return 0;
}

/* "1MB" -> 1048576, "1k" -> 1000, "512" -> 512. */
static int parse_size(const char *v, int64_t *out) {
  char *end;
  double d;
  int64_t mul = 1;
  errno = 0;
  d = strtod(v, &end);
  if (end == v || errno != 0 || d < 0)
    return -1;
  while (*end == ' ')
    end++;
  if (*end) {
    if (!strcasecmp(end, "k"))
      mul = 1000;
    else if (!strcasecmp(end, "kb") || !strcasecmp(end, "ki") ||
             !strcasecmp(end, "kib"))
      mul = 1024;
    else if (!strcasecmp(end, "m"))
      mul = 1000 * 1000;
    else if (!strcasecmp(end, "mb") || !strcasecmp(end, "mi") ||
             !strcasecmp(end, "mib"))
      mul = 1024 * 1024;
    else if (!strcasecmp(end, "g"))
      mul = 1000 * 1000 * 1000;
    else if (!strcasecmp(end, "gb") || !strcasecmp(end, "gi") ||
             !strcasecmp(end, "gib"))
      mul = 1024LL * 1024 * 1024;
    else
      return -1;
  }
  if (d * (double)mul > 9.2e18)
    return -1;
  *out = (int64_t)(d * (double)mul);
  return 0;
}

/* "2s", "1m30s", "500ms", "1h", or a bare number of seconds. */
int nm_parse_duration_ms(const char *v, uint64_t *out) {
  double total = 0;
  const char *p = v;
  char *end;
  errno = 0;
  {
    double d = strtod(p, &end);
    if (end != p && *end == 0) {
      if (d < 0 || errno)
        return -1;
      *out = (uint64_t)(d * 1000.0 + 0.5);
      return 0;
    }
  }
  if (*p == 0)
    return -1;
  while (*p) {
    double d = strtod(p, &end), mul;
    if (end == p || d < 0)
      return -1;
    p = end;
    if (!strncmp(p, "ms", 2)) {
      mul = 1;
      p += 2;
    } else if (!strncmp(p, "us", 2) || !strncmp(p, "µs", 3)) {
      mul = 0.001;
      p += p[0] == 'u' ? 2 : 3;
    } else if (!strncmp(p, "ns", 2)) {
      mul = 0.000001;
      p += 2;
    } else if (*p == 's') {
      mul = 1000;
      p++;
    } else if (*p == 'm') {
      mul = 60000;
      p++;
    } else if (*p == 'h') {
      mul = 3600000;
      p++;
    } else {
      return -1;
    }
    total += d * mul;
  }
  *out = (uint64_t)(total + 0.5);
  return 0;
}

static int set_int(cfg_t *c, const char *k, const char *v, int64_t *out) {
  if (parse_size(v, out) < 0)
    return fail(c, "bad number for", k);
  return 0;
}

static int apply(cfg_t *c, const char *section, const char *k, const char *v,
                 int quoted) {
  nm_server_opts_t *o = c->o;
  int64_t n;
  uint64_t ms;
  if (section[0] == 0) {
    if (!strcasecmp(k, "listen")) {
      const char *colon = strrchr(v, ':');
      char host[NM_CONFIG_TOKEN_MAX];
      if (colon == NULL) {
        if (set_int(c, k, v, &n) < 0)
          return NM_EINVAL;
        o->port = (int)n;
        return 0;
      }
      if (set_int(c, k, colon + 1, &n) < 0)
        return NM_EINVAL;
      o->port = (int)n;
      snprintf(host, sizeof(host), "%.*s", (int)(colon - v), v);
      if (host[0] && (o->host = keep_str(o, host)) == NULL)
        return NM_ENOMEM;
    } else if (!strcasecmp(k, "port")) {
      if (set_int(c, k, v, &n) < 0)
        return NM_EINVAL;
      o->port = (int)n;
    } else if (!strcasecmp(k, "host") || !strcasecmp(k, "net")) {
      if ((o->host = keep_str(o, v)) == NULL)
        return NM_ENOMEM;
    } else if (!strcasecmp(k, "server_name")) {
      if ((o->server_name = keep_str(o, v)) == NULL)
        return NM_ENOMEM;
    } else if (!strcasecmp(k, "max_payload")) {
      if (set_int(c, k, v, &o->max_payload) < 0)
        return NM_EINVAL;
    } else if (!strcasecmp(k, "max_control_line")) {
      if (set_int(c, k, v, &n) < 0)
        return NM_EINVAL;
      o->max_control_line = (size_t)n;
    } else if (!strcasecmp(k, "max_pending")) {
      if (set_int(c, k, v, &o->max_pending) < 0)
        return NM_EINVAL;
    } else if (!strcasecmp(k, "max_connections") ||
               !strcasecmp(k, "max_conn")) {
      if (set_int(c, k, v, &n) < 0)
        return NM_EINVAL;
      o->max_connections = (int)n;
    } else if (!strcasecmp(k, "max_subscriptions") ||
               !strcasecmp(k, "max_subs")) {
      if (set_int(c, k, v, &n) < 0)
        return NM_EINVAL;
      o->max_subs = (int)n;
    } else if (!strcasecmp(k, "ping_max")) {
      if (set_int(c, k, v, &n) < 0)
        return NM_EINVAL;
      o->ping_max = (int)n;
    } else if (!strcasecmp(k, "ping_interval")) {
      if (nm_parse_duration_ms(v, &ms) < 0)
        return fail(c, "bad duration for", k);
      o->ping_interval_ms = ms;
    } else if (!strcasecmp(k, "write_deadline")) {
      if (nm_parse_duration_ms(v, &ms) < 0)
        return fail(c, "bad duration for", k);
      o->write_deadline_ms = ms;
    } else if (!strcasecmp(k, "debug")) {
      o->debug = !strcasecmp(v, "true");
    } else if (!strcasecmp(k, "trace")) {
      o->trace = !strcasecmp(v, "true");
    }
    return 0;
  }
  if (!strcasecmp(section, "authorization")) {
    if (!strcasecmp(k, "user") || !strcasecmp(k, "username")) {
      if ((o->user = keep_str(o, v)) == NULL)
        return NM_ENOMEM;
    } else if (!strcasecmp(k, "password") || !strcasecmp(k, "pass")) {
      if ((o->pass = keep_str(o, v)) == NULL)
        return NM_ENOMEM;
    } else if (!strcasecmp(k, "token")) {
      if ((o->token = keep_str(o, v)) == NULL)
        return NM_ENOMEM;
    } else if (!strcasecmp(k, "timeout")) {
      /* nats-server 2.9.10 reads this one as a number of seconds only; any
       * other value (a string such as "2s") leaves it at 1 s. */
      char *end;
      double d = quoted ? -1 : strtod(v, &end);
      if (quoted || end == v || *end != 0 || d < 0)
        o->auth_timeout_ms = 1000;
      else
        o->auth_timeout_ms = (uint64_t)(d * 1000.0 + 0.5);
    }
  }
  return 0;
}

/* Skips a [...] array value (natsmock reads no arrays). */
static int skip_array(cfg_t *c) {
  int depth = 0;
  while (c->p < c->end) {
    char ch = *c->p++;
    if (ch == '\n')
      c->line++;
    if (ch == '[')
      depth++;
    else if (ch == ']' && --depth == 0)
      return 0;
  }
  return fail(c, "unterminated array", NULL);
}

static int parse_block(cfg_t *c, const char *section, int depth) {
  char key[NM_CONFIG_TOKEN_MAX], val[NM_CONFIG_TOKEN_MAX];
  int quoted, r;
  if (depth > NM_CONFIG_DEPTH_MAX)
    return fail(c, "blocks nested too deep", NULL);
  for (;;) {
    skip_space(c, 1);
    if (c->p >= c->end)
      return depth ? fail(c, "missing '}'", NULL) : 0;
    if (*c->p == '}') {
      if (!depth)
        return fail(c, "unexpected '}'", NULL);
      c->p++;
      return 0;
    }
    if ((r = read_token(c, key, 1, &quoted)) < 0)
      return r;
    skip_space(c, 0);
    if (c->p < c->end && (*c->p == ':' || *c->p == '=')) {
      c->p++;
      skip_space(c, 0);
    }
    if (c->p >= c->end)
      return fail(c, "missing value for", key);
    if (*c->p == '{') {
      c->p++;
      /* Only the top level and authorization matter; other blocks are
       * walked and ignored. */
      if ((r = parse_block(c, depth == 0 ? key : "-", depth + 1)) < 0)
        return r;
      continue;
    }
    if (*c->p == '[') {
      if ((r = skip_array(c)) < 0)
        return r;
      continue;
    }
    if ((r = read_token(c, val, 0, &quoted)) < 0)
      return r;
    if ((r = apply(c, section, key, val, quoted)) < 0)
      return r;
  }
}

int nm_server_opts_load(nm_server_opts_t *o, const char *path, char *err,
                        size_t errlen) {
  FILE *f = fopen(path, "rb");
  char *buf;
  size_t n;
  int r;

  if (f == NULL) {
    /* Go's wording: "open PATH: no such file or directory". */
    char eb[128];
    snprintf(eb, sizeof(eb), "%s", strerror(errno));
    eb[0] = (char)tolower((unsigned char)eb[0]);
    snprintf(err, errlen, "open %s: %s", path, eb);
    return NM_EINVAL;
  }
  buf = malloc(NM_CONFIG_MAX + 1);
  if (buf == NULL) {
    fclose(f);
    return NM_ENOMEM;
  }
  n = fread(buf, 1, NM_CONFIG_MAX + 1, f);
  fclose(f);
  if (n > NM_CONFIG_MAX) {
    free(buf);
    snprintf(err, errlen, "%s: larger than %d bytes", path, NM_CONFIG_MAX);
    return NM_EINVAL;
  }
  r = nm_server_opts_parse(o, buf, n, err, errlen);
  free(buf);
  return r;
}

int nm_server_opts_parse(nm_server_opts_t *o, const char *text, size_t n,
                         char *err, size_t errlen) {
  cfg_t c;
  memset(&c, 0, sizeof(c));
  c.p = text;
  c.end = text + n;
  c.line = 1;
  c.o = o;
  c.err = err;
  c.errlen = errlen;
  return parse_block(&c, "", 0);
}
