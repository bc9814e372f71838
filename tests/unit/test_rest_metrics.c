/*
 * test_rest_metrics.c — the metrics registry and its text exposition (ids-svc/rest),
 * checked line by line and with the format checker tests/rest/prom_check.c.
 */
#include <math.h>

#include "err.h"
#include "harness.h"
#include "prom_check.h"
#include "rest.h"

static char *expose(struct metrics *m)
{
	char *text = NULL;
	size_t len = 0;
	ASSERT_EQ(metrics_write(m, &text, &len), 0);
	ASSERT(text != NULL);
	ASSERT_EQ(strlen(text), len);
	char why[256] = "";
	if (prom_check(text, why, sizeof why) != 0)
		FAIL_AT("exposition rejected: %s\n%s", why, text);
	return text;
}

static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

TEST(metrics_counter_add_accumulates)
{
	struct metrics *m = metrics_new();
	ASSERT_EQ(metrics_declare(m, "scans_total", METRICS_COUNTER, "Scans run.", NULL, 0), 0);
	const char *const l[] = { "target", "vm1", NULL };
	ASSERT_EQ(metrics_counter_add(m, "scans_total", l, 1), 0);
	ASSERT_EQ(metrics_counter_add(m, "scans_total", l, 2.5), 0);
	ASSERT_EQ(metrics_counter_add(m, "scans_total", NULL, 4), 0);
	char *t = expose(m);
	ASSERT(has_line(t, "# HELP scans_total Scans run."));
	ASSERT(has_line(t, "# TYPE scans_total counter"));
	ASSERT(has_line(t, "scans_total{target=\"vm1\"} 3.5"));
	ASSERT(has_line(t, "scans_total 4"));
	free(t);
	metrics_free(m);
}

TEST(metrics_counter_add_rejects_negative_and_nan)
{
	struct metrics *m = metrics_new();
	ASSERT_EQ(metrics_declare(m, "c", METRICS_COUNTER, "", NULL, 0), 0);
	ASSERT_EQ(metrics_counter_add(m, "c", NULL, -1), SEVMON_EINVAL);
	ASSERT_EQ(metrics_counter_add(m, "c", NULL, NAN), SEVMON_EINVAL);
	ASSERT_EQ(metrics_counter_add(m, "undeclared", NULL, 1), SEVMON_ENOENT);
	ASSERT_EQ(metrics_gauge_set(m, "c", NULL, 1), SEVMON_EINVAL); /* type clash */
	metrics_free(m);
}

TEST(metrics_gauge_set_and_add)
{
	struct metrics *m = metrics_new();
	ASSERT_EQ(metrics_declare(m, "sessions", METRICS_GAUGE, "Open sessions.", NULL, 0), 0);
	ASSERT_EQ(metrics_gauge_set(m, "sessions", NULL, 10), 0);
	ASSERT_EQ(metrics_gauge_add(m, "sessions", NULL, -3), 0);
	char *t = expose(m);
	ASSERT(has_line(t, "sessions 7"));
	free(t);
	metrics_free(m);
}

TEST(metrics_write_escapes_label_values_and_help)
{
	struct metrics *m = metrics_new();
	ASSERT_EQ(metrics_declare(m, "errs_total", METRICS_COUNTER, "back\\slash\nnewline \"q\"",
				  NULL, 0), 0);
	const char *const l[] = { "why", "a\"b\\c\nd", NULL };
	ASSERT_EQ(metrics_counter_add(m, "errs_total", l, 1), 0);
	char *t = expose(m);
	ASSERT(has_line(t, "# HELP errs_total back\\\\slash\\nnewline \"q\""));
	ASSERT(has_line(t, "errs_total{why=\"a\\\"b\\\\c\\nd\"} 1"));
	free(t);
	metrics_free(m);
}

TEST(metrics_histogram_observe_cumulative_buckets)
{
	struct metrics *m = metrics_new();
	ASSERT_EQ(metrics_declare(m, "lat_seconds", METRICS_HISTOGRAM, "Latency.", NULL, 0), 0);
	const char *const l[] = { "op", "read", NULL };
	const double obs[] = { 0.003, 0.02, 0.02, 7, 100 };
	for (size_t i = 0; i < 5; i++)
		ASSERT_EQ(metrics_histogram_observe(m, "lat_seconds", l, obs[i]), 0);
	char *t = expose(m);
	ASSERT(has_line(t, "# TYPE lat_seconds histogram"));
	ASSERT(has_line(t, "lat_seconds_bucket{op=\"read\",le=\"0.005\"} 1"));
	ASSERT(has_line(t, "lat_seconds_bucket{op=\"read\",le=\"0.01\"} 1"));
	ASSERT(has_line(t, "lat_seconds_bucket{op=\"read\",le=\"0.025\"} 3"));
	ASSERT(has_line(t, "lat_seconds_bucket{op=\"read\",le=\"5\"} 3"));
	ASSERT(has_line(t, "lat_seconds_bucket{op=\"read\",le=\"10\"} 4"));
	ASSERT(has_line(t, "lat_seconds_bucket{op=\"read\",le=\"+Inf\"} 5"));
	ASSERT(has_line(t, "lat_seconds_count{op=\"read\"} 5"));
	ASSERT(has_line(t, "lat_seconds_sum{op=\"read\"} 107.043"));
	free(t);
	metrics_free(m);
}

