/* test_store_schema.c — store_open: schema creation, reopen, versions, migrations, locks,
 * readers. The SQLite cases look at the file; under PostgreSQL (tests/pg/with-pg) they
 * skip and the _pg cases look at the server's tables instead. */
#include <fcntl.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

#include "store_testutil.h"

#define SQLITE_ONLY()                                                           \
	do {                                                                    \
		if (st_pg())                                                    \
			SKIP("looks at the SQLite file");                       \
	} while (0)
#define PG_ONLY()                                                               \
	do {                                                                    \
		if (!st_pg())                                                   \
			SKIP("looks at the PostgreSQL server");                 \
	} while (0)

/* One integer from a query on a separate, plain SQLite connection. */
static long long raw_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
	long long v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	ASSERT_EQ(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

TEST(store_open_new_file_creates_schema_in_wal)
{
	SQLITE_ONLY();
	const char *p = st_db_path();
	struct store *s = NULL;
	ASSERT_EQ(store_open(p, 0, NULL, &s, NULL, 0), 0);
	ASSERT(s != NULL);
	ASSERT_STREQ(store_last_error(s), "");
	store_close(s);
	struct stat sb;
	ASSERT_EQ(stat(p, &sb), 0);
	ASSERT_EQ(sb.st_mode & 0777, 0600); /* guest data: owner only */
	ASSERT_EQ(raw_int(p, "PRAGMA user_version"), 3);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	ASSERT_EQ(sqlite3_open(p, &db), SQLITE_OK);
	ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
	ASSERT_STREQ((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);
	static const char *const tables[] = { "targets", "scans", "scan_targets", "results",
					      "findings", "replicas", "leases", "scan_jobs" };
	for (size_t i = 0; i < 8; i++) {
		char q[128];
		snprintf(q, sizeof(q), "SELECT count(*) FROM sqlite_schema WHERE type = 'table' "
				       "AND name = '%s'", tables[i]);
		ASSERT_EQ(raw_int(p, q), 1);
	}
	ASSERT(raw_int(p, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND "
			  "name IN ('results_latest', 'findings_target', 'scans_status')") == 3);
	st_cleanup();
}

TEST(store_open_reopen_keeps_rows_and_version)
{
	SQLITE_ONLY();
	const char *p = st_db_path();
	struct store *s = st_open(p, NULL);
	ASSERT_EQ(store_target_upsert(s, "vm1", "unix:///run/a.sock", NULL, "{\"debug\":false}"),
		  1);
	store_close(s);
	struct store *s2 = NULL;
	ASSERT_EQ(store_open(p, 0, NULL, &s2, NULL, 0), 0); /* nothing was running */
	struct store_target t;
	ASSERT_EQ(store_target_get(s2, "vm1", &t), 0);
	ASSERT_STREQ(t.uri, "unix:///run/a.sock");
	ASSERT_STREQ(t.policy_json, "{\"debug\":false}");
	store_target_clear(&t);
	store_close(s2);
	ASSERT_EQ(raw_int(p, "PRAGMA user_version"), 3);
	st_cleanup();
}

TEST(store_open_newer_schema_enotsup)
{
	SQLITE_ONLY();
	const char *p = st_db_path();
	store_close(st_open(p, NULL));
	raw_exec(p, "PRAGMA user_version = 99");
	struct store *s = (struct store *)1;
	char msg[256] = "";
	ASSERT_EQ(store_open(p, 0, NULL, &s, msg, sizeof(msg)), SEVMON_ENOTSUP);
	ASSERT(s == NULL);
	ASSERT(strstr(msg, "99") != NULL);
	st_cleanup();
}

TEST(store_open_not_a_database_eio)
{
	SQLITE_ONLY();
	const char *p = st_db_path();
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT(fd >= 0);
	char junk[4096];
	memset(junk, 'J', sizeof(junk));
	ASSERT_EQ(write(fd, junk, sizeof(junk)), (long)sizeof(junk));
	close(fd);
	struct store *s = NULL;
	char msg[256] = "";
	ASSERT_EQ(store_open(p, 0, NULL, &s, msg, sizeof(msg)), SEVMON_EIO);
	ASSERT(s == NULL);
	ASSERT(msg[0] != '\0');
	st_cleanup();
}

TEST(store_open_second_writer_ebusy)
{
	SQLITE_ONLY();
	const char *p = st_db_path();
	struct store *a = st_open(p, NULL), *b = NULL;
	char msg[256] = "";
	ASSERT_EQ(store_open(p, 0, NULL, &b, msg, sizeof(msg)), SEVMON_EBUSY);
	ASSERT(strstr(msg, "another writer") != NULL);
	store_close(a);
	ASSERT_EQ(store_open(p, 0, NULL, &b, NULL, 0), 0);
	store_close(b);
	st_cleanup();
}

TEST(store_open_reader_reads_and_refuses_writes)
{
	SQLITE_ONLY();
	const char *p = st_db_path();
	struct store *w = st_open(p, NULL), *r = NULL;
	ASSERT_EQ(store_target_upsert(w, "vm1", "tcp://10.0.0.1:7000", NULL, NULL), 1);
	ASSERT_EQ(store_open(p, STORE_OPEN_READONLY, NULL, &r, NULL, 0), 0);
	struct store_target t;
	ASSERT_EQ(store_target_get(r, "vm1", &t), 0);
	store_target_clear(&t);
	ASSERT_EQ(store_target_upsert(r, "vm2", "tcp://10.0.0.2:7000", NULL, NULL), SEVMON_EDENIED);
	ASSERT(strstr(store_last_error(r), "read-only") != NULL);
	store_close(r);
	store_close(w);
	st_cleanup();
}

TEST(store_open_reader_of_missing_file_fails)
{
	SQLITE_ONLY();
	const char *p = st_db_path();
	struct store *r = (struct store *)1;
	ASSERT(store_open(p, STORE_OPEN_READONLY, NULL, &r, NULL, 0) < 0);
	ASSERT(r == NULL);
	ASSERT(access(p, F_OK) != 0); /* a reader never creates the file */
	st_cleanup();
}

TEST(store_open_bad_flags_einval)
{
	struct store *s = NULL;
	ASSERT_EQ(store_open(":memory:", 0x80, NULL, &s, NULL, 0), SEVMON_EINVAL);
	ASSERT_EQ(store_open(NULL, 0, NULL, &s, NULL, 0), SEVMON_EINVAL);
}

TEST(store_open_memory_database_works)
{
	struct store *s = st_open(":memory:", NULL);
	ASSERT_EQ(store_target_upsert(s, "m", "unix:///x", NULL, NULL), 1);
	store_close(s);
}

TEST(store_names_severity_roundtrip)
{
	enum store_severity sev;
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(store_severity_parse(store_severity_name((enum store_severity)i), &sev), 0);
		ASSERT_EQ(sev, i);
	}
	ASSERT_EQ(store_severity_parse("critical", &sev), SEVMON_EINVAL);
	ASSERT(store_severity_name((enum store_severity)4) == NULL);
	ASSERT_STREQ(store_scan_status_name(STORE_SCAN_INTERRUPTED), "interrupted");
}

/* A version-1 file (before the fleet's tables) is migrated, and its targets get leases. */
TEST(store_open_migrates_v1_to_v2)
{
	SQLITE_ONLY();
	const char *p = st_db_path();
	struct store *s = st_open(p, NULL);
	ASSERT_EQ(store_target_upsert(s, "vm1", "unix:///a", NULL, NULL), 1);
	store_close(s);
	/* back to what version 1 had */
	raw_exec(p, "DROP TABLE leases; DROP TABLE scan_jobs; DROP TABLE replicas; "
		    "DROP TABLE counters; ALTER TABLE targets DROP COLUMN version; "
		    "ALTER TABLE targets DROP COLUMN last_scan_at; "
		    "ALTER TABLE results DROP COLUMN replica; "
		    "ALTER TABLE results DROP COLUMN started_at; ALTER TABLE scans DROP COLUMN jobs; "
		    "DROP INDEX findings_check; DROP INDEX findings_technique; "
		    "ALTER TABLE findings DROP COLUMN check_name; "
		    "ALTER TABLE findings DROP COLUMN technique; PRAGMA user_version = 1");
	s = st_open(p, NULL);
	ASSERT_EQ(raw_int(p, "PRAGMA user_version"), 3);
	struct store_lease *v = NULL;
	size_t n = 0;
	ASSERT_EQ(store_leases_claim(s, "r1", 1000, 10, &v, &n), 0);
	ASSERT_EQ(n, 1);
	ASSERT_STREQ(v[0].target, "vm1");
	ASSERT_EQ(v[0].version, 1);
	free(v);
	store_close(s);
	st_cleanup();
}

/* A version-2 file (findings without check and technique) is migrated; its findings keep
 * every field and read '' for the new ones. */
TEST(store_open_migrates_v2_to_v3_findings_check_technique)
{
	SQLITE_ONLY();
	const char *p = st_db_path();
	struct store *s = st_open(p, NULL);
	ASSERT_EQ(store_target_upsert(s, "vm1", "unix:///a", NULL, NULL), 1);
	ASSERT(store_finding_add(s, 0, "vm1", STORE_SEV_HIGH, "attestation_failed", "vm1", NULL) > 0);
	store_close(s);
	raw_exec(p, "DROP INDEX findings_check; DROP INDEX findings_technique; "
		    "ALTER TABLE findings DROP COLUMN check_name; "
		    "ALTER TABLE findings DROP COLUMN technique; PRAGMA user_version = 2");
	s = st_open(p, NULL);
	ASSERT_EQ(raw_int(p, "PRAGMA user_version"), 3);
	struct store_finding *v = NULL;
	size_t n = 0;
	ASSERT_EQ(store_findings_list(s, NULL, &v, &n), 0);
	ASSERT_EQ(n, 1);
	ASSERT_STREQ(v[0].kind, "attestation_failed");
	ASSERT_STREQ(v[0].check, "");
	ASSERT_STREQ(v[0].technique, "");
	store_findings_free(v, n);
	store_close(s);
	st_cleanup();
}

/* ---- PostgreSQL ---- */

static long long pg_int(const char *uri, const char *sql)
{
	/* the URI's search_path names the test's schema */
	const char *q = strstr(uri, "options=");
	char conn[1024];
	snprintf(conn, sizeof conn, "%s", st_pg());
	PGconn *c = PQconnectdb(conn);
	ASSERT(PQstatus(c) == CONNECTION_OK);
	char full[512];
	snprintf(full, sizeof full, "SET search_path = %s; %s", q ? strstr(q, "%3D") + 3 : "public",
		 sql);
	PGresult *r = PQexec(c, full);
	ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK);
	long long v = PQresultStatus(r) == PGRES_TUPLES_OK ? atoll(PQgetvalue(r, 0, 0)) : 0;
	PQclear(r);
	PQfinish(c);
	return v;
}

