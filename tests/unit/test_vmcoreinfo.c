/* test_vmcoreinfo.c — VMCOREINFO parsing, note decoding and the physical-memory scan. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "harness.h"
#include "introspect.h"
#include "rbuf.h"

static const char good[] =
	"OSRELEASE=6.1.0-56-amd64\n"
	"BUILD-ID=eb4fbcd037e7253717950bf2b93bd5566f47c56f\n"
	"PAGESIZE=4096\n"
	"SYMBOL(init_uts_ns)=ffffffff8f7fb000\n"
	"OFFSET(list_head.next)=0\n"
	"NUMBER(phys_base)=-79691776\n"
	"KERNELOFFSET=cc00000\n";

TEST(vmci_parse_good_note)
{
	struct vmcoreinfo vi;
	uint64_t a = 0;
	int64_t n = 0;
	ASSERT_EQ(vmci_parse(&vi, good, sizeof good - 1), 0);
	ASSERT_UEQ(vi.n, 7);
	ASSERT_STREQ(vmci_get(&vi, "OSRELEASE"), "6.1.0-56-amd64");
	ASSERT_STREQ(vmci_get(&vi, "KERNELOFFSET"), "cc00000");
	ASSERT_EQ(vmci_symbol(&vi, "init_uts_ns", &a), 0);
	ASSERT_UEQ(a, 0xffffffff8f7fb000ull);
	ASSERT_EQ(vmci_number(&vi, "NUMBER", "phys_base", &n), 0);
	ASSERT_EQ(n, -79691776);
	ASSERT_EQ(vmci_number(&vi, "OFFSET", "list_head.next", &n), 0);
	ASSERT_EQ(n, 0);
	ASSERT_EQ(vmci_symbol(&vi, "absent", &a), SEVMON_ENOENT);
	ASSERT(vmci_get(&vi, "CRASHTIME") == NULL);
	vmci_free(&vi);
}

/* 6.9+ prints some NUMBER()s as 0x-hex (6.12: NUMBER(VMALLOC_START)=0xff78df5540000000):
 * a note with one must still parse, and the value is its 64 bits. */
