/* nats-server's config-file syntax read into a tree of typed values, as its
 * conf package does (conf/lex.go, conf/parse.go of 2.9.10): `key: value`,
 * `key = value` or `key value`; maps in braces, arrays in brackets; quoted
 * and bare strings; integers with size suffixes (1k, 1KB, 1MB...); floats;
 * booleans (true/false/yes/no/on/off); `$name` variables (an earlier key, or
 * the environment); `include FILE`; comments with # or //. The typed tree is
 * what lets config.c answer as nats-server does (a string where it wants an
 * integer is an error there, and here). */
#ifndef NM_CONFIG_TREE_H
#define NM_CONFIG_TREE_H

#include <stddef.h>
#include <stdint.h>

/* A config file larger than this is refused. */
#define NM_CONFIG_MAX (1024 * 1024)
/* Longest key or value kept. */
#define NM_CONFIG_TOKEN_MAX 4096
/* Deepest map/array nesting followed. */
#define NM_CONFIG_DEPTH_MAX 16
/* Deepest chain of includes. */
#define NM_CONFIG_INCLUDE_MAX 8
/* Most values in one configuration (all files). */
#define NM_CONFIG_NODES_MAX 100000

typedef enum {
  NM_CV_STR,
  NM_CV_INT,
  NM_CV_FLOAT,
  NM_CV_BOOL,
  NM_CV_MAP,
  NM_CV_ARRAY,
} nm_cv_type_t;

typedef struct nm_cv_s nm_cv_t;
struct nm_cv_s {
  nm_cv_type_t type;
  char *key;        /* a map member's key; NULL in arrays */
  int line, col;    /* of the key (of the value in arrays), as nats-server */
  const char *file; /* the file it came from (for messages) */
  char *s;          /* STR */
  int64_t i;        /* INT */
  double f;         /* FLOAT */
  int b;            /* BOOL */
  nm_cv_t *child;   /* MAP members, ARRAY items */
  nm_cv_t *next;
};

typedef struct nm_cv_doc_s nm_cv_doc_t;

/* Reads path into a tree (the root is a MAP). Returns 0, or -1 with
 * nats-server's message in err. */
int nm_cv_parse_file(const char *path, nm_cv_doc_t **doc, char *err,
                     size_t errlen);
/* The same from text; name is used in messages and for includes (its
 * folder). */
int nm_cv_parse_text(const char *text, size_t n, const char *name,
                     nm_cv_doc_t **doc, char *err, size_t errlen);
nm_cv_t *nm_cv_root(nm_cv_doc_t *doc);
void nm_cv_free(nm_cv_doc_t *doc);
/* Go's name of the value's type, for nats-server's "interface conversion:
 * interface {} is string, not int64". */
const char *nm_cv_go_type(const nm_cv_t *v);

#endif
