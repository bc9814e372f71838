/*
 * sevmon scan --targets FILE — a batch of checks over many agents.
 *
 * N worker threads, each with its own synchronous connection (ids_conn.h: a private loop),
 * take targets from a shared counter; a target's lines are written in one piece under a
 * lock, so the output is one JSON object per line, a target's lines together, targets in
 * the order they finished. The kernel profile is memoised by BUILD-ID across threads
 * (ids_kmemo): the first target of a build builds or loads it while the others of that
 * build wait, so a fleet of one kernel builds it once.
 *
 * The checks are the registry's (ids-svc/checks/check.h): names, payloads and findings
 * come from its rows. Memory is bounded by the concurrency: each worker holds one
 * connection, one profile, one check's result (a process list is at most
 * GMEM_WALK_MAX_NODES entries) and the text of one target's results.
 */
#include <ctype.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "cli.h"
#include "cli_conn.h"
#include "cli_result.h"
#include "clock.h"
#include "err.h"
#include "ids_kernel.h"
#include "scan_targets.h"

/* Threads at most: each holds a loop (an epoll fd and an eventfd), a socket and its lists;
 * 1024 covers the fleet bench and stays within a raised RLIMIT_NOFILE. */
#define SCAN_MAX_CONCURRENCY 1024u
/* Default: a few connections per core keep both busy while others wait on their agents. */
#define SCAN_DEFAULT_CONCURRENCY 16u
/* Worker stack: the deepest path (profile build, BTF) keeps its big buffers on the heap. */
#define SCAN_STACK_BYTES (1u << 20)
/* Progress bar redraws at most this often (a terminal is slower than a fast scan). */
#define SCAN_PROGRESS_MS 100.0
/* Allocations from this size up are mmapped (glibc): fixing it turns off glibc's sliding
 * threshold, which after the first large free (the profile build's BTF) serves every
 * per-target buffer below some MiB from the threads' heaps and trims them back after each
 * target: 370k page faults and 5x the RSS for 200 targets at 8 workers, against 27k. */
#define SCAN_MMAP_THRESHOLD (128u << 10)
/* Descriptors per worker: loop epoll fd, its eventfd, the connection, a profile file. */
#define SCAN_FDS_PER_WORKER 4u

static const char scan_usage[] =
	"usage: sevmon scan --targets FILE [--checks LIST] [--concurrency N] [--out FILE]\n"
	"                   [--quiet] [channel options]\n"
	"Run checks on every target of FILE, N targets at once (default %u, at most %u).\n"
	"  --targets FILE     one target per line: NAME URI [pin=PUBFILE] [measurement=HEX]...\n"
	"                     NAME [A-Za-z0-9._-]{1,64}, unique; pin= / measurement= override\n"
	"                     --pin / --measurement for that target; '#' starts a comment\n"
	"  --checks LIST      comma-separated check names (default: the default sweep):\n";
static const char scan_usage_tail[] =
	"  --out FILE         JSON lines (default stdout): one per target and check,\n"
	"                       {\"target\":NAME,\"check\":C,\"ok\":true,\"result\":{...},\n"
	"                        \"findings\":[...],\"ms\":T,\"requests\":R,\"bytes\":B}\n"
	"                     or \"ok\":false with \"error\":TEXT instead of \"result\". Results\n"
	"                     are the checks' payloads (what sevmond stores); ms/requests/bytes\n"
	"                     are the check's own (the session set-up is in the summary).\n"
	"  --quiet            no progress bar and no summary\n"
	"The channel options below apply to every target (pin= and measurement= in FILE\n"
	"override --pin and --measurement per target); --connect-timeout bounds each\n"
	"target's connection and channel set-up, --timeout each request.\n"
	"%s"
	"A progress bar is drawn on stderr when it is a terminal; a summary follows.\n"
	"Exit status: 0 every check of every target ok, 1 some failed, 2 usage,\n"
	"6 local failure (cannot read FILE or write the results).\n";

static void print_usage(FILE *f)
{
	fprintf(f, scan_usage, SCAN_DEFAULT_CONCURRENCY, SCAN_MAX_CONCURRENCY);
	check_print_help(f, 21);
	fprintf(f, scan_usage_tail, cli_conn_usage);
}

struct scan_ctx {
	const struct scan_targets *targets;
	struct ids_policy base; /* key, anchors, own evidence: shared by every connection */
	const struct check_def *checks[CHECK_MAX]; /* in registry order */
	size_t nchecks;
	int need_kernel;
	uint32_t connect_timeout_ms, request_timeout_ms;
	FILE *out;
	struct ids_kmemo memo;
	atomic_size_t next;

