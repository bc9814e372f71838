/* Tests for the kcore memory source (lib/mem/mem_kcore.c): a synthetic kcore laid out as
 * fs/proc/kcore.c does on x86-64, and the host's own /proc/kcore when it can be opened. */
#include <sys/utsname.h>

#include "err.h"
#include "harness.h"
#include "mem.h"
#include "mem_testutil.h"

#define TEXT_VA 0xffffffff81000000ull
#define TEXT_PA 0x110000ull /* inside RAM2, as the kernel image is inside RAM */
#define VMALLOC_VA 0xffffc90000000000ull
#define DIRECT_MAP 0xffff888000000000ull
#define VMEMMAP_VA 0xffffea0000000000ull
#define NO_PA UINT64_MAX

static const char VMCI[] = "OSRELEASE=6.1.0-kcore\nPAGESIZE=4096\n";
static char g_core[256], g_sysfs[256];

/* Write the synthetic kcore (all p_paddr zero when legacy) and a sysfs vmcoreinfo file. */
static void kcore_files(bool legacy, const char *sysfs_text)
{
	uint8_t notes[1024] = { 0 }, prstatus[0x150] = { 0 };
	size_t nl = tc_note(notes, 0, "CORE", 1, prstatus, sizeof(prstatus));
	nl = tc_note(notes, nl, "VMCOREINFO", 0, VMCI, sizeof(VMCI) - 1);
	struct tc_seg s[] = {
		{ .type = 4, .size = nl, .note = notes },
		{ .type = 1, .vaddr = TEXT_VA, .paddr = TEXT_PA, .size = 0x3000, .pat_base = TEXT_PA },
		{ .type = 1, .vaddr = VMALLOC_VA, .paddr = NO_PA, .size = 0x2000,
		  .pat_base = VMALLOC_VA },
		{ .type = 1, .vaddr = DIRECT_MAP + 0x1000, .paddr = 0x1000, .size = 0x9e000,
		  .pat_base = 0x1000 },
		/* adjacent to the first vmalloc piece, elsewhere in the file */
		{ .type = 1, .vaddr = VMALLOC_VA + 0x2000, .paddr = NO_PA, .size = 0x1000,
		  .pat_base = VMALLOC_VA + 0x2000 },
		{ .type = 1, .vaddr = DIRECT_MAP + 0x100000, .paddr = 0x100000, .size = 0x20000,
		  .pat_base = 0x100000 },
		{ .type = 1, .vaddr = VMEMMAP_VA, .paddr = NO_PA, .size = 0x1000,
		  .pat_base = VMEMMAP_VA },
	};
	size_t n = sizeof(s) / sizeof(s[0]);
	if (legacy)
		for (size_t i = 1; i < n; i++)
			s[i].paddr = 0;
	size_t len;
	uint8_t *img = tc_build(s, n, &len);
	close(ttmp(g_core, sizeof(g_core)));
	twrite_file(g_core, img, len);
	free(img);
	close(ttmp(g_sysfs, sizeof(g_sysfs)));
	twrite_file(g_sysfs, sysfs_text, strlen(sysfs_text));
}

static struct mem_source *open_kcore(void)
{
	char spec[600];
	struct mem_source *m = NULL;
	snprintf(spec, sizeof(spec), "kcore:%s,vmcoreinfo=%s", g_core, g_sysfs);
	int rc = mem_open(spec, &m);
	if (rc != 0)
		FAIL_AT("mem_open(%s) = %s", spec, sevmon_errname(rc));
	unlink(g_core);
	unlink(g_sysfs);
	return m;
}

TEST(mem_kcore_virt_reads_through_every_load)
{
	kcore_files(false, "0x0000000000111000 1024\n");
	struct mem_source *m = open_kcore();
	uint8_t buf[0x3000];
	ASSERT_STREQ(mem_kind(m), "kcore");
	ASSERT(mem_has_virt(m));
	ASSERT_EQ(mem_read_virt(m, TEXT_VA + 0x10, buf, 0x100), 0);
	ASSERT(tpat_ok(buf, TEXT_PA + 0x10, 0x100));
	/* across two vmalloc segments that touch in vaddr but not in the file */
	ASSERT_EQ(mem_read_virt(m, VMALLOC_VA + 0x1800, buf, 0x1000), 0);
	ASSERT(tpat_ok(buf, VMALLOC_VA + 0x1800, 0x1000));
	ASSERT_EQ(mem_read_virt(m, DIRECT_MAP + 0x100000, buf, 16), 0);
	ASSERT(tpat_ok(buf, 0x100000, 16));
	mem_close(m);
}

