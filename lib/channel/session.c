/*
 * session.c — the sevmon channel state machine (see session.h for the flow).
 *
 *   Noise_XX_25519_ChaChaPoly_SHA512, prologue "sevmon/1", IDS = initiator:
 *     -> e
 *     <- e, ee, s, es
 *     -> s, se              {flags}
 *     <- T: agent evidence
 *     -> T: IDS evidence    (only when flags say so)
 */
#include "session.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

static int fail(struct session *s, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct session *s, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->why, sizeof s->why, fmt, ap);
	va_end(ap);
	s->state = SESSION_FAILED;
	noise_handshake_wipe(&s->hs);
	noise_session_wipe(&s->tx);
	sodium_memzero(s->outbuf, sizeof s->outbuf);
	sodium_memzero(s->scratch, sizeof s->scratch);
	s->nout = s->out_next = 0;
	return rc;
}

void session_binding(const char *label, const uint8_t *h, size_t hlen,
		     uint8_t out[SESSION_BINDING_LEN])
{
	crypto_hash_sha512_state st;
	crypto_hash_sha512_init(&st);
	crypto_hash_sha512_update(&st, (const uint8_t *)label, strlen(label));
	crypto_hash_sha512_update(&st, h, hlen);
	crypto_hash_sha512_final(&st, out);
}

/* Reserve the next out slot of up to cap bytes; returns its start. */
static uint8_t *out_begin(struct session *s, size_t *cap)
{
	if (s->nout >= SESSION_MAX_OUT) {
		*cap = 0;
		return s->outbuf;
	}
	size_t off = s->nout ? s->out_off[s->nout - 1] + s->out_len[s->nout - 1] : 0;
	*cap = sizeof s->outbuf - off;
	s->out_off[s->nout] = off;
	return s->outbuf + off;
}

static void out_commit(struct session *s, size_t len)
{
	s->out_len[s->nout++] = len;
}

int session_pop_out(struct session *s, const uint8_t **body, size_t *len)
{
	if (s->out_next >= s->nout) {
		s->nout = s->out_next = 0;
		return 0;
	}
	*body = s->outbuf + s->out_off[s->out_next];
	*len = s->out_len[s->out_next];
	s->out_next++;
	return 1;
}

int session_init(struct session *s, const struct session_config *cfg)
{
	memset(s, 0, sizeof *s);
	s->state = SESSION_FAILED;
	if (!cfg || !cfg->key)
		return SEVMON_EINVAL;
	if (cfg->role == SESSION_AGENT && (!cfg->attest || cfg->nallow == 0 || !cfg->allow ||
					   cfg->nallow > SESSION_MAX_ALLOW))
		return SEVMON_EINVAL;
	if (cfg->role == SESSION_IDS && !cfg->verify)
		return SEVMON_EINVAL;
	s->role = cfg->role;
	if (cfg->pin) {
		s->has_pin = true;
		memcpy(s->pin, cfg->pin, NOISE_DH_LEN);
	}
	if (cfg->nallow)
		memcpy(s->allow, cfg->allow, cfg->nallow * NOISE_DH_LEN);
	s->nallow = cfg->nallow;
	s->attest = cfg->attest;
	s->attest_ctx = cfg->attest_ctx;
	s->verify = cfg->verify;
	s->verify_ctx = cfg->verify_ctx;

	struct noise_handshake_config hc = {
		.protocol_name = NOISE_PROTOCOL_SEVMON,
		.role = cfg->role == SESSION_IDS ? NOISE_INITIATOR : NOISE_RESPONDER,
		.prologue = (const uint8_t *)NOISE_PROLOGUE_SEVMON,
		.prologue_len = sizeof NOISE_PROLOGUE_SEVMON - 1,
		.s = cfg->key,
	};
	int rc = noise_handshake_init(&s->hs, &hc);
	if (rc < 0)
		return rc;
	s->state = SESSION_HANDSHAKE;
	if (s->role == SESSION_IDS) {
		size_t cap, len;
		uint8_t *o = out_begin(s, &cap);
		/* -> e */
		rc = noise_handshake_write_message(&s->hs, NULL, 0, o, cap, &len);
		if (rc < 0)
			return fail(s, rc, "handshake msg1: %s", sevmon_strerror(rc));
		out_commit(s, len);
	}
	return 0;
}

/* Split into the transport session and take h. */
static int finish_handshake(struct session *s)
{
	memcpy(s->peer_key, noise_handshake_remote_static(&s->hs), NOISE_DH_LEN);
	int rc = noise_handshake_split(&s->hs, &s->tx, NOISE_SESSION_REKEY_INTERVAL);
	if (rc < 0)
		return fail(s, rc, "split: %s", sevmon_strerror(rc));
	rc = noise_handshake_hash(&s->hs, s->h, sizeof s->h);
	if (rc != 64)
		return fail(s, SEVMON_EINTERNAL, "handshake hash length %d", rc);
	return 0;
}

