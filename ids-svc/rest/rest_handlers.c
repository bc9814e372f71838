/*
 * rest_handlers.c — the routing table and one handler per route. Handlers check the
 * request's shape (names, query values, body fields) and hand typed values to the
 * backend; docs/openapi.json describes exactly this table (tests/unit/test_rest_openapi.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "rest_int.h"

/* Checks named in one scan request; sevmond has a handful. */
#define REST_SCAN_CHECKS_MAX 16u

static int hex_ok(const char *s, size_t want)
{
	if (strlen(s) != want)
		return 0;
	for (size_t i = 0; i < want; i++)
		if (!strchr("0123456789abcdefABCDEF", s[i]))
			return 0;
	return 1;
}

static void h_healthz(struct rest_request *r)
{
	rest_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

static void h_readyz(struct rest_request *r)
{
	int rc = r->be->ready ? r->be->ready(r->bctx) : 0;
	if (rc)
		rest_reply_error(r, 503, "not_ready", "not ready: the store is unreachable or the "
				 "instance is shutting down");
	else
		rest_reply_json(r, 200, json_pack("{s:s}", "status", "ready"));
}

static void h_metrics(struct rest_request *r)
{
	struct metrics *m = rest_server_metrics(r->srv);
	if (m && r->be->collect_metrics)
		r->be->collect_metrics(r->bctx, m);
	char *text = NULL;
	size_t len = 0;
	int rc = m ? metrics_write(m, &text, &len) : 0;
	if (rc) {
		rest_reply_sevmon(r, rc);
		return;
	}
	rest_reply_text(r, "text/plain; version=0.0.4; charset=utf-8", text ? text : "", len);
	free(text);
}

/* Answer a backend's (rc, out) pair. */
static void reply_result(struct rest_request *r, int rc, json_t *out, int status)
{
	if (rc)
		rest_reply_sevmon(r, rc);
	else if (!out)
		rest_reply_error(r, 500, "internal", "the backend returned no document");
	else
		rest_reply_json(r, status, out);
}

static void h_targets_list(struct rest_request *r)
{
	json_t *out = NULL;
	int rc = r->be->target_list(r->bctx, &out);
	reply_result(r, rc, out, 200);
}

static void h_target_get(struct rest_request *r)
{
	char name[REST_NAME_MAX + 1];
	if (rest_param_name(r, 0, name))
		return;
	json_t *out = NULL;
	int rc = r->be->target_get(r->bctx, name, &out);
	reply_result(r, rc, out, 200);
}

/* The fields of a target spec after its name: 0, or an error sent. */
static int spec_check(struct rest_request *r, const struct rest_target_spec *spec)
{
	if (spec->uri[0] == '\0' || strlen(spec->uri) > REST_URI_MAX) {
		rest_reply_error(r, 400, "bad_request", "uri: 1..255 bytes");
		return -1;
	}
	if (spec->key && !hex_ok(spec->key, 64)) {
		rest_reply_error(r, 400, "bad_request", "key: 64 hex digits (X25519 public key)");
		return -1;
	}
	if (spec->measurement && !hex_ok(spec->measurement, 96)) {
		rest_reply_error(r, 400, "bad_request", "measurement: 96 hex digits (SHA-384)");
		return -1;
	}
	return 0;
}

static void h_target_update(struct rest_request *r)
{
	char name[REST_NAME_MAX + 1];
	if (rest_param_name(r, 0, name))
		return;
	struct rest_target_spec spec = { .name = name };
	json_error_t jerr;
	if (json_unpack_ex(r->body, &jerr, JSON_STRICT, "{s:s, s?:s, s?:s}", "uri", &spec.uri,
			   "key", &spec.key, "measurement", &spec.measurement) != 0) {
		rest_reply_error(r, 400, "bad_request", jerr.text);
		return;
	}
	if (spec_check(r, &spec))
		return;
	if (!r->be->target_update) {
		rest_reply_sevmon(r, SEVMON_ENOTSUP);
		return;
	}
	json_t *out = NULL;
	int rc = r->be->target_update(r->bctx, &spec, &out);
	reply_result(r, rc, out, 200);
}

static void h_target_add(struct rest_request *r)
{
	struct rest_target_spec spec = { 0 };
	json_error_t jerr;
	if (json_unpack_ex(r->body, &jerr, JSON_STRICT, "{s:s, s:s, s?:s, s?:s}", "name",
			   &spec.name, "uri", &spec.uri, "key", &spec.key, "measurement",
			   &spec.measurement) != 0) {
		rest_reply_error(r, 400, "bad_request", jerr.text);
		return;
	}
	if (!rest_name_valid(spec.name, strlen(spec.name))) {
		rest_reply_error(r, 400, "bad_request",
				 "name: 1..63 characters of [A-Za-z0-9._-]");
		return;
	}
	if (spec.uri[0] == '\0' || strlen(spec.uri) > REST_URI_MAX) {
		rest_reply_error(r, 400, "bad_request", "uri: 1..255 bytes");
		return;
	}
	if (spec.key && !hex_ok(spec.key, 64)) {
		rest_reply_error(r, 400, "bad_request", "key: 64 hex digits (X25519 public key)");
		return;
	}
	if (spec.measurement && !hex_ok(spec.measurement, 96)) {
		rest_reply_error(r, 400, "bad_request", "measurement: 96 hex digits (SHA-384)");
		return;
	}
	json_t *out = NULL;
	int rc = r->be->target_add(r->bctx, &spec, &out);
	reply_result(r, rc, out, 201);
}

static void h_target_remove(struct rest_request *r)
{
	char name[REST_NAME_MAX + 1];
	if (rest_param_name(r, 0, name))
		return;
	int rc = r->be->target_remove(r->bctx, name);
	if (rc)
		rest_reply_sevmon(r, rc);
	else
		rest_reply_empty(r, 204);
}

static void live(struct rest_request *r, const char *check)
{
	char name[REST_NAME_MAX + 1];
	if (rest_param_name(r, 0, name))
		return;
	struct rest_async *op = rest_async_begin(r);
	if (!op)
		return;
	int rc = r->be->live_view(r->bctx, name, check, op);
	if (rc)
		rest_async_abort(op, rc);
}

static void h_banner(struct rest_request *r)
{
	live(r, "banner");
}

static void h_processes(struct rest_request *r)
{
	live(r, "ps");
}

static void h_modules(struct rest_request *r)
{
	live(r, "modules");
}

static void h_check_live(struct rest_request *r)
{
	char check[REST_NAME_MAX + 1];
	if (rest_param_name(r, 1, check))
		return;
	live(r, check);
}

static void h_checks(struct rest_request *r)
{
	json_t *out = NULL;
	int rc = r->be->checks(r->bctx, &out);
	reply_result(r, rc, out, 200);
}

/* A JSON array of names into a malloc'd vector; EINVAL with a message on bad input. */
static int name_list(json_t *arr, size_t max, const char ***out, size_t *n, const char **why)
{
	*out = NULL;
	*n = 0;
	if (!arr)
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > max) {
		*why = "must be a non-empty array within the limit";
		return SEVMON_EINVAL;
	}
	size_t k = json_array_size(arr);
	const char **v = calloc(k, sizeof *v);
	if (!v)
		return SEVMON_ENOMEM;
	for (size_t i = 0; i < k; i++) {
		json_t *e = json_array_get(arr, i);
		if (!json_is_string(e) ||
		    !rest_name_valid(json_string_value(e), json_string_length(e))) {
			free(v);
			*why = "entries are names of 1..63 characters of [A-Za-z0-9._-]";
			return SEVMON_EINVAL;
		}
		v[i] = json_string_value(e);
	}
	*out = v;
	*n = k;
	return 0;
}

