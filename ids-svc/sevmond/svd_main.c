/*
 * sevmond — the IDS daemon: sessions to many agents, scheduled and requested scans, the
 * REST API, results in SQLite. `sevmond --config FILE` (docs/sevmond.md).
 *
 * Signals: SIGHUP reloads the config (targets added, removed, changed; sessions of
 * unchanged targets stay); SIGTERM/SIGINT drain: no new work, queued jobs are dropped
 * (their scans stay "running" and the next start marks them "interrupted"), running jobs
 * finish and are recorded, the REST server closes, and the process exits 0.
 */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "svd.h"
#include "svd_source.h"

/* How often the scheduler looks for due scans and targets to reconnect. */
#define SVD_TICK_MS 1000u

static const char usage_text[] =
	"usage: sevmond --config FILE [--check] [--port-file FILE]\n"
	"  -c, --config FILE     configuration (docs/sevmond.md)\n"
	"      --check           parse the configuration, print a summary and exit\n"
	"      --port-file FILE  write the bound API port there once listening (tests)\n"
	"Exit status: 0 after SIGTERM/SIGINT or --check success, 1 bad configuration or setup\n"
	"failure, 2 usage error.\n";

static unsigned pool_size; /* libuv's thread pool, fixed at the first job */

static void close_cb_noop(uv_handle_t *h)
{
	(void)h;
}

/* d->idle: after every job, and when the REST server has closed. */
static void svd_maybe_exit(struct svd *d)
{
	if (!d->draining || d->running)
		return;
	/* the last job is recorded: hand the leases over now, not after the API has
	 * closed (idle keep-alive clients can hold that up for seconds) */
	svd_lease_release_all(d);
	if (!d->rest_closed)
		return;
	if (uv_is_closing((uv_handle_t *)&d->tick))
		return;
	svd_log("drained; exiting");
	svd_lease_stop(d);
	uv_close((uv_handle_t *)&d->tick, close_cb_noop);
	uv_close((uv_handle_t *)&d->kick, close_cb_noop);
	uv_close((uv_handle_t *)&d->sighup, close_cb_noop);
	uv_close((uv_handle_t *)&d->sigterm, close_cb_noop);
	uv_close((uv_handle_t *)&d->sigint, close_cb_noop);
}

static void on_rest_closed(void *arg)
{
	struct svd *d = arg;
	d->rest_closed = 1;
	d->rest = NULL;
	svd_maybe_exit(d);
}

static void drain(struct svd *d)
{
	if (d->draining)
		return;
	d->draining = 1;
	svd_log("draining: %u jobs running, %u queued (dropped: they go back to the store with "
		"the leases)", d->running, d->queued);
	uv_timer_stop(&d->tick);
	for (struct svd_target *t = d->targets; t; t = t->next) {
		while (t->qhead) {
			struct svd_job *j = t->qhead;
			t->qhead = j->next;
			t->nqueued--;
			d->queued--;
			svd_job_drop(d, j, j->kind == SVD_JOB_VIEW ? SEVMON_EBUSY : SEVMON_ECANCELED,
				     "shutting down");
		}
		t->qtail = NULL;
	}
	if (d->rest)
		rest_server_close(d->rest, on_rest_closed, d);
	else
		d->rest_closed = 1;
	svd_maybe_exit(d);
}

static void on_term(uv_signal_t *s, int signum)
{
	(void)signum;
	drain(s->data);
}

/* ---------------------------------------------------------------- reload */

static void apply_limits(struct svd *d, struct svd_config *nc)
{
	if (nc->workers > pool_size) {
		svd_log("reload: workers %u > %u (the pool size at start): using %u; restart to grow",
			nc->workers, pool_size, pool_size);
		nc->workers = pool_size;
	}
	if (strcmp(nc->host, d->cfg.host) || nc->port != d->cfg.port ||
	    strcmp(nc->unix_path, d->cfg.unix_path) || strcmp(nc->database, d->cfg.database) ||
	    (nc->replica[0] && strcmp(nc->replica, d->cfg.replica)) || nc->lease_ms != d->cfg.lease_ms ||
	    nc->lease_renew_ms != d->cfg.lease_renew_ms || nc->ntokens != d->cfg.ntokens ||
	    memcmp(nc->tokens, d->cfg.tokens, sizeof nc->tokens))
		svd_log("reload: listen, unix, token, store, replica and lease changes take effect "
			"at restart");
	/* those stay as they are until then */
	memcpy(nc->database, d->cfg.database, sizeof nc->database);
	memcpy(nc->replica, d->cfg.replica, sizeof nc->replica);
	nc->lease_ms = d->cfg.lease_ms;
	nc->lease_renew_ms = d->cfg.lease_renew_ms;
	struct store_retention ret = { .keep_scans = nc->keep_scans,
				       .max_age_ms = (int64_t)(nc->max_age_s * 1000u) };
	store_set_retention(d->store, &ret);
}

