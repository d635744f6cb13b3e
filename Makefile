# Stamping station: root Makefile.
#
# Every module contributes a fragment (station/module.mk, hsm/module.mk,
# ...), and every test folder one more (tests/*/module.mk), so work on one
# module does not touch another's build rules. Outputs go to $(BUILD).
#
#   make            build build/station (and build/stampdev-emu once it exists)
#   make check      fast tests (unit + integration, then unit tests under
#                   ASan+UBSan); ends with "N passed, N failed"
#   make stress     long crash / power-cut / tamper / load runs
#   make fuzz       every harness in tests/fuzz/, FUZZ_SECONDS each (60), FUZZ_JOBS at once (1)
#   make bench      performance figures, table also in build/bench.md
#   make demo       the main job end to end on the embedded defaults
#   make install    PREFIX=/usr/local DESTDIR=

BUILD   ?= build
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
DOCDIR  ?= $(PREFIX)/share/doc/station
CC      ?= cc
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 1

# Missing Debian packages are installed first (as root), before pkg-config
# is asked about them; `make clean` needs none.
ifneq ($(filter-out clean,$(or $(MAKECMDGOALS),all)),)
ifneq ($(shell scripts/install-deps >&2 && echo ok),ok)
$(error missing packages: run scripts/install-deps as root)
endif
endif

# pkg-config names of the libraries; each fragment adds its own
# (PKGS += libusb-1.0). pkg-config runs once, after the fragments.
PKGS := libcrypto inih

WARN     := -Wall -Wextra -Wconversion -Wshadow -Werror -Wno-format-truncation
CPPFLAGS += -D_GNU_SOURCE -I. -I$(BUILD)/gen
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 $(WARN) -fstack-protector-strong -D_FORTIFY_SOURCE=2
ifeq ($(SAN),1)
CFLAGS   := -std=c11 $(WARN) -O1 -g -fno-omit-frame-pointer \
            -fsanitize=address,undefined -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=address,undefined
endif

.DEFAULT_GOAL := all
.SECONDARY:

# Filled in by the fragments.
PROGRAMS     :=
STATION_OBJS :=
MODULE_LIBS  :=
UNIT_TESTS   :=
FUZZERS      :=
DOCS         := README.md

include stamp-format/module.mk audit/module.mk hsm/module.mk \
        flasher/module.mk station/module.mk
include $(sort $(wildcard tests/*/module.mk))

PKG_CFLAGS := $(shell pkg-config --cflags $(sort $(PKGS)))
PKG_LIBS   := $(shell pkg-config --libs $(sort $(PKGS)))
LIBS := $(PKG_LIBS) $(MODULE_LIBS)


.PHONY: all check unit stress fuzz bench demo install clean
all: $(PROGRAMS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

# Unit tests: cmocka programs, each linked with the objects its fragment names.
$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lcmocka

unit: $(UNIT_TESTS)

check: all unit $(FUZZ_BINS)
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/asan SAN=1 unit all
	@BUILD=$(BUILD) tests/run check

stress: all unit
	@BUILD=$(BUILD) tests/run stress

fuzz: $(FUZZ_BINS)
	@BUILD=$(BUILD) FUZZ_CC=$(FUZZ_CC) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) \
	  FUZZERS="$(FUZZERS)" tests/fuzz/run fuzz

bench: all
	@BUILD=$(BUILD) tests/bench/run

demo: all
	@BUILD=$(BUILD) scripts/demo

# Programs to BINDIR; README and docs/ to DOCDIR; the stamp format (SPEC.md
# and its test vectors, for firmware teams) to DOCDIR/stamp-format.
install: $(PROGRAMS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DOCDIR) \
	    $(DESTDIR)$(DOCDIR)/stamp-format/vectors
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(BINDIR)/
	install -m 0644 $(DOCS) $(wildcard docs/*.md) $(DESTDIR)$(DOCDIR)/
	install -m 0644 stamp-format/SPEC.md $(DESTDIR)$(DOCDIR)/stamp-format/
	install -m 0644 $(wildcard stamp-format/vectors/*) \
	    $(DESTDIR)$(DOCDIR)/stamp-format/vectors/

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
