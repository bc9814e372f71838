/* Tests for the ramfile memory source (lib/mem/mem_ramfile.c) on files standing in for
 * guest RAM; test_mem_qemu checks the same layout against a real QEMU. */
#include <sys/stat.h>

#include "err.h"
#include "harness.h"
#include "mem.h"
#include "mem_testutil.h"

#define GIB (1ull << 30)
#define FOUR_GIB (4ull << 30)
#define MIB (1ull << 20)

static char g_path[256];

/* A sparse file of size bytes holding the pattern (by file offset) in [off, off+n). */
static void ram_file(uint64_t size, const uint64_t *offs, size_t noffs, size_t n)
{
	int fd = ttmp(g_path, sizeof(g_path));
	ASSERT_EQ(ftruncate(fd, (off_t)size), 0);
	uint8_t *b = malloc(n ? n : 1);
	ASSERT(b != NULL);
	for (size_t i = 0; i < noffs; i++) {
		tpat_fill(b, offs[i], n);
		ASSERT_EQ(pwrite(fd, b, n, (off_t)offs[i]), (ssize_t)n);
	}
	free(b);
	close(fd);
}

static struct mem_source *open_ram(const char *opts)
{
	char spec[512];
	struct mem_source *m = NULL;
	snprintf(spec, sizeof(spec), "ramfile:%s%s", g_path, opts);
	int rc = mem_open(spec, &m);
	if (rc != 0)
		FAIL_AT("mem_open(%s) = %s", spec, sevmon_errname(rc));
	return m;
}

static int open_ram_rc(const char *opts)
{
	char spec[512];
	struct mem_source *m = NULL;
	snprintf(spec, sizeof(spec), "ramfile:%s%s", g_path, opts);
	int rc = mem_open(spec, &m);
	if (rc < 0)
		ASSERT(m == NULL);
	mem_close(m);
	return rc;
}

/* Read phys addr and check it holds the pattern of file offset off. */
static void expect_at(struct mem_source *m, uint64_t addr, uint64_t off, size_t n)
{
	uint8_t buf[8192];
	ASSERT(n <= sizeof(buf));
	int rc = mem_read_phys(m, addr, buf, n);
	if (rc != 0)
		FAIL_AT("read 0x%llx+%zu = %s", (unsigned long long)addr, n, sevmon_errname(rc));
	if (!tpat_ok(buf, off, n))
		FAIL_AT("read 0x%llx: not the bytes at file offset 0x%llx",
			(unsigned long long)addr, (unsigned long long)off);
}

TEST(mem_ramfile_lowmem_option_splits_at_4g)
{
	uint64_t offs[] = { 0, MIB - 4096, MIB, 3 * MIB - 4096 };
	ram_file(3 * MIB, offs, 4, 4096);
	struct mem_source *m = open_ram(",lowmem=0x100000");
	ASSERT_STREQ(mem_kind(m), "ramfile");
	expect_at(m, 0, 0, 4096);
	expect_at(m, MIB - 4096, MIB - 4096, 4096);
	expect_at(m, FOUR_GIB, MIB, 4096);
	expect_at(m, FOUR_GIB + 2 * MIB - 4096, 3 * MIB - 4096, 4096);
	const struct mem_region *r;
	size_t n;
	ASSERT_EQ(mem_regions(m, &r, &n), 0);
	ASSERT_EQ(n, 2);
	ASSERT_UEQ(r[0].start, 0);
	ASSERT_UEQ(r[0].size, MIB);
	ASSERT_UEQ(r[1].start, FOUR_GIB);
	ASSERT_UEQ(r[1].size, 2 * MIB);
	uint8_t b[16];
	ASSERT_EQ(mem_read_phys(m, MIB, b, 1), SEVMON_EFAULT);		/* PCI hole */
	ASSERT_EQ(mem_read_phys(m, MIB - 8, b, 16), SEVMON_EFAULT);	/* into the hole */
	ASSERT_EQ(mem_read_phys(m, FOUR_GIB - 8, b, 16), SEVMON_EFAULT); /* out of the hole */
	ASSERT_EQ(mem_read_phys(m, FOUR_GIB + 2 * MIB - 8, b, 16), SEVMON_EFAULT); /* past end */
	ASSERT_EQ(mem_read_phys(m, UINT64_MAX - 7, b, 16), SEVMON_EFAULT);
	ASSERT_EQ(mem_read_virt(m, 0, b, 16), SEVMON_ENOTSUP);
	uint64_t phys;
	uint32_t size;
	ASSERT_EQ(mem_vmcoreinfo(m, &phys, &size), SEVMON_ENOENT);
	mem_close(m);
	unlink(g_path);
}

