# Install rules for sluice: the six programs, their manual pages, the
# systemd units, example environment files and the demo.
#
# Included by the top-level CMakeLists.txt after the programs' targets are
# defined. Layout (relative to the install prefix, GNUInstallDirs names):
#
#   bin/sluice-{broker,ventilator,worker,sink,ctl,keygen}
#   share/man/man1/sluice.1, sluice-{broker,...}.1 (".so" redirects to sluice.1)
#   lib/systemd/system/sluice-broker.service, sluice-worker@.service
#                               (SLUICE_SYSTEMD_UNIT_DIR; empty: not installed)
#   share/doc/sluice/examples/{broker,worker}.env.example
#   share/sluice/demo.sh, share/sluice/tasks.txt
#
# The units and the demo name the programs by their installed path. That
# path is only known when installing ("cmake --install BUILD --prefix P"
# may choose another prefix than the one configured), so they are made from
# their .in templates at install time, by a generated install script.

include(GNUInstallDirs)

set(SLUICE_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "Where to install the systemd units: relative to the install prefix, or absolute (e.g. /lib/systemd/system); empty: do not install them")

get_filename_component(_sluice_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)

install(TARGETS sluice-broker sluice-ventilator sluice-worker sluice-sink sluice-ctl sluice-keygen
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

install(FILES
          ${_sluice_root}/docs/man/sluice.1
          ${_sluice_root}/docs/man/sluice-broker.1
          ${_sluice_root}/docs/man/sluice-ventilator.1
          ${_sluice_root}/docs/man/sluice-worker.1
          ${_sluice_root}/docs/man/sluice-sink.1
          ${_sluice_root}/docs/man/sluice-ctl.1
          ${_sluice_root}/docs/man/sluice-keygen.1
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

install(FILES
          ${_sluice_root}/contrib/systemd/broker.env.example
          ${_sluice_root}/contrib/systemd/worker.env.example
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

install(FILES ${_sluice_root}/examples/tasks.txt
        DESTINATION ${CMAKE_INSTALL_DATADIR}/sluice)

# The install-time part. @VAR@ is filled in now (configure time), ${VAR} when
# installing, where CMAKE_INSTALL_PREFIX is the prefix actually installed to.
set(_sluice_install_script ${CMAKE_CURRENT_BINARY_DIR}/sluice-install-paths.cmake)
file(CONFIGURE OUTPUT ${_sluice_install_script} @ONLY CONTENT [=[
# Generated from cmake/install.cmake: installs the files that name installed
# paths (systemd units, the demo), made for the prefix being installed to.
function(_sluice_full_path out dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
  endif()
endfunction()

_sluice_full_path(SLUICE_BINDIR "@CMAKE_INSTALL_BINDIR@")
_sluice_full_path(_sluice_datadir "@CMAKE_INSTALL_DATADIR@/sluice")
set(SLUICE_DEMO_TASKS "${_sluice_datadir}/tasks.txt")
# Staging area in the build tree for the generated files.
set(_stage "@CMAKE_CURRENT_BINARY_DIR@/sluice-install")
file(MAKE_DIRECTORY "${_stage}")

if(NOT "@SLUICE_SYSTEMD_UNIT_DIR@" STREQUAL "")
  _sluice_full_path(_unitdir "@SLUICE_SYSTEMD_UNIT_DIR@")
  set(_units)
  foreach(unit sluice-broker.service sluice-worker@.service)
    configure_file("@_sluice_root@/contrib/systemd/${unit}.in" "${_stage}/${unit}" @ONLY)
    list(APPEND _units "${_stage}/${unit}")
  endforeach()
  file(INSTALL DESTINATION "${_unitdir}" TYPE FILE FILES ${_units})
endif()

configure_file("@_sluice_root@/contrib/demo/demo.sh.in" "${_stage}/demo.sh" @ONLY)
file(INSTALL DESTINATION "${_sluice_datadir}" TYPE PROGRAM FILES "${_stage}/demo.sh")
]=])
install(SCRIPT ${_sluice_install_script})
