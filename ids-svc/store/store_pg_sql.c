/*
 * store_pg_sql.c — the SQL helpers the PostgreSQL backend's files share: the connection
 * (made with bounded timeouts, re-made with backoff), statements with parameters, errors
 * mapped from SQLSTATE to SEVMON_E*, transactions, columns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "store_pg.h"

/* Bounds on what one call may cost its caller (sevmond calls the store on its event
 * loop): a connect attempt, one statement, one lock wait. A healthy server answers in
 * well under a millisecond; these only bound a sick one. */
#define PG_CONNECT_TIMEOUT_S "3"
#define PG_SESSION_OPTIONS                                                              \
	"-c statement_timeout=10000 -c lock_timeout=5000 "                                \
	"-c idle_in_transaction_session_timeout=60000"
/* A server that stops answering on an open TCP connection is given up after this long
 * (keepalives and the kernel's user timeout), not after the kernel's default of minutes. */
#define PG_TCP_USER_TIMEOUT_MS "10000"

void pp_text(struct pg_params *p, const char *v)
{
	p->v[p->n] = v;
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

void pp_int(struct pg_params *p, int64_t v)
{
	snprintf(p->num[p->n], sizeof p->num[p->n], "%lld", (long long)v);
	pp_text(p, p->num[p->n]);
}

void pp_bin(struct pg_params *p, const void *v, size_t len)
{
	p->v[p->n] = v;
	p->len[p->n] = (int)len;
	p->fmt[p->n] = 1;
	p->n++;
}

void pp_now(struct pg_params *p, struct store *s)
{
	if (s->test_clock)
		pp_int(p, store_now(s));
	else
		pp_text(p, NULL);
}

PGconn *pg_connect(const char *conninfo, char *why, size_t whylen)
{
	/* Ours first: the connection string may override any of them. */
	static const char *const keys[] = { "connect_timeout", "application_name",
					    "client_encoding", "keepalives", "keepalives_idle",
					    "keepalives_interval", "keepalives_count",
					    "tcp_user_timeout", "options", "dbname", NULL };
	const char *vals[] = { PG_CONNECT_TIMEOUT_S, "sevmond", "UTF8", "1", "10", "5", "3",
			       PG_TCP_USER_TIMEOUT_MS, PG_SESSION_OPTIONS, conninfo, NULL };
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	if (!c) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		const char *m = PQerrorMessage(c);
		size_t n = strcspn(m, "\n");
		snprintf(why, whylen, "%.*s", (int)(n < 200 ? n : 200), m);
		PQfinish(c);
		return NULL;
	}
	return c;
}

int pg_ensure(struct store *s)
{
	struct store_pg *q = pg_of(s);
	if (q->c && PQstatus(q->c) == CONNECTION_OK)
		return 0;
	if (q->c) {
		PQfinish(q->c);
		q->c = NULL;
	}
	int64_t now = clock_mono_ms();
	if (now < q->retry_at)
		return store_fail(s, SEVMON_EBUSY, "database unreachable (retry in %lld ms): %s",
				  (long long)(q->retry_at - now), q->last_err);
	q->c = pg_connect(q->conninfo, q->last_err, sizeof q->last_err);
	s->round_trips++;
	if (!q->c) {
		q->backoff_ms = q->backoff_ms ? q->backoff_ms * 2 : PG_BACKOFF_MIN_MS;
		if (q->backoff_ms > PG_BACKOFF_MAX_MS)
			q->backoff_ms = PG_BACKOFF_MAX_MS;
		q->retry_at = now + q->backoff_ms;
		return store_fail(s, SEVMON_EBUSY, "database unreachable: %s", q->last_err);
	}
	q->backoff_ms = 0;
	q->retry_at = 0;
	return 0;
}