	pthread_mutex_t mu; /* everything below, and writes to out */
	size_t done, targets_ok, checks_ok, checks_failed;
	int write_failed;
	int progress;
	double t0, last_draw;
	/* seconds summed over targets, per phase: where the time goes */
	double t_connect, t_kernel, t_check[CHECK_MAX];
	uint64_t requests, bytes;
};

struct scan_worker {
	struct scan_ctx *ctx;
	pthread_t thread;
	struct ids_kernel *kk;
	struct ids_policy pol; /* base + this target's pin and measurements; holds the key */
	struct snp_provider *own; /* this worker's own evidence provider (--attest): a provider
				   * keeps its last report in itself, so threads cannot share one */
};

/* ---- one target ---- */

/* One result line into f; 0, or -1 when out of memory. */
static int line(FILE *f, const struct cli_result *r)
{
	char *text = cli_result_json(r);
	if (!text)
		return -1;
	fputs(text, f);
	free(text);
	return 0;
}

static void line_error(FILE *f, const struct scan_target *t, const struct check_def *c,
		       const char *what, double ms, uint64_t req, uint64_t bytes)
{
	struct cli_result r = { .target = t->name, .check = c->name, .error = what, .ms = ms,
				.requests = req, .bytes = bytes };
	(void)line(f, &r);
}

_Static_assert(SCAN_MEAS_MAX <= EVIDENCE_MAX_MEASUREMENTS, "per-target measurements fit the policy");

/* Connect and run the channel to t under the base policy with t's pin and measurements.
 * 0 or a negative SEVMON_E* with why filled. w->pol must stay until the connection closes
 * (it shares the base's trust anchors and provider: never ids_policy_free it). */
static int scan_connect(struct scan_worker *w, const struct scan_target *t, struct ids_conn *c,
			char *why, size_t cap)
{
	struct ids_policy *p = &w->pol;
	*p = w->ctx->base;
	p->own = w->own;
	int rc;
	if (t->pin) {
		if ((rc = session_pub_load(t->pin, p->pin)) < 0) {
			snprintf(why, cap, "pin %.200s: %s", t->pin, sevmon_strerror(rc));
			return rc;
		}
		p->has_pin = true;
	}
	if (t->nmeas) {
		for (size_t i = 0; i < t->nmeas; i++)
			if (session_hex_decode(t->meas[i], p->peer.measurements[i], SNP_MEASUREMENT_LEN) < 0) {
				snprintf(why, cap, "measurement on line %u: not %d hex digits", t->line,
					 2 * SNP_MEASUREMENT_LEN);
				return SEVMON_EINVAL;
			}
		p->peer.n_measurements = t->nmeas;
	}
	rc = ids_conn_open(c, t->uri, (int)w->ctx->connect_timeout_ms, p);
	if (rc < 0)
		snprintf(why, cap, "connect %s: %s", t->uri, c->why[0] ? c->why : sevmon_strerror(rc));
	else
		c->request_timeout_ms = w->ctx->request_timeout_ms;
	return rc;
}

/* Progress: "[#####.....] 523/1000  3 failed  1.2 s". Under ctx->mu. */
static void draw_progress(struct scan_ctx *ctx, int final)
{
	double now = clock_mono_s();
	if (!final && now - ctx->last_draw < SCAN_PROGRESS_MS / 1000.0)
		return;
	ctx->last_draw = now;
	enum { WIDTH = 30 };
	size_t n = ctx->targets->n, filled = n ? ctx->done * WIDTH / n : WIDTH;
	char bar[WIDTH + 1];
	for (size_t i = 0; i < WIDTH; i++)
		bar[i] = i < filled ? '#' : '.';
	bar[WIDTH] = 0;
	fprintf(stderr, "\r[%s] %zu/%zu  %zu failed  %.1f s%s", bar, ctx->done, n,
		ctx->done - ctx->targets_ok, now - ctx->t0, final ? "\n" : "");
	fflush(stderr);
}

