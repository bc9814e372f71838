/*
 * sevmon bench URI — figures for docs/benchmarks.md, measured side by side in one run:
 *  1. small ReadPhys round trips (one in flight): median and p99 latency;
 *  2. a raw 64-byte ping-pong over the same kind of socket (a forked echo process on a unix
 *     socketpair and on TCP loopback): what the transport alone costs;
 *  3. Gather of 512 x 16 bytes: round trips, bytes on the wire, time;
 *  4. WalkList over a synthetic list (tests/bench/make_list_image): nodes, bytes, time.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "err.h"
#include "cli_conn.h"
#include "ids_conn.h"
#include "sevmon.sevrpc-client.h"

static const char bench_usage[] =
	"usage: sevmon bench URI [--count N] [--addr ADDR] [--walk-head ADDR --walk-nodes N]\n"
	"       sevmon bench --kernel URI [--runs N]   (the seed's banner / ps figures; --kernel --help)\n"
	"Measure small-read latency (median, p99) next to a raw 64-byte socket ping-pong,\n"
	"a Gather of 512 x 16 bytes and, with --walk-head, a WalkList over a synthetic list\n"
	"(tests/bench/make_list_image writes one; its head is at 0x1000).\n";

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void print_lat(const char *what, uint64_t *ns, size_t n)
{
	qsort(ns, n, sizeof *ns, cmp_u64);
	printf("%-34s median %7.1f us   p99 %7.1f us   (n=%zu)\n", what, ns[n / 2] / 1000.0,
	       ns[(n * 99) / 100] / 1000.0, n);
}

/* ---- raw ping-pong baseline ---- */

static void echo_child(int fd)
{
	char b[64];
	for (;;) {
		ssize_t got = 0;
		while (got < 64) {
			ssize_t r = read(fd, b + got, 64 - (size_t)got);
			if (r <= 0)
				_exit(0);
			got += r;
		}
		if (write(fd, b, 64) != 64)
			_exit(0);
	}
}

static int pingpong(int fd, uint64_t *ns, size_t n)
{
	char b[64];
	memset(b, 0x5a, sizeof b);
	for (size_t i = 0; i < n; i++) {
		uint64_t t0 = ((uint64_t)clock_mono_ns());
		if (write(fd, b, 64) != 64)
			return -1;
		ssize_t got = 0;
		while (got < 64) {
			ssize_t r = read(fd, b + got, 64 - (size_t)got);
			if (r <= 0)
				return -1;
			got += r;
		}
		ns[i] = ((uint64_t)clock_mono_ns()) - t0;
	}
	return 0;
}

static void baseline_unix(uint64_t *ns, size_t n)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		echo_child(sv[1]);
	}
	close(sv[1]);
	if (pid > 0 && pingpong(sv[0], ns, n) == 0)
		print_lat("raw 64 B ping-pong, unix", ns, n);
	close(sv[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

static void baseline_tcp(uint64_t *ns, size_t n)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof a;
	int one = 1;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) < 0) {
		if (l >= 0)
			close(l);
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		int s = accept(l, NULL, NULL);
		if (s >= 0) {
			setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			echo_child(s);
		}
		_exit(0);
	}
	close(l);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (c >= 0 && connect(c, (struct sockaddr *)&a, sizeof a) == 0) {
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (pingpong(c, ns, n) == 0)
			print_lat("raw 64 B ping-pong, tcp loopback", ns, n);
	}
	if (c >= 0)
		close(c);
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

/* ---- RPC measurements ---- */

struct wait1 {
	int done, status;
	size_t items;
	uint64_t bytes;
};

static void on_read(void *user, int status, const char *errmsg, Sevmon__V1__ReadResponse *r)
{
	struct wait1 *w = user;
	(void)errmsg;
	w->done = 1;
	w->status = status;
	w->bytes = status ? 0 : r->data.len;
}

static void on_gather(void *user, int status, const char *errmsg, Sevmon__V1__GatherResponse *r)
{
	struct wait1 *w = user;
	(void)errmsg;
	w->done = 1;
	w->status = status;
	if (status)
		return;
	w->items = r->n_results;
	for (size_t i = 0; i < r->n_results; i++)
		if (r->results[i]->status == 0)
			w->bytes += r->results[i]->data.len;
}

