/*
 * test_check_registry.c — the check registry (ids-svc/checks/check.h): its rows, check sets,
 * a check refused by name on a kernel whose BTF lacks what it reads, and the one encoder
 * per check giving payloads the store takes — unknown values and a guest's hostile bytes
 * included (the bug this encoder ends: sevmond wrote an unknown uid as 4294967295, which
 * made the store refuse the whole process list).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "err.h"
#include "harness.h"
#include "kchecks.h"
#include "store_testutil.h"

static char *encode(const struct check_def *c, const void *res)
{
	struct jw w;
	char *t = NULL;
	jw_init(&w, CHECK_PAYLOAD_MAX);
	c->encode(res, &w);
	ASSERT_EQ(jw_finish(&w, &t, NULL), 0);
	return t;
}

TEST(check_registry_rows_are_complete_and_unique)
{
	ASSERT(check_count() >= 4);
	for (size_t i = 0; i < check_count(); i++) {
		const struct check_def *c = check_at(i);
		ASSERT(c->name && strlen(c->name) >= 1 && strlen(c->name) <= CHECK_NAME_MAX);
		ASSERT(strspn(c->name, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(c->name));
		ASSERT(c->summary && c->summary[0]);
		ASSERT(c->run && c->encode && c->print);
		ASSERT(c->result_size >= sizeof(struct check_result));
		ASSERT(c->needs & (CHECK_NEEDS_KERNEL | CHECK_NEEDS_EVIDENCE));
		ASSERT_EQ(check_index(c->name), (int)i);
		ASSERT(check_find(c->name) == c);
	}
	ASSERT(check_at(check_count()) == NULL);
	ASSERT(check_find("rootkit") == NULL);
}

/* The store tests name these rules for these checks (store_testutil.h: st_rule). */
TEST(check_registry_store_rules_of_the_list_checks)
{
	ASSERT_EQ(check_find("ps")->diff, STORE_DIFF_PROCESSES);
	ASSERT_EQ(check_find("modules")->diff, STORE_DIFF_MODULES);
	ASSERT_EQ(check_find("banner")->diff, STORE_DIFF_BANNER);
	ASSERT_EQ(check_find("attest")->diff, STORE_DIFF_NONE);
	for (size_t i = 0; i < check_count(); i++)
		ASSERT_EQ(check_at(i)->diff, st_rule(check_at(i)->name));
}

TEST(check_set_parse_lists)
{
	check_set s;
	char err[160];
	ASSERT_EQ(check_set_parse("banner,ps,modules", &s, err, sizeof err), 0);
	ASSERT_UEQ(s, 1ull << check_index("banner") | 1ull << check_index("ps") |
			      1ull << check_index("modules"));
	ASSERT(s & check_default_set());
	ASSERT_EQ(check_set_parse(" ps ", &s, err, sizeof err), 0);
	ASSERT_UEQ(s, 1ull << check_index("ps"));
	ASSERT_EQ(check_set_parse("ps,,banner", &s, err, sizeof err), SEVMON_EINVAL);
	ASSERT_EQ(check_set_parse("", &s, err, sizeof err), SEVMON_EINVAL);
	ASSERT_EQ(check_set_parse("psx", &s, err, sizeof err), SEVMON_EINVAL);
	ASSERT(strstr(err, "psx") != NULL);
	ASSERT_EQ(check_set_parse("ps,ps", &s, err, sizeof err), SEVMON_EINVAL);
	ASSERT(strstr(err, "twice") != NULL);
	ASSERT(check_set_needs(1ull << check_index("attest"), CHECK_NEEDS_EVIDENCE));
	ASSERT(!check_set_needs(1ull << check_index("attest"), CHECK_NEEDS_KERNEL));
}

TEST(check_ready_names_the_missing_btf_member)
{
	struct kprofile p;
	memset(&p, 0, sizeof p);
	char err[256] = "";
	ASSERT_EQ(check_ready(check_find("ps"), &p, err, sizeof err), 0);
	kprofile_set_missing(&p, KPROFILE_OFF_task_cred);
	ASSERT_EQ(check_ready(check_find("ps"), &p, err, sizeof err), SEVMON_ENOTSUP);
	ASSERT(strstr(err, "struct task_struct member cred") != NULL);
	/* the modules check reads no task member: it still runs */
	ASSERT_EQ(check_ready(check_find("modules"), &p, err, sizeof err), 0);
}

