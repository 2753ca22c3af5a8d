/*  segq-worker: the worker daemon's command line. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "segq_memory.h"
#include "segq_worker.h"

static void
s_help (FILE *out)
{
    fprintf (
        out,
        "usage: segq-worker [OPTION...]\n"
        "Runs the jobs a segqd broker assigns to this machine, each in a child process.\n"
        "\n"
        "  --broker URL        broker endpoint, tcp://HOST:PORT or ipc://PATH (default\n"
        "                      $SEGQ_BROKER or tcp://127.0.0.1:5555)\n"
        "  --node NAME         unique name of this worker (default: host name)\n"
        "  --gpus LIST         declared GPUs, \"INDEX:NAME:MEM,...\" (MEM like 24G); \"\" for "
        "none;\n"
        "                      default: the CUDA devices `segq-run devices` reports. INDEX is\n"
        "                      the CUDA device number: under CUDA_VISIBLE_DEVICES=2,3 (Slurm's)\n"
        "                      0 and 1, whose jobs get CUDA_VISIBLE_DEVICES=2 and 3. It does not\n"
        "                      start with GPUs for ML kinds if segq-run has no CUDA\n"
        "  --cpu-slots N       CPU jobs run at once (default: the cores segq-run reports,\n"
        "                      else the number of CPUs)\n"
        "  --work-dir DIR      job scratch directories (default ~/.cache/segq/worker-NODE)\n"
        "  --cache-dir DIR     input artifact cache (default WORK-DIR/cache)\n"
        "  --cache-max SIZE    keep the cache under SIZE (like 20G), dropping the least\n"
        "                      recently used inputs (default: no limit)\n"
        "  --kinds K,K,...     job kinds to take (default: every kind it can run)\n"
        "  --kill-grace-ms N   after TERM, KILL a job's processes this much later (default 10000)\n"
        "  --model-cache SIZE  generate jobs run on a long-lived `segq-run serve` per device\n"
        "                      that keeps the models it loaded last, up to SIZE of checkpoints\n"
        "                      (default 1G; 0: each job is a segq-run of its own)\n"
        "  --model-idle-s N    such a server exits after N idle seconds (default 600)\n"
        "  --testkind PATH     segq-testkind program (default: next to segq-worker)\n"
        "  --segq-run PATH     segq-run program for the ML kinds (default: next to segq-worker)\n"
        "  --ready-file PATH   write the node name there once registered\n"
        "  --broker-key FILE   the broker's public certificate: CurveZMQ (default "
        "$SEGQ_BROKER_KEY)\n"
        "  --cert FILE         this node's certificate from `segqd keygen --worker NODE`\n"
        "                      (default $SEGQ_CERT)\n"
        "  -v, --verbose       more log lines (twice: even more)\n"
        "  -h, --help          this help\n"
        "\n"
        "SIGTERM or SIGHUP (or `segq workers --drain NODE`) drains: no new jobs, running ones\n"
        "finish, then it exits 0. SIGINT drains too; a second SIGINT kills the jobs and exits\n"
        "at once (130). A job whose child that stop signal reached too (Slurm's scancel signals\n"
        "every process of the job) did not fail: it is given back, to run again elsewhere.\n"
        "A protocol version the broker does not speak: exit 2.\n"
        "Children get SEGQ_JOB_ID, SEGQ_JOB_ATTEMPT, SEGQ_OUTPUT_DIR, SEGQ_PROGRESS_FD,\n"
        "SEGQ_CPU_SLOTS, SEGQ_RESULT_MAX_BYTES (the most its RESULT message may take), and for\n"
        "a GPU job CUDA_VISIBLE_DEVICES, CUDA_DEVICE_ORDER=PCI_BUS_ID and SEGQ_GPU_MEM.\n"
        "segq-run (train, generate) gets each input as --NAME=PATH, --out, --device (cuda:0\n"
        "or cpu) and --threads (the job's CPU slots).\n");
}

/* "0:A100:80G,1:A100:80G" */
static int
s_parse_gpus (const char *text, segq_gpu_t **out, size_t *n_out)
{
    char *copy = strdup (text);
    size_t cap = 1;
    for (const char *p = text; *p; p++)
        cap += *p == ',';
    segq_gpu_t *gpus = calloc (cap, sizeof *gpus);
    size_t n = 0;
    int rc = copy && gpus ? 0 : -1;
    size_t len = strlen (text);
    if (!rc && len && (text [0] == ',' || text [len - 1] == ',' || strstr (text, ",,"))) {
        fprintf (stderr, "segq-worker: --gpus: '%s' has an empty entry\n", text);
        rc = -1;
    }
    char *save = NULL;
    for (char *item = copy ? strtok_r (copy, ",", &save) : NULL; item && !rc;
         item = strtok_r (NULL, ",", &save)) {
        char *c1 = strchr (item, ':');
        char *c2 = c1 ? strchr (c1 + 1, ':') : NULL;
        char *end = NULL;
        long index = c1 ? strtol (item, &end, 10) : -1;
        uint64_t mem = 0;
        if (!c2 || end != c1 || index < 0 || index > 1023 || c2 == c1 + 1
            || segq_parse_size (c2 + 1, &mem) != 0 || mem == 0) {
            fprintf (stderr, "segq-worker: --gpus: '%s' is not INDEX:NAME:MEM (e.g. 0:A100:80G)\n",
                     item);
            rc = -1;
            break;
        }
        for (size_t i = 0; i < n && !rc; i++)
            if (gpus [i].index == (uint32_t) index) {
                /* two entries would place two jobs' memory on one device */
                fprintf (stderr, "segq-worker: --gpus: GPU %ld is given twice: one entry each\n",
                         index);
                rc = -1;
            }
        if (rc)
            break;
        *c2 = 0;
        gpus [n].index = (uint32_t) index;
        gpus [n].mem_total = mem;
        if (!(gpus [n].name = strdup (c1 + 1)))
            rc = -1;
        else
            n++;
    }
    free (copy);
    if (rc) {
        for (size_t i = 0; i < n; i++)
            segq_gpu_clear (&gpus [i]);
        free (gpus);
        return rc;
    }
    *out = gpus;
    *n_out = n;
    return 0;
}

