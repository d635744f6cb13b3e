# Bench helpers of tests/bench/ (not tests).

# batch-bare: the PKCS#11 calls of one batch identity, bare, in a tight
# loop (tests/bench/batch.bench.sh); also SoftHSM's memory per session.
BATCH_BARE := $(BUILD)/bench/batch-bare
$(BATCH_BARE): $(BUILD)/obj/tests/bench/batch_bare.o \
    $(BUILD)/obj/station/config.o $(BUILD)/obj/station/config_keys.o \
    $(BUILD)/obj/station/pin.o $(HSM_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lpthread -ldl
bench: $(BATCH_BARE)
