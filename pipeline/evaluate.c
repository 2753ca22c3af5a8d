/* segq-run evaluate: the paper's k-fold protocol (evaluate.h), report
 * files and charts. */
#include "evaluate_internal.h"

#include "chart.h"
#include "segq_error.h"
#include "segq_param_rules.h"
#include "segq_folds.h"
#include "segq_folds_check.h"
#include "singan_internal.h"
#include "stylize.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_SETS (1 + 2 * SEGQ_EVAL_MAX_SYNTHETIC)

void segq_evaluate_opts_free(segq_evaluate_opts_t *o)
{
    for (int i = 0; i < o->n_synthetic; i++) {
        free(o->syn_name[i]);
        free(o->syn_dir[i]);
        o->syn_name[i] = o->syn_dir[i] = NULL;
    }
    o->n_synthetic = 0;
}

/* Letters, digits, '-' and '_', and not "real" (a set of its own). */
static int set_name_ok(const char *v, size_t len)
{
    int ok = len > 0 && len < 64;
    for (size_t i = 0; ok && i < len; i++)
        ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z')
             || (v[i] >= '0' && v[i] <= '9') || v[i] == '_' || v[i] == '-';
    return ok && !(len == 4 && strncmp(v, "real", 4) == 0);
}

static int add_set(segq_evaluate_opts_t *o, const char *name, size_t len, const char *dir,
                   char *err, size_t errlen)
{
    if (!set_name_ok(name, len)) {
        snprintf(err, errlen,
                 "evaluate: --synthetic set '%.*s': a NAME is letters, digits, "
                 "'-' or '_' (not 'real')",
                 (int)len, name);
        return SEGQ_EINVAL;
    }
    for (int i = 0; i < o->n_synthetic; i++)
        if (strlen(o->syn_name[i]) == len && strncmp(o->syn_name[i], name, len) == 0) {
            snprintf(err, errlen, "evaluate: --synthetic %.*s given twice", (int)len, name);
            return SEGQ_EINVAL;
        }
    if (o->n_synthetic == SEGQ_EVAL_MAX_SYNTHETIC) {
        snprintf(err, errlen, "evaluate: at most %d --synthetic sets", SEGQ_EVAL_MAX_SYNTHETIC);
        return SEGQ_EINVAL;
    }
    o->syn_name[o->n_synthetic] = strndup(name, len);
    o->syn_dir[o->n_synthetic] = strdup(dir);
    if (!o->syn_name[o->n_synthetic] || !o->syn_dir[o->n_synthetic]) {
        snprintf(err, errlen, "out of memory");
        return SEGQ_ENOMEM;
    }
    o->n_synthetic++;
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* --synthetic DIR: each folder in DIR is a set of that name (how the
 * worker lays out the sets of a queued job: synthetic/NAME/...). */
static int take_set_folder(const char *dir, segq_evaluate_opts_t *o, char *err, size_t errlen)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, by_name);
    if (n < 0) {
        snprintf(err, errlen,
                 "evaluate: --synthetic '%s': expected NAME=DIR, or a folder of "
                 "sets NAME/ (%s)",
                 dir, strerror(errno));
        return SEGQ_EINVAL;
    }
    int rc = 0, sets = 0;
    for (int i = 0; i < n; i++) {
        char path[4400];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (!rc && names[i]->d_name[0] != '.' && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            rc = add_set(o, names[i]->d_name, strlen(names[i]->d_name), path, err, errlen);
            sets++;
        }
        free(names[i]);
    }
    free(names);
    if (!rc && sets == 0) {
        snprintf(err, errlen,
                 "evaluate: --synthetic %s: no set folders in it (expected "
                 "NAME=DIR, or a folder of sets NAME/)",
                 dir);
        rc = SEGQ_EINVAL;
    }
    return rc;
}

int segq_evaluate_take_synthetic(int *argc, char **argv, segq_evaluate_opts_t *o, char *err,
                                 size_t errlen)
{
    int w = 0;
    for (int a = 0; a < *argc; a++) {
        const char *v = NULL;
        if (strcmp(argv[a], "--synthetic") == 0) {
            if (a + 1 >= *argc) {
                snprintf(err, errlen, "evaluate: --synthetic needs NAME=DIR");
                return SEGQ_EINVAL;
            }
            v = argv[++a];
        } else if (strncmp(argv[a], "--synthetic=", 12) == 0)
            v = argv[a] + 12;
        if (!v) {
            argv[w++] = argv[a];
            continue;
        }
        if (!strchr(v, '=')) {
            int rc = take_set_folder(v, o, err, errlen);
            if (rc)
                return rc;
            continue;
        }
        const char *eq = strchr(v, '=');
        size_t len = eq ? (size_t)(eq - v) : 0;
        if (!eq[1] || !set_name_ok(v, len)) {
            snprintf(err, errlen,
                     "evaluate: --synthetic '%s': expected NAME=DIR with NAME of "
                     "letters, digits, '-' or '_' (not 'real')",
                     v);
            return SEGQ_EINVAL;
        }
        int rc = add_set(o, v, len, eq + 1, err, errlen);
        if (rc)
            return rc;
    }
    *argc = w;
    return 0;
}

