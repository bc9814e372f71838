/*
 * rest.h — sevmond's REST API: an HTTP/1.1 server (h2o 2.2 on libuv) on the daemon's loop,
 * a routing table, bearer-token auth, JSON bodies and errors, and a Prometheus metrics
 * registry.
 *
 * Threading: everything runs on the one uv_loop_t given to rest_server_start(); no call
 * here is thread-safe and none blocks.
 *
 * JSON: bodies are jansson values. A backend call that hands back a json_t (the `out`
 * parameters) gives the REST layer one reference, which the layer drops after sending.
 * Shapes are those of docs/openapi.json.
 *
 * Errors: backend calls return 0 or a negative SEVMON_E* (lib/base/err.h). The layer maps them
 * to HTTP: ENOENT 404, EEXIST 409, EINVAL 400, ETOOBIG 413, EBUSY 503 (Retry-After),
 * ETIMEDOUT 504, ENOTSUP 501, anything else 500. Every error body is
 *   {"error":{"code":"<short name>","message":"<text>"}}
 */
#ifndef SEVMON_REST_H
#define SEVMON_REST_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

struct metrics; /* the metrics registry, below */
struct rest_route; /* one row of a routing table, below */

/* ---------------------------------------------------------------- limits */

/* A connection idle (or still sending its request) this long is closed by h2o: bounds
 * what a slow client holds, and how long a close waits for idle keep-alive clients. */
#define REST_IDLE_TIMEOUT_MS 10000u
/* A target spec or a scan request is a few hundred bytes; 1 MiB leaves room for a
 * scan naming every target of a large fleet and still bounds what one client can make
 * us buffer (h2o holds the whole body in memory before the handler runs). */
#define REST_MAX_BODY_DEFAULT (1u << 20)
/* Accepted connections at once; each costs h2o ~16 KiB of buffers plus one fd. */
#define REST_MAX_CONNS_DEFAULT 256u
/* Of them from one source address (TCP; unix-socket clients are local and not counted):
 * h2o 2.2 cannot close an idle connection early, so without this one host holding
 * connections that never send a request would keep every other client out for as long
 * as it holds them. */
#define REST_MAX_CONNS_PER_SOURCE_DEFAULT 32u
/* Asynchronous requests (live views) waiting on agents at once; past this the server
 * answers 503 instead of queueing work it cannot finish in time. */
#define REST_MAX_INFLIGHT_DEFAULT 64u
/* Target names and scan ids appear in URLs and label values: short, URL-safe. */
#define REST_NAME_MAX 63u
/* Agent URIs (lib xport URIs: vsock://, unix://, tcp://, vsock-hybrid://). */
#define REST_URI_MAX 255u
/* Targets one scan request may name; the rest of a fleet is "all targets". */
#define REST_SCAN_TARGETS_MAX 4096u
/* Bearer tokens in the config; each is compared on every request. */
#define REST_TOKENS_MAX 16u
/* Findings returned by one request; paging is by `since`. */
#define REST_FINDINGS_LIMIT_MAX 1000u
/* A check's name in a query (the registry's CHECK_NAME_MAX). */
#define REST_CHECK_NAME_MAX 32u
#define REST_FINDINGS_LIMIT_DEFAULT 100u

/* ---------------------------------------------------------------- backend */

/* One pending asynchronous response (live views). Owned by the REST layer. */
struct rest_async;

enum rest_severity {
	REST_SEV_INFO = 0,
	REST_SEV_LOW,
	REST_SEV_MEDIUM,
	REST_SEV_HIGH,
	REST_SEV_CRITICAL,
};
/* "info".."critical"; NULL for out-of-range values. */
const char *rest_severity_name(enum rest_severity s);

/* POST /v1/targets, validated by the layer: name matches [A-Za-z0-9._-]{1,63}, uri is
 * non-empty and at most REST_URI_MAX bytes, key (optional, NULL if absent) is 64 hex
 * digits (a pinned X25519 static key), measurement (optional) is 96 hex digits.
 * Pointers are valid only during the call. */
struct rest_target_spec {
	const char *name;
	const char *uri;
	const char *key;
	const char *measurement;
};

/* POST /v1/scans: targets == NULL means all targets; checks == NULL means the default set.
 * Each name is validated like a target name. Valid only during the call. */
