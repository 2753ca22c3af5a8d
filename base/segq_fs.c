/*  segq_fs.c: see segq_fs.h. */
#include "segq_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "segq_error.h"

int
segq_mkdirs (const char *path, char *err, size_t errlen)
{
    char buf [4096];
    if (snprintf (buf, sizeof buf, "%s", path) >= (int) sizeof buf) {
        snprintf (err, errlen, "path too long: %.200s", path);
        return SEGQ_EINVAL;
    }
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char saved = *p;
            *p = 0;
            if (mkdir (buf, 0700) != 0 && errno != EEXIST) {
                snprintf (err, errlen, "cannot create directory %s: %s", buf, strerror (errno));
                return SEGQ_EIO;
            }
            *p = saved;
            if (saved == 0)
                break;
        }
    }
    return 0;
}

/* Where the link at path leads, into resolved (PATH_MAX) with *st its
   target's, if that is a regular file inside root; else SEGQ_EINVAL, said. */
static int
s_follow_link (const char *root, const char *path, struct stat *st, char *resolved, char *err,
               size_t errlen)
{
    char target [PATH_MAX];
    ssize_t n = readlink (path, target, sizeof target - 1);
    target [n > 0 ? n : 0] = 0;
    if (!realpath (path, resolved)) {
        snprintf (err, errlen,
                  "'%s' is a symbolic link to '%s' that %s: remove it or give "
                  "the file it should name",
                  path, target, errno == ELOOP ? "loops" : "leads nowhere");
        return SEGQ_EINVAL;
    }
    /* root "/" holds everything: compare without its slash */
    size_t len = strlen (root), up = strlen (resolved);
    if (len && root [len - 1] == '/')
        len--;
    bool inside = strncmp (resolved, root, len) == 0 && resolved [len] == '/';
    bool above =
        !inside && strncmp (root, resolved, up) == 0 && (root [up] == '/' || !root [up] || up == 1);
    if (above)
        snprintf (err, errlen,
                  "'%s' is a symbolic link to '%s', a folder holding the folder %s: "
                  "refused (it loops)",
                  path, target, root);
    else if (!inside)
        snprintf (err, errlen,
                  "'%s' is a symbolic link to '%s', outside the folder %s: refused "
                  "(a link is followed only to a file inside the folder; copy the file in if it "
                  "belongs there)",
                  path, target, root);
    else if (stat (resolved, st) != 0 || !S_ISREG (st->st_mode))
        snprintf (err, errlen,
                  "'%s' is a symbolic link to '%s', which is not a regular file: "
                  "refused (links to folders are not followed: they can loop)",
                  path, target);
    else
        return 0;
    return SEGQ_EINVAL;
}

int
segq_fs_walk_entry (const char *root, const char *path, struct stat *st, char *real, size_t reallen,
                    char *err, size_t errlen)
{
    if (lstat (path, st) != 0) {
        snprintf (err, errlen, "cannot read '%s': %s", path, strerror (errno));
        return SEGQ_ENOENT;
    }
    char resolved [PATH_MAX];
    bool link = S_ISLNK (st->st_mode);
    if (link && s_follow_link (root, path, st, resolved, err, errlen) != 0)
        return SEGQ_EINVAL;
    const char *read_from = link ? resolved : path;
    if (real && (size_t) snprintf (real, reallen, "%s", read_from) >= reallen) {
        snprintf (err, errlen, "path too long: %.200s", read_from);
        return SEGQ_EINVAL;
    }
    return 0;
}

int
segq_fsync_path (const char *path)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return SEGQ_EIO;
    int rc = fsync (fd) == 0 ? 0 : SEGQ_EIO;
    int saved = errno;
    close (fd);
    errno = saved;
    return rc;
}
