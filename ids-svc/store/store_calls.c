/*
 * store_calls.c — the calls of store.h: each checks its arguments (names, words, lengths,
 * JSON, ranges) the same way whatever the backend, then hands them to the handle's
 * backend (store_backend.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "store.h"
#include "store_backend.h"

/* ---- targets ---- */

int store_target_upsert(struct store *s, const char *name, const char *uri,
			const char *pinned_key, const char *policy_json)
{
	store_ok(s);
	int rc;
	if ((rc = store_writable(s)) < 0 || (rc = store_check_name(s, "target name", name)) < 0 ||
	    (rc = store_check_text(s, "uri", uri, STORE_URI_MAX)) < 0 ||
	    (pinned_key && (rc = store_check_text(s, "pinned key", pinned_key, STORE_KEY_MAX)) < 0) ||
	    (rc = store_check_json(s, "policy", policy_json, STORE_SMALL_JSON_MAX)) < 0)
		return rc;
	if (!uri[0])
		return store_fail(s, SEVMON_EINVAL, "uri is empty");
	return s->be->target_upsert(s, name, uri, pinned_key, policy_json);
}

int store_target_remove(struct store *s, const char *name)
{
	store_ok(s);
	int rc;
	if ((rc = store_writable(s)) < 0 || (rc = store_check_name(s, "target name", name)) < 0)
		return rc;
	return s->be->target_remove(s, name);
}

int store_target_get(struct store *s, const char *name, struct store_target *out)
{
	store_ok(s);
	memset(out, 0, sizeof(*out));
	int rc;
	if ((rc = store_check_name(s, "target name", name)) < 0)
		return rc;
	return s->be->target_get(s, name, out);
}

int store_target_list(struct store *s, size_t offset, size_t limit, struct store_target **out,
		      size_t *n)
{
	store_ok(s);
	*out = NULL;
	*n = 0;
	return s->be->target_list(s, offset, store_cap_limit(limit), out, n);
}

int store_target_set_state(struct store *s, const char *name, const char *state,
			   const char *detail, const char *attestation_json, int64_t last_seen)
{
	store_ok(s);
	int rc;
	if ((rc = store_writable(s)) < 0 || (rc = store_check_name(s, "target name", name)) < 0 ||
	    (rc = store_check_word(s, "state", state, STORE_STATE_MAX)) < 0 ||
	    (detail && (rc = store_check_text(s, "state detail", detail, STORE_DETAIL_MAX)) < 0) ||
	    (rc = store_check_json(s, "attestation", attestation_json, STORE_SMALL_JSON_MAX)) < 0)
		return rc;
	return s->be->target_set_state(s, name, state, detail, attestation_json, last_seen);
}

/* ---- scans ---- */

/* The names of a scan as the JSON array kept with it, each checked. */
static int json_names(struct store *s, const char *what, const char *const *v, size_t n,
		      size_t max, bool target, char **out)
{
	*out = NULL;
	if (n == 0 || !v)
		return store_fail(s, SEVMON_EINVAL, "a scan needs at least one %s", what);
	if (n > max)
		return store_fail(s, SEVMON_ETOOBIG, "%zu %ss in one scan (limit %zu)", n, what, max);
	json_t *arr = json_array();
	if (!arr)
		return store_fail(s, SEVMON_ENOMEM, "out of memory");
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		rc = target ? store_check_name(s, "target name", v[i])
			    : store_check_word(s, "check name", v[i], STORE_CHECK_MAX);
		if (rc == 0 && json_array_append_new(arr, json_string(v[i])) < 0)
			rc = store_fail(s, SEVMON_ENOMEM, "out of memory");
	}
	if (rc == 0 && !(*out = json_dumps(arr, JSON_COMPACT)))
		rc = store_fail(s, SEVMON_ENOMEM, "out of memory");
	json_decref(arr);
	return rc;
}

