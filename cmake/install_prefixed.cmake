# Run by `cmake --install` (and CPack), from segq_install_prefixed in
# cmake/install.cmake: installs one file whose place or text depends on the
# prefix being installed into (CMAKE_INSTALL_PREFIX here is that one).
#   SEGQ_PREFIXED_KIND    unit: a systemd unit from its .in, its @SEGQ_BINDIR@
#                         and @SEGQ_SYSCONFDIR@ filled in; etc: a file for
#                         SYSCONFDIR/NAME as it is
#   SEGQ_PREFIXED_SOURCE, SEGQ_PREFIXED_NAME   the file and its installed name
#   SEGQ_PREFIXED_STAGE   a build folder for the filled-in unit
#   SEGQ_PREFIXED_BINDIR, SEGQ_PREFIXED_UNITDIR   relative to the prefix, or absolute
# file(INSTALL) adds DESTDIR and records the file in install_manifest.txt.

if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(SEGQ_SYSCONFDIR /etc)
else()
  set(SEGQ_SYSCONFDIR ${CMAKE_INSTALL_PREFIX}/etc)
endif()
foreach(_dir BINDIR UNITDIR)
  if(IS_ABSOLUTE "${SEGQ_PREFIXED_${_dir}}")
    set(_full_${_dir} "${SEGQ_PREFIXED_${_dir}}")
  else()
    set(_full_${_dir} "${CMAKE_INSTALL_PREFIX}/${SEGQ_PREFIXED_${_dir}}")
  endif()
endforeach()

if(SEGQ_PREFIXED_KIND STREQUAL "unit")
  set(SEGQ_BINDIR ${_full_BINDIR})
  set(_unit ${SEGQ_PREFIXED_STAGE}/${SEGQ_PREFIXED_NAME})
  configure_file(${SEGQ_PREFIXED_SOURCE} ${_unit} @ONLY)
  file(INSTALL DESTINATION ${_full_UNITDIR} TYPE FILE FILES ${_unit})
else()
  get_filename_component(_dir ${SEGQ_SYSCONFDIR}/${SEGQ_PREFIXED_NAME} DIRECTORY)
  get_filename_component(_leaf ${SEGQ_PREFIXED_NAME} NAME)
  file(INSTALL DESTINATION ${_dir} TYPE FILE RENAME ${_leaf} FILES ${SEGQ_PREFIXED_SOURCE})
endif()
