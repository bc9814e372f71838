/* Tests for the image memory source (lib/mem/mem_image.c): raw images and ELF cores. */
#include "err.h"
#include "harness.h"
#include "mem.h"
#include "mem_testutil.h"

#define RAW_SIZE (3u * 4096u + 123u) /* not page-aligned: the end is exact */

static struct mem_source *open_spec(const char *kind, const char *path)
{
	char spec[512];
	struct mem_source *m = NULL;
	snprintf(spec, sizeof(spec), "%s:%s", kind, path);
	int rc = mem_open(spec, &m);
	if (rc != 0)
		FAIL_AT("mem_open(%s) = %s", spec, sevmon_errname(rc));
	return m;
}

static int open_rc(const char *path)
{
	char spec[512];
	struct mem_source *m = (struct mem_source *)&m; /* must come back NULL */
	snprintf(spec, sizeof(spec), "image:%s", path);
	int rc = mem_open(spec, &m);
	if (rc < 0 && m != NULL)
		FAIL_AT("failed open left *out set");
	mem_close(m);
	return rc;
}

static struct mem_source *raw_image(void)
{
	char path[256];
	uint8_t *b = malloc(RAW_SIZE);
	ASSERT(b != NULL);
	tpat_fill(b, 0, RAW_SIZE);
	int fd = ttmp(path, sizeof(path));
	close(fd);
	twrite_file(path, b, RAW_SIZE);
	free(b);
	struct mem_source *m = open_spec("image", path);
	unlink(path); /* the open descriptor keeps it */
	return m;
}

TEST(mem_image_raw_reads_start_end_and_across_pages)
{
	struct mem_source *m = raw_image();
	uint8_t buf[8192];
	ASSERT_STREQ(mem_kind(m), "image");
	ASSERT(!mem_has_virt(m));
	ASSERT_EQ(mem_read_phys(m, 0, buf, 64), 0);
	ASSERT(tpat_ok(buf, 0, 64));
	ASSERT_EQ(mem_read_phys(m, RAW_SIZE - 10, buf, 10), 0);
	ASSERT(tpat_ok(buf, RAW_SIZE - 10, 10));
	ASSERT_EQ(mem_read_phys(m, 4096 - 100, buf, 8192), 0);
	ASSERT(tpat_ok(buf, 4096 - 100, 8192));
	const struct mem_region *r;
	size_t n;
	ASSERT_EQ(mem_regions(m, &r, &n), 0);
	ASSERT_EQ(n, 1);
	ASSERT_UEQ(r[0].start, 0);
	ASSERT_UEQ(r[0].size, RAW_SIZE);
	mem_close(m);
}

TEST(mem_image_raw_past_end_is_efault)
{
	struct mem_source *m = raw_image();
	uint8_t buf[64];
	ASSERT_EQ(mem_read_phys(m, RAW_SIZE - 10, buf, 11), SEVMON_EFAULT);
	ASSERT_EQ(mem_read_phys(m, RAW_SIZE, buf, 1), SEVMON_EFAULT);
	ASSERT_EQ(mem_read_phys(m, 1ull << 40, buf, 8), SEVMON_EFAULT);
	mem_close(m);
}

TEST(mem_image_raw_wrapping_range_is_efault)
{
	struct mem_source *m = raw_image();
	uint8_t buf[64];
	ASSERT_EQ(mem_read_phys(m, UINT64_MAX - 3, buf, 8), SEVMON_EFAULT);
	ASSERT_EQ(mem_read_phys(m, UINT64_MAX, buf, 2), SEVMON_EFAULT);
	ASSERT_EQ(mem_read_phys(m, UINT64_MAX, buf, 1), SEVMON_EFAULT); /* no wrap, just absent */
	mem_close(m);
}

TEST(mem_image_raw_bad_arguments)
{
	struct mem_source *m = raw_image();
	uint8_t buf[16];
	ASSERT_EQ(mem_read_phys(m, 0, buf, 0), 0);
	ASSERT_EQ(mem_read_phys(m, 0, NULL, 4), SEVMON_EINVAL);
	ASSERT_EQ(mem_read_phys(NULL, 0, buf, 4), SEVMON_EINVAL);
	ASSERT_EQ(mem_read_phys(m, 0, buf, MEM_MAX_READ + 1), SEVMON_ETOOBIG);
	ASSERT_EQ(mem_read_virt(m, 0, buf, 4), SEVMON_ENOTSUP);
	uint64_t phys;
	uint32_t size;
	const uint8_t *d;
	size_t dl;
	ASSERT_EQ(mem_vmcoreinfo(m, &phys, &size), SEVMON_ENOENT);
	ASSERT_EQ(mem_vmcoreinfo_note(m, &d, &dl), SEVMON_ENOENT);
	mem_close(m);
}

