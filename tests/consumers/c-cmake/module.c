/* A shared object with the static natsmock library inside: links only when
 * libnatsmock.a was built position-independent. */
#include <natsmock/natsmock.h>

int consumer_module_start(nm_server_t **out) {
  nm_server_opts_t o;
  nm_server_opts_init(&o);
  return nm_server_start_thread(&o, out);
}
