/*
 * store_pg_fleet.c — PostgreSQL: replicas, leases and scan jobs (store.h, "the fleet").
 *
 * Who may do what is decided by row locks, never by a replica's memory:
 *   claim     picks free or expired lease rows FOR UPDATE SKIP LOCKED: two replicas
 *             claiming at once take disjoint sets and neither waits for the other;
 *   renew     touches only rows whose owner is this replica (expired or not: nobody
 *             else took them, or the owner column would say so);
 *   a result  locks its lease row FOR SHARE while it checks owner and token
 *             (store_pg_result.c), so a claim cannot change hands under it;
 *   jobs      are claimed like leases (SKIP LOCKED) and finished under the scan's row
 *             lock, so the last of a scan's jobs to finish always sees the others done.
 * Expiry is the server's clock (sevmon_now_ms), or the test clock (pp_now).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "store.h"
#include "store_pg.h"

/* "$N" of the lease clock in each statement below. */
#define NOW(N) "coalesce($" #N "::bigint, sevmon_now_ms())"

int pg_replica_beat(struct store *s, const char *replica, int64_t ttl_ms, struct store_fleet *out)
{
	struct pg_params p = { 0 };
	pp_text(&p, replica);
	pp_int(&p, ttl_ms);
	pp_now(&p, s);
	PGresult *r = NULL;
	/* one statement: forget the expired, beat, count (the CTEs see the table as it was
	 * before, so this replica counts itself by hand when it is new) */
	int rc = pg_run(s, "WITH gone AS (DELETE FROM replicas WHERE expires_at < " NOW(3) " AND "
			   "name != $1 RETURNING 1), me AS (INSERT INTO replicas (name, beat_at, "
			   "expires_at) VALUES ($1, " NOW(3) ", " NOW(3) " + $2::bigint) ON "
			   "CONFLICT (name) DO UPDATE SET beat_at = excluded.beat_at, expires_at = "
			   "excluded.expires_at RETURNING 1) SELECT (SELECT count(*) FROM replicas "
			   "WHERE expires_at >= " NOW(3) " AND name != $1) + 1, (SELECT count(*) "
			   "FROM targets), (SELECT count(*) FROM gone) + (SELECT count(*) FROM me)",
			&p, 0, &r, "replica beat");
	if (rc < 0)
		return rc;
	out->replicas = (uint32_t)pg_col_int(r, 0, 0);
	out->targets = (uint64_t)pg_col_int(r, 0, 1);
	PQclear(r);
	return 0;
}

int pg_replica_leave(struct store *s, const char *replica)
{
	struct pg_params p = { 0 };
	pp_text(&p, replica);
	int rc;
	if ((rc = pg_begin(s)) < 0)
		return rc;
	if ((rc = pg_run(s, "DELETE FROM replicas WHERE name = $1", &p, 0, NULL, "replica leave")) < 0 ||
	    (rc = pg_run(s, "SELECT pg_notify('sevmon_fleet', '')", NULL, 0, NULL, "notify")) < 0 ||
	    (rc = pg_commit(s)) < 0)
		pg_rollback(s);
	return rc;
}

static int lease_cmp(const void *a, const void *b)
{
	return strcmp(((const struct store_lease *)a)->target, ((const struct store_lease *)b)->target);
}

/* Rows (target, token, version, last_scan_at) into *out, by target. */
static int lease_rows(struct store *s, PGresult *r, struct store_lease **out, size_t *n)
{
	int rows = PQntuples(r);
	struct store_lease *v = rows ? calloc((size_t)rows, sizeof *v) : NULL;
	if (rows && !v)
		return store_fail(s, SEVMON_ENOMEM, "out of memory");
	for (int i = 0; i < rows; i++) {
		pg_col_copy(r, i, 0, v[i].target, sizeof v[i].target);
		v[i].token = pg_col_int(r, i, 1);
		v[i].version = pg_col_int(r, i, 2);
		v[i].last_scan_at = pg_col_int(r, i, 3);
	}
	if (rows > 1)
		qsort(v, (size_t)rows, sizeof *v, lease_cmp);
	*out = v;
	*n = (size_t)rows;
	return 0;
}

