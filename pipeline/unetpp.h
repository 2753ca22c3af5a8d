/* unetpp: UNet++ (Zhou et al. 2018, "UNet++: A Nested U-Net Architecture
 * for Medical Image Segmentation") over the torch shim, as the widely used
 * NestedUNet: node X(i,j) at depth i (0..depth) and skip level j is a block
 * conv3x3-BN-ReLU-conv3x3-BN-ReLU of width width*2^i; X(i,0) takes the
 * 2x2 max-pooled X(i-1,0) (X(0,0) the image), and X(i,j>0) the channel
 * concatenation of X(i,0..j-1) and X(i+1,j-1) upsampled x2 (bilinear,
 * align_corners): the nested dense skip pathways. Output: a 1x1 conv of
 * X(0,depth) to one logit per pixel (no deep supervision). Inputs must be
 * divisible by 2^depth.
 *
 * Tensor names (safetensors): "x{i}_{j}.conv1.weight", ".conv1.bias",
 * ".bn1.weight", ".bn1.bias", ".bn1.running_mean", ".bn1.running_var",
 * the same for conv2/bn2, and "final.weight", "final.bias". */
#ifndef SEGQ_UNETPP_H
#define SEGQ_UNETPP_H

#include "segq_torch.h"

#include <stddef.h>
#include <stdint.h>

#define SEGQ_UNETPP_MAX_DEPTH 6
#define SEGQ_UNETPP_MAX_TENSORS 1024

typedef struct segq_unetpp_t segq_unetpp_t;

/* torch's default initialisation (convs U(+-1/sqrt(fan_in)), BN 1 and 0)
 * from the global generator. NULL with the torch error recorded, or for a
 * depth outside 1..SEGQ_UNETPP_MAX_DEPTH or width < 1. */
segq_unetpp_t *segq_unetpp_new(int depth, int width, int in_channels, segqt_device dev);
void segq_unetpp_destroy(segq_unetpp_t **self_p);

/* Logits B x 1 x H x W (scoped). training: BN uses batch statistics and
 * updates the running ones. */
segqt_tensor *segq_unetpp_forward(segq_unetpp_t *self, segqt_tensor *x, int training);

/* Names and tensors of every parameter and BN buffer; trainable ones
 * (conv/BN weights and biases) first, *n_trainable of them. Returns the
 * count. Names are static strings owned by the net. */
int segq_unetpp_tensors(segq_unetpp_t *self, const char **names, segqt_tensor **tensors, int max,
                        int *n_trainable);
/* Number of trainable scalars. */
int64_t segq_unetpp_param_count(segq_unetpp_t *self);
/* Copies every tensor of src into self (same configuration). */
int segq_unetpp_copy(segq_unetpp_t *self, segq_unetpp_t *src);
/* Every tensor into a safetensors file. */
int segq_unetpp_save(segq_unetpp_t *self, const char *path, char *err, size_t errlen);
/* Loads the encoder nodes X(i,0) (convs and BN, with their statistics)
 * from a safetensors file with the names above, e.g. a model an earlier
 * run saved; other keys are ignored. A missing or misshapen encoder
 * tensor is an error naming it and `what` (the option). */
int segq_unetpp_load_encoder(segq_unetpp_t *self, const char *path, const char *what, char *err,
                             size_t errlen);

#endif
