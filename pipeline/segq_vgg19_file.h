/* segq_vgg19_file: a VGG19 weights file (safetensors with torchvision's
 * `features` names) checked for what stylize reads of it, without libtorch:
 * segq-run's loader checks the file with segq_vgg19_file_check before it
 * reads a tensor, and `segq submit stylize --vgg19 FILE` checks a local
 * file's header with it before uploading it. */
#ifndef SEGQ_VGG19_FILE_H
#define SEGQ_VGG19_FILE_H

#include "segq_safetensors.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The weights and biases of every convolution stylize uses (conv1_1 ..
 * conv5_1, vgg19_layers.h) in st (opened from path; `what` the flag that
 * named it): each present, in its shape and a float dtype; else
 * SEGQ_EINVAL with err saying what is wrong and how to make a right file. */
int segq_vgg19_file_check(const segq_st_t *st, const char *path, const char *what, char *err,
                          size_t errlen);

/* Names of conv i's weight and bias: "features.N.weight", "...bias". */
void segq_vgg19_file_keys(int i, char *weight, char *bias, size_t len);

#ifdef __cplusplus
}
#endif
#endif
