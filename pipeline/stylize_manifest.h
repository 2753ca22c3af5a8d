/* stylize_manifest: reader of a generate output's manifest.csv (written by
 * singan_generate.c: a header row, then one row per pair, fields quoted
 * as RFC 4180). stylize carries it over and finds each pair's style by
 * its source_image (segq_stylize_style_path, which `segq submit stylize`
 * uses too); evaluate uses its source_image and source_image_sha256
 * columns to keep synthetic pairs derived from test images out of
 * training. */
#ifndef SEGQ_STYLIZE_MANIFEST_H
#define SEGQ_STYLIZE_MANIFEST_H

#include "segq_dataset.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define SEGQ_MANIFEST_FILE "manifest.csv"

typedef struct segq_manifest_t segq_manifest_t;

/* Reads DIR/manifest.csv. Returns 0, 1 when the file does not exist
 * (*out NULL), or a negative code with a message (malformed CSV, a row
 * with another field count, no `name` column, a name twice). */
int segq_manifest_read(const char *dir, segq_manifest_t **out, char *err, size_t errlen);
/* The same from an open stream; `name` names it in messages. */
int segq_manifest_parse(FILE *f, const char *name, segq_manifest_t **out, char *err, size_t errlen);
/* DIR/manifest.csv of a synthetic set (evaluate's --synthetic, `what`
 * the flag): its absence is an error too, saying what such a set is. */
int segq_manifest_read_set(const char *dir, const char *what, segq_manifest_t **out, char *err,
                           size_t errlen);

/* stylize's --content folder as stylize reads it and `segq submit
 * stylize` checks it: its pairs (at least one) and its manifest, which may
 * be absent (*man NULL) but not malformed. Messages start with --content.
 * On error neither is left. */
int segq_content_open(const char *dir, segq_dataset_t **ds, segq_manifest_t **man, char *err,
                      size_t errlen);
/* Where pair `name` of a --content folder takes its style from: `style`
 * when it is a file; else the source image its manifest row names, looked
 * up in the folder `style` (as NAME or images/NAME) or, with no style
 * (NULL or ""), in the working directory (when `cwd`: segq-run's own
 * runs) and in `content`. A source image found must have the manifest's
 * sha256. *out: a path to free. Messages say what to pass instead. */
int segq_stylize_style_path(const char *style, const char *content, bool cwd,
                            const segq_manifest_t *man, const char *name, char **out, char *err,
                            size_t errlen);
void segq_manifest_destroy(segq_manifest_t **self_p);
size_t segq_manifest_rows(const segq_manifest_t *self);
/* The value of column `col` in the row whose `name` is `name`; NULL when
 * the row or the column is absent. */
const char *segq_manifest_get(const segq_manifest_t *self, const char *name, const char *col);

#endif
