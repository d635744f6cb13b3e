# Unit tests of station/.
UNIT_TESTS += $(BUILD)/tests/station/test_config
$(BUILD)/tests/station/test_config: $(BUILD)/obj/station/config.o \
    $(BUILD)/obj/station/config_keys.o
UNIT_TESTS += $(BUILD)/tests/station/test_officer
$(BUILD)/tests/station/test_officer: $(BUILD)/obj/station/deny.o \
    $(BUILD)/obj/station/export_manifest.o $(AUDIT_OBJS)

# fault.test.sh fails token calls through tests/hsm/shim.c (pkcs11-shim.so).
check: $(HSM_SHIM)

# Identities: serial templates, claim IDs, the normaliser (a real audit
# database for the collision retry; hsm_random behind identity_hsm_rng).
UNIT_TESTS += $(BUILD)/tests/station/test_identity
$(BUILD)/tests/station/test_identity: $(BUILD)/obj/station/identity.o \
    $(HSM_OBJS) $(AUDIT_OBJS)

# order-tool: allocates devices under an order on a demo home the way the
# bench loop does (order.test.sh, label.test.sh).
ORDER_TOOL := $(BUILD)/test-tools/order-tool
ORDER_TOOL_OBJS := $(addprefix $(BUILD)/obj/station/,order.o order_track.o \
    identity.o label.o label_png.o config.o config_keys.o pin.o pki.o airgap.o)
$(ORDER_TOOL): $(BUILD)/obj/tests/station/order_tool.o $(ORDER_TOOL_OBJS) \
    $(HSM_OBJS) $(AUDIT_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lpthread
check stress bench: $(ORDER_TOOL)

# The order document parser.
UNIT_TESTS += $(BUILD)/tests/station/test_order
$(BUILD)/tests/station/test_order: $(BUILD)/obj/station/order.o

# Label payloads and ZPL (PNGs are read back with zbarimg in label.test.sh).
UNIT_TESTS += $(BUILD)/tests/station/test_label
$(BUILD)/tests/station/test_label: $(BUILD)/obj/station/label.o \
    $(BUILD)/obj/station/label_png.o $(BUILD)/obj/station/identity.o \
    $(HSM_OBJS) $(AUDIT_OBJS)

# One event as another part of the station would record it (dated ahead,
# with details), for clock.test.sh and export.test.sh (tests/station/mkevent.c).
STATION_TEST_EVENT := $(BUILD)/testbin/station-test-event
$(STATION_TEST_EVENT): $(BUILD)/obj/tests/station/mkevent.o $(AUDIT_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

check: $(STATION_TEST_EVENT)

# lan-load: a bounded loopback load generator for `station serve`
# (serve.test.sh: no identity twice under concurrency; serve.bench.sh).
LAN_LOAD := $(BUILD)/test-tools/lan-load
$(LAN_LOAD): $(BUILD)/obj/tests/bench/lan_load.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lpthread
check stress bench: $(LAN_LOAD)

# The LAN service's nonce table, token buckets and listen syntax.
UNIT_TESTS += $(BUILD)/tests/station/test_serve_limits
$(BUILD)/tests/station/test_serve_limits: \
    $(BUILD)/obj/station/serve_limits.o $(BUILD)/obj/station/serve_listen.o

# batch-tool: batch_take_next as the bench loop calls it (batch.test.sh).
BATCH_TOOL := $(BUILD)/test-tools/batch-tool
BATCH_TOOL_OBJS := $(addprefix $(BUILD)/obj/station/,batch_take.o \
    batch_file.o batch_out.o seal.o stamp_crypto.o config.o config_keys.o \
    pin.o pki.o airgap.o station_audit.o clock.o order.o) $(STAMP_OBJS) \
    $(HSM_OBJS) $(AUDIT_OBJS)
$(BATCH_TOOL): $(BUILD)/obj/tests/station/batch_tool.o $(BATCH_TOOL_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lpthread
check stress bench: $(BATCH_TOOL)

# The batch text, manifest and record codecs.
UNIT_TESTS += $(BUILD)/tests/station/test_batch
$(BUILD)/tests/station/test_batch: $(BUILD)/obj/station/batch_file.o

# attest-tool: the attestation check of every attached device as the bench
# makes it (attest.test.sh, under stampdev-emu); test_attest: the policy,
# the answer's checks (chains made in the test) and the audit event.
ATTEST_OBJS := $(addprefix $(BUILD)/obj/station/,attest.o attest_parse.o \
    config.o config_keys.o) $(FLASHER_OBJS) $(STAMP_OBJS) $(AUDIT_OBJS)
ATTEST_TOOL := $(BUILD)/test-tools/attest-tool
$(ATTEST_TOOL): $(BUILD)/obj/tests/station/attest_tool.o $(ATTEST_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lpthread
check: $(ATTEST_TOOL)
UNIT_TESTS += $(BUILD)/tests/station/test_attest
$(BUILD)/tests/station/test_attest: $(ATTEST_OBJS)
