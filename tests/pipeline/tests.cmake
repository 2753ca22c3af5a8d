# SinGAN-Seg pipeline tests: they link libtorch, so LABELS torch (run by
# the release build's `ctest -L torch`). Kept small: CI has 2 cores.
if(TARGET segq_pipeline)
  add_library(pipeline_test_util STATIC ${CMAKE_CURRENT_LIST_DIR}/pipeline_test_util.c)
  target_compile_definitions(pipeline_test_util PRIVATE
    SEGQ_SOURCE_DIR="${PROJECT_SOURCE_DIR}" SEGQ_BINARY_DIR="${PROJECT_BINARY_DIR}")
  target_include_directories(pipeline_test_util PUBLIC ${CMAKE_CURRENT_LIST_DIR})

  segq_add_test(NAME test_singan_numerics
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_singan_numerics.c
    LIBS segq_pipeline pipeline_test_util
    LABELS torch TIMEOUT 300)
  segq_add_test(NAME test_singan_train
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_singan_train.c
    LIBS segq_pipeline pipeline_test_util
    LABELS torch TIMEOUT 900)
  add_dependencies(test_singan_train segq-run)
  segq_add_test(NAME test_segq_run_errors
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_segq_run_errors.c
    LIBS segq_pipeline pipeline_test_util
    LABELS torch TIMEOUT 300)
  add_dependencies(test_segq_run_errors segq-run)
endif()
