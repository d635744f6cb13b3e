# Tests of hsm/: unit tests of CSR intake (no token needed), and hsm-tool,
# a test program that drives hsm/ on a station home for the integration
# tests (tests/hsm/*.test.sh) and the bench, whose results are checked with
# openssl and certtool.
UNIT_TESTS += $(BUILD)/tests/hsm/test_csr
$(BUILD)/tests/hsm/test_csr: $(HSM_OBJS)

HSM_TOOL := $(BUILD)/test-tools/hsm-tool
$(HSM_TOOL): $(BUILD)/obj/tests/hsm/hsm_tool.o \
    $(BUILD)/obj/tests/hsm/token_tool.o $(HSM_OBJS) \
    $(BUILD)/obj/station/config.o $(BUILD)/obj/station/config_keys.o \
    $(BUILD)/obj/station/pin.o \
    $(BUILD)/obj/station/seal.o $(BUILD)/obj/station/stamp_crypto.o \
    $(STAMP_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lpthread -ldl

# A PKCS#11 module that forwards to SoftHSM, logs every call
# ($HSM_SHIM_LOG) and fails chosen ones ($HSM_SHIM_FAULT, $HSM_SHIM): see
# tests/hsm/shim.c.
HSM_SHIM := $(BUILD)/test-tools/pkcs11-shim.so
$(HSM_SHIM): tests/hsm/shim.c tests/hsm/shim_log.c tests/hsm/shim.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -fPIC -shared \
	    -fvisibility=hidden -o $@ $(filter %.c,$^) -ldl


# In-process tests of the token API against a SoftHSM token made per run.
UNIT_TESTS += $(BUILD)/tests/hsm/test_token
$(BUILD)/tests/hsm/test_token: $(HSM_OBJS) $(BUILD)/obj/station/seal.o \
    $(BUILD)/obj/station/stamp_crypto.o $(STAMP_OBJS)

# A device-side CSR made with mbedTLS (docs/device-csr.md).
MBEDTLS_CSR := $(BUILD)/test-tools/mbedtls-csr
$(MBEDTLS_CSR): tests/hsm/mbedtls_csr.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< -lmbedx509 -lmbedcrypto

check bench stress: $(HSM_TOOL) $(HSM_SHIM) $(MBEDTLS_CSR) \
    $(BUILD)/tools/stamp-refverify