int pg_leases_renew(struct store *s, const char *replica, int64_t ttl_ms, struct store_lease **out,
		    size_t *n)
{
	struct pg_params p = { 0 };
	pp_text(&p, replica);
	pp_int(&p, ttl_ms);
	pp_now(&p, s);
	PGresult *r = NULL;
	int rc = pg_run(s, "UPDATE leases l SET expires_at = " NOW(3) " + $2::bigint FROM targets t "
			   "WHERE l.owner = $1 AND t.name = l.target "
			   "RETURNING l.target, l.token, t.version, t.last_scan_at",
			&p, 0, &r, "lease renew");
	if (rc < 0)
		return rc;
	rc = lease_rows(s, r, out, n);
	PQclear(r);
	return rc;
}

int pg_leases_claim(struct store *s, const char *replica, int64_t ttl_ms, size_t max,
		    struct store_lease **out, size_t *n)
{
	struct pg_params p = { 0 };
	pp_text(&p, replica);
	pp_int(&p, ttl_ms);
	pp_now(&p, s);
	pp_int(&p, (int64_t)max);
	PGresult *r = NULL;
	/* free rows have expires_at 0, so the expiry index finds free and expired alike,
	 * the longest expired first; its own (renewed, not claimed) keep their tokens */
	int rc = pg_run(s, "WITH pick AS (SELECT target FROM leases WHERE expires_at < " NOW(3)
			   " AND owner != $1 ORDER BY expires_at, target LIMIT $4 FOR UPDATE SKIP "
			   "LOCKED), took AS (UPDATE leases l SET owner = $1, expires_at = " NOW(3)
			   " + $2::bigint, token = nextval('lease_tokens') FROM pick, targets t "
			   "WHERE l.target = pick.target AND t.name = l.target "
			   "RETURNING l.target, l.token, t.version, t.last_scan_at), "
			   /* what the last holder had claimed and not finished is queued again */
			   "rq AS (UPDATE scan_jobs j SET state = 'queued', owner = '' FROM took "
			   "WHERE j.target = took.target AND j.state = 'claimed') "
			   "SELECT * FROM took",
			&p, 0, &r, "lease claim");
	if (rc < 0)
		return rc;
	rc = lease_rows(s, r, out, n);
	PQclear(r);
	return rc;
}

int pg_lease_release(struct store *s, const char *replica, const char *target)
{
	struct pg_params p = { 0 };
	pp_text(&p, replica);
	pp_text(&p, target);
	PGresult *r = NULL;
	int rc;
	if ((rc = pg_begin(s)) < 0)
		return rc;
	if ((rc = pg_run(s, "UPDATE scan_jobs SET state = 'queued', owner = '' WHERE state = "
			    "'claimed' AND owner = $1 AND ($2::text IS NULL OR target = $2)",
			 &p, 0, NULL, "lease release")) < 0 ||
	    (rc = pg_run(s, "UPDATE leases SET owner = '', expires_at = 0 WHERE owner = $1 AND "
			    "($2::text IS NULL OR target = $2)", &p, 0, &r, "lease release")) < 0)
		goto out;
	int64_t released = pg_changes(r);
	if (released > 0 &&
	    (rc = pg_run(s, "SELECT pg_notify('sevmon_fleet', '')", NULL, 0, NULL, "notify")) < 0)
		goto out;
	if ((rc = pg_commit(s)) == 0)
		rc = (int)(released > 0x7fffffff ? 0x7fffffff : released);
out:
	PQclear(r);
	if (rc < 0)
		pg_rollback(s);
	return rc;
}

