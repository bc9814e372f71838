/* CipherState: ChaChaPoly nonce layout, tamper, nonce exhaustion, Rekey. */
#include "err.h"
#include "harness.h"
#include "noise.h"

#include <sodium.h>

static const uint8_t key[NOISE_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
					     17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };

TEST(noise_cipher_encrypt_nonce_is_zero32_then_le64)
{
	struct noise_cipher c;
	uint8_t ct[64], ref[64], nonce[12] = { 0, 0, 0, 0, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01 };
	unsigned long long rlen;
	size_t n;

	ASSERT(sodium_init() >= 0);
	noise_cipher_init(&c, key);
	noise_cipher_set_nonce(&c, 0x0102030405060708ull);
	ASSERT_EQ(noise_cipher_encrypt(&c, (const uint8_t *)"ad", 2, (const uint8_t *)"hello", 5, ct,
				       sizeof ct, &n), 0);
	ASSERT_EQ(n, 5 + NOISE_TAG_LEN);
	crypto_aead_chacha20poly1305_ietf_encrypt(ref, &rlen, (const uint8_t *)"hello", 5,
						  (const uint8_t *)"ad", 2, NULL, nonce, key);
	ASSERT_EQ(rlen, n);
	ASSERT_MEMEQ(ct, ref, n);
	ASSERT_UEQ(c.n, 0x0102030405060709ull);
}

TEST(noise_cipher_decrypt_tampered_fails_and_keeps_nonce)
{
	struct noise_cipher a, b;
	uint8_t ct[64], pt[64];
	size_t n, pn;

	noise_cipher_init(&a, key);
	noise_cipher_init(&b, key);
	ASSERT_EQ(noise_cipher_encrypt(&a, NULL, 0, (const uint8_t *)"payload", 7, ct, sizeof ct, &n), 0);
	for (size_t i = 0; i < n; i++) {
		ct[i] ^= 0x40;
		ASSERT_EQ(noise_cipher_decrypt(&b, NULL, 0, ct, n, pt, sizeof pt, &pn), SEVMON_EAUTH);
		ASSERT_EQ(pn, 0);
		ASSERT_UEQ(b.n, 0);
		ct[i] ^= 0x40;
	}
	/* Wrong associated data fails too. */
	ASSERT_EQ(noise_cipher_decrypt(&b, (const uint8_t *)"x", 1, ct, n, pt, sizeof pt, &pn),
		  SEVMON_EAUTH);
	ASSERT_EQ(noise_cipher_decrypt(&b, NULL, 0, ct, n, pt, sizeof pt, &pn), 0);
	ASSERT_EQ(pn, 7);
	ASSERT_MEMEQ(pt, "payload", 7);
	ASSERT_UEQ(b.n, 1);
}

TEST(noise_cipher_decrypt_shorter_than_tag_fails)
{
	struct noise_cipher c;
	uint8_t ct[NOISE_TAG_LEN] = { 0 }, pt[16];
	size_t pn;

	noise_cipher_init(&c, key);
	ASSERT_EQ(noise_cipher_decrypt(&c, NULL, 0, ct, NOISE_TAG_LEN - 1, pt, sizeof pt, &pn),
		  SEVMON_ETRUNC);
	ASSERT_EQ(noise_cipher_decrypt(&c, NULL, 0, ct, NOISE_TAG_LEN, pt, sizeof pt, &pn),
		  SEVMON_EAUTH);
}

TEST(noise_cipher_encrypt_small_buffer_fails)
{
	struct noise_cipher c;
	uint8_t ct[20];
	size_t n;

	noise_cipher_init(&c, key);
	ASSERT_EQ(noise_cipher_encrypt(&c, NULL, 0, (const uint8_t *)"12345", 5, ct, 20, &n),
		  SEVMON_ETOOBIG);
	ASSERT_UEQ(c.n, 0);
	ASSERT_EQ(noise_cipher_encrypt(&c, NULL, 0, (const uint8_t *)"1234", 4, ct, 20, &n), 0);
}

