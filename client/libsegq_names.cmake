# The functions libsegq's installed headers declare: what libsegq.so
# exports, and nothing else (its static parts - codec, file helpers,
# kinds' internals - share the segq_ prefix, and must not become ABI).
#
# segq_public_functions(OUT HEADERS...): the names declared there, as our
# style writes a declaration: `segq_name (` outside comments.
function(segq_public_functions out)
  set(names)
  foreach(header IN LISTS ARGN)
    file(READ ${header} text)
    # comments out: a name a comment mentions is no declaration
    string(REGEX REPLACE "/\\*([^*]|\\*+[^*/])*\\*+/" "" text "${text}")
    string(REGEX MATCHALL "segq_[a-z0-9_]+ \\(" found "${text}")
    foreach(call IN LISTS found)
      string(REGEX REPLACE " \\($" "" name "${call}")
      list(APPEND names ${name})
    endforeach()
  endforeach()
  list(REMOVE_DUPLICATES names)
  list(SORT names)
  set(${out} ${names} PARENT_SCOPE)
endfunction()

# cmake -DHEADERS="a.h;b.h" -DMAP=out.map -P libsegq_names.cmake writes
# the linker version script.
if(CMAKE_SCRIPT_MODE_FILE AND MAP)
  segq_public_functions(names ${HEADERS})
  list(JOIN names ";\n    " globals)
  file(WRITE ${MAP}.new
    "/* libsegq.so's exports: the functions its installed headers declare\n"
    "   (written by client/libsegq_names.cmake); everything else is local. */\n"
    "SEGQ_0 {\n  global:\n    ${globals};\n  local:\n    *;\n};\n")
  # rewritten only when it changes: the library relinks only then
  file(COPY_FILE ${MAP}.new ${MAP} ONLY_IF_DIFFERENT)
  file(REMOVE ${MAP}.new)
endif()
