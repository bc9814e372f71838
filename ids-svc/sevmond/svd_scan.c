/*
 * svd_scan.c — scans (request, progress, results) and findings, as the REST API shows
 * them. A scan is a request in the store with one job per target (any replica makes it);
 * each target's owner takes its jobs (svd_jobs_pull) and runs them on its pool; when one
 * comes back (scan_job_ops), its checks' results and findings go to the store, fenced by
 * the lease, each with the diff rule its registry row names, and the job is finished
 * there: the last job finishes the scan. Progress is the store's, readable anywhere.
 * Results the store cannot take now (unreachable) wait in the outbox, in order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "svd.h"

/* The findings a check raised, as the store takes them (borrowed strings). */
static struct store_finding_in *findings_in(const struct check_findings *f)
{
	struct store_finding_in *v = calloc(f->n ? f->n : 1, sizeof *v);
	for (size_t i = 0; v && i < f->n; i++)
		v[i] = (struct store_finding_in){ .severity = f->v[i].severity, .kind = f->v[i].kind,
						  .subject = f->v[i].subject,
						  .technique = f->v[i].technique,
						  .detail_json = f->v[i].detail_json };
	return v;
}

/* This replica finished scan id (its last job was ours): its figures. */
static void scan_finished(struct svd *d, int64_t id)
{
	struct store_scan sc;
	if (store_scan_get(d->store, id, &sc) < 0) {
		svd_store_failed(d, "scan");
		return;
	}
	const char *labels[] = { "status", store_scan_status_name(sc.status), NULL };
	metrics_counter_add(d->metrics, "sevmond_scans_total", labels, 1);
	int64_t ms = sc.finished_at - sc.started_at;
	metrics_histogram_observe(d->metrics, "sevmond_scan_duration_seconds", NULL,
				  ms > 0 ? (double)ms / 1000.0 : 0.0);
	svd_log("scan %lld: %s (%llu targets, %llu failed, %lld ms)", (long long)id,
		store_scan_status_name(sc.status), (unsigned long long)sc.jobs,
		(unsigned long long)sc.jobs_failed, (long long)ms);
	store_scan_clear(&sc);
}

/* The store is unreachable: is this error one that may pass? */
static int transient(int rc)
{
	return rc == SEVMON_EBUSY;
}

/*
 * Record what a scan job found: one fenced result per check (a result the store already
 * has, from an earlier try, counts as recorded), then the job's end. Returns 0 when done
 * with the job, 1 when the store could not take it and it should wait (the outbox), -1
 * when it must not be recorded at all (the lease went elsewhere: the next holder runs it).
 * j->t may be gone (NULL): j->target names it.
 */
static int record(struct svd *d, struct svd_job *j)
{
	int failed = j->session_rc < 0;
	for (size_t i = 0; i < check_count(); i++) {
		if (!(j->checks & (1ull << i)))
			continue;
		const struct check_def *c = check_at(i);
		const struct svd_check_out *o = &j->out[i];
		int ok = j->session_rc == 0 && o->rc == 0 && o->payload;
		const char *err = ok ? NULL : o->err[0] ? o->err : j->session_err;
		if (!err || !err[0])
			err = "did not run";
		struct store_finding_in *fi = ok && o->findings.n ? findings_in(&o->findings) : NULL;
		if (ok && o->findings.n && !fi) {
			ok = 0;
			err = "out of memory";
		}
		struct store_result_in r = { .target = j->target, .check = c->name, .ok = ok,
					     .error = ok ? NULL : err, .diff = c->diff,
					     .findings = fi, .nfindings = fi ? o->findings.n : 0,
					     .payload_json = ok ? o->payload : NULL,
					     .duration_ms = o->ms, .requests = o->requests,
					     .bytes = o->bytes, .replica = d->replica,
					     .lease_token = j->t ? j->t->lease_token : 0,
					     .started_at = j->started_ms };
		int rc = r.lease_token > 0 ? store_result_add(d->store, j->scan_id, &r) : SEVMON_EDENIED;
		free(fi);
		if (!ok)
			failed = 1;
		if (rc == SEVMON_EEXIST)
			continue; /* an earlier try, or the last holder, recorded it */
		if (rc == SEVMON_EDENIED)
			return -1;
		if (rc < 0 && transient(rc)) {
			svd_store_failed(d, "result");
			return 1;
		}
		if (rc < 0) {
			svd_log("scan %lld %s/%s: store: %s", (long long)j->scan_id, j->target, c->name,
				store_last_error(d->store));
			failed = 1;
		} else if (rc > 0) {
			metrics_counter_add(d->metrics, "sevmond_findings_total", NULL, rc);
		}
	}
	int rc = store_job_finish(d->store, j->scan_id, j->target, failed);
	if (rc < 0 && transient(rc)) {
		svd_store_failed(d, "job finish");
		return 1;
	}
	if (rc < 0 && rc != SEVMON_ENOENT)
		svd_log("scan %lld %s: store: %s", (long long)j->scan_id, j->target,
			store_last_error(d->store));
	if (rc > 0)
		scan_finished(d, j->scan_id);
	return 0;
}

