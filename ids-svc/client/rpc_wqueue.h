/*
 * rpc_wqueue.h — internal to the RPC client: the bytes waiting for the fd to take them.
 *
 * A FIFO of fixed-size blocks, so appending never moves queued bytes and a write(v) can
 * take several blocks at once. The queue does not bound itself: the client checks its
 * limit (max_write_queued) before appending. One drained block is kept as a spare so a
 * steady stream of small requests does not malloc/free per call.
 */
#ifndef SEVMON_RPC_WQUEUE_H
#define SEVMON_RPC_WQUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* One maximal frame (2 + 65535) fits a block, and a block is a cheap malloc. */
#define RPC_WQ_BLOCK (64u << 10)

struct rpc_wq_block {
	struct rpc_wq_block *next;
	size_t start, end; /* queued bytes are data[start..end) */
	uint8_t data[RPC_WQ_BLOCK];
};

struct rpc_wq {
	struct rpc_wq_block *head, *tail, *spare;
	size_t bytes;
};

void rpc_wq_init(struct rpc_wq *q);
void rpc_wq_fini(struct rpc_wq *q); /* frees every block */
/* Append n bytes. 0 or SEVMON_ENOMEM (then nothing was appended). */
int rpc_wq_append(struct rpc_wq *q, const uint8_t *p, size_t n);
/* Fill up to max iovecs with the queued bytes in order; returns how many were filled. */
int rpc_wq_iov(const struct rpc_wq *q, struct iovec *iov, int max);
/* Drop the first n bytes (n <= q->bytes): they were written. */
void rpc_wq_consume(struct rpc_wq *q, size_t n);

#endif
