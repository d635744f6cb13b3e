FUZZERS += batch
FUZZ_SRCS_batch := tests/fuzz/fuzz_batch.c station/batch_file.c
