/* Connections over a real /dev/shm region: URIs, attach, data both ways, resets,
 * deadlines, wake-up, and two processes moving 100,000 frames each way. */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "clock.h"
#include "err.h"
#include "frame.h"
#include "harness.h"
#include "rbuf.h"
#include "shm.h"

static char path[128];
static uint8_t in[FRAME_MAX_BODY], out[FRAME_MAX_BODY];

/* A fresh region, mapped; the file is unlinked at once (the mapping stays valid), so a
 * failing case leaves nothing behind in /dev/shm. */
static void region_new(struct shm_region *r, size_t size)
{
	static int n;
	snprintf(path, sizeof path, "/dev/shm/sevmon-test-conn-%d-%d", (int)getpid(), n++);
	unlink(path);
	ASSERT_EQ(shm_region_map(r, path, size, SHM_MAP_CREATE), 0);
	unlink(path);
}

static struct shm_opts opts_spin0(enum shm_wake w)
{
	struct shm_opts o;
	shm_opts_default(&o, w);
	o.spin_ns = 0;
	return o;
}

/* Both sides in one process, attached with non-blocking steps. */
static void pair_up(struct shm_region *r, struct shm_conn *a, struct shm_conn *b)
{
	struct shm_opts o = opts_spin0(SHM_WAKE_FUTEX);
	ASSERT_EQ(shm_conn_attach_start(b, r, SHM_SIDE_B, &o), 0);
	ASSERT_EQ(shm_conn_attach_start(a, r, SHM_SIDE_A, &o), 0);
	int ra = 0, rb = 0;
	for (int i = 0; i < 10 && !(ra == 1 && rb == 1); i++) {
		ra = shm_conn_attach_step(a);
		rb = shm_conn_attach_step(b);
		ASSERT(ra >= 0 && rb >= 0);
	}
	ASSERT_EQ(ra, 1);
	ASSERT_EQ(rb, 1);
}

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
}

TEST(shm_uri_parse_host_file)
{
	struct shm_uri u;
	ASSERT_EQ(shm_uri_parse("shm:///dev/shm/sevmon-x", &u), 0);
	ASSERT_STREQ(u.path, "/dev/shm/sevmon-x");
	ASSERT_EQ(u.size, SHM_REGION_DEFAULT);
	ASSERT_EQ(u.wake, SHM_WAKE_FUTEX);
	ASSERT(u.may_create);
	ASSERT_EQ(shm_uri_parse("shm:///dev/shm/y?size=4M&wake=poll", &u), 0);
	ASSERT_STREQ(u.path, "/dev/shm/y");
	ASSERT_EQ(u.size, 4u << 20);
	ASSERT_EQ(u.wake, SHM_WAKE_POLL);
	ASSERT_EQ(shm_uri_parse("shm:///dev/shm/z?size=524288", &u), 0);
	ASSERT_EQ(u.size, 524288);
}

TEST(shm_uri_parse_pci_bar2)
{
	struct shm_uri u;
	ASSERT_EQ(shm_uri_parse("shm+pci://0000:00:04.0", &u), 0);
	ASSERT_STREQ(u.path, "/sys/bus/pci/devices/0000:00:04.0/resource2");
	ASSERT_EQ(u.wake, SHM_WAKE_POLL);
	ASSERT(!u.may_create);
	ASSERT_EQ(shm_uri_parse("shm+pci://0000:00:1f.7?wake=futex", &u), 0);
	ASSERT_EQ(u.wake, SHM_WAKE_FUTEX);
}

TEST(shm_uri_parse_ivshmem_and_doorbell)
{
	struct shm_uri u;
	ASSERT_EQ(shm_uri_parse("shm+ivshmem:///run/sevmon/ivs.sock", &u), 0);
	ASSERT_STREQ(u.path, "/run/sevmon/ivs.sock");
	ASSERT(u.ivshmem);
	ASSERT_EQ(u.wake, SHM_WAKE_BELL);
	ASSERT_EQ(u.spin_us, 0);
	ASSERT_EQ(shm_uri_parse("shm+ivshmem:///run/ivs.sock?spin=300", &u), 0);
	ASSERT_STREQ(u.path, "/run/ivs.sock");
	ASSERT_EQ(u.spin_us, 300);
	ASSERT_EQ(shm_uri_parse("shm+pci://0000:00:02.0?wake=doorbell&spin=0", &u), 0);
	ASSERT_EQ(u.wake, SHM_WAKE_BELL);
	ASSERT(!u.ivshmem);
	ASSERT_EQ(shm_uri_parse("shm:///dev/shm/x?spin=5", &u), 0);
	ASSERT_EQ(u.spin_us, 5);
}

