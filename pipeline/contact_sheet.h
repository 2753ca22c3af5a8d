/* contact_sheet: a preview PNG of generated or stylized pairs, a near-square
 * grid of samples with each mask's boundary drawn over its image, so a user
 * who fetches a job sees at a glance whether images and masks agree. Plain C
 * over segq_image (no libtorch), so it is sanitized.
 *
 * Layout: n samples (at most SEGQ_CONTACT_SHEET_MAX) in cols = ceil(sqrt(n))
 * columns and rows = ceil(n / cols) rows, sample i at column i % cols, row
 * i / cols. Every cell is as large as the largest tile; tiles sit at the
 * top-left of their cell; cells are separated (and framed) by
 * SEGQ_CONTACT_SHEET_GAP pixels of dark grey. A tile whose longer side
 * exceeds max_tile is scaled down, aspect kept, by nearest-neighbour
 * sampling of image and mask alike. The outline is the set of mask pixels
 * (of the scaled mask) with a 4-neighbour outside the mask or outside the
 * image, painted SEGQ_CONTACT_SHEET_OUTLINE; every other pixel is the
 * image's. */
#ifndef SEGQ_CONTACT_SHEET_H
#define SEGQ_CONTACT_SHEET_H

#include "segq_image.h"

#include <stddef.h>
#include <stdint.h>

#define SEGQ_CONTACT_SHEET_FILE "contact_sheet.png"
#define SEGQ_CONTACT_SHEET_MAX 16
#define SEGQ_CONTACT_SHEET_TILE 256 /* default max_tile */
#define SEGQ_CONTACT_SHEET_GAP 4
#define SEGQ_CONTACT_SHEET_BACKGROUND 32 /* grey level of gaps and empty cells */
/* bright green: stands out on the pink/red of endoscopy images */
#define SEGQ_CONTACT_SHEET_OUTLINE_R 0
#define SEGQ_CONTACT_SHEET_OUTLINE_G 255
#define SEGQ_CONTACT_SHEET_OUTLINE_B 0

/* Columns and rows of the grid for n samples (n capped at the maximum);
 * both 0 when n is 0. */
void segq_contact_sheet_grid(size_t n, uint32_t *cols, uint32_t *rows);

/* The sheet of images[0..n) (8-bit RGB) with masks[0..n) (8-bit, 1
 * channel, non-zero = inside), each mask the size of its image; samples
 * past SEGQ_CONTACT_SHEET_MAX are left out. max_tile 0 means
 * SEGQ_CONTACT_SHEET_TILE. *out is 8-bit RGB, owned by the caller.
 * EINVAL for n == 0, NULL, wrong channels/depth or a mask of another
 * size, naming the sample. */
int segq_contact_sheet_make(const segq_image_t *const *images, const segq_image_t *const *masks,
                            size_t n, uint32_t max_tile, segq_image_t **out, char *err,
                            size_t errlen);

/* The sheet of the first SEGQ_CONTACT_SHEET_MAX pairs (by name) of the
 * dataset folder `dir` (segq_dataset_open: a generate or stylize output),
 * written to `path` with segq_image_write_png. Images of any channel count
 * become RGB, masks binary (segq_image_to_mask); 16-bit images keep their
 * high byte. */
int segq_contact_sheet_write_dir(const char *dir, const char *path, char *err, size_t errlen);

#endif
