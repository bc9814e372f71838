/*
 * store_backend.h — what a store backend implements. One table row per backend
 * (store.c: backends[]); store_open gives the database setting to each in turn, and the
 * first that claims it serves the handle. SQLite (store_sqlite*.c) is the embedded default;
 * PostgreSQL (store_pg*.c, through libpq) the server database that replicas share.
 *
 * Every op is called by the front (store_calls.c) with arguments it has checked (names,
 * words, lengths, JSON, ranges) on a handle that is not read-only where the op writes,
 * after store_ok(); it returns what the store.h call returns and sets s->err through
 * store_fail() on failure. Each op that changes something is one transaction: it commits
 * before returning 0, or rolls back and changes nothing. Ops keep no pointer to their
 * arguments past the call; rows they return are the caller's (store.h's *_free).
 * Semantics (crash recovery, retention, the diff baseline, list bounds) are those store.h
 * promises; the op comments here say only what the front leaves to them.
 */
#ifndef SEVMON_STORE_BACKEND_H
#define SEVMON_STORE_BACKEND_H

#include "store_impl.h"

struct store_backend {
	const char *name; /* "sqlite" */
	/* 1 if this backend serves `database` (sevmond's `database =` setting). */
	int (*claims)(const char *database);
	/* Open: s->readonly, s->ret and the clock are set. Bring the schema to the current
	 * version (a reader: check it); a writer takes the one-writer lock, marks running
	 * scans interrupted and applies retention. Returns how many it marked, or an error.
	 * Sets s->impl; close releases it (also after a failed open). */
	int (*open)(struct store *s, const char *database);
	void (*close)(struct store *s);

	/* 1 created, 0 updated. */
	int (*target_upsert)(struct store *s, const char *name, const char *uri,
			     const char *pinned_key, const char *policy_json);
	int (*target_remove)(struct store *s, const char *name);
	int (*target_get)(struct store *s, const char *name, struct store_target *out);
	int (*target_list)(struct store *s, size_t offset, size_t limit, struct store_target **out,
			   size_t *n);
	int (*target_set_state)(struct store *s, const char *name, const char *state,
				const char *detail, const char *attestation_json, int64_t last_seen);

	/* targets_json / checks_json: the scan's names as JSON arrays (made by the front);
	 * jobs: whether to queue one job per target, and with which checks. */
	int (*scan_begin)(struct store *s, const char *const *targets, size_t ntargets,
			  const char *targets_json, const char *checks_json,
			  enum store_jobs_mode jobs, int64_t *scan_id);
	/* status is DONE or FAILED; retention in the same transaction. */
	int (*scan_finish)(struct store *s, int64_t scan_id, enum store_scan_status status);
	int (*scan_get)(struct store *s, int64_t scan_id, struct store_scan *out);
	int (*scans_list)(struct store *s, const char *target, size_t offset, size_t limit,
			  struct store_scan **out, size_t *n);

	/* In one transaction: the scan is running and covers the target; the baseline (if
	 * store_result_wants_baseline) goes to store_result_diff; the result, its compact
	 * form, the diff's findings and r->findings are inserted. Returns the findings count. */
	int (*result_add)(struct store *s, int64_t scan_id, const struct store_result_in *r);
	int (*results_list)(struct store *s, int64_t scan_id, const char *target, bool with_payload,
			    size_t offset, size_t limit, struct store_result **out, size_t *n);
	int (*result_latest)(struct store *s, const char *target, const char *check,
			     struct store_result *out);

	int64_t (*finding_add)(struct store *s, int64_t scan_id, const char *target,
			       enum store_severity sev, const char *kind, const char *subject,
			       const char *detail_json);
	int (*findings_list)(struct store *s, const struct store_finding_filter *f,
			     struct store_finding **out, size_t *n);

	int (*retention_run)(struct store *s);

	/* The fleet (store.h): names checked, ttl and max in range. */
	int (*replica_beat)(struct store *s, const char *replica, int64_t ttl_ms,
			    struct store_fleet *out);
	int (*replica_leave)(struct store *s, const char *replica);
	int (*leases_renew)(struct store *s, const char *replica, int64_t ttl_ms,
			    struct store_lease **out, size_t *n);
	int (*leases_claim)(struct store *s, const char *replica, int64_t ttl_ms, size_t max,
			    struct store_lease **out, size_t *n);
	int (*lease_release)(struct store *s, const char *replica, const char *target);
	int (*jobs_claim)(struct store *s, const char *replica, size_t max, struct store_job **out,
			  size_t *n);
	int (*job_finish)(struct store *s, int64_t scan_id, const char *target, bool failed);
	/* NULL: no wake-ups (store_wake_fd -1, store_wake_drain 0). */
	int (*wake_fd)(struct store *s);
	int (*wake_drain)(struct store *s);
};

extern const struct store_backend store_sqlite_backend;
extern const struct store_backend store_pg_backend;

#endif