TEST(shm_uri_parse_bad_rejected)
{
	static const char *const bad[] = {
		"shm://", "shm://dev/shm/x", "shm:///dev/shm/", "shm:///dev/shm/../etc/passwd",
		"shm:///dev/shm/x/..", "shm:///dev/shm/x?size=1K", "shm:///dev/shm/x?size=64G",
		"shm:///dev/shm/x?size=1X", "shm:///dev/shm/x?size=", "shm:///dev/shm/x?colour=red",
		"shm+pci://0000:00:04", "shm+pci://0000:00:04.0/../../x", "shm+pci://00:04.0",
		"shm+pci://0000:00:04.0?size=1M", "tcp://1.2.3.4:5", "", NULL,
		"shm+ivshmem://", "shm+ivshmem://rel.sock", "shm+ivshmem:///x/../y.sock",
		"shm+ivshmem:///x.sock?size=1M", "shm+ivshmem:///x.sock?wake=poll",
		"shm+ivshmem:///x.sock?spin=1&spin=2", "shm:///dev/shm/x?wake=doorbell",
		"shm:///dev/shm/x?spin=100001", "shm:///dev/shm/x?spin=-1", "shm:///dev/shm/x?spin=",
	};
	struct shm_uri u;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (shm_uri_parse(bad[i], &u) != SEVMON_EURI)
			FAIL_AT("accepted %s", bad[i] ? bad[i] : "(null)");
}

TEST(shm_region_map_creates_and_formats)
{
	struct shm_region r;
	region_new(&r, SHM_REGION_DEFAULT);
	ASSERT_EQ(r.len, SHM_REGION_DEFAULT);
	struct shm_geom g;
	ASSERT_EQ(shm_region_check(&r, &g), SEVMON_ENOENT); /* zero-filled: not formatted */
	ASSERT_EQ(shm_region_format(&r), 0);
	ASSERT_EQ(shm_region_check(&r, &g), 0);
	ASSERT_EQ(g.ab_off, SHM_HDR_SIZE);
	ASSERT_EQ(g.ab_size, 256u * 1024);
	ASSERT_EQ(g.ba_off, SHM_HDR_SIZE + 256u * 1024);
	ASSERT_EQ(g.ba_size, 512u * 1024);
	ASSERT_EQ(load_le32(r.base + SHM_OFF_MAGIC), SHM_MAGIC);
	ASSERT_MEMEQ(r.base, "SSHM", 4);
	shm_region_unmap(&r);
	ASSERT(r.base == NULL);
}

TEST(shm_region_map_missing_file)
{
	struct shm_region r;
	ASSERT_EQ(shm_region_map(&r, "/dev/shm/sevmon-test-does-not-exist", 0, 0), SEVMON_ENOENT);
	ASSERT_EQ(shm_region_map(&r, "/dev/shm/sevmon-test-x", 4096, SHM_MAP_CREATE), SEVMON_EINVAL);
	unlink("/dev/shm/sevmon-test-x");
}

TEST(shm_region_map_refuses_symlink_and_fifo)
{
	struct shm_region r;
	char target[128];
	snprintf(path, sizeof path, "/dev/shm/sevmon-test-link-%d", (int)getpid());
	snprintf(target, sizeof target, "/dev/shm/sevmon-test-target-%d", (int)getpid());
	unlink(path);
	ASSERT_EQ(symlink(target, path), 0);
	ASSERT_EQ(shm_region_map(&r, path, SHM_REGION_DEFAULT, SHM_MAP_CREATE), SEVMON_EDENIED);
	ASSERT_EQ(access(target, F_OK), -1); /* nothing created through the link */
	unlink(path);
	ASSERT_EQ(mkfifo(path, 0600), 0);
	ASSERT_EQ(shm_region_map(&r, path, SHM_REGION_DEFAULT, SHM_MAP_CREATE), SEVMON_EINVAL);
	unlink(path);
}

