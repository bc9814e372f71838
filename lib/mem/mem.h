/*
 * mem.h — guest memory as a source of bytes (read-only): what the agent serves, and what
 * the IDS reads a saved dump with when it analyses one offline.
 *
 * A memory source is opened from a spec string and then only read. Three kinds:
 *
 *   "kcore" | "kcore:PATH[,vmcoreinfo=PATH]"
 *       /proc/kcore of the running kernel (placement (a): the agent is root in the guest;
 *       opening needs CAP_SYS_RAWIO and fails under kernel lockdown). Kernel-virtual reads go
 *       through its PT_LOAD segments; physical reads through the direct-map segments (the
 *       PT_LOADs with a physical address that share the linear offset covering the most
 *       bytes). PATH and vmcoreinfo= override /proc/kcore and /sys/kernel/vmcoreinfo (tests).
 *   "image:PATH[,key=KEYFILE]"
 *       A saved guest: an ELF64 core as QEMU's dump-guest-memory writes it (detected by the
 *       ELF magic; PT_LOAD p_paddr -> file offset, VMCOREINFO note if the guest had the
 *       vmcoreinfo device), a LiME file (its "EMiL" magic; one range per header), else a
 *       raw physical image (physical address = file offset). Any of the three may be
 *       inside a sealed container (mem_seal.h), opened with the key pair in KEYFILE (a
 *       `sevmon keygen` private key): EDENIED without key= or with a key it is not sealed
 *       to, EDECODE when the container was altered. kdump-compressed dumps are refused
 *       (ENOTSUP).
 *   "ramfile:PATH[,base=0xADDR][,lowmem=0xSIZE][,machine=pc|q35]"
 *       A live guest-RAM file shared by QEMU (memory-backend-file,share=on), mapped
 *       read-only so every read sees current guest memory (placement (b)). File offsets
 *       [0, lowmem) are guest-physical [base, base+lowmem); the rest of the file is
 *       guest-physical 4 GiB onward (x86 pc/q35: the PCI hole [lowmem, 4 GiB) is not RAM).
 *       lowmem defaults to 2 GiB when base is 0 (right for any guest of <= 2 GiB, and for
 *       q35 guests of >= 2.75 GiB), and to the whole file when base is not 0 (one bank,
 *       e.g. Arm virt at base=0x40000000). machine=pc|q35 applies QEMU 7.2's split for that
 *       machine type instead (pc: 3 GiB when RAM >= 3.5 GiB; q35: 2 GiB when RAM >= 2.75 GiB;
 *       otherwise all RAM below 4 GiB), assuming the default max-ram-below-4g.
 *   Paths cannot contain ','; options are comma-separated after the path.
 *
 * Errors are negative SEVMON_E* codes (lib/base/err.h). Nothing here prints.
 * A source is used by one thread at a time.
 */
#ifndef SEVMON_MEM_H
#define SEVMON_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest single read. One reply is assembled whole in memory on both sides before it is
 * sent (RPC reassembly), so this bounds the agent's per-request buffer; 1 MiB is 256 pages,
 * plenty for any one kernel object and small enough to hold a few requests in flight. */
#define MEM_MAX_READ (1u << 20)

struct mem_source; /* opaque */

/* A guest-physical range [start, start+size) the source can serve. */
struct mem_region {
	uint64_t start, size;
};

/* Open the source named by spec. On success *out owns the source (free with mem_close).
 * On failure *out is NULL, nothing stays open, and the result is:
 *   EINVAL   malformed spec or malformed/inconsistent file (bad ELF header or notes, ...)
 *   ENOENT   the file does not exist
 *   EDENIED  permission denied (not root, no CAP_SYS_RAWIO, lockdown)
 *   ENOTSUP  unknown kind or unsupported format (ELF32, big-endian, kdump-compressed)
 *   ENOMEM, EIO, ESYS  as usual. */
int mem_open(const char *spec, struct mem_source **out);
/* Close and free; NULL is a no-op. Pointers handed out by the source die with it. */
void mem_close(struct mem_source *m);

