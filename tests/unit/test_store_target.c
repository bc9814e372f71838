/* test_store_target.c — the targets table: upsert, get, list, state, remove. */
#include <string.h>

#include "store_testutil.h"

TEST(store_target_upsert_update_keeps_state_and_added_at)
{
	struct store *s = st_open(":memory:", NULL);
	store_set_clock(s, st_clock, NULL);
	ASSERT_EQ(store_target_upsert(s, "vm1", "unix:///a", "ab01", NULL), 1);
	ASSERT_EQ(store_target_set_state(s, "vm1", "ready", "attested", "{\"ok\":true}", 1234), 0);
	st_clock_now += 5000;
	ASSERT_EQ(store_target_upsert(s, "vm1", "unix:///b", NULL, "{\"x\":1}"), 0);
	struct store_target t;
	ASSERT_EQ(store_target_get(s, "vm1", &t), 0);
	ASSERT_STREQ(t.uri, "unix:///b");
	ASSERT_STREQ(t.pinned_key, "");
	ASSERT_STREQ(t.policy_json, "{\"x\":1}");
	ASSERT_EQ(t.added_at, st_clock_now - 5000);
	ASSERT_STREQ(t.state, "ready");
	ASSERT_STREQ(t.state_detail, "attested");
	ASSERT_STREQ(t.attestation_json, "{\"ok\":true}");
	ASSERT_EQ(t.last_seen, 1234);
	store_target_clear(&t);
	store_close(s);
}

TEST(store_target_set_state_null_keeps_attestation_and_last_seen)
{
	struct store *s = st_open(":memory:", NULL);
	ASSERT_EQ(store_target_upsert(s, "vm1", "unix:///a", NULL, NULL), 1);
	struct store_target t;
	ASSERT_EQ(store_target_get(s, "vm1", &t), 0);
	ASSERT_STREQ(t.state, "unknown");
	ASSERT(t.attestation_json == NULL);
	ASSERT_EQ(t.last_seen, 0);
	store_target_clear(&t);
	ASSERT_EQ(store_target_set_state(s, "vm1", "ready", NULL, "{\"tcb\":7}", 99), 0);
	ASSERT_EQ(store_target_set_state(s, "vm1", "failed", "timeout", NULL, 0), 0);
	ASSERT_EQ(store_target_get(s, "vm1", &t), 0);
	ASSERT_STREQ(t.state, "failed");
	ASSERT_STREQ(t.state_detail, "timeout");
	ASSERT_STREQ(t.attestation_json, "{\"tcb\":7}");
	ASSERT_EQ(t.last_seen, 99);
	store_target_clear(&t);
	ASSERT_EQ(store_target_set_state(s, "nope", "ready", NULL, NULL, 0), SEVMON_ENOENT);
	ASSERT(strstr(store_last_error(s), "nope") != NULL);
	ASSERT_EQ(store_target_set_state(s, "vm1", "Bad State", NULL, NULL, 0), SEVMON_EINVAL);
	store_close(s);
}

TEST(store_target_list_ordered_paged_capped)
{
	struct store *s = st_open(":memory:", NULL);
	const char *names[] = { "c", "a", "e", "b", "d" };
	for (int i = 0; i < 5; i++)
		ASSERT_EQ(store_target_upsert(s, names[i], "unix:///x", NULL, NULL), 1);
	struct store_target *v = NULL;
	size_t n = 0;
	ASSERT_EQ(store_target_list(s, 1, 3, &v, &n), 0);
	ASSERT_EQ(n, 3);
	ASSERT_STREQ(v[0].name, "b");
	ASSERT_STREQ(v[1].name, "c");
	ASSERT_STREQ(v[2].name, "d");
	store_targets_free(v, n);
	ASSERT_EQ(store_target_list(s, 0, (size_t)-1, &v, &n), 0); /* capped, not refused */
	ASSERT_EQ(n, 5);
	store_targets_free(v, n);
	ASSERT_EQ(store_target_list(s, 10, 0, &v, &n), 0);
	ASSERT_EQ(n, 0);
	ASSERT(v == NULL);
	store_close(s);
}

