/* segq_ckpt: what a SinGAN-Seg checkpoint (model.safetensors, CHECKPOINT.md)
 * says of itself before any tensor is read: its format, the networks'
 * shape, the pyramid and the noise amplitudes. Plain C over the safetensors
 * reader, no libtorch: segq-run's loader starts from it, and `segq submit
 * generate --model FILE` checks a local checkpoint with it before uploading
 * (so a file that is no model is refused where the user is). */
#ifndef SEGQ_CKPT_H
#define SEGQ_CKPT_H

#include "segq_pyramid.h"
#include "segq_safetensors.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SEGQ_CKPT_FORMAT "segq-singan-seg"
#define SEGQ_CKPT_VERSION "1"
#define SEGQ_NET_MAX_LAYERS 64 /* conv layers a net of a checkpoint may have */

typedef struct {
    int trained;            /* scales 0..trained-1 are finished */
    int layers, ker, pad;   /* num_layer, ker_size, pad */
    int64_t orig_h, orig_w; /* the source image's size */
    int64_t nfc, nfc_max;
    segq_pyramid_t pyr;                        /* stop_scale, r, scale1, h[], w[], height, width */
    double noise_amp[SEGQ_PYRAMID_MAX_SCALES]; /* [0, trained) */
} segq_ckpt_header_t;

/* The header of the checkpoint st (opened from path, which messages
 * name): SEGQ_EINVAL when it is no SinGAN-Seg checkpoint or a number is
 * missing, malformed or out of what a model can have. From st opened
 * without its data (segq_st_open_header: a few reads, however large the
 * file) the scales are counted but not read: pyr's sizes and noise_amp
 * stay 0, and a check of them waits for the model's load. */
int segq_ckpt_header_read(const segq_st_t *st, const char *path, segq_ckpt_header_t *out, char *err,
                          size_t errlen);

/* The checkpoint at path opened and its header read: the check at submit. */
int segq_ckpt_header_read_file(const char *path, segq_ckpt_header_t *out, char *err, size_t errlen);

/* What generate needs of a model and its options: every scale trained,
 * gen_start_scale one of its scales, and with it > 0 the real layout's
 * size (scale_h = scale_v = 1). `what` names the model in messages. */
int segq_ckpt_check_generate(const segq_ckpt_header_t *h, const char *what, int64_t gen_start_scale,
                             double scale_h, double scale_v, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
