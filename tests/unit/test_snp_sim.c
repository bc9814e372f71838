#include <dirent.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "err.h"
#include "harness.h"
#include "rbuf.h"
#include "snp_report.h"
#include "snp_sim.h"
#include "snp_testdata.h"
#include "snp_verify.h"

/*
 * One sim chain for the whole file: RSA-4096 key generation is the slow part, so
 * the parent makes it once before the cases fork, and removes it at exit.
 */
#define SIM_FIXTURE_PREFIX "/tmp/sevmon-snp-sim-XXXXXX"
#include "sim_fixture.h"

static const char *sim_file(const char *name)
{
	static char path[160];
	snprintf(path, sizeof path, "%s/%s", sim_dir, name);
	return path;
}

struct sim {
	uint8_t report[SNP_REPORT_LEN];
	uint8_t *vcek, *chain;
	size_t vcek_len, chain_len;
	struct snp_trust *trust;
	struct snp_policy pol;
	struct snp_sim_params p;
};

static void sim_make(struct sim *s, uint64_t policy, uint32_t vmpl)
{
	ASSERT_EQ(fixture_err, 0);
	memset(s, 0, sizeof *s);
	memset(s->p.report_data, 0x5A, sizeof s->p.report_data);
	memset(s->p.measurement, 0xC3, sizeof s->p.measurement);
	s->p.policy = policy;
	s->p.vmpl = vmpl;
	ASSERT_EQ(snp_sim_report(sim_dir, &s->p, s->report), 0);
	s->vcek = snp_test_slurp(sim_file("vcek.der"), &s->vcek_len);
	s->chain = snp_test_slurp(sim_file("cert_chain.pem"), &s->chain_len);
	s->trust = snp_trust_new();
	ASSERT_EQ(snp_trust_add_file(s->trust, sim_file("ark.pem")), 1);
	snp_policy_init(&s->pol);
	s->pol.report_data = s->p.report_data;
	s->pol.measurements = (const uint8_t(*)[SNP_MEASUREMENT_LEN])s->p.measurement;
	s->pol.n_measurements = 1;
}

static void sim_drop(struct sim *s)
{
	free(s->vcek);
	free(s->chain);
	snp_trust_free(s->trust);
}

static int sim_verify(struct sim *s, struct snp_verdict *d)
{
	return snp_verify(&s->pol, s->trust, s->report, sizeof s->report, s->vcek, s->vcek_len,
			  s->chain, s->chain_len, d);
}

/* Re-sign an edited report with the sim VCEK key, as firmware would have. */
static void resign(uint8_t report[SNP_REPORT_LEN])
{
	size_t n;
	uint8_t *pem = snp_test_slurp(sim_file("vcek.key"), &n);
	BIO *b = BIO_new_mem_buf(pem, (int)n);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	ASSERT(k != NULL);
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	unsigned char der[128];
	size_t dlen = sizeof der;
	ASSERT_EQ(EVP_DigestSignInit(m, NULL, EVP_sha384(), NULL, k), 1);
	ASSERT_EQ(EVP_DigestSign(m, der, &dlen, report, SNP_REPORT_SIGNED_LEN), 1);
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
	ASSERT(sig != NULL);
	ASSERT(BN_bn2lebinpad(ECDSA_SIG_get0_r(sig), report + SNP_OFF_SIG_R, SNP_SIG_COMPONENT_LEN) > 0);
	ASSERT(BN_bn2lebinpad(ECDSA_SIG_get0_s(sig), report + SNP_OFF_SIG_S, SNP_SIG_COMPONENT_LEN) > 0);
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(m);
	EVP_PKEY_free(k);
	BIO_free(b);
	free(pem);
}

#define SIM_POLICY (SNP_POLICY_RESERVED1 | SNP_POLICY_SMT)

TEST(snp_sim_init_writes_chain_and_private_key_0600)
{
	ASSERT_EQ(fixture_err, 0);
	struct stat st;
	ASSERT_EQ(stat(sim_file("vcek.key"), &st), 0);
	ASSERT_UEQ(st.st_mode & 0777, 0600);
	static const char *const files[] = { "ark.pem", "ask.pem", "cert_chain.pem", "vcek.der" };
	for (size_t i = 0; i < 4; i++)
		ASSERT_EQ(stat(sim_file(files[i]), &st), 0);
	/* The chain alone verifies with the sim ARK as anchor. */
	struct sim s;
	struct snp_verdict d;
	sim_make(&s, SIM_POLICY, 0);
	ASSERT_EQ(snp_verify_chain(s.trust, 0, s.vcek, s.vcek_len, s.chain, s.chain_len, &d), 0);
	sim_drop(&s);
}