/* One training set of one fold. */
typedef struct {
    char name[80];
    int syn;       /* synthetic set index, -1: none */
    int with_real; /* real pairs included */
} set_t;

typedef struct {
    int64_t train_pairs, val_pairs, real_pairs, synthetic_pairs;
    int64_t excluded_test, excluded_other, best_epoch;
    segq_seg_metrics_t m;
    segq_eval_history_t hist;
    segq_seg_metrics_t *each; /* the test pairs' metrics, in test_items' order */
} fold_result_t;

/* Which real pair (index) a synthetic pair derives from: file hash first,
 * then name; -1 if none. */
static int64_t source_of(const segq_eval_data_t *real, const segq_eval_data_t *syn, int64_t i)
{
    for (int64_t r = 0; r < real->n; r++)
        if (*syn->src_sha[i] && strcmp(syn->src_sha[i], real->sha[r]) == 0)
            return r;
    for (int64_t r = 0; r < real->n; r++)
        if (strcmp(syn->src_name[i], real->name[r]) == 0)
            return r;
    return -1;
}

static json_t *metrics_json(const segq_seg_metrics_t *m)
{
    json_t *o = json_object();
    for (int k = 0; o && k < SEGQ_N_METRICS; k++) {
        double v = segq_metric_get(m, k);
        json_object_set_new(o, segq_metric_names[k], isfinite(v) ? json_real(v) : json_null());
    }
    return o;
}

static json_t *doubles_json(const double *v, int64_t n)
{
    json_t *a = json_array();
    for (int64_t i = 0; a && i < n; i++)
        json_array_append_new(a, isfinite(v[i]) ? json_real(v[i]) : json_null());
    return a;
}

typedef struct {
    const segq_evaluate_opts_t *o;
    segq_eval_data_t real, test, syn[SEGQ_EVAL_MAX_SYNTHETIC];
    int64_t *fold_of; /* real pair -> fold (k-fold), or -1 (--test: all train) */
    size_t *order;    /* the real pairs in the seeded order (segq_folds_shuffle) */
    int nfolds, nsets;
    set_t sets[MAX_SETS];
    fold_result_t *res;                 /* [set][fold] */
    float *ex_img, *ex_truth, *ex_pred; /* examples of fold 0 */
    int ex_n;
    segqt_device dev;
    segq_progress_t *progress;
    int64_t epochs_done, epochs_total; /* over every set and fold */
} eval_t;

static void eval_free(eval_t *ev)
{
    segq__eval_data_free(&ev->real);
    segq__eval_data_free(&ev->test);
    for (int i = 0; i < SEGQ_EVAL_MAX_SYNTHETIC; i++)
        segq__eval_data_free(&ev->syn[i]);
    for (int i = 0; ev->res && i < ev->nsets * ev->nfolds; i++) {
        segq__eval_history_free(&ev->res[i].hist);
        free(ev->res[i].each);
    }
    free(ev->res);
    free(ev->fold_of);
    free(ev->order);
    free(ev->ex_img);
    free(ev->ex_truth);
    free(ev->ex_pred);
}

