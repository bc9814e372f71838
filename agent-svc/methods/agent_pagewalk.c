/*
 * agent_pagewalk.c — x86-64 virtual -> physical through 4- or 5-level page tables whose
 * root the IDS supplies, in the format lib/x86/x86_pt.h walks (the IDS walks it the same
 * way), with a per-request cache of translations.
 */
#include "agent_pagewalk.h"

#include <string.h>

#include "err.h"
#include "rbuf.h"
#include "x86_pt.h"

#define PT_PAGE ((uint64_t)X86_PT_PAGE)

/* x86_pt_walk reads entries from the memory source. */
static int read_entry(void *ctx, uint64_t pa, uint64_t *entry)
{
	uint8_t raw[8];
	int rc = mem_read_phys(ctx, pa, raw, 8);
	if (rc == 0)
		*entry = load_le64(raw);
	return rc;
}

int agent_pt_setup(struct agent_pt *pt, struct mem_source *mem, uint64_t root, uint32_t levels,
		   uint64_t cbit)
{
	if ((levels != 4 && levels != 5) || (root & (PT_PAGE - 1)))
		return SEVMON_EINVAL;
	pt->mem = mem;
	pt->root = root;
	pt->levels = (int)levels;
	pt->cbit = cbit;
	memset(pt->tag, 0, sizeof pt->tag);
	pt->walks = pt->hits = 0;
	return 0;
}

int agent_pt_translate(struct agent_pt *pt, uint64_t va, uint64_t *pa)
{
	uint64_t vpn = va >> 12;
	size_t slot = (size_t)(vpn % AGENT_PT_CACHE_SLOTS);
	if (pt->tag[slot] == vpn + 1) {
		pt->hits++;
		*pa = pt->frame[slot] | (va & (PT_PAGE - 1));
		return 0;
	}
	pt->walks++;
	uint64_t p;
	int rc = x86_pt_walk(read_entry, pt->mem, pt->root, pt->levels, pt->cbit, va, &p);
	if (rc < 0)
		return rc;
	pt->tag[slot] = vpn + 1;
	pt->frame[slot] = p & ~(PT_PAGE - 1);
	*pa = p;
	return 0;
}

int agent_pt_read(struct agent_pt *pt, uint64_t va, void *buf, size_t len)
{
	uint8_t *o = buf;
	if (len > MEM_MAX_READ)
		return SEVMON_ETOOBIG;
	while (len) {
		uint64_t in = PT_PAGE - (va & (PT_PAGE - 1)), pa;
		size_t n = in < len ? (size_t)in : len;
		int rc = agent_pt_translate(pt, va, &pa);
		if (rc == 0)
			rc = mem_read_phys(pt->mem, pa, o, n);
		if (rc < 0)
			return rc;
		va += n;
		o += n;
		len -= n;
	}
	return 0;
}
