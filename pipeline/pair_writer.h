/* pair_writer: writes batches of generated image/mask pairs as PNG files on
 * a bounded pool of threads while the caller fills the next batch, so that
 * segq-run generate's device produces batch k+1 while batch k is encoded
 * (PNG encoding, not the GPU, bounds a serial generate). Plain C over
 * segq_image and pthreads (no libtorch), so it is sanitized.
 *
 * Buffers: the writer owns two host buffers ("slots"), each `batch` pairs
 * of height x width, a pair being 4 float planes in [0, 1] one after the
 * other: R, G, B, then the mask (0 or 1), i.e. the layout of a contiguous
 * [batch, 4, height, width] tensor. One slot is the caller's to fill
 * (segq_pair_writer_buffer); at most the other one is being written. So no
 * more than one batch is ever in flight, and memory stays two slots.
 *
 * Files: pair k of a batch becomes DIR/images/NAME.png (RGB) and
 * DIR/masks/NAME.png (grey), NAME as set with segq_pair_writer_name; the
 * bytes are those of segq_pair_write_png.
 *
 * Errors: a batch's first failing pair (lowest index) is the one reported,
 * with segq_image's message (the path and the reason); pairs after it that
 * no worker had started are skipped, as a serial writer would have stopped
 * there. */
#ifndef SEGQ_PAIR_WRITER_H
#define SEGQ_PAIR_WRITER_H

#include <stddef.h>
#include <stdint.h>

/* Longest NAME, its terminating NUL included. */
#define SEGQ_PAIR_NAME_MAX 512

typedef struct segq_pair_writer_t segq_pair_writer_t;

/* A writer into dir (whose images/ and masks/ folders must exist) with
 * `threads` workers, clamped to 1..batch. NULL with err set when dir is
 * longer than PATH_MAX, a size is 0 or too large (EINVAL), memory runs out
 * or a thread cannot start. */
segq_pair_writer_t *segq_pair_writer_new(const char *dir, int threads, int64_t batch,
                                         uint32_t width, uint32_t height, char *err, size_t errlen);
/* Waits for the batch in flight (its errors are dropped: call
 * segq_pair_writer_wait first to see them), joins the workers, frees the
 * buffers and sets *self_p to NULL. NULL or *self_p NULL is a no-op. */
void segq_pair_writer_destroy(segq_pair_writer_t **self_p);

/* The slot to fill next: batch * 4 * height * width floats, owned by the
 * writer. The workers never read it before segq_pair_writer_submit. */
float *segq_pair_writer_buffer(segq_pair_writer_t *self);
/* Names pair k of the slot being filled. SEGQ_EINTERNAL (a caller's bug)
 * when k is outside 0..batch-1 or name is longer than
 * SEGQ_PAIR_NAME_MAX - 1. */
int segq_pair_writer_name(segq_pair_writer_t *self, int64_t k, const char *name);
/* Hands the filled slot's first count pairs to the workers and returns at
 * once; the other slot becomes the one to fill. SEGQ_EINTERNAL when a
 * batch is still in flight (wait for it first) or count is outside
 * 1..batch. */
int segq_pair_writer_submit(segq_pair_writer_t *self, int64_t count);
/* Blocks until the batch in flight is written; 0 at once when there is
 * none. *written (may be NULL) gets the number of leading pairs written:
 * all of them on success, those before the failing one otherwise. Returns
 * 0 or that pair's code, its message in err (may be NULL). */
int segq_pair_writer_wait(segq_pair_writer_t *self, int64_t *written, char *err, size_t errlen);

/* One pair, on the calling thread: planes (4 x height x width, as above)
 * to an RGB PNG at image_path and a grey PNG at mask_path, in this order
 * (segq_image_from_float_chw, segq_image_write_png). */
int segq_pair_write_png(const float *planes, uint32_t width, uint32_t height,
                        const char *image_path, const char *mask_path, char *err, size_t errlen);

#endif
