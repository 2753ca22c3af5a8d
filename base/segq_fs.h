/*  segq_fs.h: file-system helpers every daemon and the CLI share (libc only). */
#ifndef SEGQ_FS_H
#define SEGQ_FS_H

#include <stddef.h>
#include <sys/stat.h>

/* mkdir -p: creates path and its missing parents with mode 0700 (the
   folders segq makes hold keys, patient data or caches). 0, or a negative
   SEGQ_E* code with err naming the folder that could not be made. */
int segq_mkdirs (const char *path, char *err, size_t errlen);

/* Waits until the file or folder at path is on disk (fsync). 0, or
   SEGQ_EIO (errno says why). */
int segq_fsync_path (const char *path);

/* What an entry met while walking a folder to upload stands for: *st is
   the entry's own (lstat), or for a symbolic link that of the regular file
   it leads to, which must lie inside the folder (root: the folder's real
   path, from realpath). real (may be NULL) gets the path to read: the
   entry's, or the link's target resolved. A link that leaves the folder,
   loops, dangles or leads to anything but a regular file (a link to a
   folder could loop) is refused: SEGQ_EINVAL with err naming the link and
   where it points. SEGQ_ENOENT when the entry cannot be read. */
int segq_fs_walk_entry (const char *root, const char *path, struct stat *st, char *real,
                        size_t reallen, char *err, size_t errlen);

#endif