static int scan_begin(struct store *s, const char *const *targets, size_t ntargets,
		      const char *const *checks, size_t nchecks, enum store_jobs_mode jobs,
		      int64_t *scan_id)
{
	store_ok(s);
	*scan_id = 0;
	char *tj = NULL, *cj = NULL;
	int rc;
	if ((rc = store_writable(s)) == 0 &&
	    (rc = json_names(s, "target", targets, ntargets, STORE_SCAN_TARGETS_MAX, true, &tj)) == 0 &&
	    (rc = json_names(s, "check", checks, nchecks, STORE_SCAN_CHECKS_MAX, false, &cj)) == 0)
		rc = s->be->scan_begin(s, targets, ntargets, tj, cj, jobs, scan_id);
	free(tj);
	free(cj);
	return rc;
}

int store_scan_begin(struct store *s, const char *const *targets, size_t ntargets,
		     const char *const *checks, size_t nchecks, int64_t *scan_id)
{
	return scan_begin(s, targets, ntargets, checks, nchecks, STORE_JOBS_NONE, scan_id);
}

int store_scan_request(struct store *s, const char *const *targets, size_t ntargets,
		       const char *const *checks, size_t nchecks, bool own_checks,
		       int64_t *scan_id)
{
	return scan_begin(s, targets, ntargets, checks, nchecks,
			  own_checks ? STORE_JOBS_OWN_CHECKS : STORE_JOBS_CHECKS, scan_id);
}

int store_scan_finish(struct store *s, int64_t scan_id, enum store_scan_status status)
{
	store_ok(s);
	int rc;
	if ((rc = store_writable(s)) < 0)
		return rc;
	if (status != STORE_SCAN_DONE && status != STORE_SCAN_FAILED)
		return store_fail(s, SEVMON_EINVAL, "a scan finishes as done or failed");
	return s->be->scan_finish(s, scan_id, status);
}

int store_scan_get(struct store *s, int64_t scan_id, struct store_scan *out)
{
	store_ok(s);
	memset(out, 0, sizeof(*out));
	return s->be->scan_get(s, scan_id, out);
}

int store_scans_list(struct store *s, const char *target, size_t offset, size_t limit,
		     struct store_scan **out, size_t *n)
{
	store_ok(s);
	*out = NULL;
	*n = 0;
	int rc;
	if (target && (rc = store_check_name(s, "target name", target)) < 0)
		return rc;
	return s->be->scans_list(s, target, offset, store_cap_limit(limit), out, n);
}

/* ---- results ---- */

static int validate_result(struct store *s, const struct store_result_in *r)
{
	int rc;
	if (!r)
		return store_fail(s, SEVMON_EINVAL, "no result");
	if ((rc = store_check_name(s, "target name", r->target)) < 0 ||
	    (rc = store_check_word(s, "check name", r->check, STORE_CHECK_MAX)) < 0 ||
	    (r->error && (rc = store_check_text(s, "error", r->error, STORE_ERROR_MAX)) < 0))
		return rc;
	if (r->ok && !r->payload_json)
		return store_fail(s, SEVMON_EINVAL, "an ok result needs a payload");
	if (r->replica && ((rc = store_check_name(s, "replica", r->replica)) < 0 ||
			   r->lease_token <= 0))
		return rc < 0 ? rc : store_fail(s, SEVMON_EINVAL, "a fenced result needs its token");
	if (r->started_at < 0)
		return store_fail(s, SEVMON_EINVAL, "started_at out of range");
	if (r->requests > INT64_MAX || r->bytes > INT64_MAX)
		return store_fail(s, SEVMON_EINVAL, "requests/bytes out of range");
	if ((unsigned)r->diff > STORE_DIFF_BANNER)
		return store_fail(s, SEVMON_EINVAL, "diff rule %d unknown", (int)r->diff);
	if (r->nfindings > STORE_RESULT_FINDINGS_MAX || (r->nfindings && (!r->ok || !r->findings)))
		return store_fail(s, SEVMON_EINVAL, "findings: at most %u, with an ok result",
				  STORE_RESULT_FINDINGS_MAX);
	for (size_t i = 0; i < r->nfindings; i++) {
		const struct store_finding_in *f = &r->findings[i];
		if (!store_severity_name(f->severity))
			return store_fail(s, SEVMON_EINVAL, "finding %zu: severity %d out of range", i,
					  (int)f->severity);
		if ((rc = store_check_word(s, "finding kind", f->kind, STORE_KIND_MAX)) < 0 ||
		    (rc = store_check_text(s, "finding subject", f->subject, STORE_SUBJECT_MAX)) < 0 ||
		    (rc = store_check_technique(s, f->technique)) < 0 ||
		    (rc = store_check_json(s, "finding detail", f->detail_json, STORE_SMALL_JSON_MAX)) < 0)
			return rc;
	}
	/* Payloads with a diff rule are validated (shape included) by their diff. */
	if (r->ok && store_result_wants_baseline(r))
		return strnlen(r->payload_json, STORE_PAYLOAD_MAX + 1) > STORE_PAYLOAD_MAX
			       ? store_fail(s, SEVMON_ETOOBIG, "payload over the limit of %u bytes",
					    STORE_PAYLOAD_MAX)
			       : 0;
	return store_check_json(s, "payload", r->payload_json, STORE_PAYLOAD_MAX);
}

