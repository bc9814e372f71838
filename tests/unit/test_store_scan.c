/* test_store_scan.c — scans, results, findings: the write path, its diffs, its errors,
 * and a writer killed mid-scan. */
#include <signal.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store_testutil.h"

static struct store *two_targets(void)
{
	struct store *s = st_open(":memory:", NULL);
	ASSERT_EQ(store_target_upsert(s, "a", "unix:///a", NULL, NULL), 1);
	ASSERT_EQ(store_target_upsert(s, "b", "unix:///b", NULL, NULL), 1);
	return s;
}

static int64_t begin(struct store *s, const char *target)
{
	const char *ck[] = { "banner", "ps", "modules" };
	int64_t id = 0;
	int rc = store_scan_begin(s, &target, 1, ck, 3, &id);
	if (rc < 0)
		FAIL_AT("scan_begin: %s", store_last_error(s));
	ASSERT(id > 0);
	return id;
}

static int add(struct store *s, int64_t scan, const char *target, const char *check,
	       const char *payload)
{
	struct store_result_in r = { .target = target, .check = check, .ok = true,
				     .diff = st_rule(check), .payload_json = payload,
				     .duration_ms = 12, .requests = 3, .bytes = 4096 };
	return store_result_add(s, scan, &r);
}

TEST(store_scan_begin_add_finish_roundtrip)
{
	struct store *s = two_targets();
	store_set_clock(s, st_clock, NULL);
	const char *tg[] = { "a", "b" }, *ck[] = { "banner", "ps" };
	int64_t id;
	ASSERT_EQ(store_scan_begin(s, tg, 2, ck, 2, &id), 0);
	struct store_scan sc;
	ASSERT_EQ(store_scan_get(s, id, &sc), 0);
	ASSERT_EQ(sc.status, STORE_SCAN_RUNNING);
	ASSERT_EQ(sc.finished_at, 0);
	ASSERT_STREQ(sc.targets_json, "[\"a\",\"b\"]");
	ASSERT_STREQ(sc.checks_json, "[\"banner\",\"ps\"]");
	store_scan_clear(&sc);
	ASSERT_EQ(add(s, id, "b", "banner", "{\"banner\":\"Linux version 6.1\"}"), 0);
	ASSERT_EQ(add(s, id, "a", "banner", "{\"banner\":\"Linux version 6.1\"}"), 0);
	struct store_result_in err = { .target = "a", .check = "ps", .ok = false,
				       .error = "ETIMEDOUT: deadline exceeded", .duration_ms = 5000 };
	ASSERT_EQ(store_result_add(s, id, &err), 0);
	st_clock_now += 777;
	ASSERT_EQ(store_scan_finish(s, id, STORE_SCAN_DONE), 0);
	ASSERT_EQ(store_scan_get(s, id, &sc), 0);
	ASSERT_EQ(sc.status, STORE_SCAN_DONE);
	ASSERT_EQ(sc.finished_at - sc.started_at, 777);
	ASSERT_EQ(sc.nresults, 3);
	store_scan_clear(&sc);

	struct store_result *v = NULL;
	size_t n = 0;
	ASSERT_EQ(store_results_list(s, id, NULL, true, 0, 0, &v, &n), 0);
	ASSERT_EQ(n, 3); /* ordered by (target, check) */
	ASSERT_STREQ(v[0].target, "a");
	ASSERT_STREQ(v[0].check, "banner");
	ASSERT(v[0].ok);
	ASSERT_STREQ(v[0].payload_json, "{\"banner\":\"Linux version 6.1\"}");
	ASSERT_EQ(v[0].duration_ms, 12);
	ASSERT_EQ(v[0].requests, 3);
	ASSERT_EQ(v[0].bytes, 4096);
	ASSERT_STREQ(v[1].check, "ps");
	ASSERT(!v[1].ok);
	ASSERT_STREQ(v[1].error, "ETIMEDOUT: deadline exceeded");
	ASSERT(v[1].payload_json == NULL);
	ASSERT_STREQ(v[2].target, "b");
	store_results_free(v, n);
	ASSERT_EQ(store_results_list(s, id, "b", false, 0, 0, &v, &n), 0);
	ASSERT_EQ(n, 1);
	ASSERT(v[0].payload_json == NULL); /* summary only */
	store_results_free(v, n);
	ASSERT_EQ(store_results_list(s, id + 100, NULL, false, 0, 0, &v, &n), SEVMON_ENOENT);
	store_close(s);
}

