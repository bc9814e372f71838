/* test_store_fleet.c — replicas, leases, fencing, scan jobs and wake-ups (store.h, "the
 * fleet"): SQLite's single-process meaning, and PostgreSQL's shared one (run by
 * tests/pg/with-pg: several handles and processes on one server). */
#include <poll.h>
#include <string.h>
#include <sys/wait.h>

#include "store_testutil.h"

#define TTL 10000

static void add_targets(struct store *s, int n)
{
	for (int i = 0; i < n; i++) {
		char name[16];
		snprintf(name, sizeof name, "t%03d", i);
		ASSERT_EQ(store_target_upsert(s, name, "unix:///x", NULL, NULL), 1);
	}
}

static size_t claim(struct store *s, const char *r, size_t max, struct store_lease **v)
{
	size_t n = 0;
	ASSERT_EQ(store_leases_claim(s, r, TTL, max, v, &n), 0);
	return n;
}

static size_t held(struct store *s, const char *r)
{
	struct store_lease *v = NULL;
	size_t n = 0;
	ASSERT_EQ(store_leases_renew(s, r, TTL, &v, &n), 0);
	free(v);
	return n;
}

/* A second handle on the same database (PostgreSQL only: SQLite has one writer). */
static struct store *other(const char *uri)
{
	return st_open(uri, NULL);
}

TEST(store_fleet_claim_renew_release_one_replica)
{
	struct store *s = st_open(":memory:", NULL);
	add_targets(s, 5);
	struct store_lease *v = NULL;
	ASSERT_EQ(claim(s, "r1", 3, &v), 3);
	ASSERT(v[0].token > 0 && v[1].token > v[0].token - 10);
	ASSERT(v[0].version == 1 && v[0].last_scan_at == 0);
	free(v);
	ASSERT_EQ(claim(s, "r1", 10, &v), 2); /* the rest; what it holds is not taken again */
	free(v);
	ASSERT_EQ(claim(s, "r1", 10, &v), 0);
	ASSERT(v == NULL);
	ASSERT_EQ(held(s, "r1"), 5);
	struct store_target t;
	ASSERT_EQ(store_target_get(s, "t001", &t), 0);
	ASSERT_STREQ(t.owner, "r1");
	ASSERT(t.lease_left_ms > 0 && t.lease_left_ms <= TTL);
	store_target_clear(&t);
	/* a changed target bumps its version; the same row again does not */
	ASSERT_EQ(store_target_upsert(s, "t001", "unix:///y", NULL, NULL), 0);
	ASSERT_EQ(store_target_upsert(s, "t001", "unix:///y", NULL, NULL), 0);
	ASSERT_EQ(store_leases_renew(s, "r1", TTL, &v, &(size_t){ 0 }), 0);
	ASSERT_STREQ(v[1].target, "t001");
	ASSERT_EQ(v[1].version, 2);
	free(v);
	/* a removed target's lease goes with it */
	ASSERT_EQ(store_target_remove(s, "t002"), 0);
	ASSERT_EQ(held(s, "r1"), 4);
	ASSERT_EQ(store_lease_release(s, "r1", "t003"), 1);
	ASSERT_EQ(held(s, "r1"), 3);
	ASSERT_EQ(store_lease_release(s, "r1", "t003"), 0); /* not held: nothing, no error */
	ASSERT_EQ(store_lease_release(s, "r1", NULL), 3);
	ASSERT_EQ(held(s, "r1"), 0);
	ASSERT_EQ(store_target_get(s, "t001", &t), 0);
	ASSERT_STREQ(t.owner, "");
	store_target_clear(&t);
	/* bad arguments */
	ASSERT_EQ(store_leases_claim(s, "bad name", TTL, 1, &v, &(size_t){ 0 }), SEVMON_EINVAL);
	ASSERT_EQ(store_leases_claim(s, "r1", 5, 1, &v, &(size_t){ 0 }), SEVMON_EINVAL);
	ASSERT_EQ(store_leases_renew(s, "r1", STORE_LEASE_MS_MAX + 1, &v, &(size_t){ 0 }),
		  SEVMON_EINVAL);
	store_close(s);
}

