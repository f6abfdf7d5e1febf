/* /mock/fault, /mock/rules, /mock/clear, /mock/trace: the $MOCK.* control
 * requests over HTTP, for tools that speak no NATS. The fault engine answers
 * them (nm_faults_control_request: the same JSON bodies and answers, 200 for
 * {"ok":true,...}, 400 for {"ok":false,...}); here only the methods and who
 * may ask. The proxy mounts the same function (proxy/proxy_http.c).
 *
 * Methods: GET or HEAD reads (rules, trace), POST or PUT carries a body
 * (fault, clear, trace), DELETE clears; anything else 405 with Allow.
 *
 * Who may use them: with no auth configured, anyone who reaches the port (as
 * $MOCK). With auth configured, only a request carrying the credentials of a
 * user the server would accept (HTTP Basic user:password for user/password
 * and users lists, "Authorization: Bearer TOKEN" for a token), whose publish
 * permissions allow $MOCK.<verb>: 401 without valid credentials, 403 when
 * the user may not publish there. no_auth_user lets nobody in here. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "monitor_int.h"

/* Longest Authorization value decoded. */
#define NM_MOCK_AUTH_MAX 1024

static void answer(nm_http_resp_t *resp, int status, const char *json) {
  resp->status = status;
  resp->content_type = "application/json";
  nm_buf_clear(&resp->body);
  (void)nm_buf_append_str(&resp->body, json);
}

static void answer_error(nm_http_resp_t *resp, int status, const char *msg) {
  nm_buf_t b;
  nm__jw_t w;
  nm_buf_init(&b, NM_HTTP_MAX_OUT);
  nm__jw_init(&w, &b, 0);
  nm__jw_obj(&w, NULL);
  nm__jw_bool(&w, "ok", 0);
  nm__jw_str(&w, "error", msg);
  nm__jw_end_obj(&w);
  (void)nm_buf_append(&b, "", 1);
  answer(resp, status, b.base ? b.base : "{}");
  nm_buf_free(&b);
}

/* 1: allowed; 0: answered 401 or 403 in resp. */
static int authorized(nm_monitor_t *m, const nm_http_req_t *req,
                      nm_http_resp_t *resp, const char *verb) {
  nm_server_t *s = m->srv;
  const char *h = nm_http_header(req, "Authorization");
  char dec[NM_MOCK_AUTH_MAX + 1], subject[64];
  const char *user = NULL, *pass = NULL, *token = NULL;
  const nm__perm_t *perms = NULL;
  size_t n = 0;
  int ok = 0;

  if (!nm__auth_required(s->auth, &s->opts))
    return 1;
  if (h && strncasecmp(h, "Basic ", 6) == 0 &&
      sodium_base642bin((unsigned char *)dec, NM_MOCK_AUTH_MAX, h + 6,
                        strlen(h + 6), NULL, &n, NULL,
                        sodium_base64_VARIANT_ORIGINAL) == 0) {
    char *colon;
    dec[n] = 0;
    colon = strchr(dec, ':');
    if (colon && strlen(dec) == n) {
      *colon = 0;
      user = dec;
      pass = colon + 1;
    }
  } else if (h && strncasecmp(h, "Bearer ", 7) == 0) {
    token = h + 7;
  }
  /* As a CONNECT with these credentials would be. */
  if (user || token)
    ok = nm__auth_check(s->auth, &s->opts, user, pass, token, &perms);
  if (!ok) {
    snprintf(resp->extra_headers, sizeof(resp->extra_headers),
             "Www-Authenticate: Basic realm=\"natsmock\"\r\n");
    answer_error(resp, 401,
                 "the server requires auth: /mock needs the credentials of "
                 "a user (Authorization: Basic user:password, or Bearer "
                 "token)");
    return 0;
  }
  snprintf(subject, sizeof(subject), "$MOCK.%s", verb);
  if (perms) {
    nm__replies_t *replies = NULL;
    ok = nm__perm_pub(perms, &replies, (nm_slice_t){subject, strlen(subject)},
                      nm__now_ms(s));
    nm__replies_free(replies);
  }
  if (!ok) {
    char msg[128];
    snprintf(msg, sizeof(msg), "Permissions Violation for Publish to \"%s\"",
             subject);
    answer_error(resp, 403, msg);
    return 0;
  }
  return 1;
}

void nm__mon_mock(void *data, const nm_http_req_t *req, nm_http_resp_t *resp) {
  nm_monitor_t *m = data;
  const char *verb = req->path + strlen("/mock/");
  nm_faults_method_t method = nm_faults_method_named(req->method);
  char since[64];
  long k;
  nm_buf_t out;
  int status;

  /* 405 before 401: the method is wrong whoever asks. */
  if ((nm_faults_control_methods(verb) & (unsigned)method) == 0) {
    snprintf(resp->extra_headers, sizeof(resp->extra_headers), "Allow: %s\r\n",
             nm_faults_control_allow(verb));
    answer_error(resp, 405, "method not allowed");
    return;
  }
  if (!authorized(m, req, resp, verb))
    return;
  /* The whole decoded length: a value cut by the buffer is refused. */
  k = nm_http_query_get(req->query, "since", since, sizeof(since));
  nm_buf_init(&out, NM_HTTP_MAX_OUT);
  status = nm_faults_control_request(
      m->srv->faults, verb, method, (nm_slice_t){req->body, req->body_len},
      (nm_slice_t){k > 0 ? since : NULL, k > 0 ? (size_t)k - 1 : 0}, &out);
  answer(resp, status, out.base ? out.base : "{}");
  nm_buf_free(&out);
}