/* A process whose parent and cred could not be followed, named with bytes a guest can set
 * (prctl(PR_SET_NAME) takes any), beside an ordinary one. */
TEST(check_ps_payload_unknown_is_null_and_the_store_takes_it)
{
	struct kproc v[2] = {
		{ .pid = 1, .tgid = 1, .ppid = 0, .uid = 0, .comm = "init" },
		{ .pid = 42, .tgid = 42, .ppid = KPROC_PPID_UNKNOWN, .uid = KPROC_UID_UNKNOWN },
	};
	memcpy(v[1].comm, "\xff\"\\\n\x01torn\x7f\xe9", 11);
	struct ps_result r = { .h = { .partial = 1 }, .v = v, .n = 2 };
	char *t = encode(&check_ps, &r);
	json_t *j = json_loads(t, 0, NULL);
	ASSERT(j != NULL);
	json_t *p = json_array_get(json_object_get(j, "processes"), 1);
	ASSERT(json_is_null(json_object_get(p, "uid")));
	ASSERT(json_is_null(json_object_get(p, "ppid")));
	ASSERT(json_is_true(json_object_get(j, "partial")));
	json_decref(j);
	/* the store, through the rule the registry gives the check */
	struct store *s = st_open(st_db_path(), NULL);
	ASSERT(store_target_upsert(s, "vm", "unix:///x", NULL, NULL) >= 0);
	const char *tg[] = { "vm" }, *ck[] = { "ps" };
	int64_t id;
	ASSERT_EQ(store_scan_begin(s, tg, 1, ck, 1, &id), 0);
	struct store_result_in in = { .target = "vm", .check = "ps", .ok = true,
				      .diff = check_ps.diff, .payload_json = t };
	int rc = store_result_add(s, id, &in);
	if (rc < 0)
		FAIL_AT("store_result_add: %s", store_last_error(s));
	store_close(s);
	free(t);
}

TEST(check_modules_and_banner_payloads_the_store_takes)
{
	struct kmod m[2] = { { .addr = 0xffffffffc0001000ull, .state = 0, .name = "dummy" },
			     { .addr = 0xffffffffc0002000ull, .state = 7 } };
	memset(m[1].name, 0xff, 56); /* MODULE_NAME_LEN bytes, none printable */
	const char *states[2] = { "live", "unknown" };
	struct modules_result r = { .v = m, .n = 2, .state = states };
	char *t = encode(&check_modules, &r);
	struct store_diff d;
	char msg[256] = "";
	int rc = store_diff_modules(NULL, t, &d, msg, sizeof msg);
	if (rc < 0)
		FAIL_AT("modules payload refused: %s: %s", msg, t);
	store_diff_free(&d);
	ASSERT(strstr(t, "\"addr\":\"0xffffffffc0001000\"") != NULL);
	free(t);
	struct banner_result b;
	memset(&b, 0, sizeof b);
	snprintf(b.text, sizeof b.text, "Linux version 6.12.107 \"quoted\" \x80");
	t = encode(&check_banner, &b);
	ASSERT_EQ(store_diff_banner(NULL, t, &d, msg, sizeof msg), 0);
	store_diff_free(&d);
	free(t);
}

TEST(check_attest_needs_verified_evidence)
{
	struct attest_result r;
	memset(&r, 0, sizeof r);
	struct check_env env = { 0 };
	ASSERT_EQ(check_attest.run(&env, &r), SEVMON_EATTEST);
	struct snp_verdict v;
	memset(&v, 0, sizeof v);
	v.signature_ok = 1;
	v.chain_ok = 1;
	memset(v.report.measurement, 0x5e, sizeof v.report.measurement);
	env.evidence = &v;
	ASSERT_EQ(check_attest.run(&env, &r), 0);
	char *t = encode(&check_attest, &r);
	ASSERT(strstr(t, "\"measurement\":\"5e5e") != NULL && strstr(t, "\"chain_ok\":true"));
	free(t);
}

TEST(check_findings_are_capped_and_counted)
{
	struct check_findings f = { 0 };
	for (unsigned i = 0; i < CHECK_FINDINGS_MAX + 10; i++)
		ASSERT_EQ(check_finding_add(&f, STORE_SEV_HIGH, "hidden_process", "1:x", NULL), 0);
	ASSERT_UEQ(f.n, CHECK_FINDINGS_MAX);
	ASSERT_UEQ(f.dropped, 10);
	check_findings_free(&f);
	ASSERT_UEQ(f.n, 0);
}

TEST_MAIN()
