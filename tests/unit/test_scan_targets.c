/*
 * test_scan_targets.c — the targets file of `sevmon scan` (ids-svc/cli/scan_targets.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "harness.h"
#include "scan_targets.h"

static char errbuf[256];

/* Parse text (len bytes, may hold NULs) into *t. */
static int parse(struct scan_targets *t, const char *text, size_t len)
{
	FILE *f = fmemopen((void *)text, len, "r");
	if (!f)
		return SEVMON_ENOMEM;
	int rc = scan_targets_parse(t, f, errbuf, sizeof errbuf);
	fclose(f);
	return rc;
}

static int parse_str(struct scan_targets *t, const char *text)
{
	return parse(t, text, strlen(text));
}

static const char meas[] =
	"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

TEST(scan_targets_parse_fields_comments_blanks)
{
	char text[1024];
	snprintf(text, sizeof text,
		 "# a fleet\n\n  vm-1   unix:///run/a1.sock  # first\n"
		 "vm.2\ttcp://10.0.0.2:7000 pin=/k/vm2.pub measurement=%s measurement=%s\r\n"
		 "vm_3 vsock://5:7000", meas, meas);
	struct scan_targets t;
	ASSERT_EQ(parse_str(&t, text), 0);
	ASSERT_UEQ(t.n, 3);
	ASSERT_STREQ(t.v[0].name, "vm-1");
	ASSERT_STREQ(t.v[0].uri, "unix:///run/a1.sock");
	ASSERT(t.v[0].pin == NULL);
	ASSERT_UEQ(t.v[0].nmeas, 0);
	ASSERT_UEQ(t.v[0].line, 3);
	ASSERT_STREQ(t.v[1].name, "vm.2");
	ASSERT_STREQ(t.v[1].pin, "/k/vm2.pub");
	ASSERT_UEQ(t.v[1].nmeas, 2);
	ASSERT_STREQ(t.v[1].meas[1], meas);
	ASSERT_STREQ(t.v[2].uri, "vsock://5:7000");
	ASSERT_UEQ(t.v[2].line, 5);
	scan_targets_free(&t);
	ASSERT_UEQ(t.n, 0);
}

TEST(scan_targets_parse_empty_file_no_targets)
{
	struct scan_targets t;
	ASSERT_EQ(parse_str(&t, "# nothing\n\n"), 0);
	ASSERT_UEQ(t.n, 0);
	scan_targets_free(&t);
}

TEST(scan_targets_parse_missing_uri_rejected_with_line)
{
	struct scan_targets t;
	ASSERT_EQ(parse_str(&t, "a unix:///x\nlonely\n"), SEVMON_EINVAL);
	ASSERT(strstr(errbuf, "line 2") != NULL);
	ASSERT_UEQ(t.n, 0);
	ASSERT(t.v == NULL);
}

TEST(scan_targets_parse_bad_name_rejected)
{
	struct scan_targets t;
	ASSERT_EQ(parse_str(&t, "a/b unix:///x\n"), SEVMON_EINVAL);
	ASSERT(strstr(errbuf, "name") != NULL);
	char longname[SCAN_NAME_MAX + 32];
	memset(longname, 'n', SCAN_NAME_MAX + 1);
	strcpy(longname + SCAN_NAME_MAX + 1, " unix:///x\n");
	ASSERT_EQ(parse_str(&t, longname), SEVMON_EINVAL);
	longname[SCAN_NAME_MAX] = ' ';
	longname[SCAN_NAME_MAX + 1] = 0;
	strcat(longname, "unix:///x\n");
	ASSERT_EQ(parse_str(&t, longname), 0);
	ASSERT_UEQ(strlen(t.v[0].name), SCAN_NAME_MAX);
	scan_targets_free(&t);
}

TEST(scan_targets_parse_bad_uri_rejected)
{
	struct scan_targets t;
	ASSERT_EQ(parse_str(&t, "a /run/agent.sock\n"), SEVMON_EINVAL);
	ASSERT(strstr(errbuf, "URI") != NULL);
}

TEST(scan_targets_parse_duplicate_name_rejected_with_both_lines)
{
	struct scan_targets t;
	ASSERT_EQ(parse_str(&t, "a unix:///1\nb unix:///2\n# c\na unix:///3\n"), SEVMON_EINVAL);
	ASSERT(strstr(errbuf, "line 4") != NULL);
	ASSERT(strstr(errbuf, "line 1") != NULL);
}

TEST(scan_targets_parse_bad_fields_rejected)
{
	struct scan_targets t;
	ASSERT_EQ(parse_str(&t, "a unix:///1 measurement=00ff\n"), SEVMON_EINVAL);
	ASSERT_EQ(parse_str(&t, "a unix:///1 pin=\n"), SEVMON_EINVAL);
	ASSERT_EQ(parse_str(&t, "a unix:///1 pin=x pin=y\n"), SEVMON_EINVAL);
	ASSERT_EQ(parse_str(&t, "a unix:///1 colour=blue\n"), SEVMON_EINVAL);
	ASSERT(strstr(errbuf, "colour") != NULL);
}

TEST(scan_targets_parse_too_many_measurements_rejected)
{
	char text[4096];
	int n = snprintf(text, sizeof text, "a unix:///1");
	for (unsigned i = 0; i <= SCAN_MEAS_MAX; i++)
		n += snprintf(text + n, sizeof text - (size_t)n, " measurement=%s", meas);
	struct scan_targets t;
	ASSERT_EQ(parse_str(&t, text), SEVMON_EINVAL);
	ASSERT(strstr(errbuf, "too many") != NULL);
}

TEST(scan_targets_parse_long_line_rejected)
{
	size_t len = SCAN_LINE_MAX + 10;
	char *text = malloc(len + 1);
	ASSERT(text != NULL);
	memset(text, ' ', len);
	memcpy(text, "a unix:///1", 11);
	text[len] = 0;
	struct scan_targets t;
	ASSERT_EQ(parse(&t, text, len), SEVMON_ETOOBIG);
	/* exactly the limit is fine */
	text[SCAN_LINE_MAX] = '\n';
	ASSERT_EQ(parse(&t, text, SCAN_LINE_MAX + 1), 0);
	ASSERT_UEQ(t.n, 1);
	scan_targets_free(&t);
	free(text);
}

TEST(scan_targets_parse_nul_byte_rejected)
{
	static const char text[] = "a unix:///1\nb unix:///2\0 tail\n";
	struct scan_targets t;
	ASSERT_EQ(parse(&t, text, sizeof text - 1), SEVMON_EINVAL);
	ASSERT(strstr(errbuf, "line 2") != NULL);
}

TEST(scan_targets_parse_many_targets_grow)
{
	size_t n = 1000, cap = n * 40;
	char *text = malloc(cap);
	ASSERT(text != NULL);
	size_t off = 0;
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(text + off, cap - off, "vm%04zu unix:///run/a%04zu.sock\n", i, i);
	struct scan_targets t;
	ASSERT_EQ(parse(&t, text, off), 0);
	ASSERT_UEQ(t.n, n);
	ASSERT_STREQ(t.v[999].name, "vm0999");
	ASSERT_STREQ(t.v[999].uri, "unix:///run/a0999.sock");
	scan_targets_free(&t);
	free(text);
}

TEST_MAIN()
