/*
 * rest_server.c — h2o 2.2 on the caller's libuv loop: listeners, connection accounting,
 * the dispatcher (route → auth → method → body → handler), and an orderly close.
 *
 * h2o 2.2 facts this file relies on:
 * - With H2O_USE_LIBUV the context's timers are uv_timer_t embedded in h2o_context_t,
 *   closed (not freed) by h2o_context_dispose: the server struct stays allocated until
 *   the loop has run their close callbacks (the `finisher` idle handle below).
 * - h2o_context_request_shutdown() also arms HTTP/2's graceful-shutdown timer, which
 *   h2o_context_dispose() then asserts is unlinked; we set shutdown_requested instead.
 * - h2o_uv_socket_create() takes over a stream we allocated; its close_cb gets the
 *   uv_handle_t (handle->data belongs to h2o), so we find our struct by container.
 * - h2o buffers the whole request body before calling a handler and itself answers
 *   413 (text, not JSON) past globalconf.max_request_entity_size.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "rest_h2o.h"

/* Connections waiting in the kernel's accept queue. */
#define REST_BACKLOG 128

struct rest_handler {
	h2o_handler_t super;
	struct rest_server *srv;
};

/* ------------------------------------------------------------- dispatch */

/* "application/json", optionally followed by parameters (";charset=utf-8"). */
static int is_json_type(const h2o_req_t *req)
{
	ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
	if (i < 0)
		return 0;
	h2o_iovec_t v = req->headers.entries[i].value;
	static const char want[] = "application/json";
	size_t n = sizeof want - 1;
	if (v.len < n || strncasecmp(v.base, want, n) != 0)
		return 0;
	return v.len == n || v.base[n] == ';' || v.base[n] == ' ';
}

static int authorized(struct rest_server *srv, const h2o_req_t *req)
{
	ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
	if (i < 0)
		return 0;
	h2o_iovec_t v = req->headers.entries[i].value;
	return rest_auth_check(v.base, v.len, (const char *const *)srv->tokens, srv->ntokens);
}

static int method_is(const h2o_req_t *req, const char *m)
{
	return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
	struct rest_server *srv = ((struct rest_handler *)self)->srv;
	struct rest_request r = { .srv = srv, .hreq = req, .be = srv->be, .bctx = srv->bctx,
				  .t0_ns = uv_hrtime() };
	size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
	r.path = req->path.base;
	if (req->query_at != SIZE_MAX) {
		r.query = req->path.base + req->query_at + 1;
		r.query_len = req->path.len - req->query_at - 1;
	}

	size_t nroutes = srv->nroutes;
	const struct rest_route *routes = srv->routes;
	const struct rest_route *chosen = NULL;
	char allow[64] = "";
	int path_known = 0;
	for (size_t i = 0; i < nroutes; i++) {
		struct rest_span ps[REST_ROUTE_MAX_PARAMS];
		int np = rest_route_match(routes[i].pattern, r.path, plen, ps);
		if (np < 0)
			continue;
		path_known = 1;
		if (!r.matched)
			r.matched = &routes[i];
		if (strlen(allow) + strlen(routes[i].method) + 3 < sizeof allow) {
			if (allow[0])
				strcat(allow, ", ");
			strcat(allow, routes[i].method);
		}
		if (!chosen && method_is(req, routes[i].method)) {
			chosen = &routes[i];
			memcpy(r.params, ps, sizeof ps);
			r.nparams = np;
		}
	}
	/* A HEAD of a GET route is served as the GET (h2o drops the body). */
	if (!chosen && path_known && method_is(req, "HEAD")) {
		for (size_t i = 0; i < nroutes && !chosen; i++) {
			int np = rest_route_match(routes[i].pattern, r.path, plen, r.params);
			if (np >= 0 && strcmp(routes[i].method, "GET") == 0) {
				chosen = &routes[i];
				r.nparams = np;
			}
		}
	}
	r.route = chosen;

	if (!(chosen && (chosen->flags & REST_ROUTE_NOAUTH)) && !authorized(srv, req)) {
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
			       H2O_STRLIT("Bearer realm=\"sevmond\""));
		rest_reply_error(&r, 401, "unauthorized", "missing or invalid bearer token");
		return 0;
	}
	if (!path_known) {
		rest_reply_error(&r, 404, "not_found", "no such route");
		return 0;
	}
	if (!chosen) {
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, allow,
			       strlen(allow));
		rest_reply_error(&r, 405, "method_not_allowed", "method not allowed on this route");
		return 0;
	}
	if (srv->closing) {
		rest_reply_error(&r, 503, "shutting_down", "the server is shutting down");
		return 0;
	}
	if (chosen->flags & REST_ROUTE_BODY) {
		if (req->entity.len > srv->max_body) {
			rest_reply_error(&r, 413, "too_large", "request body too large");
			return 0;
		}
		if (!is_json_type(req)) {
			rest_reply_error(&r, 415, "unsupported_media_type",
					 "the body must be application/json");
			return 0;
		}
		json_error_t jerr;
		r.body = json_loadb(req->entity.base ? req->entity.base : "", req->entity.len,
				    JSON_REJECT_DUPLICATES, &jerr);
		if (!r.body || !json_is_object(r.body)) {
			char msg[200];
			if (r.body)
				snprintf(msg, sizeof msg, "the body must be a JSON object");
			else
				snprintf(msg, sizeof msg, "malformed JSON at line %d column %d: %s",
					 jerr.line, jerr.column, jerr.text);
			json_decref(r.body);
			r.body = NULL;
			rest_reply_error(&r, 400, "bad_json", msg);
			return 0;
		}
	}
	chosen->handler(&r);
	json_decref(r.body);
	if (!r.answered)
		rest_reply_sevmon(&r, SEVMON_EINTERNAL);
	return 0;
}