static void h_scan_start(struct rest_request *r)
{
	json_t *targets = NULL, *checks = NULL;
	json_error_t jerr;
	if (json_unpack_ex(r->body, &jerr, JSON_STRICT, "{s?:o, s?:o}", "targets", &targets,
			   "checks", &checks) != 0) {
		rest_reply_error(r, 400, "bad_request", jerr.text);
		return;
	}
	struct rest_scan_request req = { 0 };
	const char *why = "";
	int rc = name_list(targets, REST_SCAN_TARGETS_MAX, (const char ***)&req.targets,
			   &req.ntargets, &why);
	if (rc == 0)
		rc = name_list(checks, REST_SCAN_CHECKS_MAX, (const char ***)&req.checks,
			       &req.nchecks, &why);
	if (rc == SEVMON_EINVAL) {
		char msg[160];
		snprintf(msg, sizeof msg, "%s %s", req.ntargets || !targets ? "checks" : "targets",
			 why);
		rest_reply_error(r, 400, "bad_request", msg);
	} else if (rc) {
		rest_reply_sevmon(r, rc);
	} else {
		char id[REST_NAME_MAX + 1] = "";
		rc = r->be->scan_start(r->bctx, &req, id);
		if (rc)
			rest_reply_sevmon(r, rc);
		else
			rest_reply_json(r, 202, json_pack("{s:s}", "id", id));
	}
	free((void *)req.targets);
	free((void *)req.checks);
}

