/*
 * shm.h — the shared-memory transport: two SPSC frame rings in one mapped region.
 *
 * One more transport for the same frames as the stream transports (lib/frame/frame.h: bodies of
 * 1..FRAME_MAX_BODY bytes), under the same Noise channel. The region is visible to the host
 * and to the peer, so it only ever carries ciphertext, and NOTHING read from it is trusted:
 *   - geometry (offsets, sizes) is validated once at attach against the mapping's real size
 *     (fstat) and then kept in private memory; it is never re-read;
 *   - each side keeps a private copy of the index it owns and never reads it back;
 *   - the peer's index is read once per operation, into a local, and checked
 *     (0 <= head - tail <= ring size);
 *   - a frame's length is read once, checked (1..65535, <= bytes published), and the body is
 *     copied once into private memory before anyone parses it (no double fetch);
 *   - every wait has a deadline; a violation is fatal for this connection only: the call
 *     returns SEVMON_EPROTO and every later call on the connection returns it again.
 * A peer restart is seen as a change of its epoch (or its state leaving READY) and reported
 * as SEVMON_ECONNRESET; the upper layer re-attaches (shm_conn_attach) and re-handshakes.
 *
 * In a guest, shm+pci maps /sys/bus/pci/devices/BDF/resource2 (root; enable the device
 * first: echo 1 > .../enable). Linux maps it UC- (uncached): correct, since x86 keeps
 * uncached accesses in program order, but slow for bulk copies, notably on AMD where the
 * guest's memory type applies under nested paging. Never use resource2_wc: write-combined
 * stores are not ordered by a plain release store, so head could become visible before the
 * record. In an SEV guest sysfs maps the BAR unencrypted, which is what the host must see.
 *
 * Known limit: on a host, a process that can write the region's file can also truncate it,
 * and a later access to the vanished pages raises SIGBUS. Keep the file mode 0600 and owned
 * by the user both peers run as (the guest's ivshmem BAR cannot shrink).
 *
 * Sides: A = the IDS (Noise initiator), B = the agent. Ring AB carries IDS->agent frames,
 * ring BA agent->IDS. Side B formats the region when its header is not valid for the
 * mapping (fresh zero-filled file, or garbage); side A only ever validates it.
 *
 * ---------------------------------------------------------------------------------------
 * Region layout, version 1. All integers little-endian (both ends are x86-64), u32 unless
 * noted; each index and each side's control block sits on its own 64-byte cache line.
 *
 *   offset  size  field
 *   0x000   4     magic         0x4d485353 ("SSHM" in memory)
 *   0x004   4     version       1
 *   0x008   8     total_size    bytes the layout uses, <= the mapping's real size
 *   0x010   4     header_size   0x1000 (SHM_HDR_SIZE)
 *   0x014   4     ab_off        ring AB data offset (>= header_size, 64-byte aligned)
 *   0x018   4     ab_size       ring AB data size (power of two, SHM_RING_MIN..SHM_RING_MAX)
 *   0x01c   4     ba_off        ring BA data offset
 *   0x020   4     ba_size       ring BA data size
 *   0x024   28    reserved, zero
 *   0x040   12    side A control: +0 state, +4 epoch, +8 ack (the epoch of B that A has seen)
 *   0x080   12    side B control: same
 *   0x0c0   4     ring AB head  (bytes produced, free-running; written by A)
 *   0x100   4     ring AB tail  (bytes consumed, free-running; written by B)
 *   0x140   4     ring BA head  (written by B)
 *   0x180   4     ring BA tail  (written by A)
 *   0x1c0   12    doorbell A:   +0 seq (futex word), +4 waiting flag (A is asleep, or about
 *                               to be: ring it; bit 0 waiting to read, bit 1 for room to
 *                               write), +8 bell id + 1 (A's ivshmem peer id; 0 = no bell)
 *   0x200   12    doorbell B:   same, for B
 *   0x240   ..    reserved, zero, up to header_size
 *   ab_off  ab_size   ring AB data
 *   ba_off  ba_size   ring BA data
 *
 * Records in a ring: u16 big-endian length || body (exactly the stream framing), packed
 * back to back with no padding; a record may wrap around the end of the data area (the
 * byte at free-running index i lives at data[i & (size - 1)]). The producer writes the
 * record, then publishes head with a release store; the consumer loads head with acquire,
 * copies the record out, then publishes tail with release. head - tail (mod 2^32) is the
 * number of bytes readable and must never exceed size.
 *
 * State: 0 DOWN (never attached), 1 ATTACHING, 2 READY, 3 CLOSED. Attach of side X:
 *   1. state = ATTACHING, ack = 0, epoch = old epoch + 1 (never 0): an old-session peer
 *      sees the change and resets;
 *   2. X sets the indices it owns to 0 (head of its transmit ring, tail of its receive ring);
 *   3. X repeatedly copies the peer's epoch into its ack (only while the peer is
 *      ATTACHING or READY); the session is up once peer.ack == X.epoch and X.ack ==
 *      peer.epoch. Both sides reset their indices before acknowledging anything, so a
 *      fresh session always starts with empty rings and a restarted side can never
 *      read a stale record.
 *   In a session each call checks peer.epoch unchanged, peer.ack == own epoch and
 *   peer.state ATTACHING or READY; otherwise SEVMON_ECONNRESET, except that a CLOSED peer's
 *   last records are still delivered first, and an unknown state value is SEVMON_EPROTO.
 *   A ring violation seen while the peer's epoch has changed is a reset, not EPROTO: a
 *   restarting peer bumps its epoch and then zeroes its indices.
 *
 * Wake-up: a waiter first spins (pause loop, then pause + sched_yield, for
 *   SHM_SPIN_NS_DEFAULT), then sleeps:
 *   - bell mode (shm+ivshmem:// on hosts, an ivshmem-doorbell device through vfio-pci in
 *     a guest: lib/xport/shm_bell.h): set own waiting flag, seq_cst fence, re-check, then
 *     sleep in poll(2) on the bell's fd until rung or the caller's deadline: no timer of
 *     its own. After publishing an index a side fences and, if the peer's waiting flag is
 *     set, rings the peer's bell id (from the region, checked by the bell). Event loops
 *     (agent, libuv client) do the same with the fd in their poll set
 *     (shm_conn_arm / shm_conn_disarm), so an idle session costs no wake-ups at all.
 *   - futex mode (host processes sharing the file): set own waiting flag, re-check, then
 *     FUTEX_WAIT (not private: the futex key is the shared page) on own doorbell seq with a
 *     timeout of at most SHM_FUTEX_SLICE_NS. After publishing an index a side issues a
 *     seq_cst fence and, if the peer's waiting flag is set, bumps the peer's seq and
 *     FUTEX_WAKEs it (Dekker-style: either the waiter sees the new index on its re-check or
 *     the notifier sees the flag).
 *   - poll mode (guest<->host or guest<->guest over ivshmem-plain, which has no interrupt
 *     and where a futex in one kernel cannot wake a task in another): sleep with
 *     exponential backoff from SHM_POLL_MIN_NS doubling to a cap (SHM_POLL_MAX_NS_DEFAULT).
 *     (The kernel's default timer slack, 50 us, stretches the shortest sleeps; a process
 *     that wants finer steps lowers it with prctl(PR_SET_TIMERSLACK).)
 *   Both ends of a region should use the same mode; a futex sleeper whose peer polls still
 *   works, waking every SHM_FUTEX_SLICE_NS.
 * Event loops: in bell mode the loop polls the bell's fd (shm_conn_arm before sleeping,
 * shm_conn_disarm after). Without a bell the region has no fd: a poll(2)/libuv loop calls
 * shm_conn_poll_timeout_ms() before it sleeps, sleeps at most that long (poll timeout or
 * uv_timer), then calls shm_conn_recv_nb()/shm_conn_send_nb(). The returned timeout is 0
 * while something is pending and grows (1, 2, 4 ... ms up to the loop cap) while the region
 * stays idle, so an idle connection costs a few hundred wake-ups per second at most and a
 * busy one adds at most one cap's latency. Use shm+ivshmem:// between host processes for
 * doorbells instead.
 * ---------------------------------------------------------------------------------------
 */