static void scan_one(struct scan_worker *w, const struct scan_target *t)
{
	struct scan_ctx *ctx = w->ctx;
	char *text = NULL;
	size_t textlen = 0;
	FILE *f = open_memstream(&text, &textlen);
	char why[SCAN_URI_MAX + 320], err[256];
	struct ids_conn conn;
	double t_connect = 0, t_kernel = 0, t_check[CHECK_MAX] = { 0 };
	size_t ok = 0;
	struct rpc_client_stats st0 = { 0 }, st1 = { 0 };

	if (!f) {
		pthread_mutex_lock(&ctx->mu);
		ctx->write_failed = 1;
		pthread_mutex_unlock(&ctx->mu);
		return;
	}
	double a = clock_mono_s();
	int rc = scan_connect(w, t, &conn, why, sizeof why);
	double b = clock_mono_s();
	t_connect = b - a;
	if (rc < 0) {
		sodium_memzero(&w->pol.key, sizeof w->pol.key);
		for (size_t i = 0; i < ctx->nchecks; i++)
			line_error(f, t, ctx->checks[i], why, t_connect * 1000.0, 0, 0);
		goto write;
	}
	int need_kernel = ctx->need_kernel;
	rc = need_kernel ? ids_kernel_open_memo(w->kk, &conn, &ctx->memo, err, sizeof err) : 0;
	t_kernel = clock_mono_s() - b;
	if (rc < 0) {
		snprintf(why, sizeof why, "kernel: %s", err[0] ? err : sevmon_strerror(rc));
		for (size_t i = 0; i < ctx->nchecks; i++)
			line_error(f, t, ctx->checks[i], why, 0, 0, 0);
		rpc_client_get_stats(conn.rpc, &st1);
		ids_conn_close(&conn);
		sodium_memzero(&w->pol.key, sizeof w->pol.key);
		goto write;
	}
	struct check_env env = { .k = need_kernel ? &w->kk->k : NULL,
				 .evidence = &w->pol.peer.last };
	check_set set = 0;
	for (size_t i = 0; i < ctx->nchecks; i++)
		set |= 1ull << check_index(ctx->checks[i]->name);
	/* one sweep: the kernel views its checks compare are read together */
	if (check_sweep_begin(&env, set) < 0)
		env.kv = NULL; /* each check reads its own, then */
	for (size_t i = 0; i < ctx->nchecks; i++) {
		const struct check_def *c = ctx->checks[i];
		char *pl = NULL, cerr[256] = "";
		struct check_findings fnd = { 0 };
		rpc_client_get_stats(conn.rpc, &st0);
		double c0 = clock_mono_s();
		rc = check_run_json(c, &env, &pl, NULL, &fnd, cerr, sizeof cerr);
		double ms = (clock_mono_s() - c0) * 1000.0;
		t_check[i] = ms / 1000.0;
		if (!(c->needs & CHECK_NEEDS_KERNEL))
			ms = t_connect * 1000.0; /* what it reports happened in the handshake */
		rpc_client_get_stats(conn.rpc, &st1);
		uint64_t req = st1.requests - st0.requests;
		uint64_t bytes = st1.bytes_sent + st1.bytes_received - st0.bytes_sent - st0.bytes_received;
		struct cli_result r = { .target = t->name, .check = c->name, .ok = rc == 0,
					.error = cerr[0] ? cerr : sevmon_strerror(rc), .payload = pl,
					.findings = &fnd, .ms = ms, .requests = req, .bytes = bytes };
		if (line(f, &r) < 0)
			rc = SEVMON_ENOMEM;
		if (rc == 0)
			ok++;
		check_findings_free(&fnd);
		free(pl);
	}
	check_sweep_end(&env);
	rpc_client_get_stats(conn.rpc, &st1);
	if (need_kernel)
		ids_kernel_close(w->kk);
	ids_conn_close(&conn);
	sodium_memzero(&w->pol.key, sizeof w->pol.key);
write:;
	int bad = fclose(f) != 0;
	pthread_mutex_lock(&ctx->mu);
	if (bad || fwrite(text, 1, textlen, ctx->out) != textlen)
		ctx->write_failed = 1;
	ctx->done++;
	ctx->targets_ok += ok == ctx->nchecks;
	ctx->checks_ok += ok;
	ctx->checks_failed += ctx->nchecks - ok;
	ctx->t_connect += t_connect;
	ctx->t_kernel += t_kernel;
	for (size_t i = 0; i < CHECK_MAX; i++)
		ctx->t_check[i] += t_check[i];
	ctx->requests += st1.requests;
	ctx->bytes += st1.bytes_sent + st1.bytes_received;
	if (ctx->progress)
		draw_progress(ctx, 0);
	pthread_mutex_unlock(&ctx->mu);
	free(text);
}

