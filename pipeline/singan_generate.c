/* segq-run generate: sample image/mask pairs from a checkpoint, batched,
 * into a Kvasir-SEG layout dataset with a manifest. */
#include "contact_sheet.h"
#include "segq_sha256.h"
#include "singan_internal.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The source name without its extension, made safe for a file name. */
static void stem_of(const char *name, char *out, size_t len)
{
    size_t i = 0;
    for (; name[i] && i + 1 < len; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                 || c == '-' || c == '_' || c == '.';
        out[i] = ok ? c : '_';
    }
    out[i] = '\0';
    char *dot = strrchr(out, '.');
    if (dot && dot != out)
        *dot = '\0';
    if (!out[0])
        snprintf(out, len, "source");
}

/* CSV field: quoted, inner quotes doubled (names come from users). */
static void csv_field(FILE *f, const char *s, int last)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
    fputc(last ? '\n' : ',', f);
}

int segq_singan_generate(const segq_generate_opts_t *o, segq_progress_t *progress, char *err,
                         size_t errlen)
{
    segqt_device dev;
    int threads;
    int rc = segq__compute_setup(&o->compute, &dev, &threads, err, errlen);
    if (rc)
        return rc;
    if (segqt_manual_seed((uint64_t)o->compute.seed) != 0)
        return segq__torch_fail(err, errlen, "--seed");
    char model_hex[SEGQ_HASH_HEX_LEN + 1];
    if (segq_sha256_file(o->model, model_hex) != 0) {
        snprintf(err, errlen, "--model %s: cannot read the file (%s)", o->model, strerror(errno));
        return SEGQ_EINVAL;
    }
    segq_model_t m;
    segq_ckpt_meta_t meta;
    rc = segq__ckpt_load(o->model, dev, 0, &m, &meta, err, errlen);
    if (rc)
        return rc;
    int S = m.pyr.stop_scale + 1;
    m.bf16 = strcmp(o->compute.precision, "bf16") == 0;
    if (m.trained < S) {
        snprintf(err, errlen, "--model %s: only %d of its %d scales are trained (an unfinished "
                 "training: finish it with segq-run train --resume)", o->model, m.trained, S);
        rc = SEGQ_EINVAL;
    } else if (o->gen_start_scale >= S) {
        snprintf(err, errlen, "--gen-start-scale %lld: the model has scales 0..%d",
                 (long long)o->gen_start_scale, S - 1);
        rc = SEGQ_EINVAL;
    } else if (o->gen_start_scale > 0 && (o->scale_h != 1.0 || o->scale_v != 1.0)) {
        snprintf(err, errlen, "--gen-start-scale > 0 keeps the real image's layout and so its "
                 "size: use it with --scale-h 1 --scale-v 1");
        rc = SEGQ_EINVAL;
    }
    char dir[4096], img[4400], msk[4400], name[512], stem[256];
    FILE *man = NULL;
    if (!rc)
        rc = segq__make_dir(o->out, err, errlen);
    snprintf(dir, sizeof dir, "%s/images", o->out);
    if (!rc)
        rc = segq__make_dir(dir, err, errlen);
    snprintf(dir, sizeof dir, "%s/masks", o->out);
    if (!rc)
        rc = segq__make_dir(dir, err, errlen);
    snprintf(dir, sizeof dir, "%s/manifest.csv", o->out);
    struct stat sb;
    int fresh = stat(dir, &sb) != 0;
    if (!rc && !(man = fopen(dir, "a"))) {
        snprintf(err, errlen, "cannot write %s: %s", dir, strerror(errno));
        rc = SEGQ_EINVAL;
    }
    if (!rc && fresh)
        fputs("name,image,mask,source_image,source_image_sha256,source_mask,"
              "source_mask_sha256,model,model_sha256,seed,sample,gen_start_scale,scale_h,"
              "scale_v,batch,precision\n",
              man);
    stem_of(meta.image_name, stem, sizeof stem);
    double t0 = segq__now();
    for (int64_t done = 0; done < o->count && !rc;) {
        int64_t b = o->count - done < o->batch ? o->count - done : o->batch;
        segqt_scope_begin();
        segqt_no_grad_begin();
        segqt_tensor *prev = segq__prev(&m, S - 1, b, (int)o->gen_start_scale, o->scale_v,
                                        o->scale_h);
        segqt_tensor *x = segq__run_scale(&m, S - 1, prev, S - 1 >= o->gen_start_scale,
                                          o->scale_v, o->scale_h);
        x = segqt_cpu_contiguous(x);
        if (!x)
            rc = segq__torch_fail(err, errlen, "generating");
        for (int64_t k = 0; k < b && !rc; k++) {
            snprintf(name, sizeof name, "%s_%.8s_s%lld_%05lld", stem, model_hex,
                     (long long)o->compute.seed, (long long)(done + k));
            snprintf(img, sizeof img, "%s/images/%s.png", o->out, name);
            snprintf(msk, sizeof msk, "%s/masks/%s.png", o->out, name);
            rc = segq__write_pair(x, k, img, msk, err, errlen);
            if (rc)
                break;
            char num[64];
            csv_field(man, name, 0);
            snprintf(img, sizeof img, "images/%s.png", name);
            csv_field(man, img, 0);
            snprintf(img, sizeof img, "masks/%s.png", name);
            csv_field(man, img, 0);
            csv_field(man, meta.image_name, 0);
            csv_field(man, meta.image_sha256, 0);
            csv_field(man, meta.mask_name, 0);
            csv_field(man, meta.mask_sha256, 0);
            /* the file's name only: where it lay (a worker's scratch
               folder) says nothing about the model; its sha256 does */
            const char *slash = strrchr(o->model, '/');
            csv_field(man, slash ? slash + 1 : o->model, 0);
            csv_field(man, model_hex, 0);
            fprintf(man, "%lld,%lld,%lld,%.17g,%.17g,%lld,", (long long)o->compute.seed,
                    (long long)(done + k), (long long)o->gen_start_scale, o->scale_h,
                    o->scale_v, (long long)o->batch);
            snprintf(num, sizeof num, "%s", o->compute.precision);
            csv_field(man, num, 1);
        }
        segqt_no_grad_end();
        segqt_scope_end();
        done += b;
        double el = segq__now() - t0;
        segq_metric_t met[] = {{"samples", (double)done}, {"samples_per_s", done / el}};
        segq_progress_report(progress, "generate", (double)done / (double)o->count, met, 2,
                             NULL, done == o->count);
    }
    if (man && fclose(man) != 0 && !rc) {
        snprintf(err, errlen, "%s/manifest.csv: write failed", o->out);
        rc = SEGQ_EINVAL;
    }
    /* a preview that `segq fetch` brings back with the pairs; of the whole
     * folder, as the manifest, when generate appends to an earlier run */
    snprintf(dir, sizeof dir, "%s/" SEGQ_CONTACT_SHEET_FILE, o->out);
    if (!rc)
        rc = segq_contact_sheet_write_dir(o->out, dir, err, errlen);
    if (!rc) {
        double el = segq__now() - t0;
        printf("generated %lld pairs of %dx%d from %s in %.2f s (%.2f samples/s)\n",
               (long long)o->count, (int)(m.pyr.h[S - 1] * o->scale_v + 0.5),
               (int)(m.pyr.w[S - 1] * o->scale_h + 0.5), meta.image_name, el, o->count / el);
    }
    segq__model_free(&m);
    segq__ckpt_meta_free(&meta);
    return rc;
}
