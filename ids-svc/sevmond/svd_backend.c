/*
 * svd_backend.c — sevmond's rest_backend (rest.h): the API calls mapped onto targets,
 * scans, the job pool and the store.
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
	unsigned checks = 0;
	for (size_t i = 0; req->checks && i < req->nchecks; i++) {
		unsigned m;
		if (svd_checks_parse(req->checks[i], &m) < 0)
			return SEVMON_EINVAL;
		checks |= m;
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

static int b_live_view(void *ctx, const char *name, enum rest_view view, struct rest_async *op)
{
	struct svd *d = ctx;
	struct svd_target *t = svd_target_find(d, name);
	if (!t)
		return SEVMON_ENOENT;
	if (d->draining || (unsigned)view >= SVD_NCHECKS)
		return SEVMON_EBUSY;
	if (d->cfg.memory_limit && svd_rss_bytes() > d->cfg.memory_limit)
		return SEVMON_EBUSY;
	struct svd_job *j = svd_job_new(d, t, SVD_JOB_VIEW);
	if (!j)
		return SEVMON_ENOMEM;
	j->view = view;
	j->op = op;
	int rc = svd_job_queue(d, t, j);
	if (rc < 0) {
		free(j);
		return rc;
	}
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
	.live_view = b_live_view,
	.collect_metrics = svd_metrics_collect,
};
