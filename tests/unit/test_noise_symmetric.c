/* HMAC/HKDF and SymmetricState. HMAC-SHA256/512 are checked against libsodium's own
 * full-length HMACs, an implementation we did not write. */
#include "err.h"
#include "harness.h"
#include "noise.h"

#include <sodium.h>

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

TEST(noise_hmac_sha256_matches_libsodium_for_key_lengths)
{
	static const size_t keylens[] = { 0, 1, 32, 63, 64, 65, 200 };
	uint8_t key[200], data[300], out[NOISE_MAX_HASH_LEN], ref[32];

	ASSERT(sodium_init() >= 0);
	fill(key, sizeof key, 3);
	fill(data, sizeof data, 9);
	for (size_t i = 0; i < sizeof keylens / sizeof keylens[0]; i++) {
		crypto_auth_hmacsha256_state st;
		crypto_auth_hmacsha256_init(&st, key, keylens[i]);
		crypto_auth_hmacsha256_update(&st, data, sizeof data);
		crypto_auth_hmacsha256_final(&st, ref);
		noise_hmac(NOISE_HASH_SHA256, key, keylens[i], data, 100, data + 100, 200, out);
		ASSERT_MEMEQ(out, ref, 32);
	}
}

TEST(noise_hmac_sha512_matches_libsodium_for_key_lengths)
{
	static const size_t keylens[] = { 0, 1, 64, 127, 128, 129, 200 };
	uint8_t key[200], data[300], out[NOISE_MAX_HASH_LEN], ref[64];

	ASSERT(sodium_init() >= 0);
	fill(key, sizeof key, 5);
	fill(data, sizeof data, 11);
	for (size_t i = 0; i < sizeof keylens / sizeof keylens[0]; i++) {
		crypto_auth_hmacsha512_state st;
		crypto_auth_hmacsha512_init(&st, key, keylens[i]);
		crypto_auth_hmacsha512_update(&st, data, sizeof data);
		crypto_auth_hmacsha512_final(&st, ref);
		noise_hmac(NOISE_HASH_SHA512, key, keylens[i], data, sizeof data, NULL, 0, out);
		ASSERT_MEMEQ(out, ref, 64);
	}
}

TEST(noise_hkdf_outputs_differ_and_chain)
{
	uint8_t ck[64], ikm[32], o1[64], o2[64], o3[64], p1[64], p2[64];

	fill(ck, sizeof ck, 1);
	fill(ikm, sizeof ikm, 2);
	noise_hkdf(NOISE_HASH_BLAKE2B, ck, ikm, sizeof ikm, o1, o2, o3);
	noise_hkdf(NOISE_HASH_BLAKE2B, ck, ikm, sizeof ikm, p1, p2, NULL);
	/* The two-output form is a prefix of the three-output form. */
	ASSERT_MEMEQ(o1, p1, 64);
	ASSERT_MEMEQ(o2, p2, 64);
	ASSERT(memcmp(o1, o2, 64) != 0);
	ASSERT(memcmp(o2, o3, 64) != 0);
}

TEST(noise_symmetric_init_short_name_is_padded)
{
	struct noise_symmetric ss;
	uint8_t want[64] = { 0 };
	const char *name = "Noise_XX_25519_ChaChaPoly_SHA512";

	noise_symmetric_init(&ss, NOISE_HASH_SHA512, name, strlen(name));
	memcpy(want, name, strlen(name));
	ASSERT_MEMEQ(ss.h, want, 64);
	ASSERT_MEMEQ(ss.ck, want, 64);
	ASSERT(!ss.cs.has_key);
}

TEST(noise_symmetric_init_long_name_is_hashed)
{
	struct noise_symmetric ss;
	uint8_t want[32];
	const char *name = "Noise_XXpsk3_25519_ChaChaPoly_SHA256";

	ASSERT(sodium_init() >= 0);
	ASSERT(strlen(name) > 32);
	crypto_hash_sha256(want, (const uint8_t *)name, strlen(name));
	noise_symmetric_init(&ss, NOISE_HASH_SHA256, name, strlen(name));
	ASSERT_EQ(ss.hashlen, 32);
	ASSERT_MEMEQ(ss.h, want, 32);
}

TEST(noise_symmetric_decrypt_and_hash_tampered_keeps_h)
{
	struct noise_symmetric a, b;
	uint8_t ikm[32], ct[64], pt[64], h[64];
	size_t n, pn;

	fill(ikm, sizeof ikm, 4);
	noise_symmetric_init(&a, NOISE_HASH_SHA256, "test", 4);
	noise_symmetric_init(&b, NOISE_HASH_SHA256, "test", 4);
	noise_symmetric_mix_key(&a, ikm, sizeof ikm);
	noise_symmetric_mix_key(&b, ikm, sizeof ikm);
	ASSERT_EQ(noise_symmetric_encrypt_and_hash(&a, (const uint8_t *)"abc", 3, ct, sizeof ct, &n), 0);
	memcpy(h, b.h, 32);
	ct[0] ^= 1;
	ASSERT_EQ(noise_symmetric_decrypt_and_hash(&b, ct, n, pt, sizeof pt, &pn), SEVMON_EAUTH);
	ASSERT_MEMEQ(b.h, h, 32);
	ct[0] ^= 1;
	ASSERT_EQ(noise_symmetric_decrypt_and_hash(&b, ct, n, pt, sizeof pt, &pn), 0);
	ASSERT_MEMEQ(a.h, b.h, 32);
	ASSERT_EQ(pn, 3);
}

TEST_MAIN()
