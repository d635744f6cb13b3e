# Unit tests of station/.
UNIT_TESTS += $(BUILD)/tests/station/test_config
$(BUILD)/tests/station/test_config: $(BUILD)/obj/station/config.o
UNIT_TESTS += $(BUILD)/tests/station/test_officer
$(BUILD)/tests/station/test_officer: $(BUILD)/obj/station/deny.o \
    $(BUILD)/obj/station/export_manifest.o $(AUDIT_OBJS)

# A PKCS#11 module that forwards to SoftHSM and fails the Nth
# C_GenerateRandom or C_Sign ($STATION_P11_FAULT; tests/station/fault_p11.c).
STATION_FAULT_P11 := $(BUILD)/test-tools/station-fault-p11.so
$(STATION_FAULT_P11): tests/station/fault_p11.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -fPIC -shared -o $@ $< -ldl

check: $(STATION_FAULT_P11)

# One event as another part of the station would record it (dated ahead,
# with details), for clock.test.sh and export.test.sh (tests/station/mkevent.c).
STATION_TEST_EVENT := $(BUILD)/testbin/station-test-event
$(STATION_TEST_EVENT): $(BUILD)/obj/tests/station/mkevent.o $(AUDIT_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

check: $(STATION_TEST_EVENT)