struct rest_scan_request {
	const char *const *targets;
	size_t ntargets;
	const char *const *checks;
	size_t nchecks;
};

/* GET /v1/findings: target NULL = every target; since = unix seconds (0 = all);
 * min_severity filters; limit in 1..REST_FINDINGS_LIMIT_MAX. */
struct rest_findings_query {
	const char *target;
	int64_t since;
	enum rest_severity min_severity;
	const char *check;     /* NULL: every check's; else [a-z0-9_]{1,32} */
	const char *technique; /* NULL: any; else a MITRE ATT&CK id, T1234[.567] */
	unsigned limit;
};

/*
 * What sevmond implements. Every member is required except `collect_metrics`,
 * `target_update` (absent: 501) and `ready` (absent: ready whenever serving). Each
 * synchronous call returns 0 and sets *out to a new reference, or returns a negative
 * SEVMON_E* and leaves *out untouched.
 */
struct rest_backend {
	/* GET /v1/targets: a JSON array of target objects. */
	int (*target_list)(void *ctx, json_t **out);
	/* GET /v1/targets/{name}: one target object (state, attestation, ...); ENOENT. */
	int (*target_get)(void *ctx, const char *name, json_t **out);
	/* POST /v1/targets: the created target object; EEXIST, EINVAL. */
	int (*target_add)(void *ctx, const struct rest_target_spec *spec, json_t **out);
	/* DELETE /v1/targets/{name}: ENOENT. */
	int (*target_remove)(void *ctx, const char *name);
	/* POST /v1/scans: writes a NUL-terminated id of at most REST_NAME_MAX bytes into
	 * id[REST_NAME_MAX + 1]; ENOENT when a named target does not exist, EBUSY. */
	int (*scan_start)(void *ctx, const struct rest_scan_request *req, char *id);
	/* GET /v1/scans/{id}: status object; ENOENT. */
	int (*scan_get)(void *ctx, const char *id, json_t **out);
	/* GET /v1/scans/{id}/results: results object; ENOENT. */
	int (*scan_results)(void *ctx, const char *id, json_t **out);
	/* GET /v1/findings: a JSON array of finding objects, newest last. */
	int (*findings)(void *ctx, const struct rest_findings_query *q, json_t **out);
	/* GET /v1/checks: a JSON array of the checks the backend runs, each
	 * {"name","summary","default","needs"}. */
	int (*checks)(void *ctx, json_t **out);
	/*
	 * GET /v1/targets/{name}/checks/{check}, and the older names of three of them,
	 * /v1/targets/{name}/banner, /processes, /modules (checks banner, ps, modules):
	 * run one check now. `check` is a name of 1..REST_NAME_MAX URL-safe characters;
	 * ENOENT for a check the backend does not have. Asynchronous: return 0 to take
	 * `op`: the backend must then call rest_async_complete(op, ...) exactly once,
	 * later, from the loop (not from inside this call), even if the client has gone
	 * away meanwhile (see rest_async_on_cancel). Return a negative SEVMON_E* to refuse;
	 * the layer answers at once and op is no longer valid.
	 */
	int (*live_view)(void *ctx, const char *name, const char *check, struct rest_async *op);
	/* GET /metrics, optional: refresh gauges in the registry before it is written. */
	void (*collect_metrics)(void *ctx, struct metrics *m);
	/* PUT /v1/targets/{name}, optional: change uri (and key, measurement: absent ones are
	 * cleared) of an existing target; spec->name is the path's. The target object;
	 * ENOENT. */
	int (*target_update)(void *ctx, const struct rest_target_spec *spec, json_t **out);
	/* GET /readyz (no token), optional: 0 when this instance should get traffic (a load
	 * balancer's readiness probe), EBUSY (503) when not. */
	int (*ready)(void *ctx);
	/* Memory acquisitions (forensics), optional (NULL: 501). target NULL = all. */
	/* GET /v1/acquisitions[?target=NAME]: a JSON array, newest first. */
	int (*acquisition_list)(void *ctx, const char *target, json_t **out);
	/* GET /v1/acquisitions/{id}: one, with its manifest; ENOENT. */
	int (*acquisition_get)(void *ctx, const char *id, json_t **out);
	/* GET /v1/acquisitions/{id}/image: the path of its image file (sealed) for the layer
	 * to send, Range requests included; ENOENT, EBUSY while it is being written. */
	int (*acquisition_file)(void *ctx, const char *id, char *path, size_t cap);
	/* POST /v1/targets/{name}/acquisitions: start one now; writes its id (at most
	 * REST_NAME_MAX) into id; ENOENT, EBUSY (one runs, or not held by this instance). */
	int (*acquisition_start)(void *ctx, const char *name, char *id);
};

