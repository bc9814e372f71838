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

#include <pthread.h>

#include "dump_gmem.h"
#include "ids_conn.h"
#include "ids_gmem.h"
#include "introspect.h"

struct ids_kernel {
	struct ids_agent_info info;   /* the agent's GetInfo, or the same facts of a dump */
	struct ids_gmem agent;        /* live: the agent's memory */
	struct dump_gmem dump;        /* offline: the dump's memory (owned when offline) */
	struct gmem *mem;             /* &agent.g or &dump.g: what the kernel is read through */
	int offline;
	struct pagewalk pw;
	struct xlate x;
	struct gmem virt; /* the translating gmem (placement (b)) */
	struct kintro k;
	int translated;  /* 1: kernel-virtual reads go through our page walk */
	int agent_pt;    /* 1: the agent walks the guest's page tables (root given by us) */
	int from_cache;  /* 1: the profile came from the cache */
	int used_hint;   /* 1: VMCOREINFO was read where it was found last time (no Scan) */
	uint64_t vmci_phys;
	uint32_t vmci_size; /* the note's size when found by a Scan */
};

/* err gets a one-line explanation on failure. */
int ids_kernel_open(struct ids_kernel *kk, struct ids_conn *c, char *err, size_t errcap);
/* Offline: the kernel in a memory image read in-process (dump_gmem.h; spec is mem_open's,
 * e.g. "image:PATH,key=KEYFILE"), opened the same way as through a physical-only agent:
 * VMCOREINFO found by scanning the image (remembered per spec, like a URI's hint), the
 * page tables walked here. Nothing stays open on failure. */
int ids_kernel_open_dump(struct ids_kernel *kk, const char *spec, char *err, size_t errcap);
/* Without VMCOREINFO (wiped, or not trusted): for each cached profile, probe the 512
 * candidate KASLR slides in one Gather, and accept the slide at which linux_banner carries
 * the profile's release and init_task is "swapper/0". Needs an agent that reads
 * kernel-virtual memory (placement (a)). */
int ids_kernel_open_probing(struct ids_kernel *kk, struct ids_conn *c, char *err, size_t errcap);
void ids_kernel_close(struct ids_kernel *kk);

/*
 * A profile memo shared by the threads of one process that open many kernels at once
 * (sevmon scan). Keyed by BUILD-ID: the first thread to meet a build loads it from the
 * disk cache or builds it (kallsyms + 6 MB of BTF through its agent) while the others
 * that meet the same build wait for it, then all re-base the one profile in memory; a
 * fleet of one kernel builds once, not once per thread. A build that fails leaves no
 * entry, so the next thread tries again. Builds beyond IDS_KMEMO_MAX go unmemoised
 * (the disk cache still serves them).
 */
/* Distinct kernel builds one scan memoises: a fleet runs a handful of distribution
 * kernels; each entry is ~1 KiB. */
#define IDS_KMEMO_MAX 64u

struct ids_kmemo_ent {
	char build_id[KPROFILE_MAX_BUILD_ID];
	int ready; /* 0: a thread is building it; 1: p is valid */
	struct kprofile p;
};

struct ids_kmemo {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ids_kmemo_ent e[IDS_KMEMO_MAX];
	size_t n;
	/* Where VMCOREINFO was found last (0: nowhere yet), for agents that do not say
	 * (GetInfo without vmcoreinfo_phys): one read at the hint instead of a Scan of all
	 * guest memory. Clones of one image keep the note at one address; a miss (the read
	 * does not parse as the note) costs one round trip and falls back to the Scan. */
	uint64_t vmci_hint;
	uint32_t vmci_hint_size;
	int vmci_scanning; /* a thread is scanning: the others wait for its hint */
	/* counters for reports: profiles built from guest memory, loaded from disk, reused;
	 * VMCOREINFO found at the hint, found by a Scan */
	unsigned long built, loaded, reused, hint_hits, scans;
};

/* 0 or SEVMON_ENOMEM (pthread objects). ids_kmemo_destroy when no thread uses it. */
int ids_kmemo_init(struct ids_kmemo *m);
void ids_kmemo_destroy(struct ids_kmemo *m);

/* ids_kernel_open through memo m (NULL: same as ids_kernel_open). Thread-safe for
 * distinct kk / c; m may be shared. */
int ids_kernel_open_memo(struct ids_kernel *kk, struct ids_conn *c, struct ids_kmemo *m,
			 char *err, size_t errcap);

#endif
