/*
 * test_noise_vectors.c — the Noise layer against the cacophony test vectors
 * (tests/data/cacophony.txt, see tests/data/README.md).
 *
 * Every vector with DH 25519, cipher ChaChaPoly and hash SHA256/SHA512/BLAKE2b is run:
 * both parties from the given keys, prologue, psks and ephemerals; every message is
 * compared byte for byte, decrypted by the other side, and the handshake hash checked.
 * A vector in the selection that does not run counts as a failure: nothing is skipped
 * silently.
 */
#include "err.h"
#include "harness.h"
#include "noise.h"

#include <stdbool.h>

/* The file's vectors carry 32-byte keys, prologues of a few bytes, at most 6 messages
 * and 1 psk; the bounds leave room without letting a corrupt file run away. */
#define VEC_MAX_FILE (8u << 20)
#define VEC_MAX_MSGS 16
#define VEC_MAX_BYTES 2048
#define VEC_MAX_DEPTH_PSKS NOISE_MAX_PSKS
/* tests/data/README.md (from shared/vectors/README.md): vectors qualifying for libsodium. */
#define VEC_EXPECTED_SELECTED 177

struct blob {
	bool present;
	size_t len;
	uint8_t b[VEC_MAX_BYTES];
};

struct vec {
	char name[NOISE_MAX_NAME + 1];
	struct blob init_prologue, resp_prologue;
	struct blob init_static, init_ephemeral, init_remote_static;
	struct blob resp_static, resp_ephemeral, resp_remote_static;
	struct blob handshake_hash;
	size_t init_npsks, resp_npsks;
	struct blob init_psks[NOISE_MAX_PSKS], resp_psks[NOISE_MAX_PSKS];
	size_t nmsgs;
	struct blob payload[VEC_MAX_MSGS], ciphertext[VEC_MAX_MSGS];
};

/* ---- A bounded reader for this JSON shape: no escapes, strings, arrays, objects. ---- */

struct jr {
	const char *p, *end;
};

static void jr_ws(struct jr *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
		j->p++;
}

static bool jr_peek(struct jr *j, char c)
{
	jr_ws(j);
	return j->p < j->end && *j->p == c;
}

static bool jr_eat(struct jr *j, char c)
{
	if (!jr_peek(j, c))
		return false;
	j->p++;
	return true;
}

static bool jr_string(struct jr *j, const char **s, size_t *n)
{
	if (!jr_eat(j, '"'))
		return false;
	*s = j->p;
	while (j->p < j->end && *j->p != '"') {
		if (*j->p == '\\')
			return false; /* the vector file has no escapes; refuse rather than misread */
		j->p++;
	}
	if (j->p >= j->end)
		return false;
	*n = (size_t)(j->p - *s);
	j->p++;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool jr_hex(struct jr *j, struct blob *out)
{
	const char *s;
	size_t n;

	if (!jr_string(j, &s, &n) || n % 2 || n / 2 > sizeof out->b)
		return false;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out->b[i] = (uint8_t)(hi << 4 | lo);
	}
	out->len = n / 2;
	out->present = true;
	return true;
}

static bool jr_key(struct jr *j, const char **k, size_t *n)
{
	return jr_string(j, k, n) && jr_eat(j, ':');
}

static bool key_is(const char *k, size_t n, const char *want)
{
	return strlen(want) == n && memcmp(k, want, n) == 0;
}

static bool jr_hex_array(struct jr *j, struct blob *arr, size_t max, size_t *count)
{
	*count = 0;
	if (!jr_eat(j, '['))
		return false;
	if (jr_eat(j, ']'))
		return true;
	do {
		if (*count >= max || !jr_hex(j, &arr[(*count)++]))
			return false;
	} while (jr_eat(j, ','));
	return jr_eat(j, ']');
}

static bool jr_messages(struct jr *j, struct vec *v)
{
	const char *k;
	size_t n;

	if (!jr_eat(j, '['))
		return false;
	do {
		if (v->nmsgs >= VEC_MAX_MSGS || !jr_eat(j, '{'))
			return false;
		do {
			if (!jr_key(j, &k, &n))
				return false;
			if (key_is(k, n, "payload")) {
				if (!jr_hex(j, &v->payload[v->nmsgs]))
					return false;
			} else if (key_is(k, n, "ciphertext")) {
				if (!jr_hex(j, &v->ciphertext[v->nmsgs]))
					return false;
			} else {
				return false;
			}
		} while (jr_eat(j, ','));
		if (!jr_eat(j, '}') || !v->payload[v->nmsgs].present ||
		    !v->ciphertext[v->nmsgs].present)
			return false;
		v->nmsgs++;
	} while (jr_eat(j, ','));
	return jr_eat(j, ']');
}

