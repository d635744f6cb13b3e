FUZZERS += dfu
FUZZ_SRCS_dfu := tests/fuzz/fuzz_dfu.c flasher/dfu_parse.c
