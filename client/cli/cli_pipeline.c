/*  cli_pipeline.c: segq submit pipeline: train -> generate [-> stylize]
    [-> evaluate] as one command. Each job references the one before it,
    so the broker runs them in order; with --images/--masks DIR each stage
    is a job array with one job per pair, and evaluate takes the outputs of
    whole arrays. */
#include "cli_submit.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_check.h"
#include "cli_folds.h"

enum { ST_TRAIN, ST_GENERATE, ST_STYLIZE, ST_EVALUATE, N_STAGES };
static const char *const s_stage_kinds [N_STAGES] = { "train", "generate", "stylize", "evaluate" };

static const char s_help [] =
    "usage: segq submit pipeline (--image FILE --mask FILE | --images DIR --masks DIR)\n"
    "                            [--count N] [--stylize --vgg19 WEIGHTS [--style FILE]]\n"
    "                            [--evaluate-against DIR [--evaluate-test DIR]]\n"
    "                            [--PARAM VALUE | --KIND.PARAM VALUE ...]\n"
    "                            [--gpu-mem SIZE | --cpu [N]] [--priority N] [--json]\n"
    "\n"
    "The SinGAN-Seg pipeline as one command: train on an image and its mask, generate\n"
    "--count synthetic pairs, optionally stylize them (VGG19 weights; style: the training\n"
    "image unless --style) and evaluate them against real data (UNet++ k-fold, the\n"
    "synthetic sets `singan` and, with --stylize, `stylized`). Each job uses the one\n"
    "before it, so they run in order; prints each stage's job id.\n"
    "With --images DIR --masks DIR (pairs matched by file name without extension) every\n"
    "stage but evaluate is a job array with one job per pair, and evaluate takes all\n"
    "their outputs: `segq status ARRAY` follows one stage.\n"
    "\n"
    "  --image FILE, --mask FILE    the training pair\n"
    "  --images DIR, --masks DIR    one pipeline per pair (job arrays)\n"
    "  --stylize                    add the stylize stage (needs --vgg19)\n"
    "  --vgg19 FILE                 VGG19 weights as safetensors (deploy/convert_vgg19.py)\n"
    "  --style FILE                 style image for every pair (default: its training image)\n"
    "  --evaluate-against DIR       add the evaluate stage with these real pairs\n"
    "                               (images/NAME + masks/NAME), k-fold: at least 2 training\n"
    "                               pairs must be among them, dealt into 2 folds or more (a\n"
    "                               fold's synthetic set trains only on pairs made from its\n"
    "                               real training pairs)\n"
    "  --evaluate-test DIR          evaluate on these real pairs instead of k folds: every\n"
    "                               --evaluate-against pair trains\n"
    "  --PARAM VALUE                a parameter of the one stage that has it (--niter 20,\n"
    "                               --count 10); --KIND.PARAM VALUE names the stage\n"
    "                               (--generate.batch 4); see `segq submit KIND --help`\n"
    "  --gpu-mem, --cpu, --priority, --time-limit, --max-attempts   for every job\n"
    "  --json                       {\"train\": ID, ...} (arrays: {\"array\": ID, \"jobs\": "
    "[...]})\n";

typedef struct {
    cli_submit_args_t stage [N_STAGES];
    bool used [N_STAGES];
    const char *image, *mask, *vgg19, *style, *real, *test;
    bool plural; /* --images/--masks */
    bool pair;   /* --image/--mask */
} pipeline_t;

