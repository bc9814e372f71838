/*
 * store_pg_target.c — PostgreSQL: the targets table (upsert, remove, get, list, state).
 * A target's lease row is made with it and goes with it (ON DELETE CASCADE); a change
 * or a removal is announced to the other replicas (NOTIFY sevmon_fleet).
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "store.h"
#include "store_pg.h"

/* NOW: the parameter holding the lease clock (pp_now), "$N" */
#define TARGET_COLS(NOW)                                                                \
	"t.name, t.uri, t.pinned_key, t.policy, t.added_at, t.state, t.state_detail, "     \
	"t.attestation, t.last_seen, t.version, t.last_scan_at, coalesce(l.owner, ''), "   \
	"coalesce(l.expires_at, 0) - coalesce(" NOW "::bigint, sevmon_now_ms())"
#define TARGET_FROM " FROM targets t LEFT JOIN leases l ON l.target = t.name"

static int target_row(PGresult *r, int i, struct store_target *t)
{
	memset(t, 0, sizeof(*t));
	pg_col_copy(r, i, 0, t->name, sizeof(t->name));
	pg_col_copy(r, i, 1, t->uri, sizeof(t->uri));
	pg_col_copy(r, i, 2, t->pinned_key, sizeof(t->pinned_key));
	t->added_at = pg_col_int(r, i, 4);
	pg_col_copy(r, i, 5, t->state, sizeof(t->state));
	pg_col_copy(r, i, 6, t->state_detail, sizeof(t->state_detail));
	t->last_seen = pg_col_int(r, i, 8);
	t->version = pg_col_int(r, i, 9);
	t->last_scan_at = pg_col_int(r, i, 10);
	pg_col_copy(r, i, 11, t->owner, sizeof(t->owner));
	t->lease_left_ms = t->owner[0] ? pg_col_int(r, i, 12) : 0;
	if (pg_col_dup(r, i, 3, &t->policy_json) < 0 || pg_col_dup(r, i, 7, &t->attestation_json) < 0) {
		store_target_clear(t);
		return SEVMON_ENOMEM;
	}
	return 0;
}

int pg_target_upsert(struct store *s, const char *name, const char *uri, const char *pinned_key,
		     const char *policy_json)
{
	struct pg_params p = { 0 };
	pp_text(&p, name);
	pp_text(&p, uri);
	pp_text(&p, pinned_key ? pinned_key : "");
	pp_text(&p, policy_json);
	pp_int(&p, store_now(s));
	PGresult *r = NULL;
	int rc, created = 0;
	if ((rc = pg_begin(s)) < 0)
		return rc;
	/* a change bumps the version (the lease holder applies it); no change, no row */
	if ((rc = pg_run(s, "INSERT INTO targets (name, uri, pinned_key, policy, added_at) "
			    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO UPDATE SET "
			    "uri = excluded.uri, pinned_key = excluded.pinned_key, "
			    "policy = excluded.policy, version = targets.version + 1 WHERE "
			    "targets.uri IS DISTINCT FROM excluded.uri OR targets.pinned_key IS "
			    "DISTINCT FROM excluded.pinned_key OR targets.policy IS DISTINCT FROM "
			    "excluded.policy RETURNING xmax = 0",
			 &p, 0, &r, "target upsert")) < 0)
		goto out;
	int changed = PQntuples(r) == 1;
	created = changed && pg_col_bool(r, 0, 0);
	PQclear(r);
	r = NULL;
	struct pg_params q = { 0 };
	pp_text(&q, name);
	if ((rc = pg_run(s, "INSERT INTO leases (target) VALUES ($1) ON CONFLICT DO NOTHING", &q, 0,
			 NULL, "target lease")) < 0 ||
	    (changed && (rc = pg_run(s, "SELECT pg_notify('sevmon_fleet', '')", NULL, 0, NULL,
				     "notify")) < 0))
		goto out;
	rc = pg_commit(s);
out:
	PQclear(r);
	if (rc < 0) {
		pg_rollback(s);
		return rc;
	}
	return created;
}