/* Training items of set s in fold f (items sized for every pair). */
static size_t train_items(eval_t *ev, int s, int f, segq_eval_item_t *items, fold_result_t *r)
{
    const segq_evaluate_opts_t *o = ev->o;
    const set_t *set = &ev->sets[s];
    /* the real pairs this fold may train on (segq_folds.h: `segq submit`
     * checks them the same way), in the seeded order */
    bool *allowed = calloc((size_t)ev->real.n + 1, sizeof *allowed);
    if (!allowed)
        return 0;
    segq_folds_training((size_t)ev->real.n, ev->order, *o->test ? 0 : (size_t)ev->nfolds, (size_t)f,
                        (uint64_t)o->real_limit, allowed);
    size_t n = 0;
    if (set->with_real)
        for (int64_t k = 0; k < ev->real.n; k++)
            if (allowed[ev->order[k]])
                items[n++] = (segq_eval_item_t){&ev->real, (int64_t)ev->order[k]};
    r->real_pairs = (int64_t)n;
    if (set->syn >= 0) {
        const segq_eval_data_t *sd = &ev->syn[set->syn];
        for (int64_t i = 0; i < sd->n; i++) {
            int64_t src = source_of(&ev->real, sd, i);
            int in_test = 0;
            if (src >= 0)
                in_test = ev->fold_of[src] == f;
            else if (ev->test.n) /* --test: the source may be a test image */
                for (int64_t t = 0; t < ev->test.n && !in_test; t++)
                    in_test = (*sd->src_sha[i] && strcmp(sd->src_sha[i], ev->test.sha[t]) == 0)
                              || strcmp(sd->src_name[i], ev->test.name[t]) == 0;
            if (in_test)
                r->excluded_test++;
            else if (src < 0 || !allowed[src])
                r->excluded_other++;
            else {
                items[n++] = (segq_eval_item_t){sd, i};
                r->synthetic_pairs++;
            }
        }
    }
    free(allowed);
    return n;
}

/* The test pairs of fold f (items sized for every pair): the --test set,
 * else the fold's real pairs. */
static size_t test_items(const eval_t *ev, int f, segq_eval_item_t *items)
{
    size_t n = 0;
    if (ev->test.n)
        for (int64_t t = 0; t < ev->test.n; t++)
            items[n++] = (segq_eval_item_t){&ev->test, t};
    else
        for (int64_t k = 0; k < ev->real.n; k++)
            if (ev->fold_of[k] == f)
                items[n++] = (segq_eval_item_t){&ev->real, k};
    return n;
}

/* The validation split of a fold's n training items: a seeded shuffle,
 * then the first val_fraction of them (at least one when any is asked for,
 * never all). */
static size_t split_validation(const segq_evaluate_opts_t *o, int f, segq_eval_item_t *items,
                               size_t n)
{
    uint64_t st = (uint64_t)o->compute.seed * 1000003u + (uint64_t)f * 7919u + 17u;
    segq__eval_shuffle(items, n, &st);
    size_t nval = n >= 2 ? (size_t)llround(o->val_fraction * (double)n) : 0;
    if (n >= 2 && nval == 0 && o->val_fraction > 0)
        nval = 1;
    if (n > 0 && nval >= n)
        nval = n - 1;
    return nval;
}

/* What set s trains on in a fold, said in the log; an error when nothing
 * is left to train on. */
static int describe_fold(const char *label, const fold_result_t *r, size_t ntest, char *err,
                         size_t errlen)
{
    printf("%s: %lld training pairs (%lld real, %lld synthetic; %lld validation), %zu test; "
           "synthetic excluded: %lld with their source in the test fold, %lld with a source "
           "not among the real training pairs\n",
           label, (long long)r->train_pairs, (long long)r->real_pairs,
           (long long)r->synthetic_pairs, (long long)r->val_pairs, ntest,
           (long long)r->excluded_test, (long long)r->excluded_other);
    if (r->train_pairs + r->val_pairs > 0)
        return 0;
    snprintf(err, errlen,
             "%s: no training pairs (%lld synthetic pairs excluded because "
             "their source is in the test fold, %lld because it is no real training pair)",
             label, (long long)r->excluded_test, (long long)r->excluded_other);
    return SEGQ_EINVAL;
}

/* The UNet++ of set s in fold f: the same initialisation for every set of
 * a fold, a fair comparison. */
static segq_unetpp_t *train_fold(eval_t *ev, int f, const char *label,
                                 const segq_eval_item_t *items, size_t nval, fold_result_t *r,
                                 char *err, size_t errlen)
{
    const segq_evaluate_opts_t *o = ev->o;
    segq_eval_train_cfg_t cfg = {.epochs = o->epochs,
                                 .batch = o->batch,
                                 .lr_drop_epoch = o->lr_drop_epoch,
                                 .lr = o->lr,
                                 .lr_after = o->lr_after,
                                 .augment = o->augment,
                                 .depth = (int)o->depth,
                                 .width = (int)o->width,
                                 .seed = (uint64_t)o->compute.seed * 1000u + (uint64_t)f,
                                 .encoder_weights = o->encoder_weights,
                                 .dev = ev->dev,
                                 .progress = ev->progress,
                                 .label = label,
                                 .epochs_done = &ev->epochs_done,
                                 .epochs_total = ev->epochs_total};
    return segq__eval_train(&cfg, items + nval, (size_t)r->train_pairs, items, nval, &r->hist, err,
                            errlen);
}

