/*
 * snp_chain.c — trust anchors and the AMD certificate chain VCEK <- ASK <- ARK.
 *
 * AMD signs ARK, ASK and VCEK with RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48
 * (KDS spec 57230). We check that exact algorithm on every link before verifying,
 * so a chain re-signed with a weaker scheme is refused by name, not by accident.
 */
#include "snp_chain.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "err.h"

#define SNP_RSA_BITS 4096 /* ARK and ASK modulus size (KDS spec) */
#define SNP_PSS_SALT 48   /* = SHA-384 digest length */
#define SNP_ANCHOR_FILE_MAX 65536 /* an anchor file holds a few PEM certificates */

struct snp_anchor {
	X509 *cert;
	enum snp_product product;
};

/* Chains that passed stage 2, by digest of (VCEK DER, chain PEM): a fleet of VMs on one
 * host presents one VCEK/ASK/ARK on every connection, and parsing the PEM chain and checking
 * three RSA-4096 signatures again each time costs more than the report's own signature.
 * A hit re-checks the validity periods (time moves) and skips the rest. Few entries: one
 * per host (VCEK) an IDS talks to at once is the working set; older ones are replaced. */
#define SNP_CHAIN_MEMO 64u

struct snp_chain_memo {
	uint8_t digest[32]; /* SHA-256(le64 vcek_len || vcek_der || chain_pem) */
	X509 *cert[3];      /* ARK, ASK, VCEK; NULL: free slot */
	enum snp_product product;
};

struct snp_trust {
	struct snp_anchor a[SNP_TRUST_MAX];
	size_t n;
	pthread_mutex_t mu; /* memo only: verifications may run on many threads */
	struct snp_chain_memo memo[SNP_CHAIN_MEMO];
	size_t memo_next;   /* next slot to replace (round robin) */
};

int snp_fail(struct snp_verdict *v, int err, enum snp_reason r, const char *fmt, ...)
{
	if (v) {
		v->reason = r;
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(v->why, sizeof v->why, fmt, ap);
		va_end(ap);
	}
	return err;
}

struct snp_trust *snp_trust_new(void)
{
	struct snp_trust *t = calloc(1, sizeof(struct snp_trust));
	if (t && pthread_mutex_init(&t->mu, NULL)) {
		free(t);
		return NULL;
	}
	return t;
}

void snp_trust_free(struct snp_trust *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		X509_free(t->a[i].cert);
	for (size_t i = 0; i < SNP_CHAIN_MEMO; i++)
		for (int j = 0; j < 3; j++)
			X509_free(t->memo[i].cert[j]);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

static bool chain_digest(const uint8_t *vcek_der, size_t vcek_len, const uint8_t *chain_pem,
			 size_t chain_len, uint8_t out[32])
{
	uint8_t len[8];
	for (int i = 0; i < 8; i++)
		len[i] = (uint8_t)((uint64_t)vcek_len >> (8 * i));
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	unsigned int n = 0;
	bool ok = m && EVP_DigestInit_ex(m, EVP_sha256(), NULL) == 1 &&
		  EVP_DigestUpdate(m, len, sizeof len) == 1 &&
		  EVP_DigestUpdate(m, vcek_der, vcek_len) == 1 &&
		  EVP_DigestUpdate(m, chain_pem, chain_len) == 1 &&
		  EVP_DigestFinal_ex(m, out, &n) == 1 && n == 32;
	EVP_MD_CTX_free(m);
	return ok;
}

/* A memoised chain: its VCEK (a new reference) and product, or NULL. */
static X509 *memo_find(struct snp_trust *t, const uint8_t digest[32], X509 *certs[3],
		       enum snp_product *product)
{
	X509 *vcek = NULL;
	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i < SNP_CHAIN_MEMO && !vcek; i++) {
		struct snp_chain_memo *e = &t->memo[i];
		if (e->cert[2] && !memcmp(e->digest, digest, 32)) {
			for (int j = 0; j < 3; j++) {
				X509_up_ref(e->cert[j]);
				certs[j] = e->cert[j];
			}
			vcek = certs[2];
			*product = e->product;
		}
	}
	pthread_mutex_unlock(&t->mu);
	return vcek;
}

