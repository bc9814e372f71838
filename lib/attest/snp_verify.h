/*
 * snp_verify.h — verify an SEV-SNP attestation report (IDS side).
 *
 * What a successful snp_verify() promises, in the order it is checked:
 *   1. the report parses: 1184 bytes, version in [2, 5], signature_algo 1 (ECDSA P-384);
 *   2. the chain VCEK <- ASK <- ARK holds: ARK self-signed, ASK signed by ARK, VCEK
 *      signed by ASK, each signature RSASSA-PSS with SHA-384, MGF1-SHA-384, salt 48
 *      (the algorithm is checked, not only the signature), ARK and ASK RSA-4096,
 *      VCEK EC P-384, all certificates within their validity window, and the ARK equal
 *      (public key) to one of the caller's trust anchors;
 *   3. the report's ECDSA P-384/SHA-384 signature over bytes [0, 0x2A0) verifies
 *      with the VCEK key;
 *   4. reported_tcb equals the TCB the VCEK was issued for (its 3704.1.3.x extensions)
 *      and chip_id matches the VCEK hwID (skipped only when the report says the chip id
 *      is masked: MASK_CHIP_ID set and chip_id all zero; reported in the verdict);
 *   5. guest policy: reserved bit 17 set, debug (bit 19) clear, migration agent (bit 18)
 *      clear unless allowed; VMPL <= max_vmpl; reported TCB >= min_tcb per component;
 *      measurement on the allow-list (an empty list accepts any: the verdict says so);
 *      REPORT_DATA equal to the expected 64 bytes (constant time; NULL = unchecked,
 *      the verdict says so).
 * Rejections return SEVMON_EATTEST with verdict->reason naming the first failed check
 * and verdict->why a one-line explanation with the values involved. Malformed input
 * (report, DER, PEM) returns SEVMON_EDECODE / SEVMON_ETRUNC, also with a reason.
 *
 * The product (Milan/Genoa/Turin) is the one the matching trust anchor names; it
 * selects the TCB byte layout. A v3+ report's CPUID fields must agree with it.
 */
#ifndef SEVMON_SNP_VERIFY_H
#define SEVMON_SNP_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "snp_report.h"

/* Trust anchors: AMD roots, or a simulated root passed in explicitly. */
struct snp_trust;

/* NULL on allocation failure. Add anchors before sharing it between threads; verifying
 * with it from many threads at once is safe (snp_chain.h: its chain memo). */
struct snp_trust *snp_trust_new(void);
void snp_trust_free(struct snp_trust *t);
/*
 * Add every self-signed certificate in a PEM buffer / file as an anchor (others,
 * e.g. an ASK in the same file, are skipped). The product is taken from the subject
 * CN ("ARK-Milan", "ARK-Genoa", "ARK-Turin"; anything else: UNKNOWN, Milan TCB layout).
 * Returns the number of anchors added (>= 1), SEVMON_ENOENT if none, SEVMON_ETOOBIG
 * beyond SNP_TRUST_MAX, SEVMON_EIO / SEVMON_EDECODE for unreadable input.
 */
int snp_trust_add_pem(struct snp_trust *t, const uint8_t *pem, size_t len);
int snp_trust_add_file(struct snp_trust *t, const char *path);
/* Add amd-milan.pem, amd-genoa.pem, amd-turin.pem from dir (the shipped AMD roots);
 * files that are absent are skipped. Returns the number added. */
int snp_trust_add_amd(struct snp_trust *t, const char *dir);

#define SNP_TRUST_MAX 16 /* three AMD products plus test roots; more means a config error */

struct snp_policy {
	bool allow_migration_agent;
	uint32_t max_vmpl;                 /* highest VMPL accepted; 0 = only VMPL0 */
	struct snp_tcb min_tcb;            /* per component, compared with reported_tcb */
	const uint8_t (*measurements)[SNP_MEASUREMENT_LEN]; /* allow-list; NULL/0 = any */
	size_t n_measurements;
	const uint8_t *report_data;        /* SNP_REPORT_DATA_LEN bytes, or NULL = unchecked */
	time_t now;                        /* certificate validity reference; 0 = time(NULL) */
};

