/*
 * noise_symmetric.c — HASH, HMAC-HASH, HKDF (spec 4.3) and the SymmetricState (5.2).
 *
 * HMAC is written out per RFC 2104 over each full-length hash: libsodium only offers
 * HMAC-SHA256 and a truncated HMAC-SHA512/256, and Noise needs all HASHLEN bytes.
 */
#include "noise.h"

#include <sodium.h>
#include <string.h>

#include "err.h"

/* One incremental hash context for the three supported hashes. */
struct hash_ctx {
	enum noise_hash_alg alg;
	union {
		crypto_hash_sha256_state sha256;
		crypto_hash_sha512_state sha512;
		crypto_generichash_state blake2b;
	} u;
};

_Static_assert(crypto_hash_sha512_BYTES == NOISE_MAX_HASH_LEN, "hash size");
_Static_assert(crypto_generichash_BYTES_MAX == NOISE_MAX_HASH_LEN, "blake2b size");

size_t noise_hash_len(enum noise_hash_alg alg)
{
	return alg == NOISE_HASH_SHA256 ? crypto_hash_sha256_BYTES : NOISE_MAX_HASH_LEN;
}

/* BLOCKLEN (spec 12.5-12.8): the HMAC pad width. */
static size_t hash_block_len(enum noise_hash_alg alg)
{
	return alg == NOISE_HASH_SHA256 ? 64 : 128;
}

static void hash_init(struct hash_ctx *c, enum noise_hash_alg alg)
{
	c->alg = alg;
	switch (alg) {
	case NOISE_HASH_SHA256:
		crypto_hash_sha256_init(&c->u.sha256);
		break;
	case NOISE_HASH_SHA512:
		crypto_hash_sha512_init(&c->u.sha512);
		break;
	case NOISE_HASH_BLAKE2B:
		crypto_generichash_init(&c->u.blake2b, NULL, 0, NOISE_MAX_HASH_LEN);
		break;
	}
}

static void hash_update(struct hash_ctx *c, const uint8_t *p, size_t n)
{
	if (n == 0)
		return;
	switch (c->alg) {
	case NOISE_HASH_SHA256:
		crypto_hash_sha256_update(&c->u.sha256, p, n);
		break;
	case NOISE_HASH_SHA512:
		crypto_hash_sha512_update(&c->u.sha512, p, n);
		break;
	case NOISE_HASH_BLAKE2B:
		crypto_generichash_update(&c->u.blake2b, p, n);
		break;
	}
}

static void hash_final(struct hash_ctx *c, uint8_t out[NOISE_MAX_HASH_LEN])
{
	switch (c->alg) {
	case NOISE_HASH_SHA256:
		crypto_hash_sha256_final(&c->u.sha256, out);
		break;
	case NOISE_HASH_SHA512:
		crypto_hash_sha512_final(&c->u.sha512, out);
		break;
	case NOISE_HASH_BLAKE2B:
		crypto_generichash_final(&c->u.blake2b, out, NOISE_MAX_HASH_LEN);
		break;
	}
	sodium_memzero(c, sizeof *c);
}

void noise_hmac(enum noise_hash_alg alg, const uint8_t *key, size_t keylen, const uint8_t *d1,
		size_t d1len, const uint8_t *d2, size_t d2len, uint8_t out[NOISE_MAX_HASH_LEN])
{
	size_t bl = hash_block_len(alg), hl = noise_hash_len(alg);
	uint8_t k0[NOISE_MAX_BLOCK_LEN] = { 0 };
	uint8_t pad[NOISE_MAX_BLOCK_LEN];
	uint8_t inner[NOISE_MAX_HASH_LEN];
	struct hash_ctx c;

	/* RFC 2104: keys longer than the block are hashed first, shorter ones zero-padded. */
	if (keylen > bl) {
		hash_init(&c, alg);
		hash_update(&c, key, keylen);
		hash_final(&c, k0);
	} else if (keylen) {
		memcpy(k0, key, keylen);
	}
	for (size_t i = 0; i < bl; i++)
		pad[i] = k0[i] ^ 0x36;
	hash_init(&c, alg);
	hash_update(&c, pad, bl);
	hash_update(&c, d1, d1len);
	hash_update(&c, d2, d2len);
	hash_final(&c, inner);
	for (size_t i = 0; i < bl; i++)
		pad[i] = k0[i] ^ 0x5c;
	hash_init(&c, alg);
	hash_update(&c, pad, bl);
	hash_update(&c, inner, hl);
	hash_final(&c, out);

	sodium_memzero(k0, sizeof k0);
	sodium_memzero(pad, sizeof pad);
	sodium_memzero(inner, sizeof inner);
}

