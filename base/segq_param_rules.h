/*  segq_param_rules.h: the rules between a job's parameters that a range
    in the kind table cannot state, in one place: the table's checks (the
    CLI and the broker, at submit: proto/segq_kinds.c) and segq-run (which
    may be run by hand) apply the same arithmetic and say the same thing.

    Part of segq_base (libc only). Each returns 0, or SEGQ_EINVAL with err
    naming the parameters and what would do. */
#ifndef SEGQ_PARAM_RULES_H
#define SEGQ_PARAM_RULES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* train: a kernel of odd size (each layer is padded by (ker_size - 1) / 2
   a side), and a network whose num_layer unpadded convolutions (the
   discriminator's, on a real image) leave something of the coarsest
   scale, whose shorter side is min_size. */
int segq_rule_train_network (int64_t ker_size, int64_t num_layer, int64_t min_size, char *err,
                             size_t errlen);

/* generate: from a scale above 0 the samples keep the training image's
   layout, and so its size; scaling the output asks for another layout. */
int segq_rule_generate_scales (int64_t gen_start_scale, double scale_h, double scale_v, char *err,
                               size_t errlen);

/* evaluate: UNet++ halves the image `depth` times and joins each level
   with the one above, so the side must divide by 2^depth. */
int segq_rule_evaluate_size (int64_t size, int64_t depth, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
