# hsm: PKCS#11 token access and the HSM-held sub-CA.
# libp11.h does not compile with -DOPENSSL_NO_DEPRECATED: do not add it.
PKGS += libp11 p11-kit-1
MODULE_LIBS += -ldl
HSM_SRCS := $(wildcard hsm/*.c)
HSM_OBJS := $(HSM_SRCS:%.c=$(BUILD)/obj/%.o)
STATION_OBJS += $(HSM_OBJS)