/*
 * Finish an asynchronous response: status 0 sends `body` (200), a negative SEVMON_E*
 * sends the mapped error (body may be NULL then). Steals the reference to body. If the
 * client disconnected, the body is dropped. `op` is freed: do not use it afterwards.
 */
void rest_async_complete(struct rest_async *op, int status, json_t *body);
/* Called at most once, when the client goes away before completion, so the backend can
 * stop the work early. It runs from a later loop callback, never from inside live_view or
 * rest_async_complete. The backend must still call
 * rest_async_complete. "Gone" is a hang-up seen on the socket (EOF or reset, like nginx's
 * 499: a client that half-closes after its request counts as gone). */
void rest_async_on_cancel(struct rest_async *op, void (*cb)(void *arg), void *arg);
/* 1 while a client still waits for op, 0 after it went away. */
int rest_async_client_alive(const struct rest_async *op);

/* ---------------------------------------------------------------- server */

struct rest_config {
	/* TCP listen address, e.g. "127.0.0.1" or "::1"; NULL to skip TCP. Port 0 picks an
	 * ephemeral port (rest_server_port tells which). */
	const char *host;
	uint16_t port;
	/* Optional unix socket path (unlinked before bind); NULL to skip. */
	const char *unix_path;
	/* Accepted bearer tokens (copied); at least one, at most REST_TOKENS_MAX, each 16..256
	 * bytes of token68 characters. */
	const char *const *tokens;
	size_t ntokens;
	/* The routing table the server serves (static storage, outlives the server):
	 * rest_routes() for sevmond's API, another table in tests. At least one route. */
	const struct rest_route *routes;
	size_t nroutes;
	/* 0 picks the *_DEFAULT above. */
	size_t max_body;
	unsigned max_conns;
	unsigned max_conns_per_source; /* TCP; 0: REST_MAX_CONNS_PER_SOURCE_DEFAULT */
	unsigned max_inflight;
};

struct rest_server;

/*
 * Start listening on `loop`. backend/ctx/metrics must outlive the server; metrics may
 * be NULL (then /metrics serves an empty document and the layer records nothing).
 * The layer declares and updates its own families in `metrics`: sevmond_http_requests_total
 * {route,method,code}, sevmond_http_request_duration_seconds{route},
 * sevmond_http_connections, sevmond_http_inflight, sevmond_http_connections_refused_total
 * {reason="max_conns"|"per_source"}.
 * If SIGPIPE is at its default disposition it is set to SIG_IGN (h2o writes with
 * writev(2); a client's reset must not kill the daemon).
 * Returns 0 and *out, or EINVAL (bad config), ESYS (bind/listen failed: address in use
 * or not permitted), ENOMEM. On failure the half-built server still closes its handles
 * through the loop: keep running the loop (uv_run) before uv_loop_close.
 */
int rest_server_start(struct rest_server **out, uv_loop_t *loop, const struct rest_config *cfg,
		      const struct rest_backend *backend, void *ctx, struct metrics *metrics);
/* The bound TCP port (useful after port 0), or 0 without TCP. */
uint16_t rest_server_port(const struct rest_server *srv);
/* Requests accepted and not yet answered (asynchronous ones waiting on the backend). */
unsigned rest_server_inflight(const struct rest_server *srv);
/* Open client connections. */
unsigned rest_server_connections(const struct rest_server *srv);
/*
 * Stop accepting; each connection closes after its current response; once every
 * connection has gone and every pending asynchronous op has completed, release
 * everything and call done(arg) from the loop. Pending ops still complete normally and
 * their clients get the answer. h2o 2.2 has no way to close an idle HTTP/1 keep-alive
 * connection early: such a client delays done() by up to REST_IDLE_TIMEOUT_MS (10 s).
 * srv is invalid once done() runs (or immediately, to the caller, if done is NULL).
 */
void rest_server_close(struct rest_server *srv, void (*done)(void *arg), void *arg);

/* ---------------------------------------------------------------- routes */

