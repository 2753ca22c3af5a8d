# What `cmake --install` puts where, and the Debian packages CPack makes of
# it (`make package`). Included at the end of the top CMakeLists.txt, when
# every target exists. docs/install.md says how to use them.
#
# Components are the packages:
#   segq         the CLI, libsegq (shared and static), its headers, segq.pc
#                (client/libsegq.cmake), segq(1)
#   segqd        the broker, segqd.service, segqd.conf.example, segqd(8),
#                segqd.conf(5)
#   segq-worker  the worker, segq-run (it runs the ML jobs; libtorch),
#                segq-worker@.service, worker.env.example, segq-worker(8),
#                segq-run(1)

add_subdirectory(${PROJECT_SOURCE_DIR}/man ${PROJECT_BINARY_DIR}/man)

if(TARGET segq)
  install(TARGETS segq RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT segq)
endif()
if(TARGET segqd)
  install(TARGETS segqd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT segqd)
endif()
if(TARGET segq-worker)
  install(TARGETS segq-worker RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT segq-worker)
endif()
if(TARGET segq-run)
  install(TARGETS segq-run RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT segq-worker)
endif()

# The systemd units and the example configuration depend on the prefix
# installed INTO, which `cmake --install --prefix` or CPack (/usr) may
# change after configuring: the units name the programs by absolute path,
# and /etc is where configuration goes for /usr (GNUInstallDirs' rule),
# PREFIX/etc for any other prefix. cmake/install_prefixed.cmake works them
# out at install time. Units go to PREFIX/lib/systemd/system (systemd
# reads /usr/lib and /usr/local/lib).
set(SEGQ_SYSTEMD_UNITDIR lib/systemd/system CACHE STRING
    "where the systemd units go, relative to the install prefix")
function(segq_install_prefixed component kind source name)
  install(CODE "
    set(SEGQ_PREFIXED_KIND ${kind})
    set(SEGQ_PREFIXED_SOURCE \"${source}\")
    set(SEGQ_PREFIXED_NAME \"${name}\")
    set(SEGQ_PREFIXED_STAGE \"${PROJECT_BINARY_DIR}/prefixed\")
    set(SEGQ_PREFIXED_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
    set(SEGQ_PREFIXED_UNITDIR \"${SEGQ_SYSTEMD_UNITDIR}\")
    include(\"${PROJECT_SOURCE_DIR}/cmake/install_prefixed.cmake\")"
    COMPONENT ${component})
endfunction()
if(TARGET segqd)
  segq_install_prefixed(segqd unit ${PROJECT_SOURCE_DIR}/deploy/systemd/segqd.service.in
                        segqd.service)
  segq_install_prefixed(segqd etc ${PROJECT_SOURCE_DIR}/deploy/segqd.conf.example
                        segq/segqd.conf.example)
endif()
if(TARGET segq-worker)
  segq_install_prefixed(segq-worker unit
                        ${PROJECT_SOURCE_DIR}/deploy/systemd/segq-worker@.service.in
                        segq-worker@.service)
  segq_install_prefixed(segq-worker etc ${PROJECT_SOURCE_DIR}/deploy/worker.env.example
                        segq/worker.env.example)
endif()

include(${CMAKE_CURRENT_LIST_DIR}/package.cmake)
