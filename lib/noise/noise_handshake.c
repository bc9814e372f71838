/*
 * noise_handshake.c — the HandshakeState (spec 5.3), driven by the pattern table in
 * noise_pattern.c. sevmon's own handshake is
 *
 *   Noise_XX_25519_ChaChaPoly_SHA512, prologue "sevmon/1", IDS = initiator:
 *     -> e
 *     <- e, ee, s, es
 *     -> s, se
 *
 * Each token's step below carries the token as a comment so it can be read against
 * the spec's WriteMessage()/ReadMessage() lists.
 */
#include "noise.h"

#include <sodium.h>
#include <string.h>

#include "err.h"
#include "rbuf.h"

_Static_assert(crypto_scalarmult_BYTES == NOISE_DH_LEN, "DHLEN");
_Static_assert(crypto_scalarmult_SCALARBYTES == NOISE_DH_LEN, "private key size");

/* libsodium must be initialised before its RNG is used; sodium_init() is idempotent
 * and thread-safe, so every entry point that may need randomness calls it. */
static int NOISE_WUR sodium_ready(void)
{
	return sodium_init() < 0 ? SEVMON_EINTERNAL : 0;
}

int noise_keypair_generate(struct noise_keypair *kp)
{
	if (sodium_ready() != 0)
		return SEVMON_EINTERNAL;
	randombytes_buf(kp->priv, sizeof kp->priv);
	/* Cannot fail: clamping makes every random scalar a valid one for the base point. */
	(void)crypto_scalarmult_base(kp->pub, kp->priv);
	return 0;
}

int noise_keypair_from_private(struct noise_keypair *kp, const uint8_t priv[NOISE_DH_LEN])
{
	memmove(kp->priv, priv, NOISE_DH_LEN);
	if (crypto_scalarmult_base(kp->pub, kp->priv) != 0) {
		sodium_memzero(kp, sizeof *kp);
		return SEVMON_EPROTO;
	}
	return 0;
}

/* DH(key_pair, public_key). libsodium reports an all-zero result (a low-order peer
 * key); the spec allows signalling that as an error, and we do. */
static int NOISE_WUR dh(uint8_t out[NOISE_DH_LEN], const struct noise_keypair *kp,
			const uint8_t pub[NOISE_DH_LEN])
{
	return crypto_scalarmult(out, kp->priv, pub) == 0 ? 0 : SEVMON_EPROTO;
}

static bool is_initiator(const struct noise_handshake *hs) { return hs->role == NOISE_INITIATOR; }

/* Does the party with this role send a message that carries "s"? */
static bool sends_static(const struct noise_pattern *p, bool initiator)
{
	for (unsigned m = initiator ? 0 : 1; m < p->nmsg; m += 2)
		for (unsigned t = 0; t < p->ntok[m]; t++)
			if (p->tok[m][t] == NOISE_TOK_S)
				return true;
	return false;
}

static int parse_name(const char *name, struct noise_pattern *pat, enum noise_hash_alg *alg)
{
	size_t len = strnlen(name, NOISE_MAX_NAME + 1);
	const char *pat_start, *pat_end, *suite;

	if (len > NOISE_MAX_NAME || strncmp(name, "Noise_", 6) != 0)
		return SEVMON_ENOTSUP;
	pat_start = name + 6;
	pat_end = memchr(pat_start, '_', len - 6);
	if (!pat_end)
		return SEVMON_ENOTSUP;
	suite = pat_end + 1;
	if (strcmp(suite, "25519_ChaChaPoly_SHA256") == 0)
		*alg = NOISE_HASH_SHA256;
	else if (strcmp(suite, "25519_ChaChaPoly_SHA512") == 0)
		*alg = NOISE_HASH_SHA512;
	else if (strcmp(suite, "25519_ChaChaPoly_BLAKE2b") == 0)
		*alg = NOISE_HASH_BLAKE2B;
	else
		return SEVMON_ENOTSUP;
	return noise_pattern_parse(pat_start, (size_t)(pat_end - pat_start), pat);
}

