/*  segqd_keygen.h: `segqd keygen`, the admin's certificate maker. */
#ifndef SEGQD_KEYGEN_H
#define SEGQD_KEYGEN_H
/* argv [0] is "keygen". Returns the process exit status. */
int segqd_keygen (int argc, char *argv []);
#endif
