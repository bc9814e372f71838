/*
 * xport.c — the calls of xport.h that are the same for every socket family:
 * listen, accept, the connect state machine and the blocking connect built on it.
 */
#include "xport_impl.h"

#include "clock.h"
#include "err.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

int xport__errno(int e)
{
	switch (e) {
	case EAFNOSUPPORT:
	case EPROTONOSUPPORT:
	case ESOCKTNOSUPPORT:
	case ENODEV: /* vsock: no transport loaded for that CID */
		return SEVMON_ENOTSUP;
	case EADDRINUSE:
		return SEVMON_EEXIST;
	case ENETUNREACH:
	case EHOSTUNREACH:
	case EADDRNOTAVAIL:
		return SEVMON_ECONNREFUSED;
	case ENOTDIR:
		return SEVMON_ENOENT;
	default:
		return sevmon_from_errno(e);
	}
}

static int build_sockaddr(const struct xport_addr *a, struct sockaddr_storage *ss,
			  socklen_t *len)
{
	switch (a->kind) {
	case XPORT_UNIX:
	case XPORT_VSOCK_HYBRID:
		return xport__unix_sockaddr(a->path, ss, len);
	case XPORT_TCP:
		return xport__tcp_sockaddr(a, ss, len);
	case XPORT_VSOCK:
		return xport__vsock_sockaddr(a, ss, len);
	case XPORT_SHM:
	case XPORT_SHM_PCI:
		return SEVMON_ENOTSUP;
	}
	return SEVMON_EINVAL;
}

static int new_socket(const struct sockaddr_storage *ss, int *fd)
{
	int s = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return xport__errno(errno);
	*fd = s;
	return 0;
}

int xport__from_sockaddr(const struct sockaddr_storage *ss, socklen_t len,
			 struct xport_addr *out)
{
	struct xport_addr a;
	memset(&a, 0, sizeof a);
	switch (ss->ss_family) {
	case AF_INET: {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		if (len < sizeof *s4)
			return SEVMON_EINVAL;
		a.kind = XPORT_TCP;
		inet_ntop(AF_INET, &s4->sin_addr, a.host, sizeof a.host);
		a.port = ntohs(s4->sin_port);
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		if (len < sizeof *s6)
			return SEVMON_EINVAL;
		a.kind = XPORT_TCP;
		inet_ntop(AF_INET6, &s6->sin6_addr, a.host, sizeof a.host);
		a.port = ntohs(s6->sin6_port);
		break;
	}
	case AF_VSOCK: {
		const struct sockaddr_vm *vm = (const struct sockaddr_vm *)ss;
		if (len < sizeof *vm)
			return SEVMON_EINVAL;
		a.kind = XPORT_VSOCK;
		a.cid = vm->svm_cid;
		a.vport = vm->svm_port;
		break;
	}
	case AF_UNIX: {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)ss;
		size_t off = offsetof(struct sockaddr_un, sun_path);
		a.kind = XPORT_UNIX;
		if (len > off) {
			size_t n = strnlen(sun->sun_path, len - off);
			if (n >= sizeof a.path)
				return SEVMON_EINVAL;
			memcpy(a.path, sun->sun_path, n);
		}
		break;
	}
	default:
		return SEVMON_ENOTSUP;
	}
	*out = a;
	return 0;
}

int xport_sockname(int fd, struct xport_addr *out)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return xport__errno(errno);
	return xport__from_sockaddr(&ss, len, out);
}

int xport_listen(const struct xport_addr *a, int backlog, int *fd)
{
	if (!a || !fd || backlog < 0)
		return SEVMON_EINVAL;
	*fd = -1;
	if (a->kind == XPORT_VSOCK_HYBRID)
		return SEVMON_ENOTSUP; /* the VMM listens there, we only connect */
	struct sockaddr_storage ss;
	socklen_t len;
	int rc = build_sockaddr(a, &ss, &len);
	if (rc < 0)
		return rc;
	if (a->kind == XPORT_UNIX && (rc = xport__unix_clear_stale(a->path)) < 0)
		return rc;
	int s = -1;
	if ((rc = new_socket(&ss, &s)) < 0)
		return rc;
	int one = 1;
	if (a->kind == XPORT_TCP &&
	    (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	     (ss.ss_family == AF_INET6 &&
	      setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0)))
		goto fail;
	if (bind(s, (struct sockaddr *)&ss, len) != 0 || listen(s, backlog) != 0)
		goto fail;
	*fd = s;
	return 0;
fail:
	rc = xport__errno(errno);
	close(s);
	return rc;
}

