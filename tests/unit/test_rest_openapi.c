/*
 * test_rest_openapi.c — docs/openapi.json against the served routing table: the same
 * (method, path) pairs both ways, path parameters declared with examples (the curl test
 * requests each documented path with them), auth and request bodies as the table says.
 * The curl test (tests/e2e/test_rest_curl.sh) then checks each documented path is served.
 */
#include <ctype.h>

#include "harness.h"
#include "rest.h"

static json_t *load_doc(void)
{
	const char *file = getenv("SEVMON_OPENAPI");
	ASSERT(file != NULL);
	json_error_t e;
	json_t *doc = json_load_file(file, JSON_REJECT_DUPLICATES, &e);
	if (!doc)
		FAIL_AT("%s:%d: %s", file, e.line, e.text);
	return doc;
}

static void lower(const char *in, char *out, size_t cap)
{
	size_t i = 0;
	for (; in[i] && i + 1 < cap; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[i] = '\0';
}

static json_t *operation(json_t *doc, const char *method, const char *path)
{
	char m[16];
	lower(method, m, sizeof m);
	return json_object_get(json_object_get(json_object_get(doc, "paths"), path), m);
}

TEST(rest_openapi_is_openapi3)
{
	json_t *doc = load_doc();
	const char *v = json_string_value(json_object_get(doc, "openapi"));
	ASSERT(v != NULL);
	ASSERT(strncmp(v, "3.", 2) == 0);
	ASSERT(json_is_object(json_object_get(doc, "info")));
	ASSERT(json_is_object(json_object_get(doc, "paths")));
	json_decref(doc);
}

TEST(rest_openapi_documents_every_route)
{
	json_t *doc = load_doc();
	size_t n;
	const struct rest_route *r = rest_routes(&n);
	for (size_t i = 0; i < n; i++)
		if (!json_is_object(operation(doc, r[i].method, r[i].pattern)))
			FAIL_AT("route %s %s is not in the document", r[i].method, r[i].pattern);
	json_decref(doc);
}

TEST(rest_openapi_every_documented_operation_is_routed)
{
	static const char *const methods[] = { "get", "put", "post", "delete", "options",
					       "head", "patch", "trace" };
	json_t *doc = load_doc();
	size_t n;
	const struct rest_route *r = rest_routes(&n);
	const char *path;
	json_t *item;
	size_t ops = 0;
	json_object_foreach(json_object_get(doc, "paths"), path, item) {
		for (size_t k = 0; k < sizeof methods / sizeof methods[0]; k++) {
			if (!json_object_get(item, methods[k]))
				continue;
			ops++;
			int found = 0;
			for (size_t i = 0; i < n && !found; i++) {
				char m[16];
				lower(r[i].method, m, sizeof m);
				found = !strcmp(m, methods[k]) && !strcmp(r[i].pattern, path);
			}
			if (!found)
				FAIL_AT("documented %s %s is not routed", methods[k], path);
		}
	}
	ASSERT_EQ(ops, n);
	json_decref(doc);
}

/* Each {param} of a path is declared (in: path, required) with an example. */
TEST(rest_openapi_path_params_declared_with_examples)
{
	json_t *doc = load_doc();
	const char *path;
	json_t *item;
	json_object_foreach(json_object_get(doc, "paths"), path, item) {
		for (const char *p = strchr(path, '{'); p; p = strchr(p + 1, '{')) {
			const char *end = strchr(p, '}');
			ASSERT(end != NULL);
			char name[64];
			snprintf(name, sizeof name, "%.*s", (int)(end - p - 1), p + 1);
			int ok = 0;
			size_t i;
			json_t *prm;
			json_array_foreach(json_object_get(item, "parameters"), i, prm) {
				const char *pn = json_string_value(json_object_get(prm, "name"));
				const char *in = json_string_value(json_object_get(prm, "in"));
				if (pn && in && !strcmp(pn, name) && !strcmp(in, "path") &&
				    json_is_true(json_object_get(prm, "required")) &&
				    json_is_string(json_object_get(prm, "example")))
					ok = 1;
			}
			if (!ok)
				FAIL_AT("%s: parameter {%s} undeclared or without example", path,
					name);
		}
	}
	json_decref(doc);
}

/* Auth and bodies as the table says: token-free routes say `security: []`, the others
 * document 401; body routes document an application/json requestBody and 400/413/415. */
TEST(rest_openapi_auth_and_bodies_match_table)
{
	json_t *doc = load_doc();
	ASSERT(json_is_array(json_object_get(doc, "security")));
	size_t n;
	const struct rest_route *r = rest_routes(&n);
	for (size_t i = 0; i < n; i++) {
		json_t *op = operation(doc, r[i].method, r[i].pattern);
		json_t *resp = json_object_get(op, "responses");
		json_t *sec = json_object_get(op, "security");
		if (r[i].flags & REST_ROUTE_NOAUTH) {
			if (!json_is_array(sec) || json_array_size(sec) != 0)
				FAIL_AT("%s %s: served without a token but documented with one",
					r[i].method, r[i].pattern);
		} else if (!json_object_get(resp, "401") || sec) {
			FAIL_AT("%s %s: needs a token; document 401 and no security override",
				r[i].method, r[i].pattern);
		}
		json_t *body = json_object_get(op, "requestBody");
		int has = json_is_object(json_object_get(json_object_get(body, "content"),
							 "application/json"));
		if (has != ((r[i].flags & REST_ROUTE_BODY) != 0))
			FAIL_AT("%s %s: requestBody documented %d, served %d", r[i].method,
				r[i].pattern, has, (r[i].flags & REST_ROUTE_BODY) != 0);
		if (has && !(json_object_get(resp, "400") && json_object_get(resp, "413") &&
			     json_object_get(resp, "415")))
			FAIL_AT("%s %s: body route must document 400, 413, 415", r[i].method,
				r[i].pattern);
	}
	json_decref(doc);
}

TEST_MAIN()