TEST(mem_kcore_virt_unmapped_is_efault)
{
	kcore_files(false, "");
	struct mem_source *m = open_kcore();
	uint8_t buf[32];
	ASSERT_EQ(mem_read_virt(m, 0x1000, buf, 8), SEVMON_EFAULT);
	ASSERT_EQ(mem_read_virt(m, VMALLOC_VA + 0x2ff0, buf, 32), SEVMON_EFAULT); /* past end */
	ASSERT_EQ(mem_read_virt(m, VMALLOC_VA - 8, buf, 16), SEVMON_EFAULT);
	ASSERT_EQ(mem_read_virt(m, DIRECT_MAP, buf, 8), SEVMON_EFAULT); /* page 0 not RAM */
	ASSERT_EQ(mem_read_virt(m, UINT64_MAX - 4, buf, 8), SEVMON_EFAULT);
	ASSERT_EQ(mem_read_virt(m, TEXT_VA, buf, MEM_MAX_READ + 1), SEVMON_ETOOBIG);
	mem_close(m);
}

TEST(mem_kcore_phys_uses_direct_map_only)
{
	kcore_files(false, "");
	struct mem_source *m = open_kcore();
	const struct mem_region *r;
	size_t n;
	ASSERT_EQ(mem_regions(m, &r, &n), 0);
	ASSERT_EQ(n, 2); /* the RAM segments; not text, not vmalloc or vmemmap */
	ASSERT_UEQ(r[0].start, 0x1000);
	ASSERT_UEQ(r[0].size, 0x9e000);
	ASSERT_UEQ(r[1].start, 0x100000);
	ASSERT_UEQ(r[1].size, 0x20000);

	uint8_t v[0x2000], p[0x2000];
	ASSERT_EQ(mem_read_virt(m, TEXT_VA + 0x800, v, sizeof(v)), 0);
	ASSERT_EQ(mem_read_phys(m, TEXT_PA + 0x800, p, sizeof(p)), 0);
	ASSERT_MEMEQ(v, p, sizeof(v));
	ASSERT_EQ(mem_read_phys(m, 0, p, 8), SEVMON_EFAULT);
	ASSERT_EQ(mem_read_phys(m, 0x9fff8, p, 16), SEVMON_EFAULT);
	ASSERT_EQ(mem_read_phys(m, 0x120000, p, 1), SEVMON_EFAULT);
	mem_close(m);
}

TEST(mem_kcore_vmcoreinfo_from_sysfs_and_note)
{
	kcore_files(false, "0x0000000000111000 1024\n");
	struct mem_source *m = open_kcore();
	uint64_t phys;
	uint32_t size;
	ASSERT_EQ(mem_vmcoreinfo(m, &phys, &size), 0);
	ASSERT_UEQ(phys, 0x111000);
	ASSERT_UEQ(size, 0x1024); /* the kernel prints the size in hex without 0x */
	const uint8_t *d;
	size_t dl;
	ASSERT_EQ(mem_vmcoreinfo_note(m, &d, &dl), 0);
	ASSERT_EQ(dl, sizeof(VMCI) - 1);
	ASSERT_MEMEQ(d, VMCI, dl);
	mem_close(m);

	kcore_files(false, "nonsense\n");
	m = open_kcore();
	ASSERT_EQ(mem_vmcoreinfo(m, &phys, &size), SEVMON_ENOENT);
	mem_close(m);
}

TEST(mem_kcore_legacy_zero_paddr_has_no_phys_view)
{
	kcore_files(true, "");
	struct mem_source *m = open_kcore();
	const struct mem_region *r;
	size_t n;
	uint8_t b[8];
	ASSERT_EQ(mem_regions(m, &r, &n), 0);
	ASSERT_EQ(n, 0);
	ASSERT_EQ(mem_read_phys(m, 0x1000, b, 8), SEVMON_ENOTSUP);
	ASSERT_EQ(mem_read_virt(m, DIRECT_MAP + 0x1000, b, 8), 0);
	ASSERT(tpat_ok(b, 0x1000, 8));
	mem_close(m);
}

TEST(mem_kcore_open_errors)
{
	struct mem_source *m = NULL;
	ASSERT_EQ(mem_open("kcore:/nonexistent/kcore", &m), SEVMON_ENOENT);
	ASSERT(m == NULL);
	ASSERT_EQ(mem_open("kcore:/tmp,colour=blue", &m), SEVMON_EINVAL);
	ASSERT_EQ(mem_open("kcore:", &m), SEVMON_EINVAL);
	char path[256];
	close(ttmp(path, sizeof(path)));
	twrite_file(path, "not an ELF file at all, just text.......................", 56);
	char spec[300];
	snprintf(spec, sizeof(spec), "kcore:%s", path);
	ASSERT_EQ(mem_open(spec, &m), SEVMON_EINVAL);
	ASSERT(m == NULL);
	unlink(path);
}

