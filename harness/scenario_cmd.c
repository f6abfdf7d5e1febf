/* What a command step may carry: the fields of each driver op
 * (docs/DRIVER-PROTOCOL.md), and the known driver features. A field or a
 * feature not listed here is a typo until the protocol says otherwise, so
 * the loader rejects it instead of sending a command that checks nothing. */
#include "nm_scenario.h"

#include <stdio.h>
#include <string.h>

typedef struct {
  const char *op;
  const char *const *fields; /* NULL-terminated */
} op_fields_t;

static const char *const f_connect[] = {
    "servers", "name", "user", "pass", "token", "verbose", "pedantic", "echo",
    "timeout_ms", "reconnect", "max_reconnect", "reconnect_wait_ms",
    "reconnect_jitter_ms", "reconnect_buf_bytes", "ping_interval_ms",
    "max_pings_out", "drain_timeout_ms", "no_randomize",
    /* the raw driver's own (harness/drivers/raw/README.md) */
    "no_responders", "handshake", "misbehave", NULL};
static const char *const f_publish[] = {"subject", "reply", "data", "data_b64",
                                        "headers", "count", "size", NULL};
static const char *const f_subscribe[] = {"sub",
                                          "subject",
                                          "queue",
                                          "max",
                                          "delay_ms",
                                          "reply_with",
                                          "pending_msgs_limit",
                                          "pending_bytes_limit",
                                          "on_msg",
                                          NULL};
static const char *const f_unsubscribe[] = {"sub", "max", NULL};
static const char *const f_timeout[] = {"timeout_ms", NULL};
static const char *const f_drain_sub[] = {"sub", "timeout_ms", NULL};
static const char *const f_request[] = {"subject", "data",       "data_b64",
                                        "headers", "timeout_ms", NULL};
static const char *const f_none[] = {NULL};
static const char *const f_send[] = {"data", "data_b64", NULL};
static const char *const f_batch[] = {"commands", NULL};

static const op_fields_t ops[] = {
    {"connect", f_connect},     {"publish", f_publish},
    {"subscribe", f_subscribe}, {"unsubscribe", f_unsubscribe},
    {"flush", f_timeout},       {"drain_sub", f_drain_sub},
    {"drain", f_timeout},       {"request", f_request},
    {"close", f_none},          {"send", f_send},
    {"batch", f_batch},         {"info", f_none},
};

/* Features a driver may announce in hello (DRIVER-PROTOCOL.md). */
static const char *const features[] = {
    "headers",   "queue",         "auto_unsub", "flush",     "drain_sub",
    "drain",     "request",       "no_echo",    "reconnect", "reconnect_buffer",
    "lame_duck", "slow_consumer", "verbose",    "pedantic",  "user_pass",
    "token",     "raw",           "batch",      "on_msg",    "info",
};

int nm_scenario_op_known(const char *op) {
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
    if (strcmp(ops[i].op, op) == 0)
      return 1;
  return 0;
}

int nm_scenario_op_field_known(const char *op, const char *field) {
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
    if (strcmp(ops[i].op, op) != 0)
      continue;
    for (const char *const *f = ops[i].fields; *f; f++)
      if (strcmp(*f, field) == 0)
        return 1;
    return 0;
  }
  return 0;
}

int nm_scenario_feature_known(const char *feature) {
  for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
    if (strcmp(features[i], feature) == 0)
      return 1;
  return 0;
}

void nm_scenario_op_fields(const char *op, char *out, size_t n) {
  size_t len = 0;
  out[0] = '\0';
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
    if (strcmp(ops[i].op, op) != 0)
      continue;
    for (const char *const *f = ops[i].fields; *f && len < n; f++)
      len += (size_t)snprintf(out + len, n - len, "%s%s", len ? ", " : "", *f);
  }
  if (!out[0])
    snprintf(out, n, "no fields");
}
