/* test_store_retention.c — old scans go with their results and findings, per target. */
#include <string.h>

#include "store_testutil.h"

static int64_t count(struct store *s, int64_t scan, const char *target, bool findings)
{
	if (findings) {
		struct store_finding_filter f = { .scan_id = scan, .target = target };
		struct store_finding *v = NULL;
		size_t n = 0;
		ASSERT_EQ(store_findings_list(s, &f, &v, &n), 0);
		store_findings_free(v, n);
		return (int64_t)n;
	}
	struct store_result *v = NULL;
	size_t n = 0;
	int rc = store_results_list(s, scan, target, false, 0, 0, &v, &n);
	if (rc == SEVMON_ENOENT)
		return -1; /* the scan itself is gone */
	ASSERT_EQ(rc, 0);
	store_results_free(v, n);
	return (int64_t)n;
}

/* One finished scan of targets tg[0..nt) whose ps differs from the last one by one new
 * process, so each (scan, target) has one result and (after the first) one finding. */
static int64_t scan_once(struct store *s, const char *const *tg, size_t nt, int round)
{
	const char *ck[] = { "ps" };
	int64_t id;
	ASSERT_EQ(store_scan_begin(s, tg, nt, ck, 1, &id), 0);
	char entries[64];
	snprintf(entries, sizeof(entries), "1:init:0;%d:job:1000", 100 + round);
	char *ps = st_ps(entries, 0);
	for (size_t i = 0; i < nt; i++) {
		struct store_result_in r = { .target = tg[i], .check = "ps", .ok = true, .diff = STORE_DIFF_PROCESSES,
					     .payload_json = ps };
		ASSERT(store_result_add(s, id, &r) >= 0);
	}
	free(ps);
	st_clock_now += 1000;
	ASSERT_EQ(store_scan_finish(s, id, STORE_SCAN_DONE), 0);
	return id;
}

TEST(store_retention_keep_scans_per_target)
{
	struct store_retention ret = { .keep_scans = 2 };
	struct store *s = st_open(":memory:", &ret);
	store_set_clock(s, st_clock, NULL);
	ASSERT_EQ(store_target_upsert(s, "a", "unix:///a", NULL, NULL), 1);
	ASSERT_EQ(store_target_upsert(s, "b", "unix:///b", NULL, NULL), 1);
	const char *ab[] = { "a", "b" }, *a[] = { "a" };
	int64_t s1 = scan_once(s, ab, 2, 1); /* a and b */
	int64_t s2 = scan_once(s, a, 1, 2);
	ASSERT_EQ(count(s, s2, "a", true), 2); /* vanished 101, appeared 102 */
	int64_t s3 = scan_once(s, a, 1, 3);
	/* a has 3 scans now: (s1, a) goes; (s1, b) stays, b's only scan */
	ASSERT_EQ(count(s, s1, "a", false), 0);
	ASSERT_EQ(count(s, s1, "b", false), 1);
	ASSERT_EQ(count(s, s2, "a", false), 1);
	ASSERT_EQ(count(s, s3, "a", false), 1);
	struct store_scan sc;
	ASSERT_EQ(store_scan_get(s, s1, &sc), 0); /* still there for b */
	store_scan_clear(&sc);
	int64_t s4 = scan_once(s, a, 1, 4);
	ASSERT_EQ(count(s, s2, "a", false), -1); /* whole scan gone */
	ASSERT_EQ(count(s, s2, "a", true), 0);   /* with its findings */
	ASSERT_EQ(count(s, s3, "a", true), 2);
	ASSERT_EQ(count(s, s4, "a", true), 2);
	struct store_scan *v = NULL;
	size_t n = 0;
	ASSERT_EQ(store_scans_list(s, "a", 0, 0, &v, &n), 0);
	ASSERT_EQ(n, 2);
	ASSERT_EQ(v[0].id, s4);
	ASSERT_EQ(v[1].id, s3);
	store_scans_free(v, n);
	ASSERT_EQ(store_scans_list(s, NULL, 0, 0, &v, &n), 0);
	ASSERT_EQ(n, 3); /* s4, s3, and s1 for b */
	store_scans_free(v, n);
	store_close(s);
}

