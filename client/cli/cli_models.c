/*  cli_models.c: `segq models`, the catalogue of trained models.

    segq models [--user U] [--tag T]      the models you may use
    segq models show MODEL                one, with what it was trained on
    segq models rename MODEL NEW | tag MODEL TAG... | untag MODEL TAG...
    segq models note MODEL TEXT | pin MODEL | unpin MODEL | rm MODEL
    segq models share MODEL --with U[,U] | --lab   (unshare, or --unshare)

    MODEL is a name (yours, or the one of that name shared with you),
    OWNER/NAME or an id (m-...). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { OPT_USER = 2000, OPT_TAG, OPT_WITH, OPT_LAB, OPT_UNSHARE, OPT_PREVIEW };

/* Pairs `show --preview` fetches from the model's newest generation. */
#define PREVIEW_PAIRS 4

static const char s_help [] =
    "usage: segq models [--user USER] [--tag TAG] [--json]\n"
    "       segq models show MODEL [--preview DIR] [--json]\n"
    "       segq models rename MODEL NEW_NAME\n"
    "       segq models tag|untag MODEL TAG...\n"
    "       segq models note MODEL TEXT        (\"\" clears it)\n"
    "       segq models share MODEL --with USER[,USER...] | --lab  [--unshare]\n"
    "       segq models unshare MODEL --with USER[,USER...] | --lab\n"
    "       segq models pin|unpin|rm MODEL\n\n"
    "Every training that succeeds is a model: named after its image (or --name at\n"
    "submit), owned by who trained it. `segq models` lists yours and those shared\n"
    "with you (an admin: all). MODEL is a NAME, OWNER/NAME or an id (m-...).\n\n"
    "Generate from one by name: segq submit generate --model NAME --count N.\n"
    "show --preview DIR fetches a few pairs of the newest generation from it\n"
    "that you may read.\n"
    "Sharing lets the users named (or, with --lab, everyone) generate from the\n"
    "model and read what they generated, never its training image, mask, previews\n"
    "or losses, nor its checkpoint. But a SinGAN model is close to its one image:\n"
    "the generators reproduce its texture and pieces of its layout, so share only\n"
    "what you could share as synthetic data (see docs/models.md). --unshare stops\n"
    "new jobs at once and cancels theirs not yet started; running ones finish.\n"
    "pin: retention never removes the model's training. rm: out of the catalogue\n"
    "(its training job and files stay until purged: `segq purge JOB`).\n";

typedef struct {
    const char *word;
    segq_model_op_t op;
    int args; /* words after MODEL: exact count, or -1 one or more */
} subcommand_t;

static const subcommand_t s_subcommands [] = {
    { "show", SEGQ_MODEL_SHOW, 0 },       { "rename", SEGQ_MODEL_RENAME, 1 },
    { "tag", SEGQ_MODEL_TAG, -1 },        { "untag", SEGQ_MODEL_UNTAG, -1 },
    { "note", SEGQ_MODEL_NOTE, 1 },       { "share", SEGQ_MODEL_SHARE, 0 },
    { "unshare", SEGQ_MODEL_UNSHARE, 0 }, { "pin", SEGQ_MODEL_PIN, 0 },
    { "unpin", SEGQ_MODEL_UNPIN, 0 },     { "rm", SEGQ_MODEL_RM, 0 },
};

/* "bob,carol" or "lab" or "-": whom a model is shared with; the caller
   (me) as "you". The broker shows the list to the owner and admins only,
   so that whom else a model is shared with stays the owner's business. */
static void
s_shared_text (const segq_model_info_t *m, const char *me, char *buf, size_t len)
{
    int n = snprintf (buf, len, "%s", m->lab ? "lab" : m->n_shared ? "" : "-");
    for (size_t i = 0; i < m->n_shared && n >= 0 && (size_t) n < len; i++)
        n += snprintf (buf + n, len - (size_t) n, "%s%s", n ? "," : "",
                       me && strcmp (m->shared [i], me) == 0 ? "you" : m->shared [i]);
}

/* A size as WxH, width first, as `segq-run sample --size` takes it. */
static void
s_size_text (const segq_model_info_t *m, char *buf, size_t len)
{
    if (m->height)
        snprintf (buf, len, "%ux%u", m->width, m->height);
    else
        snprintf (buf, len, "-");
}

