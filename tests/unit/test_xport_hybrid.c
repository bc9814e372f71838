/*
 * vsock-hybrid connect (lib/xport/xport_hybrid.c) against a test peer that speaks the host
 * side of the protocol as Firecracker does: a Unix listener that reads
 * "CONNECT <port>\n", answers "OK <hostport>\n" and then carries the stream (here: an
 * echo). Other modes answer wrongly, close early or stall, to check each error.
 */
#include "err.h"
#include "harness.h"
#include "xport.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#define GUEST_PORT 5000
#define DEADLINE_MS 300
#define DEADLINE_SLACK_MS 1500

enum mode { OK_ECHO, OK_SLOW, GARBAGE, LONG_LINE, CLOSE_EARLY, PARTIAL_CLOSE, STALL,
	    BAD_NUMBER, OK_NO_SPACE };

static char dir[64];
static struct xport_addr addr;
static pid_t peer_pid = -1;

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void put(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w <= 0)
			_exit(3);
		s += w;
		n -= (size_t)w;
	}
}

/* The host side: one connection, then exit 0 if the request was exactly right. */
static void peer_main(int lfd, enum mode m)
{
	alarm(10);
	int fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		_exit(2);
	char req[64];
	size_t n = 0;
	while (n < sizeof req - 1) {
		ssize_t r = read(fd, req + n, 1);
		if (r <= 0)
			_exit(4);
		if (req[n++] == '\n')
			break;
	}
	req[n] = '\0';
	char want[32];
	snprintf(want, sizeof want, "CONNECT %u\n", GUEST_PORT);
	int ok = strcmp(req, want) == 0;
	char buf[4096];
	switch (m) {
	case OK_ECHO:
		/* the first stream bytes ride in the same segment as the reply */
		put(fd, "OK 1234\nhello", 13);
		for (;;) {
			ssize_t r = read(fd, buf, sizeof buf);
			if (r <= 0)
				break;
			put(fd, buf, (size_t)r);
		}
		break;
	case OK_SLOW:
		for (const char *p = "OK 4294967295\n"; *p; p++) {
			put(fd, p, 1);
			usleep(20000);
		}
		while (read(fd, buf, sizeof buf) > 0)
			;
		break;
	case GARBAGE:
		put(fd, "garbage\n", 8);
		break;
	case LONG_LINE:
		memset(buf, 'A', 200);
		put(fd, buf, 200);
		while (read(fd, buf, sizeof buf) > 0)
			;
		break;
	case CLOSE_EARLY:
		break;
	case PARTIAL_CLOSE:
		put(fd, "OK 12", 5);
		break;
	case STALL:
		while (read(fd, buf, sizeof buf) > 0)
			;
		break;
	case BAD_NUMBER:
		put(fd, "OK 4294967296\n", 14);
		break;
	case OK_NO_SPACE:
		put(fd, "OK1234\n", 7);
		break;
	}
	close(fd);
	_exit(ok ? 0 : 1);
}

static void start_peer(enum mode m)
{
	strcpy(dir, "/tmp/xport-hyb-XXXXXX");
	ASSERT(mkdtemp(dir) != NULL);
	char uri[XPORT_URI_MAX];
	snprintf(uri, sizeof uri, "vsock-hybrid://%s/v.sock:%u", dir, GUEST_PORT);
	ASSERT_EQ(xport_parse(uri, &addr), 0);
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT(lfd >= 0);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	strcpy(sun.sun_path, addr.path);
	ASSERT_EQ(bind(lfd, (struct sockaddr *)&sun, sizeof sun), 0);
	ASSERT_EQ(listen(lfd, 1), 0);
	peer_pid = fork();
	ASSERT(peer_pid >= 0);
	if (peer_pid == 0)
		peer_main(lfd, m);
	close(lfd);
}

/* The peer must have seen exactly "CONNECT 5000\n". */
static void end_peer(void)
{
	int st = 0;
	ASSERT_EQ(waitpid(peer_pid, &st, 0), peer_pid);
	ASSERT(WIFEXITED(st));
	ASSERT_EQ(WEXITSTATUS(st), 0);
	unlink(addr.path);
	rmdir(dir);
}

static void expect_blocking(enum mode m, int want_rc)
{
	start_peer(m);
	int fd = 7;
	ASSERT_EQ(xport_connect(&addr, 2000, &fd, NULL), want_rc);
	ASSERT_EQ(fd, -1);
	end_peer();
}

static void recv_exact(int fd, char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		struct pollfd p = { fd, POLLIN, 0 };
		ASSERT_EQ(poll(&p, 1, 2000), 1);
		ssize_t r = recv(fd, buf + got, n - got, 0);
		ASSERT(r > 0);
		got += (size_t)r;
	}
}

