/*
 * test_svd_config.c — sevmond's config parser: a full file, defaults, each error class
 * with its line and field, bounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "store.h"
#include "svd_config.h"

#define TOK "test-token-0123456789abcdef"
/* The set bit of a check of the registry (check.h). */
#define BIT(name) (1ull << check_index(name))
#define HEAD "[sevmond]\nlisten = 127.0.0.1:8080\ntoken = " TOK "\ndatabase = /tmp/x.db\nkey = /k\n"

static int parse(const char *text, struct svd_config *c, char *err, size_t cap)
{
	return svd_config_parse(text, strlen(text), "t.conf", c, err, cap);
}

/* Parse HEAD + extra, expect failure, and check the message. */
static int fails_with(const char *extra, const char *want)
{
	char text[4096], err[512] = "";
	snprintf(text, sizeof text, "%s%s", HEAD, extra);
	struct svd_config c;
	if (parse(text, &c, err, sizeof err) == 0) {
		svd_config_free(&c);
		fprintf(stderr, "# parsed: %s\n", extra);
		return 0;
	}
	if (!strstr(err, want)) {
		fprintf(stderr, "# error '%s' lacks '%s'\n", err, want);
		return 0;
	}
	return 1;
}

TEST(svd_config_parse_full_file)
{
	const char *text =
		"# sevmond\n"
		"[sevmond]\n"
		"listen = [::1]:9443   # API\n"
		"unix = /run/sevmond/api.sock\n"
		"token = " TOK "\n"
		"token = another-token-0123456789\n"
		"database = /var/lib/sevmond/db.sqlite\n"
		"keep_scans = 20\n"
		"max_age = 7d\n"
		"key = /etc/sevmond/ids.key\n"
		"workers = 8\n"
		"queue_per_target = 2\n"
		"memory_limit = 512M\n"
		"connect_timeout = 250ms\n"
		"request_timeout = 1m\n"
		"backoff_min = 2s\n"
		"backoff_max = 1h\n"
		"interval = 5m\n"
		"checks = ps, modules\n"
		"\n"
		"[target vm-1]\n"
		"uri = vsock://3:5000\n"
		"key = 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
		"measurement = "
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f\n"
		"trust = /etc/sevmond/ark.pem\n"
		"interval = 30s\n"
		"[target vm.2]\n"
		"uri = unix:///run/vm2.sock\n"
		"checks = banner\n";
	struct svd_config c;
	char err[256];
	ASSERT_EQ(parse(text, &c, err, sizeof err), 0);
	ASSERT_STREQ(c.host, "::1");
	ASSERT_UEQ(c.port, 9443);
	ASSERT_STREQ(c.unix_path, "/run/sevmond/api.sock");
	ASSERT_UEQ(c.ntokens, 2);
	ASSERT_STREQ(c.tokens[1], "another-token-0123456789");
	ASSERT_UEQ(c.keep_scans, 20);
	ASSERT_UEQ(c.max_age_s, 7u * 86400u);
	ASSERT_UEQ(c.workers, 8);
	ASSERT_UEQ(c.queue_per_target, 2);
	ASSERT_UEQ(c.memory_limit, 512u << 20);
	ASSERT_UEQ(c.connect_timeout_ms, 250);
	ASSERT_UEQ(c.request_timeout_ms, 60000);
	ASSERT_UEQ(c.backoff_max_ms, 3600000);
	ASSERT_UEQ(c.interval_s, 300);
	ASSERT_UEQ(c.checks, BIT("ps") | BIT("modules"));
	ASSERT_UEQ(c.ntargets, 2);
	ASSERT_STREQ(c.targets[0].name, "vm-1");
	ASSERT_STREQ(c.targets[0].uri, "vsock://3:5000");
	ASSERT_UEQ(c.targets[0].nmeasurements, 1);
	ASSERT_UEQ(c.targets[0].ntrust, 1);
	ASSERT_UEQ(c.targets[0].interval_s, 30);
	ASSERT_UEQ(c.targets[1].checks, BIT("banner"));
	ASSERT(svd_config_target(&c, "vm.2") == &c.targets[1]);
	ASSERT(svd_config_target(&c, "vm3") == NULL);
	svd_config_free(&c);
}

TEST(svd_config_parse_defaults)
{
	struct svd_config c;
	char err[256];
	ASSERT_EQ(parse(HEAD, &c, err, sizeof err), 0);
	ASSERT_UEQ(c.workers, SVD_DEFAULT_WORKERS);
	ASSERT_UEQ(c.request_timeout_ms, SVD_DEFAULT_REQUEST_TIMEOUT_MS);
	ASSERT_UEQ(c.checks, check_default_set());
	ASSERT_UEQ(c.ntargets, 0);
	ASSERT_UEQ(c.interval_s, 0);
	svd_config_free(&c);
}

