#include <string.h>

#include "err.h"
#include "harness.h"
#include "snp_report.h"
#include "snp_testdata.h"

static void load_milan(uint8_t raw[SNP_REPORT_LEN])
{
	size_t n;
	uint8_t *hex = snp_test_slurp("snp/virtee-report_milan.hex", &n);
	ASSERT_EQ(snp_report_read(hex, n, raw), 0);
	free(hex);
}

TEST(snp_report_parse_milan_fields)
{
	uint8_t raw[SNP_REPORT_LEN];
	struct snp_report r;
	load_milan(raw);
	ASSERT_EQ(snp_report_parse(raw, sizeof raw, &r), 0);
	ASSERT_EQ(r.version, 2);
	ASSERT_UEQ(r.policy, 0x30000);
	ASSERT_EQ(r.vmpl, 0);
	ASSERT_EQ(r.signature_algo, 1);
	ASSERT_UEQ(r.platform_info, 1);
	ASSERT_EQ(r.measurement[0], 0x7a);
	ASSERT_EQ(r.measurement[47], 0x1f);
	ASSERT_EQ(r.report_data[0], 0xd4);
	ASSERT_EQ(r.chip_id[0], 0xd4);
	ASSERT_EQ(r.chip_id[1], 0x95);
	ASSERT_EQ(r.sig_r[0], 0x61);
	ASSERT_EQ(r.sig_s[0], 0x20);
	ASSERT_EQ(r.current_major, 1);
	ASSERT_EQ(r.current_minor, 0x34);
	ASSERT_EQ(r.current_build, 4);
	/* reported_tcb 0x7308000000000003: Milan layout bl 3, tee 0, snp 8, microcode 0x73. */
	struct snp_tcb t = snp_tcb_decode(r.reported_tcb, SNP_PRODUCT_MILAN);
	ASSERT_EQ(t.bootloader, 3);
	ASSERT_EQ(t.tee, 0);
	ASSERT_EQ(t.snp, 8);
	ASSERT_EQ(t.microcode, 0x73);
	ASSERT_EQ(snp_report_product(&r), SNP_PRODUCT_UNKNOWN); /* v2: no CPUID */
}

TEST(snp_report_read_hex_equals_raw)
{
	uint8_t raw[SNP_REPORT_LEN], again[SNP_REPORT_LEN];
	size_t n;
	uint8_t *bin = snp_test_slurp("snp/gosevguest-attestation.bin", &n);
	ASSERT_EQ(n, SNP_REPORT_LEN);
	ASSERT_EQ(snp_report_read(bin, n, raw), 0);
	ASSERT_MEMEQ(raw, bin, SNP_REPORT_LEN);
	/* The same bytes as lower-case hex with line breaks read back identically. */
	char *hex = malloc(3 * SNP_REPORT_LEN);
	size_t k = 0;
	for (size_t i = 0; i < SNP_REPORT_LEN; i++) {
		k += (size_t)sprintf(hex + k, "%02x", bin[i]);
		if (i % 32 == 31)
			hex[k++] = '\n';
	}
	ASSERT_EQ(snp_report_read((const uint8_t *)hex, k, again), 0);
	ASSERT_MEMEQ(again, bin, SNP_REPORT_LEN);
	free(hex);
	free(bin);
}

TEST(snp_report_parse_short_rejected)
{
	uint8_t raw[SNP_REPORT_LEN];
	struct snp_report r;
	load_milan(raw);
	ASSERT_EQ(snp_report_parse(raw, SNP_REPORT_LEN - 1, &r), SEVMON_ETRUNC);
	ASSERT_EQ(snp_report_parse(raw, 0, &r), SEVMON_ETRUNC);
	ASSERT_EQ(snp_report_parse(raw, SNP_REPORT_LEN + 1, &r), SEVMON_EDECODE);
	ASSERT_EQ(snp_report_parse(NULL, SNP_REPORT_LEN, &r), SEVMON_EINVAL);
}

