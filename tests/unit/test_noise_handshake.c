/* HandshakeState: the sevmon suite end to end, and every way a handshake must fail. */
#include "err.h"
#include "harness.h"
#include "noise.h"

static struct noise_handshake ini, rsp;
static uint8_t m1[NOISE_MAX_MSG], m2[NOISE_MAX_MSG], m3[NOISE_MAX_MSG], pl[NOISE_MAX_MSG];
static size_t n1, n2, n3, pn;

static void keypair(struct noise_keypair *kp, uint8_t seed)
{
	uint8_t priv[NOISE_DH_LEN];
	for (size_t i = 0; i < sizeof priv; i++)
		priv[i] = (uint8_t)(seed * 31 + i);
	ASSERT_EQ(noise_keypair_from_private(kp, priv), 0);
}

static void init_xx(const struct noise_keypair *is, const struct noise_keypair *rs,
		    const struct noise_keypair *ie, const struct noise_keypair *re)
{
	struct noise_handshake_config c = {
		.protocol_name = NOISE_PROTOCOL_SEVMON,
		.role = NOISE_INITIATOR,
		.prologue = (const uint8_t *)NOISE_PROLOGUE_SEVMON,
		.prologue_len = strlen(NOISE_PROLOGUE_SEVMON),
		.s = is,
		.fixed_e = ie,
	};
	ASSERT_EQ(noise_handshake_init(&ini, &c), 0);
	c.role = NOISE_RESPONDER;
	c.s = rs;
	c.fixed_e = re;
	ASSERT_EQ(noise_handshake_init(&rsp, &c), 0);
}

/* -> e */
static void xx_msg1(void)
{
	ASSERT_EQ(noise_handshake_write_message(&ini, NULL, 0, m1, sizeof m1, &n1), 0);
	ASSERT_EQ(n1, NOISE_DH_LEN);
}

/* <- e, ee, s, es */
static void xx_msg2(void)
{
	ASSERT_EQ(noise_handshake_read_message(&rsp, m1, n1, pl, sizeof pl, &pn), 0);
	ASSERT_EQ(noise_handshake_write_message(&rsp, NULL, 0, m2, sizeof m2, &n2), 0);
	ASSERT_EQ(n2, NOISE_DH_LEN + NOISE_DH_LEN + NOISE_TAG_LEN + NOISE_TAG_LEN);
}

TEST(noise_handshake_xx_sevmon_completes_and_agrees)
{
	struct noise_keypair is, rs;
	struct noise_session si, sr;
	uint8_t h1[64], h2[64], ct[64], pt[64];
	size_t n;

	ASSERT_EQ(noise_keypair_generate(&is), 0);
	ASSERT_EQ(noise_keypair_generate(&rs), 0);
	init_xx(&is, &rs, NULL, NULL);
	ASSERT(noise_handshake_my_turn(&ini));
	ASSERT(!noise_handshake_my_turn(&rsp));
	xx_msg1();
	xx_msg2();
	ASSERT_EQ(noise_handshake_read_message(&ini, m2, n2, pl, sizeof pl, &pn), 0);
	ASSERT_MEMEQ(noise_handshake_remote_static(&ini), rs.pub, NOISE_DH_LEN);
	/* -> s, se (with a payload) */
	ASSERT_EQ(noise_handshake_write_message(&ini, (const uint8_t *)"ids", 3, m3, sizeof m3, &n3), 0);
	ASSERT_EQ(n3, NOISE_DH_LEN + NOISE_TAG_LEN + 3 + NOISE_TAG_LEN);
	ASSERT_EQ(noise_handshake_read_message(&rsp, m3, n3, pl, sizeof pl, &pn), 0);
	ASSERT_EQ(pn, 3);
	ASSERT_MEMEQ(pl, "ids", 3);
	ASSERT_MEMEQ(noise_handshake_remote_static(&rsp), is.pub, NOISE_DH_LEN);
	ASSERT_EQ(ini.state, NOISE_HS_COMPLETE);
	ASSERT_EQ(rsp.state, NOISE_HS_COMPLETE);
	ASSERT_EQ(noise_handshake_split(&ini, &si, NOISE_SESSION_REKEY_INTERVAL), 0);
	ASSERT_EQ(noise_handshake_split(&rsp, &sr, NOISE_SESSION_REKEY_INTERVAL), 0);
	ASSERT_EQ(noise_handshake_hash(&ini, h1, sizeof h1), 64);
	ASSERT_EQ(noise_handshake_hash(&rsp, h2, sizeof h2), 64);
	ASSERT_MEMEQ(h1, h2, 64);
	/* Split wiped the handshake's keys but kept h and rs. */
	ASSERT_EQ(ini.state, NOISE_HS_SPLIT);
	ASSERT_MEMEQ(noise_handshake_remote_static(&ini), rs.pub, NOISE_DH_LEN);
	ASSERT(!ini.has_s && !ini.has_e);
	ASSERT_EQ(noise_handshake_split(&ini, &si, 0), SEVMON_EINVAL);
	/* Transport both ways. */
	ASSERT_EQ(noise_session_seal(&sr, (const uint8_t *)"evidence", 8, ct, sizeof ct, &n), 0);
	ASSERT_EQ(noise_session_open(&si, ct, n, pt, sizeof pt, &pn), 0);
	ASSERT_MEMEQ(pt, "evidence", 8);
	ASSERT_EQ(noise_session_seal(&si, (const uint8_t *)"req", 3, ct, sizeof ct, &n), 0);
	ASSERT_EQ(noise_session_open(&sr, ct, n, pt, sizeof pt, &pn), 0);
	ASSERT_MEMEQ(pt, "req", 3);
}

