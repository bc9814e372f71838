/*
 * agent_pagewalk.c — x86-64 virtual -> physical through 4- or 5-level page tables.
 * Entry (SDM vol. 3 §4.5): bit 0 present, bit 7 PS (a 1 GiB page in a PDPT entry, 2 MiB in
 * a PD entry), bits 12..51 the next table or page frame. The C-bit is cleared first, since
 * under SEV it is set in entries and is not part of the address.
 */
#include "agent_pagewalk.h"

#include <string.h>

#include "err.h"
#include "rbuf.h"

#define PTE_PRESENT 1ull
#define PTE_PS (1ull << 7)
#define PTE_ADDR 0x000ffffffffff000ull
#define PT_PAGE 4096ull

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

static int canonical(uint64_t va, int levels)
{
	int bits = levels == 5 ? 57 : 48;
	int64_t s = (int64_t)(va << (64 - bits)) >> (64 - bits);
	return (uint64_t)s == va;
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
	if (!canonical(va, pt->levels))
		return SEVMON_EFAULT;
	pt->walks++;
	uint64_t table = pt->root;
	for (int lvl = pt->levels; lvl >= 1; lvl--) {
		int shift = 12 + 9 * (lvl - 1);
		uint8_t raw[8];
		if (mem_read_phys(pt->mem, table + ((va >> shift) & 511) * 8, raw, 8) < 0)
			return SEVMON_EFAULT; /* the table itself is not in the source */
		uint64_t e = load_le64(raw) & ~pt->cbit;
		if (!(e & PTE_PRESENT))
			return SEVMON_EFAULT;
		if (lvl == 1 || ((lvl == 2 || lvl == 3) && (e & PTE_PS))) {
			uint64_t mask = (1ull << shift) - 1;
			uint64_t p = ((e & PTE_ADDR) & ~mask) | (va & mask);
			pt->tag[slot] = vpn + 1;
			pt->frame[slot] = p & ~(PT_PAGE - 1);
			*pa = p;
			return 0;
		}
		table = e & PTE_ADDR;
	}
	return SEVMON_EFAULT; /* not reached: level 1 always ends the walk */
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
