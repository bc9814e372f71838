#include "rpc_wqueue.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

void rpc_wq_init(struct rpc_wq *q)
{
	*q = (struct rpc_wq){ 0 };
}

void rpc_wq_fini(struct rpc_wq *q)
{
	struct rpc_wq_block *b = q->head;

	while (b) {
		struct rpc_wq_block *next = b->next;
		free(b);
		b = next;
	}
	free(q->spare);
	*q = (struct rpc_wq){ 0 };
}

static struct rpc_wq_block *block_new(struct rpc_wq *q)
{
	struct rpc_wq_block *b = q->spare;

	if (b)
		q->spare = NULL;
	else if (!(b = malloc(sizeof *b)))
		return NULL;
	b->next = NULL;
	b->start = b->end = 0;
	return b;
}

int rpc_wq_append(struct rpc_wq *q, const uint8_t *p, size_t n)
{
	size_t room = q->tail ? RPC_WQ_BLOCK - q->tail->end : 0;
	struct rpc_wq_block *first_new = NULL, *last_new = NULL;

	/* Get every block needed first, so a failure leaves the queue as it was. */
	for (size_t need = n > room ? n - room : 0; need > 0;) {
		struct rpc_wq_block *b = block_new(q);
		if (!b) {
			while (first_new) {
				struct rpc_wq_block *next = first_new->next;
				free(first_new);
				first_new = next;
			}
			return SEVMON_ENOMEM;
		}
		if (last_new)
			last_new->next = b;
		else
			first_new = b;
		last_new = b;
		need -= need < RPC_WQ_BLOCK ? need : RPC_WQ_BLOCK;
	}
	if (first_new) {
		if (q->tail)
			q->tail->next = first_new;
		else
			q->head = first_new;
	}
	struct rpc_wq_block *b = q->tail ? q->tail : first_new;
	while (n > 0) {
		size_t take = RPC_WQ_BLOCK - b->end;
		if (take > n)
			take = n;
		memcpy(b->data + b->end, p, take);
		b->end += take;
		q->bytes += take;
		p += take;
		n -= take;
		if (n > 0)
			b = b->next;
	}
	if (last_new)
		q->tail = last_new;
	return 0;
}

int rpc_wq_iov(const struct rpc_wq *q, struct iovec *iov, int max)
{
	int n = 0;

	for (const struct rpc_wq_block *b = q->head; b && n < max; b = b->next) {
		if (b->end == b->start)
			continue;
		iov[n].iov_base = (void *)(b->data + b->start);
		iov[n].iov_len = b->end - b->start;
		n++;
	}
	return n;
}

void rpc_wq_consume(struct rpc_wq *q, size_t n)
{
	while (n > 0 && q->head) {
		struct rpc_wq_block *b = q->head;
		size_t have = b->end - b->start;
		size_t take = have < n ? have : n;

		b->start += take;
		q->bytes -= take;
		n -= take;
		if (b->start == b->end) {
			if (b == q->tail) {
				/* the only block: reuse it in place */
				b->start = b->end = 0;
				break;
			}
			q->head = b->next;
			if (q->spare)
				free(b);
			else
				q->spare = b;
		}
	}
}
