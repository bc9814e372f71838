/*
 * snp_sim.c — test ARK/ASK/VCEK generation and report signing for the simulated
 * provider. Certificates copy the shape of AMD's (names, PSS parameters, extensions)
 * so that nothing in the verifier needs a "sim" branch.
 */
#include "snp_sim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "err.h"
#include "rbuf.h"
#include "snp_vcek.h"

#define SIM_RSA_BITS 4096          /* as AMD's ARK/ASK */
#define SIM_PSS_SALT 48            /* SHA-384 digest length, as AMD */
#define SIM_VALID_DAYS (25 * 365)  /* AMD's ARKs are valid for 25 years */
#define SIM_FILE_MAX 16384         /* a sim VCEK or key file is ~1-2 KB */
#define SIM_PATH_MAX 4096

static const char *const sim_files[] = { "ark.pem", "ask.pem", "cert_chain.pem", "vcek.der", "vcek.key" };

static int sim_path(char *out, const char *dir, const char *name)
{
	int n = snprintf(out, SIM_PATH_MAX, "%s/%s", dir, name);
	return n < 0 || n >= SIM_PATH_MAX ? SEVMON_ETOOBIG : 0;
}

static int set_name(X509_NAME *n, const char *cn)
{
	static const struct { const char *k, *v; } amd[] = {
		{ "OU", "Engineering" }, { "C", "US" }, { "L", "Santa Clara" }, { "ST", "CA" },
		{ "O", "sevmon simulated SEV-SNP (not AMD)" },
	};
	for (size_t i = 0; i < sizeof amd / sizeof amd[0]; i++)
		if (!X509_NAME_add_entry_by_txt(n, amd[i].k, MBSTRING_UTF8,
						(const unsigned char *)amd[i].v, -1, -1, 0))
			return 0;
	return X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
}

static int add_ext_conf(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	int ok = e && X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok;
}

/* An AMD-style private extension whose value is the given DER bytes. */
static int add_ext_der(X509 *x, const char *oid, const uint8_t *der, size_t len)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *e = NULL;
	int ok = obj && os && ASN1_OCTET_STRING_set(os, der, (int)len) &&
		 (e = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) != NULL && X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(obj);
	return ok;
}

static int add_ext_u8(X509 *x, const char *oid, uint8_t v)
{
	/* DER INTEGER: a leading zero keeps values >= 0x80 positive. */
	uint8_t der[4] = { 0x02, 0x01, v };
	if (v >= 0x80) {
		der[1] = 2;
		der[2] = 0;
		der[3] = v;
	}
	return add_ext_der(x, oid, der, v >= 0x80 ? 4 : 3);
}

/* RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48: AMD's certificate signature. */
static int sign_pss(X509 *x, EVP_PKEY *key)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = NULL;
	int ok = m && EVP_DigestSignInit(m, &pc, EVP_sha384(), NULL, key) == 1 &&
		 EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) > 0 &&
		 EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, SIM_PSS_SALT) > 0 &&
		 EVP_PKEY_CTX_set_rsa_mgf1_md(pc, EVP_sha384()) > 0 && X509_sign_ctx(x, m) > 0;
	EVP_MD_CTX_free(m);
	return ok;
}

/* A certificate for key, issued by issuer (NULL: self-signed), without signature. */
static X509 *new_cert(EVP_PKEY *key, const char *cn, X509 *issuer, long serial)
{
	X509 *x = X509_new();
	int ok = x && X509_set_version(x, 2) && ASN1_INTEGER_set(X509_get_serialNumber(x), serial) &&
		 set_name(X509_get_subject_name(x), cn) &&
		 X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : X509_get_subject_name(x)) &&
		 X509_gmtime_adj(X509_getm_notBefore(x), -86400) &&
		 X509_time_adj_ex(X509_getm_notAfter(x), SIM_VALID_DAYS, 0, NULL) &&
		 X509_set_pubkey(x, key);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int write_file(const char *dir, const char *name, const void *p, size_t n, mode_t mode)
{
	char path[SIM_PATH_MAX];
	int err = sim_path(path, dir, name);
	if (err)
		return err;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return errno == EEXIST ? SEVMON_EEXIST : SEVMON_ESYS;
	const uint8_t *b = p;
	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			return SEVMON_EIO;
		}
		b += w;
		n -= (size_t)w;
	}
	return close(fd) == 0 ? 0 : SEVMON_EIO;
}

