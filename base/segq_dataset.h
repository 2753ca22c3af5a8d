/* segq_dataset: the image/mask pairs of a dataset folder, matched by base
 * name, without reading a pixel (libc only): segq-run's stylize, evaluate
 * and contact sheets, and the CLI's submit checks share it. */
#ifndef SEGQ_DATASET_H
#define SEGQ_DATASET_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Two layouts, recognised in this order:
 *  - Kvasir-SEG: DIR/images/NAME.ext + DIR/masks/NAME.ext (the extensions of
 *    image and mask may differ, e.g. .jpg and .png);
 *  - flat: DIR/NAME.ext + DIR/NAME-mask.ext (the chest X-ray folders).
 * Image files are those ending in .png, .jpg or .jpeg (any case); hidden
 * files and other files are ignored. A file without its partner, or two
 * files with the same NAME on one side, is EINVAL naming the file.
 * Pairs come sorted by NAME (byte order). */
typedef struct {
    char *name;       /* base name without extension */
    char *image_path; /* full paths */
    char *mask_path;
} segq_dataset_pair_t;

typedef struct segq_dataset_t segq_dataset_t;

int segq_dataset_open (const char *dir, segq_dataset_t **out, char *err, size_t errlen);
size_t segq_dataset_count (const segq_dataset_t *self);
/* NULL when i >= count. Owned by the dataset. */
const segq_dataset_pair_t *segq_dataset_pair (const segq_dataset_t *self, size_t i);
void segq_dataset_destroy (segq_dataset_t **self_p);

/* The name a synthetic pair's source image (manifest column source_image)
 * is matched to a real pair by when no sha256 matches: the file's base
 * name without its last extension. NULL when out of memory; free it. */
char *segq_dataset_stem (const char *file);

/* The dataset folders of an evaluate set, as segq-run evaluate reads it
 * and the CLI checks it: DIR itself, unless DIR has no images/ but has
 * subfolders PART with an images/ folder (a job array's outputs as the
 * queue lays them out, DIR/JOB/...): then each of those, in name order.
 * *paths (*n of them) are the caller's: segq_dataset_parts_free. */
int segq_dataset_parts (const char *dir, char ***paths, size_t *n, char *err, size_t errlen);
void segq_dataset_parts_free (char ***paths, size_t n);

#ifdef __cplusplus
}
#endif

#endif
