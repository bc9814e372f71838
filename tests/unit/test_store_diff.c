/* test_store_diff.c — store_diff_*: what changed between two check payloads. */
#include <stdlib.h>
#include <string.h>

#include "store_impl.h"
#include "store_testutil.h"

/* Diff two process lists built with st_ps; returns the diff, which the caller frees. */
static struct store_diff diff_ps(const char *prev, int prev_partial, const char *cur,
				 int cur_partial, int expect_n)
{
	char *p = st_ps(prev, prev_partial), *c = st_ps(cur, cur_partial);
	struct store_diff d;
	char msg[256] = "";
	int rc = store_diff_processes(p, c, &d, msg, sizeof(msg));
	if (rc < 0)
		FAIL_AT("diff failed: %s: %s", sevmon_errname(rc), msg);
	ASSERT_EQ(rc, expect_n);
	ASSERT_EQ(d.n, expect_n);
	free(p);
	free(c);
	return d;
}

TEST(store_diff_processes_first_scan_no_findings)
{
	char *c = st_ps("1:init:0;2:kthreadd:0:k", 0);
	struct store_diff d;
	ASSERT_EQ(store_diff_processes(NULL, c, &d, NULL, 0), 0);
	ASSERT_EQ(d.n, 0);
	store_diff_free(&d);
	free(c);
}

TEST(store_diff_processes_identical_no_findings)
{
	struct store_diff d = diff_ps("1:init:0;2:kthreadd:0:k;300:sshd:0", 0,
				      "300:sshd:0;1:init:0;2:kthreadd:0:k", 0, 0);
	store_diff_free(&d);
}

TEST(store_diff_processes_appeared_severity_by_uid_and_kthread)
{
	struct store_diff d = diff_ps("1:init:0;2:kthreadd:0:k", 0,
				      "1:init:0;2:kthreadd:0:k;3:kworker:0:k;100:bash:1000;101:nc:0",
				      0, 3);
	const struct store_finding *kw = st_find(d.v, d.n, "process_appeared", "3:kworker");
	const struct store_finding *bash = st_find(d.v, d.n, "process_appeared", "100:bash");
	const struct store_finding *nc = st_find(d.v, d.n, "process_appeared", "101:nc");
	ASSERT(kw && bash && nc);
	ASSERT_EQ(kw->severity, STORE_SEV_INFO);   /* root, but a kernel thread */
	ASSERT_EQ(bash->severity, STORE_SEV_INFO); /* not root */
	ASSERT_EQ(nc->severity, STORE_SEV_HIGH);   /* a new root user process */
	ASSERT(strstr(nc->detail_json, "\"pid\":101"));
	ASSERT(strstr(nc->detail_json, "\"uid\":0"));
	ASSERT(strstr(kw->detail_json, "\"kthread\":true"));
	store_diff_free(&d);
}

TEST(store_diff_processes_vanished_info)
{
	struct store_diff d = diff_ps("1:init:0;200:cron:0;201:agetty:0", 0, "1:init:0", 0, 2);
	ASSERT_STREQ(d.v[0].kind, "process_vanished");
	ASSERT_STREQ(d.v[0].subject, "200:cron");
	ASSERT_STREQ(d.v[1].subject, "201:agetty");
	ASSERT_EQ(d.v[0].severity, STORE_SEV_INFO);
	ASSERT_EQ(d.v[1].severity, STORE_SEV_INFO);
	store_diff_free(&d);
}

TEST(store_diff_processes_pid_reuse_vanished_and_appeared)
{
	struct store_diff d = diff_ps("1:init:0;100:bash:1000", 0, "1:init:0;100:sshd:0", 0, 2);
	/* vanished come first */
	ASSERT_STREQ(d.v[0].kind, "process_vanished");
	ASSERT_STREQ(d.v[0].subject, "100:bash");
	ASSERT_STREQ(d.v[1].kind, "process_appeared");
	ASSERT_STREQ(d.v[1].subject, "100:sshd");
	ASSERT_EQ(d.v[1].severity, STORE_SEV_HIGH);
	store_diff_free(&d);
}

TEST(store_diff_processes_partial_current_no_vanished)
{
	/* the current walk was torn after init: 200 and 300 are missing, not gone */
	struct store_diff d = diff_ps("1:init:0;200:cron:0;300:sshd:0", 0, "1:init:0;400:evil:0", 1,
				      1);
	ASSERT_STREQ(d.v[0].kind, "process_appeared");
	ASSERT_STREQ(d.v[0].subject, "400:evil");
	store_diff_free(&d);
}

