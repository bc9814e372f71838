/*
 * mem_impl.h — internals shared by the memory backends (not part of the contract; mem.h is).
 *
 * Each backend embeds struct mem_source first in its own state and fills in the common
 * fields; mem.c checks arguments once and dispatches through the ops table.
 */
#ifndef SEVMON_MEM_IMPL_H
#define SEVMON_MEM_IMPL_H

#include <stdint.h>
#include <sys/types.h>

#include "mem.h"

/* Bounds for what is read out of a core file's headers. */
/* QEMU writes one PT_LOAD per guest RAM block and kcore one per System RAM range plus a
 * handful; a few hundred at most in practice. 4096 headers = 224 KiB of table. */
#define MEM_ELF_MAX_PHDRS 4096u
/* QEMU writes about 1 KiB of notes per vCPU (NT_PRSTATUS + its "QEMU" note; q35 allows
 * 1024 vCPUs), kcore a task_struct (~10 KiB) and VMCOREINFO: 2 MiB covers both. */
#define MEM_ELF_MAX_NOTES (2u << 20)
/* The kernel keeps VMCOREINFO in one page (VMCOREINFO_BYTES = PAGE_SIZE); 64 KiB covers the
 * largest page size Linux uses. */
#define MEM_VMCOREINFO_MAX (64u << 10)

struct mem_ops {
	const char *kind;
	/* Both get a range already checked for len <= MEM_MAX_READ, len > 0, and no wrap.
	 * read_virt may be NULL (ENOTSUP). */
	int (*read_phys)(struct mem_source *m, uint64_t addr, void *buf, size_t len);
	int (*read_virt)(struct mem_source *m, uint64_t addr, void *buf, size_t len);
	void (*close)(struct mem_source *m); /* frees the backend state, not the common fields */
};

struct mem_source {
	const struct mem_ops *ops;
	struct mem_region *regions; /* malloc'd, sorted, merged */
	size_t nregions;
	bool has_vmci_phys;
	uint64_t vmci_phys;
	uint32_t vmci_size;
	uint8_t *vmci_note; /* malloc'd VMCOREINFO descriptor, or NULL */
	size_t vmci_note_len;
};

/* ---- mem_map.c: a sorted address -> file offset map ---- */

struct mem_seg {
	uint64_t addr, size, off; /* [addr, addr+size) lives at file offset off */
};

struct mem_map {
	struct mem_seg *seg; /* malloc'd, sorted by addr, non-overlapping, no empty segments */
	size_t n;
};

/* Take ownership of segs[0..n) (malloc'd; may be NULL when n == 0), drop empty ones, sort,
 * and check: addr+size and off+size do not wrap, no two overlap (EINVAL). On error segs is
 * freed and mm is empty. */
int mem_map_build(struct mem_map *mm, struct mem_seg *segs, size_t n);
void mem_map_free(struct mem_map *mm);
/* Copy one piece: n bytes at file offset off into dst. 0 or a negative SEVMON_E*. */
typedef int (*mem_chunk_fn)(void *ctx, uint64_t off, uint8_t *dst, size_t n);
/* Read [addr, addr+len) (len > 0, no wrap) through the map: the whole range must be covered
 * by segments that touch one another, else EFAULT before any piece is read. */
int mem_map_read(const struct mem_map *mm, uint64_t addr, void *buf, size_t len,
		 mem_chunk_fn fn, void *ctx);
/* The map's address ranges with touching ones merged, as a malloc'd region list. */
int mem_map_regions(const struct mem_map *mm, struct mem_region **out, size_t *n);

/* pread exactly n bytes at off (retrying EINTR); a short read or an error is EFAULT —
 * for kcore a failed or short read means the range is not readable memory. */
int mem_pread_chunk(void *fdp, uint64_t off, uint8_t *dst, size_t n);

/* open(2) a file read-only and map errno to ENOENT / EDENIED / ESYS. Returns fd or error. */
int mem_open_ro(const char *path);

/* ---- mem_elf.c: ELF64 core headers ---- */

struct mem_elf_phdr {
	uint32_t type;
	uint64_t offset, vaddr, paddr, filesz, memsz;
};

struct mem_elf {
	struct mem_elf_phdr *ph; /* malloc'd */
	size_t nph;
	uint16_t machine;
};

#define MEM_ELF_PT_LOAD 1u
#define MEM_ELF_PT_NOTE 4u
#define MEM_ELF_MAGIC "\x7f" "ELF"

/* Parse the ELF64 little-endian ET_CORE header and program headers of a file read through
 * fn(ctx, ...) (mem_pread_chunk on an fd, or a sealed image's reader). file_size bounds
 * every offset (0 = unknown, no bound). EINVAL on anything malformed (e_phnum 0 or above
 * MEM_ELF_MAX_PHDRS, table or segment past the end of the file or wrapping, filesz > memsz
 * on PT_LOAD), ENOTSUP for ELF32 / big-endian, EIO/EFAULT when the file cannot be read. */
int mem_elf_parse(mem_chunk_fn fn, void *ctx, uint64_t file_size, struct mem_elf *out);
void mem_elf_free(struct mem_elf *e);
/* Walk every PT_NOTE (each at most MEM_ELF_MAX_NOTES) and copy out the descriptor of the
 * VMCOREINFO note. 0 with *desc malloc'd, ENOENT if there is none, EINVAL if a note is
 * truncated or its descriptor exceeds MEM_VMCOREINFO_MAX. */
int mem_elf_vmcoreinfo(mem_chunk_fn fn, void *ctx, const struct mem_elf *e, uint8_t **desc,
		       size_t *len);

/* ---- backends ---- */
int mem_kcore_open(const char *args, struct mem_source **out);
int mem_image_open(const char *args, struct mem_source **out);
int mem_ramfile_open(const char *args, struct mem_source **out);

/* ---- spec options (mem.c) ---- */
/* Split "PATH[,k=v...]": copy PATH into path (cap bytes, EINVAL if longer or empty) and
 * point *opts at the text after the first ',' (or at ""). */
int mem_spec_path(const char *args, char *path, size_t cap, const char **opts);
/* Find option key in opts ("k=v,k2=v2"); copy its value into val. 1 found, 0 absent,
 * EINVAL if too long. */
int mem_spec_opt(const char *opts, const char *key, char *val, size_t cap);
/* Parse a whole-string unsigned number (0x hex or decimal); EINVAL otherwise. */
int mem_parse_u64(const char *s, uint64_t *v);
/* EINVAL if opts holds a key not in the NULL-terminated list keys. */
int mem_spec_check_keys(const char *opts, const char *const *keys);

#endif