static int
s_parse_u32 (const char *flag, const char *text, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul (text, &end, 10);
    if (errno || end == text || *end || v > max || text [0] == '-') {
        fprintf (stderr, "segq-worker: %s: '%s' is not a number from 0 to %u\n", flag, text, max);
        return -1;
    }
    *out = (uint32_t) v;
    return 0;
}

/* Whether the kinds asked for (none: all) include one segq-run runs. */
static bool
s_wants_ml (const char *const *kinds, size_t n_kinds)
{
    for (size_t i = 0; i < n_kinds; i++) {
        const segq_kind_spec_t *kind = segq_kind_find (kinds [i]);
        if (kind && !kind->test_kind)
            return true;
    }
    return n_kinds == 0;
}

/* PATH next to this executable, if it exists. */
static char *
s_beside_me (const char *leaf)
{
    char self [PATH_MAX];
    ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return NULL;
    self [n] = 0;
    char *path = NULL;
    if (asprintf (&path, "%s/%s", dirname (self), leaf) < 0)
        return NULL;
    if (access (path, X_OK) != 0) {
        free (path);
        return NULL;
    }
    return path;
}

/* The command line's values, then what main works out from them. */
typedef struct {
    const char *broker, *broker_key, *cert;
    bool broker_given; /* --broker, not $SEGQ_BROKER */
    const char *node, *work_dir, *cache_dir, *ready_file;
    bool work_dir_default; /* work_dir follows node */
    const char *gpus_text, *kinds_text;
    char *testkind, *segq_run; /* owned */
    uint32_t cpu_slots, kill_grace_ms, model_idle_s;
    bool cpu_given;
    uint64_t cache_max, model_cache;
    int verbose;
    char host [256];    /* the default node name */
    char *default_work; /* owned */
    char *kinds_copy;   /* owned; kinds point into it */
    const char *kinds [64];
    size_t n_kinds;
    segq_gpu_t *gpus; /* owned */
    size_t n_gpus;
} worker_args_t;

/* The long options without a short one. */
enum {
    O_BROKER = 256,
    O_NODE,
    O_GPUS,
    O_CPU,
    O_WORK,
    O_CACHE,
    O_KINDS,
    O_GRACE,
    O_TESTKIND,
    O_RUN,
    O_READY,
    O_CACHE_MAX,
    O_BROKER_KEY,
    O_CERT,
    O_MODEL_CACHE,
    O_MODEL_IDLE
};

