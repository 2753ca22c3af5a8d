/*  test_slurm_plan.c: `segq slurm-scale` without a cluster: its
    configuration file, the batch script it submits (run by sh with a
    stand-in worker) and its decisions, round after round, on views made
    up here. The real thing against Slurm: tests/slurm. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_slurm.h"

#define GIB (1ull << 30)

static cli_slurm_conf_t
s_conf (const char *text)
{
    cli_slurm_conf_t c;
    char err [4096];
    int rc = cli_slurm_conf_parse ("t.conf", text, strlen (text), &c, err, sizeof err);
    cr_assert_eq (rc, 0, "refused: %s", err);
    return c;
}

/* The errors a file gets, one per line. */
static void
s_refused (const char *text, char *err, size_t len)
{
    cli_slurm_conf_t c;
    int rc = cli_slurm_conf_parse ("t.conf", text, strlen (text), &c, err, len);
    cr_assert_eq (rc, SEGQ_EINVAL, "accepted: %s", text);
}

/* ---- configuration ---- */

Test (slurm_conf, defaults)
{
    cli_slurm_conf_t c = s_conf ("# nothing but a comment\n\n");
    cr_assert_eq (c.max_workers, 4);
    cr_assert_eq (c.poll_ms, 10000);
    cr_assert_eq (c.idle_grace_ms, 300000);
    cr_assert_eq (c.pending_grace_ms, 120000);
    cr_assert_str_eq (c.job_name, "segq-worker");
    cr_assert_eq (c.gpus, 0);
    cr_assert_eq (c.cpu_slots, 1);
    cr_assert (strstr (c.worker, "--node @NODE@"));
    cli_slurm_conf_clear (&c);
}

Test (slurm_conf, values)
{
    cli_slurm_conf_t c = s_conf ("max-workers = 8\npoll = 500ms\nidle_grace = 5m\n"
                                 "pending_grace = 1.5s\nstart_timeout = 2h\ngres = gpu:a100:2\n"
                                 "gpu_mem = 80G\ncpus_per_task = 4\nkinds = train, generate\n"
                                 "sbatch_option = --qos=long\nsbatch_option = --exclusive\n"
                                 "setup = module load cuda\n");
    cr_assert_eq (c.max_workers, 8);
    cr_assert_eq (c.poll_ms, 500);
    cr_assert_eq (c.idle_grace_ms, 300000);
    cr_assert_eq (c.pending_grace_ms, 1500);
    cr_assert_eq (c.start_timeout_ms, 7200000);
    cr_assert_eq (c.gpus, 2);
    cr_assert_eq (c.gpu_mem, 80 * GIB);
    cr_assert_eq (c.cpu_slots, 4, "cpu_slots defaults to cpus_per_task");
    cr_assert_eq (c.kinds.n, 2);
    cr_assert_str_eq (c.kinds.items [1], "generate");
    cr_assert_eq (c.sbatch_options.n, 2);
    cr_assert_eq (c.setup.n, 1);
    cli_slurm_conf_clear (&c);
}

Test (slurm_conf, every_problem_named_by_line)
{
    char err [4096];
    s_refused ("max_workers = 0\npol = 5s\nidle_grace = 5 minutes\ngres = gpu:2\n"
               "kinds = sleep, trian\njob_name = a b\nworker = segq-worker --node @NOD@\n"
               "max_workers = 3\nsbatch_option = qos=long\nnonsense\n",
               err, sizeof err);
    static const char *const expected [] = {
        "t.conf:1: max_workers = '0': expected a whole number from 1",
        "t.conf:2: unknown key 'pol' (did you mean poll?)",
        "t.conf:3: idle_grace = '5 minutes': expected a duration",
        "t.conf:5: kinds: unknown job kind 'trian' (did you mean train?)",
        "t.conf:6: job_name = 'a b'",
        "t.conf:7: worker: @NOD@ is not a placeholder",
        "t.conf:7: worker: name the node with --node @NODE@",
        "t.conf:8: max_workers is set twice (first on line 1)",
        "t.conf:9: sbatch_option = 'qos=long': an option of sbatch",
        "t.conf:10: expected 'key = value'",
        "t.conf:4: gres = gpu:2 asks for GPUs: say how much memory each has with gpu_mem",
    };
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++)
        cr_expect (strstr (err, expected [i]), "missing \"%s\" in:\n%s", expected [i], err);
}