#ifndef SEVMON_SHM_H
#define SEVMON_SHM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "shm_bell.h"

#define SHM_MAGIC 0x4d485353u /* "SSHM" little-endian */
#define SHM_VERSION 1u
#define SHM_CACHE_LINE 64u
/* One page: header fields, two control blocks, four indices and two doorbells, each on its
 * own cache line, fit with room to grow; rings start page-aligned. */
#define SHM_HDR_SIZE 0x1000u
/* A ring must hold one maximal record (2 + 65535 bytes); the next power of two. */
#define SHM_RING_MIN (128u * 1024u)
/* Keeps head - tail well inside u32 arithmetic and any one region reasonable. */
#define SHM_RING_MAX (256u * 1024u * 1024u)
#define SHM_REGION_MIN ((size_t)SHM_HDR_SIZE + 2u * SHM_RING_MIN)
/* Header offsets are u32 and rings are at most SHM_RING_MAX each. */
#define SHM_REGION_MAX ((size_t)SHM_HDR_SIZE + 2u * (size_t)SHM_RING_MAX)
/* Default region size for shm:// when the URI names none (a power of two, as an ivshmem
 * BAR must be): formatted as a 256 KiB request ring and a 512 KiB reply ring, i.e. 3 and 7
 * maximal frames, or thousands of small ones. */
