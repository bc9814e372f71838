/*
 * rpc_client.h — the IDS side of the RPC stack: many requests in flight on one
 * already-connected stream fd, driven by a libuv loop.
 *
 * Layers, bottom up:  fd --read/write--> frames (lib/frame/frame.h) --codec open/seal-->
 * envelopes (lib/rpc/rpc_wire.h) --> requests matched by id.
 * Every fd (unix, TCP, AF_VSOCK) is driven the same way: a uv_poll_t and plain
 * read(2)/sendmsg(2), since libuv has no AF_VSOCK.
 *
 * Threading: a client belongs to one loop and one thread; nothing here is thread-safe.
 *
 * Callbacks (the contract every caller relies on):
 *  - rpc_client_call returns 0 when it accepted the call; the reply callback is then called
 *    exactly once, and never from inside rpc_client_call (errors found there are delivered
 *    from the loop). It returns a negative SEVMON_E* and never calls the callback when it
 *    refused the call (bad arguments, client closing, out of memory).
 *  - status 0: payload/len is the reply; the bytes are valid only during the callback.
 *    status < 0: errmsg is a NUL-terminated text (never NULL; "" when there is none, valid
 *    only during the callback) and payload is NULL. Statuses:
 *      the agent's own error status (e.g. SEVMON_EFAULT) with its message;
 *      SEVMON_ETIMEDOUT   the deadline passed (a CANCEL went to the peer);
 *      SEVMON_ECANCELED   rpc_client_cancel, or rpc_client_close on a live connection;
 *      SEVMON_ECONNRESET  the connection was lost (EOF, I/O error), or was already lost
 *                         when the call was made;
 *      SEVMON_EPROTO      the peer broke the protocol: the connection is closed and every
 *                         pending request fails with it (a codec's own error, e.g.
 *                         SEVMON_EAUTH, is passed on instead);
 *      SEVMON_EBUSY       too many requests in flight, or the write queue is full;
 *      SEVMON_ETOOBIG     the request exceeds max_request, or the reply exceeds max_reply
 *                         or the shared reassembly budget: that request fails, a CANCEL
 *                         goes to the peer, the rest of that reply is dropped, and the
 *                         connection stays up;
 *      SEVMON_ENOMEM      no memory to reassemble that reply (request-only failure).
 *  - A callback may call rpc_client_call, rpc_client_cancel and rpc_client_close on its own
 *    client.
 *
 * Peer behaviour: replies may come in any order and their fragments may interleave. A reply
 * (or fragment) for an id that is not pending — never sent, timed out, cancelled — is dropped
 * and counted in stats.dropped; that is not a violation, since the peer cannot know what we
 * gave up on. Anything malformed (zero-length frame, bad envelope, inconsistent fragments,
 * a CANCEL sent to us, a status above INT32_MAX) closes the connection with
 * SEVMON_EPROTO; the disconnect callback reports it. Other clients are not affected.
 */
#ifndef SEVMON_RPC_CLIENT_H
#define SEVMON_RPC_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/* Requests in flight: enough to keep a VSOCK/TCP pipe full of small Gather reads, and
 * small enough that the per-request state (~100 B each) stays negligible. */
#define RPC_CLIENT_MAX_IN_FLIGHT 1024u
/* Largest reply we reassemble: a big Gather/ReadPhys answer, while one bad reply still
 * cannot pin more than this. */
#define RPC_CLIENT_MAX_REPLY (16u << 20)
/* Sum of all reassemblies in progress: replies announce their whole length up front,
 * so this bounds what a peer can make us allocate across all ids at once. */
#define RPC_CLIENT_MAX_REASM_TOTAL (128u << 20)
/* Largest request payload: requests are small (addresses, ranges); this is generous. */
#define RPC_CLIENT_MAX_REQUEST (16u << 20)
/* Bytes waiting to be written: a slow or stalled peer makes calls fail with EBUSY past
 * this, instead of growing memory. Two maximal requests fit. */
#define RPC_CLIENT_MAX_WRITE_QUEUED (32u << 20)
/* Bytes read (and, separately, written) per loop wake-up: four maximal frames amortise the
 * wake-up, and another connection on the same loop waits at most that long. */
#define RPC_CLIENT_READ_BUDGET (256u << 10)

