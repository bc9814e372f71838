/*
 * ids_conn.h — one IDS connection to one agent, for command-line tools.
 *
 * Owns a private libuv loop, the transport fd and the RPC client on it. Calls made on
 * c->rpc (the generated sevmon_agent_* stubs) complete while ids_conn_wait runs the
 * loop. Not for sevmond, which keeps many connections on one shared loop.
 */
#ifndef SEVMON_IDS_CONN_H
#define SEVMON_IDS_CONN_H

#include <uv.h>

#include "ids_session.h"
#include "rpc_client.h"

/* The connect + channel deadline when the caller gives none (timeout_ms <= 0). */
#define IDS_CONNECT_TIMEOUT_MS 10000
/* Each request's deadline on a new connection until its owner sets another: a request
 * may read tens of MiB (a profile's BTF) through a slow guest. */
#define IDS_REQUEST_TIMEOUT_MS 30000u

struct ids_conn {
	uv_loop_t loop;
	struct rpc_client *rpc;
	int lost;       /* connection failure status once the peer went away, else 0 */
	char uri[512];
	struct session *session; /* the channel, READY; its transport is the RPC codec */
	uint32_t request_timeout_ms; /* deadline of each request made through this connection
				      * (ids_gmem, GetInfo): IDS_REQUEST_TIMEOUT_MS at open */
	char why[SESSION_WHY_MAX + 64]; /* why ids_conn_open failed, one line */
};

/*
 * Connect to uri ("unix://", "tcp://", "vsock://", "vsock-hybrid://", or "fd://N" for an
 * already-connected socket inherited from the parent) within timeout_ms. Host names in tcp
 * URIs are resolved here. Then the channel: Noise handshake and evidence exchange under
 * pol (ids_session.h), within the same timeout; the RPC client starts only once the
 * agent's evidence verified. Returns 0 or a negative SEVMON_E* with c->why set; on
 * failure nothing is left open. pol must outlive the connection.
 */
int ids_conn_open(struct ids_conn *c, const char *uri, int timeout_ms, struct ids_policy *pol);

/* Run the loop until *done becomes non-zero or the connection is lost (then returns
 * c->lost, after the pending callbacks ran). Returns 0 when *done was set. */
int ids_conn_wait(struct ids_conn *c, const int *done);

/* Close the client and the loop; every pending callback has run when this returns. */
void ids_conn_close(struct ids_conn *c);

#endif