TEST(store_diff_processes_partial_previous_no_appeared)
{
	/* the baseline was torn: 300 may have been there already; 200 did go */
	struct store_diff d = diff_ps("1:init:0;200:cron:0", 1, "1:init:0;300:sshd:0", 0, 1);
	ASSERT_STREQ(d.v[0].kind, "process_vanished");
	ASSERT_STREQ(d.v[0].subject, "200:cron");
	store_diff_free(&d);
}

TEST(store_diff_processes_duplicates_count_once)
{
	struct store_diff d = diff_ps("1:init:0", 0, "1:init:0;5:x:1;5:x:1;5:x:1", 0, 1);
	ASSERT_STREQ(d.v[0].subject, "5:x");
	store_diff_free(&d);
}

TEST(store_diff_processes_malformed_einval_with_message)
{
	static const char *const bad[] = {
		"{\"processes\":[",                                  /* truncated */
		"[1,2,3]",                                           /* not an object */
		"{\"processes\":{}}",                                /* not an array */
		"{\"procs\":[]}",                                    /* wrong member */
		"{\"processes\":[{\"pid\":1}]}",                     /* no comm */
		"{\"processes\":[{\"pid\":-1,\"comm\":\"a\"}]}",     /* negative pid */
		"{\"processes\":[{\"pid\":1.5,\"comm\":\"a\"}]}",    /* real pid */
		"{\"processes\":[{\"pid\":1,\"comm\":\"\"}]}",       /* empty comm */
		"{\"processes\":[{\"pid\":1,\"comm\":\"a\",\"uid\":\"0\"}]}",
		"{\"processes\":[{\"pid\":1,\"comm\":\"a\",\"kthread\":1}]}",
		"{\"processes\":[{\"pid\":1,\"comm\":\"a\\u0000b\"}]}", /* embedded NUL */
		"{\"processes\":[],\"partial\":\"no\"}",
		"{\"processes\":[],\"processes\":[]}",               /* duplicate key */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct store_diff d;
		char msg[256] = "";
		int rc = store_diff_processes(NULL, bad[i], &d, msg, sizeof(msg));
		if (rc != SEVMON_EINVAL)
			FAIL_AT("case %zu (%s): %s", i, bad[i], sevmon_errname(rc));
		ASSERT(msg[0] != '\0');
		ASSERT_EQ(d.n, 0);
	}
}

TEST(store_diff_processes_long_comm_einval)
{
	/* the limit is 128 bytes: a 16-byte comm whose every byte came escaped fits */
	char p[256];
	snprintf(p, sizeof(p), "{\"processes\":[{\"pid\":1,\"comm\":\"%0129d\"}]}", 0);
	struct store_diff d;
	ASSERT_EQ(store_diff_processes(NULL, p, &d, NULL, 0), SEVMON_EINVAL);
	snprintf(p, sizeof(p), "{\"processes\":[{\"pid\":1,\"comm\":\"%0128d\"}]}", 0);
	ASSERT_EQ(store_diff_processes(NULL, p, &d, NULL, 0), 0);
	store_diff_free(&d);
}

/* The bug this shape fixes: sevmond wrote an unknown uid as the sentinel 4294967295 (and
 * the CLI as null), and the store took neither, so one task whose cred could not be
 * followed cost the whole process list. Unknown is null now, everywhere; the store takes
 * null (and -1, as older payloads wrote it) and still refuses the sentinel, which is not
 * a uid. */
TEST(store_diff_processes_unknown_uid_and_ppid_are_null)
{
	static const char cur[] = "{\"processes\":[{\"pid\":1,\"ppid\":0,\"uid\":0,\"comm\":\"init\"},"
				  "{\"pid\":42,\"ppid\":null,\"uid\":null,\"comm\":\"torn\"}],"
				  "\"partial\":true}";
	struct store_diff d;
	char msg[256] = "";
	ASSERT_EQ(store_diff_processes(NULL, cur, &d, msg, sizeof msg), 0);
	store_diff_free(&d);
	static const char old[] = "{\"processes\":[{\"pid\":42,\"ppid\":-1,\"uid\":-1,\"comm\":\"torn\"}]}";
	ASSERT_EQ(store_diff_processes(NULL, old, &d, msg, sizeof msg), 0);
	store_diff_free(&d);
	static const char sentinel[] = "{\"processes\":[{\"pid\":42,\"uid\":4294967295,\"comm\":\"torn\"}]}";
	ASSERT_EQ(store_diff_processes(NULL, sentinel, &d, msg, sizeof msg), SEVMON_EINVAL);
}

