/*
 * gmem.h — guest memory as the introspection code sees it.
 *
 * The introspection library never reads guest memory directly: it asks a struct gmem, which
 * may be a live agent (each call = one RPC round trip), a memory image, or a test buffer.
 * The calls are batched on purpose: one gmem_gather() is one Gather request, one gmem_walk()
 * one WalkList request. The shapes mirror idl/sevmon.proto (Range, RangeResult, WalkList).
 *
 * Contract of a backend's gather(): fill r[i].out with r[i].len bytes and set r[i].status
 * to 0, or set r[i].status to a negative SEVMON_E* for that range alone (its out bytes are
 * then unspecified). Return 0 if the call itself went through (even when ranges failed), or a
 * negative SEVMON_E* when the whole round trip failed (then every status is meaningless).
 * A backend with walk == NULL gets the generic walk built on gather (several round trips).
 */
#ifndef SEVMON_GMEM_H
#define SEVMON_GMEM_H

#include <stddef.h>
#include <stdint.h>

enum gmem_space { GMEM_PHYS = 0, GMEM_VIRT = 1 }; /* = sevmon.v1.AddrSpace */

struct gmem_range {
	uint64_t addr;
	uint32_t len;
	uint8_t space; /* enum gmem_space */
	void *out;     /* caller-owned, len bytes */
	int status;    /* per-range result, set by the backend */
};

/* A field window of a list node: offset from the node base (= link address - link_off).
 * A deref window (len 8) holds a pointer p; deref_len bytes at p + deref_off follow the
 * window's own bytes in the node's data. A deref that cannot be read (p == 0, unmapped) is
 * zeros there and sets bit i (window i) in out->faults[node]; it does not stop the walk. */
struct gmem_window {
	uint32_t off;
	uint32_t len;
	uint8_t deref;
	uint32_t deref_off;
	uint32_t deref_len;
};

enum gmem_walk_stop { /* = sevmon.v1.WalkStop */
	GMEM_STOP_HEAD = 0,
	GMEM_STOP_MAX_NODES = 1,
	GMEM_STOP_CYCLE = 2,
	GMEM_STOP_FAULT = 3,
	GMEM_STOP_NULL = 4,
	GMEM_STOP_BUDGET = 5,
};

struct gmem_walk_req {
	uint64_t head;     /* address of the list head (a list_head) */
	uint32_t next_off; /* offset of the next pointer within a link (0 for list_head) */
	uint32_t link_off; /* offset of the link within a node (container_of) */
	const struct gmem_window *win;
	size_t nwin;
	size_t max_nodes;
	uint8_t space;
};

/* Caller-owned output: nodes[max_nodes], data[max_nodes * gmem_walk_stride(req)] and, when a
 * window derefs, faults[max_nodes] (else it may be NULL). */
struct gmem_walk_out {
	uint64_t *nodes; /* node base addresses */
	uint8_t *data;   /* node i's windows (each followed by its deref), at data + i * stride */
	uint32_t *faults; /* node i: bit w set when window w's deref failed (its bytes are zeros) */
	size_t n;        /* nodes filled */
	int stop;        /* enum gmem_walk_stop */
	int status;      /* the fault that stopped the walk, else 0 */
};

/* A Hash of [addr, addr + len) (lib/mem/mem_digest.h: leaves of `leaf` bytes, `group`
 * leaves per digest); out holds gmem_hash_count(h) * MEM_DIGEST_LEN bytes, status is this
 * range's result (a leaf that cannot be read fails it alone). */
struct gmem_hash {
	uint64_t addr;
	uint32_t len;
	uint8_t space;
	uint32_t leaf, group;
	uint8_t *out;
	int status;
};
/* Digests h yields. */
size_t gmem_hash_count(const struct gmem_hash *h);

/* One walk of a round: its request (and the windows it points at) stay valid until the
 * round is flushed; status is the walk's result (gmem_walk's return). */
struct gmem_walk_job {
	const struct gmem_walk_req *req;
	struct gmem_walk_out *out;
	int status;
};

struct gmem_ops {
	int (*gather)(void *ctx, struct gmem_range *r, size_t n);
	int (*walk)(void *ctx, const struct gmem_walk_req *req, struct gmem_walk_out *out);
	/* Find pattern in the physical memory the backend serves from address `from` on
	 * (hits at multiples of align, at most max, ascending): the number of hits or a
	 * negative SEVMON_E*. NULL: the backend cannot (gmem_scan says ENOTSUP). */
	int (*scan)(void *ctx, uint64_t from, const void *pattern, size_t plen, uint32_t align,
		    uint64_t *hits, size_t max);
	/* Hash: one request for all n (the limits are the caller's: gmem_hash splits). NULL:
	 * the bytes are read with gather and hashed here. */
	int (*hash)(void *ctx, struct gmem_hash *h, size_t n);
	/* Everything one round holds, in flight at once: nr ranges (already split by the
	 * gmem's limits into nb gathers of at most max_ranges / max_bytes; bounds[k] is
	 * gather k's first range), the walks (validated) and the hashes (sendable, any
	 * number: the op splits them into requests). Returns 0 when the requests went
	 * through (per-item results in their status), or the error that lost the round.
	 * NULL: they are sent one after the other. */
	int (*round)(void *ctx, struct gmem_range *r, size_t nr, const size_t *bounds, size_t nb,
		     struct gmem_walk_job *w, size_t nw, struct gmem_hash *h, size_t nh);
};

