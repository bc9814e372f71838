/*
 * test_rest_route.c — path patterns, bearer tokens, names and query strings: the checks
 * every request meets before a handler runs (ids-svc/rest).
 */
#include "err.h"
#include "harness.h"
#include "rest_int.h"

static int match(const char *pattern, const char *path, struct rest_span *ps)
{
	return rest_route_match(pattern, path, strlen(path), ps);
}

TEST(rest_route_match_literal)
{
	struct rest_span ps[REST_ROUTE_MAX_PARAMS];
	ASSERT_EQ(match("/v1/targets", "/v1/targets", ps), 0);
	ASSERT_EQ(match("/v1/targets", "/v1/targets/", ps), -1);
	ASSERT_EQ(match("/v1/targets", "/v1/target", ps), -1);
	ASSERT_EQ(match("/v1/targets", "/v1/targetsX", ps), -1);
	ASSERT_EQ(match("/healthz", "", ps), -1);
}

TEST(rest_route_match_params)
{
	struct rest_span ps[REST_ROUTE_MAX_PARAMS];
	const char *p = "/v1/targets/vm-7/banner";
	ASSERT_EQ(match("/v1/targets/{name}/banner", p, ps), 1);
	ASSERT_EQ(ps[0].off, strlen("/v1/targets/"));
	ASSERT_EQ(ps[0].len, 4);
	ASSERT_EQ(match("/v1/targets/{name}", p, ps), -1);
	ASSERT_EQ(match("/v1/targets/{name}/modules", p, ps), -1);
	ASSERT_EQ(match("/a/{x}/b/{y}", "/a/1/b/22", ps), 2);
	ASSERT_EQ(ps[1].off, 7);
	ASSERT_EQ(ps[1].len, 2);
}

TEST(rest_route_match_empty_param_refused)
{
	struct rest_span ps[REST_ROUTE_MAX_PARAMS];
	ASSERT_EQ(match("/v1/targets/{name}", "/v1/targets/", ps), -1);
	ASSERT_EQ(match("/v1/targets/{name}/banner", "/v1/targets//banner", ps), -1);
}

TEST(rest_routes_table_is_consistent)
{
	size_t n;
	const struct rest_route *r = rest_routes(&n);
	ASSERT(n > 0);
	for (size_t i = 0; i < n; i++) {
		ASSERT(r[i].handler != NULL);
		ASSERT(r[i].pattern[0] == '/');
		/* No two routes share method and pattern. */
		for (size_t j = i + 1; j < n; j++)
			ASSERT(strcmp(r[i].method, r[j].method) != 0 ||
			       strcmp(r[i].pattern, r[j].pattern) != 0);
		/* Only the health and readiness probes go without a token. */
		ASSERT_EQ((r[i].flags & REST_ROUTE_NOAUTH) != 0,
			  strcmp(r[i].pattern, "/healthz") == 0 || strcmp(r[i].pattern, "/readyz") == 0);
	}
}

static const char *const toks[] = { "first-token-0123456789", "second-token-abcdefgh" };

static int auth(const char *h)
{
	return rest_auth_check(h, strlen(h), toks, 2);
}

TEST(rest_auth_check_accepts_configured_tokens)
{
	ASSERT_EQ(auth("Bearer first-token-0123456789"), 1);
	ASSERT_EQ(auth("Bearer second-token-abcdefgh"), 1);
	ASSERT_EQ(auth("bearer second-token-abcdefgh"), 1); /* scheme is case-insensitive */
}

TEST(rest_auth_check_refuses_others)
{
	ASSERT_EQ(auth("Bearer first-token-012345678"), 0);    /* prefix */
	ASSERT_EQ(auth("Bearer first-token-01234567890"), 0);  /* extension */
	ASSERT_EQ(auth("Bearer first-token-0123456788"), 0);   /* last byte */
	ASSERT_EQ(auth("Bearer First-token-0123456789"), 0);   /* token is case-sensitive */
	ASSERT_EQ(auth("Basic first-token-0123456789"), 0);
	ASSERT_EQ(auth("Bearerfirst-token-0123456789"), 0);
	ASSERT_EQ(auth("Bearer "), 0);
	ASSERT_EQ(auth(""), 0);
	ASSERT_EQ(rest_auth_check(NULL, 0, toks, 2), 0);
	ASSERT_EQ(rest_auth_check("Bearer x", 8, toks, 0), 0);
}