TEST(store_diff_processes_malformed_previous_says_so)
{
	char *c = st_ps("1:init:0", 0);
	struct store_diff d;
	char msg[256] = "";
	ASSERT_EQ(store_diff_processes("{oops", c, &d, msg, sizeof(msg)), SEVMON_EINVAL);
	ASSERT(strstr(msg, "previous payload") != NULL);
	free(c);
}

TEST(store_diff_processes_too_many_entries_etoobig)
{
	size_t n = STORE_DIFF_MAX_ITEMS + 1, cap = 32 + n * 32;
	char *p = malloc(cap);
	ASSERT(p != NULL);
	size_t w = (size_t)snprintf(p, cap, "{\"processes\":[");
	for (size_t i = 0; i < n; i++)
		w += (size_t)snprintf(p + w, cap - w, "%s{\"pid\":%zu,\"comm\":\"a\"}", i ? "," : "",
				      i);
	snprintf(p + w, cap - w, "]}");
	struct store_diff d;
	char msg[256] = "";
	ASSERT_EQ(store_diff_processes(NULL, p, &d, msg, sizeof(msg)), SEVMON_ETOOBIG);
	ASSERT(strstr(msg, "limit") != NULL);
	free(p);
}

TEST(store_diff_processes_oversized_etoobig)
{
	size_t n = (size_t)STORE_PAYLOAD_MAX + 16;
	char *p = malloc(n + 1);
	ASSERT(p != NULL);
	memset(p, ' ', n);
	p[n] = '\0';
	struct store_diff d;
	ASSERT_EQ(store_diff_processes(NULL, p, &d, NULL, 0), SEVMON_ETOOBIG);
	free(p);
}

TEST(store_diff_modules_appeared_vanished_medium)
{
	char *p = st_mods("ext4;dummy;loop", 0), *c = st_mods("ext4;loop;rootkit", 0);
	struct store_diff d;
	ASSERT_EQ(store_diff_modules(p, c, &d, NULL, 0), 2);
	ASSERT_STREQ(d.v[0].kind, "module_vanished");
	ASSERT_STREQ(d.v[0].subject, "dummy");
	ASSERT_STREQ(d.v[1].kind, "module_appeared");
	ASSERT_STREQ(d.v[1].subject, "rootkit");
	ASSERT_EQ(d.v[0].severity, STORE_SEV_MEDIUM);
	ASSERT_EQ(d.v[1].severity, STORE_SEV_MEDIUM);
	store_diff_free(&d);
	free(p);
	free(c);
}

TEST(store_diff_modules_partial_current_no_vanished)
{
	char *p = st_mods("ext4;dummy;loop", 0), *c = st_mods("ext4;new", 1);
	struct store_diff d;
	ASSERT_EQ(store_diff_modules(p, c, &d, NULL, 0), 1);
	ASSERT_STREQ(d.v[0].kind, "module_appeared");
	ASSERT_STREQ(d.v[0].subject, "new");
	store_diff_free(&d);
	free(p);
	free(c);
}

TEST(store_diff_modules_malformed_einval)
{
	struct store_diff d;
	ASSERT_EQ(store_diff_modules(NULL, "{\"modules\":[{\"state\":\"live\"}]}", &d, NULL, 0),
		  SEVMON_EINVAL);
	ASSERT_EQ(store_diff_modules(NULL, "{\"modules\":[\"ext4\"]}", &d, NULL, 0), SEVMON_EINVAL);
	ASSERT_EQ(store_diff_modules(NULL, "{\"modules\":[]}", &d, NULL, 0), 0);
}

TEST(store_diff_banner_changed_high)
{
	struct store_diff d;
	ASSERT_EQ(store_diff_banner("{\"banner\":\"Linux version 6.1.0-1\"}",
				    "{\"banner\":\"Linux version 6.1.0-2\"}", &d, NULL, 0),
		  1);
	ASSERT_STREQ(d.v[0].kind, "banner_changed");
	ASSERT_EQ(d.v[0].severity, STORE_SEV_HIGH);
	ASSERT(strstr(d.v[0].detail_json, "\"old\":\"Linux version 6.1.0-1\""));
	ASSERT(strstr(d.v[0].detail_json, "\"new\":\"Linux version 6.1.0-2\""));
	store_diff_free(&d);
}

