/*
 * test_rpc_client.c — the libuv RPC client against a real peer over a socketpair.
 *
 * The peer is a second thread with plain blocking I/O, built on lib/frame/frame.h and
 * lib/rpc/rpc_wire.h only. The method id picks its behaviour (see PM_*), so one peer serves
 * every scenario; what it saw (requests, CANCELs, envelope sizes) is recorded under a
 * mutex for the test to check.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "err.h"
#include "frame.h"
#include "harness.h"
#include "rbuf.h"
#include "rpc_client.h"
#include "rpc_wire.h"

enum {
	PM_ECHO = 1,    /* reply with the request payload */
	PM_HOLD = 2,    /* keep; when hold_count are held, reply to all in hold_order */
	PM_ERROR = 3,   /* payload: be32 status || text -> ERROR reply */
	PM_BIG = 4,     /* payload: be32 n -> reply of n pattern bytes */
	PM_SILENT = 5,  /* never reply; payload[0] == 1: reply anyway once CANCELed */
	PM_RAW = 6,     /* write the payload raw on the socket, then shut down writing */
	PM_STATUS = 7,  /* payload: be32 status || data -> reply with status, no ERROR flag */
	PM_FOREIGN = 8, /* reply to an id never sent, then echo */
	PM_ILV = 9,     /* payload: be32 n, u8 seed; two held -> both big replies, fragments
			 * interleaved; byte i of a reply is i * 7 + seed */
};
enum { ORDER_FIFO, ORDER_REVERSE, ORDER_RANDOM };

#define PEER_MAX_HELD 4096
#define CODEC_TAG 16

struct held {
	uint32_t id;
	uint16_t method;
	uint8_t *p;
	size_t len;
};

struct peer {
	int fd;
	pthread_t th;
	pthread_mutex_t mu;
	/* set before start */
	uint32_t hold_count;
	int hold_order;
	int codec;
	/* observed (under mu) */
	uint32_t requests;
	uint32_t cancels;
	uint32_t cancel_ids[PEER_MAX_HELD];
	uint32_t frames_last_request; /* fragments of the last request reassembled */
	size_t max_envelope;          /* largest envelope after open() */
	size_t max_body;              /* largest frame body on the wire */
	int violation;                /* the client broke the protocol */
	/* peer-private */
	struct held holds[PEER_MAX_HELD];
	uint32_t nholds;
	struct held silent[PEER_MAX_HELD];
	uint32_t nsilent;
	struct held ilv[2];
	uint32_t nilv;
	int shut;
};

/* ---- a toy codec: XOR and a 16-byte tag, enough to see seal/open run on every frame ---- */

static void codec_tag(const uint8_t *p, size_t len, uint8_t tag[CODEC_TAG])
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	for (int i = 0; i < CODEC_TAG; i++)
		tag[i] = (uint8_t)(h >> ((i % 4) * 8)) ^ (uint8_t)i;
}

static long codec_seal(void *ctx, const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	(void)ctx;
	if (len + CODEC_TAG > cap)
		return SEVMON_ETOOBIG;
	for (size_t i = 0; i < len; i++)
		out[i] = in[i] ^ 0x5a;
	codec_tag(out, len, out + len);
	return (long)(len + CODEC_TAG);
}

static long codec_open(void *ctx, const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	uint8_t tag[CODEC_TAG];

	(void)ctx;
	if (len < CODEC_TAG || len - CODEC_TAG > cap)
		return SEVMON_EAUTH;
	codec_tag(in, len - CODEC_TAG, tag);
	if (memcmp(tag, in + len - CODEC_TAG, CODEC_TAG) != 0)
		return SEVMON_EAUTH;
	for (size_t i = 0; i < len - CODEC_TAG; i++)
		out[i] = in[i] ^ 0x5a;
	return (long)(len - CODEC_TAG);
}

static const struct rpc_client_codec test_codec = { codec_seal, codec_open, NULL, CODEC_TAG };

/* ---- the peer ---- */

static void write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* client gone: the test sees it on its side */
		p += w;
		n -= (size_t)w;
	}
}

static void peer_frame(struct peer *pe, const uint8_t *msg, size_t n)
{
	static uint8_t sealed[FRAME_MAX_BODY];
	const uint8_t *body = msg;
	uint8_t hdr[FRAME_HDR_LEN];

	if (pe->codec) {
		n = (size_t)codec_seal(NULL, msg, n, sealed, sizeof sealed);
		body = sealed;
	}
	frame_header_write(hdr, n);
	write_all(pe->fd, hdr, sizeof hdr);
	write_all(pe->fd, body, n);
}

static size_t peer_max_msg(const struct peer *pe)
{
	return pe->codec ? FRAME_MAX_BODY - CODEC_TAG : FRAME_MAX_BODY;
}

static void peer_send(struct peer *pe, uint32_t id, uint16_t method, uint8_t flags,
		      uint32_t status, const uint8_t *payload, size_t len)
{
	static uint8_t msg[FRAME_MAX_BODY];
	struct rpc_hdr h = { .id = id, .method = method, .flags = flags, .status = status };
	struct rpc_frag f;
	size_t n;

	if (pe->shut)
		return;
	rpc_frag_init(&f, &h, payload, len, peer_max_msg(pe));
	while ((n = rpc_frag_next(&f, msg)) > 0)
		peer_frame(pe, msg, n);
}

static uint8_t *pattern(uint32_t n, uint8_t seed)
{
	uint8_t *p = malloc(n + 1);
	for (uint32_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + seed);
	return p;
}

