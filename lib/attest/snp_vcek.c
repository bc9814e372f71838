/* snp_vcek.c — read AMD's TCB and hwID extensions out of a VCEK. */
#include "snp_vcek.h"

#include <string.h>

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "err.h"

/* The extension's value (contents of its extnValue OCTET STRING), or NULL. */
static const ASN1_OCTET_STRING *ext_value(X509 *x, const char *oid)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	if (!obj)
		return NULL;
	int i = X509_get_ext_by_OBJ(x, obj, -1);
	ASN1_OBJECT_free(obj);
	if (i < 0)
		return NULL;
	return X509_EXTENSION_get_data(X509_get_ext(x, i));
}

static int read_u8_ext(X509 *x, const char *oid, uint8_t *v)
{
	const ASN1_OCTET_STRING *os = ext_value(x, oid);
	if (!os)
		return SEVMON_ENOENT;
	const unsigned char *p = ASN1_STRING_get0_data(os);
	long len = ASN1_STRING_length(os);
	ASN1_INTEGER *ai = d2i_ASN1_INTEGER(NULL, &p, len);
	if (!ai)
		return SEVMON_EDECODE;
	int64_t n = -1;
	int ok = ASN1_INTEGER_get_int64(&n, ai) == 1 && p == ASN1_STRING_get0_data(os) + len;
	ASN1_INTEGER_free(ai);
	if (!ok || n < 0 || n > 0xFF)
		return SEVMON_EDECODE;
	*v = (uint8_t)n;
	return 0;
}

static int read_hwid(X509 *x, struct snp_vcek_info *out)
{
	const ASN1_OCTET_STRING *os = ext_value(x, SNP_OID_HWID);
	if (!os)
		return 0;
	const unsigned char *p = ASN1_STRING_get0_data(os);
	long len = ASN1_STRING_length(os);
	if (len == SNP_CHIP_ID_LEN || len == SNP_HWID_LEN_TURIN) {
		/* Raw form: Milan/Genoa VCEKs from KDS carry 64 bare bytes, Turin 8. A
		 * DER-wrapped value is 2 bytes longer, so the length tells them apart. */
		memcpy(out->hwid, p, (size_t)len);
		out->hwid_len = (size_t)len;
		out->have |= SNP_VCEK_HAVE_HWID;
		return 0;
	}
	ASN1_OCTET_STRING *in = d2i_ASN1_OCTET_STRING(NULL, &p, len);
	if (!in)
		return SEVMON_EDECODE;
	int n = ASN1_STRING_length(in);
	int ok = p == ASN1_STRING_get0_data(os) + len &&
		 (n == SNP_CHIP_ID_LEN || n == SNP_HWID_LEN_TURIN);
	if (ok) {
		memcpy(out->hwid, ASN1_STRING_get0_data(in), (size_t)n);
		out->hwid_len = (size_t)n;
		out->have |= SNP_VCEK_HAVE_HWID;
	}
	ASN1_OCTET_STRING_free(in);
	return ok ? 0 : SEVMON_EDECODE;
}

int snp_vcek_read(X509 *x, struct snp_vcek_info *out)
{
	if (!x || !out)
		return SEVMON_EINVAL;
	memset(out, 0, sizeof *out);
	int err = read_u8_ext(x, SNP_OID_BOOTLOADER, &out->tcb.bootloader);
	err = err ? err : read_u8_ext(x, SNP_OID_TEE, &out->tcb.tee);
	err = err ? err : read_u8_ext(x, SNP_OID_SNP, &out->tcb.snp);
	err = err ? err : read_u8_ext(x, SNP_OID_MICROCODE, &out->tcb.microcode);
	if (err)
		return err;
	err = read_u8_ext(x, SNP_OID_FMC, &out->tcb.fmc);
	if (err == 0)
		out->have |= SNP_VCEK_HAVE_FMC;
	else if (err != SEVMON_ENOENT)
		return err;
	return read_hwid(x, out);
}