#define SHM_REGION_DEFAULT ((size_t)1 << 20)

/* Header field offsets (see the table above). */
enum {
	SHM_OFF_MAGIC = 0x000,
	SHM_OFF_VERSION = 0x004,
	SHM_OFF_TOTAL = 0x008,
	SHM_OFF_HDR_SIZE = 0x010,
	SHM_OFF_AB_OFF = 0x014,
	SHM_OFF_AB_SIZE = 0x018,
	SHM_OFF_BA_OFF = 0x01c,
	SHM_OFF_BA_SIZE = 0x020,
	SHM_OFF_CTL_A = 0x040,
	SHM_OFF_CTL_B = 0x080,
	SHM_CTL_STATE = 0, /* within a control block */
	SHM_CTL_EPOCH = 4,
	SHM_CTL_ACK = 8,
	SHM_OFF_AB_HEAD = 0x0c0,
	SHM_OFF_AB_TAIL = 0x100,
	SHM_OFF_BA_HEAD = 0x140,
	SHM_OFF_BA_TAIL = 0x180,
	SHM_OFF_DB_A = 0x1c0,
	SHM_OFF_DB_B = 0x200,
	SHM_DB_SEQ = 0, /* within a doorbell */
	SHM_DB_WAITING = 4,
	SHM_DB_ID = 8, /* bell id + 1; 0 = none */
};

enum shm_state { SHM_STATE_DOWN = 0, SHM_STATE_ATTACHING = 1, SHM_STATE_READY = 2, SHM_STATE_CLOSED = 3 };
enum shm_side { SHM_SIDE_A = 0 /* IDS */, SHM_SIDE_B = 1 /* agent */ };
enum shm_wake { SHM_WAKE_FUTEX = 0, SHM_WAKE_POLL = 1, SHM_WAKE_BELL = 2 };

/* Spin before sleeping: a round trip between two busy processes is ~1 us, and an agent
 * decrypts, serves and encrypts a small request in ~10 us; a sleep costs 10-50 us to wake
 * from in a VM. 50 us of spinning catches such replies with no syscall, and costs at most
 * 50 us of CPU per idle transition. After the first 2 us the spin yields the CPU each
 * round, so a peer sharing our CPU still runs (see tests/bench/bench_shm.c). */
#define SHM_SPIN_NS_DEFAULT 50000u
/* Poll-mode backoff: start near one cross-VM cache-line round trip, cap at 1 ms so an idle
 * guest wakes at most ~1000 times a second and a reply is never late by more than that. */
#define SHM_POLL_MIN_NS 1000u
#define SHM_POLL_MAX_NS_DEFAULT 1000000u
/* A futex sleep never lasts longer than this, so a lost wake-up (or a peer that polls, or
 * a hostile peer clearing our waiting flag) costs latency, never liveness. */
#define SHM_FUTEX_SLICE_NS 50000000u
/* Cap of shm_conn_poll_timeout_ms() for an idle connection driven by an event loop. */
#define SHM_LOOP_MAX_MS_DEFAULT 4