int store_result_add(struct store *s, int64_t scan_id, const struct store_result_in *r)
{
	store_ok(s);
	int rc;
	if ((rc = store_writable(s)) < 0 || (rc = validate_result(s, r)) < 0)
		return rc;
	return s->be->result_add(s, scan_id, r);
}

int store_results_list(struct store *s, int64_t scan_id, const char *target, bool with_payload,
		       size_t offset, size_t limit, struct store_result **out, size_t *n)
{
	store_ok(s);
	*out = NULL;
	*n = 0;
	int rc;
	if (target && (rc = store_check_name(s, "target name", target)) < 0)
		return rc;
	return s->be->results_list(s, scan_id, target, with_payload, offset, store_cap_limit(limit),
				   out, n);
}

int store_result_latest(struct store *s, const char *target, const char *check,
			struct store_result *out)
{
	store_ok(s);
	memset(out, 0, sizeof(*out));
	int rc;
	if ((rc = store_check_name(s, "target name", target)) < 0 ||
	    (rc = store_check_word(s, "check name", check, STORE_CHECK_MAX)) < 0)
		return rc;
	return s->be->result_latest(s, target, check, out);
}

/* ---- findings ---- */

int64_t store_finding_add(struct store *s, int64_t scan_id, const char *target,
			  enum store_severity sev, const char *kind, const char *subject,
			  const char *detail_json)
{
	store_ok(s);
	int rc;
	if ((rc = store_writable(s)) < 0 || (rc = store_check_name(s, "target name", target)) < 0 ||
	    (rc = store_check_word(s, "finding kind", kind, STORE_KIND_MAX)) < 0 ||
	    (rc = store_check_text(s, "subject", subject, STORE_SUBJECT_MAX)) < 0 ||
	    (rc = store_check_json(s, "detail", detail_json, STORE_SMALL_JSON_MAX)) < 0)
		return rc;
	if (!store_severity_name(sev))
		return store_fail(s, SEVMON_EINVAL, "severity %d out of range", (int)sev);
	if (scan_id < 0)
		return store_fail(s, SEVMON_EINVAL, "scan id %lld out of range", (long long)scan_id);
	return s->be->finding_add(s, scan_id, target, sev, kind, subject, detail_json);
}

int store_findings_list(struct store *s, const struct store_finding_filter *f,
			struct store_finding **out, size_t *n)
{
	store_ok(s);
	*out = NULL;
	*n = 0;
	struct store_finding_filter all = { 0 };
	if (!f)
		f = &all;
	int rc;
	if ((f->target && (rc = store_check_name(s, "target name", f->target)) < 0) ||
	    (f->check && (rc = store_check_word(s, "check name", f->check, STORE_CHECK_MAX)) < 0) ||
	    (rc = store_check_technique(s, f->technique)) < 0)
		return rc;
	if (!store_severity_name(f->min_severity))
		return store_fail(s, SEVMON_EINVAL, "severity %d out of range", (int)f->min_severity);
	struct store_finding_filter g = *f;
	g.limit = store_cap_limit(f->limit);
	return s->be->findings_list(s, &g, out, n);
}

