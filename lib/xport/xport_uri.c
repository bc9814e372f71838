/*
 * xport_uri.c — URI <-> struct xport_addr. Pure string work: no sockets, no resolver.
 * The parser builds into a local and copies out only on success, so a malformed URI
 * never leaves partial state in the caller's struct.
 */
#include "xport.h"

#include "err.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct scheme {
	const char *prefix; /* scheme + "://" */
	enum xport_kind kind;
};

/* Longest prefix first is not needed: every prefix ends in "://", so none is a prefix
 * of another. */
static const struct scheme schemes[] = {
	{ "unix://", XPORT_UNIX },
	{ "tcp://", XPORT_TCP },
	{ "vsock://", XPORT_VSOCK },
	{ "vsock-hybrid://", XPORT_VSOCK_HYBRID },
	{ "shm://", XPORT_SHM },
	{ "shm+pci://", XPORT_SHM_PCI },
};

const char *xport_kind_name(enum xport_kind k)
{
	switch (k) {
	case XPORT_UNIX:
		return "unix";
	case XPORT_TCP:
		return "tcp";
	case XPORT_VSOCK:
		return "vsock";
	case XPORT_VSOCK_HYBRID:
		return "vsock-hybrid";
	case XPORT_SHM:
		return "shm";
	case XPORT_SHM_PCI:
		return "shm+pci";
	}
	return "?";
}

static bool has_ctl(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x20 || ch == 0x7f)
			return true;
	}
	return false;
}

/* Decimal digits only (no sign, no space), 1..10 of them, value in [lo, hi]. */
static bool parse_u32(const char *s, size_t n, uint32_t lo, uint32_t hi, uint32_t *v)
{
	if (n == 0 || n > 10)
		return false;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	if (x < lo || x > hi)
		return false;
	*v = (uint32_t)x;
	return true;
}

/* An absolute path that fits sun_path with its NUL and is more than "/". */
static bool take_path(const char *s, size_t n, char out[XPORT_PATH_MAX])
{
	if (n < 2 || n >= XPORT_PATH_MAX || s[0] != '/' || memchr(s, '\0', n))
		return false;
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

static bool is_hostname_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '.';
}

/* RFC 1123 names, loosely: [A-Za-z0-9.-], labels 1..63, total <= 253. A name made of
 * digits and dots only must be a valid dotted IPv4 address. */
static bool valid_host(const char *h, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	bool numeric = true;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_hostname_char(h[i]))
			return false;
		if (h[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (++label > 63 || (label == 1 && h[i] == '-'))
			return false;
		if (h[i] < '0' || h[i] > '9')
			numeric = false;
	}
	if (label == 0)
		return false; /* trailing dot or empty last label */
	if (numeric) {
		char tmp[254];
		struct in_addr a4;
		memcpy(tmp, h, n);
		tmp[n] = '\0';
		return inet_pton(AF_INET, tmp, &a4) == 1;
	}
	return true;
}

static bool parse_tcp(const char *s, size_t n, struct xport_addr *a)
{
	const char *colon;
	const char *host;
	size_t hlen;
	if (n > 0 && s[0] == '[') {
		const char *rb = memchr(s, ']', n);
		if (!rb || (size_t)(rb - s) + 1 >= n || rb[1] != ':')
			return false;
		host = s + 1;
		hlen = (size_t)(rb - host);
		colon = rb + 1;
		char tmp[64];
		struct in6_addr a6;
		if (hlen == 0 || hlen >= sizeof tmp)
			return false;
		memcpy(tmp, host, hlen);
		tmp[hlen] = '\0';
		if (inet_pton(AF_INET6, tmp, &a6) != 1)
			return false;
	} else {
		colon = memchr(s, ':', n);
		if (!colon)
			return false;
		host = s;
		hlen = (size_t)(colon - s);
		if (!valid_host(host, hlen))
			return false;
	}
	uint32_t port;
	size_t plen = n - (size_t)(colon + 1 - s);
	if (!parse_u32(colon + 1, plen, 1, 65535, &port))
		return false;
	memcpy(a->host, host, hlen);
	a->host[hlen] = '\0';
	a->port = (uint16_t)port;
	return true;
}

static bool parse_cid(const char *s, size_t n, uint32_t *cid)
{
	static const struct {
		const char *name;
		uint32_t cid;
	} names[] = {
		{ "any", XPORT_VSOCK_CID_ANY },
		{ "-1", XPORT_VSOCK_CID_ANY },
		{ "host", XPORT_VSOCK_CID_HOST },
		{ "local", XPORT_VSOCK_CID_LOCAL },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strlen(names[i].name) == n && memcmp(s, names[i].name, n) == 0) {
			*cid = names[i].cid;
			return true;
		}
	}
	return parse_u32(s, n, 0, UINT32_MAX, cid);
}

/* vsock ports: 1..0xFFFFFFFE; 0xFFFFFFFF is VMADDR_PORT_ANY, 0 is not a service. */
#define VPORT_MAX 0xFFFFFFFEu

