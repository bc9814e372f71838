/* test_baseline.c — the text baseline's file: round trip, pages read on demand and checked
 * against their digests, a damaged or cut file refused, site lookups. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "baseline.h"
#include "err.h"
#include "harness.h"
#include "mem_digest.h"

#define TEXT (3 * BASELINE_LEAF + 100)
#define RODATA (2 * BASELINE_LEAF)

static void make(struct baseline *b)
{
	memset(b, 0, sizeof *b);
	snprintf(b->build_id, sizeof b->build_id, "00ff");
	b->text_len = TEXT;
	b->rodata_off = 4 * BASELINE_LEAF;
	b->rodata_len = RODATA;
	b->bytes = malloc(TEXT + RODATA);
	for (size_t i = 0; i < TEXT + RODATA; i++)
		b->bytes[i] = (uint8_t)(i * 13 + 1);
	static uint32_t ft[] = { 16, 4096, 8000 };
	static struct baseline_jump jt[] = { { 100, 200, 2 }, { 5000, 16, 5 } };
	b->ftrace = malloc(sizeof ft);
	memcpy(b->ftrace, ft, sizeof ft);
	b->nftrace = 3;
	b->jump = malloc(sizeof jt);
	memcpy(b->jump, jt, sizeof jt);
	b->njump = 2;
	uint64_t nl = baseline_text_leaves(b) + baseline_rodata_leaves(b);
	b->leaves = malloc(nl * MEM_DIGEST_LEN);
	ASSERT_EQ(mem_digest_buf(b->bytes, TEXT, BASELINE_LEAF, 1, b->leaves), 0);
	ASSERT_EQ(mem_digest_buf(b->bytes + TEXT, RODATA, BASELINE_LEAF, 1,
				 b->leaves + baseline_text_leaves(b) * MEM_DIGEST_LEN), 0);
}

static void tmp_path(char *p, size_t cap)
{
	snprintf(p, cap, "/tmp/sevmon-baseline-%ld", (long)getpid());
}

static void flip(const char *path, long at)
{
	FILE *f = fopen(path, "r+");
	ASSERT(f != NULL);
	fseek(f, at, at < 0 ? SEEK_END : SEEK_SET);
	int c = fgetc(f);
	fseek(f, at, at < 0 ? SEEK_END : SEEK_SET);
	fputc(c ^ 1, f);
	fclose(f);
}

TEST(baseline_save_load_roundtrip_pages_on_demand)
{
	struct baseline b, l;
	char path[64];
	make(&b);
	tmp_path(path, sizeof path);
	ASSERT_EQ(baseline_save(&b, path), 0);
	ASSERT_EQ(baseline_load(&l, path), 0);
	ASSERT_STREQ(l.build_id, "00ff");
	ASSERT_UEQ(l.text_len, TEXT);
	ASSERT_UEQ(l.rodata_off, 4 * BASELINE_LEAF);
	ASSERT_UEQ(l.nftrace, 3);
	ASSERT_UEQ(l.njump, 2);
	ASSERT_EQ(l.jump[1].size, 5);
	uint8_t got[300];
	/* across the text's last, short leaf into rodata */
	ASSERT_EQ(baseline_bytes(&l, TEXT - 150, got, sizeof got), 0);
	ASSERT_MEMEQ(got, b.bytes + TEXT - 150, sizeof got);
	ASSERT_EQ(baseline_bytes(&l, TEXT + RODATA - 1, got, 2), SEVMON_EINVAL);
	uint8_t g1[MEM_DIGEST_LEN], g2[MEM_DIGEST_LEN];
	baseline_groups(&b, 1, g1);
	baseline_groups(&l, 1, g2);
	ASSERT_MEMEQ(g1, g2, sizeof g1);
	baseline_free(&l);
	/* a page of the bytes altered: that page fails, the others still read */
	flip(path, -(long)(RODATA - 10)); /* 10 bytes into rodata */
	ASSERT_EQ(baseline_load(&l, path), 0);
	ASSERT_EQ(baseline_bytes(&l, TEXT + 10, got, 4), SEVMON_EDECODE);
	ASSERT_EQ(baseline_bytes(&l, 0, got, 4), 0);
	baseline_free(&l);
	baseline_free(&b);
	unlink(path);
}

TEST(baseline_damaged_or_cut_refused)
{
	struct baseline b, l;
	char path[64];
	make(&b);
	tmp_path(path, sizeof path);
	ASSERT_EQ(baseline_save(&b, path), 0);
	flip(path, 120); /* in the sites and digests: the meta digest fails */
	ASSERT_EQ(baseline_load(&l, path), SEVMON_EDECODE);
	ASSERT_EQ(baseline_save(&b, path), 0);
	ASSERT_EQ(truncate(path, 100), 0);
	ASSERT_EQ(baseline_load(&l, path), SEVMON_EDECODE);
	ASSERT_EQ(baseline_load(&l, "/nonexistent/x.baseline"), SEVMON_ENOENT);
	baseline_free(&b);
	unlink(path);
}

TEST(baseline_sites_cover_their_bytes)
{
	struct baseline b;
	make(&b);
	ASSERT_EQ(baseline_ftrace_at(&b, 16), 0);
	ASSERT_EQ(baseline_ftrace_at(&b, 20), 0);
	ASSERT_EQ(baseline_ftrace_at(&b, 21), -1);
	ASSERT_EQ(baseline_ftrace_at(&b, 15), -1);
	ASSERT_EQ(baseline_ftrace_at(&b, 8004), 2);
	ASSERT_EQ(baseline_jump_at(&b, 101), 0);
	ASSERT_EQ(baseline_jump_at(&b, 102), -1);
	ASSERT_EQ(baseline_jump_at(&b, 5004), 1);
	ASSERT_EQ(baseline_jump_at(&b, 99), -1);
	baseline_free(&b);
}

TEST_MAIN()