/* Both held PM_ILV replies, one fragment of each in turn. */
static void peer_send_interleaved(struct peer *pe)
{
	static uint8_t msg[FRAME_MAX_BODY];
	struct rpc_frag f[2];
	uint8_t *body[2];
	int live = 2;

	for (int i = 0; i < 2; i++) {
		struct held *hd = &pe->ilv[i];
		struct rbuf r = rbuf_make(hd->p, hd->len);
		struct rpc_hdr h = { .id = hd->id, .method = hd->method };
		uint32_t n = 0;
		uint8_t seed = 0;
		rbuf_get_be32(&r, &n);
		rbuf_get_u8(&r, &seed);
		body[i] = pattern(n, seed);
		rpc_frag_init(&f[i], &h, body[i], n, peer_max_msg(pe));
	}
	while (live > 0) {
		live = 0;
		for (int i = 0; i < 2; i++) {
			size_t n = rpc_frag_next(&f[i], msg);
			if (n > 0) {
				peer_frame(pe, msg, n);
				live++;
			}
		}
	}
	for (int i = 0; i < 2; i++) {
		free(body[i]);
		free(pe->ilv[i].p);
	}
	pe->nilv = 0;
}

static void peer_reply_held(struct peer *pe)
{
	uint32_t n = pe->nholds;
	uint32_t idx[PEER_MAX_HELD];

	for (uint32_t i = 0; i < n; i++)
		idx[i] = pe->hold_order == ORDER_REVERSE ? n - 1 - i : i;
	if (pe->hold_order == ORDER_RANDOM) {
		uint32_t s = 12345;
		for (uint32_t i = n - 1; i > 0; i--) {
			s = s * 1103515245u + 12345u;
			uint32_t j = (s >> 8) % (i + 1), t = idx[i];
			idx[i] = idx[j];
			idx[j] = t;
		}
	}
	for (uint32_t i = 0; i < n; i++) {
		struct held *hd = &pe->holds[idx[i]];
		peer_send(pe, hd->id, hd->method, 0, 0, hd->p, hd->len);
	}
	for (uint32_t i = 0; i < n; i++)
		free(pe->holds[i].p);
	pe->nholds = 0;
}

static void peer_request(struct peer *pe, const struct rpc_hdr *h, uint8_t *p, size_t len)
{
	struct rbuf r = rbuf_make(p, len);
	uint32_t v = 0;

	switch (h->method) {
	case PM_ECHO:
		peer_send(pe, h->id, h->method, 0, 0, p, len);
		break;
	case PM_HOLD:
	case PM_SILENT: {
		int hold = h->method == PM_HOLD;
		struct held *hd = hold ? &pe->holds[pe->nholds++] : &pe->silent[pe->nsilent++];
		hd->id = h->id;
		hd->method = h->method;
		hd->p = p;
		hd->len = len;
		if (hold && pe->nholds == pe->hold_count)
			peer_reply_held(pe);
		return; /* p kept */
	}
	case PM_ERROR:
		rbuf_get_be32(&r, &v);
		peer_send(pe, h->id, h->method, RPC_F_ERROR, v, r.p, r.len);
		break;
	case PM_STATUS:
		rbuf_get_be32(&r, &v);
		peer_send(pe, h->id, h->method, 0, v, r.p, r.len);
		break;
	case PM_BIG: {
		rbuf_get_be32(&r, &v);
		uint8_t *big = pattern(v, 3);
		peer_send(pe, h->id, h->method, 0, 0, big, v);
		free(big);
		break;
	}
	case PM_ILV:
		pe->ilv[pe->nilv++] = (struct held){ h->id, h->method, p, len };
		if (pe->nilv == 2)
			peer_send_interleaved(pe);
		return; /* p kept */
	case PM_RAW:
		write_all(pe->fd, p, len);
		shutdown(pe->fd, SHUT_WR);
		pe->shut = 1;
		break;
	case PM_FOREIGN:
		peer_send(pe, h->id + 1000000u, h->method, 0, 0, p, len);
		peer_send(pe, h->id, h->method, 0, 0, p, len);
		break;
	}
	free(p);
}

static void peer_cancel(struct peer *pe, uint32_t id)
{
	pthread_mutex_lock(&pe->mu);
	if (pe->cancels < PEER_MAX_HELD)
		pe->cancel_ids[pe->cancels] = id;
	pe->cancels++;
	pthread_mutex_unlock(&pe->mu);
	for (uint32_t i = 0; i < pe->nsilent; i++) {
		struct held *hd = &pe->silent[i];
		if (hd->id == id && hd->p) {
			if (hd->len >= 1 && hd->p[0] == 1)
				peer_send(pe, hd->id, hd->method, 0, 0, hd->p, hd->len);
			free(hd->p);
			hd->p = NULL;
		}
	}
}

static void *peer_main(void *arg)
{
	static uint8_t in[8192], opened[FRAME_MAX_BODY];
	struct peer *pe = arg;
	struct frame_reader fr;
	struct rpc_reasm ra = { 0 };
	uint32_t frags = 0;

	frame_reader_init(&fr);
	for (;;) {
		ssize_t n = read(pe->fd, in, sizeof in);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (size_t off = 0; off < (size_t)n;) {
			const uint8_t *body, *frag;
			size_t blen, flen;
			struct rpc_hdr h;
			long used = frame_reader_feed(&fr, in + off, (size_t)n - off, &body, &blen);
			if (used < 0)
				goto bad;
			off += (size_t)used;
			if (!body)
				continue;
			pthread_mutex_lock(&pe->mu);
			if (blen > pe->max_body)
				pe->max_body = blen;
			pthread_mutex_unlock(&pe->mu);
			if (pe->codec) {
				long o = codec_open(NULL, body, blen, opened, sizeof opened);
				if (o < 0)
					goto bad;
				body = opened;
				blen = (size_t)o;
			}
			pthread_mutex_lock(&pe->mu);
			if (blen > pe->max_envelope)
				pe->max_envelope = blen;
			pthread_mutex_unlock(&pe->mu);
			if (rpc_hdr_parse(body, blen, &h, &frag, &flen))
				goto bad;
			if (h.flags & RPC_F_CANCEL) {
				peer_cancel(pe, h.id);
				continue;
			}
			frags++;
			int rc = rpc_reasm_add(&ra, &h, frag, flen, 64u << 20);
			if (rc < 0)
				goto bad;
			if (rc == 1) {
				pthread_mutex_lock(&pe->mu);
				pe->requests++;
				pe->frames_last_request = frags;
				pthread_mutex_unlock(&pe->mu);
				frags = 0;
				uint8_t *p = ra.buf;
				size_t len = ra.len;
				ra.buf = NULL;
				rpc_reasm_reset(&ra);
				peer_request(pe, &h, p, len);
			}
		}
	}
	goto out;
bad:
	pthread_mutex_lock(&pe->mu);
	pe->violation = 1;
	pthread_mutex_unlock(&pe->mu);
out:
	rpc_reasm_reset(&ra);
	for (uint32_t i = 0; i < pe->nholds; i++)
		free(pe->holds[i].p);
	for (uint32_t i = 0; i < pe->nsilent; i++)
		free(pe->silent[i].p);
	for (uint32_t i = 0; i < pe->nilv; i++)
		free(pe->ilv[i].p);
	close(pe->fd);
	return NULL;
}

