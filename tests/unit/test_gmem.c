/* test_gmem.c — round-trip accounting and the WalkList fallback (complete, looping, torn,
 * NULL-terminated and over-long lists) on a flat test memory. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "gmem.h"
#include "harness.h"
#include "mem_digest.h"
#include "rbuf.h"

#define MEM_SIZE (4u * 65536u)

struct flat {
	uint8_t mem[MEM_SIZE];
	uint64_t calls;
};

static int flat_gather(void *ctx, struct gmem_range *r, size_t n)
{
	struct flat *f = ctx;
	f->calls++;
	for (size_t i = 0; i < n; i++) {
		r[i].status = SEVMON_EFAULT;
		if (r[i].addr <= MEM_SIZE && r[i].len <= MEM_SIZE - r[i].addr) {
			memcpy(r[i].out, f->mem + r[i].addr, r[i].len);
			r[i].status = 0;
		}
	}
	return 0;
}

static const struct gmem_ops flat_ops = { .gather = flat_gather };

/* Nodes of 64 bytes at 0x1000 + 0x100*i: a u32 id at 0, the link (next, prev) at 16. */
#define LINK_OFF 16u
static uint64_t node(int i) { return 0x1000u + 0x100u * (unsigned)i; }

static void make_list(struct flat *f, int n, uint64_t head)
{
	uint64_t prev = head;
	for (int i = 0; i < n; i++) {
		store_le32(f->mem + node(i), (uint32_t)(100 + i));
		store_le64(f->mem + prev, node(i) + LINK_OFF);
		prev = node(i) + LINK_OFF;
	}
	store_le64(f->mem + prev, head);
}

struct walk {
	uint64_t nodes[64];
	uint8_t data[64 * 4];
	struct gmem_walk_out out;
};

static int do_walk(struct gmem *g, uint64_t head, size_t max, struct walk *w)
{
	static const struct gmem_window win[] = { { 0, 4 } };
	struct gmem_walk_req req = { .head = head, .next_off = 0, .link_off = LINK_OFF,
		.win = win, .nwin = 1, .max_nodes = max, .space = GMEM_PHYS };
	w->out = (struct gmem_walk_out){ .nodes = w->nodes, .data = w->data };
	return gmem_walk(g, &req, &w->out);
}

TEST(gmem_walk_complete_list_stops_at_head)
{
	static struct flat f;
	struct gmem g = { .ops = &flat_ops, .ctx = &f };
	struct walk w;
	make_list(&f, 5, 0x100);
	ASSERT_EQ(do_walk(&g, 0x100, 64, &w), 0);
	ASSERT_EQ(w.out.stop, GMEM_STOP_HEAD);
	ASSERT_UEQ(w.out.n, 5);
	for (int i = 0; i < 5; i++) {
		ASSERT_UEQ(w.nodes[i], node(i));
		ASSERT_UEQ(load_le32(w.data + 4 * i), 100 + i);
	}
	ASSERT_UEQ(g.trips, 6); /* the fallback: the head, then one gather per node */
}

TEST(gmem_walk_loop_not_through_head_is_cycle)
{
	static struct flat f;
	struct gmem g = { .ops = &flat_ops, .ctx = &f };
	struct walk w;
	make_list(&f, 5, 0x100);
	store_le64(f.mem + node(4) + LINK_OFF, node(1) + LINK_OFF); /* 4 -> 1 */
	ASSERT_EQ(do_walk(&g, 0x100, 64, &w), 0);
	ASSERT_EQ(w.out.stop, GMEM_STOP_CYCLE);
	ASSERT_UEQ(w.out.n, 5);
}

TEST(gmem_walk_torn_pointer_is_fault)
{
	static struct flat f;
	struct gmem g = { .ops = &flat_ops, .ctx = &f };
	struct walk w;
	make_list(&f, 5, 0x100);
	store_le64(f.mem + node(2) + LINK_OFF, 0xdead0000beefull);
	ASSERT_EQ(do_walk(&g, 0x100, 64, &w), 0);
	ASSERT_EQ(w.out.stop, GMEM_STOP_FAULT);
	ASSERT_EQ(w.out.status, SEVMON_EFAULT);
	ASSERT_UEQ(w.out.n, 3);
}

