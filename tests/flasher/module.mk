# Unit tests of flasher/: the parsers and selection (no device), and the
# host against stampdev-emu (test_dfu_emu re-runs itself under the
# emulator: state-table enforcement, faults, concurrent sessions).
UNIT_TESTS += $(BUILD)/tests/flasher/test_dfu_parse
$(BUILD)/tests/flasher/test_dfu_parse: $(BUILD)/obj/flasher/dfu_parse.o \
    $(BUILD)/obj/flasher/dfu_list.o $(BUILD)/obj/flasher/dfu_xfer.o
UNIT_TESTS += $(BUILD)/tests/flasher/test_dfu_emu
$(BUILD)/tests/flasher/test_dfu_emu: $(BUILD)/obj/flasher/dfu_parse.o \
    $(BUILD)/obj/flasher/dfu_list.o $(BUILD)/obj/flasher/dfu_xfer.o
