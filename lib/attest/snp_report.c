/* snp_report.c — SEV-SNP report layout: parse, hex/raw input, TCB encoding. */
#include "snp_report.h"

#include <string.h>

#include "err.h"
#include "rbuf.h"

_Static_assert(SNP_OFF_SIG_S == SNP_OFF_SIG_R + SNP_SIG_COMPONENT_LEN, "r then s");
_Static_assert(SNP_OFF_SIGNATURE == SNP_REPORT_SIGNED_LEN, "signature follows the signed body");
_Static_assert(SNP_OFF_CHIP_ID + SNP_CHIP_ID_LEN == SNP_OFF_COMMITTED_TCB, "chip_id then committed_tcb");

/* Copy n bytes at off out of a reader already known to hold SNP_REPORT_LEN bytes. */
static int get_at(const struct rbuf *r, size_t off, void *out, size_t n)
{
	struct rbuf s;
	int err = rbuf_peek_at(r, off, n, &s);
	return err ? err : rbuf_get_bytes(&s, out, n);
}

static int get_le32_at(const struct rbuf *r, size_t off, uint32_t *v)
{
	struct rbuf s;
	int err = rbuf_peek_at(r, off, 4, &s);
	return err ? err : rbuf_get_le32(&s, v);
}

static int get_le64_at(const struct rbuf *r, size_t off, uint64_t *v)
{
	struct rbuf s;
	int err = rbuf_peek_at(r, off, 8, &s);
	return err ? err : rbuf_get_le64(&s, v);
}

