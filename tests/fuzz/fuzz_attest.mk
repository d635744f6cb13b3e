FUZZERS += attest
FUZZ_SRCS_attest := tests/fuzz/fuzz_attest.c station/attest_parse.c \
    stamp-format/stamp.c stamp-format/stamp_names.c
