# Queue benchmarks (print figures; not pass/fail). One executable each.
if(SEGQ_WITH_QUEUE)
  add_executable(bench_proto_codec ${CMAKE_CURRENT_SOURCE_DIR}/proto_codec.c)
  target_link_libraries(bench_proto_codec PRIVATE segq_proto)
endif()
if(SEGQ_WITH_QUEUE)
  add_executable(bench_broker_sched ${CMAKE_CURRENT_SOURCE_DIR}/broker_sched.c)
  target_link_libraries(bench_broker_sched PRIVATE segq_broker)
endif()
if(SEGQ_WITH_QUEUE)
  # End to end through real segqd / segq-worker processes (started by the
  # integration-test harness from this build tree): bench/queue_run.sh.
  foreach(b throughput latency artifacts files inputs slow_disk)
    add_executable(bench_queue_${b} ${CMAKE_CURRENT_SOURCE_DIR}/queue_${b}.c
      ${PROJECT_SOURCE_DIR}/tests/integration/harness.c)
    target_include_directories(bench_queue_${b} PRIVATE ${PROJECT_SOURCE_DIR}/tests/integration)
    target_compile_definitions(bench_queue_${b} PRIVATE SEGQ_BINARY_DIR="${PROJECT_BINARY_DIR}")
    target_link_libraries(bench_queue_${b} PRIVATE segq_client segq_proto Threads::Threads)
  endforeach()
  # its segqd loads the slow-disk shim (tests/broker/slow_disk.c)
  if(TARGET segq_test_slow_disk)
    add_dependencies(bench_queue_slow_disk segq_test_slow_disk)
  endif()
endif()
if(SEGQ_WITH_QUEUE)
  # segq-worker alone against a scripted broker: noop jobs/s and CPU per job.
  add_executable(bench_worker_noop ${CMAKE_CURRENT_SOURCE_DIR}/worker_noop.c)
  target_compile_definitions(bench_worker_noop PRIVATE SEGQ_BINARY_DIR="${PROJECT_BINARY_DIR}")
  target_link_libraries(bench_worker_noop PRIVATE segq_proto)
  add_dependencies(bench_worker_noop segq-worker)
endif()
if(SEGQ_WITH_QUEUE)
  # segq-worker against a scripted broker: ASSIGN -> start for jobs of many
  # inputs already in its cache (the layout's time in the worker's loop).
  add_executable(bench_worker_layout ${CMAKE_CURRENT_SOURCE_DIR}/worker_layout.c)
  target_compile_definitions(bench_worker_layout PRIVATE SEGQ_BINARY_DIR="${PROJECT_BINARY_DIR}")
  target_link_libraries(bench_worker_layout PRIVATE segq_worker)
  add_dependencies(bench_worker_layout segq-worker segq-testkind)
endif()