/* ---- the region: a shared mapping of a file ---- */

/* Room for /sys/bus/pci/devices/DDDD:BB:DD.F/resource2 and any sensible /dev/shm name. */
#define SHM_PATH_MAX 256

struct shm_uri {
	char path[SHM_PATH_MAX];   /* file to map: /dev/shm/NAME or /sys/bus/pci/devices/BDF/resource2;
				    * for shm+ivshmem the server's socket */
	bool ivshmem;     /* shm+ivshmem: the region and its bell come from an ivshmem server */
	size_t size;      /* size to create with (shm:// only); 0 for shm+pci */
	bool may_create;  /* shm:// : side B may create the file */
	enum shm_wake wake;
	uint32_t spin_us; /* ?spin=N: spin this long before sleeping (0: the side's default) */
};
/* Longest spin a URI may ask for: a waiting side burns its core that long per wait. */
#define SHM_URI_SPIN_MAX_US 100000u

/*
 * Parse "shm:///abs/path[?size=N[K|M|G]][&wake=futex|poll]" (default size
 * SHM_REGION_DEFAULT, wake futex) or "shm+pci://DDDD:BB:DD.F[?wake=...]" (the guest's
 * ivshmem-plain BAR2 through sysfs; wake poll) or "shm+ivshmem:///abs/server.sock" (host
 * side: the region and doorbells of `sevmon ivshmem-server`; wake bell). Every form
 * takes &spin=N (microseconds, at most SHM_URI_SPIN_MAX_US): how long this side spins
 * before it sleeps. Returns 0 or SEVMON_EURI.
 */
int shm_uri_parse(const char *uri, struct shm_uri *out);

struct shm_region {
	uint8_t *base;  /* MAP_SHARED mapping, len bytes; NULL when unmapped */
	size_t len;     /* the file's real size at map time (fstat) */
	int fd;
	struct shm_bell *bell; /* owned; NULL when the region has no doorbell */
};
/* How long mapping a shm+ivshmem URI waits for the server's set-up messages. */
#define SHM_IVSHMEM_CONNECT_MS 5000

/* Flags of shm_region_map. */
#define SHM_MAP_CREATE 1u /* create the file (mode 0600) if missing; size it if empty */

/*
 * Map the whole file at path read-write and shared. With SHM_MAP_CREATE a missing or empty
 * file is created/sized to create_size. The size is taken from fstat and must be within
 * SHM_REGION_MIN..SHM_REGION_MAX (else SEVMON_ETOOBIG / SEVMON_EINVAL). The last path
 * component must be a regular file, not a symlink (SEVMON_EDENIED) nor a FIFO or device
 * (SEVMON_EINVAL). Returns 0, SEVMON_ENOENT (no such file, or an empty one without
 * SHM_MAP_CREATE: its creator has not sized it yet), SEVMON_EDENIED (permission),
 * SEVMON_ESYS.
 * Works for /dev/shm files and for sysfs PCI resource files alike.
 */
int shm_region_map(struct shm_region *r, const char *path, size_t create_size, unsigned flags);
/* Map from a parsed URI; side decides who may create (B only). shm+ivshmem connects to
 * the server as a new peer and maps the fd it hands out, with the bell (r->bell). */
int shm_region_map_uri(struct shm_region *r, const struct shm_uri *u, enum shm_side side);
void shm_region_unmap(struct shm_region *r);

/*
 * Write a fresh version-1 header for the mapping: ring BA (agent->IDS, the bulk direction)
 * the largest power of two that leaves room for a minimal ring AB, then ring AB the largest
 * power of two in what is left (both capped at SHM_RING_MAX); zero indices, states DOWN,
 * epochs 0. A 1 MiB region gives AB 256 KiB and BA 512 KiB. Only side B
 * calls this (shm_conn_attach does when the header is not valid). Returns 0 or EINVAL.
 */
int shm_region_format(struct shm_region *r);

