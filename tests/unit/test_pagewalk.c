/* test_pagewalk.c — x86-64 4- and 5-level walks over page tables built in a test memory:
 * 4 KiB, 2 MiB and 1 GiB pages, holes, the SME/SEV C-bit, batching and the table cache. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "harness.h"
#include "introspect.h"
#include "rbuf.h"

#define MEM_SIZE (1u << 20)
#define P 1ull        /* present */
#define PS (1ull << 7) /* large page */
#define CBIT (1ull << 47)

struct flat {
	uint8_t *mem;
};

static int flat_gather(void *ctx, struct gmem_range *r, size_t n)
{
	struct flat *f = ctx;
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

static uint64_t va_of(int levels, unsigned i5, unsigned i4, unsigned i3, unsigned i2, unsigned i1,
	uint64_t off)
{
	uint64_t v = (uint64_t)i4 << 39 | (uint64_t)i3 << 30 | (uint64_t)i2 << 21 |
		     (uint64_t)i1 << 12 | off;
	int bits = 48;
	if (levels == 5) {
		v |= (uint64_t)i5 << 48;
		bits = 57;
	}
	return (uint64_t)((int64_t)(v << (64 - bits)) >> (64 - bits));
}

static void set(struct flat *f, uint64_t table, unsigned idx, uint64_t e)
{
	store_le64(f->mem + table + idx * 8, e);
}

/* Tables: [PML5 0x1000 ->] PML4 0x2000 -> PDPT 0x3000 -> PD 0x4000 -> PT 0x5000. */
static void build(struct flat *f, int levels, uint64_t cbit, struct pagewalk *pw, struct gmem *g)
{
	f->mem = calloc(1, MEM_SIZE);
	ASSERT(f->mem != NULL);
	if (levels == 5)
		set(f, 0x1000, 511, 0x2000 | P | cbit);
	set(f, 0x2000, 511, 0x3000 | P | cbit);
	set(f, 0x3000, 510, 0x4000 | P | cbit);
	set(f, 0x3000, 509, 0x40000000ull | P | PS | cbit); /* 1 GiB */
	set(f, 0x4000, 1, 0x5000 | P | cbit);
	set(f, 0x4000, 2, 0x200000 | P | PS | cbit); /* 2 MiB */
	set(f, 0x4000, 3, 0x6000);                   /* not present */
	set(f, 0x5000, 3, 0x10000 | P | cbit);       /* 4 KiB */
	*g = (struct gmem){ .ops = &flat_ops, .ctx = f };
	memset(pw, 0, sizeof *pw);
	pw->phys = g;
	pw->top_pa = levels == 5 ? 0x1000 : 0x2000;
	pw->levels = levels;
	pw->sme_mask = cbit;
}

static void check_levels(int levels, uint64_t cbit)
{
	struct flat f;
	struct gmem g;
	static struct pagewalk pw;
	build(&f, levels, cbit, &pw, &g);
	uint64_t va[] = {
		va_of(levels, 511, 511, 510, 1, 3, 0x123),      /* 4 KiB */
		va_of(levels, 511, 511, 510, 2, 0, 0x1234),     /* 2 MiB */
		va_of(levels, 511, 511, 509, 7, 9, 0xabc),      /* 1 GiB */
		va_of(levels, 511, 511, 510, 3, 0, 0),          /* PD entry not present */
		va_of(levels, 511, 511, 510, 1, 4, 0),          /* PT entry empty */
		va_of(levels, 511, 0, 0, 0, 0, 0),              /* PML4 entry empty */
	};
	uint64_t want[] = { 0x10123, 0x201234, 0x40000000ull + (7ull << 21) + (9ull << 12) + 0xabc };
	enum { N = sizeof va / sizeof va[0] };
	uint64_t pa[N];
	int st[N];
	ASSERT_EQ(pw_translate(&pw, va, pa, st, N), 0);
	for (size_t i = 0; i < 3; i++) {
		ASSERT_EQ(st[i], 0);
		ASSERT_UEQ(pa[i], want[i]);
	}
	for (size_t i = 3; i < N; i++)
		ASSERT_EQ(st[i], SEVMON_EFAULT);
	ASSERT(g.trips <= (uint64_t)levels); /* one gather per level for the whole batch */
	uint64_t t = g.trips;
	ASSERT_EQ(pw_translate(&pw, va, pa, st, 3), 0);
	ASSERT_UEQ(g.trips, t); /* all tables cached */
	pw_reset(&pw);
	ASSERT_EQ(pw_translate(&pw, va, pa, st, 1), 0);
	ASSERT(g.trips > t);
	pw_reset(&pw);
	free(f.mem);
}

TEST(pagewalk_translate_4level) { check_levels(4, 0); }
TEST(pagewalk_translate_5level) { check_levels(5, 0); }
TEST(pagewalk_translate_strips_sme_mask) { check_levels(5, CBIT); }

TEST(pagewalk_translate_noncanonical_and_bad_levels)
{
	struct flat f;
	struct gmem g;
	static struct pagewalk pw;
	build(&f, 4, 0, &pw, &g);
	uint64_t va = 0x0000800000000000ull, pa;
	int st;
	ASSERT_EQ(pw_translate(&pw, &va, &pa, &st, 1), 0);
	ASSERT_EQ(st, SEVMON_EFAULT);
	ASSERT_UEQ(g.trips, 0);
	pw.levels = 3;
	ASSERT_EQ(pw_translate(&pw, &va, &pa, &st, 1), SEVMON_EINVAL);
	free(f.mem);
}

TEST(pagewalk_translate_table_outside_memory_faults)
{
	struct flat f;
	struct gmem g;
	static struct pagewalk pw;
	build(&f, 4, 0, &pw, &g);
	set(&f, 0x4000, 5, 0x7ff00000ull | P); /* a PT page beyond the memory */
	uint64_t va = va_of(4, 0, 511, 510, 5, 0, 0), pa;
	int st;
	ASSERT_EQ(pw_translate(&pw, &va, &pa, &st, 1), 0);
	ASSERT_EQ(st, SEVMON_EFAULT);
	pw_reset(&pw);
	free(f.mem);
}

TEST(pagewalk_xlate_gmem_splits_pages)
{
	struct flat f;
	struct gmem g, v;
	static struct pagewalk pw;
	build(&f, 4, 0, &pw, &g);
	/* Outside the kernel image (which xlate maps linearly): PML4 slot 256 shares the PDPT.
	 * Two virtually adjacent 4 KiB pages mapped to far-apart frames. */
	set(&f, 0x2000, 256, 0x3000 | P);
	set(&f, 0x5000, 4, 0x30000 | P);
	memset(f.mem + 0x10ff0, 'a', 16);
	memset(f.mem + 0x30000, 'b', 16);
	struct xlate x = { .pw = &pw, .phys_base = 0 };
	xlate_gmem(&v, &x);
	uint8_t out[32];
	uint64_t va = va_of(4, 0, 256, 510, 1, 3, 0xff0);
	ASSERT_EQ(gmem_read(&v, va, GMEM_VIRT, out, 32), 0);
	ASSERT(memcmp(out, "aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb", 32) == 0);
	/* A range running into an unmapped page fails as a whole. */
	ASSERT_EQ(gmem_read(&v, va_of(4, 0, 256, 510, 1, 4, 0xff0), GMEM_VIRT, out, 32), SEVMON_EFAULT);
	/* Kernel-image addresses map linearly with phys_base and need no walk. */
	x.phys_base = 0x8000;
	uint64_t t = g.trips;
	f.mem[0x8000 + 0x100] = 0x5a;
	ASSERT_EQ(gmem_read(&v, X86_START_KERNEL_MAP + 0x100, GMEM_VIRT, out, 1), 0);
	ASSERT_EQ(out[0], 0x5a);
	ASSERT_UEQ(g.trips, t + 1);
	pw_reset(&pw);
	free(f.mem);
}

TEST_MAIN()
