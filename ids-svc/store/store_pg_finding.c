/*
 * store_pg_finding.c — PostgreSQL: the findings table (insert from diffs, from checks and
 * directly; list with filters). A result's findings go in one statement, as arrays.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "store.h"
#include "store_pg.h"

/* A growing text buffer for an array literal. */
struct abuf {
	char *p;
	size_t len, cap;
	int oom;
};

static void ab_put(struct abuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 256;
		while (nc < b->len + n + 1)
			nc *= 2;
		char *np = realloc(b->p, nc);
		if (!np) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

/* One element of a text[] literal: quoted, with " and \ escaped; NULL unquoted. */
static void ab_elem(struct abuf *b, const char *v, int first)
{
	if (!first)
		ab_put(b, ",", 1);
	if (!v) {
		ab_put(b, "NULL", 4);
		return;
	}
	ab_put(b, "\"", 1);
	for (const char *c = v; *c; c++) {
		if (*c == '"' || *c == '\\')
			ab_put(b, "\\", 1);
		ab_put(b, c, 1);
	}
	ab_put(b, "\"", 1);
}

/* The findings (severity, kind, subject, technique, detail) of one result, as arrays. */
struct farrays {
	struct abuf sev, kind, subj, tech, det;
};

static void fa_add(struct farrays *a, int first, enum store_severity sev, const char *kind,
		   const char *subject, const char *technique, const char *detail)
{
	char num[16];
	snprintf(num, sizeof num, "%s%d", first ? "" : ",", (int)sev);
	ab_put(&a->sev, num, strlen(num));
	ab_elem(&a->kind, kind, first);
	ab_elem(&a->subj, subject, first);
	ab_elem(&a->tech, technique ? technique : "", first);
	ab_elem(&a->det, detail, first);
}

static int fa_insert(struct store *s, struct farrays *a, int64_t scan_id, const char *target,
		     const char *check)
{
	struct abuf *all[] = { &a->sev, &a->kind, &a->subj, &a->tech, &a->det };
	int oom = 0;
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		ab_put(all[i], "}", 1);
		oom |= all[i]->oom;
	}
	int rc;
	if (oom) {
		rc = store_fail(s, SEVMON_ENOMEM, "out of memory");
	} else {
		struct pg_params p = { 0 };
		pp_int(&p, scan_id);
		pp_text(&p, target);
		pp_int(&p, store_now(s));
		pp_text(&p, a->sev.p);
		pp_text(&p, a->kind.p);
		pp_text(&p, a->subj.p);
		pp_text(&p, a->det.p);
		pp_text(&p, check ? check : "");
		pp_text(&p, a->tech.p);
		rc = pg_run(s, "INSERT INTO findings (scan_id, target, at, severity, kind, subject, "
			       "detail, check_name, technique) SELECT nullif($1::bigint, 0), $2, $3, "
			       "u.sev, u.kind, u.subj, u.det, $8, u.tech FROM unnest($4::int[], "
			       "$5::text[], $6::text[], $7::text[], $9::text[]) AS "
			       "u(sev, kind, subj, det, tech)",
			    &p, 0, NULL, "finding add");
	}
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		free(all[i]->p);
	return rc;
}

static void fa_open(struct farrays *a)
{
	memset(a, 0, sizeof *a);
	ab_put(&a->sev, "{", 1);
	ab_put(&a->kind, "{", 1);
	ab_put(&a->subj, "{", 1);
	ab_put(&a->tech, "{", 1);
	ab_put(&a->det, "{", 1);
}

int pg_findings_insert(struct store *s, int64_t scan_id, const char *target, const char *check,
		       const struct store_diff *d)
{
	if (d->n == 0)
		return 0;
	struct farrays a;
	fa_open(&a);
	for (size_t i = 0; i < d->n; i++)
		fa_add(&a, i == 0, d->v[i].severity, d->v[i].kind, d->v[i].subject, NULL,
		       d->v[i].detail_json);
	return fa_insert(s, &a, scan_id, target, check);
}

int pg_findings_insert_in(struct store *s, int64_t scan_id, const char *target, const char *check,
			  const struct store_finding_in *v, size_t n)
{
	if (n == 0)
		return 0;
	struct farrays a;
	fa_open(&a);
	for (size_t i = 0; i < n; i++)
		fa_add(&a, i == 0, v[i].severity, v[i].kind, v[i].subject, v[i].technique,
		       v[i].detail_json);
	return fa_insert(s, &a, scan_id, target, check);
}

