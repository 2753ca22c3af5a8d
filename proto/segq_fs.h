/*  segq_fs.h: file-system helpers every daemon and the CLI share (libc only). */
#ifndef SEGQ_FS_H
#define SEGQ_FS_H

#include <stddef.h>

/* mkdir -p: creates path and its missing parents with mode 0700 (the
   folders segq makes hold keys, patient data or caches). 0, or a negative
   SEGQ_E* code with err naming the folder that could not be made. */
int segq_mkdirs (const char *path, char *err, size_t errlen);

#endif