TEST(vmci_parse_hex_number_of_6_12)
{
	static const char t[] = "OSRELEASE=6.12.107+deb12-amd64\n"
				"NUMBER(VMALLOC_START)=0xff78df5540000000\n"
				"NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)=-513\n"
				"NUMBER(big)=99999999999999999999\n";
	struct vmcoreinfo vi;
	int64_t n = 0;
	ASSERT_EQ(vmci_parse(&vi, t, sizeof t - 1), 0);
	ASSERT_EQ(vmci_number(&vi, "NUMBER", "VMALLOC_START", &n), 0);
	ASSERT_UEQ((uint64_t)n, 0xff78df5540000000ull);
	ASSERT_EQ(vmci_number(&vi, "NUMBER", "PAGE_SLAB_MAPCOUNT_VALUE", &n), 0);
	ASSERT_EQ(n, -513);
	ASSERT_EQ(vmci_number(&vi, "NUMBER", "big", &n), SEVMON_EDECODE); /* past int64 */
	vmci_free(&vi);
	static const char *bad[] = { "NUMBER(x)=0x\n", "NUMBER(x)=0x12345678901234567\n",
				     "NUMBER(x)=0xfg\n", "OFFSET(x)=0x10\n" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ASSERT_EQ(vmci_parse(&vi, bad[i], strlen(bad[i])), SEVMON_EDECODE);
}

TEST(vmci_parse_trailing_nuls_and_blank_lines)
{
	const char t[] = "OSRELEASE=x\n\n\nPAGESIZE=4096\n\0\0\0";
	struct vmcoreinfo vi;
	ASSERT_EQ(vmci_parse(&vi, t, sizeof t), 0);
	ASSERT_UEQ(vi.n, 2);
	vmci_free(&vi);
}

TEST(vmci_parse_rejects_bad_lines)
{
	static const char *bad[] = {
		"OSRELEASE=x\nNOEQUALSIGN\n",
		"=value\n",
		"SYMBOL(x)=fffffffg\n",
		"SYMBOL(x)=\n",
		"KERNELOFFSET=0x100\n",
		"NUMBER(x)=12a\n",
		"OFFSET(a.b)=-\n",
		"PAGESIZE=4k\n",
		"BUILD-ID=xyz\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct vmcoreinfo vi;
		ASSERT_EQ(vmci_parse(&vi, bad[i], strlen(bad[i])), SEVMON_EDECODE);
		ASSERT(vi.text == NULL && vi.e == NULL);
	}
}

TEST(vmci_parse_rejects_embedded_nul)
{
	const char t[] = "OSRELEASE=a\0b\nPAGESIZE=1\n";
	struct vmcoreinfo vi;
	ASSERT_EQ(vmci_parse(&vi, t, sizeof t - 1), SEVMON_EDECODE);
}

TEST(vmci_parse_rejects_oversize)
{
	size_t n = VMCI_MAX_BYTES + 1;
	char *t = malloc(n);
	ASSERT(t != NULL);
	memset(t, 'A', n);
	struct vmcoreinfo vi;
	ASSERT_EQ(vmci_parse(&vi, t, n), SEVMON_ETOOBIG);
	free(t);
}

TEST(vmci_parse_rejects_too_many_entries)
{
	size_t n = (VMCI_MAX_ENTRIES + 1) * 4;
	char *t = malloc(n);
	ASSERT(t != NULL);
	for (size_t i = 0; i < VMCI_MAX_ENTRIES + 1; i++)
		memcpy(t + 4 * i, "A=1\n", 4);
	struct vmcoreinfo vi;
	ASSERT_EQ(vmci_parse(&vi, t, n), SEVMON_EDECODE);
	ASSERT_EQ(vmci_parse(&vi, t, n - 4), 0);
	ASSERT_UEQ(vi.n, VMCI_MAX_ENTRIES);
	vmci_free(&vi);
	free(t);
}

/* An ELF note: namesz, descsz, type, "VMCOREINFO\0" padded to 12, desc padded to 4. */
static size_t make_note(uint8_t *p, const char *text, size_t len, uint32_t namesz)
{
	store_le32(p, namesz);
	store_le32(p + 4, (uint32_t)len);
	store_le32(p + 8, 0);
	memcpy(p + 12, "VMCOREINFO\0\0", 12);
	memcpy(p + 24, text, len);
	return 24 + ((len + 3) & ~(size_t)3);
}

TEST(vmci_from_note_decodes_and_checks_header)
{
	uint8_t buf[512];
	struct vmcoreinfo vi;
	size_t n = make_note(buf, good, sizeof good - 1, 11);
	ASSERT_EQ(vmci_from_note(&vi, buf, n), 0);
	ASSERT_STREQ(vmci_get(&vi, "PAGESIZE"), "4096");
	vmci_free(&vi);
	ASSERT_EQ(vmci_from_note(&vi, buf, 30), SEVMON_ETRUNC);
	make_note(buf, good, sizeof good - 1, 12);
	ASSERT_EQ(vmci_from_note(&vi, buf, n), SEVMON_EDECODE);
	make_note(buf, good, sizeof good - 1, 11);
	buf[12] = 'X';
	ASSERT_EQ(vmci_from_note(&vi, buf, n), SEVMON_EDECODE);
}

/* A flat physical memory for the scan. */
struct flat {
	uint8_t *mem;
	uint64_t size;
};

static int flat_gather(void *ctx, struct gmem_range *r, size_t n)
{
	struct flat *f = ctx;
	for (size_t i = 0; i < n; i++) {
		r[i].status = SEVMON_EFAULT;
		if (r[i].addr <= f->size && r[i].len <= f->size - r[i].addr) {
			memcpy(r[i].out, f->mem + r[i].addr, r[i].len);
			r[i].status = 0;
		}
	}
	return 0;
}

static const struct gmem_ops flat_ops = { .gather = flat_gather };

TEST(vmci_scan_finds_note_across_chunk_boundary)
{
	struct flat f = { .size = 4u << 20 };
	f.mem = calloc(1, f.size);
	ASSERT(f.mem != NULL);
	struct gmem g = { .ops = &flat_ops, .ctx = &f };
	/* A decoy header whose text lacks OSRELEASE comes first; the real one straddles. */
	make_note(f.mem + 0x1000, "A=1\n", 4, 11);
	uint64_t at = 3 * (VMCI_SCAN_CHUNK - VMCI_NOTE_HDR) - 8;
	make_note(f.mem + at, good, sizeof good - 1, 11);
	uint64_t start = 0, size = f.size, pa = 0;
	struct vmcoreinfo vi;
	ASSERT_EQ(vmci_scan(&vi, &g, &start, &size, 1, &pa), 0);
	ASSERT_UEQ(pa, at);
	ASSERT_STREQ(vmci_get(&vi, "OSRELEASE"), "6.1.0-56-amd64");
	ASSERT(g.trips >= 1);
	vmci_free(&vi);
	uint64_t small = 0x1000;
	ASSERT_EQ(vmci_scan(&vi, &g, &start, &small, 1, &pa), SEVMON_ENOENT);
	free(f.mem);
}

TEST(vmci_read_bounds_size)
{
	struct flat f = { .size = 8192 };
	f.mem = calloc(1, f.size);
	ASSERT(f.mem != NULL);
	struct gmem g = { .ops = &flat_ops, .ctx = &f };
	size_t n = make_note(f.mem + 64, good, sizeof good - 1, 11);
	struct vmcoreinfo vi;
	ASSERT_EQ(vmci_read(&vi, &g, 64, (uint32_t)n), 0);
	vmci_free(&vi);
	ASSERT_EQ(vmci_read(&vi, &g, 64, 8), SEVMON_EDECODE);
	ASSERT_EQ(vmci_read(&vi, &g, 64, 1u << 30), SEVMON_ETOOBIG);
	ASSERT_EQ(vmci_read(&vi, &g, 8000, 4096), SEVMON_EFAULT);
	free(f.mem);
}

TEST_MAIN()