static int peer_saw_cancel(struct peer *pe, uint32_t id)
{
	int found = 0;
	pthread_mutex_lock(&pe->mu);
	for (uint32_t i = 0; i < pe->cancels && i < PEER_MAX_HELD; i++)
		found |= pe->cancel_ids[i] == id;
	pthread_mutex_unlock(&pe->mu);
	return found;
}

/* ---- fixture: loop + client + peer ---- */

struct fx {
	uv_loop_t loop;
	struct rpc_client *c;
	struct peer *pe;
	int remaining; /* callbacks still expected; the last one closes the client */
	int closed;
	int disconnects;
	int disconnect_reason;
	int seq; /* completion counter */
	int in_call; /* set while inside rpc_client_call: a callback must not see it */
};

struct call {
	struct fx *fx;
	int done;
	int status;
	int order;
	char errmsg[RPC_MAX_ERRMSG + 1];
	uint8_t *got;
	size_t got_len;
	int got_null;
	uint8_t *want;
	size_t want_len;
	uint32_t id;
	uint64_t deadline;
	uint64_t at; /* loop time at completion */
};

static void on_closed(void *arg)
{
	((struct fx *)arg)->closed++;
}

static void fx_one_done(struct fx *fx)
{
	if (--fx->remaining == 0)
		rpc_client_close(fx->c, on_closed, fx);
}

static void on_reply(void *user, int status, const char *errmsg, const uint8_t *payload, size_t len)
{
	struct call *k = user;

	if (k->fx->in_call)
		FAIL_AT("callback called from inside rpc_client_call");
	if (k->done++)
		FAIL_AT("callback called twice");
	k->status = status;
	k->order = k->fx->seq++;
	k->at = uv_now(&k->fx->loop);
	snprintf(k->errmsg, sizeof k->errmsg, "%s", errmsg ? errmsg : "(null)");
	k->got_null = payload == NULL;
	k->got_len = len;
	if (payload) {
		k->got = malloc(len + 1);
		memcpy(k->got, payload, len);
	}
	fx_one_done(k->fx);
}

static void on_disc(void *arg, int reason)
{
	struct fx *fx = arg;
	fx->disconnects++;
	fx->disconnect_reason = reason;
}

static void fx_open(struct fx *fx, const struct rpc_client_limits *lim, uint32_t hold_count,
		    int hold_order, int codec)
{
	int sv[2];

	memset(fx, 0, sizeof *fx);
	ASSERT_EQ(uv_loop_init(&fx->loop), 0);
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fx->pe = calloc(1, sizeof *fx->pe);
	fx->pe->fd = sv[1];
	fx->pe->hold_count = hold_count;
	fx->pe->hold_order = hold_order;
	fx->pe->codec = codec;
	pthread_mutex_init(&fx->pe->mu, NULL);
	ASSERT_EQ(rpc_client_open(&fx->loop, sv[0], lim, &fx->c), 0);
	if (codec)
		ASSERT_EQ(rpc_client_set_codec(fx->c, &test_codec), 0);
	rpc_client_on_disconnect(fx->c, on_disc, fx);
	ASSERT_EQ(pthread_create(&fx->pe->th, NULL, peer_main, fx->pe), 0);
}

static uint32_t fx_call(struct fx *fx, struct call *k, uint16_t method, const void *p,
			size_t len, uint32_t timeout_ms)
{
	uint32_t id = 0;

	k->fx = fx;
	fx->remaining++;
	fx->in_call = 1;
	ASSERT_EQ(rpc_client_call(fx->c, method, p, len, timeout_ms, on_reply, k, &id), 0);
	fx->in_call = 0;
	k->id = id;
	k->deadline = timeout_ms ? uv_now(&fx->loop) + timeout_ms : 0;
	return id;
}

/* Run until the last expected callback closed the client; check nothing is left. */
static void fx_run(struct fx *fx)
{
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	ASSERT_EQ(fx->remaining, 0);
	ASSERT_EQ(fx->closed, 1);
	ASSERT_EQ(uv_loop_close(&fx->loop), 0);
	ASSERT_EQ(pthread_join(fx->pe->th, NULL), 0);
	pthread_mutex_destroy(&fx->pe->mu);
}

static void fx_free(struct fx *fx)
{
	free(fx->pe);
}

static void call_free(struct call *k)
{
	free(k->got);
	free(k->want);
}

static void assert_echo(const struct call *k)
{
	ASSERT_EQ(k->done, 1);
	ASSERT_EQ(k->status, 0);
	ASSERT_EQ(k->got_len, k->want_len);
	ASSERT_MEMEQ(k->got, k->want, k->want_len);
}

static uint8_t *random_bytes(size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n + 1);
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		p[i] = (uint8_t)(seed >> 24);
	}
	return p;
}

/* One echo round trip: the peer has handled everything sent before it. The caller holds
 * one extra count in fx->remaining so that the echo does not close the client. */
static void fx_sync(struct fx *fx)
{
	struct call k = { 0 };

	fx_call(fx, &k, PM_ECHO, "s", 1, 0);
	while (!k.done)
		uv_run(&fx->loop, UV_RUN_ONCE);
	ASSERT_EQ(k.status, 0);
	call_free(&k);
}

/* ---- cases ---- */

