/*
 * rest_reply.c — answers: JSON documents and errors, the SEVMON_E* → HTTP mapping, and
 * the layer's own metrics (requests by route/method/code, latency, connections).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "rest_h2o.h"

/* ------------------------------------------------------------- metrics */

void rest_declare_metrics(struct metrics *m)
{
	if (!m)
		return;
	metrics_declare(m, "sevmond_http_requests_total", METRICS_COUNTER,
			"HTTP requests answered, by route, method and status.", NULL, 0);
	metrics_declare(m, "sevmond_http_request_duration_seconds", METRICS_HISTOGRAM,
			"Time from dispatch to answer, by route.", NULL, 0);
	metrics_declare(m, "sevmond_http_connections", METRICS_GAUGE,
			"Open HTTP client connections.", NULL, 0);
	metrics_declare(m, "sevmond_http_inflight", METRICS_GAUGE,
			"Asynchronous HTTP requests waiting on the backend.", NULL, 0);
	metrics_declare(m, "sevmond_http_connections_refused_total", METRICS_COUNTER,
			"Connections closed at accept because of the connection limit.",
			NULL, 0);
}

void rest_record(struct rest_server *srv, const struct rest_route *route, const char *method,
		   int status, uint64_t t0_ns)
{
	if (!srv->metrics)
		return;
	char code[8];
	snprintf(code, sizeof code, "%d", status);
	const char *rname = route ? route->pattern : "unmatched";
	const char *const labels[] = { "route", rname, "method", method, "code", code, NULL };
	metrics_counter_add(srv->metrics, "sevmond_http_requests_total", labels, 1);
	const char *const rl[] = { "route", rname, NULL };
	double dt = (double)(uv_hrtime() - t0_ns) / 1e9;
	metrics_histogram_observe(srv->metrics, "sevmond_http_request_duration_seconds", rl, dt);
}

static void update_gauges(struct rest_server *srv)
{
	if (!srv->metrics)
		return;
	metrics_gauge_set(srv->metrics, "sevmond_http_connections", NULL, srv->nconns);
	metrics_gauge_set(srv->metrics, "sevmond_http_inflight", NULL, srv->inflight);
}

struct metrics *rest_server_metrics(struct rest_server *srv)
{
	update_gauges(srv);
	return srv->metrics;
}

/* ------------------------------------------------------------- replies */

static const char *reason_of(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 499: return "Client Closed Request";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Unknown";
	}
}

/* Send a complete response on a live h2o request. */
void rest_send_raw(h2o_req_t *req, int status, const char *ctype, const char *body, size_t len)
{
	req->res.status = status;
	req->res.reason = reason_of(status);
	if (ctype)
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype,
			       strlen(ctype));
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
		       H2O_STRLIT("no-store"));
	if (status == 503)
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL,
			       H2O_STRLIT("1"));
	if (len == 0) {
		/* h2o_send_inline needs a body; an empty one is a final h2o_send. */
		static h2o_generator_t gen = { NULL, NULL };
		h2o_start_response(req, &gen);
		h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
		return;
	}
	req->res.content_length = len; /* Content-Length instead of chunked */
	h2o_send_inline(req, body, len);
}

void rest_send_json(h2o_req_t *req, int status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	json_decref(body);
	if (!text) {
		static const char oom[] =
			"{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
		rest_send_raw(req, 500, "application/json", oom, sizeof oom - 1);
		return;
	}
	rest_send_raw(req, status, "application/json", text, strlen(text));
	free(text);
}

json_t *rest_error_doc(const char *code, const char *msg)
{
	return json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
}

int rest_status_of(int err, const char **code)
{
	switch (err) {
	case SEVMON_ENOENT: *code = "not_found"; return 404;
	case SEVMON_EEXIST: *code = "conflict"; return 409;
	case SEVMON_EINVAL: *code = "bad_request"; return 400;
	case SEVMON_ETOOBIG: *code = "too_large"; return 413;
	case SEVMON_EBUSY: *code = "overloaded"; return 503;
	case SEVMON_ETIMEDOUT: *code = "timeout"; return 504;
	case SEVMON_ENOTSUP: *code = "not_implemented"; return 501;
	default: *code = "internal"; return 500;
	}
}

static void finish(struct rest_request *r, int status)
{
	r->answered = 1;
	rest_record(r->srv, r->route ? r->route : r->matched, r->route ? r->route->method : "other",
	       status, r->t0_ns);
}

void rest_reply_json(struct rest_request *r, int status, json_t *body)
{
	rest_send_json(r->hreq, status, body);
	finish(r, status);
}

void rest_reply_error(struct rest_request *r, int status, const char *code, const char *msg)
{
	rest_send_json(r->hreq, status, rest_error_doc(code, msg));
	finish(r, status);
}

void rest_reply_sevmon(struct rest_request *r, int err)
{
	const char *code;
	int status = rest_status_of(err, &code);
	rest_reply_error(r, status, code, sevmon_strerror(err));
}

void rest_reply_empty(struct rest_request *r, int status)
{
	rest_send_raw(r->hreq, status, NULL, NULL, 0);
	finish(r, status);
}

void rest_reply_text(struct rest_request *r, const char *ctype, const char *text, size_t len)
{
	rest_send_raw(r->hreq, 200, ctype, text, len);
	finish(r, 200);
}