/* Its lines are segqd.conf's (one reader, segq_conf_lines.h): a
   byte-order mark is skipped, quotes and comments after a value are
   refused, not taken into it. */
Test (slurm_conf, lines_read_as_segqd_conf_reads_them)
{
    cli_slurm_conf_t c = s_conf ("\xef\xbb\xbfmax_workers = 8\r\npartition = gpu\r\n");
    cr_assert_eq (c.max_workers, 8);
    cr_assert_str_eq (c.partition, "gpu");
    cli_slurm_conf_clear (&c);
    char err [4096];
    s_refused ("partition = \"gpu\"\nidle_grace = 5m # five minutes\nmax_workers = '3'\n"
               "Poll = 5s\n",
               err, sizeof err);
    static const char *const expected [] = {
        "t.conf:1: partition = \"gpu\": values are not quoted (write partition = gpu)",
        "t.conf:2: a comment after the value of 'idle_grace': put '#' comments on a line of "
        "their own",
        "t.conf:3: max_workers = '3': values are not quoted (write max_workers = 3)",
        "t.conf:4: 'Poll' is not a key: keys are lowercase letters",
    };
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++)
        cr_expect (strstr (err, expected [i]), "missing \"%s\" in:\n%s", expected [i], err);
}

/* Durations as docs/slurm.md has them (a bare number is seconds), and
   yes or no as job parameters write them. */
Test (slurm_conf, durations_and_yes_or_no)
{
    cli_slurm_conf_t c = s_conf ("idle_grace = 30\npoll = 250ms\npending_grace = 1w\n"
                                 "start_timeout = 1.5h\n");
    cr_assert_eq (c.idle_grace_ms, 30000, "a bare number is seconds");
    cr_assert_eq (c.poll_ms, 250);
    cr_assert_eq (c.pending_grace_ms, 7 * 86400000ull);
    cr_assert_eq (c.start_timeout_ms, 5400000);
    cli_slurm_conf_clear (&c);
    char err [4096];
    s_refused ("poll = 5mms\nidle_grace = -1s\ngres = gpu:1\ngpu_mem = 8G\ndeclare_gpus = Yes\n",
               err, sizeof err);
    cr_expect (strstr (err, "t.conf:1: poll = '5mms': expected a duration"), "%s", err);
    cr_expect (strstr (err, "t.conf:2: idle_grace = '-1s': expected a duration"), "%s", err);
    cr_expect (strstr (err, "t.conf:5: declare_gpus = 'Yes': expected yes or no"), "%s", err);
}

Test (slurm_conf, keys_that_need_each_other)
{
    char err [4096];
    s_refused ("gpu_mem = 16G\n", err, sizeof err);
    cr_expect (strstr (err, "t.conf:1: gpu_mem without GPUs"), "%s", err);
    s_refused ("declare_gpus = yes\n", err, sizeof err);
    cr_expect (strstr (err, "t.conf:1: declare_gpus without GPUs"), "%s", err);
    s_refused ("work_dir = /tmp/@BROKER@\n", err, sizeof err);
    cr_expect (strstr (err, "t.conf:1: work_dir: @BROKER@ is not a placeholder it takes (only "
                            "@NODE@)"),
               "%s", err);
    s_refused ("partition = a b\n", err, sizeof err);
    cr_expect (strstr (err, "t.conf:1: partition = 'a b': one word"), "%s", err);
}

