/*
 * bench_rpc_xport — the whole RPC stack (agent loop <-> libuv rpc_client) over shm, unix
 * and TCP between two host processes, in one run: small-RPC latency (64-byte echo, one in
 * flight: median, p99), bulk throughput (1 MiB replies, 4 in flight), and what an idle
 * shm session costs in CPU on each side. Figures, not a test (tests/bench/shm-bench).
 * usage: bench_rpc_xport [small round trips, default 5000] [bell]   (bell: the shm rows over
 *        the region and doorbells of an ivshmem server the bench starts, shm+ivshmem://)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "agent_loop.h"
#include "err.h"
#include "ivshmem.h"
#include "rbuf.h"
#include "rpc_client.h"
#include "shm.h"

enum { M_ECHO = 1, M_BULK = 2 };
#define BULK_REPLY (1u << 20)
#define BULK_COUNT 64
#define BULK_IN_FLIGHT 4
#define SMALL_LEN 64
#define MAX_SMALL 100000

static char sock_path[108], shm_path[128], shm_uri[192];
static int tcp_port;

static int serve(void *ctx, const struct agent_request *req, struct wbuf *out, char *errmsg,
		 size_t errcap)
{
	(void)ctx;
	(void)errmsg;
	(void)errcap;
	if (req->method == M_ECHO)
		return wbuf_put_bytes(out, req->payload, req->len);
	if (req->method == M_BULK && req->len == 4 && load_be32(req->payload) <= out->cap) {
		out->len = load_be32(req->payload);
		memset(out->p, 0xa5, out->len);
		return 0;
	}
	return SEVMON_EUNMETHOD;
}

static pid_t start_agent(int ufd, int tfd)
{
	pid_t pid = fork();
	if (pid)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	int lf[2] = { ufd, tfd };
	struct agent_loop_config cfg;
	struct agent_loop *l;
	agent_loop_config_init(&cfg);
	cfg.listen_fds = lf;
	cfg.nlisten = 2;
	cfg.dispatch = serve;
	if (agent_loop_new(&l, &cfg) || agent_loop_listen_shm(l, shm_uri))
		_exit(2);
	agent_loop_run(l);
	_exit(0);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s_of(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	unsigned long ut = 0, st = 0;
	/* fields after the comm: state ppid pgrp session tty tpgid flags minflt cminflt majflt
	 * cmajflt utime stime */
	if (p)
		sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

struct done {
	int n;
	int err;
};

static void on_reply(void *user, int status, const char *errmsg, const uint8_t *p, size_t len)
{
	struct done *d = user;
	(void)errmsg;
	(void)p;
	(void)len;
	d->n++;
	if (status)
		d->err = status;
}

static void on_tick(uv_timer_t *t) { (void)t; }

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int stream_connect(int unix_sock)
{
	int fd;
	if (unix_sock) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		snprintf(a.sun_path, sizeof a.sun_path, "%s", sock_path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
			return -1;
	} else {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)tcp_port) };
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
			return -1;
	}
	return fd;
}

/* kind: "unix", "tcp", or "shm" with the client's spin window spin_ns */
static struct rpc_client *open_client(uv_loop_t *loop, const char *kind, uint32_t spin_ns)
{
	struct rpc_client *c = NULL;
	if (strcmp(kind, "shm")) {
		int fd = stream_connect(!strcmp(kind, "unix"));
		if (fd < 0 || rpc_client_open(loop, fd, NULL, &c))
			return NULL;
		return c;
	}
	struct shm_uri u;
	struct shm_region r;
	struct shm_conn sc;
	struct shm_opts o;
	if (shm_uri_parse(shm_uri, &u) || shm_region_map_uri(&r, &u, SHM_SIDE_A))
		return NULL;
	shm_opts_default(&o, u.wake);
	o.spin_ns = spin_ns;
	if (shm_conn_attach(&sc, &r, SHM_SIDE_A, &o, shm_deadline_after_ms(5000)) ||
	    rpc_client_open_shm(loop, &sc, &r, NULL, &c))
		return NULL;
	return c;
}

