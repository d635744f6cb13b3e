FUZZERS += order
FUZZ_SRCS_order := tests/fuzz/fuzz_order.c station/order.c
