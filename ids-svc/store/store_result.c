/*
 * store_result.c — a scan's results: add one (validated, diffed against the baseline, and
 * committed with its findings in one transaction), list them, fetch the latest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "store.h"
#include "store_impl.h"

/* How a result is compared: not at all, as an identity list, or as one value. */
enum diff_how { DIFF_NONE, DIFF_LIST, DIFF_BANNER };

static enum diff_how diff_for(enum store_diff_rule rule, enum store_idkind *k)
{
	switch (rule) {
	case STORE_DIFF_PROCESSES:
		*k = STORE_ID_PROCESSES;
		return DIFF_LIST;
	case STORE_DIFF_MODULES:
		*k = STORE_ID_MODULES;
		return DIFF_LIST;
	case STORE_DIFF_BANNER:
		return DIFF_BANNER;
	default:
		return DIFF_NONE;
	}
}

/* Inside the transaction: the scan must be running and cover the target. */
static int check_scan_target(struct store *s, int64_t scan_id, const char *target)
{
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(s, "SELECT status, EXISTS (SELECT 1 FROM targets WHERE name = ?2), "
				  "EXISTS (SELECT 1 FROM scan_targets WHERE scan_id = ?1 AND "
				  "target = ?2) FROM scans WHERE id = ?1", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, scan_id);
	sqlite3_bind_text(st, 2, target, -1, SQLITE_STATIC);
	int sr = sqlite3_step(st);
	if (sr == SQLITE_DONE)
		rc = store_fail(s, SEVMON_ENOENT, "unknown scan %lld", (long long)scan_id);
	else if (sr != SQLITE_ROW)
		rc = store_sqlerr(s, sr, "result add");
	else if (strcmp((const char *)sqlite3_column_text(st, 0), "running") != 0)
		rc = store_fail(s, SEVMON_EINVAL, "scan %lld is %s, not running",
				(long long)scan_id, (const char *)sqlite3_column_text(st, 0));
	else if (!sqlite3_column_int(st, 1))
		rc = store_fail(s, SEVMON_ENOENT, "unknown target '%s'", target);
	else if (!sqlite3_column_int(st, 2))
		rc = store_fail(s, SEVMON_ENOENT, "target '%s' is not part of scan %lld", target,
				(long long)scan_id);
	sqlite3_finalize(st);
	return rc;
}

/* The ok result of (target, check) added last by another scan: its payload (banner) or its
 * identity list (ps, modules). By insertion order, not scan id: when scans overlap, the
 * baseline is what was seen last. *found 0 if there is none, or none usable. */
static int baseline(struct store *s, int64_t scan_id, const struct store_result_in *r,
		    enum diff_how how, enum store_idkind k, char **payload,
		    struct store_idlist *list, int *found)
{
	*found = 0;
	*payload = NULL;
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(s, "SELECT payload, ident FROM results WHERE target = ?1 AND "
				  "check_name = ?2 AND status = 'ok' AND scan_id != ?3 "
				  "ORDER BY rowid DESC LIMIT 1", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, r->target, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->check, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, scan_id);
	int sr = sqlite3_step(st);
	if (sr == SQLITE_DONE)
		goto out;
	if (sr != SQLITE_ROW) {
		rc = store_sqlerr(s, sr, "previous result");
		goto out;
	}
	if (how == DIFF_BANNER) {
		if (store_col_dup(st, 0, payload) < 0)
			rc = store_fail(s, SEVMON_ENOMEM, "out of memory");
		*found = *payload != NULL;
		goto out;
	}
	const void *blob = sqlite3_column_blob(st, 1);
	int len = sqlite3_column_bytes(st, 1);
	rc = store_idlist_from_blob(k, blob, (size_t)(len > 0 ? len : 0), list);
	if (rc == SEVMON_EDECODE) {
		/* no compact form (or a damaged one): fall back to the payload itself */
		const unsigned char *text = sqlite3_column_text(st, 0);
		rc = text ? store_idlist_from_json(k, (const char *)text, list, NULL, 0)
			  : SEVMON_EINVAL;
	}
	if (rc == SEVMON_ENOMEM) {
		rc = store_fail(s, rc, "out of memory");
		goto out;
	}
	/* A baseline that does not parse (a damaged row, another build's rules) is not this
	 * result's fault: keep the result, skip the diff. */
	*found = rc == 0;
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

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
		    (rc = store_check_json(s, "finding detail", f->detail_json, STORE_SMALL_JSON_MAX)) < 0)
			return rc;
	}
	/* Payloads with a diff rule are validated (shape included) by their diff, below. */
	enum store_idkind k;
	if (r->ok && diff_for(r->diff, &k) != DIFF_NONE)
		return strnlen(r->payload_json, STORE_PAYLOAD_MAX + 1) > STORE_PAYLOAD_MAX
			       ? store_fail(s, SEVMON_ETOOBIG, "payload over the limit of %u bytes",
					    STORE_PAYLOAD_MAX)
			       : 0;
	return store_check_json(s, "payload", r->payload_json, STORE_PAYLOAD_MAX);
}

