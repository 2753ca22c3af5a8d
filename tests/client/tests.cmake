# libsegq against a scripted fake broker, and the segq CLI without a broker.
segq_add_test(NAME test_client_libsegq
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_libsegq.c
  LIBS segq_client
  TIMEOUT 120)
segq_add_test(NAME test_client_cli
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli.c
  LIBS segq_client
  TIMEOUT 120)
add_dependencies(test_client_cli segq)