Test (slurm_conf, missing_file_says_what_to_do)
{
    cli_slurm_conf_t c;
    char err [1024];
    cr_assert_eq (cli_slurm_conf_load ("/nonexistent/slurm-scale.conf", &c, err, sizeof err),
                  SEGQ_ENOENT);
    cr_expect (strstr (err, "docs/slurm.md"), "%s", err);
}

/* ---- the batch script, run by sh ---- */

/* Runs the script with a stand-in worker that writes its arguments to
   DIR/args and checks its work directory exists; env: extra "NAME=VALUE"
   for the job; setup: shell commands run in DIR first. Returns sh's exit
   status; args: what it wrote, then the worker's arguments and the work
   folders left (w-*). */
static int
s_run_script_after (const char *setup, const char *conf_text, const char *env, char *args,
                    size_t len)
{
    char dir [] = "/tmp/segq-slurm-script-XXXXXX", path [256], cmd [2048];
    cr_assert_not_null (mkdtemp (dir));
    snprintf (path, sizeof path, "%s/worker", dir);
    FILE *f = fopen (path, "w");
    cr_assert_not_null (f);
    fprintf (f, "#!/bin/sh\n[ -d \"$6\" ] || exit 9\necho \"$@\" > %s/args\n", dir);
    cr_assert_eq (fclose (f), 0);
    cr_assert_eq (chmod (path, 0755), 0);
    char text [2048];
    snprintf (text, sizeof text,
              "%sworker = %s --broker @BROKER@ --node @NODE@ --work-dir "
              "@WORKDIR@ --cpu-slots @CPUS@ @GPUS@ @KINDS@\nwork_dir = %s/w-@NODE@\n",
              conf_text, path, dir);
    cli_slurm_conf_t c = s_conf (text);
    char *script = cli_slurm_script (&c, "tcp://head:5555");
    cli_slurm_conf_clear (&c);
    cr_assert_not_null (script);
    snprintf (path, sizeof path, "%s/job.sh", dir);
    f = fopen (path, "w");
    cr_assert_not_null (f);
    fputs (script, f);
    free (script);
    cr_assert_eq (fclose (f), 0);
    snprintf (cmd, sizeof cmd,
              "cd %s && %s && env SLURM_JOB_ID=42 %s sh job.sh 2>&1; echo \"rc=$?\"; "
              "cat args 2>/dev/null; ls -d w-* 2>/dev/null; rm -rf %s",
              dir, setup, env, dir);
    FILE *p = popen (cmd, "r");
    size_t n = fread (args, 1, len - 1, p);
    args [n] = 0;
    pclose (p);
    return atoi (strstr (args, "rc=") ? strstr (args, "rc=") + 3 : "-1");
}

static int
s_run_script (const char *conf_text, const char *env, char *args, size_t len)
{
    return s_run_script_after ("true", conf_text, env, args, len);
}

/* A worker's folder left by a job Slurm killed (its cache: patient data)
   is removed by a later worker's job, once squeue no longer lists that
   job; one whose job still runs is left. */
Test (slurm_script, folders_of_ended_workers_are_removed)
{
    char out [4096];
    const char *setup =
        "mkdir w-segq-worker-7 w-segq-worker-9 && "
        "printf '#!/bin/sh\\nfor a; do [ \"$prev\" = -j ] && id=$a; prev=$a; done\\n"
        "case $id in 42|9) echo $id ;; *) echo Invalid job id >&2; exit 1 ;; esac\\n' > squeue && "
        "chmod +x squeue";
    int rc = s_run_script_after (setup, "", "PATH=.:/usr/bin:/bin", out, sizeof out);
    cr_assert_eq (rc, 0, "%s", out);
    cr_expect (!strstr (out, "w-segq-worker-7"), "an ended job's folder was left: %s", out);
    cr_expect (strstr (out, "w-segq-worker-9"), "a running job's folder was removed: %s", out);
}

