/*
 * noise.h — the Noise Protocol Framework (revision 34) on libsodium.
 *
 * Supported: DH 25519, cipher ChaChaPoly, hashes SHA256 / SHA512 / BLAKE2b; the 15
 * fundamental patterns, the 23 deferred patterns and the pskN modifiers. sevmon itself
 * uses one suite, NOISE_PROTOCOL_SEVMON, with the IDS as initiator; the rest exists so
 * the code can be checked against public test vectors.
 *
 * Three layers, as in the spec (section 5):
 *   noise_cipher     CipherState: k, n; ENCRYPT/DECRYPT/REKEY.
 *   noise_symmetric  SymmetricState: ck, h; MixKey, MixHash, Split ...
 *   noise_handshake  HandshakeState: s, e, rs, re and the pattern.
 * and, after the handshake, noise_session: a send and a receive CipherState.
 *
 * Return values: 0 (or a length) on success, a negative SEVMON_E* code on failure
 * (err.h). The codes used here:
 *   SEVMON_EINVAL   caller error (wrong state, missing key, NULL where a key is needed)
 *   SEVMON_ETOOBIG  output buffer too small, or a message would exceed NOISE_MAX_MSG
 *   SEVMON_ETRUNC   a received message is shorter than its pattern requires
 *   SEVMON_EAUTH    AEAD authentication failed (tampered, wrong key, wrong order)
 *   SEVMON_EPROTO   the peer sent a low-order public key (DH output all zeros)
 *   SEVMON_ENONCE   nonce 2^64-1 reached: the CipherState is dead, handshake again
 *   SEVMON_ENOTSUP  protocol name outside the supported set
 * In a handshake, EINVAL for a call in the wrong state or out of turn leaves the
 * HandshakeState as it was; every other failure wipes it and leaves it FAILED (the
 * spec deletes a HandshakeState on error): it cannot be resumed, start a new one.
 *
 * No function allocates. Every object lives in caller memory; wipe it with the
 * matching *_wipe() when done (it holds keys).
 */
#ifndef SEVMON_NOISE_H
#define SEVMON_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOISE_WUR __attribute__((warn_unused_result))

/* The production suite and its prologue. The prologue names our protocol and its
 * version, so a peer speaking another version fails the handshake instead of
 * misreading messages. */
#define NOISE_PROTOCOL_SEVMON "Noise_XX_25519_ChaChaPoly_SHA512"
#define NOISE_PROLOGUE_SEVMON "sevmon/1"

/* Spec section 3: a Noise message is at most 65535 bytes (it fits a u16 frame). */
#define NOISE_MAX_MSG 65535
/* ChaChaPoly: 32-byte keys, 16-byte Poly1305 tag. */
#define NOISE_KEY_LEN 32
#define NOISE_TAG_LEN 16
/* 25519: DHLEN = 32. */
#define NOISE_DH_LEN 32
/* Largest HASHLEN (SHA512, BLAKE2b) and BLOCKLEN (same two). */
#define NOISE_MAX_HASH_LEN 64
#define NOISE_MAX_BLOCK_LEN 128
#define NOISE_PSK_LEN 32
/* Largest payload a transport message can carry. */
#define NOISE_MAX_PAYLOAD (NOISE_MAX_MSG - NOISE_TAG_LEN)
/* Pattern shape limits: the longest spec pattern has 4 messages (X1K1 ...), the
 * busiest message 5 tokens; room for psk tokens on top. A protocol name is short;
 * 96 bytes holds every name in the spec with modifiers. */
#define NOISE_MAX_MESSAGES 6
#define NOISE_MAX_TOKENS 8
#define NOISE_MAX_PSKS 4
#define NOISE_MAX_NAME 96
/* Default automatic rekey interval of a session (messages per direction). Both
 * peers must use the same value: it is part of the protocol, not a local knob.
 * 2^20 messages of up to 64 KiB = at most 64 GiB per key. */
#define NOISE_SESSION_REKEY_INTERVAL (UINT64_C(1) << 20)

/* ---- CipherState ---------------------------------------------------------- */

