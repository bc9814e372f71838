/*
 * ids_kernel.h — a Linux kernel seen through one agent: profile, KASLR, address translation.
 *
 * Opens in as few round trips as it can: GetInfo, VMCOREINFO (where the agent says it is,
 * or found with one Scan), then the profile from the cache (keyed by BUILD-ID, re-based on
 * this boot's KERNELOFFSET and checked against linux_banner) or built from the kernel's
 * own kallsyms and BTF and cached. An agent that serves only physical memory (placement
 * (b): a guest-RAM file) is given the guest's page-table root (init_top_pgt from
 * VMCOREINFO) and translates itself (AddrSpace VIRT_PT); an agent without that capability
 * gets kernel-virtual reads translated here by walking the guest's page tables.
 */
#ifndef SEVMON_IDS_KERNEL_H
#define SEVMON_IDS_KERNEL_H

#include "ids_conn.h"
#include "ids_gmem.h"
#include "introspect.h"

struct ids_kernel {
	struct ids_agent_info info;
	struct ids_gmem agent;
	struct pagewalk pw;
	struct xlate x;
	struct gmem virt; /* the translating gmem (placement (b)) */
	struct kintro k;
	int translated;  /* 1: kernel-virtual reads go through our page walk */
	int agent_pt;    /* 1: the agent walks the guest's page tables (root given by us) */
	int from_cache;  /* 1: the profile came from the cache */
	int used_hint;   /* 1: VMCOREINFO was read where it was found last time (no Scan) */
	uint64_t vmci_phys;
};

/* err gets a one-line explanation on failure. */
int ids_kernel_open(struct ids_kernel *kk, struct ids_conn *c, char *err, size_t errcap);
/* Without VMCOREINFO (wiped, or not trusted): for each cached profile, probe the 512
 * candidate KASLR slides in one Gather, and accept the slide at which linux_banner carries
 * the profile's release and init_task is "swapper/0". Needs an agent that reads
 * kernel-virtual memory (placement (a)). */
int ids_kernel_open_probing(struct ids_kernel *kk, struct ids_conn *c, char *err, size_t errcap);
void ids_kernel_close(struct ids_kernel *kk);

#endif
