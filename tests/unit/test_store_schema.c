/* test_store_schema.c — store_open: schema creation, reopen, versions, locks, readers. */
#include <fcntl.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

#include "store_testutil.h"

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
	const char *p = st_db_path();
	struct store *s = NULL;
	ASSERT_EQ(store_open(p, 0, NULL, &s, NULL, 0), 0);
	ASSERT(s != NULL);
	ASSERT_STREQ(store_last_error(s), "");
	store_close(s);
	struct stat sb;
	ASSERT_EQ(stat(p, &sb), 0);
	ASSERT_EQ(sb.st_mode & 0777, 0600); /* guest data: owner only */
	ASSERT_EQ(raw_int(p, "PRAGMA user_version"), 1);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	ASSERT_EQ(sqlite3_open(p, &db), SQLITE_OK);
	ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
	ASSERT_STREQ((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);
	static const char *const tables[] = { "targets", "scans", "scan_targets", "results",
					      "findings" };
	for (size_t i = 0; i < 5; i++) {
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
	ASSERT_EQ(raw_int(p, "PRAGMA user_version"), 1);
	st_cleanup();
}

TEST(store_open_newer_schema_enotsup)
{
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

TEST_MAIN()