/* Produce our evidence for our label and queue it as a transport message. */
static int send_evidence(struct session *s)
{
	uint8_t rd[SESSION_BINDING_LEN];
	struct session_evidence ev;
	char why[SESSION_WHY_MAX] = "";
	session_binding(s->role == SESSION_AGENT ? SESSION_LABEL_AGENT : SESSION_LABEL_IDS, s->h,
			64, rd);
	int rc = s->attest(s->attest_ctx, rd, &ev, why, sizeof why);
	if (rc < 0)
		return fail(s, rc, "own evidence: %s", why[0] ? why : sevmon_strerror(rc));
	long n = session_evidence_encode(&ev, s->scratch, sizeof s->scratch);
	if (n < 0)
		return fail(s, (int)n, "own evidence: cannot encode: %s", sevmon_strerror((int)n));
	size_t cap, len;
	uint8_t *o = out_begin(s, &cap);
	rc = noise_session_seal(&s->tx, s->scratch, (size_t)n, o, cap, &len);
	if (rc < 0)
		return fail(s, rc, "own evidence: seal: %s", sevmon_strerror(rc));
	out_commit(s, len);
	return 0;
}

static int ids_feed(struct session *s, const uint8_t *in, size_t n)
{
	int rc;
	size_t plen;
	uint8_t payload[1];
	if (s->state == SESSION_HANDSHAKE) {
		/* <- e, ee, s, es */
		if (n != SESSION_MSG2_LEN)
			return fail(s, n < SESSION_MSG2_LEN ? SEVMON_ETRUNC : SEVMON_EPROTO,
				    "handshake msg2: %zu bytes, expected %u", n, SESSION_MSG2_LEN);
		rc = noise_handshake_read_message(&s->hs, in, n, payload, sizeof payload, &plen);
		if (rc < 0)
			return fail(s, rc, "handshake msg2 rejected: %s", sevmon_strerror(rc));
		if (plen != 0)
			return fail(s, SEVMON_EPROTO, "handshake msg2 carries a payload");
		const uint8_t *rs = noise_handshake_remote_static(&s->hs);
		if (s->has_pin && sodium_memcmp(rs, s->pin, NOISE_DH_LEN) != 0) {
			char hex[2 * NOISE_DH_LEN + 1];
			session_hex_encode(rs, NOISE_DH_LEN, hex);
			return fail(s, SEVMON_EDENIED, "agent key %s is not the pinned key", hex);
		}
		/* -> s, se {flags} */
		uint8_t flags = s->attest ? SESSION_F_IDS_EVIDENCE : 0;
		size_t cap, len;
		uint8_t *o = out_begin(s, &cap);
		rc = noise_handshake_write_message(&s->hs, &flags, 1, o, cap, &len);
		if (rc < 0)
			return fail(s, rc, "handshake msg3: %s", sevmon_strerror(rc));
		out_commit(s, len);
		if ((rc = finish_handshake(s)) < 0)
			return rc;
		if (s->attest && (rc = send_evidence(s)) < 0)
			return rc;
		s->state = SESSION_WAIT_EVIDENCE;
		return 0;
	}
	/* <- T: agent evidence */
	size_t len;
	rc = noise_session_open(&s->tx, in, n, s->scratch, sizeof s->scratch, &len);
	if (rc < 0)
		return fail(s, rc, "agent evidence: %s", sevmon_strerror(rc));
	struct session_evidence ev;
	rc = session_evidence_decode(s->scratch, len, &ev);
	if (rc < 0)
		return fail(s, rc, "agent evidence malformed: %s", sevmon_strerror(rc));
	uint8_t rd[SESSION_BINDING_LEN];
	session_binding(SESSION_LABEL_AGENT, s->h, 64, rd);
	char why[SESSION_WHY_MAX] = "";
	rc = s->verify(s->verify_ctx, &ev, rd, s->peer_key, why, sizeof why);
	if (rc < 0)
		return fail(s, rc, "agent evidence rejected: %s", why[0] ? why : sevmon_strerror(rc));
	s->state = SESSION_READY;
	return 0;
}