/* --niter -> train's; --generate.batch -> generate's; ambiguous: refused. */
static int
s_route_param (cli_globals_t *g, pipeline_t *p, const char *flag, const char *value)
{
    char name [64];
    size_t i = 0;
    for (; flag [i] && i + 1 < sizeof name; i++)
        name [i] = flag [i] == '-' ? '_' : flag [i];
    name [i] = 0;
    int stage = -1;
    const char *param = name, *dot = strchr (name, '.');
    if (dot) {
        for (int k = 0; k < N_STAGES && stage < 0; k++)
            if (strlen (s_stage_kinds [k]) == (size_t) (dot - name)
                && strncmp (s_stage_kinds [k], name, (size_t) (dot - name)) == 0)
                stage = k;
        if (stage < 0)
            return cli_usage_error (g, "submit pipeline",
                                    "--%s: no stage '%.*s' (train, generate, "
                                    "stylize, evaluate)",
                                    flag, (int) (dot - name), name);
        param = dot + 1;
        if (!segq_kind_param (segq_kind_find (s_stage_kinds [stage]), param)) {
            const char *close = segq_kind_suggest (segq_kind_find (s_stage_kinds [stage]), param);
            return cli_usage_error (g, "submit pipeline", "%s has no parameter '%s'%s%s%s",
                                    s_stage_kinds [stage], param, close ? " (did you mean " : "",
                                    close ? close : "", close ? "?)" : "");
        }
    } else {
        char owners [256] = "";
        int n = 0;
        for (int k = 0; k < N_STAGES; k++)
            if (segq_kind_param (segq_kind_find (s_stage_kinds [k]), param)) {
                stage = k;
                snprintf (owners + strlen (owners), sizeof owners - strlen (owners), "%s--%s.%s",
                          n++ ? ", " : "", s_stage_kinds [k], flag);
            }
        if (n > 1)
            return cli_usage_error (g, "submit pipeline",
                                    "--%s is a parameter of several stages: "
                                    "name one (%s)",
                                    flag, owners);
        for (int k = 0; k < N_STAGES && n == 0; k++)
            if (segq_kind_input (segq_kind_find (s_stage_kinds [k]), param))
                return cli_usage_error (g, "submit pipeline",
                                        "--%s is an input of the %s stage, not a parameter: "
                                        "`segq submit pipeline --help` says what the "
                                        "pipeline gives it",
                                        flag, s_stage_kinds [k]);
        if (n == 0) {
            const char *close = NULL;
            for (int k = 0; k < N_STAGES && !close; k++)
                close = segq_kind_suggest (segq_kind_find (s_stage_kinds [k]), param);
            return cli_usage_error (g, "submit pipeline", "no stage has a parameter --%s%s%s%s",
                                    flag, close ? " (did you mean --" : "", close ? close : "",
                                    close ? "?)" : "");
        }
    }
    cli_typed_param_t *t = &p->stage [stage].params [p->stage [stage].n_params++];
    snprintf (t->name, sizeof t->name, "%s", param);
    t->value = value;
    return CLI_OK;
}

/* What s_parse returns after printing --help: nothing more to do. */
#define S_HELP_SHOWN (CLI_USAGE + 100)

/* The generic options (resources, --json, ...) go to submit's own parser
   on a copy of argv that keeps only them. */
typedef struct {
    char **argv;
    int argc;
} generic_args_t;

static const char *const s_own_flags [] = { "image", "mask",  "images",           "masks",
                                            "vgg19", "style", "evaluate-against", "evaluate-test" };
static const char *const s_generic_flags [] = { "broker", "timeout",    "json",
                                                "cert",   "broker-key", "no-keys",
                                                "help",   "priority",   "gpu-mem",
                                                "cpu",    "time-limit", "max-attempts" };

static bool
s_listed (const char *flag, const char *const *list, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (strcmp (flag, list [k]) == 0)
            return true;
    return false;
}

/* An argument that is not a long option: only -h passes (to submit's
   parser); -p and -i are submit's ways to give parameters and inputs. */
static int
s_short_arg (cli_globals_t *g, generic_args_t *generic, const char *a)
{
    if (strcmp (a, "-h") == 0) {
        generic->argv [generic->argc++] = (char *) a;
        return CLI_OK;
    }
    if (strcmp (a, "-p") == 0 || strcmp (a, "-i") == 0)
        return cli_usage_error (g, "submit pipeline",
                                "%s: name the stage's flag instead "
                                "(--niter 20, --generate.batch 4)",
                                a);
    return cli_usage_error (g, "submit pipeline", "unexpected argument '%s'", a);
}

