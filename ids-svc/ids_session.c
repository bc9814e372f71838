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

/* A chain file from the trust dir: ASK + ARK PEM, a few KB. */
#define IDS_CHAIN_FILE_MAX (16u * 1024u)

static int verify_with_chain(struct ids_policy *p, const struct snp_policy *pol,
			     const struct session_evidence *ev, const uint8_t *chain, size_t clen)
{
	return snp_verify(pol, p->trust, ev->report, SNP_REPORT_LEN, ev->vcek, ev->vcek_len, chain,
			  clen, &p->last);
}

static int load_chain(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return SEVMON_ENOENT;
	uint8_t *b = malloc(IDS_CHAIN_FILE_MAX);
	size_t n = b ? fread(b, 1, IDS_CHAIN_FILE_MAX, f) : 0;
	fclose(f);
	if (!b)
		return SEVMON_ENOMEM;
	*out = b;
	*len = n;
	return 0;
}

int ids_verify_evidence(void *ctx, const struct session_evidence *ev,
			const uint8_t report_data[SESSION_BINDING_LEN],
			const uint8_t peer_key[NOISE_DH_LEN], char *why, size_t whycap)
{
	struct ids_policy *p = ctx;
	(void)peer_key; /* bound through h into report_data */
	struct snp_policy pol;
	snp_policy_init(&pol);
	pol.measurements = (const uint8_t(*)[SNP_MEASUREMENT_LEN])p->measurements;
	pol.n_measurements = p->n_measurements;
	pol.report_data = report_data;
	if (ev->vcek_len == 0) {
		snprintf(why, whycap, "evidence carries no VCEK certificate");
		return SEVMON_EATTEST;
	}
	int rc;
	if (ev->chain_len) {
		rc = verify_with_chain(p, &pol, ev, ev->chain, ev->chain_len);
	} else {
		/* Real SNP guests cannot fetch the ASK/ARK: use the shipped AMD chains. */
		static const char *const files[] = { "amd-milan.pem", "amd-genoa.pem",
						     "amd-turin.pem" };
		rc = SEVMON_EATTEST;
		snprintf(p->last.why, sizeof p->last.why, "no AMD chain in %s", p->trust_dir);
		for (size_t i = 0; i < 3 && rc < 0; i++) {
			char path[1024];
			uint8_t *chain;
			size_t clen;
			snprintf(path, sizeof path, "%s/%s", p->trust_dir, files[i]);
			if (load_chain(path, &chain, &clen) < 0)
				continue;
			rc = verify_with_chain(p, &pol, ev, chain, clen);
			free(chain);
		}
	}
	if (rc < 0) {
		snprintf(why, whycap, "%s: %s", snp_reason_name(p->last.reason), p->last.why);
		return rc;
	}
	return 0;
}

void ids_policy_free(struct ids_policy *p)
{
	snp_trust_free(p->trust);
	snp_provider_free(p->own);
	p->trust = NULL;
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
		.verify = ids_verify_evidence,
		.verify_ctx = pol,
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
