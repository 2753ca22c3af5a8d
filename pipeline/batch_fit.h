/* batch_fit: how many samples generate (or images stylize) puts in one
 * batch, so that the batch fits the memory the job may use: on a GPU the
 * memory it declared (SEGQ_GPU_MEM, the worker's share of the device), on
 * the CPU what the machine, or the job's cgroup, has available. A batch
 * is then min(--batch, what is left to make, what fits), and a job whose
 * single sample does not fit fails at once instead of part way through.
 *
 * Plain C, no torch: the estimates are arithmetic on the real shapes (the
 * finest scale's size and width, the precision; VGG19's layers at the
 * image's size), so they are tested without a device
 * (tests/pipeline/test_batch_fit.c). Each is what one more sample adds to
 * the process's peak, an upper bound of what libtorch 1.13 was measured to
 * use on the CPU (peak RSS over batches 1..32). What does not grow with
 * the batch (libraries, the convolution library's per-thread scratch,
 * allocator slack) is left to a margin: 1/8 of the budget is never
 * planned. */
#ifndef SEGQ_BATCH_FIT_H
#define SEGQ_BATCH_FIT_H

#include <stddef.h>
#include <stdint.h>

/* The part of the budget never planned: 1/SEGQ_BATCH_FIT_SPARE of it. */
#define SEGQ_BATCH_FIT_SPARE 8

/* generate on a CPU plans no batch above this many bytes. Larger batches
 * are no faster there, only bigger: on the 2-core development machine
 * (2026-12-05), 64 pairs at 213x250 took the same time in batches of 4 and
 * 16, while a batch of 16 held 3.0 GB against 0.9 GB and, in requests of
 * 16-32 pairs, was 20-40% slower (its memory's first touch); the step
 * came between 1.4 and 2.7 GiB of planned batch at both 213x250 and
 * 107x125. A GPU wants its batches large: no such cap there. */
#define SEGQ_BATCH_FIT_CPU_BYTES (1536ull << 20)

/* One generated sample: the finest scale's G, which runs last and largest. */
typedef struct {
    int64_t h, w;    /* the sample's size in pixels (the finest scale, scaled) */
    int64_t nfc;     /* channels of the finest G's hidden layers */
    int layers, ker; /* G's layers and kernel size; inputs are padded by (ker-1)*layers/2 */
    int bf16;        /* activations in bfloat16 (--precision bf16) */
} segq_generate_shape_t;

/* Bytes one sample adds to generate's peak; 0 for a shape that is not one
 * (a size or width below 1, fewer than 2 layers). */
uint64_t segq_generate_sample_bytes(const segq_generate_shape_t *s);

/* Bytes one h x w image adds to a stylize step's peak (either precision:
 * see batch_fit.c); 0 below 1x1. */
uint64_t segq_stylize_sample_bytes(int64_t h, int64_t w);

/* Bytes VGG19's weights up to conv5_1 take on the device: float32, and the
 * bfloat16 copies a bf16 run makes. */
uint64_t segq_vgg19_weight_bytes(int bf16);

/* What to fit and what into. */
typedef struct {
    const char *what;    /* the sample, for the error: "one 250x200 sample" */
    const char *unit;    /* for the log line: "sample", "image" (an s makes it plural) */
    const char *remedy;  /* what to do when not even one fits */
    int64_t requested;   /* --batch */
    int64_t count;       /* samples left to make */
    uint64_t per_sample; /* one of the estimates above */
    uint64_t total;      /* the memory named in messages: declared, free or available */
    uint64_t reserved;   /* of total, already taken (weights, where total is a declaration) */
    char total_name[64]; /* "declared (SEGQ_GPU_MEM)", "available (MemAvailable)", ... */
    int fail_code;       /* when not even one fits: SEGQ_EGPUMEM on a GPU, SEGQ_ENOMEM on a CPU */
    uint64_t cap_bytes;  /* a CPU's cap, SEGQ_BATCH_FIT_CPU_BYTES (the log line names it a
                            CPU's): no batch above it, yet at least 1 sample; 0: none */
} segq_batch_fit_t;

/* *batch = min(requested, count, what fits in (total - reserved) less
 * 1/SEGQ_BATCH_FIT_SPARE, what cap_bytes allows), and msg the log line
 * that says which and why
 * ("batch 16 -> 6: 6 samples of 322 MiB fit in the 2.0 GiB declared
 * (SEGQ_GPU_MEM), less 14 MiB of weights, 1/8 kept spare"). When not even
 * one sample fits: f->fail_code, and err naming the memory one sample
 * needs, the memory there is and f->remedy; *batch is left alone. */
int segq_batch_fit(const segq_batch_fit_t *f, int64_t *batch, char *msg, size_t msglen, char *err,
                   size_t errlen);

/* Where the CPU's memory is read from: parameters so tests can give
 * files of their own. */
typedef struct {
    const char *meminfo;     /* /proc/meminfo */
    const char *self_cgroup; /* /proc/self/cgroup */
    const char *cgroup_root; /* /sys/fs/cgroup, cgroup v2's mount */
} segq_mem_files_t;

#define SEGQ_MEM_FILES_SYSTEM                                                                      \
    {                                                                                              \
        "/proc/meminfo", "/proc/self/cgroup", "/sys/fs/cgroup"                                     \
    }

/* Bytes this process can still take on the CPU: MemAvailable, or less
 * where the cgroup v2 group it runs in (or an ancestor) has a memory.max:
 * then max - (memory.current - inactive_file of memory.stat), page cache
 * the kernel would drop not counted as used. *by_cgroup says which.
 * SEGQ_EIO or SEGQ_EUNSUPPORTED with err when MemAvailable cannot be
 * read; unreadable cgroup files only mean no cgroup limit. */
int segq_cpu_memory_available(const segq_mem_files_t *f, uint64_t *bytes, int *by_cgroup, char *err,
                              size_t errlen);

#endif
