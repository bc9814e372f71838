/*
 * pagewalk.c — x86-64 kernel virtual -> physical, walking the guest's own page tables from
 * init_top_pgt (PML5 when pgtable_l5_enabled, else PML4) in the format lib/x86/x86_pt.h
 * steps through (the agent walks it the same way), many addresses at once: each level of
 * all the walks is one gather of the table pages not cached yet. SME/SEV's C-bit
 * (NUMBER(sme_mask)) is stripped from every entry.
 */
#include <stdlib.h>
#include <string.h>

#include "introspect.h"
#include "err.h"
#include "rbuf.h"
#include "x86_pt.h"

#define PT_PAGE X86_PT_PAGE
/* Translations per batch: at most this many distinct tables per level, so one level's tables
 * always fit in the cache together (PW_BATCH <= PW_CACHE_PAGES). */
#define PW_BATCH 256u

static uint8_t *cache_find(struct pagewalk *pw, uint64_t pa)
{
	for (size_t i = 0; i < pw->ncache; i++)
		if (pw->cache[i].pa == pa)
			return pw->cache[i].page;
	return NULL;
}

void pw_reset(struct pagewalk *pw)
{
	for (size_t i = 0; i < pw->ncache; i++)
		free(pw->cache[i].page);
	pw->ncache = 0;
}

/* Fetch the distinct table pages want[0..n) that are not cached, in one gather. The caller
 * made room (n <= PW_BATCH <= free cache slots). Pages that fail to read stay uncached. */
static int fetch_pages(struct pagewalk *pw, const uint64_t *want, size_t n)
{
	struct gmem_range r[PW_BATCH];
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t *page = malloc(PT_PAGE);
		if (!page) {
			for (size_t j = 0; j < k; j++)
				free(r[j].out);
			return SEVMON_ENOMEM;
		}
		r[k++] = (struct gmem_range){ .addr = want[i], .len = PT_PAGE, .space = GMEM_PHYS,
			.out = page };
		pw->misses++;
	}
	int rc = gmem_gather(pw->phys, r, k);
	for (size_t j = 0; j < k; j++) {
		if (rc == 0 && r[j].status == 0)
			pw->cache[pw->ncache++] = (struct pw_cache_ent){ r[j].addr, r[j].out };
		else
			free(r[j].out);
	}
	return rc;
}

static int batch(struct pagewalk *pw, const uint64_t *va, uint64_t *pa, int *status, size_t n)
{
	uint64_t table[PW_BATCH];
	int done[PW_BATCH];
	for (size_t i = 0; i < n; i++) {
		table[i] = pw->top_pa;
		done[i] = 0;
		status[i] = 0;
		if (!x86_pt_canonical(va[i], pw->levels)) {
			status[i] = SEVMON_EFAULT;
			done[i] = 1;
		}
	}
	for (int lvl = pw->levels; lvl >= 1; lvl--) {
		uint64_t want[PW_BATCH];
		size_t nw = 0;
		for (size_t i = 0; i < n; i++) {
			if (done[i])
				continue;
			if (cache_find(pw, table[i])) {
				pw->hits++;
				continue;
			}
			int dup = 0;
			for (size_t j = 0; j < nw && !dup; j++)
				dup = want[j] == table[i];
			if (!dup)
				want[nw++] = table[i];
		}
		if (nw) {
			if (pw->ncache + nw > PW_CACHE_PAGES)
				pw_reset(pw); /* only this level's tables are needed from here on */
			int rc = fetch_pages(pw, want, nw);
			if (rc < 0)
				return rc;
		}
		for (size_t i = 0; i < n; i++) {
			if (done[i])
				continue;
			const uint8_t *page = cache_find(pw, table[i]);
			if (!page) { /* the table page itself could not be read */
				status[i] = SEVMON_EFAULT;
				done[i] = 1;
				continue;
			}
			uint64_t e = load_le64(page + x86_pt_entry_off(va[i], lvl)), next;
			switch (x86_pt_step(e, pw->sme_mask, lvl, va[i], &next)) {
			case X86_PT_FAULT:
				status[i] = SEVMON_EFAULT;
				done[i] = 1;
				break;
			case X86_PT_LEAF:
				pa[i] = next;
				done[i] = 1;
				break;
			case X86_PT_NEXT:
				table[i] = next;
				break;
			}
		}
	}
	return 0;
}

int pw_translate(struct pagewalk *pw, const uint64_t *va, uint64_t *pa, int *status, size_t n)
{
	if (pw->levels != 4 && pw->levels != 5)
		return SEVMON_EINVAL;
	for (size_t i = 0; i < n; i += PW_BATCH) {
		size_t k = n - i < PW_BATCH ? n - i : PW_BATCH;
		int rc = batch(pw, va + i, pa + i, status + i, k);
		if (rc < 0)
			return rc;
	}
	return 0;
}
