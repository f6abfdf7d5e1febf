/* See nm_drv_util.h. */
#include "nm_drv_util.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nm_seq.h"

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *out_stream;

void nm_drv_out_init(FILE *out) {
  pthread_mutex_lock(&out_mu);
  out_stream = out;
  pthread_mutex_unlock(&out_mu);
}

int nm_drv_emit(cJSON *obj) {
  char *s;
  int r = -1;
  FILE *f;

  if (obj == NULL)
    return -1;
  s = cJSON_PrintUnformatted(obj);
  cJSON_Delete(obj);
  if (s == NULL)
    return -1;
  pthread_mutex_lock(&out_mu);
  f = out_stream != NULL ? out_stream : stdout;
  /* One fputs of the whole line: a reader never sees two lines interleaved,
   * and the flush makes every line visible at once. */
  if (fputs(s, f) >= 0 && fputc('\n', f) != EOF && fflush(f) == 0)
    r = 0;
  pthread_mutex_unlock(&out_mu);
  cJSON_free(s);
  return r;
}

int64_t nm_drv_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

cJSON *nm_drv_event(const char *ev) {
  cJSON *o = cJSON_CreateObject();
  if (o == NULL)
    return NULL;
  cJSON_AddStringToObject(o, "ev", ev);
  cJSON_AddNumberToObject(o, "t", (double)nm_drv_now_us());
  return o;
}

cJSON *nm_drv_ok(int64_t id) {
  cJSON *o = cJSON_CreateObject();
  if (o == NULL)
    return NULL;
  cJSON_AddNumberToObject(o, "id", (double)id);
  cJSON_AddStringToObject(o, "ev", "ok");
  return o;
}

cJSON *nm_drv_err(int64_t id, const char *code, const char *text) {
  cJSON *o = cJSON_CreateObject();
  if (o == NULL)
    return NULL;
  if (id >= 0)
    cJSON_AddNumberToObject(o, "id", (double)id);
  cJSON_AddStringToObject(o, "ev", "err");
  cJSON_AddStringToObject(o, "code", code);
  cJSON_AddStringToObject(o, "error", text != NULL ? text : "");
  return o;
}

int nm_drv_is_text(const char *p, size_t n) {
  const unsigned char *s = (const unsigned char *)p;
  size_t i = 0;

  while (i < n) {
    unsigned char c = s[i];
    size_t len, k;
    uint32_t cp;

    if (c == 0)
      return 0;
    if (c < 0x80) {
      i++;
      continue;
    }
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return 0;
    }
    if (i + len > n)
      return 0;
    for (k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80)
        return 0;
      cp = cp << 6 | (s[i + k] & 0x3F);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return 0;
    i += len;
  }
  return 1;
}

int nm_drv_add_payload(cJSON *o, const char *p, size_t n, size_t max) {
  uint64_t k;

  if (nm_seq_read(p, n, &k))
    cJSON_AddNumberToObject(o, "seq", (double)k);
  if (max > 0 && n > max)
    return 0;
  if (nm_drv_is_text(p, n)) {
    /* cJSON wants a NUL-terminated string. */
    char *s = malloc(n + 1);
    if (s == NULL)
      return -1;
    memcpy(s, p, n);
    s[n] = '\0';
    cJSON_AddStringToObject(o, "data", s);
    free(s);
  } else {
    size_t cap = (n + 2) / 3 * 4 + 1;
    char *s = malloc(cap);
    if (s == NULL)
      return -1;
    nm_b64_encode(p, n, s, cap);
    cJSON_AddStringToObject(o, "data_b64", s);
    free(s);
  }
  return 0;
}

int nm_drv_payload(const cJSON *cmd, uint64_t k, char **out, size_t *n,
                   const char **why) {
  const char *data = nm_drv_str(cmd, "data");
  const char *b64 = nm_drv_str(cmd, "data_b64");
  int64_t size = nm_drv_int(cmd, "size", 0);
  char *buf;

  *out = NULL;
  *n = 0;
  if (data != NULL) {
    size_t len = strlen(data);
    if (len > NM_DRV_MAX_PAYLOAD) {
      *why = "data too large";
      return -1;
    }
    buf = malloc(len + 1);
    if (buf == NULL) {
      *why = "out of memory";
      return -1;
    }
    memcpy(buf, data, len + 1);
    *out = buf;
    *n = len;
    return 0;
  }
  if (b64 != NULL) {
    size_t len = strlen(b64);
    size_t cap = len / 4 * 3 + 1;
    ssize_t got;
    if (cap > NM_DRV_MAX_PAYLOAD) {
      *why = "data_b64 too large";
      return -1;
    }
    buf = malloc(cap);
    if (buf == NULL) {
      *why = "out of memory";
      return -1;
    }
    got = nm_b64_decode(b64, len, buf, cap);
    if (got < 0) {
      free(buf);
      *why = "data_b64 is not valid base64";
      return -1;
    }
    *out = buf;
    *n = (size_t)got;
    return 0;
  }
  if (size < 0 || size > NM_DRV_MAX_PAYLOAD) {
    *why = "size out of range";
    return -1;
  }
  {
    /* 20 digits hold any uint64_t; the payload is never shorter. */
    size_t cap = (size_t)size > 21 ? (size_t)size + 1 : 22;
    buf = malloc(cap);
    if (buf == NULL) {
      *why = "out of memory";
      return -1;
    }
    *n = nm_seq_payload(k, (size_t)size, buf, cap);
    *out = buf;
  }
  return 0;
}

int64_t nm_drv_int(const cJSON *o, const char *key, int64_t def) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsNumber(v))
    return def;
  if (v->valuedouble >= 9.2e18 || v->valuedouble <= -9.2e18)
    return def;
  return (int64_t)v->valuedouble;
}

int nm_drv_bool(const cJSON *o, const char *key, int def) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsBool(v))
    return def;
  return cJSON_IsTrue(v) ? 1 : 0;
}

const char *nm_drv_str(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

ssize_t nm_drv_read_line(FILE *in, char *buf, size_t cap) {
  size_t len = 0;
  int c, too_long = 0;

  while ((c = getc(in)) != EOF) {
    if (c == '\n')
      break;
    if (len + 1 < cap)
      buf[len++] = (char)c;
    else
      too_long = 1;
  }
  buf[len] = '\0';
  if (c == EOF && len == 0 && !too_long)
    return -1;
  if (too_long)
    return -2;
  /* A CR before the LF is tolerated, so a hand-typed CRLF session works. */
  if (len > 0 && buf[len - 1] == '\r')
    buf[--len] = '\0';
  return (ssize_t)len;
}

int nm_drv_cli(int argc, char **argv, const char *name, const char *version,
               const char *about) {
  for (int fd = 0; fd <= 2; fd++)
    if (fcntl(fd, F_GETFD) == -1 && open("/dev/null", O_RDWR) != fd)
      return 2;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--version") == 0) {
      printf("%s %s\n", name, version);
      return 0;
    }
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      printf("usage: %s [--version | --help]\n%s", name, about);
      return 0;
    }
    fprintf(stderr, "%s: unknown argument %s (try --help)\n", name, argv[i]);
    return 2;
  }
  return -1;
}