int xport_accept(int lfd, int *fd, char *peer, size_t peercap)
{
	if (!fd)
		return SEVMON_EINVAL;
	*fd = -1;
	if (peer && peercap)
		peer[0] = '\0';
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int s = -1;
	do
		s = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	while (s < 0 && errno == EINTR);
	if (s < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED)
			return 0;
		return xport__errno(errno);
	}
	if (peer && peercap) {
		struct xport_addr pa;
		if (ss.ss_family == AF_UNIX)
			xport__unix_peer(s, peer, peercap);
		else if (xport__from_sockaddr(&ss, len, &pa) != 0 ||
			 xport_format(&pa, peer, peercap) < 0)
			snprintf(peer, peercap, "?");
	}
	*fd = s;
	return 1;
}

int xport_connect_remaining_ms(const struct xport_connecting *c)
{
	int64_t left = c->deadline_ms - clock_mono_ms();
	if (left <= 0)
		return 0;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

/* After the socket connect: hybrid goes on to its handshake, everything else is done. */
static int connected(struct xport_connecting *c, int *want_events)
{
	if (c->kind == XPORT_VSOCK_HYBRID) {
		c->state = XPORT_CS_HYBRID_SEND;
		c->have = 0;
		return xport__hybrid_step(c, want_events);
	}
	c->state = XPORT_CS_DONE;
	*want_events = 0;
	return 0;
}

/* During connect a reset is a refusal (vsock answers a port without listener so). */
static int connect_errno(int e)
{
	return e == ECONNRESET ? SEVMON_ECONNREFUSED : xport__errno(e);
}

static int fail(struct xport_connecting *c, int err)
{
	c->state = XPORT_CS_FAILED;
	c->err = err;
	return err;
}

static int set_nonblock(int fd, int on)
{
	return ioctl(fd, FIONBIO, &on) == 0 ? 0 : -1;
}

/* A unix connect never reports EINPROGRESS: it succeeds, is refused, or (backlog
 * full) fails with EAGAIN at once when non-blocking. To give the blocking connect a
 * deadline here, wait in blocking mode bounded by SO_SNDTIMEO, which Linux applies to
 * that wait, then switch back. Returns connect's result with errno in *err. */
static int unix_connect_bounded(int s, const struct sockaddr_storage *ss, socklen_t len,
				const struct xport_connecting *c, int *err)
{
	if (set_nonblock(s, 0) != 0) {
		*err = errno;
		return -1;
	}
	int rc = -1;
	*err = ETIMEDOUT;
	for (int ms; (ms = xport_connect_remaining_ms(c)) > 0;) {
		struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
		if (setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) {
			*err = errno;
			break;
		}
		rc = connect(s, (const struct sockaddr *)ss, len);
		*err = errno;
		if (rc == 0 || errno != EINTR)
			break; /* after a signal: again, with what is left of the deadline */
	}
	struct timeval zero = { 0, 0 };
	if (set_nonblock(s, 1) != 0 ||
	    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &zero, sizeof zero) != 0) {
		*err = errno;
		return -1;
	}
	if (rc < 0 && *err == EAGAIN)
		*err = ETIMEDOUT; /* the backlog stayed full until the deadline */
	return rc;
}

/* Shared by the async start and the blocking connect (bounded_unix: wait for a full
 * unix backlog until the deadline instead of failing with SEVMON_EBUSY). */
static int start(const struct xport_addr *a, int timeout_ms, int bounded_unix,
		 struct xport_connecting *c, int *fd, int *want_events)
{
	if (!a || !c || !fd || !want_events || timeout_ms <= 0)
		return SEVMON_EINVAL;
	*fd = -1;
	*want_events = 0;
	memset(c, 0, sizeof *c);
	c->fd = -1;
	c->kind = a->kind;
	c->vport = a->vport;
	c->deadline_ms = clock_mono_ms() + timeout_ms;