static int insert_result(struct store *s, int64_t scan_id, const struct store_result_in *r,
			 const uint8_t *ident, size_t ident_len)
{
	sqlite3_stmt *st = NULL;
	int rc = store_prepare(s, "INSERT INTO results (scan_id, target, check_name, status, "
				  "error, payload, ident, at, duration_ms, requests, bytes) VALUES "
				  "(?1, ?2, ?3, ?4, ?5, ?6, ?11, ?7, ?8, ?9, ?10)", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, scan_id);
	sqlite3_bind_text(st, 2, r->target, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->check, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, r->ok ? "ok" : "error", -1, SQLITE_STATIC);
	if (r->error)
		sqlite3_bind_text(st, 5, r->error, -1, SQLITE_STATIC);
	if (r->payload_json)
		sqlite3_bind_text(st, 6, r->payload_json, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, store_now(s));
	sqlite3_bind_int64(st, 8, r->duration_ms);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)r->requests);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)r->bytes);
	if (ident)
		sqlite3_bind_blob(st, 11, ident, (int)ident_len, SQLITE_STATIC);
	int sr = sqlite3_step(st);
	sqlite3_finalize(st);
	if (sr == SQLITE_CONSTRAINT_PRIMARYKEY)
		return store_fail(s, SEVMON_EEXIST, "scan %lld already has a %s result for '%s'",
				  (long long)scan_id, r->check, r->target);
	return sr == SQLITE_DONE ? 0 : store_sqlerr(s, sr, "result add");
}

/* Parse the new payload and diff it against the baseline: *d the findings, *ident the
 * compact identity list to store with it (ps, modules). */
static int diff_result(struct store *s, int64_t scan_id, const struct store_result_in *r,
		       struct store_diff *d, uint8_t **ident, size_t *ident_len)
{
	enum store_idkind k = STORE_ID_PROCESSES;
	enum diff_how how = r->ok ? diff_for(r->diff, &k) : DIFF_NONE;
	struct store_idlist cur = { 0 }, prev = { 0 };
	char *prev_payload = NULL;
	char msg[256] = "";
	int found = 0, rc = 0;
	if (how == DIFF_NONE)
		return 0;
	if (how == DIFF_LIST &&
	    (rc = store_idlist_from_json(k, r->payload_json, &cur, msg, sizeof(msg))) < 0) {
		rc = store_fail(s, rc, "%s payload: %s", r->check, msg);
		goto out;
	}
	if ((rc = baseline(s, scan_id, r, how, k, &prev_payload, &prev, &found)) < 0)
		goto out;
	if (how == DIFF_BANNER) {
		rc = store_diff_banner(found ? prev_payload : NULL, r->payload_json, d, msg,
				       sizeof(msg));
		/* a bad baseline again is not this result's fault */
		if (rc == SEVMON_EINVAL && found &&
		    store_diff_banner(NULL, r->payload_json, d, NULL, 0) == 0)
			rc = 0;
		if (rc < 0)
			rc = store_fail(s, rc, "%s payload: %s", r->check, msg);
		goto out;
	}
	if (found && (rc = store_idlist_diff(&prev, &cur, d)) < 0) {
		rc = store_fail(s, rc, "diff: %s", sevmon_strerror(rc));
		goto out;
	}
	if ((rc = store_idlist_to_blob(&cur, ident, ident_len)) < 0)
		rc = store_fail(s, rc, "identity list: %s", sevmon_strerror(rc));
out:
	store_idlist_free(&cur);
	store_idlist_free(&prev);
	free(prev_payload);
	return rc < 0 ? rc : 0;
}

