/*
 * store_pg_scan.c — PostgreSQL: scans (begin with their jobs, finish with retention, get,
 * list). A scan's targets go to the server as one array, so a scan of thousands of
 * targets is a few statements, not thousands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "store.h"
#include "store_pg.h"

static enum store_scan_status status_parse(const char *t)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(t, store_scan_status_name((enum store_scan_status)i)) == 0)
			return (enum store_scan_status)i;
	return STORE_SCAN_FAILED; /* the CHECK constraint makes this unreachable */
}

/* {a,b,c}: the front checked every name ([A-Za-z0-9._-]), so none needs quoting. */
static char *text_array(const char *const *v, size_t n)
{
	size_t len = 3;
	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	char *a = malloc(len), *w = a;
	if (!a)
		return NULL;
	*w++ = '{';
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(v[i]);
		if (i)
			*w++ = ',';
		memcpy(w, v[i], l);
		w += l;
	}
	*w++ = '}';
	*w = 0;
	return a;
}

int pg_scan_begin(struct store *s, const char *const *targets, size_t ntargets, const char *tj,
		  const char *cj, enum store_jobs_mode jobs, int64_t *scan_id)
{
	char *arr = text_array(targets, ntargets);
	if (!arr)
		return store_fail(s, SEVMON_ENOMEM, "out of memory");
	PGresult *r = NULL;
	int rc;
	if ((rc = pg_begin(s)) < 0)
		goto out;
	struct pg_params p = { 0 };
	pp_text(&p, arr);
	if ((rc = pg_run(s, "SELECT x FROM unnest($1::text[]) x WHERE NOT EXISTS (SELECT 1 FROM "
			    "targets WHERE name = x) LIMIT 1", &p, 0, &r, "scan begin")) < 0)
		goto out;
	if (PQntuples(r) > 0) {
		rc = store_fail(s, SEVMON_ENOENT, "unknown target '%s'", PQgetvalue(r, 0, 0));
		goto out;
	}
	PQclear(r);
	r = NULL;
	pp_int(&p, store_now(s));
	pp_text(&p, tj);
	pp_text(&p, cj);
	pp_int(&p, jobs == STORE_JOBS_NONE ? 0 : (int64_t)ntargets);
	pp_text(&p, jobs == STORE_JOBS_CHECKS ? cj : NULL);
	if ((rc = pg_run(s, "WITH sc AS (INSERT INTO scans (started_at, status, targets, checks, "
			    "jobs) VALUES ($2, 'running', $3, $4, $5) RETURNING id), "
			    "st AS (INSERT INTO scan_targets (target, scan_id) SELECT DISTINCT x, "
			    "sc.id FROM unnest($1::text[]) x, sc ON CONFLICT DO NOTHING), "
			    "j AS (INSERT INTO scan_jobs (scan_id, target, checks) SELECT DISTINCT "
			    "sc.id, x, $6::text FROM unnest($1::text[]) x, sc WHERE $5::bigint > 0 "
			    "ON CONFLICT DO NOTHING) SELECT id FROM sc",
			 &p, 0, &r, "scan begin")) < 0)
		goto out;
	int64_t id = pg_col_int(r, 0, 0);
	if (jobs != STORE_JOBS_NONE &&
	    (rc = pg_run(s, "SELECT pg_notify('sevmon_jobs', '')", NULL, 0, NULL, "notify")) < 0)
		goto out;
	if ((rc = pg_commit(s)) == 0)
		*scan_id = id;
out:
	PQclear(r);
	free(arr);
	if (rc < 0)
		pg_rollback(s);
	return rc;
}

int pg_scans_complete(struct store *s, int64_t scan_id)
{
	struct pg_params p = { 0 };
	pp_int(&p, scan_id);
	pp_int(&p, store_now(s));
	PGresult *r = NULL;
	int rc = pg_run(s, "UPDATE scans SET finished_at = $2, status = CASE WHEN EXISTS ("
			   "SELECT 1 FROM scan_jobs j WHERE j.scan_id = scans.id AND NOT j.failed) "
			   "THEN 'done' ELSE 'failed' END WHERE status = 'running' AND jobs > 0 AND "
			   "($1::bigint = 0 OR id = $1::bigint) AND NOT EXISTS (SELECT 1 FROM "
			   "scan_jobs j WHERE j.scan_id = scans.id AND j.state != 'done')",
			&p, 0, &r, "scan complete");
	if (rc < 0)
		return rc;
	int64_t n = pg_changes(r);
	PQclear(r);
	if (n > 0 && (rc = pg_retention_apply(s)) < 0)
		return rc;
	return (int)(n > 0x7fffffff ? 0x7fffffff : n);
}