/* Geometry read from a header, after validation. */
struct shm_geom {
	uint32_t ab_off, ab_size, ba_off, ba_size;
};
/*
 * Validate the header against the mapping: magic, version, total_size <= r->len,
 * header_size, each ring power of two in range, 64-aligned, inside total_size, after the
 * header, not overlapping. Each field is read once. Returns 0, SEVMON_ENOENT when the magic
 * is 0 (not formatted yet), SEVMON_EPROTO otherwise.
 */
int shm_region_check(const struct shm_region *r, struct shm_geom *g);

/* ---- one ring, over any memory (the connection uses two) ---- */

struct shm_ring {
	uint8_t *data;           /* size bytes of shared data */
	_Atomic uint32_t *head;  /* shared: producer's free-running index */
	_Atomic uint32_t *tail;  /* shared: consumer's free-running index */
	uint32_t size;           /* power of two (a connection's rings are >= SHM_RING_MIN) */
	uint32_t pos;            /* private: the index this side owns (head or tail) */
};

/* Initialise a ring view. size must be a power of two >= FRAME_HDR_LEN + 1. The owned
 * index starts at pos (the caller resets the shared copy). */
void shm_ring_init(struct shm_ring *r, uint8_t *data, uint32_t size, _Atomic uint32_t *head,
		   _Atomic uint32_t *tail, uint32_t pos);
/* Producer: queue one record. Returns len (> 0) when queued, 0 when it does not fit now,
 * SEVMON_EINVAL for len 0, SEVMON_ETOOBIG for len > FRAME_MAX_BODY or larger than the ring
 * could ever hold, SEVMON_EPROTO when the consumer's tail is impossible. */
int shm_ring_put(struct shm_ring *r, const void *body, size_t len);
/* Producer: 1 if a record of len bytes fits now, 0 if not, SEVMON_EPROTO. */
int shm_ring_writable(const struct shm_ring *r, size_t len);
/* Consumer: copy the next body into buf (cap >= FRAME_MAX_BODY, else SEVMON_EINVAL).
 * Returns its length (> 0), 0 when the ring is empty, SEVMON_EPROTO on a bad head or
 * record. buf holds a private copy: it does not change after the call returns. */
int shm_ring_get(struct shm_ring *r, void *buf, size_t cap);
/* Consumer: 1 if at least one byte is published, 0 if empty, SEVMON_EPROTO. */
int shm_ring_readable(const struct shm_ring *r);

/* ---- a connection: one side's view of a region ---- */

struct shm_opts {
	enum shm_wake wake;
	uint32_t spin_ns;      /* spin this long before sleeping; 0: never spin */
	uint32_t poll_max_ns;  /* poll-mode backoff cap, >= SHM_POLL_MIN_NS */
	int loop_max_ms;       /* cap of shm_conn_poll_timeout_ms, >= 1 */
};
/* Fill o with the defaults above for the given wake mode. */
void shm_opts_default(struct shm_opts *o, enum shm_wake wake);

struct shm_conn {
	uint8_t *base;
	size_t len;
	enum shm_side side;
	struct shm_opts opt;
	_Atomic uint32_t *my_ctl, *peer_ctl;  /* control blocks: state, epoch, ack */
	_Atomic uint32_t *my_db, *peer_db;    /* doorbells: seq, waiting, bell id */
	struct shm_bell *bell;                /* the region's, or NULL (futex / poll) */
	struct shm_ring tx, rx;
	uint32_t epoch;       /* mine, this session */
	uint32_t peer_epoch;  /* the peer's, acknowledged at attach */
	int up;               /* 1 once the session is established */
	int err;              /* latched fatal error (EPROTO/ECONNRESET), 0 if none */
	int idle_ms;          /* poll_timeout backoff state */
	uint32_t spin_skip;   /* adaptive spin: waits left without spinning */
	uint32_t spin_misses; /* spins in a row the peer did not answer within */
	int64_t spin_last_ns; /* the last spin turn's clock, 0 outside a spin */
	int spin_preempted;   /* this spin lost the CPU at least once */
};