TEST(mem_image_raw_max_read_is_served)
{
	char path[256];
	int fd = ttmp(path, sizeof(path));
	ASSERT_EQ(ftruncate(fd, MEM_MAX_READ + 4096), 0);
	ASSERT_EQ(pwrite(fd, "\x11", 1, MEM_MAX_READ - 1), 1);
	close(fd);
	struct mem_source *m = open_spec("image", path);
	unlink(path);
	uint8_t *buf = malloc(MEM_MAX_READ);
	ASSERT(buf != NULL);
	ASSERT_EQ(mem_read_phys(m, 0, buf, MEM_MAX_READ), 0);
	ASSERT_EQ(buf[MEM_MAX_READ - 1], 0x11);
	ASSERT_EQ(buf[0], 0);
	free(buf);
	mem_close(m);
}

TEST(mem_image_open_errors)
{
	struct mem_source *m = NULL;
	ASSERT_EQ(mem_open("image:/nonexistent/sevmon-no-such-file", &m), SEVMON_ENOENT);
	ASSERT(m == NULL);
	ASSERT_EQ(mem_open("image:", &m), SEVMON_EINVAL);
	ASSERT_EQ(mem_open("image", &m), SEVMON_EINVAL);
	ASSERT_EQ(mem_open("image:/tmp,bogus=1", &m), SEVMON_EINVAL);
	ASSERT_EQ(mem_open("floppy:/x", &m), SEVMON_ENOTSUP);
	ASSERT_EQ(mem_open("", &m), SEVMON_EINVAL);
	ASSERT_EQ(mem_open(NULL, &m), SEVMON_EINVAL);
	ASSERT_EQ(open_rc("/tmp"), SEVMON_EINVAL); /* a directory */
	char path[256];
	close(ttmp(path, sizeof(path))); /* empty file */
	ASSERT_EQ(open_rc(path), SEVMON_EINVAL);
	twrite_file(path, "KDUMP   \x06\x00\x00\x00", 12);
	ASSERT_EQ(open_rc(path), SEVMON_ENOTSUP);
	unlink(path);
}

/* ---- ELF cores ---- */

static const char VMCI_TEXT[] = "OSRELEASE=6.1.0-test\nPAGESIZE=4096\nKERNELOFFSET=1e000000\n";

/* Three RAM pieces: [0, 0xa0000), [0x100000, 0x104000) and [0x104000, 0x106000) adjacent
 * to it, then a lone page at 4 GiB; a VMCOREINFO note after a CORE note. */
static uint8_t *elf_core(size_t *len, uint8_t *notes, size_t *notes_len)
{
	uint8_t prstatus[0x150] = { 0 };
	size_t nl = tc_note(notes, 0, "CORE", 1, prstatus, sizeof(prstatus));
	nl = tc_note(notes, nl, "VMCOREINFO", 0, VMCI_TEXT, sizeof(VMCI_TEXT) - 1);
	*notes_len = nl;
	struct tc_seg s[] = {
		{ .type = 4, .size = nl, .note = notes },
		{ .type = 1, .paddr = 0, .size = 0xa0000, .pat_base = 0 },
		{ .type = 1, .paddr = 0x100000, .size = 0x4000, .pat_base = 0x100000 },
		{ .type = 1, .paddr = 0x104000, .size = 0x2000, .pat_base = 0x104000 },
		{ .type = 1, .paddr = 0x100000000ull, .size = 0x1000, .pat_base = 0x100000000ull },
	};
	return tc_build(s, sizeof(s) / sizeof(s[0]), len);
}

static char g_path[256];

static void write_core(const uint8_t *img, size_t len)
{
	if (g_path[0])
		unlink(g_path); /* the previous version, if still there */
	close(ttmp(g_path, sizeof(g_path)));
	twrite_file(g_path, img, len);
}

TEST(mem_image_elf_reads_segments_and_note)
{
	uint8_t notes[1024] = { 0 };
	size_t len, nl;
	uint8_t *img = elf_core(&len, notes, &nl);
	write_core(img, len);
	struct mem_source *m = open_spec("image", g_path);
	unlink(g_path);
	uint8_t buf[0x3000];

	ASSERT_EQ(mem_read_phys(m, 0x9ff00, buf, 0x100), 0);
	ASSERT(tpat_ok(buf, 0x9ff00, 0x100));
	/* across two segments that touch in the physical space */
	ASSERT_EQ(mem_read_phys(m, 0x103800, buf, 0x1000), 0);
	ASSERT(tpat_ok(buf, 0x103800, 0x1000));
	ASSERT_EQ(mem_read_phys(m, 0x100000000ull, buf, 0x1000), 0);
	ASSERT(tpat_ok(buf, 0x100000000ull, 0x1000));

	const struct mem_region *r;
	size_t n;
	ASSERT_EQ(mem_regions(m, &r, &n), 0);
	ASSERT_EQ(n, 3); /* the touching pair is one region */
	ASSERT_UEQ(r[0].start, 0);
	ASSERT_UEQ(r[0].size, 0xa0000);
	ASSERT_UEQ(r[1].start, 0x100000);
	ASSERT_UEQ(r[1].size, 0x6000);
	ASSERT_UEQ(r[2].start, 0x100000000ull);

	const uint8_t *d;
	size_t dl;
	uint64_t phys;
	uint32_t size;
	ASSERT_EQ(mem_vmcoreinfo_note(m, &d, &dl), 0);
	ASSERT_EQ(dl, sizeof(VMCI_TEXT) - 1);
	ASSERT_MEMEQ(d, VMCI_TEXT, dl);
	ASSERT_EQ(mem_vmcoreinfo(m, &phys, &size), SEVMON_ENOENT);
	mem_close(m);
	free(img);
}