TEST(svd_config_parse_error_names_line_and_field)
{
	ASSERT(fails_with("workers = 0\n", "t.conf:6: workers: at least 1"));
	ASSERT(fails_with("\nworkers = lots\n", "t.conf:7: workers: 'lots' is not a number"));
	ASSERT(fails_with("colour = blue\n", "t.conf:6: colour: unknown key in [sevmond]"));
	ASSERT(fails_with("[target a]\nuri = unix:///a\nfoo = 1\n", "t.conf:8: foo: unknown key in [target a]"));
}

TEST(svd_config_parse_bad_values)
{
	ASSERT(fails_with("connect_timeout = 5 fortnights\n", "connect_timeout"));
	ASSERT(fails_with("connect_timeout = 0\n", "more than 0"));
	ASSERT(fails_with("interval = 1500ms\n", "whole number of seconds"));
	ASSERT(fails_with("memory_limit = 5T\n", "unit must be K, M or G"));
	ASSERT(fails_with("checks = ps,rootkit\n", "checks"));
	ASSERT(fails_with("token = short\n", "16.."));
	ASSERT(fails_with("token = has space in it 0123456789\n", "token68"));
	ASSERT(fails_with("listen = nowhere\n", "listen"));
	ASSERT(fails_with("listen = 1.2.3.4:70000\n", "listen"));
	ASSERT(fails_with("backoff_min = 10s\nbackoff_max = 1s\n", "backoff_min"));
	ASSERT(fails_with("[target a]\nuri = nota-uri\n", "uri"));
	ASSERT(fails_with("[target a]\nuri = unix:///a\nkey = 1234\n", "64 hex"));
	ASSERT(fails_with("[target a]\nuri = unix:///a\nmeasurement = zz\n", "96 hex"));
	ASSERT(fails_with("[target a]\n", "[target a]: uri: required"));
}

TEST(svd_config_parse_structure_errors)
{
	struct svd_config c;
	char err[256];
	ASSERT_EQ(parse("listen = 1.2.3.4:80\n", &c, err, sizeof err), -1);
	ASSERT(strstr(err, "t.conf:1: listen: outside a section") != NULL);
	ASSERT_EQ(parse("[sevmond\n", &c, err, sizeof err), -1);
	ASSERT(strstr(err, "without ']'") != NULL);
	ASSERT_EQ(parse("[daemon]\n", &c, err, sizeof err), -1);
	ASSERT(strstr(err, "unknown section") != NULL);
	ASSERT(fails_with("[sevmond]\n", "given twice"));
	ASSERT(fails_with("[target a]\nuri = unix:///a\n[target a]\n", "'a' given twice"));
	ASSERT(fails_with("[target bad/name]\n", "a name is"));
	ASSERT(fails_with("just words\n", "expected 'key = value'"));
	/* required settings */
	ASSERT_EQ(parse("[sevmond]\nlisten = 1.2.3.4:80\ndatabase = /x\n", &c, err, sizeof err), -1);
	ASSERT(strstr(err, "token") != NULL);
	ASSERT_EQ(parse("[sevmond]\ntoken = " TOK "\nlisten = 1.2.3.4:80\n", &c, err, sizeof err), -1);
	ASSERT(strstr(err, "store: required") != NULL);
	ASSERT_EQ(parse("[sevmond]\ntoken = " TOK "\nlisten = 1.2.3.4:80\ndatabase = /x\n", &c, err,
			sizeof err), -1);
	ASSERT(strstr(err, "key: required") != NULL);
}

TEST(svd_config_parse_bounds)
{
	struct svd_config c;
	char err[256];
	/* an over-long line is refused, not cut */
	size_t n = SVD_CONFIG_LINE_MAX + 100;
	char *text = malloc(sizeof HEAD + n + 16);
	ASSERT(text != NULL);
	strcpy(text, HEAD);
	strcat(text, "unix = ");
	size_t off = strlen(text);
	memset(text + off, 'a', n);
	text[off + n] = 0;
	ASSERT_EQ(parse(text, &c, err, sizeof err), -1);
	ASSERT(strstr(err, "t.conf:6: line longer") != NULL);
	free(text);
	/* a NUL inside the file */
	const char nul[] = HEAD "unix = /a\0b\n";
	ASSERT_EQ(svd_config_parse(nul, sizeof nul - 1, "t.conf", &c, err, sizeof err), -1);
	ASSERT(strstr(err, "NUL") != NULL);
	/* more tokens than the REST layer takes */
	char many[4096];
	snprintf(many, sizeof many, "%s", HEAD);
	for (unsigned i = 0; i < SVD_TOKENS_MAX; i++)
		strcat(many, "token = " TOK "\n");
	ASSERT_EQ(parse(many, &c, err, sizeof err), -1);
	ASSERT(strstr(err, "at most") != NULL);
	/* a '#' inside a value is kept; after whitespace it starts a comment */
	ASSERT_EQ(parse(HEAD "unix = /run/a#b # the socket\n", &c, err, sizeof err), 0);
	ASSERT_STREQ(c.unix_path, "/run/a#b");
	svd_config_free(&c);
}