TEST(store_scan_begin_bad_inputs)
{
	struct store *s = two_targets();
	const char *tg[] = { "a", "zz" }, *ck[] = { "ps" }, *badck[] = { "PS!" };
	int64_t id = 5;
	ASSERT_EQ(store_scan_begin(s, tg, 2, ck, 1, &id), SEVMON_ENOENT);
	ASSERT_STREQ(store_last_error(s), "unknown target 'zz'");
	ASSERT_EQ(id, 0);
	ASSERT_EQ(store_scan_begin(s, tg, 0, ck, 1, &id), SEVMON_EINVAL);
	ASSERT_EQ(store_scan_begin(s, tg, 1, ck, 0, &id), SEVMON_EINVAL);
	ASSERT_EQ(store_scan_begin(s, tg, 1, badck, 1, &id), SEVMON_EINVAL);
	ASSERT_EQ(store_scan_begin(s, tg, STORE_SCAN_TARGETS_MAX + 1, ck, 1, &id), SEVMON_ETOOBIG);
	struct store_scan *v = NULL;
	size_t n = 1;
	ASSERT_EQ(store_scans_list(s, NULL, 0, 0, &v, &n), 0);
	ASSERT_EQ(n, 0); /* the failed begin left no scan behind */
	store_close(s);
}

TEST(store_result_add_bad_inputs_clear_errors)
{
	struct store *s = two_targets();
	int64_t id = begin(s, "a");
	ASSERT_EQ(add(s, id + 1, "a", "ps", "{}"), SEVMON_ENOENT);
	ASSERT(strstr(store_last_error(s), "unknown scan") != NULL);
	ASSERT_EQ(add(s, id, "zz", "custom", "{}"), SEVMON_ENOENT);
	ASSERT_STREQ(store_last_error(s), "unknown target 'zz'");
	ASSERT_EQ(add(s, id, "b", "custom", "{}"), SEVMON_ENOENT);
	ASSERT(strstr(store_last_error(s), "not part of scan") != NULL);
	ASSERT_EQ(add(s, id, "a", "custom", "{\"x\": [1, 2"), SEVMON_EINVAL);
	ASSERT(strstr(store_last_error(s), "malformed JSON at line 1") != NULL);
	ASSERT_EQ(add(s, id, "a", "ps", "{\"processes\": 5}"), SEVMON_EINVAL);
	ASSERT(strstr(store_last_error(s), "ps payload") != NULL);
	ASSERT_EQ(add(s, id, "a", "custom", "42"), SEVMON_EINVAL); /* object or array only */
	ASSERT_EQ(add(s, id, "a", "custom", "{\"k\":1,\"k\":2}"), SEVMON_EINVAL);
	ASSERT_EQ(add(s, id, "a", "custom", NULL), SEVMON_EINVAL);
	ASSERT_EQ(store_result_add(s, id, NULL), SEVMON_EINVAL);

	size_t big = (size_t)STORE_PAYLOAD_MAX + 1;
	char *p = malloc(big + 1);
	ASSERT(p != NULL);
	memset(p, ' ', big);
	p[0] = '[';
	p[big - 1] = ']';
	p[big] = '\0';
	ASSERT_EQ(add(s, id, "a", "custom", p), SEVMON_ETOOBIG);
	ASSERT_EQ(add(s, id, "a", "ps", p), SEVMON_ETOOBIG);
	ASSERT(strstr(store_last_error(s), "limit") != NULL);
	free(p);

	ASSERT_EQ(add(s, id, "a", "custom", "{}"), 0);
	ASSERT_EQ(add(s, id, "a", "custom", "{}"), SEVMON_EEXIST);
	ASSERT(strstr(store_last_error(s), "already has") != NULL);
	ASSERT_EQ(store_scan_finish(s, id, STORE_SCAN_DONE), 0);
	ASSERT_EQ(add(s, id, "a", "other", "{}"), SEVMON_EINVAL);
	ASSERT(strstr(store_last_error(s), "is done, not running") != NULL);
	ASSERT_EQ(store_scan_finish(s, id, STORE_SCAN_DONE), SEVMON_EINVAL);
	ASSERT_EQ(store_scan_finish(s, id + 1, STORE_SCAN_DONE), SEVMON_ENOENT);
	ASSERT_EQ(store_scan_finish(s, id, STORE_SCAN_INTERRUPTED), SEVMON_EINVAL);

	struct store_scan sc;
	ASSERT_EQ(store_scan_get(s, id, &sc), 0);
	ASSERT_EQ(sc.nresults, 1); /* only the one good result */
	store_scan_clear(&sc);
	store_close(s);
}