/* Defaults: no migration agent, max_vmpl 3, min_tcb all zero, no allow-list, no binding. */
void snp_policy_init(struct snp_policy *p);

#define SNP_REASONS(X)                                              \
	X(OK, "ok")                                                 \
	X(PARSE, "report malformed")                                \
	X(VERSION, "report version unsupported")                    \
	X(SIG_ALGO, "signature algorithm not ECDSA P-384 SHA-384")  \
	X(CERT_DECODE, "certificate malformed")                     \
	X(CHAIN_ALGO, "certificate signature algorithm not RSA-PSS SHA-384") \
	X(CHAIN_KEY, "certificate key type or size wrong")          \
	X(CHAIN_SIG, "certificate signature invalid")               \
	X(CHAIN_TIME, "certificate outside its validity period")    \
	X(UNTRUSTED_ROOT, "ARK is not a trust anchor")              \
	X(PRODUCT, "report CPUID does not match the chain's product") \
	X(SIGNATURE, "report signature invalid")                    \
	X(TCB_MISMATCH, "reported TCB differs from the VCEK's")     \
	X(CHIP_ID, "chip id differs from the VCEK's hwID")          \
	X(POLICY_RESERVED, "policy reserved bit 17 clear")          \
	X(DEBUG, "policy: debug enabled")                           \
	X(MIGRATION, "policy: migration agent allowed")             \
	X(VMPL, "VMPL above the maximum")                           \
	X(TCB_LOW, "TCB below the minimum")                         \
	X(MEASUREMENT, "launch measurement not on the allow-list")  \
	X(REPORT_DATA, "REPORT_DATA does not match the expected binding")

enum snp_reason {
#define SNP_REASON_ENUM(name, msg) SNP_REASON_##name,
	SNP_REASONS(SNP_REASON_ENUM)
#undef SNP_REASON_ENUM
};

/* Short name of a reason, e.g. "DEBUG"; "?" if out of range. */
const char *snp_reason_name(enum snp_reason r);

#define SNP_WHY_MAX 160 /* one line for a log or a CLI message */

/* Bits of snp_verdict.notes: things accepted that a caller may want to report. */
#define SNP_NOTE_ANY_MEASUREMENT (1u << 0) /* no allow-list was given */
#define SNP_NOTE_NO_BINDING (1u << 1)      /* no expected REPORT_DATA was given */
#define SNP_NOTE_CHIP_ID_MASKED (1u << 2)  /* the report masks its chip id */

struct snp_verdict {
	enum snp_reason reason;
	char why[SNP_WHY_MAX];
	bool chain_ok;      /* stage 2 passed */
	bool signature_ok;  /* stage 3 passed */
	unsigned notes;     /* SNP_NOTE_* */
	enum snp_product product;
	struct snp_report report; /* filled once the report parses */
};

/*
 * Verify a report (SNP_REPORT_LEN raw bytes) with its VCEK (DER) and the product's
 * cert chain (PEM: ASK first, then ARK, as AMD's KDS serves it). verdict may be NULL.
 * Returns 0 if every check above passes.
 */
__attribute__((warn_unused_result))
int snp_verify(const struct snp_policy *pol, const struct snp_trust *trust,
	       const uint8_t *report, size_t report_len,
	       const uint8_t *vcek_der, size_t vcek_len,
	       const uint8_t *chain_pem, size_t chain_len,
	       struct snp_verdict *verdict);

/* Stage 2 alone (for a chain with no report yet). Same return and verdict rules. */
__attribute__((warn_unused_result))
int snp_verify_chain(const struct snp_trust *trust, time_t now,
		     const uint8_t *vcek_der, size_t vcek_len,
		     const uint8_t *chain_pem, size_t chain_len,
		     struct snp_verdict *verdict);

#endif
