/*
 * store_sqlite_target.c — SQLite: the targets table (upsert, remove, get, list, state).
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "store.h"
#include "store_sqlite.h"

#define TARGET_COLS                                                                     \
	"t.name, t.uri, t.pinned_key, t.policy, t.added_at, t.state, t.state_detail, "     \
	"t.attestation, t.last_seen, t.version, t.last_scan_at, coalesce(l.owner, ''), "   \
	"coalesce(l.expires_at, 0)"
#define TARGET_FROM " FROM targets t LEFT JOIN leases l ON l.target = t.name"

static int target_row(struct store *s, sqlite3_stmt *st, struct store_target *t)
{
	memset(t, 0, sizeof(*t));
	t->version = sqlite3_column_int64(st, 9);
	t->last_scan_at = sqlite3_column_int64(st, 10);
	sq_col_copy(st, 11, t->owner, sizeof(t->owner));
	t->lease_left_ms = t->owner[0] ? sqlite3_column_int64(st, 12) - store_now(s) : 0;
	sq_col_copy(st, 0, t->name, sizeof(t->name));
	sq_col_copy(st, 1, t->uri, sizeof(t->uri));
	sq_col_copy(st, 2, t->pinned_key, sizeof(t->pinned_key));
	t->added_at = sqlite3_column_int64(st, 4);
	sq_col_copy(st, 5, t->state, sizeof(t->state));
	sq_col_copy(st, 6, t->state_detail, sizeof(t->state_detail));
	t->last_seen = sqlite3_column_int64(st, 8);
	if (sq_col_dup(st, 3, &t->policy_json) < 0 ||
	    sq_col_dup(st, 7, &t->attestation_json) < 0) {
		store_target_clear(t);
		return SEVMON_ENOMEM;
	}
	return 0;
}

/* 1 if the target exists, 0 if not, or an error. */
static int target_exists(struct store *s, const char *name)
{
	sqlite3_stmt *st = NULL;
	int rc = sq_prepare(s, "SELECT 1 FROM targets WHERE name = ?1", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int sr = sqlite3_step(st);
	sqlite3_finalize(st);
	if (sr == SQLITE_ROW)
		return 1;
	return sr == SQLITE_DONE ? 0 : sq_err(s, sr, "target lookup");
}

int sq_target_upsert(struct store *s, const char *name, const char *uri, const char *pinned_key,
		     const char *policy_json)
{
	int rc;
	if ((rc = sq_begin(s)) < 0)
		return rc;
	sqlite3_stmt *st = NULL;
	int created = target_exists(s, name);
	if (created < 0) {
		rc = created;
		goto out;
	}
	created = !created;
	/* a change bumps the version (the lease holder applies it); no change, no write */
	rc = sq_prepare(s,
			   "INSERT INTO targets (name, uri, pinned_key, policy, added_at) "
			   "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO UPDATE SET "
			   "uri = excluded.uri, pinned_key = excluded.pinned_key, "
			   "policy = excluded.policy, version = version + 1 WHERE "
			   "uri IS NOT excluded.uri OR pinned_key IS NOT excluded.pinned_key OR "
			   "policy IS NOT excluded.policy",
			   &st);
	if (rc < 0)
		goto out;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, uri, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, pinned_key ? pinned_key : "", -1, SQLITE_STATIC);
	if (policy_json)
		sqlite3_bind_text(st, 4, policy_json, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, store_now(s));
	int sr = sqlite3_step(st);
	if (sr != SQLITE_DONE) {
		rc = sq_err(s, sr, "target upsert");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = sq_prepare(s, "INSERT OR IGNORE INTO leases (target) VALUES (?1)", &st)) < 0)
		goto out;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if ((sr = sqlite3_step(st)) != SQLITE_DONE) {
		rc = sq_err(s, sr, "target lease");
		goto out;
	}
	rc = sq_commit(s);
out:
	sqlite3_finalize(st);
	if (rc < 0) {
		sq_rollback(s);
		return rc;
	}
	return created;
}