/* Keep a job whose results wait for the store; the oldest goes past SVD_OUTBOX_MAX. */
static void outbox_put(struct svd *d, struct svd_job *j)
{
	if (d->noutbox >= SVD_OUTBOX_MAX) {
		struct svd_job *old = d->outbox;
		d->outbox = old->next;
		if (!d->outbox)
			d->outbox_tail = NULL;
		d->noutbox--;
		svd_log("scan %lld %s: the store has been away too long: its results are dropped "
			"(the job runs again under the lease's next holder)",
			(long long)old->scan_id, old->target);
		svd_job_free(old);
	}
	j->t = NULL; /* the target may go meanwhile; the token is kept below */
	j->next = NULL;
	if (d->outbox_tail)
		d->outbox_tail->next = j;
	else
		d->outbox = j;
	d->outbox_tail = j;
	d->noutbox++;
}

void svd_outbox_flush(struct svd *d)
{
	while (d->outbox) {
		struct svd_job *j = d->outbox;
		/* the lease must still be ours: the target in memory with the same token */
		struct svd_target *t = svd_target_find(d, j->target);
		j->t = t && t->lease_token == j->kept_token ? t : NULL;
		int rc = record(d, j);
		j->t = NULL;
		if (rc == 1)
			return; /* still away: keep the order, try again later */
		d->outbox = j->next;
		if (!d->outbox)
			d->outbox_tail = NULL;
		d->noutbox--;
		svd_job_free(j);
	}
}

void svd_outbox_free(struct svd *d)
{
	while (d->outbox) {
		struct svd_job *j = d->outbox;
		d->outbox = j->next;
		svd_job_free(j);
	}
	d->outbox_tail = NULL;
	d->noutbox = 0;
}

/* scan_job_ops.done: the job came back (loop). The job is freed by its caller unless it
 * went to the outbox, which takes it (j->ops set to NULL marks that). */
static void scan_done(struct svd *d, struct svd_job *j)
{
	svd_acquire_after_scan(d, j); /* a finding worth preserving the guest's memory for */
	j->kept_token = j->t ? j->t->lease_token : 0;
	if (d->outbox) {
		/* keep the order: behind what is already waiting */
		outbox_put(d, j);
		j->kept = 1;
		return;
	}
	int rc = record(d, j);
	if (rc == 1) {
		outbox_put(d, j);
		j->kept = 1;
	} else if (rc < 0 && j->t) {
		svd_log("target %s: its lease went to another replica mid-scan: results dropped",
			j->target);
	}
}

/* A scan job that will not run. */
static void scan_drop(struct svd *d, struct svd_job *j, int status, const char *why)
{
	/* shutdown, a lease lost or handed over (ECANCELED): the claimed job goes back with
	 * the lease, to its next holder; a removed target's job (ENOENT) went with its row */
	if (status == SEVMON_ECANCELED || status == SEVMON_ENOENT)
		return;
	/* it ran and failed at once (backoff, full queue): its results say why */
	j->session_rc = status < 0 ? status : SEVMON_EBUSY;
	svd_copy(j->session_err, sizeof j->session_err, why);
	scan_done(d, j);
}

static const struct svd_job_ops scan_job_ops = { .done = scan_done, .drop = scan_drop };

struct svd_job *svd_scan_job(struct svd *d, struct svd_target *t, const struct store_job *sj)
{
	check_set want = 0;
	if (sj->checks_json) {
		json_t *a = json_loads(sj->checks_json, 0, NULL);
		size_t k;
		json_t *v;
		json_array_foreach(a, k, v) {
			int i = json_string_value(v) ? check_index(json_string_value(v)) : -1;
			if (i >= 0)
				want |= 1ull << i;
		}
		json_decref(a);
	}
	if (!want)
		want = t->cfg.checks ? t->cfg.checks : d->cfg.checks;
	struct svd_job *j = svd_job_new(d, t, SVD_JOB_SCAN, want, &scan_job_ops);
	if (!j)
		return NULL;
	j->scan_id = sj->scan_id;
	j->started_ms = clock_real_ms();
	svd_copy(j->target, sizeof j->target, t->cfg.name);
	return j;
}