TEST(gmem_walk_null_and_max_nodes)
{
	static struct flat f;
	struct gmem g = { .ops = &flat_ops, .ctx = &f };
	struct walk w;
	make_list(&f, 5, 0x100);
	ASSERT_EQ(do_walk(&g, 0x100, 3, &w), 0);
	ASSERT_EQ(w.out.stop, GMEM_STOP_MAX_NODES);
	ASSERT_UEQ(w.out.n, 3);
	store_le64(f.mem + node(1) + LINK_OFF, 0);
	ASSERT_EQ(do_walk(&g, 0x100, 64, &w), 0);
	ASSERT_EQ(w.out.stop, GMEM_STOP_NULL);
	ASSERT_UEQ(w.out.n, 2);
	ASSERT_EQ(do_walk(&g, MEM_SIZE, 64, &w), 0); /* the head itself unreadable */
	ASSERT_EQ(w.out.stop, GMEM_STOP_FAULT);
	ASSERT_UEQ(w.out.n, 0);
}

TEST(gmem_walk_rejects_oversize_request)
{
	static struct flat f;
	struct gmem g = { .ops = &flat_ops, .ctx = &f };
	struct walk w;
	ASSERT_EQ(do_walk(&g, 0x100, GMEM_WALK_MAX_NODES + 1, &w), SEVMON_ETOOBIG);
	struct gmem_window big[] = { { 0, GMEM_WALK_MAX_STRIDE + 1 } };
	struct gmem_walk_req req = { .head = 0x100, .win = big, .nwin = 1, .max_nodes = 1 };
	ASSERT_EQ(gmem_walk(&g, &req, &w.out), SEVMON_ETOOBIG);
	req.win = big;
	big[0].len = 4;
	req.space = GMEM_VIRT; /* a physical-only backend */
	ASSERT_EQ(gmem_walk(&g, &req, &w.out), SEVMON_ENOTSUP);
	ASSERT_UEQ(g.trips, 0);
}

TEST(gmem_gather_splits_by_backend_limits)
{
	static struct flat f;
	struct gmem g = { .ops = &flat_ops, .ctx = &f, .max_ranges = 4, .max_bytes = 64 };
	uint8_t out[10][16];
	struct gmem_range r[10];
	for (int i = 0; i < 10; i++)
		r[i] = (struct gmem_range){ .addr = (uint64_t)i * 16, .len = 16, .out = out[i] };
	ASSERT_EQ(gmem_gather(&g, r, 10), 0);
	ASSERT_UEQ(g.trips, 3); /* 4 + 4 + 2 ranges, 64 bytes each at most */
	ASSERT_UEQ(f.calls, 3);
	ASSERT_UEQ(g.bytes, 160);
	r[0].len = 65;
	ASSERT_EQ(gmem_gather(&g, r, 1), SEVMON_ETOOBIG);
	uint8_t big[100];
	f.mem[99] = 7;
	g.max_bytes = 0;
	ASSERT_EQ(gmem_read_big(&g, 0, GMEM_PHYS, big, sizeof big), 0);
	ASSERT_EQ(big[99], 7);
	ASSERT_EQ(gmem_read(&g, MEM_SIZE - 2, GMEM_PHYS, big, 4), SEVMON_EFAULT);
}

/* ---- rounds and hashes ---- */

struct rounder {
	struct flat f;
	uint64_t rounds, gathers, walks, hashes;
};

static int rd_gather(void *ctx, struct gmem_range *r, size_t n)
{
	return flat_gather(&((struct rounder *)ctx)->f, r, n);
}

static int rd_walk(void *ctx, const struct gmem_walk_req *req, struct gmem_walk_out *out)
{
	struct rounder *x = ctx;
	struct gmem g = { .ops = &flat_ops, .ctx = &x->f };
	return gmem_walk_generic(&g, req, out);
}

static int rd_hash(void *ctx, struct gmem_hash *h, size_t n)
{
	struct rounder *x = ctx;
	for (size_t i = 0; i < n; i++) {
		h[i].status = SEVMON_EFAULT;
		if (h[i].addr <= MEM_SIZE && h[i].len <= MEM_SIZE - h[i].addr)
			h[i].status = mem_digest_buf(x->f.mem + h[i].addr, h[i].len, h[i].leaf,
						     h[i].group, h[i].out);
	}
	return 0;
}

