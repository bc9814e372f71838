/*
 * test_rest_server.c — the server's lifecycle in-process (ids-svc/rest): config checks,
 * bind failures, close releasing every handle (uv_loop_close succeeds: a leak check),
 * and requests from a libuv client on the same loop as the server and the backend.
 */
#include <sys/stat.h>

#include "err.h"
#include "harness.h"
#include "rest.h"
#include "rest_test_backend.h"

#define TOKEN "unit-token-0123456789"
static const char *const tokens[] = { TOKEN };

static struct rest_config cfg_tcp(void)
{
	struct rest_config c = { .host = "127.0.0.1", .tokens = tokens, .ntokens = 1 };
	c.routes = rest_routes(&c.nroutes);
	return c;
}

static void on_done(void *arg)
{
	(*(int *)arg)++;
}

/* Run the loop dry and close it: fails if anything is left open. */
static void drain_and_close(uv_loop_t *loop)
{
	uv_run(loop, UV_RUN_DEFAULT);
	int rc = uv_loop_close(loop);
	if (rc != 0) {
		uv_print_all_handles(loop, stderr);
		FAIL_AT("uv_loop_close: %s", uv_strerror(rc));
	}
}

TEST(rest_server_start_rejects_bad_config)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct test_backend *tb = test_backend_new(&loop);
	struct rest_server *srv = NULL;
	struct rest_config c = cfg_tcp();
	static const char *const short_tok[] = { "short" };
	static const char *const space_tok[] = { "has a space 0123456789" };

	c.ntokens = 0;
	ASSERT_EQ(rest_server_start(&srv, &loop, &c, &test_backend_ops, tb, NULL), SEVMON_EINVAL);
	c = cfg_tcp();
	c.tokens = short_tok;
	ASSERT_EQ(rest_server_start(&srv, &loop, &c, &test_backend_ops, tb, NULL), SEVMON_EINVAL);
	c.tokens = space_tok;
	ASSERT_EQ(rest_server_start(&srv, &loop, &c, &test_backend_ops, tb, NULL), SEVMON_EINVAL);
	c = cfg_tcp();
	c.host = NULL;
	ASSERT_EQ(rest_server_start(&srv, &loop, &c, &test_backend_ops, tb, NULL), SEVMON_EINVAL);
	c = cfg_tcp();
	c.routes = NULL; /* the routing table is the caller's to give */
	ASSERT_EQ(rest_server_start(&srv, &loop, &c, &test_backend_ops, tb, NULL), SEVMON_EINVAL);
	c = cfg_tcp();
	c.ntokens = REST_TOKENS_MAX + 1;
	ASSERT_EQ(rest_server_start(&srv, &loop, &c, &test_backend_ops, tb, NULL), SEVMON_EINVAL);
	struct rest_backend partial = test_backend_ops;
	partial.live_view = NULL;
	c = cfg_tcp();
	ASSERT_EQ(rest_server_start(&srv, &loop, &c, &partial, tb, NULL), SEVMON_EINVAL);
	c.host = "not-an-address";
	ASSERT_EQ(rest_server_start(&srv, &loop, &c, &test_backend_ops, tb, NULL), SEVMON_EINVAL);
	ASSERT(srv == NULL);
	drain_and_close(&loop);
	test_backend_free(tb);
}

TEST(rest_server_start_port_in_use)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct test_backend *tb = test_backend_new(&loop);
	struct rest_server *a = NULL, *b = NULL;
	struct rest_config c = cfg_tcp();
	ASSERT_EQ(rest_server_start(&a, &loop, &c, &test_backend_ops, tb, NULL), 0);
	ASSERT(rest_server_port(a) != 0);
	c.port = rest_server_port(a);
	ASSERT_EQ(rest_server_start(&b, &loop, &c, &test_backend_ops, tb, NULL), SEVMON_ESYS);
	ASSERT(b == NULL);
	int done = 0;
	rest_server_close(a, on_done, &done);
	drain_and_close(&loop);
	ASSERT_EQ(done, 1);
	test_backend_free(tb);
}