int svd_scan_start(struct svd *d, const char *const *names, size_t n, check_set checks,
		   int64_t *id)
{
	if (d->draining)
		return SEVMON_EBUSY;
	if (d->cfg.memory_limit && svd_rss_bytes() > d->cfg.memory_limit)
		return SEVMON_EBUSY;
	for (size_t i = 0; names && i < n; i++)
		for (size_t k = 0; k < i; k++)
			if (!strcmp(names[i], names[k]))
				return SEVMON_EINVAL; /* a target named twice */
	/* every target in the store when none is named */
	const char **all = NULL;
	struct store_target *rows = NULL;
	size_t nrows = 0;
	int rc;
	if (!names) {
		if ((rc = store_target_list(d->store, 0, STORE_LIST_MAX, &rows, &nrows)) < 0) {
			svd_store_failed(d, "scan");
			return rc == SEVMON_EBUSY ? rc : SEVMON_EIO;
		}
		if (nrows == 0)
			return SEVMON_EINVAL;
		if (!(all = calloc(nrows, sizeof *all))) {
			store_targets_free(rows, nrows);
			return SEVMON_ENOMEM;
		}
		for (size_t i = 0; i < nrows; i++)
			all[i] = rows[i].name;
		names = all;
		n = nrows;
	}
	const char *cn[CHECK_MAX];
	size_t ncn = 0;
	check_set shown = checks ? checks : d->cfg.checks;
	for (size_t i = 0; i < check_count(); i++)
		if (shown & (1ull << i))
			cn[ncn++] = check_at(i)->name;
	rc = store_scan_request(d->store, names, n, cn, ncn, checks == 0, id);
	free(all);
	store_targets_free(rows, nrows);
	if (rc < 0) {
		svd_store_failed(d, "scan");
		return rc == SEVMON_ENOENT || rc == SEVMON_EBUSY || rc == SEVMON_EINVAL ? rc
											: SEVMON_EIO;
	}
	d->scans_started++;
	svd_jobs_pull(d);
	return 0;
}

/* REST scan ids are the store's ids in decimal. */
static int parse_id(const char *s, int64_t *id)
{
	if (!*s || strlen(s) > 18)
		return SEVMON_ENOENT;
	int64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return SEVMON_ENOENT;
		v = v * 10 + (*s - '0');
	}
	*id = v;
	return v > 0 ? 0 : SEVMON_ENOENT;
}

static int map_store(int rc)
{
	return rc == SEVMON_ENOENT || rc == SEVMON_ENOMEM || rc == SEVMON_EBUSY ? rc : SEVMON_EIO;
}

/* Per-target done/failed counts of a finished scan, from its results. */
static int count_results(struct svd *d, int64_t id, unsigned *done, unsigned *failed)
{
	*done = *failed = 0;
	char last[STORE_NAME_MAX + 1] = "";
	int last_failed = 0;
	size_t off = 0;
	for (;;) {
		struct store_result *r;
		size_t n;
		int rc = store_results_list(d->store, id, NULL, false, off, STORE_LIST_MAX, &r, &n);
		if (rc < 0)
			return rc;
		for (size_t i = 0; i < n; i++) {
			if (strcmp(r[i].target, last)) {
				if (last[0] && last_failed)
					(*failed)++;
				snprintf(last, sizeof last, "%s", r[i].target);
				last_failed = 0;
				(*done)++;
			}
			if (!r[i].ok)
				last_failed = 1;
		}
		store_results_free(r, n);
		if (n == 0)
			break;
		off += n;
	}
	if (last[0] && last_failed)
		(*failed)++;
	return 0;
}

