# Unit tests of station/.
UNIT_TESTS += $(BUILD)/tests/station/test_config
$(BUILD)/tests/station/test_config: $(BUILD)/obj/station/config.o

# Identities: serial templates, claim IDs, the normaliser (a real audit
# database for the collision retry; hsm_random behind identity_hsm_rng).
UNIT_TESTS += $(BUILD)/tests/station/test_identity
$(BUILD)/tests/station/test_identity: $(BUILD)/obj/station/identity.o \
    $(HSM_OBJS) $(AUDIT_OBJS)
