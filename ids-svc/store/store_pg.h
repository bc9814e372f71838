/*
 * store_pg.h — internal to the PostgreSQL backend (store_pg*.c): its state behind
 * s->impl, and the SQL helpers its files share. Only the ops table (store_backend.h)
 * leaves these files.
 *
 * Connection: one libpq connection per handle, made with bounded timeouts (connect,
 * statement, lock, TCP keepalives) so no call blocks its caller for long; when the server
 * goes away, a call fails with SEVMON_EBUSY and a later one reconnects, no sooner than a
 * doubling backoff allows (PG_BACKOFF_*). A second connection LISTENs for wake-ups.
 */
#ifndef SEVMON_STORE_PG_H
#define SEVMON_STORE_PG_H

#include <libpq-fe.h>

#include "store_backend.h"

/* Reconnect backoff: the first retry soon (a server restart takes a second or two), then
 * doubling, at most a few seconds so a replica is back soon after the server is. */
#define PG_BACKOFF_MIN_MS 100u
#define PG_BACKOFF_MAX_MS 5000u
/* Parameters one statement binds at most (results take 14). */
#define PG_PARAMS_MAX 16
/* Room for a libpq connection string. */
#define PG_CONNINFO_MAX 1024

struct store_pg {
	PGconn *c;         /* NULL while disconnected */
	PGconn *lc;        /* the LISTEN connection, opened on the first store_wake_fd */
	char conninfo[PG_CONNINFO_MAX];
	int64_t retry_at;  /* monotonic ms: no reconnect attempt before */
	uint32_t backoff_ms;
	int64_t lretry_at; /* the same for lc */
	uint32_t lbackoff_ms;
	char last_err[256]; /* why the last connect failed */
};

static inline struct store_pg *pg_of(struct store *s)
{
	return s->impl;
}

/* Parameters of one statement, as text (or binary bytes); NULL text is SQL NULL. */
struct pg_params {
	int n;
	const char *v[PG_PARAMS_MAX];
	int len[PG_PARAMS_MAX];
	int fmt[PG_PARAMS_MAX];
	char num[PG_PARAMS_MAX][24];
};
void pp_text(struct pg_params *p, const char *v);
void pp_int(struct pg_params *p, int64_t v);
void pp_bin(struct pg_params *p, const void *v, size_t len);
/* The "now" of lease expiry: the test clock when one is set, else NULL (the server's). */
void pp_now(struct pg_params *p, struct store *s);

/* A connection with our bounds (NULL with why filled on failure). */
PGconn *pg_connect(const char *conninfo, char *why, size_t whylen);
/* The connection, (re)made if needed and the backoff allows. 0, or EBUSY / EIO. */
int pg_ensure(struct store *s);
/*
 * Run one statement (p may be NULL: no parameters). res (may be NULL) receives the result
 * of a statement that returns rows, the caller's to PQclear. binary asks for binary
 * columns. Errors are mapped from SQLSTATE and recorded with `what`; a lost connection is
 * dropped, to be re-made by a later call.
 */
int pg_run(struct store *s, const char *sql, struct pg_params *p, int binary, PGresult **res,
	   const char *what);
int pg_begin(struct store *s);
int pg_commit(struct store *s);
void pg_rollback(struct store *s);
/* Rows changed by a command result's statement (PQcmdTuples). */
int64_t pg_changes(PGresult *r);
/* Column helpers: copy into a fixed buffer; a fresh heap string (NULL for SQL NULL). */
void pg_col_copy(PGresult *r, int row, int col, char *dst, size_t size);
int pg_col_dup(PGresult *r, int row, int col, char **out);
int64_t pg_col_int(PGresult *r, int row, int col);
int pg_col_bool(PGresult *r, int row, int col);

/* store_pg_schema.c: create or migrate (writer), or check the version (reader). */
int pg_schema_apply(struct store *s);
/* store_pg_retention.c: retention inside the caller's transaction; rows deleted (0 when
 * another replica is applying it at the same moment). */
int pg_retention_apply(struct store *s);
/* store_pg_scan.c: finish the running scans with jobs whose jobs are all done, inside the
 * caller's transaction (scan_id 0: every one). Returns how many finished. */
int pg_scans_complete(struct store *s, int64_t scan_id);
/* store_pg_finding.c */
int pg_findings_insert(struct store *s, int64_t scan_id, const char *target, const char *check,
		       const struct store_diff *d);
int pg_findings_insert_in(struct store *s, int64_t scan_id, const char *target, const char *check,
			  const struct store_finding_in *v, size_t n);

int pg_target_upsert(struct store *s, const char *name, const char *uri, const char *pinned_key,
		     const char *policy_json);
int pg_target_remove(struct store *s, const char *name);
int pg_target_get(struct store *s, const char *name, struct store_target *out);
int pg_target_list(struct store *s, size_t offset, size_t limit, struct store_target **out,
		   size_t *n);
int pg_target_set_state(struct store *s, const char *name, const char *state, const char *detail,
			const char *attestation_json, int64_t last_seen);
int pg_scan_begin(struct store *s, const char *const *targets, size_t ntargets,
		  const char *targets_json, const char *checks_json, enum store_jobs_mode jobs,
		  int64_t *scan_id);
int pg_scan_finish(struct store *s, int64_t scan_id, enum store_scan_status status);
int pg_scan_get(struct store *s, int64_t scan_id, struct store_scan *out);
int pg_scans_list(struct store *s, const char *target, size_t offset, size_t limit,
		  struct store_scan **out, size_t *n);
int pg_result_add(struct store *s, int64_t scan_id, const struct store_result_in *r);
int pg_results_list(struct store *s, int64_t scan_id, const char *target, bool with_payload,
		    size_t offset, size_t limit, struct store_result **out, size_t *n);
int pg_result_latest(struct store *s, const char *target, const char *check,
		     struct store_result *out);
int64_t pg_finding_add(struct store *s, int64_t scan_id, const char *target,
		       enum store_severity sev, const char *kind, const char *subject,
		       const char *detail_json);
int pg_findings_list(struct store *s, const struct store_finding_filter *f,
		     struct store_finding **out, size_t *n);
int pg_retention_run(struct store *s);
int pg_replica_beat(struct store *s, const char *replica, int64_t ttl_ms, struct store_fleet *out);
int pg_replica_leave(struct store *s, const char *replica);
int pg_leases_renew(struct store *s, const char *replica, int64_t ttl_ms, struct store_lease **out,
		    size_t *n);
int pg_leases_claim(struct store *s, const char *replica, int64_t ttl_ms, size_t max,
		    struct store_lease **out, size_t *n);
int pg_lease_release(struct store *s, const char *replica, const char *target);
int pg_jobs_claim(struct store *s, const char *replica, size_t max, struct store_job **out,
		  size_t *n);
int pg_job_finish(struct store *s, int64_t scan_id, const char *target, bool failed);

#endif