/* "kcore" | "image" | "ramfile"; static storage. */
const char *mem_kind(const struct mem_source *m);
/* Whether mem_read_virt can ever succeed on this source. */
bool mem_has_virt(const struct mem_source *m);

/* Read exactly len bytes of guest-physical memory at addr into buf. Returns 0, or:
 *   EFAULT   some byte of [addr, addr+len) is not backed by the source (a gap, past the
 *            end, the x86 PCI hole, a file that shrank, a kcore read that failed or came
 *            back short); also when addr+len wraps past 2^64. Nothing is zero-filled.
 *   ETOOBIG  len > MEM_MAX_READ
 *   EINVAL   NULL m, or NULL buf with len > 0
 *   ENOTSUP  the source has no physical view (a kcore without physical addresses)
 *   EDECODE  a sealed image's chunk holding those bytes does not authenticate (altered)
 * len == 0 succeeds without touching buf. On error buf holds unspecified bytes. */
int mem_read_phys(struct mem_source *m, uint64_t addr, void *buf, size_t len);
/* The same for a kernel-virtual address; ENOTSUP on image and ramfile sources (they cannot
 * translate: the IDS walks page tables itself). */
int mem_read_virt(struct mem_source *m, uint64_t vaddr, void *buf, size_t len);

/* The physical ranges the source serves, sorted, non-overlapping, adjacent ranges merged.
 * *out stays valid until mem_close. *n may be 0 (kcore without physical view). */
int mem_regions(const struct mem_source *m, const struct mem_region **out, size_t *n);

/* Guest-physical address and size (bytes, note header included) of the kernel's VMCOREINFO
 * ELF note. kcore: from /sys/kernel/vmcoreinfo, which the kernel prints as "%pa %x" (hex
 * address with 0x, hex size). ENOENT when the source does not know it: a dump carries the
 * note's bytes but not where they were, so images and ramfiles answer ENOENT here. */
int mem_vmcoreinfo(const struct mem_source *m, uint64_t *phys, uint32_t *size);
/* The VMCOREINFO text itself ("OSRELEASE=...\n..."; the note's descriptor, not
 * NUL-terminated) where the source carries it: an ELF image's VMCOREINFO note, or /proc/kcore's
 * own VMCOREINFO note (Linux >= 4.19). *desc stays valid until mem_close. ENOENT otherwise. */
int mem_vmcoreinfo_note(const struct mem_source *m, const uint8_t **desc, size_t *len);

/*
 * Scanning physical memory for a byte pattern (the agent's Scan, and the IDS reading a dump
 * in-process): s is the caller's state, reused across ranges. buf holds chunk + plen bytes
 * (caller-owned: the agent's arena, a malloc); the last plen - 1 bytes of each chunk are
 * kept in front of the next, so a pattern straddling two chunks is found. A chunk the
 * source does not hold (EFAULT) is counted in unreadable and skipped; any other read error
 * (EDECODE: a sealed image altered there; EIO) ends the scan with it. Hits at addresses
 * that are multiples of align go into hits[]: the max-th sets truncated and ends the scan
 * there (nothing after it is read: a caller that wants the first good hit asks for one).
 */
struct mem_scan {
	const uint8_t *pattern;
	size_t plen;        /* > 0 */
	uint64_t align;     /* > 0 */
	uint64_t *hits;
	size_t max, n;
	bool truncated;
	uint8_t *buf;
	size_t chunk;       /* bytes read per mem_read_phys, <= MEM_MAX_READ */
	uint64_t scanned, unreadable;
	/* asked before each chunk (may be NULL): nonzero stops the scan with that error */
	int (*stop)(void *ctx);
	void *stop_ctx;
};

/* Scan [start, start+len) (physical). 0, EINVAL (a range that wraps, plen 0, align 0,
 * chunk 0 or > MEM_MAX_READ), a read error other than EFAULT, or what stop() returned. */
int mem_scan_range(struct mem_source *m, struct mem_scan *s, uint64_t start, uint64_t len);

#endif