TEST(store_target_remove_unknown_enoent)
{
	struct store *s = st_open(":memory:", NULL);
	ASSERT_EQ(store_target_remove(s, "ghost"), SEVMON_ENOENT);
	ASSERT(strstr(store_last_error(s), "unknown target 'ghost'") != NULL);
	struct store_target t;
	ASSERT_EQ(store_target_get(s, "ghost", &t), SEVMON_ENOENT);
	store_close(s);
}

TEST(store_target_remove_deletes_its_history)
{
	struct store *s = st_open(":memory:", NULL);
	ASSERT_EQ(store_target_upsert(s, "a", "unix:///a", NULL, NULL), 1);
	ASSERT_EQ(store_target_upsert(s, "b", "unix:///b", NULL, NULL), 1);
	const char *tg[] = { "a", "b" }, *ck[] = { "banner" };
	int64_t id;
	ASSERT_EQ(store_scan_begin(s, tg, 2, ck, 1, &id), 0);
	for (int i = 0; i < 2; i++) {
		struct store_result_in r = { .target = tg[i], .check = "banner", .ok = true, .diff = STORE_DIFF_BANNER,
					     .payload_json = "{\"banner\":\"L\"}" };
		ASSERT_EQ(store_result_add(s, id, &r), 0);
	}
	ASSERT(store_finding_add(s, id, "a", STORE_SEV_HIGH, "attestation_failed", "a", NULL) > 0);
	ASSERT_EQ(store_scan_finish(s, id, STORE_SCAN_DONE), 0);
	ASSERT_EQ(store_target_remove(s, "a"), 0);
	struct store_result *rv = NULL;
	size_t n = 0;
	ASSERT_EQ(store_results_list(s, id, NULL, false, 0, 0, &rv, &n), 0);
	ASSERT_EQ(n, 1);
	ASSERT_STREQ(rv[0].target, "b");
	store_results_free(rv, n);
	struct store_finding *fv = NULL;
	ASSERT_EQ(store_findings_list(s, NULL, &fv, &n), 0);
	ASSERT_EQ(n, 0);
	store_close(s);
}

TEST(store_target_bad_inputs_clear_errors)
{
	struct store *s = st_open(":memory:", NULL);
	char longname[STORE_NAME_MAX + 2];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ASSERT_EQ(store_target_upsert(s, "", "unix:///a", NULL, NULL), SEVMON_EINVAL);
	ASSERT_EQ(store_target_upsert(s, "a/b", "unix:///a", NULL, NULL), SEVMON_EINVAL);
	ASSERT(strstr(store_last_error(s), "0x2f") != NULL);
	ASSERT_EQ(store_target_upsert(s, longname, "unix:///a", NULL, NULL), SEVMON_ETOOBIG);
	ASSERT_EQ(store_target_upsert(s, "a", NULL, NULL, NULL), SEVMON_EINVAL);
	ASSERT_EQ(store_target_upsert(s, "a", "", NULL, NULL), SEVMON_EINVAL);
	ASSERT_EQ(store_target_upsert(s, "a", "unix:///a", NULL, "{\"x\":"), SEVMON_EINVAL);
	ASSERT(strstr(store_last_error(s), "policy: malformed JSON") != NULL);
	ASSERT_EQ(store_target_upsert(s, "a", "unix:///\xff\xfe", NULL, NULL), SEVMON_EINVAL);
	ASSERT(strstr(store_last_error(s), "UTF-8") != NULL);
	char *uri = malloc(STORE_URI_MAX + 2);
	memset(uri, 'u', STORE_URI_MAX + 1);
	uri[STORE_URI_MAX + 1] = '\0';
	ASSERT_EQ(store_target_upsert(s, "a", uri, NULL, NULL), SEVMON_ETOOBIG);
	free(uri);
	struct store_target *v = NULL;
	size_t n = 1;
	ASSERT_EQ(store_target_list(s, 0, 0, &v, &n), 0);
	ASSERT_EQ(n, 0); /* nothing half-written */
	store_close(s);
}

TEST_MAIN()