static void reload(struct svd *d)
{
	struct svd_config nc;
	char err[512];
	if (svd_config_load(d->config_path, &nc, err, sizeof err) < 0) {
		svd_log("reload failed, keeping the running configuration: %s", err);
		return;
	}
	apply_limits(d, &nc);
	/* keep the old values visible until the swap */
	struct svd_config old = d->cfg;
	d->cfg = nc;
	/* anchors may have changed: new sessions build them anew; open ones keep theirs */
	svd_trust_unref(d->trust);
	d->trust = NULL;
	/* the files' targets into the store; the holders of their leases (this replica for
	 * some, others for the rest) apply what changed at their next renewal */
	if (svd_targets_seed(d) < 0)
		svd_log("reload: the store did not take every target (retried at the next reload)");
	/* the daemon default interval may have changed for targets without their own */
	for (struct svd_target *t = d->targets; t; t = t->next) {
		uint32_t iv = t->cfg.interval_s ? t->cfg.interval_s : nc.interval_s;
		if (!iv)
			t->next_scan_ms = 0;
		else if (!t->next_scan_ms)
			t->next_scan_ms = (uint64_t)clock_real_ms() + (uint64_t)iv * 1000u;
	}
	svd_config_free(&old);
	svd_lease_round(d);
	svd_log("reloaded %s: %zu targets here", d->config_path, d->ntargets);
	svd_dispatch(d);
}

static void on_hup(uv_signal_t *s, int signum)
{
	struct svd *d = s->data;
	(void)signum;
	if (!d->draining)
		reload(d);
}

/* ---------------------------------------------------------------- scheduler */

static void on_tick(uv_timer_t *tm)
{
	struct svd *d = tm->data;
	uint64_t now = (uint64_t)clock_real_ms();
	size_t ndue = 0;
	const char **due = d->ntargets ? calloc(d->ntargets, sizeof *due) : NULL;
	for (struct svd_target *t = d->targets; t; t = t->next) {
		/* reconnect failed targets once their backoff has passed */
		if (atomic_load(&t->state) == SVD_FAILED && !t->busy && !t->qhead &&
		    t->retry_at_ms <= now)
			svd_job_queue_connect(d, t);
		uint32_t iv = t->cfg.interval_s ? t->cfg.interval_s : d->cfg.interval_s;
		if (iv && t->next_scan_ms && now >= t->next_scan_ms) {
			t->next_scan_ms = now + (uint64_t)iv * 1000u;
			if (due && t->nqueued < d->cfg.queue_per_target)
				due[ndue++] = t->cfg.name;
		}
	}
	if (ndue) {
		int64_t id;
		int rc = svd_scan_start(d, due, ndue, 0, &id);
		if (rc < 0)
			svd_log("scheduled scan of %zu targets not started: %s", ndue,
				sevmon_strerror(rc));
	}
	free(due);
	/* target sources that change by themselves (libvirt domains start and stop) */
	uint32_t poll = 0;
	for (size_t i = 0; i < svd_nsources; i++) {
		uint32_t p = svd_sources[i].configured(&d->cfg) ? svd_sources[i].poll_ms(&d->cfg) : 0;
		if (p && (!poll || p < poll))
			poll = p;
	}
	uint64_t mono = (uint64_t)clock_mono_ms();
	if (poll && mono >= d->sources_next_ms) {
		d->sources_next_ms = mono + poll;
		if (svd_targets_seed(d) == 0)
			svd_lease_round(d); /* new targets are claimed now, not at the next renewal */
	}
	svd_dispatch(d);
}

static void on_kick(uv_async_t *a)
{
	svd_dispatch(a->data);
}

/* ---------------------------------------------------------------- start */

