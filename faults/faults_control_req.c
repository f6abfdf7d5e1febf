/* One control request brought by a transport other than NATS (the /mock/VERB
 * endpoints over HTTP, of the mock's monitoring port and of the proxy): which
 * methods each verb takes, the request turned into the $MOCK.<verb> payload,
 * the answer and its status. Nothing here depends on the HTTP module: the
 * hosts' endpoints hand over the method's name, the body and the since
 * argument, and answer with the status and JSON returned. */
#include <stdio.h>
#include <string.h>

#include "faults_int.h"

unsigned nm_faults_control_methods(const char *verb) {
  if (strcmp(verb, "rules") == 0)
    return NM_FAULTS_READ;
  if (strcmp(verb, "trace") == 0)
    return NM_FAULTS_READ | NM_FAULTS_CHANGE;
  if (strcmp(verb, "clear") == 0)
    return NM_FAULTS_CHANGE | NM_FAULTS_DELETE;
  if (strcmp(verb, "fault") == 0)
    return NM_FAULTS_CHANGE;
  return 0;
}

nm_faults_method_t nm_faults_method_named(const char *http_method) {
  if (strcmp(http_method, "GET") == 0 || strcmp(http_method, "HEAD") == 0)
    return NM_FAULTS_READ;
  if (strcmp(http_method, "POST") == 0 || strcmp(http_method, "PUT") == 0)
    return NM_FAULTS_CHANGE;
  if (strcmp(http_method, "DELETE") == 0)
    return NM_FAULTS_DELETE;
  return 0;
}

const char *nm_faults_control_allow(const char *verb) {
  switch (nm_faults_control_methods(verb)) {
  case NM_FAULTS_READ:
    return "GET, HEAD";
  case NM_FAULTS_READ | NM_FAULTS_CHANGE:
    return "GET, HEAD, POST, PUT";
  case NM_FAULTS_CHANGE | NM_FAULTS_DELETE:
    return "POST, PUT, DELETE";
  case NM_FAULTS_CHANGE:
    return "POST, PUT";
  }
  return "";
}

static int error(nm_buf_t *out, int status, const char *msg) {
  nm_buf_clear(out);
  nm__fcontrol_error(out, msg);
  (void)nm_buf_append(out, "", 1);
  return status;
}

int nm_faults_control_request(nm_faults_t *f, const char *verb,
                              nm_faults_method_t m, nm_slice_t body,
                              nm_slice_t since, nm_buf_t *out) {
  unsigned methods = nm_faults_control_methods(verb);
  nm_slice_t payload = {NULL, 0};
  char doc[96];
  size_t k;

  if (methods == 0)
    return error(out, 404,
                 "unknown control verb (use fault, rules, clear, "
                 "trace)");
  if ((methods & (unsigned)m) == 0)
    return error(out, 405, "method not allowed");
  if (m == NM_FAULTS_CHANGE) {
    payload = body;
  } else if (strcmp(verb, "trace") == 0 && since.p != NULL) {
    /* since=N is the payload {"since":N}; anything but digits is passed as
     * a string, which the engine refuses as $MOCK.trace does. */
    k = strspn(since.p, "0123456789");
    if (k > 0 && k == since.n && k < 64)
      snprintf(doc, sizeof(doc), "{\"since\":%.*s}", (int)k, since.p);
    else
      snprintf(doc, sizeof(doc), "{\"since\":\"?\"}");
    payload = (nm_slice_t){doc, strlen(doc)};
  }
  nm_buf_clear(out);
  if (nm_faults_control_local(f, verb, payload, out) != 0)
    return error(out, 404, "the control plane is off (--no_mock_control)");
  if (nm_buf_append(out, "", 1) != 0 || out->base == NULL)
    return error(out, 400, "answer too large");
  return strncmp(out->base, "{\"ok\":true", 10) == 0 ? 200 : 400;
}