/* ------------------------------------------------------------- connections */

static void on_conn_closed(uv_handle_t *h)
{
	struct rest_conn *c = container_of(h, struct rest_conn, h.handle);
	struct rest_server *srv = c->srv;
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
	srv->nconns--;
	rest_server_maybe_finish(srv);
}

static void on_refused_closed(uv_handle_t *h)
{
	free(container_of(h, struct rest_conn, h.handle));
}

/* c->peer = the TCP peer's address without its port. 0, or -1 (then not counted). */
static int peer_of(struct rest_conn *c)
{
	int len = (int)sizeof c->peer;
	if (uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&c->peer, &len) != 0)
		return -1;
	if (c->peer.ss_family == AF_INET)
		((struct sockaddr_in *)&c->peer)->sin_port = 0;
	else if (c->peer.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&c->peer)->sin6_port = 0;
	else
		return -1;
	return 0;
}

static int same_source(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr));
	return 0;
}

/* Open connections from src (a walk of the list: max_conns is a few hundred). */
static unsigned conns_from(const struct rest_server *srv, const struct sockaddr_storage *src)
{
	unsigned n = 0;
	for (const struct rest_conn *o = srv->conns; o; o = o->next)
		n += same_source(&o->peer, src);
	return n;
}

static void on_connection(uv_stream_t *listener, int status)
{
	struct rest_server *srv = listener->data;
	if (status != 0 || srv->closing)
		return;
	struct rest_conn *c = calloc(1, sizeof *c);
	if (!c)
		return;
	c->srv = srv;
	int is_tcp = listener->type == UV_TCP;
	int rc = is_tcp ? uv_tcp_init(srv->loop, &c->h.tcp) : uv_pipe_init(srv->loop, &c->h.pipe, 0);
	if (rc != 0) {
		free(c);
		return;
	}
	if (uv_accept(listener, (uv_stream_t *)&c->h) != 0) {
		uv_close(&c->h.handle, on_refused_closed);
		return;
	}
	const char *refuse = srv->nconns >= srv->max_conns ? "max_conns" : NULL;
	if (!refuse && is_tcp && peer_of(c) == 0 &&
	    conns_from(srv, &c->peer) >= srv->max_conns_per_source)
		refuse = "per_source";
	if (refuse) {
		/* Shed: taking it off the accept queue and closing it is cheaper for the
		 * client than letting it time out in the backlog. */
		if (srv->metrics)
			metrics_counter_add(srv->metrics, "sevmond_http_connections_refused_total",
					    (const char *const[]){ "reason", refuse, NULL }, 1);
		uv_close(&c->h.handle, on_refused_closed);
		return;
	}
	if (is_tcp)
		uv_tcp_nodelay(&c->h.tcp, 1);
	h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)&c->h, on_conn_closed);
	if (!sock) {
		uv_close(&c->h.handle, on_refused_closed);
		return;
	}
	srv->nconns++;
	c->next = srv->conns;
	if (c->next)
		c->next->prev = c;
	srv->conns = c;
	h2o_accept(&srv->accept_ctx, sock);
	/* Plain HTTP/1: h2o_http1_accept ran synchronously and set sock->data. */
	c->hconn = sock->data;
}

