/*
 * snp_vcek.h — AMD's VCEK certificate extensions (KDS spec, publication 57230).
 *
 * A VCEK names the TCB it was derived for and the chip it belongs to in private
 * extensions under 1.3.6.1.4.1.3704.1. Each TCB extension's value is a DER INTEGER;
 * the hwID is the chip id as bare bytes (64; 8 on Turin), or in some certificates
 * wrapped in a DER OCTET STRING: both forms are read.
 */
#ifndef SEVMON_SNP_VCEK_H
#define SEVMON_SNP_VCEK_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "snp_report.h"

#define SNP_OID_PRODUCT_NAME "1.3.6.1.4.1.3704.1.2"
#define SNP_OID_BOOTLOADER "1.3.6.1.4.1.3704.1.3.1"
#define SNP_OID_TEE "1.3.6.1.4.1.3704.1.3.2"
#define SNP_OID_SNP "1.3.6.1.4.1.3704.1.3.3"
#define SNP_OID_MICROCODE "1.3.6.1.4.1.3704.1.3.8"
#define SNP_OID_FMC "1.3.6.1.4.1.3704.1.3.9" /* Turin only */
#define SNP_OID_HWID "1.3.6.1.4.1.3704.1.4"

#define SNP_HWID_LEN_TURIN 8 /* Turin VCEKs name the chip by the first 8 bytes of CHIP_ID */

/* Bits of snp_vcek_info.have. */
#define SNP_VCEK_HAVE_FMC (1u << 0)
#define SNP_VCEK_HAVE_HWID (1u << 1)

struct snp_vcek_info {
	struct snp_tcb tcb;
	uint8_t hwid[SNP_CHIP_ID_LEN];
	size_t hwid_len;    /* 64, 8 (Turin), or 0 if absent */
	unsigned have;      /* SNP_VCEK_HAVE_* */
};

/*
 * Read the TCB extensions (bootloader, tee, snp, microcode: all required; fmc
 * optional) and the hwID (optional: VLEKs have none) from x.
 * Returns 0; SEVMON_ENOENT if a required extension is missing, SEVMON_EDECODE if
 * one is malformed or out of range (a TCB component is one byte).
 */
int snp_vcek_read(X509 *x, struct snp_vcek_info *out);

#endif