int store_result_add(struct store *s, int64_t scan_id, const struct store_result_in *r)
{
	store_ok(s);
	int rc;
	if ((rc = store_writable(s)) < 0 || (rc = validate_result(s, r)) < 0)
		return rc;
	struct store_diff d = { 0 };
	uint8_t *ident = NULL;
	size_t ident_len = 0;
	if ((rc = store_tx_begin(s)) < 0)
		return rc;
	if ((rc = check_scan_target(s, scan_id, r->target)) < 0 ||
	    (rc = diff_result(s, scan_id, r, &d, &ident, &ident_len)) < 0 ||
	    (rc = insert_result(s, scan_id, r, ident, ident_len)) < 0 ||
	    (rc = store_findings_insert(s, scan_id, r->target, &d)) < 0 ||
	    (rc = store_findings_insert_in(s, scan_id, r->target, r->findings, r->nfindings)) < 0 ||
	    (rc = store_tx_commit(s)) < 0)
		goto out;
	rc = (int)(d.n + r->nfindings);
out:
	if (rc < 0)
		store_tx_rollback(s);
	store_diff_free(&d);
	free(ident);
	return rc;
}

#define RESULT_COLS                                                                        \
	"scan_id, target, check_name, status, error, CASE WHEN ?9 THEN payload END, at, "  \
	"duration_ms, requests, bytes"

void store_result_clear(struct store_result *r)
{
	if (!r)
		return;
	free(r->error);
	free(r->payload_json);
	memset(r, 0, sizeof(*r));
}

void store_results_free(struct store_result *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		store_result_clear(&v[i]);
	free(v);
}

static int result_row(sqlite3_stmt *st, struct store_result *r)
{
	memset(r, 0, sizeof(*r));
	r->scan_id = sqlite3_column_int64(st, 0);
	store_col_copy(st, 1, r->target, sizeof(r->target));
	store_col_copy(st, 2, r->check, sizeof(r->check));
	r->ok = strcmp((const char *)sqlite3_column_text(st, 3), "ok") == 0;
	r->at = sqlite3_column_int64(st, 6);
	r->duration_ms = (uint32_t)sqlite3_column_int64(st, 7);
	r->requests = (uint64_t)sqlite3_column_int64(st, 8);
	r->bytes = (uint64_t)sqlite3_column_int64(st, 9);
	if (store_col_dup(st, 4, &r->error) < 0 || store_col_dup(st, 5, &r->payload_json) < 0) {
		store_result_clear(r);
		return SEVMON_ENOMEM;
	}
	return 0;
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
	struct store_scan sc;
	if ((rc = store_scan_get(s, scan_id, &sc)) < 0)
		return rc;
	store_scan_clear(&sc);
	sqlite3_stmt *st = NULL;
	rc = store_prepare(s, "SELECT " RESULT_COLS " FROM results WHERE scan_id = ?1 AND "
			      "(?2 IS NULL OR target = ?2) ORDER BY target, check_name "
			      "LIMIT ?3 OFFSET ?4", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, scan_id);
	if (target)
		sqlite3_bind_text(st, 2, target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)store_cap_limit(limit));
	sqlite3_bind_int64(st, 4, offset > INT64_MAX ? INT64_MAX : (sqlite3_int64)offset);
	sqlite3_bind_int(st, 9, with_payload);
	struct store_result *v = NULL;
	size_t cnt = 0, cap = 0, bytes = 0;
	int sr = SQLITE_DONE;
	while (bytes < STORE_LIST_BYTES_MAX && (sr = sqlite3_step(st)) == SQLITE_ROW) {
		if (store_grow((void **)&v, &cap, cnt, sizeof(*v)) < 0 ||
		    result_row(st, &v[cnt]) < 0) {
			rc = store_fail(s, SEVMON_ENOMEM, "out of memory");
			goto out;
		}
		if (v[cnt].payload_json)
			bytes += strlen(v[cnt].payload_json);
		cnt++;
	}
	if (sr != SQLITE_DONE && sr != SQLITE_ROW) {
		rc = store_sqlerr(s, sr, "result list");
		goto out;
	}
	*out = v;
	*n = cnt;
	v = NULL;
out:
	sqlite3_finalize(st);
	store_results_free(v, cnt);
	return rc;
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
	sqlite3_stmt *st = NULL;
	rc = store_prepare(s, "SELECT " RESULT_COLS " FROM results WHERE target = ?1 AND "
			      "check_name = ?2 AND status = 'ok' ORDER BY rowid DESC LIMIT 1", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, target, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, check, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 9, 1);
	int sr = sqlite3_step(st);
	if (sr == SQLITE_ROW)
		rc = result_row(st, out) < 0 ? store_fail(s, SEVMON_ENOMEM, "out of memory") : 0;
	else if (sr == SQLITE_DONE)
		rc = store_fail(s, SEVMON_ENOENT, "no %s result for '%s'", check, target);
	else
		rc = store_sqlerr(s, sr, "latest result");
	sqlite3_finalize(st);
	return rc;
}
