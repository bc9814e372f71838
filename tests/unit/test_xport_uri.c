/* URI parsing and formatting of the transport layer (lib/xport/xport_uri.c). */
#include "err.h"
#include "harness.h"
#include "xport.h"

struct good {
	const char *uri;
	enum xport_kind kind;
	const char *path, *host;
	uint32_t port, cid, vport;
	const char *canon; /* xport_format output when it differs from uri */
};

static const struct good goods[] = {
	{ "unix:///run/sevmon.sock", XPORT_UNIX, "/run/sevmon.sock", "", 0, 0, 0, NULL },
	{ "unix:///a", XPORT_UNIX, "/a", "", 0, 0, 0, NULL },
	{ "unix:///path with space/s", XPORT_UNIX, "/path with space/s", "", 0, 0, 0, NULL },
	{ "tcp://127.0.0.1:9000", XPORT_TCP, "", "127.0.0.1", 9000, 0, 0, NULL },
	{ "tcp://0.0.0.0:1", XPORT_TCP, "", "0.0.0.0", 1, 0, 0, NULL },
	{ "tcp://10.1.2.3:65535", XPORT_TCP, "", "10.1.2.3", 65535, 0, 0, NULL },
	{ "tcp://[::1]:9000", XPORT_TCP, "", "::1", 9000, 0, 0, NULL },
	{ "tcp://[::]:80", XPORT_TCP, "", "::", 80, 0, 0, NULL },
	{ "tcp://[fe80::1:2]:443", XPORT_TCP, "", "fe80::1:2", 443, 0, 0, NULL },
	{ "tcp://[::ffff:1.2.3.4]:5", XPORT_TCP, "", "::ffff:1.2.3.4", 5, 0, 0, NULL },
	{ "tcp://localhost:22", XPORT_TCP, "", "localhost", 22, 0, 0, NULL },
	{ "tcp://ids-1.example.org:8443", XPORT_TCP, "", "ids-1.example.org", 8443, 0, 0, NULL },
	{ "tcp://127.0.0.1:00080", XPORT_TCP, "", "127.0.0.1", 80, 0, 0, "tcp://127.0.0.1:80" },
	{ "vsock://3:5000", XPORT_VSOCK, "", "", 0, 3, 5000, NULL },
	{ "vsock://any:5000", XPORT_VSOCK, "", "", 0, 0xFFFFFFFFu, 5000, NULL },
	{ "vsock://-1:5000", XPORT_VSOCK, "", "", 0, 0xFFFFFFFFu, 5000, "vsock://any:5000" },
	{ "vsock://4294967295:7", XPORT_VSOCK, "", "", 0, 0xFFFFFFFFu, 7, "vsock://any:7" },
	{ "vsock://host:1024", XPORT_VSOCK, "", "", 0, 2, 1024, "vsock://2:1024" },
	{ "vsock://local:1024", XPORT_VSOCK, "", "", 0, 1, 1024, "vsock://1:1024" },
	{ "vsock://0:4294967294", XPORT_VSOCK, "", "", 0, 0, 4294967294u, NULL },
	{ "vsock-hybrid:///run/fc/v.sock:52", XPORT_VSOCK_HYBRID, "/run/fc/v.sock", "", 0, 0,
	  52, NULL },
	{ "vsock-hybrid:///a:b/c.sock:5000", XPORT_VSOCK_HYBRID, "/a:b/c.sock", "", 0, 0, 5000,
	  NULL },
	{ "shm:///dev/shm/sevmon0", XPORT_SHM, "/dev/shm/sevmon0", "", 0, 0, 0, NULL },
	{ "shm+pci://0000:00:04.0", XPORT_SHM_PCI, "", "0000:00:04.0", 0, 0, 0, NULL },
	{ "shm+pci://00:1f.7", XPORT_SHM_PCI, "", "00:1f.7", 0, 0, 0, NULL },
};

