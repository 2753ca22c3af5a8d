# Unit tests of the broker's classes (no torch: they run under ASan+UBSan).
segq_add_test(NAME broker_u64map SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_u64map.c
  LIBS segq_broker TIMEOUT 60)
segq_add_test(NAME broker_scheduler SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_scheduler.c
  LIBS segq_broker TIMEOUT 60)
segq_add_test(NAME broker_job_store SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_job_store.c
  LIBS segq_broker TIMEOUT 60)
segq_add_test(NAME broker_jobs SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_jobs.c
  LIBS segq_broker TIMEOUT 60)
segq_add_test(NAME broker_artifact_store SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_artifact_store.c
  LIBS segq_broker TIMEOUT 60)
segq_add_test(NAME broker_reactor SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_reactor.c
  LIBS segq_broker TIMEOUT 120)
segq_add_test(NAME broker_config SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_config.c
  LIBS segq_config TIMEOUT 60)
