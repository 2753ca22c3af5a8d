# proto/ tests: codec round trips and rejection, schema, sha256, sizes; and
# segq_base's, which proto sits on.
# Not torch: they run in the ASan+UBSan build.
set(_proto_tests ${CMAKE_CURRENT_SOURCE_DIR}/proto)
segq_add_test(NAME test_proto_codec
  SOURCES ${_proto_tests}/test_codec.c ${_proto_tests}/fixtures.c
          ${_proto_tests}/fixture_compare.c ${_proto_tests}/no_leaks.c
  LIBS segq_proto TIMEOUT 120)
segq_add_test(NAME test_proto_reject
  SOURCES ${_proto_tests}/test_reject.c ${_proto_tests}/fixtures.c ${_proto_tests}/no_leaks.c
  LIBS segq_proto TIMEOUT 300)
segq_add_test(NAME test_proto_core
  SOURCES ${_proto_tests}/test_core.c ${_proto_tests}/no_leaks.c
  LIBS segq_core TIMEOUT 120)
# segq_base's "key = value" line reader (segqd.conf, slurm-scale.conf).
segq_add_test(NAME test_base_conf_lines
  SOURCES ${_proto_tests}/test_conf_lines.c
  LIBS segq_base TIMEOUT 60)
segq_add_test(NAME test_proto_generate_names
  SOURCES ${_proto_tests}/test_generate_names.c
  LIBS segq_core TIMEOUT 60)
segq_add_test(NAME test_proto_spec
  SOURCES ${_proto_tests}/test_spec.c
  LIBS segq_proto TIMEOUT 60)
segq_add_test(NAME test_proto_route
  SOURCES ${_proto_tests}/test_route.c
  LIBS segq_proto TIMEOUT 60)
segq_add_test(NAME test_proto_hashx
  SOURCES ${_proto_tests}/test_hashx.c
  LIBS segq_proto TIMEOUT 60)
# The committed protocol seeds (tests/fuzz/corpus/proto) are what the
# fixtures encode today: a stale seed would fuzz from, and the Python
# client's tests would check against, messages the codec no longer writes.
add_executable(make_fuzz_seeds ${_proto_tests}/make_fuzz_seeds.c ${_proto_tests}/fixtures.c)
target_link_libraries(make_fuzz_seeds PRIVATE segq_proto)
add_test(NAME test_proto_fuzz_seeds_current
  COMMAND sh ${_proto_tests}/check_fuzz_seeds.sh $<TARGET_FILE:make_fuzz_seeds>
          ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus/proto)
set_tests_properties(test_proto_fuzz_seeds_current PROPERTIES TIMEOUT 60)
