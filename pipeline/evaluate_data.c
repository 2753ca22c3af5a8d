/* evaluate's datasets in memory: pairs padded to squares, resized. */
#include "evaluate_internal.h"

#include "segq_error.h"
#include "segq_folds.h"
#include "segq_image.h"
#include "segq_sha256.h"
#include "singan_internal.h"
#include "stylize_manifest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t segq__eval_rand(uint64_t *state)
{
    return segq_splitmix64(state);
}

void segq__eval_shuffle(segq_eval_item_t *items, size_t n, uint64_t *state)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(segq__eval_rand(state) % i);
        segq_eval_item_t t = items[i - 1];
        items[i - 1] = items[j];
        items[j] = t;
    }
}

void segq__eval_data_free(segq_eval_data_t *d)
{
    for (int64_t i = 0; i < d->n; i++) {
        if (d->name)
            free(d->name[i]);
        if (d->sha)
            free(d->sha[i]);
        if (d->src_name)
            free(d->src_name[i]);
        if (d->src_sha)
            free(d->src_sha[i]);
    }
    free(d->name);
    free(d->sha);
    free(d->src_name);
    free(d->src_sha);
    free(d->img);
    free(d->mask);
    memset(d, 0, sizeof *d);
}

/* Pads a c x h x w plane set to a centred square with zeros and resizes it
 * to s x s (bilinear, antialiased), into out (c x s x s). */
static int square_resize(const float *src, int c, uint32_t h, uint32_t w, int64_t s, float *out,
                         int threshold)
{
    if (segqt_scope_begin() < 0)
        return SEGQ_EINTERNAL;
    int64_t shape[4] = {1, c, h, w};
    segqt_tensor *t = segqt_from_floats(src, shape, 4, SEGQT_CPU);
    int64_t side = h > w ? h : w, top = (side - h) / 2, left = (side - w) / 2;
    int64_t pads[4] = {left, side - w - left, top, side - h - top};
    t = segqt_pad(t, pads, 4, 0.0);
    if (side != s)
        t = segqt_interpolate(t, s, s, SEGQT_INTERP_BILINEAR, 0, 1);
    if (threshold)
        t = segqt_compare_scalar(t, SEGQT_GT, 0.5);
    int rc = segqt_to_floats(t, out, (size_t)c * (size_t)s * (size_t)s) ? SEGQ_EINTERNAL : 0;
    segqt_scope_end();
    return rc;
}

static int load_pair(const segq_dataset_pair_t *p, int64_t s, float *img_out, float *mask_out,
                     char *err, size_t errlen)
{
    segq_image_t *rgb = NULL, *mask = NULL;
    int rc = segq_image_read_labelled(p->image_path, p->mask_path, NULL, &rgb, &mask, err, errlen);
    float *buf = NULL;
    if (!rc) {
        size_t n = (size_t)rgb->width * rgb->height;
        buf = malloc(4 * n * sizeof(float));
        if (!buf) {
            snprintf(err, errlen, "%s: out of memory", p->image_path);
            rc = SEGQ_ENOMEM;
        } else {
            segq_image_to_float_chw(rgb, buf);
            segq_image_to_float_chw(mask, buf + 3 * n);
            if (square_resize(buf, 3, rgb->height, rgb->width, s, img_out, 0)
                || square_resize(buf + 3 * n, 1, rgb->height, rgb->width, s, mask_out, 1)) {
                snprintf(err, errlen, "%s: resizing: %s", p->image_path, segqt_last_error());
                rc = SEGQ_EINTERNAL;
            }
        }
    }
    free(buf);
    segq_image_destroy(&rgb);
    segq_image_destroy(&mask);
    return rc;
}

/* Room for n pairs of size x size in out. */
static int alloc_data(segq_eval_data_t *out, size_t n, int64_t size)
{
    size_t plane = (size_t)size * (size_t)size;
    out->size = size;
    out->img = malloc(n * 3 * plane * sizeof(float));
    out->mask = malloc(n * plane * sizeof(float));
    out->name = calloc(n, sizeof(char *));
    out->sha = calloc(n, sizeof(char *));
    out->src_name = calloc(n, sizeof(char *));
    out->src_sha = calloc(n, sizeof(char *));
    out->n = (int64_t)n;
    return out->img && out->mask && out->name && out->sha && out->src_name && out->src_sha
               ? 0
               : SEGQ_ENOMEM;
}

/* Pair i's pixels, its name and its image's sha256 into out. */
static int read_item(const segq_dataset_pair_t *p, size_t i, segq_eval_data_t *out, char *err,
                     size_t errlen)
{
    size_t plane = (size_t)out->size * (size_t)out->size;
    char hex[SEGQ_HASH_HEX_LEN + 1];
    int rc = load_pair(p, out->size, out->img + i * 3 * plane, out->mask + i * plane, err, errlen);
    if (rc)
        return rc;
    if (segq_sha256_file(p->image_path, hex) != 0) {
        snprintf(err, errlen, "cannot read %s: %s", p->image_path, strerror(errno));
        return SEGQ_EIO;
    }
    out->name[i] = strdup(p->name);
    out->sha[i] = strdup(hex);
    return out->name[i] && out->sha[i] ? 0 : SEGQ_ENOMEM;
}

