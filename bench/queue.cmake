# Queue benchmarks (print figures; not pass/fail). One executable each.
if(SEGQ_WITH_QUEUE)
  add_executable(bench_proto_codec ${CMAKE_CURRENT_SOURCE_DIR}/proto_codec.c)
  target_link_libraries(bench_proto_codec PRIVATE segq_proto)
endif()
