/*
 * fuzz_stamp_info.c: the info message reader (and builder round trip); the
 * body is in fuzz_stamp_msg.h.
 */
#define FUZZ_MAGIC STAMP_MAGIC_INFO
#include "tests/fuzz/fuzz_stamp_msg.h"
