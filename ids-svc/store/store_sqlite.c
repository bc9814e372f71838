/*
 * store_sqlite.c — the SQLite backend (store_backend.h): open (pragmas, writer lock,
 * schema, crash recovery), close, and its ops table (one file per table below it).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "store.h"
#include "store_sqlite.h"

/* How long a call waits for another connection's write lock before SEVMON_EBUSY. Readers
 * never block the writer in WAL mode; only a checkpoint or a second writer can, and a
 * daemon stuck longer than this has a bigger problem than one lost call. */
#define STORE_BUSY_TIMEOUT_MS 5000
/* WAL bytes kept after a checkpoint: a few full payloads' worth. */
#define STORE_WAL_KEEP_STR "67108864"
/* Longest string or row SQLite will hold for us: one payload plus the row's other fields. */
#define STORE_SQLITE_LENGTH_MAX (STORE_PAYLOAD_MAX + (1u << 20))

/* The writer lock: see "Threads" in store.h. */
static int take_writer_lock(struct store *s, const char *path)
{
	struct store_sqlite *q = s->impl;
	char lp[4096];
	if (snprintf(lp, sizeof(lp), "%s.lock", path) >= (int)sizeof(lp))
		return store_fail(s, SEVMON_EINVAL, "database path too long");
	q->lock_fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (q->lock_fd < 0)
		return store_fail(s, sevmon_from_errno(errno), "cannot open %s: %s", lp,
				  strerror(errno));
	if (flock(q->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		return store_fail(s, e == EWOULDBLOCK ? SEVMON_EBUSY : sevmon_from_errno(e),
				  "%s: %s", lp,
				  e == EWOULDBLOCK ? "another writer has this database open"
						   : strerror(e));
	}
	return 0;
}

static int recover_running(struct store *s)
{
	sqlite3_stmt *st = NULL;
	int rc = sq_prepare(s, "UPDATE scans SET status = 'interrupted', finished_at = ?1 "
				  "WHERE status = 'running'", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, store_now(s));
	int sr = sqlite3_step(st);
	sqlite3_finalize(st);
	if (sr != SQLITE_DONE)
		return sq_err(s, sr, "marking interrupted scans");
	return sqlite3_changes(sq_db(s));
}

/* "sqlite:PATH", or a plain path (anything without a URI scheme). */
static const char *db_path(const char *database)
{
	return strncmp(database, "sqlite:", 7) == 0 ? database + 7 : database;
}

static int sqlite_claims(const char *database)
{
	return strncmp(database, "sqlite:", 7) == 0 || strstr(database, "://") == NULL;
}

static void sqlite_close(struct store *s)
{
	struct store_sqlite *q = s->impl;
	if (!q)
		return;
	/* Fails only with unfinalized statements, and every call finalizes its own. */
	sqlite3_close(q->db);
	if (q->lock_fd >= 0)
		close(q->lock_fd);
	free(q);
	s->impl = NULL;
}

static int sqlite_open(struct store *s, const char *database)
{
	const char *path = db_path(database);
	bool mem = strcmp(path, ":memory:") == 0 || path[0] == '\0';
	int rc;
	struct store_sqlite *q = calloc(1, sizeof *q);
	if (!q)
		return store_fail(s, SEVMON_ENOMEM, "out of memory");
	q->lock_fd = -1;
	s->impl = q;
	if (!s->readonly && !mem && (rc = take_writer_lock(s, path)) < 0)
		return rc;
	int of = (s->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
		 SQLITE_OPEN_NOMUTEX;
	if (!s->readonly && !mem) {
		/* Results hold guest data (process lists): owner-only. SQLite gives the -wal and
		 * -shm files the mode of the database file. */
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return store_fail(s, sevmon_from_errno(errno), "cannot open %s: %s", path,
					  strerror(errno));
		close(fd);
	}
	int sr = sqlite3_open_v2(path, &q->db, of, NULL);
	if (sr != SQLITE_OK)
		return sq_err(s, sr, "open");
	sqlite3_extended_result_codes(q->db, 1);
	sqlite3_busy_timeout(q->db, STORE_BUSY_TIMEOUT_MS);
	sqlite3_limit(q->db, SQLITE_LIMIT_LENGTH, (int)STORE_SQLITE_LENGTH_MAX);
	if (!s->readonly) {
		/* WAL: readers (REST) never block the writer and a crash never tears a commit. */
		sqlite3_stmt *st = NULL;
		if ((rc = sq_prepare(s, "PRAGMA journal_mode = WAL", &st)) < 0)
			return rc;
		sr = sqlite3_step(st);
		bool wal = sr == SQLITE_ROW &&
			   strcmp((const char *)sqlite3_column_text(st, 0), mem ? "memory" : "wal") == 0;
		sqlite3_finalize(st);
		if (sr != SQLITE_ROW)
			return sq_err(s, sr, "journal_mode");
		if (!wal)
			return store_fail(s, SEVMON_EIO, "the database refuses WAL mode");
		/* After a checkpoint, cut a WAL that a burst of large results (or a long reader
		 * holding back checkpoints) grew, instead of keeping its high-water mark. */
		if ((rc = sq_exec(s, "PRAGMA journal_size_limit = " STORE_WAL_KEEP_STR)) < 0)
			return rc;
	}
	/* NORMAL in WAL mode: a commit survives a process crash; a power cut may lose the
	 * last commits but never corrupts. FULL would fsync every result. */
	if ((rc = sq_exec(s, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON")) < 0)
		return rc;
	if ((rc = sq_schema_apply(s)) < 0)
		return rc;
	if (s->readonly)
		return 0;
	int n = recover_running(s);
	if (n < 0)
		return n;
	if ((rc = sq_fleet_reset(s)) < 0)
		return rc;
	if ((rc = sq_retention_run(s)) < 0)
		return rc;
	return n;
}

const struct store_backend store_sqlite_backend = {
	.name = "sqlite",
	.claims = sqlite_claims,
	.open = sqlite_open,
	.close = sqlite_close,
	.target_upsert = sq_target_upsert,
	.target_remove = sq_target_remove,
	.target_get = sq_target_get,
	.target_list = sq_target_list,
	.target_set_state = sq_target_set_state,
	.scan_begin = sq_scan_begin,
	.scan_finish = sq_scan_finish,
	.scan_get = sq_scan_get,
	.scans_list = sq_scans_list,
	.result_add = sq_result_add,
	.results_list = sq_results_list,
	.result_latest = sq_result_latest,
	.finding_add = sq_finding_add,
	.findings_list = sq_findings_list,
	.retention_run = sq_retention_run,
	.replica_beat = sq_replica_beat,
	.replica_leave = sq_replica_leave,
	.leases_renew = sq_leases_renew,
	.leases_claim = sq_leases_claim,
	.lease_release = sq_lease_release,
	.jobs_claim = sq_jobs_claim,
	.job_finish = sq_job_finish,
};