TEST(store_result_add_diffs_against_previous_ok_result)
{
	struct store *s = two_targets();
	char *ps1 = st_ps("1:init:0;100:sshd:0;200:cron:0", 0);
	char *ps2 = st_ps("1:init:0;100:sshd:0;300:nc:0", 0);
	char *ps3 = st_ps("1:init:0;100:sshd:0;300:nc:0;400:vim:1000", 0);

	int64_t s1 = begin(s, "a");
	ASSERT_EQ(add(s, s1, "a", "ps", ps1), 0); /* first: a baseline, no findings */
	ASSERT_EQ(add(s, s1, "a", "banner", "{\"banner\":\"Linux 6.1\"}"), 0);
	ASSERT_EQ(add(s, s1, "a", "modules", "{\"modules\":[{\"name\":\"ext4\"}]}"), 0);
	ASSERT_EQ(store_scan_finish(s, s1, STORE_SCAN_DONE), 0);

	int64_t s2 = begin(s, "a");
	ASSERT_EQ(add(s, s2, "a", "ps", ps2), 2);
	ASSERT_EQ(add(s, s2, "a", "banner", "{\"banner\":\"Linux 6.2\"}"), 1);
	ASSERT_EQ(add(s, s2, "a", "modules",
		      "{\"modules\":[{\"name\":\"ext4\"},{\"name\":\"diamorphine\"}]}"), 1);
	ASSERT_EQ(store_scan_finish(s, s2, STORE_SCAN_DONE), 0);

	/* an error result is not a baseline: scan 4 compares with scan 2 */
	int64_t s3 = begin(s, "a");
	struct store_result_in err = { .target = "a", .check = "ps", .ok = false, .error = "x" };
	ASSERT_EQ(store_result_add(s, s3, &err), 0);
	ASSERT_EQ(store_scan_finish(s, s3, STORE_SCAN_FAILED), 0);
	int64_t s4 = begin(s, "a");
	ASSERT_EQ(add(s, s4, "a", "ps", ps3), 1);
	/* target b has no history: its first ps is a baseline */
	int64_t s5 = begin(s, "b");
	ASSERT_EQ(add(s, s5, "b", "ps", ps3), 0);

	struct store_finding_filter f = { .scan_id = s2 };
	struct store_finding *v = NULL;
	size_t n = 0;
	ASSERT_EQ(store_findings_list(s, &f, &v, &n), 0);
	ASSERT_EQ(n, 4);
	const struct store_finding *x;
	ASSERT((x = st_find(v, n, "process_vanished", "200:cron")) && x->severity == STORE_SEV_INFO);
	ASSERT((x = st_find(v, n, "process_appeared", "300:nc")) && x->severity == STORE_SEV_HIGH);
	ASSERT((x = st_find(v, n, "banner_changed", "banner")) && x->severity == STORE_SEV_HIGH);
	ASSERT((x = st_find(v, n, "module_appeared", "diamorphine")) &&
	       x->severity == STORE_SEV_MEDIUM);
	ASSERT_EQ(x->scan_id, s2);
	ASSERT_STREQ(x->target, "a");
	store_findings_free(v, n);
	f = (struct store_finding_filter){ .scan_id = s4 };
	ASSERT_EQ(store_findings_list(s, &f, &v, &n), 0);
	ASSERT_EQ(n, 1);
	ASSERT_STREQ(v[0].subject, "400:vim");
	store_findings_free(v, n);

	struct store_result r;
	ASSERT_EQ(store_result_latest(s, "a", "ps", &r), 0);
	ASSERT_EQ(r.scan_id, s4);
	ASSERT_STREQ(r.payload_json, ps3);
	store_result_clear(&r);
	ASSERT_EQ(store_result_latest(s, "b", "banner", &r), SEVMON_ENOENT);
	free(ps1);
	free(ps2);
	free(ps3);
	store_close(s);
}

