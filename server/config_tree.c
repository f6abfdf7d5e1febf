/* The config-file reader (see config_tree.h). Messages follow nats-server's
 * conf package: "Parse error on line N: '...'" for syntax, "error parsing
 * include file '...', ..." for includes, "variable reference for '...' on
 * line N can not be found". */
#include "config_tree.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "go_duration.h"

typedef struct blk_s {
  struct blk_s *next;
  max_align_t align[];
} blk_t;

struct nm_cv_doc_s {
  blk_t *blocks;
  nm_cv_t *root;
  size_t nodes;
};

typedef struct frame_s {
  nm_cv_t *map;
  struct frame_s *up;
} frame_t;

typedef struct {
  nm_cv_doc_t *doc;
  const char *p, *end;
  const char *line_start; /* byte after the last '\n' */
  int line;
  const char *file;
  char dir[NM_CONFIG_TOKEN_MAX];
  int include_depth;
  char *err;
  size_t errlen;
} lx_t;

static void *doc_alloc(nm_cv_doc_t *d, size_t n) {
  blk_t *b = calloc(1, sizeof(blk_t) + n + 1);
  if (b == NULL)
    return NULL;
  b->next = d->blocks;
  d->blocks = b;
  return b->align;
}

static char *doc_strdup(nm_cv_doc_t *d, const char *s, size_t n) {
  char *c = doc_alloc(d, n + 1);
  if (c) {
    memcpy(c, s, n);
    c[n] = 0;
  }
  return c;
}

void nm_cv_free(nm_cv_doc_t *doc) {
  blk_t *b;
  if (doc == NULL)
    return;
  b = doc->blocks;
  while (b) {
    blk_t *n = b->next;
    free(b);
    b = n;
  }
  free(doc);
}

nm_cv_t *nm_cv_root(nm_cv_doc_t *doc) {
  return doc->root;
}

const char *nm_cv_go_type(const nm_cv_t *v) {
  switch (v->type) {
  case NM_CV_STR:
    return "string";
  case NM_CV_INT:
    return "int64";
  case NM_CV_FLOAT:
    return "float64";
  case NM_CV_BOOL:
    return "bool";
  case NM_CV_MAP:
    return "map[string]interface {}";
  default:
    return "[]interface {}";
  }
}

