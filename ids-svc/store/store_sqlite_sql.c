/*
 * store_sqlite_sql.c — the SQL helpers the SQLite backend's files share: errors mapped to
 * SEVMON_E*, statements, transactions, columns.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "store_sqlite.h"

int sq_err(struct store *s, int rc, const char *what)
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
	case SQLITE_FULL:
		err = SEVMON_EFULL; /* the disk is full: nothing was written, retry when it is not */
		break;
	case SQLITE_IOERR: {
		/* a write that failed for space comes back as an I/O error on some paths */
		struct store_sqlite *q0 = s->impl;
		err = q0 && q0->db && sqlite3_system_errno(q0->db) == ENOSPC ? SEVMON_EFULL : SEVMON_EIO;
		break;
	}
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
		err = SEVMON_EIO;
		break;
	default:
		err = SEVMON_EINTERNAL;
	}
	struct store_sqlite *q = s->impl;
	return store_fail(s, err, "%s: %s", what,
			  q && q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
}

int sq_exec(struct store *s, const char *sql)
{
	int rc = sqlite3_exec(sq_db(s), sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : sq_err(s, rc, "database");
}

int sq_prepare(struct store *s, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(sq_db(s), sql, -1, st, NULL);
	return rc == SQLITE_OK ? 0 : sq_err(s, rc, "prepare");
}

int sq_begin(struct store *s)
{
	return sq_exec(s, "BEGIN IMMEDIATE");
}

int sq_commit(struct store *s)
{
	return sq_exec(s, "COMMIT");
}

void sq_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(sq_db(s)))
		sqlite3_exec(sq_db(s), "ROLLBACK", NULL, NULL, NULL);
}

void sq_col_copy(sqlite3_stmt *st, int col, char *dst, size_t size)
{
	const unsigned char *v = sqlite3_column_text(st, col);
	snprintf(dst, size, "%s", v ? (const char *)v : "");
}

int sq_col_dup(sqlite3_stmt *st, int col, char **out)
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
