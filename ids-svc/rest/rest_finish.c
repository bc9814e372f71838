/*
 * rest_finish.c — the end of a server's life: once it is closing and nothing is left
 * open (listeners, connections, asynchronous ops), dispose of h2o and free it. Both the
 * server core (rest_server.c) and the asynchronous answers (rest_async.c) end things
 * that may be the last, so both call in here, from below.
 */
#include <stdlib.h>

#include "rest_h2o.h"

void rest_server_free(struct rest_server *srv)
{
	for (size_t i = 0; i < srv->ntokens; i++)
		free(srv->tokens[i]);
	free(srv);
}

static void on_finisher_closed(uv_handle_t *h)
{
	struct rest_server *srv = container_of(h, struct rest_server, finisher);
	void (*done)(void *) = srv->done;
	void *arg = srv->done_arg;
	rest_server_free(srv);
	if (done)
		done(arg);
}

static void on_finisher(uv_idle_t *h)
{
	/* h2o's timers closed in the previous iteration: srv may go now. */
	uv_idle_stop(h);
	uv_close((uv_handle_t *)h, on_finisher_closed);
}

void rest_server_maybe_finish(struct rest_server *srv)
{
	if (!srv->closing || srv->ctx_disposed || srv->listeners_open || srv->nconns ||
	    srv->inflight)
		return;
	srv->ctx_disposed = 1;
	if (h2o_timeout_is_linked(&srv->ctx.http2._graceful_shutdown_timeout))
		h2o_timeout_unlink(&srv->ctx.http2._graceful_shutdown_timeout);
	h2o_context_dispose(&srv->ctx);
	h2o_config_dispose(&srv->config);
	uv_idle_init(srv->loop, &srv->finisher);
	uv_idle_start(&srv->finisher, on_finisher);
}