static void
s_print_table (const segq_model_info_t *models, size_t n, const char *me)
{
    printf ("%-10s %-24s %-10s %6s %9s %6s  %-12s %s\n", "ID", "NAME", "OWNER", "SCALES", "SIZE",
            "AGE", "SHARED", "TAGS");
    for (size_t i = 0; i < n; i++) {
        const segq_model_info_t *m = &models [i];
        char size [32], age [32], shared [256], tags [256] = "";
        s_size_text (m, size, sizeof size);
        cli_format_age (m->created, age, sizeof age);
        s_shared_text (m, me, shared, sizeof shared);
        int t = 0;
        for (size_t k = 0; k < m->n_tags && t >= 0 && (size_t) t < sizeof tags; k++)
            t += snprintf (tags + t, sizeof tags - (size_t) t, "%s%s", k ? "," : "", m->tags [k]);
        char name [SEGQ_MODEL_NAME_MAX + 32], owner [SEGQ_USER_MAX + 32];
        printf ("%-10s %s %s %6u %9s %6s  %-12s %s%s%s\n", m->id,
                cli_format_cell (m->name, 24, name, sizeof name),
                cli_format_cell (m->owner, 10, owner, sizeof owner), m->scales, size, age, shared,
                tags, m->pinned ? " [pinned]" : "", m->purged ? " [purged]" : "");
    }
}

