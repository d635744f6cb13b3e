# stamp-format: the stamp image codec. No dependencies at all.
STAMP_SRCS := $(wildcard stamp-format/*.c)
STAMP_OBJS := $(STAMP_SRCS:%.c=$(BUILD)/obj/%.o)
STATION_OBJS += $(STAMP_OBJS)