int noise_handshake_init(struct noise_handshake *hs, const struct noise_handshake_config *cfg)
{
	enum noise_hash_alg alg;
	bool init = cfg->role == NOISE_INITIATOR;
	bool need_s, need_rs;
	int rc;

	memset(hs, 0, sizeof *hs);
	hs->state = NOISE_HS_FAILED;
	if (!cfg->protocol_name || (cfg->role != NOISE_INITIATOR && cfg->role != NOISE_RESPONDER))
		return SEVMON_EINVAL;
	if ((rc = sodium_ready()) != 0 || (rc = parse_name(cfg->protocol_name, &hs->pat, &alg)) != 0)
		return rc;
	need_s = (init ? hs->pat.pre_init_s : hs->pat.pre_resp_s) || sends_static(&hs->pat, init);
	need_rs = init ? hs->pat.pre_resp_s : hs->pat.pre_init_s;
	/* Keys must match the pattern exactly: a remote static given for a pattern that
	 * transmits it would be silently ignored, which hides a configuration mistake. */
	if (need_s != (cfg->s != NULL) || need_rs != (cfg->rs != NULL) ||
	    cfg->npsks != hs->pat.npsk || (cfg->npsks && !cfg->psks) ||
	    (cfg->prologue_len && !cfg->prologue))
		goto invalid;

	hs->role = cfg->role;
	if (cfg->s) {
		hs->s = *cfg->s;
		hs->has_s = true;
	}
	if (cfg->rs) {
		memcpy(hs->rs, cfg->rs, NOISE_DH_LEN);
		hs->has_rs = true;
	}
	if (cfg->fixed_e) {
		hs->e = *cfg->fixed_e;
		hs->e_fixed = true;
	}
	for (size_t i = 0; i < cfg->npsks; i++)
		memcpy(hs->psks[i], cfg->psks[i], NOISE_PSK_LEN);

	noise_symmetric_init(&hs->ss, alg, cfg->protocol_name, strlen(cfg->protocol_name));
	noise_symmetric_mix_hash(&hs->ss, cfg->prologue, cfg->prologue_len);
	/* Pre-messages: the initiator's keys are hashed first. */
	if (hs->pat.pre_init_s)
		noise_symmetric_mix_hash(&hs->ss, init ? hs->s.pub : hs->rs, NOISE_DH_LEN);
	if (hs->pat.pre_resp_s)
		noise_symmetric_mix_hash(&hs->ss, init ? hs->rs : hs->s.pub, NOISE_DH_LEN);
	hs->state = NOISE_HS_RUNNING;
	return 0;
invalid:
	noise_handshake_wipe(hs);
	return SEVMON_EINVAL;
}

bool noise_handshake_my_turn(const struct noise_handshake *hs)
{
	return hs->state == NOISE_HS_RUNNING && (hs->msg_index % 2 == 0) == is_initiator(hs);
}

/* The exact size of message idx without its payload, and whether the payload will be
 * encrypted (carry a tag). Derived from the pattern alone, so a reader can check a
 * message's length before it touches a single field. */
static void layout(const struct noise_handshake *hs, size_t *fixed, size_t *tag)
{
	const struct noise_pattern *p = &hs->pat;
	bool key = hs->ss.cs.has_key;
	size_t n = 0;

	for (unsigned t = 0; t < p->ntok[hs->msg_index]; t++) {
		switch (p->tok[hs->msg_index][t]) {
		case NOISE_TOK_E:
			n += NOISE_DH_LEN;
			if (p->npsk) /* MixKey(e.public_key) in PSK handshakes (9.2) */
				key = true;
			break;
		case NOISE_TOK_S:
			n += NOISE_DH_LEN + (key ? NOISE_TAG_LEN : 0);
			break;
		default: /* every DH and psk token calls MixKey */
			key = true;
			break;
		}
	}
	*fixed = n;
	*tag = key ? NOISE_TAG_LEN : 0;
}

/* The DH tokens. Which pair each uses depends on the role (spec 5.3). */
static int NOISE_WUR mix_dh(struct noise_handshake *hs, uint8_t tok, uint8_t out[NOISE_DH_LEN])
{
	const struct noise_keypair *kp;
	const uint8_t *pub;
	bool local_e, remote_e;
	int rc;

	switch (tok) {
	case NOISE_TOK_EE: /* ee: DH(e, re) */
		local_e = true, remote_e = true;
		break;
	case NOISE_TOK_ES: /* es: DH(e, rs) as initiator, DH(s, re) as responder */
		local_e = is_initiator(hs), remote_e = !is_initiator(hs);
		break;
	case NOISE_TOK_SE: /* se: DH(s, re) as initiator, DH(e, rs) as responder */
		local_e = !is_initiator(hs), remote_e = is_initiator(hs);
		break;
	case NOISE_TOK_SS: /* ss: DH(s, rs) */
		local_e = false, remote_e = false;
		break;
	default:
		return SEVMON_EINTERNAL;
	}
	if ((local_e ? !hs->has_e : !hs->has_s) || (remote_e ? !hs->has_re : !hs->has_rs))
		return SEVMON_EINTERNAL; /* the pattern table guarantees the keys */
	kp = local_e ? &hs->e : &hs->s;
	pub = remote_e ? hs->re : hs->rs;
	if ((rc = dh(out, kp, pub)) != 0)
		return rc;
	noise_symmetric_mix_key(&hs->ss, out, NOISE_DH_LEN);
	return 0;
}

