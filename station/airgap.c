/*
 * airgap.c: the air-gap check (airgap.h).
 *
 * Routes come from /proc/net/route and /proc/net/ipv6_route, which show
 * the routes of the reading process's network namespace (not /sys, which
 * device emulation may redirect). A default route is an IPv4 entry with
 * destination and mask 0, or an IPv6 entry with prefix length 0, that is
 * up and not a reject route (the kernel's IPv6 "unreachable" default on
 * lo). Interfaces come from getifaddrs: each one that is IFF_UP, not
 * IFF_LOOPBACK and not a factory interface counts, once.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "station/airgap.h"

#define RTF_UP_FLAG 0x0001
#define RTF_REJECT_FLAG 0x0200

/* add(found, text): append "; text" (or "text") to ${found}. */
static void
add(char found[static AIRGAP_ERR_MAX], const char *text)
{
	size_t len = strlen(found);

	snprintf(found + len, AIRGAP_ERR_MAX - len, "%s%s", len ? "; " : "",
	    text);
}

/* default_route4(dev): 1 and the device of an IPv4 default route. */
static int
default_route4(char dev[static IFNAMSIZ + 1])
{
	FILE *f = fopen("/proc/net/route", "r");
	char line[512], name[64];
	unsigned long dest, gw, flags, refcnt, use, metric, mask;
	int found = 0;

	if (f == NULL)
		return errno == ENOENT ? 0 : -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%63s %lx %lx %lx %lu %lu %lu %lx", name, &dest,
		    &gw, &flags, &refcnt, &use, &metric, &mask) != 8)
			continue;    /* the header line */
		if (dest == 0 && mask == 0 && (flags & RTF_UP_FLAG) &&
		    !(flags & RTF_REJECT_FLAG)) {
			snprintf(dev, IFNAMSIZ + 1, "%s", name);
			found = 1;
			break;
		}
	}
	fclose(f);
	return found;
}

/* default_route6(dev): 1 and the device of an IPv6 default route. */
static int
default_route6(char dev[static IFNAMSIZ + 1])
{
	FILE *f = fopen("/proc/net/ipv6_route", "r");
	char line[512], dest[40], src[40], next[40], name[64];
	unsigned dlen, slen;
	unsigned long metric, refcnt, use, flags;
	int found = 0;

	if (f == NULL)
		return errno == ENOENT ? 0 : -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%39s %x %39s %x %39s %lx %lx %lx %lx %63s",
		    dest, &dlen, src, &slen, next, &metric, &refcnt, &use,
		    &flags, name) != 10)
			continue;
		if (dlen == 0 && strspn(dest, "0") == 32 &&
		    (flags & RTF_UP_FLAG) && !(flags & RTF_REJECT_FLAG) &&
		    strcmp(name, "lo") != 0) {
			snprintf(dev, IFNAMSIZ + 1, "%s", name);
			found = 1;
			break;
		}
	}
	fclose(f);
	return found;
}

/* in_list(list, name): whether ${name} is an item of the comma list. */
static bool
in_list(const char *list, const char *name)
{
	size_t n = strlen(name);

	while (*list != '\0') {
		size_t len;

		list += strspn(list, ", ");
		len = strcspn(list, ", ");
		if (len == n && len > 0 && strncmp(list, name, n) == 0)
			return true;
		list += len;
	}
	return false;
}

int
airgap_scan(const char *factory, char found[static AIRGAP_ERR_MAX])
{
	struct ifaddrs *ifs = NULL, *i;
	char dev[IFNAMSIZ + 1], seen[AIRGAP_ERR_MAX] = ",", text[128];
	int rc;

	found[0] = '\0';
	if ((rc = default_route4(dev)) < 0 ||
	    (rc == 0 && (rc = default_route6(dev)) < 0)) {
		snprintf(found, AIRGAP_ERR_MAX, "air gap: cannot read the "
		    "routing table in /proc/net: %s", strerror(errno));
		return -1;
	}
	if (rc == 1) {
		snprintf(text, sizeof(text), "a default route exists (via %s)",
		    dev);
		add(found, text);
	}
	if (getifaddrs(&ifs) != 0) {
		snprintf(found, AIRGAP_ERR_MAX, "air gap: cannot list the "
		    "network interfaces: %s", strerror(errno));
		return -1;
	}
	for (i = ifs; i != NULL; i = i->ifa_next) {
		if (i->ifa_name == NULL || !(i->ifa_flags & IFF_UP) ||
		    (i->ifa_flags & IFF_LOOPBACK) || in_list(factory, i->ifa_name) ||
		    in_list(seen, i->ifa_name))
			continue;
		snprintf(text, sizeof(text), "interface %s is up", i->ifa_name);
		add(found, text);
		if (strlen(seen) + strlen(i->ifa_name) + 2 < sizeof(seen)) {
			strcat(seen, i->ifa_name);
			strcat(seen, ",");
		}
	}
	freeifaddrs(ifs);
	return found[0] != '\0';
}

int
station_airgap_check(const struct station_config *cfg,
    char err[static AIRGAP_ERR_MAX])
{
	char found[AIRGAP_ERR_MAX];
	int rc;

	err[0] = '\0';
	if (cfg->mode != STATION_MODE_PRODUCTION)
		return 0;
	if ((rc = airgap_scan(cfg->airgap_factory_interfaces, found)) < 0) {
		snprintf(err, AIRGAP_ERR_MAX, "%s", found);
		return -1;
	}
	if (rc == 0)
		return 0;
	if (cfg->airgap_allow_network) {
		snprintf(err, AIRGAP_ERR_MAX, "%s", found);
		return 1;
	}
	snprintf(err, AIRGAP_ERR_MAX, "air gap: %s: production mode refuses "
	    "to run on a networked station; take it off the network, or list "
	    "the factory's own interfaces in [airgap] factory_interfaces "
	    "(allow_network = yes runs anyway, recorded in the audit log)",
	    found);
	return -1;
}
