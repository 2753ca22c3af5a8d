# Multi-process integration tests: real segqd and segq-worker processes on
# loopback, killed for real. They run the binaries of this build tree.
if(TARGET segqd AND TARGET segq-worker AND TARGET segq-testkind)
  foreach(t queue faults fault_load jobs limits identity protocol stop hold usage wait_reasons wait
      restore)
    segq_add_test(NAME test_integration_${t}
      SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c ${CMAKE_CURRENT_LIST_DIR}/harness.c
      LIBS segq_client segq_proto PkgConfig::JANSSON
      TIMEOUT 900)
    target_include_directories(test_integration_${t} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
    add_dependencies(test_integration_${t} segqd segq-worker segq-testkind segq)
  endforeach()
  # the disk-full test runs integrity_check on the broker's database
  target_link_libraries(test_integration_fault_load PRIVATE PkgConfig::SQLITE3)
  # the restore test writes a newer schema version into a backup's copy
  target_link_libraries(test_integration_restore PRIVATE PkgConfig::SQLITE3)
  # what a peer's transfers and results can make the broker hold or record;
  # a worker certificate (the security tests' lab_keys.c) for uploads
  segq_add_test(NAME test_integration_transfers
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_transfers.c ${CMAKE_CURRENT_LIST_DIR}/harness.c
            ${CMAKE_CURRENT_LIST_DIR}/raw_peer.c ${CMAKE_CURRENT_SOURCE_DIR}/security/lab_keys.c
    LIBS segq_client segq_proto PkgConfig::JANSSON
    TIMEOUT 300)
  target_include_directories(test_integration_transfers PRIVATE ${CMAKE_CURRENT_LIST_DIR}
    ${CMAKE_CURRENT_SOURCE_DIR}/security)
  add_dependencies(test_integration_transfers segqd segq-worker segq-testkind segq)
else()
  message(WARNING "integration tests skipped: segqd / segq-worker targets missing")
endif()