/* PEM of x (and optionally y) into a memory BIO, then to a file. */
static int write_pem(const char *dir, const char *name, X509 *x, X509 *y)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	int err = SEVMON_EINTERNAL;
	if (b && PEM_write_bio_X509(b, x) && (!y || PEM_write_bio_X509(b, y))) {
		long n = BIO_get_mem_data(b, &p);
		err = write_file(dir, name, p, (size_t)n, 0644);
	}
	BIO_free(b);
	return err;
}

int snp_sim_init(const char *dir)
{
	if (!dir)
		return SEVMON_EINVAL;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return SEVMON_ESYS;
	char path[SIM_PATH_MAX];
	for (size_t i = 0; i < sizeof sim_files / sizeof sim_files[0]; i++) {
		int e = sim_path(path, dir, sim_files[i]);
		if (e)
			return e;
		if (access(path, F_OK) == 0)
			return SEVMON_EEXIST;
	}

	EVP_PKEY *ark_key = NULL, *ask_key = NULL, *vcek_key = NULL;
	X509 *ark = NULL, *ask = NULL, *vcek = NULL;
	unsigned char *der = NULL;
	BIO *kb = NULL;
	uint8_t hwid[SNP_CHIP_ID_LEN]; /* bare bytes, as AMD's Milan/Genoa VCEKs */
	static const uint8_t product[] = { 0x16, 3, 'S', 'i', 'm' }; /* IA5String "Sim" */
	int err = SEVMON_EINTERNAL;

	ark_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)SIM_RSA_BITS);
	ask_key = ark_key ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)SIM_RSA_BITS) : NULL;
	vcek_key = ask_key ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384") : NULL;
	if (!vcek_key || RAND_bytes(hwid, SNP_CHIP_ID_LEN) != 1)
		goto out;

	ark = new_cert(ark_key, "ARK-Sim", NULL, 1);
	if (!ark || !add_ext_conf(ark, ark, NID_basic_constraints, "critical,CA:TRUE") ||
	    !add_ext_conf(ark, ark, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !sign_pss(ark, ark_key))
		goto out;
	ask = new_cert(ask_key, "SEV-Sim", ark, 2);
	if (!ask || !add_ext_conf(ask, ark, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
	    !add_ext_conf(ask, ark, NID_key_usage, "critical,keyCertSign,cRLSign") ||
	    !sign_pss(ask, ark_key))
		goto out;
	vcek = new_cert(vcek_key, "SEV-VCEK", ask, 0);
	if (!vcek || !add_ext_der(vcek, SNP_OID_PRODUCT_NAME, product, sizeof product) ||
	    !add_ext_u8(vcek, SNP_OID_BOOTLOADER, SNP_SIM_TCB_BOOTLOADER) ||
	    !add_ext_u8(vcek, SNP_OID_TEE, SNP_SIM_TCB_TEE) ||
	    !add_ext_u8(vcek, SNP_OID_SNP, SNP_SIM_TCB_SNP) ||
	    !add_ext_u8(vcek, SNP_OID_MICROCODE, SNP_SIM_TCB_MICROCODE) ||
	    !add_ext_der(vcek, SNP_OID_HWID, hwid, sizeof hwid) || !sign_pss(vcek, ask_key))
		goto out;

	int der_len = i2d_X509(vcek, &der);
	kb = BIO_new(BIO_s_mem());
	char *kp = NULL;
	long klen = 0;
	if (der_len <= 0 || !kb || !PEM_write_bio_PrivateKey(kb, vcek_key, NULL, NULL, 0, NULL, NULL) ||
	    (klen = BIO_get_mem_data(kb, &kp)) <= 0)
		goto out;
	/* The key first, so a half-made directory still refuses a second init. */
	if ((err = write_file(dir, "vcek.key", kp, (size_t)klen, 0600)) ||
	    (err = write_file(dir, "vcek.der", der, (size_t)der_len, 0644)) ||
	    (err = write_pem(dir, "ark.pem", ark, NULL)) ||
	    (err = write_pem(dir, "ask.pem", ask, NULL)) ||
	    (err = write_pem(dir, "cert_chain.pem", ask, ark)))
		goto out;
	err = 0;
out:
	ERR_clear_error();
	BIO_free(kb);
	OPENSSL_free(der);
	X509_free(vcek);
	X509_free(ask);
	X509_free(ark);
	EVP_PKEY_free(vcek_key);
	EVP_PKEY_free(ask_key);
	EVP_PKEY_free(ark_key);
	return err;
}

static int read_small(const char *dir, const char *name, uint8_t *buf, size_t *len)
{
	char path[SIM_PATH_MAX];
	int err = sim_path(path, dir, name);
	if (err)
		return err;
	FILE *f = fopen(path, "rb");
	if (!f)
		return SEVMON_ENOENT;
	size_t n = fread(buf, 1, SIM_FILE_MAX, f);
	int bad = ferror(f) || !feof(f);
	fclose(f);
	if (bad)
		return SEVMON_EDECODE;
	*len = n;
	return 0;
}

/* ECDSA P-384 / SHA-384 over the signed body; r and s little-endian, zero-padded. */
static int sign_report(EVP_PKEY *key, uint8_t out[SNP_REPORT_LEN])
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	unsigned char der[128]; /* an ECDSA P-384 DER signature is at most 104 bytes */
	size_t dlen = sizeof der;
	ECDSA_SIG *sig = NULL;
	int ok = m && EVP_DigestSignInit(m, NULL, EVP_sha384(), NULL, key) == 1 &&
		 EVP_DigestSign(m, der, &dlen, out, SNP_REPORT_SIGNED_LEN) == 1;
	if (ok) {
		const unsigned char *p = der;
		sig = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
		ok = sig &&
		     BN_bn2lebinpad(ECDSA_SIG_get0_r(sig), out + SNP_OFF_SIG_R, SNP_SIG_COMPONENT_LEN) > 0 &&
		     BN_bn2lebinpad(ECDSA_SIG_get0_s(sig), out + SNP_OFF_SIG_S, SNP_SIG_COMPONENT_LEN) > 0;
	}
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(m);
	return ok ? 0 : SEVMON_EINTERNAL;
}