/* An option whose value is kept as it is: whether OPT is one. */
static bool
s_take_text_option (worker_args_t *args, int opt, const char *value)
{
    switch (opt) {
    case O_BROKER:
        args->broker = value;
        args->broker_given = true;
        break;
    case O_NODE:
        args->node = value;
        break;
    case O_GPUS:
        args->gpus_text = value;
        break;
    case O_WORK:
        args->work_dir = value;
        break;
    case O_CACHE:
        args->cache_dir = value;
        break;
    case O_KINDS:
        args->kinds_text = value;
        break;
    case O_TESTKIND:
        free (args->testkind);
        args->testkind = strdup (value);
        break;
    case O_RUN:
        free (args->segq_run);
        args->segq_run = strdup (value);
        break;
    case O_READY:
        args->ready_file = value;
        break;
    case O_BROKER_KEY:
        args->broker_key = value;
        break;
    case O_CERT:
        args->cert = value;
        break;
    default:
        return false;
    }
    return true;
}

/* Takes one option: the exit code if it ends the program, else -1. */
static int
s_take_option (worker_args_t *args, int opt, const char *value)
{
    if (s_take_text_option (args, opt, value))
        return -1;
    switch (opt) {
    case O_CPU:
        if (s_parse_u32 ("--cpu-slots", value, 65535, &args->cpu_slots))
            return 2;
        args->cpu_given = true;
        return -1;
    case O_CACHE_MAX:
        if (segq_parse_size (value, &args->cache_max) != 0) {
            fprintf (stderr, "segq-worker: --cache-max: '%s' is not a size (like 20G)\n", value);
            return 2;
        }
        return -1;
    case O_MODEL_CACHE:
        if (segq_parse_size (value, &args->model_cache) != 0) {
            fprintf (stderr, "segq-worker: --model-cache: '%s' is not a size (like 1G, or 0)\n",
                     value);
            return 2;
        }
        return -1;
    case O_MODEL_IDLE:
        return s_parse_u32 ("--model-idle-s", value, 86400 * 7, &args->model_idle_s) ? 2 : -1;
    case O_GRACE:
        return s_parse_u32 ("--kill-grace-ms", value, 3600000, &args->kill_grace_ms) ? 2 : -1;
    case 'v':
        args->verbose++;
        return -1;
    case 'h':
        s_help (stdout);
        return 0;
    default:
        fprintf (stderr, "segq-worker: try --help\n");
        return 2;
    }
}

/* Fills ARGS with the defaults, then the options: the exit code if they
   end the program (help, a bad option), else -1. */
static int
s_parse_args (int argc, char **argv, worker_args_t *args)
{
    *args = (worker_args_t){ .broker = getenv ("SEGQ_BROKER"),
                             .broker_key = getenv ("SEGQ_BROKER_KEY"),
                             .cert = getenv ("SEGQ_CERT"),
                             .kill_grace_ms = 10000,
                             .model_cache = 1ULL << 30,
                             .model_idle_s = 600 };
    static const struct option options [] = {
        { "broker", required_argument, 0, O_BROKER },
        { "node", required_argument, 0, O_NODE },
        { "gpus", required_argument, 0, O_GPUS },
        { "cpu-slots", required_argument, 0, O_CPU },
        { "work-dir", required_argument, 0, O_WORK },
        { "cache-dir", required_argument, 0, O_CACHE },
        { "cache-max", required_argument, 0, O_CACHE_MAX },
        { "kinds", required_argument, 0, O_KINDS },
        { "kill-grace-ms", required_argument, 0, O_GRACE },
        { "testkind", required_argument, 0, O_TESTKIND },
        { "segq-run", required_argument, 0, O_RUN },
        { "ready-file", required_argument, 0, O_READY },
        { "broker-key", required_argument, 0, O_BROKER_KEY },
        { "cert", required_argument, 0, O_CERT },
        { "model-cache", required_argument, 0, O_MODEL_CACHE },
        { "model-idle-s", required_argument, 0, O_MODEL_IDLE },
        { "verbose", no_argument, 0, 'v' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 }
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "vh", options, NULL)) != -1) {
        int rc = s_take_option (args, opt, optarg);
        if (rc >= 0)
            return rc;
    }
    if (optind < argc) {
        fprintf (stderr, "segq-worker: unexpected argument '%s' (try --help)\n", argv [optind]);
        return 2;
    }
    return -1;
}

