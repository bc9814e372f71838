/*
 * rpc_pending.h — internal to the RPC client: the table of requests in flight.
 *
 * Finds a request by id in O(1) (ids are handed out sequentially, so id & mask spreads
 * them evenly over the buckets) and keeps the requests that have a deadline in a binary
 * min-heap, so one loop timer armed at the earliest deadline serves thousands of requests.
 * All storage is sized once at init from the in-flight limit: inserting never allocates.
 * The table links requests; it never frees them.
 */
#ifndef SEVMON_RPC_PENDING_H
#define SEVMON_RPC_PENDING_H

#include <stddef.h>
#include <stdint.h>

#include "rpc_wire.h"

#define RPC_PEND_NOT_IN_HEAP UINT32_MAX

struct rpc_req {
	/* set by the client */
	uint32_t id;
	uint16_t method;
	void (*cb)(void *user, int status, const char *errmsg, const uint8_t *payload,
		   size_t len);
	void *user;
	uint64_t deadline; /* loop time in ms; 0 = none */
	int status;        /* for a deferred completion */
	struct rpc_reasm reasm;
	uint32_t reply_status; /* of the first fragment, which later ones must repeat */
	uint8_t reply_flags;
	size_t charged;        /* bytes of the reassembly budget this reply holds */
	struct rpc_req *dnext; /* deferred-completion list, once out of the table */
	/* owned by the table */
	struct rpc_req *hnext;             /* bucket chain */
	struct rpc_req *prev, *next;       /* all pending, oldest first */
	uint32_t heap_idx;                 /* RPC_PEND_NOT_IN_HEAP when no deadline */
};

struct rpc_pend {
	struct rpc_req **buckets;
	uint32_t mask;
	struct rpc_req **heap;
	uint32_t heap_len;
	uint32_t count;
	uint32_t max;
	uint32_t next_id;
	struct rpc_req *oldest, *newest;
};

/* Room for max requests. 0 or SEVMON_ENOMEM / SEVMON_EINVAL (max 0 or absurd). */
int rpc_pend_init(struct rpc_pend *t, uint32_t max);
void rpc_pend_fini(struct rpc_pend *t); /* frees the table's arrays, not the requests */

/* A fresh id: never 0, never one in use. Only valid while count < max. */
uint32_t rpc_pend_new_id(struct rpc_pend *t);
/* Insert r (r->id set, r->deadline set or 0). Caller guarantees count < max. */
void rpc_pend_insert(struct rpc_pend *t, struct rpc_req *r);
struct rpc_req *rpc_pend_find(const struct rpc_pend *t, uint32_t id);
void rpc_pend_remove(struct rpc_pend *t, struct rpc_req *r);
/* The request with the earliest deadline, or NULL. */
static inline struct rpc_req *rpc_pend_earliest(const struct rpc_pend *t)
{
	return t->heap_len ? t->heap[0] : NULL;
}
/* The oldest pending request, or NULL: for failing them all in call order. */
static inline struct rpc_req *rpc_pend_oldest(const struct rpc_pend *t) { return t->oldest; }

#endif