static int perr(lx_t *lx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int perr(lx_t *lx, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  snprintf(lx->err, lx->errlen, "Parse error on line %d: '%s'", lx->line, msg);
  return -1;
}

static nm_cv_t *new_node(lx_t *lx) {
  nm_cv_t *v;
  if (++lx->doc->nodes > NM_CONFIG_NODES_MAX) {
    snprintf(lx->err, lx->errlen, "more than %d values in the configuration",
             NM_CONFIG_NODES_MAX);
    return NULL;
  }
  v = doc_alloc(lx->doc, sizeof(*v));
  if (v == NULL) {
    snprintf(lx->err, lx->errlen, "out of memory");
    return NULL;
  }
  v->file = lx->file;
  v->line = lx->line;
  /* nats-server's column: from the line's start, 0-based on the first line
   * and 1-based after it (its lexer counts from the '\n'). */
  v->col = (int)(lx->p - lx->line_start) + (lx->line > 1 ? 1 : 0);
  return v;
}

static int peek(lx_t *lx) {
  return lx->p < lx->end ? (unsigned char)*lx->p : -1;
}

static void advance(lx_t *lx) {
  if (lx->p < lx->end) {
    if (*lx->p == '\n') {
      lx->line++;
      lx->line_start = lx->p + 1;
    }
    lx->p++;
  }
}

static int is_comment(lx_t *lx) {
  return peek(lx) == '#' ||
         (peek(lx) == '/' && lx->p + 1 < lx->end && lx->p[1] == '/');
}

static void skip_comment(lx_t *lx) {
  while (lx->p < lx->end && *lx->p != '\n')
    lx->p++;
}

/* Blanks; with nl also new lines, comments and the separators , ; */
static void skip(lx_t *lx, int nl) {
  for (;;) {
    int c = peek(lx);
    if (c == ' ' || c == '\t' || (c == '\r' && nl))
      advance(lx);
    else if (nl && (c == '\n' || c == ',' || c == ';'))
      advance(lx);
    else if (nl && is_comment(lx))
      skip_comment(lx);
    else
      return;
  }
}

static int is_bare_end(int c) {
  return c < 0 || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' ||
         c == ';' || c == '}' || c == ']';
}

/* A quoted string (the quote is at lx->p) into out. */
static int read_quoted(lx_t *lx, char *out, size_t *outn) {
  char q = *lx->p;
  size_t n = 0;
  advance(lx);
  for (;;) {
    int c = peek(lx);
    if (c < 0 || c == '\n')
      return perr(lx, "Unexpected EOF.");
    advance(lx);
    if (c == q)
      break;
    if (c == '\\' && q == '"') {
      int e = peek(lx);
      advance(lx);
      switch (e) {
      case 't':
        c = '\t';
        break;
      case 'n':
        c = '\n';
        break;
      case 'r':
        c = '\r';
        break;
      case '"':
      case '\\':
        c = e;
        break;
      case 'x': {
        char hx[3] = {0, 0, 0};
        if (lx->end - lx->p < 2 || !isxdigit((unsigned char)lx->p[0]) ||
            !isxdigit((unsigned char)lx->p[1]))
          return perr(lx, "Expected two hexadecimal digits after '\\x'");
        hx[0] = lx->p[0];
        hx[1] = lx->p[1];
        advance(lx);
        advance(lx);
        c = (int)strtol(hx, NULL, 16);
        break;
      }
      default:
        return perr(lx,
                    "Invalid escape character '%c'. Only the following escape "
                    "characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.",
                    e < 0 ? ' ' : e);
      }
    }
    if (n + 1 >= NM_CONFIG_TOKEN_MAX)
      return perr(lx, "string longer than %d bytes", NM_CONFIG_TOKEN_MAX);
    out[n++] = (char)c;
  }
  out[n] = 0;
  *outn = n;
  return 0;
}

static int parse_map(lx_t *lx, nm_cv_t *map, int depth, int closing,
                     frame_t *up);
static int parse_value(lx_t *lx, nm_cv_t *v, int depth, frame_t *up);
static int parse_text(lx_t *lx, const char *text, size_t n, nm_cv_t *map,
                      frame_t *up);

/* The multiplier of a size suffix, 0 if it is none. */
static uint64_t suffix_mul(const char *s) {
  static const struct {
    const char *names[4];
    int pow;
    int bin;
  } t[] = {{{"k", NULL}, 1, 0}, {{"kb", "ki", "kib", NULL}, 1, 1},
           {{"m", NULL}, 2, 0}, {{"mb", "mi", "mib", NULL}, 2, 1},
           {{"g", NULL}, 3, 0}, {{"gb", "gi", "gib", NULL}, 3, 1},
           {{"t", NULL}, 4, 0}, {{"tb", "ti", "tib", NULL}, 4, 1},
           {{"p", NULL}, 5, 0}, {{"pb", "pi", "pib", NULL}, 5, 1},
           {{"e", NULL}, 6, 0}, {{"eb", "ei", "eib", NULL}, 6, 1}};
  for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
    for (int j = 0; t[i].names[j]; j++)
      if (!strcasecmp(s, t[i].names[j])) {
        uint64_t m = 1;
        for (int k = 0; k < t[i].pow; k++)
          m *= t[i].bin ? 1024 : 1000;
        return m;
      }
  return 0;
}

/* Finds $name: an earlier key of this map or an enclosing one. */
static const nm_cv_t *lookup_var(frame_t *f, const char *name) {
  for (; f; f = f->up)
    for (const nm_cv_t *m = f->map->child; m; m = m->next)
      if (m->key && !strcmp(m->key, name))
        return m;
  return NULL;
}

static int copy_value(lx_t *lx, nm_cv_t *dst, const nm_cv_t *src) {
  nm_cv_t **tail = &dst->child;
  dst->type = src->type;
  dst->s = src->s;
  dst->i = src->i;
  dst->f = src->f;
  dst->b = src->b;
  dst->child = NULL;
  for (const nm_cv_t *c = src->child; c; c = c->next) {
    nm_cv_t *n = new_node(lx);
    if (n == NULL)
      return -1;
    n->key = c->key;
    n->line = c->line;
    n->col = c->col;
    n->file = c->file;
    if (copy_value(lx, n, c) < 0)
      return -1;
    *tail = n;
    tail = &n->next;
  }
  return 0;
}

/* A bare value: number, size, float, bool, variable or string. */
static int classify(lx_t *lx, nm_cv_t *v, const char *tok, frame_t *up) {
  const char *q = tok;
  if (*q == '-')
    q++;
  if (isdigit((unsigned char)*q)) {
    const char *d = q;
    while (isdigit((unsigned char)*d))
      d++;
    if (*d == 0 || suffix_mul(d)) {
      char num[64];
      char *e;
      long long x;
      uint64_t mul = *d ? suffix_mul(d) : 1;
      snprintf(num, sizeof(num), "%.*s", (int)(d - tok), tok);
      errno = 0;
      x = strtoll(num, &e, 10);
      if (errno == ERANGE || (size_t)(d - tok) >= sizeof(num)) {
        snprintf(lx->err, lx->errlen, "integer '%s' is out of the range", tok);
        return -1;
      }
      v->type = NM_CV_INT;
      /* Go multiplies int64s and wraps on overflow; so does this. */
      v->i = (int64_t)((uint64_t)x * mul);
      return 0;
    }
    if (*d == '.' && isdigit((unsigned char)d[1])) {
      const char *f = d + 1;
      while (isdigit((unsigned char)*f))
        f++;
      if (*f == 0) {
        v->type = NM_CV_FLOAT;
        v->f = strtod(tok, NULL);
        return 0;
      }
    }
    /* A size suffix followed by digits ("1e17"): nats-server's lexer ends
     * the number at the suffix and fails on what follows. */
    if ((*d | 0x20) == 'k' || (*d | 0x20) == 'm' || (*d | 0x20) == 'g' ||
        (*d | 0x20) == 't' || (*d | 0x20) == 'p' || (*d | 0x20) == 'e') {
      const char *s2 = d + 1;
      while (*s2 && strchr("bBiI", *s2))
        s2++;
      if (isdigit((unsigned char)*s2))
        return perr(lx,
                    "Expected a top-level value to end with a new line, "
                    "comment or EOF, but got '%c' instead.",
                    *s2);
    }
    if (tok[0] == '-')
      return perr(lx, "Expected a digit but got '%c'.", *d);
  } else if (tok[0] == '-') {
    return perr(lx, "Expected a digit but got '%c'.", tok[1] ? tok[1] : ' ');
  }
  if (!strcasecmp(tok, "true") || !strcasecmp(tok, "yes") ||
      !strcasecmp(tok, "on")) {
    v->type = NM_CV_BOOL;
    v->b = 1;
    return 0;
  }
  if (!strcasecmp(tok, "false") || !strcasecmp(tok, "no") ||
      !strcasecmp(tok, "off")) {
    v->type = NM_CV_BOOL;
    v->b = 0;
    return 0;
  }
  if (tok[0] == '$' && tok[1]) {
    const nm_cv_t *ref = lookup_var(up, tok + 1);
    const char *env;
    if (ref)
      return copy_value(lx, v, ref);
    if ((env = getenv(tok + 1)) != NULL) {
      /* nats-server parses the variable's text as a value of its own. */
      char text[NM_CONFIG_TOKEN_MAX + 8];
      nm_cv_t tmp;
      lx_t sub = *lx;
      int n = snprintf(text, sizeof(text), "v=%s", env);
      memset(&tmp, 0, sizeof(tmp));
      tmp.type = NM_CV_MAP;
      if (n < 0 || (size_t)n >= sizeof(text) ||
          parse_text(&sub, text, (size_t)n, &tmp, NULL) < 0 ||
          tmp.child == NULL) {
        snprintf(lx->err, lx->errlen,
                 "variable reference for '%s' on line %d could not be "
                 "parsed",
                 tok + 1, lx->line);
        return -1;
      }
      return copy_value(lx, v, tmp.child);
    }
    snprintf(lx->err, lx->errlen,
             "variable reference for '%s' on line %d can not be found", tok + 1,
             lx->line);
    return -1;
  }
  v->type = NM_CV_STR;
  v->s = doc_strdup(lx->doc, tok, strlen(tok));
  return v->s ? 0 : -1;
}

static int parse_array(lx_t *lx, nm_cv_t *arr, int depth, frame_t *up) {
  nm_cv_t **tail = &arr->child;
  arr->type = NM_CV_ARRAY;
  advance(lx); /* [ */
  for (;;) {
    nm_cv_t *item;
    skip(lx, 1);
    if (peek(lx) < 0)
      return perr(lx, "Unexpected EOF.");
    if (peek(lx) == ']') {
      advance(lx);
      return 0;
    }
    if ((item = new_node(lx)) == NULL)
      return -1;
    /* nats-server places a map item just after its '{'. */
    if (peek(lx) == '{')
      item->col++;
    if (parse_value(lx, item, depth + 1, up) < 0)
      return -1;
    *tail = item;
    tail = &item->next;
  }
}

static int parse_value(lx_t *lx, nm_cv_t *v, int depth, frame_t *up) {
  char tok[NM_CONFIG_TOKEN_MAX];
  size_t n = 0;
  int c = peek(lx);
  if (depth > NM_CONFIG_DEPTH_MAX)
    return perr(lx, "values nested deeper than %d", NM_CONFIG_DEPTH_MAX);
  if (c == '[')
    return parse_array(lx, v, depth, up);
  if (c == '{') {
    advance(lx);
    v->type = NM_CV_MAP;
    return parse_map(lx, v, depth + 1, 1, up);
  }
  if (c == '"' || c == '\'') {
    if (read_quoted(lx, tok, &n) < 0)
      return -1;
    v->type = NM_CV_STR;
    v->s = doc_strdup(lx->doc, tok, n);
    return v->s ? 0 : -1;
  }
  if (c == '\n' || c == '\r' || c < 0)
    return perr(lx, "Expected value but found new line");
  if (c == '(')
    return perr(lx, "block values ( ... ) are not supported by natsmock");
  if (c == '.')
    return perr(lx, "Floats must start with a digit");
  while (!is_bare_end(peek(lx))) {
    if (n + 1 >= NM_CONFIG_TOKEN_MAX)
      return perr(lx, "value longer than %d bytes", NM_CONFIG_TOKEN_MAX);
    tok[n++] = *lx->p;
    advance(lx);
  }
  tok[n] = 0;
  return classify(lx, v, tok, up);
}

static void add_member(nm_cv_t *map, nm_cv_t *m) {
  /* A key given twice: the last one counts (a Go map). */
  nm_cv_t **pp = &map->child;
  while (*pp) {
    if ((*pp)->key && !strcmp((*pp)->key, m->key)) {
      m->next = (*pp)->next;
      *pp = m;
      return;
    }
    pp = &(*pp)->next;
  }
  *pp = m;
}

/* The folder of a file's path ("." when it has none): where its includes
 * are looked for. */
static void set_dir(lx_t *lx, const char *path) {
  const char *slash = strrchr(path, '/');
  if (slash)
    snprintf(lx->dir, sizeof(lx->dir), "%.*s", (int)(slash - path), path);
  else
    snprintf(lx->dir, sizeof(lx->dir), ".");
}

/* Go's filepath.Clean of p[0..n) into out (at least n + 2 bytes): one
 * slash between names, no "." names, a ".." taking out the name before it,
 * "." for nothing. */
static void go_clean(const char *p, size_t n, char *out) {
  size_t r = 0, w = 0, dotdot = 0;
  int rooted = n > 0 && p[0] == '/';
  if (rooted) {
    out[w++] = '/';
    r = dotdot = 1;
  }
  while (r < n) {
    if (p[r] == '/') {
      r++;
    } else if (p[r] == '.' && (r + 1 == n || p[r + 1] == '/')) {
      r++;
    } else if (p[r] == '.' && p[r + 1] == '.' &&
               (r + 2 == n || p[r + 2] == '/')) {
      r += 2;
      if (w > dotdot) {
        w--;
        while (w > dotdot && out[w] != '/')
          w--;
      } else if (!rooted) {
        if (w > 0)
          out[w++] = '/';
        out[w++] = '.';
        out[w++] = '.';
        dotdot = w;
      }
    } else {
      if (w != (rooted ? 1u : 0u))
        out[w++] = '/';
      for (; r < n && p[r] != '/'; r++)
        out[w++] = p[r];
    }
  }
  if (w == 0)
    out[w++] = '.';
  out[w] = 0;
}

/* How reading a config file ended. */
typedef enum {
  READ_OK = 0,
  READ_OPEN,
  READ_READ,
  READ_TOO_BIG,
  READ_NOMEM
} read_end_t;

/* A whole file of at most NM_CONFIG_MAX bytes into *buf (malloc'd; the
 * caller frees it). On READ_OPEN and READ_READ, *eno is the errno (a folder
 * opens, and fails to read with EISDIR, as Go's os.ReadFile says). */
static read_end_t read_config_file(const char *path, char **buf, size_t *n,
                                   int *eno) {
  FILE *f = fopen(path, "rb");
  *buf = NULL;
  if (f == NULL) {
    *eno = errno;
    return READ_OPEN;
  }
  if ((*buf = malloc(NM_CONFIG_MAX + 1)) == NULL) {
    fclose(f);
    return READ_NOMEM;
  }
  *n = fread(*buf, 1, NM_CONFIG_MAX + 1, f);
  *eno = ferror(f) ? errno : 0;
  fclose(f);
  if (*eno != 0 || *n > NM_CONFIG_MAX) {
    free(*buf);
    *buf = NULL;
    return *eno != 0 ? READ_READ : READ_TOO_BIG;
  }
  return READ_OK;
}

static int do_include(lx_t *lx, nm_cv_t *map, frame_t *up) {
  char path[NM_CONFIG_TOKEN_MAX], joined[2 * NM_CONFIG_TOKEN_MAX + 2],
      full[sizeof(joined) + 2], eb[128];
  size_t n = 0;
  char *buf;
  lx_t sub;
  int r, eno = 0;
  skip(lx, 0);
  if (peek(lx) == '"' || peek(lx) == '\'') {
    if (read_quoted(lx, path, &n) < 0)
      return -1;
  } else {
    while (!is_bare_end(peek(lx)) && n + 1 < sizeof(path)) {
      path[n++] = *lx->p;
      advance(lx);
    }
    path[n] = 0;
  }
  if (n == 0)
    return perr(lx, "Expected include value but found new line");
  if (lx->include_depth >= NM_CONFIG_INCLUDE_MAX) {
    snprintf(lx->err, lx->errlen,
             "error parsing include file '%s', includes "
             "nested deeper than %d",
             path, NM_CONFIG_INCLUDE_MAX);
    return -1;
  }
  /* nats-server opens filepath.Join(dir of this file, path): under that
   * folder even when path starts with '/'. */
  /* Both parts are shorter than NM_CONFIG_TOKEN_MAX: joined holds them. */
  snprintf(joined, sizeof(joined), "%s/%s", lx->dir, path);
  go_clean(joined, strlen(joined), full);
  switch (read_config_file(full, &buf, &n, &eno)) {
  case READ_OK:
    break;
  case READ_OPEN:
    snprintf(lx->err, lx->errlen,
             "error parsing include file '%s', open %s: %s", path, full,
             nm_go_strerror(eno, eb, sizeof(eb)));
    return -1;
  case READ_READ:
    snprintf(lx->err, lx->errlen,
             "error parsing include file '%s', read %s: %s", path, full,
             nm_go_strerror(eno, eb, sizeof(eb)));
    return -1;
  case READ_TOO_BIG:
    snprintf(lx->err, lx->errlen,
             "error parsing include file '%s', larger "
             "than %d bytes",
             path, NM_CONFIG_MAX);
    return -1;
  default:
    snprintf(lx->err, lx->errlen, "out of memory");
    return -1;
  }
  memset(&sub, 0, sizeof(sub));
  sub.doc = lx->doc;
  sub.file = doc_strdup(lx->doc, full, strlen(full));
  sub.include_depth = lx->include_depth + 1;
  sub.err = lx->err;
  sub.errlen = lx->errlen;
  set_dir(&sub, full);
  r = sub.file ? parse_text(&sub, buf, n, map, up) : -1;
  free(buf);
  if (r < 0 && strncmp(lx->err, "error parsing include", 21) != 0) {
    char inner[512];
    snprintf(inner, sizeof(inner), "%s", lx->err);
    snprintf(lx->err, lx->errlen, "error parsing include file '%s', %s", path,
             inner);
  }
  return r;
}

static int parse_map(lx_t *lx, nm_cv_t *map, int depth, int closing,
                     frame_t *up) {
  frame_t fr = {map, up};
  if (depth > NM_CONFIG_DEPTH_MAX)
    return perr(lx, "maps nested deeper than %d", NM_CONFIG_DEPTH_MAX);
  for (;;) {
    char key[NM_CONFIG_TOKEN_MAX];
    size_t n = 0;
    nm_cv_t *m;
    int c;
    skip(lx, 1);
    c = peek(lx);
    if (c < 0) {
      if (closing)
        return perr(lx, "Unexpected EOF processing map.");
      return 0;
    }
    if (c == '}') {
      if (!closing)
        return perr(lx, "Unexpected '}'");
      advance(lx);
      return 0;
    }
    if (c == ':' || c == '=')
      return perr(lx, "Unexpected key separator '%c'", c);
    if ((m = new_node(lx)) == NULL)
      return -1;
    if (c == '"' || c == '\'') {
      if (read_quoted(lx, key, &n) < 0)
        return -1;
    } else {
      while ((c = peek(lx)) >= 0 && c != ' ' && c != '\t' && c != '\n' &&
             c != '\r' && c != ':' && c != '=' && c != '{' && c != '[' &&
             c != '}') {
        if (n + 1 >= sizeof(key))
          return perr(lx, "key longer than %d bytes", NM_CONFIG_TOKEN_MAX);
        key[n++] = (char)c;
        advance(lx);
      }
      key[n] = 0;
      if (!strcmp(key, "include") && (peek(lx) == ' ' || peek(lx) == '\t')) {
        if (do_include(lx, map, &fr) < 0)
          return -1;
        continue;
      }
    }
    if ((m->key = doc_strdup(lx->doc, key, n)) == NULL)
      return -1;
    skip(lx, 0);
    if (peek(lx) == ':' || peek(lx) == '=') {
      advance(lx);
      skip(lx, 0);
    }
    if (parse_value(lx, m, depth, &fr) < 0)
      return -1;
    add_member(map, m);
    /* What may follow a value. */
    skip(lx, 0);
    c = peek(lx);
    if (!(c < 0 || c == '\n' || c == '\r' || c == ',' || c == ';' ||
          is_comment(lx) || (closing && c == '}'))) {
      if (closing)
        return perr(lx,
                    "Expected a map value terminator ',' or a map terminator "
                    "'}', but got '%c' instead.",
                    c);
      return perr(lx,
                  "Expected a top-level value to end with a new line, "
                  "comment or EOF, but got '%c' instead.",
                  c);
    }
  }
}

static int parse_text(lx_t *lx, const char *text, size_t n, nm_cv_t *map,
                      frame_t *up) {
  lx->p = lx->line_start = text;
  lx->end = text + n;
  lx->line = 1;
  return parse_map(lx, map, 0, 0, up);
}

int nm_cv_parse_text(const char *text, size_t n, const char *name,
                     nm_cv_doc_t **out, char *err, size_t errlen) {
  nm_cv_doc_t *doc = calloc(1, sizeof(*doc));
  lx_t lx;
  *out = NULL;
  if (doc == NULL)
    return -1;
  memset(&lx, 0, sizeof(lx));
  lx.doc = doc;
  lx.err = err;
  lx.errlen = errlen;
  lx.file = doc_strdup(doc, name, strlen(name));
  set_dir(&lx, name);
  doc->root = doc_alloc(doc, sizeof(nm_cv_t));
  if (lx.file == NULL || doc->root == NULL) {
    nm_cv_free(doc);
    return -1;
  }
  doc->root->type = NM_CV_MAP;
  if (parse_text(&lx, text, n, doc->root, NULL) < 0) {
    nm_cv_free(doc);
    return -1;
  }
  *out = doc;
  return 0;
}

int nm_cv_parse_file(const char *path, nm_cv_doc_t **doc, char *err,
                     size_t errlen) {
  char *buf, eb[128];
  size_t n = 0;
  int r, eno = 0;
  *doc = NULL;
  switch (read_config_file(path, &buf, &n, &eno)) {
  case READ_OK:
    break;
  case READ_OPEN:
    snprintf(err, errlen, "open %s: %s", path,
             nm_go_strerror(eno, eb, sizeof(eb)));
    return -1;
  case READ_READ:
    snprintf(err, errlen, "read %s: %s", path,
             nm_go_strerror(eno, eb, sizeof(eb)));
    return -1;
  case READ_TOO_BIG:
    snprintf(err, errlen, "%s: larger than %d bytes", path, NM_CONFIG_MAX);
    return -1;
  default:
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  r = nm_cv_parse_text(buf, n, path, doc, err, errlen);
  free(buf);
  return r;
}