TEST(rpc_client_call_echo_roundtrip)
{
	struct fx fx;
	struct call k = { 0 };
	struct rpc_client_stats st;

	fx_open(&fx, NULL, 0, 0, 0);
	k.want = (uint8_t *)strdup("hello agent");
	k.want_len = strlen("hello agent");
	ASSERT_NE(fx_call(&fx, &k, PM_ECHO, k.want, k.want_len, 0), 0);
	ASSERT_EQ(k.done, 0); /* not from inside the call */
	rpc_client_get_stats(fx.c, &st);
	ASSERT_EQ(st.in_flight, 1);
	ASSERT(st.write_queued > 0);
	fx.remaining++; /* keep it open for the stats */
	while (!k.done)
		uv_run(&fx.loop, UV_RUN_ONCE);
	rpc_client_get_stats(fx.c, &st);
	ASSERT_EQ(st.requests, 1);
	ASSERT_EQ(st.replies, 1);
	ASSERT_EQ(st.in_flight, 0);
	ASSERT_UEQ(st.bytes_sent, FRAME_HDR_LEN + RPC_HDR_LEN + k.want_len);
	ASSERT_UEQ(st.bytes_received, FRAME_HDR_LEN + RPC_HDR_LEN + k.want_len);
	fx_one_done(&fx);
	fx_run(&fx);
	assert_echo(&k);
	ASSERT_EQ(fx.pe->requests, 1);
	ASSERT_EQ(fx.disconnects, 0);
	call_free(&k);
	fx_free(&fx);
}

TEST(rpc_client_call_empty_payload_roundtrip)
{
	struct fx fx;
	struct call k = { 0 };

	fx_open(&fx, NULL, 0, 0, 0);
	fx_call(&fx, &k, PM_ECHO, NULL, 0, 0);
	fx_run(&fx);
	ASSERT_EQ(k.status, 0);
	ASSERT_EQ(k.got_len, 0);
	ASSERT_EQ(k.got_null, 0);
	call_free(&k);
	fx_free(&fx);
}

static void many_in_flight(int order)
{
	enum { N = 1000 };
	struct fx fx;
	struct call *k = calloc(N, sizeof *k);
	struct rpc_client_stats st;

	fx_open(&fx, NULL, N, order, 0);
	for (int i = 0; i < N; i++) {
		k[i].want_len = 4 + (size_t)(i % 61);
		k[i].want = random_bytes(k[i].want_len, (uint32_t)i);
		store_be32(k[i].want, (uint32_t)i);
		fx_call(&fx, &k[i], PM_HOLD, k[i].want, k[i].want_len, 0);
	}
	rpc_client_get_stats(fx.c, &st);
	ASSERT_EQ(st.in_flight, N);
	fx_run(&fx);
	for (int i = 0; i < N; i++) {
		assert_echo(&k[i]);
		if (order == ORDER_REVERSE)
			ASSERT_EQ(k[i].order, N - 1 - i);
	}
	if (order == ORDER_RANDOM) {
		int moved = 0;
		for (int i = 0; i < N; i++)
			moved += k[i].order != i;
		ASSERT(moved > N / 2);
	}
	for (int i = 0; i < N; i++)
		call_free(&k[i]);
	free(k);
	fx_free(&fx);
}

TEST(rpc_client_call_1000_in_flight_reverse_order)
{
	many_in_flight(ORDER_REVERSE);
}

TEST(rpc_client_call_1000_in_flight_random_order)
{
	many_in_flight(ORDER_RANDOM);
}

TEST(rpc_client_call_reply_1mib_reassembled)
{
	struct fx fx;
	struct call k = { 0 };
	uint8_t req[4];
	const uint32_t n = 1u << 20;

	fx_open(&fx, NULL, 0, 0, 0);
	store_be32(req, n);
	fx_call(&fx, &k, PM_BIG, req, sizeof req, 0);
	fx_run(&fx);
	ASSERT_EQ(k.status, 0);
	ASSERT_EQ(k.got_len, n);
	for (uint32_t i = 0; i < n; i++)
		if (k.got[i] != (uint8_t)(i * 7 + 3))
			FAIL_AT("byte %u differs", i);
	call_free(&k);
	fx_free(&fx);
}

TEST(rpc_client_call_interleaved_fragmented_replies)
{
	struct fx fx;
	struct call k[2] = { 0 };
	const uint32_t n[2] = { 300000, 200000 };

	fx_open(&fx, NULL, 0, 0, 0);
	for (int i = 0; i < 2; i++) {
		uint8_t req[5];
		store_be32(req, n[i]);
		req[4] = (uint8_t)(11 + i);
		fx_call(&fx, &k[i], PM_ILV, req, sizeof req, 0);
	}
	fx_run(&fx);
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(k[i].status, 0);
		ASSERT_EQ(k[i].got_len, n[i]);
		for (uint32_t j = 0; j < n[i]; j++)
			if (k[i].got[j] != (uint8_t)(j * 7 + 11 + i))
				FAIL_AT("reply %d byte %u differs", i, j);
		call_free(&k[i]);
	}
	ASSERT(k[1].order < k[0].order); /* the shorter one ended first */
	fx_free(&fx);
}

/* Each reply makes the next call from inside the callback, until CHAIN calls were made. */
#define CHAIN 200
struct chain {
	struct fx *fx;
	int n;
	int bad;
};

static void on_chain(void *user, int status, const char *errmsg, const uint8_t *payload,
		     size_t len)
{
	struct chain *ch = user;
	uint8_t want[4], next[4];

	(void)errmsg;
	store_be32(want, (uint32_t)ch->n);
	if (status != 0 || len != 4 || memcmp(payload, want, 4) != 0)
		ch->bad++;
	if (++ch->n == CHAIN) {
		rpc_client_close(ch->fx->c, on_closed, ch->fx);
		return;
	}
	store_be32(next, (uint32_t)ch->n);
	if (rpc_client_call(ch->fx->c, PM_ECHO, next, 4, 1000, on_chain, ch, NULL) != 0)
		ch->bad++;
}