static const char *const bads[] = {
	"",
	"unix",
	"unix:",
	"unix:/tmp/x",
	"unix://",
	"unix:///",
	"unix://relative",
	"unix://host/path",
	"UNIX:///tmp/x",
	"http://127.0.0.1:80",
	" tcp://127.0.0.1:80",
	"tcp://",
	"tcp://127.0.0.1",
	"tcp://127.0.0.1:",
	"tcp://127.0.0.1:0",
	"tcp://127.0.0.1:65536",
	"tcp://127.0.0.1:99999999999",
	"tcp://127.0.0.1:+80",
	"tcp://127.0.0.1:-80",
	"tcp://127.0.0.1: 80",
	"tcp://127.0.0.1:80 ",
	"tcp://127.0.0.1:80/",
	"tcp://127.0.0.1:80x",
	"tcp://127.0.0.1:0x50",
	"tcp://:80",
	"tcp://256.1.1.1:80",
	"tcp://1.2.3:80",
	"tcp://1.2.3.4.5:80",
	"tcp://::1:80",
	"tcp://[::1]",
	"tcp://[::1]:",
	"tcp://[::1]80",
	"tcp://[::1:80",
	"tcp://[]:80",
	"tcp://[::g]:80",
	"tcp://[1.2.3.4]:80",
	"tcp://[::1%25lo]:80",
	"tcp://user@host:80",
	"tcp://host_name:80",
	"tcp://-host:80",
	"tcp://host..example:80",
	"tcp://host.:80",
	"tcp://a:b:80",
	"vsock://",
	"vsock://3",
	"vsock://3:",
	"vsock://:5000",
	"vsock://3:0",
	"vsock://3:4294967295",
	"vsock://3:4294967296",
	"vsock://4294967296:5",
	"vsock://-2:5",
	"vsock://ANY:5",
	"vsock://hostx:5",
	"vsock://3:5:6",
	"vsock://3:5 ",
	"vsock-hybrid://",
	"vsock-hybrid:///v.sock",
	"vsock-hybrid:///v.sock:",
	"vsock-hybrid:///v.sock:0",
	"vsock-hybrid:///v.sock:x",
	"vsock-hybrid://v.sock:5",
	"vsock-hybrid:///:5",
	"shm://",
	"shm://name",
	"shm+pci://",
	"shm+pci://00:04.0x",
	"shm+pci://00:20.0",
	"shm+pci://00:04.8",
	"shm+pci://0:0:04.0",
	"shm+pci://0000-00:04.0",
	"unix:///tmp/a\nb",
	"unix:///tmp/a\tb",
	"tcp://127.0.0.1:80\n",
};

TEST(xport_parse_valid_table)
{
	for (size_t i = 0; i < sizeof goods / sizeof goods[0]; i++) {
		const struct good *g = &goods[i];
		struct xport_addr a;
		memset(&a, 0xAA, sizeof a);
		int rc = xport_parse(g->uri, &a);
		if (rc != 0)
			FAIL_AT("%s: %s", g->uri, sevmon_errname(rc));
		ASSERT_EQ(a.kind, g->kind);
		ASSERT_STREQ(a.path, g->path);
		ASSERT_STREQ(a.host, g->host);
		ASSERT_EQ(a.port, g->port);
		ASSERT_UEQ(a.cid, g->cid);
		ASSERT_UEQ(a.vport, g->vport);
	}
}

TEST(xport_parse_invalid_table_leaves_out_untouched)
{
	for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
		struct xport_addr a, before;
		memset(&a, 0x5C, sizeof a);
		before = a;
		int rc = xport_parse(bads[i], &a);
		if (rc != SEVMON_EURI)
			FAIL_AT("\"%s\": expected EURI, got %s", bads[i], sevmon_errname(rc));
		ASSERT_MEMEQ(&a, &before, sizeof a);
	}
}

/* Mutated URIs: whatever the parser accepts must survive format -> parse unchanged,
 * whatever it refuses must leave the output alone. Deterministic seed: reproducible. */