TEST(store_fleet_replica_beat_counts_live_and_forgets_expired)
{
	struct store *s = st_open(":memory:", NULL);
	store_set_clock(s, st_clock, NULL);
	add_targets(s, 7);
	struct store_fleet f;
	ASSERT_EQ(store_replica_beat(s, "r1", 1000, &f), 0);
	ASSERT_EQ(f.replicas, 1);
	ASSERT_EQ(f.targets, 7);
	ASSERT_EQ(store_replica_beat(s, "r2", 5000, &f), 0);
	ASSERT_EQ(f.replicas, 2);
	ASSERT_EQ(store_replica_beat(s, "r2", 5000, &f), 0);
	ASSERT_EQ(f.replicas, 2); /* a beat again is not another replica */
	st_clock_now += 2000;    /* r1 missed its time */
	ASSERT_EQ(store_replica_beat(s, "r2", 5000, &f), 0);
	ASSERT_EQ(f.replicas, 1);
	ASSERT_EQ(store_replica_beat(s, "r3", 5000, &f), 0);
	ASSERT_EQ(f.replicas, 2);
	ASSERT_EQ(store_replica_leave(s, "r3"), 0);
	ASSERT_EQ(store_replica_beat(s, "r2", 5000, &f), 0);
	ASSERT_EQ(f.replicas, 1);
	store_close(s);
}

/* Jobs: one per target, claimed by its lease holder, finished; the last finishes the scan. */
TEST(store_fleet_scan_request_jobs_finish_the_scan)
{
	struct store *s = st_open(":memory:", NULL);
	add_targets(s, 3);
	struct store_lease *v = NULL;
	ASSERT_EQ(claim(s, "r1", 3, &v), 3);
	free(v);
	const char *tg[] = { "t000", "t001", "t002" }, *ck[] = { "banner", "ps" };
	int64_t id, own;
	ASSERT_EQ(store_scan_request(s, tg, 2, ck, 2, false, &id), 0);
	ASSERT_EQ(store_scan_request(s, tg + 2, 1, ck, 1, true, &own), 0);
	struct store_job *j = NULL;
	size_t n = 0;
	ASSERT_EQ(store_jobs_claim(s, "r1", 10, &j, &n), 0);
	ASSERT_EQ(n, 3);
	ASSERT_EQ(j[0].scan_id, id);
	ASSERT_STREQ(j[0].target, "t000");
	ASSERT_STREQ(j[0].checks_json, "[\"banner\",\"ps\"]");
	ASSERT_EQ(j[2].scan_id, own);
	ASSERT(j[2].checks_json == NULL); /* the target's own set */
	store_jobs_free(j, n);
	ASSERT_EQ(store_jobs_claim(s, "r1", 10, &j, &n), 0);
	ASSERT_EQ(n, 0); /* claimed once */
	struct store_scan sc;
	ASSERT_EQ(store_scan_get(s, id, &sc), 0);
	ASSERT_EQ(sc.jobs, 2);
	ASSERT_EQ(sc.jobs_done, 0);
	store_scan_clear(&sc);
	ASSERT_EQ(store_job_finish(s, id, "t000", true), 0);
	ASSERT_EQ(store_job_finish(s, id, "t000", true), 0); /* again: nothing changes */
	ASSERT_EQ(store_scan_get(s, id, &sc), 0);
	ASSERT_EQ(sc.status, STORE_SCAN_RUNNING);
	ASSERT_EQ(sc.jobs_done, 1);
	ASSERT_EQ(sc.jobs_failed, 1);
	store_scan_clear(&sc);
	ASSERT_EQ(store_job_finish(s, id, "t001", false), 1); /* the last: the scan finished */
	ASSERT_EQ(store_scan_get(s, id, &sc), 0);
	ASSERT_EQ(sc.status, STORE_SCAN_DONE);
	ASSERT(sc.finished_at > 0);
	ASSERT_EQ(sc.jobs_done, 2);
	store_scan_clear(&sc);
	/* every job failed: the scan failed */
	ASSERT_EQ(store_job_finish(s, own, "t002", true), 1);
	ASSERT_EQ(store_scan_get(s, own, &sc), 0);
	ASSERT_EQ(sc.status, STORE_SCAN_FAILED);
	store_scan_clear(&sc);
	ASSERT_EQ(store_job_finish(s, own, "t000", false), SEVMON_ENOENT);
	ASSERT_EQ(store_job_finish(s, 999, "t000", false), SEVMON_ENOENT);
	store_close(s);
}

