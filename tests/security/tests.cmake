# CurveZMQ security: real segqd + segq-worker with certificates the tests make.
if(TARGET segqd AND TARGET segq-worker AND TARGET segq-testkind)
  segq_add_test(NAME test_security
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_security.c ${CMAKE_CURRENT_LIST_DIR}/lab_keys.c
            ${CMAKE_CURRENT_SOURCE_DIR}/integration/harness.c
    LIBS segq_client PkgConfig::JANSSON
    TIMEOUT 300)
  target_include_directories(test_security PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/integration)
  add_dependencies(test_security segqd segq-worker segq-testkind segq)
endif()

# Patient data: purge, retention, fetch by ownership, file modes, audit log,
# backups, worker scratch and cache.
if(TARGET segqd AND TARGET segq-worker AND TARGET segq-testkind)
  segq_add_test(NAME test_patient_data
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_patient_data.c ${CMAKE_CURRENT_LIST_DIR}/lab_keys.c
            ${CMAKE_CURRENT_SOURCE_DIR}/integration/harness.c
    LIBS segq_client PkgConfig::JANSSON PkgConfig::SQLITE3 Threads::Threads
    TIMEOUT 600)
  target_include_directories(test_patient_data PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/integration)
  add_dependencies(test_patient_data segqd segq-worker segq-testkind segq)
endif()