/* A generic option, argv[*i], kept for submit's parser. */
static void
s_keep_generic (generic_args_t *generic, const char *flag, bool eq, int argc, char **argv, int *i)
{
    generic->argv [generic->argc++] = argv [*i];
    /* their values travel with them */
    bool takes = strcmp (flag, "json") != 0 && strcmp (flag, "help") != 0
                 && strcmp (flag, "cpu") != 0 && strcmp (flag, "no-keys") != 0;
    if (!eq
        && (takes
            || (strcmp (flag, "cpu") == 0 && *i + 1 < argc && cli_submit_cpu_value (argv [*i + 1])))
        && *i + 1 < argc)
        generic->argv [generic->argc++] = argv [++*i];
}

/* The slot of the pipeline's own flag: --image and --images fill one,
   --mask and --masks another. */
static const char **
s_own_slot (pipeline_t *p, const char *flag)
{
    if (!strcmp (flag, "image") || !strcmp (flag, "images"))
        return &p->image;
    if (!strcmp (flag, "mask") || !strcmp (flag, "masks"))
        return &p->mask;
    if (!strcmp (flag, "vgg19"))
        return &p->vgg19;
    if (!strcmp (flag, "style"))
        return &p->style;
    return !strcmp (flag, "evaluate-test") ? &p->test : &p->real;
}

/* --image, --images, --mask, ...: the pipeline's own flags, each once;
   one pair (--image/--mask) or folders of them (--images/--masks), not
   both: one would be dropped without a word. */
static int
s_set_own (cli_globals_t *g, pipeline_t *p, const char *flag, const char *value)
{
    bool plural = !strcmp (flag, "images") || !strcmp (flag, "masks");
    bool pair = !strcmp (flag, "image") || !strcmp (flag, "mask");
    if ((plural && p->pair) || (pair && p->plural))
        return cli_usage_error (g, "submit pipeline",
                                "--%s %s: give one training pair (--image FILE --mask FILE) or "
                                "folders of pairs (--images DIR --masks DIR), not both",
                                flag, value);
    const char **slot = s_own_slot (p, flag);
    if (*slot)
        return cli_usage_error (g, "submit pipeline", "--%s given twice (%s and %s): give it once",
                                flag, *slot, value);
    *slot = value;
    p->plural |= plural;
    p->pair |= pair;
    return CLI_OK;
}

/* argv[*i] (and its value, *i moved past it): a flag of the pipeline, a
   generic option, or a stage's parameter. */
static int
s_parse_arg (cli_globals_t *g, pipeline_t *p, generic_args_t *generic, int argc, char **argv,
             int *i)
{
    const char *a = argv [*i];
    if (strncmp (a, "--", 2) != 0)
        return s_short_arg (g, generic, a);
    const char *name = a + 2, *eq = strchr (name, '=');
    size_t len = eq ? (size_t) (eq - name) : strlen (name);
    char flag [64];
    snprintf (flag, sizeof flag, "%.*s", (int) (len < 63 ? len : 63), name);
    if (strcmp (flag, "stylize") == 0 && !eq) {
        p->used [ST_STYLIZE] = true;
        return CLI_OK;
    }
    if (s_listed (flag, s_generic_flags, sizeof s_generic_flags / sizeof s_generic_flags [0])) {
        s_keep_generic (generic, flag, eq != NULL, argc, argv, i);
        return CLI_OK;
    }
    const char *value = eq ? eq + 1 : *i + 1 < argc ? argv [++*i] : NULL;
    if (!value)
        return cli_usage_error (g, "submit pipeline", "--%s needs a value", flag);
    if (!s_listed (flag, s_own_flags, sizeof s_own_flags / sizeof s_own_flags [0]))
        return s_route_param (g, p, flag, value);
    return s_set_own (g, p, flag, value);
}

