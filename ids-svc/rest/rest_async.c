/*
 * rest_async.c — answers that come later (live views): the op a backend holds, the
 * pool guard that tells it h2o dropped the request, and the hang-up watch.
 *
 * h2o 2.2 facts this relies on:
 * - A request's pool is cleared when h2o is done with the request; a shared pool
 *   object's dispose callback (the guard) tells an op that its request is gone.
 * - HTTP/1 in 2.2 stops reading once a request is complete, so a client that hangs up
 *   while its answer is pending goes unnoticed until we write. To learn it early (and let
 *   the backend cancel the agent work) an op watches a dup of the connection's fd for
 *   EPOLLRDHUP with a uv_poll_t (a second fd, so libuv's one-watcher-per-fd rule holds).
 *   The connection behind a request is found through h2o_socket_t.data, which h2o's
 *   HTTP/1 acceptor points at its connection, whose first member is the h2o_conn_t that
 *   req->conn points to (rest_conn.hconn, set in rest_server.c).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "err.h"
#include "rest_h2o.h"

/* Watches a dup of a client's fd for a hang-up while an op is pending. */
struct gone_watch {
	uv_poll_t poll;
	int fd;
	struct rest_async *op; /* NULL once the op completed */
};

struct async_guard {
	struct rest_async *op;
};

struct rest_async {
	struct rest_server *srv;
	h2o_req_t *req; /* NULL once h2o is done with the request */
	int answered;   /* a response was sent on req */
	struct async_guard *guard;
	struct gone_watch *watch;
	const struct rest_route *route;
	uint64_t t0_ns;
	void (*cancel_cb)(void *);
	void *cancel_arg;
};

static void watch_stop(struct rest_async *op);

/* ------------------------------------------------------------- asynchronous replies */

static void fire_cancel(struct rest_async *op)
{
	if (op->cancel_cb) {
		void (*cb)(void *) = op->cancel_cb;
		op->cancel_cb = NULL;
		cb(op->cancel_arg);
	}
}

static void guard_dispose(void *p)
{
	struct async_guard *g = p;
	struct rest_async *op = g->op;
	if (!op)
		return;
	/* h2o is done with the request before we answered: the client went away. The
	 * watch's dup would keep the socket open past h2o's close: drop it now. */
	op->req = NULL;
	op->guard = NULL;
	watch_stop(op);
	fire_cancel(op);
}

static void on_watch_closed(uv_handle_t *h)
{
	struct gone_watch *w = container_of(h, struct gone_watch, poll);
	close(w->fd);
	free(w);
}

static void watch_stop(struct rest_async *op)
{
	struct gone_watch *w = op->watch;
	if (!w)
		return;
	op->watch = NULL;
	w->op = NULL;
	uv_close((uv_handle_t *)&w->poll, on_watch_closed);
}

static void on_client_gone(uv_poll_t *p, int status, int events)
{
	struct gone_watch *w = container_of(p, struct gone_watch, poll);
	struct rest_async *op = w->op;
	(void)status;
	(void)events;
	watch_stop(op);
	if (op->req && !op->answered) {
		/* Answer now: h2o's write then fails or is dropped, and it frees the
		 * connection instead of holding it until the backend is done. */
		op->answered = 1;
		rest_send_json(op->req, 499, rest_error_doc("client_closed", "client closed request"));
	}
	fire_cancel(op);
}

/* Start the hang-up watch; without it (no fd, no memory) the op still completes safely,
 * only later. */
static void watch_start(struct rest_async *op)
{
	struct rest_server *srv = op->srv;
	struct rest_conn *c = srv->conns;
	while (c && c->hconn != op->req->conn)
		c = c->next;
	uv_os_fd_t fd;
	if (!c || uv_fileno(&c->h.handle, &fd) != 0)
		return;
	struct gone_watch *w = calloc(1, sizeof *w);
	if (!w)
		return;
	w->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (w->fd < 0) {
		free(w);
		return;
	}
	if (uv_poll_init(srv->loop, &w->poll, w->fd) != 0) {
		close(w->fd);
		free(w);
		return;
	}
	w->op = op;
	op->watch = w;
	if (uv_poll_start(&w->poll, UV_DISCONNECT, on_client_gone) != 0)
		watch_stop(op);
}

struct rest_async *rest_async_begin(struct rest_request *r)
{
	struct rest_server *srv = r->srv;
	if (srv->inflight >= srv->max_inflight) {
		rest_reply_error(r, 503, "overloaded", "too many requests in flight");
		return NULL;
	}
	struct rest_async *op = calloc(1, sizeof *op);
	if (!op) {
		rest_reply_sevmon(r, SEVMON_ENOMEM);
		return NULL;
	}
	h2o_req_t *req = r->hreq;
	op->guard = h2o_mem_alloc_shared(&req->pool, sizeof *op->guard, guard_dispose);
	op->guard->op = op;
	op->srv = srv;
	op->req = req;
	op->route = r->route;
	op->t0_ns = r->t0_ns;
	srv->inflight++;
	r->answered = 1; /* the op answers now */
	watch_start(op);
	return op;
}

static void async_release(struct rest_async *op)
{
	struct rest_server *srv = op->srv;
	watch_stop(op);
	if (op->guard)
		op->guard->op = NULL;
	srv->inflight--;
	free(op);
	rest_server_maybe_finish(srv);
}

void rest_async_complete(struct rest_async *op, int status, json_t *body)
{
	if (!op) {
		json_decref(body);
		return;
	}
	int http;
	if (op->req && !op->answered) {
		/* Detach first: sending may clear the pool and run guard_dispose. */
		h2o_req_t *req = op->req;
		if (op->guard)
			op->guard->op = NULL;
		op->guard = NULL;
		op->answered = 1;
		if (status == 0) {
			http = 200;
			rest_send_json(req, 200, body ? body : json_object());
		} else {
			const char *code;
			http = rest_status_of(status, &code);
			json_decref(body);
			rest_send_json(req, http, rest_error_doc(code, sevmon_strerror(status)));
		}
	} else {
		http = 499; /* nginx's "client closed request" */
		json_decref(body);
	}
	rest_record(op->srv, op->route, op->route->method, http, op->t0_ns);
	async_release(op);
}

void rest_async_abort(struct rest_async *op, int err)
{
	rest_async_complete(op, err ? err : SEVMON_EINTERNAL, NULL);
}

void rest_async_on_cancel(struct rest_async *op, void (*cb)(void *arg), void *arg)
{
	op->cancel_cb = cb;
	op->cancel_arg = arg;
}

int rest_async_client_alive(const struct rest_async *op)
{
	return op->req != NULL && !op->answered;
}
