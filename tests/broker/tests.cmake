# Unit tests of the broker's classes (no torch: they run under ASan+UBSan).
segq_add_test(NAME broker_u64map SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_u64map.c
  LIBS segq_broker TIMEOUT 60)
segq_add_test(NAME broker_scheduler SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_scheduler.c
  LIBS segq_broker TIMEOUT 60)
segq_add_test(NAME broker_fairshare SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_fairshare.c
  LIBS segq_broker TIMEOUT 60)
segq_add_test(NAME broker_accounting SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_accounting.c
  LIBS segq_broker TIMEOUT 60)
segq_add_test(NAME broker_job_store SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_job_store.c
  LIBS segq_broker TIMEOUT 60)
segq_add_test(NAME broker_jobs SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_jobs.c
  LIBS segq_broker TIMEOUT 60)
segq_add_test(NAME broker_artifact_store SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_artifact_store.c
  LIBS segq_broker TIMEOUT 60)
segq_add_test(NAME broker_offload SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_offload.c
  LIBS segq_broker TIMEOUT 60)
segq_add_test(NAME broker_reactor SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_reactor.c
  LIBS segq_broker TIMEOUT 120)
segq_add_test(NAME broker_config SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_config.c
  LIBS segq_config TIMEOUT 60)
segq_add_test(NAME broker_access SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_access.c
  LIBS segq_broker TIMEOUT 60)
segq_add_test(NAME broker_models SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_models.c
  LIBS segq_broker TIMEOUT 60)
segq_add_test(NAME broker_generate_check SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_generate_check.c
  LIBS segq_broker segq_test_files TIMEOUT 60)
segq_add_test(NAME broker_dispatch SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_dispatch.c
  LIBS segq_broker TIMEOUT 60)
# A real segqd: what clients' transfers can make it hold is bounded.
if(TARGET segqd)
  segq_add_test(NAME broker_transfer_limits
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_transfer_limits.c
            ${CMAKE_CURRENT_SOURCE_DIR}/integration/harness.c
            ${CMAKE_CURRENT_SOURCE_DIR}/integration/raw_peer.c
    LIBS segq_client segq_proto PkgConfig::JANSSON
    TIMEOUT 120)
  target_include_directories(broker_transfer_limits PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/integration)
  add_dependencies(broker_transfer_limits segqd)
  # A segqd whose disk is slow, or stalls on cue (harness_slow_disk).
  add_library(segq_test_slow_disk MODULE ${CMAKE_CURRENT_LIST_DIR}/slow_disk.c)
  set_target_properties(segq_test_slow_disk PROPERTIES PREFIX "" SUFFIX ".so")
  target_link_libraries(segq_test_slow_disk PRIVATE ${CMAKE_DL_LIBS})
  segq_add_test(NAME broker_slow_disk
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_slow_disk.c
            ${CMAKE_CURRENT_SOURCE_DIR}/integration/harness.c
    LIBS segq_client segq_proto PkgConfig::JANSSON Threads::Threads
    TIMEOUT 120)
  target_include_directories(broker_slow_disk PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/integration)
  add_dependencies(broker_slow_disk segqd segq_test_slow_disk)
endif()
