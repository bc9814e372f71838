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

/* A store failure as the API says it: unreachable (503) or broken (500). */
static int store_rc(struct svd *d, int rc, const char *what)
{
	if (rc == SEVMON_ENOENT || rc == SEVMON_EEXIST || rc == SEVMON_EINVAL)
		return rc;
	svd_store_failed(d, what);
	return rc == SEVMON_EBUSY || rc == SEVMON_ENOMEM || rc == SEVMON_EFULL ? rc : SEVMON_EIO;
}

/* A target as the API shows it: from memory where this replica holds it, else its row. */
static json_t *target_json(struct svd *d, const struct store_target *row)
{
	struct svd_target *t = svd_target_find(d, row->name);
	if (!t)
		return svd_target_row_json(row);
	json_t *o = svd_target_json(t);
	if (o) {
		json_object_set_new(o, "owner", json_string(d->replica));
		if (row->lease_left_ms > 0)
			json_object_set_new(o, "lease_left_ms", json_integer(row->lease_left_ms));
	}
	return o;
}

static int b_target_list(void *ctx, json_t **out)
{
	struct svd *d = ctx;
	json_t *a = json_array();
	/* every target of the fleet, by name, as the store orders them */
	for (size_t off = 0;;) {
		struct store_target *v;
		size_t n;
		int rc = store_target_list(d->store, off, STORE_LIST_MAX, &v, &n);
		if (rc < 0) {
			json_decref(a);
			return store_rc(d, rc, "target list");
		}
		for (size_t i = 0; i < n; i++) {
			json_t *o = target_json(d, &v[i]);
			if (o)
				json_array_append_new(a, o);
		}
		store_targets_free(v, n);
		if (n < STORE_LIST_MAX)
			break;
		off += n;
	}
	*out = a;
	return 0;
}

static int b_target_get(void *ctx, const char *name, json_t **out)
{
	struct svd *d = ctx;
	struct store_target row;
	int rc = store_target_get(d->store, name, &row);
	if (rc < 0)
		return store_rc(d, rc, "target get");
	*out = target_json(d, &row);
	store_target_clear(&row);
	return *out ? 0 : SEVMON_ENOMEM;
}

/* POST and PUT: define the target in the store; its lease goes to some replica (this one,
 * at once, when it is below its share). */
static int put_target(struct svd *d, const struct rest_target_spec *spec, int create,
		      json_t **out)
{
	if (d->draining)
		return SEVMON_EBUSY;
	struct svd_target_cfg cfg;
	memset(&cfg, 0, sizeof cfg);
	if (strlen(spec->name) > SVD_NAME_MAX || strlen(spec->uri) > SVD_URI_MAX ||
	    !strstr(spec->uri, "://"))
		return SEVMON_EINVAL;
	char origin[16] = "api";
	struct store_target row;
	int rc = store_target_get(d->store, spec->name, &row);
	if (rc == 0) {
		if (create) {
			store_target_clear(&row);
			return SEVMON_EEXIST;
		}
		/* a change keeps what the API does not say: interval, checks, anchors */
		rc = svd_target_cfg_from_row(&row, &cfg, origin, sizeof origin);
		store_target_clear(&row);
		if (rc < 0)
			return rc;
		cfg.nmeasurements = 0;
		cfg.key[0] = 0;
	} else if (rc != SEVMON_ENOENT) {
		return store_rc(d, rc, "target");
	} else if (!create) {
		return SEVMON_ENOENT;
	}
	snprintf(cfg.name, sizeof cfg.name, "%s", spec->name);
	snprintf(cfg.uri, sizeof cfg.uri, "%s", spec->uri);
	if (spec->key)
		snprintf(cfg.key, sizeof cfg.key, "%s", spec->key);
	if (spec->measurement) {
		snprintf(cfg.measurements[0], sizeof cfg.measurements[0], "%s", spec->measurement);
		cfg.nmeasurements = 1;
	}
	rc = svd_target_define(d, &cfg, origin);
	if (rc < 0)
		return store_rc(d, rc, "target");
	svd_log("target %s: %s through the API (%s)", cfg.name, create ? "added" : "changed",
		cfg.uri);
	svd_lease_round(d);
	return b_target_get(d, cfg.name, out);
}

static int b_target_add(void *ctx, const struct rest_target_spec *spec, json_t **out)
{
	return put_target(ctx, spec, 1, out);
}

static int b_target_update(void *ctx, const struct rest_target_spec *spec, json_t **out)
{
	return put_target(ctx, spec, 0, out);
}

static int b_target_remove(void *ctx, const char *name)
{
	struct svd *d = ctx;
	int rc = store_target_remove(d->store, name);
	if (rc < 0)
		return store_rc(d, rc, "target remove");
	svd_log("target %s: removed through the API", name);
	struct svd_target *t = svd_target_find(d, name);
	if (t)
		svd_target_drop(d, t, SEVMON_ENOENT, "target removed");
	return 0;
}

static int b_ready(void *ctx)
{
	return svd_ready(ctx) ? 0 : SEVMON_EBUSY;
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
	/* a target handed to another replica meanwhile: unavailable here, as in a drain */
	rest_async_complete(j->op, status == SEVMON_ECANCELED ? SEVMON_EBUSY : status, NULL);
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
	if (k < 0)
		return SEVMON_ENOENT;
	if (!t) {
		/* another replica holds it (its session is there), or there is no such target */
		struct store_target row;
		int rc = store_target_get(d->store, name, &row);
		store_target_clear(&row);
		return rc < 0 ? store_rc(d, rc, "live view") : SEVMON_EBUSY;
	}
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

static int b_acquisition_list(void *ctx, const char *target, json_t **out)
{
	return svd_acquisitions_json(ctx, target, out);
}

static int b_acquisition_get(void *ctx, const char *id, json_t **out)
{
	return svd_acquisition_json(ctx, id, out);
}

static int b_acquisition_file(void *ctx, const char *id, char *path, size_t cap)
{
	return svd_acquisition_file(ctx, id, path, cap);
}

static int b_acquisition_start(void *ctx, const char *name, char *id)
{
	return svd_acquire_start(ctx, name, id);
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
	.acquisition_list = b_acquisition_list,
	.acquisition_get = b_acquisition_get,
	.acquisition_file = b_acquisition_file,
	.acquisition_start = b_acquisition_start,
	.collect_metrics = svd_metrics_collect,
	.target_update = b_target_update,
	.ready = b_ready,
};
