/*
 * test_x86_pt.c — the x86-64 page-table format both sides walk (lib/x86/x86_pt.h), over
 * tables built the way the MMU reads them (pt_testutil.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "harness.h"
#include "pt_testutil.h"
#include "x86_pt.h"

#define IMG_SIZE (4u << 20)
static uint8_t img[IMG_SIZE];

/* Entries come from the image; anything past its end is "not readable". */
static int read_entry(void *ctx, uint64_t pa, uint64_t *e)
{
	(void)ctx;
	if (pa > IMG_SIZE - 8)
		return SEVMON_EFAULT;
	*e = load_le64(img + pa);
	return 0;
}

static int walk(const struct tpt *t, uint64_t va, uint64_t *pa)
{
	return x86_pt_walk(read_entry, NULL, t->root, t->levels, t->cbit, va, pa);
}

TEST(x86_pt_walk_4k_2m_1g_leaves_both_depths)
{
	static const uint64_t cbits[] = { 0, 1ull << 51 };
	for (int levels = 4; levels <= 5; levels++)
		for (size_t c = 0; c < 2; c++) {
			struct tpt t;
			tpt_init(&t, img, IMG_SIZE, 0x100000, IMG_SIZE, levels, cbits[c]);
			tpt_map(&t, 0xffffffff81234000ull, 0x5000, 1);
			tpt_map(&t, 0xffffffffc0000000ull, 0x40000000ull, 3);
			tpt_map(&t, 0xffff888000200000ull, 0x200000, 2);
			uint64_t pa;
			ASSERT_EQ(walk(&t, 0xffffffff81234abcull, &pa), 0);
			ASSERT_UEQ(pa, 0x5abc);
			ASSERT_EQ(walk(&t, 0xffffffffc0123456ull, &pa), 0);
			ASSERT_UEQ(pa, 0x40123456ull);
			ASSERT_EQ(walk(&t, 0xffff8880002fff00ull, &pa), 0);
			ASSERT_UEQ(pa, 0x2fff00);
		}
}

TEST(x86_pt_walk_not_present_at_every_level)
{
	for (int level = 1; level <= 4; level++) {
		struct tpt t;
		tpt_init(&t, img, IMG_SIZE, 0x100000, IMG_SIZE, 4, 0);
		tpt_map(&t, 0xffffffff81000000ull, 0x7000, 1);
		tpt_unmap(&t, 0xffffffff81000000ull, level);
		uint64_t pa = 0;
		ASSERT_EQ(walk(&t, 0xffffffff81000000ull, &pa), SEVMON_EFAULT);
	}
}

TEST(x86_pt_walk_non_canonical_bad_levels_unreadable_table)
{
	struct tpt t;
	tpt_init(&t, img, IMG_SIZE, 0x100000, IMG_SIZE, 4, 0);
	tpt_map(&t, 0xffffffff81000000ull, 0x7000, 1);
	uint64_t pa;
	ASSERT_EQ(walk(&t, 0x0000800000000000ull, &pa), SEVMON_EFAULT); /* bit 47 not extended */
	ASSERT_EQ(x86_pt_walk(read_entry, NULL, t.root, 3, 0, 0xffffffff81000000ull, &pa),
		  SEVMON_EINVAL);
	/* a table pointer past the image: the walk says fault, it does not read out of bounds */
	store_le64(img + t.root + x86_pt_entry_off(0xffffffff81000000ull, 4),
		   0x7ffff000ull | TPT_PRESENT);
	ASSERT_EQ(walk(&t, 0xffffffff81000000ull, &pa), SEVMON_EFAULT);
	/* 57 bits are canonical only with 5 levels */
	ASSERT(x86_pt_canonical(0xff00000000000000ull, 5));
	ASSERT(!x86_pt_canonical(0xff00000000000000ull, 4));
}

TEST(x86_pt_step_ps_only_at_levels_2_and_3)
{
	uint64_t out;
	/* PS in a PML4 entry is reserved: the entry is a table pointer there */
	ASSERT_EQ(x86_pt_step(0x1000 | TPT_PRESENT | TPT_PS, 0, 4, 0, &out), X86_PT_NEXT);
	ASSERT_UEQ(out, 0x1000);
	ASSERT_EQ(x86_pt_step(0x40000000ull | TPT_PRESENT | TPT_PS, 0, 3, 0x123456, &out),
		  X86_PT_LEAF);
	ASSERT_UEQ(out, 0x40123456ull);
	ASSERT_EQ(x86_pt_step(0x2000, 0, 1, 0, &out), X86_PT_FAULT);
	/* the C-bit is not part of the address */
	ASSERT_EQ(x86_pt_step((1ull << 47) | 0x3000 | TPT_PRESENT, 1ull << 47, 1, 0x10, &out),
		  X86_PT_LEAF);
	ASSERT_UEQ(out, 0x3010);
}

TEST_MAIN()
