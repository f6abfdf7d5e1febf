/* Frames the engine makes up for the "send" action, encoded exactly as the
 * core encodes its own (proto/nm_encode.h). */
#include <string.h>

#include "faults_int.h"
#include "nm_encode.h"

static nm_slice_t sl(const char *s) {
  nm_slice_t r = {s, s != NULL ? strlen(s) : 0};
  return r;
}

int nm__fframe_build(nm_faults_t *f, nm_hconn_t *c, const nm__fdirect_t *a,
                     nm_buf_t *out, nm_frame_t *fr) {
  nm_buf_t json, payload;
  int rc;

  memset(fr, 0, sizeof(*fr));
  fr->op = a->op;
  switch (a->op) {
  case NM_OP_MSG:
    fr->subject = sl(a->subject);
    fr->sid = sl(a->sid);
    fr->reply = sl(a->reply);
    fr->payload.p = a->data != NULL ? a->data : "";
    fr->payload.n = a->len;
    rc = nm_encode_msg(out, fr->subject, fr->sid, fr->reply, fr->payload);
    break;
  case NM_OP_HMSG:
    /* Header block then body, as one payload. */
    nm_buf_init(&payload, NM_FAULT_DATA_MAX * 2 + 1);
    rc = nm_buf_append(&payload, a->hdrs, a->hdr_len);
    if (rc == 0 && a->len > 0)
      rc = nm_buf_append(&payload, a->data, a->len);
    if (rc == 0) {
      fr->subject = sl(a->subject);
      fr->sid = sl(a->sid);
      fr->reply = sl(a->reply);
      fr->hdr_len = a->hdr_len;
      rc = nm_encode_hmsg(out, fr->subject, fr->sid, fr->reply, a->hdr_len,
                          (nm_slice_t){payload.base, payload.len});
    }
    nm_buf_free(&payload);
    /* The frame's payload must outlive `payload`: point it into `out`,
     * where it follows the control line. */
    if (rc == 0) {
      size_t total = a->hdr_len + a->len;
      fr->payload.p = out->base + out->len - 2 - total;
      fr->payload.n = total;
    }
    break;
  case NM_OP_PING:
    rc = nm_encode_ping(out);
    break;
  case NM_OP_PONG:
    rc = nm_encode_pong(out);
    break;
  case NM_OP_OK:
    rc = nm_encode_ok(out);
    break;
  case NM_OP_ERR:
    rc = nm_encode_err(out, a->text);
    if (rc == 0) {
      /* The text as sent, quotes included (as the parser reports it). */
      fr->text.p = out->base + 5;
      fr->text.n = out->len - 7;
    }
    break;
  case NM_OP_INFO:
    nm_buf_init(&json, NM_FAULT_DATA_MAX);
    rc = nm__fh_info(f, c, a->fields, &json);
    if (rc == 0)
      rc = nm_encode_info(out, (nm_slice_t){json.base, json.len});
    nm_buf_free(&json);
    if (rc == 0) {
      /* "INFO " json " \r\n" */
      fr->json.p = out->base + 5;
      fr->json.n = out->len - 8;
    }
    break;
  default:
    return NM_EINVAL;
  }
  if (rc == 0) {
    const char *eol = memchr(out->base, '\n', out->len);
    fr->line.p = out->base;
    fr->line.n = eol != NULL ? (size_t)(eol - out->base) : out->len;
    if (fr->line.n > 0 && out->base[fr->line.n - 1] == '\r')
      fr->line.n--;
  }
  return rc;
}
