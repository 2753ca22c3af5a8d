/* cuda.h: stand-in (see cuda_runtime_api.h here); the c10 headers
   include it for driver types the shim does not use. */
#pragma once
