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
  segq_add_test(NAME test_singan_fidelity
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_singan_fidelity.c
    LIBS segq_pipeline pipeline_test_util
    LABELS torch TIMEOUT 120)
  # segq-run stylize against the authors' transfer_style (needs
  # python3-torchvision)
  segq_add_test(NAME test_stylize_authors
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_stylize_authors.c
    LIBS segq_pipeline pipeline_test_util
    LABELS torch TIMEOUT 300)
  add_dependencies(test_stylize_authors segq-run)
  # segq-run train / generate against the authors' training code, fed the
  # same draws (SEGQ_RECORD_DRAWS); about 30 s on 2 cores
  segq_add_test(NAME test_singan_authors_train
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_singan_authors_train.c
    LIBS segq_pipeline pipeline_test_util
    LABELS torch TIMEOUT 300)
  add_dependencies(test_singan_authors_train segq-run)
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
  target_include_directories(test_segq_run_errors PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../image)
  # a few minutes on 2 cores: `ctest -L torch -LE quality` leaves it out
  segq_add_test(NAME test_singan_quality
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_singan_quality.c
    LIBS segq_pipeline pipeline_test_util
    LABELS torch quality TIMEOUT 1500)
  add_dependencies(test_singan_quality segq-run)
  # stylize / evaluate (issue 4)
  segq_add_test(NAME test_stylize
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_stylize.c
    LIBS segq_pipeline pipeline_test_util
    LABELS torch TIMEOUT 900)
  add_dependencies(test_stylize segq-run)
  # bench/paper.sh and bench/paper_kfold.sh in their smoke configuration:
  # about 3 minutes, one thread
  segq_add_test(NAME test_paper_bench
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_paper_bench.c
    LIBS segq_pipeline pipeline_test_util
    LABELS torch TIMEOUT 900)
  add_dependencies(test_paper_bench segq-run)
  segq_add_test(NAME test_metrics
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_metrics.c
    LIBS segq_pipeline
    LABELS torch TIMEOUT 60)
  segq_add_test(NAME test_evaluate
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_evaluate.c
    LIBS segq_pipeline pipeline_test_util
    LABELS torch TIMEOUT 1200)
  add_dependencies(test_evaluate segq-run)
endif()