/* ---- retention ---- */

int store_retention_run(struct store *s)
{
	store_ok(s);
	int rc;
	if ((rc = store_writable(s)) < 0)
		return rc;
	return s->be->retention_run(s);
}

/* ---- the fleet ---- */

static int check_ttl(struct store *s, int64_t ttl_ms)
{
	if (ttl_ms < STORE_LEASE_MS_MIN || ttl_ms > STORE_LEASE_MS_MAX)
		return store_fail(s, SEVMON_EINVAL, "lease of %lld ms: %d..%d", (long long)ttl_ms,
				  STORE_LEASE_MS_MIN, STORE_LEASE_MS_MAX);
	return 0;
}

int store_replica_beat(struct store *s, const char *replica, int64_t ttl_ms,
		       struct store_fleet *out)
{
	store_ok(s);
	memset(out, 0, sizeof(*out));
	int rc;
	if ((rc = store_writable(s)) < 0 || (rc = store_check_name(s, "replica", replica)) < 0 ||
	    (rc = check_ttl(s, ttl_ms)) < 0)
		return rc;
	return s->be->replica_beat(s, replica, ttl_ms, out);
}

int store_replica_leave(struct store *s, const char *replica)
{
	store_ok(s);
	int rc;
	if ((rc = store_writable(s)) < 0 || (rc = store_check_name(s, "replica", replica)) < 0)
		return rc;
	return s->be->replica_leave(s, replica);
}

int store_leases_renew(struct store *s, const char *replica, int64_t ttl_ms,
		       struct store_lease **out, size_t *n)
{
	store_ok(s);
	*out = NULL;
	*n = 0;
	int rc;
	if ((rc = store_writable(s)) < 0 || (rc = store_check_name(s, "replica", replica)) < 0 ||
	    (rc = check_ttl(s, ttl_ms)) < 0)
		return rc;
	return s->be->leases_renew(s, replica, ttl_ms, out, n);
}

int store_leases_claim(struct store *s, const char *replica, int64_t ttl_ms, size_t max,
		       struct store_lease **out, size_t *n)
{
	store_ok(s);
	*out = NULL;
	*n = 0;
	int rc;
	if ((rc = store_writable(s)) < 0 || (rc = store_check_name(s, "replica", replica)) < 0 ||
	    (rc = check_ttl(s, ttl_ms)) < 0)
		return rc;
	if (max == 0)
		return 0;
	if (max > STORE_LEASE_BATCH_MAX)
		max = STORE_LEASE_BATCH_MAX;
	return s->be->leases_claim(s, replica, ttl_ms, max, out, n);
}

int store_lease_release(struct store *s, const char *replica, const char *target)
{
	store_ok(s);
	int rc;
	if ((rc = store_writable(s)) < 0 || (rc = store_check_name(s, "replica", replica)) < 0 ||
	    (target && (rc = store_check_name(s, "target name", target)) < 0))
		return rc;
	return s->be->lease_release(s, replica, target);
}

int store_jobs_claim(struct store *s, const char *replica, size_t max, struct store_job **out,
		     size_t *n)
{
	store_ok(s);
	*out = NULL;
	*n = 0;
	int rc;
	if ((rc = store_writable(s)) < 0 || (rc = store_check_name(s, "replica", replica)) < 0)
		return rc;
	if (max == 0)
		return 0;
	return s->be->jobs_claim(s, replica, store_cap_limit(max), out, n);
}

int store_job_finish(struct store *s, int64_t scan_id, const char *target, bool failed)
{
	store_ok(s);
	int rc;
	if ((rc = store_writable(s)) < 0 || (rc = store_check_name(s, "target name", target)) < 0)
		return rc;
	return s->be->job_finish(s, scan_id, target, failed);
}

int store_wake_fd(struct store *s)
{
	return s && s->be->wake_fd ? s->be->wake_fd(s) : -1;
}

int store_wake_drain(struct store *s)
{
	store_ok(s);
	return s->be->wake_drain ? s->be->wake_drain(s) : 0;
}

uint64_t store_round_trips(const struct store *s)
{
	return s ? s->round_trips : 0;
}