/* Every stage after train takes train's resources (the generic options
   were parsed for train); a parameter of a stage left out is refused. */
static int
s_share_resources (cli_globals_t *g, pipeline_t *p)
{
    const cli_submit_args_t *t = &p->stage [ST_TRAIN];
    for (int k = 1; k < N_STAGES; k++) {
        cli_submit_args_t *s = &p->stage [k];
        s->kind_name = s_stage_kinds [k];
        s->kind = segq_kind_find (s_stage_kinds [k]);
        s->priority = t->priority;
        s->gpu_mem = t->gpu_mem;
        s->cpu_slots = t->cpu_slots;
        s->cpu = t->cpu;
        s->time_limit = t->time_limit;
        s->max_attempts = t->max_attempts;
        if (s->n_params && !p->used [k])
            return cli_usage_error (g, "submit pipeline",
                                    "--%s is a %s parameter, and there is no "
                                    "%s stage (%s)",
                                    s->params [0].name, s_stage_kinds [k], s_stage_kinds [k],
                                    k == ST_STYLIZE ? "add --stylize"
                                                    : "add --evaluate-against DIR");
    }
    return CLI_OK;
}

/* A training stopped early makes a model that cannot generate (the
   broker refuses a generate from one at submit; here the model is still
   to come), and a pipeline generates from its every training. */
static int
s_check_training_whole (cli_globals_t *g, const pipeline_t *p)
{
    const cli_submit_args_t *t = &p->stage [ST_TRAIN];
    for (size_t i = 0; i < t->n_params; i++)
        if (strcmp (t->params [i].name, "stop_after_scale") == 0
            && strtol (t->params [i].value, NULL, 10) >= 0)
            return cli_usage_error (g, "submit pipeline",
                                    "--stop-after-scale %s stops the training early, and a model "
                                    "trained in part cannot generate: leave it out (or submit "
                                    "the training alone: segq submit train)",
                                    t->params [i].value);
    return CLI_OK;
}

/* The training pair given, trained whole, and --vgg19/--style only with
   --stylize. */
static int
s_check_flags (cli_globals_t *g, const pipeline_t *p)
{
    int rc = s_check_training_whole (g, p);
    if (rc != CLI_OK)
        return rc;
    bool stylize = p->used [ST_STYLIZE];
    if (!p->image)
        return cli_usage_error (g, "submit pipeline",
                                "which image? (--image FILE --mask FILE, or "
                                "--images DIR --masks DIR)");
    if (stylize && !p->vgg19)
        return cli_usage_error (g, "submit pipeline",
                                "--stylize needs --vgg19 WEIGHTS.safetensors "
                                "(deploy/convert_vgg19.py converts torchvision's weights)");
    if (!stylize && (p->vgg19 || p->style))
        return cli_usage_error (g, "submit pipeline", "--vgg19 and --style go with --stylize");
    if (p->test && !p->real)
        return cli_usage_error (g, "submit pipeline",
                                "--evaluate-test goes with --evaluate-against DIR (the real "
                                "pairs evaluate trains on)");
    return CLI_OK;
}

/* CLI_OK, S_HELP_SHOWN, or the error said. */
static int
s_parse (cli_globals_t *g, pipeline_t *p, int argc, char **argv)
{
    generic_args_t generic = { calloc ((size_t) argc + 2, sizeof *generic.argv), 0 };
    if (!generic.argv)
        return cli_error (g, "submit pipeline", CLI_FAILED, "out of memory");
    generic.argv [generic.argc++] = "submit";
    generic.argv [generic.argc++] = "train";
    int rc = CLI_OK;
    for (int i = 1; i < argc && rc == CLI_OK; i++)
        rc = s_parse_arg (g, p, &generic, argc, argv, &i);
    /* submit's parser for the generic options, then the same for each stage */
    if (rc == CLI_OK)
        rc = cli_submit_parse (g, &p->stage [ST_TRAIN], generic.argc, generic.argv);
    free (generic.argv);
    if (rc != CLI_OK)
        return rc;
    if (p->stage [ST_TRAIN].help) {
        fputs (s_help, stdout);
        return S_HELP_SHOWN;
    }
    p->used [ST_TRAIN] = p->used [ST_GENERATE] = true;
    p->used [ST_EVALUATE] = p->real != NULL;
    rc = s_share_resources (g, p);
    return rc == CLI_OK ? s_check_flags (g, p) : rc;
}