TEST(noise_handshake_xx_different_responder_changes_hash)
{
	struct noise_keypair is, rs_a, rs_b, ie, re;
	uint8_t ha[64], hb[64];

	keypair(&is, 1);
	keypair(&rs_a, 2);
	keypair(&rs_b, 3);
	keypair(&ie, 4);
	keypair(&re, 5);
	for (int run = 0; run < 2; run++) {
		init_xx(&is, run ? &rs_b : &rs_a, &ie, &re);
		xx_msg1();
		xx_msg2();
		ASSERT_EQ(noise_handshake_read_message(&ini, m2, n2, pl, sizeof pl, &pn), 0);
		ASSERT_EQ(noise_handshake_write_message(&ini, NULL, 0, m3, sizeof m3, &n3), 0);
		ASSERT_EQ(noise_handshake_read_message(&rsp, m3, n3, pl, sizeof pl, &pn), 0);
		ASSERT_EQ(noise_handshake_hash(&ini, run ? hb : ha, 64), 64);
	}
	/* Same ephemerals, same initiator: only the responder's static differs. */
	ASSERT(memcmp(ha, hb, 64) != 0);
}

TEST(noise_handshake_read_too_short_for_e_fails)
{
	struct noise_keypair is, rs;

	keypair(&is, 1);
	keypair(&rs, 2);
	init_xx(&is, &rs, NULL, NULL);
	xx_msg1();
	ASSERT_EQ(noise_handshake_read_message(&rsp, m1, NOISE_DH_LEN - 1, pl, sizeof pl, &pn),
		  SEVMON_ETRUNC);
	ASSERT_EQ(rsp.state, NOISE_HS_FAILED);
	/* A failed handshake stays failed. */
	ASSERT_EQ(noise_handshake_read_message(&rsp, m1, n1, pl, sizeof pl, &pn), SEVMON_EINVAL);
}

TEST(noise_handshake_read_every_truncation_fails)
{
	struct noise_keypair is, rs, ie, re;

	keypair(&is, 1);
	keypair(&rs, 2);
	keypair(&ie, 4);
	keypair(&re, 5);
	/* msg2 = e (32) || enc s (32 + 16) || enc payload (5 + 16) = 101 bytes. */
	for (size_t cut = 0; cut < 101; cut++) {
		init_xx(&is, &rs, &ie, &re);
		xx_msg1();
		ASSERT_EQ(noise_handshake_read_message(&rsp, m1, n1, pl, sizeof pl, &pn), 0);
		ASSERT_EQ(noise_handshake_write_message(&rsp, (const uint8_t *)"hello", 5, m2,
							sizeof m2, &n2), 0);
		ASSERT_EQ(n2, 101);
		int rc = noise_handshake_read_message(&ini, m2, cut, pl, sizeof pl, &pn);
		/* Below the pattern's fixed size: ETRUNC before any field is read; above it
		 * the payload's tag no longer verifies. */
		ASSERT_EQ(rc, cut < 80 + 16 ? SEVMON_ETRUNC : SEVMON_EAUTH);
		ASSERT_EQ(ini.state, NOISE_HS_FAILED);
	}
}