TEST(rest_name_valid_charset_and_length)
{
	ASSERT_EQ(rest_name_valid("vm1", 3), 1);
	ASSERT_EQ(rest_name_valid("a.b_c-D9", 8), 1);
	ASSERT_EQ(rest_name_valid("", 0), 0);
	ASSERT_EQ(rest_name_valid(".", 1), 0);
	ASSERT_EQ(rest_name_valid("..", 2), 0);
	ASSERT_EQ(rest_name_valid("a/b", 3), 0);
	ASSERT_EQ(rest_name_valid("a%2f", 4), 0);
	ASSERT_EQ(rest_name_valid("a b", 3), 0);
	char n[REST_NAME_MAX + 1];
	memset(n, 'x', sizeof n);
	ASSERT_EQ(rest_name_valid(n, REST_NAME_MAX), 1);
	ASSERT_EQ(rest_name_valid(n, REST_NAME_MAX + 1), 0);
}

static struct rest_request with_query(const char *q)
{
	struct rest_request r = { 0 };
	r.query = q;
	r.query_len = q ? strlen(q) : 0;
	return r;
}

TEST(rest_query_get_finds_and_decodes)
{
	struct rest_request r = with_query("target=vm1&since=17&severity=high%20x&x=a+b&flag");
	char b[32];
	ASSERT_EQ(rest_query_get(&r, "target", b, sizeof b), 1);
	ASSERT_STREQ(b, "vm1");
	ASSERT_EQ(rest_query_get(&r, "severity", b, sizeof b), 1);
	ASSERT_STREQ(b, "high x");
	ASSERT_EQ(rest_query_get(&r, "x", b, sizeof b), 1);
	ASSERT_STREQ(b, "a b");
	ASSERT_EQ(rest_query_get(&r, "flag", b, sizeof b), 1);
	ASSERT_STREQ(b, "");
	ASSERT_EQ(rest_query_get(&r, "limit", b, sizeof b), 0);
	ASSERT_EQ(rest_query_get(&r, "targe", b, sizeof b), 0);
	struct rest_request none = with_query(NULL);
	ASSERT_EQ(rest_query_get(&none, "target", b, sizeof b), 0);
}

TEST(rest_query_get_refuses_malformed)
{
	char b[8];
	struct rest_request dup = with_query("a=1&a=2");
	ASSERT_EQ(rest_query_get(&dup, "a", b, sizeof b), SEVMON_EINVAL);
	struct rest_request trunc = with_query("a=%4");
	ASSERT_EQ(rest_query_get(&trunc, "a", b, sizeof b), SEVMON_EINVAL);
	struct rest_request nonhex = with_query("a=%zz");
	ASSERT_EQ(rest_query_get(&nonhex, "a", b, sizeof b), SEVMON_EINVAL);
	struct rest_request nul = with_query("a=x%00y");
	ASSERT_EQ(rest_query_get(&nul, "a", b, sizeof b), SEVMON_EINVAL);
	struct rest_request big = with_query("a=12345678");
	ASSERT_EQ(rest_query_get(&big, "a", b, sizeof b), SEVMON_EINVAL);
	struct rest_request fits = with_query("a=1234567");
	ASSERT_EQ(rest_query_get(&fits, "a", b, sizeof b), 1);
	ASSERT_STREQ(b, "1234567");
}

TEST(rest_severity_name_all)
{
	ASSERT_STREQ(rest_severity_name(REST_SEV_INFO), "info");
	ASSERT_STREQ(rest_severity_name(REST_SEV_CRITICAL), "critical");
	ASSERT(rest_severity_name((enum rest_severity)99) == NULL);
}

TEST_MAIN()
