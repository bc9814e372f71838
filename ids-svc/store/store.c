/*
 * store.c — the store handle: open (pragmas, writer lock, schema, crash recovery), close,
 * errors, transactions and the validation every other file uses.
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
#include "store_impl.h"

/* How long a call waits for another connection's write lock before SEVMON_EBUSY. Readers
 * never block the writer in WAL mode; only a checkpoint or a second writer can, and a
 * daemon stuck longer than this has a bigger problem than one lost call. */
#define STORE_BUSY_TIMEOUT_MS 5000
/* WAL bytes kept after a checkpoint: a few full payloads' worth. */
#define STORE_WAL_KEEP_STR "67108864"
/* Longest string or row SQLite will hold for us: one payload plus the row's other fields. */
#define STORE_SQLITE_LENGTH_MAX (STORE_PAYLOAD_MAX + (1u << 20))

int store_fail(struct store *s, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	return err;
}

void store_ok(struct store *s)
{
	s->err[0] = '\0';
}

const char *store_last_error(const struct store *s)
{
	return s ? s->err : "no store";
}

int store_sqlerr(struct store *s, int rc, const char *what)
{
	int err;
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		err = SEVMON_EBUSY;
		break;
	case SQLITE_NOMEM:
		err = SEVMON_ENOMEM;
		break;
	case SQLITE_TOOBIG:
		err = SEVMON_ETOOBIG;
		break;
	case SQLITE_CONSTRAINT:
		err = rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE
			      ? SEVMON_EEXIST
			      : SEVMON_EINVAL;
		break;
	case SQLITE_READONLY:
		err = SEVMON_EDENIED;
		break;
	case SQLITE_IOERR:
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_FULL:
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
		err = SEVMON_EIO;
		break;
	default:
		err = SEVMON_EINTERNAL;
	}
	return store_fail(s, err, "%s: %s", what,
			  s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
}

int store_exec(struct store *s, const char *sql)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : store_sqlerr(s, rc, "database");
}

int store_prepare(struct store *s, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
	return rc == SQLITE_OK ? 0 : store_sqlerr(s, rc, "prepare");
}

int store_tx_begin(struct store *s)
{
	return store_exec(s, "BEGIN IMMEDIATE");
}

int store_tx_commit(struct store *s)
{
	return store_exec(s, "COMMIT");
}

void store_tx_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static int64_t real_now(void *arg)
{
	(void)arg;
	return clock_real_ms();
}

int64_t store_now(struct store *s)
{
	return s->clock(s->clock_arg);
}

void store_set_clock(struct store *s, store_clock_fn fn, void *arg)
{
	s->clock = fn ? fn : real_now;
	s->clock_arg = fn ? arg : NULL;
}

void store_set_retention(struct store *s, const struct store_retention *ret)
{
	s->ret = ret ? *ret : (struct store_retention){ 0 };
}

int store_writable(struct store *s)
{
	return s->readonly ? store_fail(s, SEVMON_EDENIED, "store opened read-only") : 0;
}

int store_check_text(struct store *s, const char *what, const char *v, size_t max)
{
	if (!v)
		return store_fail(s, SEVMON_EINVAL, "%s is missing", what);
	size_t len = strnlen(v, max + 1);
	if (len > max)
		return store_fail(s, SEVMON_ETOOBIG, "%s is longer than %zu bytes", what, max);
	/* Everything stored comes back out as JSON strings (REST), which must be UTF-8. */
	json_t *j = json_stringn(v, len);
	if (!j)
		return store_fail(s, SEVMON_EINVAL, "%s is not valid UTF-8", what);
	json_decref(j);
	return 0;
}