enum rest_route_flags {
	REST_ROUTE_NOAUTH = 1u << 0, /* served without a token (health checks) */
	REST_ROUTE_BODY = 1u << 1,   /* expects a JSON request body */
};

struct rest_request; /* one request being handled (internal) */

struct rest_route {
	const char *method;  /* "GET", "POST", "DELETE" */
	const char *pattern; /* "/v1/targets/{name}": literal segments and {param} segments */
	unsigned flags;
	void (*handler)(struct rest_request *r);
};

/* sevmond's routing table, the API of docs/openapi.json (static storage); *n gets its
 * length. Given to rest_server_start in rest_config.routes. */
const struct rest_route *rest_routes(size_t *n);

/* Path matching against one pattern. On a match returns the number of {params} (>= 0)
 * and stores each value's offset/length into path; -1 when the path does not match.
 * Params never match an empty segment. At most REST_ROUTE_MAX_PARAMS params. */
#define REST_ROUTE_MAX_PARAMS 4
struct rest_span {
	size_t off, len;
};
int rest_route_match(const char *pattern, const char *path, size_t path_len,
		     struct rest_span params[REST_ROUTE_MAX_PARAMS]);

/* Constant-time check of an Authorization header value against the tokens: 1 when it is
 * "Bearer <t>" (scheme case-insensitive) for some configured t, else 0. The time taken
 * depends on the header's length and the number of tokens, not on where bytes differ. */
int rest_auth_check(const char *hdr, size_t hdr_len, const char *const *tokens, size_t ntokens);

/* ---------------------------------------------------------------- metrics */

enum metrics_type {
	METRICS_COUNTER = 0,
	METRICS_GAUGE,
	METRICS_HISTOGRAM,
};

/* Metric families a registry holds; sevmond's are a few dozen. */
#define METRICS_MAX_FAMILIES 128u
/* Series per family (distinct label sets): bounds the cost of a label fed from a
 * peer-controlled value, e.g. one per target of a 1,000-VM fleet plus headroom. */
#define METRICS_MAX_SERIES 4096u
/* Label pairs per series and buckets per histogram. */
#define METRICS_MAX_LABELS 8u
#define METRICS_MAX_BUCKETS 32u
/* Label values longer than this are refused (URLs, errors do not belong in labels). */
#define METRICS_LABEL_VALUE_MAX 256u

struct metrics;

/* A new, empty registry, or NULL when out of memory. */
struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/*
 * Declare a family. name matches [a-zA-Z_:][a-zA-Z0-9_:]*; help is any text (escaped on
 * output). For histograms, `buckets` are the finite upper bounds, strictly increasing
 * (+Inf is implicit); NULL with nbuckets 0 uses the default latency buckets
 * (5 ms .. 10 s). Declaring an existing name again with the same type is a no-op.
 * Returns 0, EINVAL (bad name, buckets, or type clash), ETOOBIG, ENOMEM.
 */
int metrics_declare(struct metrics *m, const char *name, enum metrics_type type,
		    const char *help, const double *buckets, size_t nbuckets);

/*
 * Update a series. `labels` is NULL or a NULL-terminated list of name, value pairs
 * ({"target", "vm1", "check", "ps", NULL}); label names match [a-zA-Z_][a-zA-Z0-9_]*
 * and do not start with "__"; values are any UTF-8 (escaped on output). Order matters:
 * the same pairs in another order are another series. The family must be declared with
 * the matching type. counter_add refuses v < 0 and NaN.
 * Returns 0, ENOENT (undeclared), EINVAL, ETOOBIG (series limit), ENOMEM.
 */
int metrics_counter_add(struct metrics *m, const char *name, const char *const *labels, double v);
int metrics_gauge_set(struct metrics *m, const char *name, const char *const *labels, double v);
int metrics_gauge_add(struct metrics *m, const char *name, const char *const *labels, double v);
int metrics_histogram_observe(struct metrics *m, const char *name, const char *const *labels,
			      double v);

/*
 * Write the Prometheus text exposition (format 0.0.4): for each family "# HELP", "# TYPE",
 * then its samples; histograms as cumulative _bucket{le=...} lines ending at le="+Inf",
 * then _sum and _count. Returns 0 and a malloc'd NUL-terminated text in *out (caller
 * frees) with its length in *len, or ENOMEM.
 */
int metrics_write(const struct metrics *m, char **out, size_t *len);

#endif