TEST(store_open_pg_creates_schema_and_reopens)
{
	PG_ONLY();
	const char *p = st_db_path();
	struct store *s = NULL;
	ASSERT_EQ(store_open(p, 0, NULL, &s, NULL, 0), 0); /* nothing is ever "interrupted" */
	ASSERT_EQ(store_target_upsert(s, "vm1", "unix:///a", NULL, NULL), 1);
	store_close(s);
	ASSERT_EQ(pg_int(p, "SELECT version FROM sevmon_schema"), 2);
	static const char *const tables[] = { "targets", "scans", "scan_targets", "results",
					      "findings", "replicas", "leases", "scan_jobs" };
	for (size_t i = 0; i < 8; i++) {
		char q[160];
		snprintf(q, sizeof q, "SELECT (to_regclass('%s') IS NOT NULL)::int", tables[i]);
		ASSERT_EQ(pg_int(p, q), 1);
	}
	s = st_open(p, NULL);
	struct store_target t;
	ASSERT_EQ(store_target_get(s, "vm1", &t), 0);
	store_target_clear(&t);
	/* two writers at once are what replicas are */
	struct store *b = st_open(p, NULL);
	ASSERT_EQ(store_target_upsert(b, "vm2", "unix:///b", NULL, NULL), 1);
	store_close(b);
	store_close(s);
	ASSERT_EQ(pg_int(p, "SELECT version FROM sevmon_schema"), 2);
}

