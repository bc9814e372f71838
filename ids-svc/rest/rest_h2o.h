/*
 * rest_h2o.h — the server's state as the h2o-facing files share it (rest_server.c,
 * rest_reply.c, rest_async.c, rest_finish.c). Internal: nothing outside ids-svc/rest includes it.
 */
#ifndef SEVMON_REST_H2O_H
#define SEVMON_REST_H2O_H

/* Debian's libh2o is the libuv flavour; this must precede every h2o include. */
#define H2O_USE_LIBUV 1
#include <h2o.h>

#include <stddef.h>

#include "rest_int.h"

#define container_of(p, T, m) ((T *)(void *)((char *)(p) - offsetof(T, m)))

struct rest_server {
	uv_loop_t *loop;
	h2o_globalconf_t config;
	h2o_context_t ctx;
	h2o_accept_ctx_t accept_ctx;
	uv_tcp_t tcp;
	uv_pipe_t pipe;
	int has_tcp, has_pipe;
	uint16_t port;
	char *tokens[REST_TOKENS_MAX];
	size_t ntokens;
	size_t max_body;
	unsigned max_conns, max_conns_per_source, max_inflight;
	unsigned nconns, inflight;
	const struct rest_route *routes;
	size_t nroutes;
	const struct rest_backend *be;
	void *bctx;
	struct metrics *metrics;
	struct rest_conn *conns; /* open connections, for the hang-up watch */
	int closing, ctx_disposed, listeners_open;
	void (*done)(void *);
	void *done_arg;
	uv_idle_t finisher;
};

struct rest_conn {
	union {
		uv_tcp_t tcp;
		uv_pipe_t pipe;
		uv_handle_t handle;
	} h;
	struct rest_server *srv;
	h2o_conn_t *hconn; /* h2o's connection on this socket (sock->data after accept) */
	struct sockaddr_storage peer; /* TCP: the source address (port cleared); unix: AF_UNSPEC */
	struct rest_conn *prev, *next;
};

/* Send a complete response on a live h2o request (body copied; len 0 sends none). */
void rest_send_raw(h2o_req_t *req, int status, const char *ctype, const char *body, size_t len);
/* Send a JSON document (steals body; NULL or an encoding failure gives a 500). */
void rest_send_json(h2o_req_t *req, int status, json_t *body);
/* {"error":{"code":code,"message":msg}} */
json_t *rest_error_doc(const char *code, const char *msg);
/* HTTP status and short code for a SEVMON_E* value. */
int rest_status_of(int err, const char **code);
/* Count an answered request and its latency since t0_ns (uv_hrtime). */
void rest_record(struct rest_server *srv, const struct rest_route *route, const char *method,
		 int status, uint64_t t0_ns);
/* Declare the layer's own metric families in m (NULL: nothing). */
void rest_declare_metrics(struct metrics *m);
/* Finish a close once nothing is left open: dispose h2o, free srv, call done
 * (rest_finish.c). */
void rest_server_maybe_finish(struct rest_server *srv);
/* Free srv's own memory (tokens, the struct), after h2o is gone or was never set up. */
void rest_server_free(struct rest_server *srv);

#endif