TEST(store_fleet_jobs_only_for_held_leases_and_running_scans)
{
	struct store *s = st_open(":memory:", NULL);
	add_targets(s, 2);
	const char *tg[] = { "t000", "t001" }, *ck[] = { "ps" };
	int64_t id, gone;
	ASSERT_EQ(store_scan_request(s, tg, 2, ck, 1, false, &id), 0);
	ASSERT_EQ(store_scan_request(s, tg, 1, ck, 1, false, &gone), 0);
	ASSERT_EQ(store_scan_finish(s, gone, STORE_SCAN_DONE), 0); /* ended by hand */
	struct store_job *j = NULL;
	size_t n = 0;
	ASSERT_EQ(store_jobs_claim(s, "r1", 10, &j, &n), 0);
	ASSERT_EQ(n, 0); /* r1 holds no lease yet */
	struct store_lease *v = NULL;
	ASSERT_EQ(claim(s, "r1", 1, &v), 1);
	ASSERT_STREQ(v[0].target, "t000");
	free(v);
	ASSERT_EQ(store_jobs_claim(s, "r1", 10, &j, &n), 0);
	ASSERT_EQ(n, 1); /* t000's job of the running scan only */
	ASSERT_EQ(j[0].scan_id, id);
	store_jobs_free(j, n);
	/* a release puts the claimed job back: the next holder gets it */
	ASSERT_EQ(store_lease_release(s, "r1", NULL), 1);
	ASSERT_EQ(claim(s, "r2", 10, &v), 2);
	free(v);
	ASSERT_EQ(store_jobs_claim(s, "r2", 10, &j, &n), 0);
	ASSERT_EQ(n, 2);
	store_jobs_free(j, n);
	/* removing a target finishes the scans that waited only for it */
	ASSERT_EQ(store_job_finish(s, id, "t000", false), 0);
	ASSERT_EQ(store_target_remove(s, "t001"), 0);
	struct store_scan sc;
	ASSERT_EQ(store_scan_get(s, id, &sc), 0);
	ASSERT_EQ(sc.status, STORE_SCAN_DONE);
	store_scan_clear(&sc);
	store_close(s);
}

/* A fenced result is recorded only under the lease it names. */
TEST(store_fleet_fenced_result_needs_the_lease)
{
	struct store *s = st_open(":memory:", NULL);
	add_targets(s, 1);
	struct store_lease *v = NULL;
	ASSERT_EQ(claim(s, "r1", 1, &v), 1);
	int64_t tok = v[0].token;
	free(v);
	const char *tg[] = { "t000" }, *ck[] = { "a", "b", "c" };
	int64_t id;
	ASSERT_EQ(store_scan_request(s, tg, 1, ck, 3, false, &id), 0);
	struct store_result_in r = { .target = "t000", .check = "a", .ok = true,
				     .payload_json = "{}", .replica = "r1", .lease_token = tok,
				     .started_at = 12345 };
	ASSERT_EQ(store_result_add(s, id, &r), 0);
	r.check = "b";
	r.lease_token = tok + 1;
	ASSERT_EQ(store_result_add(s, id, &r), SEVMON_EDENIED);
	ASSERT(strstr(store_last_error(s), "lease") != NULL);
	r.replica = "r2";
	r.lease_token = tok;
	ASSERT_EQ(store_result_add(s, id, &r), SEVMON_EDENIED);
	r.replica = "bad name";
	ASSERT_EQ(store_result_add(s, id, &r), SEVMON_EINVAL);
	r.replica = "r1";
	r.lease_token = 0;
	ASSERT_EQ(store_result_add(s, id, &r), SEVMON_EINVAL);
	/* unfenced results (NULL replica) are not checked */
	r.replica = NULL;
	ASSERT_EQ(store_result_add(s, id, &r), 0);
	struct store_result *res = NULL;
	size_t n = 0;
	ASSERT_EQ(store_results_list(s, id, NULL, false, 0, 0, &res, &n), 0);
	ASSERT_EQ(n, 2);
	ASSERT_STREQ(res[0].replica, "r1");
	ASSERT_EQ(res[0].started_at, 12345);
	ASSERT_STREQ(res[1].replica, "");
	ASSERT(res[1].started_at > 0);
	store_results_free(res, n);
	/* after a release, the old token is worthless */
	ASSERT_EQ(store_lease_release(s, "r1", NULL), 1);
	r.check = "c";
	r.replica = "r1";
	r.lease_token = tok;
	ASSERT_EQ(store_result_add(s, id, &r), SEVMON_EDENIED);
	store_close(s);
}

