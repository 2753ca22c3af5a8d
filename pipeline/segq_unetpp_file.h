/* segq_unetpp_file: the tensors of a UNet++ as evaluate saves and reads
 * them (safetensors, names "xI_J.conv1.weight" ...), without libtorch: the
 * torch model (unetpp.c) makes its tensors from this layout, segq-run's
 * --encoder-weights loader checks a file with segq_unetpp_file_check_encoder
 * before it reads a tensor, and `segq submit evaluate` checks a local
 * file's header with it, for the job's --depth and --width. */
#ifndef SEGQ_UNETPP_FILE_H
#define SEGQ_UNETPP_FILE_H

#include "segq_safetensors.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* evaluate's UNet++ reads RGB images. */
#define SEGQ_UNETPP_IN_CHANNELS 3

/* A node's tensors, in this order: the trainable ones first. */
enum {
    SEGQ_UNETPP_CONV1_W,
    SEGQ_UNETPP_CONV1_B,
    SEGQ_UNETPP_BN1_W,
    SEGQ_UNETPP_BN1_B,
    SEGQ_UNETPP_CONV2_W,
    SEGQ_UNETPP_CONV2_B,
    SEGQ_UNETPP_BN2_W,
    SEGQ_UNETPP_BN2_B,
    SEGQ_UNETPP_BN1_M,
    SEGQ_UNETPP_BN1_V,
    SEGQ_UNETPP_BN2_M,
    SEGQ_UNETPP_BN2_V,
    SEGQ_UNETPP_NODE_TENSORS
};
#define SEGQ_UNETPP_NODE_TRAINABLE 8

/* Input channels of node (i, j): the image's, the node above's output,
 * or (j > 0) the concatenation of its row's earlier nodes and the node
 * below's upsampled output. */
int segq_unetpp_node_in(int width, int in_channels, int i, int j);

/* Tensor k of node (i, j) of a UNet++ of `width` over in_channels: its
 * name in a file (into name) and shape; returns its number of dims. */
int segq_unetpp_node_tensor(int width, int in_channels, int i, int j, int k, char *name, size_t len,
                            int64_t shape[4]);

/* Every tensor of the encoder (nodes (i, 0), i = 0..depth) of a UNet++ of
 * this depth and width over in_channels in st (opened from path; `what`
 * the flag that named it), float32 in its shape; else SEGQ_EINVAL saying
 * which. */
int segq_unetpp_file_check_encoder(const segq_st_t *st, const char *path, const char *what,
                                   int depth, int width, int in_channels, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