static void h_scan_get(struct rest_request *r)
{
	char id[REST_NAME_MAX + 1];
	if (rest_param_name(r, 0, id))
		return;
	json_t *out = NULL;
	int rc = r->be->scan_get(r->bctx, id, &out);
	reply_result(r, rc, out, 200);
}

static void h_scan_results(struct rest_request *r)
{
	char id[REST_NAME_MAX + 1];
	if (rest_param_name(r, 0, id))
		return;
	json_t *out = NULL;
	int rc = r->be->scan_results(r->bctx, id, &out);
	reply_result(r, rc, out, 200);
}

/* Decimal in [lo, hi]; no sign, no spaces. */
static int parse_uint(const char *s, long long lo, long long hi, long long *out)
{
	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 18)
		return 0;
	long long v = strtoll(s, NULL, 10);
	if (v < lo || v > hi)
		return 0;
	*out = v;
	return 1;
}

/* [a-z0-9_]{1,REST_CHECK_NAME_MAX}: a check's name. */
static int check_word(const char *s)
{
	size_t n = strlen(s);
	return n >= 1 && n <= REST_CHECK_NAME_MAX && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* T1234 or T1234.567 */
static int technique_id(const char *s)
{
	size_t n = strlen(s);
	return (n == 5 || n == 9) && s[0] == 'T' && strspn(s + 1, "0123456789") == 4 &&
	       (n == 5 || (s[5] == '.' && strspn(s + 6, "0123456789") == 3));
}

static void h_findings(struct rest_request *r)
{
	struct rest_findings_query q = { .limit = REST_FINDINGS_LIMIT_DEFAULT };
	char target[REST_NAME_MAX + 2], since[24], sev[16], limit[16];
	int rc;
	if ((rc = rest_query_get(r, "target", target, sizeof target)) < 0 ||
	    (rc == 1 && !rest_name_valid(target, strlen(target)))) {
		rest_reply_error(r, 400, "bad_request", "target: a target name");
		return;
	}
	if (rc == 1)
		q.target = target;
	long long v;
	if ((rc = rest_query_get(r, "since", since, sizeof since)) < 0 ||
	    (rc == 1 && !parse_uint(since, 0, INT64_MAX / 2, &v))) {
		rest_reply_error(r, 400, "bad_request", "since: unix time in seconds");
		return;
	}
	if (rc == 1)
		q.since = v;
	if ((rc = rest_query_get(r, "severity", sev, sizeof sev)) < 0) {
		rest_reply_error(r, 400, "bad_request", "severity: info|low|medium|high|critical");
		return;
	}
	if (rc == 1) {
		int found = 0;
		for (int s = REST_SEV_INFO; s <= REST_SEV_CRITICAL; s++) {
			if (strcmp(sev, rest_severity_name((enum rest_severity)s)) == 0) {
				q.min_severity = (enum rest_severity)s;
				found = 1;
			}
		}
		if (!found) {
			rest_reply_error(r, 400, "bad_request",
					 "severity: info|low|medium|high|critical");
			return;
		}
	}
	if ((rc = rest_query_get(r, "limit", limit, sizeof limit)) < 0 ||
	    (rc == 1 && !parse_uint(limit, 1, REST_FINDINGS_LIMIT_MAX, &v))) {
		rest_reply_error(r, 400, "bad_request", "limit: 1..1000");
		return;
	}
	if (rc == 1)
		q.limit = (unsigned)v;
	char check[REST_CHECK_NAME_MAX + 2], tech[16];
	if ((rc = rest_query_get(r, "check", check, sizeof check)) < 0 ||
	    (rc == 1 && !check_word(check))) {
		rest_reply_error(r, 400, "bad_request", "check: a check name");
		return;
	}
	if (rc == 1)
		q.check = check;
	if ((rc = rest_query_get(r, "technique", tech, sizeof tech)) < 0 ||
	    (rc == 1 && !technique_id(tech))) {
		rest_reply_error(r, 400, "bad_request", "technique: a MITRE ATT&CK id (T1234 or T1234.567)");
		return;
	}
	if (rc == 1)
		q.technique = tech;
	json_t *out = NULL;
	rc = r->be->findings(r->bctx, &q, &out);
	reply_result(r, rc, out, 200);
}

/* ---- acquisitions (forensics) ---- */

static int acq_supported(struct rest_request *r, const void *fn)
{
	if (!fn)
		rest_reply_error(r, 501, "not_implemented", "this server keeps no acquisitions");
	return fn != NULL;
}

/* An acquisition id: the decimal milliseconds it was made at (never a path). */
static int acq_id(struct rest_request *r, char id[REST_NAME_MAX + 1])
{
	if (rest_param_name(r, 0, id))
		return -1;
	if (strspn(id, "0123456789") != strlen(id) || strlen(id) > 20) {
		rest_reply_error(r, 404, "not_found", "no such acquisition");
		return -1;
	}
	return 0;
}

static void h_acquisitions(struct rest_request *r)
{
	if (!acq_supported(r, (const void *)r->be->acquisition_list))
		return;
	char target[REST_NAME_MAX + 2];
	int rc = rest_query_get(r, "target", target, sizeof target);
	if (rc < 0 || (rc == 1 && !rest_name_valid(target, strlen(target)))) {
		rest_reply_error(r, 400, "bad_request", "target: a target name");
		return;
	}
	json_t *out = NULL;
	rc = r->be->acquisition_list(r->bctx, rc == 1 ? target : NULL, &out);
	reply_result(r, rc, out, 200);
}

static void h_acquisition_get(struct rest_request *r)
{
	char id[REST_NAME_MAX + 1];
	if (!acq_supported(r, (const void *)r->be->acquisition_get) || acq_id(r, id))
		return;
	json_t *out = NULL;
	int rc = r->be->acquisition_get(r->bctx, id, &out);
	reply_result(r, rc, out, 200);
}

static void h_acquisition_image(struct rest_request *r)
{
	char id[REST_NAME_MAX + 1], path[4200];
	if (!acq_supported(r, (const void *)r->be->acquisition_file) || acq_id(r, id))
		return;
	int rc = r->be->acquisition_file(r->bctx, id, path, sizeof path);
	if (rc == 0)
		rc = rest_reply_file(r, path, "application/octet-stream");
	if (rc)
		rest_reply_sevmon(r, rc);
}

static void h_acquisition_start(struct rest_request *r)
{
	char name[REST_NAME_MAX + 1], id[REST_NAME_MAX + 1];
	if (!acq_supported(r, (const void *)r->be->acquisition_start) || rest_param_name(r, 0, name))
		return;
	int rc = r->be->acquisition_start(r->bctx, name, id);
	if (rc)
		rest_reply_sevmon(r, rc);
	else
		rest_reply_json(r, 202, json_pack("{s:s,s:s}", "id", id, "status", "queued"));
}

const char *rest_severity_name(enum rest_severity s)
{
	static const char *const names[] = { "info", "low", "medium", "high", "critical" };
	return (unsigned)s <= REST_SEV_CRITICAL ? names[s] : NULL;
}

static const struct rest_route routes[] = {
	{ "GET", "/healthz", REST_ROUTE_NOAUTH, h_healthz },
	{ "GET", "/readyz", REST_ROUTE_NOAUTH, h_readyz },
	{ "GET", "/metrics", 0, h_metrics },
	{ "GET", "/v1/targets", 0, h_targets_list },
	{ "POST", "/v1/targets", REST_ROUTE_BODY, h_target_add },
	{ "GET", "/v1/targets/{name}", 0, h_target_get },
	{ "PUT", "/v1/targets/{name}", REST_ROUTE_BODY, h_target_update },
	{ "DELETE", "/v1/targets/{name}", 0, h_target_remove },
	{ "GET", "/v1/targets/{name}/banner", 0, h_banner },
	{ "GET", "/v1/targets/{name}/processes", 0, h_processes },
	{ "GET", "/v1/targets/{name}/modules", 0, h_modules },
	{ "GET", "/v1/targets/{name}/checks/{check}", 0, h_check_live },
	{ "GET", "/v1/checks", 0, h_checks },
	{ "POST", "/v1/scans", REST_ROUTE_BODY, h_scan_start },
	{ "GET", "/v1/scans/{id}", 0, h_scan_get },
	{ "GET", "/v1/scans/{id}/results", 0, h_scan_results },
	{ "GET", "/v1/findings", 0, h_findings },
	{ "GET", "/v1/acquisitions", 0, h_acquisitions },
	{ "GET", "/v1/acquisitions/{id}", 0, h_acquisition_get },
	{ "GET", "/v1/acquisitions/{id}/image", 0, h_acquisition_image },
	{ "POST", "/v1/targets/{name}/acquisitions", 0, h_acquisition_start },
};

const struct rest_route *rest_routes(size_t *n)
{
	*n = sizeof routes / sizeof routes[0];
	return routes;
}