/* ------------------------------------------------------------- lifecycle */

static int token_ok(const char *t)
{
	size_t n = t ? strlen(t) : 0;
	if (n < 16 || n > 256)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			 strchr("-._~+/=", c) != NULL;
		if (!ok)
			return 0;
	}
	return 1;
}

static void on_listener_closed(uv_handle_t *h)
{
	struct rest_server *srv = h->data;
	srv->listeners_open--;
	rest_server_maybe_finish(srv);
}

static int listen_tcp(struct rest_server *srv, const char *host, uint16_t port)
{
	struct sockaddr_storage ss;
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
	    uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0)
		return SEVMON_EINVAL;
	if (uv_tcp_init(srv->loop, &srv->tcp) != 0)
		return SEVMON_ESYS;
	srv->tcp.data = srv;
	srv->has_tcp = 1;
	if (uv_tcp_bind(&srv->tcp, (struct sockaddr *)&ss, 0) != 0 ||
	    uv_listen((uv_stream_t *)&srv->tcp, REST_BACKLOG, on_connection) != 0)
		return SEVMON_ESYS;
	struct sockaddr_storage bound;
	int blen = sizeof bound;
	if (uv_tcp_getsockname(&srv->tcp, (struct sockaddr *)&bound, &blen) != 0)
		return SEVMON_ESYS;
	srv->port = bound.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
						: ntohs(((struct sockaddr_in *)&bound)->sin_port);
	return 0;
}

static int listen_unix(struct rest_server *srv, const char *path)
{
	if (uv_pipe_init(srv->loop, &srv->pipe, 0) != 0)
		return SEVMON_ESYS;
	srv->pipe.data = srv;
	srv->has_pipe = 1;
	unlink(path);
	if (uv_pipe_bind(&srv->pipe, path) != 0 ||
	    uv_listen((uv_stream_t *)&srv->pipe, REST_BACKLOG, on_connection) != 0)
		return SEVMON_ESYS;
	return 0;
}

static int backend_ok(const struct rest_backend *b)
{
	return b && b->target_list && b->target_get && b->target_add && b->target_remove &&
	       b->scan_start && b->scan_get && b->scan_results && b->findings && b->live_view &&
	       b->checks;
}

