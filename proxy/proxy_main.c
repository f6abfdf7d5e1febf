/* The proxy as a program (natsmock --proxy URL, or natsmock-proxy URL). */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nm_proxy_int.h"
#include "nm_version.h"

static void usage(FILE *f) {
  fprintf(f,
          "Usage: natsmock --proxy nats://HOST:PORT [options]\n"
          "       natsmock-proxy nats://HOST:PORT [options]\n"
          "\n"
          "Accepts NATS clients and connects each one to the upstream server,\n"
          "passing every frame through the fault engine (docs/proxy.md).\n"
          "\n"
          "  -a, --addr <host>          Listen address (default 127.0.0.1)\n"
          "  -p, --port <port>          Listen port (default 4222; -1 or 0: "
          "random)\n"
          "  -m, --http_port <port>     HTTP control port, /mock/* (-1: "
          "random; no auth)\n"
          "      --faults <file>        Fault document (JSON) applied at "
          "start\n"
          "      --seed <n>             Seed for random splits\n"
          "      --keep-connect-urls    Pass the upstream's connect_urls "
          "unchanged\n"
          "      --no_mock_control      No $MOCK.* control, no /mock "
          "endpoints\n"
          "  -V, --trace                Every frame of both legs on stderr\n"
          "  -h, --help                 Show this message\n"
          "      --version              Print the version and exit\n");
}

static uv_signal_t g_sigint, g_sigterm;

static void on_signal(uv_signal_t *s, int signum) {
  nm_proxy_t *px = s->data;
  uv_close((uv_handle_t *)&g_sigint, NULL);
  uv_close((uv_handle_t *)&g_sigterm, NULL);
  nm_proxy_stop(px, NULL, NULL);
}

static int parse_int(const char *flag, const char *v, long lo, long hi,
                     long *out) {
  char *end;
  long n = strtol(v, &end, 10);
  if (*v == '\0' || *end != '\0' || n < lo || n > hi) {
    fprintf(stderr, "natsmock: %s %s: expected a number from %ld to %ld\n",
            flag, v, lo, hi);
    return -1;
  }
  *out = n;
  return 0;
}

int nm_proxy_main(int argc, char **argv) {
  static const struct option longs[] = {
      {"proxy", required_argument, NULL, 'P'},
      {"addr", required_argument, NULL, 'a'},
      {"net", required_argument, NULL, 'a'},
      {"port", required_argument, NULL, 'p'},
      {"http_port", required_argument, NULL, 'm'},
      {"faults", required_argument, NULL, 'f'},
      {"no_mock_control", no_argument, NULL, 'n'},
      {"seed", required_argument, NULL, 's'},
      {"keep-connect-urls", no_argument, NULL, 'k'},
      {"trace", no_argument, NULL, 'V'},
      {"help", no_argument, NULL, 'h'},
      {"version", no_argument, NULL, 'v'},
      {NULL, 0, NULL, 0},
  };
  nm_proxy_opts_t o;
  nm_proxy_t *px = NULL;
  char err[512], url[300];
  long v;
  int c, r;

  nm_proxy_opts_init(&o);
  o.port = 4222;
  optind = 1;
  while ((c = getopt_long(argc, argv, "a:p:m:Vh", longs, NULL)) != -1) {
    switch (c) {
    case 'P':
      o.upstream = optarg;
      break;
    case 'a':
      o.host = optarg;
      break;
    case 'p':
      if (parse_int("--port", optarg, -1, 65535, &v) != 0)
        return 1;
      o.port = v < 0 ? 0 : (int)v;
      break;
    case 'm':
      if (parse_int("--http_port", optarg, -1, 65535, &v) != 0)
        return 1;
      o.http_port = (int)v;
      break;
    case 'n':
      o.no_mock_control = 1;
      break;
    case 'f':
      o.faults_file = optarg;
      break;
    case 's':
      if (parse_int("--seed", optarg, 0, __LONG_MAX__, &v) != 0)
        return 1;
      o.seed = (uint64_t)v;
      break;
    case 'k':
      o.keep_connect_urls = 1;
      break;
    case 'V':
      o.trace = 1;
      break;
    case 'h':
      usage(stdout);
      return 0;
    case 'v':
      printf("natsmock-proxy %s\n", NM_VERSION);
      return 0;
    default:
      usage(stderr);
      return 1;
    }
  }
  if (optind < argc && o.upstream == NULL)
    o.upstream = argv[optind++];
  if (optind < argc) {
    fprintf(stderr, "natsmock: unexpected argument %s\n", argv[optind]);
    return 1;
  }
  if (o.upstream == NULL) {
    fprintf(stderr, "natsmock: --proxy needs the upstream URL, e.g. "
                    "--proxy nats://127.0.0.1:4222\n");
    return 1;
  }
  if ((r = nm_proxy_new(uv_default_loop(), &o, &px, err, sizeof(err))) != 0) {
    fprintf(stderr, "natsmock: %s\n", err);
    return 1;
  }
  if ((r = nm_proxy_start(px)) != 0) {
    if (nm_proxy_port(px) == 0 || o.http_port == 0)
      fprintf(stderr, "natsmock: listen on %s:%d: %s\n", o.host, o.port,
              uv_strerror(r));
    else
      fprintf(stderr, "natsmock: --http_port: listen on %s:%d: %s\n", o.host,
              o.http_port, uv_strerror(r));
    nm_proxy_stop(px, NULL, NULL);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    nm_proxy_free(px);
    return 1;
  }
  uv_signal_init(uv_default_loop(), &g_sigint);
  uv_signal_init(uv_default_loop(), &g_sigterm);
  g_sigint.data = g_sigterm.data = px;
  uv_signal_start(&g_sigint, on_signal, SIGINT);
  uv_signal_start(&g_sigterm, on_signal, SIGTERM);
  /* The control port first: once the "listening" line is out, both are
   * open (scripts wait for that line). */
  if (nm_proxy_http_port(px) != 0)
    fprintf(stderr, "natsmock: proxy control (/mock/*) on http://%s%s%s:%d\n",
            strchr(o.host, ':') ? "[" : "", o.host,
            strchr(o.host, ':') ? "]" : "", nm_proxy_http_port(px));
  fprintf(stderr, "natsmock: proxy listening on %s, upstream %s:%d\n",
          nm_proxy_url(px, url, sizeof(url)), px->up_host, px->up_port);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  nm_proxy_free(px);
  uv_loop_close(uv_default_loop());
  return 0;
}
