/*
 * rpc_client_int.h — private to the RPC client (rpc_client.c, rpc_client_shm.c): the
 * client structure and its transport vtable. Not part of the contract; see rpc_client.h.
 */
#ifndef SEVMON_RPC_CLIENT_INT_H
#define SEVMON_RPC_CLIENT_INT_H

#include <stdint.h>

#include <uv.h>

#include "frame.h"
#include "rpc_client.h"
#include "rpc_pending.h"
#include "rpc_wqueue.h"
#include "shm.h"

/* iovecs per sendmsg: 64 blocks of 64 KiB is more than a socket buffer takes at once. */
#define RPC_CLIENT_IOV_MAX 64
/* Bytes read per read(2) call: one maximal frame (also one shm body). */
#define RPC_CLIENT_RBUF (64u << 10)

/*
 * How the client moves frames. Everything above (codec seam, envelopes, the pending
 * table, deadlines) is the same for a stream fd and a shared-memory session.
 * - update: ask the loop for what the state needs now (called after every state change);
 * - shutdown: the connection failed: tell the peer now;
 * - close_handles: uv_close the transport's handles with cb (each counted in handles_open);
 * - release: after every handle closed: close the fd / end the session, unmap.
 */
struct rpc_client_io {
	void (*update)(struct rpc_client *c);
	void (*shutdown)(struct rpc_client *c);
	void (*close_handles)(struct rpc_client *c, uv_close_cb cb);
	void (*release)(struct rpc_client *c);
};

/* The shm transport's state (rpc_client_shm.c). */
struct rpc_client_shm {
	struct shm_conn sc;
	struct shm_region region; /* unmapped at release when owned */
	int own_region;
	uv_timer_t pump;   /* next look at the rings while idle (backoff) */
	uv_idle_t spin;    /* active: look at the rings every loop turn */
	uv_poll_t bell;    /* the region's doorbell fd (bell mode: no pump timer at all) */
	int has_bell, bell_on;
	int spinning;
	int64_t active_ns; /* last frame moved, or last call queued: spin window start */
	uint64_t sent_seen; /* requests + cancels at the last update: a new one restarts it */
	uint8_t tx[FRAME_HDR_LEN + FRAME_MAX_BODY]; /* a frame gathered from the write queue */
};

struct rpc_client {
	uv_loop_t *loop;
	const struct rpc_client_io *io;
	int fd;      /* -1 for shm */
	int is_sock; /* sendmsg(MSG_NOSIGNAL) is possible: a dead peer gives EPIPE, not SIGPIPE */
	uv_poll_t poll;
	struct rpc_client_shm *shm; /* NULL for a stream fd */
	uv_timer_t timer;
	uv_idle_t idle;
	int poll_events; /* events currently asked of the poll handle */
	int handles_open;
	struct rpc_client_limits lim;
	struct rpc_client_codec codec;
	uint8_t *seal_buf, *open_buf; /* FRAME_MAX_BODY each, only with a codec */
	int io_started;  /* a byte was queued or received: too late for a codec */
	int dead;        /* 0, or why the connection failed */
	int closing;
	int disconnect_pending;
	rpc_client_disconnect_cb on_disc;
	void *on_disc_arg;
	void (*closed_cb)(void *);
	void *closed_arg;
	struct rpc_pend pend;
	struct rpc_req *done_head, *done_tail; /* deferred completions, in order */
	struct rpc_wq wq;
	size_t reasm_bytes;
	uint64_t timer_due; /* deadline the timer is armed for; 0 = not armed */
	struct rpc_client_stats st;
	struct frame_reader fr;
	uint8_t rbuf[RPC_CLIENT_RBUF];
	uint8_t msgbuf[FRAME_MAX_BODY]; /* the envelope being built for sending */
};

/* rpc_client.c */
/* A client with limits, timer and idle handles, no transport yet (io and its handles are
 * the caller's to set). 0, SEVMON_EINVAL, SEVMON_ENOMEM. */
int rpc_client_new(uv_loop_t *loop, const struct rpc_client_limits *lim, struct rpc_client **out);
/* Undo rpc_client_new before any transport was attached (frees from the loop). */
void rpc_client_discard(struct rpc_client *c);
/* The connection is unusable: fail everything pending with reason (see rpc_client.c). */
void rpc_client_conn_fail(struct rpc_client *c, int reason);
/* One received frame body: codec open, envelope, delivery. Negative: close with it. */
int rpc_client_on_frame(struct rpc_client *c, const uint8_t *body, size_t len);

#endif