/* evaluate's k-fold over --evaluate-against trains, in each fold, only the
   pairs generated from that fold's real training pairs: the training
   images must be pairs of the folder that every fold has some of. Checked
   with evaluate's own dealing and matching (segq_folds_check.h), the pairs to be
   generated standing as the training images they will come from. */
static int
s_check_evaluate (cli_globals_t *g, const pipeline_t *p, const cli_array_plan_t *plan, size_t n)
{
    segq_pair_list_t real = { 0 }, trained = { 0 };
    segq_params_t params = { 0 };
    char why [2048] = "", inner [1024] = "", real_flag [600], advice [2048];
    int rc = cli_check_params (&p->stage [ST_EVALUATE], &params, why, sizeof why);
    if (rc == SEGQ_OK && (rc = cli_pair_list_add_dir (&real, p->real, false, inner, sizeof inner)))
        snprintf (why, sizeof why, "--evaluate-against %s: %s", p->real, inner);
    for (size_t k = 0; rc == SEGQ_OK && k < (n ? n : 1); k++)
        if ((rc = cli_pair_list_add_source (&trained, n ? plan->files [0][k] : p->image)))
            snprintf (why, sizeof why, "%s: %s", n ? plan->files [0][k] : p->image,
                      segq_strerror (rc));
    snprintf (real_flag, sizeof real_flag, "--evaluate-against %s", p->real);
    char images [700], masks [700];
    cli_path_join (images, sizeof images, p->real, "images");
    cli_path_join (masks, sizeof masks, p->real, "masks");
    snprintf (advice, sizeof advice,
              "train on at least 2 pairs of the folder (--images %s --masks %s), "
              "or evaluate on a fixed test set: --evaluate-against PAIRS --evaluate-test TEST "
              "(PAIRS: the training pairs as images/NAME + masks/NAME; TEST: the pairs of %s "
              "without them)",
              images, masks, p->real);
    const char *names [] = { "the pairs generated from the training images" };
    const segq_pair_list_t *sets [] = { &trained };
    segq_folds_plan_t folds = { .real = real,
                                .folds = cli_check_param_int (&params, "folds"),
                                .seed = cli_check_param_int (&params, "seed"),
                                .real_limit = cli_check_param_int (&params, "real_limit"),
                                .n_sets = 1,
                                .set_names = names,
                                .sets = sets,
                                .real_flag = real_flag,
                                .seed_flag = "--evaluate.seed",
                                .advice = advice };
    if (rc == SEGQ_OK)
        rc = segq_folds_check (&folds, why, sizeof why);
    segq_pair_list_clear (&real);
    segq_pair_list_clear (&trained);
    segq_params_clear (&params);
    return rc ? cli_usage_error (g, "submit pipeline", "%s", why) : CLI_OK;
}

static cli_typed_input_t *
s_input (cli_submit_args_t *s, const char *name, const char *set, const char *ref)
{
    cli_typed_input_t *in = &s->inputs [s->n_inputs++];
    memset (in, 0, sizeof *in);
    in->spec = segq_kind_input (s->kind, name);
    in->ref = ref;
    if (set)
        snprintf (in->set, sizeof in->set, "%s", set);
    return in;
}

/* The jobs of one stage: n of them (refs[i][k]: typed input i's value in
   job k, NULL rows: the input's own), or one when n is 0. ids: n (or 1). */
