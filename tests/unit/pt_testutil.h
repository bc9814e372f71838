/*
 * pt_testutil.h — builds x86-64 page tables inside a test's memory image, the way the MMU
 * reads them (SDM vol. 3 §4.5): 4 or 5 levels, 4 KiB / 2 MiB / 1 GiB leaves, and an
 * optional C-bit set in every entry as SEV guests have it.
 */
#ifndef SEVMON_TEST_PT_TESTUTIL_H
#define SEVMON_TEST_PT_TESTUTIL_H

#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "rbuf.h"

#define TPT_PRESENT 1ull
#define TPT_RW 2ull
#define TPT_PS (1ull << 7)
#define TPT_ADDR 0x000ffffffffff000ull

struct tpt {
	uint8_t *img;     /* the image the tables live in */
	size_t size;
	uint64_t root;    /* physical address of the top table */
	uint64_t next;    /* next free 4 KiB page for a table */
	uint64_t limit;   /* tables stay below this address */
	int levels;
	uint64_t cbit;
};

static inline uint64_t tpt_alloc(struct tpt *t)
{
	ASSERT(t->next + 4096 <= t->limit);
	uint64_t p = t->next;
	t->next += 4096;
	memset(t->img + p, 0, 4096);
	return p;
}

/* Tables in [first, limit) of img; the root is the first page. */
static inline void tpt_init(struct tpt *t, uint8_t *img, size_t size, uint64_t first,
			    uint64_t limit, int levels, uint64_t cbit)
{
	*t = (struct tpt){ .img = img, .size = size, .next = first, .limit = limit,
		.levels = levels, .cbit = cbit };
	ASSERT(limit <= size);
	t->root = tpt_alloc(t);
}

/* Map va -> pa with a leaf at `leaf_level` (1: 4 KiB, 2: 2 MiB, 3: 1 GiB). */
static inline void tpt_map(struct tpt *t, uint64_t va, uint64_t pa, int leaf_level)
{
	uint64_t table = t->root;
	for (int lvl = t->levels; lvl > leaf_level; lvl--) {
		uint64_t slot = table + ((va >> (12 + 9 * (lvl - 1))) & 511) * 8;
		uint64_t e = load_le64(t->img + slot);
		if (!(e & TPT_PRESENT)) {
			e = tpt_alloc(t) | TPT_PRESENT | TPT_RW | t->cbit;
			store_le64(t->img + slot, e);
		}
		table = e & TPT_ADDR & ~t->cbit;
	}
	uint64_t slot = table + ((va >> (12 + 9 * (leaf_level - 1))) & 511) * 8;
	store_le64(t->img + slot, pa | TPT_PRESENT | TPT_RW | t->cbit | (leaf_level > 1 ? TPT_PS : 0));
}

/* Clear the leaf (or table) entry at `level` on va's path: that part becomes non-present. */
static inline void tpt_unmap(struct tpt *t, uint64_t va, int level)
{
	uint64_t table = t->root;
	for (int lvl = t->levels; lvl > level; lvl--) {
		uint64_t e = load_le64(t->img + table + ((va >> (12 + 9 * (lvl - 1))) & 511) * 8);
		ASSERT(e & TPT_PRESENT);
		table = e & TPT_ADDR & ~t->cbit;
	}
	store_le64(t->img + table + ((va >> (12 + 9 * (level - 1))) & 511) * 8, 0);
}

#endif