int svd_scan_json(struct svd *d, const char *ids, json_t **out)
{
	int64_t id;
	int rc = parse_id(ids, &id);
	if (rc < 0)
		return rc;
	struct store_scan sc;
	if ((rc = store_scan_get(d->store, id, &sc)) < 0)
		return map_store(rc);
	json_t *targets = json_loads(sc.targets_json ? sc.targets_json : "[]", 0, NULL);
	json_t *checks = json_loads(sc.checks_json ? sc.checks_json : "[]", 0, NULL);
	unsigned total = (unsigned)json_array_size(targets), done, failed;
	if (sc.jobs > 0) {
		/* the owners' progress, from any replica */
		done = (unsigned)sc.jobs_done;
		failed = (unsigned)sc.jobs_failed;
	} else if ((rc = count_results(d, id, &done, &failed)) < 0) {
		json_decref(targets);
		json_decref(checks);
		store_scan_clear(&sc);
		return map_store(rc);
	}
	char idbuf[24];
	snprintf(idbuf, sizeof idbuf, "%lld", (long long)id);
	*out = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o}", "id", idbuf,
			 "state", store_scan_status_name(sc.status), "targets_total",
			 (json_int_t)total, "targets_done", (json_int_t)done, "targets_failed",
			 (json_int_t)failed, "started_at", (json_int_t)(sc.started_at / 1000),
			 "finished_at", (json_int_t)(sc.finished_at / 1000), "results",
			 (json_int_t)sc.nresults, "findings", (json_int_t)sc.nfindings, "targets",
			 targets ? targets : json_array(), "checks", checks ? checks : json_array());
	store_scan_clear(&sc);
	return *out ? 0 : SEVMON_ENOMEM;
}

int svd_scan_results_json(struct svd *d, const char *ids, json_t **out)
{
	int64_t id;
	int rc = parse_id(ids, &id);
	if (rc < 0)
		return rc;
	struct store_scan sc;
	if ((rc = store_scan_get(d->store, id, &sc)) < 0)
		return map_store(rc);
	const char *state = store_scan_status_name(sc.status);
	store_scan_clear(&sc);
	json_t *a = json_array();
	size_t off = 0;
	for (;;) {
		struct store_result *r;
		size_t n;
		rc = store_results_list(d->store, id, NULL, true, off, STORE_LIST_MAX, &r, &n);
		if (rc < 0) {
			json_decref(a);
			return map_store(rc);
		}
		for (size_t i = 0; i < n; i++) {
			json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "target",
					      r[i].target, "check", r[i].check, "status",
					      r[i].ok ? "ok" : "error", "duration_ms",
					      (json_int_t)r[i].duration_ms, "requests",
					      (json_int_t)r[i].requests, "bytes", (json_int_t)r[i].bytes,
					      "at", (json_int_t)(r[i].at / 1000));
			if (r[i].error)
				json_object_set_new(o, "error", json_string(r[i].error));
			if (r[i].payload_json) {
				json_t *p = json_loads(r[i].payload_json, 0, NULL);
				if (p)
					json_object_set_new(o, "data", p);
			}
			json_array_append_new(a, o);
		}
		store_results_free(r, n);
		if (n == 0)
			break;
		off += n;
	}
	char idbuf[24];
	snprintf(idbuf, sizeof idbuf, "%lld", (long long)id);
	*out = json_pack("{s:s, s:s, s:o}", "id", idbuf, "state", state, "results", a);
	return *out ? 0 : SEVMON_ENOMEM;
}

int svd_findings_json(struct svd *d, const struct rest_findings_query *q, json_t **out)
{
	json_t *a = json_array();
	if (q->min_severity > REST_SEV_HIGH) { /* the store ranks up to high */
		*out = a;
		return 0;
	}
	struct store_finding_filter f = {
		.target = q->target,
		.since = q->since * 1000,
		.min_severity = (enum store_severity)q->min_severity,
		.check = q->check,
		.technique = q->technique,
		.limit = q->limit,
	};
	struct store_finding *v;
	size_t n;
	int rc = store_findings_list(d->store, &f, &v, &n);
	if (rc < 0) {
		json_decref(a);
		return map_store(rc);
	}
	for (size_t k = n; k-- > 0;) { /* the store gives newest first; the API newest last */
		const struct store_finding *x = &v[k];
		char detail[STORE_SUBJECT_MAX + 64];
		snprintf(detail, sizeof detail, "%s %s", x->kind, x->subject);
		json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:I, s:s, s:s, s:I}", "id", (json_int_t)x->id,
				      "target", x->target, "kind", x->kind, "severity",
				      store_severity_name(x->severity), "time",
				      (json_int_t)(x->at / 1000), "detail", detail, "subject",
				      x->subject, "scan", (json_int_t)x->scan_id);
		if (x->check[0])
			json_object_set_new(o, "check", json_string(x->check));
		if (x->technique[0])
			json_object_set_new(o, "technique", json_string(x->technique));
		if (x->detail_json) {
			json_t *dj = json_loads(x->detail_json, 0, NULL);
			if (dj)
				json_object_set_new(o, "data", dj);
		}
		json_array_append_new(a, o);
	}
	store_findings_free(v, n);
	*out = a;
	return 0;
}
