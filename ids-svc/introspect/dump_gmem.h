/*
 * dump_gmem.h — guest memory (gmem.h) read in-process from a memory source (lib/mem/mem.h):
 * a saved dump (LiME, ELF core or raw, plain or sealed), or a guest-RAM file, analysed
 * offline with no agent process and no channel.
 *
 * Each gmem_gather reads its ranges from the source (a local call, counted in g.trips as
 * a round trip would be), gmem_walk is the generic walk on gather, gmem_scan reads every
 * region. The dump is as untrusted as a live guest: the same bounds apply (ranges per
 * gather, MEM_MAX_READ per range), and a range the dump does not hold fails alone.
 * One thread at a time (the source's rule).
 */
#ifndef SEVMON_DUMP_GMEM_H
#define SEVMON_DUMP_GMEM_H

#include "gmem.h"
#include "mem.h"

/* A scan reads this much per call (the agent's Scan chunk). */
#define DUMP_SCAN_CHUNK (1u << 20)
/* Longest pattern a scan takes: a note header, a signature; never a page. */
#define DUMP_SCAN_MAX_PATTERN 256u

struct dump_gmem {
	struct gmem g;
	struct mem_source *src; /* owned */
	uint8_t *scan_buf;      /* DUMP_SCAN_CHUNK + DUMP_SCAN_MAX_PATTERN, on first scan */
	/* Reads that failed authentication (EDECODE: a sealed image altered there). A check
	 * would see such a range as unreadable and give a partial answer; the caller turns
	 * any count here into an error instead, since the evidence itself was tampered with. */
	uint64_t altered;
};

/* Open spec (mem_open's: "image:PATH[,key=KEYFILE]", "ramfile:...", "kcore..."); on failure
 * nothing stays open and the code is mem_open's (EDENIED: sealed and no key, or not to
 * this key; EDECODE: a sealed file that was altered; ENOENT, EINVAL, ENOTSUP). */
int dump_gmem_open(struct dump_gmem *d, const char *spec);
void dump_gmem_close(struct dump_gmem *d);

#endif
