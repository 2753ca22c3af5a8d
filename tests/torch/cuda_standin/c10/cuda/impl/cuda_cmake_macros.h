/* cuda_cmake_macros.h: stand-in (see ../../../cuda_runtime_api.h):
   a CUDA libtorch generates it at build time. */
#pragma once