int pg_scan_finish(struct store *s, int64_t scan_id, enum store_scan_status status)
{
	int rc;
	if ((rc = pg_begin(s)) < 0)
		return rc;
	struct pg_params p = { 0 };
	pp_int(&p, scan_id);
	pp_text(&p, store_scan_status_name(status));
	pp_int(&p, store_now(s));
	PGresult *r = NULL;
	if ((rc = pg_run(s, "UPDATE scans SET status = $2, finished_at = $3 WHERE id = $1 AND "
			    "status = 'running'", &p, 0, &r, "scan finish")) < 0)
		goto out;
	if (pg_changes(r) == 0) {
		struct store_scan sc;
		rc = pg_scan_get(s, scan_id, &sc);
		if (rc == 0)
			rc = store_fail(s, SEVMON_EINVAL, "scan %lld is %s, not running",
					(long long)scan_id, store_scan_status_name(sc.status));
		store_scan_clear(&sc);
		goto out;
	}
	/* retention in the same transaction: a crash leaves both or neither */
	if ((rc = pg_retention_apply(s)) < 0)
		goto out;
	rc = pg_commit(s);
out:
	PQclear(r);
	if (rc < 0)
		pg_rollback(s);
	return rc < 0 ? rc : 0;
}

/* ---- read side ---- */

#define SCAN_COLS                                                                          \
	"id, started_at, finished_at, status, targets, checks, "                           \
	"(SELECT count(*) FROM results WHERE scan_id = scans.id), "                        \
	"(SELECT count(*) FROM findings WHERE scan_id = scans.id), jobs, "                 \
	"(SELECT count(*) FROM scan_jobs WHERE scan_id = scans.id AND state = 'done'), "   \
	"(SELECT count(*) FROM scan_jobs WHERE scan_id = scans.id AND state = 'done' "     \
	"AND failed)"

static int scan_row(PGresult *r, int i, struct store_scan *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->id = pg_col_int(r, i, 0);
	sc->started_at = pg_col_int(r, i, 1);
	sc->finished_at = pg_col_int(r, i, 2);
	sc->status = status_parse(PQgetvalue(r, i, 3));
	sc->nresults = (uint64_t)pg_col_int(r, i, 6);
	sc->nfindings = (uint64_t)pg_col_int(r, i, 7);
	sc->jobs = (uint64_t)pg_col_int(r, i, 8);
	sc->jobs_done = (uint64_t)pg_col_int(r, i, 9);
	sc->jobs_failed = (uint64_t)pg_col_int(r, i, 10);
	if (pg_col_dup(r, i, 4, &sc->targets_json) < 0 || pg_col_dup(r, i, 5, &sc->checks_json) < 0) {
		store_scan_clear(sc);
		return SEVMON_ENOMEM;
	}
	return 0;
}

int pg_scan_get(struct store *s, int64_t scan_id, struct store_scan *out)
{
	memset(out, 0, sizeof(*out));
	struct pg_params p = { 0 };
	pp_int(&p, scan_id);
	PGresult *r = NULL;
	int rc = pg_run(s, "SELECT " SCAN_COLS " FROM scans WHERE id = $1", &p, 0, &r, "scan get");
	if (rc < 0)
		return rc;
	if (PQntuples(r) == 1)
		rc = scan_row(r, 0, out) < 0 ? store_fail(s, SEVMON_ENOMEM, "out of memory") : 0;
	else
		rc = store_fail(s, SEVMON_ENOENT, "unknown scan %lld", (long long)scan_id);
	PQclear(r);
	return rc;
}

int pg_scans_list(struct store *s, const char *target, size_t offset, size_t limit,
		  struct store_scan **out, size_t *n)
{
	struct pg_params p = { 0 };
	pp_int(&p, (int64_t)limit);
	pp_int(&p, offset > INT64_MAX ? INT64_MAX : (int64_t)offset);
	if (target)
		pp_text(&p, target);
	PGresult *r = NULL;
	int rc = pg_run(s, target ? "SELECT " SCAN_COLS " FROM scans WHERE id IN (SELECT scan_id "
				    "FROM scan_targets WHERE target = $3) ORDER BY id DESC "
				    "LIMIT $1 OFFSET $2"
				  : "SELECT " SCAN_COLS " FROM scans ORDER BY id DESC LIMIT $1 OFFSET $2",
			&p, 0, &r, "scan list");
	if (rc < 0)
		return rc;
	int rows = PQntuples(r);
	struct store_scan *v = rows ? calloc((size_t)rows, sizeof *v) : NULL;
	if (rows && !v)
		rc = store_fail(s, SEVMON_ENOMEM, "out of memory");
	for (int i = 0; rc == 0 && i < rows; i++)
		if (scan_row(r, i, &v[i]) < 0) {
			store_scans_free(v, (size_t)i);
			v = NULL;
			rc = store_fail(s, SEVMON_ENOMEM, "out of memory");
		}
	PQclear(r);
	if (rc == 0) {
		*out = v;
		*n = (size_t)rows;
	}
	return rc;
}
