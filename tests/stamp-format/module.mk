# Tests of stamp-format/: cmocka unit tests of the codec, the vector
# generator, and the mbedTLS reference verifier (a firmware-style second
# implementation that links only stamp.c and libmbedcrypto).
UNIT_TESTS += $(BUILD)/tests/stamp-format/test_stamp
$(BUILD)/tests/stamp-format/test_stamp: $(BUILD)/obj/stamp-format/stamp.o $(BUILD)/obj/stamp-format/stamp_names.o \
    $(BUILD)/obj/stamp-format/stamp_build.o \
    $(BUILD)/obj/station/stamp_crypto.o

# Tools for tests, not installed. gen_vectors DIR rebuilds
# stamp-format/vectors/ (make check does not run it: the committed vectors
# are what the tests check).
STAMP_TOOLS := $(BUILD)/tools/gen_vectors $(BUILD)/tools/stamp-refverify
check bench: $(STAMP_TOOLS)

$(BUILD)/tools/gen_vectors: $(BUILD)/obj/tests/stamp-format/gen_vectors.o \
    $(BUILD)/obj/stamp-format/stamp.o $(BUILD)/obj/stamp-format/stamp_names.o \
    $(BUILD)/obj/stamp-format/stamp_build.o \
    $(BUILD)/obj/station/stamp_crypto.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# The reference verifier: stamp.c and mbedTLS only, no OpenSSL.
$(BUILD)/tools/stamp-refverify: $(BUILD)/obj/tests/stamp-format/refverify.o \
    $(BUILD)/obj/stamp-format/stamp.o $(BUILD)/obj/stamp-format/stamp_names.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -lmbedcrypto

# Bench helper (tests/bench/stamp.bench.sh).
bench: $(BUILD)/tools/bench_stamp
$(BUILD)/tools/bench_stamp: $(BUILD)/obj/tests/stamp-format/bench_stamp.o \
    $(STAMP_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
