/*
 * xport_hybrid.c — the host side of hybrid vsock (Firecracker, Cloud Hypervisor,
 * vhost-device-vsock): after connecting to the VMM's Unix socket,
 *
 *   -> "CONNECT <guest port>\n"
 *   <- "OK <host port>\n"          then the stream belongs to the guest's listener
 *
 * When no guest listener exists the VMM closes the socket without a reply. The reply
 * is read one byte at a time so not a byte of the guest's stream after the "\n" is
 * consumed here, and never more than XPORT_HYBRID_LINE_MAX bytes are read.
 */
#include "xport_impl.h"

#include "err.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* "OK" SP 1..10 digits LF, the number a u32. Anything else is not this protocol. */
static int parse_ok(const char *line, size_t n, uint32_t *hostport)
{
	if (n < 5 || memcmp(line, "OK ", 3) != 0 || line[n - 1] != '\n')
		return SEVMON_EPROTO;
	size_t digits = n - 4;
	if (digits > 10)
		return SEVMON_EPROTO;
	uint64_t v = 0;
	for (size_t i = 0; i < digits; i++) {
		char ch = line[3 + i];
		if (ch < '0' || ch > '9')
			return SEVMON_EPROTO;
		v = v * 10 + (uint64_t)(ch - '0');
	}
	if (v > UINT32_MAX)
		return SEVMON_EPROTO;
	*hostport = (uint32_t)v;
	return 0;
}

static int send_request(struct xport_connecting *c, int *want_events)
{
	char req[XPORT_HYBRID_LINE_MAX];
	int n = snprintf(req, sizeof req, "CONNECT %u\n", (unsigned)c->vport);
	if (n < 0 || (size_t)n >= sizeof req)
		return SEVMON_EINTERNAL;
	while (c->have < (size_t)n) {
		ssize_t w = send(c->fd, req + c->have, (size_t)n - c->have, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			*want_events = POLLOUT;
			return XPORT_IN_PROGRESS;
		}
		if (w < 0)
			return errno == EPIPE || errno == ECONNRESET ? SEVMON_ECONNREFUSED
								      : xport__errno(errno);
		c->have += (size_t)w;
	}
	c->state = XPORT_CS_HYBRID_RECV;
	c->have = 0;
	return 0;
}

static int read_reply(struct xport_connecting *c, int *want_events)
{
	for (;;) {
		if (c->have == sizeof c->line)
			return SEVMON_EPROTO; /* no "\n" within the bound */
		ssize_t r = recv(c->fd, c->line + c->have, 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			*want_events = POLLIN;
			return XPORT_IN_PROGRESS;
		}
		if (r < 0)
			return errno == ECONNRESET ? SEVMON_ECONNREFUSED : xport__errno(errno);
		if (r == 0) /* closed before replying: the guest port has no listener */
			return c->have ? SEVMON_EPROTO : SEVMON_ECONNREFUSED;
		if (c->line[c->have++] == '\n')
			break;
	}
	int rc = parse_ok(c->line, c->have, &c->hostport);
	if (rc == 0)
		c->state = XPORT_CS_DONE;
	return rc;
}

int xport__hybrid_step(struct xport_connecting *c, int *want_events)
{
	*want_events = 0;
	if (c->state == XPORT_CS_HYBRID_SEND) {
		int rc = send_request(c, want_events);
		if (rc != 0)
			return rc;
	}
	if (c->state != XPORT_CS_HYBRID_RECV)
		return SEVMON_EINTERNAL;
	return read_reply(c, want_events);
}
