# `segq slurm-scale` against a real one-node Slurm (slurm-wlm and munge from
# deploy/deps.sh; cluster.sh starts and stops it), as root.
if(TARGET segqd AND TARGET segq-worker AND TARGET segq-testkind AND TARGET segq)
  segq_add_test(NAME test_slurm_scale
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_slurm_scale.c
            ${CMAKE_CURRENT_SOURCE_DIR}/integration/harness.c
            ${CMAKE_CURRENT_SOURCE_DIR}/security/lab_keys.c
    LIBS segq_client segq_proto
    TIMEOUT 300)
  target_include_directories(test_slurm_scale PRIVATE
    ${CMAKE_CURRENT_SOURCE_DIR}/integration ${CMAKE_CURRENT_SOURCE_DIR}/security)
  add_dependencies(test_slurm_scale segqd segq-worker segq-testkind segq)
endif()
