/* segq_vgg19_file: a VGG19 weights file (safetensors with torchvision's
 * `features` names) checked for what stylize reads of it, without libtorch:
 * segq-run's loader takes each tensor through segq_vgg19_file_tensor, and
 * `segq submit stylize --vgg19 FILE` checks a local file's header with
 * segq_vgg19_file_check before uploading it. */
#ifndef SEGQ_VGG19_FILE_H
#define SEGQ_VGG19_FILE_H

#include "segq_safetensors.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Tensor `key` of st (opened from path; `what` the flag that named it):
 * present, of shape want[0..ndim) and a float dtype. NULL with err saying
 * what is wrong and how to make a right file. */
const segq_st_tensor_t *segq_vgg19_file_tensor(const segq_st_t *st, const char *path,
                                               const char *what, const char *key,
                                               const int64_t *want, size_t ndim, char *err,
                                               size_t errlen);

/* The weights and biases of every convolution stylize uses (conv1_1 ..
 * conv5_1, vgg19_layers.h), each as segq_vgg19_file_tensor wants it. */
int segq_vgg19_file_check(const segq_st_t *st, const char *path, const char *what, char *err,
                          size_t errlen);

/* Names of conv i's weight and bias: "features.N.weight", "...bias". */
void segq_vgg19_file_keys(int i, char *weight, char *bias, size_t len);

#ifdef __cplusplus
}
#endif
#endif
