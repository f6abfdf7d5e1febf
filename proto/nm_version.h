/* natsmock's version, in one place: every program's --version, the INFO the
 * mock sends (as its own version) and the installed packages read it
 * (CMakeLists.txt checks that project(VERSION) agrees). Public: installed as
 * <natsmock/nm_version.h>. */
#ifndef NM_VERSION_H
#define NM_VERSION_H

#define NM_VERSION "0.1.0"

#endif