/* SQLite: the writer lock proves the last holder dead, so an open drops every lease and
 * claim, and a claim takes what another name holds. */
TEST(store_fleet_sqlite_open_drops_leases)
{
	if (st_pg())
		SKIP("SQLite's single-process meaning");
	const char *p = st_db_path();
	struct store *s = st_open(p, NULL);
	add_targets(s, 3);
	struct store_lease *v = NULL;
	ASSERT_EQ(claim(s, "r1", 3, &v), 3);
	free(v);
	const char *tg[] = { "t000" }, *ck[] = { "ps" };
	int64_t id;
	ASSERT_EQ(store_scan_request(s, tg, 1, ck, 1, false, &id), 0);
	struct store_job *j = NULL;
	size_t n = 0;
	ASSERT_EQ(store_jobs_claim(s, "r1", 10, &j, &n), 0);
	ASSERT_EQ(n, 1);
	store_jobs_free(j, n);
	ASSERT_EQ(claim(s, "r9", 2, &v), 2); /* another name: it takes them, expiry or not */
	free(v);
	store_close(s);
	ASSERT_EQ(store_open(p, 0, NULL, &s, NULL, 0), 1); /* the scan was interrupted */
	ASSERT_EQ(held(s, "r1"), 0);
	ASSERT_EQ(held(s, "r9"), 0);
	ASSERT_EQ(claim(s, "r2", 10, &v), 3);
	free(v);
	ASSERT_EQ(store_jobs_claim(s, "r2", 10, &j, &n), 0);
	ASSERT_EQ(n, 0); /* its scan is interrupted: no job of it runs again */
	ASSERT_EQ(store_wake_fd(s), -1);
	ASSERT_EQ(store_wake_drain(s), 0);
	ASSERT_EQ(store_round_trips(s), 0);
	store_close(s);
	st_cleanup();
}

/* ---- PostgreSQL: replicas sharing one database ---- */

TEST(store_fleet_pg_leases_are_exclusive_and_expire)
{
	if (!st_pg())
		SKIP("shared leases need the PostgreSQL backend");
	const char *uri = st_db_path();
	struct store *a = st_open(uri, NULL), *b = other(uri);
	store_set_clock(a, st_clock, NULL);
	store_set_clock(b, st_clock, NULL);
	add_targets(a, 4);
	struct store_lease *v = NULL;
	ASSERT_EQ(claim(a, "r1", 3, &v), 3);
	int64_t tok = v[0].token;
	char first[STORE_NAME_MAX + 1];
	snprintf(first, sizeof first, "%s", v[0].target);
	free(v);
	ASSERT_EQ(claim(b, "r2", 10, &v), 1); /* only the free one */
	free(v);
	ASSERT_EQ(claim(b, "r2", 10, &v), 0);
	/* r1 stops renewing: after its lease, r2 takes its targets, with new tokens */
	st_clock_now += TTL + 1;
	ASSERT_EQ(claim(b, "r2", 10, &v), 3);
	ASSERT(v[0].token > tok);
	free(v);
	ASSERT_EQ(held(a, "r1"), 0); /* renewing finds nothing left */
	ASSERT_EQ(held(b, "r2"), 4);
	const char *tg[] = { first }, *ck[] = { "ps" };
	int64_t id;
	ASSERT_EQ(store_scan_request(a, tg, 1, ck, 1, false, &id), 0);
	struct store_result_in r = { .target = first, .check = "ps", .ok = true,
				     .diff = STORE_DIFF_NONE, .payload_json = "{}",
				     .replica = "r1", .lease_token = tok };
	ASSERT_EQ(store_result_add(a, id, &r), SEVMON_EDENIED); /* fenced off */
	/* a lease renewed in time is not taken */
	ASSERT_EQ(store_lease_release(b, "r2", NULL), 4);
	ASSERT_EQ(claim(a, "r1", 10, &v), 4);
	free(v);
	st_clock_now += TTL / 2;
	ASSERT_EQ(held(a, "r1"), 4);
	st_clock_now += TTL / 2 + 1;
	ASSERT_EQ(claim(b, "r2", 10, &v), 0);
	ASSERT(store_round_trips(a) > 0);
	store_close(a);
	store_close(b);
}

