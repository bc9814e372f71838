#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "err.h"
#include "harness.h"
#include "rbuf.h"
#include "snp_report.h"
#include "snp_testdata.h"
#include "snp_vcek.h"
#include "snp_verify.h"

#define TRUST_DIR "../../lib/attest/trust" /* relative to tests/data */

struct vec {
	uint8_t report[SNP_REPORT_LEN];
	uint8_t *vcek, *chain;
	size_t vcek_len, chain_len;
	struct snp_trust *trust;
	struct snp_policy pol;
};

static void load(struct vec *v, const char *report, const char *vcek, const char *chain)
{
	size_t n;
	uint8_t *r = snp_test_slurp(report, &n);
	ASSERT_EQ(snp_report_read(r, n, v->report), 0);
	free(r);
	v->vcek = snp_test_slurp(vcek, &v->vcek_len);
	v->chain = snp_test_slurp(chain, &v->chain_len);
	v->trust = snp_trust_new();
	ASSERT(v->trust != NULL);
	ASSERT_EQ(snp_trust_add_amd(v->trust, TRUST_DIR), 3);
	snp_policy_init(&v->pol);
}

static void load_milan(struct vec *v)
{
	load(v, "snp/virtee-report_milan.hex", "snp/virtee-vcek_milan.der", "snp/virtee-cert_chain_milan");
}

static void load_gosev(struct vec *v)
{
	load(v, "snp/gosevguest-attestation.bin", "snp/gosevguest-vcek.testcer",
	     "snp/virtee-cert_chain_milan");
}

static void drop(struct vec *v)
{
	free(v->vcek);
	free(v->chain);
	snp_trust_free(v->trust);
}

static int verify(struct vec *v, struct snp_verdict *out)
{
	return snp_verify(&v->pol, v->trust, v->report, sizeof v->report, v->vcek, v->vcek_len,
			  v->chain, v->chain_len, out);
}

TEST(snp_verify_milan_accepted_with_own_values)
{
	struct vec v;
	struct snp_verdict d;
	load_milan(&v);
	struct snp_report r;
	ASSERT_EQ(snp_report_parse(v.report, sizeof v.report, &r), 0);
	uint8_t allowed[2][SNP_MEASUREMENT_LEN] = { { 0 } };
	memcpy(allowed[1], r.measurement, SNP_MEASUREMENT_LEN);
	v.pol.measurements = (const uint8_t(*)[SNP_MEASUREMENT_LEN])allowed;
	v.pol.n_measurements = 2;
	v.pol.report_data = r.report_data;
	v.pol.max_vmpl = 0;
	v.pol.min_tcb = (struct snp_tcb){ .bootloader = 3, .snp = 8, .microcode = 115 };
	int err = verify(&v, &d);
	if (err)
		FAIL_AT("rejected: %s: %s", snp_reason_name(d.reason), d.why);
	ASSERT_EQ(d.reason, SNP_REASON_OK);
	ASSERT(d.chain_ok && d.signature_ok);
	ASSERT_EQ(d.product, SNP_PRODUCT_MILAN);
	ASSERT_EQ(d.notes & (SNP_NOTE_ANY_MEASUREMENT | SNP_NOTE_NO_BINDING), 0);
	drop(&v);
}

TEST(snp_verify_milan_default_policy_notes_unchecked)
{
	struct vec v;
	struct snp_verdict d;
	load_milan(&v);
	ASSERT_EQ(verify(&v, &d), 0);
	ASSERT(d.notes & SNP_NOTE_ANY_MEASUREMENT);
	ASSERT(d.notes & SNP_NOTE_NO_BINDING);
	ASSERT(strstr(d.why, "any measurement") != NULL);
	drop(&v);
}

TEST(snp_verify_milan_policy_limits_rejected)
{
	struct vec v;
	struct snp_verdict d;
	load_milan(&v);
	uint8_t other[1][SNP_MEASUREMENT_LEN] = { { 1 } };
	v.pol.measurements = (const uint8_t(*)[SNP_MEASUREMENT_LEN])other;
	v.pol.n_measurements = 1;
	ASSERT_EQ(verify(&v, &d), SEVMON_EATTEST);
	ASSERT_EQ(d.reason, SNP_REASON_MEASUREMENT);
	v.pol.n_measurements = 0;
	uint8_t rd[SNP_REPORT_DATA_LEN] = { 0 };
	v.pol.report_data = rd;
	ASSERT_EQ(verify(&v, &d), SEVMON_EATTEST);
	ASSERT_EQ(d.reason, SNP_REASON_REPORT_DATA);
	v.pol.report_data = NULL;
	v.pol.min_tcb.microcode = 116;
	ASSERT_EQ(verify(&v, &d), SEVMON_EATTEST);
	ASSERT_EQ(d.reason, SNP_REASON_TCB_LOW);
	ASSERT(strstr(d.why, "uc=115") != NULL);
	drop(&v);
}