Test (slurm_script, worker_takes_the_gpus_slurm_gave)
{
    char out [4096];
    int rc = s_run_script ("gres = gpu:2\ngpu_mem = 16G\ndeclare_gpus = yes\ngpu_name = fake\n"
                           "cpus_per_task = 3\nkinds = sleep,echo\n",
                           "CUDA_VISIBLE_DEVICES=2,3", out, sizeof out);
    cr_assert_eq (rc, 0, "%s", out);
    cr_expect (strstr (out, "--broker tcp://head:5555 --node segq-worker-42 --work-dir "), "%s",
               out);
    cr_expect (strstr (out, "--cpu-slots 3 --gpus 0:fake:16G,1:fake:16G --kinds sleep,echo"),
               "the worker's GPUs are positions in Slurm's list: %s", out);
    cr_expect (!strstr (out, "\nw-segq-worker-42"), "its work directory was left behind: %s", out);
}

Test (slurm_script, refuses_a_gpu_list_that_is_not_what_gres_asked)
{
    char out [4096];
    int rc = s_run_script ("gres = gpu:2\ngpu_mem = 16G\ndeclare_gpus = yes\n",
                           "CUDA_VISIBLE_DEVICES=2", out, sizeof out);
    cr_assert_eq (rc, 1, "%s", out);
    cr_expect (strstr (out, "Slurm gave CUDA_VISIBLE_DEVICES='2' (1 GPUs), gres asked for 2"), "%s",
               out);
}

Test (slurm_script, cpu_worker_takes_no_gpu)
{
    char out [4096];
    int rc = s_run_script ("cpus_per_task = 2\n", "CUDA_VISIBLE_DEVICES=0", out, sizeof out);
    cr_assert_eq (rc, 0, "%s", out);
    cr_expect (strstr (out, "--cpu-slots 2 --gpus"), "%s", out);
}

Test (slurm_script, sbatch_lines)
{
    cli_slurm_conf_t c =
        s_conf ("partition = gpu\naccount = lab\ntime_limit = 1-00:00:00\n"
                "gres = gpu:1\ngpu_mem = 80G\nmem = 32G\njob_name = segq-a100\n"
                "sbatch_option = --qos=long\n"
                "worker_cert = /k/segq-a100-*.cert\nworker_broker_key = /k/b.cert\n");
    char *script = cli_slurm_script (&c, "tcp://h:1");
    cli_slurm_conf_clear (&c);
    cr_assert_not_null (script);
    static const char *const lines [] = {
        "#!/bin/sh\n",
        "#SBATCH --job-name=segq-a100\n",
        "#SBATCH --no-requeue\n",
        "#SBATCH --partition=gpu\n",
        "#SBATCH --account=lab\n",
        "#SBATCH --time=1-00:00:00\n",
        "#SBATCH --mem=32G\n",
        "#SBATCH --gres=gpu:1\n",
        "#SBATCH --qos=long\n",
        "node=\"segq-a100-$SLURM_JOB_ID\"\n",
        ("unset SEGQ_CERT SEGQ_BROKER_KEY SEGQ_USER\nexport SEGQ_CERT='/k/segq-a100-*.cert'\n"
         "export SEGQ_BROKER_KEY='/k/b.cert'\n"),
    };
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        cr_expect (strstr (script, lines [i]), "no %s in\n%s", lines [i], script);
    free (script);
}

/* ---- decisions ---- */

static const char s_plan_conf [] = "job_name = sw\ngres = gpu:2\ngpu_mem = 16G\nkinds = sleep\n"
                                   "idle_grace = 10s\npending_grace = 60s\nmax_workers = 4\n"
                                   "submit_per_round = 4\npoll = 1s\nstart_timeout = 100s\n";

static char *s_kinds_sleep [] = { "sleep" };