TEST(noise_handshake_read_tampered_fails)
{
	struct noise_keypair is, rs, ie, re;

	keypair(&is, 1);
	keypair(&rs, 2);
	keypair(&ie, 4);
	keypair(&re, 5);
	/* Flip one bit in each byte of message 2 in turn: e, encrypted s, payload tag. */
	for (size_t i = 0; i < 96; i += 7) {
		init_xx(&is, &rs, &ie, &re);
		xx_msg1();
		xx_msg2();
		m2[i] ^= 0x01;
		int rc = noise_handshake_read_message(&ini, m2, n2, pl, sizeof pl, &pn);
		/* e's last bit is masked by X25519 (RFC 7748), so flipping it changes h only. */
		ASSERT(rc == SEVMON_EAUTH || rc == SEVMON_EPROTO);
		ASSERT_EQ(ini.state, NOISE_HS_FAILED);
		ASSERT_EQ(noise_handshake_remote_static(&ini), NULL);
	}
}

/* Random bytes of random lengths where message 1 and message 2 belong: always an
 * error, never a crash (run under ASan in CI). */
TEST(noise_handshake_read_random_bytes_fails)
{
	struct noise_keypair is, rs;
	uint32_t x = 12345;

	keypair(&is, 1);
	keypair(&rs, 2);
	for (int i = 0; i < 300; i++) {
		size_t len;
		init_xx(&is, &rs, NULL, NULL);
		xx_msg1();
		x = x * 1103515245u + 12345u;
		len = (x >> 8) % 200;
		for (size_t k = 0; k < len; k++) {
			x = x * 1103515245u + 12345u;
			m2[k] = (uint8_t)(x >> 16);
		}
		ASSERT_EQ(noise_handshake_read_message(&rsp, m1, n1, pl, sizeof pl, &pn), 0);
		ASSERT_EQ(noise_handshake_write_message(&rsp, NULL, 0, m3, sizeof m3, &n3), 0);
		int rc = noise_handshake_read_message(&ini, m2, len, pl, sizeof pl, &pn);
		ASSERT(rc == SEVMON_ETRUNC || rc == SEVMON_EAUTH || rc == SEVMON_EPROTO);
		ASSERT_EQ(ini.state, NOISE_HS_FAILED);
	}
}

TEST(noise_handshake_prologue_mismatch_fails)
{
	struct noise_keypair is, rs;
	struct noise_handshake_config c = {
		.protocol_name = NOISE_PROTOCOL_SEVMON,
		.role = NOISE_INITIATOR,
		.prologue = (const uint8_t *)"sevmon/2",
		.prologue_len = 8,
		.s = &is,
	};

	keypair(&is, 1);
	keypair(&rs, 2);
	init_xx(&is, &rs, NULL, NULL);
	ASSERT_EQ(noise_handshake_init(&ini, &c), 0);
	xx_msg1();
	xx_msg2();
	ASSERT_EQ(noise_handshake_read_message(&ini, m2, n2, pl, sizeof pl, &pn), SEVMON_EAUTH);
}

TEST(noise_handshake_low_order_ephemeral_fails)
{
	struct noise_keypair is, rs;

	keypair(&is, 1);
	keypair(&rs, 2);
	init_xx(&is, &rs, NULL, NULL);
	memset(m1, 0, NOISE_DH_LEN); /* the identity point: every DH with it is zero */
	ASSERT_EQ(noise_handshake_read_message(&rsp, m1, NOISE_DH_LEN, pl, sizeof pl, &pn), 0);
	ASSERT_EQ(noise_handshake_write_message(&rsp, NULL, 0, m2, sizeof m2, &n2), SEVMON_EPROTO);
	ASSERT_EQ(n2, 0);
	ASSERT_EQ(rsp.state, NOISE_HS_FAILED);
}

TEST(noise_handshake_write_out_of_turn_fails)
{
	struct noise_keypair is, rs;

	keypair(&is, 1);
	keypair(&rs, 2);
	init_xx(&is, &rs, NULL, NULL);
	ASSERT_EQ(noise_handshake_write_message(&rsp, NULL, 0, m2, sizeof m2, &n2), SEVMON_EINVAL);
	ASSERT_EQ(noise_handshake_read_message(&ini, m1, 32, pl, sizeof pl, &pn), SEVMON_EINVAL);
	ASSERT_EQ(noise_handshake_hash(&ini, pl, 64), SEVMON_EINVAL);
	/* Misuse is refused without killing the handshake. */
	ASSERT_EQ(rsp.state, NOISE_HS_RUNNING);
	xx_msg1();
	xx_msg2();
}

