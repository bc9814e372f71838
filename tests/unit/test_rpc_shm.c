/*
 * test_rpc_shm.c — the RPC stack over shared memory between two host processes: the
 * agent loop (agent_loop_listen_shm, side B) in a forked child, the libuv RPC client
 * (rpc_client_connect_shm, side A) in the test process. The child's dispatch picks its
 * behaviour by method (M_*). A hostile side A is played with lib/xport/shm.h directly.
 * Built twice: over a /dev/shm file woken by futexes (test_rpc_shm), and with
 * RPC_SHM_BELL over the region and doorbells of an ivshmem server started by each case
 * in a child of its own (test_rpc_shm_bell).
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "agent_loop.h"
#include "clock.h"
#include "err.h"
#include "harness.h"
#include "ivshmem.h"
#include "rbuf.h"
#include "rpc_client.h"
#include "rpc_wire.h"
#include "shm.h"

enum {
	M_ECHO = 1,  /* reply with the payload */
	M_BIG = 2,   /* payload be32 n -> n bytes, byte i = i * 13 + 7 */
	M_SLEEP = 3, /* payload be32 ms -> sleep, then reply "slept" */
};

#define CONNECT_MS 5000
#define BIG_REPLY (3u * 1024u * 1024u + 12345u)

static char region_path[128];
static char region_uri[192];

#ifdef RPC_SHM_BELL
/* An ivshmem server for this case, in a child that dies with the case's process. */
static void name_region(void)
{
	int ready[2];
	pid_t parent = getpid();
	snprintf(region_path, sizeof region_path, "/tmp/sevmon-test-rpcshm-%d.sock", (int)parent);
	snprintf(region_uri, sizeof region_uri, "shm+ivshmem://%s", region_path);
	ASSERT_EQ(pipe(ready), 0);
	pid_t pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(3);
		close(ready[0]);
		int shm = memfd_create("rpcshm", MFD_CLOEXEC);
		struct ivshmem_server_cfg cfg = { region_path, shm, 1, 8 };
		struct ivshmem_server *srv;
		if (shm < 0 || ftruncate(shm, 1 << 20) < 0 || ivshmem_server_new(&cfg, &srv) < 0)
			_exit(2);
		if (write(ready[1], "r", 1) != 1)
			_exit(4);
		ivshmem_server_run(srv, -1);
		_exit(0);
	}
	close(ready[1]);
	char c;
	ASSERT_EQ(read(ready[0], &c, 1), 1);
	close(ready[0]);
}
#else
static void name_region(void)
{
	snprintf(region_path, sizeof region_path, "/dev/shm/sevmon-test-rpcshm-%d", (int)getpid());
	snprintf(region_uri, sizeof region_uri, "shm://%s?size=1M", region_path);
}
#endif

/* ---- the agent (child) ---- */

static int serve(void *ctx, const struct agent_request *req, struct wbuf *out, char *errmsg,
		 size_t errcap)
{
	(void)ctx;
	(void)errmsg;
	(void)errcap;
	switch (req->method) {
	case M_ECHO:
		return wbuf_put_bytes(out, req->payload, req->len);
	case M_BIG: {
		if (req->len != 4)
			return SEVMON_EINVAL;
		uint32_t n = load_be32(req->payload);
		if (n > out->cap)
			return SEVMON_ETOOBIG;
		for (uint32_t i = 0; i < n; i++)
			out->p[i] = (uint8_t)(i * 13u + 7u);
		out->len = n;
		return 0;
	}
	case M_SLEEP: {
		if (req->len != 4)
			return SEVMON_EINVAL;
		uint32_t ms = load_be32(req->payload);
		struct timespec ts = { (time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L };
		nanosleep(&ts, NULL);
		return wbuf_put_bytes(out, "slept", 5);
	}
	default:
		return SEVMON_EUNMETHOD;
	}
}

static pid_t start_agent(void)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	/* a failed assertion ends the test process: the agent must not outlive it (nor
	 * hold the TAP pipe open); the parent may be gone before the prctl */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(3);
	struct agent_loop_config cfg;
	struct agent_loop *l;
	agent_loop_config_init(&cfg);
	cfg.dispatch = serve;
	if (agent_loop_new(&l, &cfg) || agent_loop_listen_shm(l, region_uri))
		_exit(2);
	agent_loop_run(l);
	agent_loop_free(l);
	_exit(0);
}

