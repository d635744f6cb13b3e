# audit: SQLite inventory and the tamper-evident event log.
PKGS += sqlite3
AUDIT_SRCS := $(wildcard audit/*.c)
AUDIT_OBJS := $(AUDIT_SRCS:%.c=$(BUILD)/obj/%.o)
STATION_OBJS += $(AUDIT_OBJS)