TEST(noise_handshake_write_too_big_fails)
{
	struct noise_keypair is, rs;
	static uint8_t big[NOISE_MAX_MSG];

	keypair(&is, 1);
	keypair(&rs, 2);
	init_xx(&is, &rs, NULL, NULL);
	/* msg1 has no key yet: e (32) + plaintext payload. */
	ASSERT_EQ(noise_handshake_write_message(&ini, big, NOISE_MAX_MSG - 31, m1, sizeof m1, &n1),
		  SEVMON_ETOOBIG);
	init_xx(&is, &rs, NULL, NULL);
	ASSERT_EQ(noise_handshake_write_message(&ini, big, NOISE_MAX_MSG - 32, m1, sizeof m1, &n1), 0);
	ASSERT_EQ(n1, NOISE_MAX_MSG);
	/* A payload buffer too small for the payload. */
	ASSERT_EQ(noise_handshake_read_message(&rsp, m1, n1, pl, 10, &pn), SEVMON_ETOOBIG);
}

TEST(noise_handshake_init_unsupported_names_fail)
{
	static const char *bad[] = {
		"Noise_XX_25519_AESGCM_SHA512", "Noise_XX_448_ChaChaPoly_SHA512",
		"Noise_XX_25519_ChaChaPoly_BLAKE2s", "Noise_XXfallback_25519_ChaChaPoly_SHA512",
		"Noise_ZZ_25519_ChaChaPoly_SHA512", "Noise_XXpsk_25519_ChaChaPoly_SHA512",
		"Noise_XXpsk7_25519_ChaChaPoly_SHA512", "NoiseXX_25519_ChaChaPoly_SHA512",
		"Noise_XX_25519_ChaChaPoly_SHA512_", "Noise_XXpsk0psk1_25519_ChaChaPoly_SHA512",
		"",
	};
	struct noise_keypair s;
	struct noise_handshake_config c = { .role = NOISE_INITIATOR, .s = &s };

	keypair(&s, 1);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		c.protocol_name = bad[i];
		if (noise_handshake_init(&ini, &c) != SEVMON_ENOTSUP)
			FAIL_AT("accepted %s", bad[i]);
		ASSERT_EQ(ini.state, NOISE_HS_FAILED);
	}
}

TEST(noise_handshake_init_keys_must_match_pattern)
{
	struct noise_keypair s;
	uint8_t rs[32] = { 9 }, psk[1][32] = { { 1 } };
	struct noise_handshake_config c = { .protocol_name = "Noise_XK_25519_ChaChaPoly_SHA256",
					    .role = NOISE_INITIATOR, .s = &s };

	keypair(&s, 1);
	ASSERT_EQ(noise_handshake_init(&ini, &c), SEVMON_EINVAL); /* XK needs rs */
	c.rs = rs;
	ASSERT_EQ(noise_handshake_init(&ini, &c), 0);
	c.protocol_name = "Noise_XX_25519_ChaChaPoly_SHA256";
	ASSERT_EQ(noise_handshake_init(&ini, &c), SEVMON_EINVAL); /* XX transmits rs */
	c.rs = NULL;
	c.s = NULL;
	ASSERT_EQ(noise_handshake_init(&ini, &c), SEVMON_EINVAL); /* XX needs s */
	c.s = &s;
	c.protocol_name = "Noise_XXpsk3_25519_ChaChaPoly_SHA256";
	ASSERT_EQ(noise_handshake_init(&ini, &c), SEVMON_EINVAL); /* psk missing */
	c.psks = (const uint8_t(*)[32])psk;
	c.npsks = 1;
	ASSERT_EQ(noise_handshake_init(&ini, &c), 0);
}

TEST(noise_pattern_parse_places_psk_tokens)
{
	struct noise_pattern p;

	ASSERT_EQ(noise_pattern_parse("XX", 2, &p), 0);
	ASSERT_EQ(p.nmsg, 3);
	ASSERT_EQ(p.ntok[1], 4);
	ASSERT_EQ(p.tok[1][0], NOISE_TOK_E);
	ASSERT_EQ(p.tok[1][1], NOISE_TOK_EE);
	ASSERT_EQ(p.tok[1][2], NOISE_TOK_S);
	ASSERT_EQ(p.tok[1][3], NOISE_TOK_ES);
	ASSERT(!p.pre_init_s && !p.pre_resp_s && !p.one_way);
	ASSERT_EQ(noise_pattern_parse("NNpsk0+psk2", 11, &p), 0);
	ASSERT_EQ(p.npsk, 2);
	ASSERT_EQ(p.tok[0][0], NOISE_TOK_PSK);
	ASSERT_EQ(p.tok[1][p.ntok[1] - 1], NOISE_TOK_PSK);
	ASSERT_EQ(noise_pattern_parse("K", 1, &p), 0);
	ASSERT(p.pre_init_s && p.pre_resp_s && p.one_way);
	ASSERT_EQ(noise_pattern_parse("NNpsk3", 6, &p), SEVMON_ENOTSUP); /* NN has 2 messages */
}

TEST_MAIN()