	struct sockaddr_storage ss;
	socklen_t len;
	int rc = build_sockaddr(a, &ss, &len);
	if (rc < 0)
		return fail(c, rc);
	if (a->kind == XPORT_VSOCK && a->cid == XPORT_VSOCK_CID_ANY)
		return fail(c, SEVMON_EINVAL); /* "any" is for listening only */
	int s = -1;
	if ((rc = new_socket(&ss, &s)) < 0)
		return fail(c, rc);

	if (ss.ss_family == AF_VSOCK) {
		/* vsock has its own connect timeout (2 s by default) that would cut a longer
		 * deadline short; ours governs. Best effort: step enforces it regardless. */
		struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
		(void)setsockopt(s, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof tv);
	}
	int crc, e;
	if (ss.ss_family == AF_UNIX && bounded_unix) {
		crc = unix_connect_bounded(s, &ss, len, c, &e);
	} else {
		crc = connect(s, (struct sockaddr *)&ss, len);
		e = errno;
	}
	c->fd = s;
	*fd = s;
	if (crc == 0 && (rc = connected(c, want_events)) >= 0)
		return rc;
	if (crc == 0)
		e = 0; /* the hybrid handshake failed at once: rc says why */
	if (e == EINPROGRESS || e == EINTR) {
		c->state = XPORT_CS_CONNECTING;
		*want_events = POLLOUT;
		return XPORT_IN_PROGRESS;
	}
	close(s);
	c->fd = -1;
	*fd = -1;
	if (crc == 0)
		return fail(c, rc);
	if (ss.ss_family == AF_UNIX && e == EAGAIN)
		return fail(c, SEVMON_EBUSY); /* async: full unix backlog, see xport.h */
	return fail(c, connect_errno(e));
}

int xport_connect_start(const struct xport_addr *a, int timeout_ms, struct xport_connecting *c,
			int *fd, int *want_events)
{
	return start(a, timeout_ms, 0, c, fd, want_events);
}

int xport_connect_step(struct xport_connecting *c, int *want_events)
{
	if (!c || !want_events)
		return SEVMON_EINVAL;
	*want_events = 0;
	switch (c->state) {
	case XPORT_CS_DONE:
		return 0;
	case XPORT_CS_FAILED:
		return c->err ? c->err : SEVMON_EINVAL;
	case XPORT_CS_CONNECTING: {
		int soerr = 0;
		socklen_t l = sizeof soerr;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &l) != 0)
			return fail(c, xport__errno(errno));
		if (soerr != 0)
			return fail(c, connect_errno(soerr));
		/* Writable and no error means connected; a spurious wake-up is neither. */
		struct pollfd p = { c->fd, POLLOUT, 0 };
		if (poll(&p, 1, 0) == 1 && (p.revents & POLLOUT))
			return connected(c, want_events);
		break;
	}
	case XPORT_CS_HYBRID_SEND:
	case XPORT_CS_HYBRID_RECV: {
		int rc = xport__hybrid_step(c, want_events);
		if (rc < 0)
			return fail(c, rc);
		if (rc == 0)
			return 0; /* xport__hybrid_step marked it DONE */
		break;
	}
	default:
		return SEVMON_EINVAL;
	}
	if (xport_connect_remaining_ms(c) == 0)
		return fail(c, SEVMON_ETIMEDOUT);
	if (c->state == XPORT_CS_CONNECTING)
		*want_events = POLLOUT;
	return XPORT_IN_PROGRESS;
}

int xport_connect(const struct xport_addr *a, int timeout_ms, int *fd, uint32_t *hostport)
{
	struct xport_connecting c = { .fd = -1 };
	int want;
	if (!fd)
		return SEVMON_EINVAL;
	if (hostport)
		*hostport = 0;
	int rc = start(a, timeout_ms, 1, &c, fd, &want);
	while (rc == XPORT_IN_PROGRESS) {
		struct pollfd p = { c.fd, (short)want, 0 };
		int n = poll(&p, 1, xport_connect_remaining_ms(&c));
		if (n < 0 && errno != EINTR) {
			rc = xport__errno(errno);
			break;
		}
		rc = xport_connect_step(&c, &want);
	}
	if (rc < 0) {
		if (c.fd >= 0)
			close(c.fd);
		*fd = -1;
		return rc;
	}
	if (hostport)
		*hostport = c.hostport;
	return 0;
}
