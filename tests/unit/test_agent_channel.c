/*
 * test_agent_channel.c — the agent side of the channel on the real poll loop (in a
 * thread), against the IDS's blocking driver: RPC through the channel, a flood of half-open
 * connections evicting its own oldest while established and new sessions are served, the
 * handshake deadline,
 * an IDS key not on the allow-list. Real sim provider and verifier.
 */
#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent_channel.h"
#include "err.h"
#include "frame.h"
#include "harness.h"
#include "ids_session.h"
#include "rpc_wire.h"
#include "snp_provider.h"
#include "snp_sim.h"

#define SIM_FIXTURE_PREFIX "/tmp/sevmon-agent-channel-XXXXXX"
#include "sim_fixture.h"

/* Echo dispatcher: the channel is under test, not the handlers. */
static int echo_dispatch(void *ctx, const struct agent_request *req, struct wbuf *out,
			 char *errmsg, size_t errcap)
{
	(void)ctx;
	(void)errmsg;
	(void)errcap;
	return wbuf_put_bytes(out, req->payload, req->len) < 0 ? SEVMON_ETOOBIG : 0;
}

static struct {
	struct agent_loop *l;
	pthread_t th;
	int lfd, rc;
	struct sockaddr_un sa;
	socklen_t salen;
	struct agent_channel_cfg chan;
	struct snp_provider *prov;
	struct ids_policy pol;
	struct noise_keypair ids_key;
	struct agent_loop_stats st; /* at fx_stop */
} F;

static void *loop_thread(void *arg)
{
	(void)arg;
	F.rc = agent_loop_run(F.l);
	return NULL;
}

static void fx_start(unsigned max_hs, uint32_t hs_timeout_ms)
{
	ASSERT_EQ(fixture_err, 0);
	memset(&F, 0, sizeof F);
	char spec[200], why[256] = "", ark[200];
	snprintf(spec, sizeof spec, "sim:%s", sim_dir);
	ASSERT_EQ(snp_provider_open(spec, &F.prov, why, sizeof why), 0);
	ASSERT_EQ(noise_keypair_generate(&F.ids_key), 0);
	ASSERT_EQ(noise_keypair_generate(&F.chan.key), 0);
	memcpy(F.chan.allow[0], F.ids_key.pub, NOISE_DH_LEN);
	F.chan.nallow = 1;
	F.chan.attest = snp_provider_attest;
	F.chan.attest_ctx = F.prov;
	F.chan.handshake_timeout_ms = hs_timeout_ms;
	F.pol.key = F.ids_key;
	F.pol.peer.trust = snp_trust_new();
	snprintf(ark, sizeof ark, "%s/ark.pem", sim_dir);
	ASSERT(snp_trust_add_file(F.pol.peer.trust, ark) >= 1);

	F.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ASSERT(F.lfd >= 0);
	F.sa.sun_family = AF_UNIX;
	int n = snprintf(F.sa.sun_path + 1, sizeof F.sa.sun_path - 1, "sevmon-agent-channel-%d",
			 (int)getpid());
	F.salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	ASSERT_EQ(bind(F.lfd, (struct sockaddr *)&F.sa, F.salen), 0);
	ASSERT_EQ(listen(F.lfd, 64), 0);
	struct agent_loop_config cfg;
	agent_loop_config_init(&cfg);
	cfg.dispatch = echo_dispatch;
	cfg.listen_fds = &F.lfd;
	cfg.nlisten = 1;
	cfg.hooks = agent_channel_hooks(&F.chan);
	cfg.max_unauth = max_hs; /* 0: the default */
	ASSERT_EQ(agent_loop_new(&F.l, &cfg), 0);
	ASSERT_EQ(pthread_create(&F.th, NULL, loop_thread, NULL), 0);
}

static void fx_stop(void)
{
	agent_loop_stop(F.l);
	ASSERT_EQ(pthread_join(F.th, NULL), 0);
	ASSERT_EQ(F.rc, 0);
	agent_loop_get_stats(F.l, &F.st);
	agent_loop_free(F.l);
	close(F.lfd);
	ASSERT_EQ(F.chan.in_handshake, 0); /* every counted connection was uncounted */
	snp_provider_free(F.prov);
	ids_policy_free(&F.pol);
}

static int connect_raw(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT(fd >= 0);
	ASSERT_EQ(connect(fd, (struct sockaddr *)&F.sa, F.salen), 0);
	return fd;
}

/* 1 if the agent closed fd within ms. */
static int closed_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;
	return poll(&p, 1, ms) == 1 && recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One echo RPC through an established session. */
static void rpc_echo(int fd, struct session *s, uint32_t id)
{
	uint8_t msg[RPC_HDR_LEN + 8], ct[256], pt[256];
	struct rpc_hdr h = { .id = id, .method = 1, .flags = RPC_F_END, .total_len = 8 };
	rpc_hdr_write(msg, &h);
	memcpy(msg + RPC_HDR_LEN, "abcdefgh", 8);
	long n = session_seal(s, msg, sizeof msg, ct + 2, sizeof ct - 2);
	ASSERT(n > 0);
	ct[0] = (uint8_t)(n >> 8);
	ct[1] = (uint8_t)n;
	ASSERT_EQ(send(fd, ct, (size_t)n + 2, 0), n + 2);
	uint8_t hdr[2];
	ASSERT_EQ(recv(fd, hdr, 2, MSG_WAITALL), 2);
	size_t len = (size_t)hdr[0] << 8 | hdr[1];
	ASSERT(len <= sizeof ct);
	ASSERT_EQ(recv(fd, ct, len, MSG_WAITALL), (long)len);
	n = session_open(s, ct, len, pt, sizeof pt);
	ASSERT_EQ(n, RPC_HDR_LEN + 8);
	const uint8_t *frag;
	size_t flen;
	ASSERT_EQ(rpc_hdr_parse(pt, (size_t)n, &h, &frag, &flen), 0);
	ASSERT_EQ(h.id, id);
	ASSERT_EQ(h.status, 0);
	ASSERT_MEMEQ(frag, "abcdefgh", 8);
}

