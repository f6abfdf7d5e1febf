/* Loading case files (format: tests/diff/cases/README.md) and the escape
 * codec shared by the loader and the failure printer. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_diff.h"

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = tolower(c);
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* ${N*c}: returns the count and sets *ch and *used, or -1 when the text at p
 * is not a repeat (then "$" is literal, as in ${INFO}). */
static long parse_repeat(const char *p, char *ch, size_t *used) {
  const char *q = p + 2;
  long n = 0;
  if (p[0] != '$' || p[1] != '{' || !isdigit((unsigned char)*q))
    return -1;
  while (isdigit((unsigned char)*q)) {
    n = n * 10 + (*q - '0');
    if (n > NM_DIFF_MAX_TEXT)
      return -1;
    q++;
  }
  if (q[0] != '*' || q[1] == '\0' || q[2] != '}')
    return -1;
  *ch = q[1];
  *used = (size_t)(q + 3 - p);
  return n;
}

int nm__diff_unescape(const char *in, char **out, size_t *outlen) {
  size_t cap = 0;
  size_t len = 0;
  char *buf;
  const char *p;

  /* First pass: the exact size, so the buffer is allocated once. */
  for (p = in; *p;) {
    char ch;
    size_t used;
    long n = parse_repeat(p, &ch, &used);
    if (n >= 0) {
      cap += (size_t)n;
      p += used;
    } else if (*p == '\\' && p[1] == 'x') {
      cap++;
      p += p[2] && p[3] ? 4 : 2;
    } else if (*p == '\\' && p[1]) {
      cap++;
      p += 2;
    } else {
      cap++;
      p++;
    }
    if (cap > NM_DIFF_MAX_TEXT)
      return -1;
  }
  buf = malloc(cap + 1);
  if (!buf)
    return -1;
  for (p = in; *p;) {
    char ch;
    size_t used;
    long n = parse_repeat(p, &ch, &used);
    if (n >= 0) {
      memset(buf + len, ch, (size_t)n);
      len += (size_t)n;
      p += used;
      continue;
    }
    if (*p != '\\' || !p[1]) {
      buf[len++] = *p++;
      continue;
    }
    switch (p[1]) {
    case 'r':
      buf[len++] = '\r';
      break;
    case 'n':
      buf[len++] = '\n';
      break;
    case 't':
      buf[len++] = '\t';
      break;
    case 's':
      buf[len++] = ' ';
      break;
    case '0':
      buf[len++] = '\0';
      break;
    case 'x':
      if (hexval(p[2]) < 0 || hexval(p[3]) < 0) {
        free(buf);
        return -1;
      }
      buf[len++] = (char)(hexval(p[2]) * 16 + hexval(p[3]));
      p += 2;
      break;
    case '\\':
      buf[len++] = '\\';
      break;
    default:
      /* An unknown escape is a mistake in the case file, not a byte. */
      free(buf);
      return -1;
    }
    p += 2;
  }
  buf[len] = '\0';
  *out = buf;
  *outlen = len;
  return 0;
}

void nm__diff_print_escaped(void *file, const char *p, size_t n, int wrap,
                            const char *prefix) {
  FILE *f = file;
  int at_start = 1;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (at_start) {
      fputs(prefix, f);
      at_start = 0;
    }
    if (c == '\r')
      fputs("\\r", f);
    else if (c == '\n')
      fputs("\\n", f);
    else if (c == '\t')
      fputs("\\t", f);
    else if (c == '\\')
      fputs("\\\\", f);
    else if (c == ' ' && (i + 1 == n || i == 0))
      fputs("\\s", f); /* a space at either end would be lost */
    else if (c < 0x20 || c >= 0x7f)
      fprintf(f, "\\x%02x", c);
    else
      fputc(c, f);
    if (wrap && c == '\n' && i + 1 < n) {
      fputc('\n', f);
      at_start = 1;
    }
  }
  if (at_start && n == 0)
    fputs(prefix, f);
  fputc('\n', f);
}

static int parse_conn(const char *tok, int *conn, int *ms, int def_ms) {
  if (tok[0] < 'A' || tok[0] >= 'A' + NM_DIFF_MAX_CONNS)
    return -1;
  *conn = tok[0] - 'A';
  *ms = def_ms;
  if (tok[1] == '/') {
    char *end;
    long v = strtol(tok + 2, &end, 10);
    if (*end || v <= 0 || v > NM_DIFF_MAX_MS)
      return -1;
    *ms = (int)v;
  } else if (tok[1] != '\0') {
    return -1;
  }
  return 0;
}

static int append(char **dst, size_t *len, const char *add, size_t n,
                  size_t max) {
  char *p;
  if (*len + n > max)
    return -1;
  p = realloc(*dst, *len + n + 1);
  if (!p)
    return -1;
  memcpy(p + *len, add, n);
  *len += n;
  p[*len] = '\0';
  *dst = p;
  return 0;
}

