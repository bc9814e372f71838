/*
 * snp_report.h — the SEV-SNP ATTESTATION_REPORT layout and a bounded parser.
 *
 * Layout from AMD's SEV-SNP firmware ABI (publication 56860, table "ATTESTATION_REPORT
 * structure"). The report is exactly SNP_REPORT_LEN bytes; the signature covers
 * [0, SNP_REPORT_SIGNED_LEN). Multi-byte fields are little-endian.
 *
 * Pure byte handling, no crypto: the verifier (lib/attest/snp_verify.h) and the
 * simulated provider (lib/attest/snp_sim.h) build on it.
 */
#ifndef SEVMON_SNP_REPORT_H
#define SEVMON_SNP_REPORT_H

#include <stddef.h>
#include <stdint.h>

#define SNP_REPORT_LEN 0x4A0u         /* 1184: fixed by the ABI */
#define SNP_REPORT_SIGNED_LEN 0x2A0u  /* bytes covered by the signature */

/* Field offsets (ABI table). */
#define SNP_OFF_VERSION 0x000u
#define SNP_OFF_GUEST_SVN 0x004u
#define SNP_OFF_POLICY 0x008u
#define SNP_OFF_FAMILY_ID 0x010u
#define SNP_OFF_IMAGE_ID 0x020u
#define SNP_OFF_VMPL 0x030u
#define SNP_OFF_SIG_ALGO 0x034u
#define SNP_OFF_CURRENT_TCB 0x038u
#define SNP_OFF_PLATFORM_INFO 0x040u
#define SNP_OFF_KEY_INFO 0x048u       /* AUTHOR_KEY_EN bit 0, MASK_CHIP_KEY bit 1, SIGNING_KEY bits 2-4 */
#define SNP_OFF_REPORT_DATA 0x050u
#define SNP_OFF_MEASUREMENT 0x090u
#define SNP_OFF_HOST_DATA 0x0C0u
#define SNP_OFF_ID_KEY_DIGEST 0x0E0u
#define SNP_OFF_AUTHOR_KEY_DIGEST 0x110u
#define SNP_OFF_REPORT_ID 0x140u
#define SNP_OFF_REPORT_ID_MA 0x160u
#define SNP_OFF_REPORTED_TCB 0x180u
#define SNP_OFF_CPUID_FAM 0x188u      /* version >= 3 only; reserved (zero) before */
#define SNP_OFF_CPUID_MOD 0x189u
#define SNP_OFF_CPUID_STEP 0x18Au
#define SNP_OFF_CHIP_ID 0x1A0u
#define SNP_OFF_COMMITTED_TCB 0x1E0u
#define SNP_OFF_CURRENT_BUILD 0x1E8u  /* build, minor, major: one byte each */
#define SNP_OFF_COMMITTED_BUILD 0x1ECu
#define SNP_OFF_LAUNCH_TCB 0x1F0u
#define SNP_OFF_SIGNATURE 0x2A0u
#define SNP_OFF_SIG_R 0x2A0u
#define SNP_OFF_SIG_S 0x2E8u

#define SNP_FAMILY_ID_LEN 16
#define SNP_IMAGE_ID_LEN 16
#define SNP_REPORT_DATA_LEN 64
#define SNP_MEASUREMENT_LEN 48
#define SNP_HOST_DATA_LEN 32
#define SNP_KEY_DIGEST_LEN 48
#define SNP_REPORT_ID_LEN 32
#define SNP_CHIP_ID_LEN 64
#define SNP_SIG_COMPONENT_LEN 72      /* r and s, little-endian, zero-padded from 48 */

/* Guest policy bits (ABI "GUEST_POLICY"). */
#define SNP_POLICY_SMT (1ull << 16)
#define SNP_POLICY_RESERVED1 (1ull << 17) /* must be 1 */
#define SNP_POLICY_MIGRATE_MA (1ull << 18)
#define SNP_POLICY_DEBUG (1ull << 19)

#define SNP_KEY_INFO_MASK_CHIP_ID (1u << 1)
#define SNP_SIG_ALGO_ECDSA_P384_SHA384 1u

/* Report versions this parser knows; 2 is the oldest with this layout (SNP ABI 1.51+). */
#define SNP_REPORT_VERSION_MIN 2u
/* Newer versions only fill reserved bytes; a report from a future firmware must be
 * looked at by a human before we trust our reading of it. */
