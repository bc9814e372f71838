/*
 * evidence_verify.c — channel evidence checked with snp_verify (see evidence_verify.h).
 */
#include "evidence_verify.h"

#include <stdio.h>
#include <stdlib.h>

#include "err.h"

/* A chain file from the trust dir: ASK + ARK PEM, a few KB. */
#define EVIDENCE_CHAIN_FILE_MAX (16u * 1024u)

static int verify_with_chain(struct evidence_policy *p, const struct snp_policy *pol,
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
	uint8_t *b = malloc(EVIDENCE_CHAIN_FILE_MAX);
	size_t n = b ? fread(b, 1, EVIDENCE_CHAIN_FILE_MAX, f) : 0;
	fclose(f);
	if (!b)
		return SEVMON_ENOMEM;
	*out = b;
	*len = n;
	return 0;
}

int evidence_verify(void *ctx, const struct session_evidence *ev,
			const uint8_t report_data[SESSION_BINDING_LEN],
			const uint8_t peer_key[NOISE_DH_LEN], char *why, size_t whycap)
{
	struct evidence_policy *p = ctx;
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
	} else if (!p->trust_dir) {
		snprintf(why, whycap, "evidence carries no certificate chain");
		return SEVMON_EATTEST;
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

void evidence_policy_free(struct evidence_policy *p)
{
	snp_trust_free(p->trust);
	p->trust = NULL;
}