TEST(snp_verify_gosev_debug_rejected_after_valid_signature)
{
	struct vec v;
	struct snp_verdict d;
	load_gosev(&v);
	ASSERT_EQ(verify(&v, &d), SEVMON_EATTEST);
	ASSERT_EQ(d.reason, SNP_REASON_DEBUG);
	ASSERT_STREQ(snp_reason_name(d.reason), "DEBUG");
	ASSERT(d.chain_ok);
	ASSERT(d.signature_ok);
	ASSERT(strstr(d.why, "debug") != NULL);
	ASSERT(strstr(d.why, "0xb0000") != NULL);
	drop(&v);
}

/* Every byte of the signed body, each flipped alone, must be rejected. */
TEST(snp_verify_milan_any_signed_byte_flip_rejected)
{
	struct vec v;
	struct snp_verdict d;
	load_milan(&v);
	for (size_t i = 0; i < SNP_REPORT_SIGNED_LEN; i++) {
		v.report[i] ^= 0x01;
		int err = verify(&v, &d);
		if (err == 0)
			FAIL_AT("flip of byte 0x%zx accepted", i);
		ASSERT(!d.signature_ok);
		v.report[i] ^= 0x01;
	}
	ASSERT_EQ(verify(&v, &d), 0);
	drop(&v);
}

TEST(snp_verify_milan_signature_byte_flip_rejected)
{
	struct vec v;
	struct snp_verdict d;
	load_milan(&v);
	for (size_t i = SNP_OFF_SIG_R; i < SNP_OFF_SIG_S + SNP_SIG_COMPONENT_LEN; i++) {
		v.report[i] ^= 0x80;
		ASSERT_EQ(verify(&v, &d), SEVMON_EATTEST);
		ASSERT_EQ(d.reason, SNP_REASON_SIGNATURE);
		v.report[i] ^= 0x80;
	}
	drop(&v);
}

TEST(snp_verify_milan_with_turin_chain_rejected)
{
	struct vec v;
	struct snp_verdict d;
	load(&v, "snp/virtee-report_milan.hex", "snp/virtee-vcek_milan.der", "snp/virtee-cert_chain_turin");
	ASSERT_EQ(verify(&v, &d), SEVMON_EATTEST);
	ASSERT_EQ(d.reason, SNP_REASON_CHAIN_SIG);
	ASSERT(!d.chain_ok);
	drop(&v);
}

TEST(snp_verify_milan_swapped_ask_ark_rejected)
{
	struct vec v;
	struct snp_verdict d;
	load_milan(&v);
	/* The file is ASK then ARK; put the ARK first. */
	const char *second = strstr((const char *)v.chain + 1, "-----BEGIN CERTIFICATE-----");
	ASSERT(second != NULL);
	size_t first_len = (size_t)(second - (const char *)v.chain);
	size_t n;
	uint8_t *swapped = snp_test_join((const uint8_t *)second, v.chain_len - first_len, v.chain,
					 first_len, &n);
	free(v.chain);
	v.chain = swapped;
	v.chain_len = n;
	ASSERT_EQ(verify(&v, &d), SEVMON_EATTEST);
	ASSERT_EQ(d.reason, SNP_REASON_CHAIN_SIG);
	drop(&v);
}

TEST(snp_verify_milan_chain_missing_ark_rejected)
{
	struct vec v;
	struct snp_verdict d;
	load_milan(&v);
	const char *second = strstr((const char *)v.chain + 1, "-----BEGIN CERTIFICATE-----");
	v.chain_len = (size_t)(second - (const char *)v.chain);
	ASSERT_EQ(verify(&v, &d), SEVMON_EDECODE);
	ASSERT_EQ(d.reason, SNP_REASON_CERT_DECODE);
	drop(&v);
}

/* A self-made ARK with AMD's name: signed with PKCS#1 v1.5 (wrong algorithm), then
 * with PSS (right algorithm, wrong key): both refused even when passed as anchor. */