static void close_client(uv_loop_t *loop, struct rpc_client *c)
{
	rpc_client_close(c, NULL, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
}

static void wait_for(uv_loop_t *loop, struct done *d, int n)
{
	while (d->n < n)
		uv_run(loop, UV_RUN_ONCE);
}

static uint64_t lat[MAX_SMALL];

static void bench(const char *kind, uint32_t spin_ns, int small, pid_t agent)
{
	uv_loop_t loop;
	uint8_t pl[SMALL_LEN];
	char label[64];
	uv_loop_init(&loop);
	struct rpc_client *c = open_client(&loop, kind, spin_ns);
	if (!c) {
		printf("%-18s cannot connect\n", kind);
		return;
	}
	memset(pl, 0x42, sizeof pl);
	struct done d = { 0 };
	for (int i = 0; i < 200; i++) { /* warm up */
		rpc_client_call(c, M_ECHO, pl, sizeof pl, 0, on_reply, &d, NULL);
		wait_for(&loop, &d, i + 1);
	}
	d.n = 0;
	double a0 = cpu_s_of(agent), c0 = self_cpu_s(), w0 = now_s();
	for (int i = 0; i < small; i++) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		rpc_client_call(c, M_ECHO, pl, sizeof pl, 0, on_reply, &d, NULL);
		wait_for(&loop, &d, i + 1);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		lat[i] = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)t1.tv_nsec -
			 (uint64_t)t0.tv_nsec;
	}
	double w1 = now_s(), a1 = cpu_s_of(agent), c1 = self_cpu_s();
	qsort(lat, (size_t)small, sizeof lat[0], cmp_u64);
	if (!strcmp(kind, "shm"))
		snprintf(label, sizeof label, "shm spin %uus", spin_ns / 1000);
	else
		snprintf(label, sizeof label, "%s", kind);
	printf("%-16s small: median %7.1f us  p99 %7.1f us  (%d calls, errors %d; cpu client "
	       "%.0f%% agent %.0f%%)\n",
	       label, lat[small / 2] / 1000.0, lat[(size_t)small * 99 / 100] / 1000.0, small, d.err,
	       100 * (c1 - c0) / (w1 - w0), 100 * (a1 - a0) / (w1 - w0));

	uint8_t bl[4];
	store_be32(bl, BULK_REPLY);
	d = (struct done){ 0 };
	double t0 = now_s();
	int sent = 0;
	while (d.n < BULK_COUNT) {
		while (sent < BULK_COUNT && sent - d.n < BULK_IN_FLIGHT) {
			rpc_client_call(c, M_BULK, bl, 4, 0, on_reply, &d, NULL);
			sent++;
		}
		uv_run(&loop, UV_RUN_ONCE);
	}
	double t1 = now_s();
	printf("%-16s bulk:  %7.0f MB/s  (%d x 1 MiB replies, %d in flight, errors %d)\n", label,
	       BULK_COUNT * (double)BULK_REPLY / (t1 - t0) / 1e6, BULK_COUNT, BULK_IN_FLIGHT, d.err);

	if (!strcmp(kind, "shm") && spin_ns == RPC_CLIENT_SHM_SPIN_NS) {
		/* an idle session: nothing in flight for 3 s */
		/* the client's own pump timer wakes uv_run (RPC_CLIENT_SHM_IDLE_MS); on a
		 * doorbell it has none, so a 0.5 s tick ends UV_RUN_ONCE */
		uv_timer_t tick;
		uv_timer_init(&loop, &tick);
		uv_timer_start(&tick, on_tick, 500, 500);
		a0 = cpu_s_of(agent);
		c0 = self_cpu_s();
		w0 = now_s();
		while (now_s() - w0 < 3.0)
			uv_run(&loop, UV_RUN_ONCE);
		w1 = now_s();
		a1 = cpu_s_of(agent);
		c1 = self_cpu_s();
		printf("%-16s idle session, 3 s: cpu agent %.2f%%  client %.2f%%\n", label,
		       100 * (a1 - a0) / (w1 - w0), 100 * (c1 - c0) / (w1 - w0));
		uv_close((uv_handle_t *)&tick, NULL);
		uv_run(&loop, UV_RUN_NOWAIT);
	}
	close_client(&loop, c);
	uv_loop_close(&loop);
}

int main(int argc, char **argv)
{
	int small = argc > 1 ? atoi(argv[1]) : 5000;
	if (small < 100 || small > MAX_SMALL)
		small = 5000;
	snprintf(sock_path, sizeof sock_path, "/tmp/sevmon-bench-%d.sock", (int)getpid());
	snprintf(shm_path, sizeof shm_path, "/dev/shm/sevmon-bench-%d", (int)getpid());
	snprintf(shm_uri, sizeof shm_uri, "shm://%s?size=4M", shm_path);
	if (argc > 2 && !strcmp(argv[2], "bell")) {
		/* the shm rows over doorbells: an ivshmem server of our own, in a child */
		snprintf(shm_path, sizeof shm_path, "/tmp/sevmon-bench-%d.ivs", (int)getpid());
		snprintf(shm_uri, sizeof shm_uri, "shm+ivshmem://%s", shm_path);
		int shm = memfd_create("bench", MFD_CLOEXEC);
		struct ivshmem_server_cfg cfg = { shm_path, shm, 1, 4 };
		struct ivshmem_server *srv;
		if (shm < 0 || ftruncate(shm, 4 << 20) < 0 || ivshmem_server_new(&cfg, &srv) < 0) {
			perror("ivshmem server");
			return 1;
		}
		if (fork() == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			ivshmem_server_run(srv, -1);
			_exit(0);
		}
		close(shm);
	}

	struct sockaddr_un ua = { .sun_family = AF_UNIX };
	snprintf(ua.sun_path, sizeof ua.sun_path, "%s", sock_path);
	int ufd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in ta = { .sin_family = AF_INET };
	ta.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int tfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	socklen_t tl = sizeof ta;
	if (bind(ufd, (struct sockaddr *)&ua, sizeof ua) || listen(ufd, 16) ||
	    bind(tfd, (struct sockaddr *)&ta, sizeof ta) || listen(tfd, 16) ||
	    getsockname(tfd, (struct sockaddr *)&ta, &tl)) {
		perror("listen");
		return 1;
	}
	tcp_port = ntohs(ta.sin_port);
	pid_t agent = start_agent(ufd, tfd);
	close(ufd);
	close(tfd);
	usleep(100000);

	/* nobody attached: what waiting for a peer costs */
	double a0 = cpu_s_of(agent), w0 = now_s();
	sleep(2);
	printf("agent waiting for a shm peer, 2 s: cpu %.2f%%\n",
	       100 * (cpu_s_of(agent) - a0) / (now_s() - w0));

	bench("unix", 0, small, agent);
	bench("tcp", 0, small, agent);
	bench("shm", 0, small, agent);
	bench("shm", SHM_SPIN_NS_DEFAULT, small, agent);
	bench("shm", 200000, small, agent);
	bench("shm", RPC_CLIENT_SHM_SPIN_NS, small, agent); /* what rpc_client_connect_shm uses */

	kill(agent, SIGKILL);
	waitpid(agent, NULL, 0);
	unlink(sock_path);
	unlink(shm_path);
	return 0;
}
