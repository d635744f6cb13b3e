FUZZERS += stamp_info
FUZZ_SRCS_stamp_info := tests/fuzz/fuzz_stamp_info.c stamp-format/stamp.c stamp-format/stamp_build.c