static segq_job_info_t
s_job (char *id, char *kind, uint64_t gpu_mem)
{
    return (segq_job_info_t){
        .id = id, .kind = kind, .state = SEGQ_JOB_QUEUED, .gpu_mem = gpu_mem, .gpu = -1
    };
}

/* A worker with two 16 GiB GPUs and one CPU slot that runs sleep. */
static segq_worker_info_t
s_worker (char *node, size_t n_running)
{
    static segq_gpu_t gpus [2] = { { .index = 0, .mem_total = 16 * GIB },
                                   { .index = 1, .mem_total = 16 * GIB } };
    static char *running [] = { "0099", "0098" };
    return (segq_worker_info_t){ .node = node,
                                 .state = SEGQ_WORKER_ACTIVE,
                                 .gpus = gpus,
                                 .n_gpus = 2,
                                 .cpu_slots = 1,
                                 .kinds = s_kinds_sleep,
                                 .n_kinds = 1,
                                 .running = running,
                                 .n_running = n_running };
}

typedef struct {
    cli_slurm_conf_t conf;
    cli_slurm_memory_t *memory;
    cli_slurm_plan_t plan;
} planner_t;

static planner_t
s_planner (void)
{
    planner_t p = { .conf = s_conf (s_plan_conf), .memory = cli_slurm_memory_new () };
    cr_assert_not_null (p.memory);
    return p;
}

static void
s_planner_end (planner_t *p)
{
    cli_slurm_plan_clear (&p->plan);
    cli_slurm_memory_destroy (&p->memory);
    cli_slurm_conf_clear (&p->conf);
}

/* A round at `now` seconds. */
static cli_slurm_plan_t *
s_round (planner_t *p, const segq_job_info_t *jobs, size_t n_jobs, const segq_worker_info_t *w,
         size_t n_w, const cli_slurm_job_t *slurm, size_t n_slurm, int64_t now)
{
    cli_slurm_plan_clear (&p->plan);
    cli_slurm_view_t view = { jobs, n_jobs, w, n_w, slurm, n_slurm, now * 1000 };
    cr_assert_eq (cli_slurm_plan (p->memory, &p->conf, &view, &p->plan), 0);
    return &p->plan;
}

static bool
s_noted (const cli_slurm_plan_t *plan, const char *text)
{
    for (size_t i = 0; i < plan->n_notes; i++)
        if (strstr (plan->notes [i], text))
            return true;
    return false;
}

Test (slurm_plan, names)
{
    cli_slurm_job_t j;
    cr_assert (cli_slurm_job_parse ("123|RUNNING", &j) && j.id == 123
               && j.state == CLI_SLURM_RUNNING);
    cr_assert (cli_slurm_job_parse ("7|PENDING", &j) && j.state == CLI_SLURM_PENDING);
    cr_assert (cli_slurm_job_parse ("7|COMPLETING", &j) && j.state == CLI_SLURM_ENDING);
    cr_assert (cli_slurm_job_parse ("7|CANCELLED by 0", &j) && j.state == CLI_SLURM_CANCELLED);
    cr_assert (cli_slurm_job_parse ("7|COMPLETED", &j) && j.state == CLI_SLURM_COMPLETED);
    cr_assert (cli_slurm_job_parse ("7|NODE_FAIL", &j) && j.state == CLI_SLURM_FAILED);
    cr_assert (!cli_slurm_job_parse ("7_1|RUNNING", &j), "an array job is none of its own");
    cr_assert (!cli_slurm_job_parse ("JOBID|STATE", &j));
    planner_t p = s_planner ();
    cr_assert_eq (cli_slurm_node_job (&p.conf, "sw-42"), 42);
    cr_assert_eq (cli_slurm_node_job (&p.conf, "sw-42x"), 0);
    cr_assert_eq (cli_slurm_node_job (&p.conf, "swx-42"), 0);
    cr_assert_eq (cli_slurm_node_job (&p.conf, "gpu01"), 0);
    s_planner_end (&p);
}

