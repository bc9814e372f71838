/*
 * session.h — the sevmon channel: a Noise_XX handshake bound to SEV-SNP evidence, then
 * Noise transport messages. Both sides (IDS = initiator, agent = responder) run the same
 * state machine here; it does no I/O. The caller feeds it received frame bodies and
 * sends what it hands out, so a blocking driver (sevmon CLI), a poll loop (the agent)
 * and libuv (sevmond) all drive the same code.
 *
 *   msg1  IDS -> agent   e                      payload empty
 *   msg2  agent -> IDS   e, ee, s, es           payload empty
 *                        (IDS: agent static key == pinned key, if pinned)
 *   msg3  IDS -> agent   s, se                  payload: 1 byte flags (SESSION_F_*)
 *                        (agent: IDS static key on the allow-list, else closed)
 *   T1    agent -> IDS   transport: agent evidence (REPORT_DATA = binding("agent"))
 *   T1'   IDS -> agent   transport: IDS evidence, only if msg3 set SESSION_F_IDS_EVIDENCE
 *   then  RPC envelopes in transport messages, the IDS speaking first.
 *
 * Binding: REPORT_DATA = SHA-512(label || h), h the final handshake hash (64 bytes),
 * label SESSION_LABEL_AGENT or SESSION_LABEL_IDS (distinct so that one side's evidence
 * can never be reflected as the other's). h covers both ephemerals and both static
 * keys, so a report is fresh and names this session and these keys.
 *
 * Read-ahead: after its evidence the agent sends nothing until it receives a request,
 * and the IDS sends no request before the agent's evidence verified. So a driver that
 * reads exactly one frame at a time until session_ready() holds no byte that belongs to
 * the RPC layer: the RPC client can then take the fd as a fresh stream.
 *
 * Return codes: 0 or a negative SEVMON_E*; on any error the session is FAILED, its keys
 * wiped, and session_why() says what happened in one line. The connection must be
 * closed. Codes: EPROTO (bad frame for the state, bad payload), ETRUNC (short handshake
 * frame), EAUTH (AEAD failure: replayed or forged message, wrong key), EDENIED (IDS key
 * not allowed, agent key not the pinned one), EATTEST (evidence rejected), EDECODE
 * (evidence malformed), EINVAL (caller error), plus the provider's own codes.
 *
 * No allocation: struct session lives in caller memory (about 24 KiB: it holds the
 * frames it hands out). session_wipe() when done.
 */
#ifndef SEVMON_SESSION_H
#define SEVMON_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "noise.h"
#include "snp_report.h"

#define SESSION_LABEL_AGENT "sevmon/1 evidence agent"
#define SESSION_LABEL_IDS "sevmon/1 evidence ids"
#define SESSION_BINDING_LEN 64 /* SHA-512: fills REPORT_DATA exactly */

/* msg3 flags. */
#define SESSION_F_IDS_EVIDENCE 0x01u /* the IDS sends its evidence after the agent's */
#define SESSION_F_ALL SESSION_F_IDS_EVIDENCE

/* Exact sizes of the handshake messages (X25519 32, tag 16): checked before parsing. */
#define SESSION_MSG1_LEN 32u                /* e */
#define SESSION_MSG2_LEN (32u + 48u + 16u)  /* e, enc(s), enc(empty payload) */
#define SESSION_MSG3_LEN (48u + 1u + 16u)   /* enc(s), enc(flags) */

/*
 * Evidence message (plaintext of one transport message), all integers big-endian:
 *   u8 version (1) | u8 kind (1 = SEV-SNP) | u16 report_len (= 1184) | u16 vcek_len
 *   | u16 chain_len | report | vcek (DER) | chain (PEM, ASK then ARK)
 * The lengths must add up to the message exactly.
 */