TEST(store_findings_list_filters)
{
	struct store *s = two_targets();
	store_set_clock(s, st_clock, NULL);
	int64_t t0 = st_clock_now;
	ASSERT(store_finding_add(s, 0, "a", STORE_SEV_INFO, "process_vanished", "1:x", NULL) > 0);
	st_clock_now += 1000;
	ASSERT(store_finding_add(s, 0, "a", STORE_SEV_HIGH, "attestation_failed", "a",
				 "{\"reason\":\"measurement\"}") > 0);
	st_clock_now += 1000;
	int64_t last = store_finding_add(s, 0, "b", STORE_SEV_MEDIUM, "module_appeared", "m", NULL);
	ASSERT(last > 0);

	struct store_finding *v = NULL;
	size_t n = 0;
	ASSERT_EQ(store_findings_list(s, NULL, &v, &n), 0);
	ASSERT_EQ(n, 3);
	ASSERT_EQ(v[0].id, last); /* newest first */
	ASSERT_EQ(v[0].scan_id, 0);
	store_findings_free(v, n);

	struct store_finding_filter f = { .target = "a" };
	ASSERT_EQ(store_findings_list(s, &f, &v, &n), 0);
	ASSERT_EQ(n, 2);
	store_findings_free(v, n);
	f = (struct store_finding_filter){ .min_severity = STORE_SEV_MEDIUM };
	ASSERT_EQ(store_findings_list(s, &f, &v, &n), 0);
	ASSERT_EQ(n, 2);
	ASSERT_STREQ(v[1].kind, "attestation_failed");
	ASSERT_STREQ(v[1].detail_json, "{\"reason\":\"measurement\"}");
	store_findings_free(v, n);
	f = (struct store_finding_filter){ .since = t0 + 1000 };
	ASSERT_EQ(store_findings_list(s, &f, &v, &n), 0);
	ASSERT_EQ(n, 2);
	store_findings_free(v, n);
	f = (struct store_finding_filter){ .limit = 1, .offset = 1 };
	ASSERT_EQ(store_findings_list(s, &f, &v, &n), 0);
	ASSERT_EQ(n, 1);
	ASSERT_STREQ(v[0].kind, "attestation_failed");
	store_findings_free(v, n);
	f = (struct store_finding_filter){ .target = "b", .min_severity = STORE_SEV_HIGH };
	ASSERT_EQ(store_findings_list(s, &f, &v, &n), 0);
	ASSERT_EQ(n, 0);
	f = (struct store_finding_filter){ .min_severity = (enum store_severity)9 };
	ASSERT_EQ(store_findings_list(s, &f, &v, &n), SEVMON_EINVAL);
	store_close(s);
}

/* A check's own findings carry the check's name and their technique; both filter. */
TEST(store_findings_check_and_technique)
{
	struct store *s = two_targets();
	const char *tg = "a", *ck[] = { "hidden_modules", "hooks" };
	int64_t id = 0;
	ASSERT_EQ(store_scan_begin(s, &tg, 1, ck, 2, &id), 0);
	struct store_finding_in f1[] = {
		{ .severity = STORE_SEV_HIGH, .kind = "hidden_module", .subject = "rk_hide_module",
		  .technique = "T1014", .detail_json = "{\"module\":\"rk_hide_module\"}" },
	};
	struct store_finding_in f2[] = {
		{ .severity = STORE_SEV_HIGH, .kind = "keyboard_notifier", .subject = "kbd -> rk_keyboard",
		  .technique = "T1056.001" },
		{ .severity = STORE_SEV_MEDIUM, .kind = "kprobe_hook", .subject = "openat -> rk_kprobe",
		  .technique = "T1014" },
	};
	struct store_result_in r = { .target = "a", .check = "hidden_modules", .ok = true,
				     .payload_json = "{}", .findings = f1, .nfindings = 1 };
	ASSERT_EQ(store_result_add(s, id, &r), 1);
	r.check = "hooks";
	r.findings = f2;
	r.nfindings = 2;
	ASSERT_EQ(store_result_add(s, id, &r), 2);
	struct store_finding *v = NULL;
	size_t n = 0;
	struct store_finding_filter f = { .technique = "T1014" };
	ASSERT_EQ(store_findings_list(s, &f, &v, &n), 0);
	ASSERT_EQ(n, 2);
	ASSERT_STREQ(v[0].check, "hooks");
	ASSERT_STREQ(v[0].technique, "T1014");
	ASSERT_STREQ(v[1].check, "hidden_modules");
	ASSERT_STREQ(v[1].detail_json, "{\"module\":\"rk_hide_module\"}");
	store_findings_free(v, n);
	f = (struct store_finding_filter){ .check = "hooks", .min_severity = STORE_SEV_HIGH };
	ASSERT_EQ(store_findings_list(s, &f, &v, &n), 0);
	ASSERT_EQ(n, 1);
	ASSERT_STREQ(v[0].technique, "T1056.001");
	store_findings_free(v, n);
	/* a finding no check raised names none */
	ASSERT(store_finding_add(s, 0, "b", STORE_SEV_HIGH, "attestation_failed", "b", NULL) > 0);
	f = (struct store_finding_filter){ .target = "b" };
	ASSERT_EQ(store_findings_list(s, &f, &v, &n), 0);
	ASSERT_EQ(n, 1);
	ASSERT_STREQ(v[0].check, "");
	ASSERT_STREQ(v[0].technique, "");
	store_findings_free(v, n);
	/* techniques are ATT&CK ids */
	f = (struct store_finding_filter){ .technique = "T14" };
	ASSERT_EQ(store_findings_list(s, &f, &v, &n), SEVMON_EINVAL);
	f1[0].technique = "rootkit";
	r.check = "hidden_modules";
	r.findings = f1;
	r.nfindings = 1;
	ASSERT_EQ(store_result_add(s, id, &r), SEVMON_EINVAL);
	store_close(s);
}