static void finish_message(struct noise_handshake *hs)
{
	if (++hs->msg_index == hs->pat.nmsg)
		hs->state = NOISE_HS_COMPLETE;
}

int noise_handshake_write_message(struct noise_handshake *hs, const uint8_t *payload, size_t plen,
				  uint8_t *out, size_t cap, size_t *outlen)
{
	uint8_t dhout[NOISE_DH_LEN];
	size_t fixed, tag, off = 0, n;
	unsigned m = hs->msg_index;
	int rc = 0;

	*outlen = 0;
	if (!noise_handshake_my_turn(hs))
		return SEVMON_EINVAL;
	layout(hs, &fixed, &tag);
	if (plen > NOISE_MAX_MSG - fixed - tag || cap < fixed + plen + tag) {
		rc = SEVMON_ETOOBIG;
		goto out;
	}
	for (unsigned t = 0; t < hs->pat.ntok[m]; t++) {
		uint8_t tok = hs->pat.tok[m][t];

		switch (tok) {
		case NOISE_TOK_E: /* e */
			if (hs->has_e) {
				rc = SEVMON_EINTERNAL;
				goto out;
			}
			if (!hs->e_fixed && (rc = noise_keypair_generate(&hs->e)) != 0)
				goto out;
			hs->has_e = true;
			memcpy(out + off, hs->e.pub, NOISE_DH_LEN);
			off += NOISE_DH_LEN;
			noise_symmetric_mix_hash(&hs->ss, hs->e.pub, NOISE_DH_LEN);
			if (hs->pat.npsk)
				noise_symmetric_mix_key(&hs->ss, hs->e.pub, NOISE_DH_LEN);
			break;
		case NOISE_TOK_S: /* s */
			if ((rc = noise_symmetric_encrypt_and_hash(&hs->ss, hs->s.pub, NOISE_DH_LEN,
								   out + off, cap - off, &n)) != 0)
				goto out;
			off += n;
			break;
		case NOISE_TOK_PSK: /* psk */
			noise_symmetric_mix_key_and_hash(&hs->ss, hs->psks[hs->psk_used++],
							 NOISE_PSK_LEN);
			break;
		default: /* ee, es, se, ss */
			if ((rc = mix_dh(hs, tok, dhout)) != 0)
				goto out;
			break;
		}
	}
	/* payload */
	if ((rc = noise_symmetric_encrypt_and_hash(&hs->ss, payload, plen, out + off, cap - off,
						   &n)) != 0)
		goto out;
	*outlen = off + n;
	finish_message(hs);
out:
	sodium_memzero(dhout, sizeof dhout);
	if (rc != 0) {
		*outlen = 0;
		noise_handshake_wipe(hs);
	}
	return rc;
}

