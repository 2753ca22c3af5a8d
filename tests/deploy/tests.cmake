# Installing and running segq as a system service (docs/install.md).
#
# test_deploy_notify (every build, sanitized too): segqd's and
# segq-worker's sd_notify notices, against a socket of the test's own.
#
# Label "deploy", only in a plain build (`make test-deploy` runs them on
# build/release; the sanitized and fuzz builds make no packages):
#   test_deploy_man      every man page renders without a warning
#   test_deploy_install  cmake --install into a temp prefix: the files, and
#                        a program built against libsegq (pkg-config segq,
#                        shared and static) talking to the installed segqd
#   test_deploy_systemd  systemd-analyze verify on the installed units
#   test_deploy_gpu_bundle  the GPU node's build: the shim and its check with
#                        their CMake project (tests/torch/gpu), segq-run
#                        linked from what the node is sent (tests/gpu/bundle.sh,
#                        link_segq_run.sh) and run
#   test_deploy_package  the Debian packages: built, installed with apt-get,
#                        checked, purged (root; RUN_SERIAL)
if(TARGET segqd AND TARGET segq-worker AND TARGET segq-testkind)
  segq_add_test(NAME test_deploy_notify
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_notify.c
    TIMEOUT 120)
  add_dependencies(test_deploy_notify segqd segq-worker segq-testkind)
endif()

if(SEGQ_SANITIZE OR SEGQ_FUZZ OR NOT TARGET segqd)
  return()
endif()
set(_deploy_env "SEGQ_BINARY_DIR=${PROJECT_BINARY_DIR};SEGQ_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
add_test(NAME test_deploy_man
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/man_check.sh ${PROJECT_BINARY_DIR})
add_test(NAME test_deploy_install
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/install_check.sh ${PROJECT_BINARY_DIR})
add_test(NAME test_deploy_systemd
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/systemd_check.sh ${PROJECT_BINARY_DIR})
add_test(NAME test_deploy_package
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/package_check.sh ${PROJECT_BINARY_DIR})
set_tests_properties(test_deploy_man test_deploy_install test_deploy_systemd test_deploy_package
  PROPERTIES LABELS deploy TIMEOUT 600 ENVIRONMENT "${_deploy_env}")
if(TARGET segq-run)
  add_test(NAME test_deploy_gpu_bundle
    COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/gpu_bundle_check.sh ${PROJECT_BINARY_DIR})
  set_tests_properties(test_deploy_gpu_bundle
    PROPERTIES LABELS deploy TIMEOUT 600 ENVIRONMENT "${_deploy_env}")
endif()
# it installs and purges system packages and the segq user
set_tests_properties(test_deploy_package PROPERTIES RUN_SERIAL ON)