/* SQLSTATE classes and codes (PostgreSQL's errcodes) to what store.h promises. */
static int map_state(const char *st)
{
	if (!st)
		return SEVMON_EBUSY; /* no server answer: the connection broke */
	if (!strcmp(st, "23505"))
		return SEVMON_EEXIST; /* unique_violation */
	if (!strncmp(st, "23", 2) || !strncmp(st, "22", 2))
		return SEVMON_EINVAL; /* integrity, data exceptions */
	if (!strcmp(st, "40001") || !strcmp(st, "40P01") || !strcmp(st, "55P03") ||
	    !strcmp(st, "57014") || !strncmp(st, "08", 2) || !strncmp(st, "57P", 3) ||
	    !strcmp(st, "53300"))
		return SEVMON_EBUSY; /* serialization, deadlock, lock/statement timeout,
				      * connection, shutdown, too many connections */
	if (!strcmp(st, "53200"))
		return SEVMON_ENOMEM;
	if (!strcmp(st, "53100"))
		return SEVMON_EFULL; /* disk_full */
	if (!strcmp(st, "54000"))
		return SEVMON_ETOOBIG;
	if (!strcmp(st, "25006") || !strncmp(st, "42501", 5))
		return SEVMON_EDENIED; /* read-only transaction, insufficient privilege */
	return SEVMON_EIO;
}

int pg_run(struct store *s, const char *sql, struct pg_params *p, int binary, PGresult **res,
	   const char *what)
{
	if (res)
		*res = NULL;
	int rc = pg_ensure(s);
	if (rc < 0)
		return rc;
	struct store_pg *q = pg_of(s);
	s->round_trips++;
	/* without parameters, the simple protocol: it takes several statements at once */
	PGresult *r = !p && !binary ? PQexec(q->c, sql)
				    : PQexecParams(q->c, sql, p ? p->n : 0, NULL, p ? p->v : NULL,
						   p ? p->len : NULL, p ? p->fmt : NULL, binary);
	ExecStatusType es = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK) {
		if (res)
			*res = r;
		else
			PQclear(r);
		return 0;
	}
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (!msg)
		msg = PQerrorMessage(q->c);
	size_t mlen = strcspn(msg, "\n");
	int err = map_state(state);
	if (!state && !r)
		err = SEVMON_ENOMEM;
	rc = store_fail(s, err, "%s: %.*s", what, (int)(mlen < 300 ? mlen : 300), msg);
	PQclear(r);
	if (PQstatus(q->c) != CONNECTION_OK) {
		/* the server went away: the next call reconnects (at once: a restart is quick) */
		snprintf(q->last_err, sizeof q->last_err, "connection lost");
		PQfinish(q->c);
		q->c = NULL;
		rc = store_fail(s, SEVMON_EBUSY, "%s: database connection lost", what);
	}
	return rc;
}

int pg_begin(struct store *s)
{
	return pg_run(s, "BEGIN", NULL, 0, NULL, "begin");
}

int pg_commit(struct store *s)
{
	return pg_run(s, "COMMIT", NULL, 0, NULL, "commit");
}

void pg_rollback(struct store *s)
{
	struct store_pg *q = pg_of(s);
	if (!q->c || PQtransactionStatus(q->c) == PQTRANS_IDLE)
		return;
	char keep[STORE_ERRMSG_MAX];
	memcpy(keep, s->err, sizeof keep); /* the failure's message, not the rollback's */
	(void)pg_run(s, "ROLLBACK", NULL, 0, NULL, "rollback");
	memcpy(s->err, keep, sizeof keep);
}

int64_t pg_changes(PGresult *r)
{
	const char *t = r ? PQcmdTuples(r) : "";
	return t[0] ? strtoll(t, NULL, 10) : 0;
}

void pg_col_copy(PGresult *r, int row, int col, char *dst, size_t size)
{
	snprintf(dst, size, "%s", PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

int pg_col_dup(PGresult *r, int row, int col, char **out)
{
	*out = NULL;
	if (PQgetisnull(r, row, col))
		return 0;
	*out = strdup(PQgetvalue(r, row, col));
	return *out ? 0 : SEVMON_ENOMEM;
}

int64_t pg_col_int(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int pg_col_bool(PGresult *r, int row, int col)
{
	return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}
