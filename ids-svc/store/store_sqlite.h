/*
 * store_sqlite.h — internal to the SQLite backend (store_sqlite*.c): its state behind
 * s->impl, and the SQL helpers its files share. Only the ops table (store_backend.h)
 * leaves these files.
 */
#ifndef SEVMON_STORE_SQLITE_H
#define SEVMON_STORE_SQLITE_H

#include <sqlite3.h>

#include "store_backend.h"

struct store_sqlite {
	sqlite3 *db;
	int lock_fd; /* the writer lock; -1 for readers and in-memory databases */
};

static inline sqlite3 *sq_db(struct store *s)
{
	return ((struct store_sqlite *)s->impl)->db;
}

/* Map an SQLite result code to a SEVMON_E* value and record the message with `what`. */
int sq_err(struct store *s, int rc, const char *what);
int sq_exec(struct store *s, const char *sql);
int sq_prepare(struct store *s, const char *sql, sqlite3_stmt **st);
/* BEGIN IMMEDIATE (take the write lock now, so a busy wait happens before any work). */
int sq_begin(struct store *s);
int sq_commit(struct store *s);
void sq_rollback(struct store *s);
/* Copy a column into a fixed buffer / a fresh heap string (NULL for SQL NULL). */
void sq_col_copy(sqlite3_stmt *st, int col, char *dst, size_t size);
int sq_col_dup(sqlite3_stmt *st, int col, char **out);

/* store_sqlite_schema.c: create or migrate (writer), or check the version (reader). */
int sq_schema_apply(struct store *s);
/* store_sqlite_retention.c: retention inside the caller's transaction; rows deleted. */
int sq_retention_apply(struct store *s);
/* store_sqlite_finding.c: findings into the table, inside the caller's transaction. */
int sq_findings_insert(struct store *s, int64_t scan_id, const char *target, const char *check,
		       const struct store_diff *d);
int sq_findings_insert_in(struct store *s, int64_t scan_id, const char *target, const char *check,
			  const struct store_finding_in *v, size_t n);

/* The ops, one file per table. */
int sq_target_upsert(struct store *s, const char *name, const char *uri, const char *pinned_key,
		     const char *policy_json);
int sq_target_remove(struct store *s, const char *name);
int sq_target_get(struct store *s, const char *name, struct store_target *out);
int sq_target_list(struct store *s, size_t offset, size_t limit, struct store_target **out,
		   size_t *n);
int sq_target_set_state(struct store *s, const char *name, const char *state, const char *detail,
			const char *attestation_json, int64_t last_seen);
int sq_scan_begin(struct store *s, const char *const *targets, size_t ntargets,
		  const char *targets_json, const char *checks_json, enum store_jobs_mode jobs,
		  int64_t *scan_id);
/* Inside the caller's transaction: finish the running scans with jobs (scan_id, or every
 * one for 0) whose jobs are all done, with retention. Returns how many finished. */
int sq_scans_complete(struct store *s, int64_t scan_id);
int sq_scan_finish(struct store *s, int64_t scan_id, enum store_scan_status status);
int sq_scan_get(struct store *s, int64_t scan_id, struct store_scan *out);
int sq_scans_list(struct store *s, const char *target, size_t offset, size_t limit,
		  struct store_scan **out, size_t *n);
int sq_result_add(struct store *s, int64_t scan_id, const struct store_result_in *r);
int sq_results_list(struct store *s, int64_t scan_id, const char *target, bool with_payload,
		    size_t offset, size_t limit, struct store_result **out, size_t *n);
int sq_result_latest(struct store *s, const char *target, const char *check,
		     struct store_result *out);
int64_t sq_finding_add(struct store *s, int64_t scan_id, const char *target,
		       enum store_severity sev, const char *kind, const char *subject,
		       const char *detail_json);
int sq_findings_list(struct store *s, const struct store_finding_filter *f,
		     struct store_finding **out, size_t *n);
int sq_retention_run(struct store *s);
/* store_sqlite_fleet.c */
int sq_replica_beat(struct store *s, const char *replica, int64_t ttl_ms, struct store_fleet *out);
int sq_replica_leave(struct store *s, const char *replica);
int sq_leases_renew(struct store *s, const char *replica, int64_t ttl_ms, struct store_lease **out,
		    size_t *n);
int sq_leases_claim(struct store *s, const char *replica, int64_t ttl_ms, size_t max,
		    struct store_lease **out, size_t *n);
int sq_lease_release(struct store *s, const char *replica, const char *target);
int sq_jobs_claim(struct store *s, const char *replica, size_t max, struct store_job **out,
		  size_t *n);
int sq_job_finish(struct store *s, int64_t scan_id, const char *target, bool failed);
/* On a writer's open: the previous process is dead, so are its leases and claims. */
int sq_fleet_reset(struct store *s);

#endif