int snp_report_parse(const uint8_t *buf, size_t len, struct snp_report *out)
{
	if (!buf || !out)
		return SEVMON_EINVAL;
	memset(out, 0, sizeof *out);
	if (len < SNP_REPORT_LEN)
		return SEVMON_ETRUNC;
	if (len > SNP_REPORT_LEN)
		return SEVMON_EDECODE;
	struct rbuf r = rbuf_make(buf, len);
	uint8_t ver3[3], fw[8];
	int err = get_le32_at(&r, SNP_OFF_VERSION, &out->version);
	if (err)
		return err;
	if (out->version < SNP_REPORT_VERSION_MIN || out->version > SNP_REPORT_VERSION_MAX)
		return SEVMON_EDECODE;
	err = get_le32_at(&r, SNP_OFF_GUEST_SVN, &out->guest_svn);
	err = err ? err : get_le64_at(&r, SNP_OFF_POLICY, &out->policy);
	err = err ? err : get_at(&r, SNP_OFF_FAMILY_ID, out->family_id, sizeof out->family_id);
	err = err ? err : get_at(&r, SNP_OFF_IMAGE_ID, out->image_id, sizeof out->image_id);
	err = err ? err : get_le32_at(&r, SNP_OFF_VMPL, &out->vmpl);
	err = err ? err : get_le32_at(&r, SNP_OFF_SIG_ALGO, &out->signature_algo);
	err = err ? err : get_le64_at(&r, SNP_OFF_CURRENT_TCB, &out->current_tcb);
	err = err ? err : get_le64_at(&r, SNP_OFF_PLATFORM_INFO, &out->platform_info);
	err = err ? err : get_le32_at(&r, SNP_OFF_KEY_INFO, &out->key_info);
	err = err ? err : get_at(&r, SNP_OFF_REPORT_DATA, out->report_data, sizeof out->report_data);
	err = err ? err : get_at(&r, SNP_OFF_MEASUREMENT, out->measurement, sizeof out->measurement);
	err = err ? err : get_at(&r, SNP_OFF_HOST_DATA, out->host_data, sizeof out->host_data);
	err = err ? err : get_at(&r, SNP_OFF_ID_KEY_DIGEST, out->id_key_digest, sizeof out->id_key_digest);
	err = err ? err : get_at(&r, SNP_OFF_AUTHOR_KEY_DIGEST, out->author_key_digest,
				 sizeof out->author_key_digest);
	err = err ? err : get_at(&r, SNP_OFF_REPORT_ID, out->report_id, sizeof out->report_id);
	err = err ? err : get_at(&r, SNP_OFF_REPORT_ID_MA, out->report_id_ma, sizeof out->report_id_ma);
	err = err ? err : get_le64_at(&r, SNP_OFF_REPORTED_TCB, &out->reported_tcb);
	err = err ? err : get_at(&r, SNP_OFF_CPUID_FAM, ver3, sizeof ver3);
	err = err ? err : get_at(&r, SNP_OFF_CHIP_ID, out->chip_id, sizeof out->chip_id);
	err = err ? err : get_le64_at(&r, SNP_OFF_COMMITTED_TCB, &out->committed_tcb);
	err = err ? err : get_at(&r, SNP_OFF_CURRENT_BUILD, fw, sizeof fw);
	err = err ? err : get_le64_at(&r, SNP_OFF_LAUNCH_TCB, &out->launch_tcb);
	err = err ? err : get_at(&r, SNP_OFF_SIG_R, out->sig_r, sizeof out->sig_r);
	err = err ? err : get_at(&r, SNP_OFF_SIG_S, out->sig_s, sizeof out->sig_s);
	if (err)
		return err;
	if (out->version >= 3) {
		out->cpuid_fam = ver3[0];
		out->cpuid_mod = ver3[1];
		out->cpuid_step = ver3[2];
	}
	out->current_build = fw[0];
	out->current_minor = fw[1];
	out->current_major = fw[2];
	out->committed_build = fw[4];
	out->committed_minor = fw[5];
	out->committed_major = fw[6];
	return 0;
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int is_space(uint8_t c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

int snp_report_read(const uint8_t *in, size_t len, uint8_t out[SNP_REPORT_LEN])
{
	if (!in || !out)
		return SEVMON_EINVAL;
	if (len == SNP_REPORT_LEN) {
		/* Raw: a hex file is at least twice as long, so this length is unambiguous. */
		memcpy(out, in, SNP_REPORT_LEN);
		return 0;
	}
	size_t n = 0;
	int hi = -1;
	for (size_t i = 0; i < len; i++) {
		if (is_space(in[i]))
			continue;
		int v = hexval(in[i]);
		if (v < 0)
			return SEVMON_EDECODE;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n == SNP_REPORT_LEN)
			return SEVMON_ETOOBIG;
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	if (hi >= 0)
		return SEVMON_EDECODE;
	return n == SNP_REPORT_LEN ? 0 : SEVMON_ETRUNC;
}

struct snp_tcb snp_tcb_decode(uint64_t raw, enum snp_product product)
{
	struct snp_tcb t = { 0 };
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(raw >> (8 * i));
	if (product == SNP_PRODUCT_TURIN) {
		t.fmc = b[0];
		t.bootloader = b[1];
		t.tee = b[2];
		t.snp = b[3];
	} else {
		t.bootloader = b[0];
		t.tee = b[1];
		t.snp = b[6];
	}
	t.microcode = b[7];
	return t;
}

uint64_t snp_tcb_encode(const struct snp_tcb *t, enum snp_product product)
{
	uint8_t b[8] = { 0 };
	if (product == SNP_PRODUCT_TURIN) {
		b[0] = t->fmc;
		b[1] = t->bootloader;
		b[2] = t->tee;
		b[3] = t->snp;
	} else {
		b[0] = t->bootloader;
		b[1] = t->tee;
		b[6] = t->snp;
	}
	b[7] = t->microcode;
	return load_le64(b);
}

enum snp_product snp_report_product(const struct snp_report *r)
{
	if (r->version < 3)
		return SNP_PRODUCT_UNKNOWN;
	if (r->cpuid_fam == 0x19) {
		if (r->cpuid_mod <= 0x0F)
			return SNP_PRODUCT_MILAN;
		if (r->cpuid_mod <= 0x1F || (r->cpuid_mod >= 0xA0 && r->cpuid_mod <= 0xAF))
			return SNP_PRODUCT_GENOA;
	} else if (r->cpuid_fam == 0x1A && r->cpuid_mod <= 0x1F) {
		return SNP_PRODUCT_TURIN;
	}
	return SNP_PRODUCT_UNKNOWN;
}

const char *snp_product_name(enum snp_product p)
{
	switch (p) {
	case SNP_PRODUCT_MILAN:
		return "Milan";
	case SNP_PRODUCT_GENOA:
		return "Genoa";
	case SNP_PRODUCT_TURIN:
		return "Turin";
	case SNP_PRODUCT_UNKNOWN:
		break;
	}
	return "unknown";
}
