# tests/worker: the worker's pieces (unit) and the daemon against a scripted
# broker. Paths from CMAKE_CURRENT_LIST_DIR so the list works wherever it is
# included from.
set(SEGQ_WORKER_TESTS ${CMAKE_CURRENT_LIST_DIR})

segq_add_test(NAME test_worker_progress SOURCES ${SEGQ_WORKER_TESTS}/test_progress.c
              LIBS segq_worker TIMEOUT 60)
segq_add_test(NAME test_worker_cache SOURCES ${SEGQ_WORKER_TESTS}/test_cache.c
              LIBS segq_worker TIMEOUT 60)
segq_add_test(NAME test_worker_job_runner SOURCES ${SEGQ_WORKER_TESTS}/test_job_runner.c
              LIBS segq_worker TIMEOUT 120)
target_compile_definitions(test_worker_job_runner PRIVATE
  SEGQ_TESTKIND="$<TARGET_FILE:segq-testkind>")
add_dependencies(test_worker_job_runner segq-testkind)
segq_add_test(NAME test_worker_daemon SOURCES ${SEGQ_WORKER_TESTS}/test_daemon.c
              LIBS segq_worker TIMEOUT 300)
target_compile_definitions(test_worker_daemon PRIVATE
  SEGQ_TESTKIND="$<TARGET_FILE:segq-testkind>"
  SEGQ_WORKER_BIN="$<TARGET_FILE:segq-worker>")
add_dependencies(test_worker_daemon segq-testkind segq-worker)

# The worker's fault paths with a real segqd (the integration harness).
if(TARGET segqd AND TARGET segq_client)
  segq_add_test(NAME test_worker_segqd
    SOURCES ${SEGQ_WORKER_TESTS}/test_worker_segqd.c
            ${SEGQ_WORKER_TESTS}/../integration/harness.c
    LIBS segq_client segq_proto PkgConfig::JANSSON TIMEOUT 400)
  target_include_directories(test_worker_segqd PRIVATE ${SEGQ_WORKER_TESTS}/../integration)
  # A segqd whose disk is full on cue (full_disk.c, LD_PRELOAD).
  add_library(segq_test_full_disk MODULE ${SEGQ_WORKER_TESTS}/full_disk.c)
  set_target_properties(segq_test_full_disk PROPERTIES PREFIX "" SUFFIX ".so")
  target_link_libraries(segq_test_full_disk PRIVATE ${CMAKE_DL_LIBS})
  add_dependencies(test_worker_segqd segqd segq-worker segq-testkind segq_test_full_disk)

  # The generation servers, with a stand-in `segq-run serve` (plain C, no
  # torch), so gen_server.c and the runner's served jobs run sanitized.
  add_executable(stand-in-serve ${SEGQ_WORKER_TESTS}/stand_in_serve.c)
  segq_add_test(NAME test_worker_gen_server
    SOURCES ${SEGQ_WORKER_TESTS}/test_gen_server.c
            ${SEGQ_WORKER_TESTS}/../integration/harness.c
    LIBS segq_client segq_proto segq_test_files PkgConfig::JANSSON TIMEOUT 180)
  target_include_directories(test_worker_gen_server PRIVATE ${SEGQ_WORKER_TESTS}/../integration)
  target_compile_definitions(test_worker_gen_server PRIVATE
    SEGQ_STAND_IN_SERVE="$<TARGET_FILE:stand-in-serve>")
  add_dependencies(test_worker_gen_server segqd segq-worker segq stand-in-serve)
endif()
