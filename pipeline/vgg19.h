/* vgg19: the VGG19 `features` stack up to conv5_1 (torchvision indices
 * 0..29) and the style/content losses of SINGAN-SEG.md section 3.
 * Internal to the pipeline and its tests. */
#ifndef SEGQ_VGG19_H
#define SEGQ_VGG19_H

#include "segq_torch.h"
#include "vgg19_layers.h"

#include <stddef.h>

typedef struct segq_vgg19_t segq_vgg19_t;

/* Loads features.N.weight / features.N.bias of the 13 convolutions up to
 * conv5_1 (any float dtype, kept as float32 on dev, no gradient); other
 * keys (deeper layers, classifier) are ignored. A missing key or a wrong
 * shape is an error naming it and the option (`what`, e.g. "--vgg19"). */
int segq_vgg19_load(const char *path, const char *what, segqt_device dev, segq_vgg19_t **out,
                    char *err, size_t errlen);
void segq_vgg19_destroy(segq_vgg19_t **self_p);

/* (x - mean) / std with ImageNet's mean and std per channel, and back
 * (scoped results). */
segqt_tensor *segq_vgg19_normalise(segq_vgg19_t *self, segqt_tensor *x);
segqt_tensor *segq_vgg19_denormalise(segq_vgg19_t *self, segqt_tensor *z);

/* x: B x 3 x H x W RGB in [0, 1]; normalised with the ImageNet mean/std
 * here. Writes the post-ReLU activations relu1_1 .. relu5_1 (scoped,
 * float32) and stops there. bf16: the convolutions run in bfloat16 on
 * NHWC tensors (bf16 weight copies made on first use); the taps are then
 * NHWC bfloat16 (the losses cast what they need to float32). 0 or a
 * negative code (torch error recorded). */
int segq_vgg19_features(segq_vgg19_t *self, segqt_tensor *x, int bf16,
                        segqt_tensor *taps[SEGQ_VGG19_TAPS]);

/* Style weights of relu1_1 .. relu5_1 (0.75, 0.5, 0.25, 0.25, 0.25). */
extern const double segq_vgg19_style_weights[SEGQ_VGG19_TAPS];

/* Gram matrices F.F^T of B x c x h x w features, unnormalised: B x c x c. */
segqt_tensor *segq_gram(segqt_tensor *features);

/* What the image is pulled towards: the content's relu5_1 and the style
 * image's Gram matrices (computed once, in float32 whatever the precision
 * of the steps, without gradient; persistent). */
typedef struct {
    segqt_tensor *content;               /* B x 512 x h5 x w5 */
    segqt_tensor *gram[SEGQ_VGG19_TAPS]; /* B x c x c */
} segq_style_targets_t;

/* content and style: B x 3 x H x W in [0, 1], same size (the caller
 * resizes the style images). */
int segq_style_targets_new(segq_vgg19_t *vgg, segqt_tensor *content, segqt_tensor *style,
                           segq_style_targets_t *out);
void segq_style_targets_free(segq_style_targets_t *t);

/* Per-image losses of x (vectors of B, scoped, no graph):
 *   content_b = mean((relu5_1(x_b) - content_b)^2)
 *   style_b   = sum_l w_l * mean((G_l(x_b) - Gs_l,b)^2) / (c_l h_l w_l) */
int segq_style_losses(segq_vgg19_t *vgg, segqt_tensor *x, const segq_style_targets_t *t, int bf16,
                      segqt_tensor **content, segqt_tensor **style);

/* The same losses, and x.grad (x: a leaf with requires_grad) accumulates
 * the gradient of sum_b content_w * content_b + style_w * style_b: the
 * loss gradients at the five taps in closed form, then one backward pass
 * through the network. Each image of the batch gets its own gradient. */
int segq_style_backward(segq_vgg19_t *vgg, segqt_tensor *x, const segq_style_targets_t *t,
                        double content_w, double style_w, int bf16, segqt_tensor **content,
                        segqt_tensor **style);

#endif