TEST(mem_image_elf_gaps_and_ends_are_efault)
{
	uint8_t notes[1024] = { 0 };
	size_t len, nl;
	uint8_t *img = elf_core(&len, notes, &nl);
	write_core(img, len);
	struct mem_source *m = open_spec("image", g_path);
	unlink(g_path);
	uint8_t buf[0x100];
	ASSERT_EQ(mem_read_phys(m, 0xa0000, buf, 1), SEVMON_EFAULT);	 /* gap start */
	ASSERT_EQ(mem_read_phys(m, 0x9fff0, buf, 0x20), SEVMON_EFAULT); /* into the gap */
	ASSERT_EQ(mem_read_phys(m, 0xfff00, buf, 0x100), SEVMON_EFAULT); /* ends at segment */
	ASSERT_EQ(mem_read_phys(m, 0xfff00, buf, 0x101), SEVMON_EFAULT); /* out of the gap */
	ASSERT_EQ(mem_read_phys(m, 0x105ff0, buf, 0x20), SEVMON_EFAULT); /* past the pair */
	ASSERT_EQ(mem_read_phys(m, 0x100001000ull, buf, 1), SEVMON_EFAULT);
	/* The note and headers are file bytes, not memory. */
	ASSERT_EQ(mem_read_phys(m, len + 0x200000000ull, buf, 1), SEVMON_EFAULT);
	mem_close(m);
	free(img);
}

TEST(mem_image_elf_filesz_below_memsz_serves_only_file_bytes)
{
	uint8_t notes[1024] = { 0 };
	size_t len, nl;
	uint8_t *img = elf_core(&len, notes, &nl);
	store_le64(tc_phdr(img, 4) + TC_PH_MEMSZ, 0x10000); /* 4 GiB page: memsz > filesz */
	write_core(img, len);
	struct mem_source *m = open_spec("image", g_path);
	unlink(g_path);
	uint8_t buf[16];
	ASSERT_EQ(mem_read_phys(m, 0x100000ff0ull, buf, 16), 0);
	ASSERT_EQ(mem_read_phys(m, 0x100001000ull, buf, 16), SEVMON_EFAULT);
	mem_close(m);
	free(img);
}

/* Corrupt one field of a good core; the open must fail with want and leave nothing. */
static void corrupt_case(size_t field_off, uint64_t v, int width, int want)
{
	uint8_t notes[1024] = { 0 };
	size_t len, nl;
	uint8_t *img = elf_core(&len, notes, &nl);
	if (width == 2) {
		img[field_off] = (uint8_t)v;
		img[field_off + 1] = (uint8_t)(v >> 8);
	} else {
		store_le64(img + field_off, v);
	}
	write_core(img, len);
	int rc = open_rc(g_path);
	unlink(g_path);
	free(img);
	if (rc != want)
		FAIL_AT("field at %zu = 0x%llx: got %s, want %s", field_off, (unsigned long long)v,
			sevmon_errname(rc), sevmon_errname(want));
}