TEST(snp_verify_self_made_ark_rejected)
{
	struct vec v;
	struct snp_verdict d;
	load_milan(&v);
	const char *second = strstr((const char *)v.chain + 1, "-----BEGIN CERTIFICATE-----");
	size_t ask_len = (size_t)(second - (const char *)v.chain);
	BIO *b = BIO_new_mem_buf(second, (int)(v.chain_len - ask_len));
	X509 *ark = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	ASSERT(ark != NULL);
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
	ASSERT(k != NULL);
	ASSERT_EQ(X509_set_pubkey(ark, k), 1);
	for (int pss = 0; pss <= 1; pss++) {
		EVP_MD_CTX *m = EVP_MD_CTX_new();
		EVP_PKEY_CTX *pc = NULL;
		ASSERT_EQ(EVP_DigestSignInit(m, &pc, EVP_sha384(), NULL, k), 1);
		if (pss) {
			ASSERT(EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) > 0);
			ASSERT(EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 48) > 0);
			ASSERT(EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha384()) > 0);
		}
		ASSERT(X509_sign_ctx(ark, m) > 0);
		EVP_MD_CTX_free(m);
		BIO *o = BIO_new(BIO_s_mem());
		ASSERT(PEM_write_bio_X509(o, ark));
		char *pem = NULL;
		long pem_len = BIO_get_mem_data(o, &pem);
		size_t n;
		uint8_t *chain = snp_test_join(v.chain, ask_len, (const uint8_t *)pem, (size_t)pem_len, &n);
		ASSERT_EQ(snp_trust_add_pem(v.trust, (const uint8_t *)pem, (size_t)pem_len), 1);
		int err = snp_verify(&v.pol, v.trust, v.report, sizeof v.report, v.vcek, v.vcek_len, chain,
				     n, &d);
		ASSERT_EQ(err, SEVMON_EATTEST);
		ASSERT_EQ(d.reason, pss ? SNP_REASON_CHAIN_SIG : SNP_REASON_CHAIN_ALGO);
		free(chain);
		BIO_free(o);
	}
	EVP_PKEY_free(k);
	X509_free(ark);
	drop(&v);
}

TEST(snp_verify_milan_untrusted_without_anchor)
{
	struct vec v;
	struct snp_verdict d;
	load_milan(&v);
	struct snp_trust *none = snp_trust_new();
	ASSERT_EQ(snp_verify(&v.pol, none, v.report, sizeof v.report, v.vcek, v.vcek_len, v.chain,
			     v.chain_len, &d), SEVMON_EATTEST);
	ASSERT_EQ(d.reason, SNP_REASON_UNTRUSTED_ROOT);
	/* Genoa and Turin anchors do not vouch for a Milan chain. */
	ASSERT_EQ(snp_trust_add_file(none, TRUST_DIR "/amd-genoa.pem"), 1);
	ASSERT_EQ(snp_trust_add_file(none, TRUST_DIR "/amd-turin.pem"), 1);
	ASSERT_EQ(snp_verify(&v.pol, none, v.report, sizeof v.report, v.vcek, v.vcek_len, v.chain,
			     v.chain_len, &d), SEVMON_EATTEST);
	ASSERT_EQ(d.reason, SNP_REASON_UNTRUSTED_ROOT);
	snp_trust_free(none);
	drop(&v);
}

TEST(snp_verify_milan_expired_chain_rejected)
{
	struct vec v;
	struct snp_verdict d;
	load_milan(&v);
	struct tm tm = { .tm_year = 2031 - 1900, .tm_mon = 0, .tm_mday = 1 };
	v.pol.now = timegm(&tm); /* the VCEK expires in April 2030 */
	ASSERT_EQ(verify(&v, &d), SEVMON_EATTEST);
	ASSERT_EQ(d.reason, SNP_REASON_CHAIN_TIME);
	drop(&v);
}

/* A chain that passed is remembered in the trust object; the remembered one must still
 * expire, and a different chain (one byte) must not hit it. */
TEST(snp_verify_milan_memoised_chain_still_expires)
{
	struct vec v;
	struct snp_verdict d;
	load_milan(&v);
	ASSERT_EQ(verify(&v, &d), 0);
	ASSERT(d.chain_ok);
	ASSERT_EQ(verify(&v, &d), 0); /* the memo's hit */
	ASSERT(d.chain_ok);
	ASSERT_EQ(d.product, SNP_PRODUCT_MILAN);
	struct tm tm = { .tm_year = 2031 - 1900, .tm_mon = 0, .tm_mday = 1 };
	v.pol.now = timegm(&tm);
	ASSERT_EQ(verify(&v, &d), SEVMON_EATTEST);
	ASSERT_EQ(d.reason, SNP_REASON_CHAIN_TIME);
	drop(&v);
}