TEST(mem_ramfile_default_small_guest_is_identity)
{
	uint64_t offs[] = { 0x9f000, 64 * MIB - 4096 };
	ram_file(64 * MIB, offs, 2, 4096);
	struct mem_source *m = open_ram("");
	expect_at(m, 0x9f000, 0x9f000, 4096);
	expect_at(m, 64 * MIB - 4096, 64 * MIB - 4096, 4096);
	uint8_t b[8];
	ASSERT_EQ(mem_read_phys(m, 64 * MIB, b, 1), SEVMON_EFAULT);
	ASSERT_EQ(mem_read_phys(m, FOUR_GIB, b, 1), SEVMON_EFAULT);
	const struct mem_region *r;
	size_t n;
	ASSERT_EQ(mem_regions(m, &r, &n), 0);
	ASSERT_EQ(n, 1);
	ASSERT_UEQ(r[0].size, 64 * MIB);
	mem_close(m);
	unlink(g_path);
}

TEST(mem_ramfile_default_splits_at_2g)
{
	uint64_t offs[] = { 2 * GIB - 4096, 2 * GIB };
	ram_file(2 * GIB + 2 * MIB, offs, 2, 4096); /* sparse */
	struct mem_source *m = open_ram("");
	expect_at(m, 2 * GIB - 4096, 2 * GIB - 4096, 4096);
	expect_at(m, FOUR_GIB, 2 * GIB, 4096);
	uint8_t b[8];
	ASSERT_EQ(mem_read_phys(m, 2 * GIB, b, 8), SEVMON_EFAULT);
	mem_close(m);
	unlink(g_path);
}

TEST(mem_ramfile_machine_rules_follow_qemu)
{
	uint64_t offs[] = { 3 * GIB };
	ram_file(4 * GIB, offs, 1, 4096); /* sparse 4 GiB guest */
	struct mem_source *m = open_ram(",machine=pc"); /* >= 3.5 GiB: 3 GiB below 4 GiB */
	uint8_t b[8];
	expect_at(m, FOUR_GIB, 3 * GIB, 4096);
	ASSERT_EQ(mem_read_phys(m, 3 * GIB - 8, b, 8), 0);
	ASSERT_EQ(mem_read_phys(m, 3 * GIB, b, 8), SEVMON_EFAULT);
	mem_close(m);
	m = open_ram(",machine=q35"); /* >= 2.75 GiB: 2 GiB below */
	expect_at(m, FOUR_GIB + (3 * GIB - 2 * GIB), 3 * GIB, 4096);
	ASSERT_EQ(mem_read_phys(m, 3 * GIB, b, 8), SEVMON_EFAULT);
	mem_close(m);
	unlink(g_path);

	ram_file(0xb0000000ull - 4096, offs, 0, 0); /* q35 just below 2.75 GiB: all low */
	m = open_ram(",machine=q35");
	ASSERT_EQ(mem_read_phys(m, 0xb0000000ull - 8192, b, 8), 0);
	ASSERT_EQ(mem_read_phys(m, FOUR_GIB, b, 8), SEVMON_EFAULT);
	mem_close(m);
	unlink(g_path);
}

