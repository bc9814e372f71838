/*
 * Tests of the agent's serving loop: the loop runs in a thread of the test process with a
 * test dispatch table, on a unix listening socket made here; clients are plain sockets
 * speaking frames and envelopes built with lib/frame and lib/rpc_wire.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>

#include "agent_loop.h"
#include "err.h"
#include "frame.h"
#include "harness.h"
#include "rbuf.h"
#include "rpc_wire.h"

/* The harness ends each case with _exit, which skips LeakSanitizer's exit check: ask for
 * it explicitly once the loop is freed, so a leak in the loop fails the case. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LEAK_CHECK() ASSERT_EQ(__lsan_do_recoverable_leak_check(), 0)
#else
#define LEAK_CHECK() ((void)0)
#endif

/* Test methods */
#define M_ECHO 1
#define M_SLEEP 2 /* payload: be32 milliseconds */
#define M_BIG 3   /* payload: be32 reply length */
#define M_FAIL 4  /* always SEVMON_EFAULT with a handler message */
#define M_SESSION 5 /* replies with the session string */
#define M_RELAX 6   /* back to the loop's idle timeout, as a channel does after its handshake */

static uint8_t pattern(size_t i) { return (uint8_t)(i * 7 + (i >> 9)); }

static int test_dispatch(void *ctx, const struct agent_request *req, struct wbuf *out,
			 char *errmsg, size_t errcap)
{
	(void)ctx;
	switch (req->method) {
	case M_ECHO:
		return wbuf_put_bytes(out, req->payload, req->len);
	case M_SLEEP: {
		if (req->len != 4 || load_be32(req->payload) > 1000)
			return SEVMON_EDECODE;
		struct timespec ts = { 0, (long)load_be32(req->payload) * 1000000L };
		while (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		nanosleep(&ts, NULL);
		return wbuf_put_bytes(out, "slept", 5);
	}
	case M_BIG: {
		if (req->len != 4)
			return SEVMON_EDECODE;
		size_t n = load_be32(req->payload);
		if (n > out->cap)
			return SEVMON_ETOOBIG;
		for (size_t i = 0; i < n; i++)
			out->p[i] = pattern(i);
		out->len = n;
		return 0;
	}
	case M_FAIL:
		snprintf(errmsg, errcap, "test failure for id %u", req->id);
		return SEVMON_EFAULT;
	case M_SESSION:
		if (!req->session)
			return SEVMON_ENOENT;
		return wbuf_put_bytes(out, req->session, strlen(req->session));
	case M_RELAX:
		agent_conn_set_timeout(req->conn, 0);
		return 0;
	default:
		return SEVMON_EUNMETHOD;
	}
}

/* --- log capture (the loop logs from its thread) --- */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_text[1 << 20];
static size_t log_len;

static void test_log(void *ctx, enum agent_log_level lv, const char *msg)
{
	(void)ctx;
	(void)lv;
	pthread_mutex_lock(&log_mu);
	size_t n = strlen(msg);
	if (log_len + n + 2 < sizeof log_text) {
		memcpy(log_text + log_len, msg, n);
		log_len += n;
		log_text[log_len++] = '\n';
		log_text[log_len] = '\0';
	}
	pthread_mutex_unlock(&log_mu);
	if (getenv("AGENT_TEST_LOG"))
		fprintf(stderr, "# log: %s\n", msg);
}

static int log_count(const char *s)
{
	int k = 0;
	pthread_mutex_lock(&log_mu);
	for (const char *p = log_text; (p = strstr(p, s)); p += strlen(s))
		k++;
	pthread_mutex_unlock(&log_mu);
	return k;
}

/* Waits up to 5 s for the loop to log s at least n times. */
static int log_wait(const char *s, int n)
{
	for (int i = 0; i < 500; i++) {
		if (log_count(s) >= n)
			return 1;
		usleep(10000);
	}
	return 0;
}

/* --- the loop under test --- */

static struct {
	struct agent_loop *l;
	pthread_t th;
	int lfd;
	struct sockaddr_un sa;
	socklen_t salen;
	int rc;
	struct agent_loop_stats st;
} F;

static void *loop_thread(void *arg)
{
	(void)arg;
	F.rc = agent_loop_run(F.l);
	return NULL;
}

static void test_config(struct agent_loop_config *cfg)
{
	agent_loop_config_init(cfg);
	cfg->dispatch = test_dispatch;
	cfg->log = test_log;
}

static void fx_start(struct agent_loop_config *cfg)
{
	static int seq;
	struct agent_loop_config def;

	if (!cfg) {
		test_config(&def);
		cfg = &def;
	}
	F.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ASSERT(F.lfd >= 0);
	memset(&F.sa, 0, sizeof F.sa);
	F.sa.sun_family = AF_UNIX;
	/* abstract name: nothing to clean up in the file system */
	int n = snprintf(F.sa.sun_path + 1, sizeof F.sa.sun_path - 1, "sevmon-agent-loop-%d-%d",
			 (int)getpid(), seq++);
	F.salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	ASSERT_EQ(bind(F.lfd, (struct sockaddr *)&F.sa, F.salen), 0);
	ASSERT_EQ(listen(F.lfd, 64), 0);
	cfg->listen_fds = &F.lfd;
	cfg->nlisten = 1;
	ASSERT_EQ(agent_loop_new(&F.l, cfg), 0);
	ASSERT_EQ(pthread_create(&F.th, NULL, loop_thread, NULL), 0);
}

static void fx_stop(void)
{
	agent_loop_stop(F.l);
	ASSERT_EQ(pthread_join(F.th, NULL), 0);
	ASSERT_EQ(F.rc, 0);
	agent_loop_get_stats(F.l, &F.st);
	ASSERT_EQ(F.st.conns, 0);
	agent_loop_free(F.l);
	close(F.lfd);
	LEAK_CHECK();
}

/* --- a client --- */

struct cl {
	int fd;
	struct frame_reader fr;
	uint8_t in[65536];
	size_t off, len;
};

struct reply {
	struct rpc_hdr h;
	uint8_t *p;
	size_t len;
	int frames;
};

static struct cl *cl_wrap(int fd)
{
	struct cl *c = calloc(1, sizeof *c);
	ASSERT(c != NULL);
	c->fd = fd;
	frame_reader_init(&c->fr);
	struct timeval tv = { 10, 0 }; /* a failing test ends in time, not at the harness limit */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return c;
}

static struct cl *cl_connect(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT(fd >= 0);
	ASSERT_EQ(connect(fd, (struct sockaddr *)&F.sa, F.salen), 0);
	return cl_wrap(fd);
}

static void cl_close(struct cl *c)
{
	close(c->fd);
	free(c);
}

/* 1: a frame (body/n set), 0: EOF or reset, -1: timeout or other error */
static int cl_frame(struct cl *c, const uint8_t **body, size_t *n)
{
	for (;;) {
		if (c->off < c->len) {
			long used = frame_reader_feed(&c->fr, c->in + c->off, c->len - c->off, body, n);
			ASSERT(used > 0);
			c->off += (size_t)used;
			if (*body)
				return 1;
			continue;
		}
		ssize_t r = read(c->fd, c->in, sizeof c->in);
		if (r > 0) {
			c->off = 0;
			c->len = (size_t)r;
		} else if (r == 0 || errno == ECONNRESET) {
			return 0;
		} else if (errno != EINTR) {
			return -1;
		}
	}
}

/* Reads one whole reply (the agent never interleaves replies). 1, or 0 at EOF. */
static int cl_reply(struct cl *c, struct reply *r)
{
	struct rpc_reasm ra = { 0 };
	const uint8_t *body, *frag;
	size_t n, flen;
	int rc;

	memset(r, 0, sizeof *r);
	for (;;) {
		rc = cl_frame(c, &body, &n);
		ASSERT(rc >= 0);
		if (rc == 0) {
			ASSERT_EQ(r->frames, 0);
			return 0;
		}
		ASSERT_EQ(rpc_hdr_parse(body, n, &r->h, &frag, &flen), 0);
		r->frames++;
		rc = rpc_reasm_add(&ra, &r->h, frag, flen, AGENT_MAX_REPLY);
		ASSERT(rc >= 0);
		if (rc == 1) {
			r->p = ra.buf;
			r->len = ra.len;
			return 1;
		}
	}
}

/* Expects the agent to close the connection without sending anything. */
static void cl_expect_eof(struct cl *c)
{
	const uint8_t *body;
	size_t n;
	ASSERT_EQ(cl_frame(c, &body, &n), 0);
}

/* Output stream built by a client */
struct ob {
	uint8_t *p;
	size_t len, cap;
};

static void ob_put(struct ob *o, const void *p, size_t n)
{
	if (o->cap - o->len < n) {
		o->cap = (o->len + n) * 2;
		o->p = realloc(o->p, o->cap);
		ASSERT(o->p != NULL);
	}
	memcpy(o->p + o->len, p, n);
	o->len += n;
}

static void ob_frame(struct ob *o, const uint8_t *body, size_t n)
{
	uint8_t hdr[FRAME_HDR_LEN];
	ASSERT_EQ(frame_header_write(hdr, n), 0);
	ob_put(o, hdr, sizeof hdr);
	ob_put(o, body, n);
}

static void ob_req_frag(struct ob *o, uint32_t id, uint16_t method, uint32_t deadline_ms,
			const void *payload, size_t len, size_t max_msg)
{
	struct rpc_hdr h = { .id = id, .method = method, .deadline_ms = deadline_ms };
	struct rpc_frag f;
	uint8_t msg[FRAME_MAX_BODY];
	size_t n;

	rpc_frag_init(&f, &h, payload, len, max_msg);
	while ((n = rpc_frag_next(&f, msg)))
		ob_frame(o, msg, n);
}

static void ob_req(struct ob *o, uint32_t id, uint16_t method, const void *payload, size_t len)
{
	ob_req_frag(o, id, method, 0, payload, len, FRAME_MAX_BODY);
}

static void ob_req32(struct ob *o, uint32_t id, uint16_t method, uint32_t deadline_ms,
		     uint32_t arg)
{
	uint8_t b[4];
	store_be32(b, arg);
	ob_req_frag(o, id, method, deadline_ms, b, 4, FRAME_MAX_BODY);
}

static void ob_cancel(struct ob *o, uint32_t id)
{
	struct rpc_hdr h = { .id = id, .flags = RPC_F_CANCEL | RPC_F_END };
	uint8_t msg[RPC_HDR_LEN];
	rpc_hdr_write(msg, &h);
	ob_frame(o, msg, sizeof msg);
}

static void write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t w = write(fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		ASSERT(w > 0);
		b += w;
		n -= (size_t)w;
	}
}