TEST(store_retention_never_touches_running_scans)
{
	struct store_retention ret = { .keep_scans = 1 };
	struct store *s = st_open(":memory:", &ret);
	ASSERT_EQ(store_target_upsert(s, "a", "unix:///a", NULL, NULL), 1);
	const char *a[] = { "a" }, *ck[] = { "ps" };
	int64_t running;
	ASSERT_EQ(store_scan_begin(s, a, 1, ck, 1, &running), 0);
	int64_t s2 = scan_once(s, a, 1, 2);
	int64_t s3 = scan_once(s, a, 1, 3);
	struct store_scan sc;
	ASSERT_EQ(store_scan_get(s, running, &sc), 0);
	ASSERT_EQ(sc.status, STORE_SCAN_RUNNING);
	store_scan_clear(&sc);
	ASSERT_EQ(count(s, s2, "a", false), -1);
	ASSERT_EQ(count(s, s3, "a", false), 1);
	/* the running scan still takes results and diffs them against the kept baseline */
	char *ps = st_ps("1:init:0;103:job:1000;7:new:1000", 0);
	struct store_result_in r = { .target = "a", .check = "ps", .ok = true, .diff = STORE_DIFF_PROCESSES, .payload_json = ps };
	ASSERT_EQ(store_result_add(s, running, &r), 1);
	free(ps);
	store_close(s);
}

TEST(store_retention_max_age_deletes_old_scans_and_findings)
{
	struct store_retention ret = { .max_age_ms = 10000 };
	struct store *s = st_open(":memory:", &ret);
	store_set_clock(s, st_clock, NULL);
	ASSERT_EQ(store_target_upsert(s, "a", "unix:///a", NULL, NULL), 1);
	const char *a[] = { "a" };
	int64_t s1 = scan_once(s, a, 1, 1);
	ASSERT(store_finding_add(s, 0, "a", STORE_SEV_HIGH, "attestation_failed", "a", NULL) > 0);
	st_clock_now += 5000;
	int64_t s2 = scan_once(s, a, 1, 2);
	ASSERT_EQ(count(s, s1, "a", false), 1); /* 6 s old: kept */
	st_clock_now += 6000;
	ASSERT(store_retention_run(s) > 0);     /* s1 is 12 s old now */
	ASSERT_EQ(count(s, s1, "a", false), -1);
	ASSERT_EQ(count(s, s2, "a", false), 1);
	ASSERT_EQ(count(s, s2, "a", true), 2);
	struct store_finding_filter f = { .min_severity = STORE_SEV_HIGH };
	struct store_finding *v = NULL;
	size_t n = 0;
	ASSERT_EQ(store_findings_list(s, &f, &v, &n), 0);
	ASSERT_EQ(n, 0); /* the scan-less finding aged out too */
	ASSERT_EQ(store_retention_run(s), 0); /* nothing left to do */
	store_close(s);
}

TEST(store_retention_none_keeps_everything)
{
	struct store *s = st_open(":memory:", NULL);
	store_set_clock(s, st_clock, NULL);
	ASSERT_EQ(store_target_upsert(s, "a", "unix:///a", NULL, NULL), 1);
	const char *a[] = { "a" };
	for (int i = 0; i < 5; i++)
		scan_once(s, a, 1, i);
	struct store_scan *v = NULL;
	size_t n = 0;
	ASSERT_EQ(store_scans_list(s, "a", 0, 0, &v, &n), 0);
	ASSERT_EQ(n, 5);
	store_scans_free(v, n);
	/* and limits set later apply from the next run */
	store_set_retention(s, &(struct store_retention){ .keep_scans = 3 });
	ASSERT(store_retention_run(s) > 0);
	ASSERT_EQ(store_scans_list(s, "a", 0, 0, &v, &n), 0);
	ASSERT_EQ(n, 3);
	store_scans_free(v, n);
	store_close(s);
}

TEST_MAIN()