TEST(rest_server_close_releases_everything)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct test_backend *tb = test_backend_new(&loop);
	struct metrics *m = metrics_new();
	struct rest_server *srv = NULL;
	struct rest_config c = cfg_tcp();
	char path[64];
	snprintf(path, sizeof path, "/tmp/sevmon-rest-%d.sock", (int)getpid());
	c.unix_path = path;
	ASSERT_EQ(rest_server_start(&srv, &loop, &c, &test_backend_ops, tb, m), 0);
	struct stat st;
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT(S_ISSOCK(st.st_mode));
	ASSERT_EQ(rest_server_connections(srv), 0);
	ASSERT_EQ(rest_server_inflight(srv), 0);
	int done = 0;
	rest_server_close(srv, on_done, &done);
	rest_server_close(srv, on_done, &done); /* a second close is ignored */
	drain_and_close(&loop);
	ASSERT_EQ(done, 1);
	unlink(path);
	metrics_free(m);
	test_backend_free(tb);
}

/* A client on the server's own loop: connect, send, read until the server closes. */
struct client {
	uv_tcp_t tcp;
	uv_connect_t conn;
	uv_write_t wr;
	const char *request;
	char resp[8192];
	size_t len;
	struct rest_server *srv;
	int *done;
};

static void cl_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct client *c = h->data;
	(void)hint;
	*buf = uv_buf_init(c->resp + c->len, (unsigned)(sizeof c->resp - 1 - c->len));
}

static void cl_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct client *c = s->data;
	(void)buf;
	if (n > 0) {
		c->len += (size_t)n;
		c->resp[c->len] = '\0';
		return;
	}
	if (n < 0) {
		uv_close((uv_handle_t *)s, NULL);
		rest_server_close(c->srv, on_done, c->done);
	}
}

static void cl_written(uv_write_t *w, int status)
{
	ASSERT_EQ(status, 0);
	uv_read_start(w->handle, cl_alloc, cl_read);
}

static void cl_connected(uv_connect_t *req, int status)
{
	struct client *c = req->data;
	ASSERT_EQ(status, 0);
	uv_buf_t b = uv_buf_init((char *)c->request, (unsigned)strlen(c->request));
	uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, cl_written);
}

static void one_request(const char *request, char *resp, size_t cap)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct test_backend *tb = test_backend_new(&loop);
	struct rest_server *srv = NULL;
	struct rest_config cfg = cfg_tcp();
	ASSERT_EQ(rest_server_start(&srv, &loop, &cfg, &test_backend_ops, tb, NULL), 0);
	static struct client c;
	memset(&c, 0, sizeof c);
	int done = 0;
	c.request = request;
	c.srv = srv;
	c.done = &done;
	uv_tcp_init(&loop, &c.tcp);
	c.tcp.data = &c;
	c.conn.data = &c;
	struct sockaddr_in sa;
	uv_ip4_addr("127.0.0.1", rest_server_port(srv), &sa);
	ASSERT_EQ(uv_tcp_connect(&c.conn, &c.tcp, (struct sockaddr *)&sa, cl_connected), 0);
	drain_and_close(&loop);
	ASSERT_EQ(done, 1);
	ASSERT_EQ(test_backend_pending(tb), 0);
	test_backend_free(tb);
	snprintf(resp, cap, "%s", c.resp);
}

TEST(rest_server_serves_health_on_the_same_loop)
{
	char resp[8192];
	one_request("GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", resp,
		    sizeof resp);
	ASSERT(strncmp(resp, "HTTP/1.1 200 ", 13) == 0);
	ASSERT(strstr(resp, "\r\n\r\n{\"status\":\"ok\"}") != NULL);
}

TEST(rest_server_async_view_completes_later)
{
	char resp[8192];
	uint64_t t0 = uv_hrtime();
	one_request("GET /v1/targets/vm1/modules HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		    "Authorization: Bearer " TOKEN "\r\n\r\n",
		    resp, sizeof resp);
	ASSERT(strncmp(resp, "HTTP/1.1 200 ", 13) == 0);
	ASSERT(strstr(resp, "\"name\":\"sev_guest\"") != NULL);
	/* The answer waited for the backend's timer. */
	ASSERT((uv_hrtime() - t0) / 1000000 >= TB_LIVE_DELAY_MS);
}

TEST(rest_server_refuses_without_token)
{
	char resp[8192];
	one_request("GET /v1/targets/vm1/modules HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
		    "Authorization: Bearer " TOKEN "x\r\n\r\n",
		    resp, sizeof resp);
	ASSERT(strncmp(resp, "HTTP/1.1 401 ", 13) == 0);
	ASSERT(strstr(resp, "\"code\":\"unauthorized\"") != NULL);
}

TEST_MAIN()
