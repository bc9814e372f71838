/* test_kallsyms.c — kallsyms decoding and the structural locator on tables built here the way
 * scripts/kallsyms lays them out (6.1), plus hostile variants. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "harness.h"
#include "introspect.h"
#include "rbuf.h"

#define BASE 0xffffffff81000000ull /* where the test memory sits (kernel virtual) */
#define MEM_SIZE (1u << 20)
#define NSYMS 1500u
#define RELBASE 0xffffffff81000000ull
#define LONG_NAME_LEN 300u /* > 127 tokens: the two-byte length form */

struct mem {
	uint8_t *b;
	struct ksyms_loc loc;
};

static int mem_gather(void *ctx, struct gmem_range *r, size_t n)
{
	struct mem *m = ctx;
	for (size_t i = 0; i < n; i++) {
		r[i].status = SEVMON_EFAULT;
		if (r[i].addr >= BASE && r[i].addr - BASE <= MEM_SIZE && r[i].len <= MEM_SIZE - (r[i].addr - BASE)) {
			memcpy(r[i].out, m->b + (r[i].addr - BASE), r[i].len);
			r[i].status = 0;
		}
	}
	return 0;
}

static const struct gmem_ops mem_ops = { .gather = mem_gather };

static size_t al8(size_t v) { return (v + 7) & ~(size_t)7; }

static void name_of(uint32_t i, char *buf, size_t cap)
{
	if (i == NSYMS - 1) {
		memset(buf, 'L', LONG_NAME_LEN);
		buf[LONG_NAME_LEN] = '\0';
	} else {
		snprintf(buf, cap, "sym_%u", i);
	}
}

/* Token i (i >= 1) is the single byte i; token 0 is "zz". A name's byte c encodes as c. */
static void build(struct mem *m)
{
	m->b = calloc(1, MEM_SIZE);
	ASSERT(m->b != NULL);
	size_t p = 0x100; /* some unrelated bytes first */
	memset(m->b, 0xa5, p);
	m->loc.offsets = BASE + p;
	for (uint32_t i = 0; i < NSYMS; i++) {
		/* symbol 0 is absolute (per-CPU style), the rest relative to the base */
		int32_t off = i == 0 ? 0x1000 : -(int32_t)(1 + i * 16);
		store_le32(m->b + p + 4 * i, (uint32_t)off);
	}
	p = al8(p + 4 * NSYMS);
	m->loc.relative_base = BASE + p;
	store_le64(m->b + p, RELBASE);
	p += 8;
	m->loc.num_syms = BASE + p;
	store_le32(m->b + p, NSYMS);
	p += 8;
	m->loc.names = BASE + p;
	size_t names = p;
	uint32_t markers[(NSYMS + 255) / 256];
	for (uint32_t i = 0; i < NSYMS; i++) {
		char nm[LONG_NAME_LEN + 1];
		if (i % 256 == 0)
			markers[i / 256] = (uint32_t)(p - names);
		name_of(i, nm, sizeof nm);
		size_t l = strlen(nm) + 1; /* + the type letter */
		if (l > 127) {
			m->b[p++] = (uint8_t)(0x80 | (l & 0x7f));
			m->b[p++] = (uint8_t)(l >> 7);
		} else {
			m->b[p++] = (uint8_t)l;
		}
		m->b[p++] = i % 2 ? 'D' : 'T';
		memcpy(m->b + p, nm, l - 1);
		p += l - 1;
	}
	p = al8(p);
	m->loc.markers = BASE + p;
	for (size_t k = 0; k < sizeof markers / sizeof markers[0]; k++, p += 4)
		store_le32(m->b + p, markers[k]);
	p = al8(p);
	m->loc.token_table = BASE + p;
	size_t tt = p;
	uint16_t idx[256];
	for (int t = 0; t < 256; t++) {
		idx[t] = (uint16_t)(p - tt);
		if (t == 0) {
			memcpy(m->b + p, "zz", 3);
			p += 3;
		} else {
			m->b[p++] = (uint8_t)t;
			m->b[p++] = 0;
		}
	}
	p = al8(p);
	m->loc.token_index = BASE + p;
	for (int t = 0; t < 256; t++, p += 2) {
		m->b[p] = (uint8_t)idx[t];
		m->b[p + 1] = (uint8_t)(idx[t] >> 8);
	}
	ASSERT(p < MEM_SIZE);
}

