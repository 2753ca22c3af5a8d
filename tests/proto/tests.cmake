# proto/ tests: codec round trips and rejection, schema, sha256, sizes.
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
segq_add_test(NAME test_proto_spec
  SOURCES ${_proto_tests}/test_spec.c
  LIBS segq_proto TIMEOUT 60)
segq_add_test(NAME test_proto_route
  SOURCES ${_proto_tests}/test_route.c
  LIBS segq_proto TIMEOUT 60)