/* Zero in any field means "the default above". */
struct rpc_client_limits {
	uint32_t max_in_flight;
	size_t max_reply;
	size_t max_reasm_total;
	size_t max_request;
	size_t max_write_queued;
	size_t read_budget;
	/* Largest envelope sent (header + payload fragment), before the codec.
	 * Default FRAME_MAX_BODY; lowered automatically to FRAME_MAX_BODY - codec overhead. */
	size_t max_msg;
};

/*
 * The seam for a channel that transforms each frame body (the Noise transport):
 * seal() on every envelope sent, open() on every frame body received, in stream order.
 * Both write into out[0..cap) (in and out never overlap) and return the bytes written or a
 * negative SEVMON_E*. seal output is at most len + overhead; an open() failure closes the
 * connection with its error. Either pointer may be NULL (identity).
 */
struct rpc_client_codec {
	long (*seal)(void *ctx, const uint8_t *in, size_t len, uint8_t *out, size_t cap);
	long (*open)(void *ctx, const uint8_t *in, size_t len, uint8_t *out, size_t cap);
	void *ctx;
	size_t overhead; /* bytes seal adds, e.g. 16 for the Poly1305 tag */
};

struct rpc_client_stats {
	uint64_t requests;       /* requests written to the peer */
	uint64_t replies;        /* requests completed by a reply (success or agent error) */
	uint64_t timeouts;       /* requests failed with ETIMEDOUT */
	uint64_t cancels;        /* CANCEL envelopes sent (cancel, timeout, reply too big) */
	uint64_t busy;           /* calls failed with EBUSY */
	uint64_t dropped;        /* envelopes for ids not pending (late/unknown), dropped */
	uint64_t bytes_sent;     /* on the fd, frame headers included */
	uint64_t bytes_received; /* on the fd, frame headers included */
	uint32_t in_flight;      /* requests pending now */
	size_t write_queued;     /* bytes waiting to be written now */
};

struct rpc_client;

typedef void (*rpc_reply_cb)(void *user, int status, const char *errmsg, const uint8_t *payload,
			     size_t len);
/* reason: SEVMON_ECONNRESET, SEVMON_EPROTO, a codec error, or SEVMON_ENOMEM. Called once,
 * from the loop, before the pending requests' callbacks (they follow from the loop, or from
 * rpc_client_close if the owner closes here); not called after rpc_client_close. The client
 * stays valid: the owner still calls rpc_client_close. */
typedef void (*rpc_client_disconnect_cb)(void *arg, int reason);

/*
 * Start driving fd (connected, stream, any socket family) on loop. lim may be NULL for the
 * defaults. On success the client owns fd (rpc_client_close closes it); on failure the caller
 * keeps it. Returns 0, SEVMON_EINVAL (bad limits or fd libuv cannot poll), SEVMON_ENOMEM.
 */
int rpc_client_open(uv_loop_t *loop, int fd, const struct rpc_client_limits *lim,
		    struct rpc_client **out);

/* Install the codec (copied). Only before the loop has run for this client (no byte sent or
 * received yet): SEVMON_EINVAL otherwise, or if overhead leaves no room for an envelope. */
int rpc_client_set_codec(struct rpc_client *c, const struct rpc_client_codec *codec);

/* An idle shm client (nothing pending) looks at the region this often, only to notice
 * that the agent went away: 10 wake-ups a second cost nothing, and a lost agent is
 * reported within a tenth of a second. */
#define RPC_CLIENT_SHM_IDLE_MS 100

/* The spin window rpc_client_connect_shm gives its session (sc->opt.spin_ns): the client
 * spins only while requests are pending, and at most this long after the last frame moved;
 * past it, libuv's timers step in whole milliseconds. Measured (tests/bench/shm-bench,
 * 2 busy cores): between host processes 50 us left a 64-byte RPC's p99 at ~4 ms and
 * 1 MiB replies at ~0.5 GB/s, 200 us gave p99 ~3 us; against an agent in a TCG guest,
 * whose replies take a millisecond or more, 200 us made `ps` 4x slower than TCP and 5 ms
 * made it as fast (banner 40% faster). An IDS waiting for a reply has nothing better to
 * do with its core; an idle client (nothing pending) never spins. */