struct gmem {
	const struct gmem_ops *ops;
	void *ctx;
	int virt;            /* the backend serves GMEM_VIRT ranges (placement (a)) */
	uint32_t max_ranges; /* most ranges in one gather (agent's GetInfo.max_ranges), 0 = default */
	uint32_t max_bytes;  /* most bytes in one gather (GetInfo.max_gather_bytes), 0 = default */
	uint64_t trips;      /* requests made through this gmem */
	uint64_t rounds;     /* round trips: requests in flight together (a round) count once */
	uint64_t bytes;      /* payload bytes requested */
};

/* Most nodes one walk may visit: the kernel's pid_max ceiling is 4M, but a task list longer
 * than this in a monitored VM is already an anomaly worth a partial result. */
#define GMEM_WALK_MAX_NODES 65536u
/* Most windows per node and bytes per node: a handful of fields, never whole structs. */
#define GMEM_WALK_MAX_WINDOWS 16u
#define GMEM_WALK_MAX_STRIDE 4096u

/* One round trip. Splits into several when n > g->max_ranges (each counted). Returns 0 or
 * the backend's error; per-range results are in r[i].status. */
int gmem_gather(struct gmem *g, struct gmem_range *r, size_t n);
/* Read one range; returns 0 or that range's error. */
int gmem_read(struct gmem *g, uint64_t addr, uint8_t space, void *out, uint32_t len);
/* Largest range gmem_read_big puts in one gather entry: the agent's default max_read. */
#define GMEM_CHUNK (64u << 10)
/* Read len bytes as ceil(len / GMEM_CHUNK) ranges in as few round trips as the limits allow.
 * Returns 0 or the first failing range's error. */
int gmem_read_big(struct gmem *g, uint64_t addr, uint8_t space, void *out, size_t len);
/* Scan from physical address `from` on: one round trip (counted). ENOTSUP when the backend
 * cannot scan. */
int gmem_scan(struct gmem *g, uint64_t from, const void *pattern, size_t plen, uint32_t align,
	      uint64_t *hits, size_t max);
/* WalkList: the backend's walk, or the fallback (one gather per node, one more for all the
 * derefs). Validates req (windows, max_nodes <= GMEM_WALK_MAX_NODES, stride <=
 * GMEM_WALK_MAX_STRIDE, a deref window is 8 bytes, out->faults given when one derefs):
 * ETOOBIG / EINVAL. */
int gmem_walk(struct gmem *g, const struct gmem_walk_req *req, struct gmem_walk_out *out);
/* The walk done with gathers on g: one round trip per node, then the derefs of every node in
 * as few gathers as g's limits allow. This is what gmem_walk falls back
 * to, and what a backend that walks locally (an agent, a memory image) can run on itself. */
int gmem_walk_generic(struct gmem *g, const struct gmem_walk_req *req, struct gmem_walk_out *out);
/* Bytes of one node's windows and derefs in out->data. */
size_t gmem_walk_stride(const struct gmem_walk_req *req);

/* Hash n ranges: one request (more when n or the digests exceed a request's bounds:
 * GMEM_HASH_MAX_RANGES ranges, GMEM_HASH_MAX_BYTES hashed). Without a backend hash the
 * bytes are read with gathers and hashed here (the same digests). Returns 0 or the error
 * of the round trip; per-range results in h[i].status (EINVAL for bad leaf/group). */
#define GMEM_HASH_MAX_RANGES 64u
#define GMEM_HASH_MAX_BYTES (256u << 20)
#define GMEM_HASH_MAX_DIGESTS 65536u
int gmem_hash(struct gmem *g, struct gmem_hash *h, size_t n);
/* How many of h[0..n) (each sendable) one Hash request takes: one shape (leaf, group),
 * within the bounds above; at least 1 when n > 0. */
size_t gmem_hash_batch(const struct gmem_hash *h, size_t n);

/*
 * Rounds: the reads of many checks that do not depend on each other, sent together (one
 * Gather, split only by the gmem's limits, and every walk and hash in flight at the same
 * time), so that a sweep costs as many round trips as its longest chain of dependent
 * reads, not the sum of its checks' reads. Queue with gmem_round_read/_walk/_hash (the
 * buffers, requests and status words given must stay valid until the flush), then
 * gmem_round_flush: one round trip for all of it (g->rounds + 1), after which every
 * queued item has its result. A round is reusable after a flush; gmem_round_free at the end.
 */
struct gmem_round {
	struct gmem *g;
	struct gmem_range *r;
	int **rst; /* where each range's status goes (several ranges of one read share one) */
	size_t nr, rcap;
	struct gmem_walk_job *w;
	int **wst;
	size_t nw, wcap;
	struct gmem_hash *h;
	struct gmem_hash **hout; /* the caller's hash items, copied back after the flush */
	size_t nh, hcap;
	int err; /* ENOMEM while queueing: the flush reports it */
};
void gmem_round_init(struct gmem_round *q, struct gmem *g);
/* Queue a read of len bytes (any length: split into GMEM_CHUNK pieces); *status gets 0 or
 * the first failing piece's error. */
void gmem_round_read(struct gmem_round *q, uint64_t addr, uint8_t space, void *out, size_t len,
		     int *status);
void gmem_round_walk(struct gmem_round *q, const struct gmem_walk_req *req,
		     struct gmem_walk_out *out, int *status);
void gmem_round_hash(struct gmem_round *q, struct gmem_hash *h);
/* Anything queued? */
int gmem_round_pending(const struct gmem_round *q);
/* Send what is queued (nothing queued: no round trip). 0, or the error that lost the
 * round (ENOMEM from queueing, the connection's): then every status holds it too. */
int gmem_round_flush(struct gmem_round *q);
void gmem_round_free(struct gmem_round *q);

#endif