/* ---- the host's /proc/kcore ---- */

/* Address of a kallsyms symbol, 0 if absent. */
static uint64_t ksym(const char *name)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	char line[512], sym[256], type;
	unsigned long long a;
	uint64_t found = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx %c %255s", &a, &type, sym) == 3 && strcmp(sym, name) == 0) {
			found = a;
			break;
		}
	fclose(f);
	return found;
}

/* The physical address of va, from /proc/kcore's own PT_LOAD that holds it (parsed here
 * independently of the code under test); UINT64_MAX if none has a physical address. */
static uint64_t kcore_va_to_pa(uint64_t va)
{
	uint8_t eh[64], ph[56];
	uint64_t pa = UINT64_MAX;
	int fd = open("/proc/kcore", O_RDONLY);
	ASSERT(fd >= 0);
	ASSERT_EQ(pread(fd, eh, 64, 0), 64);
	uint64_t phoff = load_le64(eh + 32);
	unsigned phnum = (unsigned)(eh[56] | eh[57] << 8);
	for (unsigned i = 0; i < phnum; i++) {
		ASSERT_EQ(pread(fd, ph, 56, (off_t)(phoff + i * 56u)), 56);
		uint64_t v = load_le64(ph + 16), p = load_le64(ph + 24), sz = load_le64(ph + 40);
		if (load_le32(ph) == 1 && va - v < sz && p != UINT64_MAX && p != 0)
			pa = p + (va - v);
	}
	close(fd);
	return pa;
}

TEST(mem_kcore_proc_kcore_kernel_text_virt_equals_phys)
{
	struct mem_source *m = NULL;
	int rc = mem_open("kcore", &m);
	if (rc == SEVMON_ENOENT || rc == SEVMON_EDENIED) {
		printf("# skipped: /proc/kcore cannot be opened here (%s)\n", sevmon_errname(rc));
		return;
	}
	ASSERT_EQ(rc, 0);
	uint8_t v[64], p[64];

	uint64_t banner = ksym("linux_banner");
	if (banner) {
		ASSERT_EQ(mem_read_virt(m, banner, v, 13), 0);
		ASSERT_MEMEQ(v, "Linux version", 13);
	} else {
		printf("# linux_banner not in kallsyms (no KALLSYMS_ALL): using _stext\n");
	}
	uint64_t va = banner ? banner : ksym("_stext");
	ASSERT(va != 0); /* kptr_restrict would show zeros even to root only at level 2 */
	ASSERT_EQ(mem_read_virt(m, va, v, sizeof(v)), 0);
	uint64_t pa = kcore_va_to_pa(va);
	ASSERT(pa != UINT64_MAX);
	ASSERT_EQ(mem_read_phys(m, pa, p, sizeof(p)), 0);
	ASSERT_MEMEQ(v, p, sizeof(v));
	ASSERT_EQ(mem_read_virt(m, 0x1000, v, 8), SEVMON_EFAULT);

	const struct mem_region *r;
	size_t n;
	ASSERT_EQ(mem_regions(m, &r, &n), 0);
	ASSERT(n > 0);
	/* Since Linux 4.19 kcore carries VMCOREINFO in its own notes. */
	struct utsname u;
	unsigned maj = 0, min = 0;
	ASSERT_EQ(uname(&u), 0);
	ASSERT(sscanf(u.release, "%u.%u", &maj, &min) == 2);
	const uint8_t *d;
	size_t dl;
	rc = mem_vmcoreinfo_note(m, &d, &dl);
	if (maj > 4 || (maj == 4 && min >= 19)) {
		ASSERT_EQ(rc, 0);
		ASSERT(dl > 10);
		ASSERT_MEMEQ(d, "OSRELEASE=", 10);
	}
	uint64_t vphys;
	uint32_t vsize;
	if (mem_vmcoreinfo(m, &vphys, &vsize) == 0) {
		/* The note in RAM: namesz 11, then "VMCOREINFO\0" after the 12-byte header. */
		ASSERT_EQ(mem_read_phys(m, vphys, p, 24), 0);
		ASSERT_EQ(load_le32(p), 11);
		ASSERT_MEMEQ(p + 12, "VMCOREINFO", 11);
	}
	mem_close(m);
}

TEST_MAIN()