TEST(store_diff_banner_same_no_findings)
{
	struct store_diff d;
	ASSERT_EQ(store_diff_banner("{\"banner\":\"Linux version 6.1\"}",
				    "{\"banner\":\"Linux version 6.1\"}", &d, NULL, 0),
		  0);
	ASSERT_EQ(d.n, 0);
	ASSERT_EQ(store_diff_banner(NULL, "{\"banner\":\"x\"}", &d, NULL, 0), 0);
}

TEST(store_diff_banner_malformed_einval)
{
	struct store_diff d;
	ASSERT_EQ(store_diff_banner(NULL, "{\"banner\":5}", &d, NULL, 0), SEVMON_EINVAL);
	ASSERT_EQ(store_diff_banner(NULL, "\"Linux\"", &d, NULL, 0), SEVMON_EINVAL);
	char *big = malloc(STORE_BANNER_MAX + 64);
	ASSERT(big != NULL);
	int w = snprintf(big, 32, "{\"banner\":\"");
	memset(big + w, 'x', STORE_BANNER_MAX + 1);
	strcpy(big + w + STORE_BANNER_MAX + 1, "\"}");
	ASSERT_EQ(store_diff_banner(NULL, big, &d, NULL, 0), SEVMON_EINVAL);
	free(big);
}

/* Random lists against a brute-force reference: an entry of one list is reported iff no
 * entry of the other has the same (pid, comm), once per distinct identity. */
static int in_list(const int *pid, const int *comm, int n, int p, int c)
{
	for (int i = 0; i < n; i++)
		if (pid[i] == p && comm[i] == c)
			return 1;
	return 0;
}

static int expected(const int *ap, const int *ac, int an, const int *bp, const int *bc, int bn)
{
	int cnt = 0;
	for (int i = 0; i < an; i++)
		if (!in_list(bp, bc, bn, ap[i], ac[i]) && !in_list(ap, ac, i, ap[i], ac[i]))
			cnt++;
	return cnt;
}

TEST(store_diff_processes_random_lists_match_reference)
{
	static const char *const comms[] = { "init", "bash", "sshd", "cron", "nc" };
	uint32_t seed = 12345;
	for (int round = 0; round < 300; round++) {
		int ap[40], ac[40], bp[40], bc[40], an, bn;
		char ea[2048] = "", eb[2048] = "";
		seed = seed * 1103515245u + 12345u;
		an = (int)(seed >> 16) % 40;
		seed = seed * 1103515245u + 12345u;
		bn = (int)(seed >> 16) % 40;
		for (int i = 0; i < an + bn; i++) {
			seed = seed * 1103515245u + 12345u;
			int p = (int)(seed >> 16) % 12, c = (int)(seed >> 8) % 5;
			char *e = i < an ? ea : eb;
			if (i < an) {
				ap[i] = p;
				ac[i] = c;
			} else {
				bp[i - an] = p;
				bc[i - an] = c;
			}
			snprintf(e + strlen(e), 2048 - strlen(e), "%d:%s:1000;", p, comms[c]);
		}
		int vanished = expected(ap, ac, an, bp, bc, bn);
		int appeared = expected(bp, bc, bn, ap, ac, an);
		char *pa = st_ps(ea, 0), *pb = st_ps(eb, 0);
		struct store_diff d;
		ASSERT_EQ(store_diff_processes(pa, pb, &d, NULL, 0), vanished + appeared);
		for (size_t i = 0; i < d.n; i++) {
			int p, c = -1;
			char name[16];
			ASSERT_EQ(sscanf(d.v[i].subject, "%d:%15s", &p, name), 2);
			for (int k = 0; k < 5; k++)
				if (strcmp(name, comms[k]) == 0)
					c = k;
			int vanish = i < (size_t)vanished;
			ASSERT_STREQ(d.v[i].kind, vanish ? "process_vanished" : "process_appeared");
			ASSERT(vanish ? in_list(ap, ac, an, p, c) && !in_list(bp, bc, bn, p, c)
				      : in_list(bp, bc, bn, p, c) && !in_list(ap, ac, an, p, c));
		}
		store_diff_free(&d);
		free(pa);
		free(pb);
	}
}