TEST(snp_sim_report_verifies_with_sim_anchor)
{
	struct sim s;
	struct snp_verdict d;
	sim_make(&s, SIM_POLICY, 0);
	int err = sim_verify(&s, &d);
	if (err)
		FAIL_AT("rejected: %s: %s", snp_reason_name(d.reason), d.why);
	ASSERT(d.signature_ok && d.chain_ok);
	ASSERT_EQ(d.notes, 0);
	ASSERT_EQ(d.report.version, 2);
	struct snp_tcb t = snp_tcb_decode(d.report.reported_tcb, d.product);
	ASSERT_EQ(t.snp, SNP_SIM_TCB_SNP);
	ASSERT_EQ(t.microcode, SNP_SIM_TCB_MICROCODE);
	sim_drop(&s);
}

TEST(snp_sim_report_wrong_report_data_rejected)
{
	struct sim s;
	struct snp_verdict d;
	sim_make(&s, SIM_POLICY, 0);
	uint8_t other[SNP_REPORT_DATA_LEN];
	memcpy(other, s.p.report_data, sizeof other);
	other[63] ^= 1;
	s.pol.report_data = other;
	ASSERT_EQ(sim_verify(&s, &d), SEVMON_EATTEST);
	ASSERT_EQ(d.reason, SNP_REASON_REPORT_DATA);
	ASSERT(d.signature_ok);
	sim_drop(&s);
}

TEST(snp_sim_report_tampered_rejected)
{
	struct sim s;
	struct snp_verdict d;
	sim_make(&s, SIM_POLICY, 0);
	s.report[SNP_OFF_MEASUREMENT + 5] ^= 0x10;
	ASSERT_EQ(sim_verify(&s, &d), SEVMON_EATTEST);
	ASSERT_EQ(d.reason, SNP_REASON_SIGNATURE);
	s.report[SNP_OFF_MEASUREMENT + 5] ^= 0x10;
	s.report[SNP_OFF_SIG_S + 3] ^= 0x01;
	ASSERT_EQ(sim_verify(&s, &d), SEVMON_EATTEST);
	ASSERT_EQ(d.reason, SNP_REASON_SIGNATURE);
	s.report[SNP_OFF_SIG_S + 3] ^= 0x01;
	ASSERT_EQ(sim_verify(&s, &d), 0);
	sim_drop(&s);
}

TEST(snp_sim_ark_not_trusted_by_default)
{
	struct sim s;
	struct snp_verdict d;
	sim_make(&s, SIM_POLICY, 0);
	struct snp_trust *amd = snp_trust_new();
	ASSERT_EQ(snp_trust_add_amd(amd, "../../lib/attest/trust"), 3);
	ASSERT_EQ(snp_verify(&s.pol, amd, s.report, sizeof s.report, s.vcek, s.vcek_len, s.chain,
			     s.chain_len, &d), SEVMON_EATTEST);
	ASSERT_EQ(d.reason, SNP_REASON_UNTRUSTED_ROOT);
	ASSERT_EQ(snp_verify(&s.pol, NULL, s.report, sizeof s.report, s.vcek, s.vcek_len, s.chain,
			     s.chain_len, &d), SEVMON_EATTEST);
	ASSERT_EQ(d.reason, SNP_REASON_UNTRUSTED_ROOT);
	snp_trust_free(amd);
	sim_drop(&s);
}

TEST(snp_sim_init_refuses_overwrite)
{
	ASSERT_EQ(fixture_err, 0);
	size_t n1, n2;
	uint8_t *before = snp_test_slurp(sim_file("vcek.der"), &n1);
	ASSERT_EQ(snp_sim_init(sim_dir), SEVMON_EEXIST);
	uint8_t *after = snp_test_slurp(sim_file("vcek.der"), &n2);
	ASSERT_EQ(n1, n2);
	ASSERT_MEMEQ(before, after, n1);
	free(before);
	free(after);
	/* One leftover file is enough to refuse, and nothing else gets written. */
	char dir[128], path[160];
	snprintf(dir, sizeof dir, "%s/partial", tmp_root);
	ASSERT_EQ(mkdir(dir, 0700), 0);
	snprintf(path, sizeof path, "%s/ark.pem", dir);
	FILE *f = fopen(path, "w");
	ASSERT(f != NULL);
	fclose(f);
	ASSERT_EQ(snp_sim_init(dir), SEVMON_EEXIST);
	snprintf(path, sizeof path, "%s/vcek.key", dir);
	ASSERT_NE(access(path, F_OK), 0);
}

