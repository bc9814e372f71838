/*
 * ids_session.c — IDS policy, evidence verification and the blocking handshake driver.
 */
#include "ids_session.h"

#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "frame.h"

void ids_policy_free(struct ids_policy *p)
{
	evidence_policy_free(&p->peer);
	snp_provider_free(p->own);
	p->own = NULL;
	sodium_memzero(&p->key, sizeof p->key);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for fd to be ready for ev until deadline. */
static int wait_fd(int fd, short ev, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return SEVMON_ETIMEDOUT;
		struct pollfd pfd = { .fd = fd, .events = ev };
		int r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return SEVMON_ESYS;
		if (r > 0)
			return 0;
	}
}

static int read_exact(int fd, uint8_t *p, size_t n, int64_t deadline)
{
	while (n) {
		ssize_t r = recv(fd, p, n, MSG_DONTWAIT);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
			continue;
		}
		if (r == 0)
			return SEVMON_ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return sevmon_from_errno(errno) == SEVMON_ESYS ? SEVMON_ECONNRESET
								       : sevmon_from_errno(errno);
		int rc = wait_fd(fd, POLLIN, deadline);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int write_frame(int fd, const uint8_t *body, size_t len, int64_t deadline)
{
	uint8_t hdr[FRAME_HDR_LEN];
	hdr[0] = (uint8_t)(len >> 8);
	hdr[1] = (uint8_t)len;
	const uint8_t *parts[2] = { hdr, body };
	size_t lens[2] = { FRAME_HDR_LEN, len };
	for (int i = 0; i < 2; i++) {
		const uint8_t *p = parts[i];
		size_t n = lens[i];
		while (n) {
			ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w > 0) {
				p += w;
				n -= (size_t)w;
				continue;
			}
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				int rc = wait_fd(fd, POLLOUT, deadline);
				if (rc < 0)
					return rc;
				continue;
			}
			return SEVMON_ECONNRESET;
		}
	}
	return 0;
}

static int flush_out(int fd, struct session *s, int64_t deadline)
{
	const uint8_t *body;
	size_t len;
	while (session_pop_out(s, &body, &len)) {
		int rc = write_frame(fd, body, len, deadline);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int ids_session_handshake(int fd, struct session *s, struct ids_policy *pol, int timeout_ms,
			  char *why, size_t whycap)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct session_config cfg = {
		.role = SESSION_IDS,
		.key = &pol->key,
		.pin = pol->has_pin ? pol->pin : NULL,
		.attest = pol->own ? snp_provider_attest : NULL,
		.attest_ctx = pol->own,
		.verify = evidence_verify,
		.verify_ctx = &pol->peer,
	};
	uint8_t *body = malloc(FRAME_MAX_BODY);
	if (!body)
		return SEVMON_ENOMEM;
	const char *step = "handshake";
	int rc = session_init(s, &cfg);
	while (rc == 0) {
		rc = flush_out(fd, s, deadline);
		if (rc < 0 || session_ready(s))
			break;
		uint8_t hdr[FRAME_HDR_LEN];
		step = s->state == SESSION_HANDSHAKE ? "handshake" : "waiting for the agent's evidence";
		rc = read_exact(fd, hdr, sizeof hdr, deadline);
		size_t len = (size_t)hdr[0] << 8 | hdr[1];
		if (rc == 0 && len == 0)
			rc = SEVMON_EPROTO;
		if (rc == 0)
			rc = read_exact(fd, body, len, deadline);
		if (rc == 0) {
			rc = session_feed(s, body, len);
			if (rc < 0) {
				snprintf(why, whycap, "%s", session_why(s));
				goto out;
			}
		}
	}
	if (rc == SEVMON_ECONNRESET && s->state == SESSION_WAIT_EVIDENCE)
		snprintf(why, whycap, "%s: the agent closed the connection (is this IDS key on "
			 "its --allow list? see the agent's log)", step);
	else if (rc < 0)
		snprintf(why, whycap, "%s: %s", step, sevmon_strerror(rc));
out:
	if (rc < 0)
		session_wipe(s);
	sodium_memzero(body, FRAME_MAX_BODY);
	free(body);
	return rc;
}