/* A dead holder's claimed, unfinished jobs go to whoever claims its lease next. */
TEST(store_fleet_pg_claim_requeues_the_last_holders_jobs)
{
	if (!st_pg())
		SKIP("shared leases need the PostgreSQL backend");
	const char *uri = st_db_path();
	struct store *a = st_open(uri, NULL), *b = other(uri);
	store_set_clock(a, st_clock, NULL);
	store_set_clock(b, st_clock, NULL);
	add_targets(a, 1);
	struct store_lease *v = NULL;
	ASSERT_EQ(claim(a, "r1", 1, &v), 1);
	free(v);
	const char *tg[] = { "t000" }, *ck[] = { "ps" };
	int64_t id;
	ASSERT_EQ(store_scan_request(a, tg, 1, ck, 1, false, &id), 0);
	struct store_job *j = NULL;
	size_t n = 0;
	ASSERT_EQ(store_jobs_claim(a, "r1", 10, &j, &n), 0);
	ASSERT_EQ(n, 1);
	store_jobs_free(j, n);
	/* r1 dies with the job claimed; its lease expires; r2 takes it, and the job */
	st_clock_now += TTL + 1;
	ASSERT_EQ(claim(b, "r2", 10, &v), 1);
	free(v);
	ASSERT_EQ(store_jobs_claim(b, "r2", 10, &j, &n), 0);
	ASSERT_EQ(n, 1);
	ASSERT_EQ(j[0].scan_id, id);
	store_jobs_free(j, n);
	ASSERT_EQ(store_job_finish(b, id, "t000", false), 1);
	store_close(a);
	store_close(b);
}

