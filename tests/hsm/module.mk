# Tests of hsm/: unit tests of CSR intake (no token needed), and hsm-tool,
# a test program that drives hsm/ on a station home for the integration
# tests (tests/hsm/*.test.sh) and the bench, whose results are checked with
# openssl and certtool.
UNIT_TESTS += $(BUILD)/tests/hsm/test_csr
$(BUILD)/tests/hsm/test_csr: $(HSM_OBJS)

HSM_TOOL := $(BUILD)/test-tools/hsm-tool
$(HSM_TOOL): $(BUILD)/obj/tests/hsm/hsm_tool.o $(HSM_OBJS) \
    $(BUILD)/obj/station/config.o $(BUILD)/obj/station/pin.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lpthread

# A PKCS#11 module that forwards to SoftHSM but answers C_Login with
# CKR_PIN_LOCKED: the locked-PIN case, which SoftHSM itself never reaches.
HSM_SHIM := $(BUILD)/test-tools/pin-locked.so
$(HSM_SHIM): tests/hsm/pin_locked.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -fPIC -shared -o $@ $< -ldl

check bench: $(HSM_TOOL) $(HSM_SHIM)
