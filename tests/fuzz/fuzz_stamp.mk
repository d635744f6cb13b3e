FUZZERS += stamp
FUZZ_SRCS_stamp := tests/fuzz/fuzz_stamp.c stamp-format/stamp.c
