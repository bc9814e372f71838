/*
 * x86_pt.h — the x86-64 page-table format (SDM vol. 3 §4.5), walked the same way by both
 * sides: the agent translating for a physical-only source (agent_pagewalk.c) and the IDS
 * translating gathers it batches level by level (introspect/pagewalk.c).
 *
 * An entry: bit 0 present, bit 7 PS (a 1 GiB page in a PDPT entry, 2 MiB in a PD entry),
 * bits 12..51 the next table or the page frame. Under SEV the C-bit is set in entries and
 * is not part of the address: it is cleared first (cbit). Levels are 4 (PML4) or 5 (PML5);
 * level 1 is the page table. Everything here is pure: the caller reads the entries.
 */
#ifndef SEVMON_X86_PT_H
#define SEVMON_X86_PT_H

#include <stdint.h>

#define X86_PT_PAGE 4096u
#define X86_PT_PRESENT 1ull
#define X86_PT_PS (1ull << 7)
#define X86_PT_ADDR 0x000ffffffffff000ull

/* 1 if va is canonical for this many levels (48 or 57 significant bits). */
static inline int x86_pt_canonical(uint64_t va, int levels)
{
	int bits = levels == 5 ? 57 : 48;
	int64_t s = (int64_t)(va << (64 - bits)) >> (64 - bits);
	return (uint64_t)s == va;
}

/* Byte offset of va's entry inside the table of level lvl (levels .. 1). */
static inline uint64_t x86_pt_entry_off(uint64_t va, int lvl)
{
	return ((va >> (12 + 9 * (lvl - 1))) & 511) * 8;
}

enum x86_pt_step {
	X86_PT_FAULT = -1, /* not present */
	X86_PT_NEXT = 0,   /* *out = the next table's physical address */
	X86_PT_LEAF = 1,   /* *out = va's physical address */
};

/* One step: entry is what the table of level lvl holds for va. */
enum x86_pt_step x86_pt_step(uint64_t entry, uint64_t cbit, int lvl, uint64_t va, uint64_t *out);

/* A whole walk from root, reading each entry through read_entry (0 or an error: the table
 * is not readable). Returns 0 with *pa, SEVMON_EFAULT (non-canonical, not present, a table
 * that cannot be read) or SEVMON_EINVAL (levels not 4 or 5). At most `levels` reads. */
int x86_pt_walk(int (*read_entry)(void *ctx, uint64_t pa, uint64_t *entry), void *ctx,
		uint64_t root, int levels, uint64_t cbit, uint64_t va, uint64_t *pa);

#endif