/* Three 10 GiB jobs, one per 16 GiB GPU: two workers of two GPUs. */
Test (slurm_plan, packs_waiting_jobs_into_new_workers)
{
    planner_t p = s_planner ();
    segq_job_info_t jobs [] = { s_job ("0001", "sleep", 10 * GIB),
                                s_job ("0002", "sleep", 10 * GIB),
                                s_job ("0003", "sleep", 10 * GIB) };
    cli_slurm_plan_t *plan = s_round (&p, jobs, 3, NULL, 0, NULL, 0, 100);
    cr_assert_eq (plan->submit, 2);
    cr_assert (s_noted (plan, "submitting 2 worker job(s)"));
    /* next round: both pending in Slurm: nothing more */
    cli_slurm_job_t slurm [] = { { 11, CLI_SLURM_PENDING }, { 12, CLI_SLURM_PENDING } };
    plan = s_round (&p, jobs, 3, NULL, 0, slurm, 2, 101);
    cr_assert_eq (plan->submit, 0, "submitted again what is on its way");
    cr_assert_eq (plan->n_cancel, 0);
    s_planner_end (&p);
}

/* A restarted autoscaler (fresh memory) counts what squeue shows. */
Test (slurm_plan, restart_adopts_its_jobs)
{
    planner_t p = s_planner ();
    segq_job_info_t jobs [] = { s_job ("0001", "sleep", 10 * GIB),
                                s_job ("0002", "sleep", 10 * GIB) };
    cli_slurm_job_t slurm [] = { { 11, CLI_SLURM_RUNNING }, { 12, CLI_SLURM_COMPLETED } };
    cli_slurm_plan_t *plan = s_round (&p, jobs, 2, NULL, 0, slurm, 2, 100);
    cr_assert_eq (plan->submit, 0);
    cr_assert (!s_noted (plan, "before its worker"), "an old job judged as a failed start");
    s_planner_end (&p);
}

Test (slurm_plan, max_workers_bounds_it)
{
    planner_t p = s_planner ();
    segq_job_info_t jobs [12];
    static char ids [12][8];
    for (int i = 0; i < 12; i++) {
        snprintf (ids [i], sizeof ids [i], "%04d", i + 1);
        jobs [i] = s_job (ids [i], "sleep", 10 * GIB);
    }
    cli_slurm_job_t slurm [] = { { 11, CLI_SLURM_RUNNING },
                                 { 12, CLI_SLURM_ENDING },
                                 { 13, CLI_SLURM_FAILED } };
    cli_slurm_plan_t *plan = s_round (&p, jobs, 12, NULL, 0, slurm, 3, 100);
    cr_assert_eq (plan->submit, 2, "4 at most, 2 live already (the failed one ended)");
    cr_assert (s_noted (plan, "still wait for a worker: max_workers (4)"));
    s_planner_end (&p);
}

/* A worker that could run the job is busy: a new one only after
   pending_grace. */
Test (slurm_plan, busy_workers_get_help_after_pending_grace)
{
    planner_t p = s_planner ();
    segq_job_info_t jobs [] = { s_job ("0005", "sleep", 10 * GIB) };
    segq_worker_info_t w [] = { s_worker ("gpu01", 2) };
    cr_assert_eq (s_round (&p, jobs, 1, w, 1, NULL, 0, 100)->submit, 0);
    cr_assert_eq (s_round (&p, jobs, 1, w, 1, NULL, 0, 159)->submit, 0);
    cli_slurm_plan_t *plan = s_round (&p, jobs, 1, w, 1, NULL, 0, 160);
    cr_assert_eq (plan->submit, 1);
    cr_assert (s_noted (plan, "0005 waited over pending_grace"));
    s_planner_end (&p);
}

