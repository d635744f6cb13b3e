FUZZERS += claim
FUZZ_SRCS_claim := tests/fuzz/fuzz_claim.c station/identity.c
