/*
 * ivshmem_peer.c — a host process as a peer of an ivshmem server (lib/xport/ivshmem.h):
 * reads the server's messages (steps 1-6), keeps the table of peers' eventfds, rings and
 * drains. Everything the server sends is checked; a violation latches EPROTO.
 */
#include "ivshmem.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"

/* Room for a few fds in one recvmsg: the protocol allows one per message, more are a
 * violation, but they must still be received to be closed. */
#define PEER_CMSG_FDS 8

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void ivshmem_peer_init(struct ivshmem_peer *p, int sock)
{
	memset(p, 0, sizeof *p);
	p->sock = sock;
	p->id = -1;
	p->shm_fd = -1;
	p->pend_fd = -1;
	for (unsigned i = 0; i < IVSHMEM_MAX_VECTORS; i++)
		p->own[i] = -1;
}

static void entry_close(struct ivshmem_peer_entry *e)
{
	for (unsigned v = 0; v < e->nvec; v++)
		close_fd(&e->fd[v]);
	e->nvec = 0;
}

void ivshmem_peer_close(struct ivshmem_peer *p)
{
	close_fd(&p->sock);
	close_fd(&p->shm_fd);
	close_fd(&p->pend_fd);
	for (unsigned i = 0; i < p->nown; i++)
		close_fd(&p->own[i]);
	p->nown = 0;
	for (unsigned i = 0; i < p->npeers; i++)
		entry_close(&p->peers[i]);
	p->npeers = 0;
}

static int fail(struct ivshmem_peer *p, int err)
{
	if (!p->err)
		p->err = err;
	return p->err;
}

static struct ivshmem_peer_entry *find(struct ivshmem_peer *p, uint32_t id)
{
	for (unsigned i = 0; i < p->npeers; i++)
		if (p->peers[i].id == id)
			return &p->peers[i];
	return NULL;
}

const struct ivshmem_peer_entry *ivshmem_peer_find(const struct ivshmem_peer *p, uint32_t id)
{
	return find((struct ivshmem_peer *)p, id);
}

/* One whole message: value v, with fd (-1 for none; ours to keep or close). */
static int on_message(struct ivshmem_peer *p, int64_t v, int fd)
{
	if (!p->version_seen) { /* 1. version */
		if (v != IVSHMEM_PROTO_VERSION || fd >= 0)
			goto bad;
		p->version_seen = 1;
		return 0;
	}
	if (p->id < 0) { /* 2. own id */
		if (v < 0 || v > (int64_t)IVSHMEM_ID_MAX || fd >= 0)
			goto bad;
		p->id = v;
		return 0;
	}
	if (!p->shm_seen) { /* 3. -1 with the shm fd */
		if (v != -1 || fd < 0)
			goto bad;
		p->shm_fd = fd;
		p->shm_seen = 1;
		return 0;
	}
	if (v < 0 || v > (int64_t)IVSHMEM_ID_MAX)
		goto bad;
	if (v == p->id) { /* 5. own eventfds */
		if (fd < 0 || p->nown >= IVSHMEM_MAX_VECTORS)
			goto bad;
		(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		p->own[p->nown++] = fd;
		return 0;
	}
	struct ivshmem_peer_entry *e = find(p, (uint32_t)v);
	if (fd < 0) { /* 6. a peer left */
		if (e) {
			entry_close(e);
			*e = p->peers[--p->npeers];
		}
		return 0;
	}
	/* 4 / 6. a peer's next vector */
	if (!e) {
		if (p->npeers >= IVSHMEM_MAX_PEERS)
			goto bad;
		e = &p->peers[p->npeers++];
		memset(e, 0, sizeof *e);
		e->id = (uint16_t)v;
	}
	if (e->nvec >= IVSHMEM_MAX_VECTORS)
		goto bad;
	e->fd[e->nvec++] = fd;
	return 0;
bad:
	if (fd >= 0)
		close(fd);
	return fail(p, SEVMON_EPROTO);
}

/* One recvmsg: up to the rest of the current message. Returns bytes (> 0), 0 at EOF,
 * -EAGAIN-ish as SEVMON_ETIMEDOUT when nothing is there, or an error. */
static int recv_some(struct ivshmem_peer *p)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * PEER_CMSG_FDS)];
	} ctl;
	struct iovec iov = { p->buf + p->have, sizeof p->buf - p->have };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
			    .msg_controllen = sizeof ctl.b };
	ssize_t n = recvmsg(p->sock, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? SEVMON_ETIMEDOUT
										: SEVMON_ESYS;
	int bad = (m.msg_flags & MSG_CTRUNC) != 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
			if (p->pend_fd < 0 && !bad)
				p->pend_fd = fd;
			else {
				close(fd);
				bad = 1; /* two fds for one message */
			}
		}
	}
	if (bad)
		return fail(p, SEVMON_EPROTO);
	return (int)n;
}

