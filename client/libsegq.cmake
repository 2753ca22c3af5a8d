# libsegq as it is installed: libsegq.so.0 and libsegq.a, each whole (the
# client over the codec, the kind table and base, which are static and
# internal), the public headers under include/segq/, and segq.pc.
# Included from client/CMakeLists.txt. segq_client stays the in-tree
# library the CLI and the tests link (static, internals visible).

# LIBSEGQ_SOVERSION changes when a program built against an older libsegq
# would break (a public struct or signature changed); LIBSEGQ_VERSION is
# the file's full version.
set(LIBSEGQ_SOVERSION 0)
set(LIBSEGQ_VERSION ${LIBSEGQ_SOVERSION}.${PROJECT_VERSION_MINOR}.${PROJECT_VERSION_PATCH})

# The same objects as the in-tree libraries, no second compile: the
# shared one needs them position-independent (base, core and proto are).
set_target_properties(segq_client PROPERTIES POSITION_INDEPENDENT_CODE ON)
set(_libsegq_objects $<TARGET_OBJECTS:segq_client> $<TARGET_OBJECTS:segq_proto>
                     $<TARGET_OBJECTS:segq_core> $<TARGET_OBJECTS:segq_base>)

# The public headers: segq_client.h and what it includes, nothing more
# (tests/client/public_header.c keeps CZMQ and the codec out of them).
set(LIBSEGQ_HEADERS
  ${CMAKE_CURRENT_LIST_DIR}/segq_client.h
  ${PROJECT_SOURCE_DIR}/proto/segq_records.h
  ${PROJECT_SOURCE_DIR}/proto/segq_schema.h
  ${PROJECT_SOURCE_DIR}/base/segq_error.h
  ${PROJECT_SOURCE_DIR}/base/segq_sha256.h)

# Its linker version script, written from those headers: the functions
# they declare are exported, nothing else (libsegq_names.cmake).
set(LIBSEGQ_MAP ${CMAKE_CURRENT_BINARY_DIR}/libsegq.map)
add_custom_command(OUTPUT ${LIBSEGQ_MAP}
  COMMAND ${CMAKE_COMMAND} "-DHEADERS=${LIBSEGQ_HEADERS}" -DMAP=${LIBSEGQ_MAP}
          -P ${CMAKE_CURRENT_LIST_DIR}/libsegq_names.cmake
  DEPENDS ${LIBSEGQ_HEADERS} ${CMAKE_CURRENT_LIST_DIR}/libsegq_names.cmake
  COMMENT "libsegq.map from the public headers" VERBATIM)
add_custom_target(libsegq_map DEPENDS ${LIBSEGQ_MAP})

add_library(libsegq_shared SHARED ${_libsegq_objects})
add_dependencies(libsegq_shared libsegq_map)
set_property(TARGET libsegq_shared PROPERTY SEGQ_PUBLIC_HEADERS ${LIBSEGQ_HEADERS})
# --no-undefined: every library it needs is on its link line, so a program
# needs only -lsegq (not with clang's sanitizers, whose runtime a shared
# library leaves to the program).
set_target_properties(libsegq_shared PROPERTIES
  OUTPUT_NAME segq VERSION ${LIBSEGQ_VERSION} SOVERSION ${LIBSEGQ_SOVERSION}
  LINK_DEPENDS ${LIBSEGQ_MAP})
target_link_options(libsegq_shared PRIVATE -Wl,--version-script=${LIBSEGQ_MAP})
if(NOT SEGQ_FUZZ)
  target_link_options(libsegq_shared PRIVATE -Wl,--no-undefined)
endif()
target_link_libraries(libsegq_shared PRIVATE
  PkgConfig::CZMQ PkgConfig::ZMQ PkgConfig::MSGPACK Threads::Threads m)

add_library(libsegq_static STATIC ${_libsegq_objects})
set_target_properties(libsegq_static PROPERTIES OUTPUT_NAME segq)

# segq.pc finds its prefix from where it lies (${pcfiledir}), so the tree
# works wherever `cmake --install --prefix` or DESTDIR puts it.
set(_pcdir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(SEGQ_PC_PREFIX ${CMAKE_INSTALL_PREFIX})
  set(SEGQ_PC_LIBDIR ${CMAKE_INSTALL_FULL_LIBDIR})
  set(SEGQ_PC_INCLUDEDIR ${CMAKE_INSTALL_FULL_INCLUDEDIR})
else()
  file(RELATIVE_PATH _up /${_pcdir} /)
  string(REGEX REPLACE "/$" "" _up "${_up}")
  set(SEGQ_PC_PREFIX "\${pcfiledir}/${_up}")
  set(SEGQ_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(SEGQ_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/segq.pc.in ${CMAKE_CURRENT_BINARY_DIR}/segq.pc @ONLY)

install(TARGETS libsegq_shared
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT segq NAMELINK_COMPONENT segq)
install(TARGETS libsegq_static ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT segq)
install(FILES ${LIBSEGQ_HEADERS} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/segq COMPONENT segq)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/segq.pc DESTINATION ${_pcdir} COMPONENT segq)