TEST(shm_conn_attach_send_recv_both_ways)
{
	struct shm_region r;
	struct shm_conn a, b;
	region_new(&r, SHM_REGION_DEFAULT);
	pair_up(&r, &a, &b);
	ASSERT_EQ(shm_conn_peer_epoch(&a), shm_conn_epoch(&b));
	ASSERT_EQ(shm_conn_peer_epoch(&b), shm_conn_epoch(&a));
	fill(in, 1000, 1);
	ASSERT_EQ(shm_conn_send_nb(&a, in, 1000), 1000);
	ASSERT_EQ(shm_conn_recv_nb(&a, out, sizeof out), 0); /* A does not hear itself */
	ASSERT_EQ(shm_conn_recv_nb(&b, out, sizeof out), 1000);
	ASSERT_MEMEQ(in, out, 1000);
	fill(in, 7, 2);
	ASSERT_EQ(shm_conn_send(&b, in, 7, shm_deadline_after_ms(1000)), 0);
	ASSERT_EQ(shm_conn_recv(&a, out, sizeof out, shm_deadline_after_ms(1000)), 7);
	ASSERT_MEMEQ(in, out, 7);
	ASSERT_EQ(shm_conn_check(&a), 0);
	ASSERT_EQ(shm_conn_check(&b), 0);
}

TEST(shm_conn_attach_second_session_bumps_epoch)
{
	struct shm_region r;
	struct shm_conn a, b;
	region_new(&r, SHM_REGION_DEFAULT);
	pair_up(&r, &a, &b);
	uint32_t ea = shm_conn_epoch(&a), eb = shm_conn_epoch(&b);
	ASSERT_EQ(shm_conn_send_nb(&a, "stale", 5), 5);
	pair_up(&r, &a, &b);
	ASSERT_EQ(shm_conn_epoch(&a), ea + 1);
	ASSERT_EQ(shm_conn_epoch(&b), eb + 1);
	ASSERT_EQ(shm_conn_recv_nb(&b, out, sizeof out), 0); /* the new session starts empty */
}

TEST(shm_conn_peer_restart_gives_connreset)
{
	struct shm_region r;
	struct shm_conn a, b, b2;
	region_new(&r, SHM_REGION_DEFAULT);
	pair_up(&r, &a, &b);
	ASSERT_EQ(shm_conn_send_nb(&b, "old", 3), 3);
	/* B restarts: a new attach on the same region */
	struct shm_opts o = opts_spin0(SHM_WAKE_FUTEX);
	ASSERT_EQ(shm_conn_attach_start(&b2, &r, SHM_SIDE_B, &o), 0);
	ASSERT_EQ(shm_conn_recv_nb(&a, out, sizeof out), SEVMON_ECONNRESET);
	ASSERT_EQ(shm_conn_send_nb(&a, "x", 1), SEVMON_ECONNRESET); /* latched */
	ASSERT_EQ(shm_conn_attach_step(&b2), 0); /* A has not acknowledged yet */
	/* A re-attaches; both come up and the old frame is gone */
	ASSERT_EQ(shm_conn_attach_start(&a, &r, SHM_SIDE_A, &o), 0);
	int ra = 0, rb = 0;
	for (int i = 0; i < 10 && !(ra == 1 && rb == 1); i++) {
		ra = shm_conn_attach_step(&a);
		rb = shm_conn_attach_step(&b2);
	}
	ASSERT_EQ(ra, 1);
	ASSERT_EQ(rb, 1);
	ASSERT_EQ(shm_conn_recv_nb(&a, out, sizeof out), 0);
	ASSERT_EQ(shm_conn_send_nb(&b2, "new", 3), 3);
	ASSERT_EQ(shm_conn_recv_nb(&a, out, sizeof out), 3);
	ASSERT_MEMEQ(out, "new", 3);
}

TEST(shm_conn_close_drains_then_connreset)
{
	struct shm_region r;
	struct shm_conn a, b;
	region_new(&r, SHM_REGION_DEFAULT);
	pair_up(&r, &a, &b);
	ASSERT_EQ(shm_conn_send_nb(&b, "last", 4), 4);
	shm_conn_close(&b);
	ASSERT_EQ(shm_conn_send_nb(&a, "x", 1), SEVMON_ECONNRESET);
	struct shm_conn a2;
	pair_up(&r, &a2, &b); /* fresh session */
	ASSERT_EQ(shm_conn_send_nb(&b, "last", 4), 4);
	shm_conn_close(&b);
	ASSERT_EQ(shm_conn_wait(&a2, SHM_READABLE | SHM_WRITABLE, 10, shm_deadline_after_ms(100)),
		  SHM_READABLE);
	ASSERT_EQ(shm_conn_recv_nb(&a2, out, sizeof out), 4);
	ASSERT_MEMEQ(out, "last", 4);
	ASSERT_EQ(shm_conn_recv_nb(&a2, out, sizeof out), SEVMON_ECONNRESET);
}