TEST(rpc_client_call_from_callback_chain)
{
	struct fx fx;
	struct chain ch = { &fx, 0, 0 };
	uint8_t first[4] = { 0 };
	struct rpc_client_stats st;

	fx_open(&fx, NULL, 0, 0, 0);
	ASSERT_EQ(rpc_client_call(fx.c, PM_ECHO, first, 4, 1000, on_chain, &ch, NULL), 0);
	rpc_client_get_stats(fx.c, &st);
	ASSERT_EQ(st.in_flight, 1);
	uv_run(&fx.loop, UV_RUN_DEFAULT);
	ASSERT_EQ(fx.closed, 1);
	ASSERT_EQ(uv_loop_close(&fx.loop), 0);
	ASSERT_EQ(pthread_join(fx.pe->th, NULL), 0);
	ASSERT_EQ(ch.n, CHAIN);
	ASSERT_EQ(ch.bad, 0);
	ASSERT_EQ(fx.pe->requests, CHAIN);
	fx_free(&fx);
}

TEST(rpc_client_call_request_fragmented)
{
	struct fx fx;
	struct call k = { 0 };

	fx_open(&fx, NULL, 0, 0, 0);
	k.want_len = 300000;
	k.want = random_bytes(k.want_len, 7);
	fx_call(&fx, &k, PM_ECHO, k.want, k.want_len, 0);
	fx_run(&fx);
	assert_echo(&k);
	/* 300000 bytes in envelopes of at most 65535 - 20 payload bytes */
	ASSERT_EQ(fx.pe->frames_last_request, 5);
	ASSERT_EQ(fx.pe->max_body, FRAME_MAX_BODY);
	call_free(&k);
	fx_free(&fx);
}

TEST(rpc_client_call_reply_over_limit_etoobig_connection_kept)
{
	struct fx fx;
	struct call big = { 0 }, k = { 0 };
	struct rpc_client_limits lim = { .max_reply = 64u << 10 };
	uint8_t req[4];
	struct rpc_client_stats st;

	fx_open(&fx, &lim, 0, 0, 0);
	store_be32(req, 200000);
	uint32_t id = fx_call(&fx, &big, PM_BIG, req, sizeof req, 0);
	k.want = random_bytes(k.want_len = 100, 1);
	fx_call(&fx, &k, PM_ECHO, k.want, k.want_len, 0);
	fx.remaining++; /* keep the client open to read stats */
	while (!k.done)
		uv_run(&fx.loop, UV_RUN_ONCE);
	fx_sync(&fx); /* sent after the CANCEL */
	int saw = peer_saw_cancel(fx.pe, id);
	rpc_client_get_stats(fx.c, &st);
	fx_one_done(&fx);
	fx_run(&fx);
	ASSERT_EQ(big.status, SEVMON_ETOOBIG);
	ASSERT(big.got_null);
	assert_echo(&k);
	ASSERT(big.order < k.order);
	ASSERT(saw);
	ASSERT_EQ(st.dropped, 3); /* the other fragments of the 200000-byte reply */
	ASSERT_EQ(st.cancels, 1);
	ASSERT_EQ(fx.disconnects, 0);
	call_free(&big);
	call_free(&k);
	fx_free(&fx);
}

TEST(rpc_client_call_single_frame_reply_over_limit_etoobig)
{
	struct fx fx;
	struct call big = { 0 }, k = { 0 };
	struct rpc_client_limits lim = { .max_reply = 100 };
	uint8_t buf[101] = { 0 };

	fx_open(&fx, &lim, 0, 0, 0);
	fx_call(&fx, &big, PM_ECHO, buf, sizeof buf, 0);
	k.want = random_bytes(k.want_len = 100, 2);
	fx_call(&fx, &k, PM_ECHO, k.want, k.want_len, 0);
	fx_run(&fx);
	ASSERT_EQ(big.status, SEVMON_ETOOBIG);
	assert_echo(&k);
	call_free(&big);
	call_free(&k);
	fx_free(&fx);
}

TEST(rpc_client_call_reassembly_budget_etoobig)
{
	struct fx fx;
	struct call big = { 0 }, small = { 0 };
	struct rpc_client_limits lim = { .max_reasm_total = 150000 };
	uint8_t req[4];

	fx_open(&fx, &lim, 0, 0, 0);
	store_be32(req, 200000);
	fx_call(&fx, &big, PM_BIG, req, sizeof req, 0);
	store_be32(req, 140000);
	fx_call(&fx, &small, PM_BIG, req, sizeof req, 0);
	fx_run(&fx);
	ASSERT_EQ(big.status, SEVMON_ETOOBIG);
	ASSERT_EQ(small.status, 0);
	ASSERT_EQ(small.got_len, 140000);
	call_free(&big);
	call_free(&small);
	fx_free(&fx);
}

struct after_timeout {
	struct call k;
	struct call echo;
	struct fx *fx;
	int cancel_seen_before_echo;
};

static void on_echo_check_cancel(void *user, int status, const char *errmsg,
				 const uint8_t *payload, size_t len)
{
	struct after_timeout *a = user;
	a->cancel_seen_before_echo = peer_saw_cancel(a->fx->pe, a->k.id);
	on_reply(&a->echo, status, errmsg, payload, len);
}

TEST(rpc_client_call_deadline_etimedout_cancel_sent)
{
	struct fx fx;
	struct after_timeout a = { 0 };
	uint8_t silent = 0;
	uint64_t t0;
	struct rpc_client_stats st;

	fx_open(&fx, NULL, 0, 0, 0);
	fx.remaining++; /* released at the end */
	a.fx = &fx;
	t0 = uv_now(&fx.loop);
	fx_call(&fx, &a.k, PM_SILENT, &silent, 1, 30);
	while (!a.k.done)
		uv_run(&fx.loop, UV_RUN_ONCE);
	ASSERT_EQ(a.k.status, SEVMON_ETIMEDOUT);
	ASSERT(a.k.at >= t0 + 30);
	/* the CANCEL went out before this request: the peer has it by the time it answers */
	a.echo.fx = &fx;
	fx.remaining++;
	ASSERT_EQ(rpc_client_call(fx.c, PM_ECHO, (const uint8_t *)"x", 1, 0, on_echo_check_cancel,
				  &a, NULL), 0);
	while (!a.echo.done)
		uv_run(&fx.loop, UV_RUN_ONCE);
	rpc_client_get_stats(fx.c, &st);
	fx_one_done(&fx);
	fx_run(&fx);
	ASSERT_EQ(a.echo.status, 0);
	ASSERT(a.cancel_seen_before_echo);
	ASSERT_EQ(st.timeouts, 1);
	ASSERT_EQ(st.cancels, 1);
	call_free(&a.k);
	call_free(&a.echo);
	fx_free(&fx);
}