static void memo_add(struct snp_trust *t, const uint8_t digest[32], X509 *ark, X509 *ask, X509 *vcek,
		     enum snp_product product)
{
	pthread_mutex_lock(&t->mu);
	struct snp_chain_memo *e = &t->memo[t->memo_next];
	t->memo_next = (t->memo_next + 1) % SNP_CHAIN_MEMO;
	for (int j = 0; j < 3; j++)
		X509_free(e->cert[j]);
	memcpy(e->digest, digest, 32);
	X509_up_ref(ark);
	X509_up_ref(ask);
	X509_up_ref(vcek);
	e->cert[0] = ark;
	e->cert[1] = ask;
	e->cert[2] = vcek;
	e->product = product;
	pthread_mutex_unlock(&t->mu);
}

static enum snp_product product_from_cn(X509 *x)
{
	char cn[64] = "";
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
	const char *dash = strrchr(cn, '-');
	const char *name = dash ? dash + 1 : cn;
	if (strcmp(name, "Milan") == 0)
		return SNP_PRODUCT_MILAN;
	if (strcmp(name, "Genoa") == 0)
		return SNP_PRODUCT_GENOA;
	if (strcmp(name, "Turin") == 0)
		return SNP_PRODUCT_TURIN;
	return SNP_PRODUCT_UNKNOWN;
}

static bool self_signed(X509 *x)
{
	EVP_PKEY *k = X509_get0_pubkey(x);
	return k && X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(x)) == 0 &&
	       X509_verify(x, k) == 1;
}

int snp_trust_add_pem(struct snp_trust *t, const uint8_t *pem, size_t len)
{
	if (!t || !pem || len > SNP_ANCHOR_FILE_MAX)
		return !t || !pem ? SEVMON_EINVAL : SEVMON_ETOOBIG;
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	if (!b)
		return SEVMON_ENOMEM;
	int added = 0, err = 0;
	X509 *x;
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (!self_signed(x)) {
			X509_free(x);
			continue;
		}
		if (t->n == SNP_TRUST_MAX) {
			X509_free(x);
			err = SEVMON_ETOOBIG;
			break;
		}
		t->a[t->n].cert = x;
		t->a[t->n].product = product_from_cn(x);
		t->n++;
		added++;
	}
	BIO_free(b);
	ERR_clear_error();
	if (err)
		return err;
	return added ? added : SEVMON_ENOENT;
}

static int read_file(const char *path, uint8_t **out, size_t *len, size_t max)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return SEVMON_ENOENT;
	uint8_t *buf = malloc(max + 1);
	if (!buf) {
		fclose(f);
		return SEVMON_ENOMEM;
	}
	size_t n = fread(buf, 1, max + 1, f);
	int bad = ferror(f);
	fclose(f);
	if (bad || n > max) {
		free(buf);
		return bad ? SEVMON_EIO : SEVMON_ETOOBIG;
	}
	*out = buf;
	*len = n;
	return 0;
}

int snp_trust_add_file(struct snp_trust *t, const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int err = read_file(path, &buf, &len, SNP_ANCHOR_FILE_MAX);
	if (err)
		return err;
	err = snp_trust_add_pem(t, buf, len);
	free(buf);
	return err;
}

int snp_trust_add_amd(struct snp_trust *t, const char *dir)
{
	static const char *const files[] = { "amd-milan.pem", "amd-genoa.pem", "amd-turin.pem" };
	int total = 0;
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		char path[4096];
		if (snprintf(path, sizeof path, "%s/%s", dir, files[i]) >= (int)sizeof path)
			return SEVMON_ETOOBIG;
		int n = snp_trust_add_file(t, path);
		if (n == SEVMON_ENOENT)
			continue;
		if (n < 0)
			return n;
		total += n;
	}
	return total;
}

/* Is alg's object nid, with a NULL or absent parameter where given? */
static bool algor_is(const X509_ALGOR *alg, int nid)
{
	const ASN1_OBJECT *obj = NULL;
	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	return obj && OBJ_obj2nid(obj) == nid;
}

