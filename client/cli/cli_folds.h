/*  cli_folds.h: evaluate's k-fold checked at submit. segq-run evaluate
    trains a synthetic set, in each fold, only on the pairs made from that
    fold's real training pairs (nothing derived from an image the fold
    tests trains), and fails when a fold has none, hours into a job. With
    evaluate's own dealing (segq_folds.h) and its matching of a synthetic
    pair to the real pair it came from (its source image's sha256, else
    its name), this finds such a fold before anything is sent. */
#ifndef SEGQ_CLI_FOLDS_H
#define SEGQ_CLI_FOLDS_H

#include "cli_submit.h"
#include "segq_client.h"
#include "segq_dataset.h"
#include "segq_sha256.h"
#include "stylize_manifest.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A pair as evaluate matches it: a real or test pair's image, or a
   synthetic pair's source image (its manifest row). */
typedef struct {
    char *name;                       /* the image's file name without extension */
    char sha [SEGQ_HASH_HEX_LEN + 1]; /* "" when unknown */
} cli_pair_ref_t;

typedef struct {
    cli_pair_ref_t *pairs;
    size_t n, cap;
} cli_pair_list_t;

/* What evaluate would be given: its real pairs, its test pairs (none:
   k folds of the real ones), its parameters, and each synthetic set's
   sources (NULL where they are unknown: a set by reference), with the
   words messages use for them as the user gave them. */
typedef struct {
    cli_pair_list_t real, test;
    int64_t folds, seed, real_limit;
    size_t n_sets;
    const char **set_names;       /* "--synthetic gen" */
    const cli_pair_list_t **sets; /* each pair's source image */
    const char *real_flag;        /* "--real" */
    const char *seed_flag;        /* "--seed" */
    const char *advice;           /* what to do when no seed near helps; NULL: make the set
                                     from the real pairs' own images */
} cli_folds_plan_t;

/* 0, or SEGQ_EINVAL with err naming the set and the fold that would
   have nothing to train on, why, and a seed that would deal the pairs
   so that every fold trains when one near `seed` does. */
int cli_folds_check (const cli_folds_plan_t *plan, char *err, size_t errlen);

/* The k-fold check of evaluate job s (its files read by cli_check_files
   already): its local sets from their folders, its synthetic sets by
   reference (a generate job, an array of them, a stylize of one) through
   client as the training images their pairs come from. A set nothing can
   be known of is left out; without local real pairs nothing is checked.
   0, or SEGQ_E* with err saying why. */
int cli_folds_check_job (segq_client_t *client, const cli_submit_args_t *s, char *err,
                         size_t errlen);

/* Appends a pair; SEGQ_ENOMEM. */
int cli_pair_list_add (cli_pair_list_t *list, const char *name, const char *sha);
/* Appends an image file as a synthetic pair's source: the training image
   of a generation not made yet (its manifest will name it so). */
int cli_pair_list_add_source (cli_pair_list_t *list, const char *path);
/* Appends the pairs of an evaluate set folder (segq_dataset_parts: DIR or
   each of its parts), not decoded: real ones by their images, synthetic
   ones by the sources their parts' manifests name. */
int cli_pair_list_add_dir (cli_pair_list_t *list, const char *dir, bool synthetic, char *err,
                           size_t errlen);
void cli_pair_list_clear (cli_pair_list_t *list);

#endif