static void *worker_main(void *arg)
{
	struct scan_worker *w = arg;
	struct scan_ctx *ctx = w->ctx;
	for (;;) {
		size_t i = atomic_fetch_add(&ctx->next, 1);
		if (i >= ctx->targets->n)
			break;
		scan_one(w, &ctx->targets->v[i]);
	}
	return NULL;
}

/* ---- command line ---- */

static void use_checks(struct scan_ctx *ctx, check_set set)
{
	ctx->nchecks = 0;
	for (size_t i = 0; i < check_count(); i++)
		if (set & (1ull << i))
			ctx->checks[ctx->nchecks++] = check_at(i);
	ctx->need_kernel = check_set_needs(set, CHECK_NEEDS_KERNEL);
}

/* Each worker needs a few descriptors: raise the soft limit towards the hard one. */
static size_t fit_fd_limit(size_t workers)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)workers * SCAN_FDS_PER_WORKER + 64;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return workers;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < want) {
		size_t fit = rl.rlim_cur > 64 ? (size_t)(rl.rlim_cur - 64) / SCAN_FDS_PER_WORKER : 1;
		return fit ? fit : 1;
	}
	return workers;
}

static void print_summary(const struct scan_ctx *ctx, double wall, size_t nworkers)
{
	size_t n = ctx->targets->n;
	fprintf(stderr, "sevmon scan: %zu targets: %zu ok, %zu failed; %zu checks: %zu ok, %zu failed\n", n,
		ctx->targets_ok, n - ctx->targets_ok, ctx->checks_ok + ctx->checks_failed, ctx->checks_ok,
		ctx->checks_failed);
	fprintf(stderr, "sevmon scan: wall %.3f s with %zu workers, %.0f targets/s; %" PRIu64
			" requests, %" PRIu64 " bytes\n", wall, nworkers, wall > 0 ? (double)n / wall : 0.0,
		ctx->requests, ctx->bytes);
	fprintf(stderr, "sevmon scan: time summed over targets: connect+channel %.3f s, kernel "
			"profile %.3f s (built %lu, loaded %lu, reused %lu; VMCOREINFO by scan %lu, "
			"at the hint %lu)",
		ctx->t_connect, ctx->t_kernel, ctx->memo.built, ctx->memo.loaded, ctx->memo.reused,
		ctx->memo.scans, ctx->memo.hint_hits);
	for (size_t i = 0; i < ctx->nchecks; i++)
		fprintf(stderr, ", %s %.3f s", ctx->checks[i]->name, ctx->t_check[i]);
	fputc('\n', stderr);
}

