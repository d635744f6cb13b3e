# Fuzz harnesses: one libFuzzer program per parser, built with clang and
# ASan+UBSan. Each harness declares itself in tests/fuzz/fuzz_NAME.mk:
#   FUZZERS += NAME
#   FUZZ_SRCS_NAME := tests/fuzz/fuzz_NAME.c the/sources/it/needs.c
# Its seed corpus lives in tests/fuzz/corpus/NAME/; `make check` replays it,
# `make fuzz` fuzzes each harness for FUZZ_SECONDS.
include $(sort $(wildcard tests/fuzz/fuzz_*.mk))

FUZZ_FLAGS := -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined \
              -fno-sanitize-recover=all -D_GNU_SOURCE -I. -I$(BUILD)/gen
FUZZ_BINS := $(FUZZERS:%=$(BUILD)/fuzz/fuzz_%)

define fuzz_rule
$(BUILD)/fuzz/fuzz_$(1): $$(FUZZ_SRCS_$(1))
	@mkdir -p $$(@D)
	$$(FUZZ_CC) $$(FUZZ_FLAGS) $$(PKG_CFLAGS) -o $$@ $$(FUZZ_SRCS_$(1)) $$(LIBS)
endef
$(foreach f,$(FUZZERS),$(eval $(call fuzz_rule,$(f))))
