/* Helpers shared by the pipeline tests: temp dirs, running segq-run and
 * the Python reference, the shared data folder. */
#ifndef PIPELINE_TEST_UTIL_H
#define PIPELINE_TEST_UTIL_H

#include <stddef.h>

/* mkdtemp under TMPDIR (or /tmp); the path is static per call site buffer. */
void pt_tempdir(char *buf, size_t len);
/* ../shared/data beside the repository, or $SEGQ_DATA_DIR (tests that need
 * it fail without). */
const char *pt_data_dir(void);
/* Runs a shell command, returns its exit status (or -1); output goes to
 * the test's stderr. */
int pt_sh(const char *fmt, ...);
/* Path of the built segq-run. */
const char *pt_segq_run(void);
/* Reads a whole file (malloc'd, NUL-terminated); NULL if unreadable. */
char *pt_read_file(const char *path, size_t *len);
int pt_files_equal(const char *a, const char *b);

#endif
