# The torch shim: one executable (a libtorch link is slow on 2 cores).
segq_add_test(NAME test_torch
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_torch_core.c
          ${CMAKE_CURRENT_LIST_DIR}/test_torch_ref.c
          ${CMAKE_CURRENT_LIST_DIR}/test_torch_bn.c
          ${CMAKE_CURRENT_LIST_DIR}/torch_test_util.c
  LIBS segq_torch segq_core Threads::Threads
  LABELS torch
  TIMEOUT 300)
target_include_directories(test_torch PRIVATE ${CMAKE_CURRENT_LIST_DIR})

# The shim's CUDA-only code (SEGQ_TORCH_CUDA) is built only on a GPU node,
# rarely at hand: each source is also compiled here, syntax only, against
# this CPU libtorch's c10/cuda headers (Debian's ships them) and a stand-in
# of the CUDA runtime's declarations, so a change that would break the
# CUDA build fails CI instead of a GPU node's short lease.
get_target_property(shim_cuda_flags segq_torch SEGQ_TORCH_CXX_FLAGS)
get_target_property(shim_includes segq_torch SEGQ_TORCH_INCLUDE_DIRS)
get_target_property(shim_dir segq_torch SOURCE_DIR)
get_target_property(shim_sources segq_torch SOURCES)
find_path(shim_c10_cuda c10/cuda/CUDAGuard.h PATHS ${shim_includes} NO_DEFAULT_PATH)
if(shim_c10_cuda AND NOT TORCH_CUDA_LIBRARIES)
  foreach(source ${shim_sources})
    get_filename_component(stem ${source} NAME_WE)
    add_test(NAME test_torch_cuda_syntax_${stem}
      COMMAND ${CMAKE_CXX_COMPILER} -std=c++17 -fsyntax-only -Werror -DSEGQ_TORCH_CUDA=1
              ${shim_cuda_flags} -I${CMAKE_CURRENT_LIST_DIR}/cuda_standin
              -I${shim_dir} -I${PROJECT_SOURCE_DIR}/base "-I$<JOIN:${shim_includes},;-I>"
              ${shim_dir}/${source}
      COMMAND_EXPAND_LISTS)
    set_tests_properties(test_torch_cuda_syntax_${stem} PROPERTIES LABELS torch TIMEOUT 300)
  endforeach()
endif()