Test (slurm_plan, what_no_template_worker_holds_is_said_once)
{
    planner_t p = s_planner ();
    segq_job_info_t jobs [] = { s_job ("0007", "sleep", 40 * GIB), s_job ("0008", "echo", 0) };
    cli_slurm_plan_t *plan = s_round (&p, jobs, 2, NULL, 0, NULL, 0, 100);
    cr_assert_eq (plan->submit, 0);
    cr_assert (s_noted (plan, "job 0007 waits for what no connected worker has"), "");
    cr_assert (s_noted (plan, "it needs a GPU with 40 GiB, theirs have 16 GiB (gpu_mem)"));
    cr_assert (s_noted (plan, "job 0008") && s_noted (plan, "do not take echo jobs (kinds)"));
    plan = s_round (&p, jobs, 2, NULL, 0, NULL, 0, 101);
    cr_assert_eq (plan->n_notes, 0, "said again: %s", plan->n_notes ? plan->notes [0] : "");
    s_planner_end (&p);
}

Test (slurm_plan, idle_workers_are_drained_never_busy_ones)
{
    planner_t p = s_planner ();
    cli_slurm_job_t slurm [] = { { 21, CLI_SLURM_RUNNING }, { 22, CLI_SLURM_RUNNING } };
    segq_worker_info_t w [] = { s_worker ("sw-21", 0), s_worker ("sw-22", 1),
                                s_worker ("gpu01", 0) };
    cr_assert_eq (s_round (&p, NULL, 0, w, 3, slurm, 2, 100)->n_drain, 0);
    cr_assert_eq (s_round (&p, NULL, 0, w, 3, slurm, 2, 109)->n_drain, 0);
    cli_slurm_plan_t *plan = s_round (&p, NULL, 0, w, 3, slurm, 2, 110);
    cr_assert_eq (plan->n_drain, 1, "only the idle worker of its own");
    cr_assert_str_eq (plan->drain [0], "sw-21");
    cr_assert_eq (plan->n_cancel, 0, "a worker is drained, never cancelled");
    s_planner_end (&p);
}

/* A worker with nothing running but a queued job it could run is not idle
   (the broker is about to give it one). */
Test (slurm_plan, a_worker_with_work_waiting_is_not_idle)
{
    planner_t p = s_planner ();
    cli_slurm_job_t slurm [] = { { 21, CLI_SLURM_RUNNING } };
    segq_worker_info_t w [] = { s_worker ("sw-21", 0) };
    segq_job_info_t jobs [] = { s_job ("0009", "sleep", 4 * GIB) };
    s_round (&p, jobs, 1, w, 1, slurm, 1, 100);
    cr_assert_eq (s_round (&p, jobs, 1, w, 1, slurm, 1, 200)->n_drain, 0);
    /* the queue empties: idle from then on */
    cr_assert_eq (s_round (&p, NULL, 0, w, 1, slurm, 1, 201)->n_drain, 0);
    cr_assert_eq (s_round (&p, NULL, 0, w, 1, slurm, 1, 211)->n_drain, 1);
    s_planner_end (&p);
}

Test (slurm_plan, pending_job_nothing_needs_is_cancelled)
{
    planner_t p = s_planner ();
    segq_job_info_t jobs [] = { s_job ("0001", "sleep", 10 * GIB) };
    cli_slurm_job_t slurm [] = { { 31, CLI_SLURM_PENDING } };
    cr_assert_eq (s_round (&p, jobs, 1, NULL, 0, slurm, 1, 100)->n_cancel, 0);
    /* the job was cancelled by its user: the pending worker is not needed */
    cr_assert_eq (s_round (&p, NULL, 0, NULL, 0, slurm, 1, 101)->n_cancel, 0);
    cli_slurm_plan_t *plan = s_round (&p, NULL, 0, NULL, 0, slurm, 1, 111);
    cr_assert_eq (plan->n_cancel, 1);
    cr_assert_eq (plan->cancel [0], 31);
    s_planner_end (&p);
}

