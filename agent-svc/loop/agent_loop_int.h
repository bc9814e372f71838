/*
 * agent_loop_int.h — private to the agent loop library (agent_log.c, agent_conn.c,
 * agent_shm.c, agent_loop.c, in that order from the bottom):
 * the connection and loop structures. Not part of the contract; see agent_loop.h.
 */
#ifndef SEVMON_AGENT_LOOP_INT_H
#define SEVMON_AGENT_LOOP_INT_H

#include <stdint.h>

#include "agent_loop.h"
#include "frame.h"
#include "rpc_wire.h"
#include <poll.h>

#include "shm.h"

/* One read(2) fills at most this much; it is parsed before the next read, so an input
 * that is not parsed yet (backpressure) never exceeds it. */
#define AGENT_READ_CHUNK (16u * 1024u)
/* A write queue bigger than this is freed once drained, so an idle connection does not
 * keep the memory of its biggest reply. */
#define AGENT_OBUF_KEEP (128u * 1024u)
/* Connections accepted per listener per wakeup: keeps a connect flood from delaying the
 * service of open connections. */
#define AGENT_ACCEPT_BUDGET 16u
/* Pause of the listeners when out of file descriptors and the spare fd is gone. */
#define AGENT_ACCEPT_PAUSE_MS 100u
/* Room for the close reason text in the log line. */
#define AGENT_REASON_LEN 160u
#define AGENT_PEER_LEN 96u

struct agent_partial {
	int used;
	uint32_t id;
	uint16_t method;
	uint32_t deadline_ms;
	uint64_t received_ns;
	struct rpc_reasm ra;
};

struct agent_pending {
	uint32_t id;
	uint16_t method;
	uint32_t deadline_ms;
	uint64_t received_ns;
	uint8_t *payload; /* owned; from rpc_reasm */
	size_t len;
};

struct agent_obuf { /* bytes queued for writing are p[off..len) */
	uint8_t *p;
	size_t off, len, cap;
};

/*
 * How a connection moves frames: a stream fd (bytes, framed by frame_reader) or a
 * shared-memory session (whole frame bodies). Everything above — channel, envelopes,
 * queues — is the same for both.
 * - read: take what the transport has (within the read budget) and feed each frame body
 *   to agent_conn_on_frame; sets rd_eof / fails the connection itself.
 * - write: take a prefix of p[0..n) (whole frames as queued: u16 BE length || body);
 *   returns the bytes taken (0: would block) or a negative SEVMON_E* (then reason set).
 * - release: free the transport (close the fd; end the shm session).
 */
struct agent_conn_io {
	void (*read)(struct agent_conn *c);
	long (*write)(struct agent_conn *c, const uint8_t *p, size_t n);
	void (*release)(struct agent_conn *c);
};

/* A shared-memory region served by the loop: one session at a time; when it ends the
 * agent re-attaches and waits for the next peer (agent_shm.c). */
struct agent_shm_lis {
	struct shm_region region;
	struct shm_conn sc;
	char label[AGENT_PEER_LEN];
	int attaching;          /* attach started, peer not there yet */
	struct agent_conn *conn; /* the session being served, or NULL */
	int wait_ms;            /* attach poll backoff */
	uint64_t next_try_ns;
	uint64_t rings0, wakeups0, frames; /* bell counters at session start; frames in+out */
	uint32_t spin_us; /* the URI's spin=, 0 for the default */
};

struct agent_conn {
	struct agent_loop *loop;
	const struct agent_conn_io *io;
	int fd; /* -1 for a shm session */
	struct agent_shm_lis *shm; /* NULL for a stream fd */
	uint64_t shm_active_ns;   /* last shm progress: spin window start */
	uint64_t shm_sleep_ns;    /* current sleep of the quiet-session backoff */
	int is_sock; /* send(MSG_NOSIGNAL) works; else plain write() */
	uint64_t id;
	char peer[AGENT_PEER_LEN];
	void *session;
	struct agent_channel ch;
	int hooked; /* hooks.open accepted: hooks.close is owed */
	int authed; /* see agent_conn_set_authenticated; else counted in max_unauth */
	uint64_t frames_in; /* frames received: an eviction spares the ones making progress */
	char source[AGENT_PEER_LEN]; /* peer without its port: the per-source bound */

