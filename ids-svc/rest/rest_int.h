/*
 * rest_int.h — what the route handlers (rest_handlers.c) get from the server core
 * (rest_server.c). Not part of the contract: sevmond uses rest.h only.
 */
#ifndef SEVMON_REST_INT_H
#define SEVMON_REST_INT_H

#include "rest.h"

/* One request while its handler runs; lives on the dispatcher's stack, so a handler
 * that answers later takes a struct rest_async (rest_async_begin) instead. */
struct rest_request {
	struct rest_server *srv;
	void *hreq; /* h2o_req_t */
	const struct rest_route *route;
	const struct rest_route *matched; /* first route whose path matched (metrics) */
	const char *path; /* raw path without the query; not NUL-terminated */
	struct rest_span params[REST_ROUTE_MAX_PARAMS];
	int nparams;
	const char *query; /* after '?', not NUL-terminated; NULL if none */
	size_t query_len;
	json_t *body; /* parsed object for REST_ROUTE_BODY routes, else NULL */
	const struct rest_backend *be;
	void *bctx;
	uint64_t t0_ns; /* uv_hrtime() at dispatch */
	int answered;
};

/* Copy param i into buf (NUL-terminated). EINVAL if it is not a valid name
 * ([A-Za-z0-9._-]{1,REST_NAME_MAX}); the error has been answered then. */
int rest_param_name(struct rest_request *r, int i, char buf[REST_NAME_MAX + 1]);
/* Is s a valid target/scan name? */
int rest_name_valid(const char *s, size_t len);

/* Find query parameter `key`, percent-decode it into buf. Returns 1 found, 0 absent,
 * SEVMON_EINVAL if malformed or longer than cap - 1. */
int rest_query_get(const struct rest_request *r, const char *key, char *buf, size_t cap);

/* Answer with a JSON document (steals body) and the given HTTP status. */
void rest_reply_json(struct rest_request *r, int status, json_t *body);
/* Answer with {"error":{"code","message"}}. */
void rest_reply_error(struct rest_request *r, int status, const char *code, const char *msg);
/* Answer with the HTTP mapping of a SEVMON_E* code. */
void rest_reply_sevmon(struct rest_request *r, int err);
/* Answer 204 No Content. */
void rest_reply_empty(struct rest_request *r, int status);
/* Answer with a regular file, one byte range of it when the Range header asks (206 with
 * Content-Range; 416 past the end). EIO when it cannot be opened (nothing answered). */
int rest_reply_file(struct rest_request *r, const char *path, const char *ctype);
/* Answer with text (Prometheus exposition). */
void rest_reply_text(struct rest_request *r, const char *ctype, const char *text, size_t len);

/* Start an asynchronous answer: NULL (after answering 503) when too many are in flight. */
struct rest_async *rest_async_begin(struct rest_request *r);
/* Give back an op the backend refused, answering with err. */
void rest_async_abort(struct rest_async *op, int err);

/* The server's metrics registry (may be NULL). */
struct metrics *rest_server_metrics(struct rest_server *srv);

#endif
