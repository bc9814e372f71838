/*
 * ids_gmem.h — guest memory (introspect/gmem.h) served by a live agent.
 *
 * Each gmem_gather is one Gather request, each gmem_walk one WalkList request, each
 * ids_gmem_scan one Scan request; the calls block on the connection's loop (CLI use).
 */
#ifndef SEVMON_IDS_GMEM_H
#define SEVMON_IDS_GMEM_H

#include "gmem.h"
#include "ids_conn.h"

/* Per-request deadline the introspection calls use. */
#define IDS_GMEM_TIMEOUT_MS 30000u

struct ids_agent_info {
	int virt;            /* agent reads kernel-virtual addresses (kcore) */
	uint64_t vmci_phys;  /* where the agent says VMCOREINFO is, 0 if it does not know */
	uint32_t vmci_size;
	uint32_t max_ranges, max_gather_bytes, max_walk_nodes;
	size_t nregions;
	uint64_t region_start[64], region_size[64];
	char source[16];
};

struct ids_gmem {
	struct gmem g;
	struct ids_conn *conn;
	uint32_t timeout_ms;
	uint32_t max_walk_nodes;
};

/* GetInfo, synchronously. */
int ids_agent_get_info(struct ids_conn *c, struct ids_agent_info *info, char *err, size_t errcap);
/* A gmem over c; info's limits are applied (ranges per gather, walk size). */
void ids_gmem_init(struct ids_gmem *m, struct ids_conn *c, const struct ids_agent_info *info);
/* Scan the agent's physical regions for pattern; hits[] gets up to max addresses.
 * Returns the number of hits or a negative SEVMON_E*. One round trip. */
int ids_gmem_scan(struct ids_gmem *m, const struct ids_agent_info *info, const void *pattern,
		  size_t plen, uint32_t align, uint64_t *hits, size_t max);

#endif
