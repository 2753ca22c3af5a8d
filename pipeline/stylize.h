/* stylize: neural style transfer of a generate output (SINGAN-SEG.md
 * section 3): each synthetic image is the content, a real image (by
 * default its own source image, from the manifest) the style; Adam moves
 * the RGB pixels, masks and the manifest are carried over unchanged. */
#ifndef SEGQ_STYLIZE_H
#define SEGQ_STYLIZE_H

#include "segq_progress.h"
#include "segq_run_flags.h"
#include "segq_singan.h"
#include "segq_torch.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *content, *style, *vgg19, *out;
    double content_weight, style_weight, lr;
    int64_t steps, batch, log_every;
    segq_compute_opts_t compute;
} segq_stylize_opts_t;

/* Runs the whole command: OUT/images/NAME.png, OUT/masks/ (copies),
 * OUT/manifest.csv (copy), OUT/losses.csv, OUT/stylize.json. */
int segq_stylize(const segq_stylize_opts_t *o, segq_progress_t *progress, char *err, size_t errlen);

/* An image file as a 1 x 3 x H x W float tensor in [0, 1] (grey
 * replicated, alpha dropped), scoped; resized bilinearly (antialiased) to
 * h x w unless h or w is 0. NULL with err set. */
segqt_tensor *segq__image_rgb_tensor(const char *path, int64_t h, int64_t w, segqt_device dev,
                                     char *err, size_t errlen);

/* Writes a 3 x H x W [0, 1] tensor (clamped) as an RGB PNG. */
int segq__write_rgb_png(segqt_tensor *chw, const char *path, char *err, size_t errlen);

/* CPU seconds this process has used (all threads): the figure that
 * stays meaningful on a machine shared with other work. */
double segq__cpu_seconds(void);

/* Copies a file byte for byte (mode 0600: outputs derive from patient data). */
int segq__copy_file(const char *from, const char *to, char *err, size_t errlen);

#endif
