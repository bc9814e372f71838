/*
 * kview_xa.c — an XArray (a Linux IDR) read level by level (kview.h: kv_xa_step), for the
 * views indexed by one: the PID namespace's pids, the BPF programs.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kview.h"
#include "rbuf.h"

/*
 * The IDR is an XArray (include/linux/xarray.h): xa_head is NULL, one entry (index 0
 * only), or a node; a node has `shift` and XA_CHUNK_SIZE slots; an entry whose low two
 * bits are 2 and that is above 4096 is a node (address - 2); other internal entries
 * (retry, sibling: 2 with a small value) and value entries (bit 0) are skipped; anything
 * else is a leaf: here a struct pid *. Read level by level, one round each, the whole
 * slot array of every node at once.
 */
#define XA_NODE_TAG 2u

static int xa_is_node(uint64_t e)
{
	return (e & 3) == XA_NODE_TAG && e > 4096 && kv_kaddr(e);
}

static int xa_add_leaf(struct xa_walk *x, uint64_t e, size_t max)
{
	if (!e || (e & 3))
		return 0; /* empty, a value or an internal entry that is no node */
	if (!kv_kaddr(e)) {
		x->partial = 1;
		return 0;
	}
	if (x->nleaves == max) {
		x->partial = 1;
		return 0;
	}
	if (x->nleaves == x->cap) {
		size_t c = x->cap ? x->cap * 2 : 256;
		uint64_t *v = realloc(x->leaves, c * sizeof *v);
		if (!v)
			return SEVMON_ENOMEM;
		x->leaves = v;
		x->cap = c;
	}
	x->leaves[x->nleaves++] = e;
	return 0;
}

/* Queue the nodes of the next level from entries e[0..n): returns how many were queued. */
static int xa_queue(struct xa_walk *x, struct gmem_round *q, const uint64_t *e, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += xa_is_node(e[i]);
	for (size_t i = 0; i < x->n; i++)
		free(x->nodes[i].b);
	free(x->nodes);
	x->nodes = NULL;
	x->n = 0;
	if (!k)
		return 0;
	if (x->total + k > KV_MAX_XA_NODES || x->depth >= KV_XA_MAX_DEPTH) {
		x->partial = 1;
		return 0;
	}
	x->nodes = calloc(k, sizeof *x->nodes);
	if (!x->nodes)
		return SEVMON_ENOMEM;
	size_t span = x->p->xa_node_slots.off + x->nslots * 8 - x->p->xa_node_shift.off;
	for (size_t i = 0; i < n; i++) {
		if (!xa_is_node(e[i]))
			continue;
		struct xa_node_buf *nb = &x->nodes[x->n++];
		nb->addr = e[i] - XA_NODE_TAG;
		if (!(nb->b = malloc(span)))
			return SEVMON_ENOMEM;
		gmem_round_read(q, nb->addr + x->p->xa_node_shift.off, GMEM_VIRT, nb->b, span, &nb->st);
	}
	x->total += k;
	x->depth++;
	return (int)k;
}

/* After a level's round: its slots become leaves or the next level's nodes. */
static int xa_level(struct xa_walk *x, struct gmem_round *q, size_t max)
{
	size_t slot0 = x->p->xa_node_slots.off - x->p->xa_node_shift.off;
	size_t n = 0;
	uint64_t *next = calloc(x->n * x->nslots + 1, sizeof *next);
	if (!next)
		return SEVMON_ENOMEM;
	for (size_t i = 0; i < x->n; i++) {
		const struct xa_node_buf *nb = &x->nodes[i];
		if (nb->st < 0) {
			x->partial = 1;
			continue;
		}
		for (size_t j = 0; j < x->nslots; j++) {
			uint64_t e = load_le64(nb->b + slot0 + 8 * j);
			if (xa_is_node(e))
				next[n++] = e;
			else if (xa_add_leaf(x, e, max) < 0) {
				free(next);
				return SEVMON_ENOMEM;
			}
		}
	}
	int rc = xa_queue(x, q, next, n);
	free(next);
	return rc;
}

void kv_xa_free(struct xa_walk *x)
{
	for (size_t i = 0; i < x->n; i++)
		free(x->nodes[i].b);
	free(x->nodes);
	free(x->leaves);
	memset(x, 0, sizeof *x);
}

/* One step of the walk of the XArray whose xa_head is at head: 1 while levels remain
 * (queued), 0 when x->leaves holds every entry, < 0 on error. stage counts calls. */
int kv_xa_step(struct xa_walk *x, const struct kprofile *p, uint64_t head, int stage,
		   struct gmem_round *q, size_t max)
{
	if (stage == 0) {
		x->p = p;
		x->nslots = p->xa_node_slots.size / 8;
		if (!x->nslots || x->nslots > 256)
			return SEVMON_ENOTSUP;
		gmem_round_read(q, head, GMEM_VIRT, x->head, 8, &x->head_st);
		return 1;
	}
	if (stage == 1) {
		if (x->head_st < 0)
			return x->head_st;
		uint64_t e = load_le64(x->head);
		if (!xa_is_node(e)) {
			int rc = xa_add_leaf(x, e, max);
			return rc < 0 ? rc : 0;
		}
		int rc = xa_queue(x, q, &e, 1);
		return rc < 0 ? rc : rc > 0;
	}
	int rc = xa_level(x, q, max);
	return rc < 0 ? rc : rc > 0;
}

