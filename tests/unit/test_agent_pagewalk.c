/*
 * test_agent_pagewalk.c — the agent's own x86-64 page walk (AddrSpace VIRT_PT) over a real
 * memory source: an image file holding page tables built by pt_testutil.h.
 */
#include <stdlib.h>
#include <unistd.h>

#include "agent_pagewalk.h"
#include "err.h"
#include "harness.h"
#include "mem_testutil.h"
#include "pt_testutil.h"

#define IMG_SIZE (4u << 20)
#define C_BIT (1ull << 47) /* where SEV puts it on many EPYC parts (CPUID 0x8000001F) */

/* Virtual addresses, in the direct map and the kernel image range. */
#define VA_4K 0xffff888000001000ull   /* 4 KiB page -> 0x100000 */
#define VA_4K_NEXT (VA_4K + 0x1000)   /* the next virtual page -> 0x180000 (not contiguous) */
#define VA_HOLE (VA_4K + 0x2000)      /* non-present PTE */
#define VA_2M 0xffff888000200000ull   /* 2 MiB page -> 0x200000 */
#define VA_1G 0xffff888040000000ull   /* 1 GiB page -> 0 */
#define VA_BADTABLE 0xffffc90000000000ull /* its PDPT lies outside the image */

static uint8_t img[IMG_SIZE];
static struct mem_source *mem;

static void build(int levels, uint64_t cbit)
{
	struct tpt t;
	tpat_fill(img, 0, IMG_SIZE);
	tpt_init(&t, img, IMG_SIZE, 0x1000, 0x40000, levels, cbit);
	tpt_map(&t, VA_4K, 0x100000, 1);
	tpt_map(&t, VA_4K_NEXT, 0x180000, 1);
	tpt_map(&t, VA_2M, 0x200000, 2);
	tpt_map(&t, VA_1G, 0, 3);
	tpt_map(&t, VA_BADTABLE, 0x100000, 1);
	/* Point VA_BADTABLE's PML4 entry at a PDPT beyond the image (its PML4 is shared with
	 * the direct map under 5 levels: only that one entry changes). */
	uint64_t pml4 = t.root;
	if (levels == 5)
		pml4 = load_le64(img + t.root + ((VA_BADTABLE >> 48) & 511) * 8) & TPT_ADDR & ~cbit;
	store_le64(img + pml4 + ((VA_BADTABLE >> 39) & 511) * 8, 0x7fff0000000ull | TPT_PRESENT | cbit);
	char path[64];
	int fd = ttmp(path, sizeof path);
	close(fd);
	twrite_file(path, img, IMG_SIZE);
	char spec[96];
	snprintf(spec, sizeof spec, "image:%s", path);
	ASSERT_EQ(mem_open(spec, &mem), 0);
	unlink(path);
}

static void check_translations(int levels, uint64_t cbit)
{
	static struct agent_pt pt;
	uint64_t pa = 0;
	build(levels, cbit);
	ASSERT_EQ(agent_pt_setup(&pt, mem, 0x1000, (uint32_t)levels, cbit), 0);
	ASSERT_EQ(agent_pt_translate(&pt, VA_4K + 0x123, &pa), 0);
	ASSERT_UEQ(pa, 0x100123);
	ASSERT_EQ(agent_pt_translate(&pt, VA_2M + 0x12345, &pa), 0);
	ASSERT_UEQ(pa, 0x212345);
	ASSERT_EQ(agent_pt_translate(&pt, VA_1G + 0x300010, &pa), 0);
	ASSERT_UEQ(pa, 0x300010);
	ASSERT_EQ(agent_pt_translate(&pt, VA_HOLE, &pa), SEVMON_EFAULT);
	ASSERT_EQ(agent_pt_translate(&pt, VA_BADTABLE, &pa), SEVMON_EFAULT);
	/* A read across two virtual pages mapped 512 KiB apart comes back in one piece. */
	uint8_t buf[64];
	ASSERT_EQ(agent_pt_read(&pt, VA_4K + 0xfe0, buf, sizeof buf), 0);
	ASSERT(tpat_ok(buf, 0x100fe0, 32));
	ASSERT(tpat_ok(buf + 32, 0x180000, 32));
	ASSERT_EQ(agent_pt_read(&pt, VA_4K_NEXT + 0xff0, buf, 32), SEVMON_EFAULT); /* into the hole */
	mem_close(mem);
}

