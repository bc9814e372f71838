/*
 * xport_resolve.c — host names to numeric addresses. The only getaddrinfo user in the
 * transport layer, kept apart so the static agent (numeric addresses only) does not
 * link the resolver, which static glibc can only half support (NSS modules).
 */
#include "xport.h"

#include "err.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static int is_numeric(const char *h)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

int xport_resolve(const struct xport_addr *a, struct xport_addr *out)
{
	if (!a || !out)
		return SEVMON_EINVAL;
	if (a->kind != XPORT_TCP || is_numeric(a->host)) {
		*out = *a;
		return 0;
	}
	struct addrinfo hints;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	struct addrinfo *res = NULL;
	int g = getaddrinfo(a->host, NULL, &hints, &res);
	if (g == EAI_MEMORY)
		return SEVMON_ENOMEM;
	if (g != 0 || !res)
		return SEVMON_ENOENT;
	struct xport_addr r = *a;
	const void *ip = res->ai_family == AF_INET
				 ? (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr
				 : (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr;
	const char *ok = inet_ntop(res->ai_family, ip, r.host, sizeof r.host);
	freeaddrinfo(res);
	if (!ok)
		return SEVMON_EINTERNAL;
	*out = r;
	return 0;
}