void nm_diff_case_free(nm_diff_case_t *c) {
  for (int i = 0; i < c->nsteps; i++)
    free(c->steps[i].text);
  for (int i = 0; i < c->nargs; i++)
    free(c->args[i]);
  for (int i = 0; i < NM_DIFF_MAX_CONNS; i++)
    free(c->expect[i]);
  free(c->config);
  memset(c, 0, sizeof(*c));
}

static int repeat_text(const char *in, long times, char **out, size_t *len) {
  char *one;
  size_t n;
  if (nm__diff_unescape(in, &one, &n) != 0)
    return -1;
  if (n == 0 || (size_t)times > NM_DIFF_MAX_TEXT / n) {
    free(one);
    return -1;
  }
  *len = n * (size_t)times;
  *out = malloc(*len + 1);
  if (!*out) {
    free(one);
    return -1;
  }
  for (long i = 0; i < times; i++)
    memcpy(*out + (size_t)i * n, one, n);
  (*out)[*len] = '\0';
  free(one);
  return 0;
}

/* One directive line of a case. Returns 0 or -1 with err set. */
static int parse_line(nm_diff_case_t *c, char *line, int lineno, char *err,
                      size_t errlen) {
  char *word = line;
  char *rest;
  char *tok;
  nm_diff_step_t *st;
  int conn = 0, ms = 0;
  size_t config_len;

  rest = strchr(line, ' ');
  if (rest)
    *rest++ = '\0';
  else
    rest = line + strlen(line);

  if (strcmp(word, "doc") == 0)
    return 0;
  if (strcmp(word, "fullinfo") == 0) {
    c->full_info = 1;
    return 0;
  }
  if (strcmp(word, "nosplit") == 0) {
    c->no_split = 1;
    return 0;
  }
  if (strcmp(word, "config") == 0) {
    config_len = c->config ? strlen(c->config) : 0;
    if (append(&c->config, &config_len, rest, strlen(rest),
               NM_DIFF_MAX_CONFIG) != 0 ||
        append(&c->config, &config_len, "\n", 1, NM_DIFF_MAX_CONFIG) != 0)
      goto bad;
    return 0;
  }
  if (strcmp(word, "args") == 0) {
    for (tok = strtok(rest, " \t"); tok; tok = strtok(NULL, " \t")) {
      if (c->nargs >= NM_DIFF_MAX_ARGS)
        goto bad;
      c->args[c->nargs++] = strdup(tok);
    }
    return 0;
  }
  if (strcmp(word, "expect") == 0 || strcmp(word, "state") == 0) {
    /* expect X TEXT / state X WORD: the connection, then the rest. */
    char *text = strchr(rest, ' ');
    if (text)
      *text++ = '\0';
    else
      text = rest + strlen(rest);
    if (parse_conn(rest, &conn, &ms, 0) != 0)
      goto bad;
    if (word[0] == 'e') {
      char *bytes;
      size_t n;
      if (nm__diff_unescape(text, &bytes, &n) != 0)
        goto bad;
      if (!c->expect[conn] && append(&c->expect[conn], &c->expect_len[conn], "",
                                     0, NM_DIFF_MAX_TEXT) != 0) {
        free(bytes);
        goto bad;
      }
      if (append(&c->expect[conn], &c->expect_len[conn], bytes, n,
                 NM_DIFF_MAX_TEXT) != 0) {
        free(bytes);
        goto bad;
      }
      free(bytes);
      c->has_expect[conn] = 1;
    } else {
      if (strcmp(text, "open") == 0)
        c->expect_state[conn] = NM_PEER_OPEN;
      else if (strcmp(text, "eof") == 0)
        c->expect_state[conn] = NM_PEER_EOF;
      else if (strcmp(text, "rst") == 0)
        c->expect_state[conn] = NM_PEER_RST;
      else
        goto bad;
    }
    return 0;
  }

  if (c->nsteps >= NM_DIFF_MAX_STEPS)
    goto bad;
  st = &c->steps[c->nsteps];
  memset(st, 0, sizeof(*st));
  st->line = lineno;
  if (strcmp(word, "pause") == 0) {
    st->op = NM_DIFF_PAUSE;
    st->ms = atoi(rest);
    if (st->ms <= 0 || st->ms > 1000)
      goto bad;
    c->nsteps++;
    return 0;
  }
  /* Every other step names a connection first. */
  tok = rest;
  rest = strchr(rest, ' ');
  if (rest)
    *rest++ = '\0';
  else
    rest = tok + strlen(tok);
  if (strcmp(word, "connect") == 0)
    st->op = NM_DIFF_CONNECT;
  else if (strcmp(word, "send") == 0 || strcmp(word, "sendn") == 0)
    st->op = NM_DIFF_SEND;
  else if (strcmp(word, "recv") == 0)
    st->op = NM_DIFF_RECV;
  else if (strcmp(word, "sync") == 0)
    st->op = NM_DIFF_SYNC;
  else if (strcmp(word, "end") == 0)
    st->op = NM_DIFF_END;
  else if (strcmp(word, "close") == 0)
    st->op = NM_DIFF_CLOSE;
  else if (strcmp(word, "mark") == 0)
    st->op = NM_DIFF_MARK;
  else
    goto bad;
  if (parse_conn(tok, &conn, &ms,
                 st->op == NM_DIFF_END ? NM_DIFF_END_MS : NM_DIFF_RECV_MS) != 0)
    goto bad;
  st->conn = conn;
  st->ms = ms;
  if (st->op == NM_DIFF_CONNECT)
    c->used[conn] = 1;
  else if (!c->used[conn])
    goto bad; /* a step on a connection never opened */
  if (strcmp(word, "sendn") == 0) {
    /* sendn X N TEXT: TEXT written N times, as one send. */
    char *end;
    long times = strtol(rest, &end, 10);
    if (times <= 0 || *end != ' ')
      goto bad;
    rest = end + 1;
    if (repeat_text(rest, times, &st->text, &st->len) != 0)
      goto bad;
  } else if (st->op == NM_DIFF_SEND || st->op == NM_DIFF_RECV) {
    if (nm__diff_unescape(rest, &st->text, &st->len) != 0 || st->len == 0)
      goto bad;
  }
  c->nsteps++;
  return 0;
bad:
  snprintf(err, errlen, "%s:%d: bad line in case %s", c->file, lineno, c->name);
  return -1;
}

