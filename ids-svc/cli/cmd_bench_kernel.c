/*
 * sevmon bench --kernel URI — the seed's Figure 3 (kernel banner) and Figure 4 (process
 * list) against one agent, each done two ways on one open channel:
 *   seed:   what the seed's agent offered: one 4 KB read per request. The banner is the
 *           4 KB at linux_banner; the process list walks init_task.tasks with one 4 KB read
 *           per task (its next pointer, pid and comm lie in that window), each read
 *           depending on the one before: as many requests as tasks.
 *   sevmon: the banner's bytes in one read; the process list in one WalkList (pid, tgid,
 *           comm, and the parent's tgid and the uid through deref windows).
 * Each is run N times; the figure is the median time of the check alone (channel open,
 * profile cached), with the requests and the bytes on the wire (both directions) of one
 * run. tests/bench/seed-experiment drives it over every placement and transport.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_kernel.h"
#include "clock.h"
#include "err.h"
#include "gmem.h"
#include "rpc_client.h"

/* The seed's agent read a page per request. */
#define SEED_READ 4096u
/* The longest task list the seed's way follows: a guard against a list that loops. */
#define SEED_MAX_TASKS 100000u
#define RUNS_MAX 1000u

static const char bk_usage[] =
	"usage: sevmon bench --kernel URI [--runs N]\n"
	"The seed's Figures 3 and 4 against one agent: the kernel banner and the process list,\n"
	"each the seed's way (one 4 KB read per request; one request per task for the list)\n"
	"and sevmon's way (one read; one WalkList), N runs each (default 20). Prints, per check\n"
	"and way: the median time of the check alone, its requests and its bytes on the wire.\n";

struct way_stats {
	uint64_t requests, wire_bytes;
	uint64_t rings, wakeups; /* the IDS side's doorbell, when the transport has one */
	unsigned tasks;
};

static uint64_t wire(struct cli_kernel *t)
{
	struct rpc_client_stats st;
	rpc_client_get_stats(t->conn->rpc, &st);
	return st.bytes_sent + st.bytes_received;
}

static int banner_seed(struct cli_kernel *t, struct way_stats *w)
{
	uint8_t page[SEED_READ];
	int rc = gmem_read(t->kk->mem, t->kk->k.p.sym_linux_banner, GMEM_VIRT, page, sizeof page);
	if (rc == 0 && memcmp(page, "Linux version ", 14) != 0)
		rc = SEVMON_EPROTO;
	w->tasks = 0;
	return rc;
}

static int banner_sevmon(struct cli_kernel *t, struct way_stats *w)
{
	uint8_t b[KPROFILE_MAX_BANNER];
	int rc = gmem_read(t->kk->mem, t->kk->k.p.sym_linux_banner, GMEM_VIRT, b, sizeof b);
	if (rc == 0 && memcmp(b, "Linux version ", 14) != 0)
		rc = SEVMON_EPROTO;
	w->tasks = 0;
	return rc;
}

/* One 4 KB read per task: the window from the lowest of the offsets we need. */
static int ps_seed(struct cli_kernel *t, struct way_stats *w)
{
	const struct kprofile *p = &t->kk->k.p;
	uint64_t lo = p->task_tasks.off, hi = p->task_tasks.off + p->list_head_next.off + 8;
	uint64_t offs[] = { p->task_pid.off, p->task_comm.off };
	for (size_t i = 0; i < 2; i++) {
		lo = offs[i] < lo ? offs[i] : lo;
		hi = offs[i] + 16 > hi ? offs[i] + 16 : hi;
	}
	if (hi - lo > SEED_READ)
		return SEVMON_ENOTSUP; /* this kernel's fields do not fit one page */
	uint8_t page[SEED_READ];
	uint64_t task = p->sym_init_task;
	unsigned n = 0;
	do {
		int rc = gmem_read(t->kk->mem, task + lo, GMEM_VIRT, page, sizeof page);
		if (rc < 0)
			return rc;
		uint64_t next;
		memcpy(&next, page + (p->task_tasks.off + p->list_head_next.off - lo), 8);
		task = next - p->task_tasks.off;
		n++;
	} while (task != p->sym_init_task && n < SEED_MAX_TASKS);
	w->tasks = n;
	return 0;
}

