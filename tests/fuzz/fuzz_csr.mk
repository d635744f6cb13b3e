FUZZERS += csr
FUZZ_SRCS_csr := tests/fuzz/fuzz_csr.c $(HSM_SRCS)
