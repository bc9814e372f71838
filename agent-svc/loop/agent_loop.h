/*
 * agent_loop.h — the serving core of sevmon-agent: one thread, one poll(2) loop.
 *
 * Path of a request on one connection:
 *   bytes --read--> frame_reader --body--> channel.open (Noise seam; identity by default)
 *         --message--> rpc envelope --fragments--> rpc_reasm --complete--> FIFO of requests
 *         --in arrival order--> dispatch --reply--> rpc_frag --messages--> channel.seal
 *         --frames--> write queue --write--> peer
 *
 * Promises:
 * - Requests of one connection are dispatched in arrival order (order of their last
 *   fragment), one at a time; replies go out in that order. Connections are served
 *   round-robin with a per-wakeup read budget and dispatch budget, so one client cannot
 *   starve the others.
 * - CANCEL for a request still partial or queued drops it silently (no reply). CANCEL for
 *   an id not held (unknown, or already dispatched) is ignored.
 * - A request whose deadline (deadline_ms after the arrival of its first fragment) has
 *   passed when its turn comes is answered with SEVMON_ETIMEDOUT, the handler not run.
 * - Everything a peer can make the agent hold is bounded (see struct agent_loop_config):
 *   connections, partial requests and their bytes, queued requests and their bytes, bytes
 *   queued for writing. When a connection's queues are full the loop stops reading from
 *   it (backpressure) until they drain; it never buffers without bound.
 * - A protocol violation (zero-length frame, bad envelope, inconsistent fragments,
 *   request over max_request, an ERROR/status-carrying request, too many partial
 *   requests, truncated frame at EOF, duplicate id in flight) closes that connection only,
 *   with a log line; pending replies to it are dropped. The loop keeps serving the others.
 * - When the peer half-closes (EOF between frames, nothing partial), the requests already
 *   received are still answered and flushed, then the connection is closed.
 * - Connections that have not authenticated yet (in a channel's handshake: see
 *   agent_conn_set_authenticated) hold at most max_unauth slots, at most
 *   max_unauth_per_source of them from one source (the peer address without its port).
 *   A new connection over either bound is still accepted: the one evicted for it is the
 *   unauthenticated connection (of that source, for the per-source bound) that has
 *   received the fewest frames, the oldest of those. So connections that send nothing
 *   cannot crowd out an IDS, whose first frame comes at once, and a flood from one address
 *   cannot evict the handshakes of others. Authenticated connections are never evicted:
 *   over max_conns with no unauthenticated one to evict, the new connection is accepted
 *   and closed at once with a log line (EOF at once, not a hang in the listen backlog).
 * - Library code never prints: everything goes through the optional log callback.
 * - Worst-case memory per connection with the defaults: ~80 KiB fixed (frame reader, read
 *   chunk) + partial requests 8 x 256 KiB + queued requests ~1.25 MiB + write queue
 *   256 KiB + one framed reply (~4.2 MiB); plus one shared AGENT_MAX_REPLY buffer. Before a
 *   channel lets messages through (handshake), only the fixed part and handshake frames.
 */
#ifndef SEVMON_AGENT_LOOP_H
#define SEVMON_AGENT_LOOP_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "rbuf.h"

/* The biggest request payload accepted. Requests are small (address lists, WalkList
 * specs); 256 KiB fits a Gather of ~16k ranges and keeps a hostile peer's allocation
 * per partial request small. */
#define AGENT_MAX_REQUEST (256u * 1024u)
/* The reply buffer: 4 MiB of memory data (the per-request read cap) plus 64 KiB for the
 * protobuf encoding around it. Allocated once per loop, shared by all connections. */
#define AGENT_MAX_REPLY (4u * 1024u * 1024u + 64u * 1024u)
/* Connections served at once: the IDS normally holds one or two; a few more allow a
 * reconnect while an old connection times out, without letting a flood exhaust memory. */
#define AGENT_MAX_CONNS 16u
/* Requests partially reassembled at once per connection: each holds up to
 * AGENT_MAX_REQUEST, so this caps a peer's partial memory at 2 MiB per connection. */