/* Fold 0's examples for examples.png: set s's predictions of the first
 * test pairs, and (with the first set) those pairs' images and masks. */
static int keep_examples(eval_t *ev, int s, segq_unetpp_t *net, const segq_eval_item_t *test,
                         char *err, size_t errlen)
{
    const segq_evaluate_opts_t *o = ev->o;
    size_t plane = (size_t)(o->size * o->size);
    int rc = segq__eval_predict(net, test, (size_t)ev->ex_n, o->batch,
                                ev->ex_pred + (size_t)s * (size_t)ev->ex_n * plane, err, errlen);
    for (int k = 0; k < ev->ex_n && s == 0; k++) {
        memcpy(ev->ex_img + (size_t)k * 3 * plane, test[k].d->img + (size_t)test[k].i * 3 * plane,
               3 * plane * sizeof(float));
        memcpy(ev->ex_truth + (size_t)k * plane, test[k].d->mask + (size_t)test[k].i * plane,
               plane * sizeof(float));
    }
    return rc;
}

/* Trains set s on fold f's training pairs and measures it on the fold's
 * test pairs, into ev->res; fold 0 also gives examples. */
static int run_fold(eval_t *ev, int s, int f, char *err, size_t errlen)
{
    const segq_evaluate_opts_t *o = ev->o;
    fold_result_t *r = &ev->res[s * ev->nfolds + f];
    int64_t total = ev->real.n;
    for (int i = 0; i < o->n_synthetic; i++)
        total += ev->syn[i].n;
    segq_eval_item_t *items = malloc((size_t)total * sizeof *items);
    segq_eval_item_t *test = malloc((size_t)(ev->real.n + ev->test.n + 1) * sizeof *test);
    /* r keeps the test pairs' metrics for per_image.csv */
    r->each = malloc((size_t)(ev->real.n + ev->test.n + 1) * sizeof *r->each);
    if (!items || !test || !r->each) {
        free(items);
        free(test);
        snprintf(err, errlen, "out of memory");
        return SEGQ_ENOMEM;
    }
    size_t n = train_items(ev, s, f, items, r);
    size_t ntest = test_items(ev, f, test);
    size_t nval = split_validation(o, f, items, n);
    r->train_pairs = (int64_t)(n - nval);
    r->val_pairs = (int64_t)nval;
    char label[160];
    snprintf(label, sizeof label, "%s, fold %d", ev->sets[s].name, f + 1);
    int rc = describe_fold(label, r, ntest, err, errlen);
    segq_unetpp_t *net = rc ? NULL : train_fold(ev, f, label, items, nval, r, err, errlen);
    if (!rc && !net)
        rc = SEGQ_EINTERNAL;
    r->best_epoch = r->hist.best_epoch;
    if (!rc)
        rc = segq__eval_measure(net, test, ntest, o->batch, &r->m, r->each, err, errlen);
    if (!rc)
        printf("%s: best epoch %lld; test IoU %.4f F1 %.4f dice loss %.4f\n", label,
               (long long)r->best_epoch, r->m.iou, r->m.f1, r->m.dice_loss);
    if (!rc && f == 0 && ev->ex_n > 0)
        rc = keep_examples(ev, s, net, test, err, errlen);
    if (!rc && o->save_models) {
        char path[4400];
        snprintf(path, sizeof path, "%s/models/%s_fold%d.safetensors", o->out, ev->sets[s].name,
                 f + 1);
        rc = segq_unetpp_save(net, path, err, errlen);
    }
    segq_unetpp_destroy(&net);
    free(items);
    free(test);
    return rc;
}

/* What write_reports fills while it goes through the sets. */
typedef struct {
    const eval_t *ev;
    FILE *csv;         /* metrics.csv */
    json_t *sets;      /* metrics.json's "sets" */
    double *mean, *sd; /* [set][metric], for the chart */
    double *v;         /* one metric over the folds */
} report_t;

/* OUT/NAME opened for writing, its header `columns` and the metrics'
 * names; NULL with err set. */
static FILE *open_csv(const eval_t *ev, const char *name, const char *columns, char *err,
                      size_t errlen)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", ev->o->out, name);
    FILE *csv = fopen(path, "w");
    if (!csv) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return NULL;
    }
    fputs(columns, csv);
    for (int k = 0; k < SEGQ_N_METRICS; k++)
        fprintf(csv, ",%s", segq_metric_names[k]);
    fputc('\n', csv);
    return csv;
}

