/*
 * store_sqlite_schema.c — SQLite: the tables, and migrations between versions of them.
 *
 * PRAGMA user_version holds the schema version: 0 is an empty file. migrations[i] takes a
 * database from version i to i + 1, in one transaction with the version bump, so a crash
 * during a migration leaves the old version intact. Add a version by appending a step;
 * never edit a released one.
 */
#include <stdio.h>

#include "err.h"
#include "store.h"
#include "store_sqlite.h"

static const char schema_v1[] =
	/* name is the identity everywhere (REST paths, findings); times are ms since epoch */
	"CREATE TABLE targets ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  uri TEXT NOT NULL,"
	"  pinned_key TEXT NOT NULL DEFAULT '',"
	"  policy TEXT,"                       /* JSON */
	"  added_at INTEGER NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'unknown',"
	"  state_detail TEXT NOT NULL DEFAULT '',"
	"  attestation TEXT,"                  /* JSON: the last verifier result */
	"  last_seen INTEGER NOT NULL DEFAULT 0"
	");"
	/* AUTOINCREMENT: ids are handed to REST clients, so a deleted id is never reused */
	"CREATE TABLE scans ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  started_at INTEGER NOT NULL,"
	"  finished_at INTEGER NOT NULL DEFAULT 0,"
	"  status TEXT NOT NULL"
	"    CHECK (status IN ('running', 'done', 'failed', 'interrupted')),"
	"  targets TEXT NOT NULL,"             /* JSON array, as requested */
	"  checks TEXT NOT NULL"               /* JSON array */
	");"
	"CREATE INDEX scans_status ON scans (status);"      /* recovery of running scans */
	"CREATE INDEX scans_finished ON scans (finished_at);" /* retention by age */
	/* which targets a scan covers: per-target history, retention and 'unknown target' */
	"CREATE TABLE scan_targets ("
	"  target TEXT NOT NULL REFERENCES targets (name) ON DELETE CASCADE,"
	"  scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,"
	"  PRIMARY KEY (target, scan_id)"
	") WITHOUT ROWID;"
	"CREATE INDEX scan_targets_scan ON scan_targets (scan_id);"
	"CREATE TABLE results ("
	"  scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,"
	"  target TEXT NOT NULL REFERENCES targets (name) ON DELETE CASCADE,"
	"  check_name TEXT NOT NULL,"
	"  status TEXT NOT NULL CHECK (status IN ('ok', 'error')),"
	"  error TEXT,"
	"  payload TEXT,"                      /* JSON */
	"  ident BLOB,"                        /* ps/modules: compact identity list (diffs) */
	"  at INTEGER NOT NULL,"
	"  duration_ms INTEGER NOT NULL,"
	"  requests INTEGER NOT NULL,"
	"  bytes INTEGER NOT NULL,"
	"  PRIMARY KEY (scan_id, target, check_name)"
	");"
	/* the newest ok result of a check for a target (diff baseline, live views): the
	 * index ends in the rowid, i.e. insertion order */
	"CREATE INDEX results_latest ON results (target, check_name, status);"
	"CREATE TABLE findings ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  scan_id INTEGER REFERENCES scans (id) ON DELETE CASCADE," /* NULL: not from a scan */
	"  target TEXT NOT NULL REFERENCES targets (name) ON DELETE CASCADE,"
	"  at INTEGER NOT NULL,"
	"  severity INTEGER NOT NULL CHECK (severity BETWEEN 0 AND 3)," /* info low medium high */
	"  kind TEXT NOT NULL,"
	"  subject TEXT NOT NULL,"
	"  detail TEXT"                        /* JSON */
	");"
	"CREATE INDEX findings_target ON findings (target, id);"
	"CREATE INDEX findings_scan ON findings (scan_id, target);"
	"CREATE INDEX findings_at ON findings (at);"
	"CREATE INDEX findings_severity ON findings (severity, id);";

