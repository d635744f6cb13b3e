# Unit tests of station/.
UNIT_TESTS += $(BUILD)/tests/station/test_config
$(BUILD)/tests/station/test_config: $(BUILD)/obj/station/config.o
