/*
 * serve.h: `segq-run serve` (serve.c), and the model cache it keeps.
 */
#ifndef SEGQ_SERVE_H
#define SEGQ_SERVE_H

#include <stdint.h>

#include "segq_progress.h"

/* Serves generate jobs on fd 3 until the worker closes it or idle_s
 * seconds pass without one (0: no limit), keeping up to cache_bytes of
 * checkpoints loaded. Returns the exit status. */
int segq_run_serve(uint64_t cache_bytes, uint32_t idle_s);

/* The most GPU memory this process reserved since it began or the last
 * segq_run_reset_gpu_peak, as the progress metric gpu_peak_bytes: the
 * worker puts it in the accounting (`segq usage`). Nothing on CPUs. */
void segq_run_report_gpu_peak(segq_progress_t *progress);
void segq_run_reset_gpu_peak(void);

/* segq-run's exit status for a command's return code: 0, 3 out of GPU
 * memory (SEGQ_RUN_EXIT_GPU_OOM), else 1. */
int segq_run_exit_status(int rc);

#endif
