/*
 * baseline.h — what a kernel's text and read-only data were at its first scan: the
 * baseline the text check compares later scans of the same build (BUILD-ID) with.
 *
 * It holds the bytes of [_stext, _etext) and [__start_rodata, __end_rodata) as read then,
 * their leaf digests (lib/mem/mem_digest.h: BASELINE_LEAF-byte leaves), and the places the
 * kernel patches in itself at run time, from its own tables: ftrace's call sites (its
 * dyn_ftrace records) and the jump-label sites (__jump_table: code, target, 2 or 5 bytes).
 * Offsets are from _stext, so one baseline serves every boot and KASLR slide of the build.
 *
 * The file (<cache>/<build-id>.baseline for the CLI and sevmond; `--baseline FILE` to
 * choose): a header, the sites, the leaf digests and a digest over all of that, then the
 * bytes. Loading reads and checks the first part only (a few hundred KiB); a page of the
 * bytes is read when a scan needs it (a page that changed) and must match its leaf
 * digest. A file that is short, has counts past the bounds below, or whose digests do not
 * match is refused (EDECODE), never half used. It is the IDS's own file, but read as
 * untrusted all the same.
 */
#ifndef SEVMON_BASELINE_H
#define SEVMON_BASELINE_H

#include <stddef.h>
#include <stdint.h>

#include "introspect.h"

#define BASELINE_LEAF 4096u     /* a page */
#define BASELINE_GROUP 16u      /* 64 KiB a group digest: ~370 of them for 6.1's 23 MiB */
#define BASELINE_MAX_BYTES (256u << 20) /* text + rodata of a distribution kernel: ~25 MiB */
#define BASELINE_MAX_SITES (1u << 20)   /* ftrace sites ~45k, jump sites ~10k in 6.x */

struct baseline_jump {
	uint32_t code, target; /* offsets from _stext */
	uint8_t size;          /* 2 or 5 */
};

struct baseline {
	char build_id[KPROFILE_MAX_BUILD_ID];
	uint64_t text_len, rodata_off, rodata_len;
	uint8_t *bytes;         /* text_len + rodata_len: text, then rodata (baseline_bytes) */
	uint8_t *have;          /* per leaf: its bytes are in `bytes` */
	void *file;             /* FILE * the bytes are read from on demand; NULL: all here */
	uint64_t bytes_at;      /* where they start in it */
	uint8_t *leaves;        /* leaf digests: text's, then rodata's */
	uint32_t *ftrace;       /* sorted offsets of ftrace call sites */
	size_t nftrace;
	struct baseline_jump *jump; /* sorted by code */
	size_t njump;
};

/* Leaves of the text and the rodata range. */
uint64_t baseline_text_leaves(const struct baseline *b);
uint64_t baseline_rodata_leaves(const struct baseline *b);
/* Group digests of a range (0 text, 1 rodata) from the leaf digests (out: as many as
 * mem_digest_count(len, BASELINE_LEAF, BASELINE_GROUP)). */
void baseline_groups(const struct baseline *b, int range, uint8_t *out);

/* The default path: <cache dir>/<build-id>.baseline. */
int baseline_path(char *buf, size_t cap, const char *build_id);
int baseline_save(const struct baseline *b, const char *path);
/* ENOENT when there is none; EDECODE for a file that is not a whole, intact baseline. */
int baseline_load(struct baseline *b, const char *path);
void baseline_free(struct baseline *b);

/* n bytes at off of the stored bytes (text at 0, rodata at text_len): read from the file
 * page by page as needed, each checked against its leaf digest. 0, EDECODE, EIO. */
int baseline_bytes(struct baseline *b, uint64_t off, uint8_t *out, size_t n);
/* Every byte here (a baseline just recorded). */
void baseline_all_present(struct baseline *b);

/* Is there an ftrace site / a jump site covering offset off? (index or -1) */
long baseline_ftrace_at(const struct baseline *b, uint32_t off);
long baseline_jump_at(const struct baseline *b, uint32_t off);

#endif
