/*  segq_memory.c: the process-wide malloc policy of programs that move
    artifacts in chunks. */
#include "segq_memory.h"

#include <malloc.h>

void
segq_malloc_for_chunks (void)
{
    /* glibc maps every block over 128 KiB (rising only after frees) with
       mmap and returns heap tops over 128 KiB: each 1 MiB CHUNK then cost
       256 page faults where it was read into, received into (ZeroMQ's I/O
       thread) and sent from. Measured on a 256 MiB round trip: 86,000 ->
       12,000 page faults, task clock 4.0 -> 3.3 s. */
    mallopt (M_MMAP_THRESHOLD, (int) SEGQ_MALLOC_KEEP_BELOW);
    mallopt (M_TRIM_THRESHOLD, 64 << 20);
}
