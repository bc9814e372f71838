#include "rpc_pending.h"

#include <stdlib.h>

#include "err.h"

/* Far above any sensible in-flight count; keeps the bucket arithmetic well inside u32. */
#define RPC_PEND_MAX_CAP (1u << 24)

int rpc_pend_init(struct rpc_pend *t, uint32_t max)
{
	uint32_t nb = 1;

	*t = (struct rpc_pend){ 0 };
	if (max == 0 || max > RPC_PEND_MAX_CAP)
		return SEVMON_EINVAL;
	while (nb < max)
		nb <<= 1;
	t->buckets = calloc(nb, sizeof *t->buckets);
	t->heap = calloc(max, sizeof *t->heap);
	if (!t->buckets || !t->heap) {
		rpc_pend_fini(t);
		return SEVMON_ENOMEM;
	}
	t->mask = nb - 1;
	t->max = max;
	t->next_id = 1;
	return 0;
}

void rpc_pend_fini(struct rpc_pend *t)
{
	free(t->buckets);
	free(t->heap);
	*t = (struct rpc_pend){ 0 };
}

struct rpc_req *rpc_pend_find(const struct rpc_pend *t, uint32_t id)
{
	struct rpc_req *r = t->buckets[id & t->mask];

	while (r && r->id != id)
		r = r->hnext;
	return r;
}

uint32_t rpc_pend_new_id(struct rpc_pend *t)
{
	/* Terminates: fewer than max ids are in use and 2^32 - 1 candidates exist. */
	for (;;) {
		uint32_t id = t->next_id++;
		if (t->next_id == 0)
			t->next_id = 1;
		if (id != 0 && !rpc_pend_find(t, id))
			return id;
	}
}

/* min-heap on deadline; heap_idx kept in each request for O(log n) removal */
static int earlier(const struct rpc_req *a, const struct rpc_req *b)
{
	return a->deadline < b->deadline;
}

static void heap_set(struct rpc_pend *t, uint32_t i, struct rpc_req *r)
{
	t->heap[i] = r;
	r->heap_idx = i;
}

static void sift_up(struct rpc_pend *t, uint32_t i)
{
	struct rpc_req *r = t->heap[i];

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (!earlier(r, t->heap[parent]))
			break;
		heap_set(t, i, t->heap[parent]);
		i = parent;
	}
	heap_set(t, i, r);
}

static void sift_down(struct rpc_pend *t, uint32_t i)
{
	struct rpc_req *r = t->heap[i];

	for (;;) {
		uint32_t child = 2 * i + 1;
		if (child >= t->heap_len)
			break;
		if (child + 1 < t->heap_len && earlier(t->heap[child + 1], t->heap[child]))
			child++;
		if (!earlier(t->heap[child], r))
			break;
		heap_set(t, i, t->heap[child]);
		i = child;
	}
	heap_set(t, i, r);
}

void rpc_pend_insert(struct rpc_pend *t, struct rpc_req *r)
{
	struct rpc_req **b = &t->buckets[r->id & t->mask];

	r->hnext = *b;
	*b = r;
	r->next = NULL;
	r->prev = t->newest;
	if (t->newest)
		t->newest->next = r;
	else
		t->oldest = r;
	t->newest = r;
	t->count++;
	r->heap_idx = RPC_PEND_NOT_IN_HEAP;
	if (r->deadline) {
		heap_set(t, t->heap_len++, r);
		sift_up(t, r->heap_idx);
	}
}

void rpc_pend_remove(struct rpc_pend *t, struct rpc_req *r)
{
	struct rpc_req **pp = &t->buckets[r->id & t->mask];

	while (*pp && *pp != r)
		pp = &(*pp)->hnext;
	if (!*pp)
		return; /* not in the table */
	*pp = r->hnext;
	r->hnext = NULL;
	if (r->prev)
		r->prev->next = r->next;
	else
		t->oldest = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		t->newest = r->prev;
	r->prev = r->next = NULL;
	t->count--;
	if (r->heap_idx != RPC_PEND_NOT_IN_HEAP) {
		uint32_t i = r->heap_idx;
		struct rpc_req *last = t->heap[--t->heap_len];
		r->heap_idx = RPC_PEND_NOT_IN_HEAP;
		if (i < t->heap_len) {
			heap_set(t, i, last);
			sift_up(t, i);
			sift_down(t, last->heap_idx);
		}
	}
}
