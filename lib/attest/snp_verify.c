/*
 * snp_verify.c — report signature, TCB/chip binding to the VCEK, and guest policy.
 * The stage order is the contract in snp_verify.h; the chain is snp_chain.c.
 */
#include "snp_verify.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "err.h"
#include "rbuf.h"
#include "snp_chain.h"
#include "snp_vcek.h"

static const char *const reason_names[] = {
#define SNP_REASON_NAME(name, msg) #name,
	SNP_REASONS(SNP_REASON_NAME)
#undef SNP_REASON_NAME
};

const char *snp_reason_name(enum snp_reason r)
{
	if ((size_t)r >= sizeof reason_names / sizeof reason_names[0])
		return "?";
	return reason_names[r];
}

void snp_policy_init(struct snp_policy *p)
{
	memset(p, 0, sizeof *p);
	p->max_vmpl = 3;
}

/* Little-endian, zero-padded r and s of the report -> DER ECDSA-Sig-Value. */
static int sig_to_der(const struct snp_report *r, unsigned char **der, int *der_len)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *br = BN_lebin2bn(r->sig_r, SNP_SIG_COMPONENT_LEN, NULL);
	BIGNUM *bs = BN_lebin2bn(r->sig_s, SNP_SIG_COMPONENT_LEN, NULL);
	if (!sig || !br || !bs || ECDSA_SIG_set0(sig, br, bs) != 1) {
		ECDSA_SIG_free(sig);
		BN_free(br);
		BN_free(bs);
		return SEVMON_ENOMEM;
	}
	*der = NULL;
	*der_len = i2d_ECDSA_SIG(sig, der);
	ECDSA_SIG_free(sig);
	return *der_len > 0 ? 0 : SEVMON_ENOMEM;
}

static int check_signature(const uint8_t *report, const struct snp_report *r, X509 *vcek,
			   struct snp_verdict *v)
{
	unsigned char *der = NULL;
	int der_len = 0;
	int err = sig_to_der(r, &der, &der_len);
	if (err)
		return err;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx &&
		 EVP_DigestVerifyInit(ctx, NULL, EVP_sha384(), NULL, X509_get0_pubkey(vcek)) == 1 &&
		 EVP_DigestVerify(ctx, der, (size_t)der_len, report, SNP_REPORT_SIGNED_LEN) == 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	ERR_clear_error();
	if (!ok)
		return snp_fail(v, SEVMON_EATTEST, SNP_REASON_SIGNATURE,
				"signature: ECDSA P-384 over bytes 0x000-0x29F does not verify with the VCEK");
	return 0;
}

static int check_vcek_binding(const struct snp_report *r, X509 *vcek, enum snp_product prod,
			      struct snp_verdict *v)
{
	struct snp_vcek_info info;
	int err = snp_vcek_read(vcek, &info);
	if (err)
		return snp_fail(v, SEVMON_EDECODE, SNP_REASON_CERT_DECODE,
				"vcek: TCB extensions missing or malformed (%s)", sevmon_errname(err));
	struct snp_tcb t = snp_tcb_decode(r->reported_tcb, prod);
	if (t.bootloader != info.tcb.bootloader || t.tee != info.tcb.tee || t.snp != info.tcb.snp ||
	    t.microcode != info.tcb.microcode ||
	    ((info.have & SNP_VCEK_HAVE_FMC) && t.fmc != info.tcb.fmc))
		return snp_fail(v, SEVMON_EATTEST, SNP_REASON_TCB_MISMATCH,
				"tcb: report bl=%u tee=%u snp=%u uc=%u fmc=%u, VCEK bl=%u tee=%u snp=%u uc=%u fmc=%u",
				t.bootloader, t.tee, t.snp, t.microcode, t.fmc, info.tcb.bootloader,
				info.tcb.tee, info.tcb.snp, info.tcb.microcode, info.tcb.fmc);
	if (!(info.have & SNP_VCEK_HAVE_HWID))
		return 0; /* a VLEK-style certificate names no chip */
	static const uint8_t zero[SNP_CHIP_ID_LEN];
	if ((r->key_info & SNP_KEY_INFO_MASK_CHIP_ID) && memcmp(r->chip_id, zero, sizeof zero) == 0) {
		/* The guest asked firmware to hide the chip id; the VCEK signature still
		 * ties the report to this chip. */
		if (v)
			v->notes |= SNP_NOTE_CHIP_ID_MASKED;
		return 0;
	}
	if (memcmp(r->chip_id, info.hwid, info.hwid_len) != 0)
		return snp_fail(v, SEVMON_EATTEST, SNP_REASON_CHIP_ID,
				"chip id: report %02x%02x%02x%02x... != VCEK hwID %02x%02x%02x%02x...",
				r->chip_id[0], r->chip_id[1], r->chip_id[2], r->chip_id[3],
				info.hwid[0], info.hwid[1], info.hwid[2], info.hwid[3]);
	return 0;
}