static int close_csv(const eval_t *ev, FILE *csv, const char *name, char *err, size_t errlen)
{
    if (fclose(csv) == 0)
        return 0;
    snprintf(err, errlen, "%s/%s: write failed", ev->o->out, name);
    return SEGQ_EIO;
}

static void write_metrics_row(FILE *csv, const segq_seg_metrics_t *m)
{
    for (int k = 0; k < SEGQ_N_METRICS; k++)
        fprintf(csv, ",%.6f", segq_metric_get(m, k));
    fputc('\n', csv);
}

/* per_image.csv: every test pair's metrics for each set and fold, so that
 * sets can be compared image by image (bench/paper_table.py does). */
static int write_per_image_csv(const eval_t *ev, char *err, size_t errlen)
{
    segq_eval_item_t *test = malloc((size_t)(ev->real.n + ev->test.n + 1) * sizeof *test);
    FILE *csv = test ? open_csv(ev, "per_image.csv", "set,fold,image", err, errlen) : NULL;
    if (!csv) {
        free(test);
        return test ? SEGQ_EIO : SEGQ_ENOMEM;
    }
    for (int s = 0; s < ev->nsets; s++)
        for (int f = 0; f < ev->nfolds; f++) {
            size_t n = test_items(ev, f, test);
            for (size_t i = 0; i < n; i++) {
                fprintf(csv, "%s,%d,", ev->sets[s].name, f + 1);
                segq__csv_field(csv, test[i].d->name[test[i].i], 0);
                write_metrics_row(csv, &ev->res[s * ev->nfolds + f].each[i]);
            }
        }
    free(test);
    return close_csv(ev, csv, "per_image.csv", err, errlen);
}

/* Fold f of a set: its metrics.csv row and its metrics.json object. */
static json_t *report_fold(const report_t *rep, const char *set, int f, const fold_result_t *r)
{
    fprintf(rep->csv, "%s,%d,%lld,%lld,%lld,%lld,%lld,%lld,%lld", set, f + 1,
            (long long)r->train_pairs, (long long)r->val_pairs, (long long)r->real_pairs,
            (long long)r->synthetic_pairs, (long long)r->excluded_test,
            (long long)r->excluded_other, (long long)r->best_epoch);
    write_metrics_row(rep->csv, &r->m);
    json_t *jf = json_pack("{s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "fold", f + 1, "train_pairs",
                           (json_int_t)r->train_pairs, "val_pairs", (json_int_t)r->val_pairs,
                           "real_pairs", (json_int_t)r->real_pairs, "synthetic_pairs",
                           (json_int_t)r->synthetic_pairs, "synthetic_excluded_test",
                           (json_int_t)r->excluded_test, "synthetic_excluded_other",
                           (json_int_t)r->excluded_other, "best_epoch", (json_int_t)r->best_epoch);
    json_object_set_new(jf, "metrics", metrics_json(&r->m));
    json_object_set_new(jf, "train_loss", doubles_json(r->hist.train_loss, rep->ev->o->epochs));
    json_object_set_new(jf, "val_iou", doubles_json(r->hist.val_iou, rep->ev->o->epochs));
    return jf;
}

/* Each metric's mean and std over the folds of set s. */
static void fold_mean_std(report_t *rep, int s, segq_seg_metrics_t *mm, segq_seg_metrics_t *ss)
{
    const eval_t *ev = rep->ev;
    for (int k = 0; k < SEGQ_N_METRICS; k++) {
        for (int f = 0; f < ev->nfolds; f++)
            rep->v[f] = segq_metric_get(&ev->res[s * ev->nfolds + f].m, k);
        double a, b;
        segq_mean_std(rep->v, (size_t)ev->nfolds, &a, &b);
        segq_metric_set(mm, k, a);
        segq_metric_set(ss, k, b);
        rep->mean[s * SEGQ_N_METRICS + k] = a;
        rep->sd[s * SEGQ_N_METRICS + k] = b;
    }
}

/* Set s: its folds' rows and its mean and std rows in metrics.csv, its
 * object in metrics.json. */
static void report_set(report_t *rep, int s)
{
    const eval_t *ev = rep->ev;
    const char *name = ev->sets[s].name;
    json_t *js = json_object(), *folds = json_array();
    for (int f = 0; f < ev->nfolds; f++)
        json_array_append_new(folds, report_fold(rep, name, f, &ev->res[s * ev->nfolds + f]));
    segq_seg_metrics_t mm, ss;
    fold_mean_std(rep, s, &mm, &ss);
    for (int row = 0; row < 2; row++) {
        fprintf(rep->csv, "%s,%s,,,,,,,", name, row ? "std" : "mean");
        write_metrics_row(rep->csv, row ? &ss : &mm);
    }
    json_object_set_new(js, "folds", folds);
    json_object_set_new(js, "mean", metrics_json(&mm));
    json_object_set_new(js, "std", metrics_json(&ss));
    json_object_set_new(rep->sets, name, js);
}

