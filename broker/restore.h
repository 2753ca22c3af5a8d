/*  restore.h: `segqd restore BACKUP`, a backup put in place as the
    database of a stopped broker. */
#ifndef SEGQD_RESTORE_H
#define SEGQD_RESTORE_H

/* Replaces data_dir/segq.db by a copy of backup (a file `segq backup`
   made), keeping the replaced database beside it. Says what it did on
   stdout, or why it refused on stderr. Returns the process exit status. */
int segqd_restore (const char *backup, const char *data_dir);

#endif
