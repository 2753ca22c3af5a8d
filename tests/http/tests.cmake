# segqd's HTTP listener (issue 16): metrics read by the Prometheus client's
# parser, the status page in a headless chromium, and who sees what over
# HTTP. Real segqd and segq-worker processes on loopback (the integration
# harness); the programs that judge the answers come from deploy/deps.sh
# (python3-prometheus-client, chromium, openssl).
if(NOT (TARGET segqd AND TARGET segq-worker AND TARGET segq-testkind))
  return()
endif()

function(segq_http_test name timeout)
  segq_add_test(NAME ${name}
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/${name}.c ${CMAKE_CURRENT_LIST_DIR}/http_test.c
            ${CMAKE_CURRENT_SOURCE_DIR}/integration/harness.c ${ARGN}
    LIBS segq_client segq_proto PkgConfig::JANSSON m
    TIMEOUT ${timeout})
  target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_LIST_DIR}
    ${CMAKE_CURRENT_SOURCE_DIR}/integration ${CMAKE_CURRENT_SOURCE_DIR}/security)
  add_dependencies(${name} segqd segq-worker segq-testkind segq)
endfunction()

segq_http_test(test_http_metrics 300)
segq_http_test(test_http_page 300)
# keys mode: the lab of tests/security/lab_keys.c
segq_http_test(test_http_access 300 ${CMAKE_CURRENT_SOURCE_DIR}/security/lab_keys.c)
