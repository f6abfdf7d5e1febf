# What `cmake --install` puts where, the CMake package (find_package(natsmock)
# then natsmock::server) and the pkg-config file (natsmock.pc), and the Debian
# package `cpack -G DEB` makes from the same install rules.
#
#   bin/                     natsmock, natsmock-proxy, natsmock-harness,
#                            natsmock-matrix and the
#                            compiled drivers (natsmock-driver, -raw, -nats-c,
#                            -nats-go: whichever this machine could build)
#   lib/libnatsmock.so.0     the mock server library (proto + faults + server)
#   lib/libnatsmock.a        the same objects, static (position-independent)
#   include/natsmock/        natsmock.h and the headers it includes
#   lib/cmake/natsmock/      natsmockConfig.cmake: natsmock::server (shared),
#                            natsmock::server_static
#   lib/pkgconfig/natsmock.pc
#   share/natsmock/          scenarios/, drivers/<name>/expected-failures.json,
#                            the Node drivers (run `npm ci` in their folder)
#   share/doc/natsmock/      README.md and docs/

# The version in the header and the project's must agree.
file(STRINGS ${PROJECT_SOURCE_DIR}/proto/nm_version.h nm_ver_line
     REGEX "^#define NM_VERSION ")
if(NOT nm_ver_line MATCHES "\"${PROJECT_VERSION}\"")
  message(FATAL_ERROR "NM_VERSION in proto/nm_version.h "
                      "(${nm_ver_line}) is not ${PROJECT_VERSION}")
endif()

# The Node drivers carry the same version in their package.json.
foreach(pkg nats-js nats-js-v3)
  set(nm_pkg ${PROJECT_SOURCE_DIR}/harness/drivers/${pkg}/package.json)
  if(EXISTS ${nm_pkg})
    file(STRINGS ${nm_pkg} nm_pkg_ver REGEX "^  \"version\": ")
    if(NOT nm_pkg_ver MATCHES "\"${PROJECT_VERSION}\"")
      message(FATAL_ERROR "${nm_pkg}: version is not ${PROJECT_VERSION}")
    endif()
  endif()
endforeach()

set(NM_PUBLIC_HEADERS
  ${PROJECT_SOURCE_DIR}/include/natsmock/natsmock.h
  ${PROJECT_SOURCE_DIR}/proto/nm_buf.h
  ${PROJECT_SOURCE_DIR}/proto/nm_errors.h
  ${PROJECT_SOURCE_DIR}/proto/nm_frame.h
  ${PROJECT_SOURCE_DIR}/proto/nm_version.h
  ${PROJECT_SOURCE_DIR}/faults/nm_obs.h)

# The installed libraries are made of the objects of the in-tree static
# libraries (compiled once, PIC).
set(NM_LIB_OBJECTS)
foreach(part nm_proto nm_faults nm_server)
  if(TARGET ${part})
    list(APPEND NM_LIB_OBJECTS $<TARGET_OBJECTS:${part}>)
  endif()
endforeach()

add_library(natsmock_shared SHARED ${NM_LIB_OBJECTS})
add_library(natsmock_static STATIC ${NM_LIB_OBJECTS})
foreach(lib natsmock_shared natsmock_static)
  target_include_directories(${lib} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/proto>
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/faults>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  # natsmock.h includes <uv.h>: libuv is part of the interface.
  target_link_libraries(${lib} PUBLIC PkgConfig::LIBUV
                        PRIVATE PkgConfig::CJSON PkgConfig::SODIUM
                                Threads::Threads)
endforeach()
set_target_properties(natsmock_shared PROPERTIES
  OUTPUT_NAME natsmock VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR} EXPORT_NAME server
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lib)
set_target_properties(natsmock_static PROPERTIES
  OUTPUT_NAME natsmock EXPORT_NAME server_static
  ARCHIVE_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/lib)
if(NOT NM_SANITIZE)
  # Every symbol the library needs is linked in or comes from a listed
  # dependency. (The sanitizer runtimes are linked by the executable.)
  target_link_options(natsmock_shared PRIVATE -Wl,--no-undefined)