TEST(metrics_histogram_observe_boundary_is_inclusive)
{
	/* le means "less than or equal": a value on a bound counts in that bucket. */
	struct metrics *m = metrics_new();
	const double b[] = { 1, 2 };
	ASSERT_EQ(metrics_declare(m, "h", METRICS_HISTOGRAM, "", b, 2), 0);
	ASSERT_EQ(metrics_histogram_observe(m, "h", NULL, 1), 0);
	ASSERT_EQ(metrics_histogram_observe(m, "h", NULL, 2), 0);
	char *t = expose(m);
	ASSERT(has_line(t, "h_bucket{le=\"1\"} 1"));
	ASSERT(has_line(t, "h_bucket{le=\"2\"} 2"));
	ASSERT(has_line(t, "h_bucket{le=\"+Inf\"} 2"));
	ASSERT(has_line(t, "h_sum 3"));
	free(t);
	metrics_free(m);
}

TEST(metrics_declare_rejects_bad_input)
{
	struct metrics *m = metrics_new();
	const double down[] = { 1, 0.5 }, inf[] = { 1, INFINITY };
	ASSERT_EQ(metrics_declare(m, "9lives", METRICS_GAUGE, "", NULL, 0), SEVMON_EINVAL);
	ASSERT_EQ(metrics_declare(m, "a-b", METRICS_GAUGE, "", NULL, 0), SEVMON_EINVAL);
	ASSERT_EQ(metrics_declare(m, "", METRICS_GAUGE, "", NULL, 0), SEVMON_EINVAL);
	ASSERT_EQ(metrics_declare(m, "h", METRICS_HISTOGRAM, "", down, 2), SEVMON_EINVAL);
	ASSERT_EQ(metrics_declare(m, "h", METRICS_HISTOGRAM, "", inf, 2), SEVMON_EINVAL);
	ASSERT_EQ(metrics_declare(m, "g", METRICS_GAUGE, "", down, 2), SEVMON_EINVAL);
	ASSERT_EQ(metrics_declare(m, "ns:ok_name", METRICS_GAUGE, "", NULL, 0), 0);
	ASSERT_EQ(metrics_declare(m, "ns:ok_name", METRICS_GAUGE, "again", NULL, 0), 0);
	ASSERT_EQ(metrics_declare(m, "ns:ok_name", METRICS_COUNTER, "", NULL, 0), SEVMON_EINVAL);
	metrics_free(m);
}

TEST(metrics_counter_add_rejects_bad_labels)
{
	struct metrics *m = metrics_new();
	ASSERT_EQ(metrics_declare(m, "c", METRICS_COUNTER, "", NULL, 0), 0);
	const char *const reserved[] = { "__name", "x", NULL };
	const char *const le[] = { "le", "1", NULL };
	const char *const bad[] = { "a b", "x", NULL };
	const char *const odd[] = { "a", NULL };
	char longv[METRICS_LABEL_VALUE_MAX + 2];
	memset(longv, 'v', sizeof longv - 1);
	longv[sizeof longv - 1] = '\0';
	const char *const toolong[] = { "a", longv, NULL };
	ASSERT_EQ(metrics_counter_add(m, "c", reserved, 1), SEVMON_EINVAL);
	ASSERT_EQ(metrics_counter_add(m, "c", le, 1), SEVMON_EINVAL);
	ASSERT_EQ(metrics_counter_add(m, "c", bad, 1), SEVMON_EINVAL);
	ASSERT_EQ(metrics_counter_add(m, "c", odd, 1), SEVMON_EINVAL);
	ASSERT_EQ(metrics_counter_add(m, "c", toolong, 1), SEVMON_EINVAL);
	metrics_free(m);
}