void noise_hkdf(enum noise_hash_alg alg, const uint8_t *ck, const uint8_t *ikm, size_t ikmlen,
		uint8_t o1[NOISE_MAX_HASH_LEN], uint8_t o2[NOISE_MAX_HASH_LEN],
		uint8_t o3[NOISE_MAX_HASH_LEN])
{
	size_t hl = noise_hash_len(alg);
	uint8_t temp_key[NOISE_MAX_HASH_LEN];
	const uint8_t b1 = 0x01, b2 = 0x02, b3 = 0x03;

	noise_hmac(alg, ck, hl, ikm, ikmlen, NULL, 0, temp_key);
	noise_hmac(alg, temp_key, hl, &b1, 1, NULL, 0, o1);
	noise_hmac(alg, temp_key, hl, o1, hl, &b2, 1, o2);
	if (o3)
		noise_hmac(alg, temp_key, hl, o2, hl, &b3, 1, o3);
	sodium_memzero(temp_key, sizeof temp_key);
}

void noise_symmetric_init(struct noise_symmetric *ss, enum noise_hash_alg alg,
			  const char *protocol_name, size_t namelen)
{
	struct hash_ctx c;

	memset(ss, 0, sizeof *ss);
	ss->alg = alg;
	ss->hashlen = noise_hash_len(alg);
	if (namelen <= ss->hashlen) {
		memcpy(ss->h, protocol_name, namelen);
	} else {
		hash_init(&c, alg);
		hash_update(&c, (const uint8_t *)protocol_name, namelen);
		hash_final(&c, ss->h);
	}
	memcpy(ss->ck, ss->h, ss->hashlen);
	noise_cipher_init(&ss->cs, NULL);
}

void noise_symmetric_mix_hash(struct noise_symmetric *ss, const uint8_t *data, size_t len)
{
	struct hash_ctx c;

	hash_init(&c, ss->alg);
	hash_update(&c, ss->h, ss->hashlen);
	hash_update(&c, data, len);
	hash_final(&c, ss->h);
}

void noise_symmetric_mix_key(struct noise_symmetric *ss, const uint8_t *ikm, size_t len)
{
	uint8_t ck[NOISE_MAX_HASH_LEN], temp_k[NOISE_MAX_HASH_LEN];

	noise_hkdf(ss->alg, ss->ck, ikm, len, ck, temp_k, NULL);
	memcpy(ss->ck, ck, ss->hashlen);
	/* Truncation to 32 bytes for HASHLEN 64 is implicit: the cipher takes 32. */
	noise_cipher_init(&ss->cs, temp_k);
	sodium_memzero(ck, sizeof ck);
	sodium_memzero(temp_k, sizeof temp_k);
}

void noise_symmetric_mix_key_and_hash(struct noise_symmetric *ss, const uint8_t *ikm, size_t len)
{
	uint8_t ck[NOISE_MAX_HASH_LEN], temp_h[NOISE_MAX_HASH_LEN], temp_k[NOISE_MAX_HASH_LEN];

	noise_hkdf(ss->alg, ss->ck, ikm, len, ck, temp_h, temp_k);
	memcpy(ss->ck, ck, ss->hashlen);
	noise_symmetric_mix_hash(ss, temp_h, ss->hashlen);
	noise_cipher_init(&ss->cs, temp_k);
	sodium_memzero(ck, sizeof ck);
	sodium_memzero(temp_h, sizeof temp_h);
	sodium_memzero(temp_k, sizeof temp_k);
}

int noise_symmetric_encrypt_and_hash(struct noise_symmetric *ss, const uint8_t *in, size_t len,
				     uint8_t *out, size_t cap, size_t *outlen)
{
	int rc = noise_cipher_encrypt(&ss->cs, ss->h, ss->hashlen, in, len, out, cap, outlen);

	if (rc == 0)
		noise_symmetric_mix_hash(ss, out, *outlen);
	return rc;
}

int noise_symmetric_decrypt_and_hash(struct noise_symmetric *ss, const uint8_t *in, size_t len,
				     uint8_t *out, size_t cap, size_t *outlen)
{
	uint8_t h_next[NOISE_MAX_HASH_LEN];
	struct noise_symmetric tmp;
	int rc;

	/* MixHash covers the ciphertext, and out may alias in: hash it before decrypting. */
	memcpy(&tmp, ss, sizeof tmp);
	noise_symmetric_mix_hash(&tmp, in, len);
	memcpy(h_next, tmp.h, ss->hashlen);
	noise_symmetric_wipe(&tmp);
	rc = noise_cipher_decrypt(&ss->cs, ss->h, ss->hashlen, in, len, out, cap, outlen);
	if (rc == 0)
		memcpy(ss->h, h_next, ss->hashlen);
	return rc;
}

void noise_symmetric_split(const struct noise_symmetric *ss, struct noise_cipher *c1,
			   struct noise_cipher *c2)
{
	uint8_t k1[NOISE_MAX_HASH_LEN], k2[NOISE_MAX_HASH_LEN];

	noise_hkdf(ss->alg, ss->ck, NULL, 0, k1, k2, NULL);
	noise_cipher_init(c1, k1);
	noise_cipher_init(c2, k2);
	sodium_memzero(k1, sizeof k1);
	sodium_memzero(k2, sizeof k2);
}

void noise_symmetric_wipe(struct noise_symmetric *ss) { sodium_memzero(ss, sizeof *ss); }