TEST(store_idlist_blob_roundtrip_same_diff)
{
	char *p = st_ps("1:init:0;2:kthreadd:0:k;100:bash:1000;7:x:0", 1);
	char *c = st_ps("1:init:0;2:kthreadd:0:k;100:sshd:0", 0);
	struct store_idlist a, a2, b;
	ASSERT_EQ(store_idlist_from_json(STORE_ID_PROCESSES, p, &a, NULL, 0), 0);
	ASSERT_EQ(store_idlist_from_json(STORE_ID_PROCESSES, c, &b, NULL, 0), 0);
	uint8_t *blob;
	size_t len;
	ASSERT_EQ(store_idlist_to_blob(&a, &blob, &len), 0);
	ASSERT(len < strlen(p)); /* never larger than the JSON */
	ASSERT_EQ(store_idlist_from_blob(STORE_ID_PROCESSES, blob, len, &a2), 0);
	ASSERT_EQ(a2.n, a.n);
	ASSERT(a2.partial);
	for (size_t i = 0; i < a.n; i++) {
		ASSERT_EQ(a2.v[i].pid, a.v[i].pid);
		ASSERT_EQ(a2.v[i].uid, a.v[i].uid);
		ASSERT_EQ(a2.v[i].ppid, a.v[i].ppid);
		ASSERT_EQ(a2.v[i].kthread, a.v[i].kthread);
		ASSERT_STREQ(a2.v[i].name, a.v[i].name);
	}
	struct store_diff d1, d2, d3;
	ASSERT_EQ(store_idlist_diff(&a, &b, &d1), 2); /* partial baseline: vanished only */
	ASSERT_EQ(store_idlist_diff(&a2, &b, &d2), 2);
	ASSERT_EQ(store_diff_processes(p, c, &d3, NULL, 0), 2);
	for (size_t i = 0; i < 2; i++) {
		ASSERT_STREQ(d1.v[i].subject, d2.v[i].subject);
		ASSERT_STREQ(d1.v[i].detail_json, d2.v[i].detail_json);
		ASSERT_STREQ(d1.v[i].subject, d3.v[i].subject);
		ASSERT_STREQ(d1.v[i].kind, "process_vanished");
	}
	store_diff_free(&d1);
	store_diff_free(&d2);
	store_diff_free(&d3);
	/* a list of the wrong kind is refused */
	struct store_idlist m;
	ASSERT_EQ(store_idlist_from_blob(STORE_ID_MODULES, blob, len, &m), SEVMON_EDECODE);
	store_idlist_free(&a);
	store_idlist_free(&a2);
	store_idlist_free(&b);
	free(blob);
	free(p);
	free(c);
}

TEST(store_idlist_from_blob_every_truncation_and_flip_is_safe)
{
	char *p = st_mods("ext4;loop;dummy", 0);
	struct store_idlist a, x;
	ASSERT_EQ(store_idlist_from_json(STORE_ID_MODULES, p, &a, NULL, 0), 0);
	uint8_t *blob;
	size_t len;
	ASSERT_EQ(store_idlist_to_blob(&a, &blob, &len), 0);
	for (size_t n = 0; n < len; n++)
		ASSERT_EQ(store_idlist_from_blob(STORE_ID_MODULES, blob, n, &x), SEVMON_EDECODE);
	uint8_t *copy = malloc(len + 1);
	ASSERT(copy != NULL);
	memcpy(copy, blob, len);
	copy[len] = 0;
	ASSERT_EQ(store_idlist_from_blob(STORE_ID_MODULES, copy, len + 1, &x), SEVMON_EDECODE);
	/* any single byte changed: refused or still a well-formed list, never a crash */
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(copy, blob, len);
			copy[i] ^= (uint8_t)(1u << bit);
			int rc = store_idlist_from_blob(STORE_ID_MODULES, copy, len, &x);
			ASSERT(rc == 0 || rc == SEVMON_EDECODE);
			for (size_t j = 0; rc == 0 && j < x.n; j++)
				ASSERT(strlen(x.v[j].name) >= 1);
			store_idlist_free(&x);
		}
	}
	free(copy);
	free(blob);
	store_idlist_free(&a);
	free(p);
}

TEST_MAIN()
