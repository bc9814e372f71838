/*
 * image_layout.c — the byte layout of LiME and ELF-core memory images (image_layout.h).
 */
#include "image_layout.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "rbuf.h"

#define LIME_MAGIC 0x4c694d45u
#define LIME_HDR 32u
#define EHDR 64u
#define PHDR 56u
#define PAGE 4096u

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

static void put_lime(uint8_t *h, uint64_t start, uint64_t size)
{
	store_le32(h, LIME_MAGIC);
	store_le32(h + 4, 1);
	store_le64(h + 8, start);
	store_le64(h + 16, start + size - 1);
	memset(h + 24, 0, 8);
}

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* Elf64_Phdr: type, flags, offset, vaddr, paddr, filesz, memsz, align. */
static void put_phdr(uint8_t *p, uint32_t type, uint64_t off, uint64_t paddr, uint64_t size,
		     uint64_t align)
{
	store_le32(p, type);
	store_le32(p + 4, type == 1 ? 7u : 0u); /* PT_LOAD: RWX, as QEMU writes it */
	store_le64(p + 8, off);
	store_le64(p + 16, 0);
	store_le64(p + 24, paddr);
	store_le64(p + 32, size);
	store_le64(p + 40, size);
	store_le64(p + 48, align);
}

int image_layout_build(struct image_layout *l, enum image_format format,
		       const uint64_t *start, const uint64_t *size, size_t n, const uint8_t *note,
		       size_t note_len)
{
	memset(l, 0, sizeof *l);
	if (n > IMAGE_MAX_RANGES)
		return SEVMON_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (size[i] == 0 || start[i] > UINT64_MAX - size[i] ||
		    (i && start[i] < start[i - 1] + size[i - 1]))
			return SEVMON_EINVAL;
	if (note_len > IMAGE_MAX_NOTE)
		return SEVMON_ETOOBIG;
	l->format = format;
	l->n = n;
	if (format == IMAGE_LIME) {
		l->head_len = n * LIME_HDR;
		if (!(l->head = calloc(1, l->head_len ? l->head_len : 1)))
			return SEVMON_ENOMEM;
		uint64_t off = 0;
		for (size_t i = 0; i < n; i++) {
			put_lime(l->head + i * LIME_HDR, start[i], size[i]);
			l->part[l->nparts++] = (struct image_part){ off, i * LIME_HDR, LIME_HDR };
			l->r[i] = (struct image_range){ start[i], size[i], off + LIME_HDR };
			off += LIME_HDR + size[i];
		}
		l->total = off;
		return 0;
	}
	/* ELF: the header part holds Ehdr, the phdrs and the note; the data starts aligned. */
	size_t nph = n + (note_len ? 1 : 0);
	l->head_len = EHDR + nph * PHDR + note_len;
	if (!(l->head = calloc(1, l->head_len)))
		return SEVMON_ENOMEM;
	uint8_t *e = l->head;
	memcpy(e, "\x7f" "ELF", 4);
	e[4] = 2; /* ELFCLASS64 */
	e[5] = 1; /* little-endian */
	e[6] = 1; /* EV_CURRENT */
	put_le16(e + 16, 4);      /* ET_CORE */
	put_le16(e + 18, 62);     /* EM_X86_64 */
	store_le32(e + 20, 1);    /* version */
	store_le64(e + 32, EHDR); /* phoff */
	put_le16(e + 52, EHDR);
	put_le16(e + 54, PHDR);
	put_le16(e + 56, (uint16_t)nph);
	uint8_t *ph = e + EHDR;
	if (note_len) {
		put_phdr(ph, 4, EHDR + nph * PHDR, 0, note_len, 0);
		memcpy(e + EHDR + nph * PHDR, note, note_len);
		ph += PHDR;
	}
	uint64_t off = align_up(l->head_len, PAGE);
	for (size_t i = 0; i < n; i++) {
		put_phdr(ph + i * PHDR, 1, off, start[i], size[i], PAGE);
		l->r[i] = (struct image_range){ start[i], size[i], off };
		off = align_up(off + size[i], PAGE);
	}
	l->part[l->nparts++] = (struct image_part){ 0, 0, l->head_len };
	l->total = n ? l->r[n - 1].file_off + size[n - 1] : l->head_len;
	return 0;
}

void image_layout_free(struct image_layout *l)
{
	free(l->head);
	memset(l, 0, sizeof *l);
}

int image_layout_at(const struct image_layout *l, uint64_t off, size_t *ri, uint64_t *phys,
		    const uint8_t **head, uint64_t *len)
{
	if (off >= l->total)
		return 0;
	for (size_t i = 0; i < l->nparts; i++) {
		const struct image_part *p = &l->part[i];
		if (off >= p->file_off && off < p->file_off + p->len) {
			*head = l->head + p->head_off + (off - p->file_off);
			*len = p->len - (off - p->file_off);
			return 1;
		}
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct image_range *r = &l->r[i];
		if (off >= r->file_off && off < r->file_off + r->size) {
			*ri = i;
			*phys = r->start + (off - r->file_off);
			*len = r->size - (off - r->file_off);
			return 2;
		}
	}
	/* padding: up to the next thing that starts after off */
	uint64_t next = l->total;
	for (size_t i = 0; i < l->n; i++)
		if (l->r[i].file_off > off && l->r[i].file_off < next)
			next = l->r[i].file_off;
	*len = next - off;
	return 3;
}
