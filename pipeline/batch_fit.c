/* The batch that fits the memory a job may use (batch_fit.h). */
#include "batch_fit.h"

#include "segq_error.h"
#include "vgg19_layers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* generate's 4-channel float tensors of the sample's padded size alive at
 * the finest scale (singan_generate.c fill_batch, singan_model.c): the
 * upsampled prev, the noise and its padding, the padded prev, the scaled
 * noise and G's input, its bf16 cast, G's last conv, its float cast, tanh,
 * the residual sum, the PNG planes' three steps and their concatenation,
 * and the pair writer's two host slots. */
#define GEN_IMAGE_TENSORS 16
/* Beyond the hidden activations the frozen forward keeps (each conv's
 * output and its LeakyReLU's, all held by fill_batch's scope): the
 * convolution library's copies of the layer being computed (input and
 * output reordered to its blocked layout, and its work buffer), counted as
 * this many of the widest layer. */
#define GEN_CONV_SCRATCH 4
/* stylize's 3-channel float images per image (stylize.c stylize_batch):
 * content and style, the optimised image, its gradient, Adam's two
 * moments, and the step's (de)normalisations and clamps. */
#define STYLIZE_IMAGE_TENSORS 12
/* Per tap and image, stylize's c x c Gram matrices: the target, the step's
 * own, their difference, its square and the scaled gradient factor. */
#define STYLIZE_GRAMS 5

uint64_t segq_generate_sample_bytes(const segq_generate_shape_t *s)
{
    if (s->h < 1 || s->w < 1 || s->nfc < 1 || s->layers < 2 || s->ker < 1)
        return 0;
    /* G's input is padded so that its last layer gives h x w: hidden layer
     * l (1-based) is (ker - 1) * l smaller than the input each way. */
    uint64_t pad = (uint64_t)(s->ker - 1) * (uint64_t)s->layers / 2;
    uint64_t hp = (uint64_t)s->h + 2 * pad, wp = (uint64_t)s->w + 2 * pad;
    uint64_t hidden = 0, widest = 0;
    for (int l = 1; l < s->layers; l++) {
        uint64_t shrink = (uint64_t)(s->ker - 1) * (uint64_t)l;
        uint64_t px = (hp - shrink) * (wp - shrink);
        hidden += 2 * px; /* the conv's output and its LeakyReLU's */
        if (px > widest)
            widest = px;
    }
    uint64_t act_bytes = s->bf16 ? 2 : 4;
    return (hidden + GEN_CONV_SCRATCH * widest) * (uint64_t)s->nfc * act_bytes
           + GEN_IMAGE_TENSORS * 4 * hp * wp * sizeof(float);
}

/* A stylize step on one image (stylize.c, vgg19.c) keeps until its scope
 * ends every activation of VGG19 up to conv5_1 (each conv's output; a
 * pool's output and its int64 indices; each ReLU's output), a gradient of
 * each in the backward pass, each tap's loss gradient and its reshaped
 * copy, the Gram matrices and the images. All counted at 4 bytes in either
 * precision: a bf16 step was measured to peak as high as a float32 one
 * (libtorch 1.13 on the CPU: the backward's reorders and float32 copies). */
uint64_t segq_stylize_sample_bytes(int64_t h, int64_t w)
{
    if (h < 1 || w < 1)
        return 0;
    uint64_t y = (uint64_t)h, x = (uint64_t)w;
    uint64_t acts = 0, index_bytes = 0, taps = 0, grams = 0;
    for (int i = 0; i < SEGQ_VGG19_CONVS; i++) {
        const segq_vgg19_layer_t *l = &segq_vgg19_layers[i];
        uint64_t c = (uint64_t)l->out;
        acts += c * y * x;
        if (l->pool_after) {
            y /= 2;
            x /= 2;
            acts += c * y * x;
            index_bytes += c * y * x * sizeof(int64_t);
        }
        acts += c * y * x;
        if (l->tap) {
            taps += c * y * x;
            grams += c * c;
        }
    }
    uint64_t images = STYLIZE_IMAGE_TENSORS * 3 * (uint64_t)h * (uint64_t)w;
    return (2 * acts + 2 * taps + STYLIZE_GRAMS * grams + images) * sizeof(float) + index_bytes;
}

