# Tests of stamp-format/: cmocka unit tests of the codec, the vector
# generator, and the mbedTLS reference verifier (a firmware-style second
# implementation that links only stamp.c and libmbedcrypto).
UNIT_TESTS += $(BUILD)/tests/stamp-format/test_stamp
$(BUILD)/tests/stamp-format/test_stamp: $(BUILD)/obj/stamp-format/stamp.o \
    $(BUILD)/obj/station/stamp_crypto.o

# gen_vectors DIR: rebuilds stamp-format/vectors/ (not run by make check;
# the committed vectors are what the tests check).
PROGRAMS += $(BUILD)/gen_vectors
$(BUILD)/gen_vectors: $(BUILD)/obj/tests/stamp-format/gen_vectors.o \
    $(BUILD)/obj/stamp-format/stamp.o $(BUILD)/obj/station/stamp_crypto.o
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# The reference verifier: stamp.c and mbedTLS only, no OpenSSL.
PROGRAMS += $(BUILD)/stamp-refverify
$(BUILD)/stamp-refverify: $(BUILD)/obj/tests/stamp-format/refverify.o \
    $(BUILD)/obj/stamp-format/stamp.o
	$(CC) $(LDFLAGS) -o $@ $^ -lmbedcrypto