#define SNP_REPORT_VERSION_MAX 5u

/* Processor generation: decides the TCB_VERSION byte layout. */
enum snp_product {
	SNP_PRODUCT_UNKNOWN = 0,
	SNP_PRODUCT_MILAN,
	SNP_PRODUCT_GENOA,
	SNP_PRODUCT_TURIN,
};

/*
 * TCB_VERSION, decoded. Milan and Genoa: byte 0 boot loader, 1 TEE, 2-5 reserved,
 * 6 SNP, 7 microcode. Turin: byte 0 FMC, 1 boot loader, 2 TEE, 3 SNP, 4-6 reserved,
 * 7 microcode. fmc is 0 for Milan/Genoa.
 */
struct snp_tcb {
	uint8_t fmc;
	uint8_t bootloader;
	uint8_t tee;
	uint8_t snp;
	uint8_t microcode;
};

struct snp_report {
	uint32_t version;
	uint32_t guest_svn;
	uint64_t policy;
	uint8_t family_id[SNP_FAMILY_ID_LEN];
	uint8_t image_id[SNP_IMAGE_ID_LEN];
	uint32_t vmpl;
	uint32_t signature_algo;
	uint64_t current_tcb;
	uint64_t platform_info;
	uint32_t key_info;
	uint8_t report_data[SNP_REPORT_DATA_LEN];
	uint8_t measurement[SNP_MEASUREMENT_LEN];
	uint8_t host_data[SNP_HOST_DATA_LEN];
	uint8_t id_key_digest[SNP_KEY_DIGEST_LEN];
	uint8_t author_key_digest[SNP_KEY_DIGEST_LEN];
	uint8_t report_id[SNP_REPORT_ID_LEN];
	uint8_t report_id_ma[SNP_REPORT_ID_LEN];
	uint64_t reported_tcb;
	uint8_t cpuid_fam, cpuid_mod, cpuid_step; /* 0 when version < 3 */
	uint8_t chip_id[SNP_CHIP_ID_LEN];
	uint64_t committed_tcb;
	uint8_t current_build, current_minor, current_major;
	uint8_t committed_build, committed_minor, committed_major;
	uint64_t launch_tcb;
	uint8_t sig_r[SNP_SIG_COMPONENT_LEN]; /* little-endian, as in the report */
	uint8_t sig_s[SNP_SIG_COMPONENT_LEN];
};

/*
 * Parse exactly SNP_REPORT_LEN bytes into *out (cleared first).
 * Returns 0; SEVMON_ETRUNC if len is short, SEVMON_EDECODE if long or the version is
 * outside [SNP_REPORT_VERSION_MIN, SNP_REPORT_VERSION_MAX]; SEVMON_EINVAL on NULL.
 * Field semantics (policy, algorithm, ...) are the verifier's job.
 */
int snp_report_parse(const uint8_t *buf, size_t len, struct snp_report *out);

/*
 * Read a report given as raw bytes (exactly SNP_REPORT_LEN) or as hex text
 * (2*SNP_REPORT_LEN hex digits, upper or lower case, whitespace ignored), as a CLI
 * file may hold either. Returns 0 and fills out; SEVMON_EDECODE for a bad hex digit
 * or an odd digit count, SEVMON_ETRUNC / SEVMON_ETOOBIG for the wrong length.
 */
int snp_report_read(const uint8_t *in, size_t len, uint8_t out[SNP_REPORT_LEN]);

/* Decode a TCB_VERSION for the given product (UNKNOWN uses the Milan/Genoa layout). */
struct snp_tcb snp_tcb_decode(uint64_t raw, enum snp_product product);
/* Encode back (used by the simulated provider). */
uint64_t snp_tcb_encode(const struct snp_tcb *t, enum snp_product product);

/*
 * Product named by the report's CPUID fields (version >= 3): family 0x19 models
 * 0x00-0x0F Milan, 0x10-0x1F and 0xA0-0xAF Genoa; family 0x1A models 0x00-0x1F
 * Turin. UNKNOWN for version 2 reports, which carry no CPUID.
 */
enum snp_product snp_report_product(const struct snp_report *r);

const char *snp_product_name(enum snp_product p);

#endif