uint64_t segq_vgg19_weight_bytes(int bf16)
{
    uint64_t params = 0;
    for (int i = 0; i < SEGQ_VGG19_CONVS; i++) {
        const segq_vgg19_layer_t *l = &segq_vgg19_layers[i];
        params += (uint64_t)l->out * (uint64_t)l->in * 9 + (uint64_t)l->out;
    }
    return params * (bf16 ? 4 + 2 : 4);
}

/* "2.0 GiB", "322 MiB", "12 KiB": the unit a person reads best. */
static const char *human(uint64_t bytes, char *buf, size_t len)
{
    double b = (double)bytes;
    if (b >= 1073741824.0)
        snprintf(buf, len, "%.1f GiB", b / 1073741824.0);
    else if (b >= 1048576.0)
        snprintf(buf, len, "%.0f MiB", b / 1048576.0);
    else
        snprintf(buf, len, "%.0f KiB", b / 1024.0);
    return buf;
}

/* The budget as the log line and the error name it: "the 2.0 GiB declared
 * (SEGQ_GPU_MEM)" and what is taken from it, "less 14 MiB of weights, 1/8
 * kept spare". */
static void budget_text(const segq_batch_fit_t *f, char *total, size_t total_len, char *less,
                        size_t less_len)
{
    char t[32], r[32] = "";
    snprintf(total, total_len, "the %s %s", human(f->total, t, sizeof t), f->total_name);
    if (f->reserved)
        human(f->reserved, r, sizeof r);
    snprintf(less, less_len, "less %s%s1/%d kept spare", r, *r ? " of weights, " : "",
             SEGQ_BATCH_FIT_SPARE);
}

int segq_batch_fit(const segq_batch_fit_t *f, int64_t *batch, char *msg, size_t msglen, char *err,
                   size_t errlen)
{
    uint64_t free_bytes = f->total > f->reserved ? f->total - f->reserved : 0;
    uint64_t usable = free_bytes - free_bytes / SEGQ_BATCH_FIT_SPARE;
    uint64_t per = f->per_sample ? f->per_sample : 1;
    uint64_t fits = usable / per;
    char total[128], less[96], need[32], have[32];
    budget_text(f, total, sizeof total, less, sizeof less);
    human(per, need, sizeof need);
    if (fits == 0) {
        snprintf(err, errlen, "%s needs %s, but %s leaves %s (%s): %s", f->what, need, total,
                 human(usable, have, sizeof have), less, f->remedy);
        return f->fail_code;
    }
    int64_t b = f->requested < f->count ? f->requested : f->count;
    if (fits < (uint64_t)b)
        b = (int64_t)fits;
    uint64_t capped = f->cap_bytes ? f->cap_bytes / per : UINT64_MAX;
    capped = capped ? capped : 1;
    const char *s = b == 1 ? "" : "s";
    if (capped < (uint64_t)b) {
        char cap[32];
        *batch = (int64_t)capped;
        snprintf(msg, msglen,
                 "batch %lld -> %lld: %lld %s%s of %s, the most a batch on a CPU plans (%s: "
                 "larger ones are no faster there, only bigger)",
                 (long long)f->requested, (long long)capped, (long long)capped, f->unit,
                 capped == 1 ? "" : "s", need, human(f->cap_bytes, cap, sizeof cap));
        return 0;
    }
    *batch = b;
    if (b == f->requested)
        snprintf(msg, msglen, "batch %lld: up to %llu %s%s of %s fit in %s, %s", (long long)b,
                 (unsigned long long)fits, f->unit, fits == 1 ? "" : "s", need, total, less);
    else if ((uint64_t)b == fits)
        snprintf(msg, msglen, "batch %lld -> %lld: %lld %s%s of %s fit in %s, %s",
                 (long long)f->requested, (long long)b, (long long)b, f->unit, s, need, total,
                 less);
    else
        snprintf(msg, msglen,
                 "batch %lld -> %lld: %lld %s%s in all (up to %llu %ss of %s fit in %s, %s)",
                 (long long)f->requested, (long long)b, (long long)b, f->unit, s,
                 (unsigned long long)fits, f->unit, need, total, less);
    return 0;
}

