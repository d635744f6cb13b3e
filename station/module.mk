# station: the CLI, config and the wiring of every other module.
#
# Verbs register themselves: a line `STATION_VERB(name, "summary")` at the
# top level of any station/ source declares `int name_main(int, char **)`; the
# dispatch table is generated from those lines, so adding a verb touches
# only its own file.
STATION_SRCS := $(wildcard station/*.c)
STATION_OBJS += $(STATION_SRCS:%.c=$(BUILD)/obj/%.o)
PROGRAMS += $(BUILD)/station

$(BUILD)/gen/verbs.inc: $(STATION_SRCS) station/module.mk
	@mkdir -p $(@D)
	@grep -h '^STATION_VERB(' $(STATION_SRCS) | sed 's/;[[:space:]]*$$//' | LC_ALL=C sort > $@.tmp
	@mv $@.tmp $@

$(BUILD)/obj/station/main.o: $(BUILD)/gen/verbs.inc

$(BUILD)/station: $(STATION_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
PKGS += libqrencode libpng
# station serve (the factory-LAN service): HTTP server and JSON bodies.
PKGS += libmicrohttpd jansson
