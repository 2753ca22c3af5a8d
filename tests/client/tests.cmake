# libsegq against a scripted fake broker, and the segq CLI without a broker.
segq_add_test(NAME test_client_libsegq
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_libsegq.c ${CMAKE_CURRENT_LIST_DIR}/../proto/no_leaks.c
  LIBS segq_client segq_proto
  TIMEOUT 120)
target_include_directories(test_client_libsegq PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../proto)
segq_add_test(NAME test_client_cli
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli.c
  LIBS segq_client segq_proto segq_test_files
  TIMEOUT 120)
add_dependencies(test_client_cli segq segqd)
segq_add_test(NAME test_client_hash_cache
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_hash_cache.c
  LIBS segq_client segq_proto
  TIMEOUT 60)
target_include_directories(test_client_hash_cache PRIVATE ${PROJECT_SOURCE_DIR}/client)
segq_add_test(NAME test_client_resend
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_resend.c
  LIBS segq_client segq_proto
  TIMEOUT 60)
target_include_directories(test_client_resend PRIVATE ${PROJECT_SOURCE_DIR}/client)
# The segq CLI against real segqd and segq-worker processes.
if(TARGET segqd AND TARGET segq-worker AND TARGET segq-testkind)
  segq_add_test(NAME test_client_cli_broker
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli_broker.c
            ${CMAKE_CURRENT_SOURCE_DIR}/integration/harness.c
            ${CMAKE_CURRENT_SOURCE_DIR}/security/lab_keys.c
    LIBS segq_client segq_proto segq_test_files PkgConfig::JANSSON
    TIMEOUT 300)
  target_include_directories(test_client_cli_broker PRIVATE
    ${CMAKE_CURRENT_SOURCE_DIR}/integration ${CMAKE_CURRENT_SOURCE_DIR}/security)
  add_dependencies(test_client_cli_broker segqd segq-worker segq-testkind segq)
endif()
# libsegq.so's exports: the functions its installed headers declare, exactly.
add_test(NAME test_client_exports
  COMMAND ${CMAKE_COMMAND} -DNM=${CMAKE_NM} -DLIB=$<TARGET_FILE:libsegq_shared>
          "-DHEADERS=$<JOIN:$<TARGET_PROPERTY:libsegq_shared,SEGQ_PUBLIC_HEADERS>,|>"
          -P ${CMAKE_CURRENT_LIST_DIR}/exports.cmake)
# libsegq's public header alone: fails the build if it shows CZMQ or the codec.
add_library(test_client_public_header OBJECT ${CMAKE_CURRENT_LIST_DIR}/public_header.c)
target_link_libraries(test_client_public_header PRIVATE segq_client)
# `segq slurm-scale`'s configuration, batch script and decisions, without
# Slurm (tests/slurm runs it against a real one).
segq_add_test(NAME test_client_slurm_plan
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_slurm_plan.c
  LIBS segq_cli_slurm
  TIMEOUT 60)