static void stop_agent(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* ---- the client (test process) ---- */

struct result {
	int done;
	int status;
	size_t len;
	uint8_t *p;
	char errmsg[RPC_MAX_ERRMSG + 1];
};

static void on_reply(void *user, int status, const char *errmsg, const uint8_t *payload,
		     size_t len)
{
	struct result *r = user;
	r->done = 1;
	r->status = status;
	r->len = len;
	snprintf(r->errmsg, sizeof r->errmsg, "%s", errmsg);
	if (payload && len) {
		r->p = malloc(len);
		memcpy(r->p, payload, len);
	}
}

static int disc_reason;
static void on_disc(void *arg, int reason)
{
	(void)arg;
	disc_reason = reason;
}

/* Runs the loop until *flag or ms pass; returns *flag. */
static void on_tick(uv_timer_t *t) { (void)t; }

/* Run the loop until *flag or ms pass. A client on a doorbell has no timers of its own, so
 * a tick keeps UV_RUN_ONCE from sleeping past the end. */
static int run_until(uv_loop_t *loop, const int *flag, int ms)
{
	int64_t end = shm_deadline_after_ms(ms);
	uv_timer_t tick;
	uv_timer_init(loop, &tick);
	uv_timer_start(&tick, on_tick, 1, 1);
	while (!*flag && clock_mono_ns() < end)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&tick, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	return *flag;
}

static struct rpc_client *connect_client(uv_loop_t *loop)
{
	struct rpc_client *c = NULL;
	int rc = rpc_client_connect_shm(loop, region_uri, CONNECT_MS, NULL, &c);
	if (rc)
		fprintf(stderr, "# connect: %s\n", sevmon_errname(rc));
	if (c)
		rpc_client_on_disconnect(c, on_disc, NULL);
	return c;
}

static void close_client(uv_loop_t *loop, struct rpc_client *c)
{
	rpc_client_close(c, NULL, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
}

static int echo_ok(uv_loop_t *loop, struct rpc_client *c, const char *text)
{
	struct result r = { 0 };
	if (rpc_client_call(c, M_ECHO, (const uint8_t *)text, strlen(text), 5000, on_reply, &r,
			    NULL))
		return 0;
	run_until(loop, &r.done, 6000);
	int ok = r.done && r.status == 0 && r.len == strlen(text) && memcmp(r.p, text, r.len) == 0;
	free(r.p);
	return ok;
}

TEST(rpc_shm_call_roundtrip)
{
	uv_loop_t loop;
	name_region();
	pid_t agent = start_agent();
	uv_loop_init(&loop);
	struct rpc_client *c = connect_client(&loop);
	ASSERT(c != NULL);
	ASSERT(echo_ok(&loop, c, "hello over shared memory"));

	struct result r = { 0 };
	ASSERT_EQ(rpc_client_call(c, 77, NULL, 0, 0, on_reply, &r, NULL), 0);
	ASSERT(run_until(&loop, &r.done, 5000));
	ASSERT_EQ(r.status, SEVMON_EUNMETHOD); /* an agent error travels back as one */
	struct rpc_client_stats st;
	rpc_client_get_stats(c, &st);
	ASSERT_UEQ(st.requests, 2);
	ASSERT_UEQ(st.replies, 2);
	ASSERT(st.bytes_sent > 2 * RPC_HDR_LEN);
	close_client(&loop, c);
	ASSERT_EQ(uv_loop_close(&loop), 0);
	stop_agent(agent);
	unlink(region_path);
}

#define INFLIGHT 1000
static struct result many[INFLIGHT];

TEST(rpc_shm_call_1000_in_flight)
{
	uv_loop_t loop;
	uint8_t pl[INFLIGHT][8];
	name_region();
	pid_t agent = start_agent();
	uv_loop_init(&loop);
	struct rpc_client *c = connect_client(&loop);
	ASSERT(c != NULL);
	for (int i = 0; i < INFLIGHT; i++) {
		store_be32(pl[i], (uint32_t)i * 2654435761u);
		store_be32(pl[i] + 4, (uint32_t)i);
		ASSERT_EQ(rpc_client_call(c, M_ECHO, pl[i], sizeof pl[i], 10000, on_reply,
					  &many[i], NULL), 0);
	}
	int all = 0;
	int64_t end = shm_deadline_after_ms(10000);
	while (!all && clock_mono_ns() < end) {
		uv_run(&loop, UV_RUN_ONCE);
		all = 1;
		for (int i = 0; i < INFLIGHT && all; i++)
			all = many[i].done;
	}
	ASSERT(all);
	for (int i = 0; i < INFLIGHT; i++) {
		ASSERT_EQ(many[i].status, 0);
		ASSERT_UEQ(many[i].len, sizeof pl[i]);
		ASSERT(memcmp(many[i].p, pl[i], sizeof pl[i]) == 0);
		free(many[i].p);
	}
	close_client(&loop, c);
	uv_loop_close(&loop);
	stop_agent(agent);
	unlink(region_path);
}

TEST(rpc_shm_call_big_reply_fragmented)
{
	uv_loop_t loop;
	uint8_t pl[4];
	name_region();
	pid_t agent = start_agent();
	uv_loop_init(&loop);
	struct rpc_client *c = connect_client(&loop);
	ASSERT(c != NULL);
	for (int round = 0; round < 2; round++) { /* twice: the rings wrap */
		struct result r = { 0 };
		store_be32(pl, BIG_REPLY);
		ASSERT_EQ(rpc_client_call(c, M_BIG, pl, 4, 10000, on_reply, &r, NULL), 0);
		ASSERT(run_until(&loop, &r.done, 11000));
		ASSERT_EQ(r.status, 0);
		ASSERT_UEQ(r.len, BIG_REPLY);
		for (uint32_t i = 0; i < BIG_REPLY; i++)
			if (r.p[i] != (uint8_t)(i * 13u + 7u))
				FAIL_AT("byte %u of the reply is %u", i, r.p[i]);
		free(r.p);
	}
	struct rpc_client_stats st;
	rpc_client_get_stats(c, &st);
	/* more than 2 * 3 MiB came through rings of 512 KiB: fragmented, and flow-controlled */
	ASSERT(st.bytes_received > 2ull * BIG_REPLY);
	close_client(&loop, c);
	uv_loop_close(&loop);
	stop_agent(agent);
	unlink(region_path);
}

TEST(rpc_shm_cancel_running_request_late_reply_dropped)
{
	uv_loop_t loop;
	uint8_t pl[4];
	uint32_t id;
	name_region();
	pid_t agent = start_agent();
	uv_loop_init(&loop);
	struct rpc_client *c = connect_client(&loop);
	ASSERT(c != NULL);
	struct result r = { 0 };
	store_be32(pl, 150);
	ASSERT_EQ(rpc_client_call(c, M_SLEEP, pl, 4, 0, on_reply, &r, &id), 0);
	int t = 0;
	run_until(&loop, &t, 30); /* the agent is running it now */
	ASSERT_EQ(rpc_client_cancel(c, id), 0);
	ASSERT(r.done);
	ASSERT_EQ(r.status, SEVMON_ECANCELED);
	ASSERT_EQ(rpc_client_cancel(c, id), SEVMON_ENOENT);
	/* replies come in order: the canceled one's late reply first, dropped */
	ASSERT(echo_ok(&loop, c, "still here"));
	struct rpc_client_stats st;
	rpc_client_get_stats(c, &st);
	ASSERT_UEQ(st.cancels, 1);
	ASSERT_UEQ(st.dropped, 1);
	close_client(&loop, c);
	uv_loop_close(&loop);
	stop_agent(agent);
	unlink(region_path);
}

TEST(rpc_shm_cancel_queued_request_never_runs)
{
	uv_loop_t loop;
	uint8_t pl[4];
	uint32_t id2;
	name_region();
	pid_t agent = start_agent();
	uv_loop_init(&loop);
	struct rpc_client *c = connect_client(&loop);
	ASSERT(c != NULL);
	ASSERT(echo_ok(&loop, c, "warm"));
	/* request and CANCEL leave in one pump, so the agent reads both before it runs
	 * either: the second never runs (else the echo would wait for its 300 ms too) */
	struct result r1 = { 0 }, r2 = { 0 };
	store_be32(pl, 300);
	int64_t t0 = clock_mono_ns();
	ASSERT_EQ(rpc_client_call(c, M_SLEEP, pl, 4, 0, on_reply, &r1, NULL), 0);
	ASSERT_EQ(rpc_client_call(c, M_SLEEP, pl, 4, 0, on_reply, &r2, &id2), 0);
	ASSERT_EQ(rpc_client_cancel(c, id2), 0);
	ASSERT_EQ(r2.status, SEVMON_ECANCELED);
	ASSERT(echo_ok(&loop, c, "next"));
	ASSERT(r1.done);
	ASSERT_EQ(r1.status, 0);
	free(r1.p);
	ASSERT(clock_mono_ns() - t0 < 550 * 1000000LL);
	struct rpc_client_stats st;
	rpc_client_get_stats(c, &st);
	ASSERT_UEQ(st.dropped, 0); /* no late reply for the canceled one */
	close_client(&loop, c);
	uv_loop_close(&loop);
	stop_agent(agent);
	unlink(region_path);
}

TEST(rpc_shm_call_deadline_times_out)
{
	uv_loop_t loop;
	uint8_t pl[4];
	name_region();
	pid_t agent = start_agent();
	uv_loop_init(&loop);
	struct rpc_client *c = connect_client(&loop);
	ASSERT(c != NULL);
	struct result r = { 0 };
	store_be32(pl, 400);
	int64_t t0 = clock_mono_ns();
	ASSERT_EQ(rpc_client_call(c, M_SLEEP, pl, 4, 60, on_reply, &r, NULL), 0);
	ASSERT(run_until(&loop, &r.done, 5000));
	ASSERT_EQ(r.status, SEVMON_ETIMEDOUT);
	ASSERT(clock_mono_ns() - t0 < 300 * 1000000LL);
	/* the late reply is dropped, the connection carries on */
	ASSERT(echo_ok(&loop, c, "after the deadline"));
	struct rpc_client_stats st;
	rpc_client_get_stats(c, &st);
	ASSERT_UEQ(st.timeouts, 1);
	close_client(&loop, c);
	uv_loop_close(&loop);
	stop_agent(agent);
	unlink(region_path);
}

TEST(rpc_shm_agent_restart_resets_then_reconnects)
{
	uv_loop_t loop;
	uint8_t pl[4];
	name_region();
	pid_t agent = start_agent();
	uv_loop_init(&loop);
	struct rpc_client *c = connect_client(&loop);
	ASSERT(c != NULL);
	ASSERT(echo_ok(&loop, c, "before"));
	/* a pending call when the agent dies: it fails with the connection */
	struct result r = { 0 };
	store_be32(pl, 2000);
	ASSERT_EQ(rpc_client_call(c, M_SLEEP, pl, 4, 0, on_reply, &r, NULL), 0);
	int t = 0;
	run_until(&loop, &t, 30);
	stop_agent(agent); /* killed: it cannot say goodbye; its successor's attach tells */
	disc_reason = 0;
	agent = start_agent();
	ASSERT(run_until(&loop, &r.done, 5000));
	ASSERT_EQ(r.status, SEVMON_ECONNRESET);
	ASSERT_EQ(disc_reason, SEVMON_ECONNRESET);
	close_client(&loop, c);
	c = connect_client(&loop);
	ASSERT(c != NULL);
	ASSERT(echo_ok(&loop, c, "after the agent restarted"));
	close_client(&loop, c);
	uv_loop_close(&loop);
	stop_agent(agent);
	unlink(region_path);
}

TEST(rpc_shm_client_restart_gets_fresh_session)
{
	uv_loop_t loop;
	name_region();
	pid_t agent = start_agent();
	uv_loop_init(&loop);
	for (int i = 0; i < 3; i++) {
		struct rpc_client *c = connect_client(&loop);
		ASSERT(c != NULL);
		ASSERT(echo_ok(&loop, c, i ? "again" : "first"));
		close_client(&loop, c); /* ends the session; the agent re-attaches */
	}
	/* a client that vanishes without closing: its successor's attach resets the agent */
	struct shm_conn sc;
	struct shm_region rg;
	ASSERT_EQ(shm_conn_open(&sc, &rg, region_uri, SHM_SIDE_A, shm_deadline_after_ms(5000)), 0);
	shm_region_unmap(&rg);
	struct rpc_client *c = connect_client(&loop);
	ASSERT(c != NULL);
	ASSERT(echo_ok(&loop, c, "after a vanished client"));
	close_client(&loop, c);
	uv_loop_close(&loop);
	stop_agent(agent);
	unlink(region_path);
}

/* A hostile side A: garbage costs it its session, and the next client is served. */
TEST(rpc_shm_hostile_client_costs_only_its_session)
{
	uv_loop_t loop;
	struct shm_conn sc;
	struct shm_region rg;
	uint8_t junk[300], buf[FRAME_MAX_BODY];
	name_region();
	pid_t agent = start_agent();
	uv_loop_init(&loop);

	/* 1: a frame that is not an envelope: the agent closes the session (we see a reset) */
	ASSERT_EQ(shm_conn_open(&sc, &rg, region_uri, SHM_SIDE_A, shm_deadline_after_ms(5000)), 0);
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (uint8_t)(i * 31u + 5u);
	junk[6] = 0xff; /* unknown flags */
	ASSERT_EQ(shm_conn_send(&sc, junk, sizeof junk, shm_deadline_after_ms(1000)), 0);
	ASSERT_EQ(shm_conn_recv(&sc, buf, sizeof buf, shm_deadline_after_ms(3000)),
		  SEVMON_ECONNRESET);
	shm_region_unmap(&rg);

	/* 2: a ring index no honest peer writes: head far past what the ring holds */
	ASSERT_EQ(shm_conn_open(&sc, &rg, region_uri, SHM_SIDE_A, shm_deadline_after_ms(5000)), 0);
	atomic_store((_Atomic uint32_t *)(rg.base + SHM_OFF_AB_HEAD), 0x7fff0000u);
	shm_notify_peer(&sc); /* a doorbell peer must ring to be looked at */
	ASSERT_EQ(shm_conn_recv(&sc, buf, sizeof buf, shm_deadline_after_ms(3000)),
		  SEVMON_ECONNRESET);
	shm_region_unmap(&rg);

	/* 3: a record whose length overruns what was published */
	ASSERT_EQ(shm_conn_open(&sc, &rg, region_uri, SHM_SIDE_A, shm_deadline_after_ms(5000)), 0);
	uint32_t ab_off = load_le32(rg.base + SHM_OFF_AB_OFF);
	rg.base[ab_off] = 0xff;
	rg.base[ab_off + 1] = 0xff;
	atomic_store((_Atomic uint32_t *)(rg.base + SHM_OFF_AB_HEAD), 10u);
	shm_notify_peer(&sc);
	ASSERT_EQ(shm_conn_recv(&sc, buf, sizeof buf, shm_deadline_after_ms(3000)),
		  SEVMON_ECONNRESET);
	shm_region_unmap(&rg);

	struct rpc_client *c = connect_client(&loop);
	ASSERT(c != NULL);
	ASSERT(echo_ok(&loop, c, "served after three hostile sessions"));
	close_client(&loop, c);
	uv_loop_close(&loop);
	stop_agent(agent);
	unlink(region_path);
}

TEST(rpc_shm_open_shm_refuses_side_b_session)
{
	uv_loop_t loop;
	struct shm_conn sc;
	struct rpc_client *c = (struct rpc_client *)&loop;
	memset(&sc, 0, sizeof sc);
	sc.side = SHM_SIDE_B;
	sc.up = 1;
	uv_loop_init(&loop);
	ASSERT_EQ(rpc_client_open_shm(&loop, &sc, NULL, NULL, &c), SEVMON_EINVAL);
	ASSERT(c == NULL);
	sc.side = SHM_SIDE_A;
	sc.up = 0;
	ASSERT_EQ(rpc_client_open_shm(&loop, &sc, NULL, NULL, &c), SEVMON_EINVAL);
	ASSERT_EQ(uv_loop_close(&loop), 0);
}

TEST(rpc_shm_listen_bad_uri_refused)
{
	struct agent_loop_config cfg;
	struct agent_loop *l;
	agent_loop_config_init(&cfg);
	cfg.dispatch = serve;
	ASSERT_EQ(agent_loop_new(&l, &cfg), 0);
	ASSERT_EQ(agent_loop_listen_shm(l, "shm://relative/path"), SEVMON_EURI);
	ASSERT_EQ(agent_loop_listen_shm(l, "shm:///nonexistent-dir/x/y"), SEVMON_ENOENT);
	agent_loop_free(l);
}

TEST_MAIN()
