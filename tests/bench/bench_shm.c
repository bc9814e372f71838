/*
 * bench_shm — figures, not a test: small-message ping-pong latency (median, p99) and bulk
 * throughput (65535-byte frames) between two host processes over the shared-memory
 * transport, a unix socketpair and TCP loopback, in the same run.
 *
 * usage: bench_shm [round_trips [bulk_frames [region_bytes]]]
 * Columns: median and p99 round trip of a 64-byte frame; the same when the echo side works
 * 10 us before each reply ("+10"); one-way bulk MB/s. Rows: shm with the default spin,
 * a 5 us spin, no spin (futex at once), poll mode; then the sockets, which carry the same
 * u16 BE length || body framing with blocking I/O (TCP_NODELAY). Three tables: not pinned,
 * pinned to different CPUs (like two VMs with their own vCPUs), both on one CPU.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "frame.h"
#include "shm.h"

#define SMALL_LEN 64   /* a small RPC: envelope + a few fields, as Noise ciphertext */
#define BULK_LEN FRAME_MAX_BODY
#define DEADLINE_MS 10000
/* A second ping-pong where the echo side works this long before replying, like an agent
 * decrypting, serving and encrypting a small request: shows what the spin budget buys. */
#define SERVICE_NS 10000

struct xp {
	const char *name;
	int fd;               /* sockets */
	struct shm_region r;  /* shm */
	struct shm_conn c;
	struct shm_opts o;
	int is_shm;
};

static uint8_t buf[FRAME_MAX_BODY + FRAME_HDR_LEN];
/* 0: not pinned; 1: parent on CPU 0, child on CPU 1 (as two VMs on their own vCPUs);
 * 2: both on CPU 0 (the worst case for spinning: the peer cannot run while we spin) */
static int pin;

static void pin_to(int cpu)
{
	if (!pin)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(pin == 2 ? 0 : cpu, &set);
	sched_setaffinity(0, sizeof set, &set);
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_shm: %s: %s\n", what, rc < 0 ? sevmon_strerror(rc) : strerror(errno));
	exit(1);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int read_all(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = read(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Send one frame whose body is already at buf + FRAME_HDR_LEN. */
static void xp_send(struct xp *x, size_t len)
{
	if (x->is_shm) {
		int rc = shm_conn_send(&x->c, buf + FRAME_HDR_LEN, len, shm_deadline_after_ms(DEADLINE_MS));
		if (rc < 0)
			die("shm send", rc);
		return;
	}
	frame_header_write(buf, len);
	if (write_all(x->fd, buf, FRAME_HDR_LEN + len) < 0)
		die("write", 0);
}

static size_t xp_recv(struct xp *x)
{
	if (x->is_shm) {
		int rc = shm_conn_recv(&x->c, buf + FRAME_HDR_LEN, FRAME_MAX_BODY, shm_deadline_after_ms(DEADLINE_MS));
		if (rc < 0)
			die("shm recv", rc);
		return (size_t)rc;
	}
	if (read_all(x->fd, buf, FRAME_HDR_LEN) < 0)
		die("read", 0);
	size_t len = ((size_t)buf[0] << 8) | buf[1];
	if (len == 0 || read_all(x->fd, buf + FRAME_HDR_LEN, len) < 0)
		die("read body", 0);
	return len;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

struct result {
	double med_us, p99_us, svc_med_us, svc_p99_us, mbps;
};

static void busy(int64_t ns)
{
	int64_t end = clock_mono_ns() + ns;
	while (clock_mono_ns() < end)
		;
}

/* Child: echo rtts frames, then swallow bulk frames and answer once. */
static void child(struct xp *x, int rtts, int bulk)
{
	pin_to(1);
	for (int i = 0; i < 2 * rtts; i++) {
		size_t n = xp_recv(x);
		if (buf[FRAME_HDR_LEN] == 1)
			busy(SERVICE_NS);
		xp_send(x, n);
	}
	uint64_t total = 0;
	for (int i = 0; i < bulk; i++)
		total += xp_recv(x);
	/* the reply carries the byte count, so the parent knows everything arrived */
	memcpy(buf + FRAME_HDR_LEN, &total, sizeof total);
	xp_send(x, sizeof total);
	_exit(0);
}

static struct result parent(struct xp *x, int rtts, int bulk)
{
	struct result res;
	pin_to(0);
	int64_t *t = malloc(sizeof *t * (size_t)rtts);
	if (!t)
		die("malloc", SEVMON_ENOMEM);
	for (int svc = 0; svc < 2; svc++) {
		for (int i = 0; i < rtts; i++) {
			memset(buf, 0x5a, FRAME_HDR_LEN + SMALL_LEN);
			buf[FRAME_HDR_LEN] = (uint8_t)svc;
			int64_t t0 = clock_mono_ns();
			xp_send(x, SMALL_LEN);
			if (xp_recv(x) != SMALL_LEN)
				die("echo length", SEVMON_EPROTO);
			t[i] = clock_mono_ns() - t0;
		}
		qsort(t, (size_t)rtts, sizeof *t, cmp_i64);
		*(svc ? &res.svc_med_us : &res.med_us) = (double)t[rtts / 2] / 1000.0;
		*(svc ? &res.svc_p99_us : &res.p99_us) = (double)t[rtts * 99 / 100] / 1000.0;
	}
	free(t);
	memset(buf, 0x5a, sizeof buf);
	int64_t t0 = clock_mono_ns();
	for (int i = 0; i < bulk; i++)
		xp_send(x, BULK_LEN);
	uint64_t total = 0;
	if (xp_recv(x) != sizeof total)
		die("bulk reply", SEVMON_EPROTO);
	memcpy(&total, buf + FRAME_HDR_LEN, sizeof total);
	if (total != (uint64_t)bulk * BULK_LEN)
		die("bulk byte count", SEVMON_EPROTO);
	double s = (double)(clock_mono_ns() - t0) / 1e9;
	res.mbps = (double)bulk * BULK_LEN / s / 1e6;
	return res;
}

static struct result run_pair(struct xp *pa, struct xp *pb, int rtts, int bulk)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork", 0);
	if (pid == 0) {
		pin_to(1);
		if (pb->is_shm) {
			int rc = shm_conn_attach(&pb->c, &pb->r, SHM_SIDE_B, &pb->o, shm_deadline_after_ms(DEADLINE_MS));
			if (rc < 0)
				die("attach B", rc);
		}
		child(pb, rtts, bulk);
	}
	if (pa->is_shm) {
		int rc = shm_conn_attach(&pa->c, &pa->r, SHM_SIDE_A, &pa->o, shm_deadline_after_ms(DEADLINE_MS));
		if (rc < 0)
			die("attach A", rc);
	}
	struct result r = parent(pa, rtts, bulk);
	int st;
	waitpid(pid, &st, 0);
	return r;
}

static struct result bench_shm(enum shm_wake w, uint32_t spin_ns, size_t region, int rtts, int bulk)
{
	char path[64];
	snprintf(path, sizeof path, "/dev/shm/sevmon-bench-%d", (int)getpid());
	unlink(path);
	struct xp x = { .is_shm = 1 };
	int rc = shm_region_map(&x.r, path, region, SHM_MAP_CREATE);
	if (rc < 0)
		die("map", rc);
	unlink(path);
	shm_opts_default(&x.o, w);
	x.o.spin_ns = spin_ns;
	struct result r = run_pair(&x, &x, rtts, bulk);
	shm_region_unmap(&x.r);
	return r;
}

static struct result bench_fds(int fa, int fb, int rtts, int bulk)
{
	struct xp a = { .fd = fa }, b = { .fd = fb };
	pid_t pid = fork();
	if (pid < 0)
		die("fork", 0);
	if (pid == 0) {
		close(fa);
		child(&b, rtts, bulk);
	}
	close(fb);
	struct result r = parent(&a, rtts, bulk);
	int st;
	waitpid(pid, &st, 0);
	close(fa);
	return r;
}

static void tcp_pair(int fds[2])
{
	int one = 1;
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof sa;
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&sa, &sl) < 0)
		die("tcp listen", 0);
	fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&sa, sizeof sa) < 0)
		die("tcp connect", 0);
	fds[1] = accept(l, NULL, NULL);
	if (fds[1] < 0)
		die("tcp accept", 0);
	close(l);
	setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void row(const char *name, struct result r)
{
	printf("%-32s %8.2f %8.2f %8.2f %8.2f %10.0f\n", name, r.med_us, r.p99_us, r.svc_med_us,
	       r.svc_p99_us, r.mbps);
	fflush(stdout);
}