static int rd_round(void *ctx, struct gmem_range *r, size_t nr, const size_t *bounds, size_t nb,
		    struct gmem_walk_job *w, size_t nw, struct gmem_hash *h, size_t nh)
{
	struct rounder *x = ctx;
	x->rounds++;
	for (size_t k = 0; k < nb; k++) {
		size_t end = k + 1 < nb ? bounds[k + 1] : nr;
		x->gathers++;
		rd_gather(ctx, r + bounds[k], end - bounds[k]);
	}
	for (size_t i = 0; i < nw; i++, x->walks++)
		w[i].status = rd_walk(ctx, w[i].req, w[i].out);
	for (size_t i = 0; i < nh; i += gmem_hash_batch(h + i, nh - i), x->hashes++)
		rd_hash(ctx, h + i, gmem_hash_batch(h + i, nh - i));
	return 0;
}

static const struct gmem_ops round_ops = { .gather = rd_gather, .walk = rd_walk,
	.hash = rd_hash, .round = rd_round };

/* One round of everything: reads (one too big for a piece, one failing), a walk, two
 * hashes of different shapes; against the same done one call at a time. */
static void round_all(struct gmem *g, struct flat *f)
{
	for (size_t i = 0; i < MEM_SIZE; i++)
		f->mem[i] = (uint8_t)(i * 7 + 3);
	make_list(f, 5, 0x100);
	static uint8_t big[GMEM_CHUNK + 100], small[16], bad[8];
	int st_big = 1, st_small = 1, st_bad = 0, st_walk = 1;
	struct walk w;
	static const struct gmem_window win[] = { { 0, 4 } };
	struct gmem_walk_req req = { .head = 0x100, .link_off = LINK_OFF, .win = win, .nwin = 1,
				     .max_nodes = 64, .space = GMEM_PHYS };
	w.out = (struct gmem_walk_out){ .nodes = w.nodes, .data = w.data };
	uint8_t d1[16 * MEM_DIGEST_LEN], d2[MEM_DIGEST_LEN], want[16 * MEM_DIGEST_LEN];
	struct gmem_hash h1 = { .addr = 0, .len = 16 * 4096, .leaf = 4096, .group = 1, .out = d1 };
	struct gmem_hash h2 = { .addr = 0, .len = 16 * 4096, .leaf = 4096, .group = 16, .out = d2 };
	struct gmem_hash h3 = { .addr = 0, .len = 4096, .leaf = 100, .group = 1, .out = d2 };
	struct gmem_round q;
	gmem_round_init(&q, g);
	ASSERT(!gmem_round_pending(&q));
	ASSERT_EQ(gmem_round_flush(&q), 0); /* nothing queued: no round trip */
	ASSERT_UEQ(g->rounds, 0);
	gmem_round_read(&q, 0, GMEM_PHYS, big, sizeof big, &st_big);
	gmem_round_read(&q, 0x20, GMEM_PHYS, small, sizeof small, &st_small);
	gmem_round_read(&q, MEM_SIZE - 4, GMEM_PHYS, bad, sizeof bad, &st_bad);
	gmem_round_walk(&q, &req, &w.out, &st_walk);
	gmem_round_hash(&q, &h1);
	gmem_round_hash(&q, &h2);
	gmem_round_hash(&q, &h3);
	ASSERT(gmem_round_pending(&q));
	ASSERT_EQ(gmem_round_flush(&q), 0);
	ASSERT(!gmem_round_pending(&q));
	ASSERT_EQ(st_big, 0);
	ASSERT_MEMEQ(big, f->mem, sizeof big);
	ASSERT_EQ(st_small, 0);
	ASSERT_MEMEQ(small, f->mem + 0x20, sizeof small);
	ASSERT_EQ(st_bad, SEVMON_EFAULT);
	ASSERT_EQ(st_walk, 0);
	ASSERT_EQ(w.out.stop, GMEM_STOP_HEAD);
	ASSERT_UEQ(w.out.n, 5);
	ASSERT_EQ(h1.status, 0);
	ASSERT_EQ(mem_digest_buf(f->mem, 16 * 4096, 4096, 1, want), 0);
	ASSERT_MEMEQ(d1, want, sizeof d1);
	ASSERT_EQ(h2.status, 0);
	uint8_t grp[MEM_DIGEST_LEN];
	mem_digest_group(want, 16, grp);
	ASSERT_MEMEQ(d2, grp, MEM_DIGEST_LEN);
	ASSERT_EQ(h3.status, SEVMON_EINVAL); /* 100 is no leaf size */
	gmem_round_free(&q);
}

