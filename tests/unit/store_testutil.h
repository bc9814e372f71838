/*
 * store_testutil.h — helpers shared by the store tests: a fresh database in its own
 * temporary directory (removed at exit), a settable clock, and builders for the check
 * payloads of the store.h contract.
 *
 * Backends: the same tests run against SQLite and PostgreSQL. With SEVMON_TEST_PG set to
 * a server's connection URI (tests/pg/with-pg starts one), every database a test opens
 * (":memory:" or st_db_path()) is a fresh schema of that server instead, so each case
 * starts empty as it does with SQLite. st_pg() says which; a case that pokes at SQLite
 * files skips under PostgreSQL.
 */
#ifndef SEVMON_TEST_STORE_TESTUTIL_H
#define SEVMON_TEST_STORE_TESTUTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "err.h"
#include "harness.h"
#include "store.h"

/* The PostgreSQL server the tests run against, or NULL for SQLite. */
static inline const char *st_pg(void)
{
	const char *u = getenv("SEVMON_TEST_PG");
	return u && u[0] ? u : NULL;
}

/* A fresh schema on the test server; returns a URI whose search_path is it. */
static inline const char *st_pg_fresh(void)
{
	static char uri[1024];
	static unsigned seq;
	char schema[64];
	snprintf(schema, sizeof schema, "t%d_%u", (int)getpid(), seq++);
	PGconn *c = PQconnectdb(st_pg());
	if (PQstatus(c) != CONNECTION_OK)
		FAIL_AT("test server %s: %s", st_pg(), PQerrorMessage(c));
	char sql[256];
	snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema,
		 schema);
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		FAIL_AT("create schema: %s", PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	snprintf(uri, sizeof uri, "%s%soptions=-csearch_path%%3D%s", st_pg(),
		 strchr(st_pg(), '?') ? "&" : "?", schema);
	return uri;
}

/* The diff rule of the checks the tests name, as the check registry's rows give it
 * (ids-svc/checks: ps, modules, banner; test_check_registry.c holds the rows to it). */
static inline enum store_diff_rule st_rule(const char *check)
{
	return !strcmp(check, "ps")	    ? STORE_DIFF_PROCESSES
	       : !strcmp(check, "modules") ? STORE_DIFF_MODULES
	       : !strcmp(check, "banner")  ? STORE_DIFF_BANNER
					   : STORE_DIFF_NONE;
}

static char st_dir[64];
static char st_path[128];

static void st_cleanup(void)
{
	if (st_pg())
		return; /* the server goes with its directory */
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal", ".lock" };
	char p[192];
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", st_path, sfx[i]);
		unlink(p);
	}
	rmdir(st_dir);
}

/* A path for a database that does not exist yet, in a directory of its own. */
static inline const char *st_db_path(void)
{
	if (st_pg())
		return st_pg_fresh();
	snprintf(st_dir, sizeof(st_dir), "/tmp/sevmon-store-XXXXXX");
	if (!mkdtemp(st_dir))
		FAIL_AT("mkdtemp failed");
	snprintf(st_path, sizeof(st_path), "%s/sevmond.db", st_dir);
	atexit(st_cleanup);
	return st_path;
}

static inline struct store *st_open(const char *path, const struct store_retention *ret)
{
	struct store *s = NULL;
	char msg[256];
	if (st_pg() && strcmp(path, ":memory:") == 0)
		path = st_pg_fresh();
	int rc = store_open(path, 0, ret, &s, msg, sizeof(msg));
	if (rc < 0)
		FAIL_AT("store_open(%s): %s: %s", path, sevmon_errname(rc), msg);
	return s;
}

/* A clock the test moves by hand. */
static int64_t st_clock_now = 1700000000000LL;
static inline int64_t st_clock(void *arg)
{
	(void)arg;
	return st_clock_now;
}

/* {"processes":[...],"partial":P} from a string of entries "pid:comm:uid[:k]", ';'-separated,
 * where k marks a kernel thread. Caller frees. */
static inline char *st_ps(const char *entries, int partial)
{
	size_t cap = 256 + strlen(entries) * 40;
	char *out = malloc(cap);
	if (!out)
		FAIL_AT("oom");
	size_t w = (size_t)snprintf(out, cap, "{\"processes\":[");
	char *dup = strdup(entries), *save = NULL;
	int first = 1;
	for (char *e = strtok_r(dup, ";", &save); e; e = strtok_r(NULL, ";", &save)) {
		int pid = 0, uid = 0;
		char comm[32] = "", k[4] = "";
		if (sscanf(e, "%d:%31[^:]:%d:%3s", &pid, comm, &uid, k) < 3)
			FAIL_AT("bad entry %s", e);
		w += (size_t)snprintf(out + w, cap - w,
				      "%s{\"pid\":%d,\"tgid\":%d,\"ppid\":1,\"uid\":%d,\"comm\":\"%s\","
				      "\"kthread\":%s}",
				      first ? "" : ",", pid, pid, uid, comm, k[0] ? "true" : "false");
		first = 0;
	}
	free(dup);
	snprintf(out + w, cap - w, "],\"partial\":%s}", partial ? "true" : "false");
	return out;
}

/* {"modules":[{"name":..,"state":"live"},...],"partial":P} from "a;b;c". Caller frees. */
static inline char *st_mods(const char *names, int partial)
{
	size_t cap = 64 + strlen(names) * 32;
	char *out = malloc(cap);
	if (!out)
		FAIL_AT("oom");
	size_t w = (size_t)snprintf(out, cap, "{\"modules\":[");
	char *dup = strdup(names), *save = NULL;
	int first = 1;
	for (char *e = strtok_r(dup, ";", &save); e; e = strtok_r(NULL, ";", &save)) {
		w += (size_t)snprintf(out + w, cap - w, "%s{\"name\":\"%s\",\"state\":\"live\"}",
				      first ? "" : ",", e);
		first = 0;
	}
	free(dup);
	snprintf(out + w, cap - w, "],\"partial\":%s}", partial ? "true" : "false");
	return out;
}

/* Find a finding of kind with subject in v; NULL if absent. */
static inline const struct store_finding *st_find(const struct store_finding *v, size_t n,
						  const char *kind, const char *subject)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].kind, kind) == 0 && strcmp(v[i].subject, subject) == 0)
			return &v[i];
	return NULL;
}

#endif
