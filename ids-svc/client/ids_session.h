/*
 * ids_session.h — the IDS side of the sevmon channel (lib/channel/session.h): its policy, the
 * evidence verifier (snp_verify) and a blocking handshake driver for the CLI.
 *
 * The driver reads exactly one frame at a time (header, then body) and stops as soon
 * as the session is READY, so no byte of the RPC stream is read ahead: the agent sends
 * nothing after its evidence until it receives a request (see session.h). The RPC
 * client can then take the fd. sevmond drives the same lib/channel/session.h machine from
 * libuv instead of this function.
 */
#ifndef SEVMON_IDS_SESSION_H
#define SEVMON_IDS_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "evidence_verify.h"
#include "noise.h"
#include "session.h"
#include "snp_provider.h"
#include "snp_verify.h"

struct ids_policy {
	struct noise_keypair key;
	bool has_pin;
	uint8_t pin[NOISE_DH_LEN];
	struct evidence_policy peer;   /* what the agent's evidence must satisfy */
	struct snp_provider *own;      /* owned; NULL: the IDS sends no evidence */
};

/* Frees peer.trust and own, wipes the key. */
void ids_policy_free(struct ids_policy *p);

/*
 * Run the handshake and evidence exchange on a connected fd (blocking or not) within
 * timeout_ms. s is set up here from pol. Returns 0 with s READY, or a negative
 * SEVMON_E* with why (a line) filled: ETIMEDOUT, ECONNRESET (peer closed: e.g. the
 * agent refused our key), the session's codes (EDENIED, EATTEST, EAUTH, ...).
 */
int ids_session_handshake(int fd, struct session *s, struct ids_policy *pol, int timeout_ms,
			  char *why, size_t whycap);
/* The same over any message pipe (a stream fd or a shared-memory session). */
struct xport_msg;
int ids_session_handshake_msg(struct xport_msg *m, struct session *s, struct ids_policy *pol,
			      int timeout_ms, char *why, size_t whycap);

#endif
