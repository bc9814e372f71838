/*
 * noise_cipher.c — CipherState with ChaChaPoly (spec 5.1, 12.3, 4.2 REKEY).
 *
 * ENCRYPT(k, n, ad, p) = AEAD_CHACHA20_POLY1305(k, nonce = 0x00000000 || LE64(n), ad, p).
 * The nonce 2^64-1 is reserved for REKEY, so a CipherState refuses to use it: once n
 * reaches it the state is dead and the session must handshake again.
 */
#include "noise.h"

#include <sodium.h>
#include <string.h>

#include "err.h"

_Static_assert(crypto_aead_chacha20poly1305_IETF_KEYBYTES == NOISE_KEY_LEN, "key size");
_Static_assert(crypto_aead_chacha20poly1305_IETF_ABYTES == NOISE_TAG_LEN, "tag size");
_Static_assert(crypto_aead_chacha20poly1305_IETF_NPUBBYTES == 12, "nonce size");

#define NONCE_RESERVED UINT64_MAX

static void make_nonce(uint8_t nonce[12], uint64_t n)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

void noise_cipher_init(struct noise_cipher *c, const uint8_t key[NOISE_KEY_LEN])
{
	if (key) {
		memmove(c->k, key, NOISE_KEY_LEN);
		c->has_key = true;
	} else {
		sodium_memzero(c->k, sizeof c->k);
		c->has_key = false;
	}
	c->n = 0;
}

void noise_cipher_set_nonce(struct noise_cipher *c, uint64_t n) { c->n = n; }

/* ENCRYPT with an explicit nonce; REKEY needs the reserved one. */
static void aead_encrypt(const uint8_t k[NOISE_KEY_LEN], uint64_t n, const uint8_t *ad,
			 size_t adlen, const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t nonce[12];
	unsigned long long clen;

	make_nonce(nonce, n);
	/* Cannot fail for lengths below the libsodium maximum, which NOISE_MAX_MSG is. */
	(void)crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, in, len, ad, adlen, NULL,
							nonce, k);
}

int noise_cipher_encrypt(struct noise_cipher *c, const uint8_t *ad, size_t adlen,
			 const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
	*outlen = 0;
	if (!c->has_key) {
		if (cap < len)
			return SEVMON_ETOOBIG;
		if (len)
			memmove(out, in, len);
		*outlen = len;
		return 0;
	}
	if (len > NOISE_MAX_MSG || cap < len + NOISE_TAG_LEN)
		return SEVMON_ETOOBIG;
	if (c->n == NONCE_RESERVED)
		return SEVMON_ENONCE;
	aead_encrypt(c->k, c->n, ad, adlen, in, len, out);
	c->n++;
	*outlen = len + NOISE_TAG_LEN;
	return 0;
}

int noise_cipher_decrypt(struct noise_cipher *c, const uint8_t *ad, size_t adlen,
			 const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
	uint8_t nonce[12];
	unsigned long long plen;

	*outlen = 0;
	if (!c->has_key) {
		if (cap < len)
			return SEVMON_ETOOBIG;
		if (len)
			memmove(out, in, len);
		*outlen = len;
		return 0;
	}
	if (len < NOISE_TAG_LEN)
		return SEVMON_ETRUNC;
	if (len > NOISE_MAX_MSG || cap < len - NOISE_TAG_LEN)
		return SEVMON_ETOOBIG;
	if (c->n == NONCE_RESERVED)
		return SEVMON_ENONCE;
	make_nonce(nonce, c->n);
	/* libsodium checks the tag in constant time and writes nothing on failure. */
	if (crypto_aead_chacha20poly1305_ietf_decrypt(out, &plen, NULL, in, len, ad, adlen,
						      nonce, c->k) != 0)
		return SEVMON_EAUTH;
	c->n++;
	*outlen = (size_t)plen;
	return 0;
}

int noise_cipher_rekey(struct noise_cipher *c)
{
	uint8_t zeros[NOISE_KEY_LEN] = { 0 };
	uint8_t out[NOISE_KEY_LEN + NOISE_TAG_LEN];

	if (!c->has_key)
		return SEVMON_EINVAL;
	aead_encrypt(c->k, NONCE_RESERVED, NULL, 0, zeros, sizeof zeros, out);
	memcpy(c->k, out, NOISE_KEY_LEN);
	sodium_memzero(out, sizeof out);
	return 0;
}

void noise_cipher_wipe(struct noise_cipher *c) { sodium_memzero(c, sizeof *c); }
