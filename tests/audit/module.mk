# Tests of audit/: unit tests (cmocka), and test-only programs that write
# real signed databases with a software key (build/testbin/, not run as
# unit tests themselves).
AUDIT_TEST_SUPPORT := $(BUILD)/obj/tests/audit/softkey.o \
                      $(BUILD)/obj/tests/audit/scenario.o \
                      $(BUILD)/obj/tests/audit/powercut.o

UNIT_TESTS += $(BUILD)/tests/audit/test_audit
$(BUILD)/tests/audit/test_audit: $(AUDIT_OBJS) $(AUDIT_TEST_SUPPORT)

AUDIT_TESTBIN := $(BUILD)/testbin/audit-mklog $(BUILD)/testbin/audit-tamper \
                 $(BUILD)/testbin/audit-crash $(BUILD)/testbin/audit-bench
UNIT_TESTS += $(AUDIT_TESTBIN)
$(BUILD)/testbin/audit-%: $(BUILD)/obj/tests/audit/%.o $(AUDIT_OBJS) \
    $(AUDIT_TEST_SUPPORT)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