TEST(noise_cipher_encrypt_nonce_exhausted_fails)
{
	struct noise_cipher a, b;
	uint8_t ct[64], pt[64];
	size_t n, pn;

	noise_cipher_init(&a, key);
	noise_cipher_init(&b, key);
	noise_cipher_set_nonce(&a, UINT64_MAX - 1);
	noise_cipher_set_nonce(&b, UINT64_MAX - 1);
	/* 2^64-2 is the last usable nonce ... */
	ASSERT_EQ(noise_cipher_encrypt(&a, NULL, 0, (const uint8_t *)"x", 1, ct, sizeof ct, &n), 0);
	ASSERT_EQ(noise_cipher_decrypt(&b, NULL, 0, ct, n, pt, sizeof pt, &pn), 0);
	/* ... 2^64-1 is reserved for Rekey. */
	ASSERT_UEQ(a.n, UINT64_MAX);
	ASSERT_EQ(noise_cipher_encrypt(&a, NULL, 0, (const uint8_t *)"x", 1, ct, sizeof ct, &n),
		  SEVMON_ENONCE);
	ASSERT_EQ(n, 0);
	ASSERT_EQ(noise_cipher_decrypt(&b, NULL, 0, ct, 17, pt, sizeof pt, &pn), SEVMON_ENONCE);
	ASSERT_UEQ(a.n, UINT64_MAX);
}

TEST(noise_cipher_rekey_is_encrypt_of_zeros_at_max_nonce)
{
	struct noise_cipher a, b;
	uint8_t zeros[32] = { 0 }, ref[48], ct[64], pt[64];
	uint8_t nonce[12];
	unsigned long long rlen;
	size_t n, pn;

	ASSERT(sodium_init() >= 0);
	memset(nonce, 0xff, sizeof nonce);
	memset(nonce, 0, 4);
	crypto_aead_chacha20poly1305_ietf_encrypt(ref, &rlen, zeros, 32, NULL, 0, NULL, nonce, key);
	noise_cipher_init(&a, key);
	noise_cipher_init(&b, key);
	noise_cipher_set_nonce(&a, 5);
	ASSERT_EQ(noise_cipher_rekey(&a), 0);
	ASSERT(memcmp(a.k, key, 32) != 0);
	ASSERT_MEMEQ(a.k, ref, 32);
	ASSERT_UEQ(a.n, 5); /* Rekey leaves n alone (11.3) */
	/* The peer that has not rekeyed cannot read; after its own rekey it can. */
	ASSERT_EQ(noise_cipher_encrypt(&a, NULL, 0, (const uint8_t *)"after", 5, ct, sizeof ct, &n), 0);
	noise_cipher_set_nonce(&b, 5);
	ASSERT_EQ(noise_cipher_decrypt(&b, NULL, 0, ct, n, pt, sizeof pt, &pn), SEVMON_EAUTH);
	ASSERT_EQ(noise_cipher_rekey(&b), 0);
	ASSERT_EQ(noise_cipher_decrypt(&b, NULL, 0, ct, n, pt, sizeof pt, &pn), 0);
	ASSERT_MEMEQ(pt, "after", 5);
}

TEST(noise_cipher_rekey_without_key_fails)
{
	struct noise_cipher c;

	noise_cipher_init(&c, NULL);
	ASSERT_EQ(noise_cipher_rekey(&c), SEVMON_EINVAL);
}

TEST(noise_cipher_encrypt_without_key_passes_through)
{
	struct noise_cipher c;
	uint8_t out[8];
	size_t n;

	noise_cipher_init(&c, NULL);
	ASSERT_EQ(noise_cipher_encrypt(&c, NULL, 0, (const uint8_t *)"plain", 5, out, sizeof out, &n), 0);
	ASSERT_EQ(n, 5);
	ASSERT_MEMEQ(out, "plain", 5);
	ASSERT_UEQ(c.n, 0);
}

TEST_MAIN()