TEST(xport_parse_mutations_round_trip_or_untouched)
{
	static const char alphabet[] = "/:[]0123456789abfxAF.-+% @\t";
	unsigned seed = 12345;
	int accepted = 0, refused = 0;
	for (int iter = 0; iter < 20000; iter++) {
		char uri[XPORT_URI_MAX];
		const char *base = goods[(unsigned)iter % (sizeof goods / sizeof goods[0])].uri;
		snprintf(uri, sizeof uri, "%s", base);
		size_t n = strlen(uri);
		int edits = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 3;
		for (int e = 0; e < edits && n > 0; e++) {
			seed = seed * 1103515245u + 12345u;
			size_t pos = (seed >> 8) % n;
			seed = seed * 1103515245u + 12345u;
			char ch = alphabet[(seed >> 8) % (sizeof alphabet - 1)];
			switch ((seed >> 20) % 3) {
			case 0: /* replace */
				uri[pos] = ch;
				break;
			case 1: /* delete */
				memmove(uri + pos, uri + pos + 1, n - pos);
				n--;
				break;
			default: /* insert */
				if (n + 1 < sizeof uri) {
					memmove(uri + pos + 1, uri + pos, n - pos + 1);
					uri[pos] = ch;
					n++;
				}
			}
		}
		struct xport_addr a, b, before;
		memset(&a, 0x77, sizeof a);
		before = a;
		int rc = xport_parse(uri, &a);
		if (rc != 0) {
			ASSERT_EQ(rc, SEVMON_EURI);
			ASSERT_MEMEQ(&a, &before, sizeof a);
			refused++;
			continue;
		}
		char buf[XPORT_URI_MAX];
		ASSERT(xport_format(&a, buf, sizeof buf) > 0);
		if (xport_parse(buf, &b) != 0)
			FAIL_AT("\"%s\" parsed, its format \"%s\" did not", uri, buf);
		ASSERT_MEMEQ(&a, &b, sizeof a);
		accepted++;
	}
	ASSERT(accepted > 100);
	ASSERT(refused > 100);
}

TEST(xport_parse_path_length_limit)
{
	char uri[16 + XPORT_PATH_MAX + 8];
	struct xport_addr a;
	/* 107 characters fit sun_path with the NUL... */
	strcpy(uri, "unix:///");
	memset(uri + 8, 'p', XPORT_PATH_MAX - 2);
	uri[8 + XPORT_PATH_MAX - 2] = '\0';
	ASSERT_EQ(xport_parse(uri, &a), 0);
	ASSERT_EQ(strlen(a.path), XPORT_PATH_MAX - 1);
	/* ...108 do not. */
	strcat(uri, "p");
	ASSERT_EQ(xport_parse(uri, &a), SEVMON_EURI);
}

TEST(xport_parse_host_length_limit)
{
	char uri[300];
	struct xport_addr a;
	/* 253 characters in labels of 63: the DNS limit. */
	char host[260];
	size_t n = 0;
	while (n < 253) {
		size_t lab = 253 - n >= 64 ? 63 : 253 - n;
		memset(host + n, 'h', lab);
		n += lab;
		if (n < 253)
			host[n++] = '.';
	}
	host[n] = '\0';
	ASSERT_EQ(strlen(host), 253);
	snprintf(uri, sizeof uri, "tcp://%s:1", host);
	ASSERT_EQ(xport_parse(uri, &a), 0);
	ASSERT_STREQ(a.host, host);
	snprintf(uri, sizeof uri, "tcp://h%s:1", host);
	ASSERT_EQ(xport_parse(uri, &a), SEVMON_EURI);
	/* A 64-character label is too long. */
	memset(host, 'l', 64);
	host[64] = '\0';
	snprintf(uri, sizeof uri, "tcp://%s:1", host);
	ASSERT_EQ(xport_parse(uri, &a), SEVMON_EURI);
}

TEST(xport_parse_overlong_uri)
{
	size_t n = XPORT_URI_MAX + 10;
	char *uri = malloc(n + 1);
	ASSERT(uri != NULL);
	memcpy(uri, "unix:///", 8);
	memset(uri + 8, 'x', n - 8);
	uri[n] = '\0';
	struct xport_addr a;
	ASSERT_EQ(xport_parse(uri, &a), SEVMON_EURI);
	free(uri);
}

