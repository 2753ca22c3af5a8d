/*  segqd_backup.h: `segqd backup FILE`, a consistent copy of a running
    broker's database (see backup.h for how the broker makes it). */
#ifndef SEGQD_BACKUP_H
#define SEGQD_BACKUP_H

/* argv[0] is "backup". Returns the process exit status. */
int segqd_backup (int argc, char *argv []);

#endif
