/*
 * snp_sim.h — a simulated SEV-SNP evidence provider for machines without SEV.
 *
 * It produces the real 1184-byte report layout, signed by a test VCEK that chains
 * to a test ARK through a test ASK, with AMD's algorithms and extensions, so the
 * verifier runs the same code path as for hardware. The test ARK is never trusted by
 * default: a verifier accepts sim evidence only if the caller passes DIR/ark.pem as a
 * trust anchor explicitly.
 *
 * DIR after snp_sim_init():
 *   ark.pem         test ARK (RSA-4096, self-signed, RSASSA-PSS SHA-384), CN "ARK-Sim"
 *   ask.pem         test ASK (RSA-4096, signed by the ARK)
 *   cert_chain.pem  ASK then ARK, the form AMD's KDS serves
 *   vcek.der        test VCEK (EC P-384, signed by the ASK, TCB + hwID extensions)
 *   vcek.key        its private key (PKCS#8 PEM, mode 0600)
 * The ARK and ASK private keys are discarded once the chain is made.
 * The TCB layout is the Milan/Genoa one (the sim chain names no product).
 */
#ifndef SEVMON_SNP_SIM_H
#define SEVMON_SNP_SIM_H

#include <stdint.h>

#include "snp_report.h"

/* TCB the sim VCEK is issued for (the values of a Milan part in the field). */
#define SNP_SIM_TCB_BOOTLOADER 3
#define SNP_SIM_TCB_TEE 0
#define SNP_SIM_TCB_SNP 8
#define SNP_SIM_TCB_MICROCODE 115

/*
 * Create DIR (mode 0700) if needed and write the files above. Refuses with
 * SEVMON_EEXIST if any of them is already there (nothing is overwritten).
 * Returns 0, SEVMON_ESYS / SEVMON_EIO for file errors, SEVMON_EINTERNAL if OpenSSL
 * fails. Slow (two RSA-4096 key generations): run once.
 */
int snp_sim_init(const char *dir);

struct snp_sim_params {
	uint8_t report_data[SNP_REPORT_DATA_LEN];
	uint8_t measurement[SNP_MEASUREMENT_LEN];
	uint64_t policy; /* e.g. SNP_POLICY_RESERVED1 | SNP_POLICY_SMT */
	uint32_t vmpl;
};

/*
 * Fill out[] with a version-2 report carrying p and the VCEK's TCB and hwID, signed
 * with DIR/vcek.key. Returns 0, SEVMON_ENOENT if DIR has no sim VCEK, SEVMON_EDECODE
 * if its files are malformed, SEVMON_EINTERNAL if signing fails.
 */
int snp_sim_report(const char *dir, const struct snp_sim_params *p, uint8_t out[SNP_REPORT_LEN]);

#endif
