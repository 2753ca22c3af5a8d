# libFuzzer targets (configure with -DSEGQ_FUZZ=ON and clang: `make fuzz`).
# Every tests/fuzz/fuzz_AREA.c found here is built and linked to the library
# named for AREA below (segq_AREA when not listed); a target whose library is
# not part of this build is skipped with a message. Seeds live in
# tests/fuzz/corpus/AREA/ (small generated files only, no patient data).
# Each target is also a ctest (label fuzz) that runs for a bounded time.
set(SEGQ_FUZZ_TIME 20 CACHE STRING "Seconds each fuzz target runs under ctest")
set(segq_fuzz_lib_image segq_image)
set(segq_fuzz_lib_safetensors segq_singan_base) # the reader and the checkpoint header
set(segq_fuzz_lib_proto segq_proto)
set(segq_fuzz_lib_config segq_config)
set(segq_fuzz_lib_manifest segq_singan_base) # stylize_manifest.c
# `make test` builds only these (target segq_fuzzers), not the whole tree.
add_custom_target(segq_fuzzers)

file(GLOB segq_fuzzers CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/fuzz_*.c)
foreach(src ${segq_fuzzers})
  get_filename_component(name ${src} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" area ${name})
  if(DEFINED segq_fuzz_lib_${area})
    set(lib ${segq_fuzz_lib_${area}})
  else()
    set(lib segq_${area})
  endif()
  if(NOT TARGET ${lib})
    message(STATUS "fuzz: skipping ${name}: library ${lib} is not in this build")
    continue()
  endif()
  add_executable(${name} ${src})
  add_dependencies(segq_fuzzers ${name})
  target_link_libraries(${name} PRIVATE ${lib})
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  # New inputs go to the build tree; the seeds in the source tree stay read-only.
  set(work ${CMAKE_CURRENT_BINARY_DIR}/fuzz-corpus/${area})
  file(MAKE_DIRECTORY ${work})
  set(seeds)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/corpus/${area})
    set(seeds ${CMAKE_CURRENT_LIST_DIR}/corpus/${area})
  endif()
  add_test(NAME ${name} COMMAND ${name} -max_total_time=${SEGQ_FUZZ_TIME} -timeout=10
           -rss_limit_mb=2048 -print_final_stats=1 ${work} ${seeds})
  set_tests_properties(${name} PROPERTIES LABELS fuzz TIMEOUT 300)
endforeach()
