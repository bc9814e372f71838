/*
 * rest_reply.c — answers: JSON documents and errors, the SEVMON_E* → HTTP mapping, and
 * the layer's own metrics (requests by route/method/code, latency, connections).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
			"Connections closed at accept: the connection limit, or the one per source address.",
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
	case 206: return "Partial Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
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
	case SEVMON_EFULL: *code = "store_full"; return 503; /* retry when space returns */
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

/* ------------------------------------------------------------- files */

/* h2o's own file sender (h2o_file_send) ignores Range: the file handler parses it before
 * calling in. This is the part a download of a memory image needs: one byte range (RFC
 * 9110 14.1.2: "bytes=A-B", "bytes=A-", "bytes=-N"), 206 with Content-Range, 416 for a
 * range past the end, the whole file (200) for anything it does not take (several
 * ranges, another unit). The file goes out in REST_FILE_CHUNK pieces as the client reads,
 * so a slow download holds one piece, not the file. */
#define REST_FILE_CHUNK (64u << 10)

struct file_gen {
	h2o_generator_t super;
	int fd;
	uint64_t off, left;
	char buf[REST_FILE_CHUNK];
};

static void file_gen_dispose(void *p)
{
	struct file_gen *f = p;
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

static void file_gen_send(struct file_gen *f, h2o_req_t *req)
{
	size_t n = f->left < sizeof f->buf ? (size_t)f->left : sizeof f->buf;
	ssize_t got = n ? pread(f->fd, f->buf, n, (off_t)f->off) : 0;
	if (got < 0 || (size_t)got != n) {
		file_gen_dispose(f);
		h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR); /* the file shrank under us */
		return;
	}
	f->off += n;
	f->left -= n;
	h2o_iovec_t v = h2o_iovec_init(f->buf, n);
	int final = f->left == 0;
	if (final)
		file_gen_dispose(f);
	h2o_send(req, &v, 1, final ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static void file_gen_proceed(h2o_generator_t *g, h2o_req_t *req)
{
	file_gen_send((struct file_gen *)g, req);
}

static void file_gen_stop(h2o_generator_t *g, h2o_req_t *req)
{
	(void)req;
	file_gen_dispose(g);
}

/* The one range of a Range header against a file of size bytes: 1 and [*a, *b] (inclusive),
 * 0 to send the whole file, -1 when it starts past the end (416). */
static int parse_range(const char *h, size_t len, uint64_t size, uint64_t *a, uint64_t *b)
{
	char v[64];
	if (len < 7 || len >= sizeof v || strncmp(h, "bytes=", 6))
		return 0;
	memcpy(v, h + 6, len - 6);
	v[len - 6] = 0;
	if (strchr(v, ','))
		return 0; /* several ranges: the whole file is a valid answer */
	char *dash = strchr(v, '-'), *end;
	if (!dash)
		return 0;
	*dash = 0;
	const char *x = v, *y = dash + 1;
	if (strspn(x, "0123456789") != strlen(x) || strspn(y, "0123456789") != strlen(y) ||
	    strlen(x) > 19 || strlen(y) > 19 || (!*x && !*y))
		return 0;
	if (!*x) { /* the last N bytes */
		uint64_t nlast = strtoull(y, &end, 10);
		if (nlast == 0)
			return -1;
		*a = nlast >= size ? 0 : size - nlast;
		*b = size ? size - 1 : 0;
		return size ? 1 : -1;
	}
	*a = strtoull(x, &end, 10);
	*b = *y ? strtoull(y, &end, 10) : UINT64_MAX;
	if (*b < *a)
		return 0; /* not a valid range: ignored, as RFC 9110 says */
	if (*a >= size)
		return -1;
	if (*b >= size)
		*b = size - 1;
	return 1;
}

int rest_reply_file(struct rest_request *r, const char *path, const char *ctype)
{
	h2o_req_t *req = r->hreq;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return SEVMON_EIO;
	}
	uint64_t size = (uint64_t)st.st_size, a = 0, b = size ? size - 1 : 0;
	int status = 200, rr = 0;
	ssize_t hi = h2o_find_header(&req->headers, H2O_TOKEN_RANGE, -1);
	if (hi != -1)
		rr = parse_range(req->headers.entries[hi].value.base, req->headers.entries[hi].value.len,
				 size, &a, &b);
	char cr[96];
	if (rr < 0) {
		close(fd);
		snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)size);
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_RANGE, NULL, cr,
			       strlen(cr));
		rest_reply_error(r, 416, "range_not_satisfiable", "the range starts past the end");
		return 0;
	}
	if (rr > 0) {
		status = 206;
		snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)a,
			 (unsigned long long)b, (unsigned long long)size);
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_RANGE, NULL, cr,
			       strlen(cr));
	}
	struct file_gen *f = h2o_mem_alloc_shared(&req->pool, sizeof *f, file_gen_dispose);
	f->super.proceed = file_gen_proceed;
	f->super.stop = file_gen_stop;
	f->fd = fd;
	f->off = a;
	f->left = size ? b - a + 1 : 0;
	req->res.status = status;
	req->res.reason = reason_of(status);
	req->res.content_length = f->left;
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype,
		       strlen(ctype));
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ACCEPT_RANGES, NULL,
		       H2O_STRLIT("bytes"));
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
		       H2O_STRLIT("no-store"));
	h2o_start_response(req, &f->super);
	finish(r, status);
	file_gen_send(f, req);
	return 0;
}

void rest_reply_text(struct rest_request *r, const char *ctype, const char *text, size_t len)
{
	rest_send_raw(r->hreq, 200, ctype, text, len);
	finish(r, 200);
}