TEST(xport_connect_hybrid_ok_stream_intact)
{
	start_peer(OK_ECHO);
	int fd = -1;
	uint32_t hp = 0;
	ASSERT_EQ(xport_connect(&addr, 2000, &fd, &hp), 0);
	ASSERT_EQ(hp, 1234);
	/* "hello" came in the reply's segment: the handshake must have left it unread */
	char buf[16];
	recv_exact(fd, buf, 5);
	ASSERT_MEMEQ(buf, "hello", 5);
	ASSERT_EQ(send(fd, "ping!", 5, MSG_NOSIGNAL), 5);
	recv_exact(fd, buf, 5);
	ASSERT_MEMEQ(buf, "ping!", 5);
	close(fd);
	end_peer();
}

TEST(xport_connect_hybrid_slow_reply_async)
{
	start_peer(OK_SLOW);
	struct xport_connecting c;
	int fd = -1, want = 0, steps = 0;
	int rc = xport_connect_start(&addr, 2000, &c, &fd, &want);
	ASSERT(fd >= 0);
	while (rc == XPORT_IN_PROGRESS) {
		ASSERT(want == POLLIN || want == POLLOUT);
		struct pollfd p = { fd, (short)want, 0 };
		ASSERT(poll(&p, 1, xport_connect_remaining_ms(&c)) >= 0);
		rc = xport_connect_step(&c, &want);
		steps++;
	}
	ASSERT_EQ(rc, 0);
	ASSERT_EQ(c.hostport, 4294967295u);
	ASSERT(steps >= 2); /* the reply arrived in pieces, one wake-up each */
	close(fd);
	end_peer();
}

TEST(xport_connect_hybrid_garbage_eproto)
{
	expect_blocking(GARBAGE, SEVMON_EPROTO);
}

TEST(xport_connect_hybrid_bad_number_eproto)
{
	expect_blocking(BAD_NUMBER, SEVMON_EPROTO);
}

TEST(xport_connect_hybrid_no_space_eproto)
{
	expect_blocking(OK_NO_SPACE, SEVMON_EPROTO);
}

TEST(xport_connect_hybrid_long_line_eproto_fast)
{
	long long t0 = now_ms();
	expect_blocking(LONG_LINE, SEVMON_EPROTO);
	/* rejected on the length bound, not by waiting for the deadline */
	ASSERT(now_ms() - t0 < 1000);
}

TEST(xport_connect_hybrid_close_early_refused)
{
	expect_blocking(CLOSE_EARLY, SEVMON_ECONNREFUSED);
}

TEST(xport_connect_hybrid_partial_close_eproto)
{
	expect_blocking(PARTIAL_CLOSE, SEVMON_EPROTO);
}

TEST(xport_connect_hybrid_stall_deadline)
{
	start_peer(STALL);
	int fd = 7;
	long long t0 = now_ms();
	ASSERT_EQ(xport_connect(&addr, DEADLINE_MS, &fd, NULL), SEVMON_ETIMEDOUT);
	long long el = now_ms() - t0;
	ASSERT(el >= DEADLINE_MS - 5);
	ASSERT(el < DEADLINE_MS + DEADLINE_SLACK_MS);
	ASSERT_EQ(fd, -1); /* closed by xport_connect, so the peer sees EOF and exits */
	end_peer();
}

TEST(xport_connect_hybrid_stall_deadline_async)
{
	start_peer(STALL);
	struct xport_connecting c;
	int fd = -1, want = 0;
	long long t0 = now_ms();
	int rc = xport_connect_start(&addr, DEADLINE_MS, &c, &fd, &want);
	while (rc == XPORT_IN_PROGRESS) {
		struct pollfd p = { fd, (short)want, 0 };
		ASSERT(poll(&p, 1, xport_connect_remaining_ms(&c)) >= 0);
		rc = xport_connect_step(&c, &want);
	}
	long long el = now_ms() - t0;
	ASSERT_EQ(rc, SEVMON_ETIMEDOUT);
	ASSERT(el >= DEADLINE_MS - 5);
	ASSERT(el < DEADLINE_MS + DEADLINE_SLACK_MS);
	ASSERT_EQ(xport_connect_step(&c, &want), SEVMON_ETIMEDOUT); /* failure sticks */
	close(fd);
	end_peer();
}

TEST(xport_connect_hybrid_no_socket_enoent)
{
	struct xport_addr a;
	int fd = 7;
	ASSERT_EQ(xport_parse("vsock-hybrid:///nonexistent-dir/v.sock:5", &a), 0);
	ASSERT_EQ(xport_connect(&a, 500, &fd, NULL), SEVMON_ENOENT);
	ASSERT_EQ(fd, -1);
}

TEST_MAIN()