int ivshmem_peer_update(struct ivshmem_peer *p)
{
	if (p->err)
		return p->err;
	while (p->sock >= 0) {
		int n = recv_some(p);
		if (n == SEVMON_ETIMEDOUT)
			return 0;
		if (n < 0)
			return n == SEVMON_ESYS ? fail(p, SEVMON_EPROTO) : n;
		if (n == 0) {
			/* The server went away: what we have keeps working (the spec lets peers
			 * go on); a message cut in half is a violation. */
			close_fd(&p->sock);
			if (p->have || p->pend_fd >= 0)
				return fail(p, SEVMON_EPROTO);
			return 0;
		}
		p->have += (size_t)n;
		if (p->have < sizeof p->buf)
			continue;
		uint64_t u = 0;
		for (int i = 7; i >= 0; i--)
			u = u << 8 | p->buf[i];
		int fd = p->pend_fd;
		p->pend_fd = -1;
		p->have = 0;
		int rc = on_message(p, (int64_t)u, fd);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int ivshmem_peer_connect(struct ivshmem_peer *p, const char *socket_path, int64_t deadline_ns)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int rc;

	ivshmem_peer_init(p, -1);
	if (strlen(socket_path) >= sizeof a.sun_path)
		return SEVMON_EINVAL;
	memcpy(a.sun_path, socket_path, strlen(socket_path) + 1);
	if ((p->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return SEVMON_ESYS;
	if (connect(p->sock, (struct sockaddr *)&a, sizeof a) < 0) {
		rc = errno == ENOENT ? SEVMON_ENOENT
		     : errno == ECONNREFUSED ? SEVMON_ECONNREFUSED : SEVMON_ESYS;
		goto out;
	}
	for (;;) {
		if ((rc = ivshmem_peer_update(p)) < 0)
			goto out;
		if (p->nown >= 1)
			return 0;
		if (p->sock < 0) {
			rc = SEVMON_EPROTO; /* closed before the setup was complete */
			goto out;
		}
		int64_t left = deadline_ns - clock_mono_ns();
		if (left <= 0) {
			rc = SEVMON_ETIMEDOUT;
			goto out;
		}
		struct pollfd pf = { p->sock, POLLIN, 0 };
		int ms = (int)((left + 999999) / 1000000);
		if (poll(&pf, 1, ms) < 0 && errno != EINTR) {
			rc = SEVMON_ESYS;
			goto out;
		}
	}
out:
	ivshmem_peer_close(p);
	return rc;
}

int ivshmem_peer_ring(struct ivshmem_peer *p, uint32_t id, unsigned vector)
{
	const struct ivshmem_peer_entry *e = find(p, id);
	if (!e || vector >= e->nvec) {
		(void)ivshmem_peer_update(p); /* it may have connected since */
		e = find(p, id);
		if (!e || vector >= e->nvec)
			return SEVMON_ENOENT;
	}
	uint64_t one = 1;
	if (write(e->fd[vector], &one, sizeof one) != (ssize_t)sizeof one && errno != EAGAIN)
		return SEVMON_ESYS; /* EAGAIN: the counter is saturated, the peer is rung anyway */
	return 0;
}

uint64_t ivshmem_peer_drain(struct ivshmem_peer *p, unsigned vector)
{
	uint64_t n = 0;
	if (vector >= p->nown || read(p->own[vector], &n, sizeof n) != (ssize_t)sizeof n)
		return 0;
	return n;
}