TEST(svd_config_parse_acquire_keys)
{
	struct svd_config c;
	char err[512] = "";
	ASSERT_EQ(parse(HEAD, &c, err, sizeof err), 0);
	ASSERT_EQ(c.acquire_on, 0); /* never, by default */
	ASSERT_EQ(c.acquire_interval_s, SVD_DEFAULT_ACQUIRE_INTERVAL_S);
	ASSERT_EQ(c.acquire_keep, SVD_DEFAULT_ACQUIRE_KEEP);
	svd_config_free(&c);
	ASSERT_EQ(parse(HEAD "acquire_on = high\nacquire_dir = /var/lib/a\nacquire_format = elf\n"
			     "acquire_interval = 10m\nacquire_keep = 3\n", &c, err, sizeof err), 0);
	ASSERT_EQ(c.acquire_on, STORE_SEV_HIGH + 1);
	ASSERT(!strcmp(c.acquire_dir, "/var/lib/a"));
	ASSERT_EQ(c.acquire_format, 1);
	ASSERT_EQ(c.acquire_interval_s, 600);
	ASSERT_EQ(c.acquire_keep, 3);
	svd_config_free(&c);
	ASSERT(fails_with("acquire_on = high\n", "acquire_dir: required with acquire_on"));
	ASSERT(fails_with("acquire_on = loud\nacquire_dir = /a\n", "acquire_on: 'loud'"));
	ASSERT(fails_with("acquire_format = raw\n", "acquire_format: 'raw': lime or elf"));
	ASSERT(fails_with("acquire_keep = 0\n", "acquire_keep: at least 1"));
	ASSERT(fails_with("acquire_keep = 10001\n", "acquire_keep"));
}

TEST(svd_config_parse_libvirt_keys)
{
	struct svd_config c;
	char err[512] = "", text[1024];
	ASSERT_EQ(parse(HEAD, &c, err, sizeof err), 0);
	ASSERT_STREQ(c.libvirt, "");
	ASSERT_EQ(c.libvirt_port, SVD_DEFAULT_LIBVIRT_PORT);
	ASSERT_EQ(c.libvirt_poll_ms, SVD_DEFAULT_LIBVIRT_POLL_MS);
	svd_config_free(&c);
	snprintf(text, sizeof text, "%slibvirt = qemu:///system\nlibvirt_port = 7000\nlibvirt_poll = 2s\n", HEAD);
	ASSERT_EQ(parse(text, &c, err, sizeof err), 0);
	ASSERT_STREQ(c.libvirt, "qemu:///system");
	ASSERT_EQ(c.libvirt_port, 7000);
	ASSERT_EQ(c.libvirt_poll_ms, 2000);
	svd_config_free(&c);
	ASSERT(fails_with("libvirt_port = 0\n", "libvirt_port: a port is 1..65535"));
	ASSERT(fails_with("libvirt_port = 65536\n", "libvirt_port"));
	ASSERT(fails_with("libvirt_poll = 50ms\n", "libvirt_poll: at least 100ms"));
}

TEST(svd_config_load_missing_file)
{
	struct svd_config c;
	char err[256];
	ASSERT_EQ(svd_config_load("/nonexistent/sevmond.conf", &c, err, sizeof err), -1);
	ASSERT(strstr(err, "/nonexistent/sevmond.conf: ") != NULL);
}

/* Random mutations of a valid file: every outcome is 0 or -1 with a message naming the
 * file; nothing crashes or reads out of bounds (ASan in CI). */
TEST(svd_config_parse_random_mutations)
{
	static const char base[] = HEAD "workers = 2\ninterval = 5m\n[target a]\nuri = unix:///a\n"
				   "key = 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
	static const char alphabet[] = "[]=#\n \t:0123456789abcdefmsKMGx,/.-\r";
	char buf[sizeof base];
	uint32_t seed = 0x5e5e1234u;
	int ok = 0, bad = 0;
	for (int iter = 0; iter < 3000; iter++) {
		memcpy(buf, base, sizeof base);
		int flips = 1 + iter % 4;
		for (int f = 0; f < flips; f++) {
			seed = seed * 1664525u + 1013904223u;
			size_t at = (seed >> 8) % (sizeof base - 1);
			seed = seed * 1664525u + 1013904223u;
			buf[at] = alphabet[(seed >> 8) % (sizeof alphabet - 1)];
		}
		seed = seed * 1664525u + 1013904223u;
		size_t len = iter % 7 == 0 ? (seed >> 8) % (sizeof base - 1) : sizeof base - 1;
		struct svd_config c;
		char err[256] = "";
		int rc = svd_config_parse(buf, len, "r.conf", &c, err, sizeof err);
		if (rc == 0) {
			ok++;
			ASSERT(c.ntokens >= 1 && c.database[0] && c.key_file[0]);
			svd_config_free(&c);
		} else {
			ASSERT_EQ(rc, -1);
			ASSERT(strncmp(err, "r.conf:", 7) == 0);
			bad++;
		}
	}
	ASSERT(ok > 0);
	ASSERT(bad > 0);
}

TEST_MAIN()
