# flasher: USB DFU 1.1 host on libusb (linked into build/station), and
# stampdev-emu, the umockdev emulator of stamp devices (its own program:
# umockdev/glib never reach the station).
PKGS += libusb-1.0
FLASHER_SRCS := $(wildcard flasher/*.c)
FLASHER_OBJS := $(FLASHER_SRCS:%.c=$(BUILD)/obj/%.o)
STATION_OBJS += $(FLASHER_OBJS)

EMU_SRCS := $(wildcard flasher/emu/*.c)
EMU_OBJS := $(EMU_SRCS:%.c=$(BUILD)/obj/%.o)
EMU_PKGS := umockdev-1.0 gobject-2.0 glib-2.0 libcrypto
PROGRAMS += $(BUILD)/stampdev-emu

$(EMU_OBJS): CPPFLAGS += $(shell pkg-config --cflags $(EMU_PKGS) | sed 's/-I/-isystem /g')

$(BUILD)/stampdev-emu: $(EMU_OBJS) $(STAMP_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs $(EMU_PKGS)) -lpthread