TEST(rpc_client_call_3000_deadlines_fire_in_order)
{
	enum { N = 3000 };
	struct fx fx;
	struct call *k = calloc(N, sizeof *k);
	struct rpc_client_limits lim = { .max_in_flight = 4096 };
	uint8_t silent = 0;

	fx_open(&fx, &lim, 0, 0, 0);
	fx.remaining++; /* released after the sync below */
	for (int i = 0; i < N; i++)
		fx_call(&fx, &k[i], PM_SILENT, &silent, 1, 5 + (uint32_t)(i * 37 % 120));
	while (fx.remaining > 1)
		uv_run(&fx.loop, UV_RUN_ONCE);
	fx_sync(&fx); /* every CANCEL went out before this */
	pthread_mutex_lock(&fx.pe->mu);
	uint32_t cancels = fx.pe->cancels;
	pthread_mutex_unlock(&fx.pe->mu);
	fx_one_done(&fx);
	fx_run(&fx);
	ASSERT_EQ(cancels, N);
	for (int i = 0; i < N; i++) {
		ASSERT_EQ(k[i].status, SEVMON_ETIMEDOUT);
		ASSERT(k[i].at >= k[i].deadline);
		for (int j = i + 1; j < N; j += 97) /* sampled: earlier deadline, earlier callback */
			if (k[j].deadline < k[i].deadline)
				ASSERT(k[j].order < k[i].order);
	}
	for (int i = 0; i < N; i++)
		call_free(&k[i]);
	free(k);
	fx_free(&fx);
}

TEST(rpc_client_cancel_ecanceled_late_reply_dropped)
{
	struct fx fx;
	struct call k = { 0 }, echo = { 0 };
	uint8_t late = 1;
	struct rpc_client_stats st;

	fx_open(&fx, NULL, 0, 0, 0);
	uint32_t id = fx_call(&fx, &k, PM_SILENT, &late, 1, 0);
	uv_run(&fx.loop, UV_RUN_NOWAIT); /* let the request go out first */
	fx.remaining++;
	ASSERT_EQ(rpc_client_cancel(fx.c, id), 0);
	ASSERT_EQ(k.done, 1); /* before rpc_client_cancel returned */
	ASSERT_EQ(k.status, SEVMON_ECANCELED);
	ASSERT_EQ(rpc_client_cancel(fx.c, id), SEVMON_ENOENT);
	echo.want = random_bytes(echo.want_len = 10, 3);
	fx_call(&fx, &echo, PM_ECHO, echo.want, echo.want_len, 0);
	while (!echo.done)
		uv_run(&fx.loop, UV_RUN_ONCE);
	rpc_client_get_stats(fx.c, &st);
	fx_one_done(&fx);
	fx_run(&fx);
	assert_echo(&echo);
	ASSERT(peer_saw_cancel(fx.pe, id));
	ASSERT_EQ(st.dropped, 1); /* the peer's late reply to the cancelled id */
	ASSERT_EQ(st.replies, 1);
	ASSERT_EQ(fx.disconnects, 0);
	call_free(&k);
	call_free(&echo);
	fx_free(&fx);
}

/* A pending request plus a PM_RAW one whose bytes the peer writes as they are, then EOF. */
static void raw_case(const uint8_t *raw, size_t len, int codec, int want)
{
	struct fx fx;
	struct call held = { 0 }, k = { 0 };
	uint8_t x = 0;

	fx_open(&fx, NULL, 1000, 0, codec);
	fx_call(&fx, &held, PM_HOLD, &x, 1, 0);
	fx_call(&fx, &k, PM_RAW, raw, len, 0);
	fx_run(&fx);
	ASSERT_EQ(held.status, want);
	ASSERT_EQ(k.status, want);
	ASSERT(k.got_null);
	ASSERT_STREQ(k.errmsg, "");
	ASSERT_EQ(fx.disconnects, 1);
	ASSERT_EQ(fx.disconnect_reason, want);
	call_free(&held);
	call_free(&k);
	fx_free(&fx);
}

TEST(rpc_client_peer_garbage_envelope_eproto)
{
	/* a well-formed frame whose body is no envelope (too short) */
	static const uint8_t raw[] = { 0, 5, 'h', 'e', 'l', 'l', 'o' };
	raw_case(raw, sizeof raw, 0, SEVMON_EPROTO);
}

TEST(rpc_client_peer_bad_flags_eproto)
{
	uint8_t raw[FRAME_HDR_LEN + RPC_HDR_LEN];
	struct rpc_hdr h = { .id = 1, .flags = RPC_F_END };
	rpc_hdr_write(raw + 2, &h);
	raw[2 + 6] = 0x80; /* unknown flag */
	frame_header_write(raw, RPC_HDR_LEN);
	raw_case(raw, sizeof raw, 0, SEVMON_EPROTO);
}

TEST(rpc_client_peer_sends_cancel_eproto)
{
	uint8_t raw[FRAME_HDR_LEN + RPC_HDR_LEN];
	struct rpc_hdr h = { .id = 1, .flags = RPC_F_CANCEL | RPC_F_END };
	rpc_hdr_write(raw + 2, &h);
	frame_header_write(raw, RPC_HDR_LEN);
	raw_case(raw, sizeof raw, 0, SEVMON_EPROTO);
}

TEST(rpc_client_peer_zero_length_frame_eproto)
{
	static const uint8_t raw[] = { 0, 0 };
	raw_case(raw, sizeof raw, 0, SEVMON_EPROTO);
}

