/* One SinGAN training iteration: 3 critic steps with WGAN-GP, then one
 * generator update (SINGAN-SEG.md, section 1). */
#include "singan_internal.h"

#include <math.h>
#include <stdio.h>

segqt_tensor *segq__gradient_penalty(segq_net_t *D, segqt_tensor *real, segqt_tensor *fake,
                                     segqt_tensor *alpha, double lambda, int bf16)
{
    segqt_tensor *x =
        segqt_add(segqt_mul(alpha, real), segqt_mul(segqt_rsub_scalar(alpha, 1.0), fake));
    x = segqt_detach(x);
    if (!x || segqt_set_requires_grad(x, 1) != 0)
        return NULL;
    segqt_tensor *out = segq__net_forward(D, x, NULL, 1, bf16);
    segqt_tensor *ones = segqt_ones_like(out);
    segqt_tensor *grad = NULL;
    if (!out || !ones || segqt_autograd_grad(&out, 1, &x, 1, &ones, &grad, 1, 1) != 0)
        return NULL;
    segqt_tensor *norm = segqt_norm_dim(grad, 2.0, 1, 0);
    return segqt_mul_scalar(segqt_mean(segqt_pow_scalar(segqt_sub_scalar(norm, 1.0), 2.0)), lambda);
}

/* Scalars (of any float dtype) as one float32 vector. */
static segqt_tensor *stack_f32(segqt_tensor *const *scalars, int n)
{
    segqt_tensor *f32[SEGQ_LOSSES];
    for (int i = 0; i < n; i++)
        f32[i] = segqt_to_dtype(scalars[i], SEGQT_F32);
    return segqt_stack(f32, n, 0);
}

/* One critic step. With `keep_fake`, the fake it made (with its graph
 * into G) and its losses (loss_d, d_real, d_fake, gp) are returned in the
 * caller's scope. */
static int critic_step(segq_scale_state_t *s, const segq_train_opts_t *o, segqt_tensor *noise,
                       segqt_tensor *prev, segqt_tensor *alpha, int keep_fake, int bf16,
                       segqt_tensor **fake_out, segqt_tensor **losses_out)
{
    if (segqt_adam_zero_grad(s->opt_d) != 0)
        return segqt_last_code();
    segqt_tensor *in = segqt_add(segqt_mul_scalar(noise, s->noise_amp), prev);
    /* Only the last step's fake feeds the G update: the others need no
     * graph (same values, BatchNorm statistics move the same). */
    if (!keep_fake && segqt_no_grad_begin() != 0)
        return SEGQ_EINTERNAL;
    segqt_tensor *fake = segq__net_forward(s->G, in, prev, 1, bf16);
    if (!keep_fake)
        segqt_no_grad_end();
    segqt_tensor *fake_d = segqt_detach(fake);
    segqt_tensor *d_real = segqt_mean(segq__net_forward(s->D, s->real, NULL, 1, bf16));
    segqt_tensor *d_fake = segqt_mean(segq__net_forward(s->D, fake_d, NULL, 1, bf16));
    segqt_tensor *gp = segq__gradient_penalty(s->D, s->real, fake_d, alpha, o->lambda_grad, bf16);
    segqt_tensor *loss = segqt_add(segqt_sub(d_fake, d_real), gp);
    if (!loss || segqt_backward(loss, 0, 0) != 0 || segqt_adam_step(s->opt_d) != 0)
        return segqt_last_code() ? segqt_last_code() : SEGQ_ETORCH;
    if (keep_fake) {
        segqt_tensor *parts[4] = {loss, d_real, d_fake, gp};
        *fake_out = segqt_keep(fake);
        *losses_out = segqt_keep(stack_f32(parts, 4));
        if (!*fake_out || !*losses_out)
            return segqt_last_code();
    }
    return 0;
}