static struct session sess;

TEST(agent_channel_handshake_then_rpc)
{
	fx_start(0, 0);
	int fd = connect_raw();
	char why[256] = "";
	int rc = ids_session_handshake(fd, &sess, &F.pol, 5000, why, sizeof why);
	if (rc < 0)
		FAIL_AT("handshake: %s", why);
	rpc_echo(fd, &sess, 7);
	rpc_echo(fd, &sess, 8);
	ASSERT_EQ(F.chan.established, 1);
	session_wipe(&sess);
	close(fd);
	fx_stop();
}

TEST(agent_channel_unknown_ids_key_closed)
{
	fx_start(0, 0);
	ASSERT_EQ(noise_keypair_generate(&F.pol.key), 0); /* not on the allow-list */
	int fd = connect_raw();
	char why[256] = "";
	ASSERT_EQ(ids_session_handshake(fd, &sess, &F.pol, 5000, why, sizeof why),
		  SEVMON_ECONNRESET);
	ASSERT(strstr(why, "allow"));
	close(fd);
	fx_stop();
	ASSERT_EQ(F.chan.failed, 1);
	ASSERT_EQ(F.chan.established, 0);
}

/* A flood of connections that never send a byte (the attack: idle TCP connections held
 * open) evicts its own oldest: an established session is served, a handshake that has
 * sent its first message survives, and a new IDS gets through while the flood is held.
 * Every connection here comes from this process: one source, so the per-source bound
 * (capped at max_unauth) is the one that acts. */
TEST(agent_channel_half_open_flood_evicts_itself)
{
	enum { FLOOD = 12, MAX_HS = 3 };
	fx_start(MAX_HS, 400);
	int fd = connect_raw();
	char why[256] = "";
	int rc = ids_session_handshake(fd, &sess, &F.pol, 5000, why, sizeof why);
	if (rc < 0)
		FAIL_AT("handshake: %s", why);
	/* a handshake in progress: msg1 sent, msg2 read, msg3 not yet */
	int busy = connect_raw();
	uint8_t m1[2 + 32] = { 0, 32 }, m2[FRAME_MAX_BODY];
	memset(m1 + 2, 0x42, 32);
	ASSERT_EQ(send(busy, m1, sizeof m1, 0), (long)sizeof m1);
	ASSERT_EQ(recv(busy, m2, 2, MSG_WAITALL), 2);
	size_t m2len = (size_t)m2[0] << 8 | m2[1];
	ASSERT_EQ(recv(busy, m2, m2len, MSG_WAITALL), (long)m2len); /* all of msg2 read */
	int flood[FLOOD], evicted = 0, first_evicted = 1;
	for (int i = 0; i < FLOOD; i++) {
		flood[i] = connect_raw();
		usleep(2000); /* accepted in this order: "oldest" is well defined */
	}
	for (int i = 0; i < FLOOD; i++) {
		int e = closed_within(flood[i], 100);
		evicted += e;
		if (i < FLOOD - (MAX_HS - 1))
			first_evicted &= e; /* the oldest ones went */
	}
	/* the busy handshake holds one of the MAX_HS slots, the newest silent ones the rest */
	ASSERT_EQ(evicted, FLOOD - (MAX_HS - 1));
	ASSERT(first_evicted);
	ASSERT(!closed_within(busy, 50));
	double t0 = now_ms();
	rpc_echo(fd, &sess, 1); /* the established session is served during the flood */
	double dt = now_ms() - t0;
	printf("# rpc during a flood of %d half-open connections: %.2f ms\n", FLOOD, dt);
	ASSERT(dt < 1000);
	/* a new IDS gets through while the flood's survivors are still held */
	int fd2 = connect_raw();
	struct session s2;
	rc = ids_session_handshake(fd2, &s2, &F.pol, 5000, why, sizeof why);
	if (rc < 0)
		FAIL_AT("handshake during the flood: %s", why);
	rpc_echo(fd2, &s2, 2);
	/* the survivors and the stalled handshake are cut by the handshake deadline */
	int cut = closed_within(busy, 2000);
	for (int i = 0; i < FLOOD; i++) {
		if (i >= FLOOD - (MAX_HS - 1))
			cut += closed_within(flood[i], 2000);
		close(flood[i]);
	}
	close(busy);
	ASSERT_EQ(cut, MAX_HS);
	rpc_echo(fd, &sess, 3);
	session_wipe(&s2);
	session_wipe(&sess);
	close(fd2);
	close(fd);
	fx_stop();
	/* the new IDS evicted one more silent connection */
	ASSERT_EQ(F.st.evicted, (uint64_t)(FLOOD - (MAX_HS - 1) + 1));
	ASSERT_EQ(F.st.refused, 0);
	ASSERT_EQ(F.chan.established, 2);
}

TEST_MAIN()