/* Processes claiming at once never take the same lease (FOR UPDATE SKIP LOCKED). */
TEST(store_fleet_pg_concurrent_claims_are_disjoint)
{
	if (!st_pg())
		SKIP("shared leases need the PostgreSQL backend");
	const char *uri = st_db_path();
	struct store *s = st_open(uri, NULL);
	add_targets(s, 300);
	store_close(s);
	enum { KIDS = 4 };
	pid_t kid[KIDS];
	for (int k = 0; k < KIDS; k++) {
		kid[k] = fork();
		ASSERT(kid[k] >= 0);
		if (kid[k] == 0) {
			struct store *c = st_open(uri, NULL);
			char me[8];
			snprintf(me, sizeof me, "k%d", k);
			size_t got = 0;
			for (int round = 0; round < 40; round++) {
				struct store_lease *v = NULL;
				size_t n = 0;
				if (store_leases_claim(c, me, TTL, 5, &v, &n) < 0)
					_exit(2);
				free(v);
				got += n;
			}
			store_close(c);
			_exit(got > 0 ? 0 : 3);
		}
	}
	for (int k = 0; k < KIDS; k++) {
		int st;
		ASSERT_EQ(waitpid(kid[k], &st, 0), kid[k]);
		ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	s = st_open(uri, NULL);
	size_t total = 0;
	for (int k = 0; k < KIDS; k++) {
		char me[8];
		snprintf(me, sizeof me, "k%d", k);
		total += held(s, me);
	}
	ASSERT_EQ(total, 300); /* every target once: a lease row has one owner */
	store_close(s);
}

/* A scan requested through one handle is seen, claimed and finished through others. */
TEST(store_fleet_pg_jobs_across_replicas_with_wakeup)
{
	if (!st_pg())
		SKIP("wake-ups need the PostgreSQL backend");
	const char *uri = st_db_path();
	struct store *a = st_open(uri, NULL), *b = other(uri), *c = other(uri);
	add_targets(a, 2);
	struct store_lease *v = NULL;
	ASSERT_EQ(claim(b, "rb", 1, &v), 1);
	free(v);
	ASSERT_EQ(claim(c, "rc", 1, &v), 1);
	free(v);
	int fd = store_wake_fd(b);
	ASSERT(fd >= 0);
	ASSERT_EQ(store_wake_drain(b), 0);
	const char *tg[] = { "t000", "t001" }, *ck[] = { "ps" };
	int64_t id;
	ASSERT_EQ(store_scan_request(a, tg, 2, ck, 1, false, &id), 0);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ASSERT_EQ(poll(&pfd, 1, 5000), 1);
	int mask = 0;
	for (int i = 0; i < 50 && !(mask & STORE_WAKE_JOBS); i++) {
		int m = store_wake_drain(b);
		ASSERT(m >= 0);
		mask |= m;
		if (!(mask & STORE_WAKE_JOBS))
			poll(&pfd, 1, 100);
	}
	ASSERT(mask & STORE_WAKE_JOBS);
	struct store_job *j = NULL;
	size_t n = 0;
	ASSERT_EQ(store_jobs_claim(b, "rb", 10, &j, &n), 0);
	ASSERT_EQ(n, 1);
	char bt[STORE_NAME_MAX + 1];
	snprintf(bt, sizeof bt, "%s", j[0].target);
	store_jobs_free(j, n);
	ASSERT_EQ(store_jobs_claim(c, "rc", 10, &j, &n), 0);
	ASSERT_EQ(n, 1);
	ASSERT(strcmp(j[0].target, bt) != 0);
	char ct[STORE_NAME_MAX + 1];
	snprintf(ct, sizeof ct, "%s", j[0].target);
	store_jobs_free(j, n);
	ASSERT_EQ(store_job_finish(b, id, bt, false), 0);
	ASSERT_EQ(store_job_finish(c, id, ct, false), 1);
	struct store_scan sc;
	ASSERT_EQ(store_scan_get(a, id, &sc), 0); /* progress read through a third handle */
	ASSERT_EQ(sc.status, STORE_SCAN_DONE);
	ASSERT_EQ(sc.jobs_done, 2);
	store_scan_clear(&sc);
	/* a release wakes the others too */
	ASSERT_EQ(store_lease_release(c, "rc", NULL), 1);
	ASSERT_EQ(poll(&pfd, 1, 5000), 1);
	mask = 0;
	for (int i = 0; i < 50 && !(mask & STORE_WAKE_FLEET); i++) {
		mask |= store_wake_drain(b);
		if (!(mask & STORE_WAKE_FLEET))
			poll(&pfd, 1, 100);
	}
	ASSERT(mask & STORE_WAKE_FLEET);
	store_close(a);
	store_close(b);
	store_close(c);
}

/* Many handles finishing jobs of one scan at once: it finishes exactly once. */
TEST(store_fleet_pg_last_job_finishes_the_scan_once)
{
	if (!st_pg())
		SKIP("concurrent replicas need the PostgreSQL backend");
	const char *uri = st_db_path();
	struct store *s = st_open(uri, NULL);
	enum { N = 40, KIDS = 4 };
	add_targets(s, N);
	const char *tg[N];
	char names[N][16];
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof names[i], "t%03d", i);
		tg[i] = names[i];
	}
	const char *ck[] = { "ps" };
	int64_t id;
	ASSERT_EQ(store_scan_request(s, tg, N, ck, 1, false, &id), 0);
	store_close(s);
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	for (int k = 0; k < KIDS; k++) {
		pid_t pid = fork();
		ASSERT(pid >= 0);
		if (pid == 0) {
			struct store *c = st_open(uri, NULL);
			int finished = 0;
			for (int i = k; i < N; i += KIDS) {
				int rc = store_job_finish(c, id, tg[i], false);
				if (rc < 0)
					_exit(2);
				finished += rc;
			}
			char b = (char)('0' + finished);
			if (write(p[1], &b, 1) != 1)
				_exit(3);
			store_close(c);
			_exit(0);
		}
	}
	close(p[1]);
	int total = 0;
	char b;
	while (read(p[0], &b, 1) == 1)
		total += b - '0';
	close(p[0]);
	while (wait(NULL) > 0)
		;
	ASSERT_EQ(total, 1);
	s = st_open(uri, NULL);
	struct store_scan sc;
	ASSERT_EQ(store_scan_get(s, id, &sc), 0);
	ASSERT_EQ(sc.status, STORE_SCAN_DONE);
	ASSERT_EQ(sc.jobs_done, N);
	store_scan_clear(&sc);
	store_close(s);
}

TEST(store_fleet_pg_unreachable_server_is_ebusy)
{
	if (!st_pg())
		SKIP("a server backend");
	struct store *s = NULL;
	char msg[256];
	ASSERT_EQ(store_open("postgresql:///x?host=/nonexistent-sevmon-dir", 0, NULL, &s, msg,
			     sizeof msg),
		  SEVMON_EBUSY);
	ASSERT(s == NULL);
	ASSERT(strstr(msg, "unreachable") != NULL);
}

TEST_MAIN()
