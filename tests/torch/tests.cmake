# The torch shim: one executable (a libtorch link is slow on 2 cores).
segq_add_test(NAME test_torch
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_torch_core.c
          ${CMAKE_CURRENT_LIST_DIR}/test_torch_ref.c
          ${CMAKE_CURRENT_LIST_DIR}/test_torch_bn.c
          ${CMAKE_CURRENT_LIST_DIR}/torch_test_util.c
  LIBS segq_torch segq_core Threads::Threads
  LABELS torch
  TIMEOUT 300)
target_include_directories(test_torch PRIVATE ${CMAKE_CURRENT_LIST_DIR})
