# hsm: PKCS#11 token access and the HSM-held sub-CA.
HSM_SRCS := $(wildcard hsm/*.c)
HSM_OBJS := $(HSM_SRCS:%.c=$(BUILD)/obj/%.o)
STATION_OBJS += $(HSM_OBJS)
