/*
 * agent_pagewalk.h — virtual addresses through x86-64 page tables whose root the IDS
 * supplies (AddrSpace VIRT_PT), for memory sources that hold only physical memory.
 *
 * The format walked is the hardware's (SDM vol. 3 §4.5), not an OS structure: the agent
 * stays OS-agnostic. A translation reads at most `levels` entries (bounded work); results
 * are kept in a small direct-mapped cache that lives for one request (agent_pt_setup
 * empties it), so a stale mapping never outlives the request that saw it.
 */
#ifndef SEVMON_AGENT_PAGEWALK_H
#define SEVMON_AGENT_PAGEWALK_H

#include <stddef.h>
#include <stdint.h>

#include "mem.h"

/* Cached translations per request: a task list walk touches one or two pages per node and
 * its derefs a few more; 1024 slots (16 KiB) catch the pages shared by neighbouring nodes
 * (slab pages hold several task_structs / creds) without making the reset per request
 * costly. */
#define AGENT_PT_CACHE_SLOTS 1024u

struct agent_pt {
	struct mem_source *mem;
	uint64_t root;      /* physical address of the top table (4 KiB aligned) */
	uint64_t cbit;      /* bits cleared from every entry (the SEV C-bit) */
	int levels;         /* 4 or 5 */
	uint64_t tag[AGENT_PT_CACHE_SLOTS]; /* virtual page number + 1; 0 = empty */
	uint64_t frame[AGENT_PT_CACHE_SLOTS]; /* physical address of that 4 KiB page */
	uint64_t walks, hits; /* statistics, for tests and benchmarks */
};

/* Set up pt for one request and empty its cache. EINVAL if levels is not 4 or 5, or root
 * is not 4 KiB aligned. */
int agent_pt_setup(struct agent_pt *pt, struct mem_source *mem, uint64_t root, uint32_t levels,
		   uint64_t cbit);
/* va -> pa. EFAULT: non-canonical va, a non-present entry, or a table that cannot be
 * read. 1 GiB and 2 MiB pages are honoured. */
int agent_pt_translate(struct agent_pt *pt, uint64_t va, uint64_t *pa);
/* len bytes at va, page by page (virtually contiguous is not physically contiguous).
 * All bytes or an error (EFAULT, or mem_read_phys's); ETOOBIG if len > MEM_MAX_READ. */
int agent_pt_read(struct agent_pt *pt, uint64_t va, void *buf, size_t len);

#endif
