/*
 * agent.h — the agent service: what sevmon-agent serves and within which bounds.
 *
 * The handlers (agent_handlers.c) implement the methods of idl/sevmon.proto over a
 * memory source (mem.h). They never interpret guest data beyond following the list
 * pointers WalkList is asked to follow, and never write guest memory.
 *
 * Every reply's bytes are staged in one arena owned by the agent, reset per request, so a
 * request can make the agent hold at most AGENT_ARENA_BYTES of guest data; the nanopb
 * encode callbacks stream from it.
 */
#ifndef SEVMON_AGENT_H
#define SEVMON_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "agent_loop.h"
#include "agent_pagewalk.h"
#include "mem.h"

/* Largest single ReadPhys / ReadVirt / Gather range: a 1 MiB read is ~ms of work, keeps a
 * reply well under the loop's reply cap, and is what the memory layer accepts. */
#define AGENT_MAX_READ MEM_MAX_READ
/* Ranges per Gather: the nanopb request storage holds this many (sevmon.options). */
#define AGENT_MAX_RANGES 1024u
/* Guest bytes staged for one reply. With encoding overhead (< 48 bytes per Gather range or
 * WalkList node, counted against the same budget) a reply stays under AGENT_MAX_REPLY. */
#define AGENT_ARENA_BYTES (3u * 1024u * 1024u)
/* Nodes one WalkList may visit: enough for ~30k processes in one round trip. The
 * visited set is sized for it (twice as many slots, open addressing). */
#define AGENT_MAX_WALK_NODES 32768u
/* Field windows per node (sevmon.options) and the most bytes one window may ask for. */
#define AGENT_MAX_WALK_FIELDS 16u
#define AGENT_MAX_WALK_WINDOW 4096u
/* Encoding overhead charged per Gather result / WalkList node against the arena budget:
 * covers the arena's 16-byte alignment, the per-range bookkeeping and protobuf framing. */
#define AGENT_REPLY_OVERHEAD 48u
/* Gather bytes advertised in GetInfo: any request within max_ranges and this many bytes
 * fits the arena whatever its shape, so a client that splits by these limits never
 * meets ETOOBIG. */
#define AGENT_MAX_GATHER_BYTES (AGENT_ARENA_BYTES - AGENT_MAX_RANGES * AGENT_REPLY_OVERHEAD - 4096u)

/* Scan: hits returned at most (sevmon.options), bytes searched per request (a whole guest's
 * RAM in one request; the deadline is checked per chunk), and the chunk read at a time. */
#define AGENT_MAX_SCAN_HITS 4096u
#define AGENT_MAX_SCAN_BYTES (64ull << 30)
#define AGENT_SCAN_CHUNK (1u << 20)

/* Hash: bytes hashed per request (a kernel's text and rodata are ~25 MiB; the deadline is
 * checked per leaf), and digests returned (16 bytes each: a 1 MiB reply at most). */
#define AGENT_MAX_HASH_BYTES (256u << 20)
#define AGENT_MAX_HASH_DIGESTS 65536u

#define AGENT_PROTOCOL_VERSION 1u
/* Methods GetInfo lists at most (its reply holds 32, sevmon.options). */
#define AGENT_MAX_METHODS 32u

struct agent {
	struct mem_source *mem;
	uint8_t *arena;
	size_t arena_used;
	uint64_t *walk_seen; /* 2 * AGENT_MAX_WALK_NODES slots */
	uint64_t vmcoreinfo_phys;
	uint32_t vmcoreinfo_size;
	struct agent_pt pt; /* page tables of the current request (AddrSpace VIRT_PT) */
	int pt_ok;          /* the current request supplied valid page tables */
	const uint32_t *method_ids; /* what GetInfo lists (agent_init) */
	size_t nmethods;
};

/* The per-request context the generated dispatch hands to each handler. */
struct agent_call {
	struct agent *agent;
	const struct agent_request *req;
	char *errmsg; /* a handler may explain its error here (errcap bytes) */
	size_t errcap;
};

/* Allocates the arena and walk set for mem (which stays the caller's), and lists the
 * generated table's methods for GetInfo (agent_serve.c). */
int agent_init(struct agent *a, struct mem_source *mem);
void agent_fini(struct agent *a);
/* The handlers' part of agent_init (agent_handlers.c): arena, walk set, VMCOREINFO. */
int agent_state_init(struct agent *a, struct mem_source *mem);

/* An agent_dispatch_fn (agent_loop.h) over the generated method table; ctx is the agent
 * (agent_serve.c). */
int agent_serve_request(void *ctx, const struct agent_request *req, struct wbuf *out,
			char *errmsg, size_t errcap);

#endif
