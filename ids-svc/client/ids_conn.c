#include "ids_conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include "err.h"
#include "shm.h"
#include "xport.h"
#include "xport_msg.h"

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


/* The transport before the RPC client takes it: a stream fd or a shared-memory session. */
struct pre_transport {
	int fd;
	int shm;
	struct shm_conn sc;
	struct shm_region region;
};

static void pre_transport_close(struct pre_transport *t)
{
	if (t->shm) {
		shm_conn_close(&t->sc);
		shm_region_unmap(&t->region);
	} else if (t->fd >= 0) {
		close(t->fd);
	}
}

int ids_conn_open(struct ids_conn *c, const char *uri, int timeout_ms, struct ids_policy *pol)
{
	struct pre_transport t = { .fd = -1, .shm = shm_uri_is(uri) };
	struct xport_msg m;
	char why[SESSION_WHY_MAX + 32] = "";
	int rc;

	memset(c, 0, sizeof *c);
	snprintf(c->uri, sizeof c->uri, "%s", uri);
	c->request_timeout_ms = IDS_REQUEST_TIMEOUT_MS;
	if (timeout_ms <= 0)
		timeout_ms = IDS_CONNECT_TIMEOUT_MS;
	if (t.shm) {
		rc = shm_conn_open(&t.sc, &t.region, uri, SHM_SIDE_A, shm_deadline_after_ms(timeout_ms));
		if (rc < 0) {
			snprintf(c->why, sizeof c->why, "attach: %s", sevmon_strerror(rc));
			return rc;
		}
		struct shm_uri su;
		if (shm_uri_parse(uri, &su) == 0 && su.spin_us)
			t.sc.opt.spin_ns = su.spin_us * 1000u; /* the operator's choice */
		else
			t.sc.opt.spin_ns = t.sc.bell ? RPC_CLIENT_SHM_BELL_SPIN_NS : RPC_CLIENT_SHM_SPIN_NS;
		m = xport_msg_shm(&t.sc);
	} else {
		rc = connect_fd(uri, timeout_ms, &t.fd);
		if (rc < 0) {
			snprintf(c->why, sizeof c->why, "connect: %s", sevmon_strerror(rc));
			return rc;
		}
		m = xport_msg_fd(t.fd);
	}
	c->session = malloc(sizeof *c->session);
	if (!c->session) {
		pre_transport_close(&t);
		return SEVMON_ENOMEM;
	}
	/* The same handshake and evidence exchange on every transport: no RPC before the
	 * agent's evidence verified. */
	rc = ids_session_handshake_msg(&m, c->session, pol, timeout_ms, why, sizeof why);
	if (rc < 0) {
		snprintf(c->why, sizeof c->why, "%s", why);
		free_session(c);
		pre_transport_close(&t);
		return rc;
	}
	if (uv_loop_init(&c->loop) != 0) {
		free_session(c);
		pre_transport_close(&t);
		return SEVMON_ESYS;
	}
	rc = t.shm ? rpc_client_open_shm(&c->loop, &t.sc, &t.region, NULL, &c->rpc)
		   : rpc_client_open(&c->loop, t.fd, NULL, &c->rpc);
	if (rc < 0) {
		pre_transport_close(&t);
		uv_loop_close(&c->loop);
		free_session(c);
		return rc;
	}
	/* From here the client owns the transport. */
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