/* Synthetic pair i's source image, by name and hash, from the manifest:
 * what keeps it out of the folds its source is tested in. */
static int read_source(const segq_manifest_t *man, const char *dir, const char *what,
                       const char *name, size_t i, segq_eval_data_t *out, char *err, size_t errlen)
{
    const char *src = segq_manifest_get(man, name, "source_image");
    const char *sha = segq_manifest_get(man, name, "source_image_sha256");
    if (!src || !*src) {
        snprintf(err, errlen,
                 "%s %s: pair '%s' has no source_image in manifest.csv, "
                 "so it cannot be kept out of the folds it derives from",
                 what, dir, name);
        return SEGQ_EINVAL;
    }
    out->src_name[i] = segq_dataset_stem(src);
    out->src_sha[i] = strdup(sha ? sha : "");
    return out->src_name[i] && out->src_sha[i] ? 0 : SEGQ_ENOMEM;
}

static int load_one(const char *dir, const char *what, int64_t size, int want_manifest,
                    segq_eval_data_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    segq_dataset_t *ds = NULL;
    segq_manifest_t *man = NULL;
    char inner[1024];
    int rc = segq_dataset_open(dir, &ds, inner, sizeof inner);
    if (rc) {
        snprintf(err, errlen, "%s: %s", what, inner);
        return rc;
    }
    size_t n = segq_dataset_count(ds);
    if (n == 0) {
        snprintf(err, errlen, "%s %s: no image/mask pairs (expected images/NAME + masks/NAME)",
                 what, dir);
        rc = SEGQ_EINVAL;
    }
    if (!rc && want_manifest)
        rc = segq_manifest_read_set(dir, what, &man, err, errlen);
    if (!rc && alloc_data(out, n, size)) {
        snprintf(err, errlen, "%s %s: out of memory for %zu pairs at %lld", what, dir, n,
                 (long long)size);
        rc = SEGQ_ENOMEM;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        const segq_dataset_pair_t *p = segq_dataset_pair(ds, i);
        rc = read_item(p, i, out, err, errlen);
        if (!rc && want_manifest)
            rc = read_source(man, dir, what, p->name, i, out, err, errlen);
        if (rc == SEGQ_ENOMEM)
            snprintf(err, errlen, "out of memory");
    }
    segq_manifest_destroy(&man);
    segq_dataset_destroy(&ds);
    if (rc)
        segq__eval_data_free(out);
    return rc;
}

/* Appends part's pairs to all (part emptied). */
static int append_part(segq_eval_data_t *all, segq_eval_data_t *part)
{
    size_t plane = (size_t)all->size * (size_t)all->size, n = (size_t)(all->n + part->n);
    float *img = realloc(all->img, n * 3 * plane * sizeof(float));
    if (img)
        all->img = img;
    float *mask = img ? realloc(all->mask, n * plane * sizeof(float)) : NULL;
    if (mask)
        all->mask = mask;
    char ***lists[4] = {&all->name, &all->sha, &all->src_name, &all->src_sha};
    char **from[4] = {part->name, part->sha, part->src_name, part->src_sha};
    int ok = img && mask;
    for (int k = 0; k < 4 && ok; k++) {
        char **grown = realloc(*lists[k], n * sizeof(char *));
        ok = grown != NULL;
        if (grown) {
            *lists[k] = grown;
            memcpy(grown + all->n, from[k], (size_t)part->n * sizeof(char *));
        }
    }
    if (!ok)
        return SEGQ_ENOMEM;
    memcpy(all->img + (size_t)all->n * 3 * plane, part->img,
           (size_t)part->n * 3 * plane * sizeof(float));
    memcpy(all->mask + (size_t)all->n * plane, part->mask, (size_t)part->n * plane * sizeof(float));
    all->n = (int64_t)n;
    for (int k = 0; k < 4; k++)
        memset(from[k], 0, (size_t)part->n * sizeof(char *));
    part->n = 0;
    segq__eval_data_free(part);
    return 0;
}

int segq__eval_data_load(const char *dir, const char *what, int64_t size, int want_manifest,
                         segq_eval_data_t *out, char *err, size_t errlen)
{
    /* A set of several parts: DIR/PART/images/... each with its manifest,
     * as the queue lays out the outputs of a job array (DIR/JOB/...). */
    char **parts = NULL, inner[1024];
    size_t n = 0;
    int rc = segq_dataset_parts(dir, &parts, &n, inner, sizeof inner);
    if (rc) {
        snprintf(err, errlen, "%s: %s", what, inner);
        return rc;
    }
    if (n == 1) {
        rc = load_one(parts[0], what, size, want_manifest, out, err, errlen);
        segq_dataset_parts_free(&parts, n);
        return rc;
    }
    memset(out, 0, sizeof *out);
    out->size = size;
    for (size_t i = 0; i < n && !rc; i++) {
        segq_eval_data_t part;
        rc = load_one(parts[i], what, size, want_manifest, &part, err, errlen);
        if (!rc && (rc = append_part(out, &part)) != 0) {
            snprintf(err, errlen, "%s %s: out of memory", what, dir);
            segq__eval_data_free(&part);
        }
    }
    segq_dataset_parts_free(&parts, n);
    if (rc)
        segq__eval_data_free(out);
    return rc;
}
