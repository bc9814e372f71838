/*
 * test_alert_sinks.c — the alert sinks' table (ids-svc/alert/alert.h), the alert's JSON, and
 * the jsonl sink on a real file: lines appended in order, valid JSON each, a bad spec
 * refused at open, a full disk reported as "not now" (/dev/full).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert.h"
#include "err.h"
#include "harness.h"

static const struct alert a1 = { .id = 7, .at = 1764746100123ll, .target = "vm1",
				 .severity = STORE_SEV_HIGH, .kind = "process_appeared",
				 .subject = "42:\xff" "evil", .detail_json = "{\"uid\":0}", .scan_id = 3 };

TEST(alert_sink_table_lists_jsonl)
{
	ASSERT(alert_sink_kind_find("jsonl") != NULL);
	ASSERT(alert_sink_kind_find("nosuch") == NULL);
	for (size_t i = 0; alert_sink_kind_at(i); i++) {
		const struct alert_sink_kind *k = alert_sink_kind_at(i);
		ASSERT(k->name && k->summary && k->open && k->deliver && k->close);
		ASSERT(alert_sink_kind_find(k->name) == k);
	}
}

TEST(alert_json_shape)
{
	char *t = alert_json(&a1);
	ASSERT(t != NULL);
	json_t *j = json_loads(t, 0, NULL);
	ASSERT(j != NULL);
	ASSERT_STREQ(json_string_value(json_object_get(j, "time")), "2025-12-03T07:15:00.123Z");
	ASSERT_STREQ(json_string_value(json_object_get(j, "severity")), "high");
	ASSERT_STREQ(json_string_value(json_object_get(j, "target")), "vm1");
	ASSERT_EQ(json_integer_value(json_object_get(json_object_get(j, "detail"), "uid")), 0);
	ASSERT_EQ(json_integer_value(json_object_get(j, "scan")), 3);
	json_decref(j);
	free(t);
}

TEST(alert_sink_jsonl_appends_lines_in_order)
{
	char path[] = "/tmp/sevmon-alerts-XXXXXX";
	int fd = mkstemp(path);
	ASSERT(fd >= 0);
	close(fd);
	const struct alert_sink_kind *k = alert_sink_kind_find("jsonl");
	void *st = NULL;
	char err[256] = "";
	ASSERT_EQ(k->open(path, &st, err, sizeof err), 0);
	for (int i = 0; i < 3; i++) {
		struct alert a = a1;
		a.id = i + 1;
		ASSERT_EQ(k->deliver(st, &a, err, sizeof err), 0);
	}
	k->close(st);
	FILE *f = fopen(path, "r");
	char line[4096];
	int n = 0;
	while (fgets(line, sizeof line, f)) {
		json_t *j = json_loads(line, 0, NULL);
		ASSERT(j != NULL);
		ASSERT_EQ(json_integer_value(json_object_get(j, "id")), ++n);
		json_decref(j);
	}
	fclose(f);
	ASSERT_EQ(n, 3);
	unlink(path);
}

TEST(alert_sink_jsonl_bad_spec_and_full_disk)
{
	const struct alert_sink_kind *k = alert_sink_kind_find("jsonl");
	void *st = NULL;
	char err[256] = "";
	ASSERT_EQ(k->open("", &st, err, sizeof err), SEVMON_EINVAL);
	ASSERT(strstr(err, "path") != NULL);
	ASSERT(k->open("/nonexistent/dir/alerts.jsonl", &st, err, sizeof err) < 0);
	ASSERT(strstr(err, "/nonexistent/dir/alerts.jsonl") != NULL);
	if (access("/dev/full", W_OK) == 0) {
		ASSERT_EQ(k->open("/dev/full", &st, err, sizeof err), 0);
		ASSERT_EQ(k->deliver(st, &a1, err, sizeof err), SEVMON_EBUSY); /* not now */
		k->close(st);
	}
	k->close(NULL);
}

TEST_MAIN()