TEST(shm_conn_send_peer_never_consumes_times_out)
{
	struct shm_region r;
	struct shm_conn a, b;
	region_new(&r, SHM_REGION_DEFAULT);
	pair_up(&r, &a, &b);
	int n = 0;
	while (shm_conn_send_nb(&a, in, 60000) > 0)
		n++;
	ASSERT_EQ(n, 4); /* 256 KiB ring */
	int64_t t0 = clock_mono_ns();
	ASSERT_EQ(shm_conn_send(&a, in, 60000, t0 + 50 * 1000000), SEVMON_ETIMEDOUT);
	int64_t el = clock_mono_ns() - t0;
	ASSERT(el >= 50 * 1000000 && el < 2000 * 1000000ll);
	ASSERT_EQ(shm_conn_check(&a), 0); /* a timeout is not fatal */
}

TEST(shm_conn_recv_empty_times_out_poll_mode)
{
	struct shm_region r;
	struct shm_conn a, b;
	region_new(&r, SHM_REGION_DEFAULT);
	pair_up(&r, &a, &b);
	a.opt = opts_spin0(SHM_WAKE_POLL);
	int64_t t0 = clock_mono_ns();
	ASSERT_EQ(shm_conn_recv(&a, out, sizeof out, t0 + 30 * 1000000), SEVMON_ETIMEDOUT);
	ASSERT(clock_mono_ns() - t0 >= 30 * 1000000);
}

TEST(shm_conn_attach_without_peer_times_out)
{
	struct shm_region r;
	struct shm_conn a, b;
	region_new(&r, SHM_REGION_DEFAULT);
	/* not formatted: A waits for B to format */
	ASSERT_EQ(shm_conn_attach(&a, &r, SHM_SIDE_A, NULL, shm_deadline_after_ms(20)), SEVMON_ETIMEDOUT);
	/* formatted, B never acknowledges */
	ASSERT_EQ(shm_region_format(&r), 0);
	ASSERT_EQ(shm_conn_attach(&a, &r, SHM_SIDE_A, NULL, shm_deadline_after_ms(20)), SEVMON_ETIMEDOUT);
	/* B alone */
	ASSERT_EQ(shm_conn_attach(&b, &r, SHM_SIDE_B, NULL, shm_deadline_after_ms(20)), SEVMON_ETIMEDOUT);
}

TEST(shm_conn_poll_timeout_backs_off_while_idle)
{
	struct shm_region r;
	struct shm_conn a, b;
	region_new(&r, SHM_REGION_DEFAULT);
	pair_up(&r, &a, &b);
	ASSERT_EQ(shm_conn_poll_timeout_ms(&a, 0), 1);
	ASSERT_EQ(shm_conn_poll_timeout_ms(&a, 0), 2);
	ASSERT_EQ(shm_conn_poll_timeout_ms(&a, 0), SHM_LOOP_MAX_MS_DEFAULT);
	ASSERT_EQ(shm_conn_poll_timeout_ms(&a, 0), SHM_LOOP_MAX_MS_DEFAULT);
	ASSERT_EQ(shm_conn_poll_timeout_ms(&a, 100), 0); /* writable is progress */
	ASSERT_EQ(shm_conn_send_nb(&b, "hi", 2), 2);
	ASSERT_EQ(shm_conn_poll_timeout_ms(&a, 0), 0);
	ASSERT_EQ(shm_conn_recv_nb(&a, out, sizeof out), 2);
	ASSERT_EQ(shm_conn_poll_timeout_ms(&a, 0), 1);
	shm_conn_close(&b);
	ASSERT_EQ(shm_conn_poll_timeout_ms(&a, 0), 0); /* the reset is news too */
	ASSERT_EQ(shm_conn_recv_nb(&a, out, sizeof out), SEVMON_ECONNRESET);
}

/* How the agent's poll(2) loop drives the region: sleep at most poll_timeout_ms, then
 * drain without blocking. The child sends in bursts with pauses. */
