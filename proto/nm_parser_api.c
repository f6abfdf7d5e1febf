/* The parser's lifecycle, settings and accessors (see nm_parser.h). */
#include <stdlib.h>
#include <string.h>

#include "nm_parser_int.h"

int nm_parser_init(nm_parser_t *p, nm_parse_mode_t mode, nm_frame_cb cb,
                   void *data) {
  if (p == NULL || (mode != NM_PARSE_CLIENT_OPS && mode != NM_PARSE_SERVER_OPS))
    return NM_EINVAL;
  memset(p, 0, sizeof(*p));
  p->mode = mode;
  p->cb = cb;
  p->data = data;
  p->max_control_line = NM_DEFAULT_MAX_CONTROL_LINE;
  p->max_payload = mode == NM_PARSE_CLIENT_OPS ? NM_DEFAULT_MAX_PAYLOAD : -1;
  p->state = ST_START;
  return 0;
}

void nm_parser_free(nm_parser_t *p) {
  if (p == NULL)
    return;
  p->gen++;
  free(p->scratch);
  free(p->pbuf);
  p->scratch = NULL;
  p->scratch_cap = 0;
  p->pbuf = NULL;
  p->pbuf_cap = 0;
  nm__parser_frame_reset(p);
}

void nm_parser_reset(nm_parser_t *p) {
  p->gen++;
  nm__parser_frame_reset(p);
  memset(&p->frame, 0, sizeof(p->frame));
  p->op = NM_OP_NONE;
  p->oplen = 0;
  p->opmask = 0;
  p->err = 0;
  p->why = NM_PERR_NONE;
  p->errmsg[0] = '\0';
}

void nm_parser_pause(nm_parser_t *p) {
  p->pause = 1;
}

void nm_parser_set_limits(nm_parser_t *p, int64_t max_control_line,
                          int64_t max_payload) {
  if (max_control_line == 0)
    max_control_line = NM_DEFAULT_MAX_CONTROL_LINE;
  if (max_control_line < 0)
    max_control_line = -1;
  if (max_control_line > NM_PARSER_SCRATCH_MAX)
    max_control_line = NM_PARSER_SCRATCH_MAX;
  p->max_control_line = max_control_line;
  p->max_payload = max_payload;
}

void nm_parser_set_flags(nm_parser_t *p, unsigned flags) {
  p->flags = flags;
}

unsigned nm_parser_flags(const nm_parser_t *p) {
  return p->flags;
}

size_t nm_parser_frame_end(const nm_parser_t *p) {
  return p->frame_end;
}

nm_perr_t nm_parser_error(const nm_parser_t *p) {
  return p->why;
}

const char *nm_parser_errmsg(const nm_parser_t *p) {
  if (p->err == 0)
    return "no error";
  return p->errmsg;
}

int nm_parser_in_frame(const nm_parser_t *p) {
  return p->state != ST_START;
}

const nm_frame_t *nm_parser_pending_payload(const nm_parser_t *p) {
  if (p->err == 0 &&
      (p->state == ST_PAYLOAD || p->state == ST_END_R || p->state == ST_END_N))
    return &p->frame;
  return NULL;
}

const char *nm_op_name(nm_op_t op) {
  switch (op) {
  case NM_OP_NONE:
    return "NONE";
  case NM_OP_CONNECT:
    return "CONNECT";
  case NM_OP_INFO:
    return "INFO";
  case NM_OP_PUB:
    return "PUB";
  case NM_OP_HPUB:
    return "HPUB";
  case NM_OP_SUB:
    return "SUB";
  case NM_OP_UNSUB:
    return "UNSUB";
  case NM_OP_MSG:
    return "MSG";
  case NM_OP_HMSG:
    return "HMSG";
  case NM_OP_PING:
    return "PING";
  case NM_OP_PONG:
    return "PONG";
  case NM_OP_OK:
    return "+OK";
  case NM_OP_ERR:
    return "-ERR";
  }
  return "?";
}
