/*
 * x86_pt.c — one x86-64 page-table step, and a whole walk over it (x86_pt.h).
 */
#include "x86_pt.h"

#include "err.h"

enum x86_pt_step x86_pt_step(uint64_t entry, uint64_t cbit, int lvl, uint64_t va, uint64_t *out)
{
	uint64_t e = entry & ~cbit;
	if (!(e & X86_PT_PRESENT))
		return X86_PT_FAULT;
	if (lvl == 1 || ((lvl == 2 || lvl == 3) && (e & X86_PT_PS))) {
		uint64_t mask = (1ull << (12 + 9 * (lvl - 1))) - 1;
		*out = ((e & X86_PT_ADDR) & ~mask) | (va & mask);
		return X86_PT_LEAF;
	}
	*out = e & X86_PT_ADDR;
	return X86_PT_NEXT;
}

int x86_pt_walk(int (*read_entry)(void *ctx, uint64_t pa, uint64_t *entry), void *ctx,
		uint64_t root, int levels, uint64_t cbit, uint64_t va, uint64_t *pa)
{
	if (levels != 4 && levels != 5)
		return SEVMON_EINVAL;
	if (!x86_pt_canonical(va, levels))
		return SEVMON_EFAULT;
	uint64_t table = root;
	for (int lvl = levels; lvl >= 1; lvl--) {
		uint64_t e, next;
		if (read_entry(ctx, table + x86_pt_entry_off(va, lvl), &e) < 0)
			return SEVMON_EFAULT; /* the table itself is not readable */
		switch (x86_pt_step(e, cbit, lvl, va, &next)) {
		case X86_PT_FAULT:
			return SEVMON_EFAULT;
		case X86_PT_LEAF:
			*pa = next;
			return 0;
		case X86_PT_NEXT:
			table = next;
			break;
		}
	}
	return SEVMON_EFAULT; /* not reached: level 1 always ends the walk */
}
