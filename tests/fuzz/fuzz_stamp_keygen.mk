FUZZERS += stamp_keygen
FUZZ_SRCS_stamp_keygen := tests/fuzz/fuzz_stamp_keygen.c stamp-format/stamp.c stamp-format/stamp_build.c
