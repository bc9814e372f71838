/*
 * evidence_verify.h — verify a peer's channel evidence (lib/channel/session.h) with snp_verify:
 * the verifier both the IDS (agent evidence) and the agent (IDS evidence) use.
 */
#ifndef SEVMON_EVIDENCE_VERIFY_H
#define SEVMON_EVIDENCE_VERIFY_H

#include <stddef.h>

#include "session.h"
#include "snp_verify.h"

/* Accepted launch measurements one policy lists: a handful of image versions in use. */
#define EVIDENCE_MAX_MEASUREMENTS 32u

struct evidence_policy {
	struct snp_trust *trust;       /* owned (evidence_policy_free) */
	uint8_t measurements[EVIDENCE_MAX_MEASUREMENTS][SNP_MEASUREMENT_LEN];
	size_t n_measurements;         /* 0: any measurement */
	const char *trust_dir;         /* AMD chains used when evidence carries no chain; NULL: none */
	struct snp_verdict last;       /* filled by each verification, for messages */
};

/* A session_verify_fn; ctx is the struct evidence_policy. Policy: snp_policy_init()
 * defaults (debug never, no migration agent) + the measurements + REPORT_DATA = the
 * session's binding. When the evidence carries no chain, the AMD chains of trust_dir
 * are tried (the ARK must still be an anchor). */
int evidence_verify(void *ctx, const struct session_evidence *ev,
		    const uint8_t report_data[SESSION_BINDING_LEN],
		    const uint8_t peer_key[NOISE_DH_LEN], char *why, size_t whycap);

void evidence_policy_free(struct evidence_policy *p);

#endif
