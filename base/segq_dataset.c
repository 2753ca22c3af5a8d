/* segq_dataset: image/mask pairs of a dataset folder, matched by base name. */
#include "segq_dataset.h"
#include "segq_error.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct segq_dataset_t {
    segq_dataset_pair_t *pairs;
    size_t count;
};

/* One image file found in a folder: base name and full path. */
typedef struct {
    char *name;
    char *path;
} file_t;

typedef struct {
    file_t *files;
    size_t count, cap;
} list_t;

static void
list_free (list_t *l)
{
    for (size_t i = 0; i < l->count; i++) {
        free (l->files [i].name);
        free (l->files [i].path);
    }
    free (l->files);
    *l = (list_t){ 0 };
}

static int
cmp_file (const void *a, const void *b)
{
    return strcmp (((const file_t *) a)->name, ((const file_t *) b)->name);
}

/* Length of the base name if `entry` is an image file name, else 0. */
static size_t
image_base_len (const char *entry)
{
    static const char *const exts [] = { ".png", ".jpg", ".jpeg" };
    if (entry [0] == '.')
        return 0;
    size_t n = strlen (entry);
    for (size_t i = 0; i < sizeof exts / sizeof exts [0]; i++) {
        size_t e = strlen (exts [i]);
        if (n > e && strcasecmp (entry + n - e, exts [i]) == 0)
            return n - e;
    }
    return 0;
}

static char *
join (const char *dir, const char *name)
{
    size_t n = strlen (dir) + strlen (name) + 2;
    char *p = malloc (n);
    if (p)
        snprintf (p, n, "%s/%s", dir, name);
    return p;
}

static int
is_dir (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0 && S_ISDIR (st.st_mode);
}

/* Image files of `dir`, sorted by base name. keep: 1 = only names ending in
 * "-mask" (suffix removed), -1 = only names not ending so, 0 = all. */
static int
scan (const char *dir, int keep, list_t *out, char *err, size_t errlen)
{
    DIR *d = opendir (dir);
    if (!d)
        return segq_fail (err, errlen, SEGQ_EIO, "%s: cannot open folder: %s", dir,
                          strerror (errno));
    int rc = 0;
    struct dirent *e;
    while ((e = readdir (d))) {
        size_t base = image_base_len (e->d_name);
        if (!base)
            continue;
        int is_mask = base > 5 && strncmp (e->d_name + base - 5, "-mask", 5) == 0;
        if ((keep == 1 && !is_mask) || (keep == -1 && is_mask))
            continue;
        if (keep == 1)
            base -= 5;
        if (out->count == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 64;
            file_t *f = realloc (out->files, cap * sizeof (file_t));
            if (!f) {
                rc = segq_fail (err, errlen, SEGQ_ENOMEM, "out of memory");
                break;
            }
            out->files = f;
            out->cap = cap;
        }
        file_t f = { strndup (e->d_name, base), join (dir, e->d_name) };
        out->files [out->count++] = f;
        if (!f.name || !f.path) {
            rc = segq_fail (err, errlen, SEGQ_ENOMEM, "out of memory");
            break;
        }
    }
    closedir (d);
    if (rc)
        return rc;
    if (out->count > 1)
        qsort (out->files, out->count, sizeof (file_t), cmp_file);
    for (size_t i = 1; i < out->count; i++)
        if (strcmp (out->files [i - 1].name, out->files [i].name) == 0)
            return segq_fail (err, errlen, SEGQ_EINVAL,
                              "%s and %s have the same name: keep one of them",
                              out->files [i - 1].path, out->files [i].path);
    return 0;
}

void
segq_dataset_destroy (segq_dataset_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    segq_dataset_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++) {
        free (self->pairs [i].name);
        free (self->pairs [i].image_path);
        free (self->pairs [i].mask_path);
    }
    free (self->pairs);
    free (self);
    *self_p = NULL;
}

/* Merges two sorted lists; every name must be on both sides. Paths move
 * into the dataset. */
static int
pair_up (segq_dataset_t *self, list_t *images, list_t *masks, const char *mask_dir,
         const char *suffix, char *err, size_t errlen)
{
    size_t i = 0, j = 0;
    while (i < images->count || j < masks->count) {
        int c = i == images->count  ? 1
                : j == masks->count ? -1
                                    : strcmp (images->files [i].name, masks->files [j].name);
        if (c < 0)
            return segq_fail (err, errlen, SEGQ_EINVAL,
                              "%s has no mask (expected %s/%s%s.png or .jpg)",
                              images->files [i].path, mask_dir, images->files [i].name, suffix);
        if (c > 0)
            return segq_fail (err, errlen, SEGQ_EINVAL, "mask %s has no image with the same name",
                              masks->files [j].path);
        segq_dataset_pair_t *p = &self->pairs [self->count++];
        p->name = images->files [i].name;
        p->image_path = images->files [i].path;
        p->mask_path = masks->files [j].path;
        free (masks->files [j].name);
        images->files [i] = (file_t){ 0 };
        masks->files [j] = (file_t){ 0 };
        i++;
        j++;
    }
    return 0;
}