TEST(shm_conn_poll_loop_receives_everything)
{
	struct shm_region r;
	region_new(&r, SHM_REGION_DEFAULT);
	pid_t pid = fork();
	ASSERT(pid >= 0);
	struct shm_opts o = opts_spin0(SHM_WAKE_POLL);
	if (pid == 0) {
		struct shm_conn b;
		if (shm_conn_attach(&b, &r, SHM_SIDE_B, &o, shm_deadline_after_ms(5000)) != 0)
			_exit(10);
		for (int i = 0; i < 40; i++) {
			fill(in, 100 + (size_t)i, (uint64_t)i);
			if (shm_conn_send(&b, in, 100 + (size_t)i, shm_deadline_after_ms(5000)) != 0)
				_exit(11);
			if (i % 8 == 7)
				usleep(3000);
		}
		_exit(0);
	}
	struct shm_conn a;
	ASSERT_EQ(shm_conn_attach(&a, &r, SHM_SIDE_A, &o, shm_deadline_after_ms(5000)), 0);
	int got = 0, sleeps = 0;
	int64_t end = shm_deadline_after_ms(10000);
	while (got < 40 && clock_mono_ns() < end) {
		int ms = shm_conn_poll_timeout_ms(&a, 0);
		ASSERT(ms >= 0 && ms <= SHM_LOOP_MAX_MS_DEFAULT);
		if (ms > 0) {
			poll(NULL, 0, ms); /* the loop's other fds would go here */
			sleeps++;
			continue;
		}
		int n;
		while ((n = shm_conn_recv_nb(&a, out, sizeof out)) > 0) {
			fill(in, 100 + (size_t)got, (uint64_t)got);
			ASSERT_EQ(n, 100 + got);
			ASSERT_MEMEQ(in, out, (size_t)n);
			got++;
		}
		ASSERT_EQ(n, 0);
	}
	ASSERT_EQ(got, 40);
	ASSERT(sleeps > 0);
	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

TEST(shm_conn_open_uri_two_processes)
{
	char uri[160];
	snprintf(path, sizeof path, "/dev/shm/sevmon-test-open-%d", (int)getpid());
	snprintf(uri, sizeof uri, "shm://%s?size=512K", path);
	unlink(path);
	pid_t pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		usleep(20000); /* A starts first and waits for the file */
		struct shm_region r;
		struct shm_conn b;
		if (shm_conn_open(&b, &r, uri, SHM_SIDE_B, shm_deadline_after_ms(5000)) != 0)
			_exit(10);
		int n = shm_conn_recv(&b, out, sizeof out, shm_deadline_after_ms(5000));
		if (n != 4 || shm_conn_send(&b, "pong", 4, shm_deadline_after_ms(5000)) != 0)
			_exit(11);
		_exit(0);
	}
	struct shm_region r;
	struct shm_conn a;
	ASSERT_EQ(shm_conn_open(&a, &r, uri, SHM_SIDE_A, shm_deadline_after_ms(5000)), 0);
	unlink(path);
	ASSERT_EQ(r.len, 512 * 1024);
	ASSERT_EQ(a.tx.size, 128 * 1024); /* requests 128 KiB, replies 256 KiB */
	ASSERT_EQ(a.rx.size, 256 * 1024);
	ASSERT_EQ(shm_conn_send(&a, "ping", 4, shm_deadline_after_ms(5000)), 0);
	ASSERT_EQ(shm_conn_recv(&a, out, sizeof out, shm_deadline_after_ms(5000)), 4);
	ASSERT_MEMEQ(out, "pong", 4);
	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	shm_region_unmap(&r);
	ASSERT_EQ(shm_conn_open(&a, &r, "shm+pci://fffe:ff:1f.7", SHM_SIDE_A, shm_deadline_after_ms(10)),
		  SEVMON_ETIMEDOUT); /* no such PCI domain: A keeps trying until the deadline */
}

/* Child attaches as B and echoes frames; used by the cross-process cases. */
static void echo_child(struct shm_region *r, enum shm_wake w, int frames)
{
	struct shm_conn b;
	struct shm_opts o = opts_spin0(w);
	if (shm_conn_attach(&b, r, SHM_SIDE_B, &o, shm_deadline_after_ms(5000)) != 0)
		_exit(10);
	for (int i = 0; i < frames; i++) {
		int n = shm_conn_recv(&b, out, sizeof out, shm_deadline_after_ms(5000));
		if (n <= 0)
			_exit(11);
		if (shm_conn_send(&b, out, (size_t)n, shm_deadline_after_ms(5000)) != 0)
			_exit(12);
	}
	_exit(0);
}

