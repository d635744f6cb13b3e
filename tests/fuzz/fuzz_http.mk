FUZZERS += http
FUZZ_SRCS_http := tests/fuzz/fuzz_http.c station/serve_request.c
