/*
 * store_pg_retention.c — PostgreSQL: deleting old scans, results and findings (rules in
 * store.h; the same statements as store_sqlite_retention.c). Replicas finishing scans at
 * the same moment would delete the same rows and deadlock: one at a time applies it (a
 * transaction-scoped advisory lock), and whoever finds it taken leaves the work to that
 * one.
 */
#include "err.h"
#include "store.h"
#include "store_pg.h"

/* pg_advisory_xact_lock key of retention (another constant than the migrations'). */
#define PG_RETENTION_LOCK "126918406743919"

/* Run sql with $1 = arg; add the rows it deleted (its changes, or the count its one row
 * says) to *deleted. */
static int run(struct store *s, const char *sql, int64_t arg, int64_t *deleted)
{
	struct pg_params p = { 0 };
	pp_int(&p, arg);
	PGresult *r = NULL;
	int rc = pg_run(s, sql, &p, 0, &r, "retention");
	if (rc < 0)
		return rc;
	*deleted += PQresultStatus(r) == PGRES_TUPLES_OK ? pg_col_int(r, 0, 0) : pg_changes(r);
	PQclear(r);
	return 0;
}

int pg_retention_apply(struct store *s)
{
	PGresult *r = NULL;
	int rc = pg_run(s, "SELECT pg_try_advisory_xact_lock(" PG_RETENTION_LOCK ")", NULL, 0, &r,
			"retention");
	if (rc < 0)
		return rc;
	int mine = pg_col_bool(r, 0, 0);
	PQclear(r);
	if (!mine)
		return 0;
	int64_t n = 0;
	if (s->ret.max_age_ms > 0) {
		int64_t cutoff = store_now(s) - s->ret.max_age_ms;
		if ((rc = run(s, "DELETE FROM scans WHERE status != 'running' AND finished_at > 0 "
				 "AND finished_at < $1::bigint", cutoff, &n)) < 0 ||
		    (rc = run(s, "DELETE FROM findings WHERE scan_id IS NULL AND at < $1::bigint",
			      cutoff, &n)) < 0)
			return rc;
	}
	if (s->ret.keep_scans > 0) {
		/* the (scan, target) pairs past keep_scans, newest first per target */
		if ((rc = run(s, "WITH doomed AS (SELECT scan_id, target FROM (SELECT st.scan_id, "
				 "st.target, row_number() OVER (PARTITION BY st.target ORDER BY "
				 "st.scan_id DESC) AS rn FROM scan_targets st JOIN scans sc ON sc.id = "
				 "st.scan_id WHERE sc.status != 'running') x WHERE rn > $1::bigint), "
				 "r AS (DELETE FROM results USING doomed WHERE results.target = "
				 "doomed.target AND results.scan_id = doomed.scan_id RETURNING 1), "
				 "f AS (DELETE FROM findings USING doomed WHERE findings.target = "
				 "doomed.target AND findings.scan_id = doomed.scan_id RETURNING 1), "
				 "t AS (DELETE FROM scan_targets USING doomed WHERE scan_targets.target "
				 "= doomed.target AND scan_targets.scan_id = doomed.scan_id RETURNING 1) "
				 "SELECT (SELECT count(*) FROM r) + (SELECT count(*) FROM f) + "
				 "(SELECT count(*) FROM t)",
			      (int64_t)s->ret.keep_scans, &n)) < 0)
			return rc;
	}
	if ((rc = run(s, "DELETE FROM scans WHERE status != 'running' AND $1::bigint = 0 AND NOT "
			 "EXISTS (SELECT 1 FROM scan_targets WHERE scan_id = scans.id)", 0, &n)) < 0)
		return rc;
	return n > 0x7fffffff ? 0x7fffffff : (int)n;
}

int pg_retention_run(struct store *s)
{
	int rc;
	if ((rc = pg_begin(s)) < 0)
		return rc;
	int n = pg_retention_apply(s);
	if (n < 0 || (rc = pg_commit(s)) < 0) {
		pg_rollback(s);
		return n < 0 ? n : rc;
	}
	return n;
}