static int finish_case(nm_diff_case_t *c, char *err, size_t errlen) {
  for (int i = 0; i < NM_DIFF_MAX_CONNS; i++) {
    if (c->used[i] && (!c->has_expect[i] || c->expect_state[i] < 0)) {
      snprintf(err, errlen, "%s:%d: case %s: connection %c has no expect/state",
               c->file, c->line, c->name, 'A' + i);
      return -1;
    }
  }
  if (c->nsteps == 0) {
    snprintf(err, errlen, "%s:%d: case %s has no steps", c->file, c->line,
             c->name);
    return -1;
  }
  return 0;
}

int nm_diff_load(const char *path, nm_diff_case_t *cases, int max, char *err,
                 size_t errlen) {
  FILE *f = fopen(path, "r");
  char *line;
  int n = 0;
  int lineno = 0;
  nm_diff_case_t *cur = NULL;
  int rc = 0;
  /* In record mode (NM_DIFF_RECORD) a case may lack its expectations: that
   * mode is how they are written. Otherwise every case needs them. */
  int lenient = getenv("NM_DIFF_RECORD") != NULL;

  if (!f) {
    snprintf(err, errlen, "cannot open %s", path);
    return -1;
  }
  line = malloc(NM_DIFF_MAX_LINE);
  if (!line) {
    fclose(f);
    return -1;
  }
  while (fgets(line, NM_DIFF_MAX_LINE, f)) {
    char *p = line;
    size_t len = strlen(line);
    lineno++;
    if (len > 0 && line[len - 1] != '\n' && !feof(f)) {
      snprintf(err, errlen, "%s:%d: line too long", path, lineno);
      rc = -1;
      break;
    }
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
      line[--len] = '\0';
    while (*p == ' ' || *p == '\t')
      p++;
    if (*p == '\0' || *p == '#')
      continue;
    if (strncmp(p, "case ", 5) == 0) {
      if (cur && !lenient && finish_case(cur, err, errlen) != 0) {
        rc = -1;
        break;
      }
      if (n >= max) {
        snprintf(err, errlen, "%s:%d: more than %d cases", path, lineno, max);
        rc = -1;
        break;
      }
      cur = &cases[n++];
      memset(cur, 0, sizeof(*cur));
      for (int i = 0; i < NM_DIFF_MAX_CONNS; i++)
        cur->expect_state[i] = -1;
      snprintf(cur->name, sizeof(cur->name), "%s", p + 5);
      cur->file = path;
      cur->line = lineno;
      continue;
    }
    if (!cur) {
      snprintf(err, errlen, "%s:%d: text before the first case", path, lineno);
      rc = -1;
      break;
    }
    if (parse_line(cur, p, lineno, err, errlen) != 0) {
      rc = -1;
      break;
    }
  }
  if (rc == 0 && cur && !lenient && finish_case(cur, err, errlen) != 0)
    rc = -1;
  free(line);
  fclose(f);
  return rc == 0 ? n : -1;
}
