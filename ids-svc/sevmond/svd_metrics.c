/*
 * svd_metrics.c — sevmond's own metric families (the REST layer declares its http_*).
 * Labels never carry a target name: a fleet of thousands would multiply every family;
 * per-target figures are in GET /v1/targets/{name}.
 */
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "svd.h"

int svd_metrics_declare(struct metrics *m)
{
	static const struct {
		const char *name;
		enum metrics_type type;
		const char *help;
	} fam[] = {
		{ "sevmond_targets", METRICS_GAUGE, "Targets by session state." },
		{ "sevmond_sessions_ready", METRICS_GAUGE, "Targets with a ready session." },
		{ "sevmond_connects_total", METRICS_COUNTER,
		  "Session set-ups (connect, handshake, kernel profile) by result." },
		{ "sevmond_session_failures_total", METRICS_COUNTER,
		  "Sessions that failed (connect, attestation, lost mid-job)." },
		{ "sevmond_jobs_running", METRICS_GAUGE, "Jobs on the worker pool." },
		{ "sevmond_jobs_queued", METRICS_GAUGE, "Jobs waiting for a worker." },
		{ "sevmond_scans_running", METRICS_GAUGE, "Scans in progress." },
		{ "sevmond_scans_total", METRICS_COUNTER, "Finished scans by status." },
		{ "sevmond_scan_duration_seconds", METRICS_HISTOGRAM, "Wall time of a scan." },
		{ "sevmond_checks_total", METRICS_COUNTER, "Checks run, by check and result." },
		{ "sevmond_check_duration_seconds", METRICS_HISTOGRAM, "Time of one check." },
		{ "sevmond_agent_requests_total", METRICS_COUNTER, "RPC requests sent to agents." },
		{ "sevmond_agent_bytes_total", METRICS_COUNTER, "Bytes exchanged with agents." },
		{ "sevmond_findings_total", METRICS_COUNTER, "Findings recorded by scans." },
		{ "sevmond_acquisitions_total", METRICS_COUNTER,
		  "Memory acquisitions finished, by status (done, failed)." },
		{ "sevmond_memory_rss_bytes", METRICS_GAUGE, "Resident memory of sevmond." },
		{ "sevmond_targets_owned", METRICS_GAUGE,
		  "Targets this replica holds the lease of." },
		{ "sevmond_fleet_targets", METRICS_GAUGE, "Targets in the store, every replica's." },
		{ "sevmond_fleet_replicas", METRICS_GAUGE, "Live replicas at the last beat." },
		{ "sevmond_lease_renewals_total", METRICS_COUNTER,
		  "Lease renewal rounds (beat and renew), by result." },
		{ "sevmond_lease_claims_total", METRICS_COUNTER, "Leases this replica took." },
		{ "sevmond_leases_released_total", METRICS_COUNTER,
		  "Leases handed back to balance the fleet." },
		{ "sevmond_leases_lost_total", METRICS_COUNTER,
		  "Leases found held by another replica (this one was late)." },
		{ "sevmond_store_errors_total", METRICS_COUNTER,
		  "Store calls that failed (logged at most once a second)." },
		{ "sevmond_store_round_trips_total", METRICS_COUNTER,
		  "Statements sent to the database server." },
		{ "sevmond_outbox_jobs", METRICS_GAUGE,
		  "Finished jobs whose results wait for the store." },
	};
	for (size_t i = 0; i < sizeof fam / sizeof fam[0]; i++) {
		int rc = metrics_declare(m, fam[i].name, fam[i].type, fam[i].help, NULL, 0);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void svd_metrics_collect(void *ctx, struct metrics *m)
{
	struct svd *d = ctx;
	unsigned by_state[SVD_NSTATES] = { 0 };
	for (struct svd_target *t = d->targets; t; t = t->next) {
		int s = atomic_load(&t->state);
		if (s >= 0 && s < SVD_NSTATES)
			by_state[s]++;
	}
	for (int s = 0; s < SVD_NSTATES; s++) {
		const char *labels[] = { "state", svd_state_name((enum svd_state)s), NULL };
		metrics_gauge_set(m, "sevmond_targets", labels, by_state[s]);
	}
	metrics_gauge_set(m, "sevmond_sessions_ready", NULL, by_state[SVD_READY]);
	metrics_gauge_set(m, "sevmond_jobs_running", NULL, d->running);
	metrics_gauge_set(m, "sevmond_jobs_queued", NULL, d->queued);
	/* scans with a job queued or running here */
	unsigned scans = 0;
	int64_t last = -1;
	for (struct svd_target *t = d->targets; t; t = t->next)
		for (struct svd_job *j = t->qhead; j; j = j->next)
			if (j->kind == SVD_JOB_SCAN && j->scan_id != last) {
				scans++;
				last = j->scan_id;
			}
	metrics_gauge_set(m, "sevmond_scans_running", NULL, scans);
	metrics_gauge_set(m, "sevmond_targets_owned", NULL, (double)d->ntargets);
	metrics_gauge_set(m, "sevmond_fleet_targets", NULL, (double)d->fleet_targets);
	metrics_gauge_set(m, "sevmond_fleet_replicas", NULL, d->replicas_seen);
	metrics_gauge_set(m, "sevmond_outbox_jobs", NULL, d->noutbox);
	/* a counter kept by the store: add what it counted since the last scrape */
	static uint64_t trips_seen;
	uint64_t trips = store_round_trips(d->store);
	if (trips > trips_seen)
		metrics_counter_add(m, "sevmond_store_round_trips_total", NULL,
				    (double)(trips - trips_seen));
	trips_seen = trips;
	metrics_gauge_set(m, "sevmond_memory_rss_bytes", NULL, (double)svd_rss_bytes());
}

void svd_metrics_job(struct svd *d, const struct svd_job *j)
{
	struct metrics *m = d->metrics;
	if (j->session_rc < 0)
		metrics_counter_add(m, "sevmond_session_failures_total", NULL, 1);
	if (j->connected || j->session_rc < 0) {
		const char *l[] = { "result", j->session_rc < 0 ? "failed" : "ok", NULL };
		metrics_counter_add(m, "sevmond_connects_total", l, 1);
	}
	for (size_t i = 0; i < check_count(); i++) {
		if (!(j->checks & (1ull << i)))
			continue;
		const struct svd_check_out *o = &j->out[i];
		int ok = j->session_rc == 0 && o->rc == 0;
		const char *l[] = { "check", check_at(i)->name, "result", ok ? "ok" : "error", NULL };
		metrics_counter_add(m, "sevmond_checks_total", l, 1);
		const char *lc[] = { "check", check_at(i)->name, NULL };
		if (ok)
			metrics_histogram_observe(m, "sevmond_check_duration_seconds", lc,
						  o->ms / 1000.0);
		metrics_counter_add(m, "sevmond_agent_requests_total", NULL, (double)o->requests);
		metrics_counter_add(m, "sevmond_agent_bytes_total", NULL, (double)o->bytes);
	}
}
