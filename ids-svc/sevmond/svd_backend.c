/*
 * svd_backend.c — sevmond's rest_backend (rest.h): the API calls mapped onto targets,
 * scans, the job pool and the store. A live view is a job running one check of the
 * registry; it answers its client when it comes back (view_job_ops).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "svd.h"

static int b_target_list(void *ctx, json_t **out)
{
	struct svd *d = ctx;
	json_t *a = json_array();
	/* the list is newest first; show the targets by name, as the store orders them */
	struct svd_target **v = d->ntargets ? calloc(d->ntargets, sizeof *v) : NULL;
	size_t n = 0;
	if (d->ntargets && !v) {
		json_decref(a);
		return SEVMON_ENOMEM;
	}
	for (struct svd_target *t = d->targets; t; t = t->next)
		v[n++] = t;
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && strcmp(v[k - 1]->cfg.name, v[k]->cfg.name) > 0; k--) {
			struct svd_target *x = v[k];
			v[k] = v[k - 1];
			v[k - 1] = x;
		}
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, svd_target_json(v[i]));
	free(v);
	*out = a;
	return 0;
}

static int b_target_get(void *ctx, const char *name, json_t **out)
{
	struct svd_target *t = svd_target_find(ctx, name);
	if (!t)
		return SEVMON_ENOENT;
	*out = svd_target_json(t);
	return *out ? 0 : SEVMON_ENOMEM;
}

static int b_target_add(void *ctx, const struct rest_target_spec *spec, json_t **out)
{
	struct svd *d = ctx;
	if (d->draining)
		return SEVMON_EBUSY;
	struct svd_target_cfg cfg;
	memset(&cfg, 0, sizeof cfg);
	if (strlen(spec->name) > SVD_NAME_MAX || strlen(spec->uri) > SVD_URI_MAX ||
	    !strstr(spec->uri, "://"))
		return SEVMON_EINVAL;
	snprintf(cfg.name, sizeof cfg.name, "%s", spec->name);
	snprintf(cfg.uri, sizeof cfg.uri, "%s", spec->uri);
	if (spec->key)
		snprintf(cfg.key, sizeof cfg.key, "%s", spec->key);
	if (spec->measurement) {
		snprintf(cfg.measurements[0], sizeof cfg.measurements[0], "%s", spec->measurement);
		cfg.nmeasurements = 1;
	}
	struct svd_target *t;
	int rc = svd_target_add(d, &cfg, 0, &t);
	if (rc < 0)
		return rc == SEVMON_ETOOBIG ? SEVMON_EBUSY : rc;
	svd_log("target %s: added through the API (%s)", cfg.name, cfg.uri);
	svd_dispatch(d);
	*out = svd_target_json(t);
	return *out ? 0 : SEVMON_ENOMEM;
}

static int b_target_remove(void *ctx, const char *name)
{
	struct svd *d = ctx;
	struct svd_target *t = svd_target_find(d, name);
	if (!t)
		return SEVMON_ENOENT;
	svd_log("target %s: removed through the API", name);
	return svd_target_remove(d, t);
}

static int b_scan_start(void *ctx, const struct rest_scan_request *req, char *id)
{
	check_set checks = 0;
	for (size_t i = 0; req->checks && i < req->nchecks; i++) {
		int k = check_index(req->checks[i]);
		if (k < 0)
			return SEVMON_EINVAL;
		checks |= 1ull << k;
	}
	int64_t sid;
	int rc = svd_scan_start(ctx, req->targets, req->ntargets, checks, &sid);
	if (rc < 0)
		return rc;
	snprintf(id, REST_NAME_MAX + 1, "%lld", (long long)sid);
	return 0;
}

static int b_scan_get(void *ctx, const char *id, json_t **out)
{
	return svd_scan_json(ctx, id, out);
}

static int b_scan_results(void *ctx, const char *id, json_t **out)
{
	return svd_scan_results_json(ctx, id, out);
}

static int b_findings(void *ctx, const struct rest_findings_query *q, json_t **out)
{
	return svd_findings_json(ctx, q, out);
}