int pg_jobs_claim(struct store *s, const char *replica, size_t max, struct store_job **out,
		  size_t *n)
{
	struct pg_params p = { 0 };
	pp_text(&p, replica);
	pp_int(&p, (int64_t)max);
	PGresult *r = NULL;
	int rc = pg_run(s, "WITH pick AS (SELECT j.scan_id, j.target FROM scan_jobs j JOIN leases l "
			   "ON l.target = j.target JOIN scans sc ON sc.id = j.scan_id WHERE "
			   "j.state = 'queued' AND l.owner = $1 AND sc.status = 'running' ORDER BY "
			   "j.scan_id, j.target LIMIT $2 FOR UPDATE OF j SKIP LOCKED) "
			   "UPDATE scan_jobs j SET state = 'claimed', owner = $1 FROM pick WHERE "
			   "j.scan_id = pick.scan_id AND j.target = pick.target "
			   "RETURNING j.scan_id, j.target, j.checks",
			&p, 0, &r, "job claim");
	if (rc < 0)
		return rc;
	int rows = PQntuples(r);
	struct store_job *v = rows ? calloc((size_t)rows, sizeof *v) : NULL;
	if (rows && !v)
		rc = store_fail(s, SEVMON_ENOMEM, "out of memory");
	for (int i = 0; rc == 0 && i < rows; i++) {
		v[i].scan_id = pg_col_int(r, i, 0);
		pg_col_copy(r, i, 1, v[i].target, sizeof v[i].target);
		if (pg_col_dup(r, i, 2, &v[i].checks_json) < 0) {
			store_jobs_free(v, (size_t)i);
			v = NULL;
			rc = store_fail(s, SEVMON_ENOMEM, "out of memory");
		}
	}
	PQclear(r);
	if (rc == 0) {
		*out = v;
		*n = (size_t)rows;
	}
	return rc;
}

int pg_job_finish(struct store *s, int64_t scan_id, const char *target, bool failed)
{
	struct pg_params p = { 0 };
	pp_int(&p, scan_id);
	pp_text(&p, target);
	pp_text(&p, failed ? "true" : "false");
	pp_int(&p, store_now(s));
	PGresult *r = NULL;
	int rc;
	if ((rc = pg_begin(s)) < 0)
		return rc;
	struct pg_params q = { 0 };
	pp_int(&q, scan_id);
	/* the scan's row first: finishing jobs of one scan take turns (see the top) */
	if ((rc = pg_run(s, "SELECT 1 FROM scans WHERE id = $1 FOR UPDATE", &q, 0, &r,
			 "job finish")) < 0)
		goto out;
	if (PQntuples(r) == 0) {
		rc = store_fail(s, SEVMON_ENOENT, "unknown scan %lld", (long long)scan_id);
		goto out;
	}
	PQclear(r);
	r = NULL;
	if ((rc = pg_run(s, "WITH j AS (UPDATE scan_jobs SET state = 'done', failed = $3::boolean, "
			    "finished_at = $4::bigint WHERE scan_id = $1 AND target = $2 AND state "
			    "!= 'done' RETURNING 1), t AS (UPDATE targets SET last_scan_at = "
			    "$4::bigint WHERE name = $2 AND EXISTS (SELECT 1 FROM j)) SELECT "
			    "(SELECT count(*) FROM j), EXISTS (SELECT 1 FROM scan_jobs WHERE "
			    "scan_id = $1 AND target = $2)",
			 &p, 0, &r, "job finish")) < 0)
		goto out;
	int64_t changed = pg_col_int(r, 0, 0);
	int exists = pg_col_bool(r, 0, 1);
	PQclear(r);
	r = NULL;
	if (!exists) {
		rc = store_fail(s, SEVMON_ENOENT, "scan %lld has no job for '%s'", (long long)scan_id,
				target);
		goto out;
	}
	int finished = 0;
	if (changed && (rc = finished = pg_scans_complete(s, scan_id)) < 0)
		goto out;
	if ((rc = pg_commit(s)) == 0)
		rc = finished > 0;
out:
	PQclear(r);
	if (rc < 0)
		pg_rollback(s);
	return rc;
}
