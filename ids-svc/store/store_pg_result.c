/*
 * store_pg_result.c — PostgreSQL: a scan's results: add one (fenced by its lease, diffed
 * against the baseline by store_result_diff, committed with its findings in one
 * transaction), list them, fetch the latest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "store.h"
#include "store_pg.h"

/* Inside the transaction, one statement: the scan is running and covers the target, and
 * a fenced result's replica holds the lease with its token. FOR SHARE keeps the lease
 * row as it is until the commit: no claim can slip in between the check and the insert. */
static int check_scan_target(struct store *s, int64_t scan_id, const struct store_result_in *r)
{
	struct pg_params p = { 0 };
	pp_int(&p, scan_id);
	pp_text(&p, r->target);
	pp_text(&p, r->replica);
	pp_int(&p, r->replica ? r->lease_token : 0);
	PGresult *res = NULL;
	int rc = pg_run(s, "SELECT status, EXISTS (SELECT 1 FROM targets WHERE name = $2), "
			   "EXISTS (SELECT 1 FROM scan_targets WHERE scan_id = $1 AND target = $2), "
			   "$3::text IS NULL OR EXISTS (SELECT 1 FROM leases WHERE target = $2 AND "
			   "owner = $3 AND token = $4::bigint FOR SHARE) FROM scans WHERE id = $1",
			&p, 0, &res, "result add");
	if (rc < 0)
		return rc;
	if (PQntuples(res) != 1)
		rc = store_fail(s, SEVMON_ENOENT, "unknown scan %lld", (long long)scan_id);
	else if (strcmp(PQgetvalue(res, 0, 0), "running") != 0)
		rc = store_fail(s, SEVMON_EINVAL, "scan %lld is %s, not running", (long long)scan_id,
				PQgetvalue(res, 0, 0));
	else if (!pg_col_bool(res, 0, 1))
		rc = store_fail(s, SEVMON_ENOENT, "unknown target '%s'", r->target);
	else if (!pg_col_bool(res, 0, 2))
		rc = store_fail(s, SEVMON_ENOENT, "target '%s' is not part of scan %lld", r->target,
				(long long)scan_id);
	else if (!pg_col_bool(res, 0, 3))
		rc = store_fail(s, SEVMON_EDENIED, "replica '%s' no longer holds the lease of '%s'",
				r->replica, r->target);
	PQclear(res);
	return rc;
}

/* The ok result of (target, check) added last by another scan, handed to the shared diff.
 * Binary columns: the compact form comes as its bytes (payload text as its bytes too,
 * which libpq ends with a NUL). */
static int diff_against_baseline(struct store *s, int64_t scan_id, const struct store_result_in *r,
				 struct store_result_diff *d)
{
	struct pg_params p = { 0 };
	pp_text(&p, r->target);
	pp_text(&p, r->check);
	pp_int(&p, scan_id);
	PGresult *res = NULL;
	int ident = store_result_baseline_is_ident(r);
	int rc = pg_run(s, ident ? "SELECT NULL::text, ident FROM results WHERE target = $1 AND "
				   "check_name = $2 AND status = 'ok' AND scan_id != $3 "
				   "ORDER BY seq DESC LIMIT 1"
				 : "SELECT payload, NULL::bytea FROM results WHERE target = $1 AND "
				   "check_name = $2 AND status = 'ok' AND scan_id != $3 "
				   "ORDER BY seq DESC LIMIT 1",
			&p, 1, &res, "previous result");
	if (rc < 0)
		return rc;
	struct store_baseline b = { 0 };
	if (PQntuples(res) == 1) {
		b.found = 1;
		b.payload = PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0);
		if (!PQgetisnull(res, 0, 1)) {
			b.ident = PQgetvalue(res, 0, 1);
			b.ident_len = (size_t)PQgetlength(res, 0, 1);
		}
	}
	rc = store_result_diff(s, r, &b, d);
	PQclear(res);
	return rc;
}

static int insert_result(struct store *s, int64_t scan_id, const struct store_result_in *r,
			 const uint8_t *ident, size_t ident_len)
{
	struct pg_params p = { 0 };
	pp_int(&p, scan_id);
	pp_text(&p, r->target);
	pp_text(&p, r->check);
	pp_text(&p, r->ok ? "ok" : "error");
	pp_text(&p, r->error);
	pp_text(&p, r->payload_json);
	if (ident)
		pp_bin(&p, ident, ident_len);
	else
		pp_text(&p, NULL);
	pp_int(&p, store_now(s));
	pp_int(&p, r->duration_ms);
	pp_int(&p, (int64_t)r->requests);
	pp_int(&p, (int64_t)r->bytes);
	pp_text(&p, r->replica ? r->replica : "");
	pp_int(&p, r->started_at ? r->started_at : store_now(s));
	int rc = pg_run(s, "INSERT INTO results (scan_id, target, check_name, status, error, "
			   "payload, ident, at, duration_ms, requests, bytes, replica, started_at) "
			   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
			&p, 0, NULL, "result add");
	if (rc == SEVMON_EEXIST)
		return store_fail(s, SEVMON_EEXIST, "scan %lld already has a %s result for '%s'",
				  (long long)scan_id, r->check, r->target);
	return rc;
}

