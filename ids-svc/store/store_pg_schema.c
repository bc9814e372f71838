/*
 * store_pg_schema.c — PostgreSQL: the tables, and migrations between versions of them.
 *
 * sevmon_schema holds the version (one row): 0 is an empty database. migrations[i] takes
 * it from version i to i + 1 in one transaction with the version bump, under an advisory
 * lock, so replicas starting together migrate once and a crash mid-migration leaves the
 * old version. Add a version by appending a step; never edit a released one. The meaning
 * of every table is the SQLite schema's (store_sqlite_schema.c) at its current version;
 * PostgreSQL's first version already holds the fleet's tables.
 */
#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "store.h"
#include "store_pg.h"

/* pg_advisory_xact_lock key of migrations: "sevmon" in ASCII, a constant all replicas share. */
#define PG_MIGRATE_LOCK "126918406743918"

static const char schema_v1[] =
	/* the server's clock, in the store's unit: lease expiry is judged by it alone */
	"CREATE FUNCTION sevmon_now_ms() RETURNS bigint LANGUAGE sql VOLATILE AS "
	"  $$ SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint $$;"
	"CREATE TABLE targets ("
	"  name text PRIMARY KEY,"
	"  uri text NOT NULL,"
	"  pinned_key text NOT NULL DEFAULT '',"
	"  policy text,"
	"  added_at bigint NOT NULL,"
	"  state text NOT NULL DEFAULT 'unknown',"
	"  state_detail text NOT NULL DEFAULT '',"
	"  attestation text,"
	"  last_seen bigint NOT NULL DEFAULT 0,"
	"  version bigint NOT NULL DEFAULT 1,"
	"  last_scan_at bigint NOT NULL DEFAULT 0"
	");"
	"CREATE TABLE scans ("
	"  id bigserial PRIMARY KEY,"
	"  started_at bigint NOT NULL,"
	"  finished_at bigint NOT NULL DEFAULT 0,"
	"  status text NOT NULL CHECK (status IN ('running', 'done', 'failed', 'interrupted')),"
	"  targets text NOT NULL,"
	"  checks text NOT NULL,"
	"  jobs bigint NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX scans_status ON scans (status);"
	"CREATE INDEX scans_finished ON scans (finished_at);"
	"CREATE TABLE scan_targets ("
	"  target text NOT NULL REFERENCES targets (name) ON DELETE CASCADE,"
	"  scan_id bigint NOT NULL REFERENCES scans (id) ON DELETE CASCADE,"
	"  PRIMARY KEY (target, scan_id)"
	");"
	"CREATE INDEX scan_targets_scan ON scan_targets (scan_id);"
	/* seq: insertion order (SQLite's rowid), for the diff baseline and live views */
	"CREATE TABLE results ("
	"  seq bigserial NOT NULL,"
	"  scan_id bigint NOT NULL REFERENCES scans (id) ON DELETE CASCADE,"
	"  target text NOT NULL REFERENCES targets (name) ON DELETE CASCADE,"
	"  check_name text NOT NULL,"
	"  status text NOT NULL CHECK (status IN ('ok', 'error')),"
	"  error text,"
	"  payload text,"
	"  ident bytea,"
	"  at bigint NOT NULL,"
	"  duration_ms bigint NOT NULL,"
	"  requests bigint NOT NULL,"
	"  bytes bigint NOT NULL,"
	"  replica text NOT NULL DEFAULT '',"
	"  started_at bigint NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (scan_id, target, check_name)"
	");"
	"CREATE INDEX results_latest ON results (target, check_name, status, seq);"
	"CREATE TABLE findings ("
	"  id bigserial PRIMARY KEY,"
	"  scan_id bigint REFERENCES scans (id) ON DELETE CASCADE,"
	"  target text NOT NULL REFERENCES targets (name) ON DELETE CASCADE,"
	"  at bigint NOT NULL,"
	"  severity integer NOT NULL CHECK (severity BETWEEN 0 AND 3),"
	"  kind text NOT NULL,"
	"  subject text NOT NULL,"
	"  detail text"
	");"
	"CREATE INDEX findings_target ON findings (target, id);"
	"CREATE INDEX findings_scan ON findings (scan_id, target);"
	"CREATE INDEX findings_at ON findings (at);"
	"CREATE INDEX findings_severity ON findings (severity, id);"
	"CREATE TABLE replicas ("
	"  name text PRIMARY KEY,"
	"  beat_at bigint NOT NULL,"
	"  expires_at bigint NOT NULL"
	");"
	/* one row per target; '' = free; expiry by the server's clock (sevmon_now_ms) */
	"CREATE TABLE leases ("
	"  target text PRIMARY KEY REFERENCES targets (name) ON DELETE CASCADE,"
	"  owner text NOT NULL DEFAULT '',"
	"  expires_at bigint NOT NULL DEFAULT 0,"
	"  token bigint NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX leases_owner ON leases (owner);"
	"CREATE INDEX leases_expires ON leases (expires_at);"
	"CREATE SEQUENCE lease_tokens;"
	"CREATE TABLE scan_jobs ("
	"  scan_id bigint NOT NULL REFERENCES scans (id) ON DELETE CASCADE,"
	"  target text NOT NULL REFERENCES targets (name) ON DELETE CASCADE,"
	"  checks text,"
	"  state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'claimed', 'done')),"
	"  owner text NOT NULL DEFAULT '',"
	"  failed boolean NOT NULL DEFAULT false,"
	"  finished_at bigint NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (scan_id, target)"
	");"
	"CREATE INDEX scan_jobs_target ON scan_jobs (target, state);"
	"CREATE INDEX scan_jobs_open ON scan_jobs (scan_id) WHERE state != 'done';";