int rest_server_start(struct rest_server **out, uv_loop_t *loop, const struct rest_config *cfg,
		      const struct rest_backend *backend, void *ctx, struct metrics *metrics)
{
	if (!out || !loop || !cfg || !backend_ok(backend) || (!cfg->host && !cfg->unix_path) ||
	    cfg->ntokens == 0 || cfg->ntokens > REST_TOKENS_MAX || !cfg->tokens || !cfg->routes ||
	    cfg->nroutes == 0)
		return SEVMON_EINVAL;
	for (size_t i = 0; i < cfg->ntokens; i++)
		if (!token_ok(cfg->tokens[i]))
			return SEVMON_EINVAL;
	/* h2o writes with writev(2): a write after a client reset must give EPIPE, not kill
	 * the daemon. Left alone if the process already chose a disposition. */
	struct sigaction sa;
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	struct rest_server *srv = calloc(1, sizeof *srv);
	if (!srv)
		return SEVMON_ENOMEM;
	for (size_t i = 0; i < cfg->ntokens; i++) {
		srv->tokens[i] = strdup(cfg->tokens[i]);
		srv->ntokens++;
		if (!srv->tokens[i]) {
			rest_server_free(srv);
			return SEVMON_ENOMEM;
		}
	}
	srv->loop = loop;
	srv->routes = cfg->routes;
	srv->nroutes = cfg->nroutes;
	srv->be = backend;
	srv->bctx = ctx;
	srv->metrics = metrics;
	srv->max_body = cfg->max_body ? cfg->max_body : REST_MAX_BODY_DEFAULT;
	srv->max_conns = cfg->max_conns ? cfg->max_conns : REST_MAX_CONNS_DEFAULT;
	srv->max_conns_per_source =
		cfg->max_conns_per_source ? cfg->max_conns_per_source : REST_MAX_CONNS_PER_SOURCE_DEFAULT;
	srv->max_inflight = cfg->max_inflight ? cfg->max_inflight : REST_MAX_INFLIGHT_DEFAULT;
	rest_declare_metrics(metrics);

	h2o_config_init(&srv->config);
	srv->config.server_name = h2o_iovec_init(H2O_STRLIT("sevmond"));
	srv->config.max_request_entity_size = srv->max_body;
	srv->config.http1.req_timeout = REST_IDLE_TIMEOUT_MS;
	srv->config.http1.upgrade_to_http2 = 0;
	h2o_hostconf_t *host = h2o_config_register_host(&srv->config,
							h2o_iovec_init(H2O_STRLIT("default")), 65535);
	h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
	struct rest_handler *h = (struct rest_handler *)h2o_create_handler(path, sizeof *h);
	h->super.on_req = on_req;
	h->srv = srv;
	h2o_context_init(&srv->ctx, loop, &srv->config);
	srv->accept_ctx.ctx = &srv->ctx;
	srv->accept_ctx.hosts = srv->config.hosts;

	int rc = 0;
	if (cfg->host)
		rc = listen_tcp(srv, cfg->host, cfg->port);
	if (rc == 0 && cfg->unix_path)
		rc = listen_unix(srv, cfg->unix_path);
	if (rc != 0) {
		/* Same path as a close: h2o's handles need the loop to go away. */
		rest_server_close(srv, NULL, NULL);
		return rc;
	}
	*out = srv;
	return 0;
}

uint16_t rest_server_port(const struct rest_server *srv)
{
	return srv->port;
}

unsigned rest_server_inflight(const struct rest_server *srv)
{
	return srv->inflight;
}

unsigned rest_server_connections(const struct rest_server *srv)
{
	return srv->nconns;
}

void rest_server_close(struct rest_server *srv, void (*done)(void *arg), void *arg)
{
	if (!srv || srv->closing)
		return;
	srv->closing = 1;
	srv->done = done;
	srv->done_arg = arg;
	if (srv->has_tcp) {
		srv->listeners_open++;
		uv_close((uv_handle_t *)&srv->tcp, on_listener_closed);
	}
	if (srv->has_pipe) {
		srv->listeners_open++;
		uv_close((uv_handle_t *)&srv->pipe, on_listener_closed);
	}
	/* Not h2o_context_request_shutdown(): in 2.2 it also arms HTTP/2's graceful-shutdown
	 * timer, which h2o_context_dispose() then asserts is unlinked. The flag alone makes
	 * HTTP/1 close each connection after its current response. */
	srv->ctx.shutdown_requested = 1;
	rest_server_maybe_finish(srv);
}