static int
s_stage (cli_globals_t *g, segq_client_t *client, const cli_submit_args_t *s, size_t n,
         char ***refs, char **ids, segq_array_info_t *array)
{
    size_t jobs = n ? n : 1;
    segq_job_spec_t **specs = calloc (jobs, sizeof *specs);
    const char **files = calloc (s->n_inputs + 1, sizeof *files);
    int rc = specs && files ? CLI_OK : cli_error (g, "submit", CLI_FAILED, "out of memory");
    for (size_t k = 0; k < jobs && rc == CLI_OK; k++) {
        for (size_t i = 0; i < s->n_inputs; i++)
            files [i] = n && refs [i] ? refs [i][k] : NULL;
        rc = cli_submit_spec (g, s, files, &specs [k]);
    }
    if (rc == CLI_OK)
        rc = cli_submit_all (g, client, s, specs, jobs, ids);
    if (rc == CLI_OK && n
        && segq_client_array_create (client, (const char *const *) ids, n, array) < 0)
        rc = cli_error (g, "submit", CLI_FAILED,
                        "%s: the jobs were submitted, but grouping them "
                        "as an array failed: %s",
                        s->kind->name, segq_client_error (client));
    for (size_t k = 0; specs && k < jobs; k++)
        segq_job_spec_destroy (&specs [k]);
    free (specs);
    free (files);
    return rc;
}

/* A pipeline being submitted: its command line and what its steps make. */
typedef struct {
    pipeline_t p;
    segq_client_t *client;
    cli_array_plan_t plan; /* --images/--masks: the pairs */
    size_t n;              /* jobs of each stage but evaluate; 0: one, not an array */
    char **ids [N_STAGES]; /* per stage: its jobs' ids (owned) */
    segq_array_info_t arrays [N_STAGES];
} run_t;

static void
s_run_clear (run_t *run)
{
    for (int k = 0; k < N_STAGES; k++) {
        cli_ids_free (run->ids [k], run->n ? run->n : 1);
        segq_array_info_clear (&run->arrays [k]);
        cli_submit_args_clear (&run->p.stage [k]);
    }
    cli_array_plan_clear (&run->plan);
    segq_client_destroy (&run->client);
}

/* train: the pair, or one job per pair of the folders */
static int
s_plan_train (cli_globals_t *g, run_t *run)
{
    const pipeline_t *p = &run->p;
    cli_submit_args_t *train = &run->p.stage [ST_TRAIN];
    train->kind_name = "train";
    train->kind = segq_kind_find ("train");
    s_input (train, "image", NULL, p->image)->plural = p->plural;
    if (p->mask)
        s_input (train, "mask", NULL, p->mask)->plural = p->plural;
    int rc = cli_array_plan (g, &run->client, train, &run->plan);
    if (rc != CLI_OK)
        return rc;
    run->n = run->plan.n;
    if (p->plural && !run->n)
        return cli_usage_error (g, "submit pipeline", "--images and --masks take folders");
    return CLI_OK;
}

/* The inputs of the stages after train; those to jobs not yet made are
   stand-ins ("0000") until the jobs are. */
static void
s_add_later_inputs (pipeline_t *p)
{
    s_input (&p->stage [ST_GENERATE], "model", NULL, "0000");
    if (p->used [ST_STYLIZE]) {
        s_input (&p->stage [ST_STYLIZE], "content", NULL, "0000");
        if (p->style) /* else the broker takes each generate job's training image */
            s_input (&p->stage [ST_STYLIZE], "style", NULL, p->style);
        s_input (&p->stage [ST_STYLIZE], "vgg19", NULL, p->vgg19);
    }
    if (p->used [ST_EVALUATE]) {
        s_input (&p->stage [ST_EVALUATE], "real", NULL, p->real);
        s_input (&p->stage [ST_EVALUATE], "synthetic", "singan", "0000");
        if (p->used [ST_STYLIZE])
            s_input (&p->stage [ST_EVALUATE], "synthetic", "stylized", "0000");
        if (p->test) /* after the stand-ins, which the jobs replace by place */
            s_input (&p->stage [ST_EVALUATE], "test", NULL, p->test);
    }
}