/* One vector object. Unknown keys fail the parse, so a format change is noticed. */
static bool jr_vector(struct jr *j, struct vec *v)
{
	static const struct {
		const char *key;
		size_t off;
	} blobs[] = {
#define B(f) { #f, offsetof(struct vec, f) }
		B(init_prologue),  B(resp_prologue),	  B(init_static),
		B(init_ephemeral), B(init_remote_static), B(resp_static),
		B(resp_ephemeral), B(resp_remote_static), B(handshake_hash),
#undef B
	};
	const char *k, *s;
	size_t n, sn;

	memset(v, 0, sizeof *v);
	if (!jr_eat(j, '{'))
		return false;
	do {
		bool done = false;

		if (!jr_key(j, &k, &n))
			return false;
		for (size_t i = 0; i < sizeof blobs / sizeof blobs[0] && !done; i++)
			if (key_is(k, n, blobs[i].key)) {
				if (!jr_hex(j, (struct blob *)((char *)v + blobs[i].off)))
					return false;
				done = true;
			}
		if (done)
			continue;
		if (key_is(k, n, "protocol_name")) {
			if (!jr_string(j, &s, &sn) || sn >= sizeof v->name)
				return false;
			memcpy(v->name, s, sn);
			v->name[sn] = 0;
		} else if (key_is(k, n, "init_psks")) {
			if (!jr_hex_array(j, v->init_psks, NOISE_MAX_PSKS, &v->init_npsks))
				return false;
		} else if (key_is(k, n, "resp_psks")) {
			if (!jr_hex_array(j, v->resp_psks, NOISE_MAX_PSKS, &v->resp_npsks))
				return false;
		} else if (key_is(k, n, "messages")) {
			if (!jr_messages(j, v))
				return false;
		} else {
			return false;
		}
	} while (jr_eat(j, ','));
	return jr_eat(j, '}') && v->name[0];
}

static char *load_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	if (!f)
		return NULL;
	buf = malloc(VEC_MAX_FILE);
	if (buf)
		*len = fread(buf, 1, VEC_MAX_FILE, f);
	/* A file filling the whole buffer may be cut short: refuse it. */
	if (buf && (*len == VEC_MAX_FILE || ferror(f))) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* ---- Running one vector ------------------------------------------------------ */

static bool selected(const char *name)
{
	static const char *suites[] = { "_25519_ChaChaPoly_SHA256", "_25519_ChaChaPoly_SHA512",
					"_25519_ChaChaPoly_BLAKE2b" };
	size_t n = strlen(name);

	for (size_t i = 0; i < 3; i++) {
		size_t sl = strlen(suites[i]);
		if (n > sl && strcmp(name + n - sl, suites[i]) == 0)
			return true;
	}
	return false;
}

static int party_init(struct noise_handshake *hs, const struct vec *v, bool init,
		      struct noise_keypair *s, struct noise_keypair *e,
		      uint8_t psks[NOISE_MAX_PSKS][NOISE_PSK_LEN])
{
	const struct blob *bs = init ? &v->init_static : &v->resp_static;
	const struct blob *be = init ? &v->init_ephemeral : &v->resp_ephemeral;
	const struct blob *brs = init ? &v->init_remote_static : &v->resp_remote_static;
	const struct blob *pro = init ? &v->init_prologue : &v->resp_prologue;
	const struct blob *bp = init ? v->init_psks : v->resp_psks;
	size_t np = init ? v->init_npsks : v->resp_npsks;
	struct noise_handshake_config cfg = {
		.protocol_name = v->name,
		.role = init ? NOISE_INITIATOR : NOISE_RESPONDER,
		.prologue = pro->b,
		.prologue_len = pro->len,
		.psks = (const uint8_t(*)[NOISE_PSK_LEN])psks,
		.npsks = np,
	};
	int rc;

	if ((bs->present && bs->len != NOISE_DH_LEN) || (be->present && be->len != NOISE_DH_LEN) ||
	    (brs->present && brs->len != NOISE_DH_LEN))
		return SEVMON_EDECODE;
	if (bs->present) {
		if ((rc = noise_keypair_from_private(s, bs->b)) != 0)
			return rc;
		cfg.s = s;
	}
	if (be->present) {
		if ((rc = noise_keypair_from_private(e, be->b)) != 0)
			return rc;
		cfg.fixed_e = e;
	}
	if (brs->present)
		cfg.rs = brs->b;
	for (size_t i = 0; i < np; i++) {
		if (bp[i].len != NOISE_PSK_LEN)
			return SEVMON_EDECODE;
		memcpy(psks[i], bp[i].b, NOISE_PSK_LEN);
	}
	return noise_handshake_init(hs, &cfg);
}