TEST(rpc_client_peer_truncated_frame_econnreset)
{
	static const uint8_t raw[] = { 0, 0x10, 'a', 'b' };
	raw_case(raw, sizeof raw, 0, SEVMON_ECONNRESET);
}

TEST(rpc_client_peer_eof_econnreset)
{
	raw_case(NULL, 0, 0, SEVMON_ECONNRESET);
}

TEST(rpc_client_codec_open_failure_closes_with_its_error)
{
	/* an unsealed frame: the codec refuses it */
	uint8_t raw[FRAME_HDR_LEN + RPC_HDR_LEN + CODEC_TAG] = { 0 };
	frame_header_write(raw, sizeof raw - FRAME_HDR_LEN);
	raw_case(raw, sizeof raw, 1, SEVMON_EAUTH);
}

TEST(rpc_client_peer_inconsistent_fragments_eproto)
{
	/* first fragment of 10 bytes total, then a continuation claiming 11 */
	uint8_t raw[2 * (FRAME_HDR_LEN + RPC_HDR_LEN + 4)];
	struct rpc_hdr h = { .id = 1, .total_len = 10 };
	rpc_hdr_write(raw + 2, &h);
	frame_header_write(raw, RPC_HDR_LEN + 4);
	h.flags = RPC_F_CONT;
	h.total_len = 11;
	rpc_hdr_write(raw + 28, &h);
	frame_header_write(raw + 26, RPC_HDR_LEN + 4);
	/* id 1 is the held request: so the fragments reach its reassembly */
	raw_case(raw, sizeof raw, 0, SEVMON_EPROTO);
}

struct after_disc {
	struct fx fx;
	struct call late;
};

static void on_disc_then_call(void *arg, int reason)
{
	struct after_disc *a = arg;
	uint32_t id = 1;
	on_disc(&a->fx, reason);
	a->late.fx = &a->fx;
	a->fx.remaining++;
	ASSERT_EQ(rpc_client_call(a->fx.c, PM_ECHO, NULL, 0, 0, on_reply, &a->late, &id), 0);
	ASSERT_EQ(id, 0);
}

TEST(rpc_client_call_after_disconnect_econnreset)
{
	static struct after_disc a;
	struct call k = { 0 };

	fx_open(&a.fx, NULL, 0, 0, 0);
	rpc_client_on_disconnect(a.fx.c, on_disc_then_call, &a);
	fx_call(&a.fx, &k, PM_RAW, NULL, 0, 0);
	uv_run(&a.fx.loop, UV_RUN_DEFAULT);
	/* the late call's ECONNRESET came from the loop and closed the client */
	ASSERT_EQ(a.fx.closed, 1);
	ASSERT_EQ(uv_loop_close(&a.fx.loop), 0);
	pthread_join(a.fx.pe->th, NULL);
	ASSERT_EQ(k.status, SEVMON_ECONNRESET);
	ASSERT_EQ(a.late.status, SEVMON_ECONNRESET);
	ASSERT(k.order < a.late.order);
	ASSERT_EQ(a.fx.disconnects, 1);
	call_free(&k);
	call_free(&a.late);
	fx_free(&a.fx);
}

TEST(rpc_client_call_unknown_id_reply_dropped)
{
	struct fx fx;
	struct call k = { 0 };
	struct rpc_client_stats st;

	fx_open(&fx, NULL, 0, 0, 0);
	k.want = random_bytes(k.want_len = 33, 9);
	fx_call(&fx, &k, PM_FOREIGN, k.want, k.want_len, 0);
	fx.remaining++;
	while (!k.done)
		uv_run(&fx.loop, UV_RUN_ONCE);
	rpc_client_get_stats(fx.c, &st);
	fx_one_done(&fx);
	fx_run(&fx);
	assert_echo(&k);
	ASSERT_EQ(st.dropped, 1);
	ASSERT_EQ(fx.disconnects, 0);
	call_free(&k);
	fx_free(&fx);
}

TEST(rpc_client_call_error_reply_status_and_message)
{
	struct fx fx;
	struct call k = { 0 };
	const char text[] = "no such\nsymbol";
	uint8_t req[4 + sizeof text - 1];

	fx_open(&fx, NULL, 0, 0, 0);
	store_be32(req, (uint32_t)-SEVMON_ENOENT);
	memcpy(req + 4, text, sizeof text - 1);
	fx_call(&fx, &k, PM_ERROR, req, sizeof req, 0);
	fx_run(&fx);
	ASSERT_EQ(k.status, SEVMON_ENOENT);
	ASSERT_STREQ(k.errmsg, "no such?symbol"); /* control bytes neutralised */
	ASSERT(k.got_null);
	call_free(&k);
	fx_free(&fx);
}

TEST(rpc_client_call_error_reply_fragmented_message_cut)
{
	struct fx fx;
	struct call k = { 0 };
	size_t n = 70000; /* over one frame and over RPC_MAX_ERRMSG */
	uint8_t *req = malloc(4 + n);

	fx_open(&fx, NULL, 0, 0, 0);
	store_be32(req, (uint32_t)-SEVMON_EFAULT);
	memset(req + 4, 'e', n);
	fx_call(&fx, &k, PM_ERROR, req, 4 + n, 0);
	free(req);
	fx_run(&fx);
	ASSERT_EQ(k.status, SEVMON_EFAULT);
	ASSERT_EQ(strlen(k.errmsg), RPC_MAX_ERRMSG);
	call_free(&k);
	fx_free(&fx);
}

TEST(rpc_client_call_status_without_error_keeps_payload)
{
	struct fx fx;
	struct call k = { 0 };
	uint8_t req[4 + 6] = { 0 };

	fx_open(&fx, NULL, 0, 0, 0);
	store_be32(req, (uint32_t)-SEVMON_EPARTIAL);
	memcpy(req + 4, "partly", 6);
	fx_call(&fx, &k, PM_STATUS, req, sizeof req, 0);
	fx_run(&fx);
	ASSERT_EQ(k.status, SEVMON_EPARTIAL);
	ASSERT_EQ(k.got_len, 6);
	ASSERT_MEMEQ(k.got, "partly", 6);
	call_free(&k);
	fx_free(&fx);
}

