/* /varz: nats-server 2.9.10's Varz, field by field in its order. What
 * natsmock has no feature for is written as nats-server writes it with the
 * feature off (cluster, gateway, leaf, mqtt, websocket and jetstream as {},
 * routes/remotes/leafnodes 0, https_port 0, tls_timeout 2); fields Go omits
 * when empty are omitted the same way. system_account is left out: natsmock
 * has no system account. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "monitor_int.h"

/* Resident memory in bytes (what nats-server's pse reports as mem). */
static int64_t rss_bytes(void) {
  long pages = 0, rss = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f == NULL)
    return 0;
  if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
    rss = 0;
  fclose(f);
  return (int64_t)rss * sysconf(_SC_PAGESIZE);
}

/* CPU use in percent since the monitor started, to one decimal. */
static double cpu_percent(const nm_monitor_t *m) {
  struct rusage ru;
  double busy, wall;
  if (getrusage(RUSAGE_SELF, &ru) != 0)
    return 0;
  busy = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
         ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
  wall = (double)(uv_hrtime() - m->start_hr) / 1e9;
  if (wall <= 0)
    return 0;
  return round(busy / wall * 1000.0) / 10.0;
}

void nm__mon_varz(void *data, const nm_http_req_t *req, nm_http_resp_t *resp) {
  nm_monitor_t *m = data;
  nm_server_t *s = m->srv;
  const nm_server_opts_t *o = &s->opts;
  nm_buf_t b;
  nm__jw_t w;
  char t[64];
  uint64_t now = nm__wall_ns();
  long cores = sysconf(_SC_NPROCESSORS_ONLN);

  m->req_stats[NM_MON_VARZ]++;
  nm_buf_init(&b, NM_HTTP_MAX_OUT);
  nm__jw_init(&w, &b, 1);
  nm__jw_obj(&w, NULL);
  nm__jw_str(&w, "server_id", s->server_id);
  nm__jw_str(&w, "server_name",
             o->server_name && o->server_name[0] ? o->server_name
                                                 : s->server_id);
  nm__jw_str(&w, "version", "2.9.10");
  nm__jw_int(&w, "proto", 1);
  nm__jw_str(&w, "go", "natsmock");
  nm__jw_str(&w, "host", o->host);
  nm__jw_int(&w, "port", nm_server_port(s));
  if (o->user || o->token || nm__auth_has_users(s->auth))
    nm__jw_bool(&w, "auth_required", 1);
  nm__jw_int(&w, "max_connections", o->max_connections);
  if (o->max_subs > 0)
    nm__jw_int(&w, "max_subscriptions", o->max_subs);
  nm__jw_int(&w, "ping_interval", (int64_t)o->ping_interval_ms * 1000000);
  nm__jw_int(&w, "ping_max", o->ping_max);
  nm__jw_str(&w, "http_host", m->host);
  nm__jw_int(&w, "http_port", m->config_port);
  nm__jw_str(&w, "http_base_path", "");
  nm__jw_int(&w, "https_port", 0);
  nm__jw_float(&w, "auth_timeout", (double)o->auth_timeout_ms / 1000.0);
  nm__jw_int(&w, "max_control_line", o->max_control_line);
  nm__jw_int(&w, "max_payload", s->info_max_payload);
  nm__jw_int(&w, "max_pending", o->max_pending);
  static const char *const kOff[] = {"cluster", "gateway",   "leaf",
                                     "mqtt",    "websocket", "jetstream"};
  for (size_t i = 0; i < sizeof(kOff) / sizeof(kOff[0]); i++) {
    nm__jw_obj(&w, kOff[i]);
    nm__jw_end_obj(&w);
  }
  nm__jw_float(&w, "tls_timeout", 2);
  nm__jw_int(&w, "write_deadline", (int64_t)o->write_deadline_ms * 1000000);
  nm__go_time(m->start_wall_ns, t, sizeof(t));
  nm__jw_str(&w, "start", t);
  nm__go_time(now, t, sizeof(t));
  nm__jw_str(&w, "now", t);
  nm__go_uptime(uv_hrtime() - m->start_hr, t, sizeof(t));
  nm__jw_str(&w, "uptime", t);
  nm__jw_int(&w, "mem", rss_bytes());
  nm__jw_int(&w, "cores", cores > 0 ? cores : 1);
  nm__jw_int(&w, "gomaxprocs", cores > 0 ? cores : 1);
  nm__jw_float(&w, "cpu", cpu_percent(m));
  nm__jw_int(&w, "connections", s->nconns);
  nm__jw_uint(&w, "total_connections", s->next_cid);
  nm__jw_int(&w, "routes", 0);
  nm__jw_int(&w, "remotes", 0);
  nm__jw_int(&w, "leafnodes", 0);
  nm__jw_uint(&w, "in_msgs", s->in_msgs);
  nm__jw_uint(&w, "out_msgs", s->out_msgs);
  nm__jw_uint(&w, "in_bytes", s->in_bytes);
  nm__jw_uint(&w, "out_bytes", s->out_bytes);
  nm__jw_uint(&w, "slow_consumers", s->slow_consumers);
  nm__jw_uint(&w, "subscriptions", s->subs.nsubs);
  nm__jw_obj(&w, "http_req_stats");
  for (int i = 0; i < NM_MON_NPATHS; i++)
    if (m->req_stats[i] > 0)
      nm__jw_uint(&w, nm__mon_paths[i], m->req_stats[i]);
  nm__jw_end_obj(&w);
  nm__go_time(m->start_wall_ns, t, sizeof(t));
  nm__jw_str(&w, "config_load_time", t);
  nm__jw_end_obj(&w);
  nm__mon_json_done(req, resp, &b, w.err);
  nm_buf_free(&b);
}