endif()

install(TARGETS natsmock_shared natsmock_static EXPORT natsmockTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${NM_PUBLIC_HEADERS}
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/natsmock)

# Executables and the compiled drivers.
foreach(exe natsmock natsmock-proxy natsmock-harness natsmock-matrix
            natsmock-driver natsmock-driver-raw natsmock-driver-nats-c)
  if(TARGET ${exe})
    install(TARGETS ${exe} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()
if(TARGET natsmock-driver-nats-go)
  install(PROGRAMS ${CMAKE_BINARY_DIR}/harness/drivers/natsmock-driver-nats-go
          DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

# Data: the scenario suite, each driver's baseline of expected failures, the
# Node drivers without their node_modules.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/scenarios/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/natsmock/scenarios)
file(GLOB nm_driver_dirs LIST_DIRECTORIES true
     ${PROJECT_SOURCE_DIR}/harness/drivers/*)
foreach(dir ${nm_driver_dirs})
  get_filename_component(name ${dir} NAME)
  if(EXISTS ${dir}/expected-failures.json)
    install(FILES ${dir}/expected-failures.json
            DESTINATION ${CMAKE_INSTALL_DATADIR}/natsmock/drivers/${name})
  endif()
  if(EXISTS ${dir}/package.json)
    file(GLOB nm_js_scripts ${dir}/natsmock-driver-*)
    install(PROGRAMS ${nm_js_scripts}
            DESTINATION ${CMAKE_INSTALL_DATADIR}/natsmock/drivers/${name})
    install(FILES ${dir}/package.json ${dir}/package-lock.json ${dir}/README.md
            DESTINATION ${CMAKE_INSTALL_DATADIR}/natsmock/drivers/${name})
  endif()
endforeach()
# The body both nats.js drivers share (they require ../nats-js-common).
install(FILES ${PROJECT_SOURCE_DIR}/harness/drivers/nats-js-common/driver.js
        DESTINATION ${CMAKE_INSTALL_DATADIR}/natsmock/drivers/nats-js-common)
install(FILES ${PROJECT_SOURCE_DIR}/README.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The CMake package: relocatable (paths relative to the config file).
include(CMakePackageConfigHelpers)
set(NM_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/natsmock)
install(EXPORT natsmockTargets NAMESPACE natsmock::
        DESTINATION ${NM_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/natsmockConfig.cmake.in
  ${CMAKE_BINARY_DIR}/natsmockConfig.cmake INSTALL_DESTINATION ${NM_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/natsmockConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/natsmockConfig.cmake
              ${CMAKE_BINARY_DIR}/natsmockConfigVersion.cmake
        DESTINATION ${NM_CMAKE_DIR})

# pkg-config: prefix found from the .pc file's own place, so the tree can be
# moved (cpack, DESTDIR, a CI cache).
set(nm_pc_dir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
string(REGEX REPLACE "[^/]+" ".." nm_pc_up ${nm_pc_dir})
configure_file(${PROJECT_SOURCE_DIR}/cmake/natsmock.pc.in
               ${CMAKE_BINARY_DIR}/natsmock.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/natsmock.pc DESTINATION ${nm_pc_dir})

# cpack -G DEB
set(CPACK_PACKAGE_NAME natsmock)
set(CPACK_PACKAGE_VENDOR "natsmock")
set(CPACK_PACKAGE_CONTACT "natsmock maintainers <natsmock@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "mock NATS server with a fault engine, and a NATS client test harness")
set(CPACK_PACKAGE_DESCRIPTION
    "natsmock speaks the NATS client protocol as nats-server 2.9.10 does and
can be scripted to hold, delay, drop, split or inject frames. The package has
the server (natsmock), the protocol test harness (natsmock-harness) with its
drivers and scenario suite, and the embedding library with its headers, CMake
package and pkg-config file.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Library dependencies (libuv1, libcjson1, libsodium23, libnats3.x, and
# libhttp-parser2.9 for natsmock's monitoring) from dpkg-shlibdeps.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "nats-server, nodejs")
include(CPack)