/* RSASSA-PSS with SHA-384, MGF1(SHA-384), salt 48, trailer 1: AMD's only scheme. */
static bool sig_is_pss_sha384(const X509 *x)
{
	const X509_ALGOR *alg = NULL;
	X509_get0_signature(NULL, &alg, x);
	const ASN1_OBJECT *obj = NULL;
	int ptype = 0;
	const void *pval = NULL;
	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	if (!obj || OBJ_obj2nid(obj) != NID_rsassaPss || ptype != V_ASN1_SEQUENCE)
		return false;
	const ASN1_STRING *seq = pval;
	const unsigned char *p = ASN1_STRING_get0_data(seq);
	RSA_PSS_PARAMS *pss = d2i_RSA_PSS_PARAMS(NULL, &p, ASN1_STRING_length(seq));
	if (!pss)
		return false;
	bool ok = pss->hashAlgorithm && algor_is(pss->hashAlgorithm, NID_sha384) &&
		  pss->maskGenAlgorithm && algor_is(pss->maskGenAlgorithm, NID_mgf1) &&
		  pss->saltLength && ASN1_INTEGER_get(pss->saltLength) == SNP_PSS_SALT &&
		  (!pss->trailerField || ASN1_INTEGER_get(pss->trailerField) == 1);
	if (ok) {
		/* MGF1's own parameter names its hash. */
		const void *mp = NULL;
		int mtype = 0;
		X509_ALGOR_get0(NULL, &mtype, &mp, pss->maskGenAlgorithm);
		ok = mtype == V_ASN1_SEQUENCE;
		if (ok) {
			const ASN1_STRING *ms = mp;
			const unsigned char *q = ASN1_STRING_get0_data(ms);
			X509_ALGOR *mh = d2i_X509_ALGOR(NULL, &q, ASN1_STRING_length(ms));
			ok = mh && algor_is(mh, NID_sha384);
			X509_ALGOR_free(mh);
		}
	}
	RSA_PSS_PARAMS_free(pss);
	return ok;
}

static bool key_is_rsa4096(X509 *x)
{
	EVP_PKEY *k = X509_get0_pubkey(x);
	if (!k)
		return false;
	int id = EVP_PKEY_get_base_id(k);
	return (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS) && EVP_PKEY_get_bits(k) == SNP_RSA_BITS;
}

static bool key_is_p384(X509 *x)
{
	EVP_PKEY *k = X509_get0_pubkey(x);
	char group[32] = "";
	size_t glen = 0;
	return k && EVP_PKEY_get_base_id(k) == EVP_PKEY_EC &&
	       EVP_PKEY_get_group_name(k, group, sizeof group, &glen) == 1 &&
	       strcmp(group, "secp384r1") == 0;
}

static bool in_validity(X509 *x, time_t now)
{
	return X509_cmp_time(X509_get0_notBefore(x), &now) < 0 &&
	       X509_cmp_time(X509_get0_notAfter(x), &now) > 0;
}

/* child signed by parent, named by it, with AMD's algorithm. */
static int check_link(X509 *child, X509 *parent, const char *cname, const char *pname,
		      struct snp_verdict *v)
{
	if (!sig_is_pss_sha384(child))
		return snp_fail(v, SEVMON_EATTEST, SNP_REASON_CHAIN_ALGO,
				"chain: %s signature is not RSA-PSS SHA-384/MGF1-SHA-384/salt 48", cname);
	if (X509_NAME_cmp(X509_get_issuer_name(child), X509_get_subject_name(parent)) != 0)
		return snp_fail(v, SEVMON_EATTEST, SNP_REASON_CHAIN_SIG,
				"chain: %s issuer is not the %s subject", cname, pname);
	EVP_PKEY *pk = X509_get0_pubkey(parent);
	int r = pk ? X509_verify(child, pk) : -1;
	ERR_clear_error();
	if (r != 1)
		return snp_fail(v, SEVMON_EATTEST, SNP_REASON_CHAIN_SIG,
				"chain: %s is not signed by the %s", cname, pname);
	return 0;
}

static const struct snp_anchor *find_anchor(const struct snp_trust *t, X509 *ark)
{
	EVP_PKEY *k = X509_get0_pubkey(ark);
	for (size_t i = 0; k && t && i < t->n; i++)
		if (EVP_PKEY_eq(k, X509_get0_pubkey(t->a[i].cert)) == 1)
			return &t->a[i];
	return NULL;
}

