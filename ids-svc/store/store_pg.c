/*
 * store_pg.c — the PostgreSQL backend (store_backend.h): open (connection, schema),
 * close, wake-ups (LISTEN on a second connection), and its ops table (one file per table
 * below it). Many handles, in many processes, share one database: every op is one
 * transaction, and what two replicas could race on is decided by row locks (leases,
 * jobs, a scan's row while its jobs finish) or by unique keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "store.h"
#include "store_pg.h"

/* The channels sevmond's replicas NOTIFY on (store.h, STORE_WAKE_*). */
#define PG_CHAN_JOBS "sevmon_jobs"
#define PG_CHAN_FLEET "sevmon_fleet"

static int pg_claims(const char *database)
{
	return strncmp(database, "postgresql://", 13) == 0 ||
	       strncmp(database, "postgres://", 11) == 0;
}

static void pg_close(struct store *s)
{
	struct store_pg *q = pg_of(s);
	if (!q)
		return;
	if (q->c)
		PQfinish(q->c);
	if (q->lc)
		PQfinish(q->lc);
	explicit_bzero(q->conninfo, sizeof q->conninfo); /* it may hold a password */
	free(q);
	s->impl = NULL;
}

static int pg_open(struct store *s, const char *database)
{
	struct store_pg *q = calloc(1, sizeof *q);
	if (!q)
		return store_fail(s, SEVMON_ENOMEM, "out of memory");
	s->impl = q;
	if (strlen(database) >= sizeof q->conninfo)
		return store_fail(s, SEVMON_ETOOBIG, "connection string longer than %zu bytes",
				  sizeof q->conninfo - 1);
	memcpy(q->conninfo, database, strlen(database) + 1);
	int rc;
	if ((rc = pg_ensure(s)) < 0)
		return rc;
	if (s->readonly && (rc = pg_run(s, "SET default_transaction_read_only = on", NULL, 0,
					NULL, "read-only")) < 0)
		return rc;
	/* nothing is marked interrupted: other replicas may be running those scans */
	return pg_schema_apply(s);
}

/* The LISTEN connection, (re)made when the backoff allows; 0 or EBUSY. */
static int listen_ensure(struct store *s)
{
	struct store_pg *q = pg_of(s);
	if (q->lc && PQstatus(q->lc) == CONNECTION_OK)
		return 0;
	if (q->lc) {
		PQfinish(q->lc);
		q->lc = NULL;
	}
	int64_t now = clock_mono_ms();
	if (now < q->lretry_at)
		return SEVMON_EBUSY;
	char why[256];
	PGconn *c = pg_connect(q->conninfo, why, sizeof why);
	s->round_trips++;
	PGresult *r = c ? PQexec(c, "LISTEN " PG_CHAN_JOBS "; LISTEN " PG_CHAN_FLEET) : NULL;
	s->round_trips += c != NULL;
	int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK && PQsetnonblocking(c, 1) == 0;
	PQclear(r);
	if (!ok) {
		if (c)
			PQfinish(c);
		q->lbackoff_ms = q->lbackoff_ms ? q->lbackoff_ms * 2 : PG_BACKOFF_MIN_MS;
		if (q->lbackoff_ms > PG_BACKOFF_MAX_MS)
			q->lbackoff_ms = PG_BACKOFF_MAX_MS;
		q->lretry_at = now + q->lbackoff_ms;
		return store_fail(s, SEVMON_EBUSY, "database unreachable: %s", c ? "LISTEN" : why);
	}
	q->lbackoff_ms = 0;
	q->lc = c;
	return 0;
}

static int pg_wake_fd(struct store *s)
{
	if (s->readonly || listen_ensure(s) < 0)
		return -1;
	return PQsocket(pg_of(s)->lc);
}

static int pg_wake_drain(struct store *s)
{
	struct store_pg *q = pg_of(s);
	if (!q->lc)
		return 0;
	if (PQconsumeInput(q->lc) == 0 || PQstatus(q->lc) != CONNECTION_OK) {
		PQfinish(q->lc);
		q->lc = NULL;
		return store_fail(s, SEVMON_EBUSY, "database wake-up connection lost");
	}
	int mask = 0;
	PGnotify *n;
	while ((n = PQnotifies(q->lc)) != NULL) {
		mask |= !strcmp(n->relname, PG_CHAN_JOBS) ? (int)STORE_WAKE_JOBS : (int)STORE_WAKE_FLEET;
		PQfreemem(n);
	}
	return mask;
}

const struct store_backend store_pg_backend = {
	.name = "postgresql",
	.claims = pg_claims,
	.open = pg_open,
	.close = pg_close,
	.target_upsert = pg_target_upsert,
	.target_remove = pg_target_remove,
	.target_get = pg_target_get,
	.target_list = pg_target_list,
	.target_set_state = pg_target_set_state,
	.scan_begin = pg_scan_begin,
	.scan_finish = pg_scan_finish,
	.scan_get = pg_scan_get,
	.scans_list = pg_scans_list,
	.result_add = pg_result_add,
	.results_list = pg_results_list,
	.result_latest = pg_result_latest,
	.finding_add = pg_finding_add,
	.findings_list = pg_findings_list,
	.retention_run = pg_retention_run,
	.replica_beat = pg_replica_beat,
	.replica_leave = pg_replica_leave,
	.leases_renew = pg_leases_renew,
	.leases_claim = pg_leases_claim,
	.lease_release = pg_lease_release,
	.jobs_claim = pg_jobs_claim,
	.job_finish = pg_job_finish,
	.wake_fd = pg_wake_fd,
	.wake_drain = pg_wake_drain,
};