int store_check_name(struct store *s, const char *what, const char *v)
{
	int rc = store_check_text(s, what, v, STORE_NAME_MAX);
	if (rc < 0)
		return rc;
	if (!v[0])
		return store_fail(s, SEVMON_EINVAL, "%s is empty", what);
	for (const char *p = v; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return store_fail(s, SEVMON_EINVAL,
					  "%s may only hold A-Z a-z 0-9 . _ - (byte 0x%02x at %zu)",
					  what, (unsigned char)*p, (size_t)(p - v));
	return 0;
}

int store_check_word(struct store *s, const char *what, const char *v, size_t max)
{
	int rc = store_check_text(s, what, v, max);
	if (rc < 0)
		return rc;
	if (!v[0])
		return store_fail(s, SEVMON_EINVAL, "%s is empty", what);
	for (const char *p = v; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return store_fail(s, SEVMON_EINVAL,
					  "%s may only hold a-z 0-9 _ (byte 0x%02x at %zu)", what,
					  (unsigned char)*p, (size_t)(p - v));
	return 0;
}

int store_check_json(struct store *s, const char *what, const char *v, size_t max)
{
	if (!v)
		return 0;
	json_t *j;
	char msg[256];
	int rc = store_json_parse(v, max, &j, msg, sizeof(msg));
	if (rc < 0)
		return store_fail(s, rc, "%s: %s", what, msg);
	json_decref(j);
	return 0;
}

void store_col_copy(sqlite3_stmt *st, int col, char *dst, size_t size)
{
	const unsigned char *v = sqlite3_column_text(st, col);
	snprintf(dst, size, "%s", v ? (const char *)v : "");
}

int store_col_dup(sqlite3_stmt *st, int col, char **out)
{
	*out = NULL;
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return 0;
	const unsigned char *v = sqlite3_column_text(st, col);
	if (!v)
		return SEVMON_ENOMEM;
	*out = strdup((const char *)v);
	return *out ? 0 : SEVMON_ENOMEM;
}

size_t store_cap_limit(size_t limit)
{
	return limit == 0 || limit > STORE_LIST_MAX ? STORE_LIST_MAX : limit;
}

int store_grow(void **v, size_t *cap, size_t cnt, size_t elem)
{
	if (cnt < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 16;
	void *nv = realloc(*v, nc * elem);
	if (!nv)
		return SEVMON_ENOMEM;
	*v = nv;
	*cap = nc;
	return 0;
}

/* The writer lock: see "Threads" in store.h. */
static int take_writer_lock(struct store *s, const char *path)
{
	char lp[4096];
	if (snprintf(lp, sizeof(lp), "%s.lock", path) >= (int)sizeof(lp))
		return store_fail(s, SEVMON_EINVAL, "database path too long");
	s->lock_fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd < 0)
		return store_fail(s, sevmon_from_errno(errno), "cannot open %s: %s", lp,
				  strerror(errno));
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
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
	int rc = store_prepare(s, "UPDATE scans SET status = 'interrupted', finished_at = ?1 "
				  "WHERE status = 'running'", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, store_now(s));
	int sr = sqlite3_step(st);
	sqlite3_finalize(st);
	if (sr != SQLITE_DONE)
		return store_sqlerr(s, sr, "marking interrupted scans");
	return sqlite3_changes(s->db);
}

static int open_db(struct store *s, const char *path)
{
	bool mem = strcmp(path, ":memory:") == 0 || path[0] == '\0';
	int rc;
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
	int sr = sqlite3_open_v2(path, &s->db, of, NULL);
	if (sr != SQLITE_OK)
		return store_sqlerr(s, sr, "open");
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
	sqlite3_limit(s->db, SQLITE_LIMIT_LENGTH, (int)STORE_SQLITE_LENGTH_MAX);
	if (!s->readonly) {
		/* WAL: readers (REST) never block the writer and a crash never tears a commit. */
		sqlite3_stmt *st = NULL;
		if ((rc = store_prepare(s, "PRAGMA journal_mode = WAL", &st)) < 0)
			return rc;
		sr = sqlite3_step(st);
		bool wal = sr == SQLITE_ROW &&
			   strcmp((const char *)sqlite3_column_text(st, 0), mem ? "memory" : "wal") == 0;
		sqlite3_finalize(st);
		if (sr != SQLITE_ROW)
			return store_sqlerr(s, sr, "journal_mode");
		if (!wal)
			return store_fail(s, SEVMON_EIO, "the database refuses WAL mode");
		/* After a checkpoint, cut a WAL that a burst of large results (or a long reader
		 * holding back checkpoints) grew, instead of keeping its high-water mark. */
		if ((rc = store_exec(s, "PRAGMA journal_size_limit = " STORE_WAL_KEEP_STR)) < 0)
			return rc;
	}
	/* NORMAL in WAL mode: a commit survives a process crash; a power cut may lose the
	 * last commits but never corrupts. FULL would fsync every result. */
	if ((rc = store_exec(s, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON")) < 0)
		return rc;
	if ((rc = store_schema_apply(s)) < 0)
		return rc;
	if (s->readonly)
		return 0;
	int n = recover_running(s);
	if (n < 0)
		return n;
	if ((rc = store_retention_run(s)) < 0)
		return rc;
	return n;
}

int store_open(const char *path, unsigned flags, const struct store_retention *ret,
	       struct store **out, char *errmsg, size_t errmsg_len)
{
	*out = NULL;
	if (errmsg && errmsg_len)
		errmsg[0] = '\0';
	if (!path || (flags & ~STORE_OPEN_READONLY)) {
		if (errmsg && errmsg_len)
			snprintf(errmsg, errmsg_len, "bad arguments to store_open");
		return SEVMON_EINVAL;
	}
	struct store *s = calloc(1, sizeof(*s));
	if (!s)
		return SEVMON_ENOMEM;
	s->lock_fd = -1;
	s->readonly = flags & STORE_OPEN_READONLY;
	store_set_clock(s, NULL, NULL);
	store_set_retention(s, ret);
	int rc = open_db(s, path);
	if (rc < 0) {
		if (errmsg && errmsg_len)
			snprintf(errmsg, errmsg_len, "%s", s->err);
		store_close(s);
		return rc;
	}
	store_ok(s);
	*out = s;
	return rc;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	/* Fails only with unfinalized statements, and every call finalizes its own. */
	sqlite3_close(s->db);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s);
}
