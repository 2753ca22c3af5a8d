# Security with real processes: segqd + segq-worker, with certificates the
# tests make (lab_keys.c) or without keys.
if(NOT (TARGET segqd AND TARGET segq-worker AND TARGET segq-testkind))
  return()
endif()

function(segq_security_test name timeout)
  segq_add_test(NAME ${name}
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/${name}.c ${CMAKE_CURRENT_LIST_DIR}/lab_keys.c
            ${CMAKE_CURRENT_SOURCE_DIR}/integration/harness.c
    LIBS segq_client segq_proto PkgConfig::JANSSON ${ARGN}
    TIMEOUT ${timeout})
  target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/integration)
  add_dependencies(${name} segqd segq-worker segq-testkind segq)
endfunction()

# CurveZMQ: keys, roles, certificates changing under a running broker.
segq_security_test(test_security 300)
# Patient data: purge, retention, fetch by ownership, file modes, audit log,
# backups, worker scratch and cache.
segq_security_test(test_patient_data 600 PkgConfig::SQLITE3 Threads::Threads)
# The one access rule over every way a job names data, with keys and without.
segq_security_test(test_access 300)
# Trained models (issue 13): a private model by every form of reference,
# sharing, seeds, purge, pins and retention, kill -9; with keys and without.
segq_security_test(test_models 300 segq_test_files)