/* The defaults that options left open, but the capacity: -1 if out of
   memory, else 0. */
static int
s_default_args (worker_args_t *args)
{
    if (!args->broker || !*args->broker)
        args->broker = "tcp://127.0.0.1:5555";
    if (!args->node) {
        if (gethostname (args->host, sizeof args->host - 1) != 0 || !*args->host)
            snprintf (args->host, sizeof args->host, "worker");
        args->node = args->host;
    }
    if (!args->work_dir) {
        const char *home = getenv ("HOME");
        if (asprintf (&args->default_work, "%s/.cache/segq/worker-%s",
                      home && *home ? home : "/tmp", args->node)
            < 0)
            return -1;
        args->work_dir = args->default_work;
        args->work_dir_default = true;
    }
    if (!args->testkind)
        args->testkind = s_beside_me ("segq-testkind");
    if (!args->segq_run)
        args->segq_run = s_beside_me ("segq-run");
    return 0;
}

/* --kinds K,K,... into kinds, at most 64 of them. */
static void
s_split_kinds (worker_args_t *args)
{
    args->kinds_copy = args->kinds_text ? strdup (args->kinds_text) : NULL;
    char *save = NULL;
    for (char *k = args->kinds_copy ? strtok_r (args->kinds_copy, ",", &save) : NULL;
         k && args->n_kinds < 64; k = strtok_r (NULL, ",", &save))
        args->kinds [args->n_kinds++] = k;
}

/* Capacity: what the flags declare, the rest from `segq-run devices`
   (without segq-run: no GPUs, and a slot per CPU). GPUs declared for
   ML jobs are checked against what segq-run can use. Whether the worker
   may start with it. */
static bool
s_find_capacity (worker_args_t *args)
{
    segq_worker_devices_t found = { .cuda_build = -1 };
    bool capacity_ok = true, discover = !args->gpus_text || !args->cpu_given;
    bool check_cuda =
        args->gpus_text && *args->gpus_text && s_wants_ml (args->kinds, args->n_kinds);
    if ((discover || check_cuda) && args->segq_run) {
        char err [1024];
        int found_rc = segq_worker_devices_discover (args->segq_run, &found, err, sizeof err);
        if (found_rc && discover) {
            fprintf (stderr,
                     "segq-worker: %s (declare the capacity with --gpus and "
                     "--cpu-slots instead)\n",
                     err);
            capacity_ok = false;
        } else if (found_rc)
            fprintf (stderr,
                     "segq-worker: warning: %s: cannot tell whether it can use the "
                     "GPUs of --gpus\n",
                     err);
    }
    /* Every GPU job it took would fail, after its user waited for a GPU.
       Refusing to start puts the reason where the sysadmin looks (a failed
       service); announcing no GPUs instead would leave GPU jobs queued
       with no word why, and the GPUs idle. */
    if (capacity_ok && check_cuda && found.cuda_build == 0) {
        fprintf (stderr,
                 "segq-worker: %s is a CPU-only build (its libtorch has no CUDA): the "
                 "ML jobs it runs cannot use the GPUs of --gpus %s. Point --segq-run at a CUDA "
                 "build, or take CPU jobs only (--gpus \"\")\n",
                 args->segq_run, args->gpus_text);
        capacity_ok = false;
    }
    if (!args->cpu_given)
        args->cpu_slots =
            found.cpu_cores ? found.cpu_cores : (uint32_t) sysconf (_SC_NPROCESSORS_ONLN);
    if (!args->gpus_text) {
        args->gpus = found.gpus;
        args->n_gpus = found.n_gpus;
        found.gpus = NULL;
        found.n_gpus = 0;
    }
    segq_worker_devices_clear (&found);
    return capacity_ok;
}

/* Whether the broker's URL is one the worker can ever reach: libzmq
   takes it (a probe socket connects; nothing is sent), and a tcp one ends
   in a port from 1 to 65535 (libzmq would retry any number for ever). Its
   host is not looked up: a node that boots before its DNS is up must keep
   trying. The exit code if it is not, else -1. */
