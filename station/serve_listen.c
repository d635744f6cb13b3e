/*
 * serve_listen.c: where the LAN service listens, and why only there.
 *
 * The station stays air-gapped but for the factory's own bench network
 * (ARCHITECTURE.md, air gap): `station serve` listens on one address of
 * the one interface named by [lan] interface, which must be loopback or
 * one of [airgap] factory_interfaces (the interfaces the air-gap check
 * lets be up). A wildcard address (0.0.0.0, ::) is no interface's
 * address, so it is refused. The socket is also bound to the interface
 * (SO_BINDTODEVICE), so that packets reaching that address through any
 * other interface are not answered.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "station/serve.h"
#include "station/station.h"

int
serve_listen_parse(const char *text, struct sockaddr_storage *ss,
    unsigned *len, char err[static SERVE_MSG_MAX])
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *port;
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	size_t hlen;
	char *end;
	unsigned long p;
	bool bracketed = text[0] == '[';

	memset(ss, 0, sizeof(*ss));
	if (bracketed) {
		colon = strstr(text, "]:");
		port = colon ? colon + 2 : NULL;
		hlen = colon ? (size_t)(colon - text - 1) : 0;
		text++;
	} else {
		colon = strrchr(text, ':');
		port = colon ? colon + 1 : NULL;
		hlen = colon ? (size_t)(colon - text) : 0;
	}
	if (port == NULL || hlen == 0 || hlen >= sizeof(host) || *port == '\0')
		goto bad;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (!bracketed && strchr(host, ':') != NULL)
		goto bad;    /* an IPv6 address needs its brackets */
	errno = 0;
	p = strtoul(port, &end, 10);
	if (errno != 0 || *end != '\0' || p > 65535 || port[0] == '-' ||
	    port[0] == '+')
		goto bad;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)p);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*in6);
		return 0;
	}
bad:
	snprintf(err, SERVE_MSG_MAX, "--listen: expected ADDRESS:PORT (an IPv4 "
	    "address, or an IPv6 address in brackets, and a port 0-65535)");
	return -1;
}

/* listed(list, name): ${name} is in the comma list ${list}. */
static bool
listed(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; *p;) {
		size_t skip = strspn(p, " \t,"), len;

		p += skip;
		len = strcspn(p, " \t,");
		if (len == n && len > 0 && strncmp(p, name, n) == 0)
			return true;
		p += len;
	}
	return false;
}

/* same_addr(a, ss): the interface address ${a} is the one in ${ss}. */
static bool
same_addr(const struct sockaddr *a, const struct sockaddr_storage *ss)
{
	if (a == NULL || a->sa_family != ss->ss_family)
		return false;
	if (a->sa_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)(const void *)a)->
		    sin_addr, &((const struct sockaddr_in *)ss)->sin_addr,
		    sizeof(struct in_addr)) == 0;
	return memcmp(&((const struct sockaddr_in6 *)(const void *)a)->
	    sin6_addr, &((const struct sockaddr_in6 *)ss)->sin6_addr,
	    sizeof(struct in6_addr)) == 0;
}

int
serve_listen_check(const struct station_config *cfg,
    const struct sockaddr_storage *ss, char err[static SERVE_MSG_MAX])
{
	const char *ifname = cfg->lan_interface;
	struct ifaddrs *all = NULL;
	char addr[INET6_ADDRSTRLEN];
	bool found = false, exists = false;

	if (strcmp(ifname, "none") == 0) {
		snprintf(err, SERVE_MSG_MAX, "no [lan] interface is configured; "
		    "set it to the factory interface the devices are on (listed "
		    "in [airgap] factory_interfaces too)");
		return -1;
	}
	if (strcmp(ifname, "lo") != 0 &&
	    !listed(cfg->airgap_factory_interfaces, ifname)) {
		snprintf(err, SERVE_MSG_MAX, "[lan] interface %s is not among "
		    "[airgap] factory_interfaces (%s); the LAN service runs only "
		    "on a factory interface", ifname,
		    cfg->airgap_factory_interfaces);
		return -1;
	}
	if (getifaddrs(&all) != 0) {
		snprintf(err, SERVE_MSG_MAX, "cannot list the network "
		    "interfaces: %s", strerror(errno));
		return -1;
	}
	for (struct ifaddrs *i = all; i != NULL; i = i->ifa_next) {
		if (strcmp(i->ifa_name, ifname) != 0)
			continue;
		exists = true;
		found = found || same_addr(i->ifa_addr, ss);
	}
	freeifaddrs(all);
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
		    addr, sizeof(addr));
	else
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->
		    sin6_addr, addr, sizeof(addr));
	if (!exists)
		snprintf(err, SERVE_MSG_MAX, "[lan] interface %s does not "
		    "exist", ifname);
	else if (!found)
		snprintf(err, SERVE_MSG_MAX, "--listen: %s is not an address of "
		    "[lan] interface %s; listen on one of its own addresses",
		    addr, ifname);
	return exists && found ? 0 : -1;
}

int
serve_listen_socket(const struct station_config *cfg,
    const struct sockaddr_storage *ss, unsigned len, unsigned *port,
    char err[static SERVE_MSG_MAX])
{
	const char *ifname = cfg->lan_interface;
	struct sockaddr_storage got;
	socklen_t glen = sizeof(got);
	int fd, one = 1;

	if ((fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname,
	    (socklen_t)strlen(ifname)) != 0 ||
	    bind(fd, (const struct sockaddr *)ss, len) != 0 ||
	    listen(fd, 128) != 0 ||
	    getsockname(fd, (struct sockaddr *)&got, &glen) != 0)
		goto fail;
	*port = ntohs(got.ss_family == AF_INET ?
	    ((struct sockaddr_in *)&got)->sin_port :
	    ((struct sockaddr_in6 *)&got)->sin6_port);
	return fd;
fail:
	snprintf(err, SERVE_MSG_MAX, "cannot listen on interface %s: %s", ifname,
	    strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}
