FUZZERS += manifest
FUZZ_SRCS_manifest := tests/fuzz/fuzz_manifest.c station/export_manifest.c
