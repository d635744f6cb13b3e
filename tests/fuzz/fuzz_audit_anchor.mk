FUZZERS += audit_anchor
FUZZ_SRCS_audit_anchor := tests/fuzz/fuzz_audit_anchor.c audit/encode.c \
    audit/keys.c