static void ob_send(struct cl *c, struct ob *o)
{
	write_all(c->fd, o->p, o->len);
	free(o->p);
	memset(o, 0, sizeof *o);
}

/* One echo round trip of a small payload: the connection works. */
static void echo_ok(struct cl *c, uint32_t id)
{
	struct ob o = { 0 };
	struct reply r;
	char msg[32];
	int n = snprintf(msg, sizeof msg, "ping %u", id);

	ob_req(&o, id, M_ECHO, msg, (size_t)n);
	ob_send(c, &o);
	ASSERT_EQ(cl_reply(c, &r), 1);
	ASSERT_EQ(r.h.id, id);
	ASSERT_EQ(r.h.method, M_ECHO);
	ASSERT_EQ(r.h.flags & RPC_F_ERROR, 0);
	ASSERT_EQ(r.len, (size_t)n);
	ASSERT_MEMEQ(r.p, msg, (size_t)n);
	free(r.p);
}

static void expect_error(struct cl *c, uint32_t id, int err)
{
	struct reply r;
	ASSERT_EQ(cl_reply(c, &r), 1);
	ASSERT_EQ(r.h.id, id);
	ASSERT(r.h.flags & RPC_F_ERROR);
	ASSERT_EQ(r.h.status, -err);
	ASSERT(r.len > 0 && r.len <= RPC_MAX_ERRMSG);
	free(r.p);
}

/* --- cases --- */

TEST(agent_loop_run_echo_round_trip)
{
	fx_start(NULL);
	struct cl *c = cl_connect();
	echo_ok(c, 7);
	echo_ok(c, 8);
	ASSERT(log_wait("open peer=unix:pid=", 1));
	cl_close(c);
	ASSERT(log_wait("reason=peer closed", 1));
	fx_stop();
	ASSERT_EQ(F.st.requests, 2);
	ASSERT_EQ(F.st.accepted, 1);
}

