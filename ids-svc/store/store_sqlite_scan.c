/*
 * store_sqlite_scan.c — SQLite: scans (begin, finish with retention, get, list).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "store.h"
#include "store_sqlite.h"

static enum store_scan_status status_parse(const unsigned char *t)
{
	for (int i = 0; t && i < 4; i++)
		if (strcmp((const char *)t, store_scan_status_name((enum store_scan_status)i)) == 0)
			return (enum store_scan_status)i;
	return STORE_SCAN_FAILED; /* the CHECK constraint makes this unreachable */
}

int sq_scan_begin(struct store *s, const char *const *targets, size_t ntargets,
		  const char *tj, const char *cj, enum store_jobs_mode jobs, int64_t *scan_id)
{
	sqlite3_stmt *ins = NULL, *link = NULL, *known = NULL, *job = NULL;
	int rc, sr;
	if ((rc = sq_begin(s)) < 0)
		return rc;
	if ((rc = sq_prepare(s, "INSERT INTO scans (started_at, status, targets, checks, jobs) "
				   "VALUES (?1, 'running', ?2, ?3, ?4)", &ins)) < 0 ||
	    (rc = sq_prepare(s, "INSERT OR IGNORE INTO scan_targets (target, scan_id) "
				   "VALUES (?1, ?2)", &link)) < 0 ||
	    (rc = sq_prepare(s, "INSERT OR IGNORE INTO scan_jobs (scan_id, target, checks) "
				   "VALUES (?1, ?2, ?3)", &job)) < 0 ||
	    (rc = sq_prepare(s, "SELECT 1 FROM targets WHERE name = ?1", &known)) < 0)
		goto out;
	sqlite3_bind_int64(ins, 1, store_now(s));
	sqlite3_bind_text(ins, 2, tj, -1, SQLITE_STATIC);
	sqlite3_bind_text(ins, 3, cj, -1, SQLITE_STATIC);
	sqlite3_bind_int64(ins, 4, jobs == STORE_JOBS_NONE ? 0 : (sqlite3_int64)ntargets);
	if ((sr = sqlite3_step(ins)) != SQLITE_DONE) {
		rc = sq_err(s, sr, "scan begin");
		goto out;
	}
	int64_t id = sqlite3_last_insert_rowid(sq_db(s));
	for (size_t i = 0; i < ntargets; i++) {
		sqlite3_reset(known);
		sqlite3_bind_text(known, 1, targets[i], -1, SQLITE_STATIC);
		sr = sqlite3_step(known);
		if (sr == SQLITE_DONE) {
			rc = store_fail(s, SEVMON_ENOENT, "unknown target '%s'", targets[i]);
			goto out;
		}
		if (sr != SQLITE_ROW) {
			rc = sq_err(s, sr, "scan begin");
			goto out;
		}
		sqlite3_reset(link);
		sqlite3_bind_text(link, 1, targets[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(link, 2, id);
		if ((sr = sqlite3_step(link)) != SQLITE_DONE) {
			rc = sq_err(s, sr, "scan begin");
			goto out;
		}
		if (jobs == STORE_JOBS_NONE)
			continue;
		sqlite3_reset(job);
		sqlite3_bind_int64(job, 1, id);
		sqlite3_bind_text(job, 2, targets[i], -1, SQLITE_STATIC);
		if (jobs == STORE_JOBS_CHECKS)
			sqlite3_bind_text(job, 3, cj, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(job, 3);
		if ((sr = sqlite3_step(job)) != SQLITE_DONE) {
			rc = sq_err(s, sr, "scan jobs");
			goto out;
		}
	}
	if ((rc = sq_commit(s)) == 0)
		*scan_id = id;
out:
	sqlite3_finalize(ins);
	sqlite3_finalize(link);
	sqlite3_finalize(job);
	sqlite3_finalize(known);
	if (rc < 0)
		sq_rollback(s);
	return rc;
}

int sq_scan_finish(struct store *s, int64_t scan_id, enum store_scan_status status)
{
	int rc;
	if ((rc = sq_begin(s)) < 0)
		return rc;
	sqlite3_stmt *st = NULL;
	if ((rc = sq_prepare(s, "UPDATE scans SET status = ?2, finished_at = ?3 "
				   "WHERE id = ?1 AND status = 'running'", &st)) < 0)
		goto out;
	sqlite3_bind_int64(st, 1, scan_id);
	sqlite3_bind_text(st, 2, store_scan_status_name(status), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, store_now(s));
	int sr = sqlite3_step(st);
	if (sr != SQLITE_DONE) {
		rc = sq_err(s, sr, "scan finish");
		goto out;
	}
	if (sqlite3_changes(sq_db(s)) == 0) {
		struct store_scan sc;
		rc = sq_scan_get(s, scan_id, &sc);
		if (rc == 0)
			rc = store_fail(s, SEVMON_EINVAL, "scan %lld is %s, not running",
					(long long)scan_id, store_scan_status_name(sc.status));
		store_scan_clear(&sc);
		goto out;
	}
	/* Retention in the same transaction: a crash leaves both or neither. */
	if ((rc = sq_retention_apply(s)) < 0)
		goto out;
	rc = sq_commit(s);
out:
	sqlite3_finalize(st);
	if (rc < 0)
		sq_rollback(s);
	return rc;
}

int sq_scans_complete(struct store *s, int64_t scan_id)
{
	sqlite3_stmt *st = NULL;
	int rc = sq_prepare(s, "UPDATE scans SET finished_at = ?2, status = CASE WHEN EXISTS ("
			      "SELECT 1 FROM scan_jobs j WHERE j.scan_id = scans.id AND "
			      "j.failed = 0) THEN 'done' ELSE 'failed' END WHERE status = 'running' "
			      "AND jobs > 0 AND (?1 = 0 OR id = ?1) AND NOT EXISTS (SELECT 1 FROM "
			      "scan_jobs j WHERE j.scan_id = scans.id AND j.state != 'done')", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, scan_id);
	sqlite3_bind_int64(st, 2, store_now(s));
	int sr = sqlite3_step(st);
	sqlite3_finalize(st);
	if (sr != SQLITE_DONE)
		return sq_err(s, sr, "scan complete");
	int n = sqlite3_changes(sq_db(s));
	if (n > 0 && (rc = sq_retention_apply(s)) < 0)
		return rc;
	return n;
}

/* ---- read side ---- */

#define SCAN_COLS                                                                          \
	"id, started_at, finished_at, status, targets, checks, "                           \
	"(SELECT count(*) FROM results WHERE scan_id = scans.id), "                        \
	"(SELECT count(*) FROM findings WHERE scan_id = scans.id), jobs, "                 \
	"(SELECT count(*) FROM scan_jobs WHERE scan_id = scans.id AND state = 'done'), "   \
	"(SELECT count(*) FROM scan_jobs WHERE scan_id = scans.id AND state = 'done' "     \
	"AND failed)"

static int scan_row(sqlite3_stmt *st, struct store_scan *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->id = sqlite3_column_int64(st, 0);
	sc->started_at = sqlite3_column_int64(st, 1);
	sc->finished_at = sqlite3_column_int64(st, 2);
	sc->status = status_parse(sqlite3_column_text(st, 3));
	sc->nresults = (uint64_t)sqlite3_column_int64(st, 6);
	sc->nfindings = (uint64_t)sqlite3_column_int64(st, 7);
	sc->jobs = (uint64_t)sqlite3_column_int64(st, 8);
	sc->jobs_done = (uint64_t)sqlite3_column_int64(st, 9);
	sc->jobs_failed = (uint64_t)sqlite3_column_int64(st, 10);
	if (sq_col_dup(st, 4, &sc->targets_json) < 0 || sq_col_dup(st, 5, &sc->checks_json) < 0) {
		store_scan_clear(sc);
		return SEVMON_ENOMEM;
	}
	return 0;
}

int sq_scan_get(struct store *s, int64_t scan_id, struct store_scan *out)
{
	memset(out, 0, sizeof(*out));
	sqlite3_stmt *st = NULL;
	int rc = sq_prepare(s, "SELECT " SCAN_COLS " FROM scans WHERE id = ?1", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, scan_id);
	int sr = sqlite3_step(st);
	if (sr == SQLITE_ROW)
		rc = scan_row(st, out) < 0 ? store_fail(s, SEVMON_ENOMEM, "out of memory") : 0;
	else if (sr == SQLITE_DONE)
		rc = store_fail(s, SEVMON_ENOENT, "unknown scan %lld", (long long)scan_id);
	else
		rc = sq_err(s, sr, "scan get");
	sqlite3_finalize(st);
	return rc;
}

int sq_scans_list(struct store *s, const char *target, size_t offset, size_t limit,
		  struct store_scan **out, size_t *n)
{
	int rc;
	sqlite3_stmt *st = NULL;
	rc = sq_prepare(s, target ? "SELECT " SCAN_COLS " FROM scans WHERE id IN "
				       "(SELECT scan_id FROM scan_targets WHERE target = ?1) "
				       "ORDER BY id DESC LIMIT ?2 OFFSET ?3"
				     : "SELECT " SCAN_COLS " FROM scans ORDER BY id DESC "
				       "LIMIT ?2 OFFSET ?3", &st);
	if (rc < 0)
		return rc;
	if (target)
		sqlite3_bind_text(st, 1, target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
	sqlite3_bind_int64(st, 3, offset > INT64_MAX ? INT64_MAX : (sqlite3_int64)offset);
	struct store_scan *v = NULL;
	size_t cnt = 0, cap = 0;
	int sr;
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		if (store_grow((void **)&v, &cap, cnt, sizeof(*v)) < 0 || scan_row(st, &v[cnt]) < 0) {
			rc = store_fail(s, SEVMON_ENOMEM, "out of memory");
			goto out;
		}
		cnt++;
	}
	if (sr != SQLITE_DONE) {
		rc = sq_err(s, sr, "scan list");
		goto out;
	}
	*out = v;
	*n = cnt;
	v = NULL;
out:
	sqlite3_finalize(st);
	store_scans_free(v, cnt);
	return rc;
}