TEST(store_open_pg_newer_schema_enotsup_reader_refuses_writes)
{
	PG_ONLY();
	const char *p = st_db_path();
	struct store *w = st_open(p, NULL), *r = NULL;
	ASSERT_EQ(store_target_upsert(w, "vm1", "unix:///a", NULL, NULL), 1);
	ASSERT_EQ(store_open(p, STORE_OPEN_READONLY, NULL, &r, NULL, 0), 0);
	struct store_target t;
	ASSERT_EQ(store_target_get(r, "vm1", &t), 0);
	store_target_clear(&t);
	ASSERT_EQ(store_target_upsert(r, "vm2", "unix:///b", NULL, NULL), SEVMON_EDENIED);
	ASSERT_EQ(store_wake_fd(r), -1);
	store_close(r);
	store_close(w);
	pg_int(p, "UPDATE sevmon_schema SET version = 99");
	struct store *s = (struct store *)1;
	char msg[256] = "";
	ASSERT_EQ(store_open(p, 0, NULL, &s, msg, sizeof msg), SEVMON_ENOTSUP);
	ASSERT(s == NULL);
	ASSERT(strstr(msg, "99") != NULL);
}

/* Replicas starting together on an empty database migrate it once. */
TEST(store_open_pg_concurrent_first_opens_migrate_once)
{
	PG_ONLY();
	const char *p = st_db_path();
	enum { KIDS = 5 };
	for (int k = 0; k < KIDS; k++) {
		pid_t pid = fork();
		ASSERT(pid >= 0);
		if (pid == 0) {
			struct store *s = NULL;
			char msg[256];
			int rc = store_open(p, 0, NULL, &s, msg, sizeof msg);
			if (rc < 0) {
				fprintf(stderr, "# %s\n", msg);
				_exit(2);
			}
			store_close(s);
			_exit(0);
		}
	}
	int st, bad = 0;
	while (wait(&st) > 0)
		bad += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ASSERT_EQ(bad, 0);
	ASSERT_EQ(pg_int(p, "SELECT count(*) FROM sevmon_schema"), 1);
	ASSERT_EQ(pg_int(p, "SELECT version FROM sevmon_schema"), 2);
}

TEST_MAIN()