int snp_sim_report(const char *dir, const struct snp_sim_params *p, uint8_t out[SNP_REPORT_LEN])
{
	if (!dir || !p || !out)
		return SEVMON_EINVAL;
	uint8_t *buf = malloc(SIM_FILE_MAX);
	X509 *vcek = NULL;
	EVP_PKEY *key = NULL;
	BIO *b = NULL;
	size_t len = 0;
	int err = buf ? read_small(dir, "vcek.der", buf, &len) : SEVMON_ENOMEM;
	if (err)
		goto out;
	const unsigned char *q = buf;
	struct snp_vcek_info info;
	vcek = d2i_X509(NULL, &q, (long)len);
	if (!vcek || (err = snp_vcek_read(vcek, &info)) || info.hwid_len != SNP_CHIP_ID_LEN) {
		err = err ? err : SEVMON_EDECODE;
		goto out;
	}
	if ((err = read_small(dir, "vcek.key", buf, &len)))
		goto out;
	b = BIO_new_mem_buf(buf, (int)len);
	key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	if (!key || EVP_PKEY_eq(key, X509_get0_pubkey(vcek)) != 1) {
		err = SEVMON_EDECODE;
		goto out;
	}

	memset(out, 0, SNP_REPORT_LEN);
	uint64_t tcb = snp_tcb_encode(&info.tcb, SNP_PRODUCT_UNKNOWN);
	store_le32(out + SNP_OFF_VERSION, 2);
	store_le64(out + SNP_OFF_POLICY, p->policy);
	store_le32(out + SNP_OFF_VMPL, p->vmpl);
	store_le32(out + SNP_OFF_SIG_ALGO, SNP_SIG_ALGO_ECDSA_P384_SHA384);
	store_le64(out + SNP_OFF_CURRENT_TCB, tcb);
	store_le64(out + SNP_OFF_REPORTED_TCB, tcb);
	store_le64(out + SNP_OFF_COMMITTED_TCB, tcb);
	store_le64(out + SNP_OFF_LAUNCH_TCB, tcb);
	memcpy(out + SNP_OFF_REPORT_DATA, p->report_data, SNP_REPORT_DATA_LEN);
	memcpy(out + SNP_OFF_MEASUREMENT, p->measurement, SNP_MEASUREMENT_LEN);
	memset(out + SNP_OFF_REPORT_ID_MA, 0xFF, SNP_REPORT_ID_LEN); /* no migration agent */
	memcpy(out + SNP_OFF_CHIP_ID, info.hwid, SNP_CHIP_ID_LEN);
	if (RAND_bytes(out + SNP_OFF_REPORT_ID, SNP_REPORT_ID_LEN) != 1) {
		err = SEVMON_EINTERNAL;
		goto out;
	}
	err = sign_report(key, out);
out:
	ERR_clear_error();
	BIO_free(b);
	EVP_PKEY_free(key);
	X509_free(vcek);
	free(buf);
	return err;
}