#define SESSION_EVIDENCE_VERSION 1u
#define SESSION_EVIDENCE_SNP 1u
#define SESSION_EVIDENCE_HDR 8u
/* A VCEK certificate is ~1.4 KB of DER; 2 KiB leaves room for longer extensions. */
#define SESSION_MAX_VCEK 2048u
/* ASK + ARK as PEM: two RSA-4096 certificates, ~2.2 KB each; 8 KiB for a longer chain. */
#define SESSION_MAX_CHAIN 8192u
#define SESSION_MAX_EVIDENCE \
	(SESSION_EVIDENCE_HDR + SNP_REPORT_LEN + SESSION_MAX_VCEK + SESSION_MAX_CHAIN)

/* Allow-list entries an agent takes: a few IDS instances and a spare for key rotation. */
#define SESSION_MAX_ALLOW 16u

struct session_evidence {
	uint8_t kind;
	const uint8_t *report; /* SNP_REPORT_LEN bytes */
	const uint8_t *vcek;   /* may be NULL when vcek_len is 0 (the verifier then fails) */
	size_t vcek_len;
	const uint8_t *chain;
	size_t chain_len;
};

/* Encode ev into out (cap bytes); returns the length or ETOOBIG / EINVAL. */
long session_evidence_encode(const struct session_evidence *ev, uint8_t *out, size_t cap);
/* Decode in[0..n); ev's pointers point into in. EDECODE / ETRUNC on any mismatch. */
int session_evidence_decode(const uint8_t *in, size_t n, struct session_evidence *ev);

/* SHA-512(label || h). */
void session_binding(const char *label, const uint8_t *h, size_t hlen,
		     uint8_t out[SESSION_BINDING_LEN]);

/*
 * Evidence provider: fill *ev for REPORT_DATA = report_data. The pointers must stay
 * valid until the next call on the same ctx (the provider owns the buffers).
 * Returns 0 or a negative SEVMON_E* (with a line in why).
 */
typedef int (*session_attest_fn)(void *ctx, const uint8_t report_data[SESSION_BINDING_LEN],
				 struct session_evidence *ev, char *why, size_t whycap);
/*
 * Evidence verifier: accept ev only if it is valid under the caller's policy and its
 * REPORT_DATA equals report_data. peer_key is the peer's static key (already checked
 * against pin/allow-list by the session). Returns 0, or SEVMON_EATTEST / EDECODE with a
 * line in why.
 */
typedef int (*session_verify_fn)(void *ctx, const struct session_evidence *ev,
				 const uint8_t report_data[SESSION_BINDING_LEN],
				 const uint8_t peer_key[NOISE_DH_LEN], char *why, size_t whycap);

enum session_role { SESSION_IDS, SESSION_AGENT };

struct session_config {
	enum session_role role;
	const struct noise_keypair *key; /* our static key (copied) */
	/* IDS: the agent key expected, or NULL for any (its evidence still binds it). */
	const uint8_t *pin;
	/* Agent: the IDS keys accepted (copied, 1..SESSION_MAX_ALLOW: an empty list is EINVAL). */
	const uint8_t (*allow)[NOISE_DH_LEN];
	size_t nallow;
	/* Our own evidence. Agent: required. IDS: optional (NULL = we send none). */
	session_attest_fn attest;
	void *attest_ctx;
	/* The peer's evidence. IDS: required. Agent: optional; when NULL, IDS evidence (if
	 * sent) is decoded and dropped; when set, the IDS must send evidence. */
	session_verify_fn verify;
	void *verify_ctx;
};

enum session_state {
	SESSION_HANDSHAKE,     /* Noise messages in progress */
	SESSION_WAIT_EVIDENCE, /* handshake done; the peer's evidence is due */
	SESSION_READY,         /* transport open both ways */
	SESSION_FAILED,
};

/* Frames handed out by one call: at most msg3 + IDS evidence. */
#define SESSION_MAX_OUT 2u
#define SESSION_WHY_MAX 200