TEST(snp_report_parse_wrong_version_rejected)
{
	uint8_t raw[SNP_REPORT_LEN];
	struct snp_report r;
	load_milan(raw);
	static const uint32_t bad[] = { 0, 1, SNP_REPORT_VERSION_MAX + 1, 0xFFFFFFFFu };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		raw[0] = (uint8_t)bad[i];
		raw[1] = (uint8_t)(bad[i] >> 8);
		raw[2] = (uint8_t)(bad[i] >> 16);
		raw[3] = (uint8_t)(bad[i] >> 24);
		ASSERT_EQ(snp_report_parse(raw, sizeof raw, &r), SEVMON_EDECODE);
	}
	raw[0] = 3;
	raw[1] = raw[2] = raw[3] = 0;
	ASSERT_EQ(snp_report_parse(raw, sizeof raw, &r), 0);
	ASSERT_EQ(r.version, 3);
}

TEST(snp_report_read_bad_hex_rejected)
{
	uint8_t out[SNP_REPORT_LEN];
	size_t n;
	uint8_t *hex = snp_test_slurp("snp/virtee-report_milan.hex", &n);
	uint8_t *copy = malloc(n);
	memcpy(copy, hex, n);
	copy[100] = 'g';
	ASSERT_EQ(snp_report_read(copy, n, out), SEVMON_EDECODE);
	/* Odd digit count. */
	memcpy(copy, hex, n);
	ASSERT_EQ(snp_report_read(copy, 2 * SNP_REPORT_LEN - 1, out), SEVMON_EDECODE);
	/* Whole digits but short, and too long. */
	ASSERT_EQ(snp_report_read(copy, 2 * SNP_REPORT_LEN - 2, out), SEVMON_ETRUNC);
	uint8_t *longer = malloc(2 * SNP_REPORT_LEN + 2);
	memcpy(longer, hex, 2 * SNP_REPORT_LEN);
	longer[2 * SNP_REPORT_LEN] = '0';
	longer[2 * SNP_REPORT_LEN + 1] = '0';
	ASSERT_EQ(snp_report_read(longer, 2 * SNP_REPORT_LEN + 2, out), SEVMON_ETOOBIG);
	free(longer);
	free(copy);
	free(hex);
}

TEST(snp_tcb_encode_turin_layout_roundtrip)
{
	struct snp_tcb t = { .fmc = 1, .bootloader = 2, .tee = 3, .snp = 4, .microcode = 5 };
	uint64_t raw = snp_tcb_encode(&t, SNP_PRODUCT_TURIN);
	ASSERT_UEQ(raw, 0x0500000004030201ull);
	struct snp_tcb u = snp_tcb_decode(raw, SNP_PRODUCT_TURIN);
	ASSERT_EQ(memcmp(&t, &u, sizeof t), 0);
	/* The same bytes read with the Milan layout name other components. */
	struct snp_tcb m = snp_tcb_decode(raw, SNP_PRODUCT_MILAN);
	ASSERT_EQ(m.bootloader, 1);
	ASSERT_EQ(m.snp, 0);
	t.fmc = 0;
	ASSERT_UEQ(snp_tcb_encode(&t, SNP_PRODUCT_GENOA), 0x0504000000000302ull);
}

TEST(snp_report_product_from_cpuid)
{
	struct snp_report r = { .version = 3, .cpuid_fam = 0x19, .cpuid_mod = 0x01 };
	ASSERT_EQ(snp_report_product(&r), SNP_PRODUCT_MILAN);
	r.cpuid_mod = 0x11;
	ASSERT_EQ(snp_report_product(&r), SNP_PRODUCT_GENOA);
	r.cpuid_mod = 0xA0;
	ASSERT_EQ(snp_report_product(&r), SNP_PRODUCT_GENOA);
	r.cpuid_fam = 0x1A;
	r.cpuid_mod = 0x02;
	ASSERT_EQ(snp_report_product(&r), SNP_PRODUCT_TURIN);
	r.version = 2;
	ASSERT_EQ(snp_report_product(&r), SNP_PRODUCT_UNKNOWN);
}

TEST_MAIN()