static int check_policy(const struct snp_policy *pol, const struct snp_report *r,
			enum snp_product prod, struct snp_verdict *v)
{
	if (!(r->policy & SNP_POLICY_RESERVED1))
		return snp_fail(v, SEVMON_EATTEST, SNP_REASON_POLICY_RESERVED,
				"policy: reserved bit 17 clear (policy=0x%" PRIx64 ")", r->policy);
	if (r->policy & SNP_POLICY_DEBUG)
		return snp_fail(v, SEVMON_EATTEST, SNP_REASON_DEBUG,
				"policy: debug enabled (policy=0x%" PRIx64 ")", r->policy);
	if ((r->policy & SNP_POLICY_MIGRATE_MA) && !pol->allow_migration_agent)
		return snp_fail(v, SEVMON_EATTEST, SNP_REASON_MIGRATION,
				"policy: migration agent allowed (policy=0x%" PRIx64 ")", r->policy);
	if (r->vmpl > pol->max_vmpl)
		return snp_fail(v, SEVMON_EATTEST, SNP_REASON_VMPL, "vmpl: %" PRIu32 " > max %" PRIu32,
				r->vmpl, pol->max_vmpl);
	struct snp_tcb t = snp_tcb_decode(r->reported_tcb, prod);
	const struct snp_tcb *m = &pol->min_tcb;
	if (t.bootloader < m->bootloader || t.tee < m->tee || t.snp < m->snp ||
	    t.microcode < m->microcode || t.fmc < m->fmc)
		return snp_fail(v, SEVMON_EATTEST, SNP_REASON_TCB_LOW,
				"tcb: bl=%u tee=%u snp=%u uc=%u fmc=%u below min bl=%u tee=%u snp=%u uc=%u fmc=%u",
				t.bootloader, t.tee, t.snp, t.microcode, t.fmc, m->bootloader, m->tee,
				m->snp, m->microcode, m->fmc);
	if (pol->n_measurements == 0 || !pol->measurements) {
		if (v)
			v->notes |= SNP_NOTE_ANY_MEASUREMENT;
	} else {
		bool found = false;
		for (size_t i = 0; i < pol->n_measurements; i++)
			found |= CRYPTO_memcmp(pol->measurements[i], r->measurement, SNP_MEASUREMENT_LEN) == 0;
		if (!found)
			return snp_fail(v, SEVMON_EATTEST, SNP_REASON_MEASUREMENT,
					"measurement: %02x%02x%02x%02x... not among %zu allowed",
					r->measurement[0], r->measurement[1], r->measurement[2],
					r->measurement[3], pol->n_measurements);
	}
	if (!pol->report_data) {
		if (v)
			v->notes |= SNP_NOTE_NO_BINDING;
	} else if (CRYPTO_memcmp(pol->report_data, r->report_data, SNP_REPORT_DATA_LEN) != 0) {
		return snp_fail(v, SEVMON_EATTEST, SNP_REASON_REPORT_DATA,
				"report_data: does not match the expected binding");
	}
	return 0;
}

int snp_verify(const struct snp_policy *pol, const struct snp_trust *trust,
	       const uint8_t *report, size_t report_len,
	       const uint8_t *vcek_der, size_t vcek_len,
	       const uint8_t *chain_pem, size_t chain_len,
	       struct snp_verdict *verdict)
{
	struct snp_verdict local;
	struct snp_verdict *v = verdict ? verdict : &local;
	memset(v, 0, sizeof *v);
	if (!pol || !report)
		return snp_fail(v, SEVMON_EINVAL, SNP_REASON_PARSE, "missing policy or report");
	struct snp_report *r = &v->report;
	int err = snp_report_parse(report, report_len, r);
	if (err == SEVMON_EDECODE && report_len == SNP_REPORT_LEN)
		return snp_fail(v, err, SNP_REASON_VERSION, "report: version %" PRIu32 " not in [%u, %u]",
				load_le32(report), SNP_REPORT_VERSION_MIN, SNP_REPORT_VERSION_MAX);
	if (err)
		return snp_fail(v, err, SNP_REASON_PARSE, "report: %zu bytes, expected %u", report_len,
				SNP_REPORT_LEN);
	if (r->signature_algo != SNP_SIG_ALGO_ECDSA_P384_SHA384)
		return snp_fail(v, SEVMON_EATTEST, SNP_REASON_SIG_ALGO,
				"report: signature_algo %" PRIu32 ", expected 1 (ECDSA P-384 SHA-384)",
				r->signature_algo);

	X509 *vcek = NULL;
	err = snp_chain_check(trust, pol->now, vcek_der, vcek_len, chain_pem, chain_len, v, &vcek);
	if (err)
		return err;
	enum snp_product rp = snp_report_product(r);
	if (rp != SNP_PRODUCT_UNKNOWN && v->product != SNP_PRODUCT_UNKNOWN && rp != v->product) {
		err = snp_fail(v, SEVMON_EATTEST, SNP_REASON_PRODUCT, "product: report CPUID says %s, chain is %s",
			       snp_product_name(rp), snp_product_name(v->product));
		goto out;
	}
	if ((err = check_signature(report, r, vcek, v)))
		goto out;
	v->signature_ok = true;
	if ((err = check_vcek_binding(r, vcek, v->product, v)) ||
	    (err = check_policy(pol, r, v->product, v)))
		goto out;
	v->reason = SNP_REASON_OK;
	snprintf(v->why, sizeof v->why, "ok (%s%s%s)", snp_product_name(v->product),
		 (v->notes & SNP_NOTE_ANY_MEASUREMENT) ? ", any measurement" : "",
		 (v->notes & SNP_NOTE_NO_BINDING) ? ", REPORT_DATA unchecked" : "");
out:
	X509_free(vcek);
	return err;
}
