# The pipeline through the queue (issue 6): the ML job kinds' schema rows
# against segq-run's flags, the worker's capacity discovery, and train ->
# generate through real segqd / segq-worker / segq processes.

if(TARGET segq_worker)
  # No torch: the JSON of `segq-run devices` as the worker reads it.
  segq_add_test(NAME test_e2e_devices
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_devices.c
    LIBS segq_worker
    TIMEOUT 60)
endif()

if(TARGET segqd AND TARGET segq-worker AND TARGET segq)
  # segq-worker running an ML kind, seen from a stand-in segq-run: no torch.
  segq_add_test(NAME test_e2e_worker_args
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_worker_args.c
      ${PROJECT_SOURCE_DIR}/tests/integration/harness.c
    LIBS segq_client segq_proto segq_test_files PkgConfig::JANSSON
    TIMEOUT 90)
  target_include_directories(test_e2e_worker_args PRIVATE ${PROJECT_SOURCE_DIR}/tests/integration)
  add_dependencies(test_e2e_worker_args segqd segq-worker segq)
endif()

if(TARGET segqd AND TARGET segq-worker AND TARGET segq AND TARGET segq-testkind)
  # Resume after a requeue, the out-of-GPU-memory reason, GPU packing by
  # declared memory: stand-in segq-run scripts and test kinds, no torch.
  segq_add_test(NAME test_e2e_worker_gpu
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_worker_gpu.c ${CMAKE_CURRENT_LIST_DIR}/e2e_queue.c
      ${PROJECT_SOURCE_DIR}/tests/integration/harness.c
    LIBS segq_client segq_proto segq_test_files PkgConfig::JANSSON
    TIMEOUT 240)
  target_include_directories(test_e2e_worker_gpu PRIVATE ${PROJECT_SOURCE_DIR}/tests/integration)
  add_dependencies(test_e2e_worker_gpu segqd segq-worker segq segq-testkind)
endif()

if(TARGET segq_pipeline)
  # Links segq-run's flag table and proto's kind table: they can never drift.
  segq_add_test(NAME test_e2e_schema
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_schema.c
    LIBS segq_pipeline segq_core
    LABELS torch TIMEOUT 60)
endif()

if(TARGET segq_pipeline AND TARGET segqd AND TARGET segq-worker AND TARGET segq)
  # Runs segq-run (libtorch) in the worker's children: labelled torch, so it
  # runs in the release build.
  segq_add_test(NAME test_e2e_pipeline
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pipeline.c ${CMAKE_CURRENT_LIST_DIR}/e2e_fixture.c
      ${PROJECT_SOURCE_DIR}/tests/integration/harness.c
    LIBS segq_client segq_proto segq_image segq_sample segq_contact_sheet PkgConfig::JANSSON
    LABELS torch TIMEOUT 480)
  target_include_directories(test_e2e_pipeline PRIVATE ${PROJECT_SOURCE_DIR}/tests/integration)
  add_dependencies(test_e2e_pipeline segqd segq-worker segq segq-run)

  # The worker's generation server (segq-run serve): models kept loaded,
  # a cancelled or killed server failing only its job.
  segq_add_test(NAME test_e2e_gen_server
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_gen_server.c ${CMAKE_CURRENT_LIST_DIR}/e2e_fixture.c
      ${PROJECT_SOURCE_DIR}/tests/integration/harness.c
    LIBS segq_client segq_proto segq_image PkgConfig::JANSSON
    LABELS torch TIMEOUT 300)
  target_include_directories(test_e2e_gen_server PRIVATE ${PROJECT_SOURCE_DIR}/tests/integration)
  add_dependencies(test_e2e_gen_server segqd segq-worker segq segq-run)
endif()

if(TARGET segq_sample)
  # segq-run sample's drawing (no torch: sanitized).
  segq_add_test(NAME test_e2e_sample
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sample.c
    LIBS segq_sample
    TIMEOUT 120)
endif()

if(TARGET segq_pipeline AND TARGET segqd AND TARGET segq-worker AND TARGET segq)
  # Job arrays and `segq submit pipeline` on 5 Kvasir-SEG pairs (SEGQ_DATA_DIR),
  # segq-run in the worker's children: labelled torch.
  segq_add_test(NAME test_e2e_arrays
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_arrays.c
      ${PROJECT_SOURCE_DIR}/tests/integration/harness.c
    LIBS segq_client segq_proto PkgConfig::JANSSON
    LABELS torch TIMEOUT 900)
  target_include_directories(test_e2e_arrays PRIVATE ${PROJECT_SOURCE_DIR}/tests/integration)
  add_dependencies(test_e2e_arrays segqd segq-worker segq segq-run)

  # The real segq-run train through the queue: resumed after its worker is
  # killed, and cancelled. Tiny settings; torch, so the release build runs it.
  segq_add_test(NAME test_e2e_train_queue
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_train_queue.c ${CMAKE_CURRENT_LIST_DIR}/e2e_fixture.c
      ${CMAKE_CURRENT_LIST_DIR}/e2e_queue.c ${PROJECT_SOURCE_DIR}/tests/integration/harness.c
    LIBS segq_client segq_proto segq_image PkgConfig::JANSSON
    LABELS torch TIMEOUT 900)
  target_include_directories(test_e2e_train_queue PRIVATE ${PROJECT_SOURCE_DIR}/tests/integration)
  add_dependencies(test_e2e_train_queue segqd segq-worker segq segq-run)
endif()