static bool parse_vsock(const char *s, size_t n, struct xport_addr *a)
{
	const char *colon = memchr(s, ':', n);
	if (!colon)
		return false;
	size_t clen = (size_t)(colon - s);
	return parse_cid(s, clen, &a->cid) &&
	       parse_u32(colon + 1, n - clen - 1, 1, VPORT_MAX, &a->vport);
}

static bool parse_hybrid(const char *s, size_t n, struct xport_addr *a)
{
	const char *colon = NULL;
	for (size_t i = n; i > 0; i--) {
		if (s[i - 1] == ':') {
			colon = s + i - 1;
			break;
		}
	}
	if (!colon)
		return false;
	size_t plen = (size_t)(colon - s);
	return take_path(s, plen, a->path) &&
	       parse_u32(colon + 1, n - plen - 1, 1, VPORT_MAX, &a->vport);
}

static bool hexn(const char *s, size_t n, uint32_t max)
{
	uint32_t v = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		uint32_t d;
		if (ch >= '0' && ch <= '9')
			d = (uint32_t)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (uint32_t)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			d = (uint32_t)(ch - 'A' + 10);
		else
			return false;
		v = v * 16 + d;
	}
	return v <= max;
}

/* PCI address [DDDD:]BB:DD.F — device 0..1f, function 0..7. */
static bool parse_bdf(const char *s, size_t n, struct xport_addr *a)
{
	const char *p = s;
	if (n == 12) {
		if (!hexn(p, 4, 0xffff) || p[4] != ':')
			return false;
		p += 5;
	} else if (n != 7) {
		return false;
	}
	if (!hexn(p, 2, 0xff) || p[2] != ':' || !hexn(p + 3, 2, 0x1f) || p[5] != '.' ||
	    !hexn(p + 6, 1, 7))
		return false;
	memcpy(a->host, s, n);
	a->host[n] = '\0';
	return true;
}

int xport_parse(const char *uri, struct xport_addr *out)
{
	if (!uri || !out)
		return SEVMON_EINVAL;
	size_t len = strnlen(uri, XPORT_URI_MAX);
	if (len == XPORT_URI_MAX || has_ctl(uri, len))
		return SEVMON_EURI;

	struct xport_addr a;
	memset(&a, 0, sizeof a);
	const char *rest = NULL;
	for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
		size_t pl = strlen(schemes[i].prefix);
		if (len >= pl && memcmp(uri, schemes[i].prefix, pl) == 0) {
			a.kind = schemes[i].kind;
			rest = uri + pl;
			break;
		}
	}
	if (!rest)
		return SEVMON_EURI;
	size_t n = len - (size_t)(rest - uri);

	bool ok = false;
	switch (a.kind) {
	case XPORT_UNIX:
	case XPORT_SHM:
		ok = take_path(rest, n, a.path);
		break;
	case XPORT_TCP:
		ok = parse_tcp(rest, n, &a);
		break;
	case XPORT_VSOCK:
		ok = parse_vsock(rest, n, &a);
		break;
	case XPORT_VSOCK_HYBRID:
		ok = parse_hybrid(rest, n, &a);
		break;
	case XPORT_SHM_PCI:
		ok = parse_bdf(rest, n, &a);
		break;
	}
	if (!ok)
		return SEVMON_EURI;
	*out = a;
	return 0;
}

/* A hand-built address may lack its NUL: never read past the arrays. */
#define PATH_FMT_MAX ((int)XPORT_PATH_MAX - 1)
#define HOST_FMT_MAX ((int)XPORT_HOST_MAX - 1)

int xport_format(const struct xport_addr *a, char *buf, size_t cap)
{
	if (!a || !buf || cap == 0)
		return SEVMON_EINVAL;
	int n;
	switch (a->kind) {
	case XPORT_UNIX:
	case XPORT_SHM:
		n = snprintf(buf, cap, "%s://%.*s", xport_kind_name(a->kind), PATH_FMT_MAX, a->path);
		break;
	case XPORT_TCP:
		n = snprintf(buf, cap,
			     memchr(a->host, ':', strnlen(a->host, HOST_FMT_MAX)) ? "tcp://[%.*s]:%u" : "tcp://%.*s:%u",
			     HOST_FMT_MAX, a->host, (unsigned)a->port);
		break;
	case XPORT_VSOCK:
		if (a->cid == XPORT_VSOCK_CID_ANY)
			n = snprintf(buf, cap, "vsock://any:%u", (unsigned)a->vport);
		else
			n = snprintf(buf, cap, "vsock://%u:%u", (unsigned)a->cid,
				     (unsigned)a->vport);
		break;
	case XPORT_VSOCK_HYBRID:
		n = snprintf(buf, cap, "vsock-hybrid://%.*s:%u", PATH_FMT_MAX, a->path,
			     (unsigned)a->vport);
		break;
	case XPORT_SHM_PCI:
		n = snprintf(buf, cap, "shm+pci://%.*s", HOST_FMT_MAX, a->host);
		break;
	default:
		buf[0] = '\0';
		return SEVMON_EINVAL;
	}
	if (n < 0 || (size_t)n >= cap) {
		buf[0] = '\0';
		return SEVMON_ETOOBIG;
	}
	return n;
}
