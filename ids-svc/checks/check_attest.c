/*
 * check_attest.c — the agent's attestation as the channel verified it at the handshake:
 * launch measurement, policy, VMPL, TCB. Reads nothing more from the guest.
 */
#include <inttypes.h>

#include "err.h"
#include "kchecks.h"

static int attest_run(const struct check_env *env, void *res)
{
	struct attest_result *r = res;
	if (!env->evidence || !env->evidence->signature_ok)
		return SEVMON_EATTEST;
	r->verdict = *env->evidence;
	return 0;
}

static void attest_encode(const void *res, struct jw *w)
{
	const struct snp_report *rep = &((const struct attest_result *)res)->verdict.report;
	jw_obj(w);
	jw_key(w, "measurement");
	jw_hexbytes(w, rep->measurement, sizeof rep->measurement);
	jw_key(w, "policy");
	jw_hex(w, rep->policy);
	jw_key(w, "vmpl");
	jw_uint(w, rep->vmpl);
	jw_key(w, "guest_svn");
	jw_uint(w, rep->guest_svn);
	jw_key(w, "reported_tcb");
	jw_hex(w, rep->reported_tcb);
	jw_key(w, "chain_ok");
	jw_bool(w, ((const struct attest_result *)res)->verdict.chain_ok);
	jw_obj_end(w);
}

static void attest_print(const void *res, FILE *f)
{
	const struct attest_result *r = res;
	const struct snp_report *rep = &r->verdict.report;
	fprintf(f, "measurement  ");
	for (size_t i = 0; i < sizeof rep->measurement; i++)
		fprintf(f, "%02x", rep->measurement[i]);
	fprintf(f, "\npolicy       0x%" PRIx64 "\nvmpl         %" PRIu32 "\nguest_svn    %" PRIu32
		   "\nreported_tcb 0x%" PRIx64 "\nchain        %s\n",
		rep->policy, rep->vmpl, rep->guest_svn, rep->reported_tcb,
		r->verdict.chain_ok ? "verified to a trusted root" : "not verified");
}

const struct check_def check_attest = {
	.name = "attest",
	.summary = "the agent's verified SNP report: measurement, policy, VMPL, TCB (no kernel reads)",
	.needs = CHECK_NEEDS_EVIDENCE,
	.in_default = 0,
	.diff = STORE_DIFF_NONE,
	.result_size = sizeof(struct attest_result),
	.run = attest_run,
	.encode = attest_encode,
	.print = attest_print,
};