TEST(rpc_client_call_ebusy_beyond_max_in_flight)
{
	struct fx fx;
	struct call k[5] = { 0 };
	struct rpc_client_limits lim = { .max_in_flight = 4 };
	uint8_t x[4];

	fx_open(&fx, &lim, 4, ORDER_FIFO, 0);
	for (int i = 0; i < 5; i++) {
		store_be32(x, (uint32_t)i);
		k[i].want = malloc(4);
		memcpy(k[i].want, x, 4);
		k[i].want_len = 4;
		uint32_t id = fx_call(&fx, &k[i], PM_HOLD, x, 4, 0);
		if (i == 4)
			ASSERT_EQ(id, 0);
		else
			ASSERT_NE(id, 0);
	}
	ASSERT_EQ(k[4].done, 0); /* deferred to the loop */
	fx_run(&fx);
	for (int i = 0; i < 4; i++)
		assert_echo(&k[i]);
	ASSERT_EQ(k[4].status, SEVMON_EBUSY);
	ASSERT_EQ(k[4].order, 0);
	ASSERT_EQ(fx.pe->requests, 4);
	for (int i = 0; i < 5; i++)
		call_free(&k[i]);
	fx_free(&fx);
}

TEST(rpc_client_call_ebusy_write_queue_full)
{
	struct fx fx;
	struct call a = { 0 }, b = { 0 };
	struct rpc_client_limits lim = { .max_write_queued = 4096 };
	struct rpc_client_stats st;

	fx_open(&fx, &lim, 0, 0, 0);
	a.want = random_bytes(a.want_len = 3000, 1);
	fx_call(&fx, &a, PM_ECHO, a.want, a.want_len, 0);
	fx_call(&fx, &b, PM_ECHO, a.want, a.want_len, 0);
	rpc_client_get_stats(fx.c, &st);
	fx_run(&fx);
	assert_echo(&a);
	ASSERT_EQ(b.status, SEVMON_EBUSY);
	ASSERT_EQ(st.busy, 1);
	ASSERT_EQ(st.in_flight, 1);
	call_free(&a);
	call_free(&b);
	fx_free(&fx);
}

TEST(rpc_client_call_over_max_request_etoobig_and_bad_args)
{
	struct fx fx;
	struct call k = { 0 };
	struct rpc_client_limits lim = { .max_request = 1000 };
	uint8_t buf[1001] = { 0 };

	fx_open(&fx, &lim, 0, 0, 0);
	ASSERT_EQ(rpc_client_call(fx.c, PM_ECHO, buf, 10, 0, NULL, NULL, NULL), SEVMON_EINVAL);
	ASSERT_EQ(rpc_client_call(fx.c, PM_ECHO, NULL, 10, 0, on_reply, &k, NULL), SEVMON_EINVAL);
	fx_call(&fx, &k, PM_ECHO, buf, sizeof buf, 0);
	fx_run(&fx);
	ASSERT_EQ(k.status, SEVMON_ETOOBIG);
	ASSERT_EQ(fx.pe->requests, 0);
	call_free(&k);
	fx_free(&fx);
}

TEST(rpc_client_open_bad_limits_einval)
{
	uv_loop_t loop;
	struct rpc_client *c = (struct rpc_client *)&loop;
	struct rpc_client_limits lim = { .max_msg = RPC_HDR_LEN };
	int sv[2];

	ASSERT_EQ(uv_loop_init(&loop), 0);
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ASSERT_EQ(rpc_client_open(&loop, sv[0], &lim, &c), SEVMON_EINVAL);
	ASSERT(c == NULL);
	lim.max_msg = FRAME_MAX_BODY + 1;
	ASSERT_EQ(rpc_client_open(&loop, sv[0], &lim, &c), SEVMON_EINVAL);
	ASSERT_EQ(rpc_client_open(&loop, -1, NULL, &c), SEVMON_EINVAL);
	ASSERT_EQ(uv_loop_close(&loop), 0);
	close(sv[0]);
	close(sv[1]);
}

TEST(rpc_client_close_pending_ecanceled_no_handles_left)
{
	struct fx fx;
	struct call k[3] = { 0 };
	uint8_t silent = 0;

	fx_open(&fx, NULL, 0, 0, 0);
	for (int i = 0; i < 3; i++)
		fx_call(&fx, &k[i], PM_SILENT, &silent, 1, i == 0 ? 10000 : 0);
	uv_run(&fx.loop, UV_RUN_NOWAIT);
	fx.remaining++; /* so that no callback closes it: the test does */
	rpc_client_close(fx.c, on_closed, &fx);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(k[i].done, 1); /* before close returned */
		ASSERT_EQ(k[i].status, SEVMON_ECANCELED);
		ASSERT_EQ(k[i].order, i);
	}
	ASSERT_EQ(fx.closed, 0); /* libuv closes asynchronously */
	fx.remaining--;
	fx_run(&fx);
	ASSERT_EQ(fx.disconnects, 0);
	fx_free(&fx);
}

TEST(rpc_client_set_codec_roundtrip_envelopes_fit)
{
	struct fx fx;
	struct call k = { 0 };

	fx_open(&fx, NULL, 0, 0, 1);
	k.want = random_bytes(k.want_len = 200000, 5);
	fx_call(&fx, &k, PM_ECHO, k.want, k.want_len, 0);
	ASSERT_EQ(rpc_client_set_codec(fx.c, &test_codec), SEVMON_EINVAL); /* too late */
	fx_run(&fx);
	assert_echo(&k);
	/* the envelope shrank so that the sealed frame still fits */
	ASSERT_EQ(fx.pe->max_envelope, FRAME_MAX_BODY - CODEC_TAG);
	ASSERT_EQ(fx.pe->max_body, FRAME_MAX_BODY);
	ASSERT_EQ(fx.pe->violation, 0);
	call_free(&k);
	fx_free(&fx);
}

TEST_MAIN()