struct noise_cipher {
	uint8_t k[NOISE_KEY_LEN];
	uint64_t n;
	bool has_key;
};

/* InitializeKey(key); key == NULL sets k empty. Always succeeds. */
void noise_cipher_init(struct noise_cipher *c, const uint8_t key[NOISE_KEY_LEN]);
/* SetNonce (spec 11.4); for tests and out-of-order transports. */
void noise_cipher_set_nonce(struct noise_cipher *c, uint64_t n);
/* EncryptWithAd: writes len + 16 bytes (len bytes if k is empty) to out, which may
 * equal in. Returns 0, or ETOOBIG (cap too small, or len > NOISE_MAX_MSG: nothing in
 * Noise encrypts more), ENONCE (n == 2^64-1). n advances on success only. */
int noise_cipher_encrypt(struct noise_cipher *c, const uint8_t *ad, size_t adlen,
			 const uint8_t *in, size_t len, uint8_t *out, size_t cap,
			 size_t *outlen) NOISE_WUR;
/* DecryptWithAd: writes len - 16 bytes (len if k is empty). Returns 0, ETRUNC
 * (len < 16), ETOOBIG, ENONCE, EAUTH (then n is not advanced and out is zeroed). */
int noise_cipher_decrypt(struct noise_cipher *c, const uint8_t *ad, size_t adlen,
			 const uint8_t *in, size_t len, uint8_t *out, size_t cap,
			 size_t *outlen) NOISE_WUR;
/* Rekey(): k = first 32 bytes of ENCRYPT(k, 2^64-1, empty, zeros[32]); n unchanged.
 * EINVAL when k is empty. */
int noise_cipher_rekey(struct noise_cipher *c) NOISE_WUR;
void noise_cipher_wipe(struct noise_cipher *c);

/* ---- Hash, HMAC, HKDF (spec 4.3) ------------------------------------------ */

enum noise_hash_alg { NOISE_HASH_SHA256, NOISE_HASH_SHA512, NOISE_HASH_BLAKE2B };

size_t noise_hash_len(enum noise_hash_alg alg);
/* HMAC-HASH(key, d1 || d2) per RFC 2104, written here over the full-length hash
 * (libsodium's HMAC-SHA512256 is truncated and has no BLAKE2b variant). out gets
 * noise_hash_len(alg) bytes. Any key length. */
void noise_hmac(enum noise_hash_alg alg, const uint8_t *key, size_t keylen, const uint8_t *d1,
		size_t d1len, const uint8_t *d2, size_t d2len, uint8_t out[NOISE_MAX_HASH_LEN]);
/* HKDF(ck, ikm, n) with n = 2 or 3; o3 may be NULL when n == 2. */
void noise_hkdf(enum noise_hash_alg alg, const uint8_t *ck, const uint8_t *ikm, size_t ikmlen,
		uint8_t o1[NOISE_MAX_HASH_LEN], uint8_t o2[NOISE_MAX_HASH_LEN],
		uint8_t o3[NOISE_MAX_HASH_LEN]);

/* ---- SymmetricState ------------------------------------------------------- */

struct noise_symmetric {
	struct noise_cipher cs;
	enum noise_hash_alg alg;
	size_t hashlen;
	uint8_t ck[NOISE_MAX_HASH_LEN];
	uint8_t h[NOISE_MAX_HASH_LEN];
};

void noise_symmetric_init(struct noise_symmetric *ss, enum noise_hash_alg alg,
			  const char *protocol_name, size_t namelen);
void noise_symmetric_mix_hash(struct noise_symmetric *ss, const uint8_t *data, size_t len);
void noise_symmetric_mix_key(struct noise_symmetric *ss, const uint8_t *ikm, size_t len);
void noise_symmetric_mix_key_and_hash(struct noise_symmetric *ss, const uint8_t *ikm, size_t len);
/* EncryptAndHash / DecryptAndHash: codes as noise_cipher_encrypt/decrypt. */
int noise_symmetric_encrypt_and_hash(struct noise_symmetric *ss, const uint8_t *in, size_t len,
				     uint8_t *out, size_t cap, size_t *outlen) NOISE_WUR;
