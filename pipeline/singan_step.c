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

static int item(segqt_tensor *t, double *out)
{
    return t ? segqt_item(t, out) : segqt_last_code();
}

/* One critic step; the fake it made is returned (kept in the caller's
 * scope) when `keep_fake`, with its graph into G. */
static int critic_step(segq_scale_state_t *s, const segq_train_opts_t *o, segqt_tensor *noise,
                       segqt_tensor *prev, segqt_tensor *alpha, int keep_fake, int bf16,
                       segqt_tensor **fake_out, segq_iter_losses_t *out)
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
        *fake_out = segqt_keep(fake);
        double dr = 0, df = 0;
        int rc = item(loss, &out->loss_d) | item(d_real, &dr) | item(d_fake, &df)
                 | item(gp, &out->gp);
        out->d_real = dr;
        out->d_fake = df;
        if (rc)
            return segqt_last_code();
    }
    return 0;
}

int segq__train_iteration(segq_scale_state_t *s, const segq_train_opts_t *o, segqt_tensor *noise,
                          segqt_tensor *z_opt, segqt_tensor *const *prev,
                          segqt_tensor *const *gp_alpha, int bf16, segq_iter_losses_t *out)
{
    if (z_opt) {
        segqt_tensor *keep = segqt_persist(segqt_alias(z_opt));
        if (!keep)
            return segqt_last_code();
        segqt_tensor_destroy(&s->z_opt);
        s->z_opt = keep;
    }
    segqt_tensor *fake = NULL;
    double t0 = segq__now();
    for (int j = 0; j < o->d_steps; j++) {
        int last = j == o->d_steps - 1;
        if (segqt_scope_begin() < 0)
            return SEGQ_EINTERNAL;
        int rc = critic_step(s, o, noise, prev[j], gp_alpha[j], last, bf16, &fake, out);
        segqt_scope_end();
        if (rc)
            return rc;
    }

    /* G update. The authors run it g_steps times, each pass starting with
     * zero_grad, and step once: only the last pass's gradient is used and
     * it equals the first's, so we compute it once. Their extra passes
     * still move G's BatchNorm running statistics, which generation uses
     * (eval mode). Every pass sees the same input and weights, so the same
     * batch statistics b: g_steps updates r <- (1 - m) r + m b equal one
     * with momentum 1 - (1 - m)^g_steps, which the one pass applies
     * (tests/pipeline checks the parameters and statistics against the
     * authors' 3-pass loop). */
    double t1 = segq__now();
    out->secs_critic = t1 - t0;
    if (segqt_adam_zero_grad(s->opt_g) != 0 || segq__net_set_requires_grad(s->D, 0) != 0)
        return segqt_last_code();
    segqt_tensor *adv = segqt_neg(segqt_mean(segq__net_forward(s->D, fake, NULL, 1, bf16)));
    segqt_tensor *total = adv, *rec_loss = NULL;
    if (o->alpha != 0.0) {
        segqt_tensor *z_in = segqt_add(segqt_mul_scalar(s->z_opt, s->noise_amp), s->rec_prev);
        double m = 1.0 - pow(1.0 - SEGQ_BN_MOMENTUM, (double)(o->g_steps > 1 ? o->g_steps : 1));
        segqt_tensor *rec = segq__net_forward_bn(s->G, z_in, s->rec_prev, 1, m, bf16);
        rec_loss = segqt_mul_scalar(segqt_mse_loss(rec, s->real), o->alpha);
        total = segqt_add(adv, rec_loss);
    }
    int rc = 0;
    if (!total || segqt_backward(total, 0, 0) != 0)
        rc = segqt_last_code() ? segqt_last_code() : SEGQ_ETORCH;
    if (segq__net_set_requires_grad(s->D, 1) != 0 && rc == 0)
        rc = segqt_last_code();
    if (rc)
        return rc;
    if (segqt_adam_step(s->opt_g) != 0)
        return segqt_last_code();
    out->loss_rec = 0.0;
    if (item(adv, &out->loss_g_adv) || (rec_loss && item(rec_loss, &out->loss_rec)))
        return segqt_last_code();
    out->secs_gen = segq__now() - t1;
    return 0;
}