/* Adaptive spin (bell mode). Spinning pays only while the peer has a core of its own: then
 * a reply comes back within the window and no wake-up is spent. When the peer shares our
 * core (another process keeps the other one busy), every spin only delays it. A spin
 * that sees a gap of more than SHM_SPIN_PREEMPT_NS between two of its idle turns lost the CPU
 * meanwhile: that is the sign of a shared core. After SHM_SPIN_MISSES such windows in a
 * row that ended in a sleep, the next SHM_SPIN_SKIP waits go straight to the bell; then one
 * probe spins again. A window that ends in a sleep without ever losing the CPU is a slow
 * peer (asleep itself, or an emulated guest), not contention: it changes nothing.
 * SHM_SPIN_SKIP is 0 (the back-off is off): measured on the 2-vCPU development VM, it did
 * not make the busy-core case better (the figures stayed bimodal), and on a loaded machine
 * it cost more than it saved, since a side that stops spinning is woken across vCPUs at
 * ~100 us a time (docs/benchmarks.md, "Shared memory on doorbells"). */
#define SHM_SPIN_MISSES 4u
#define SHM_SPIN_SKIP 0u
/* A turn of a spin takes a microsecond or two. A time slice lost to another runnable task
 * is at least the scheduler's granularity (0.75-3 ms under CFS); shorter gaps are noise a
 * VM's vCPU sees anyway (steal, interrupts) and must not stop the spin. */
#define SHM_SPIN_PREEMPT_NS 500000
/* Call on every turn of a spin (now: the monotonic clock); a turn that did work sets
 * spin_last_ns to 0, so only idle turns are measured. */
static inline void shm_conn_spin_tick(struct shm_conn *c, int64_t now)
{
	if (c->spin_last_ns && now - c->spin_last_ns > SHM_SPIN_PREEMPT_NS)
		c->spin_preempted = 1;
	c->spin_last_ns = now;
}
/* The spin window the next wait may use: opt.spin_ns, or 0 while backing off. */
static inline uint32_t shm_conn_spin_budget(const struct shm_conn *c)
{
	return c->spin_skip ? 0 : c->opt.spin_ns;
}
/* Record a wait's outcome: caught = the peer answered while we spun (1), or we went to
 * sleep (0). A wait made without spinning (budget 0) counts down the back-off. */
void shm_conn_spin_outcome(struct shm_conn *c, int caught);

/*
 * Begin attaching as side on a mapped region (the region must outlive the connection).
 * Side B formats the region first if shm_region_check fails. Side A returns SEVMON_ENOENT
 * while the region is not formatted yet (retry) and SEVMON_EPROTO for a bad header.
 * Bumps this side's epoch and resets its indices. opts may be NULL (futex, defaults).
 */
int shm_conn_attach_start(struct shm_conn *c, struct shm_region *r, enum shm_side side,
			  const struct shm_opts *opts);
/* One non-blocking attach step: 1 when the session is up, 0 not yet, negative on error. */
int shm_conn_attach_step(struct shm_conn *c);
/* start + steps until deadline_ns (CLOCK_MONOTONIC ns, lib/base/clock.h); waits as above.
 * Side A retries a not-yet-formatted region. Returns 0, SEVMON_ETIMEDOUT, EPROTO... */
int shm_conn_attach(struct shm_conn *c, struct shm_region *r, enum shm_side side,
		    const struct shm_opts *opts, int64_t deadline_ns);
/*
 * The whole opening for a transport URI: parse, map (side B may create a shm:// file;
 * side A retries a missing file until the deadline), attach with the URI's wake mode and
 * default spin settings. On success r stays mapped for the connection's life (unmap it
 * after the last use of c); on failure r is unmapped. Returns 0, SEVMON_EURI, ETIMEDOUT,
 * and the errors of shm_region_map and shm_conn_attach.
 */
int shm_conn_open(struct shm_conn *c, struct shm_region *r, const char *uri, enum shm_side side,
		  int64_t deadline_ns);
/* Mark this side CLOSED and wake the peer (it sees SEVMON_ECONNRESET). The region stays
 * mapped; attach again for a new session. */
void shm_conn_close(struct shm_conn *c);

/* Non-blocking send of one body (1..FRAME_MAX_BODY bytes, copied in): len when queued, 0
 * when the ring is full, SEVMON_EINVAL/ETOOBIG for a bad len, EPROTO, ECONNRESET. */