int noise_symmetric_decrypt_and_hash(struct noise_symmetric *ss, const uint8_t *in, size_t len,
				     uint8_t *out, size_t cap, size_t *outlen) NOISE_WUR;
/* Split(): c1 initiator->responder, c2 responder->initiator. */
void noise_symmetric_split(const struct noise_symmetric *ss, struct noise_cipher *c1,
			   struct noise_cipher *c2);
void noise_symmetric_wipe(struct noise_symmetric *ss);

/* ---- Keys ----------------------------------------------------------------- */

struct noise_keypair {
	uint8_t pub[NOISE_DH_LEN];
	uint8_t priv[NOISE_DH_LEN];
};

/* GENERATE_KEYPAIR() from the system RNG. EINTERNAL if libsodium cannot start. */
int noise_keypair_generate(struct noise_keypair *kp) NOISE_WUR;
/* Derive pub from a given private key. EPROTO if the private key is degenerate. */
int noise_keypair_from_private(struct noise_keypair *kp, const uint8_t priv[NOISE_DH_LEN]) NOISE_WUR;

/* ---- HandshakeState ------------------------------------------------------- */

enum noise_role { NOISE_INITIATOR, NOISE_RESPONDER };

enum noise_token { NOISE_TOK_E, NOISE_TOK_S, NOISE_TOK_EE, NOISE_TOK_ES, NOISE_TOK_SE,
		   NOISE_TOK_SS, NOISE_TOK_PSK };

/* A parsed handshake pattern (filled by noise_handshake_init from the name). */
struct noise_pattern {
	bool pre_init_s; /* "-> s" before "..." */
	bool pre_resp_s; /* "<- s" before "..." */
	bool one_way;    /* N, K, X: only the initiator sends transport messages */
	uint8_t nmsg;
	uint8_t ntok[NOISE_MAX_MESSAGES];
	uint8_t tok[NOISE_MAX_MESSAGES][NOISE_MAX_TOKENS]; /* enum noise_token */
	uint8_t npsk;
};

/* Parse the pattern section of a protocol name ("XX", "IKpsk2", "NNpsk0+psk2").
 * Used by noise_handshake_init; public so tests can check the table. Returns 0 or
 * ENOTSUP (unknown pattern or modifier, e.g. fallback). */
int noise_pattern_parse(const char *section, size_t len, struct noise_pattern *p) NOISE_WUR;

enum noise_hs_state {
	NOISE_HS_RUNNING,  /* messages left; see noise_handshake_my_turn() */
	NOISE_HS_COMPLETE, /* all messages processed: call noise_handshake_split() */
	NOISE_HS_SPLIT,    /* split done; only noise_handshake_hash() is left */
	NOISE_HS_FAILED,   /* an error wiped it */
};

struct noise_handshake_config {
	const char *protocol_name; /* e.g. NOISE_PROTOCOL_SEVMON (NUL-terminated) */
	enum noise_role role;
	const uint8_t *prologue; /* may be NULL when prologue_len == 0 */
	size_t prologue_len;
	const struct noise_keypair *s; /* local static; required iff the pattern uses it */
	const uint8_t *rs;             /* remote static; required iff a pre-message has it */
	/* Tests only: use this ephemeral instead of generating one. Never in production:
	 * a reused ephemeral destroys forward secrecy. */
	const struct noise_keypair *fixed_e;
	const uint8_t (*psks)[NOISE_PSK_LEN]; /* exactly as many as the pattern's psk tokens */
	size_t npsks;
};

struct noise_handshake {
	struct noise_symmetric ss;
	struct noise_pattern pat;
	enum noise_role role;
	enum noise_hs_state state;
	uint8_t msg_index;
	uint8_t psk_used;
	bool has_s, has_e, has_rs, has_re, e_fixed;
	struct noise_keypair s, e;
	uint8_t rs[NOISE_DH_LEN], re[NOISE_DH_LEN];
	uint8_t psks[NOISE_MAX_PSKS][NOISE_PSK_LEN];
};

