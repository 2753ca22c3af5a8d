# Unit tests of the broker's classes (no torch: they run under ASan+UBSan).
segq_add_test(NAME broker_u64map SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_u64map.c
  LIBS segq_broker TIMEOUT 60)
segq_add_test(NAME broker_scheduler SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_scheduler.c
  LIBS segq_broker TIMEOUT 60)