segqt_tensor *segq__train_step(segq_scale_state_t *s, const segq_train_opts_t *o,
                               segqt_tensor *noise, segqt_tensor *z_opt, segqt_tensor *const *prev,
                               segqt_tensor *const *gp_alpha, int bf16, segq_iter_times_t *times)
{
    if (z_opt) {
        segqt_tensor *keep = segqt_persist(segqt_alias(z_opt));
        if (!keep)
            return NULL;
        segqt_tensor_destroy(&s->z_opt);
        s->z_opt = keep;
    }
    segqt_tensor *fake = NULL, *critic_losses = NULL;
    double t0 = segq__now();
    for (int j = 0; j < o->d_steps; j++) {
        int last = j == o->d_steps - 1;
        if (segqt_scope_begin() < 0)
            return NULL;
        int rc = critic_step(s, o, noise, prev[j], gp_alpha[j], last, bf16, &fake, &critic_losses);
        segqt_scope_end();
        if (rc)
            return NULL;
    }

    /* G update. The authors run it g_steps times, each pass starting with
     * zero_grad, and step once: only the last pass's gradient is used and
     * it equals the first's, so we compute it once. Their extra passes
     * still move the BatchNorm running statistics: G's, which generation
     * uses (eval mode), and D's (which nothing uses, but the checkpoint
     * holds them). Every pass sees the same input and weights, so the
     * same batch statistics b: g_steps updates r <- (1 - m) r + m b equal
     * one with momentum 1 - (1 - m)^g_steps, which the one pass applies
     * (tests/pipeline checks the parameters and statistics against the
     * authors' 3-pass loop). */
    double t1 = segq__now();
    double m = 1.0 - pow(1.0 - SEGQ_BN_MOMENTUM, (double)(o->g_steps > 1 ? o->g_steps : 1));
    if (segqt_adam_zero_grad(s->opt_g) != 0 || segq__net_set_requires_grad(s->D, 0) != 0)
        return NULL;
    segqt_tensor *adv = segqt_neg(segqt_mean(segq__net_forward_bn(s->D, fake, NULL, 1, m, bf16)));
    segqt_tensor *total = adv, *rec_loss = segqt_zeros_like(adv);
    if (o->alpha != 0.0) {
        segqt_tensor *z_in = segqt_add(segqt_mul_scalar(s->z_opt, s->noise_amp), s->rec_prev);
        segqt_tensor *rec = segq__net_forward_bn(s->G, z_in, s->rec_prev, 1, m, bf16);
        rec_loss = segqt_mul_scalar(segqt_mse_loss(rec, s->real), o->alpha);
        total = segqt_add(adv, rec_loss);
    }
    int failed = !total || segqt_backward(total, 0, 0) != 0;
    if (segq__net_set_requires_grad(s->D, 1) != 0 || failed || segqt_adam_step(s->opt_g) != 0)
        return NULL;
    segqt_tensor *g_parts[2] = {adv, rec_loss};
    segqt_tensor *parts[2] = {critic_losses, stack_f32(g_parts, 2)};
    segqt_tensor *losses = segqt_cat(parts, 2, 0);
    if (times) {
        times->secs_critic = t1 - t0;
        times->secs_gen = segq__now() - t1;
    }
    return losses;
}

int segq__preview_forward(segq_scale_state_t *s, const segq_train_opts_t *o, int bf16)
{
    if (segqt_scope_begin() < 0 || segqt_no_grad_begin() != 0)
        return SEGQ_EINTERNAL;
    /* their Z_opt: the reconstruction input, or z_opt alone when alpha is 0 */
    segqt_tensor *z_in = o->alpha != 0.0
                             ? segqt_add(segqt_mul_scalar(s->z_opt, s->noise_amp), s->rec_prev)
                             : s->z_opt;
    segqt_tensor *out = segq__net_forward_bn(s->G, z_in, s->rec_prev, 1, SEGQ_BN_MOMENTUM, bf16);
    int rc = out ? 0 : segq__torch_code();
    segqt_no_grad_end();
    segqt_scope_end();
    return rc;
}

int segq__read_losses(segqt_tensor *losses, segq_iter_losses_t *out)
{
    float v[SEGQ_LOSSES];
    if (segqt_to_floats(losses, v, SEGQ_LOSSES) != 0)
        return segqt_last_code();
    out->loss_d = v[0];
    out->d_real = v[1];
    out->d_fake = v[2];
    out->gp = v[3];
    out->loss_g_adv = v[4];
    out->loss_rec = v[5];
    return 0;
}

int segq__train_iteration(segq_scale_state_t *s, const segq_train_opts_t *o, segqt_tensor *noise,
                          segqt_tensor *z_opt, segqt_tensor *const *prev,
                          segqt_tensor *const *gp_alpha, int bf16, segq_iter_losses_t *out)
{
    if (segqt_scope_begin() < 0)
        return SEGQ_EINTERNAL;
    segqt_tensor *losses = segq__train_step(s, o, noise, z_opt, prev, gp_alpha, bf16, NULL);
    int rc = losses ? segq__read_losses(losses, out) : segq__torch_code();
    segqt_scope_end();
    return rc;
}
