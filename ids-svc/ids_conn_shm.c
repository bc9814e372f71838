/*
 * ids_conn_shm.c — ids_conn over shared memory: the loop and c->rpc as ids_conn_open
 * sets them up, the client on rpc_client_connect_shm.
 */
#include "ids_conn_shm.h"

#include <stdio.h>
#include <string.h>

#include "err.h"

static void on_shm_disconnect(void *arg, int reason)
{
	struct ids_conn *c = arg;
	c->lost = reason ? reason : SEVMON_ECONNRESET;
}

int ids_conn_open_shm(struct ids_conn *c, const char *uri, int timeout_ms)
{
	int rc;

	memset(c, 0, sizeof *c);
	snprintf(c->uri, sizeof c->uri, "%s", uri);
	if (uv_loop_init(&c->loop) != 0)
		return SEVMON_ESYS;
	rc = rpc_client_connect_shm(&c->loop, uri, timeout_ms > 0 ? timeout_ms : IDS_CONNECT_TIMEOUT_MS,
				    NULL, &c->rpc);
	if (rc < 0) {
		uv_loop_close(&c->loop);
		return rc;
	}
	rpc_client_on_disconnect(c->rpc, on_shm_disconnect, c);
	return 0;
}
