/*
 * fuzz_stamp_commit.c: the commit message reader (and builder round trip); the
 * body is in fuzz_stamp_msg.h.
 */
#define FUZZ_MAGIC STAMP_MAGIC_COMMIT
#include "tests/fuzz/fuzz_stamp_msg.h"