/* Findings name the check that raised them and, for a detection, its MITRE ATT&CK
 * technique (as SQLite's schema v3); rows from before carry '' in both. */
static const char schema_v2[] =
	"ALTER TABLE findings ADD COLUMN check_name text NOT NULL DEFAULT '';"
	"ALTER TABLE findings ADD COLUMN technique text NOT NULL DEFAULT '';"
	"CREATE INDEX findings_check ON findings (check_name, id);"
	"CREATE INDEX findings_technique ON findings (technique, id);";

static const char *const migrations[] = {
	schema_v1, /* 0 -> 1 */
	schema_v2, /* 1 -> 2 */
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* The version, or 0 for a database without our tables. */
static int version(struct store *s, int *v)
{
	PGresult *r = NULL;
	*v = 0;
	int rc = pg_run(s, "SELECT to_regclass('sevmon_schema') IS NOT NULL", NULL, 0, &r,
			"schema");
	if (rc < 0)
		return rc;
	int have = pg_col_bool(r, 0, 0);
	PQclear(r);
	if (!have)
		return 0;
	if ((rc = pg_run(s, "SELECT version FROM sevmon_schema", NULL, 0, &r, "schema")) < 0)
		return rc;
	if (PQntuples(r) == 1)
		*v = (int)pg_col_int(r, 0, 0);
	PQclear(r);
	return 0;
}

int pg_schema_apply(struct store *s)
{
	int v = 0, rc;
	if (!s->readonly) {
		/* the lock first: a replica that finds version 0 may be racing another */
		if ((rc = pg_begin(s)) < 0 ||
		    (rc = pg_run(s, "SELECT pg_advisory_xact_lock(" PG_MIGRATE_LOCK ")", NULL, 0,
				 NULL, "schema lock")) < 0)
			goto fail;
	}
	if ((rc = version(s, &v)) < 0)
		goto fail;
	if (v > SCHEMA_VERSION) {
		rc = store_fail(s, SEVMON_ENOTSUP,
				"database schema version %d is newer than this build's (%d)", v,
				SCHEMA_VERSION);
		goto fail;
	}
	if (v < SCHEMA_VERSION && s->readonly)
		return store_fail(s, SEVMON_ENOTSUP,
				  "database schema version %d: a writer must open it first "
				  "(this build uses %d)", v, SCHEMA_VERSION);
	if (s->readonly)
		return 0;
	if (v == 0 && (rc = pg_run(s, "CREATE TABLE sevmon_schema (version integer NOT NULL); "
				      "INSERT INTO sevmon_schema VALUES (0)", NULL, 0, NULL,
				   "schema")) < 0)
		goto fail;
	for (; v < SCHEMA_VERSION; v++) {
		char bump[64];
		snprintf(bump, sizeof bump, "UPDATE sevmon_schema SET version = %d", v + 1);
		if ((rc = pg_run(s, migrations[v], NULL, 0, NULL, "migration")) < 0 ||
		    (rc = pg_run(s, bump, NULL, 0, NULL, "migration")) < 0)
			goto fail;
	}
	return pg_commit(s);
fail:
	pg_rollback(s);
	return rc;
}
