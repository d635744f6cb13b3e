/*
 * fuzz_stamp_keygen.c: the keygen message reader (and builder round trip); the
 * body is in fuzz_stamp_msg.h.
 */
#define FUZZ_MAGIC STAMP_MAGIC_KEYGEN
#include "tests/fuzz/fuzz_stamp_msg.h"
