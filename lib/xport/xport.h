/*
 * xport.h — the transport layer: connected, non-blocking stream sockets chosen by URI.
 *
 * One header for every transport. It hands out plain file descriptors; it has no event
 * loop and no libuv, so the static agent links it too. The IDS drives the fds with
 * uv_poll_t, the agent with poll(2). What the fd carries (frames, Noise) is not this
 * layer's business.
 *
 *   unix:///path                 Unix stream socket (tests, local)
 *   tcp://HOST:PORT              IPv4 a.b.c.d, IPv6 in brackets [::1], or a host name
 *   vsock://CID:PORT             AF_VSOCK; CID a number, "any"/"-1" (listen on every CID),
 *                                "host" (2) or "local" (1)
 *   vsock-hybrid:///path:PORT    host side of Firecracker / Cloud Hypervisor /
 *                                vhost-device-vsock: Unix socket, "CONNECT <PORT>\n",
 *                                reply "OK <hostport>\n"
 *   shm:///dev/shm/NAME, shm+pci://[DDDD:]BB:DD.F
 *                                recognised here (parse succeeds, so configs and logs
 *                                work), but listen/connect give SEVMON_ENOTSUP: the agent
 *                                loop and the RPC client serve them, and shm+ivshmem:///SOCK,
 *                                through lib/xport/shm.h
 *
 * Not supported: percent-encoding, IPv6 zone ids ("[fe80::1%25eth0]"), abstract
 * unix sockets; add them when a deployment needs one.
 *
 * Host names: xport_parse accepts them but listen/connect take numeric addresses only,
 * and give SEVMON_EURI for a name. Call xport_resolve() (lib/xport/xport_resolve.c, the only
 * user of getaddrinfo) first. The static agent never calls it, so it does not link the
 * NSS machinery that static glibc cannot load properly; the agent is configured with
 * numeric addresses.
 *
 * All calls return 0 (or the stated non-negative value) on success and a negative
 * SEVMON_E* code on failure; they never print. Errors that matter to callers:
 *   SEVMON_EURI          malformed URI, or a host name where a number is needed
 *   SEVMON_ENOTSUP       scheme not implemented (shm), vsock-hybrid listen, or the kernel
 *                        lacks the address family (socket() gave EAFNOSUPPORT)
 *   SEVMON_ENOENT        unix / hybrid socket path does not exist
 *   SEVMON_ECONNREFUSED  nobody listens (for vsock-hybrid: the host closed the socket
 *                        without a reply, which is what it does when the guest port
 *                        has no listener)
 *   SEVMON_ETIMEDOUT     deadline passed (connect or hybrid handshake)
 *   SEVMON_EPROTO        hybrid reply that is not "OK <number>\n" within the length bound,
 *                        or a reply line cut short by the peer closing
 *   SEVMON_EEXIST        address in use (tcp/vsock bind, or a live unix socket at path)
 * Every fd handed out is non-blocking and close-on-exec; the caller owns and closes it.
 */
#ifndef SEVMON_XPORT_H
#define SEVMON_XPORT_H

#include <stddef.h>
#include <stdint.h>

/* sizeof(sockaddr_un.sun_path) on Linux, NUL included: longer paths cannot be bound. */
#define XPORT_PATH_MAX 108
/* A DNS name is at most 253 characters; an IPv6 literal at most 45; plus NUL, rounded. */
#define XPORT_HOST_MAX 256
/* Longest URI xport_format can produce: scheme (15) + "://" + host or path + ":" +
 * port (10 digits) + brackets, rounded up. A buffer this size never truncates, and
 * xport_parse refuses input this long or longer without scanning past it. */
#define XPORT_URI_MAX 400
/* Most bytes read while waiting for the hybrid reply's "\n". The longest valid reply,
 * "OK 4294967295\n", is 14 bytes (and is parsed strictly); the bound only says when to
 * stop reading a peer that is not speaking this protocol. */
#define XPORT_HYBRID_LINE_MAX 32
/* Room for a peer description from xport_accept ("tcp://[v6]:port", "unix:pid=..."). */
#define XPORT_PEER_MAX 80

/* Special vsock CIDs (linux/vm_sockets.h), spelled out so users need not include it. */
#define XPORT_VSOCK_CID_ANY 0xFFFFFFFFu
#define XPORT_VSOCK_CID_LOCAL 1u
#define XPORT_VSOCK_CID_HOST 2u

enum xport_kind {
	XPORT_UNIX = 1,
	XPORT_TCP,
	XPORT_VSOCK,
	XPORT_VSOCK_HYBRID,
	XPORT_SHM,
	XPORT_SHM_PCI,
};

struct xport_addr {
	enum xport_kind kind;
	char path[XPORT_PATH_MAX]; /* unix, vsock-hybrid, shm: NUL-terminated, absolute */
	char host[XPORT_HOST_MAX]; /* tcp: address or name, no brackets; shm+pci: BDF */
	uint16_t port;             /* tcp */
	uint32_t cid;              /* vsock */
	uint32_t vport;            /* vsock, vsock-hybrid: the vsock port */
};

/*
 * Parse a URI. On success fills *out completely (unused fields zero) and returns 0.
 * On any malformed input returns SEVMON_EURI and leaves *out untouched: unknown
 * scheme, empty or relative path, path too long for sun_path, port 0 or out of range,
 * signs/spaces/junk around numbers, bad IPv4/IPv6 literal, trailing characters,
 * control characters anywhere. No percent-decoding. Never resolves names.
 * Ports in URIs are never 0: an ephemeral listener is made by setting port 0 in a
 * hand-built address and reading it back with xport_sockname().
 */
int xport_parse(const char *uri, struct xport_addr *out);