#define RPC_CLIENT_SHM_SPIN_NS 5000000u
#define RPC_CLIENT_SHM_BELL_SPIN_NS 50000u
/* On a doorbell, spin turns past this yield the CPU: the agent may share it. */
#define RPC_CLIENT_SHM_YIELD_AFTER_NS 2000

struct shm_conn;
struct shm_region;
/*
 * Start driving an established shared-memory session (side A, lib/xport/shm.h) instead of an fd:
 * the rings carry the same frame bodies, so everything above (codec, envelopes, limits,
 * callbacks) behaves as over a stream. *sc is copied: the caller must not use its copy
 * afterwards. region (may be NULL) is the mapping sc lives in: copied and owned on success
 * (unmapped when the client is freed); with NULL the caller keeps the mapping alive until
 * closed_cb. On failure the caller keeps both. The end of the session (the agent closed
 * or restarted) is SEVMON_ECONNRESET, a ring violation SEVMON_EPROTO; closing the client
 * ends the session (the agent then waits for a new attach).
 * The region has no fd; the client looks at the rings: every loop turn (uv_idle, i.e. the
 * loop spins) while a frame waits to go out and for sc->opt.spin_ns after the last frame
 * moved while requests are pending; then on a uv_timer with shm_conn_poll_timeout_ms
 * (1, 2, 4 ms) while requests are pending; every RPC_CLIENT_SHM_IDLE_MS when none are.
 * Returns 0, SEVMON_EINVAL (sc not an established side-A session), SEVMON_ENOMEM.
 */
int rpc_client_open_shm(uv_loop_t *loop, struct shm_conn *sc, struct shm_region *region,
			const struct rpc_client_limits *lim, struct rpc_client **out);
/* Map and attach uri (shm:///dev/shm/NAME, shm+pci://BDF) as side A, blocking up to
 * timeout_ms (the agent must be serving it), then rpc_client_open_shm with the region
 * owned and a spin window of RPC_CLIENT_SHM_SPIN_NS. Returns 0 or the errors of
 * shm_conn_open / rpc_client_open_shm. */
/* A shm client's doorbell counters (lib/xport/shm_bell.h): rings sent, wake-ups taken.
 * SEVMON_ENOTSUP for a client without a doorbell. */
int rpc_client_bell_stats(const struct rpc_client *c, uint64_t *rings, uint64_t *wakeups);
int rpc_client_connect_shm(uv_loop_t *loop, const char *uri, int timeout_ms,
			   const struct rpc_client_limits *lim, struct rpc_client **out);

void rpc_client_on_disconnect(struct rpc_client *c, rpc_client_disconnect_cb cb, void *arg);

/*
 * Send a request: payload[0..len) is copied (the caller may reuse it on return).
 * timeout_ms 0 = no deadline; else the envelope carries it as deadline_ms and the request
 * fails locally with ETIMEDOUT once it passes, whatever the peer does.
 * *out_id (may be NULL) gets the request id, never 0; 0 when the call was accepted but is
 * already failing (EBUSY, ETOOBIG, ECONNRESET are then delivered from the loop).
 * Backpressure: EBUSY once max_in_flight requests are pending, or when the request would
 * push the write queue past max_write_queued; an empty queue takes any one request (up to
 * max_request), so a request larger than the queue limit is still sent. CANCELs are queued
 * past the limit (one per request at most).
 */
int rpc_client_call(struct rpc_client *c, uint16_t method, const uint8_t *payload, size_t len,
		    uint32_t timeout_ms, rpc_reply_cb cb, void *user, uint32_t *out_id);

/*
 * Cancel a pending request: its callback is called with SEVMON_ECANCELED before this
 * returns, a CANCEL envelope is queued for the peer, our state for it is freed and a late
 * reply is dropped. Returns 0, or SEVMON_ENOENT if id is not pending (already completed).
 */
int rpc_client_cancel(struct rpc_client *c, uint32_t id);

/*
 * Tear down: every pending request's callback is called before this returns (ECANCELED on
 * a live connection, else the connection's failure status); then the handles are closed
 * (asynchronously, as libuv does), the fd is closed, c is freed, and closed_cb(arg)
 * (may be NULL) runs from the loop. c must not be used after this call. The loop then
 * holds no handle of this client.
 */
void rpc_client_close(struct rpc_client *c, void (*closed_cb)(void *arg), void *arg);

void rpc_client_get_stats(const struct rpc_client *c, struct rpc_client_stats *out);

#endif
