/* Helpers shared by the fault-document readers (faults_json.c: rules,
 * faults_json_do.c: direct actions): typed field access on cJSON objects
 * with error messages that name the field. Internal to server/faults*. */
#ifndef NM_FAULTS_JSON_H
#define NM_FAULTS_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "faults_int.h"

#define NM_FJ_OPBIT(op) (1u << (unsigned)(op))
/* Ops only the server sends, and only a client sends. */
#define NM_FJ_SERVER_ONLY (NM_FJ_OPBIT(NM_OP_MSG) | NM_FJ_OPBIT(NM_OP_HMSG))
#define NM_FJ_CLIENT_ONLY                                                      \
  (NM_FJ_OPBIT(NM_OP_CONNECT) | NM_FJ_OPBIT(NM_OP_PUB) |                       \
   NM_FJ_OPBIT(NM_OP_HPUB) | NM_FJ_OPBIT(NM_OP_SUB) |                          \
   NM_FJ_OPBIT(NM_OP_UNSUB))

/* Formats the message into err; returns NM_EINVAL. */
int nm__fj_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Every key of o is in names (NULL-terminated), starts with '_' or is
 * "comment"; else an error "WHERE.KEY: unknown field". */
int nm__fj_check_keys(const cJSON *o, const char *const *names,
                      const char *where, char *err, size_t errlen);
const cJSON *nm__fj_get(const cJSON *o, const char *key);
/* A whole JSON number in uint64 range. Returns 1 and sets *out. */
int nm__fj_as_uint(const cJSON *v, uint64_t *out);
/* Optional fields: absent leaves *out untouched and returns 0. */
int nm__fj_uint(const cJSON *o, const char *key, uint64_t min, uint64_t max,
                uint64_t *out, const char *where, char *err, size_t errlen);
int nm__fj_bool(const cJSON *o, const char *key, int *out, const char *where,
                char *err, size_t errlen);
/* A string of 1 to NM_FAULT_FIELD_MAX - 1 bytes (numbers too when
 * numbers_ok), malloc'd into *out (NULL when absent). */
int nm__fj_str(const cJSON *o, const char *key, int numbers_ok, char **out,
               const char *where, char *err, size_t errlen);
int nm__fj_has_space(const char *s);
/* Op by name (case-insensitive, "+OK"/"-ERR" too); NM_OP_NONE if unknown. */
nm_op_t nm__fj_verb_op(const char *name);
/* The name of the lowest op in a bit set. */
const char *nm__fj_op_name_of(uint32_t bits);
/* "conn": a number, "last", "all", "this" or {"name": NAME}; def when
 * absent. Sets a->sel, a->conn_id and a->conn_name. */
int nm__fj_conn(const cJSON *o, nm__fconn_sel_t def, int in_then,
                nm__fdirect_t *a, const char *where, char *err, size_t errlen);
/* A rule id: 1 to NM_FAULT_ID_MAX - 1 of letters, digits, - _ . : */
int nm__fj_valid_id(const char *s);

#endif