int64_t pg_finding_add(struct store *s, int64_t scan_id, const char *target,
		       enum store_severity sev, const char *kind, const char *subject,
		       const char *detail_json)
{
	struct pg_params p = { 0 };
	pp_text(&p, target);
	pp_int(&p, scan_id);
	PGresult *r = NULL;
	int rc = pg_run(s, "SELECT EXISTS (SELECT 1 FROM targets WHERE name = $1), $2::bigint = 0 "
			   "OR EXISTS (SELECT 1 FROM scans WHERE id = $2::bigint)",
			&p, 0, &r, "finding add");
	if (rc < 0)
		return rc;
	int known_target = pg_col_bool(r, 0, 0), known_scan = pg_col_bool(r, 0, 1);
	PQclear(r);
	r = NULL;
	if (!known_target)
		return store_fail(s, SEVMON_ENOENT, "unknown target '%s'", target);
	if (!known_scan)
		return store_fail(s, SEVMON_ENOENT, "unknown scan %lld", (long long)scan_id);
	pp_int(&p, store_now(s));
	pp_int(&p, (int64_t)sev);
	pp_text(&p, kind);
	pp_text(&p, subject);
	pp_text(&p, detail_json);
	/* one statement: a target removed meanwhile fails its foreign key (EINVAL) */
	rc = pg_run(s, "INSERT INTO findings (scan_id, target, at, severity, kind, subject, detail) "
		       "VALUES (nullif($2::bigint, 0), $1, $3, $4, $5, $6, $7) RETURNING id",
		    &p, 0, &r, "finding add");
	if (rc < 0)
		return rc;
	int64_t id = pg_col_int(r, 0, 0);
	PQclear(r);
	return id;
}

int pg_findings_list(struct store *s, const struct store_finding_filter *f,
		     struct store_finding **out, size_t *n)
{
	/* only the filters given go into the query, so the planner picks the index that fits */
	char sql[640];
	struct pg_params p = { 0 };
	pp_int(&p, (int64_t)f->limit);
	pp_int(&p, f->offset > INT64_MAX ? INT64_MAX : (int64_t)f->offset);
	char where[256] = "";
	size_t w = 0;
	if (f->target) {
		pp_text(&p, f->target);
		w += (size_t)snprintf(where + w, sizeof where - w, " AND target = $%d", p.n);
	}
	if (f->scan_id) {
		pp_int(&p, f->scan_id);
		w += (size_t)snprintf(where + w, sizeof where - w, " AND scan_id = $%d", p.n);
	}
	if (f->since) {
		pp_int(&p, f->since);
		w += (size_t)snprintf(where + w, sizeof where - w, " AND at >= $%d", p.n);
	}
	if (f->min_severity) {
		pp_int(&p, (int64_t)f->min_severity);
		w += (size_t)snprintf(where + w, sizeof where - w, " AND severity >= $%d", p.n);
	}
	if (f->check) {
		pp_text(&p, f->check);
		w += (size_t)snprintf(where + w, sizeof where - w, " AND check_name = $%d", p.n);
	}
	if (f->technique) {
		pp_text(&p, f->technique);
		w += (size_t)snprintf(where + w, sizeof where - w, " AND technique = $%d", p.n);
	}
	snprintf(sql, sizeof sql,
		 "SELECT id, coalesce(scan_id, 0), target, at, severity, kind, subject, detail, "
		 "check_name, technique FROM findings WHERE true%s ORDER BY id DESC LIMIT $1 "
		 "OFFSET $2", where);
	PGresult *r = NULL;
	int rc = pg_run(s, sql, &p, 0, &r, "finding list");
	if (rc < 0)
		return rc;
	int rows = PQntuples(r);
	struct store_finding *v = rows ? calloc((size_t)rows, sizeof *v) : NULL;
	if (rows && !v)
		rc = store_fail(s, SEVMON_ENOMEM, "out of memory");
	for (int i = 0; rc == 0 && i < rows; i++) {
		struct store_finding *x = &v[i];
		x->id = pg_col_int(r, i, 0);
		x->scan_id = pg_col_int(r, i, 1);
		pg_col_copy(r, i, 2, x->target, sizeof(x->target));
		x->at = pg_col_int(r, i, 3);
		x->severity = (enum store_severity)pg_col_int(r, i, 4);
		pg_col_copy(r, i, 5, x->kind, sizeof(x->kind));
		pg_col_copy(r, i, 6, x->subject, sizeof(x->subject));
		pg_col_copy(r, i, 8, x->check, sizeof(x->check));
		pg_col_copy(r, i, 9, x->technique, sizeof(x->technique));
		if (pg_col_dup(r, i, 7, &x->detail_json) < 0) {
			store_findings_free(v, (size_t)i + 1);
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