TEST(gmem_round_everything_in_one_round_trip)
{
	static struct rounder x;
	struct gmem g = { .ops = &round_ops, .ctx = &x };
	round_all(&g, &x.f);
	ASSERT_UEQ(g.rounds, 1);
	ASSERT_UEQ(x.rounds, 1);
	ASSERT_UEQ(x.gathers, 1); /* the big read's two pieces and the others fit one gather */
	ASSERT_UEQ(x.walks, 1);
	ASSERT_UEQ(x.hashes, 2); /* one request per shape */
	ASSERT_UEQ(g.trips, 4);
}

TEST(gmem_round_without_round_op_same_results_serially)
{
	static struct flat f;
	struct gmem g = { .ops = &flat_ops, .ctx = &f };
	round_all(&g, &f);
	ASSERT(g.rounds > 1);
}

TEST(gmem_round_split_by_limits_and_oom_free)
{
	static struct rounder x;
	struct gmem g = { .ops = &round_ops, .ctx = &x, .max_ranges = 2 };
	uint8_t b[5][8];
	int st[5];
	struct gmem_round q;
	gmem_round_init(&q, &g);
	for (int i = 0; i < 5; i++)
		gmem_round_read(&q, 8u * (unsigned)i, GMEM_PHYS, b[i], 8, &st[i]);
	ASSERT_EQ(gmem_round_flush(&q), 0);
	ASSERT_UEQ(x.gathers, 3); /* 2 + 2 + 1 ranges */
	ASSERT_UEQ(g.rounds, 1);
	for (int i = 0; i < 5; i++)
		ASSERT_EQ(st[i], 0);
	/* a virtual read from a physical-only gmem is refused alone */
	gmem_round_read(&q, 0, GMEM_VIRT, b[0], 8, &st[0]);
	gmem_round_read(&q, 8, GMEM_PHYS, b[1], 8, &st[1]);
	ASSERT_EQ(gmem_round_flush(&q), 0);
	ASSERT_EQ(st[0], SEVMON_ENOTSUP);
	ASSERT_EQ(st[1], 0);
	gmem_round_free(&q);
}

TEST(gmem_hash_local_fallback_equals_digests)
{
	static struct flat f;
	struct gmem g = { .ops = &flat_ops, .ctx = &f };
	for (size_t i = 0; i < MEM_SIZE; i++)
		f.mem[i] = (uint8_t)(i ^ (i >> 8));
	uint8_t d[8 * MEM_DIGEST_LEN], want[8 * MEM_DIGEST_LEN];
	struct gmem_hash h[2] = {
		{ .addr = 4096, .len = 8 * 4096 - 5, .leaf = 4096, .group = 1, .out = d },
		{ .addr = MEM_SIZE - 4096, .len = 8192, .leaf = 4096, .group = 1, .out = want },
	};
	ASSERT_EQ(gmem_hash(&g, h, 2), 0);
	ASSERT_EQ(h[0].status, 0);
	ASSERT_EQ(h[1].status, SEVMON_EFAULT);
	ASSERT_UEQ(gmem_hash_count(&h[0]), 8);
	ASSERT_EQ(mem_digest_buf(f.mem + 4096, 8 * 4096 - 5, 4096, 1, want), 0);
	ASSERT_MEMEQ(d, want, sizeof d);
	struct gmem_hash big = { .len = GMEM_HASH_MAX_BYTES + 1u, .leaf = 1u << 20, .group = 1, .out = d };
	ASSERT_EQ(gmem_hash(&g, &big, 1), 0);
	ASSERT_EQ(big.status, SEVMON_ETOOBIG);
}

TEST_MAIN()