int sq_target_remove(struct store *s, const char *name)
{
	int rc;
	sqlite3_stmt *st = NULL;
	if ((rc = sq_begin(s)) < 0)
		return rc;
	/* The foreign keys cascade to results, findings, scan_targets, its lease and jobs. */
	if ((rc = sq_prepare(s, "DELETE FROM targets WHERE name = ?1", &st)) < 0)
		goto out;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int sr = sqlite3_step(st);
	if (sr != SQLITE_DONE) {
		rc = sq_err(s, sr, "target remove");
		goto out;
	}
	if (sqlite3_changes(sq_db(s)) == 0) {
		rc = store_fail(s, SEVMON_ENOENT, "unknown target '%s'", name);
		goto out;
	}
	/* scans whose last unfinished job was this target's are complete now */
	if ((rc = sq_scans_complete(s, 0)) < 0)
		goto out;
	rc = sq_commit(s);
out:
	sqlite3_finalize(st);
	if (rc < 0)
		sq_rollback(s);
	return rc < 0 ? rc : 0;
}

int sq_target_get(struct store *s, const char *name, struct store_target *out)
{
	int rc;
	sqlite3_stmt *st = NULL;
	if ((rc = sq_prepare(s, "SELECT " TARGET_COLS TARGET_FROM " WHERE t.name = ?1", &st)) < 0)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int sr = sqlite3_step(st);
	if (sr == SQLITE_ROW)
		rc = target_row(s, st, out);
	else if (sr == SQLITE_DONE)
		rc = store_fail(s, SEVMON_ENOENT, "unknown target '%s'", name);
	else
		rc = sq_err(s, sr, "target get");
	sqlite3_finalize(st);
	return rc;
}

int sq_target_list(struct store *s, size_t offset, size_t limit, struct store_target **out,
		   size_t *n)
{
	sqlite3_stmt *st = NULL;
	int rc = sq_prepare(s, "SELECT " TARGET_COLS TARGET_FROM " ORDER BY t.name "
				  "LIMIT ?1 OFFSET ?2", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)limit);
	sqlite3_bind_int64(st, 2, offset > INT64_MAX ? INT64_MAX : (sqlite3_int64)offset);
	struct store_target *v = NULL;
	size_t cnt = 0, cap = 0;
	int sr;
	while ((sr = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct store_target *nv = realloc(v, nc * sizeof(*v));
			if (!nv) {
				rc = store_fail(s, SEVMON_ENOMEM, "out of memory");
				goto out;
			}
			v = nv;
			cap = nc;
		}
		if ((rc = target_row(s, st, &v[cnt])) < 0)
			goto out;
		cnt++;
	}
	if (sr != SQLITE_DONE) {
		rc = sq_err(s, sr, "target list");
		goto out;
	}
	*out = v;
	*n = cnt;
	v = NULL;
	rc = 0;
out:
	sqlite3_finalize(st);
	store_targets_free(v, cnt);
	return rc;
}

int sq_target_set_state(struct store *s, const char *name, const char *state, const char *detail,
			const char *attestation_json, int64_t last_seen)
{
	int rc;
	sqlite3_stmt *st = NULL;
	rc = sq_prepare(s,
			   "UPDATE targets SET state = ?2, state_detail = ?3, "
			   "attestation = coalesce(?4, attestation), "
			   "last_seen = CASE WHEN ?5 = 0 THEN last_seen ELSE ?5 END WHERE name = ?1",
			   &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, detail ? detail : "", -1, SQLITE_STATIC);
	if (attestation_json)
		sqlite3_bind_text(st, 4, attestation_json, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, last_seen);
	int sr = sqlite3_step(st);
	sqlite3_finalize(st);
	if (sr != SQLITE_DONE)
		return sq_err(s, sr, "target state");
	if (sqlite3_changes(sq_db(s)) == 0)
		return store_fail(s, SEVMON_ENOENT, "unknown target '%s'", name);
	return 0;
}
