/*
 * store_sqlite_finding.c — SQLite: the findings table (insert from diffs, from checks and
 * directly; list with filters).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "store.h"
#include "store_sqlite.h"

static int insert_one(struct store *s, sqlite3_stmt *st, int64_t scan_id, const char *target,
		      const char *check, const char *technique, enum store_severity sev,
		      const char *kind, const char *subject, const char *detail, int64_t *id)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (scan_id > 0)
		sqlite3_bind_int64(st, 1, scan_id);
	sqlite3_bind_text(st, 2, target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, store_now(s));
	sqlite3_bind_int(st, 4, (int)sev);
	sqlite3_bind_text(st, 5, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, subject, -1, SQLITE_STATIC);
	if (detail)
		sqlite3_bind_text(st, 7, detail, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, check ? check : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, technique ? technique : "", -1, SQLITE_STATIC);
	int sr = sqlite3_step(st);
	if (sr != SQLITE_DONE)
		return sq_err(s, sr, "finding add");
	if (id)
		*id = sqlite3_last_insert_rowid(sq_db(s));
	return 0;
}

#define FINDING_INSERT                                                                  \
	"INSERT INTO findings (scan_id, target, at, severity, kind, subject, detail, "  \
	"check_name, technique) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"

int sq_findings_insert(struct store *s, int64_t scan_id, const char *target, const char *check,
			  const struct store_diff *d)
{
	if (d->n == 0)
		return 0;
	sqlite3_stmt *st = NULL;
	int rc = sq_prepare(s, FINDING_INSERT, &st);
	for (size_t i = 0; rc == 0 && i < d->n; i++)
		rc = insert_one(s, st, scan_id, target, check, NULL, d->v[i].severity, d->v[i].kind,
				d->v[i].subject, d->v[i].detail_json, NULL);
	sqlite3_finalize(st);
	return rc;
}

int sq_findings_insert_in(struct store *s, int64_t scan_id, const char *target, const char *check,
			  const struct store_finding_in *v, size_t n)
{
	if (n == 0)
		return 0;
	sqlite3_stmt *st = NULL;
	int rc = sq_prepare(s, FINDING_INSERT, &st);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = insert_one(s, st, scan_id, target, check, v[i].technique, v[i].severity,
				v[i].kind, v[i].subject, v[i].detail_json, NULL);
	sqlite3_finalize(st);
	return rc;
}

int64_t sq_finding_add(struct store *s, int64_t scan_id, const char *target,
		       enum store_severity sev, const char *kind, const char *subject,
		       const char *detail_json)
{
	int rc;
	if ((rc = sq_begin(s)) < 0)
		return rc;
	sqlite3_stmt *st = NULL;
	int64_t id = 0;
	rc = sq_prepare(s, "SELECT EXISTS (SELECT 1 FROM targets WHERE name = ?1), "
			      "?2 = 0 OR EXISTS (SELECT 1 FROM scans WHERE id = ?2)", &st);
	if (rc < 0)
		goto out;
	sqlite3_bind_text(st, 1, target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, scan_id);
	int sr = sqlite3_step(st);
	if (sr != SQLITE_ROW)
		rc = sq_err(s, sr, "finding add");
	else if (!sqlite3_column_int(st, 0))
		rc = store_fail(s, SEVMON_ENOENT, "unknown target '%s'", target);
	else if (!sqlite3_column_int(st, 1))
		rc = store_fail(s, SEVMON_ENOENT, "unknown scan %lld", (long long)scan_id);
	sqlite3_finalize(st);
	st = NULL;
	if (rc < 0 || (rc = sq_prepare(s, FINDING_INSERT, &st)) < 0 ||
	    (rc = insert_one(s, st, scan_id, target, NULL, NULL, sev, kind, subject, detail_json,
			     &id)) < 0)
		goto out;
	rc = sq_commit(s);
out:
	sqlite3_finalize(st);
	if (rc < 0) {
		sq_rollback(s);
		return rc;
	}
	return id;
}

int sq_findings_list(struct store *s, const struct store_finding_filter *f,
		     struct store_finding **out, size_t *n)
{
	int rc;
	/* Only the filters given go into the query, so SQLite can pick the index that fits
	 * (an "?1 IS NULL OR target = ?1" form would make it scan the table). */
	char sql[640];
	snprintf(sql, sizeof(sql),
		 "SELECT id, coalesce(scan_id, 0), target, at, severity, kind, subject, detail, "
		 "check_name, technique FROM findings WHERE 1%s%s%s%s%s%s ORDER BY id DESC "
		 "LIMIT ?5 OFFSET ?6",
		 f->target ? " AND target = ?1" : "", f->scan_id ? " AND scan_id = ?2" : "",
		 f->since ? " AND at >= ?3" : "", f->min_severity ? " AND severity >= ?4" : "",
		 f->check ? " AND check_name = ?7" : "", f->technique ? " AND technique = ?8" : "");
	sqlite3_stmt *st = NULL;
	if ((rc = sq_prepare(s, sql, &st)) < 0)
		return rc;
	if (f->target)
		sqlite3_bind_text(st, 1, f->target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, f->scan_id);
	sqlite3_bind_int64(st, 3, f->since);
	sqlite3_bind_int(st, 4, (int)f->min_severity);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)f->limit);
	sqlite3_bind_int64(st, 6, f->offset > INT64_MAX ? INT64_MAX : (sqlite3_int64)f->offset);
	if (f->check)
		sqlite3_bind_text(st, 7, f->check, -1, SQLITE_STATIC);
	if (f->technique)
		sqlite3_bind_text(st, 8, f->technique, -1, SQLITE_STATIC);
	struct store_finding *v = NULL;
	size_t cnt = 0, cap = 0;
	int sr;
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		if (store_grow((void **)&v, &cap, cnt, sizeof(*v)) < 0) {
			rc = store_fail(s, SEVMON_ENOMEM, "out of memory");
			goto out;
		}
		struct store_finding *x = &v[cnt];
		memset(x, 0, sizeof(*x));
		x->id = sqlite3_column_int64(st, 0);
		x->scan_id = sqlite3_column_int64(st, 1);
		sq_col_copy(st, 2, x->target, sizeof(x->target));
		x->at = sqlite3_column_int64(st, 3);
		x->severity = (enum store_severity)sqlite3_column_int(st, 4);
		sq_col_copy(st, 5, x->kind, sizeof(x->kind));
		sq_col_copy(st, 6, x->subject, sizeof(x->subject));
		sq_col_copy(st, 8, x->check, sizeof(x->check));
		sq_col_copy(st, 9, x->technique, sizeof(x->technique));
		if (sq_col_dup(st, 7, &x->detail_json) < 0) {
			rc = store_fail(s, SEVMON_ENOMEM, "out of memory");
			goto out;
		}
		cnt++;
	}
	if (sr != SQLITE_DONE) {
		rc = sq_err(s, sr, "finding list");
		goto out;
	}
	*out = v;
	*n = cnt;
	v = NULL;
out:
	sqlite3_finalize(st);
	store_findings_free(v, cnt);
	return rc;
}