TEST(agent_pt_translate_4_level) { check_translations(4, 0); }
TEST(agent_pt_translate_5_level) { check_translations(5, 0); }
TEST(agent_pt_translate_4_level_c_bit) { check_translations(4, C_BIT); }
TEST(agent_pt_translate_5_level_c_bit) { check_translations(5, C_BIT); }

TEST(agent_pt_translate_c_bit_not_stripped_faults)
{
	static struct agent_pt pt;
	uint64_t pa;
	uint8_t b[8];
	build(4, C_BIT);
	/* Told no C-bit, the walk takes it for an address bit and lands outside the source. */
	ASSERT_EQ(agent_pt_setup(&pt, mem, 0x1000, 4, 0), 0);
	int rc = agent_pt_translate(&pt, VA_4K, &pa);
	ASSERT(rc == SEVMON_EFAULT || (pa & C_BIT));
	ASSERT_EQ(agent_pt_read(&pt, VA_4K, b, sizeof b), SEVMON_EFAULT);
	mem_close(mem);
}

TEST(agent_pt_translate_non_canonical_faults)
{
	static struct agent_pt pt;
	uint64_t pa;
	build(4, 0);
	ASSERT_EQ(agent_pt_setup(&pt, mem, 0x1000, 4, 0), 0);
	ASSERT_EQ(agent_pt_translate(&pt, 0x0000900000000000ull, &pa), SEVMON_EFAULT);
	/* canonical for 5-level paging, not for 4 */
	ASSERT_EQ(agent_pt_translate(&pt, 0x00ff888000001000ull, &pa), SEVMON_EFAULT);
	mem_close(mem);
}

TEST(agent_pt_translate_cache_hits_same_page)
{
	static struct agent_pt pt;
	uint64_t pa;
	build(5, 0);
	ASSERT_EQ(agent_pt_setup(&pt, mem, 0x1000, 5, 0), 0);
	ASSERT_EQ(agent_pt_translate(&pt, VA_4K + 8, &pa), 0);
	ASSERT_EQ(agent_pt_translate(&pt, VA_4K + 0x800, &pa), 0);
	ASSERT_UEQ(pa, 0x100800);
	ASSERT_UEQ(pt.walks, 1);
	ASSERT_UEQ(pt.hits, 1);
	/* a new request starts with an empty cache */
	ASSERT_EQ(agent_pt_setup(&pt, mem, 0x1000, 5, 0), 0);
	ASSERT_EQ(agent_pt_translate(&pt, VA_4K + 8, &pa), 0);
	ASSERT_UEQ(pt.walks, 1);
	ASSERT_UEQ(pt.hits, 0);
	mem_close(mem);
}

TEST(agent_pt_setup_bad_tables_refused)
{
	static struct agent_pt pt;
	ASSERT_EQ(agent_pt_setup(&pt, NULL, 0x1000, 3, 0), SEVMON_EINVAL);
	ASSERT_EQ(agent_pt_setup(&pt, NULL, 0x1000, 6, 0), SEVMON_EINVAL);
	ASSERT_EQ(agent_pt_setup(&pt, NULL, 0x1008, 4, 0), SEVMON_EINVAL);
}

TEST(agent_pt_read_too_big_refused)
{
	static struct agent_pt pt;
	static uint8_t big[MEM_MAX_READ + 1];
	build(4, 0);
	ASSERT_EQ(agent_pt_setup(&pt, mem, 0x1000, 4, 0), 0);
	ASSERT_EQ(agent_pt_read(&pt, VA_1G, big, sizeof big), SEVMON_ETOOBIG);
	ASSERT_EQ(agent_pt_read(&pt, VA_1G, big, MEM_MAX_READ), 0);
	ASSERT(tpat_ok(big + 0x40000, 0x40000, 4096)); /* past the tables, the pattern is intact */
	mem_close(mem);
}

TEST_MAIN()
