/*
 * fuzz_evidence.c — SEV-SNP evidence as a hostile agent sends it: the evidence message
 * (session_evidence_decode), the report in it (snp_report_parse), and the verifier over
 * the report, the VCEK (DER) and the chain (PEM) it carries, against the AMD roots the
 * project ships (their path: SEVMON_FUZZ_TRUST_DIR, default the source tree's).
 * Input: an evidence message. Seeds: real reports and certificates (tests/data/snp).
 */
#include <stdint.h>
#include <stdlib.h>

#include "session.h"
#include "snp_report.h"
#include "snp_verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct snp_trust *trust;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!trust) {
		const char *dir = getenv("SEVMON_FUZZ_TRUST_DIR");
		trust = snp_trust_new();
		if (!trust || snp_trust_add_amd(trust, dir ? dir : FUZZ_TRUST_DIR) < 1)
			abort();
	}
	struct snp_report r;
	if (size >= SNP_REPORT_LEN)
		(void)snp_report_parse(data, SNP_REPORT_LEN, &r);
	struct session_evidence ev;
	if (session_evidence_decode(data, size, &ev) < 0)
		return 0;
	struct snp_policy pol;
	snp_policy_init(&pol);
	struct snp_verdict v;
	/* a real report from the seeds may verify: what matters is that nothing else breaks */
	if (snp_verify(&pol, trust, ev.report, SNP_REPORT_LEN, ev.vcek, ev.vcek_len, ev.chain,
		       ev.chain_len, &v) == 0 && !v.signature_ok)
		abort(); /* accepted without its signature checked */
	return 0;
}