static int ps_sevmon(struct cli_kernel *t, struct way_stats *w)
{
	const struct kprofile *p = &t->kk->k.p;
	const struct gmem_window win[] = {
		{ .off = p->task_pid.off, .len = 4 },
		{ .off = p->task_tgid.off, .len = 4 },
		{ .off = p->task_comm.off, .len = 16 },
		{ .off = p->task_real_parent.off, .len = 8, .deref = 1, .deref_off = p->task_tgid.off,
		  .deref_len = 4 },
		{ .off = p->task_cred.off, .len = 8, .deref = 1, .deref_off = p->cred_uid.off,
		  .deref_len = 4 },
	};
	const struct gmem_walk_req req = {
		.head = p->sym_init_task + p->task_tasks.off,
		.next_off = p->list_head_next.off,
		.link_off = p->task_tasks.off,
		.win = win,
		.nwin = sizeof win / sizeof win[0],
		.max_nodes = GMEM_WALK_MAX_NODES,
		.space = GMEM_VIRT,
	};
	size_t stride = gmem_walk_stride(&req);
	struct gmem_walk_out wo = { 0 };
	wo.nodes = calloc(req.max_nodes, sizeof *wo.nodes);
	wo.faults = calloc(req.max_nodes, sizeof *wo.faults);
	wo.data = calloc(req.max_nodes, stride);
	int rc = wo.nodes && wo.faults && wo.data ? gmem_walk(t->kk->mem, &req, &wo) : SEVMON_ENOMEM;
	w->tasks = rc == 0 ? (unsigned)wo.n + 1 : 0; /* + init_task, the head */
	free(wo.nodes);
	free(wo.faults);
	free(wo.data);
	return rc;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int run_way(struct cli_kernel *t, const char *check, const char *way,
		   int (*fn)(struct cli_kernel *, struct way_stats *), unsigned runs)
{
	uint64_t ns[RUNS_MAX];
	struct way_stats w = { 0 };
	for (unsigned i = 0; i < runs; i++) {
		uint64_t trips0 = t->kk->mem->trips, wire0 = wire(t), r0 = 0, k0 = 0, r1 = 0, k1 = 0;
		int bell = rpc_client_bell_stats(t->conn->rpc, &r0, &k0) == 0;
		int64_t t0 = clock_mono_ns();
		int rc = fn(t, &w);
		ns[i] = (uint64_t)(clock_mono_ns() - t0);
		if (rc < 0) {
			cli_error("bench", check, rc, way);
			return cli_kernel_exit(t, rc);
		}
		w.requests = t->kk->mem->trips - trips0;
		w.wire_bytes = wire(t) - wire0;
		if (bell && rpc_client_bell_stats(t->conn->rpc, &r1, &k1) == 0) {
			w.rings = r1 - r0;
			w.wakeups = k1 - k0;
		}
	}
	qsort(ns, runs, sizeof ns[0], cmp_u64);
	printf("%-6s %-6s runs %u median %.3f ms min %.3f ms requests %" PRIu64 " bytes %" PRIu64,
	       check, way, runs, ns[runs / 2] / 1e6, ns[0] / 1e6, w.requests, w.wire_bytes);
	if (w.tasks)
		printf(" tasks %u", w.tasks);
	if (rpc_client_bell_stats(t->conn->rpc, &(uint64_t){ 0 }, &(uint64_t){ 0 }) == 0)
		printf(" ids_rings %" PRIu64 " ids_wakeups %" PRIu64, w.rings, w.wakeups);
	printf("\n");
	fflush(stdout);
	return CLI_OK;
}

int cmd_bench_kernel(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kernel", no_argument, NULL, 'k' },
		{ "runs", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		CLI_CONN_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	uint64_t runs = 20;
	struct cli_conn_opts copts;
	cli_conn_opts_init(&copts);
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "r:h", opts, NULL)) != -1) {
		int r = cli_conn_opt(&copts, c, optarg);
		if (r < 0)
			return CLI_EUSAGE;
		if (r > 0 || c == 'k')
			continue;
		if (c == 'r' && cli_parse_u64(optarg, RUNS_MAX, &runs) == 0 && runs >= 1)
			continue;
		if (c == 'h') {
			printf("%s%s", bk_usage, cli_conn_usage);
			return CLI_OK;
		}
		fprintf(stderr, "%s", bk_usage);
		return CLI_EUSAGE;
	}
	if (argc - optind != 1) {
		fprintf(stderr, "%s", bk_usage);
		return CLI_EUSAGE;
	}
	struct cli_kernel t;
	int rc = cli_kernel_open("bench", argv[optind], &copts, 1, 0, &t);
	if (rc != CLI_OK)
		return rc;
	if (t.image) {
		fprintf(stderr, "sevmon bench: --kernel needs an agent, not an image\n");
		cli_kernel_close(&t);
		return CLI_EUSAGE;
	}
	printf("sevmon bench --kernel %s (%s)\n", argv[optind], t.kk->k.p.release);
	unsigned n = (unsigned)runs;
	if ((rc = run_way(&t, "banner", "seed", banner_seed, n)) == CLI_OK &&
	    (rc = run_way(&t, "banner", "sevmon", banner_sevmon, n)) == CLI_OK &&
	    (rc = run_way(&t, "ps", "seed", ps_seed, n)) == CLI_OK)
		rc = run_way(&t, "ps", "sevmon", ps_sevmon, n);
	cli_kernel_close(&t);
	return rc;
}
