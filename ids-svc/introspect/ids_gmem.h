/*
 * ids_gmem.h — guest memory (introspect/gmem.h) served by a live agent.
 *
 * Each gmem_gather is one Gather request, each gmem_walk one WalkList request (deref windows
 * included), each gmem_scan one Scan request of every region the agent reported; the calls
 * block on the connection's loop (CLI use). Each request has the connection's deadline
 * (ids_conn.request_timeout_ms).
 */
#ifndef SEVMON_IDS_GMEM_H
#define SEVMON_IDS_GMEM_H

#include "gmem.h"
#include "ids_conn.h"

struct ids_agent_info {
	int virt;            /* agent reads kernel-virtual addresses (kcore) */
	uint64_t vmci_phys;  /* where the agent says VMCOREINFO is, 0 if it does not know */
	uint32_t vmci_size;
	uint32_t max_ranges, max_gather_bytes, max_walk_nodes;
	int pt_walk;         /* agent serves AddrSpace VIRT_PT and deref windows */
	size_t nregions;
	uint64_t region_start[64], region_size[64];
	char source[16];
};

struct ids_gmem {
	struct gmem g;
	struct ids_conn *conn;
	const struct ids_agent_info *info; /* the regions a Scan covers; outlives m */
	uint32_t timeout_ms;
	uint32_t max_walk_nodes;
	int pt_walk;         /* the agent advertised VIRT_PT and deref windows */
	int pt_on;           /* GMEM_VIRT goes to the agent as VIRT_PT through these tables */
	uint64_t pt_root, pt_cbit;
	uint32_t pt_levels;
};

/* GetInfo, synchronously. */
int ids_agent_get_info(struct ids_conn *c, struct ids_agent_info *info, char *err, size_t errcap);
/* A gmem over c; info's limits are applied (ranges per gather, walk size); info must
 * outlive m. */
void ids_gmem_init(struct ids_gmem *m, struct ids_conn *c, const struct ids_agent_info *info);
/* Placement (b) with an agent that walks page tables (info->pt_walk): from now on GMEM_VIRT
 * ranges and walks are sent as AddrSpace VIRT_PT with these tables (root = physical address
 * of init_top_pgt, levels 4 or 5, cbit = the C-bit to strip), and m->g serves GMEM_VIRT.
 * ENOTSUP if the agent lacks it (keep translating on the IDS side: xlate), EINVAL if the
 * tables are malformed. */
int ids_gmem_use_pagetables(struct ids_gmem *m, const struct ids_agent_info *info, uint64_t root,
			    uint32_t levels, uint64_t cbit);

#endif
