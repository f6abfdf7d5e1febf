/* natsmock-proxy: the proxy alone (the same as `natsmock --proxy`). */
#include "nm_proxy.h"

int main(int argc, char **argv) {
  return nm_proxy_main(argc, argv);
}