	uint8_t in[AGENT_READ_CHUNK];
	size_t in_off, in_len;
	struct frame_reader fr;

	struct agent_partial *partials; /* max_partial slots */
	unsigned npartial;
	size_t partial_bytes;

	struct agent_pending *queue; /* ring of max_queued */
	unsigned qhead, qcount;
	size_t queued_bytes;

	struct agent_obuf out;
	uint64_t last_activity_ns;
	uint32_t idle_timeout_ms; /* UINT32_MAX: never */
	int rd_eof;
	int closing; /* reason[] holds why */
	char reason[AGENT_REASON_LEN];
};

struct agent_loop {
	struct agent_loop_config cfg;
	int listen_fds[AGENT_MAX_LISTENERS];
	int stop_rd, stop_wr;
	int spare_fd;
	uint64_t accept_paused_until_ns;
	struct agent_conn **conns;
	unsigned nconns;
	unsigned rr; /* round-robin start */
	uint64_t next_conn_id;
	uint8_t *reply;                /* max_reply bytes, shared by every dispatch */
	uint8_t plain[FRAME_MAX_BODY]; /* channel.open output */
	uint8_t msg[FRAME_MAX_BODY];   /* one outgoing plaintext message before seal */
	struct agent_loop_stats st;
	struct agent_shm_lis *shm[AGENT_MAX_SHM];
	unsigned nshm;
	uint8_t shm_in[FRAME_MAX_BODY]; /* one body received from a shm ring */
};

/* agent_log.c */
void agent_logf(struct agent_loop *l, enum agent_log_level lv, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* agent_conn.c */
/* Runs hooks.open and enters c in the loop's table; on refusal frees c. 0 or SEVMON_E*. */
int agent_conn_admit(struct agent_loop *l, struct agent_conn *c);
struct agent_conn *agent_conn_new(struct agent_loop *l, int fd, const char *peer);
void agent_conn_free(struct agent_conn *c); /* hooks.close if owed, close(fd), free */
void agent_conn_fail(struct agent_conn *c, int protocol, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void agent_conn_on_readable(struct agent_conn *c);
void agent_conn_on_frame(struct agent_conn *c, const uint8_t *body, size_t n);
extern const struct agent_conn_io agent_conn_io_stream;

/* agent_shm.c */
extern const struct agent_conn_io agent_conn_io_shm;
void agent_shm_step(struct agent_loop *l);        /* progress attaches, adopt sessions */
int64_t agent_shm_timeout_ns(struct agent_loop *l); /* -1: no shm wants a wake-up */
/* Bell regions: their fds for poll(2) (at most AGENT_MAX_SHM; returns how many), and the
 * turn after the poll (flags down, bells cleared). */
unsigned agent_shm_bell_fds(struct agent_loop *l, struct pollfd *pf);
void agent_shm_after_poll(struct agent_loop *l, const struct pollfd *pf);
void agent_shm_free_all(struct agent_loop *l);
/* agent_shm_vfio.c: the ivshmem-doorbell device bdf through vfio-pci: r gets BAR2 and the
 * bell (MSI-X vector 0 as an eventfd, the doorbell register). Logs why it fails. */
int agent_shm_vfio_open(struct agent_loop *l, const char *bdf, struct shm_region *r);
void agent_conn_parse(struct agent_conn *c);
void agent_conn_dispatch_some(struct agent_conn *c);
void agent_conn_flush(struct agent_conn *c);
int agent_conn_in_stalled(const struct agent_conn *c);
int agent_conn_wants_read(const struct agent_conn *c);
int agent_conn_has_work(const struct agent_conn *c);
int agent_conn_done(const struct agent_conn *c); /* peer half-closed and all answered */
static inline size_t agent_conn_wq(const struct agent_conn *c) { return c->out.len - c->out.off; }

#endif