/* The flags the run had, its synthetic sets as NAME: DIR; JSON null if
 * they cannot be had. */
static json_t *params_json(const segq_evaluate_opts_t *o)
{
    char *params = segq_flags_to_json(segq_run_command_find("evaluate"), o);
    json_t *jp = params ? json_loads(params, 0, NULL) : NULL;
    free(params);
    json_t *syn = json_object();
    for (int i = 0; i < o->n_synthetic; i++)
        json_object_set_new(syn, o->syn_name[i], json_string(o->syn_dir[i]));
    if (jp) {
        json_object_del(jp, "synthetic");
        json_object_set_new(jp, "synthetic", syn);
    } else
        json_decref(syn);
    return jp ? jp : json_null();
}

/* metrics.json: root gets the run's parameters and the sets (taken). */
static int write_metrics_json(const eval_t *ev, json_t *root, json_t *sets, char *err,
                              size_t errlen)
{
    const segq_evaluate_opts_t *o = ev->o;
    json_t *order = json_array();
    for (int s = 0; s < ev->nsets; s++)
        json_array_append_new(order, json_string(ev->sets[s].name));
    json_object_set_new(root, "params", params_json(o));
    json_object_set_new(root, "set_order", order);
    json_object_set_new(root, "sets", sets);
    json_object_set_new(root, "folds", json_integer(ev->nfolds));
    json_object_set_new(root, "real_pairs", json_integer(ev->real.n));
    json_object_set_new(root, "test_pairs", json_integer(ev->test.n));
    json_object_set_new(root, "threshold", json_real(0.5));
    json_object_set_new(
        root, "empty_mask_rule",
        json_string("per test image; when truth and prediction are both empty, IoU = F1 = "
                    "recall = precision = 1; recall is 1 when the truth is empty and "
                    "precision 1 when the prediction is empty; metrics are means over test "
                    "images, std over folds is the population std"));
    char path[4400];
    snprintf(path, sizeof path, "%s/metrics.json", o->out);
    if (json_dump_file(root, path, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) != 0) {
        snprintf(err, errlen, "cannot write %s", path);
        return SEGQ_EIO;
    }
    return 0;
}

/* chart.png (each metric's mean and std per set) and examples.png. */
static int write_charts(const report_t *rep, char *err, size_t errlen)
{
    const eval_t *ev = rep->ev;
    const segq_evaluate_opts_t *o = ev->o;
    const char *names[MAX_SETS];
    for (int s = 0; s < ev->nsets; s++)
        names[s] = ev->sets[s].name;
    char path[4400], title[200];
    snprintf(path, sizeof path, "%s/chart.png", o->out);
    snprintf(title, sizeof title, "UNet++ on real test data (%d %s)", ev->nfolds,
             ev->test.n ? "fixed test set" : "folds");
    int rc = segq_chart_bars(path, title, segq_metric_names, SEGQ_N_METRICS, names, ev->nsets,
                             rep->mean, rep->sd, err, errlen);
    snprintf(path, sizeof path, "%s/examples.png", o->out);
    if (!rc && ev->ex_n > 0)
        rc = segq_chart_examples(path, ev->ex_n, (int)o->size, ev->ex_img, ev->ex_truth, names,
                                 ev->nsets, ev->ex_pred, err, errlen);
    return rc;
}

static int write_reports(eval_t *ev, char *err, size_t errlen)
{
    report_t rep = {.ev = ev};
    rep.csv = open_csv(ev, "metrics.csv",
                       "set,fold,train_pairs,val_pairs,real_pairs,synthetic_pairs,"
                       "synthetic_excluded_test,synthetic_excluded_other,best_epoch",
                       err, errlen);
    if (!rep.csv)
        return SEGQ_EIO;
    json_t *root = json_object();
    rep.sets = json_object();
    rep.mean = calloc((size_t)ev->nsets * SEGQ_N_METRICS, sizeof(double));
    rep.sd = calloc((size_t)ev->nsets * SEGQ_N_METRICS, sizeof(double));
    rep.v = calloc((size_t)ev->nfolds, sizeof(double));
    int rc = root && rep.sets && rep.mean && rep.sd && rep.v ? 0 : SEGQ_ENOMEM;
    for (int s = 0; s < ev->nsets && !rc; s++)
        report_set(&rep, s);
    int closed = close_csv(ev, rep.csv, "metrics.csv", err, errlen);
    rc = rc ? rc : closed;
    if (!rc)
        rc = write_per_image_csv(ev, err, errlen);
    if (!rc) {
        rc = write_metrics_json(ev, root, rep.sets, err, errlen);
        rep.sets = NULL; /* root has it */
    }
    json_decref(rep.sets);
    json_decref(root);
    if (!rc)
        rc = write_charts(&rep, err, errlen);
    if (rc == SEGQ_ENOMEM)
        snprintf(err, errlen, "out of memory writing the report");
    free(rep.mean);
    free(rep.sd);
    free(rep.v);
    return rc;
}