TEST(metrics_counter_add_series_limit)
{
	struct metrics *m = metrics_new();
	ASSERT_EQ(metrics_declare(m, "per_target_total", METRICS_COUNTER, "", NULL, 0), 0);
	char v[16];
	const char *const l[] = { "target", v, NULL };
	for (unsigned i = 0; i < METRICS_MAX_SERIES; i++) {
		snprintf(v, sizeof v, "vm%u", i);
		ASSERT_EQ(metrics_counter_add(m, "per_target_total", l, 1), 0);
	}
	snprintf(v, sizeof v, "one-more");
	ASSERT_EQ(metrics_counter_add(m, "per_target_total", l, 1), SEVMON_ETOOBIG);
	/* An existing series still updates. */
	snprintf(v, sizeof v, "vm7");
	ASSERT_EQ(metrics_counter_add(m, "per_target_total", l, 1), 0);
	char *t = expose(m);
	ASSERT(has_line(t, "per_target_total{target=\"vm7\"} 2"));
	free(t);
	metrics_free(m);
}

TEST(metrics_write_empty_registry)
{
	struct metrics *m = metrics_new();
	char *t = expose(m);
	ASSERT_STREQ(t, "");
	free(t);
	metrics_free(m);
}

TEST(metrics_write_special_values)
{
	struct metrics *m = metrics_new();
	ASSERT_EQ(metrics_declare(m, "g", METRICS_GAUGE, "", NULL, 0), 0);
	const char *const a[] = { "k", "a", NULL }, *const b[] = { "k", "b", NULL };
	const char *const c[] = { "k", "c", NULL };
	ASSERT_EQ(metrics_gauge_set(m, "g", a, INFINITY), 0);
	ASSERT_EQ(metrics_gauge_set(m, "g", b, NAN), 0);
	ASSERT_EQ(metrics_gauge_set(m, "g", c, 0.1), 0);
	char *t = expose(m);
	ASSERT(has_line(t, "g{k=\"a\"} +Inf"));
	ASSERT(has_line(t, "g{k=\"b\"} NaN"));
	ASSERT(has_line(t, "g{k=\"c\"} 0.1"));
	free(t);
	metrics_free(m);
}

/* Label values and help texts of arbitrary bytes (1..127, so quotes, backslashes and
 * newlines in every position) always give a conforming exposition. */
TEST(metrics_write_random_text_always_conforms)
{
	srand(12345);
	struct metrics *m = metrics_new();
	for (int round = 0; round < 50; round++) {
		char help[40], name[16], v[24];
		for (size_t i = 0; i < sizeof help - 1; i++)
			help[i] = (char)(1 + rand() % 127);
		help[sizeof help - 1] = '\0';
		snprintf(name, sizeof name, "m%d", round);
		enum metrics_type t = (enum metrics_type)(round % 3);
		ASSERT_EQ(metrics_declare(m, name, t, help, NULL, 0), 0);
		for (int k = 0; k < 5; k++) {
			for (size_t i = 0; i < sizeof v - 1; i++)
				v[i] = (char)(1 + rand() % 127);
			v[sizeof v - 1] = '\0';
			const char *const l[] = { "a", v, "b", "x", NULL };
			if (t == METRICS_COUNTER)
				ASSERT_EQ(metrics_counter_add(m, name, l, rand() % 100), 0);
			else if (t == METRICS_GAUGE)
				ASSERT_EQ(metrics_gauge_set(m, name, l, rand() % 100 - 50), 0);
			else
				ASSERT_EQ(metrics_histogram_observe(m, name, l,
								    (rand() % 20000) / 1000.0), 0);
		}
	}
	char *t = expose(m);
	free(t);
	metrics_free(m);
}

/* The checker itself must refuse what the format forbids, or the checks above prove
 * nothing. */
TEST(prom_check_rejects_malformed)
{
	static const char *const bad[] = {
		"x 1\n",                                    /* no TYPE */
		"# TYPE x counter\nx -1\n",                 /* negative counter */
		"# TYPE x gauge\nx{a=\"\\q\"} 1\n",         /* bad escape */
		"# TYPE x gauge\nx{a=\"1} 1\n",             /* unterminated */
		"# TYPE x gauge\nx one\n",                  /* bad value */
		"# TYPE x gauge\nx 1",                      /* no final newline */
		"# TYPE x gauge\n# TYPE x gauge\nx 1\n",    /* two TYPEs */
		"# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
		"h_sum 1\nh_count 1\n",                     /* not cumulative */
		"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", /* no +Inf */
		"# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
		"# TYPE x wobble\n",
	};
	char why[256];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (prom_check(bad[i], why, sizeof why) == 0)
			FAIL_AT("accepted bad input %zu: %s", i, bad[i]);
	ASSERT_EQ(prom_check("# HELP x y\n# TYPE x gauge\nx{a=\"b\",} 1 1700000000\n", why,
			     sizeof why), 0);
}

TEST_MAIN()