static void
s_print_detail (const segq_model_info_t *m, const char *me)
{
    char when [64] = "?", shared [1024], bytes [32], size [32];
    time_t t = (time_t) m->created;
    struct tm tm;
    if (localtime_r (&t, &tm))
        strftime (when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    s_shared_text (m, me, shared, sizeof shared);
    segq_format_size (m->size, bytes, sizeof bytes);
    s_size_text (m, size, sizeof size);
    printf ("%s  %s  (owner %s, trained by job %s on %s)\n", m->id, m->name, m->owner, m->job,
            when);
    printf ("  image       %s  sha256 %s\n", m->image ? m->image : "-", m->image_hash);
    if (m->mask)
        printf ("  mask        %s  sha256 %s\n", m->mask, m->mask_hash);
    else
        printf ("  mask        the image's alpha\n");
    printf ("  checkpoint  %s  sha256 %s\n", bytes, m->checkpoint);
    printf ("  scales      %u, finest %s\n", m->scales, size);
    printf ("  shared      %s%s%s\n", shared, m->pinned ? "   pinned" : "",
            m->purged ? "   PURGED: it generates no more" : "");
    if (m->n_tags) {
        printf ("  tags       ");
        for (size_t i = 0; i < m->n_tags; i++)
            printf (" %s", m->tags [i]);
        printf ("\n");
    }
    if (m->note)
        printf ("  note        %s\n", m->note);
    if (m->samples)
        printf ("  samples     job %s (see them: segq fetch %s -o DIR)\n", m->samples, m->samples);
    if (m->params.count) {
        printf ("  training   ");
        for (size_t i = 0; i < m->params.count; i++) {
            const segq_value_t *v = &m->params.items [i].value;
            printf (" %s=", m->params.items [i].name);
            if (v->type == SEGQ_PARAM_INT)
                printf ("%lld", (long long) v->i);
            else if (v->type == SEGQ_PARAM_FLOAT)
                printf ("%g", v->f);
            else if (v->type == SEGQ_PARAM_BOOL)
                printf ("%s", v->b ? "true" : "false");
            else
                printf ("%s", v->s ? v->s : "");
        }
        printf ("\n");
    }
}

typedef struct {
    segq_model_request_t request;
    char *with;    /* --with's value */
    char *preview; /* --preview's folder */
    bool unshare;
} models_args_t;

/* Options into args; the words that are not options stay in argv from
   optind on. CLI_OK, CLI_OPT_HELP (help shown) or CLI_USAGE (said). */
static int
s_options (cli_globals_t *g, int argc, char **argv, models_args_t *args)
{
    static const struct option options [] = {
        CLI_COMMON_OPTIONS,
        { "user", required_argument, NULL, OPT_USER },
        { "tag", required_argument, NULL, OPT_TAG },
        { "with", required_argument, NULL, OPT_WITH },
        { "lab", no_argument, NULL, OPT_LAB },
        { "unshare", no_argument, NULL, OPT_UNSHARE },
        { "preview", required_argument, NULL, OPT_PREVIEW },
        { 0 },
    };
    int opt;
    while ((opt = cli_next_option (g, "models", argc, argv, "h", options, s_help)) >= 0) {
        if (opt == OPT_USER)
            args->request.owner = optarg;
        else if (opt == OPT_TAG)
            args->request.tag = optarg;
        else if (opt == OPT_WITH)
            args->with = optarg;
        else if (opt == OPT_LAB)
            args->request.lab = true;
        else if (opt == OPT_UNSHARE)
            args->unshare = true;
        else if (opt == OPT_PREVIEW)
            args->preview = optarg;
    }
    /* after --help, nothing more: not the list as well */
    return opt == CLI_OPT_END ? CLI_OK : opt == CLI_OPT_HELP ? CLI_OPT_HELP : CLI_USAGE;
}

/* The request's op and words from the command line; CLI_OK or CLI_USAGE. */
static int
s_parse (cli_globals_t *g, int argc, char **argv, models_args_t *args, char ***words, int *n_words)
{
    const subcommand_t *sub = NULL;
    int first = optind;
    for (size_t i = 0; first < argc && i < sizeof s_subcommands / sizeof s_subcommands [0]; i++)
        if (strcmp (argv [first], s_subcommands [i].word) == 0)
            sub = &s_subcommands [i];
    *words = argv + first + (sub ? 2 : 0);
    *n_words = argc - first - (sub ? 2 : 0);
    if (!sub) {
        args->request.op = SEGQ_MODEL_LIST;
        return first == argc
                   ? CLI_OK
                   : cli_usage_error (g, "models", "unknown subcommand '%s'", argv [first]);
    }
    args->request.op = sub->op == SEGQ_MODEL_SHARE && args->unshare ? SEGQ_MODEL_UNSHARE : sub->op;
    if (argc - first < 2)
        return cli_usage_error (g, "models", "%s: which model? (segq models %s MODEL)", sub->word,
                                sub->word);
    args->request.model = argv [first + 1];
    bool shares = sub->op == SEGQ_MODEL_SHARE || sub->op == SEGQ_MODEL_UNSHARE;
    if (shares && !args->with == !args->request.lab)
        return cli_usage_error (g, "models", "%s: give --with USER[,USER...] or --lab", sub->word);
    if (!shares && (args->with || args->request.lab || args->unshare))
        return cli_usage_error (g, "models", "--with, --lab and --unshare go with share");
    if (args->preview && sub->op != SEGQ_MODEL_SHOW)
        return cli_usage_error (g, "models", "--preview goes with show");
    if ((sub->args >= 0 && *n_words != sub->args) || (sub->args < 0 && *n_words < 1))
        return cli_usage_error (g, "models", "%s: expected %s after the model", sub->word,
                                sub->args == 0   ? "nothing"
                                : sub->args == 1 ? "one word"
                                                 : "one or more");
    /* said here, not as the message the broker could not take */
    for (int i = 0; i < *n_words; i++)
        if (strlen ((*words) [i]) > SEGQ_MAX_STRING)
            return cli_usage_error (g, "models", "%s: '%.24s...' is %zu bytes: at most %d",
                                    sub->word, (*words) [i], strlen ((*words) [i]),
                                    SEGQ_MAX_STRING);
    return CLI_OK;
}

/* The output named `name` of job, or NULL. */
static const segq_artifact_t *
s_output (const segq_job_info_t *job, const char *name)
{
    for (size_t i = 0; i < job->n_outputs; i++)
        if (strcmp (job->outputs [i].name, name) == 0)
            return &job->outputs [i];
    return NULL;
}

/* A few pairs of the model's newest generation into dir (`show --preview`);
   a file with other content in the way stops it (nothing overwritten). */
static int
s_preview (cli_globals_t *g, segq_client_t *client, const segq_model_info_t *m, const char *dir)
{
    if (!m->samples)
        return cli_error (g, "models", CLI_FAILED,
                          "%s has no generation you may read yet: generate from it first "
                          "(segq submit generate --model %s --count %d)",
                          m->name, m->id, PREVIEW_PAIRS);
    segq_job_info_t job;
    if (segq_client_job (client, m->samples, false, &job) < 0)
        return cli_error (g, "models", CLI_FAILED, "%s", segq_client_error (client));
    int rc = CLI_OK, pairs = 0;
    for (size_t i = 0; i < job.n_outputs && pairs < PREVIEW_PAIRS && rc == CLI_OK; i++) {
        const char *name = job.outputs [i].name;
        if (strncmp (name, "images/", 7) != 0 || !segq_name_valid (name))
            continue;
        char mask_name [SEGQ_MAX_NAME + 8], path [4096], mask_path [4096];
        snprintf (mask_name, sizeof mask_name, "masks/%s", name + 7);
        const segq_artifact_t *mask = s_output (&job, mask_name);
        if (!mask)
            continue; /* an image without its mask is no pair */
        rc = cli_fetch_output (g, "models", client, m->samples, &job.outputs [i], dir, path,
                               sizeof path);
        if (rc == CLI_OK)
            rc = cli_fetch_output (g, "models", client, m->samples, mask, dir, mask_path,
                                   sizeof mask_path);
        if (rc == CLI_OK && !g->json)
            printf ("  preview     %s  %s\n", path, mask_path);
        pairs++;
    }
    segq_job_info_clear (&job);
    return rc;
}

/* Sends the request once per word (tags), or once; prints the outcome. */
static int
s_run (cli_globals_t *g, segq_client_t *client, models_args_t *args, char **words, int n_words)
{
    char **users = NULL;
    size_t n_users = 0;
    int rc = args->with ? cli_split_names (g, "models", "--with", &args->with, 1, &users, &n_users)
                        : CLI_OK;
    if (rc != CLI_OK)
        return rc;
    if (n_users > 256) {
        cli_ids_free (users, n_users);
        return cli_usage_error (g, "models", "--with: at most 256 users at once");
    }
    args->request.users = (const char *const *) users;
    args->request.n_users = n_users;
    segq_model_info_t *models = NULL;
    size_t n = 0;
    rc = CLI_OK;
    for (int i = 0; i < (n_words ? n_words : 1) && rc == CLI_OK; i++) {
        segq_models_free (&models, n);
        args->request.value = n_words ? words [i] : NULL;
        if (segq_client_model (client, &args->request, &models, &n) < 0)
            rc = cli_error (g, "models", CLI_FAILED, "%s", segq_client_error (client));
    }
    bool list = args->request.op == SEGQ_MODEL_LIST;
    bool detail = args->request.op == SEGQ_MODEL_SHOW;
    if (rc == CLI_OK && g->json) {
        json_t *out = list ? json_array () : NULL;
        for (size_t i = 0; i < n; i++)
            if (list)
                json_array_append_new (out, segq_model_info_json (&models [i], detail));
            else
                out = segq_model_info_json (&models [i], detail);
        rc = cli_print_json (out);
    } else if (rc == CLI_OK && list)
        s_print_table (models, n, segq_client_user (client));
    else if (rc == CLI_OK && n && (detail || args->request.op != SEGQ_MODEL_RM))
        s_print_detail (&models [0], segq_client_user (client));
    else if (rc == CLI_OK && n)
        printf ("removed %s (%s) from the catalogue; its training job %s stays until purged\n",
                models [0].id, models [0].name, models [0].job);
    if (rc == CLI_OK && n && args->preview)
        rc = s_preview (g, client, &models [0], args->preview);
    segq_models_free (&models, n);
    cli_ids_free (users, n_users);
    return rc;
}

int
cli_models (cli_globals_t *g, int argc, char **argv)
{
    models_args_t args = { 0 };
    int rc = s_options (g, argc, argv, &args);
    char **words;
    int n_words;
    if (rc == CLI_OK)
        rc = s_parse (g, argc, argv, &args, &words, &n_words);
    if (rc != CLI_OK)
        return rc == CLI_OPT_HELP ? CLI_OK : rc;
    segq_client_t *client;
    rc = cli_connect (g, &client);
    if (rc != CLI_OK)
        return rc;
    rc = s_run (g, client, &args, words, n_words);
    segq_client_destroy (&client);
    return rc;
}
