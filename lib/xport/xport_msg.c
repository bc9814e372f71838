/*
 * xport_msg.c — one frame body at a time over a stream fd or a shm session, blocking with
 * a deadline (see xport_msg.h).
 */
#include "xport_msg.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "frame.h"
#include "rbuf.h"
#include "shm.h"

static int wait_fd(int fd, short ev, int64_t deadline_ns)
{
	for (;;) {
		int64_t left = deadline_ns - clock_mono_ns();
		if (left <= 0)
			return SEVMON_ETIMEDOUT;
		struct pollfd p = { .fd = fd, .events = ev };
		int n = poll(&p, 1, (int)((left + 999999) / 1000000));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return sevmon_from_errno(errno);
	}
}

static int write_all(int fd, const uint8_t *p, size_t n, int64_t deadline_ns)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == ENOTSOCK)
			w = write(fd, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int rc = wait_fd(fd, POLLOUT, deadline_ns);
			if (rc)
				return rc;
			continue;
		}
		return SEVMON_ECONNRESET;
	}
	return 0;
}

static int read_exact(int fd, uint8_t *p, size_t n, int64_t deadline_ns)
{
	while (n) {
		/* Wait first: the fd may be blocking (an inherited socket), and a stalled peer
		 * must meet the deadline, not a read that never returns. */
		int w = wait_fd(fd, POLLIN, deadline_ns);
		if (w)
			return w;
		ssize_t r = read(fd, p, n);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
			continue;
		}
		if (r == 0)
			return SEVMON_ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			int rc = wait_fd(fd, POLLIN, deadline_ns);
			if (rc)
				return rc;
			continue;
		}
		return SEVMON_ECONNRESET;
	}
	return 0;
}

int xport_msg_send(struct xport_msg *m, const uint8_t *body, size_t len, int64_t deadline_ns)
{
	uint8_t hdr[FRAME_HDR_LEN];
	int rc;

	if (!body || len == 0)
		return SEVMON_EINVAL;
	if (len > FRAME_MAX_BODY)
		return SEVMON_ETOOBIG;
	if (m->shm)
		return shm_conn_send(m->shm, body, len, deadline_ns);
	if ((rc = frame_header_write(hdr, len)) || (rc = write_all(m->fd, hdr, sizeof hdr, deadline_ns)))
		return rc;
	return write_all(m->fd, body, len, deadline_ns);
}

int xport_msg_recv(struct xport_msg *m, uint8_t *buf, size_t cap, int64_t deadline_ns)
{
	uint8_t hdr[FRAME_HDR_LEN];
	int rc;

	if (cap < FRAME_MAX_BODY)
		return SEVMON_EINVAL;
	if (m->shm)
		return shm_conn_recv(m->shm, buf, cap, deadline_ns);
	if ((rc = read_exact(m->fd, hdr, sizeof hdr, deadline_ns)))
		return rc;
	size_t len = load_be16(hdr);
	if (len == 0)
		return SEVMON_EPROTO;
	if ((rc = read_exact(m->fd, buf, len, deadline_ns)))
		return rc;
	return (int)len;
}