/* The fleet (store.h): a target's version and last scan, a result's replica and start,
 * a scan's job count; replicas, leases (one row per target) and scan jobs. One process
 * owns all of them here, but the rows mean what they mean in a shared database. */
static const char schema_v2[] =
	"ALTER TABLE targets ADD COLUMN version INTEGER NOT NULL DEFAULT 1;"
	"ALTER TABLE targets ADD COLUMN last_scan_at INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE results ADD COLUMN replica TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE results ADD COLUMN started_at INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE scans ADD COLUMN jobs INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE replicas ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  beat_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL"
	");"
	"CREATE TABLE leases ("
	"  target TEXT PRIMARY KEY NOT NULL REFERENCES targets (name) ON DELETE CASCADE,"
	"  owner TEXT NOT NULL DEFAULT '',"       /* '' = free */
	"  expires_at INTEGER NOT NULL DEFAULT 0,"
	"  token INTEGER NOT NULL DEFAULT 0"
	") WITHOUT ROWID;"
	"CREATE INDEX leases_owner ON leases (owner);"
	"INSERT INTO leases (target) SELECT name FROM targets;"
	/* the fencing tokens' sequence */
	"CREATE TABLE counters (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);"
	"INSERT INTO counters VALUES ('lease_token', 0);"
	"CREATE TABLE scan_jobs ("
	"  scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,"
	"  target TEXT NOT NULL REFERENCES targets (name) ON DELETE CASCADE,"
	"  checks TEXT,"                       /* JSON array; NULL: the target's own */
	"  state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'claimed', 'done')),"
	"  owner TEXT NOT NULL DEFAULT '',"
	"  failed INTEGER NOT NULL DEFAULT 0,"
	"  finished_at INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (scan_id, target)"
	") WITHOUT ROWID;"
	"CREATE INDEX scan_jobs_target ON scan_jobs (target, state);";

/* Findings name the check that raised them and, for a detection, its MITRE ATT&CK
 * technique; rows from before carry '' in both. */
static const char schema_v3[] =
	"ALTER TABLE findings ADD COLUMN check_name TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE findings ADD COLUMN technique TEXT NOT NULL DEFAULT '';"
	"CREATE INDEX findings_check ON findings (check_name, id);"
	"CREATE INDEX findings_technique ON findings (technique, id);";

static const char *const migrations[] = {
	schema_v1, /* 0 -> 1 */
	schema_v2, /* 1 -> 2 */
	schema_v3, /* 2 -> 3 */
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

static int user_version(struct store *s, int *v)
{
	sqlite3_stmt *st = NULL;
	int rc = sq_prepare(s, "PRAGMA user_version", &st);
	if (rc < 0)
		return rc;
	int sr = sqlite3_step(st);
	if (sr == SQLITE_ROW)
		*v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return sr == SQLITE_ROW ? 0 : sq_err(s, sr, "user_version");
}

int sq_schema_apply(struct store *s)
{
	int v = 0, rc;
	if ((rc = user_version(s, &v)) < 0)
		return rc;
	if (v > SCHEMA_VERSION)
		return store_fail(s, SEVMON_ENOTSUP,
				  "database schema version %d is newer than this build's (%d)", v,
				  SCHEMA_VERSION);
	if (v < SCHEMA_VERSION && s->readonly)
		return store_fail(s, SEVMON_ENOTSUP,
				  "database schema version %d: a writer must open it first "
				  "(this build uses %d)", v, SCHEMA_VERSION);
	for (; v < SCHEMA_VERSION; v++) {
		char bump[64];
		snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", v + 1);
		if ((rc = sq_begin(s)) < 0)
			return rc;
		if ((rc = sq_exec(s, migrations[v])) < 0 || (rc = sq_exec(s, bump)) < 0 ||
		    (rc = sq_commit(s)) < 0) {
			sq_rollback(s);
			return rc;
		}
	}
	return 0;
}