/*
 * Write a's URI into buf (NUL-terminated). Returns its length, SEVMON_ETOOBIG when it
 * does not fit in cap (buf then holds ""), SEVMON_EINVAL for an unknown kind.
 * xport_parse(xport_format(a)) gives a back for every address xport_parse produced.
 */
int xport_format(const struct xport_addr *a, char *buf, size_t cap);

/* Name of a kind, "unix", "tcp", ... (the URI scheme); "?" for unknown values. */
const char *xport_kind_name(enum xport_kind k);

/*
 * Resolve a tcp address whose host is a name into a numeric one: the first stream
 * result getaddrinfo returns (its order follows gai.conf).
 * Copies a to *out unchanged when it is not tcp or already numeric. Blocking.
 * SEVMON_ENOENT when the name does not resolve. Not linked into the static agent.
 */
int xport_resolve(const struct xport_addr *a, struct xport_addr *out);

/*
 * A non-blocking listening socket on a, with listen(backlog).
 *  unix: an existing file at path is removed first only if it is a socket and nobody
 *        accepts on it (a connect attempt is refused); a live socket gives SEVMON_EEXIST,
 *        any other file SEVMON_EEXIST too. The caller unlinks the path after closing.
 *  tcp:  SO_REUSEADDR; an IPv6 address is IPV6_V6ONLY (same behaviour whatever the
 *        sysctl says; listen twice for both families). port 0 = ephemeral.
 *  vsock: cid ANY, LOCAL or the own CID; vport 0xFFFFFFFF or 0 (hand-built) = ephemeral.
 *  vsock-hybrid: SEVMON_ENOTSUP (the VMM owns that socket). shm: SEVMON_ENOTSUP.
 */
int xport_listen(const struct xport_addr *a, int backlog, int *fd);

/*
 * Accept one connection from listening fd lfd. Returns 1 and sets *fd (non-blocking,
 * close-on-exec) when one was accepted; returns 0 with *fd = -1 when none is pending
 * (EAGAIN, or the peer gave up before accept: ECONNABORTED), so an event loop just
 * waits for the next readiness; negative on error (SEVMON_ESYS for fd exhaustion:
 * the caller should shed load). When peer is not NULL it receives a description of the
 * peer for logs, NUL-terminated: "tcp://1.2.3.4:5678", "vsock://3:1025",
 * "unix:pid=12,uid=0" ("unix:" when credentials are unknown), or "?" when that does
 * not fit in peercap (XPORT_PEER_MAX always fits); never a cut address.
 */
int xport_accept(int lfd, int *fd, char *peer, size_t peercap);

/* The locally bound address of a tcp/unix/vsock socket (e.g. an ephemeral port). */
int xport_sockname(int fd, struct xport_addr *out);

/* Returned by xport_connect_start / xport_connect_step while not done yet. */
#define XPORT_IN_PROGRESS 1

enum xport_conn_state {
	XPORT_CS_CONNECTING = 1, /* socket connect pending */
	XPORT_CS_HYBRID_SEND,    /* writing "CONNECT <port>\n" */
	XPORT_CS_HYBRID_RECV,    /* reading "OK <hostport>\n" */
	XPORT_CS_DONE,
	XPORT_CS_FAILED,
};

/* State of one asynchronous connect. Plain data: no allocation, nothing to free. */
struct xport_connecting {
	int fd;
	enum xport_conn_state state;
	enum xport_kind kind;
	int64_t deadline_ms; /* CLOCK_MONOTONIC milliseconds */
	uint32_t vport;      /* hybrid: the port asked for */
	uint32_t hostport;   /* hybrid: the port the host reported, valid once done */
	int err;             /* first error once FAILED */
	char line[XPORT_HYBRID_LINE_MAX];
	size_t have; /* hybrid: bytes of request sent, then bytes of reply held */
};

/*
 * Asynchronous connect, for event loops holding many connections.
 * start creates the socket and begins connecting; the deadline is timeout_ms from now
 * (covering the hybrid handshake too). It returns
 *   0                    connected already (*fd ready to use, *want_events = 0)
 *   XPORT_IN_PROGRESS    wait until *fd shows *want_events (POLLIN or POLLOUT), then
 *                        call xport_connect_step
 *   negative             failed; no fd is left open (*fd = -1)
 * step returns the same three outcomes; once done it keeps returning 0, once failed
 * the same error. After a negative return from step, *fd is still open and the caller
 * closes it (after removing it from its poller). c holds no pointers: it may be moved.
 * The loop must also call step when xport_connect_remaining_ms() reaches 0, even
 * without an event: step then fails with SEVMON_ETIMEDOUT.
 * Unix sockets connect synchronously; a unix listener whose backlog is full gives
 * SEVMON_EBUSY from start (the kernel offers no way to wait for it asynchronously).
 */
int xport_connect_start(const struct xport_addr *a, int timeout_ms, struct xport_connecting *c,
			int *fd, int *want_events);
int xport_connect_step(struct xport_connecting *c, int *want_events);
/* Milliseconds left before c's deadline, 0 when passed. */
int xport_connect_remaining_ms(const struct xport_connecting *c);

/*
 * Blocking connect with a deadline (CLI, tests, the agent's outbound mode): returns a
 * connected non-blocking fd in *fd, including the vsock-hybrid CONNECT/OK exchange.
 * timeout_ms > 0. A full unix backlog waits until the deadline (SEVMON_ETIMEDOUT).
 * vsock CID "any" is for listening: connecting to it is SEVMON_EINVAL (also for start).
 * When hostport is not NULL, it receives the hybrid host-side port (0 for other kinds).
 */
int xport_connect(const struct xport_addr *a, int timeout_ms, int *fd, uint32_t *hostport);

#endif
