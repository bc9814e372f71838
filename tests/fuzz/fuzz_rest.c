/*
 * fuzz_rest.c — sevmond's REST API as a hostile client reaches it: the input is what one
 * client connection sends (request line, headers, body; several requests pipelined), to
 * the real server (h2o on libuv, the route table of rest_routes(), bearer tokens, body
 * and connection bounds) over a unix socket, in-process, with the test backend behind it
 * (tests/rest). The client half-closes after sending; the exchange ends when the server
 * closes the connection, or after 3 s (an error: nothing may make it wait longer).
 * Seeds: one request per route, with the token.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "rest.h"
#include "rest_test_backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_REST_TOKEN "fuzz-token-0123456789abcdef"

static uv_loop_t loop;
static struct rest_server *srv;
static struct test_backend *tb;
static struct sockaddr_un sa;

struct exchange {
	int fd;
	const uint8_t *p;
	size_t left;
	int done, timed_out;
	uv_poll_t poll;
	uv_timer_t timer;
};

static void on_timer(uv_timer_t *t)
{
	struct exchange *x = t->data;
	x->timed_out = x->done = 1;
	uv_stop(&loop);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct exchange *x = p->data;
	char buf[65536];
	(void)status;
	if ((events & UV_WRITABLE) && x->left) {
		ssize_t n = send(x->fd, x->p, x->left, MSG_NOSIGNAL);
		if (n > 0)
			x->p += n, x->left -= (size_t)n;
		else if (n < 0)
			x->left = 0; /* the server closed: nothing more to send */
		if (!x->left) {
			shutdown(x->fd, SHUT_WR);
			uv_poll_start(p, UV_READABLE, on_poll);
		}
	}
	if (events & UV_READABLE) {
		ssize_t n;
		while ((n = recv(x->fd, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
		}
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
			x->done = 1;
			uv_stop(&loop);
		}
	}
}

static void setup(void)
{
	static const char *tokens[] = { FUZZ_REST_TOKEN };
	static char path[108];
	snprintf(path, sizeof path, "/tmp/sevmon-fuzz-rest-%d.sock", (int)getpid());
	if (uv_loop_init(&loop) || !(tb = test_backend_new(&loop)))
		abort();
	size_t nroutes;
	const struct rest_route *routes = rest_routes(&nroutes);
	struct rest_config cfg = { .unix_path = path, .tokens = tokens, .ntokens = 1,
				   .routes = routes, .nroutes = nroutes };
	if (rest_server_start(&srv, &loop, &cfg, &test_backend_ops, tb, NULL) != 0)
		abort();
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!srv)
		setup();
	struct exchange x = { .p = data, .left = size };
	x.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (x.fd < 0 || connect(x.fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		abort();
	if (!size)
		shutdown(x.fd, SHUT_WR);
	uv_poll_init(&loop, &x.poll, x.fd);
	x.poll.data = &x;
	uv_poll_start(&x.poll, size ? UV_WRITABLE | UV_READABLE : UV_READABLE, on_poll);
	uv_timer_init(&loop, &x.timer);
	x.timer.data = &x;
	uv_timer_start(&x.timer, on_timer, 3000, 0);
	while (!x.done)
		uv_run(&loop, UV_RUN_ONCE);
	uv_poll_stop(&x.poll);
	uv_close((uv_handle_t *)&x.poll, NULL);
	uv_timer_stop(&x.timer);
	uv_close((uv_handle_t *)&x.timer, NULL);
	uv_run(&loop, UV_RUN_NOWAIT); /* the close callbacks */
	close(x.fd);
	if (x.timed_out)
		abort(); /* the server kept a half-closed client for 3 s */
	return 0;
}
