/* natsmock's version, in one place: every program's --version and start
 * line, the harness's reports and the installed packages read it
 * (CMakeLists.txt checks that project(VERSION) agrees). The INFO the mock
 * sends says nats-server's "2.9.10", not this. Public: installed as
 * <natsmock/nm_version.h>. */
#ifndef NM_VERSION_H
#define NM_VERSION_H

#define NM_VERSION "0.1.0"

#endif
