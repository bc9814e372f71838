/* Transport sessions after Split: round trips, limits, rekey schedules. */
#include "err.h"
#include "harness.h"
#include "noise.h"

static struct noise_session si, sr;
static uint8_t buf[NOISE_MAX_MSG + 16], out[NOISE_MAX_MSG + 16];

/* A real handshake (NN, no statics needed) gives the two sessions. */
static void sessions(const char *name, uint64_t interval)
{
	struct noise_handshake a, b;
	struct noise_handshake_config c = { .protocol_name = name, .role = NOISE_INITIATOR };
	struct noise_keypair s;
	uint8_t m[256], p[256];
	size_t n, pn;
	bool one_way = name[6] == 'N' && name[7] == '_';

	if (one_way) {
		ASSERT_EQ(noise_keypair_generate(&s), 0);
		c.rs = s.pub;
	}
	ASSERT_EQ(noise_handshake_init(&a, &c), 0);
	c.role = NOISE_RESPONDER;
	c.rs = NULL;
	c.s = one_way ? &s : NULL;
	ASSERT_EQ(noise_handshake_init(&b, &c), 0);
	while (a.state == NOISE_HS_RUNNING) {
		struct noise_handshake *w = noise_handshake_my_turn(&a) ? &a : &b;
		struct noise_handshake *r = w == &a ? &b : &a;
		ASSERT_EQ(noise_handshake_write_message(w, NULL, 0, m, sizeof m, &n), 0);
		ASSERT_EQ(noise_handshake_read_message(r, m, n, p, sizeof p, &pn), 0);
	}
	ASSERT_EQ(noise_handshake_split(&a, &si, interval), 0);
	ASSERT_EQ(noise_handshake_split(&b, &sr, interval), 0);
}

static void send_ok(struct noise_session *w, struct noise_session *r, const char *msg)
{
	size_t n, pn;
	ASSERT_EQ(noise_session_seal(w, (const uint8_t *)msg, strlen(msg), buf, sizeof buf, &n), 0);
	ASSERT_EQ(n, strlen(msg) + NOISE_TAG_LEN);
	ASSERT_EQ(noise_session_open(r, buf, n, out, sizeof out, &pn), 0);
	ASSERT_EQ(pn, strlen(msg));
	ASSERT_MEMEQ(out, msg, pn);
}

TEST(noise_session_seal_open_both_directions)
{
	sessions("Noise_NN_25519_ChaChaPoly_SHA512", 0);
	send_ok(&si, &sr, "one");
	send_ok(&sr, &si, "two");
	send_ok(&sr, &si, "three");
	ASSERT_UEQ(si.send.n, 1);
	ASSERT_UEQ(si.recv.n, 2);
	/* The two directions use different keys. */
	ASSERT(memcmp(si.send.k, si.recv.k, NOISE_KEY_LEN) != 0);
}

TEST(noise_session_open_tampered_or_replayed_fails)
{
	size_t n, pn;

	sessions("Noise_NN_25519_ChaChaPoly_SHA256", 0);
	ASSERT_EQ(noise_session_seal(&si, (const uint8_t *)"data", 4, buf, sizeof buf, &n), 0);
	buf[n - 1] ^= 0x80;
	ASSERT_EQ(noise_session_open(&sr, buf, n, out, sizeof out, &pn), SEVMON_EAUTH);
	buf[n - 1] ^= 0x80;
	ASSERT_EQ(noise_session_open(&sr, buf, n, out, sizeof out, &pn), 0);
	/* The same message again: the receiver's nonce moved on. */
	ASSERT_EQ(noise_session_open(&sr, buf, n, out, sizeof out, &pn), SEVMON_EAUTH);
	ASSERT_EQ(noise_session_open(&sr, buf, 15, out, sizeof out, &pn), SEVMON_ETRUNC);
}

