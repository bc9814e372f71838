/* test_gmem.c — round-trip accounting and the WalkList fallback (complete, looping, torn,
 * NULL-terminated and over-long lists) on a flat test memory. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "gmem.h"
#include "harness.h"
#include "rbuf.h"

#define MEM_SIZE 65536u

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

TEST_MAIN()
