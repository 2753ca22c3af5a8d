# libsegq.so exports exactly the functions its installed headers declare:
# none of its internals (they would become ABI no header shows), and no
# declared function missing (a program using it would not link).
# cmake -DNM=nm -DLIB=libsegq.so -DHEADERS="a.h|b.h" -P exports.cmake
include(${CMAKE_CURRENT_LIST_DIR}/../../client/libsegq_names.cmake)
string(REPLACE "|" ";" headers "${HEADERS}")
segq_public_functions(declared ${headers})
execute_process(COMMAND ${NM} -D --defined-only ${LIB}
  OUTPUT_VARIABLE table RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${NM} -D ${LIB} failed: ${rc}")
endif()
string(REGEX MATCHALL "[0-9a-f]+ [TW] [A-Za-z0-9_]+" rows "${table}")
set(exported)
foreach(row IN LISTS rows)
  string(REGEX REPLACE ".* " "" name "${row}")
  list(APPEND exported ${name})
endforeach()
set(extra ${exported})
list(REMOVE_ITEM extra ${declared})
set(missing ${declared})
list(REMOVE_ITEM missing ${exported})
if(extra OR missing)
  message(FATAL_ERROR "libsegq.so exports what no installed header declares: [${extra}]; "
                      "declares what it does not export: [${missing}]")
endif()
list(LENGTH exported n)
message(STATUS "libsegq.so exports the ${n} functions its headers declare")