/* The number after `key` (followed by ':' or a blank) on a line of path,
 * or of its first line when key is NULL; 1 when the line or the number is
 * absent ("max" in memory.max), -errno when the file cannot be read. */
static int read_number(const char *path, const char *key, uint64_t *out)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return errno ? -errno : -EIO;
    char line[512];
    size_t klen = key ? strlen(key) : 0;
    int rc = 1;
    while (rc == 1 && fgets(line, sizeof line, fp)) {
        const char *at = line;
        if (key) {
            if (strncmp(line, key, klen) != 0 || !line[klen] || !strchr(": \t", line[klen]))
                continue;
            at = line + klen + 1;
        }
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(at, &end, 10);
        if (!errno && end != at) {
            *out = v;
            rc = 0;
        }
        if (!key)
            break;
    }
    fclose(fp);
    return rc;
}

/* What the group at dir may still take, if it has a memory.max:
 * max - (current - inactive_file). */
static int group_headroom(const char *dir, uint64_t *out)
{
    char path[8448]; /* dir: cgroup_headroom's, and a file name */
    uint64_t max, current = 0, inactive = 0;
    snprintf(path, sizeof path, "%s/memory.max", dir);
    if (read_number(path, NULL, &max) != 0)
        return 1;
    snprintf(path, sizeof path, "%s/memory.current", dir);
    if (read_number(path, NULL, &current) != 0)
        return 1;
    snprintf(path, sizeof path, "%s/memory.stat", dir);
    if (read_number(path, "inactive_file", &inactive) != 0 || inactive > current)
        inactive = 0;
    uint64_t used = current - inactive;
    *out = max > used ? max - used : 0;
    return 0;
}

/* The least headroom of this process's cgroup v2 group and its ancestors
 * (a limit anywhere above holds too); 1 when none has a memory.max. */
static int cgroup_headroom(const segq_mem_files_t *f, uint64_t *out)
{
    FILE *fp = fopen(f->self_cgroup, "r");
    if (!fp)
        return 1;
    char line[4096], group[4096] = "";
    while (!group[0] && fgets(line, sizeof line, fp))
        if (strncmp(line, "0::", 3) == 0 && line[3] == '/')
            snprintf(group, sizeof group, "%.*s", (int)strcspn(line + 3, "\n"), line + 3);
    fclose(fp);
    if (!group[0])
        return 1; /* no cgroup v2 (v1 only) */
    char dir[8400];
    snprintf(dir, sizeof dir, "%s%s", f->cgroup_root, strcmp(group, "/") == 0 ? "" : group);
    size_t root_len = strlen(f->cgroup_root);
    int rc = 1;
    for (;;) {
        uint64_t h;
        if (group_headroom(dir, &h) == 0 && (rc || h < *out)) {
            *out = h;
            rc = 0;
        }
        if (strlen(dir) <= root_len)
            break;
        *strrchr(dir, '/') = '\0'; /* dir is root + "/..." */
    }
    return rc;
}

int segq_cpu_memory_available(const segq_mem_files_t *f, uint64_t *bytes, int *by_cgroup, char *err,
                              size_t errlen)
{
    uint64_t kib;
    int rc = read_number(f->meminfo, "MemAvailable", &kib);
    if (rc) {
        snprintf(err, errlen,
                 "%s: %s; segq-run reads MemAvailable there to fit its batches to the "
                 "CPU's memory",
                 f->meminfo,
                 rc > 0 ? "no MemAvailable line (Linux 3.14 or later has it)" : strerror(-rc));
        return rc > 0 ? SEGQ_EUNSUPPORTED : SEGQ_EIO;
    }
    *bytes = kib * 1024;
    *by_cgroup = 0;
    uint64_t room;
    if (cgroup_headroom(f, &room) == 0 && room < *bytes) {
        *bytes = room;
        *by_cgroup = 1;
    }
    return 0;
}