TEST(xport_parse_null_args)
{
	struct xport_addr a;
	ASSERT_EQ(xport_parse(NULL, &a), SEVMON_EINVAL);
	ASSERT_EQ(xport_parse("tcp://1.2.3.4:5", NULL), SEVMON_EINVAL);
}

TEST(xport_format_round_trip)
{
	for (size_t i = 0; i < sizeof goods / sizeof goods[0]; i++) {
		const struct good *g = &goods[i];
		struct xport_addr a, b;
		char buf[XPORT_URI_MAX];
		ASSERT_EQ(xport_parse(g->uri, &a), 0);
		int n = xport_format(&a, buf, sizeof buf);
		ASSERT_EQ(n, strlen(g->canon ? g->canon : g->uri));
		ASSERT_STREQ(buf, g->canon ? g->canon : g->uri);
		ASSERT_EQ(xport_parse(buf, &b), 0);
		ASSERT_MEMEQ(&a, &b, sizeof a);
	}
}

TEST(xport_format_too_small)
{
	struct xport_addr a;
	char buf[12];
	ASSERT_EQ(xport_parse("tcp://127.0.0.1:9000", &a), 0);
	memset(buf, 'z', sizeof buf);
	ASSERT_EQ(xport_format(&a, buf, sizeof buf), SEVMON_ETOOBIG);
	ASSERT_STREQ(buf, "");
	char exact[21];
	ASSERT_EQ(xport_format(&a, exact, sizeof exact), 20);
	ASSERT_EQ(xport_format(&a, exact, sizeof exact - 1), SEVMON_ETOOBIG);
}

TEST(xport_format_longest_fits_uri_max)
{
	struct xport_addr a;
	memset(&a, 0, sizeof a);
	a.kind = XPORT_VSOCK_HYBRID;
	memset(a.path, 'p', sizeof a.path); /* no NUL: the formatter must stop itself */
	a.path[0] = '/';
	a.vport = 4294967294u;
	char buf[XPORT_URI_MAX];
	int n = xport_format(&a, buf, sizeof buf);
	ASSERT(n > 0 && n < XPORT_URI_MAX);
	ASSERT_EQ(n, strlen("vsock-hybrid://") + XPORT_PATH_MAX - 1 + strlen(":4294967294"));
	memset(&a, 0, sizeof a);
	a.kind = XPORT_TCP;
	memset(a.host, 'h', sizeof a.host);
	a.port = 65535;
	n = xport_format(&a, buf, sizeof buf);
	ASSERT_EQ(n, strlen("tcp://") + XPORT_HOST_MAX - 1 + strlen(":65535"));
}

TEST(xport_format_unknown_kind)
{
	struct xport_addr a;
	memset(&a, 0, sizeof a);
	a.kind = (enum xport_kind)99;
	char buf[32];
	ASSERT_EQ(xport_format(&a, buf, sizeof buf), SEVMON_EINVAL);
	ASSERT_STREQ(xport_kind_name(a.kind), "?");
	ASSERT_STREQ(xport_kind_name(XPORT_VSOCK_HYBRID), "vsock-hybrid");
}

TEST(xport_errors_read_clearly)
{
	ASSERT_STREQ(sevmon_strerror(SEVMON_EURI), "malformed or unsupported URI");
	ASSERT_STREQ(sevmon_strerror(SEVMON_ECONNREFUSED), "connection refused");
	ASSERT_STREQ(sevmon_strerror(SEVMON_ETIMEDOUT), "deadline exceeded");
	ASSERT_STREQ(sevmon_strerror(SEVMON_ENOTSUP), "operation not supported");
	ASSERT_STREQ(sevmon_strerror(SEVMON_EPROTO), "protocol violation");
	ASSERT_STREQ(sevmon_strerror(SEVMON_ENOENT), "not found");
}

TEST_MAIN()