TEST(ksyms_load_decodes_synthetic_table)
{
	static struct mem m;
	build(&m);
	struct gmem g = { .ops = &mem_ops, .ctx = &m, .virt = 1 };
	struct ksyms ks;
	ASSERT_EQ(ksyms_load(&ks, &g, &m.loc), 0);
	ASSERT_UEQ(ks.n, NSYMS);
	ASSERT_UEQ(ks.sym[0].addr, 0x1000);
	ASSERT_EQ(ks.sym[0].type, 'T');
	for (uint32_t i = 1; i < NSYMS; i++) {
		char nm[LONG_NAME_LEN + 1];
		name_of(i, nm, sizeof nm);
		ASSERT_STREQ(ksym_name(&ks, i), nm);
		ASSERT_UEQ(ks.sym[i].addr, RELBASE + i * 16);
		ASSERT_EQ(ks.sym[i].type, i % 2 ? 'D' : 'T');
		uint64_t a = 0;
		ASSERT_EQ(ksym_lookup(&ks, nm, &a), 0);
		ASSERT_UEQ(a, RELBASE + i * 16);
	}
	uint64_t a;
	ASSERT_EQ(ksym_lookup(&ks, "sym_99999", &a), SEVMON_ENOENT);
	ASSERT_EQ(ksym_lookup(&ks, "", &a), SEVMON_ENOENT);
	ASSERT(ksym_name(&ks, NSYMS) == NULL);
	ksyms_free(&ks);
	free(m.b);
}

TEST(ksyms_loc_scan_finds_synthetic_tables)
{
	static struct mem m;
	build(&m);
	struct gmem g = { .ops = &mem_ops, .ctx = &m, .virt = 1 };
	struct ksyms_loc loc;
	ASSERT_EQ(ksyms_loc_scan(&loc, &g, BASE, MEM_SIZE), 0);
	ASSERT_UEQ(loc.token_table, m.loc.token_table);
	ASSERT_UEQ(loc.token_index, m.loc.token_index);
	ASSERT_UEQ(loc.names, m.loc.names);
	ASSERT_UEQ(loc.num_syms, m.loc.num_syms);
	ASSERT_UEQ(loc.relative_base, m.loc.relative_base);
	ASSERT_UEQ(loc.offsets, m.loc.offsets);
	/* A marker that disagrees with the names: nothing verifies. */
	store_le32(m.b + (m.loc.markers - BASE) + 4, 12345);
	ASSERT_EQ(ksyms_loc_scan(&loc, &g, BASE, MEM_SIZE), SEVMON_ENOENT);
	ASSERT_EQ(ksyms_loc_scan(&loc, &g, BASE, KSYMS_SCAN_MAX + 1), SEVMON_ETOOBIG);
	free(m.b);
}

TEST(ksyms_load_rejects_hostile_tables)
{
	static struct mem m;
	build(&m);
	struct gmem g = { .ops = &mem_ops, .ctx = &m, .virt = 1 };
	struct ksyms ks;
	uint8_t *num = m.b + (m.loc.num_syms - BASE);
	store_le32(num, KSYMS_MAX_SYMS + 1);
	ASSERT_EQ(ksyms_load(&ks, &g, &m.loc), SEVMON_EDECODE);
	store_le32(num, 0);
	ASSERT_EQ(ksyms_load(&ks, &g, &m.loc), SEVMON_EDECODE);
	/* More symbols than the names hold: the decoder runs out of bytes, not past them. */
	store_le32(num, NSYMS + 50);
	struct ksyms_loc l = m.loc;
	l.markers = 0;
	l.token_table = l.markers; /* no end hint: the bounded default read faults */
	ASSERT(ksyms_load(&ks, &g, &l) < 0);
	store_le32(num, NSYMS);
	/* Token index not increasing. */
	uint8_t *ti = m.b + (m.loc.token_index - BASE);
	ti[10] = ti[8];
	ti[11] = ti[9];
	ASSERT_EQ(ksyms_load(&ks, &g, &m.loc), SEVMON_EDECODE);
	free(m.b);
}

TEST_MAIN()