#define AGENT_MAX_PARTIAL 8u
/* Complete requests queued per connection, and their payload bytes: enough to keep the
 * agent busy between wakeups (pipelining), little enough to bound memory. Reading from the
 * connection pauses when either is reached. */
#define AGENT_MAX_QUEUED 128u
#define AGENT_MAX_QUEUED_BYTES (1024u * 1024u)
/* Bytes queued for writing above which no more requests of that connection are dispatched
 * (and so nothing more is read). One reply can overshoot it by at most AGENT_MAX_REPLY
 * plus framing, so the write queue never exceeds max_wqueue + max_reply + overhead. */
#define AGENT_MAX_WQUEUE (256u * 1024u)
/* Bytes read from one connection per wakeup before serving the others. */
#define AGENT_READ_BUDGET (64u * 1024u)
/* Requests dispatched for one connection per wakeup before serving the others. */
#define AGENT_DISPATCH_BUDGET 16u
/* A connection with no byte received or sent for this long is closed: covers clients that
 * connect and send nothing (or stall a handshake) and clients that never read. Generous,
 * because the IDS may keep an idle session between scans. */
#define AGENT_IDLE_TIMEOUT_MS (10u * 60u * 1000u)
/* Slots for connections that have not authenticated yet (a channel's handshake: three
 * messages and a report), and per source address. Well under AGENT_MAX_CONNS so that
 * established sessions keep theirs; several per source so that an IDS that reconnects, or
 * a few behind one NAT, are not evicting each other. */
#define AGENT_MAX_UNAUTH 8u
#define AGENT_MAX_UNAUTH_PER_SOURCE 4u
/* Listening fds one loop serves (vsock + unix + tcp is three). */
#define AGENT_MAX_LISTENERS 8u
/* Shared-memory regions one loop serves: one ivshmem device per IDS, a few at most. */
#define AGENT_MAX_SHM 4u
/* While a shm region waits for its peer, the agent checks for an attach with a backoff up
 * to this: ~100 wake-ups a second when idle (measured ~0% CPU), and a CLI command, which
 * attaches afresh each time, waits at most this long for it (5 ms on average). */
#define AGENT_SHM_ATTACH_POLL_MS 10

struct agent_loop;
struct agent_conn;

struct agent_request {
	uint32_t id;
	uint16_t method;
	uint32_t deadline_ms; /* 0 = none */
	const uint8_t *payload; /* valid during the dispatch call only */
	size_t len;
	uint64_t received_ns; /* CLOCK_MONOTONIC, arrival of the first fragment */
	void *session;        /* the connection's session pointer (see agent_conn_hooks) */
	struct agent_conn *conn;
};

/*
 * Writes the encoded reply into out (capacity = the loop's max_reply; out->len is 0 on
 * entry) and returns 0, or returns a negative SEVMON_E* which is sent back as an error
 * envelope with that status and a message: errmsg (errcap bytes, pre-set to "") if the
 * handler wrote one, else sevmon_strerror(). Unknown methods must return
 * SEVMON_EUNMETHOD. A positive return is treated as SEVMON_EINTERNAL.
 */
typedef int (*agent_dispatch_fn)(void *ctx, const struct agent_request *req, struct wbuf *out,
				 char *errmsg, size_t errcap);

enum agent_log_level { AGENT_LOG_DEBUG, AGENT_LOG_INFO, AGENT_LOG_WARN };
/* msg is one line without newline, valid during the call only. */
typedef void (*agent_log_fn)(void *ctx, enum agent_log_level level, const char *msg);

/*
 * The seam for a secure channel between frames and envelopes (Noise). With both
 * functions NULL, frame bodies are the messages themselves.
 * - open: one received frame body in[0..n) → plaintext out (cap bytes); returns its
 *   length (> 0), 0 if the channel consumed the frame itself (a handshake message: it may
 *   answer with agent_conn_send_raw), or a negative SEVMON_E* which closes the connection.
 * - seal: one plaintext message → frame body out (cap = FRAME_MAX_BODY); returns the
 *   length (1..cap) or a negative SEVMON_E* which closes the connection.
 * - max_msg: largest plaintext message (RPC fragments are cut to it); 0 means
 *   FRAME_MAX_BODY. With Noise: FRAME_MAX_BODY - 16.
 */
