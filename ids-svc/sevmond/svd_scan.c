/*
 * svd_scan.c — scans (start, progress, results) and findings, as the REST API shows them.
 * A scan's rows live in the store; a running scan's progress also in memory. A scan is a
 * job per target; when one comes back (scan_job_ops), its checks' results and findings
 * go to the store, each with the diff rule its registry row names.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "svd.h"

static void scan_target_done(struct svd *d, struct svd_scan *sc, int failed);

/* The findings a check raised, as the store takes them (borrowed strings). */
static struct store_finding_in *findings_in(const struct check_findings *f)
{
	struct store_finding_in *v = calloc(f->n ? f->n : 1, sizeof *v);
	for (size_t i = 0; v && i < f->n; i++)
		v[i] = (struct store_finding_in){ .severity = f->v[i].severity, .kind = f->v[i].kind,
						  .subject = f->v[i].subject,
						  .detail_json = f->v[i].detail_json };
	return v;
}

static void record_scan(struct svd *d, struct svd_job *j)
{
	int failed = j->session_rc < 0;
	for (size_t i = 0; i < check_count(); i++) {
		if (!(j->checks & (1ull << i)))
			continue;
		const struct check_def *c = check_at(i);
		const struct svd_check_out *o = &j->out[i];
		int ok = j->session_rc == 0 && o->rc == 0 && o->payload;
		const char *err = ok ? NULL : o->err[0] ? o->err : j->session_err;
		struct store_finding_in *fi = ok && o->findings.n ? findings_in(&o->findings) : NULL;
		if (ok && o->findings.n && !fi) {
			ok = 0;
			err = "out of memory";
		}
		struct store_result_in r = { .target = j->t->cfg.name, .check = c->name, .ok = ok,
					     .error = err, .diff = c->diff, .findings = fi,
					     .nfindings = fi ? o->findings.n : 0,
					     .payload_json = ok ? o->payload : NULL,
					     .duration_ms = o->ms, .requests = o->requests,
					     .bytes = o->bytes };
		int rc = store_result_add(d->store, j->scan->id, &r);
		free(fi);
		if (rc < 0) {
			svd_log("scan %lld %s/%s: store: %s", (long long)j->scan->id, j->t->cfg.name,
				c->name, store_last_error(d->store));
			failed = 1;
		} else if (rc > 0) {
			metrics_counter_add(d->metrics, "sevmond_findings_total", NULL, rc);
		}
		if (!ok)
			failed = 1;
	}
	scan_target_done(d, j->scan, failed);
}

/* One error result per check of a scan job that did not (fully) run. */
static void drop_scan(struct svd *d, struct svd_job *j, int status, const char *why)
{
	if (status == SEVMON_ECANCELED)
		return; /* shutdown: the scan stays running, the next start marks it interrupted */
	for (size_t i = 0; i < check_count(); i++) {
		if (!(j->checks & (1ull << i)))
			continue;
		struct store_result_in r = { .target = j->t->cfg.name, .check = check_at(i)->name,
					     .ok = false, .error = why };
		if (store_result_add(d->store, j->scan->id, &r) < 0 && !j->t->removed)
			svd_log("scan %lld %s/%s: store: %s", (long long)j->scan->id, j->t->cfg.name,
				check_at(i)->name, store_last_error(d->store));
	}
	scan_target_done(d, j->scan, 1);
}

static const struct svd_job_ops scan_job_ops = { .done = record_scan, .drop = drop_scan };

static struct svd_scan *scan_find(struct svd *d, int64_t id)
{
	for (struct svd_scan *s = d->scans; s; s = s->next)
		if (s->id == id)
			return s;
	return NULL;
}