int pg_target_remove(struct store *s, const char *name)
{
	struct pg_params p = { 0 };
	pp_text(&p, name);
	PGresult *r = NULL;
	int rc;
	if ((rc = pg_begin(s)) < 0)
		return rc;
	/* the running scans with a job of it, locked as job_finish locks them, so that the
	 * check for "all jobs done" below and theirs cannot both miss the last one */
	if ((rc = pg_run(s, "SELECT id FROM scans WHERE status = 'running' AND id IN (SELECT "
			    "scan_id FROM scan_jobs WHERE target = $1) ORDER BY id FOR UPDATE",
			 &p, 0, NULL, "target remove")) < 0 ||
	    (rc = pg_run(s, "DELETE FROM targets WHERE name = $1", &p, 0, &r, "target remove")) < 0)
		goto out;
	if (pg_changes(r) == 0) {
		rc = store_fail(s, SEVMON_ENOENT, "unknown target '%s'", name);
		goto out;
	}
	if ((rc = pg_scans_complete(s, 0)) < 0 ||
	    (rc = pg_run(s, "SELECT pg_notify('sevmon_fleet', '')", NULL, 0, NULL, "notify")) < 0)
		goto out;
	rc = pg_commit(s);
out:
	PQclear(r);
	if (rc < 0)
		pg_rollback(s);
	return rc < 0 ? rc : 0;
}

int pg_target_get(struct store *s, const char *name, struct store_target *out)
{
	struct pg_params p = { 0 };
	pp_text(&p, name);
	pp_now(&p, s);
	PGresult *r = NULL;
	int rc = pg_run(s, "SELECT " TARGET_COLS("$2") TARGET_FROM " WHERE t.name = $1", &p, 0, &r,
			"target get");
	if (rc < 0)
		return rc;
	if (PQntuples(r) == 1)
		rc = target_row(r, 0, out) < 0 ? store_fail(s, SEVMON_ENOMEM, "out of memory") : 0;
	else
		rc = store_fail(s, SEVMON_ENOENT, "unknown target '%s'", name);
	PQclear(r);
	return rc;
}

int pg_target_list(struct store *s, size_t offset, size_t limit, struct store_target **out,
		   size_t *n)
{
	struct pg_params p = { 0 };
	pp_int(&p, (int64_t)limit);
	pp_int(&p, offset > INT64_MAX ? INT64_MAX : (int64_t)offset);
	pp_now(&p, s);
	PGresult *r = NULL;
	int rc = pg_run(s, "SELECT " TARGET_COLS("$3") TARGET_FROM " ORDER BY t.name LIMIT $1 OFFSET $2",
			&p, 0, &r, "target list");
	if (rc < 0)
		return rc;
	int rows = PQntuples(r);
	struct store_target *v = rows ? calloc((size_t)rows, sizeof *v) : NULL;
	if (rows && !v) {
		PQclear(r);
		return store_fail(s, SEVMON_ENOMEM, "out of memory");
	}
	for (int i = 0; i < rows; i++)
		if (target_row(r, i, &v[i]) < 0) {
			PQclear(r);
			store_targets_free(v, (size_t)i);
			return store_fail(s, SEVMON_ENOMEM, "out of memory");
		}
	PQclear(r);
	*out = v;
	*n = (size_t)rows;
	return 0;
}

int pg_target_set_state(struct store *s, const char *name, const char *state, const char *detail,
			const char *attestation_json, int64_t last_seen)
{
	struct pg_params p = { 0 };
	pp_text(&p, name);
	pp_text(&p, state);
	pp_text(&p, detail ? detail : "");
	pp_text(&p, attestation_json);
	pp_int(&p, last_seen);
	PGresult *r = NULL;
	int rc = pg_run(s, "UPDATE targets SET state = $2, state_detail = $3, "
			   "attestation = coalesce($4, attestation), "
			   "last_seen = CASE WHEN $5::bigint = 0 THEN last_seen ELSE $5::bigint END "
			   "WHERE name = $1",
			&p, 0, &r, "target state");
	if (rc < 0)
		return rc;
	int64_t ch = pg_changes(r);
	PQclear(r);
	return ch ? 0 : store_fail(s, SEVMON_ENOENT, "unknown target '%s'", name);
}
