FUZZERS += audit_details
FUZZ_SRCS_audit_details := tests/fuzz/fuzz_audit_details.c audit/encode.c \
    audit/keys.c