static int
s_check_broker (const worker_args_t *args)
{
    const char *url = args->broker;
    bool usable = true;
    if (strncmp (url, "tcp://", 6) == 0) {
        const char *colon = strrchr (url + 6, ':');
        char *end = NULL;
        long port = colon && isdigit ((unsigned char) colon [1]) ? strtol (colon + 1, &end, 10) : 0;
        usable = colon > url + 6 && end && !*end && port >= 1 && port <= 65535;
    } else if (strncmp (url, "inproc://", 9) == 0)
        usable = false; /* within one process: never a broker */
    zsock_t *probe = usable ? zsock_new (ZMQ_DEALER) : NULL;
    if (probe) {
        zsock_set_linger (probe, 0);
        usable = zsock_connect (probe, "%s", url) == 0;
    }
    zsock_destroy (&probe);
    if (usable)
        return -1;
    fprintf (stderr,
             "segq-worker: %s '%s'%s is no broker endpoint it can connect to: expected "
             "tcp://HOST:PORT (PORT 1 to 65535, e.g. tcp://127.0.0.1:5555) or ipc://PATH\n",
             args->broker_given ? "--broker" : "SEGQ_BROKER", url,
             args->broker_given
                 ? ""
                 : " (from the environment; under systemd, /etc/segq/worker-NODE.env)");
    return 2;
}

/* Works out what the options left to find: the exit code if the worker
   cannot start, else -1. The flags' syntax is checked before what the
   machine can do, so that a typo is said first. */
static int
s_complete_args (worker_args_t *args)
{
    if (s_default_args (args))
        return 1;
    s_split_kinds (args);
    int rc = s_check_broker (args);
    if (rc >= 0)
        return rc;
    if (args->gpus_text && s_parse_gpus (args->gpus_text, &args->gpus, &args->n_gpus) != 0)
        return 2;
    if (!s_find_capacity (args))
        return 2;
    return -1;
}

/* Builds the worker and runs it until it stops: its exit code. */
static int
s_run_worker (const worker_args_t *args)
{
    segq_worker_options_t o = { .broker = args->broker,
                                .node = args->node,
                                .gpus = args->gpus,
                                .n_gpus = args->n_gpus,
                                .cpu_slots = args->cpu_slots,
                                .work_dir = args->work_dir,
                                .work_dir_default = args->work_dir_default,
                                .cache_dir = args->cache_dir,
                                .kinds = args->kinds,
                                .n_kinds = args->n_kinds,
                                .kill_grace_ms = args->kill_grace_ms,
                                .testkind = args->testkind,
                                .segq_run = args->segq_run,
                                .ready_file = args->ready_file,
                                .verbose = args->verbose,
                                .cache_max = args->cache_max,
                                .model_cache = args->model_cache,
                                .model_idle_s = args->model_idle_s,
                                .broker_key =
                                    args->broker_key && *args->broker_key ? args->broker_key : NULL,
                                .cert = args->cert };
    char err [1024];
    segq_worker_t *worker = segq_worker_new (&o, err, sizeof err);
    if (!worker) {
        fprintf (stderr, "segq-worker: %s\n", err);
        return 1;
    }
    int rc = segq_worker_run (worker);
    segq_worker_destroy (&worker);
    return rc;
}

static void
s_args_clear (worker_args_t *args)
{
    for (size_t i = 0; i < args->n_gpus; i++)
        segq_gpu_clear (&args->gpus [i]);
    free (args->gpus);
    free (args->kinds_copy);
    free (args->default_work);
    free (args->testkind);
    free (args->segq_run);
}

int
main (int argc, char **argv)
{
    signal (SIGPIPE, SIG_IGN);
    segq_malloc_for_chunks ();
    /* job inputs and outputs are patient data: every file and folder the
       worker and its jobs make is private to its user (jobs inherit it) */
    umask (077);
    worker_args_t args;
    int rc = s_parse_args (argc, argv, &args);
    if (rc < 0)
        rc = s_complete_args (&args);
    if (rc < 0)
        rc = s_run_worker (&args);
    s_args_clear (&args);
    return rc;
}