TEST(mem_ramfile_base_places_one_bank)
{
	uint64_t offs[] = { 0, 5 * MIB - 4096 };
	ram_file(5 * MIB, offs, 2, 4096);
	struct mem_source *m = open_ram(",base=0x40000000");
	expect_at(m, 0x40000000, 0, 4096);
	expect_at(m, 0x40000000 + 5 * MIB - 4096, 5 * MIB - 4096, 4096);
	uint8_t b[8];
	ASSERT_EQ(mem_read_phys(m, 0, b, 8), SEVMON_EFAULT);
	ASSERT_EQ(mem_read_phys(m, 0x40000000 - 4, b, 8), SEVMON_EFAULT);
	mem_close(m);
	unlink(g_path);
}

TEST(mem_ramfile_sees_live_writes)
{
	uint64_t offs[] = { 0 };
	ram_file(MIB, offs, 1, 4096);
	struct mem_source *m = open_ram("");
	uint8_t b[4];
	ASSERT_EQ(mem_read_phys(m, 0x800, b, 4), 0);
	ASSERT(tpat_ok(b, 0x800, 4));
	int fd = open(g_path, O_WRONLY);
	ASSERT(fd >= 0);
	ASSERT_EQ(pwrite(fd, "LIVE", 4, 0x800), 4);
	close(fd);
	ASSERT_EQ(mem_read_phys(m, 0x800, b, 4), 0);
	ASSERT_MEMEQ(b, "LIVE", 4);
	mem_close(m);
	unlink(g_path);
}

TEST(mem_ramfile_truncated_while_mapped_is_efault_not_sigbus)
{
	uint64_t offs[] = { 0, MIB };
	ram_file(4 * MIB, offs, 2, 4096);
	struct mem_source *m = open_ram("");
	expect_at(m, MIB, MIB, 4096);
	ASSERT_EQ(truncate(g_path, (off_t)(MIB + 100)), 0);
	uint8_t b[256];
	ASSERT_EQ(mem_read_phys(m, MIB + 4096, b, 16), SEVMON_EFAULT); /* page gone */
	ASSERT_EQ(mem_read_phys(m, MIB + 90, b, 20), SEVMON_EFAULT);   /* straddles new end */
	ASSERT_EQ(mem_read_phys(m, MIB, b, 100), 0);
	ASSERT(tpat_ok(b, MIB, 100));
	ASSERT_EQ(truncate(g_path, 0), 0);
	ASSERT_EQ(mem_read_phys(m, 0, b, 1), SEVMON_EFAULT);
	mem_close(m);
	unlink(g_path);
}

TEST(mem_ramfile_bad_specs_rejected)
{
	uint64_t offs[] = { 0 };
	ram_file(MIB, offs, 1, 16);
	ASSERT_EQ(open_ram_rc(",lowmem=0"), SEVMON_EINVAL);
	ASSERT_EQ(open_ram_rc(",lowmem=zz"), SEVMON_EINVAL);
	ASSERT_EQ(open_ram_rc(",machine=virt"), SEVMON_EINVAL);
	ASSERT_EQ(open_ram_rc(",speed=fast"), SEVMON_EINVAL);
	ASSERT_EQ(open_ram_rc(",base"), SEVMON_EINVAL);
	ASSERT_EQ(open_ram_rc(",base=0xffffffffffffffff"), SEVMON_EINVAL); /* wraps */
	/* A low part ending above 4 GiB would collide with the high part. */
	ASSERT_EQ(open_ram_rc(",base=0xffff0000,lowmem=0x20000"), SEVMON_EINVAL);
	ASSERT_EQ(open_ram_rc(",lowmem=0x1000"), 0);
	unlink(g_path);
	struct mem_source *m = NULL;
	ASSERT_EQ(mem_open("ramfile:/nonexistent/sevmon-ram", &m), SEVMON_ENOENT);
	ASSERT_EQ(mem_open("ramfile", &m), SEVMON_EINVAL);
	ASSERT_EQ(mem_open("ramfile:", &m), SEVMON_EINVAL);
	close(ttmp(g_path, sizeof(g_path))); /* empty */
	ASSERT_EQ(open_ram_rc(""), SEVMON_EINVAL);
	unlink(g_path);
}

TEST_MAIN()