TEST(store_finding_add_bad_inputs)
{
	struct store *s = two_targets();
	ASSERT_EQ(store_finding_add(s, 0, "zz", STORE_SEV_LOW, "k", "s", NULL), SEVMON_ENOENT);
	ASSERT_EQ(store_finding_add(s, 42, "a", STORE_SEV_LOW, "k", "s", NULL), SEVMON_ENOENT);
	ASSERT(strstr(store_last_error(s), "unknown scan 42") != NULL);
	ASSERT_EQ(store_finding_add(s, 0, "a", (enum store_severity)7, "k", "s", NULL),
		  SEVMON_EINVAL);
	ASSERT_EQ(store_finding_add(s, 0, "a", STORE_SEV_LOW, "Kind", "s", NULL), SEVMON_EINVAL);
	ASSERT_EQ(store_finding_add(s, 0, "a", STORE_SEV_LOW, "k", "s", "{bad"), SEVMON_EINVAL);
	char subj[STORE_SUBJECT_MAX + 2];
	memset(subj, 's', sizeof(subj) - 1);
	subj[sizeof(subj) - 1] = '\0';
	ASSERT_EQ(store_finding_add(s, 0, "a", STORE_SEV_LOW, "k", subj, NULL), SEVMON_ETOOBIG);
	store_close(s);
}

TEST(store_scans_list_by_target_newest_first)
{
	struct store *s = two_targets();
	int64_t a1 = begin(s, "a"), b1 = begin(s, "b"), a2 = begin(s, "a");
	struct store_scan *v = NULL;
	size_t n = 0;
	ASSERT_EQ(store_scans_list(s, "a", 0, 0, &v, &n), 0);
	ASSERT_EQ(n, 2);
	ASSERT_EQ(v[0].id, a2);
	ASSERT_EQ(v[1].id, a1);
	store_scans_free(v, n);
	ASSERT_EQ(store_scans_list(s, NULL, 0, 2, &v, &n), 0);
	ASSERT_EQ(n, 2);
	ASSERT_EQ(v[1].id, b1);
	store_scans_free(v, n);
	store_close(s);
}

/* The compact identity list kept beside a payload can be missing or damaged (a row edited
 * by hand, another build): the diff then falls back to the payload itself. */
