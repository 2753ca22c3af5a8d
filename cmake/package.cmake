# Debian packages of the install components (cmake/install.cmake), by
# CPack's DEB generator: `make package` (or `cpack` in a build folder) ->
# BUILD/packages/segq_V_ARCH.deb, segqd_V_ARCH.deb, segq-worker_V_ARCH.deb.
# dpkg-shlibdeps works out each package's Depends from what its programs
# link (libtorch for segq-worker, as segq-run needs it). The maintainer
# scripts (deploy/debian/*.in) make the segq user and its 0700 folders.

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME segq)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "segq maintainers <segq@localhost>")
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE gzip)

set(CPACK_COMPONENTS_ALL "")
foreach(_c segq segqd segq-worker)
  string(TOUPPER ${_c} _C)
  set(CPACK_DEBIAN_${_C}_PACKAGE_NAME ${_c})
endforeach()

# The first line is the package's synopsis.
set(CPACK_COMPONENT_SEGQ_DESCRIPTION "SinGAN-Seg job queue: the segq command and libsegq
segq submits SinGAN-Seg jobs (train, generate, stylize, evaluate) to a segqd
broker, watches them and fetches their outputs. libsegq is the C API under
it: shared and static library, headers, pkg-config segq.")
set(CPACK_COMPONENT_SEGQD_DESCRIPTION "SinGAN-Seg job queue: the broker
segqd keeps a lab's SinGAN-Seg jobs in SQLite and places them fairly on the
GPUs and CPUs of its workers. systemd unit segqd.service.")
set(CPACK_COMPONENT_SEGQ-WORKER_DESCRIPTION "SinGAN-Seg job queue: the worker and segq-run
segq-worker runs the jobs a segqd broker assigns to this machine; segq-run
is the SinGAN-Seg pipeline (libtorch) it runs them with, also usable alone.
systemd unit segq-worker@NODE.service.")
# libsegq.so.0 gets a shlibs file, so packages built on it depend on segq
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
if(TARGET segq)
  list(APPEND CPACK_COMPONENTS_ALL segq)
endif()

# segqd and segq-worker run as the segq user: maintainer scripts per package.
function(segq_debian_scripts package state_dir units other)
  set(SEGQ_DEB_PACKAGE ${package})
  set(SEGQ_DEB_STATE_DIR ${state_dir})
  set(SEGQ_DEB_UNITS ${units})
  set(SEGQ_DEB_OTHER ${other})
  set(_scripts "")
  foreach(_script postinst prerm postrm)
    configure_file(${PROJECT_SOURCE_DIR}/deploy/debian/${_script}.in
                   ${PROJECT_BINARY_DIR}/debian/${package}/${_script} @ONLY)
    list(APPEND _scripts ${PROJECT_BINARY_DIR}/debian/${package}/${_script})
  endforeach()
  string(TOUPPER ${package} _P)
  set(CPACK_DEBIAN_${_P}_PACKAGE_CONTROL_EXTRA ${_scripts} PARENT_SCOPE)
  set(CPACK_DEBIAN_${_P}_PACKAGE_DEPENDS adduser PARENT_SCOPE)
endfunction()
if(TARGET segqd)
  list(APPEND CPACK_COMPONENTS_ALL segqd)
  segq_debian_scripts(segqd /var/lib/segq segqd.service segq-worker)
endif()
if(TARGET segq-worker)
  list(APPEND CPACK_COMPONENTS_ALL segq-worker)
  segq_debian_scripts(segq-worker /var/lib/segq-worker "segq-worker@*.service" segqd)
endif()

include(CPack)