struct agent_channel {
	long (*open)(void *ctx, const uint8_t *in, size_t n, uint8_t *out, size_t cap);
	long (*seal)(void *ctx, const uint8_t *in, size_t n, uint8_t *out, size_t cap);
	void *ctx;
	size_t max_msg;
};

/*
 * Per-connection hooks (all optional). open is called once a connection is accepted or
 * adopted, before any byte is read: it may set *session (shown to dispatch) and fill *ch;
 * a negative return refuses the connection (closed at once, logged). close is called
 * exactly once for every connection open accepted, before its fd is closed: free the
 * session and channel state there.
 */
struct agent_conn_hooks {
	int (*open)(void *ctx, struct agent_conn *c, void **session, struct agent_channel *ch);
	void (*close)(void *ctx, struct agent_conn *c, void *session);
	void *ctx;
};

/* Zero in any numeric field means "the default" (the AGENT_* constant above). */
struct agent_loop_config {
	const int *listen_fds; /* already listening, non-blocking; owned by the caller */
	size_t nlisten;        /* <= AGENT_MAX_LISTENERS */
	int stop_fd;           /* optional (e.g. a signalfd): readable → stop; -1 for none.
				  Set it to -1 explicitly; 0 is a valid fd. Not read by the loop. */
	agent_dispatch_fn dispatch;
	void *dispatch_ctx;
	agent_log_fn log; /* NULL: no logging */
	void *log_ctx;
	struct agent_conn_hooks hooks;
	unsigned max_conns;
	size_t max_request;
	size_t max_reply;
	unsigned max_partial;
	unsigned max_queued;
	size_t max_queued_bytes;
	size_t max_wqueue;
	size_t read_budget;
	unsigned dispatch_budget;
	uint32_t idle_timeout_ms; /* UINT32_MAX: never */
	unsigned max_unauth;            /* capped at max_conns */
	unsigned max_unauth_per_source; /* capped at max_unauth */
};

/* Fills cfg with the defaults: no listeners, stop_fd -1, every limit its AGENT_* value. */
void agent_loop_config_init(struct agent_loop_config *cfg);

/* Creates a loop (copies cfg). SEVMON_EINVAL on a bad config (no dispatch, too many
 * listeners), SEVMON_ENOMEM / SEVMON_ESYS on resource failure. */
int agent_loop_new(struct agent_loop **out, const struct agent_loop_config *cfg);

/*
 * Serves until stopped. Returns 0 after agent_loop_stop() or stop_fd became readable,
 * having closed every connection; a negative SEVMON_E* if poll itself fails. May be
 * called again after it returned.
 */
int agent_loop_run(struct agent_loop *l);

/* Async-signal-safe and thread-safe: makes agent_loop_run return (self-pipe). */
void agent_loop_stop(struct agent_loop *l);

/* Adopts an already-connected fd (made non-blocking here); the loop owns it from now on,
 * also on failure. peer is a label for the logs (copied; NULL: derived from the socket).
 * SEVMON_EBUSY at max_conns (fd closed), SEVMON_EDENIED if hooks.open refused. */
int agent_loop_adopt(struct agent_loop *l, int fd, const char *peer);