/* Returns NULL on success, else what went wrong (printed by the caller). */
static const char *run_vector(const struct vec *v, char *why, size_t whylen)
{
	static struct noise_handshake hi, hr;
	struct noise_keypair is, ie, rs, re;
	uint8_t ipsk[NOISE_MAX_PSKS][NOISE_PSK_LEN], rpsk[NOISE_MAX_PSKS][NOISE_PSK_LEN];
	struct noise_session si, sr;
	static uint8_t buf[NOISE_MAX_MSG], pl[NOISE_MAX_MSG];
	uint8_t h1[NOISE_MAX_HASH_LEN], h2[NOISE_MAX_HASH_LEN];
	size_t n, pn;
	int rc;
	bool split = false;

	if ((rc = party_init(&hi, v, true, &is, &ie, ipsk)) != 0) {
		snprintf(why, whylen, "initiator init: %s", sevmon_errname(rc));
		return why;
	}
	if ((rc = party_init(&hr, v, false, &rs, &re, rpsk)) != 0) {
		snprintf(why, whylen, "responder init: %s", sevmon_errname(rc));
		return why;
	}
	for (size_t i = 0; i < v->nmsgs; i++) {
		const struct blob *p = &v->payload[i], *c = &v->ciphertext[i];

		if (!split) {
			/* Handshake messages alternate, the initiator first. */
			struct noise_handshake *w = i % 2 == 0 ? &hi : &hr;
			struct noise_handshake *r = i % 2 == 0 ? &hr : &hi;

			if (!noise_handshake_my_turn(w)) {
				snprintf(why, whylen, "msg %zu: not the writer's turn", i);
				return why;
			}
			rc = noise_handshake_write_message(w, p->b, p->len, buf, sizeof buf, &n);
			if (rc != 0) {
				snprintf(why, whylen, "msg %zu write: %s", i, sevmon_errname(rc));
				return why;
			}
			rc = noise_handshake_read_message(r, buf, n, pl, sizeof pl, &pn);
			if (rc != 0) {
				snprintf(why, whylen, "msg %zu read: %s", i, sevmon_errname(rc));
				return why;
			}
			if (hi.state == NOISE_HS_COMPLETE && hr.state == NOISE_HS_COMPLETE) {
				if (noise_handshake_hash(&hi, h1, sizeof h1) != (int)v->handshake_hash.len ||
				    noise_handshake_hash(&hr, h2, sizeof h2) != (int)v->handshake_hash.len ||
				    memcmp(h1, v->handshake_hash.b, v->handshake_hash.len) != 0 ||
				    memcmp(h2, v->handshake_hash.b, v->handshake_hash.len) != 0) {
					snprintf(why, whylen, "handshake hash differs");
					return why;
				}
				if (noise_handshake_split(&hi, &si, 0) != 0 ||
				    noise_handshake_split(&hr, &sr, 0) != 0) {
					snprintf(why, whylen, "split failed");
					return why;
				}
				split = true;
			}
		} else {
			/* Transport: alternate as well, except one-way patterns where only the
			 * initiator sends. */
			bool from_init = !si.can_recv || i % 2 == 0;
			struct noise_session *w = from_init ? &si : &sr;
			struct noise_session *r = from_init ? &sr : &si;

			if ((rc = noise_session_seal(w, p->b, p->len, buf, sizeof buf, &n)) != 0) {
				snprintf(why, whylen, "msg %zu seal: %s", i, sevmon_errname(rc));
				return why;
			}
			if ((rc = noise_session_open(r, buf, n, pl, sizeof pl, &pn)) != 0) {
				snprintf(why, whylen, "msg %zu open: %s", i, sevmon_errname(rc));
				return why;
			}
		}
		if (n != c->len || memcmp(buf, c->b, n) != 0) {
			snprintf(why, whylen, "msg %zu: ciphertext differs (%zu vs %zu bytes)", i, n,
				 c->len);
			return why;
		}
		if (pn != p->len || memcmp(pl, p->b, pn) != 0) {
			snprintf(why, whylen, "msg %zu: decrypted payload differs", i);
			return why;
		}
	}
	if (!split) {
		snprintf(why, whylen, "handshake did not complete");
		return why;
	}
	noise_session_wipe(&si);
	noise_session_wipe(&sr);
	return NULL;
}

TEST(noise_vectors_cacophony_all_selected_match)
{
	const char *path = getenv("NOISE_VECTORS");
	static struct vec v;
	size_t len = 0, total = 0, sel = 0, ran = 0, failed = 0;
	char why[160];
	char *data;
	struct jr j;
	const char *k;
	size_t kn;

	ASSERT(path != NULL);
	data = load_file(path, &len);
	ASSERT(data != NULL);
	j = (struct jr){ data, data + len };
	ASSERT(jr_eat(&j, '{'));
	ASSERT(jr_key(&j, &k, &kn));
	ASSERT(key_is(k, kn, "vectors"));
	ASSERT(jr_eat(&j, '['));
	do {
		if (!jr_vector(&j, &v))
			FAIL_AT("vector %zu does not parse", total);
		total++;
		if (!selected(v.name))
			continue;
		sel++;
		const char *err = run_vector(&v, why, sizeof why);
		if (err) {
			printf("# FAIL %s: %s\n", v.name, err);
			failed++;
		} else {
			ran++;
		}
	} while (jr_eat(&j, ','));
	ASSERT(jr_eat(&j, ']'));
	ASSERT(jr_eat(&j, '}'));
	jr_ws(&j);
	ASSERT(j.p == j.end);
	free(data);
	printf("# ran %zu vectors (%zu skipped: outside 25519/ChaChaPoly/SHA256|SHA512|BLAKE2b; "
	       "%zu selected failed) of %zu in the file\n",
	       ran, total - sel, failed, total);
	ASSERT_EQ(failed, 0);
	ASSERT_EQ(sel, VEC_EXPECTED_SELECTED);
	ASSERT_EQ(ran, sel);
}

TEST_MAIN()