TEST(snp_verify_milan_memo_miss_on_changed_chain)
{
	struct vec v;
	struct snp_verdict d;
	load_milan(&v);
	ASSERT_EQ(verify(&v, &d), 0);
	/* flip one bit inside the ASK's base64 body: a different chain, fully re-checked */
	uint8_t *b64 = (uint8_t *)strstr((char *)v.chain, "-----\n") + 6 + 200;
	*b64 = *b64 == 'A' ? 'B' : 'A';
	ASSERT_NE(verify(&v, &d), 0);
	ASSERT(!d.chain_ok);
	drop(&v);
}

TEST(snp_verify_chain_turin_accepted)
{
	size_t vl, cl;
	uint8_t *vcek = snp_test_slurp("snp/virtee-vcek_turin.der", &vl);
	uint8_t *chain = snp_test_slurp("snp/virtee-cert_chain_turin", &cl);
	struct snp_trust *t = snp_trust_new();
	ASSERT_EQ(snp_trust_add_amd(t, TRUST_DIR), 3);
	struct snp_verdict d;
	int err = snp_verify_chain(t, 0, vcek, vl, chain, cl, &d);
	if (err)
		FAIL_AT("rejected: %s: %s", snp_reason_name(d.reason), d.why);
	ASSERT_EQ(d.product, SNP_PRODUCT_TURIN);
	ASSERT(d.chain_ok);
	snp_trust_free(t);
	free(vcek);
	free(chain);
}

TEST(snp_vcek_read_turin_has_fmc_and_short_hwid)
{
	size_t n;
	uint8_t *der = snp_test_slurp("snp/virtee-vcek_turin.der", &n);
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)n);
	ASSERT(x != NULL);
	struct snp_vcek_info info;
	ASSERT_EQ(snp_vcek_read(x, &info), 0);
	ASSERT(info.have & SNP_VCEK_HAVE_FMC);
	ASSERT_EQ(info.hwid_len, SNP_HWID_LEN_TURIN);
	X509_free(x);
	free(der);
}

TEST(snp_vcek_read_milan_matches_report_tcb)
{
	struct vec v;
	load_milan(&v);
	const unsigned char *p = v.vcek;
	X509 *x = d2i_X509(NULL, &p, (long)v.vcek_len);
	struct snp_vcek_info info;
	ASSERT_EQ(snp_vcek_read(x, &info), 0);
	ASSERT_EQ(info.have & SNP_VCEK_HAVE_FMC, 0);
	ASSERT_EQ(info.hwid_len, SNP_CHIP_ID_LEN);
	ASSERT_MEMEQ(info.hwid, v.report + SNP_OFF_CHIP_ID, SNP_CHIP_ID_LEN);
	struct snp_tcb t = snp_tcb_decode(load_le64(v.report + SNP_OFF_REPORTED_TCB), SNP_PRODUCT_MILAN);
	ASSERT_EQ(info.tcb.bootloader, t.bootloader);
	ASSERT_EQ(info.tcb.tee, t.tee);
	ASSERT_EQ(info.tcb.snp, t.snp);
	ASSERT_EQ(info.tcb.microcode, t.microcode);
	X509_free(x);
	drop(&v);
}

TEST(snp_verify_report_parse_errors_named)
{
	struct vec v;
	struct snp_verdict d;
	load_milan(&v);
	ASSERT_EQ(snp_verify(&v.pol, v.trust, v.report, SNP_REPORT_LEN - 1, v.vcek, v.vcek_len,
			     v.chain, v.chain_len, &d), SEVMON_ETRUNC);
	ASSERT_EQ(d.reason, SNP_REASON_PARSE);
	v.report[0] = 1;
	ASSERT_EQ(verify(&v, &d), SEVMON_EDECODE);
	ASSERT_EQ(d.reason, SNP_REASON_VERSION);
	v.report[0] = 2;
	v.report[SNP_OFF_SIG_ALGO] = 2;
	ASSERT_EQ(verify(&v, &d), SEVMON_EATTEST);
	ASSERT_EQ(d.reason, SNP_REASON_SIG_ALGO);
	v.report[SNP_OFF_SIG_ALGO] = 1;
	v.vcek[10] ^= 0xFF;
	ASSERT_NE(verify(&v, &d), 0);
	ASSERT(d.reason == SNP_REASON_CERT_DECODE || d.reason == SNP_REASON_CHAIN_SIG);
	drop(&v);
}

/* Throughput of a full verification (chain + signature + policy), printed for the log. */
TEST(snp_verify_milan_rate)
{
	struct vec v;
	load_milan(&v);
	enum { N = 200 };
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < N; i++)
		ASSERT_EQ(verify(&v, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("# snp_verify: %d verifications in %.3f s = %.0f/s\n", N, s, N / s);
	drop(&v);
}

TEST_MAIN()
