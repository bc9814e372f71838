/*
 * xport_tcp.c — TCP over IPv4 and IPv6, numeric addresses only (names: xport_resolve.c).
 */
#include "xport_impl.h"

#include "err.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

int xport__tcp_sockaddr(const struct xport_addr *a, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[XPORT_HOST_MAX];
	size_t n = strnlen(a->host, sizeof host);
	if (n == sizeof host)
		return SEVMON_EURI;
	memcpy(host, a->host, n + 1);
	memset(ss, 0, sizeof *ss);
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(a->port);
		*len = sizeof *s4;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a->port);
		*len = sizeof *s6;
		return 0;
	}
	/* A host name: the caller must go through xport_resolve first. */
	return SEVMON_EURI;
}
