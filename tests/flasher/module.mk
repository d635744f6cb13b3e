# Unit tests of flasher/: the parsers and selection (no device), and the
# host against stampdev-emu (test_dfu_emu re-runs itself under the
# emulator: state-table enforcement, faults, concurrent sessions).
UNIT_TESTS += $(BUILD)/tests/flasher/test_dfu_parse
$(BUILD)/tests/flasher/test_dfu_parse: $(BUILD)/obj/flasher/dfu_parse.o \
    $(BUILD)/obj/flasher/dfu_list.o $(BUILD)/obj/flasher/dfu_xfer.o
UNIT_TESTS += $(BUILD)/tests/flasher/test_dfu_emu
$(BUILD)/tests/flasher/test_dfu_emu: $(BUILD)/obj/flasher/dfu_parse.o \
    $(BUILD)/obj/flasher/dfu_list.o $(BUILD)/obj/flasher/dfu_xfer.o

# The DFU benchmark helper (tests/bench/dfu.bench.sh); not a test.
DFU_BENCH := $(BUILD)/bench/dfu_bench
$(DFU_BENCH): $(BUILD)/obj/tests/bench/dfu_bench.o $(BUILD)/obj/flasher/dfu_parse.o \
    $(BUILD)/obj/flasher/dfu_list.o $(BUILD)/obj/flasher/dfu_xfer.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
bench: $(DFU_BENCH)

# The stamp profile (issue 8): test_profile runs every profile operation
# and every fault under stampdev-emu; stamp_tool stamps all attached devices
# at once (profile.test.sh, the bench); it lives in $(BUILD)/tools, not
# $(BUILD)/tests, so the test runner does not take it for a unit test.
PROFILE_OBJS := $(BUILD)/obj/flasher/dfu_parse.o $(BUILD)/obj/flasher/dfu_list.o \
    $(BUILD)/obj/flasher/dfu_xfer.o $(BUILD)/obj/flasher/profile.o \
    $(BUILD)/obj/flasher/profile_run.o $(STAMP_OBJS) \
    $(BUILD)/obj/station/stamp_crypto.o $(BUILD)/obj/tests/flasher/stamp_job.o
UNIT_TESTS += $(BUILD)/tests/flasher/test_profile
# (test_profile also links hsm/ to show the CA's CSR intake takes the
# emulator's CSRs and refuses the faulty ones.)
$(BUILD)/tests/flasher/test_profile: $(PROFILE_OBJS) $(HSM_OBJS)
STAMP_TOOL := $(BUILD)/tools/stamp_tool
$(STAMP_TOOL): $(BUILD)/obj/tests/flasher/stamp_tool.o $(PROFILE_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lpthread
check: $(STAMP_TOOL)
bench: $(STAMP_TOOL)