static int b_checks(void *ctx, json_t **out)
{
	(void)ctx;
	json_t *a = json_array();
	for (size_t i = 0; a && i < check_count(); i++) {
		const struct check_def *c = check_at(i);
		json_t *needs = json_array();
		if (c->needs & CHECK_NEEDS_KERNEL)
			json_array_append_new(needs, json_string("kernel"));
		if (c->needs & CHECK_NEEDS_EVIDENCE)
			json_array_append_new(needs, json_string("evidence"));
		json_array_append_new(a, json_pack("{s:s, s:s, s:b, s:o}", "name", c->name, "summary",
						   c->summary, "default", c->in_default, "needs",
						   needs));
	}
	*out = a;
	return a ? 0 : SEVMON_ENOMEM;
}

/* ---- live views: a job of one check, answered when it comes back ---- */

static int view_check(const struct svd_job *j)
{
	for (size_t i = 0; i < check_count(); i++)
		if (j->checks & (1ull << i))
			return (int)i;
	return -1;
}

static void view_done(struct svd *d, struct svd_job *j)
{
	(void)d;
	int i = view_check(j);
	const struct svd_check_out *o = i >= 0 ? &j->out[i] : NULL;
	if (j->session_rc < 0) {
		rest_async_complete(j->op, j->session_rc == SEVMON_ETIMEDOUT ? SEVMON_ETIMEDOUT
									      : SEVMON_EBUSY,
				    NULL);
		return;
	}
	if (!o || o->rc < 0 || !o->payload) {
		int rc = o ? o->rc : SEVMON_EINTERNAL;
		rest_async_complete(j->op, rc == SEVMON_ETIMEDOUT ? SEVMON_ETIMEDOUT : SEVMON_EIO, NULL);
		return;
	}
	json_t *body = json_loads(o->payload, 0, NULL);
	if (!body) {
		rest_async_complete(j->op, SEVMON_ENOMEM, NULL);
		return;
	}
	json_object_set_new(body, "target", json_string(j->t->cfg.name));
	rest_async_complete(j->op, 0, body);
}

static void view_drop(struct svd *d, struct svd_job *j, int status, const char *why)
{
	(void)d;
	(void)why;
	rest_async_complete(j->op, status, NULL);
}

static const struct svd_job_ops view_job_ops = { .done = view_done, .drop = view_drop };

/* The client went away: a view still queued is dropped when the dispatcher meets it. */
static void on_view_cancel(void *arg)
{
	struct svd_job *j = arg;
	j->cancelled = 1;
}

static int b_live_view(void *ctx, const char *name, const char *check, struct rest_async *op)
{
	struct svd *d = ctx;
	struct svd_target *t = svd_target_find(d, name);
	int k = check_index(check);
	if (!t || k < 0)
		return SEVMON_ENOENT;
	if (d->draining)
		return SEVMON_EBUSY;
	if (d->cfg.memory_limit && svd_rss_bytes() > d->cfg.memory_limit)
		return SEVMON_EBUSY;
	struct svd_job *j = svd_job_new(d, t, SVD_JOB_VIEW, 1ull << k, &view_job_ops);
	if (!j)
		return SEVMON_ENOMEM;
	j->op = op;
	int rc = svd_job_queue(d, t, j);
	if (rc < 0) {
		svd_job_free(j);
		return rc;
	}
	rest_async_on_cancel(op, on_view_cancel, j);
	/* not from inside this call: the dispatcher may fail the job at once (backoff) */
	uv_async_send(&d->kick);
	return 0;
}

const struct rest_backend svd_backend = {
	.target_list = b_target_list,
	.target_get = b_target_get,
	.target_add = b_target_add,
	.target_remove = b_target_remove,
	.scan_start = b_scan_start,
	.scan_get = b_scan_get,
	.scan_results = b_scan_results,
	.findings = b_findings,
	.checks = b_checks,
	.live_view = b_live_view,
	.collect_metrics = svd_metrics_collect,
};
