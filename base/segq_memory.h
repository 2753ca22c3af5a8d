/*  segq_memory.h: the process-wide malloc policy of programs that move
    artifacts (broker, worker, CLI): keep freed chunk-sized buffers in the
    heap instead of unmapping them, so each CHUNK does not fault in a fresh
    megabyte of pages. */
#ifndef SEGQ_MEMORY_H
#define SEGQ_MEMORY_H

/* Blocks below this stay in the heap when freed: four whole messages of
   the protocol's default size (segq_proto.h SEGQ_DEFAULT_MAX_MSG). */
#define SEGQ_MALLOC_KEEP_BELOW (16u << 20)

/* Process-wide; call once at the top of main. */
void segq_malloc_for_chunks (void);

#endif