int pg_result_add(struct store *s, int64_t scan_id, const struct store_result_in *r)
{
	struct store_result_diff d = { 0 };
	int rc;
	if ((rc = pg_begin(s)) < 0)
		return rc;
	if ((rc = check_scan_target(s, scan_id, r)) < 0 ||
	    (store_result_wants_baseline(r) && (rc = diff_against_baseline(s, scan_id, r, &d)) < 0) ||
	    (rc = insert_result(s, scan_id, r, d.ident, d.ident_len)) < 0 ||
	    (rc = pg_findings_insert(s, scan_id, r->target, r->check, &d.findings)) < 0 ||
	    (rc = pg_findings_insert_in(s, scan_id, r->target, r->check, r->findings, r->nfindings)) < 0 ||
	    (rc = pg_commit(s)) < 0)
		goto out;
	rc = (int)(d.findings.n + r->nfindings);
out:
	if (rc < 0)
		pg_rollback(s);
	store_result_diff_free(&d);
	return rc;
}

/* W: the parameter saying whether payloads are wanted, "$N" */
#define RESULT_COLS(W)                                                                     \
	"scan_id, target, check_name, status, error, CASE WHEN " W "::boolean THEN payload "  \
	"END, at, duration_ms, requests, bytes, started_at, replica"

static int result_row(PGresult *res, int i, struct store_result *r)
{
	memset(r, 0, sizeof(*r));
	r->scan_id = pg_col_int(res, i, 0);
	pg_col_copy(res, i, 1, r->target, sizeof(r->target));
	pg_col_copy(res, i, 2, r->check, sizeof(r->check));
	r->ok = strcmp(PQgetvalue(res, i, 3), "ok") == 0;
	r->at = pg_col_int(res, i, 6);
	r->duration_ms = (uint32_t)pg_col_int(res, i, 7);
	r->requests = (uint64_t)pg_col_int(res, i, 8);
	r->bytes = (uint64_t)pg_col_int(res, i, 9);
	r->started_at = pg_col_int(res, i, 10);
	pg_col_copy(res, i, 11, r->replica, sizeof(r->replica));
	if (pg_col_dup(res, i, 4, &r->error) < 0 || pg_col_dup(res, i, 5, &r->payload_json) < 0) {
		store_result_clear(r);
		return SEVMON_ENOMEM;
	}
	return 0;
}

int pg_results_list(struct store *s, int64_t scan_id, const char *target, bool with_payload,
		    size_t offset, size_t limit, struct store_result **out, size_t *n)
{
	int rc;
	struct store_scan sc;
	if ((rc = pg_scan_get(s, scan_id, &sc)) < 0)
		return rc;
	store_scan_clear(&sc);
	/* rows come in pages that stop at STORE_LIST_BYTES_MAX of payloads: a page of
	 * STORE_LIST_MAX full payloads must never come over the wire at once */
	struct pg_params p = { 0 };
	pp_int(&p, scan_id);
	pp_text(&p, target);
	pp_int(&p, (int64_t)limit);
	pp_int(&p, offset > INT64_MAX ? INT64_MAX : (int64_t)offset);
	pp_int(&p, STORE_LIST_BYTES_MAX);
	pp_text(&p, with_payload ? "true" : "false");
	PGresult *res = NULL;
	/* the page first, then the payload bytes before each row of it */
	rc = pg_run(s, "SELECT " RESULT_COLS("$6") " FROM (SELECT *, sum(CASE WHEN $6::boolean "
		       "THEN coalesce(octet_length(payload), 0) ELSE 0 END) OVER (ORDER BY target, "
		       "check_name ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before "
		       "FROM (SELECT * FROM results WHERE scan_id = $1 AND ($2::text IS NULL OR "
		       "target = $2) ORDER BY target, check_name LIMIT $3 OFFSET $4) page) x "
		       "WHERE coalesce(before, 0) < $5::bigint ORDER BY target, check_name",
		    &p, 0, &res, "result list");
	if (rc < 0)
		return rc;
	int rows = PQntuples(res);
	struct store_result *v = rows ? calloc((size_t)rows, sizeof *v) : NULL;
	if (rows && !v)
		rc = store_fail(s, SEVMON_ENOMEM, "out of memory");
	for (int i = 0; rc == 0 && i < rows; i++)
		if (result_row(res, i, &v[i]) < 0) {
			store_results_free(v, (size_t)i);
			v = NULL;
			rc = store_fail(s, SEVMON_ENOMEM, "out of memory");
		}
	PQclear(res);
	if (rc == 0) {
		*out = v;
		*n = (size_t)rows;
	}
	return rc;
}

int pg_result_latest(struct store *s, const char *target, const char *check,
		     struct store_result *out)
{
	struct pg_params p = { 0 };
	pp_text(&p, target);
	pp_text(&p, check);
	pp_text(&p, "true");
	PGresult *res = NULL;
	int rc = pg_run(s, "SELECT " RESULT_COLS("$3") " FROM results WHERE target = $1 AND "
			   "check_name = $2 AND status = 'ok' ORDER BY seq DESC LIMIT 1",
			&p, 0, &res, "latest result");
	if (rc < 0)
		return rc;
	if (PQntuples(res) == 1)
		rc = result_row(res, 0, out) < 0 ? store_fail(s, SEVMON_ENOMEM, "out of memory") : 0;
	else
		rc = store_fail(s, SEVMON_ENOENT, "no %s result for '%s'", check, target);
	PQclear(res);
	return rc;
}