/* Initialize(): parses cfg->protocol_name ("Noise_<pattern>[pskN[+pskM]]_25519_
 * ChaChaPoly_<SHA256|SHA512|BLAKE2b>"), mixes the prologue and pre-message keys.
 * The config's keys are copied; cfg need not outlive the call.
 * Returns 0, ENOTSUP (name), EINVAL (keys do not match the pattern). */
int noise_handshake_init(struct noise_handshake *hs, const struct noise_handshake_config *cfg) NOISE_WUR;
/* True while RUNNING and the next message is ours to write. */
bool noise_handshake_my_turn(const struct noise_handshake *hs);
/* WriteMessage(payload): out gets the message (at most NOISE_MAX_MSG bytes).
 * Returns 0, EINVAL (state/turn), ETOOBIG (cap, or message > NOISE_MAX_MSG),
 * EPROTO (degenerate DH), ENONCE. */
int noise_handshake_write_message(struct noise_handshake *hs, const uint8_t *payload, size_t plen,
				  uint8_t *out, size_t cap, size_t *outlen) NOISE_WUR;
/* ReadMessage(msg): the length is checked against the pattern before any field is
 * read. payload gets the plaintext. Returns 0, EINVAL, ETRUNC, ETOOBIG (len >
 * NOISE_MAX_MSG or cap), EAUTH, EPROTO, ENONCE. */
int noise_handshake_read_message(struct noise_handshake *hs, const uint8_t *msg, size_t len,
				 uint8_t *payload, size_t cap, size_t *plen) NOISE_WUR;
/* Copies h (the channel binding value, spec 11.2) to out; returns HASHLEN, or
 * EINVAL unless COMPLETE or SPLIT, ETOOBIG if cap < HASHLEN. */
int noise_handshake_hash(const struct noise_handshake *hs, uint8_t *out, size_t cap) NOISE_WUR;
/* The peer's static public key once received (or given); NULL before. Valid as
 * long as hs is. */
const uint8_t *noise_handshake_remote_static(const struct noise_handshake *hs);
void noise_handshake_wipe(struct noise_handshake *hs);

/* ---- Transport session ---------------------------------------------------- */

struct noise_session {
	struct noise_cipher send, recv;
	bool can_send, can_recv; /* one-way patterns: only initiator -> responder */
	uint64_t rekey_interval; /* 0: no automatic rekey */
	uint64_t sent_since_rekey, recv_since_rekey;
};

/* Split(): fills s (send/recv by role), keeps h in hs for noise_handshake_hash(),
 * wipes everything else in hs. rekey_interval as in struct noise_session (use
 * NOISE_SESSION_REKEY_INTERVAL). Returns 0 or EINVAL unless COMPLETE. */
int noise_handshake_split(struct noise_handshake *hs, struct noise_session *s,
			  uint64_t rekey_interval) NOISE_WUR;
/* Encrypt one transport message (len <= NOISE_MAX_PAYLOAD); out gets len + 16 bytes.
 * After every rekey_interval messages the send key is rekeyed; the peer does the same
 * on receive, so both stay in step. Returns 0, EINVAL (one-way receiver), ETOOBIG,
 * ENONCE (terminate the session). */
int noise_session_seal(struct noise_session *s, const uint8_t *in, size_t len, uint8_t *out,
		       size_t cap, size_t *outlen) NOISE_WUR;
/* Decrypt one transport message. EAUTH: discard it (and, in sevmon, drop the link).
 * Returns 0, EINVAL, ETRUNC, ETOOBIG, EAUTH, ENONCE. */
int noise_session_open(struct noise_session *s, const uint8_t *in, size_t len, uint8_t *out,
		       size_t cap, size_t *outlen) NOISE_WUR;
/* Rekey on request: the application tells the peer (in its own protocol) and both
 * call the matching side at the same message boundary. */
int noise_session_rekey_send(struct noise_session *s) NOISE_WUR;
int noise_session_rekey_recv(struct noise_session *s) NOISE_WUR;
void noise_session_wipe(struct noise_session *s);

#endif
