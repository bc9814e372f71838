/* test_rpc_wqueue.c — the client's write queue: bytes come out in order, however cut. */
#include <stdint.h>
#include <stdlib.h>

#include "harness.h"
#include "rpc_wqueue.h"

/* Drain through rpc_wq_iov/consume in pieces of up to `step` bytes into out. */
static size_t drain(struct rpc_wq *q, uint8_t *out, size_t step)
{
	struct iovec iov[8];
	size_t got = 0;

	while (q->bytes) {
		int n = rpc_wq_iov(q, iov, 8);
		size_t take = 0;
		ASSERT(n > 0);
		for (int i = 0; i < n && take < step; i++) {
			size_t k = iov[i].iov_len < step - take ? iov[i].iov_len : step - take;
			memcpy(out + got + take, iov[i].iov_base, k);
			take += k;
		}
		rpc_wq_consume(q, take);
		got += take;
	}
	return got;
}

TEST(rpc_wq_append_consume_order_kept)
{
	enum { TOTAL = 3 * RPC_WQ_BLOCK + 12345 };
	uint8_t *in = malloc(TOTAL), *out = malloc(TOTAL);
	struct rpc_wq q;
	size_t off = 0, got = 0;
	uint32_t s = 5;

	for (size_t i = 0; i < TOTAL; i++)
		in[i] = (uint8_t)(i * 31 + (i >> 9));
	rpc_wq_init(&q);
	/* interleave appends of random sizes with partial drains */
	while (off < TOTAL) {
		s = s * 1664525u + 1013904223u;
		size_t n = (s >> 8) % 70000;
		if (n > TOTAL - off)
			n = TOTAL - off;
		ASSERT_EQ(rpc_wq_append(&q, in + off, n), 0);
		off += n;
		ASSERT_EQ(q.bytes, off - got);
		if (s & 1) {
			struct iovec iov[2];
			int k = rpc_wq_iov(&q, iov, 2);
			if (k > 0) {
				size_t take = iov[0].iov_len / 2 + 1;
				memcpy(out + got, iov[0].iov_base, take);
				rpc_wq_consume(&q, take);
				got += take;
			}
		}
	}
	got += drain(&q, out + got, 1000);
	ASSERT_EQ(got, TOTAL);
	ASSERT_MEMEQ(in, out, TOTAL);
	ASSERT_EQ(q.bytes, 0);
	/* reusable once empty */
	ASSERT_EQ(rpc_wq_append(&q, in, 10), 0);
	ASSERT_EQ(drain(&q, out, 3), 10);
	ASSERT_MEMEQ(in, out, 10);
	rpc_wq_fini(&q);
	free(in);
	free(out);
}

TEST(rpc_wq_iov_respects_max)
{
	struct rpc_wq q;
	struct iovec iov[2];
	uint8_t *big = calloc(1, 5 * RPC_WQ_BLOCK);

	rpc_wq_init(&q);
	ASSERT_EQ(rpc_wq_append(&q, big, 5 * RPC_WQ_BLOCK), 0);
	ASSERT_EQ(rpc_wq_iov(&q, iov, 2), 2);
	ASSERT_EQ(iov[0].iov_len + iov[1].iov_len, 2 * RPC_WQ_BLOCK);
	rpc_wq_fini(&q);
	ASSERT_EQ(q.bytes, 0);
	free(big);
}

TEST_MAIN()