TEST(agent_loop_run_pipelined_500_in_order)
{
	fx_start(NULL);
	struct cl *c = cl_connect();
	struct ob o = { 0 };
	for (uint32_t i = 0; i < 500; i++) {
		uint8_t p[8];
		store_be32(p, i * 3u);
		store_be32(p + 4, ~i);
		ob_req(&o, 1000 + i, M_ECHO, p, 1 + i % 8);
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ob_send(c, &o);
	for (uint32_t i = 0; i < 500; i++) {
		struct reply r;
		uint8_t p[8];
		store_be32(p, i * 3u);
		store_be32(p + 4, ~i);
		ASSERT_EQ(cl_reply(c, &r), 1);
		ASSERT_EQ(r.h.id, 1000 + i);
		ASSERT_EQ(r.len, 1 + i % 8);
		ASSERT_MEMEQ(r.p, p, r.len);
		free(r.p);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# 500 pipelined requests answered in %.2f ms\n",
	       (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	cl_close(c);
	fx_stop();
	ASSERT_EQ(F.st.requests, 500);
}

TEST(agent_loop_run_big_reply_fragmented)
{
	fx_start(NULL);
	struct cl *c = cl_connect();
	const size_t sizes[] = { FRAME_MAX_BODY - RPC_HDR_LEN, FRAME_MAX_BODY - RPC_HDR_LEN + 1,
				 3 * 65535 + 123, 4u * 1024 * 1024 };
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		struct ob o = { 0 };
		struct reply r;
		size_t room = FRAME_MAX_BODY - RPC_HDR_LEN;
		struct timespec t0, t1;
		ob_req32(&o, (uint32_t)k + 1, M_BIG, 0, (uint32_t)sizes[k]);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		ob_send(c, &o);
		ASSERT_EQ(cl_reply(c, &r), 1);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		printf("# reply of %zu bytes in %.2f ms (%.0f MB/s)\n", sizes[k], s * 1e3,
		       (double)sizes[k] / s / 1e6);
		ASSERT_EQ(r.h.id, k + 1);
		ASSERT_EQ(r.h.flags & RPC_F_ERROR, 0);
		ASSERT_EQ(r.len, sizes[k]);
		ASSERT_EQ(r.frames, (sizes[k] + room - 1) / room);
		for (size_t i = 0; i < r.len; i++)
			if (r.p[i] != pattern(i))
				FAIL_AT("byte %zu of reply %zu differs", i, k);
		free(r.p);
	}
	/* over the reply limit: the handler's ETOOBIG comes back, the connection stays */
	struct ob o = { 0 };
	ob_req32(&o, 99, M_BIG, 0, AGENT_MAX_REPLY + 1);
	ob_send(c, &o);
	expect_error(c, 99, SEVMON_ETOOBIG);
	echo_ok(c, 100);
	cl_close(c);
	fx_stop();
}

TEST(agent_loop_run_request_fragmented)
{
	fx_start(NULL);
	struct cl *c = cl_connect();
	size_t n = AGENT_MAX_REQUEST; /* the largest request accepted, in 1000-byte messages */
	uint8_t *p = malloc(n);
	ASSERT(p != NULL);
	for (size_t i = 0; i < n; i++)
		p[i] = pattern(i + 5);
	struct ob o = { 0 };
	ob_req_frag(&o, 42, M_ECHO, 0, p, n, 1000);
	/* a second fragmented request interleaved with a small one */
	ob_req_frag(&o, 43, M_ECHO, 0, p, 5000, 2000);
	ob_send(c, &o);
	struct reply r;
	ASSERT_EQ(cl_reply(c, &r), 1);
	ASSERT_EQ(r.h.id, 42);
	ASSERT_EQ(r.len, n);
	ASSERT_MEMEQ(r.p, p, n);
	free(r.p);
	ASSERT_EQ(cl_reply(c, &r), 1);
	ASSERT_EQ(r.h.id, 43);
	ASSERT_EQ(r.len, 5000);
	ASSERT_MEMEQ(r.p, p, 5000);
	free(r.p);
	free(p);
	cl_close(c);
	fx_stop();
}

TEST(agent_loop_run_fragments_interleaved)
{
	fx_start(NULL);
	struct cl *c = cl_connect();
	uint8_t a[300], b[300], msg[RPC_HDR_LEN + 300];
	struct rpc_frag fa, fb;
	struct rpc_hdr ha = { .id = 1, .method = M_ECHO }, hb = { .id = 2, .method = M_ECHO };
	struct ob o = { 0 };
	size_t n;
	memset(a, 'a', sizeof a);
	memset(b, 'b', sizeof b);
	rpc_frag_init(&fa, &ha, a, sizeof a, RPC_HDR_LEN + 100);
	rpc_frag_init(&fb, &hb, b, sizeof b, RPC_HDR_LEN + 100);
	for (int i = 0; i < 3; i++) {
		/* b's fragments go first: b completes first and is answered first */
		ASSERT((n = rpc_frag_next(&fb, msg)) > 0);
		ob_frame(&o, msg, n);
		ASSERT((n = rpc_frag_next(&fa, msg)) > 0);
		ob_frame(&o, msg, n);
	}
	ob_send(c, &o);
	struct reply r;
	ASSERT_EQ(cl_reply(c, &r), 1);
	ASSERT_EQ(r.h.id, 2);
	ASSERT_MEMEQ(r.p, b, sizeof b);
	free(r.p);
	ASSERT_EQ(cl_reply(c, &r), 1);
	ASSERT_EQ(r.h.id, 1);
	ASSERT_MEMEQ(r.p, a, sizeof a);
	free(r.p);
	cl_close(c);
	fx_stop();
}

TEST(agent_loop_run_cancel_queued_and_partial)
{
	fx_start(NULL);
	struct cl *c = cl_connect();
	struct ob o = { 0 };
	uint8_t big[3000];
	memset(big, 'x', sizeof big);
	/* 1 keeps the loop busy while 2, 3, the partial 5 and the cancels sit behind it */
	ob_req32(&o, 1, M_SLEEP, 0, 150);
	ob_req(&o, 2, M_ECHO, "two", 3);
	ob_req(&o, 3, M_ECHO, "three", 5);
	{
		struct rpc_hdr h = { .id = 5, .method = M_ECHO };
		struct rpc_frag f;
		uint8_t msg[RPC_HDR_LEN + 1000];
		rpc_frag_init(&f, &h, big, sizeof big, sizeof msg);
		size_t n = rpc_frag_next(&f, msg); /* only the first fragment */
		ob_frame(&o, msg, n);
	}
	ob_cancel(&o, 2);
	ob_cancel(&o, 5);
	ob_cancel(&o, 777); /* unknown: ignored */
	ob_req(&o, 6, M_ECHO, "six", 3);
	ob_send(c, &o);
	uint32_t want[] = { 1, 3, 6 };
	for (int i = 0; i < 3; i++) {
		struct reply r;
		ASSERT_EQ(cl_reply(c, &r), 1);
		ASSERT_EQ(r.h.id, want[i]);
		ASSERT_EQ(r.h.flags & RPC_F_ERROR, 0);
		free(r.p);
	}
	/* id 5 may be reused once canceled; nothing for 2 or 5 came before this */
	echo_ok(c, 5);
	cl_close(c);
	fx_stop();
	ASSERT_EQ(F.st.canceled, 2);
	ASSERT_EQ(F.st.requests, 4);
}

TEST(agent_loop_run_deadline_expired)
{
	fx_start(NULL);
	struct cl *c = cl_connect();
	struct ob o = { 0 };
	ob_req32(&o, 1, M_SLEEP, 0, 200);
	ob_req32(&o, 2, M_SLEEP, 50, 1000); /* would sleep 1 s if it ran */
	ob_req32(&o, 3, M_BIG, 60000, 10);   /* its deadline is far: runs */
	ob_send(c, &o);
	struct reply r;
	ASSERT_EQ(cl_reply(c, &r), 1);
	ASSERT_EQ(r.h.id, 1);
	free(r.p);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	expect_error(c, 2, SEVMON_ETIMEDOUT);
	ASSERT_EQ(cl_reply(c, &r), 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ASSERT_EQ(r.h.id, 3);
	ASSERT_EQ(r.h.flags & RPC_F_ERROR, 0);
	ASSERT_EQ(r.len, 10);
	free(r.p);
	/* request 2 was not run: no 1 s sleep happened */
	ASSERT(t1.tv_sec - t0.tv_sec < 1 || (t1.tv_sec - t0.tv_sec == 1 && t1.tv_nsec < t0.tv_nsec));
	ASSERT(log_wait("id=2 method=2 rejected: ETIMEDOUT", 1));
	cl_close(c);
	fx_stop();
	ASSERT_EQ(F.st.requests, 2);
}

TEST(agent_loop_run_unknown_method_keeps_connection)
{
	fx_start(NULL);
	struct cl *c = cl_connect();
	struct ob o = { 0 };
	ob_req(&o, 11, 999, "x", 1);
	ob_req(&o, 12, M_FAIL, NULL, 0);
	ob_send(c, &o);
	expect_error(c, 11, SEVMON_EUNMETHOD);
	struct reply r;
	ASSERT_EQ(cl_reply(c, &r), 1);
	ASSERT_EQ(r.h.id, 12);
	ASSERT_EQ(r.h.status, -SEVMON_EFAULT);
	ASSERT_EQ(r.len, strlen("test failure for id 12"));
	ASSERT_MEMEQ(r.p, "test failure for id 12", r.len);
	free(r.p);
	echo_ok(c, 13);
	ASSERT(log_wait("id=11 method=999 rejected: EUNMETHOD", 1));
	cl_close(c);
	fx_stop();
	ASSERT_EQ(F.st.rejected, 2);
}

/* --- malformed input closes that connection only --- */

struct bad_case {
	const char *name;
	uint8_t bytes[96];
	size_t n;
	int shut; /* then half-close */
};

static size_t env(uint8_t *out, uint32_t id, uint16_t method, uint8_t flags, uint8_t reserved,
		  uint32_t status, uint32_t total, size_t frag_len)
{
	size_t body = RPC_HDR_LEN + frag_len;
	struct rpc_hdr h = { .id = id, .method = method, .flags = flags, .status = status,
			     .total_len = total };
	store_be16(out, (uint16_t)body);
	rpc_hdr_write(out + 2, &h);
	out[2 + 7] = reserved;
	memset(out + 2 + RPC_HDR_LEN, 'p', frag_len);
	return 2 + body;
}

static void run_bad(const uint8_t *bytes, size_t n, int shut, struct cl *good, uint32_t id)
{
	struct cl *bad = cl_connect();
	write_all(bad->fd, bytes, n);
	if (shut)
		shutdown(bad->fd, SHUT_WR);
	cl_expect_eof(bad);
	cl_close(bad);
	echo_ok(good, id);
}

TEST(agent_loop_run_malformed_closes_only_that_connection)
{
	fx_start(NULL);
	struct cl *good = cl_connect();
	echo_ok(good, 1);
	struct bad_case cs[16];
	int k = 0;
	uint8_t *b;

	cs[k] = (struct bad_case){ .name = "zero-length frame", .n = 2 };
	k++;
	cs[k] = (struct bad_case){ .name = "truncated frame then EOF", .shut = 1 };
	cs[k].n = env(cs[k].bytes, 1, M_ECHO, RPC_F_END, 0, 0, 10, 10) - 4;
	k++;
	cs[k] = (struct bad_case){ .name = "bad flags" };
	cs[k].n = env(cs[k].bytes, 1, M_ECHO, RPC_F_END | 0x40, 0, 0, 1, 1);
	k++;
	cs[k] = (struct bad_case){ .name = "reserved byte set" };
	cs[k].n = env(cs[k].bytes, 1, M_ECHO, RPC_F_END, 1, 0, 1, 1);
	k++;
	cs[k] = (struct bad_case){ .name = "oversized total_len" };
	cs[k].n = env(cs[k].bytes, 1, M_ECHO, 0, 0, 0, AGENT_MAX_REQUEST + 1, 10);
	k++;
	cs[k] = (struct bad_case){ .name = "continuation without start" };
	cs[k].n = env(cs[k].bytes, 1, M_ECHO, RPC_F_CONT | RPC_F_END, 0, 0, 10, 10);
	k++;
	cs[k] = (struct bad_case){ .name = "ERROR flag in a request" };
	cs[k].n = env(cs[k].bytes, 1, M_ECHO, RPC_F_END | RPC_F_ERROR, 0, 5, 1, 1);
	k++;
	cs[k] = (struct bad_case){ .name = "status in a request" };
	cs[k].n = env(cs[k].bytes, 1, M_ECHO, RPC_F_END, 0, 5, 1, 1);
	k++;
	cs[k] = (struct bad_case){ .name = "envelope shorter than its header" };
	cs[k].n = env(cs[k].bytes, 1, M_ECHO, RPC_F_END, 0, 0, 0, 0);
	store_be16(cs[k].bytes, 10);
	cs[k].n = 12;
	k++;
	cs[k] = (struct bad_case){ .name = "fragment says END before total_len" };
	cs[k].n = env(cs[k].bytes, 1, M_ECHO, RPC_F_END, 0, 0, 20, 10);
	k++;
	cs[k] = (struct bad_case){ .name = "CANCEL with payload" };
	cs[k].n = env(cs[k].bytes, 1, M_ECHO, RPC_F_END | RPC_F_CANCEL, 0, 0, 1, 1);
	k++;
	cs[k] = (struct bad_case){ .name = "duplicate id of a partial request" };
	b = cs[k].bytes;
	cs[k].n = env(b, 9, M_ECHO, 0, 0, 0, 20, 10);
	cs[k].n += env(b + cs[k].n, 9, M_ECHO, 0, 0, 0, 20, 10);
	k++;
	cs[k] = (struct bad_case){ .name = "EOF inside a fragmented request", .shut = 1 };
	cs[k].n = env(cs[k].bytes, 1, M_ECHO, 0, 0, 0, 20, 10);
	k++;
	for (int i = 0; i < k; i++) {
		int before = log_count("protocol error");
		run_bad(cs[i].bytes, cs[i].n, cs[i].shut, good, 100 + (uint32_t)i);
		if (!log_wait("protocol error", before + 1))
			FAIL_AT("case '%s' was not logged as a protocol error", cs[i].name);
	}
	/* more partial requests than allowed */
	{
		struct ob o = { 0 };
		uint8_t f[64];
		for (uint32_t id = 0; id <= AGENT_MAX_PARTIAL; id++)
			ob_put(&o, f, env(f, id, M_ECHO, 0, 0, 0, 20, 10));
		run_bad(o.p, o.len, 0, good, 500);
		free(o.p);
		ASSERT(log_wait("partial requests", 1));
	}
	cl_close(good);
	fx_stop();
	ASSERT_EQ(F.st.protocol_errors, (uint64_t)k + 1);
	ASSERT_EQ(F.st.conns, 0);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

TEST(agent_loop_run_random_garbage)
{
	struct agent_loop_config cfg;
	test_config(&cfg);
	cfg.log = NULL;
	fx_start(&cfg);
	struct cl *good = cl_connect();
	uint8_t valid[256];
	size_t vn = 0;
	{
		struct ob o = { 0 };
		ob_req(&o, 1, M_ECHO, "abc", 3);
		ob_req_frag(&o, 2, M_ECHO, 0, "0123456789abcdefghij", 20, RPC_HDR_LEN + 7);
		ob_cancel(&o, 2);
		ASSERT(o.len <= sizeof valid);
		memcpy(valid, o.p, o.len);
		vn = o.len;
		free(o.p);
	}
	for (int it = 0; it < 300; it++) {
		uint8_t buf[256];
		size_t n;
		if (it % 2) { /* pure noise */
			n = 1 + rnd() % sizeof buf;
			for (size_t i = 0; i < n; i++)
				buf[i] = (uint8_t)rnd();
		} else { /* a valid stream with a few bytes changed, maybe cut short */
			memcpy(buf, valid, vn);
			n = vn;
			for (int m = 1 + (int)(rnd() % 3); m > 0; m--)
				buf[rnd() % n] = (uint8_t)rnd();
			if (rnd() % 3 == 0)
				n = 1 + rnd() % n;
		}
		struct cl *c = cl_connect();
		write_all(c->fd, buf, n);
		shutdown(c->fd, SHUT_WR);
		/* whatever the agent made of it, it must end the connection: drain to EOF */
		const uint8_t *body;
		size_t bl;
		int rc, frames = 0;
		while ((rc = cl_frame(c, &body, &bl)) == 1)
			ASSERT(++frames < 16);
		ASSERT_EQ(rc, 0);
		cl_close(c);
		if (it % 50 == 0)
			echo_ok(good, (uint32_t)it);
	}
	echo_ok(good, 9999);
	cl_close(good);
	fx_stop();
	ASSERT(F.st.protocol_errors > 100);
}

/* --- bounds --- */

TEST(agent_loop_run_reader_that_never_reads_is_bounded)
{
	fx_start(NULL);
	struct cl *lazy = cl_connect();
	struct cl *good = cl_connect();
	struct ob o = { 0 };
	const uint32_t nbig = 64, big = 1024 * 1024;
	for (uint32_t i = 0; i < nbig; i++)
		ob_req32(&o, i, M_BIG, 0, big);
	ob_send(lazy, &o);
	/* Then flood small requests without reading, until the agent stops reading too. */
	fcntl(lazy->fd, F_SETFL, fcntl(lazy->fd, F_GETFL) | O_NONBLOCK);
	uint8_t pay[1000];
	memset(pay, 'f', sizeof pay);
	size_t flooded = 0;
	int stalled = 0;
	struct ob f = { 0 };
	size_t foff = 0;
	for (uint32_t id = 1000; flooded < 64u * 1024 * 1024 && !stalled;) {
		if (foff == f.len) {
			free(f.p);
			memset(&f, 0, sizeof f);
			foff = 0;
			ob_req(&f, id++, M_ECHO, pay, sizeof pay);
		}
		ssize_t w = write(lazy->fd, f.p + foff, f.len - foff);
		if (w < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = lazy->fd, .events = POLLOUT };
			/* nothing drains for 500 ms: the agent has stopped reading */
			stalled = poll(&p, 1, 500) == 0;
			continue;
		}
		ASSERT(w > 0);
		foff += (size_t)w;
		flooded += (size_t)w;
	}
	free(f.p);
	ASSERT(stalled);
	ASSERT(flooded < 64u * 1024 * 1024);
	/* the other connection is served meanwhile */
	for (uint32_t i = 0; i < 20; i++)
		echo_ok(good, i);
	cl_close(good);
	cl_close(lazy);
	fx_stop();
	printf("# wqueue_peak=%zu inbound_peak=%zu requests=%llu flooded=%zu\n", F.st.wqueue_peak,
	       F.st.inbound_peak, (unsigned long long)F.st.requests, flooded);
	/* write queue: at most the threshold plus one framed reply (22 bytes of headers per
	 * frame, frames of at least 65000 bytes of payload) */
	size_t framing = (AGENT_MAX_REPLY / 65000 + 1) * (FRAME_HDR_LEN + RPC_HDR_LEN);
	ASSERT(F.st.wqueue_peak <= AGENT_MAX_WQUEUE + AGENT_MAX_REPLY + framing);
	ASSERT(F.st.inbound_peak <= AGENT_MAX_QUEUED_BYTES + AGENT_MAX_REQUEST);
	/* only a few of the big replies were produced */
	ASSERT(F.st.requests < 20 + 16);
}

struct drain_arg {
	struct cl *c;
	int want;
	volatile int got; /* read by the main thread: a progress hint only */
};

static void *drain_thread(void *arg)
{
	struct drain_arg *d = arg;
	struct reply r;
	while (d->got < d->want && cl_reply(d->c, &r) == 1) {
		free(r.p);
		__atomic_add_fetch(&d->got, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

TEST(agent_loop_run_busy_client_does_not_starve_others)
{
	fx_start(NULL);
	struct cl *busy = cl_connect(), *other = cl_connect();
	struct drain_arg d = { busy, 1000, 0 };
	pthread_t th;
	ASSERT_EQ(pthread_create(&th, NULL, drain_thread, &d), 0);
	struct ob o = { 0 };
	for (uint32_t i = 0; i < (uint32_t)d.want; i++)
		ob_req32(&o, i, M_BIG, 0, 65536);
	ob_send(busy, &o); /* 64 MB of replies asked for */
	for (uint32_t i = 0; i < 20; i++)
		echo_ok(other, i);
	int got = __atomic_load_n(&d.got, __ATOMIC_RELAXED);
	printf("# other client done while the busy one had %d of %d replies\n", got, d.want);
	ASSERT(got < d.want);
	ASSERT_EQ(pthread_join(th, NULL), 0);
	ASSERT_EQ(d.got, d.want);
	cl_close(busy);
	cl_close(other);
	fx_stop();
}

TEST(agent_loop_run_out_of_fds_sheds_connection)
{
	fx_start(NULL);
	struct cl *a = cl_connect();
	echo_ok(a, 1);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT(s >= 0);
	/* no descriptor above s may be made now: the agent's accept4 gets EMFILE */
	struct rlimit old, lim;
	ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)s + 1;
	ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
	ASSERT_EQ(connect(s, (struct sockaddr *)&F.sa, F.salen), 0);
	struct cl *c = cl_wrap(s);
	cl_expect_eof(c); /* shed through the spare descriptor, not left in the backlog */
	ASSERT(log_wait("out of file descriptors", 1));
	echo_ok(a, 2);
	ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
	cl_close(c);
	struct cl *b = cl_connect();
	echo_ok(b, 3);
	cl_close(b);
	cl_close(a);
	fx_stop();
	ASSERT_EQ(F.st.refused, 1);
}

TEST(agent_loop_run_max_conns)
{
	struct agent_loop_config cfg;
	test_config(&cfg);
	cfg.max_conns = 2;
	fx_start(&cfg);
	struct cl *a = cl_connect(), *b = cl_connect();
	echo_ok(a, 1);
	echo_ok(b, 2);
	struct cl *c = cl_connect(); /* the kernel accepts; the agent closes at once */
	cl_expect_eof(c);
	cl_close(c);
	ASSERT(log_wait("(max_conns)", 1));
	echo_ok(a, 3);
	cl_close(a);
	ASSERT(log_wait("reason=peer closed", 1));
	struct cl *d = cl_connect();
	echo_ok(d, 4);
	cl_close(d);
	cl_close(b);
	fx_stop();
	ASSERT_EQ(F.st.refused, 1);
	ASSERT_EQ(F.st.accepted, 3);
}

TEST(agent_loop_run_idle_timeout)
{
	struct agent_loop_config cfg;
	test_config(&cfg);
	cfg.idle_timeout_ms = 100;
	fx_start(&cfg);
	struct cl *c = cl_connect();
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cl_expect_eof(c);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ASSERT(t1.tv_sec - t0.tv_sec < 3);
	ASSERT(log_wait("reason=idle timeout", 1));
	cl_close(c);
	fx_stop();
}

static int short_hook_open(void *ctx, struct agent_conn *c, void **session,
			   struct agent_channel *ch)
{
	(void)ctx;
	(void)session;
	(void)ch;
	agent_conn_set_timeout(c, 100);
	return 0;
}

TEST(agent_loop_conn_set_timeout_handshake_window)
{
	struct agent_loop_config cfg;
	test_config(&cfg);
	cfg.hooks.open = short_hook_open;
	fx_start(&cfg);
	struct cl *silent = cl_connect(), *ok = cl_connect();
	struct ob o = { 0 };
	ob_req(&o, 1, M_RELAX, NULL, 0);
	ob_send(ok, &o);
	struct reply r;
	ASSERT_EQ(cl_reply(ok, &r), 1);
	ASSERT_EQ(r.h.id, 1);
	free(r.p);
	cl_expect_eof(silent);
	usleep(300000); /* past the short timeout: the relaxed connection stays */
	echo_ok(ok, 2);
	ASSERT_EQ(log_count("reason=idle timeout"), 1);
	cl_close(silent);
	cl_close(ok);
	fx_stop();
}

/* A channel that swallows every frame (a handshake that never ends) for peers labelled
 * "tcp:10.0.*"; none (authenticated from the start) for the others. */
static long swallow_open(void *ctx, const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	(void)ctx, (void)in, (void)n, (void)out, (void)cap;
	return 0;
}

static int unauth_hook_open(void *ctx, struct agent_conn *c, void **session,
			    struct agent_channel *ch)
{
	(void)ctx;
	(void)session;
	if (!strncmp(agent_conn_peer(c), "tcp:10.0.", 9))
		ch->open = swallow_open;
	return 0;
}

static int adopt_as(struct agent_loop *l, int sp[2], const char *label)
{
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	return agent_loop_adopt(l, sp[0], label);
}

/* 1 if the agent closed its end of the pair. */
static int pair_closed(int sp[2])
{
	char b;
	return recv(sp[1], &b, 1, MSG_DONTWAIT) == 0;
}

/* The unauthenticated bounds (agent_loop.h), deterministic: adopted connections, no run. */
TEST(agent_loop_unauth_bounds_evict_oldest_of_source_then_any_never_authenticated)
{
	struct agent_loop_config cfg;
	test_config(&cfg);
	cfg.nlisten = 0;
	cfg.max_conns = 8;
	cfg.max_unauth = 4;
	cfg.max_unauth_per_source = 2;
	cfg.hooks.open = unauth_hook_open;
	struct agent_loop *l;
	ASSERT_EQ(agent_loop_new(&l, &cfg), 0);
	enum { A1, A2, B1, A3, C1, C2, D1, N_UNAUTH };
	static const char *lab[N_UNAUTH] = { "tcp:10.0.0.1:1001", "tcp:10.0.0.1:1002",
		"tcp:10.0.0.2:7", "tcp:10.0.0.1:1003", "tcp:10.0.0.3:1", "tcp:10.0.0.3:2",
		"tcp:10.0.0.4:9" };
	int u[N_UNAUTH][2], a[9][2];
	for (int i = A1; i <= A3; i++)
		ASSERT_EQ(adopt_as(l, u[i], lab[i]), 0);
	/* a third from 10.0.0.1: its oldest goes, nobody else's */
	ASSERT(pair_closed(u[A1]));
	ASSERT(!pair_closed(u[A2]) && !pair_closed(u[B1]) && !pair_closed(u[A3]));
	ASSERT_EQ(adopt_as(l, u[C1], lab[C1]), 0);
	ASSERT(!pair_closed(u[A2]));
	/* a fifth unauthenticated: the oldest of all goes */
	ASSERT_EQ(adopt_as(l, u[C2], lab[C2]), 0);
	ASSERT(pair_closed(u[A2]));
	ASSERT(!pair_closed(u[B1]) && !pair_closed(u[A3]) && !pair_closed(u[C1]) && !pair_closed(u[C2]));
	/* authenticated ones take the slots the unauthenticated hold, oldest first */
	char label[32];
	for (int i = 0; i < 4; i++) {
		snprintf(label, sizeof label, "tcp:10.9.0.%d:1", i);
		ASSERT_EQ(adopt_as(l, a[i], label), 0); /* 8 open now: 4 and 4 */
	}
	ASSERT_EQ(adopt_as(l, u[D1], lab[D1]), 0); /* full: B1, the oldest unauthenticated, goes */
	ASSERT(pair_closed(u[B1]));
	for (int i = 4; i < 8; i++) {
		snprintf(label, sizeof label, "tcp:10.9.0.%d:1", i);
		ASSERT_EQ(adopt_as(l, a[i], label), 0);
	}
	ASSERT(pair_closed(u[A3]) && pair_closed(u[C1]) && pair_closed(u[C2]) && pair_closed(u[D1]));
	/* all eight authenticated: the next one is refused, none of them evicted */
	ASSERT_EQ(adopt_as(l, a[8], "tcp:10.9.0.8:1"), SEVMON_EBUSY);
	ASSERT(pair_closed(a[8]));
	for (int i = 0; i < 8; i++)
		ASSERT(!pair_closed(a[i]));
	struct agent_loop_stats st;
	agent_loop_get_stats(l, &st);
	ASSERT_EQ(st.evicted, 7);
	ASSERT_EQ(st.refused, 1);
	ASSERT_EQ(st.conns, 8);
	agent_loop_free(l);
	for (int i = 0; i < N_UNAUTH; i++)
		close(u[i][1]);
	for (int i = 0; i < 9; i++)
		close(a[i][1]);
}

TEST(agent_loop_run_half_close_answers_then_closes)
{
	fx_start(NULL);
	struct cl *c = cl_connect();
	struct ob o = { 0 };
	for (uint32_t i = 0; i < 10; i++)
		ob_req32(&o, i, M_BIG, 0, 100000);
	ob_send(c, &o);
	shutdown(c->fd, SHUT_WR);
	for (uint32_t i = 0; i < 10; i++) {
		struct reply r;
		ASSERT_EQ(cl_reply(c, &r), 1);
		ASSERT_EQ(r.h.id, i);
		ASSERT_EQ(r.len, 100000);
		free(r.p);
	}
	cl_expect_eof(c);
	cl_close(c);
	fx_stop();
}

TEST(agent_loop_stop_closes_connections)
{
	fx_start(NULL);
	struct cl *c = cl_connect();
	echo_ok(c, 1);
	agent_loop_stop(F.l);
	cl_expect_eof(c);
	ASSERT_EQ(pthread_join(F.th, NULL), 0);
	ASSERT_EQ(F.rc, 0);
	ASSERT(log_count("reason=agent stopping") == 1);
	agent_loop_free(F.l);
	close(F.lfd);
	cl_close(c);
	LEAK_CHECK();
}

TEST(agent_loop_run_stop_fd)
{
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	struct agent_loop_config cfg;
	test_config(&cfg);
	cfg.stop_fd = p[0];
	fx_start(&cfg);
	struct cl *c = cl_connect();
	echo_ok(c, 1);
	ASSERT_EQ(write(p[1], "x", 1), 1);
	ASSERT_EQ(pthread_join(F.th, NULL), 0);
	ASSERT_EQ(F.rc, 0);
	cl_expect_eof(c);
	agent_loop_free(F.l);
	close(F.lfd);
	close(p[0]);
	close(p[1]);
	cl_close(c);
	LEAK_CHECK();
}

/* --- the channel seam and sessions --- */

/* A toy channel: XOR with a key byte and a 16-byte tag of 0xAA, like an AEAD's growth. */
#define TOY_TAG 16
static int toy_opens, toy_closes;

static long toy_seal(void *ctx, const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	uint8_t key = *(uint8_t *)ctx;
	if (n + TOY_TAG > cap)
		return SEVMON_ETOOBIG;
	for (size_t i = 0; i < n; i++)
		out[i] = in[i] ^ key;
	memset(out + n, 0xAA, TOY_TAG);
	return (long)(n + TOY_TAG);
}

static long toy_open(void *ctx, const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	uint8_t key = *(uint8_t *)ctx;
	if (n == 1 && in[0] == 'H')
		return 0; /* a "handshake" message, consumed by the channel */
	if (n <= TOY_TAG || n - TOY_TAG > cap)
		return SEVMON_EAUTH;
	for (size_t i = 0; i < TOY_TAG; i++)
		if (in[n - TOY_TAG + i] != 0xAA)
			return SEVMON_EAUTH;
	for (size_t i = 0; i < n - TOY_TAG; i++)
		out[i] = in[i] ^ key;
	return (long)(n - TOY_TAG);
}

static uint8_t toy_key = 0x5c;

static int toy_hook_open(void *ctx, struct agent_conn *c, void **session, struct agent_channel *ch)
{
	(void)ctx;
	char *s = malloc(64);
	if (!s)
		return SEVMON_ENOMEM;
	snprintf(s, 64, "session of conn %llu", (unsigned long long)agent_conn_id(c));
	*session = s;
	ch->seal = toy_seal;
	ch->open = toy_open;
	ch->ctx = &toy_key;
	ch->max_msg = FRAME_MAX_BODY - TOY_TAG;
	toy_opens++;
	/* the channel greets first, as the agent's evidence will */
	return agent_conn_send_message(c, (const uint8_t *)"hello", 5);
}

static void toy_hook_close(void *ctx, struct agent_conn *c, void *session)
{
	(void)ctx;
	(void)c;
	free(session);
	toy_closes++;
}

/* Reads one sealed frame and opens it into out. */
static size_t toy_read(struct cl *c, uint8_t *out)
{
	const uint8_t *body;
	size_t n;
	ASSERT_EQ(cl_frame(c, &body, &n), 1);
	long m = toy_open(&toy_key, body, n, out, FRAME_MAX_BODY);
	ASSERT(m > 0);
	return (size_t)m;
}

static void toy_send_req(struct cl *c, uint32_t id, uint16_t method, const void *p, size_t len)
{
	struct rpc_hdr h = { .id = id, .method = method };
	struct rpc_frag f;
	uint8_t msg[FRAME_MAX_BODY], sealed[FRAME_MAX_BODY];
	size_t n;
	struct ob o = { 0 };
	rpc_frag_init(&f, &h, p, len, FRAME_MAX_BODY - TOY_TAG);
	while ((n = rpc_frag_next(&f, msg))) {
		long s = toy_seal(&toy_key, msg, n, sealed, sizeof sealed);
		ASSERT(s > 0);
		ob_frame(&o, sealed, (size_t)s);
	}
	ob_send(c, &o);
}

TEST(agent_loop_run_channel_seam_and_session)
{
	struct agent_loop_config cfg;
	test_config(&cfg);
	cfg.hooks.open = toy_hook_open;
	cfg.hooks.close = toy_hook_close;
	fx_start(&cfg);
	struct cl *c = cl_connect();
	uint8_t *m = malloc(FRAME_MAX_BODY);
	ASSERT(m != NULL);
	ASSERT_EQ(toy_read(c, m), 5);
	ASSERT_MEMEQ(m, "hello", 5);
	/* a handshake frame the channel consumes, then sealed requests */
	struct ob o = { 0 };
	ob_frame(&o, (const uint8_t *)"H", 1);
	ob_send(c, &o);
	toy_send_req(c, 1, M_SESSION, NULL, 0);
	size_t n = toy_read(c, m);
	struct rpc_hdr h;
	const uint8_t *frag;
	size_t flen;
	ASSERT_EQ(rpc_hdr_parse(m, n, &h, &frag, &flen), 0);
	ASSERT_EQ(h.id, 1);
	ASSERT_EQ(flen, strlen("session of conn 1"));
	ASSERT_MEMEQ(frag, "session of conn 1", flen);
	/* a reply over one message: every sealed frame fits, the fragments join up */
	uint8_t arg[4];
	store_be32(arg, 200000);
	toy_send_req(c, 2, M_BIG, arg, 4);
	struct rpc_reasm ra = { 0 };
	int rc = 0, frames = 0;
	while (rc == 0) {
		n = toy_read(c, m);
		ASSERT(n <= FRAME_MAX_BODY - TOY_TAG);
		ASSERT_EQ(rpc_hdr_parse(m, n, &h, &frag, &flen), 0);
		rc = rpc_reasm_add(&ra, &h, frag, flen, AGENT_MAX_REPLY);
		ASSERT(rc >= 0);
		frames++;
	}
	ASSERT_EQ(ra.len, 200000);
	ASSERT_EQ(frames, (200000 + FRAME_MAX_BODY - TOY_TAG - RPC_HDR_LEN - 1) /
				  (FRAME_MAX_BODY - TOY_TAG - RPC_HDR_LEN));
	for (size_t i = 0; i < ra.len; i++)
		ASSERT_EQ(ra.buf[i], pattern(i));
	free(ra.buf);
	/* an unsealed request fails the channel: the connection is closed */
	o = (struct ob){ 0 };
	ob_req(&o, 3, M_ECHO, "plain", 5);
	ob_send(c, &o);
	cl_expect_eof(c);
	ASSERT(log_wait("channel open failed: EAUTH", 1));
	cl_close(c);
	free(m);
	fx_stop();
	ASSERT_EQ(toy_opens, 1);
	ASSERT_EQ(toy_closes, 1);
}

TEST(agent_loop_adopt_socketpair)
{
	struct agent_loop_config cfg;
	test_config(&cfg);
	cfg.max_conns = 1;
	ASSERT_EQ(agent_loop_new(&F.l, &cfg), 0); /* no listeners at all */
	int sp[2], sp2[2];
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sp2), 0);
	ASSERT_EQ(agent_loop_adopt(F.l, sp[0], "pair"), 0);
	ASSERT_EQ(agent_loop_adopt(F.l, sp2[0], "pair2"), SEVMON_EBUSY);
	ASSERT(log_wait("conn refused peer=pair2", 1));
	ASSERT_EQ(pthread_create(&F.th, NULL, loop_thread, NULL), 0);
	struct cl *c = cl_wrap(sp[1]);
	echo_ok(c, 1);
	ASSERT(log_wait("open peer=pair", 1));
	agent_loop_stop(F.l);
	ASSERT_EQ(pthread_join(F.th, NULL), 0);
	agent_loop_free(F.l);
	cl_close(c);
	close(sp2[1]);
	LEAK_CHECK();
}

TEST(agent_loop_new_bad_config)
{
	struct agent_loop_config cfg;
	struct agent_loop *l = (struct agent_loop *)&cfg;
	agent_loop_config_init(&cfg);
	ASSERT_EQ(agent_loop_new(&l, &cfg), SEVMON_EINVAL); /* no dispatch */
	ASSERT(l == NULL);
	cfg.dispatch = test_dispatch;
	cfg.nlisten = AGENT_MAX_LISTENERS + 1;
	ASSERT_EQ(agent_loop_new(&l, &cfg), SEVMON_EINVAL);
	cfg.nlisten = 0;
	ASSERT_EQ(agent_loop_new(&l, &cfg), 0);
	ASSERT(l != NULL);
	agent_loop_free(l);
	LEAK_CHECK();
}

TEST_MAIN()
