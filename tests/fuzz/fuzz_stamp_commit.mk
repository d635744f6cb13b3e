FUZZERS += stamp_commit
FUZZ_SRCS_stamp_commit := tests/fuzz/fuzz_stamp_commit.c stamp-format/stamp.c stamp-format/stamp_build.c
