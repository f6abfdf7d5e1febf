/* The proxy's control port (--http_port): the fault engine's /mock/fault,
 * /mock/rules, /mock/clear and /mock/trace over HTTP, the same endpoints,
 * JSON and statuses as the mock's monitoring port (the engine's
 * nm_faults_control_request answers both). The proxy has no users: anyone
 * who reaches the port may use it (it listens on the proxy's own address,
 * 127.0.0.1 unless -a says otherwise). No monitoring endpoints: those are the
 * real server's. */
#include <stdio.h>
#include <string.h>

#include "nm_http.h"
#include "nm_proxy_int.h"

static void on_mock(void *data, const nm_http_req_t *req,
                    nm_http_resp_t *resp) {
  nm_proxy_t *px = data;
  const char *verb = req->path + strlen("/mock/");
  char since[64];
  long k;
  nm_buf_t out;

  /* The whole decoded length: a value cut by the buffer is refused. */
  k = nm_http_query_get(req->query, "since", since, sizeof(since));
  nm_buf_init(&out, NM_HTTP_MAX_OUT);
  /* What the actions write leaves together at the end, as for a document
   * given from C (nm_proxy_fault). */
  px->in_read++;
  resp->status = nm_faults_control_request(
      px->faults, verb, nm_faults_method_named(req->method),
      (nm_slice_t){req->body, req->body_len},
      (nm_slice_t){k > 0 ? since : NULL, k > 0 ? (size_t)k - 1 : 0}, &out);
  px->in_read--;
  if (px->in_read == 0)
    nm__proxy_flush_dirty(px);
  if (resp->status == 405)
    snprintf(resp->extra_headers, sizeof(resp->extra_headers), "Allow: %s\r\n",
             nm_faults_control_allow(verb));
  resp->content_type = "application/json";
  nm_buf_clear(&resp->body);
  (void)nm_buf_append_str(&resp->body, out.base ? out.base : "{}");
  nm_buf_free(&out);
}

int nm__proxy_http_start(nm_proxy_t *px) {
  static const char *const kPaths[] = {"/mock/fault", "/mock/rules",
                                       "/mock/clear", "/mock/trace"};
  size_t i;
  int r;

  px->http = nm_http_server_new(px->loop);
  if (px->http == NULL)
    return NM_ENOMEM;
  /* Without the control plane (--no_mock_control) the paths are not
   * routed: 404, as on the mock's monitoring port. */
  for (i = 0; i < sizeof(kPaths) / sizeof(kPaths[0]); i++)
    if (!px->opts.no_mock_control &&
        (r = nm_http_route(px->http, kPaths[i], on_mock, px)) != 0)
      return r;
  return nm_http_listen(px->http, px->opts.host,
                        px->opts.http_port > 0 ? px->opts.http_port : 0);
}

static void http_closed(void *data) {
  nm__proxy_handle_closed(data);
}

void nm__proxy_http_stop(nm_proxy_t *px) {
  nm_http_server_t *h = px->http;
  if (h == NULL)
    return;
  px->http = NULL;
  px->handles++;
  nm_http_close(h, http_closed, px);
}

int nm_proxy_http_port(const nm_proxy_t *p) {
  return p->http != NULL ? nm_http_port(p->http) : 0;
}