int cmd_scan(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "targets", required_argument, NULL, 'T' },
		{ "checks", required_argument, NULL, 'c' },
		{ "concurrency", required_argument, NULL, 'n' },
		{ "out", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		CLI_CONN_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct cli_conn_opts copts;
	cli_conn_opts_init(&copts);
	struct scan_ctx ctx;
	memset(&ctx, 0, sizeof ctx);
	const char *targets_path = NULL, *out_path = NULL;
	uint64_t conc = SCAN_DEFAULT_CONCURRENCY;
	int quiet = 0, c;
	char cerr[160];
	check_set set;
	use_checks(&ctx, check_default_set());
	while ((c = getopt_long(argc, argv, "T:c:n:o:qh", opts, NULL)) != -1) {
		int mine = cli_conn_opt(&copts, c, optarg);
		if (mine < 0)
			return CLI_EUSAGE;
		if (mine)
			continue;
		switch (c) {
		case 'T':
			targets_path = optarg;
			break;
		case 'c':
			if (check_set_parse(optarg, &set, cerr, sizeof cerr) < 0) {
				fprintf(stderr, "sevmon scan: --checks: %s\n", cerr);
				return CLI_EUSAGE;
			}
			use_checks(&ctx, set);
			break;
		case 'n':
			if (cli_parse_u64(optarg, SCAN_MAX_CONCURRENCY, &conc) < 0 || conc == 0) {
				fprintf(stderr, "sevmon scan: --concurrency: 1..%u\n", SCAN_MAX_CONCURRENCY);
				return CLI_EUSAGE;
			}
			break;
		case 'o':
			out_path = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			print_usage(stdout);
			return CLI_OK;
		default:
			print_usage(stderr);
			return CLI_EUSAGE;
		}
	}
	if (!targets_path || optind != argc) {
		print_usage(stderr);
		return CLI_EUSAGE;
	}
	ctx.connect_timeout_ms = copts.connect_timeout_ms;
	ctx.request_timeout_ms = copts.request_timeout_ms;
	(void)mallopt(M_MMAP_THRESHOLD, SCAN_MMAP_THRESHOLD); /* only a tuning: failure is harmless */

	struct scan_targets targets;
	char err[256];
	FILE *tf = fopen(targets_path, "r");
	if (!tf) {
		cli_error("scan", targets_path, SEVMON_EIO, "cannot open the targets file");
		return CLI_ELOCAL;
	}
	int rc = scan_targets_parse(&targets, tf, err, sizeof err);
	fclose(tf);
	if (rc < 0) {
		fprintf(stderr, "sevmon scan: %s: %s\n", targets_path, err);
		return rc == SEVMON_ENOMEM || rc == SEVMON_EIO ? CLI_ELOCAL : CLI_EUSAGE;
	}
	ctx.targets = &targets;
	size_t any = 0;
	for (size_t i = 0; i < targets.n; i++)
		any += targets.v[i].nmeas == 0;
	copts.quiet_any_measurement = 1;
	int ex = cli_conn_policy("scan", &copts, &ctx.base);
	if (ex != CLI_OK) {
		scan_targets_free(&targets);
		return ex;
	}
	if (copts.nmeasurements == 0 && any)
		fprintf(stderr, "sevmon scan: warning: %zu of %zu targets accept any launch measurement "
				"(no --measurement, no measurement= in the file)\n", any, targets.n);
	ctx.out = stdout;
	if (out_path && strcmp(out_path, "-") && !(ctx.out = fopen(out_path, "w"))) {
		cli_error("scan", out_path, SEVMON_EIO, "cannot create the results file");
		ids_policy_free(&ctx.base);
		scan_targets_free(&targets);
		return CLI_ELOCAL;
	}
	ex = CLI_ELOCAL;
	size_t nworkers = conc < targets.n ? (size_t)conc : targets.n;
	nworkers = fit_fd_limit(nworkers);
	struct scan_worker *w = calloc(nworkers ? nworkers : 1, sizeof *w);
	if (!w || ids_kmemo_init(&ctx.memo) < 0) {
		free(w);
		goto out;
	}
	pthread_mutex_init(&ctx.mu, NULL);
	ctx.progress = !quiet && isatty(STDERR_FILENO);
	ctx.t0 = clock_mono_s();
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, SCAN_STACK_BYTES);
	size_t started = 0;
	for (; started < nworkers; started++) {
		struct scan_worker *x = &w[started];
		x->ctx = &ctx;
		x->kk = calloc(1, sizeof *x->kk);
		char why[256];
		if (!x->kk ||
		    (copts.attest && snp_provider_open(copts.attest, &x->own, why, sizeof why) < 0) ||
		    pthread_create(&x->thread, &attr, worker_main, x)) {
			free(x->kk);
			snp_provider_free(x->own);
			break;
		}
	}
	pthread_attr_destroy(&attr);
	if (started == 0) {
		/* no thread at all: run the batch here, as one worker */
		struct scan_worker *x = &w[0];
		x->ctx = &ctx;
		x->kk = calloc(1, sizeof *x->kk);
		x->own = ctx.base.own; /* one thread: the base's provider is not shared */
		if (x->kk)
			worker_main(x);
		else
			ctx.write_failed = 1;
		started = 1;
		free(x->kk);
	} else {
		for (size_t i = 0; i < started; i++) {
			pthread_join(w[i].thread, NULL);
			free(w[i].kk);
			snp_provider_free(w[i].own);
		}
	}
	double wall = clock_mono_s() - ctx.t0;
	if (ctx.progress)
		draw_progress(&ctx, 1);
	if (!quiet)
		print_summary(&ctx, wall, started);
	ids_kmemo_destroy(&ctx.memo);
	pthread_mutex_destroy(&ctx.mu);
	free(w);
	if (fflush(ctx.out) != 0 || ferror(ctx.out))
		ctx.write_failed = 1;
	if (ctx.write_failed)
		fprintf(stderr, "sevmon scan: writing the results failed\n");
	ex = ctx.write_failed ? CLI_ELOCAL : ctx.targets_ok == targets.n ? CLI_OK : CLI_EREMOTE;
out:
	ids_policy_free(&ctx.base);
	if (ctx.out != stdout && fclose(ctx.out) != 0 && ex == CLI_OK)
		ex = CLI_ELOCAL;
	scan_targets_free(&targets);
	return ex;
}