/* Ended without its worker connecting: a failed start; submissions pause,
   longer each time. Cancelled from outside: no pause. */
Test (slurm_plan, failed_starts_pause_submissions)
{
    planner_t p = s_planner ();
    segq_job_info_t jobs [] = { s_job ("0001", "sleep", 10 * GIB) };
    cr_assert_eq (s_round (&p, jobs, 1, NULL, 0, NULL, 0, 100)->submit, 1);
    cr_assert_eq (cli_slurm_memory_submitted (p.memory, 41), 0);
    cli_slurm_job_t failed [] = { { 41, CLI_SLURM_FAILED } };
    cli_slurm_plan_t *plan = s_round (&p, jobs, 1, NULL, 0, failed, 1, 101);
    cr_assert (s_noted (plan, "Slurm job 41 failed before its worker sw-41 connected"));
    cr_assert_eq (plan->submit, 0, "submitted while paused");
    cr_assert_eq (s_round (&p, jobs, 1, NULL, 0, failed, 1, 102)->submit, 1, "paused too long");
    cr_assert_eq (cli_slurm_memory_submitted (p.memory, 42), 0);
    cli_slurm_job_t two [] = { { 41, CLI_SLURM_FAILED }, { 42, CLI_SLURM_COMPLETED } };
    cr_assert_eq (s_round (&p, jobs, 1, NULL, 0, two, 2, 103)->submit, 0);
    cr_assert_eq (s_round (&p, jobs, 1, NULL, 0, two, 2, 104)->submit, 0, "the pause doubles");
    cr_assert_eq (s_round (&p, jobs, 1, NULL, 0, two, 2, 105)->submit, 1);
    cr_assert_eq (cli_slurm_memory_submitted (p.memory, 43), 0);
    cli_slurm_job_t cancelled [] = { { 43, CLI_SLURM_CANCELLED } };
    plan = s_round (&p, jobs, 1, NULL, 0, cancelled, 1, 106);
    cr_assert_eq (plan->submit, 1, "a cancelled worker job is no failed start");
    s_planner_end (&p);
}

Test (slurm_plan, worker_that_never_connects_is_cancelled)
{
    planner_t p = s_planner ();
    segq_job_info_t jobs [] = { s_job ("0001", "sleep", 10 * GIB) };
    cli_slurm_job_t slurm [] = { { 51, CLI_SLURM_RUNNING } };
    cr_assert_eq (s_round (&p, jobs, 1, NULL, 0, slurm, 1, 100)->n_cancel, 0);
    cli_slurm_plan_t *plan = s_round (&p, jobs, 1, NULL, 0, slurm, 1, 200);
    cr_assert_eq (plan->n_cancel, 1);
    cr_assert (s_noted (plan, "its worker sw-51 never connected"));
    s_planner_end (&p);
}

/* Held jobs, and jobs at their owner's limit, would not start on a new
   worker either. */
Test (slurm_plan, held_and_limited_jobs_are_no_demand)
{
    planner_t p = s_planner ();
    segq_job_info_t jobs [] = { s_job ("0001", "sleep", 10 * GIB),
                                s_job ("0002", "sleep", 10 * GIB) };
    jobs [0].message = "held (segq release 0001)";
    jobs [0].held = true;
    jobs [1].message = "user limit max_running=2 reached";
    cr_assert_eq (s_round (&p, jobs, 2, NULL, 0, NULL, 0, 100)->submit, 0);
    cli_slurm_job_t slurm [] = { { 21, CLI_SLURM_RUNNING } };
    segq_worker_info_t w [] = { s_worker ("sw-21", 0) };
    s_round (&p, jobs, 2, w, 1, slurm, 1, 200);
    cr_assert_eq (s_round (&p, jobs, 2, w, 1, slurm, 1, 210)->n_drain, 1,
                  "held jobs kept an idle worker");
    s_planner_end (&p);
}