static void on_walk(void *user, int status, const char *errmsg, Sevmon__V1__WalkListResponse *r)
{
	struct wait1 *w = user;
	(void)errmsg;
	w->done = 1;
	w->status = status;
	if (status)
		return;
	w->items = r->n_nodes;
	for (size_t i = 0; i < r->n_nodes; i++)
		w->bytes += r->nodes[i]->fields.len;
}

static uint64_t wire_bytes(struct ids_conn *c)
{
	struct rpc_client_stats st;
	rpc_client_get_stats(c->rpc, &st);
	return st.bytes_sent + st.bytes_received;
}

static uint64_t wire_requests(struct ids_conn *c)
{
	struct rpc_client_stats st;
	rpc_client_get_stats(c->rpc, &st);
	return st.requests;
}

int cmd_bench(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "addr", required_argument, NULL, 'a' },
		{ "walk-head", required_argument, NULL, 'w' },
		{ "walk-nodes", required_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		CLI_CONN_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--kernel"))
			return cmd_bench_kernel(argc, argv);
	uint64_t count = 5000, addr = 0x1000, walk_head = 0, walk_nodes = 10000;
	struct cli_conn_opts copts;
	cli_conn_opts_init(&copts);
	int c;
	while ((c = getopt_long(argc, argv, "n:a:w:N:h", opts, NULL)) != -1) {
		int bad = 0;
		int r = cli_conn_opt(&copts, c, optarg);
		if (r < 0)
			return CLI_EUSAGE;
		if (r > 0)
			continue;
		switch (c) {
		case 'n':
			bad = cli_parse_u64(optarg, 10000000, &count) || count < 10;
			break;
		case 'a':
			bad = cli_parse_u64(optarg, UINT64_MAX, &addr);
			break;
		case 'w':
			bad = cli_parse_u64(optarg, UINT64_MAX, &walk_head);
			break;
		case 'N':
			bad = cli_parse_u64(optarg, 1000000, &walk_nodes);
			break;
		case 'h':
			printf("%s%s", bench_usage, cli_conn_usage);
			return CLI_OK;
		default:
			bad = 1;
		}
		if (bad) {
			fprintf(stderr, "%s", bench_usage);
			return CLI_EUSAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "%s", bench_usage);
		return CLI_EUSAGE;
	}
	const char *uri = argv[optind];
	uint64_t *ns = calloc(count, sizeof *ns);
	if (!ns)
		return CLI_ELOCAL;

	struct ids_conn conn;
	struct ids_policy pol;
	int rc = cli_connect("bench", uri, &copts, &pol, &conn);
	if (rc != CLI_OK) {
		free(ns);
		return rc;
	}
	printf("sevmon bench %s\n", uri);

	/* 1. small reads, one in flight */
	uint64_t rings0 = 0, wakes0 = 0, rings1, wakes1;
	int bell = rpc_client_bell_stats(conn.rpc, &rings0, &wakes0) == 0;
	for (uint64_t i = 0; i < count && rc == 0; i++) {
		struct wait1 w = { 0 };
		Sevmon__V1__ReadPhysRequest req = SEVMON__V1__READ_PHYS_REQUEST__INIT;
		req.addr = addr;
		req.len = 64;
		uint64_t t0 = ((uint64_t)clock_mono_ns());
		rc = sevmon_agent_read_phys(conn.rpc, &req, conn.request_timeout_ms, on_read, &w);
		if (rc == 0)
			rc = ids_conn_wait(&conn, &w.done);
		if (rc == 0)
			rc = w.status;
		ns[i] = ((uint64_t)clock_mono_ns()) - t0;
	}
	if (rc < 0) {
		cli_error("bench", "ReadPhys", rc, NULL);
		goto out;
	}
	print_lat("ReadPhys 64 B round trip", ns, count);
	if (bell && rpc_client_bell_stats(conn.rpc, &rings1, &wakes1) == 0)
		printf("%-34s %.2f rings, %.2f wake-ups per request (IDS side)\n", "doorbell",
		       (double)(rings1 - rings0) / (double)count, (double)(wakes1 - wakes0) / (double)count);

	/* 3. Gather 512 x 16 */
	{
		enum { NR = 512 };
		Sevmon__V1__Range ranges[NR], *rp[NR];
		for (int i = 0; i < NR; i++) {
			sevmon__v1__range__init(&ranges[i]);
			ranges[i].addr = addr + (uint64_t)i * 64;
			ranges[i].len = 16;
			rp[i] = &ranges[i];
		}
		Sevmon__V1__GatherRequest req = SEVMON__V1__GATHER_REQUEST__INIT;
		req.n_ranges = NR;
		req.ranges = rp;
		uint64_t b0 = wire_bytes(&conn), r0 = wire_requests(&conn), best = UINT64_MAX;
		for (int k = 0; k < 20 && rc == 0; k++) {
			struct wait1 w = { 0 };
			uint64_t t0 = ((uint64_t)clock_mono_ns());
			rc = sevmon_agent_gather(conn.rpc, &req, conn.request_timeout_ms, on_gather, &w);
			if (rc == 0)
				rc = ids_conn_wait(&conn, &w.done);
			if (rc == 0)
				rc = w.status;
			if (rc == 0 && (w.items != NR || w.bytes != NR * 16))
				rc = SEVMON_EPARTIAL;
			uint64_t t = ((uint64_t)clock_mono_ns()) - t0;
			best = t < best ? t : best;
		}
		if (rc < 0) {
			cli_error("bench", "Gather", rc, NULL);
			goto out;
		}
		printf("%-34s %" PRIu64 " round trip(s), %" PRIu64 " bytes on the wire, best %.1f us\n",
		       "Gather 512 x 16 B", (wire_requests(&conn) - r0) / 20,
		       (wire_bytes(&conn) - b0) / 20, best / 1000.0);
	}

	/* 4. WalkList */
	if (walk_head) {
		Sevmon__V1__FieldWindow f1 = SEVMON__V1__FIELD_WINDOW__INIT, f2 = SEVMON__V1__FIELD_WINDOW__INIT;
		Sevmon__V1__FieldWindow *fw[2] = { &f1, &f2 };
		f1.offset = 16; /* node id */
		f1.len = 4;
		f2.offset = 20; /* node name */
		f2.len = 16;
		Sevmon__V1__WalkListRequest req = SEVMON__V1__WALK_LIST_REQUEST__INIT;
		req.head = walk_head;
		req.next_offset = 0;
		req.n_fields = 2;
		req.fields = fw;
		req.max_nodes = (uint32_t)walk_nodes + 1;
		uint64_t b0 = wire_bytes(&conn), r0 = wire_requests(&conn), best = UINT64_MAX;
		struct wait1 w = { 0 };
		for (int k = 0; k < 5 && rc == 0; k++) {
			memset(&w, 0, sizeof w);
			uint64_t t0 = ((uint64_t)clock_mono_ns());
			rc = sevmon_agent_walk_list(conn.rpc, &req, conn.request_timeout_ms, on_walk, &w);
			if (rc == 0)
				rc = ids_conn_wait(&conn, &w.done);
			if (rc == 0)
				rc = w.status;
			uint64_t t = ((uint64_t)clock_mono_ns()) - t0;
			best = t < best ? t : best;
		}
		if (rc < 0) {
			cli_error("bench", "WalkList", rc, NULL);
			goto out;
		}
		printf("%-34s %zu nodes, %" PRIu64 " round trip(s), %" PRIu64
		       " bytes on the wire, best %.1f ms\n",
		       "WalkList", w.items, (wire_requests(&conn) - r0) / 5, (wire_bytes(&conn) - b0) / 5,
		       best / 1e6);
	}
out:
	ids_conn_close(&conn);
	ids_policy_free(&pol);
	if (rc == 0) {
		size_t n = count < 20000 ? count : 20000;
		baseline_unix(ns, n);
		baseline_tcp(ns, n);
	}
	free(ns);
	return rc < 0 ? cli_exit_for_request(rc) : CLI_OK;
}