/* The real, test and synthetic pairs, each read and resized once. */
static int load_sets(eval_t *ev, char *err, size_t errlen)
{
    const segq_evaluate_opts_t *o = ev->o;
    int rc = segq__eval_data_load(o->real, "--real", o->size, 0, &ev->real, err, errlen);
    if (!rc && *o->test)
        rc = segq__eval_data_load(o->test, "--test", o->size, 0, &ev->test, err, errlen);
    for (int i = 0; i < o->n_synthetic && !rc; i++) {
        char what[128];
        snprintf(what, sizeof what, "--synthetic %s", o->syn_name[i]);
        rc = segq__eval_data_load(o->syn_dir[i], what, o->size, 1, &ev->syn[i], err, errlen);
    }
    return rc;
}

/* A set's pairs as the fold check matches them: each pair's image, or
 * with `sources` its source image (a synthetic set's manifest). */
static int add_pairs(const segq_eval_data_t *d, int sources, segq_pair_list_t *list)
{
    char **name = sources ? d->src_name : d->name, **sha = sources ? d->src_sha : d->sha;
    int rc = 0;
    for (int64_t i = 0; i < d->n && !rc; i++)
        rc = segq_pair_list_add(list, name[i], sha[i]);
    return rc;
}

/* Enough real pairs for the folds, and something of every synthetic set
 * to train on in every fold: else a fold would fail after every one before
 * it trained. The check and the words of `segq submit evaluate`
 * (segq_folds_check.h). */
static int check_folds(const eval_t *ev, char *err, size_t errlen)
{
    const segq_evaluate_opts_t *o = ev->o;
    segq_pair_list_t real = {0}, test = {0}, syn[SEGQ_EVAL_MAX_SYNTHETIC] = {{0}};
    const segq_pair_list_t *sets[SEGQ_EVAL_MAX_SYNTHETIC];
    const char *names[SEGQ_EVAL_MAX_SYNTHETIC];
    char labels[SEGQ_EVAL_MAX_SYNTHETIC][96];
    int rc = add_pairs(&ev->real, 0, &real);
    if (!rc)
        rc = add_pairs(&ev->test, 0, &test);
    for (int i = 0; i < o->n_synthetic && !rc; i++) {
        snprintf(labels[i], sizeof labels[i], "--synthetic %s", o->syn_name[i]);
        names[i] = labels[i];
        sets[i] = &syn[i];
        rc = add_pairs(&ev->syn[i], 1, &syn[i]);
    }
    segq_folds_plan_t plan = {.real = real,
                              .test = test,
                              .folds = o->folds,
                              .seed = o->compute.seed,
                              .real_limit = o->real_limit,
                              .n_sets = (size_t)o->n_synthetic,
                              .set_names = names,
                              .sets = sets,
                              .real_flag = "--real",
                              .seed_flag = "--seed"};
    if (rc)
        snprintf(err, errlen, "out of memory");
    else
        rc = segq_folds_check(&plan, err, errlen);
    segq_pair_list_clear(&real);
    segq_pair_list_clear(&test);
    for (int i = 0; i < SEGQ_EVAL_MAX_SYNTHETIC; i++)
        segq_pair_list_clear(&syn[i]);
    return rc;
}

/* Each real pair's fold and its place in the seeded order: the sorted
 * pairs shuffled with the seed, dealt in turn (segq_folds.h: `segq submit
 * pipeline` checks them the same way); with --test, every real pair
 * trains. */