TEST(snp_sim_report_without_init_not_found)
{
	uint8_t out[SNP_REPORT_LEN];
	struct snp_sim_params p = { .policy = SIM_POLICY };
	char dir[128];
	snprintf(dir, sizeof dir, "%s/nothing-here", tmp_root);
	ASSERT_EQ(snp_sim_report(dir, &p, out), SEVMON_ENOENT);
}

TEST(snp_verify_sim_policy_bits_rejected_by_name)
{
	struct sim s;
	struct snp_verdict d;
	sim_make(&s, SIM_POLICY | SNP_POLICY_DEBUG, 0);
	ASSERT_EQ(sim_verify(&s, &d), SEVMON_EATTEST);
	ASSERT_EQ(d.reason, SNP_REASON_DEBUG);
	sim_drop(&s);

	sim_make(&s, SNP_POLICY_SMT, 0);
	ASSERT_EQ(sim_verify(&s, &d), SEVMON_EATTEST);
	ASSERT_EQ(d.reason, SNP_REASON_POLICY_RESERVED);
	sim_drop(&s);

	sim_make(&s, SIM_POLICY | SNP_POLICY_MIGRATE_MA, 0);
	ASSERT_EQ(sim_verify(&s, &d), SEVMON_EATTEST);
	ASSERT_EQ(d.reason, SNP_REASON_MIGRATION);
	s.pol.allow_migration_agent = true;
	ASSERT_EQ(sim_verify(&s, &d), 0);
	sim_drop(&s);

	sim_make(&s, SIM_POLICY, 2);
	s.pol.max_vmpl = 1;
	ASSERT_EQ(sim_verify(&s, &d), SEVMON_EATTEST);
	ASSERT_EQ(d.reason, SNP_REASON_VMPL);
	s.pol.max_vmpl = 2;
	ASSERT_EQ(sim_verify(&s, &d), 0);
	sim_drop(&s);
}

TEST(snp_verify_sim_tcb_and_chip_id_bound_to_vcek)
{
	struct sim s;
	struct snp_verdict d;
	sim_make(&s, SIM_POLICY, 0);
	uint8_t orig[SNP_REPORT_LEN];
	memcpy(orig, s.report, sizeof orig);

	/* A signed report claiming a newer microcode than its VCEK was issued for. */
	s.report[SNP_OFF_REPORTED_TCB + 7]++;
	resign(s.report);
	ASSERT_EQ(sim_verify(&s, &d), SEVMON_EATTEST);
	ASSERT_EQ(d.reason, SNP_REASON_TCB_MISMATCH);
	ASSERT(d.signature_ok);

	/* Another chip's id. */
	memcpy(s.report, orig, sizeof orig);
	s.report[SNP_OFF_CHIP_ID + 40] ^= 1;
	resign(s.report);
	ASSERT_EQ(sim_verify(&s, &d), SEVMON_EATTEST);
	ASSERT_EQ(d.reason, SNP_REASON_CHIP_ID);

	/* Zero chip id without MASK_CHIP_ID: still a mismatch. */
	memset(s.report + SNP_OFF_CHIP_ID, 0, SNP_CHIP_ID_LEN);
	resign(s.report);
	ASSERT_EQ(sim_verify(&s, &d), SEVMON_EATTEST);
	ASSERT_EQ(d.reason, SNP_REASON_CHIP_ID);

	/* Masked as the ABI allows: accepted, and said so. */
	store_le32(s.report + SNP_OFF_KEY_INFO, SNP_KEY_INFO_MASK_CHIP_ID);
	resign(s.report);
	ASSERT_EQ(sim_verify(&s, &d), 0);
	ASSERT(d.notes & SNP_NOTE_CHIP_ID_MASKED);
	sim_drop(&s);
}

TEST_MAIN()