/* Stage k's spec, made as its first job's. */
static int
s_check_spec (cli_globals_t *g, const run_t *run, int k)
{
    const pipeline_t *p = &run->p;
    const char *files [4] = { 0 };
    if (k == ST_TRAIN && run->n)
        for (size_t i = 0; i < p->stage [ST_TRAIN].n_inputs; i++)
            files [i] = run->plan.files [i][0];
    segq_job_spec_t *check = NULL;
    int rc = cli_submit_spec (g, &p->stage [k], files, &check);
    segq_job_spec_destroy (&check);
    return rc;
}

/* evaluate's real pairs: a folder, dealt into folds that can train
   (with a fixed test set, every pair trains: no folds). */
static int
s_check_evaluate_stage (cli_globals_t *g, const run_t *run)
{
    const char *real = run->p.real;
    struct stat st;
    if (stat (real, &st) != 0 || !S_ISDIR (st.st_mode))
        return cli_usage_error (g, "submit pipeline",
                                "--evaluate-against %s: not a folder "
                                "of real pairs (images/NAME + masks/NAME)",
                                real);
    return run->p.test ? CLI_OK : s_check_evaluate (g, &run->p, &run->plan, run->n);
}

/* every stage's spec is checked before anything is sent: the later
   stages with stand-in references to the jobs not yet made. Evaluate's
   real folder is dealt into folds and its pairs read here, once: its job
   is made after the others are sent. */
static int
s_check_stages (cli_globals_t *g, run_t *run)
{
    s_add_later_inputs (&run->p);
    int rc = CLI_OK;
    for (int k = 0; k < N_STAGES && rc == CLI_OK; k++) {
        if (run->p.used [k] && k == ST_EVALUATE)
            rc = s_check_evaluate_stage (g, run);
        if (run->p.used [k] && rc == CLI_OK)
            rc = s_check_spec (g, run, k);
    }
    run->p.stage [ST_EVALUATE].files_checked = true;
    return rc;
}

/* Stage k's jobs, refs as s_stage takes them; evaluate is one job. */
static int
s_submit_stage (cli_globals_t *g, run_t *run, int k, char ***refs)
{
    return s_stage (g, run->client, &run->p.stage [k], k == ST_EVALUATE ? 0 : run->n, refs,
                    run->ids [k], &run->arrays [k]);
}

/* What evaluate reads of stage k: its array (all its outputs), or its job. */
static const char *
s_whole_stage (const run_t *run, int k)
{
    return run->n ? run->arrays [k].array : run->ids [k][0];
}

static int
s_submit_stages (cli_globals_t *g, run_t *run)
{
    pipeline_t *p = &run->p;
    int rc = CLI_OK;
    for (int k = 0; k < N_STAGES && rc == CLI_OK; k++)
        if (p->used [k] && !(run->ids [k] = calloc (run->n ? run->n : 1, sizeof *run->ids [k])))
            rc = cli_error (g, "submit pipeline", CLI_FAILED, "out of memory");
    /* references to the stage before: each job its own (arrays: by pair) */
    char **refs [4] = { 0 };
    if (rc == CLI_OK)
        rc = s_submit_stage (g, run, ST_TRAIN, run->plan.files);
    if (rc == CLI_OK) {
        p->stage [ST_GENERATE].inputs [0].ref = run->ids [ST_TRAIN][0];
        refs [0] = run->ids [ST_TRAIN];
        rc = s_submit_stage (g, run, ST_GENERATE, refs);
    }
    if (rc == CLI_OK && p->used [ST_STYLIZE]) {
        p->stage [ST_STYLIZE].inputs [0].ref = run->ids [ST_GENERATE][0];
        refs [0] = run->ids [ST_GENERATE];
        rc = s_submit_stage (g, run, ST_STYLIZE, refs);
    }
    /* evaluate: one job over whole stages (an array's outputs, all of them) */
    if (rc == CLI_OK && p->used [ST_EVALUATE]) {
        cli_submit_args_t *ev = &p->stage [ST_EVALUATE];
        ev->inputs [1].ref = s_whole_stage (run, ST_GENERATE);
        if (p->used [ST_STYLIZE])
            ev->inputs [2].ref = s_whole_stage (run, ST_STYLIZE);
        rc = s_submit_stage (g, run, ST_EVALUATE, NULL);
    }
    return rc;
}

