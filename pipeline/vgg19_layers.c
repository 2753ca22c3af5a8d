/* torchvision vgg19().features up to conv5_1 (vgg19_layers.h). */
#include "vgg19_layers.h"

const segq_vgg19_layer_t segq_vgg19_layers[SEGQ_VGG19_CONVS] = {
    {0, 3, 64, 0, 1},     {2, 64, 64, 1, 0},                          /* block 1 */
    {5, 64, 128, 0, 1},   {7, 128, 128, 1, 0},                        /* block 2 */
    {10, 128, 256, 0, 1}, {12, 256, 256, 0, 0}, {14, 256, 256, 0, 0}, /* block 3 */
    {16, 256, 256, 1, 0}, {19, 256, 512, 0, 1}, {21, 512, 512, 0, 0},
    {23, 512, 512, 0, 0},                       /* block 4 */
    {25, 512, 512, 1, 0}, {28, 512, 512, 0, 1}, /* conv5_1: the deepest layer used, so the last run
                                                 */
};
