/*
 * store_sqlite_result.c — SQLite: a scan's results: add one (diffed against the baseline
 * by store_result_diff, and committed with its findings in one transaction), list them,
 * fetch the latest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "store.h"
#include "store_sqlite.h"

/* Inside the transaction: the scan must be running and cover the target. */
static int check_scan_target(struct store *s, int64_t scan_id, const char *target)
{
	sqlite3_stmt *st = NULL;
	int rc = sq_prepare(s, "SELECT status, EXISTS (SELECT 1 FROM targets WHERE name = ?2), "
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
		rc = sq_err(s, sr, "result add");
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

/* Inside the transaction: a fenced result's replica still holds the target's lease. */
static int check_fence(struct store *s, const struct store_result_in *r)
{
	if (!r->replica)
		return 0;
	sqlite3_stmt *st = NULL;
	int rc = sq_prepare(s, "SELECT 1 FROM leases WHERE target = ?1 AND owner = ?2 AND "
			       "token = ?3", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, r->target, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->replica, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, r->lease_token);
	int sr = sqlite3_step(st);
	sqlite3_finalize(st);
	if (sr == SQLITE_DONE)
		return store_fail(s, SEVMON_EDENIED, "replica '%s' no longer holds the lease of '%s'",
				  r->replica, r->target);
	return sr == SQLITE_ROW ? 0 : sq_err(s, sr, "lease check");
}

/* The ok result of (target, check) added last by another scan, handed to the shared diff
 * while its row is read. By insertion order, not scan id: when scans overlap, the baseline
 * is what was seen last. */
static int diff_against_baseline(struct store *s, int64_t scan_id, const struct store_result_in *r,
				 struct store_result_diff *d)
{
	sqlite3_stmt *st = NULL;
	struct store_baseline b = { 0 };
	int rc = sq_prepare(s, "SELECT payload, ident FROM results WHERE target = ?1 AND "
			       "check_name = ?2 AND status = 'ok' AND scan_id != ?3 "
			       "ORDER BY rowid DESC LIMIT 1", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, r->target, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->check, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, scan_id);
	int sr = sqlite3_step(st);
	if (sr == SQLITE_ROW) {
		b.found = 1;
		b.payload = (const char *)sqlite3_column_text(st, 0);
		if (store_result_baseline_is_ident(r)) {
			b.ident = sqlite3_column_blob(st, 1);
			int len = sqlite3_column_bytes(st, 1);
			b.ident_len = len > 0 ? (size_t)len : 0;
		}
		rc = store_result_diff(s, r, &b, d);
	} else if (sr == SQLITE_DONE) {
		rc = store_result_diff(s, r, &b, d); /* the first: still checked, no findings */
	} else {
		rc = sq_err(s, sr, "previous result");
	}
	sqlite3_finalize(st);
	return rc;
}

static int insert_result(struct store *s, int64_t scan_id, const struct store_result_in *r,
			 const uint8_t *ident, size_t ident_len)
{
	sqlite3_stmt *st = NULL;
	int rc = sq_prepare(s, "INSERT INTO results (scan_id, target, check_name, status, "
				  "error, payload, ident, at, duration_ms, requests, bytes, replica, "
				  "started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?11, ?7, ?8, ?9, ?10, "
				  "?12, ?13)", &st);
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
	sqlite3_bind_text(st, 12, r->replica ? r->replica : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 13, r->started_at ? r->started_at : store_now(s));
	int sr = sqlite3_step(st);
	sqlite3_finalize(st);
	if (sr == SQLITE_CONSTRAINT_PRIMARYKEY)
		return store_fail(s, SEVMON_EEXIST, "scan %lld already has a %s result for '%s'",
				  (long long)scan_id, r->check, r->target);
	return sr == SQLITE_DONE ? 0 : sq_err(s, sr, "result add");
}

int sq_result_add(struct store *s, int64_t scan_id, const struct store_result_in *r)
{
	struct store_result_diff d = { 0 };
	int rc;
	if ((rc = sq_begin(s)) < 0)
		return rc;
	if ((rc = check_scan_target(s, scan_id, r->target)) < 0 || (rc = check_fence(s, r)) < 0 ||
	    (store_result_wants_baseline(r) && (rc = diff_against_baseline(s, scan_id, r, &d)) < 0) ||
	    (rc = insert_result(s, scan_id, r, d.ident, d.ident_len)) < 0 ||
	    (rc = sq_findings_insert(s, scan_id, r->target, r->check, &d.findings)) < 0 ||
	    (rc = sq_findings_insert_in(s, scan_id, r->target, r->check, r->findings, r->nfindings)) < 0 ||
	    (rc = sq_commit(s)) < 0)
		goto out;
	rc = (int)(d.findings.n + r->nfindings);
out:
	if (rc < 0)
		sq_rollback(s);
	store_result_diff_free(&d);
	return rc;
}

#define RESULT_COLS                                                                        \
	"scan_id, target, check_name, status, error, CASE WHEN ?9 THEN payload END, at, "  \
	"duration_ms, requests, bytes, started_at, replica"

static int result_row(sqlite3_stmt *st, struct store_result *r)
{
	memset(r, 0, sizeof(*r));
	r->scan_id = sqlite3_column_int64(st, 0);
	sq_col_copy(st, 1, r->target, sizeof(r->target));
	sq_col_copy(st, 2, r->check, sizeof(r->check));
	r->ok = strcmp((const char *)sqlite3_column_text(st, 3), "ok") == 0;
	r->at = sqlite3_column_int64(st, 6);
	r->duration_ms = (uint32_t)sqlite3_column_int64(st, 7);
	r->requests = (uint64_t)sqlite3_column_int64(st, 8);
	r->bytes = (uint64_t)sqlite3_column_int64(st, 9);
	r->started_at = sqlite3_column_int64(st, 10);
	sq_col_copy(st, 11, r->replica, sizeof(r->replica));
	if (sq_col_dup(st, 4, &r->error) < 0 || sq_col_dup(st, 5, &r->payload_json) < 0) {
		store_result_clear(r);
		return SEVMON_ENOMEM;
	}
	return 0;
}

int sq_results_list(struct store *s, int64_t scan_id, const char *target, bool with_payload,
		    size_t offset, size_t limit, struct store_result **out, size_t *n)
{
	int rc;
	struct store_scan sc;
	if ((rc = sq_scan_get(s, scan_id, &sc)) < 0)
		return rc;
	store_scan_clear(&sc);
	sqlite3_stmt *st = NULL;
	rc = sq_prepare(s, "SELECT " RESULT_COLS " FROM results WHERE scan_id = ?1 AND "
			      "(?2 IS NULL OR target = ?2) ORDER BY target, check_name "
			      "LIMIT ?3 OFFSET ?4", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, scan_id);
	if (target)
		sqlite3_bind_text(st, 2, target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)limit);
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
		rc = sq_err(s, sr, "result list");
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

int sq_result_latest(struct store *s, const char *target, const char *check,
		     struct store_result *out)
{
	int rc;
	sqlite3_stmt *st = NULL;
	rc = sq_prepare(s, "SELECT " RESULT_COLS " FROM results WHERE target = ?1 AND "
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
		rc = sq_err(s, sr, "latest result");
	sqlite3_finalize(st);
	return rc;
}
