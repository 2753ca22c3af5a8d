/* vgg19_layers: torchvision's VGG19 `features` up to conv5_1 as plain data
 * (no torch), read by the network (vgg19.c) and by stylize's memory
 * estimate (batch_fit.c), which must see the same shapes. */
#ifndef SEGQ_VGG19_LAYERS_H
#define SEGQ_VGG19_LAYERS_H

#define SEGQ_VGG19_CONVS 13 /* conv1_1 .. conv5_1 */
#define SEGQ_VGG19_TAPS 5   /* relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 */

/* One 3x3 convolution (padding 1): its torchvision `features` index and
 * channels. A 2x2 max pool follows the convs marked pool_after; the tap
 * (post-ReLU activation used by the losses) is the ReLU of tap convs. */
typedef struct {
    int index, in, out, pool_after, tap;
} segq_vgg19_layer_t;

extern const segq_vgg19_layer_t segq_vgg19_layers[SEGQ_VGG19_CONVS];

#endif
