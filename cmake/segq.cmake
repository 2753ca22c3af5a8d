# Helpers shared by every folder's CMakeLists.txt.

# segq_add_test(NAME name SOURCES a.c ... LIBS lib ... [LABELS l ...] [TIMEOUT s])
# One Criterion executable per feature; Criterion runs each test in its own
# process, ctest bounds the whole file. --jobs 1: ctest already runs the
# executables in parallel, and Criterion 2.4's parallel runner leaks a few
# bytes that LeakSanitizer would blame on the test.
function(segq_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT CRITERION_FOUND)
    message(FATAL_ERROR "Criterion not found: run deploy/deps.sh")
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  if(SEGQ_SANITIZE)
    # Criterion's runner process leaks a little of its own; only it opts out
    # of the exit-time leak check, every test process stays checked.
    list(APPEND T_SOURCES ${PROJECT_SOURCE_DIR}/tests/common/runner_lsan.c)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} PkgConfig::CRITERION)
  target_compile_definitions(${T_NAME} PRIVATE
    SEGQ_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    SEGQ_BINARY_DIR="${PROJECT_BINARY_DIR}")
  add_test(NAME ${T_NAME} COMMAND ${T_NAME} --jobs 1 --verbose=0)
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT}
    LABELS "${T_LABELS}"
    ENVIRONMENT "SEGQ_BINARY_DIR=${PROJECT_BINARY_DIR};SEGQ_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()
