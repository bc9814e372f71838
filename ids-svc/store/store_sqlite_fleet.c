/*
 * store_sqlite_fleet.c — SQLite: the fleet's tables (store.h, "the fleet") with their
 * single-process meaning. The writer lock makes this process the only replica that can
 * write, so a claim takes any lease this replica does not hold, expired or not (its
 * previous holder is dead: it held the lock), and opening the database dropped them all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "store.h"
#include "store_sqlite.h"

/* Run one statement with a text and an integer parameter; changes or an error. */
static int run2(struct store *s, const char *sql, const char *a, int64_t b, const char *what)
{
	sqlite3_stmt *st = NULL;
	int rc = sq_prepare(s, sql, &st);
	if (rc < 0)
		return rc;
	if (a)
		sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, b);
	int sr = sqlite3_step(st);
	sqlite3_finalize(st);
	if (sr != SQLITE_DONE)
		return sq_err(s, sr, what);
	return sqlite3_changes(sq_db(s));
}

int sq_replica_beat(struct store *s, const char *replica, int64_t ttl_ms, struct store_fleet *out)
{
	int64_t now = store_now(s);
	int rc;
	if ((rc = sq_begin(s)) < 0)
		return rc;
	sqlite3_stmt *st = NULL;
	if ((rc = run2(s, "DELETE FROM replicas WHERE expires_at < ?2", NULL, now, "replicas")) < 0 ||
	    (rc = sq_prepare(s, "INSERT INTO replicas (name, beat_at, expires_at) VALUES (?1, ?2, ?3) "
			       "ON CONFLICT (name) DO UPDATE SET beat_at = excluded.beat_at, "
			       "expires_at = excluded.expires_at", &st)) < 0)
		goto out;
	sqlite3_bind_text(st, 1, replica, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, now + ttl_ms);
	int sr = sqlite3_step(st);
	sqlite3_finalize(st);
	st = NULL;
	if (sr != SQLITE_DONE) {
		rc = sq_err(s, sr, "replica beat");
		goto out;
	}
	if ((rc = sq_prepare(s, "SELECT (SELECT count(*) FROM replicas), "
			       "(SELECT count(*) FROM targets)", &st)) < 0)
		goto out;
	if ((sr = sqlite3_step(st)) != SQLITE_ROW) {
		rc = sq_err(s, sr, "replica beat");
		goto out;
	}
	out->replicas = (uint32_t)sqlite3_column_int64(st, 0);
	out->targets = (uint64_t)sqlite3_column_int64(st, 1);
	rc = sq_commit(s);
out:
	sqlite3_finalize(st);
	if (rc < 0)
		sq_rollback(s);
	return rc < 0 ? rc : 0;
}

int sq_replica_leave(struct store *s, const char *replica)
{
	int rc = run2(s, "DELETE FROM replicas WHERE name = ?1 AND ?2 = ?2", replica, 0,
		      "replica leave");
	return rc < 0 ? rc : 0;
}

/* The leases replica holds, by target. */
static int held(struct store *s, const char *replica, struct store_lease **out, size_t *n)
{
	sqlite3_stmt *st = NULL;
	int rc = sq_prepare(s, "SELECT l.target, l.token, t.version, t.last_scan_at FROM leases l "
			       "JOIN targets t ON t.name = l.target WHERE l.owner = ?1 "
			       "ORDER BY l.target", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, replica, -1, SQLITE_STATIC);
	struct store_lease *v = NULL;
	size_t cnt = 0, cap = 0;
	int sr;
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		if (store_grow((void **)&v, &cap, cnt, sizeof(*v)) < 0) {
			rc = store_fail(s, SEVMON_ENOMEM, "out of memory");
			goto out;
		}
		sq_col_copy(st, 0, v[cnt].target, sizeof(v[cnt].target));
		v[cnt].token = sqlite3_column_int64(st, 1);
		v[cnt].version = sqlite3_column_int64(st, 2);
		v[cnt].last_scan_at = sqlite3_column_int64(st, 3);
		cnt++;
	}
	if (sr != SQLITE_DONE) {
		rc = sq_err(s, sr, "leases");
		goto out;
	}
	*out = v;
	*n = cnt;
	v = NULL;
out:
	sqlite3_finalize(st);
	free(v);
	return rc;
}

int sq_leases_renew(struct store *s, const char *replica, int64_t ttl_ms, struct store_lease **out,
		    size_t *n)
{
	int rc = run2(s, "UPDATE leases SET expires_at = ?2 WHERE owner = ?1", replica,
		      store_now(s) + ttl_ms, "lease renew");
	return rc < 0 ? rc : held(s, replica, out, n);
}

