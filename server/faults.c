/* Placeholder fault engine: no rules, every frame passes. Replaced by the
 * real engine (see nm_conn_api.h for the contract). */
#include <stdio.h>
#include <stdlib.h>

#include "nm_conn_api.h"

struct nm_faults_s {
  nm_server_t *srv;
};

nm_faults_t *nm__faults_new(nm_server_t *s) {
  nm_faults_t *f = calloc(1, sizeof(*f));
  if (f)
    f->srv = s;
  return f;
}
void nm__faults_free(nm_faults_t *f) {
  free(f);
}
void nm__faults_stop(nm_faults_t *f) {}
int nm__faults_active(const nm_faults_t *f) {
  return 0;
}
int nm__faults_inbound(nm_faults_t *f, nm_conn_t *c, const nm_frame_t *fr,
                       nm_slice_t bytes) {
  return NM_FAULT_PASS;
}
int nm__faults_outbound(nm_faults_t *f, nm_conn_t *c, const nm_frame_t *fr,
                        nm_slice_t bytes) {
  return NM_FAULT_PASS;
}
void nm__faults_conn_open(nm_faults_t *f, nm_conn_t *c) {}
void nm__faults_conn_close(nm_faults_t *f, nm_conn_t *c) {}
void nm__faults_control(nm_faults_t *f, nm_conn_t *c, nm_slice_t subject,
                        nm_slice_t reply, nm_slice_t payload) {}
int nm__faults_apply(nm_faults_t *f, const char *json, nm_buf_t *result,
                     char *err, size_t errlen) {
  snprintf(err, errlen, "fault engine not built yet");
  return NM_EINVAL;
}
