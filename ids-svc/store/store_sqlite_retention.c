/*
 * store_sqlite_retention.c — SQLite: deleting old scans, results and findings (rules in
 * store.h).
 *
 * Per target, the scans covering it are ranked newest first (running scans excluded, so a
 * scan in progress never pushes out the baseline its results are compared with); the
 * (scan, target) pairs past keep_scans lose their results and findings. A scan row goes
 * when no target refers to it any more. By age, whole scans go and the foreign keys
 * cascade to their rows.
 */
#include "err.h"
#include "store.h"
#include "store_sqlite.h"

static int run(struct store *s, const char *sql, int64_t arg)
{
	sqlite3_stmt *st = NULL;
	int rc = sq_prepare(s, sql, &st);
	if (rc < 0)
		return rc;
	if (sqlite3_bind_parameter_count(st) > 0)
		sqlite3_bind_int64(st, 1, arg);
	int sr = sqlite3_step(st);
	sqlite3_finalize(st);
	return sr == SQLITE_DONE ? 0 : sq_err(s, sr, "retention");
}

int sq_retention_apply(struct store *s)
{
	/* total_changes counts the rows foreign-key cascades delete too */
	sqlite3_int64 before = sqlite3_total_changes64(sq_db(s));
	int rc = 0;
	if (s->ret.max_age_ms > 0) {
		int64_t cutoff = store_now(s) - s->ret.max_age_ms;
		if ((rc = run(s, "DELETE FROM scans WHERE status != 'running' AND finished_at > 0 "
				 "AND finished_at < ?1", cutoff)) < 0 ||
		    (rc = run(s, "DELETE FROM findings WHERE scan_id IS NULL AND at < ?1", cutoff)) < 0)
			return rc;
	}
	if (s->ret.keep_scans > 0) {
		if ((rc = run(s, "CREATE TEMP TABLE IF NOT EXISTS doomed (scan_id INTEGER, "
				 "target TEXT, PRIMARY KEY (target, scan_id)) WITHOUT ROWID", 0)) < 0 ||
		    (rc = run(s, "DELETE FROM temp.doomed", 0)) < 0 ||
		    (rc = run(s, "INSERT INTO temp.doomed SELECT scan_id, target FROM ("
				 " SELECT st.scan_id, st.target, row_number() OVER ("
				 "  PARTITION BY st.target ORDER BY st.scan_id DESC) AS rn"
				 " FROM scan_targets st JOIN scans sc ON sc.id = st.scan_id"
				 " WHERE sc.status != 'running') WHERE rn > ?1",
			      (int64_t)s->ret.keep_scans)) < 0 ||
		    (rc = run(s, "DELETE FROM results WHERE (target, scan_id) IN "
				 "(SELECT target, scan_id FROM temp.doomed)", 0)) < 0 ||
		    (rc = run(s, "DELETE FROM findings WHERE (target, scan_id) IN "
				 "(SELECT target, scan_id FROM temp.doomed)", 0)) < 0 ||
		    (rc = run(s, "DELETE FROM scan_targets WHERE (target, scan_id) IN "
				 "(SELECT target, scan_id FROM temp.doomed)", 0)) < 0 ||
		    (rc = run(s, "DELETE FROM temp.doomed", 0)) < 0)
			return rc;
	}
	if ((rc = run(s, "DELETE FROM scans WHERE status != 'running' AND NOT EXISTS "
			 "(SELECT 1 FROM scan_targets WHERE scan_id = scans.id)", 0)) < 0)
		return rc;
	sqlite3_int64 n = sqlite3_total_changes64(sq_db(s)) - before;
	return n > 0x7fffffff ? 0x7fffffff : (int)n;
}

int sq_retention_run(struct store *s)
{
	int rc;
	if ((rc = sq_begin(s)) < 0)
		return rc;
	int n = sq_retention_apply(s);
	if (n < 0 || (rc = sq_commit(s)) < 0) {
		sq_rollback(s);
		return n < 0 ? n : rc;
	}
	return n;
}