int sq_leases_claim(struct store *s, const char *replica, int64_t ttl_ms, size_t max,
		    struct store_lease **out, size_t *n)
{
	int rc;
	if ((rc = sq_begin(s)) < 0)
		return rc;
	sqlite3_stmt *pick = NULL, *take = NULL, *rq = NULL;
	struct store_lease *v = NULL;
	size_t cnt = 0, cap = 0;
	int64_t token = 0;
	if ((rc = sq_prepare(s, "SELECT value FROM counters WHERE name = 'lease_token'", &pick)) < 0)
		goto out;
	int sr = sqlite3_step(pick);
	if (sr != SQLITE_ROW) {
		rc = sq_err(s, sr, "lease token");
		goto out;
	}
	token = sqlite3_column_int64(pick, 0);
	sqlite3_finalize(pick);
	pick = NULL;
	if ((rc = sq_prepare(s, "SELECT l.target, t.version, t.last_scan_at FROM leases l JOIN "
			       "targets t ON t.name = l.target WHERE l.owner != ?1 "
			       "ORDER BY l.target LIMIT ?2", &pick)) < 0 ||
	    (rc = sq_prepare(s, "UPDATE leases SET owner = ?1, expires_at = ?2, token = ?3 "
			       "WHERE target = ?4", &take)) < 0)
		goto out;
	/* what the last holder had claimed and not finished is queued again */
	if ((rc = sq_prepare(s, "UPDATE scan_jobs SET state = 'queued', owner = '' WHERE "
			       "target = ?1 AND state = 'claimed'", &rq)) < 0)
		goto out;
	sqlite3_bind_text(pick, 1, replica, -1, SQLITE_STATIC);
	sqlite3_bind_int64(pick, 2, (sqlite3_int64)max);
	while ((sr = sqlite3_step(pick)) == SQLITE_ROW) {
		if (store_grow((void **)&v, &cap, cnt, sizeof(*v)) < 0) {
			rc = store_fail(s, SEVMON_ENOMEM, "out of memory");
			goto out;
		}
		struct store_lease *l = &v[cnt];
		sq_col_copy(pick, 0, l->target, sizeof(l->target));
		l->version = sqlite3_column_int64(pick, 1);
		l->last_scan_at = sqlite3_column_int64(pick, 2);
		l->token = ++token;
		sqlite3_reset(take);
		sqlite3_bind_text(take, 1, replica, -1, SQLITE_STATIC);
		sqlite3_bind_int64(take, 2, store_now(s) + ttl_ms);
		sqlite3_bind_int64(take, 3, l->token);
		sqlite3_bind_text(take, 4, l->target, -1, SQLITE_STATIC);
		int tr = sqlite3_step(take);
		if (tr == SQLITE_DONE) {
			sqlite3_reset(rq);
			sqlite3_bind_text(rq, 1, l->target, -1, SQLITE_STATIC);
			tr = sqlite3_step(rq);
		}
		if (tr != SQLITE_DONE) {
			rc = sq_err(s, tr, "lease claim");
			goto out;
		}
		cnt++;
	}
	if (sr != SQLITE_DONE) {
		rc = sq_err(s, sr, "lease claim");
		goto out;
	}
	if ((rc = run2(s, "UPDATE counters SET value = ?2 WHERE name = 'lease_token' AND ?1 IS NULL",
		       NULL, token, "lease token")) < 0 ||
	    (rc = sq_commit(s)) < 0)
		goto out;
	*out = v;
	*n = cnt;
	v = NULL;
out:
	sqlite3_finalize(pick);
	sqlite3_finalize(take);
	sqlite3_finalize(rq);
	free(v);
	if (rc < 0)
		sq_rollback(s);
	return rc < 0 ? rc : 0;
}

int sq_lease_release(struct store *s, const char *replica, const char *target)
{
	int rc;
	if ((rc = sq_begin(s)) < 0)
		return rc;
	sqlite3_stmt *st = NULL;
	static const char *const sql[] = {
		"UPDATE scan_jobs SET state = 'queued', owner = '' WHERE state = 'claimed' AND "
		"owner = ?1 AND (?2 IS NULL OR target = ?2)",
		"UPDATE leases SET owner = '', expires_at = 0 WHERE owner = ?1 AND "
		"(?2 IS NULL OR target = ?2)",
	};
	int n = 0;
	for (size_t i = 0; i < 2; i++) {
		if ((rc = sq_prepare(s, sql[i], &st)) < 0)
			goto out;
		sqlite3_bind_text(st, 1, replica, -1, SQLITE_STATIC);
		if (target)
			sqlite3_bind_text(st, 2, target, -1, SQLITE_STATIC);
		int sr = sqlite3_step(st);
		sqlite3_finalize(st);
		st = NULL;
		if (sr != SQLITE_DONE) {
			rc = sq_err(s, sr, "lease release");
			goto out;
		}
		n = sqlite3_changes(sq_db(s));
	}
	rc = sq_commit(s);
out:
	if (rc < 0)
		sq_rollback(s);
	return rc < 0 ? rc : n;
}

