/*
 * ids_session.c — IDS policy, evidence verification and the blocking handshake driver.
 */
#include "ids_session.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "frame.h"
#include "shm.h"
#include "xport_msg.h"

void ids_policy_free(struct ids_policy *p)
{
	evidence_policy_free(&p->peer);
	snp_provider_free(p->own);
	p->own = NULL;
	sodium_memzero(&p->key, sizeof p->key);
}

static int flush_out(struct xport_msg *m, struct session *s, int64_t deadline_ns)
{
	const uint8_t *body;
	size_t len;
	while (session_pop_out(s, &body, &len)) {
		int rc = xport_msg_send(m, body, len, deadline_ns);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int ids_session_handshake(int fd, struct session *s, struct ids_policy *pol, int timeout_ms,
			  char *why, size_t whycap)
{
	struct xport_msg m = xport_msg_fd(fd);
	return ids_session_handshake_msg(&m, s, pol, timeout_ms, why, whycap);
}

int ids_session_handshake_msg(struct xport_msg *m, struct session *s, struct ids_policy *pol,
			      int timeout_ms, char *why, size_t whycap)
{
	int64_t deadline = shm_deadline_after_ms(timeout_ms);
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
		rc = flush_out(m, s, deadline);
		if (rc < 0 || session_ready(s))
			break;
		step = s->state == SESSION_HANDSHAKE ? "handshake" : "waiting for the agent's evidence";
		/* exactly one frame: the RPC client that takes the transport next starts at a
		 * frame boundary */
		int n = xport_msg_recv(m, body, FRAME_MAX_BODY, deadline);
		rc = n < 0 ? n : 0;
		if (rc == 0) {
			rc = session_feed(s, body, (size_t)n);
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