static int deal_folds(eval_t *ev, char *err, size_t errlen)
{
    const segq_evaluate_opts_t *o = ev->o;
    ev->nfolds = *o->test ? 1 : (int)o->folds;
    ev->fold_of = malloc((size_t)ev->real.n * sizeof(int64_t));
    ev->order = malloc((size_t)ev->real.n * sizeof *ev->order);
    if (!ev->fold_of || !ev->order) {
        snprintf(err, errlen, "out of memory");
        return SEGQ_ENOMEM;
    }
    segq_folds_shuffle((size_t)ev->real.n, (uint64_t)o->compute.seed, ev->order);
    for (int64_t k = 0; k < ev->real.n; k++)
        ev->fold_of[ev->order[k]] = *o->test ? -1 : k % ev->nfolds;
    return 0;
}

/* The training sets: real, then each synthetic set alone and beside the
 * real pairs. */
static void define_sets(eval_t *ev)
{
    const segq_evaluate_opts_t *o = ev->o;
    snprintf(ev->sets[ev->nsets++].name, sizeof ev->sets[0].name, "real");
    ev->sets[0].syn = -1;
    ev->sets[0].with_real = 1;
    for (int i = 0; i < o->n_synthetic; i++) {
        set_t *a = &ev->sets[ev->nsets++], *b = &ev->sets[ev->nsets++];
        snprintf(a->name, sizeof a->name, "%s", o->syn_name[i]);
        a->syn = i;
        snprintf(b->name, sizeof b->name, "real+%s", o->syn_name[i]);
        b->syn = i;
        b->with_real = 1;
    }
}

/* Room for every set's and fold's results and for fold 0's examples (as
 * many as asked for, at most its test pairs). */
static int alloc_results(eval_t *ev, char *err, size_t errlen)
{
    const segq_evaluate_opts_t *o = ev->o;
    int64_t ntest0 = ev->test.n;
    for (int64_t k = 0; !ev->test.n && k < ev->real.n; k++)
        ntest0 += ev->fold_of[k] == 0;
    ev->ex_n = (int)(o->examples < ntest0 ? o->examples : ntest0);
    size_t plane = (size_t)(o->size * o->size);
    ev->res = calloc((size_t)(ev->nsets * ev->nfolds), sizeof *ev->res);
    ev->ex_img = malloc(((size_t)ev->ex_n * 3 + 1) * plane * sizeof(float));
    ev->ex_truth = malloc(((size_t)ev->ex_n + 1) * plane * sizeof(float));
    ev->ex_pred = malloc(((size_t)ev->ex_n * (size_t)ev->nsets + 1) * plane * sizeof(float));
    if (ev->res && ev->ex_img && ev->ex_truth && ev->ex_pred)
        return 0;
    snprintf(err, errlen, "out of memory");
    return SEGQ_ENOMEM;
}

/* OUT, and OUT/models when the models are kept. */
static int make_out_dirs(const segq_evaluate_opts_t *o, char *err, size_t errlen)
{
    char path[4400];
    int rc = segq__make_dir(o->out, err, errlen);
    snprintf(path, sizeof path, "%s/models", o->out);
    if (!rc && o->save_models)
        rc = segq__make_dir(path, err, errlen);
    return rc;
}

int segq_evaluate(const segq_evaluate_opts_t *o, segq_progress_t *progress, char *err,
                  size_t errlen)
{
    eval_t ev = {.o = o, .progress = progress};
    int threads;
    int rc = segq__compute_setup(&o->compute, &ev.dev, &threads, err, errlen);
    if (rc)
        return rc;
    rc = segq_rule_evaluate_size(o->size, o->depth, err, errlen);
    if (rc)
        return rc;
    if (*o->synthetic_flag) {
        snprintf(err, errlen, "--synthetic: expected NAME=DIR");
        return SEGQ_EINVAL;
    }
    rc = load_sets(&ev, err, errlen);
    if (!rc)
        rc = check_folds(&ev, err, errlen);
    if (!rc)
        rc = deal_folds(&ev, err, errlen);
    define_sets(&ev);
    if (!rc)
        rc = alloc_results(&ev, err, errlen);
    if (!rc)
        rc = make_out_dirs(o, err, errlen);
    ev.epochs_total = (int64_t)ev.nsets * ev.nfolds * o->epochs;
    double t0 = segq__now();
    for (int f = 0; f < ev.nfolds && !rc; f++)
        for (int s = 0; s < ev.nsets && !rc; s++)
            rc = run_fold(&ev, s, f, err, errlen);
    if (!rc)
        rc = write_reports(&ev, err, errlen);
    if (!rc)
        printf("evaluated %d training sets x %d folds in %.1f s: %s/metrics.csv\n", ev.nsets,
               ev.nfolds, segq__now() - t0, o->out);
    eval_free(&ev);
    return rc;
}
