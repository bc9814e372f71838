/* test_rpc_pending.c — the client's request table: lookup by id and the deadline heap. */
#include <stdint.h>
#include <stdlib.h>

#include "err.h"
#include "harness.h"
#include "rpc_pending.h"

/* The heap property, and every heap_idx pointing back at its slot. */
static void check_heap(const struct rpc_pend *t)
{
	for (uint32_t i = 0; i < t->heap_len; i++) {
		ASSERT_EQ(t->heap[i]->heap_idx, i);
		if (i > 0)
			ASSERT(t->heap[(i - 1) / 2]->deadline <= t->heap[i]->deadline);
	}
}

TEST(rpc_pend_init_bad_max_einval)
{
	struct rpc_pend t;
	ASSERT_EQ(rpc_pend_init(&t, 0), SEVMON_EINVAL);
	ASSERT_EQ(rpc_pend_init(&t, UINT32_MAX), SEVMON_EINVAL);
}

TEST(rpc_pend_find_insert_remove_random)
{
	enum { MAX = 300, STEPS = 20000 };
	struct rpc_pend t;
	struct rpc_req reqs[MAX];
	int in[MAX] = { 0 };
	uint32_t s = 99;

	ASSERT_EQ(rpc_pend_init(&t, MAX), 0);
	for (int step = 0; step < STEPS; step++) {
		s = s * 1103515245u + 12345u;
		int i = (int)((s >> 8) % MAX);
		if (!in[i]) {
			reqs[i] = (struct rpc_req){ 0 };
			reqs[i].id = rpc_pend_new_id(&t);
			ASSERT_NE(reqs[i].id, 0);
			ASSERT(rpc_pend_find(&t, reqs[i].id) == NULL);
			reqs[i].deadline = (s >> 4) % 3 ? 1 + (s >> 12) % 1000 : 0;
			rpc_pend_insert(&t, &reqs[i]);
			in[i] = 1;
		} else {
			rpc_pend_remove(&t, &reqs[i]);
			in[i] = 0;
			ASSERT(rpc_pend_find(&t, reqs[i].id) == NULL);
		}
		check_heap(&t);
	}
	uint32_t count = 0;
	for (int i = 0; i < MAX; i++) {
		if (in[i]) {
			count++;
			ASSERT(rpc_pend_find(&t, reqs[i].id) == &reqs[i]);
		}
	}
	ASSERT_EQ(t.count, count);
	/* draining by earliest yields non-decreasing deadlines */
	uint64_t prev = 0;
	struct rpc_req *r;
	while ((r = rpc_pend_earliest(&t))) {
		ASSERT(r->deadline >= prev && r->deadline > 0);
		prev = r->deadline;
		rpc_pend_remove(&t, r);
	}
	/* what is left has no deadline; oldest-first walk empties the table */
	while ((r = rpc_pend_oldest(&t))) {
		ASSERT_EQ(r->deadline, 0);
		rpc_pend_remove(&t, r);
	}
	ASSERT_EQ(t.count, 0);
	rpc_pend_fini(&t);
}

TEST(rpc_pend_new_id_skips_zero_and_ids_in_use)
{
	struct rpc_pend t;
	struct rpc_req a = { 0 }, b = { 0 };

	ASSERT_EQ(rpc_pend_init(&t, 4), 0);
	t.next_id = UINT32_MAX;
	a.id = rpc_pend_new_id(&t);
	ASSERT_UEQ(a.id, UINT32_MAX);
	rpc_pend_insert(&t, &a);
	b.id = 1;
	rpc_pend_insert(&t, &b);
	ASSERT_EQ(rpc_pend_new_id(&t), 2); /* wrapped past 0, skipped 1 (in use) */
	t.next_id = UINT32_MAX;
	ASSERT_EQ(rpc_pend_new_id(&t), 2);
	rpc_pend_remove(&t, &a);
	rpc_pend_remove(&t, &b);
	rpc_pend_remove(&t, &b); /* not in the table: no effect */
	ASSERT_EQ(t.count, 0);
	rpc_pend_fini(&t);
}

TEST(rpc_pend_oldest_is_insertion_order)
{
	struct rpc_pend t;
	struct rpc_req r[5] = { 0 };

	ASSERT_EQ(rpc_pend_init(&t, 5), 0);
	for (int i = 0; i < 5; i++) {
		r[i].id = rpc_pend_new_id(&t);
		rpc_pend_insert(&t, &r[i]);
	}
	rpc_pend_remove(&t, &r[2]);
	int want[] = { 0, 1, 3, 4 };
	for (int i = 0; i < 4; i++) {
		struct rpc_req *o = rpc_pend_oldest(&t);
		ASSERT(o == &r[want[i]]);
		rpc_pend_remove(&t, o);
	}
	ASSERT(rpc_pend_oldest(&t) == NULL);
	rpc_pend_fini(&t);
}

TEST_MAIN()