struct session {
	enum session_role role;
	enum session_state state;
	struct noise_handshake hs;
	struct noise_session tx;
	uint8_t h[NOISE_MAX_HASH_LEN];
	uint8_t peer_key[NOISE_DH_LEN];
	bool has_pin, peer_evidence_due;
	uint8_t pin[NOISE_DH_LEN];
	uint8_t allow[SESSION_MAX_ALLOW][NOISE_DH_LEN];
	size_t nallow;
	session_attest_fn attest;
	void *attest_ctx;
	session_verify_fn verify;
	void *verify_ctx;
	char why[SESSION_WHY_MAX];
	/* Outgoing frame bodies, handed out by session_pop_out. */
	uint8_t outbuf[SESSION_MSG2_LEN + SESSION_MAX_EVIDENCE + NOISE_TAG_LEN];
	size_t out_off[SESSION_MAX_OUT], out_len[SESSION_MAX_OUT];
	unsigned nout, out_next;
	uint8_t scratch[SESSION_MAX_EVIDENCE + NOISE_TAG_LEN];
};

/* Set up s; the IDS's msg1 is queued at once (session_pop_out). EINVAL on a bad config. */
int session_init(struct session *s, const struct session_config *cfg);

/*
 * Feed one received frame body (1..65535 bytes) while !session_ready(). Frames to send
 * are queued (session_pop_out), in order; send them before the next frame normally (up
 * to SESSION_MAX_OUT may wait, else EINVAL).
 * Returns 0 (check session_ready) or a negative code (session FAILED).
 * Call only in HANDSHAKE / WAIT_EVIDENCE: EINVAL otherwise (and the session is not
 * failed by that misuse).
 */
int session_feed(struct session *s, const uint8_t *in, size_t n);

/* Next queued frame body; the pointer is valid until the next session_feed. 1 if one
 * was handed out, 0 if none is left. */
int session_pop_out(struct session *s, const uint8_t **body, size_t *len);

static inline bool session_ready(const struct session *s) { return s->state == SESSION_READY; }
const char *session_why(const struct session *s);
/* The peer's static key: valid once the handshake completed. */
const uint8_t *session_peer_key(const struct session *s);
/* The handshake hash h (64 bytes) once the handshake completed; NULL before. */
const uint8_t *session_handshake_hash(const struct session *s);

/* Transport, once READY: one message each way per call (noise_session_seal/open codes;
 * EINVAL before READY). The session then belongs to one thread. */
long session_seal(struct session *s, const uint8_t *in, size_t n, uint8_t *out, size_t cap);
long session_open(struct session *s, const uint8_t *in, size_t n, uint8_t *out, size_t cap);

void session_wipe(struct session *s);

/* ---- keys (session_keys.c) ------------------------------------------------
 * Private key file: "# comment" lines, then one line "sevmon-x25519-private HEX64".
 * Public key file:  "# comment" lines, then one line "sevmon-x25519-public HEX64 [name]".
 * Both are text so an operator can paste a public key into a config by hand.
 */
#define SESSION_KEYFILE_MAX 4096 /* a key file is ~150 bytes; more is not a key file */

/* Writes path (mode 0600, O_EXCL: EEXIST if it exists) and path.pub. On failure nothing
 * is left behind. */
int session_key_generate(const char *path, const char *comment, struct noise_keypair *out);
/* Read a private key file (refused with EDENIED if group/other may read it). */
int session_key_load(const char *path, struct noise_keypair *out);
/* Read a public key file; a private key file is refused (EDECODE). */
int session_pub_load(const char *path, uint8_t pub[NOISE_DH_LEN]);
/* Parse "HEX64" (64 hex digits) into out. */
int session_hex_decode(const char *hex, uint8_t *out, size_t n);
/* Lower-case hex of n bytes into out (2n+1 bytes). */
void session_hex_encode(const uint8_t *in, size_t n, char *out);

#endif