int noise_handshake_read_message(struct noise_handshake *hs, const uint8_t *msg, size_t len,
				 uint8_t *payload, size_t cap, size_t *plen)
{
	uint8_t dhout[NOISE_DH_LEN];
	size_t fixed, tag, n;
	const uint8_t *p;
	struct rbuf r = rbuf_make(msg, len);
	unsigned m = hs->msg_index;
	int rc = 0;

	*plen = 0;
	if (hs->state != NOISE_HS_RUNNING || noise_handshake_my_turn(hs))
		return SEVMON_EINVAL;
	/* Exact accounting before any field is read: the pattern fixes every length but
	 * the payload's. */
	layout(hs, &fixed, &tag);
	if (len > NOISE_MAX_MSG) {
		rc = SEVMON_ETOOBIG;
		goto out;
	}
	if (len < fixed + tag) {
		rc = SEVMON_ETRUNC;
		goto out;
	}
	if (cap < len - fixed - tag) {
		rc = SEVMON_ETOOBIG;
		goto out;
	}
	for (unsigned t = 0; t < hs->pat.ntok[m]; t++) {
		uint8_t tok = hs->pat.tok[m][t];

		switch (tok) {
		case NOISE_TOK_E: /* e */
			if (hs->has_re) {
				rc = SEVMON_EINTERNAL;
				goto out;
			}
			if ((rc = rbuf_get_bytes(&r, hs->re, NOISE_DH_LEN)) != 0)
				goto out;
			hs->has_re = true;
			noise_symmetric_mix_hash(&hs->ss, hs->re, NOISE_DH_LEN);
			if (hs->pat.npsk)
				noise_symmetric_mix_key(&hs->ss, hs->re, NOISE_DH_LEN);
			break;
		case NOISE_TOK_S: /* s */
			n = NOISE_DH_LEN + (hs->ss.cs.has_key ? NOISE_TAG_LEN : 0);
			if (hs->has_rs) {
				rc = SEVMON_EINTERNAL;
				goto out;
			}
			if ((rc = rbuf_get_bytes_direct(&r, &p, n)) != 0 ||
			    (rc = noise_symmetric_decrypt_and_hash(&hs->ss, p, n, hs->rs,
								   sizeof hs->rs, &n)) != 0)
				goto out;
			hs->has_rs = true;
			break;
		case NOISE_TOK_PSK: /* psk */
			noise_symmetric_mix_key_and_hash(&hs->ss, hs->psks[hs->psk_used++],
							 NOISE_PSK_LEN);
			break;
		default: /* ee, es, se, ss */
			if ((rc = mix_dh(hs, tok, dhout)) != 0)
				goto out;
			break;
		}
	}
	/* payload: the rest of the message */
	n = rbuf_left(&r);
	if ((rc = rbuf_get_bytes_direct(&r, &p, n)) != 0 ||
	    (rc = noise_symmetric_decrypt_and_hash(&hs->ss, p, n, payload, cap, plen)) != 0)
		goto out;
	finish_message(hs);
out:
	sodium_memzero(dhout, sizeof dhout);
	if (rc != 0) {
		*plen = 0;
		noise_handshake_wipe(hs);
	}
	return rc;
}

int noise_handshake_hash(const struct noise_handshake *hs, uint8_t *out, size_t cap)
{
	if (hs->state != NOISE_HS_COMPLETE && hs->state != NOISE_HS_SPLIT)
		return SEVMON_EINVAL;
	if (cap < hs->ss.hashlen)
		return SEVMON_ETOOBIG;
	memcpy(out, hs->ss.h, hs->ss.hashlen);
	return (int)hs->ss.hashlen;
}

const uint8_t *noise_handshake_remote_static(const struct noise_handshake *hs)
{
	return hs->state != NOISE_HS_FAILED && hs->has_rs ? hs->rs : NULL;
}

int noise_handshake_split(struct noise_handshake *hs, struct noise_session *s,
			  uint64_t rekey_interval)
{
	struct noise_cipher c1, c2;
	uint8_t h[NOISE_MAX_HASH_LEN], rs[NOISE_DH_LEN];
	size_t hashlen = hs->ss.hashlen;
	bool init = is_initiator(hs), one_way = hs->pat.one_way, has_rs = hs->has_rs;

	if (hs->state != NOISE_HS_COMPLETE)
		return SEVMON_EINVAL;
	noise_symmetric_split(&hs->ss, &c1, &c2);
	memset(s, 0, sizeof *s);
	s->send = init ? c1 : c2;
	s->recv = init ? c2 : c1;
	/* One-way patterns (7.4): the second CipherState must never be used. */
	s->can_send = !one_way || init;
	s->can_recv = !one_way || !init;
	if (!s->can_send)
		noise_cipher_wipe(&s->send);
	if (!s->can_recv)
		noise_cipher_wipe(&s->recv);
	s->rekey_interval = rekey_interval;

	/* Keep only h (channel binding) and rs (the peer's identity). */
	memcpy(h, hs->ss.h, hashlen);
	memcpy(rs, hs->rs, NOISE_DH_LEN);
	noise_handshake_wipe(hs);
	memcpy(hs->ss.h, h, hashlen);
	hs->ss.hashlen = hashlen;
	memcpy(hs->rs, rs, NOISE_DH_LEN);
	hs->has_rs = has_rs;
	hs->state = NOISE_HS_SPLIT;
	noise_cipher_wipe(&c1);
	noise_cipher_wipe(&c2);
	sodium_memzero(h, sizeof h);
	return 0;
}

void noise_handshake_wipe(struct noise_handshake *hs)
{
	sodium_memzero(hs, sizeof *hs);
	hs->state = NOISE_HS_FAILED;
}
