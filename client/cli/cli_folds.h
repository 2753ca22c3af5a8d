/*  cli_folds.h: evaluate's k-fold checked at submit. segq-run evaluate
    trains a synthetic set, in each fold, only on the pairs made from that
    fold's real training pairs, and fails when a fold has none: this finds
    such a fold before anything is sent, with the check segq-run evaluate
    runs at its start (segq_folds_check.h), on the sets a job names. */
#ifndef SEGQ_CLI_FOLDS_H
#define SEGQ_CLI_FOLDS_H

#include "cli_submit.h"
#include "segq_client.h"
#include "segq_dataset.h"
#include "segq_folds_check.h"
#include "stylize_manifest.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The k-fold check of evaluate job s (its files read by cli_check_files
   already): its local sets from their folders, its synthetic sets by
   reference (a generate job, an array of them, a stylize of one) through
   client as the training images their pairs come from. A set nothing can
   be known of is left out; without local real pairs nothing is checked.
   0, or SEGQ_E* with err saying why. */
int cli_folds_check_job (segq_client_t *client, const cli_submit_args_t *s, char *err,
                         size_t errlen);

/* Appends an image file as a synthetic pair's source: the training image
   of a generation not made yet (its manifest will name it so). */
int cli_pair_list_add_source (segq_pair_list_t *list, const char *path);
/* Appends the pairs of an evaluate set folder (segq_dataset_parts: DIR or
   each of its parts), not decoded: real ones by their images, synthetic
   ones by the sources their parts' manifests name. */
int cli_pair_list_add_dir (segq_pair_list_t *list, const char *dir, bool synthetic, char *err,
                           size_t errlen);

#endif
