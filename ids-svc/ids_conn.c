#include "ids_conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include "err.h"
#include "xport.h"

static void on_disconnect(void *arg, int reason)
{
	struct ids_conn *c = arg;
	c->lost = reason ? reason : SEVMON_ECONNRESET;
}

static int connect_fd(const char *uri, int timeout_ms, int *fd)
{
	if (strncmp(uri, "fd://", 5) == 0) {
		char *end;
		errno = 0;
		long n = strtol(uri + 5, &end, 10);
		if (errno || end == uri + 5 || *end || n < 0 || n > 65535)
			return SEVMON_EURI;
		if (fcntl((int)n, F_GETFD) < 0)
			return SEVMON_ENOENT;
		int fl = fcntl((int)n, F_GETFL);
		if (fl < 0 || fcntl((int)n, F_SETFL, fl | O_NONBLOCK) < 0)
			return SEVMON_ESYS;
		*fd = (int)n;
		return 0;
	}
	struct xport_addr addr, resolved;
	int rc = xport_parse(uri, &addr);
	if (rc < 0)
		return rc;
	rc = xport_resolve(&addr, &resolved);
	if (rc < 0)
		return rc;
	return xport_connect(&resolved, timeout_ms, fd, NULL);
}

static long codec_seal(void *ctx, const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	return session_seal(ctx, in, len, out, cap);
}

static long codec_open(void *ctx, const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	return session_open(ctx, in, len, out, cap);
}

static void free_session(struct ids_conn *c)
{
	if (c->session) {
		session_wipe(c->session);
		free(c->session);
		c->session = NULL;
	}
}

int ids_conn_open(struct ids_conn *c, const char *uri, int timeout_ms, struct ids_policy *pol)
{
	int fd = -1, rc;
	char why[SESSION_WHY_MAX + 32] = "";

	memset(c, 0, sizeof *c);
	snprintf(c->uri, sizeof c->uri, "%s", uri);
	if (timeout_ms <= 0)
		timeout_ms = IDS_CONNECT_TIMEOUT_MS;
	rc = connect_fd(uri, timeout_ms, &fd);
	if (rc < 0) {
		snprintf(c->why, sizeof c->why, "connect: %s", sevmon_strerror(rc));
		return rc;
	}
	c->session = malloc(sizeof *c->session);
	if (!c->session) {
		close(fd);
		return SEVMON_ENOMEM;
	}
	rc = ids_session_handshake(fd, c->session, pol, timeout_ms, why, sizeof why);
	if (rc < 0) {
		snprintf(c->why, sizeof c->why, "%s", why);
		free_session(c);
		close(fd);
		return rc;
	}
	if (uv_loop_init(&c->loop) != 0) {
		free_session(c);
		close(fd);
		return SEVMON_ESYS;
	}
	rc = rpc_client_open(&c->loop, fd, NULL, &c->rpc);
	if (rc == 0) {
		struct rpc_client_codec codec = {
			.seal = codec_seal, .open = codec_open, .ctx = c->session,
			.overhead = NOISE_TAG_LEN,
		};
		rc = rpc_client_set_codec(c->rpc, &codec);
		if (rc < 0) {
			rpc_client_close(c->rpc, NULL, NULL);
			c->rpc = NULL;
			uv_run(&c->loop, UV_RUN_DEFAULT);
			uv_loop_close(&c->loop);
			free_session(c);
			return rc;
		}
	}
	if (rc < 0) {
		close(fd);
		uv_loop_close(&c->loop);
		free_session(c);
		return rc;
	}
	rpc_client_on_disconnect(c->rpc, on_disconnect, c);
	return 0;
}

int ids_conn_wait(struct ids_conn *c, const int *done)
{
	while (!*done && !c->lost)
		uv_run(&c->loop, UV_RUN_ONCE);
	if (*done)
		return 0;
	/* Let the failed requests' callbacks run (they are delivered from the loop). */
	for (int i = 0; i < 4 && !*done; i++)
		uv_run(&c->loop, UV_RUN_NOWAIT);
	return c->lost;
}

void ids_conn_close(struct ids_conn *c)
{
	if (c->rpc) {
		rpc_client_close(c->rpc, NULL, NULL);
		c->rpc = NULL;
		uv_run(&c->loop, UV_RUN_DEFAULT);
		uv_loop_close(&c->loop);
	}
	free_session(c);
}