TEST(noise_session_seal_size_limits)
{
	static uint8_t big[NOISE_MAX_PAYLOAD + 1];
	size_t n, pn;

	sessions("Noise_NN_25519_ChaChaPoly_BLAKE2b", 0);
	ASSERT_EQ(noise_session_seal(&si, big, NOISE_MAX_PAYLOAD + 1, buf, sizeof buf, &n),
		  SEVMON_ETOOBIG);
	ASSERT_EQ(noise_session_seal(&si, big, 10, buf, 10 + NOISE_TAG_LEN - 1, &n), SEVMON_ETOOBIG);
	ASSERT_UEQ(si.send.n, 0);
	ASSERT_EQ(noise_session_seal(&si, big, NOISE_MAX_PAYLOAD, buf, sizeof buf, &n), 0);
	ASSERT_EQ(n, NOISE_MAX_MSG);
	ASSERT_EQ(noise_session_open(&sr, buf, NOISE_MAX_MSG + 1, out, sizeof out, &pn), SEVMON_ETOOBIG);
	ASSERT_EQ(noise_session_open(&sr, buf, n, out, 100, &pn), SEVMON_ETOOBIG);
	ASSERT_EQ(noise_session_open(&sr, buf, n, out, sizeof out, &pn), 0);
	ASSERT_EQ(pn, NOISE_MAX_PAYLOAD);
}

TEST(noise_session_rekey_interval_keeps_peers_in_step)
{
	uint8_t k0[NOISE_KEY_LEN];
	char msg[16];

	sessions("Noise_NN_25519_ChaChaPoly_SHA512", 3);
	memcpy(k0, si.send.k, sizeof k0);
	for (int i = 0; i < 10; i++) {
		snprintf(msg, sizeof msg, "msg %d", i);
		send_ok(&si, &sr, msg);
		/* After messages 3, 6, 9 the key has moved on, and the nonce has not reset. */
		ASSERT_EQ(memcmp(si.send.k, k0, sizeof k0) == 0, i < 2);
		ASSERT_MEMEQ(si.send.k, sr.recv.k, NOISE_KEY_LEN);
	}
	ASSERT_UEQ(si.send.n, 10);
	ASSERT_UEQ(sr.recv.n, 10);
	send_ok(&sr, &si, "back");
}

TEST(noise_session_rekey_on_request_needs_both_sides)
{
	size_t n, pn;

	sessions("Noise_NN_25519_ChaChaPoly_SHA512", 0);
	send_ok(&si, &sr, "before");
	ASSERT_EQ(noise_session_rekey_send(&si), 0);
	ASSERT_EQ(noise_session_seal(&si, (const uint8_t *)"after", 5, buf, sizeof buf, &n), 0);
	ASSERT_EQ(noise_session_open(&sr, buf, n, out, sizeof out, &pn), SEVMON_EAUTH);
	ASSERT_EQ(noise_session_rekey_recv(&sr), 0);
	ASSERT_EQ(noise_session_open(&sr, buf, n, out, sizeof out, &pn), 0);
	ASSERT_MEMEQ(out, "after", 5);
}

TEST(noise_session_nonce_exhausted_fails)
{
	size_t n;

	sessions("Noise_NN_25519_ChaChaPoly_SHA512", 0);
	noise_cipher_set_nonce(&si.send, UINT64_MAX);
	ASSERT_EQ(noise_session_seal(&si, (const uint8_t *)"x", 1, buf, sizeof buf, &n), SEVMON_ENONCE);
}

TEST(noise_session_one_way_receiver_cannot_send)
{
	size_t n, pn;

	sessions("Noise_N_25519_ChaChaPoly_SHA256", 0);
	send_ok(&si, &sr, "stream");
	ASSERT_EQ(noise_session_seal(&sr, (const uint8_t *)"x", 1, buf, sizeof buf, &n), SEVMON_EINVAL);
	ASSERT_EQ(noise_session_open(&si, buf, 17, out, sizeof out, &pn), SEVMON_EINVAL);
	ASSERT_EQ(noise_session_rekey_send(&sr), SEVMON_EINVAL);
}

TEST_MAIN()