/*
 * Serves a shared-memory region (lib/xport/shm.h URIs: shm:///dev/shm/NAME?size=N on a host,
 * shm+pci://BDF in a guest) as side B: maps it (creating a shm:// file), formats it when
 * its header is not valid, and waits for side A to attach; each session is one connection
 * (hooks.open/close run per session, peer label "shm:URI"). When a session ends — the peer
 * closed or restarted (ECONNRESET), broke the ring protocol (EPROTO), or any close of the
 * connection — the agent re-attaches and waits for a fresh session; the region stays
 * mapped until agent_loop_free. The region has no fd: while a session is up the loop's
 * poll timeout is 0 while it is busy and for the spin window of the region's options
 * (spin_ns) after the last frame moved, then a sleep doubling from 20 us to the region's
 * loop cap (loop_max_ms, 4 ms); while waiting for a peer it backs off to
 * AGENT_SHM_ATTACH_POLL_MS. Call before or between agent_loop_run.
 * Returns 0, SEVMON_EBUSY (AGENT_MAX_SHM regions already), SEVMON_ENOMEM, or the errors
 * of shm_uri_parse / shm_region_map_uri / shm_conn_attach_start.
 */
int agent_loop_listen_shm(struct agent_loop *l, const char *uri);
/* "shm+pci://auto[?...]" for agent_loop_listen_shm means the device this finds: the
 * first (lowest address) ivshmem device (PCI 1af4:1110) in /sys/bus/pci/devices, which
 * it enables. Writes its address ("0000:00:04.0") to bdf. 0, SEVMON_ENOENT (none),
 * SEVMON_ETOOBIG (cap too small). */
int agent_shm_find_ivshmem(char *bdf, size_t cap);

/* Closes every connection (hooks.close for each) and frees the loop. The listening fds and
 * stop_fd are the caller's and stay open. NULL is a no-op. */
void agent_loop_free(struct agent_loop *l);

struct agent_loop_stats {
	unsigned conns;          /* open now */
	uint64_t accepted;       /* connections served since creation */
	uint64_t refused;        /* closed at once: over max_conns, or refused by hooks.open */
	uint64_t evicted;        /* unauthenticated, closed to make room for a newer one */
	uint64_t protocol_errors;
	uint64_t requests;       /* dispatched (handler run) */
	uint64_t rejected;       /* answered with an error envelope */
	uint64_t canceled;
	size_t wqueue_peak;      /* largest write queue of any connection, in bytes */
	size_t inbound_peak;     /* largest partial + queued request bytes of any connection */
};
/* Not thread-safe: call from the loop's thread or when the loop is not running. */
void agent_loop_get_stats(const struct agent_loop *l, struct agent_loop_stats *st);

/* --- for hooks, channels and handlers, from the loop's thread only --- */

/* Label of the peer ("unix:/path", "tcp:1.2.3.4:5", "vsock:3:1234", ...). */
const char *agent_conn_peer(const struct agent_conn *c);
/* Loop-unique number of the connection (as in the log lines). */
uint64_t agent_conn_id(const struct agent_conn *c);
/* Queues msg (1..FRAME_MAX_BODY bytes) as one frame as is, bypassing seal: for handshake
 * messages. SEVMON_EINVAL / SEVMON_ETOOBIG on a bad length. Neither send call checks
 * max_wqueue: a caller that streams (a future Dump) must bound what it queues itself. */
int agent_conn_send_raw(struct agent_conn *c, const uint8_t *msg, size_t n);
/* Queues one plaintext message (1..max_msg bytes) through seal, e.g. the evidence. */
int agent_conn_send_message(struct agent_conn *c, const uint8_t *msg, size_t n);
/* Sets this connection's idle timeout (UINT32_MAX: never; 0: back to the loop's). For a
 * channel: a short one from hooks.open until the handshake completes, so that connections
 * that never authenticate cannot hold the max_conns slots for the generous default. */
void agent_conn_set_timeout(struct agent_conn *c, uint32_t ms);
/* Closes the connection after the current call returns (logged with reason, a static
 * string). Its queued requests are dropped, unsent bytes discarded. */
void agent_conn_close(struct agent_conn *c, const char *reason);
/* The peer has proved who it is (a channel's handshake completed): from now on the
 * connection is not counted in max_unauth and is never evicted. A connection whose
 * hooks.open installs no channel (ch.open NULL) is authenticated from the start. */
void agent_conn_set_authenticated(struct agent_conn *c);

#endif