static int agent_feed(struct session *s, const uint8_t *in, size_t n)
{
	int rc;
	size_t plen, cap, len;
	uint8_t payload[1];
	if (s->state == SESSION_HANDSHAKE && noise_handshake_my_turn(&s->hs))
		return fail(s, SEVMON_EINTERNAL, "handshake out of turn");
	if (s->state == SESSION_HANDSHAKE && s->hs.msg_index == 0) {
		/* <- e */
		if (n != SESSION_MSG1_LEN)
			return fail(s, n < SESSION_MSG1_LEN ? SEVMON_ETRUNC : SEVMON_EPROTO,
				    "handshake msg1: %zu bytes, expected %u", n, SESSION_MSG1_LEN);
		rc = noise_handshake_read_message(&s->hs, in, n, payload, sizeof payload, &plen);
		if (rc < 0)
			return fail(s, rc, "handshake msg1 rejected: %s", sevmon_strerror(rc));
		/* -> e, ee, s, es */
		uint8_t *o = out_begin(s, &cap);
		rc = noise_handshake_write_message(&s->hs, NULL, 0, o, cap, &len);
		if (rc < 0)
			return fail(s, rc, "handshake msg2: %s", sevmon_strerror(rc));
		out_commit(s, len);
		return 0;
	}
	if (s->state == SESSION_HANDSHAKE) {
		/* <- s, se {flags} */
		if (n != SESSION_MSG3_LEN)
			return fail(s, n < SESSION_MSG3_LEN ? SEVMON_ETRUNC : SEVMON_EPROTO,
				    "handshake msg3: %zu bytes, expected %u", n, SESSION_MSG3_LEN);
		rc = noise_handshake_read_message(&s->hs, in, n, payload, sizeof payload, &plen);
		if (rc < 0)
			return fail(s, rc, "handshake msg3 rejected: %s", sevmon_strerror(rc));
		if (plen != 1 || (payload[0] & ~SESSION_F_ALL))
			return fail(s, SEVMON_EPROTO, "handshake msg3: bad flags");
		const uint8_t *rs = noise_handshake_remote_static(&s->hs);
		bool allowed = false;
		for (size_t i = 0; i < s->nallow; i++)
			allowed |= sodium_memcmp(rs, s->allow[i], NOISE_DH_LEN) == 0;
		if (!allowed) {
			char hex[2 * NOISE_DH_LEN + 1];
			session_hex_encode(rs, NOISE_DH_LEN, hex);
			return fail(s, SEVMON_EDENIED, "IDS key %s is not on the allow-list", hex);
		}
		bool ids_evidence = payload[0] & SESSION_F_IDS_EVIDENCE;
		if (s->verify && !ids_evidence)
			return fail(s, SEVMON_EATTEST, "IDS evidence required but not offered");
		if ((rc = finish_handshake(s)) < 0)
			return rc;
		if ((rc = send_evidence(s)) < 0)
			return rc;
		s->peer_evidence_due = ids_evidence;
		s->state = ids_evidence ? SESSION_WAIT_EVIDENCE : SESSION_READY;
		return 0;
	}
	/* <- T: IDS evidence */
	rc = noise_session_open(&s->tx, in, n, s->scratch, sizeof s->scratch, &len);
	if (rc < 0)
		return fail(s, rc, "IDS evidence: %s", sevmon_strerror(rc));
	struct session_evidence ev;
	rc = session_evidence_decode(s->scratch, len, &ev);
	if (rc < 0)
		return fail(s, rc, "IDS evidence malformed: %s", sevmon_strerror(rc));
	if (s->verify) {
		uint8_t rd[SESSION_BINDING_LEN];
		session_binding(SESSION_LABEL_IDS, s->h, 64, rd);
		char why[SESSION_WHY_MAX] = "";
		rc = s->verify(s->verify_ctx, &ev, rd, s->peer_key, why, sizeof why);
		if (rc < 0)
			return fail(s, rc, "IDS evidence rejected: %s",
				    why[0] ? why : sevmon_strerror(rc));
	}
	s->peer_evidence_due = false;
	s->state = SESSION_READY;
	return 0;
}

int session_feed(struct session *s, const uint8_t *in, size_t n)
{
	if (s->state != SESSION_HANDSHAKE && s->state != SESSION_WAIT_EVIDENCE)
		return SEVMON_EINVAL;
	if (n == 0 || n > NOISE_MAX_MSG)
		return fail(s, SEVMON_EPROTO, "frame of %zu bytes", n);
	if (s->out_next == s->nout)
		s->nout = s->out_next = 0;
	else if (s->nout >= SESSION_MAX_OUT)
		return SEVMON_EINVAL; /* send what is queued first */
	return s->role == SESSION_IDS ? ids_feed(s, in, n) : agent_feed(s, in, n);
}

const char *session_why(const struct session *s)
{
	return s->why[0] ? s->why : "no error";
}

const uint8_t *session_peer_key(const struct session *s)
{
	return (s->state == SESSION_WAIT_EVIDENCE || s->state == SESSION_READY) ? s->peer_key
										: NULL;
}

const uint8_t *session_handshake_hash(const struct session *s)
{
	return (s->state == SESSION_WAIT_EVIDENCE || s->state == SESSION_READY) ? s->h : NULL;
}

long session_seal(struct session *s, const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	if (s->state != SESSION_READY)
		return SEVMON_EINVAL;
	size_t len;
	int rc = noise_session_seal(&s->tx, in, n, out, cap, &len);
	return rc < 0 ? rc : (long)len;
}

long session_open(struct session *s, const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	if (s->state != SESSION_READY)
		return SEVMON_EINVAL;
	size_t len;
	int rc = noise_session_open(&s->tx, in, n, out, cap, &len);
	return rc < 0 ? rc : (long)len;
}

void session_wipe(struct session *s)
{
	noise_handshake_wipe(&s->hs);
	noise_session_wipe(&s->tx);
	sodium_memzero(s, sizeof *s);
	s->state = SESSION_FAILED;
}