static void table(int rtts, int bulk, size_t region)
{
	printf("\n%s\n%-32s %8s %8s %8s %8s %10s\n",
	       pin == 0 ? "not pinned" : pin == 1 ? "pinned: parent CPU 0, child CPU 1" : "both on CPU 0", "transport (us; MB/s)",
	       "rtt med", "rtt p99", "+10 med", "+10 p99", "bulk MB/s");
	char name[64];
	snprintf(name, sizeof name, "shm futex, spin %u us", SHM_SPIN_NS_DEFAULT / 1000);
	row(name, bench_shm(SHM_WAKE_FUTEX, SHM_SPIN_NS_DEFAULT, region, rtts, bulk));
	row("shm futex, spin 5 us", bench_shm(SHM_WAKE_FUTEX, 5000, region, rtts, bulk));
	row("shm futex, no spin", bench_shm(SHM_WAKE_FUTEX, 0, region, rtts, bulk));
	snprintf(name, sizeof name, "shm poll, spin %u us, cap %u us", SHM_SPIN_NS_DEFAULT / 1000,
		 SHM_POLL_MAX_NS_DEFAULT / 1000);
	row(name, bench_shm(SHM_WAKE_POLL, SHM_SPIN_NS_DEFAULT, region, rtts, bulk));
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		die("socketpair", 0);
	row("unix socketpair", bench_fds(sp[0], sp[1], rtts, bulk));
	int tp[2];
	tcp_pair(tp);
	row("tcp loopback (nodelay)", bench_fds(tp[0], tp[1], rtts, bulk));
}

int main(int argc, char **argv)
{
	int rtts = argc > 1 ? atoi(argv[1]) : 20000;
	int bulk = argc > 2 ? atoi(argv[2]) : 4000;
	size_t region = argc > 3 ? (size_t)strtoull(argv[3], NULL, 0) : SHM_REGION_DEFAULT;
	if (rtts < 100 || bulk < 1)
		die("usage: bench_shm [round_trips>=100 [bulk_frames [region_bytes]]]", SEVMON_EINVAL);
	printf("# %d round trips of %d-byte frames; %d frames of %u bytes one way; region %zu bytes\n",
	       rtts, SMALL_LEN, bulk, BULK_LEN, region);
	pin = 0;
	table(rtts, bulk, region);
	pin = 1;
	table(rtts, bulk, region);
	pin = 2;
	table(rtts, bulk, region);
	return 0;
}
