# flasher: USB DFU 1.1 host on libusb, and the stampdev-emu emulator.
FLASHER_SRCS := $(wildcard flasher/*.c)
FLASHER_OBJS := $(FLASHER_SRCS:%.c=$(BUILD)/obj/%.o)
STATION_OBJS += $(FLASHER_OBJS)
