/*
 * xport_msg.h — a blocking message pipe over any connected transport: frame bodies
 * (1..FRAME_MAX_BODY bytes) in and out, with a deadline. For what runs before the event
 * loops take a connection over — a Noise handshake written once for every transport:
 *   - a stream fd (unix, TCP, vsock): u16 BE length || body (lib/frame/frame.h); a receive reads
 *     exactly one frame (header, then body), never a byte of the next, so the RPC client
 *     or agent loop that takes the fd afterwards starts at a frame boundary;
 *   - a shm session (lib/xport/shm.h): one ring record per body.
 * The pipe does not own the fd or the session.
 */
#ifndef SEVMON_XPORT_MSG_H
#define SEVMON_XPORT_MSG_H

#include <stddef.h>
#include <stdint.h>

struct shm_conn;

struct xport_msg {
	int fd;               /* stream fd, or -1 */
	struct shm_conn *shm; /* established session, or NULL */
};

static inline struct xport_msg xport_msg_fd(int fd) { return (struct xport_msg){ fd, 0 }; }
static inline struct xport_msg xport_msg_shm(struct shm_conn *s) { return (struct xport_msg){ -1, s }; }

/* Send one body. 0, SEVMON_EINVAL / ETOOBIG (bad length), SEVMON_ETIMEDOUT at deadline_ns
 * (CLOCK_MONOTONIC ns, see shm_deadline_after_ms), SEVMON_ECONNRESET, SEVMON_EPROTO (shm). */
int xport_msg_send(struct xport_msg *m, const uint8_t *body, size_t len, int64_t deadline_ns);
/* Receive one body into buf (cap >= FRAME_MAX_BODY): its length (> 0), SEVMON_ETIMEDOUT,
 * SEVMON_ECONNRESET (EOF: a partial frame too), SEVMON_EPROTO (zero-length frame, shm
 * violation), SEVMON_EINVAL (cap too small). */
int xport_msg_recv(struct xport_msg *m, uint8_t *buf, size_t cap, int64_t deadline_ns);

#endif