int svd_scan_start(struct svd *d, const char *const *names, size_t n, check_set checks,
		   int64_t *id)
{
	if (d->draining || d->nscans >= SVD_SCANS_RUNNING_MAX)
		return SEVMON_EBUSY;
	if (d->cfg.memory_limit && svd_rss_bytes() > d->cfg.memory_limit)
		return SEVMON_EBUSY;
	size_t nt = names ? n : d->ntargets;
	if (nt == 0)
		return SEVMON_EINVAL;
	struct svd_target **ts = calloc(nt, sizeof *ts);
	const char **tn = calloc(nt, sizeof *tn);
	int rc = SEVMON_ENOMEM;
	if (!ts || !tn)
		goto out;
	if (names) {
		for (size_t i = 0; i < n; i++) {
			rc = SEVMON_ENOENT;
			if (!(ts[i] = svd_target_find(d, names[i])))
				goto out;
			for (size_t k = 0; k < i; k++)
				if (ts[k] == ts[i]) {
					rc = SEVMON_EINVAL; /* a target named twice */
					goto out;
				}
		}
	} else {
		size_t i = 0;
		for (struct svd_target *t = d->targets; t; t = t->next)
			ts[i++] = t;
	}
	check_set all = 0;
	for (size_t i = 0; i < nt; i++) {
		rc = SEVMON_EBUSY;
		if (ts[i]->nqueued >= d->cfg.queue_per_target)
			goto out;
		tn[i] = ts[i]->cfg.name;
		all |= checks ? checks : ts[i]->cfg.checks ? ts[i]->cfg.checks : d->cfg.checks;
	}
	if (d->queued + nt > SVD_JOBS_MAX) {
		rc = SEVMON_EBUSY;
		goto out;
	}
	const char *cn[CHECK_MAX];
	size_t ncn = 0;
	for (size_t i = 0; i < check_count(); i++)
		if (all & (1ull << i))
			cn[ncn++] = check_at(i)->name;
	struct svd_scan *sc = calloc(1, sizeof *sc);
	rc = SEVMON_ENOMEM;
	if (!sc)
		goto out;
	rc = store_scan_begin(d->store, tn, nt, cn, ncn, &sc->id);
	if (rc < 0) {
		svd_log("scan: store: %s", store_last_error(d->store));
		free(sc);
		goto out;
	}
	sc->total = (unsigned)nt;
	sc->started_ms = (uint64_t)clock_real_ms();
	sc->next = d->scans;
	d->scans = sc;
	d->nscans++;
	unsigned queued = 0;
	for (size_t i = 0; i < nt; i++) {
		check_set want = checks ? checks : ts[i]->cfg.checks ? ts[i]->cfg.checks : d->cfg.checks;
		struct svd_job *j = svd_job_new(d, ts[i], SVD_JOB_SCAN, want, &scan_job_ops);
		if (j) {
			j->scan = sc;
			if (svd_job_queue(d, ts[i], j) == 0) {
				queued++;
				continue;
			}
		}
		/* room was checked above; only out of memory lands here */
		if (j) {
			svd_job_drop(d, j, SEVMON_ENOMEM, "out of memory");
		} else {
			scan_target_done(d, sc, 1);
		}
	}
	*id = sc->id;
	rc = 0;
	svd_dispatch(d);
out:
	free(ts);
	free(tn);
	return rc;
}

/* A target of scan sc is done (ok or failed); finishes the scan when it was the last. */
static void scan_target_done(struct svd *d, struct svd_scan *sc, int failed)
{
	sc->done++;
	if (failed)
		sc->failed++;
	if (sc->done < sc->total)
		return;
	enum store_scan_status st = sc->failed == sc->total ? STORE_SCAN_FAILED : STORE_SCAN_DONE;
	if (store_scan_finish(d->store, sc->id, st) < 0)
		svd_log("scan %lld: store: %s", (long long)sc->id, store_last_error(d->store));
	const char *labels[] = { "status", store_scan_status_name(st), NULL };
	metrics_counter_add(d->metrics, "sevmond_scans_total", labels, 1);
	metrics_histogram_observe(d->metrics, "sevmond_scan_duration_seconds", NULL,
				  (double)((uint64_t)clock_real_ms() - sc->started_ms) / 1000.0);
	svd_log("scan %lld: %s (%u targets, %u failed, %llu ms)", (long long)sc->id,
		store_scan_status_name(st), sc->total, sc->failed,
		(unsigned long long)((uint64_t)clock_real_ms() - sc->started_ms));
	for (struct svd_scan **pp = &d->scans; *pp; pp = &(*pp)->next)
		if (*pp == sc) {
			*pp = sc->next;
			break;
		}
	d->nscans--;
	free(sc);
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
	struct svd_scan *live = scan_find(d, id);
	if (live) {
		done = live->done;
		failed = live->failed;
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