int
segq_dataset_open (const char *dir, segq_dataset_t **out, char *err, size_t errlen)
{
    if (!dir || !out)
        return segq_fail (err, errlen, SEGQ_EINVAL, "segq_dataset_open: bad arguments");
    *out = NULL;
    list_t images = { 0 }, masks = { 0 };
    char *idir = join (dir, "images"), *mdir = join (dir, "masks");
    segq_dataset_t *self = calloc (1, sizeof *self);
    int rc;
    if (!idir || !mdir || !self) {
        rc = segq_fail (err, errlen, SEGQ_ENOMEM, "out of memory");
        goto out;
    }
    int kvasir = is_dir (idir) && is_dir (mdir);
    if (kvasir) {
        rc = scan (idir, 0, &images, err, errlen);
        if (!rc)
            rc = scan (mdir, 0, &masks, err, errlen);
    } else {
        rc = scan (dir, -1, &images, err, errlen);
        if (!rc)
            rc = scan (dir, 1, &masks, err, errlen);
    }
    if (rc)
        goto out;
    if (images.count == 0 && masks.count == 0) {
        rc = segq_fail (err, errlen, SEGQ_EINVAL,
                        "%s: no image/mask pairs (expected images/NAME + masks/NAME, or "
                        "NAME + NAME-mask, as .png or .jpg)",
                        dir);
        goto out;
    }
    self->pairs = calloc (images.count ? images.count : 1, sizeof (segq_dataset_pair_t));
    if (!self->pairs) {
        rc = segq_fail (err, errlen, SEGQ_ENOMEM, "out of memory");
        goto out;
    }
    rc = pair_up (self, &images, &masks, kvasir ? mdir : dir, kvasir ? "" : "-mask", err, errlen);
out:
    list_free (&images);
    list_free (&masks);
    free (idir);
    free (mdir);
    if (rc)
        segq_dataset_destroy (&self);
    *out = self;
    return rc;
}

size_t
segq_dataset_count (const segq_dataset_t *self)
{
    return self ? self->count : 0;
}

const segq_dataset_pair_t *
segq_dataset_pair (const segq_dataset_t *self, size_t i)
{
    return self && i < self->count ? &self->pairs [i] : NULL;
}

static int
s_by_name (const struct dirent **a, const struct dirent **b)
{
    return strcmp ((*a)->d_name, (*b)->d_name);
}

/* DIR/NAME when it is a part: a visible folder with images/ in it. */
static char *
s_part (const char *dir, const char *name)
{
    char *path = name [0] != '.' ? join (dir, name) : NULL;
    char *images = path ? join (path, "images") : NULL;
    int part = images && is_dir (images);
    free (images);
    if (!part)
        free (path);
    return part ? path : NULL;
}

int
segq_dataset_parts (const char *dir, char ***paths, size_t *n, char *err, size_t errlen)
{
    *paths = NULL;
    *n = 0;
    struct dirent **names = NULL;
    char *images = join (dir, "images");
    int count =
        images && !is_dir (images) && is_dir (dir) ? scandir (dir, &names, NULL, s_by_name) : 0;
    free (images);
    char **found = calloc ((size_t) (count > 0 ? count : 0) + 1, sizeof *found);
    int rc = found ? 0 : segq_fail (err, errlen, SEGQ_ENOMEM, "out of memory");
    for (int i = 0; i < count; i++) {
        char *part = rc ? NULL : s_part (dir, names [i]->d_name);
        if (part)
            found [(*n)++] = part;
        free (names [i]);
    }
    free (names);
    /* no parts: the folder itself (segq_dataset_open says what is wrong) */
    if (!rc && *n == 0 && !(found [(*n)++] = strdup (dir)))
        rc = segq_fail (err, errlen, SEGQ_ENOMEM, "out of memory");
    *paths = found;
    if (rc)
        segq_dataset_parts_free (paths, *n);
    return rc;
}

void
segq_dataset_parts_free (char ***paths, size_t n)
{
    if (!paths || !*paths)
        return;
    for (size_t i = 0; i < n; i++)
        free ((*paths) [i]);
    free (*paths);
    *paths = NULL;
}

char *
segq_dataset_stem (const char *file)
{
    const char *slash = strrchr (file, '/');
    char *stem = strdup (slash ? slash + 1 : file);
    char *dot = stem ? strrchr (stem, '.') : NULL;
    if (dot && dot != stem)
        *dot = '\0';
    return stem;
}
