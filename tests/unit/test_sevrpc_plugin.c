/*
 * test_sevrpc_plugin.c — protoc-gen-sevrpc driven through protoc on the .proto files in tests/data.
 *
 * Environment (set by tests/meson.build): SEVMON_PROTOC, SEVRPC_PLUGIN, SEVMON_TEST_DATA.
 */
#include <sys/stat.h>

#include "harness.h"

struct run {
	int status;        /* protoc's exit status */
	char out[256];     /* its output directory */
	char err[4096];    /* its stderr */
};

static void run_protoc(const char *proto, struct run *r)
{
	const char *protoc = getenv("SEVMON_PROTOC"), *plugin = getenv("SEVRPC_PLUGIN"),
		   *data = getenv("SEVMON_TEST_DATA");
	ASSERT(protoc && plugin && data);
	snprintf(r->out, sizeof(r->out), "/tmp/sevrpc-plugin-XXXXXX");
	ASSERT(mkdtemp(r->out) != NULL);
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "'%s' --plugin=protoc-gen-sevrpc='%s' --sevrpc_out='%s' -I'%s' '%s/%s' 2>'%s/stderr'",
		 protoc, plugin, r->out, data, data, proto, r->out);
	int st = system(cmd);
	ASSERT(st != -1 && WIFEXITED(st));
	r->status = WEXITSTATUS(st);
	char path[512];
	snprintf(path, sizeof(path), "%s/stderr", r->out);
	FILE *f = fopen(path, "r");
	ASSERT(f != NULL);
	size_t n = fread(r->err, 1, sizeof(r->err) - 1, f);
	r->err[n] = 0;
	fclose(f);
}

static void cleanup(const struct run *r)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->out);
	ASSERT_EQ(system(cmd), 0);
}

/* Read a generated file; malloc'd, NUL-terminated. */
static char *slurp(const struct run *r, const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", r->out, name);
	FILE *f = fopen(path, "r");
	if (!f)
		FAIL_AT("no generated file %s", path);
	char *buf = malloc(1 << 16);
	ASSERT(buf != NULL);
	size_t n = fread(buf, 1, (1 << 16) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* The lines of text that contain needle, concatenated (malloc'd). */
static char *lines_with(const char *text, const char *needle)
{
	char *out = calloc(1, strlen(text) + 1);
	ASSERT(out != NULL);
	for (const char *p = text; *p;) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p + 1) : strlen(p);
		char line[1024];
		snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) ? n : sizeof(line) - 1), p);
		if (strstr(line, needle))
			strcat(out, line);
		p += n;
	}
	return out;
}

static void expect_rejected(const char *proto, const char *method, const char *why)
{
	struct run r;
	run_protoc(proto, &r);
	ASSERT_NE(r.status, 0);
	if (!strstr(r.err, method) || !strstr(r.err, why))
		FAIL_AT("stderr lacks \"%s\" / \"%s\": %s", method, why, r.err);
	cleanup(&r);
}

TEST(sevrpc_plugin_reordered_methods_keep_ids)
{
	struct run a, b;
	run_protoc("sevrpc_order_a.proto", &a);
	run_protoc("sevrpc_order_b.proto", &b);
	ASSERT_EQ(a.status, 0);
	ASSERT_EQ(b.status, 0);
	char *ha = slurp(&a, "sevrpc_order_a.sevrpc-client.h");
	char *hb = slurp(&b, "sevrpc_order_b.sevrpc-client.h");
	char *da = lines_with(ha, "#define PROBE_PROBE_METHOD_");
	char *db = lines_with(hb, "#define PROBE_PROBE_METHOD_");
	ASSERT_STREQ(da,
		     "#define PROBE_PROBE_METHOD_ONE 1\n"
		     "#define PROBE_PROBE_METHOD_ALPHA 3\n"
		     "#define PROBE_PROBE_METHOD_ZETA_CALL 7\n"
		     "#define PROBE_PROBE_METHOD_MAX 65535\n");
	ASSERT_STREQ(db, da);
	char *ca = slurp(&a, "sevrpc_order_a.sevrpc-agent.c");
	char *cb = slurp(&b, "sevrpc_order_b.sevrpc-agent.c");
	char *ta = lines_with(ca, "{ PROBE_PROBE_METHOD_");
	char *tb = lines_with(cb, "{ PROBE_PROBE_METHOD_");
	ASSERT(strlen(ta) > 0);
	ASSERT_STREQ(tb, ta);
	/* the table is sorted by id, whatever the declaration order */
	ASSERT(strstr(ta, "\"One\"") < strstr(ta, "\"Alpha\""));
	ASSERT(strstr(ta, "\"ZetaCall\"") < strstr(ta, "\"Max\""));
	char *hagent = slurp(&a, "sevrpc_order_a.sevrpc-agent.h");
	ASSERT(strstr(hagent, "int agent_handle_zeta_call(struct agent_call *call, "
			      "const probe_v1_Req *req, probe_v1_Resp *resp);") != NULL);
	ASSERT(strstr(ha, "int probe_probe_max(struct rpc_client *c, const Probe__V1__Resp *req,") != NULL);
	free(ha), free(hb), free(da), free(db), free(ca), free(cb), free(ta), free(tb), free(hagent);
	cleanup(&a);
	cleanup(&b);
}

TEST(sevrpc_plugin_missing_id_rejected)
{
	expect_rejected("sevrpc_missing_id.proto", "Probe.NoId", "no (method_id)");
}

TEST(sevrpc_plugin_zero_id_rejected)
{
	expect_rejected("sevrpc_zero_id.proto", "Probe.Zero", "method_id 0");
}

TEST(sevrpc_plugin_id_above_u16_rejected)
{
	expect_rejected("sevrpc_big_id.proto", "Probe.TooBig", "method_id 70000");
}

TEST(sevrpc_plugin_duplicate_id_rejected)
{
	expect_rejected("sevrpc_dup_id.proto", "Probe.Second", "Probe.First");
}

TEST(sevrpc_plugin_rejection_writes_nothing)
{
	struct run r;
	run_protoc("sevrpc_dup_id.proto", &r);
	ASSERT_NE(r.status, 0);
	char path[512];
	struct stat st;
	snprintf(path, sizeof(path), "%s/sevrpc_dup_id.sevrpc-client.h", r.out);
	ASSERT(stat(path, &st) != 0);
	cleanup(&r);
}

TEST_MAIN()
