/*
 * ivshmem.h — QEMU's ivshmem server protocol, both ends: the server (one shared-memory
 * object, an eventfd per peer and vector) and a peer that is not QEMU (the IDS, or an agent
 * outside the guest), so host processes and ivshmem-doorbell guests ring each other.
 *
 * The protocol (QEMU docs/specs/ivshmem-spec, "The ivshmem Client-Server Protocol"):
 * a Unix stream socket; the connection is one-way, server to peer. Every message is one
 * 8-byte little-endian signed number, with at most one file descriptor (SCM_RIGHTS).
 * On connect the server sends, in order:
 *   1. the protocol version, 0 (IVSHMEM_PROTO_VERSION)                    no fd
 *   2. the peer's own id, 0..65535                                        no fd
 *   3. -1                                                                 the shm fd
 *   4. for every other peer P already connected: P's id, N times          one eventfd
 *      each, to interrupt P on vector 0..N-1 in order
 *   5. the peer's own id, N times                                         one eventfd
 *      each, to wait on for interrupts on vector 0..N-1
 * and from then on, for another peer P:
 *   6. P's id with an eventfd: P connected (N of them, vector order);
 *      P's id without an fd:  P disconnected.
 * To interrupt a peer on a vector, write the 8-byte integer 1 to that eventfd; an
 * ivshmem-doorbell guest gets it as MSI-X vector v. A guest rings a peer by writing
 * (peer id << 16 | vector) to its BAR0 doorbell register (offset 12); its own id is in
 * IVPosition (offset 8).
 *
 * Server rules here: a peer must never send anything; one that does (or whose socket
 * cannot take a message: it is not reading) is dropped and the others are told it left.
 * At most max_peers at once (more are closed at accept). Ids count up and wrap at 65536,
 * skipping ids in use, so a departed peer's id is not handed out again at once.
 *
 * Peer rules here: everything from the server is checked (version, id range, the fd of
 * step 3, at most one fd per message, a bounded peer table) and a violation is EPROTO for
 * that peer connection only. Extra fds are closed, never leaked.
 */
#ifndef SEVMON_IVSHMEM_H
#define SEVMON_IVSHMEM_H

#include <stddef.h>
#include <stdint.h>

#define IVSHMEM_PROTO_VERSION 0
/* The doorbell register has 16 bits for the peer id. */
#define IVSHMEM_ID_MAX 65535u
/* Vectors per peer: the doorbell register has 16 bits, QEMU's own server caps at 64; one
 * is all sevmon uses (a region has one reader per direction). */
#define IVSHMEM_MAX_VECTORS 64u
/* Peers per server: one guest and a few IDS processes per region in practice; the cap
 * bounds the fds each connect fans out (peers x vectors). */
#define IVSHMEM_MAX_PEERS 64u
#define IVSHMEM_DEFAULT_PEERS 16u

/* BAR0 registers of the ivshmem PCI device. */
enum {
	IVSHMEM_REG_INTR_MASK = 0,
	IVSHMEM_REG_INTR_STATUS = 4,
	IVSHMEM_REG_IVPOSITION = 8,
	IVSHMEM_REG_DOORBELL = 12,
};

/* ---- server ---- */

struct ivshmem_server_cfg {
	const char *socket_path; /* unix socket to listen on (created; a stale one is replaced) */
	int shm_fd;              /* the shared-memory object handed to every peer (not owned) */
	unsigned vectors;        /* eventfds per peer, 1..IVSHMEM_MAX_VECTORS */
	unsigned max_peers;      /* 1..IVSHMEM_MAX_PEERS */
};

struct ivshmem_server_stats {
	uint64_t accepted, refused, dropped; /* dropped: peers that broke the rules */
	unsigned peers;                      /* connected now */
};

struct ivshmem_server;

/* Listen on cfg->socket_path. Returns 0, SEVMON_EINVAL (bad cfg), SEVMON_EEXIST (a live
 * server already listens there), SEVMON_ENOMEM, SEVMON_ESYS. */
int ivshmem_server_new(const struct ivshmem_server_cfg *cfg, struct ivshmem_server **out);
/* Serve until stop_fd becomes readable (or errors). Returns 0, or SEVMON_ESYS for a
 * failing poll. Single-threaded; a peer's misbehaviour costs only that peer. */
int ivshmem_server_run(struct ivshmem_server *s, int stop_fd);
/* One step: wait up to timeout_ms (-1: no limit) for the listener, a peer or stop_fd
 * (-1: none), handle what is ready. Returns 0, 1 when stop_fd is readable, SEVMON_ESYS. */
int ivshmem_server_step(struct ivshmem_server *s, int stop_fd, int timeout_ms);
void ivshmem_server_get_stats(const struct ivshmem_server *s, struct ivshmem_server_stats *st);
/* Close every peer and the listener, unlink the socket path. NULL is a no-op. */
void ivshmem_server_free(struct ivshmem_server *s);

/* ---- peer ---- */

struct ivshmem_peer_entry {
	uint16_t id;
	uint8_t nvec;
	int fd[IVSHMEM_MAX_VECTORS]; /* eventfds to interrupt this peer, vector order */
};

struct ivshmem_peer {
	int sock;      /* to the server; -1 once it closed (the table is then frozen) */
	int64_t id;    /* own id; -1 until step 2 */
	int shm_fd;    /* -1 until step 3 (or once the caller took it) */
	int version_seen, shm_seen;
	unsigned nown;
	int own[IVSHMEM_MAX_VECTORS]; /* own eventfds: readable when rung */
	unsigned npeers;
	struct ivshmem_peer_entry peers[IVSHMEM_MAX_PEERS];
	uint8_t buf[8]; /* a message being read */
	size_t have;
	int pend_fd;    /* the fd that came with the message being read */
	int err;        /* latched protocol error */
};

/*
 * Connect to the server at socket_path and read up to the end of step 5 for vector 0
 * (own id, shm fd and own eventfd known), waiting at most until deadline_ns (monotonic).
 * Returns 0, SEVMON_ENOENT / ECONNREFUSED (no server), ETIMEDOUT, EPROTO (a server not
 * speaking this protocol), ENOMEM, ESYS. On failure everything is closed.
 */
int ivshmem_peer_connect(struct ivshmem_peer *p, const char *socket_path, int64_t deadline_ns);
/* Start a peer on an already connected socket (tests; the peer takes it). */
void ivshmem_peer_init(struct ivshmem_peer *p, int sock);
/* Read what the server sent, without blocking: connects and disconnects update the
 * table. Returns 0 (nothing more now, or the server closed: sock becomes -1), or the
 * latched SEVMON_EPROTO / ENOMEM. */
int ivshmem_peer_update(struct ivshmem_peer *p);
/* The table entry of peer id, or NULL. */
const struct ivshmem_peer_entry *ivshmem_peer_find(const struct ivshmem_peer *p, uint32_t id);
/* Ring peer id on vector (write 1 to its eventfd). A peer not in the table is looked for
 * again after an update. Returns 0, SEVMON_ENOENT (no such peer or vector), ESYS. */
int ivshmem_peer_ring(struct ivshmem_peer *p, uint32_t id, unsigned vector);
/* Drain own vector's eventfd: the count of rings since the last drain (0: none). */
uint64_t ivshmem_peer_drain(struct ivshmem_peer *p, unsigned vector);
/* Close everything (socket, shm fd unless taken — set p->shm_fd = -1 to keep it —,
 * eventfds). */
void ivshmem_peer_close(struct ivshmem_peer *p);

#endif
