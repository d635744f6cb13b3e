FUZZERS += config
FUZZ_SRCS_config := tests/fuzz/fuzz_config.c station/config.c station/config_keys.c