TEST(store_result_add_baseline_without_ident_uses_payload)
{
	if (st_pg())
		SKIP("damages rows with sqlite3 (the PostgreSQL diff reads the same columns)");
	const char *path = st_db_path();
	struct store *s = st_open(path, NULL);
	ASSERT_EQ(store_target_upsert(s, "a", "unix:///a", NULL, NULL), 1);
	char *ps1 = st_ps("1:init:0;100:sshd:0", 0), *ps2 = st_ps("1:init:0;300:nc:0", 0);
	int64_t s1 = begin(s, "a");
	ASSERT_EQ(add(s, s1, "a", "ps", ps1), 0);
	ASSERT_EQ(store_scan_finish(s, s1, STORE_SCAN_DONE), 0);
	static const char *const damage[] = { "UPDATE results SET ident = NULL",
					      "UPDATE results SET ident = x'01020304'" };
	for (int i = 0; i < 2; i++) {
		sqlite3 *db;
		ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
		ASSERT_EQ(sqlite3_exec(db, damage[i], NULL, NULL, NULL), SQLITE_OK);
		sqlite3_close(db);
		int64_t id = begin(s, "a");
		ASSERT_EQ(add(s, id, "a", "ps", i == 0 ? ps2 : ps1), 2);
		ASSERT_EQ(store_scan_finish(s, id, STORE_SCAN_DONE), 0);
	}
	/* and a baseline whose payload is damaged too: the result is kept, no diff */
	sqlite3 *db;
	ASSERT_EQ(sqlite3_open(path, &db), SQLITE_OK);
	ASSERT_EQ(sqlite3_exec(db, "UPDATE results SET ident = NULL, payload = '{'", NULL, NULL,
			       NULL), SQLITE_OK);
	sqlite3_close(db);
	int64_t id = begin(s, "a");
	ASSERT_EQ(add(s, id, "a", "ps", ps2), 0);
	free(ps1);
	free(ps2);
	store_close(s);
	st_cleanup();
}

/* The child reports each committed result with one byte on the pipe, forever, until the
 * parent kills it; so the parent knows a lower bound of what was committed. */
static void crash_child(const char *path, int wfd)
{
	struct store *s = st_open(path, NULL);
	int64_t id = begin(s, "a");
	char *ps = st_ps("1:init:0;2:kthreadd:0:k", 0);
	ASSERT_EQ(add(s, id, "a", "ps", ps), 0);
	free(ps);
	ASSERT_EQ(write(wfd, "r", 1), 1);
	for (int i = 0;; i++) {
		char check[32];
		snprintf(check, sizeof(check), "c%d", i);
		if (add(s, id, "a", check, "{\"n\":1}") != 0)
			_exit(3);
		if (write(wfd, "r", 1) != 1)
			_exit(4);
	}
}

TEST(store_scan_writer_killed_mid_scan_keeps_commits_marks_interrupted)
{
	if (st_pg())
		SKIP("SQLite's recovery: PostgreSQL replicas hand scans on (test_store_fleet)");
	const char *path = st_db_path();
	struct store *s = st_open(path, NULL);
	ASSERT_EQ(store_target_upsert(s, "a", "unix:///a", NULL, NULL), 1);
	store_close(s);
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	pid_t pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		crash_child(path, p[1]);
	}
	close(p[1]);
	size_t acked = 0;
	char buf[64];
	while (acked < 50) {
		ssize_t k = read(p[0], buf, sizeof(buf));
		ASSERT(k > 0);
		acked += (size_t)k;
	}
	ASSERT_EQ(kill(pid, SIGKILL), 0);
	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	ssize_t k;
	while ((k = read(p[0], buf, sizeof(buf))) > 0)
		acked += (size_t)k;
	close(p[0]);

	struct store *s2 = NULL;
	ASSERT_EQ(store_open(path, 0, NULL, &s2, NULL, 0), 1); /* one scan was interrupted */
	struct store_scan *v = NULL;
	size_t n = 0;
	ASSERT_EQ(store_scans_list(s2, NULL, 0, 0, &v, &n), 0);
	ASSERT_EQ(n, 1);
	ASSERT_EQ(v[0].status, STORE_SCAN_INTERRUPTED);
	ASSERT(v[0].finished_at > 0);
	/* every acknowledged result is there; at most one more (committed, not yet acked) */
	ASSERT(v[0].nresults >= acked && v[0].nresults <= acked + 1);
	int64_t old = v[0].id;
	store_scans_free(v, n);
	ASSERT_EQ(add(s2, old, "a", "late", "{}"), SEVMON_EINVAL); /* not running any more */
	/* the interrupted scan's ps is the next scan's baseline */
	int64_t id = begin(s2, "a");
	char *ps = st_ps("1:init:0;2:kthreadd:0:k;66:sh:0", 0);
	ASSERT_EQ(add(s2, id, "a", "ps", ps), 1);
	free(ps);
	store_close(s2);
	/* a second open finds nothing to recover */
	ASSERT_EQ(store_open(path, 0, NULL, &s2, NULL, 0), 1); /* the scan begun just above */
	store_close(s2);
	ASSERT_EQ(store_open(path, 0, NULL, &s2, NULL, 0), 0);
	store_close(s2);
	st_cleanup();
}

TEST_MAIN()