static int write_port_file(const char *path, uint16_t port)
{
	char tmp[SVD_PATH_MAX + 8];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%u\n", port);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *port_file = NULL;
	int check = 0, c;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'k':
			check = 1;
			break;
		case 'p':
			port_file = optarg;
			break;
		case 'h':
			printf("%s", usage_text);
			return 0;
		default:
			fprintf(stderr, "%s", usage_text);
			return 2;
		}
	}
	if (!config || optind != argc) {
		fprintf(stderr, "%s", usage_text);
		return 2;
	}
	static struct svd d; /* static: big, and the signal handlers' data */
	char err[512];
	if (strlen(config) > SVD_PATH_MAX) {
		fprintf(stderr, "sevmond: config path too long\n");
		return 2;
	}
	svd_copy(d.config_path, sizeof d.config_path, config);
	if (svd_config_load(config, &d.cfg, err, sizeof err) < 0) {
		fprintf(stderr, "sevmond: %s\n", err);
		return 1;
	}
	if (!d.cfg.replica[0])
		svd_default_replica(d.cfg.replica, sizeof d.cfg.replica);
	svd_copy(d.replica, sizeof d.replica, d.cfg.replica);
	char label[SVD_PATH_MAX + 8];
	svd_store_label(d.cfg.database, label, sizeof label);
	if (check) {
		printf("%s: ok: %zu targets, %u workers, database %s\n", config, d.cfg.ntargets,
		       d.cfg.workers, label);
		svd_config_free(&d.cfg);
		return 0;
	}
	/* each session holds a socket and its private loop's descriptors (~3): a fleet of
	 * thousands needs more than the usual soft limit of 1024 */
	struct rlimit nofile;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &nofile);
	}
	/* a peer's reset must not kill the daemon: writes report EPIPE instead */
	signal(SIGPIPE, SIG_IGN);
	/* the pool's size is read once, at the first uv_queue_work */
	pool_size = d.cfg.workers;
	char nthreads[16];
	snprintf(nthreads, sizeof nthreads, "%u", pool_size);
	setenv("UV_THREADPOOL_SIZE", nthreads, 1);
	json_object_seed(0); /* before any worker thread makes a JSON object */
	d.jitter_state = (uint64_t)clock_real_ms() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
	d.loop = uv_default_loop();
	d.idle = svd_maybe_exit;
	if (ids_kmemo_init(&d.kmemo) < 0) {
		fprintf(stderr, "sevmond: out of memory\n");
		svd_config_free(&d.cfg);
		return 1;
	}

	struct store_retention ret = { .keep_scans = d.cfg.keep_scans,
				       .max_age_ms = (int64_t)(d.cfg.max_age_s * 1000u) };
	int rc = store_open(d.cfg.database, 0, &ret, &d.store, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, "sevmond: %s: %s\n", label, err);
		ids_kmemo_destroy(&d.kmemo);
		svd_config_free(&d.cfg);
		return 1;
	}
	if (rc > 0)
		svd_log("%d scans were interrupted by the last shutdown or crash: marked 'interrupted'",
			rc);
	int status = 1;
	d.metrics = metrics_new();
	if (!d.metrics || svd_metrics_declare(d.metrics) < 0) {
		fprintf(stderr, "sevmond: out of memory\n");
		goto out;
	}
	uv_timer_init(d.loop, &d.tick);
	d.tick.data = &d;
	uv_async_init(d.loop, &d.kick, on_kick);
	d.kick.data = &d;
	uv_signal_init(d.loop, &d.sighup);
	uv_signal_init(d.loop, &d.sigterm);
	uv_signal_init(d.loop, &d.sigint);
	d.sighup.data = d.sigterm.data = d.sigint.data = &d;
	uv_signal_start(&d.sighup, on_hup, SIGHUP);
	uv_signal_start(&d.sigterm, on_term, SIGTERM);
	uv_signal_start(&d.sigint, on_term, SIGINT);
	if (svd_targets_seed(&d) < 0)
		goto fail_loop;
	const char *tokens[SVD_TOKENS_MAX];
	for (unsigned i = 0; i < d.cfg.ntokens; i++)
		tokens[i] = d.cfg.tokens[i];
	struct rest_config rc_cfg = {
		.host = d.cfg.host[0] ? d.cfg.host : NULL,
		.port = d.cfg.port,
		.unix_path = d.cfg.unix_path[0] ? d.cfg.unix_path : NULL,
		.tokens = tokens,
		.ntokens = d.cfg.ntokens,
	};
	rc_cfg.routes = rest_routes(&rc_cfg.nroutes);
	rc = rest_server_start(&d.rest, d.loop, &rc_cfg, &svd_backend, &d, d.metrics);
	if (rc < 0) {
		fprintf(stderr, "sevmond: cannot serve the API on %s:%u%s%s: %s\n", d.cfg.host,
			d.cfg.port, d.cfg.unix_path[0] ? " / " : "", d.cfg.unix_path,
			sevmon_strerror(rc));
		d.rest = NULL;
		goto fail_loop;
	}
	svd_log("listening on %s:%u%s%s; replica %s, %u workers, store %s (lease %u ms, renewed "
		"every %u ms)", d.cfg.host, rest_server_port(d.rest),
		d.cfg.unix_path[0] ? ", unix " : "", d.cfg.unix_path, d.replica, d.cfg.workers, label,
		d.cfg.lease_ms, d.cfg.lease_renew_ms);
	if (port_file && write_port_file(port_file, rest_server_port(d.rest)) < 0) {
		fprintf(stderr, "sevmond: cannot write %s\n", port_file);
		goto fail_loop;
	}
	uv_timer_start(&d.tick, on_tick, SVD_TICK_MS, SVD_TICK_MS);
	svd_lease_start(&d); /* the first round claims this replica's share */
	svd_dispatch(&d);
	uv_run(d.loop, UV_RUN_DEFAULT);
	status = 0;
	goto out;
fail_loop:
	drain(&d);
	uv_run(d.loop, UV_RUN_DEFAULT);
out:
	while (d.targets) {
		struct svd_target *t = d.targets;
		d.targets = t->next;
		svd_target_free(t);
	}
	svd_outbox_free(&d);
	svd_trust_unref(d.trust);
	ids_kmemo_destroy(&d.kmemo);
	store_close(d.store);
	metrics_free(d.metrics);
	svd_config_free(&d.cfg);
	if (uv_loop_close(d.loop) != 0)
		svd_log("loop closed with handles still open");
	return status;
}