int sq_jobs_claim(struct store *s, const char *replica, size_t max, struct store_job **out,
		  size_t *n)
{
	int rc;
	if ((rc = sq_begin(s)) < 0)
		return rc;
	sqlite3_stmt *pick = NULL, *take = NULL;
	struct store_job *v = NULL;
	size_t cnt = 0, cap = 0;
	if ((rc = sq_prepare(s, "SELECT j.scan_id, j.target, j.checks FROM scan_jobs j "
			       "JOIN leases l ON l.target = j.target JOIN scans sc ON sc.id = j.scan_id "
			       "WHERE j.state = 'queued' AND l.owner = ?1 AND sc.status = 'running' "
			       "ORDER BY j.scan_id, j.target LIMIT ?2", &pick)) < 0 ||
	    (rc = sq_prepare(s, "UPDATE scan_jobs SET state = 'claimed', owner = ?1 "
			       "WHERE scan_id = ?2 AND target = ?3", &take)) < 0)
		goto out;
	sqlite3_bind_text(pick, 1, replica, -1, SQLITE_STATIC);
	sqlite3_bind_int64(pick, 2, (sqlite3_int64)max);
	int sr;
	while ((sr = sqlite3_step(pick)) == SQLITE_ROW) {
		if (store_grow((void **)&v, &cap, cnt, sizeof(*v)) < 0) {
			rc = store_fail(s, SEVMON_ENOMEM, "out of memory");
			goto out;
		}
		struct store_job *j = &v[cnt];
		memset(j, 0, sizeof(*j));
		j->scan_id = sqlite3_column_int64(pick, 0);
		sq_col_copy(pick, 1, j->target, sizeof(j->target));
		cnt++;
		if (sq_col_dup(pick, 2, &j->checks_json) < 0) {
			rc = store_fail(s, SEVMON_ENOMEM, "out of memory");
			goto out;
		}
		sqlite3_reset(take);
		sqlite3_bind_text(take, 1, replica, -1, SQLITE_STATIC);
		sqlite3_bind_int64(take, 2, j->scan_id);
		sqlite3_bind_text(take, 3, j->target, -1, SQLITE_STATIC);
		int tr = sqlite3_step(take);
		if (tr != SQLITE_DONE) {
			rc = sq_err(s, tr, "job claim");
			goto out;
		}
	}
	if (sr != SQLITE_DONE) {
		rc = sq_err(s, sr, "job claim");
		goto out;
	}
	if ((rc = sq_commit(s)) < 0)
		goto out;
	*out = v;
	*n = cnt;
	v = NULL;
	cnt = 0;
out:
	sqlite3_finalize(pick);
	sqlite3_finalize(take);
	store_jobs_free(v, cnt);
	if (rc < 0)
		sq_rollback(s);
	return rc < 0 ? rc : 0;
}

int sq_job_finish(struct store *s, int64_t scan_id, const char *target, bool failed)
{
	int rc;
	if ((rc = sq_begin(s)) < 0)
		return rc;
	sqlite3_stmt *st = NULL;
	int64_t now = store_now(s);
	if ((rc = sq_prepare(s, "UPDATE scan_jobs SET state = 'done', failed = ?3, finished_at = ?4 "
			       "WHERE scan_id = ?1 AND target = ?2 AND state != 'done'", &st)) < 0)
		goto out;
	sqlite3_bind_int64(st, 1, scan_id);
	sqlite3_bind_text(st, 2, target, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, failed);
	sqlite3_bind_int64(st, 4, now);
	int sr = sqlite3_step(st);
	sqlite3_finalize(st);
	st = NULL;
	if (sr != SQLITE_DONE) {
		rc = sq_err(s, sr, "job finish");
		goto out;
	}
	if (sqlite3_changes(sq_db(s)) == 0) {
		/* finished before, or never queued */
		if ((rc = sq_prepare(s, "SELECT 1 FROM scan_jobs WHERE scan_id = ?1 AND target = ?2",
				     &st)) < 0)
			goto out;
		sqlite3_bind_int64(st, 1, scan_id);
		sqlite3_bind_text(st, 2, target, -1, SQLITE_STATIC);
		sr = sqlite3_step(st);
		if (sr == SQLITE_DONE)
			rc = store_fail(s, SEVMON_ENOENT, "scan %lld has no job for '%s'",
					(long long)scan_id, target);
		else if (sr != SQLITE_ROW)
			rc = sq_err(s, sr, "job finish");
		else
			rc = sq_commit(s);
		goto out;
	}
	if ((rc = run2(s, "UPDATE targets SET last_scan_at = ?2 WHERE name = ?1", target, now,
		       "job finish")) < 0 ||
	    (rc = sq_scans_complete(s, scan_id)) < 0)
		goto out;
	int finished = rc > 0;
	if ((rc = sq_commit(s)) == 0)
		rc = finished;
out:
	sqlite3_finalize(st);
	if (rc < 0)
		sq_rollback(s);
	return rc;
}

int sq_fleet_reset(struct store *s)
{
	int rc;
	if ((rc = sq_exec(s, "UPDATE leases SET owner = '', expires_at = 0 WHERE owner != '';"
			     "UPDATE scan_jobs SET state = 'queued', owner = '' WHERE state = 'claimed';"
			     "DELETE FROM replicas")) < 0)
		return rc;
	return 0;
}
