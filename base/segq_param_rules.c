/*  segq_param_rules.c: see segq_param_rules.h. */
#include "segq_param_rules.h"
#include "segq_error.h"

int
segq_rule_train_network (int64_t ker_size, int64_t num_layer, int64_t min_size, char *err,
                         size_t errlen)
{
    if (ker_size % 2 == 0)
        return segq_fail (err, errlen, SEGQ_EINVAL,
                          "ker_size %lld: must be odd (a layer is padded by (ker_size - 1) / 2 "
                          "on each side)",
                          (long long) ker_size);
    int64_t shrink = num_layer * (ker_size - 1);
    if (shrink >= min_size)
        return segq_fail (err, errlen, SEGQ_EINVAL,
                          "num_layer %lld of ker_size %lld: the discriminator's convolutions "
                          "shrink an image by %lld pixels, and the coarsest scale's shorter "
                          "side is min_size %lld: lower num_layer or ker_size, or raise "
                          "min_size to %lld or more",
                          (long long) num_layer, (long long) ker_size, (long long) shrink,
                          (long long) min_size, (long long) shrink + 1);
    return 0;
}

int
segq_rule_generate_scales (int64_t gen_start_scale, double scale_h, double scale_v, char *err,
                           size_t errlen)
{
    if (gen_start_scale > 0 && (scale_h != 1.0 || scale_v != 1.0))
        return segq_fail (err, errlen, SEGQ_EINVAL,
                          "gen_start_scale %lld keeps the real image's layout and so its size: "
                          "use it with scale_h 1 and scale_v 1 (or gen_start_scale 0 to scale)",
                          (long long) gen_start_scale);
    return 0;
}

int
segq_rule_evaluate_size (int64_t size, int64_t depth, char *err, size_t errlen)
{
    int64_t step = depth >= 0 && depth < 62 ? (int64_t) 1 << depth : 0;
    if (!step || size % step != 0)
        return segq_fail (err, errlen, SEGQ_EINVAL,
                          "size %lld: must be divisible by 2^depth = %lld (depth %lld): try "
                          "size %lld",
                          (long long) size, (long long) step, (long long) depth,
                          (long long) (step ? (size + step - 1) / step * step : size));
    return 0;
}