/* A stage refused after others were sent (the broker saw what the CLI
   could not: a share withdrawn meanwhile, a limit reached): the jobs sent
   are cancelled, so that no half pipeline runs on the GPUs; said. */
static void
s_cancel_sent (cli_globals_t *g, run_t *run)
{
    size_t per = run->n ? run->n : 1, n = 0;
    const char **sent = calloc (N_STAGES * per, sizeof *sent);
    if (!sent) {
        cli_error (g, "submit pipeline", CLI_FAILED,
                   "out of memory: cancel the jobs it had submitted (segq status)");
        return;
    }
    for (int k = 0; k < N_STAGES; k++)
        for (size_t j = 0; run->ids [k] && j < per; j++)
            if (run->ids [k][j])
                sent [n++] = run->ids [k][j];
    cli_submit_cancel (g, run->client, "submit pipeline", "pipeline", sent, n);
    free (sent);
}

/* --json: stage k's job id, or its array and the ids of its jobs. */
static json_t *
s_stage_json (const run_t *run, int k)
{
    if (!run->n || k == ST_EVALUATE)
        return json_string (run->ids [k][0]);
    json_t *list = json_array ();
    for (size_t j = 0; list && j < run->n; j++)
        json_array_append_new (list, json_string (run->ids [k][j]));
    return json_pack ("{s:s,s:o*}", "array", run->arrays [k].array, "jobs", list);
}

/* Each stage's job id, or its array and how many jobs it has. */
static int
s_print_stages (const cli_globals_t *g, const run_t *run)
{
    json_t *out = g->json ? json_object () : NULL;
    for (int k = 0; k < N_STAGES; k++) {
        if (!run->p.used [k])
            continue;
        if (out)
            json_object_set_new (out, s_stage_kinds [k], s_stage_json (run, k));
        else if (run->n && k != ST_EVALUATE)
            printf ("%-9s %s (%zu jobs)\n", s_stage_kinds [k], run->arrays [k].array, run->n);
        else
            printf ("%-9s %s\n", s_stage_kinds [k], run->ids [k][0]);
    }
    return out ? cli_print_json (out) : CLI_OK;
}

int
cli_submit_pipeline (cli_globals_t *g, int argc, char **argv)
{
    run_t run;
    memset (&run, 0, sizeof run);
    int rc = CLI_OK;
    for (int k = 0; k < N_STAGES && rc == CLI_OK; k++)
        if (cli_submit_args_init (&run.p.stage [k], argc + 8) < 0)
            rc = cli_error (g, "submit pipeline", CLI_FAILED, "out of memory");
    if (rc == CLI_OK)
        rc = s_parse (g, &run.p, argc, argv);
    if (rc == CLI_OK)
        rc = s_plan_train (g, &run);
    if (rc == CLI_OK)
        rc = s_check_stages (g, &run);
    if (rc == CLI_OK && !run.client)
        rc = cli_connect (g, &run.client);
    if (rc == CLI_OK && (rc = s_submit_stages (g, &run)) != CLI_OK)
        s_cancel_sent (g, &run);
    if (rc == CLI_OK)
        rc = s_print_stages (g, &run);
    s_run_clear (&run);
    return rc == S_HELP_SHOWN ? CLI_OK : rc;
}