int snp_chain_check(const struct snp_trust *trust, time_t now,
		    const uint8_t *vcek_der, size_t vcek_len,
		    const uint8_t *chain_pem, size_t chain_len,
		    struct snp_verdict *v, X509 **vcek_out)
{
	X509 *vcek = NULL, *ask = NULL, *ark = NULL, *extra = NULL;
	BIO *b = NULL;
	int err = 0;
	*vcek_out = NULL;
	if (now == 0)
		now = time(NULL);
	if (!vcek_der || vcek_len == 0 || vcek_len > SNP_VCEK_DER_MAX) {
		err = snp_fail(v, SEVMON_EDECODE, SNP_REASON_CERT_DECODE,
			       "vcek: missing or larger than %d bytes", SNP_VCEK_DER_MAX);
		goto out;
	}
	if (!chain_pem || chain_len == 0 || chain_len > SNP_CHAIN_PEM_MAX) {
		err = snp_fail(v, SEVMON_EDECODE, SNP_REASON_CERT_DECODE,
			       "chain: missing or larger than %d bytes", SNP_CHAIN_PEM_MAX);
		goto out;
	}
	uint8_t digest[32];
	bool memo_ok = trust && chain_digest(vcek_der, vcek_len, chain_pem, chain_len, digest);
	if (memo_ok) {
		X509 *c[3];
		enum snp_product product;
		if (memo_find((struct snp_trust *)trust, digest, c, &product)) {
			static const char *const cn[] = { "ARK", "ASK", "VCEK" };
			for (int i = 0; i < 3 && !err; i++)
				if (!in_validity(c[i], now))
					err = snp_fail(v, SEVMON_EATTEST, SNP_REASON_CHAIN_TIME,
						       "chain: %s is outside its validity period", cn[i]);
			X509_free(c[0]);
			X509_free(c[1]);
			if (err) {
				X509_free(c[2]);
				goto out;
			}
			if (v) {
				v->product = product;
				v->chain_ok = true;
			}
			*vcek_out = c[2];
			goto out;
		}
	}
	const unsigned char *p = vcek_der;
	vcek = d2i_X509(NULL, &p, (long)vcek_len);
	if (!vcek || p != vcek_der + vcek_len) {
		err = snp_fail(v, SEVMON_EDECODE, SNP_REASON_CERT_DECODE, "vcek: not one DER certificate");
		goto out;
	}
	b = BIO_new_mem_buf(chain_pem, (int)chain_len);
	if (!b) {
		err = SEVMON_ENOMEM;
		goto out;
	}
	ask = PEM_read_bio_X509(b, NULL, NULL, NULL);
	ark = ask ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	extra = ark ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	if (!ask || !ark || extra) {
		err = snp_fail(v, SEVMON_EDECODE, SNP_REASON_CERT_DECODE,
			       "chain: expected exactly two PEM certificates, ASK then ARK");
		goto out;
	}
	if (!key_is_rsa4096(ark) || !key_is_rsa4096(ask)) {
		err = snp_fail(v, SEVMON_EATTEST, SNP_REASON_CHAIN_KEY, "chain: ARK/ASK key is not RSA-4096");
		goto out;
	}
	if (!key_is_p384(vcek)) {
		err = snp_fail(v, SEVMON_EATTEST, SNP_REASON_CHAIN_KEY, "chain: VCEK key is not EC P-384");
		goto out;
	}
	if ((err = check_link(ark, ark, "ARK", "ARK (self)", v)) ||
	    (err = check_link(ask, ark, "ASK", "ARK", v)) ||
	    (err = check_link(vcek, ask, "VCEK", "ASK", v)))
		goto out;
	X509 *all[] = { ark, ask, vcek };
	static const char *const names[] = { "ARK", "ASK", "VCEK" };
	for (int i = 0; i < 3; i++)
		if (!in_validity(all[i], now)) {
			err = snp_fail(v, SEVMON_EATTEST, SNP_REASON_CHAIN_TIME,
				       "chain: %s is outside its validity period", names[i]);
			goto out;
		}
	const struct snp_anchor *a = find_anchor(trust, ark);
	if (!a) {
		err = snp_fail(v, SEVMON_EATTEST, SNP_REASON_UNTRUSTED_ROOT,
			       "chain: ARK is not one of the %zu trust anchors",
			       trust ? trust->n : (size_t)0);
		goto out;
	}
	if (v) {
		v->product = a->product;
		v->chain_ok = true;
	}
	if (memo_ok)
		memo_add((struct snp_trust *)trust, digest, ark, ask, vcek, a->product);
	*vcek_out = vcek;
	vcek = NULL;
out:
	ERR_clear_error();
	BIO_free(b);
	X509_free(extra);
	X509_free(ark);
	X509_free(ask);
	X509_free(vcek);
	return err;
}

int snp_verify_chain(const struct snp_trust *trust, time_t now,
		     const uint8_t *vcek_der, size_t vcek_len,
		     const uint8_t *chain_pem, size_t chain_len,
		     struct snp_verdict *verdict)
{
	if (verdict)
		memset(verdict, 0, sizeof *verdict);
	X509 *vcek = NULL;
	int err = snp_chain_check(trust, now, vcek_der, vcek_len, chain_pem, chain_len, verdict, &vcek);
	X509_free(vcek);
	if (!err && verdict)
		snprintf(verdict->why, sizeof verdict->why, "ok");
	return err;
}