TEST(mem_image_elf_corrupt_headers_rejected)
{
	corrupt_case(TC_E_PHNUM, 0xffff, 2, SEVMON_EINVAL);		/* PN_XNUM */
	corrupt_case(TC_E_PHNUM, 4097, 2, SEVMON_EINVAL);		/* above the cap */
	corrupt_case(TC_E_PHNUM, 0, 2, SEVMON_EINVAL);
	corrupt_case(32, UINT64_MAX - 8, 8, SEVMON_EINVAL);		/* e_phoff wraps */
	corrupt_case(54, 32, 2, SEVMON_EINVAL);				/* e_phentsize */
	size_t ph2 = TC_EHDR + 2 * TC_PHDR;
	corrupt_case(ph2 + TC_PH_OFFSET, 1ull << 40, 8, SEVMON_EINVAL); /* beyond the file */
	corrupt_case(ph2 + TC_PH_OFFSET, UINT64_MAX - 0x100, 8, SEVMON_EINVAL); /* wraps */
	corrupt_case(ph2 + TC_PH_FILESZ, UINT64_MAX, 8, SEVMON_EINVAL);	/* overflowing */
	corrupt_case(ph2 + TC_PH_FILESZ, 0x5000, 8, SEVMON_EINVAL);	/* > memsz */
	/* Two segments claiming the same physical page. */
	corrupt_case(ph2 + TC_PH_PADDR, 0x1000, 8, SEVMON_EINVAL);
	/* A segment reaching past 2^64 in the physical space. */
	corrupt_case(ph2 + TC_PH_PADDR, UINT64_MAX - 0x100, 8, SEVMON_EINVAL);
	/* ELF32 and big-endian are not ours. */
	corrupt_case(4, 1, 2, SEVMON_ENOTSUP);
	corrupt_case(5, 2, 2, SEVMON_ENOTSUP);
	corrupt_case(16, 2, 2, SEVMON_EINVAL); /* ET_EXEC */
}

TEST(mem_image_elf_phdr_table_past_end_rejected)
{
	uint8_t notes[1024] = { 0 };
	size_t len, nl;
	uint8_t *img = elf_core(&len, notes, &nl);
	store_le64(img + 32, len - TC_PHDR); /* room for one of the five headers */
	write_core(img, len);
	ASSERT_EQ(open_rc(g_path), SEVMON_EINVAL);
	unlink(g_path);
	free(img);
}

TEST(mem_image_elf_truncated_note_rejected)
{
	uint8_t notes[1024] = { 0 };
	size_t len, nl;
	uint8_t *img = elf_core(&len, notes, &nl);
	uint8_t *ph0 = tc_phdr(img, 0);
	/* Cut the note segment inside the VMCOREINFO descriptor. */
	store_le64(ph0 + TC_PH_FILESZ, nl - 20);
	write_core(img, len);
	ASSERT_EQ(open_rc(g_path), SEVMON_EINVAL);
	/* A descsz that points past the segment. */
	store_le64(ph0 + TC_PH_FILESZ, nl);
	store_le32(img + load_le64(ph0 + TC_PH_OFFSET) + 4, 0x7ffffff0u);
	write_core(img, len);
	ASSERT_EQ(open_rc(g_path), SEVMON_EINVAL);
	unlink(g_path);
	free(img);
}

TEST(mem_image_elf_truncated_file_rejected)
{
	uint8_t notes[1024] = { 0 };
	size_t len, nl;
	uint8_t *img = elf_core(&len, notes, &nl);
	write_core(img, len - 1); /* last segment one byte short */
	ASSERT_EQ(open_rc(g_path), SEVMON_EINVAL);
	write_core(img, 100); /* inside the program headers */
	ASSERT_EQ(open_rc(g_path), SEVMON_EINVAL);
	write_core(img, 40); /* inside the ELF header */
	ASSERT_EQ(open_rc(g_path), SEVMON_EINVAL);
	unlink(g_path);
	free(img);
}

TEST(mem_image_elf_file_shrunk_after_open_is_efault)
{
	uint8_t notes[1024] = { 0 };
	size_t len, nl;
	uint8_t *img = elf_core(&len, notes, &nl);
	write_core(img, len);
	struct mem_source *m = open_spec("image", g_path);
	ASSERT_EQ(truncate(g_path, (off_t)(len - 0x1000)), 0); /* drops the 4 GiB page */
	unlink(g_path);
	uint8_t buf[16];
	ASSERT_EQ(mem_read_phys(m, 0x100000000ull, buf, 16), SEVMON_EFAULT);
	ASSERT_EQ(mem_read_phys(m, 0x100, buf, 16), 0);
	ASSERT(tpat_ok(buf, 0x100, 16));
	mem_close(m);
	free(img);
}

TEST(mem_image_elf_without_note_has_no_vmcoreinfo)
{
	struct tc_seg s[] = { { .type = 1, .paddr = 0x2000, .size = 0x1000, .pat_base = 0x2000 } };
	size_t len;
	uint8_t *img = tc_build(s, 1, &len);
	write_core(img, len);
	struct mem_source *m = open_spec("image", g_path);
	unlink(g_path);
	const uint8_t *d;
	size_t dl;
	ASSERT_EQ(mem_vmcoreinfo_note(m, &d, &dl), SEVMON_ENOENT);
	uint8_t buf[8];
	ASSERT_EQ(mem_read_phys(m, 0x2ff8, buf, 8), 0);
	ASSERT(tpat_ok(buf, 0x2ff8, 8));
	ASSERT_EQ(mem_read_phys(m, 0x1ff8, buf, 8), SEVMON_EFAULT);
	mem_close(m);
	free(img);
}

TEST_MAIN()