static void echo_case(enum shm_wake w)
{
	struct shm_region r;
	region_new(&r, SHM_REGION_DEFAULT);
	pid_t pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0)
		echo_child(&r, w, 50);
	struct shm_conn a;
	struct shm_opts o = opts_spin0(w);
	ASSERT_EQ(shm_conn_attach(&a, &r, SHM_SIDE_A, &o, shm_deadline_after_ms(5000)), 0);
	for (int i = 0; i < 50; i++) {
		size_t len = 1 + (size_t)i * 997 % 5000;
		fill(in, len, (uint64_t)i);
		if (i % 10 == 0)
			usleep(5000); /* let the child fall asleep: exercises the wake-up */
		ASSERT_EQ(shm_conn_send(&a, in, len, shm_deadline_after_ms(5000)), 0);
		ASSERT_EQ(shm_conn_recv(&a, out, sizeof out, shm_deadline_after_ms(5000)), (int)len);
		ASSERT_MEMEQ(in, out, len);
	}
	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 0);
}

TEST(shm_conn_echo_two_processes_futex) { echo_case(SHM_WAKE_FUTEX); }
TEST(shm_conn_echo_two_processes_poll) { echo_case(SHM_WAKE_POLL); }

/* Each side streams FRAMES frames of random sizes while receiving the other's, in one
 * thread, so both rings fill and drain concurrently. Content is regenerated from the frame
 * number and compared byte for byte (stronger than a checksum). */
#define FRAMES 100000

static int stream_side(struct shm_conn *c, uint64_t tx_seed, uint64_t rx_seed, uint64_t *sum)
{
	static uint8_t txb[FRAME_MAX_BODY], rxb[FRAME_MAX_BODY], want[FRAME_MAX_BODY];
	uint32_t sent = 0, got = 0;
	uint64_t rng = tx_seed;
	size_t len = 0;
	*sum = 0;
	while (sent < FRAMES || got < FRAMES) {
		int progress = 0;
		if (sent < FRAMES) {
			if (len == 0) {
				rng = rng * 6364136223846793005ull + 1442695040888963407ull;
				len = (rng >> 33) % 64 == 0 ? 1 + (rng >> 20) % FRAME_MAX_BODY : 1 + (rng >> 40) % 512;
				fill(txb, len, tx_seed ^ sent);
			}
			int rc = shm_conn_send_nb(c, txb, len);
			if (rc < 0)
				return 100 + -rc;
			if (rc > 0) {
				sent++;
				len = 0;
				progress = 1;
			}
		}
		if (got < FRAMES) {
			int n = shm_conn_recv_nb(c, rxb, sizeof rxb);
			if (n < 0)
				return 200 + -n;
			if (n > 0) {
				fill(want, (size_t)n, rx_seed ^ got);
				if (memcmp(want, rxb, (size_t)n) != 0)
					return 1;
				for (int i = 0; i < n; i++)
					*sum = *sum * 31 + rxb[i];
				got++;
				progress = 1;
			}
		}
		if (!progress) {
			unsigned ev = (got < FRAMES ? SHM_READABLE : 0) | (sent < FRAMES ? SHM_WRITABLE : 0);
			int rc = shm_conn_wait(c, ev, len, shm_deadline_after_ms(10000));
			if (rc < 0)
				return 50;
		}
	}
	return 0;
}

TEST(shm_conn_stream_100k_frames_both_ways_two_processes)
{
	struct shm_region r;
	region_new(&r, SHM_REGION_DEFAULT);
	int pfd[2];
	ASSERT_EQ(pipe(pfd), 0);
	pid_t pid = fork();
	ASSERT(pid >= 0);
	struct shm_opts o;
	shm_opts_default(&o, SHM_WAKE_FUTEX);
	if (pid == 0) {
		struct shm_conn b;
		if (shm_conn_attach(&b, &r, SHM_SIDE_B, &o, shm_deadline_after_ms(5000)) != 0)
			_exit(2);
		uint64_t sum;
		int rc = stream_side(&b, 0xb0b, 0xa11ce, &sum);
		if (write(pfd[1], &sum, sizeof sum) != sizeof sum)
			_exit(3);
		_exit(rc);
	}
	struct shm_conn a;
	ASSERT_EQ(shm_conn_attach(&a, &r, SHM_SIDE_A, &o, shm_deadline_after_ms(5000)), 0);
	uint64_t sum_a, sum_b;
	ASSERT_EQ(stream_side(&a, 0xa11ce, 0xb0b, &sum_a), 0);
	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 0);
	ASSERT_EQ(read(pfd[0], &sum_b, sizeof sum_b), (long)sizeof sum_b);
	ASSERT(sum_a != 0 && sum_b != 0 && sum_a != sum_b);
}

TEST_MAIN()
