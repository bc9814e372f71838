/*
 * image_layout.h — where each byte of an acquired memory image goes, decided before the
 * first read: the file is a fixed header part and then every physical range's bytes in
 * order, so an interrupted acquisition resumes at a byte offset and gives the same file.
 *
 *   LiME (the default; the format Volatility 3 and other tools read): per range a 32-byte
 *     header (magic "EMiL", version 1, first and last physical address, 8 zero bytes)
 *     followed by the range's bytes.
 *   ELF core (--format elf, as QEMU's dump-guest-memory writes it): an ELF64 ET_CORE header,
 *     a PT_NOTE (the guest's VMCOREINFO note, when the agent knows where it is), then one
 *     PT_LOAD per range (p_paddr the physical address, p_vaddr 0), each page-aligned.
 * Bytes the agent could not read are zeros in the file and listed in the manifest: never
 * zero-filled silently.
 */
#ifndef SEVMON_IMAGE_LAYOUT_H
#define SEVMON_IMAGE_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

enum image_format { IMAGE_LIME = 0, IMAGE_ELF = 1 };

/* Physical ranges one image holds: an agent reports at most 64 (GetInfo phys_regions). */
#define IMAGE_MAX_RANGES 64u
/* The VMCOREINFO note an ELF image carries (one page, as the kernel keeps it). */
#define IMAGE_MAX_NOTE 4096u

struct image_range {
	uint64_t start, size; /* physical */
	uint64_t file_off;    /* where its first byte lies in the file */
};

struct image_layout {
	enum image_format format;
	struct image_range r[IMAGE_MAX_RANGES];
	size_t n;
	uint64_t total;       /* the file's size */
	uint8_t *head;        /* bytes that are not memory, laid out in the file (owned) */
	struct image_part {   /* where head's pieces go: [file_off, file_off + len) */
		uint64_t file_off, head_off, len;
	} part[IMAGE_MAX_RANGES + 1];
	size_t nparts;
	size_t head_len;
};

/* Lay out ranges (sorted, non-overlapping, each > 0 bytes) in format; note (may be NULL)
 * is the VMCOREINFO note's bytes for ELF, whole (header, name, descriptor). EINVAL for
 * ranges out of order or too many, ETOOBIG for a note over IMAGE_MAX_NOTE, ENOMEM. */
int image_layout_build(struct image_layout *l, enum image_format format,
		       const uint64_t *start, const uint64_t *size, size_t n, const uint8_t *note,
		       size_t note_len);
void image_layout_free(struct image_layout *l);

/* What lies at file offset off: a piece of header (returns 1, *len bytes of it at *head),
 * memory (returns 2: range *ri, physical address *phys, *len bytes until the range ends),
 * padding (returns 3: *len zero bytes), or the end (0). */
int image_layout_at(const struct image_layout *l, uint64_t off, size_t *ri, uint64_t *phys,
		    const uint8_t **head, uint64_t *len);

#endif