int shm_conn_send_nb(struct shm_conn *c, const void *body, size_t len);
/* Non-blocking receive into buf (cap >= FRAME_MAX_BODY): the body length, 0 when nothing
 * is there, or EPROTO / ECONNRESET. */
int shm_conn_recv_nb(struct shm_conn *c, void *buf, size_t cap);
/* Blocking variants: wait (spin, then sleep) until done or deadline_ns: send returns 0,
 * recv the body length; SEVMON_ETIMEDOUT at the deadline. */
int shm_conn_send(struct shm_conn *c, const void *body, size_t len, int64_t deadline_ns);
int shm_conn_recv(struct shm_conn *c, void *buf, size_t cap, int64_t deadline_ns);

#define SHM_READABLE 1u
#define SHM_WRITABLE 2u /* room for one record of send_len bytes */
/* Wait until one of events is ready: returns the ready mask (> 0), SEVMON_ETIMEDOUT, or a
 * fatal error. A peer reset/violation is "ready" too: it is returned as the error. */
int shm_conn_wait(struct shm_conn *c, unsigned events, size_t send_len, int64_t deadline_ns);
/* For event loops: 0 if a call would make progress now (readable, writable for
 * want_send_len when non-zero, or an error to report), else how many ms the loop may sleep
 * before checking again (backoff while idle; see the header comment). */
int shm_conn_poll_timeout_ms(struct shm_conn *c, size_t want_send_len);

/*
 * Bell mode, for event loops that have the bell's fd (c->bell->wait_fd) in their poll
 * set. Before sleeping: shm_conn_arm raises our waiting flag, fences and re-checks
 * pred-like readiness for events (0 for "attach progress" while not up): it returns
 * non-zero when something is ready already (the flag is lowered again: do not sleep),
 * 0 when the loop may sleep on the fd with no timeout. Once awake (rung or not):
 * shm_conn_disarm lowers the flag (a plain store: call it whenever the side is busy
 * again, so the peer does not ring for nothing); the loop clears the fd with
 * shm_bell_drain when poll said it was readable.
 */
int shm_conn_arm(struct shm_conn *c, unsigned events, size_t send_len);
void shm_conn_disarm(struct shm_conn *c);

/* 0 while the session is up, else the latched or current error (ECONNRESET, EPROTO). */
int shm_conn_check(struct shm_conn *c);
/* This side's and the peer's epochs of the current session. */
static inline uint32_t shm_conn_epoch(const struct shm_conn *c) { return c->epoch; }
static inline uint32_t shm_conn_peer_epoch(const struct shm_conn *c) { return c->peer_epoch; }

/* A deadline ms from now on the monotonic clock (clock_mono_ns, ns), for the calls above. */
int64_t shm_deadline_after_ms(int64_t ms);

/* Internal to the shm_*.c files. The waiting flag holds what the sleeper waits for
 * (SHM_READABLE / SHM_WRITABLE; both for attach progress): a side that published a record
 * rings only a peer waiting to read, one that freed room only a peer waiting to write. */
static inline uint32_t shm_wait_mask(unsigned events)
{
	events &= SHM_READABLE | SHM_WRITABLE;
	return events ? events : SHM_READABLE | SHM_WRITABLE;
}
void shm_notify_peer(struct shm_conn *c); /* whatever the peer waits for */
void shm_notify_peer_for(struct shm_conn *c, unsigned what);
typedef int (*shm_pred_fn)(struct shm_conn *c, unsigned events, size_t send_len);
/* Spin, then sleep (futex or poll backoff), until pred returns non-zero (returned) or the
 * deadline passes (SEVMON_ETIMEDOUT). */
int shm_wait_for(struct shm_conn *c, shm_pred_fn pred, unsigned events, size_t send_len,
		 int64_t deadline_ns);
int shm_conn_ready(struct shm_conn *c, unsigned events, size_t send_len);

/* 1 if uri names a shared-memory region (shm:// host side, shm+pci:// guest side): such a
 * URI is served by the loops' shm paths, not by xport_listen / xport_connect. */
static inline int shm_uri_is(const char *uri)
{
	return strncmp(uri, "shm://", 6) == 0 || strncmp(uri, "shm+pci://", 10) == 0 ||
	       strncmp(uri, "shm+ivshmem://", 14) == 0;
}

#endif
