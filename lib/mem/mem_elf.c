/*
 * mem_elf.c — the ELF64 core headers of /proc/kcore and QEMU dumps, read bounded.
 *
 * Layout (little-endian ELF64, the only kind either producer writes on x86-64):
 *   Elf64_Ehdr (64 bytes): e_ident[16] type u16 machine u16 version u32 entry u64
 *     phoff u64 shoff u64 flags u32 ehsize u16 phentsize u16 phnum u16 ...
 *   Elf64_Phdr (56 bytes): type u32 flags u32 offset u64 vaddr u64 paddr u64
 *     filesz u64 memsz u64 align u64
 *   Note: namesz u32 descsz u32 type u32, name padded to 4, desc padded to 4.
 * Fields nobody needs are not checked: QEMU 7.2 writes e_ehsize = 8 and e_machine EM_386
 * for a vCPU not in long mode, so neither can be trusted.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem_impl.h"
#include "rbuf.h"

#define EHDR_LEN 64u
#define PHDR_LEN 56u
#define ELFCLASS64 2u
#define ELFDATA2LSB 1u
#define ET_CORE 4u
#define PN_XNUM 0xffffu

static int read_exact(mem_chunk_fn fn, void *ctx, uint64_t off, void *buf, size_t n)
{
	int rc = fn(ctx, off, buf, n);
	return rc == SEVMON_EFAULT ? SEVMON_EIO : rc;
}

/* off + len within the file (file_size 0 = unknown) and not wrapping. */
static bool in_file(uint64_t off, uint64_t len, uint64_t file_size)
{
	if (len > UINT64_MAX - off)
		return false;
	return file_size == 0 || off + len <= file_size;
}

static int parse_ehdr(const uint8_t *b, uint64_t file_size, uint64_t *phoff, uint16_t *phnum,
		      uint16_t *machine)
{
	struct rbuf r = rbuf_make(b, EHDR_LEN);
	const uint8_t *ident;
	uint16_t type, phentsize;
	uint32_t version;
	uint64_t entry, shoff;

	if (rbuf_get_bytes_direct(&r, &ident, 16) < 0 || memcmp(ident, MEM_ELF_MAGIC, 4) != 0)
		return SEVMON_EINVAL;
	if (ident[4] != ELFCLASS64 || ident[5] != ELFDATA2LSB)
		return SEVMON_ENOTSUP;
	if (rbuf_get_le16(&r, &type) < 0 || rbuf_get_le16(&r, machine) < 0 ||
	    rbuf_get_le32(&r, &version) < 0 || rbuf_get_le64(&r, &entry) < 0 ||
	    rbuf_get_le64(&r, phoff) < 0 || rbuf_get_le64(&r, &shoff) < 0 ||
	    rbuf_skip(&r, 4 + 2) < 0 || /* flags, ehsize */
	    rbuf_get_le16(&r, &phentsize) < 0 || rbuf_get_le16(&r, phnum) < 0)
		return SEVMON_EINVAL;
	if (type != ET_CORE || phentsize != PHDR_LEN)
		return SEVMON_EINVAL;
	/* PN_XNUM would move the count into section 0; no core producer needs that many. */
	if (*phnum == 0 || *phnum == PN_XNUM || *phnum > MEM_ELF_MAX_PHDRS)
		return SEVMON_EINVAL;
	if (!in_file(*phoff, (uint64_t)*phnum * PHDR_LEN, file_size))
		return SEVMON_EINVAL;
	return 0;
}

static int parse_phdr(struct rbuf *r, uint64_t file_size, struct mem_elf_phdr *p)
{
	uint32_t flags;
	uint64_t align;

	if (rbuf_get_le32(r, &p->type) < 0 || rbuf_get_le32(r, &flags) < 0 ||
	    rbuf_get_le64(r, &p->offset) < 0 || rbuf_get_le64(r, &p->vaddr) < 0 ||
	    rbuf_get_le64(r, &p->paddr) < 0 || rbuf_get_le64(r, &p->filesz) < 0 ||
	    rbuf_get_le64(r, &p->memsz) < 0 || rbuf_get_le64(r, &align) < 0)
		return SEVMON_EINVAL;
	if (p->type != MEM_ELF_PT_LOAD && p->type != MEM_ELF_PT_NOTE)
		return 0; /* not ours to judge */
	if (!in_file(p->offset, p->filesz, file_size))
		return SEVMON_EINVAL;
	if (p->type == MEM_ELF_PT_LOAD && p->filesz > p->memsz)
		return SEVMON_EINVAL;
	if (p->type == MEM_ELF_PT_NOTE && p->filesz > MEM_ELF_MAX_NOTES)
		return SEVMON_EINVAL;
	return 0;
}

int mem_elf_parse(mem_chunk_fn fn, void *ctx, uint64_t file_size, struct mem_elf *out)
{
	uint8_t eh[EHDR_LEN];
	uint64_t phoff;
	uint16_t phnum;
	uint8_t *tab = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (file_size != 0 && file_size < EHDR_LEN)
		return SEVMON_EINVAL;
	rc = read_exact(fn, ctx, 0, eh, sizeof(eh));
	if (rc < 0)
		return rc;
	rc = parse_ehdr(eh, file_size, &phoff, &phnum, &out->machine);
	if (rc < 0)
		return rc;

	size_t tab_len = (size_t)phnum * PHDR_LEN;
	tab = malloc(tab_len);
	out->ph = calloc(phnum, sizeof(*out->ph));
	if (!tab || !out->ph) {
		rc = SEVMON_ENOMEM;
		goto out;
	}
	rc = read_exact(fn, ctx, phoff, tab, tab_len);
	if (rc < 0)
		goto out;
	struct rbuf r = rbuf_make(tab, tab_len);
	for (size_t i = 0; i < phnum; i++) {
		rc = parse_phdr(&r, file_size, &out->ph[i]);
		if (rc < 0)
			goto out;
	}
	out->nph = phnum;
out:
	free(tab);
	if (rc < 0)
		mem_elf_free(out);
	return rc;
}

void mem_elf_free(struct mem_elf *e)
{
	free(e->ph);
	e->ph = NULL;
	e->nph = 0;
}

static size_t pad4(uint32_t n)
{
	return (size_t)((4u - (n & 3u)) & 3u);
}

/* Look through one note segment. 1 found (desc copied out), 0 not here, <0 malformed. */
static int notes_find_vmcoreinfo(struct rbuf r, uint8_t **desc, size_t *len)
{
	static const char name_want[] = "VMCOREINFO";

	while (rbuf_left(&r) > 0) {
		uint32_t namesz, descsz, type;
		const uint8_t *name, *d;

		if (rbuf_get_le32(&r, &namesz) < 0 || rbuf_get_le32(&r, &descsz) < 0 ||
		    rbuf_get_le32(&r, &type) < 0 ||
		    rbuf_get_bytes_direct(&r, &name, namesz) < 0 ||
		    rbuf_skip(&r, pad4(namesz)) < 0 || rbuf_get_bytes_direct(&r, &d, descsz) < 0)
			return SEVMON_EINVAL;
		/* The last descriptor's padding may be cut off by the segment's end. */
		size_t p = pad4(descsz);
		(void)rbuf_skip(&r, p < rbuf_left(&r) ? p : rbuf_left(&r));

		/* The name is "VMCOREINFO" with its NUL counted in namesz (the kernel's and
		 * QEMU's way); accept it without the NUL too. */
		size_t nl = namesz;
		if (nl > 0 && name[nl - 1] == '\0')
			nl--;
		if (nl != sizeof(name_want) - 1 || memcmp(name, name_want, nl) != 0)
			continue;
		if (descsz > MEM_VMCOREINFO_MAX)
			return SEVMON_EINVAL;
		*desc = malloc(descsz ? descsz : 1);
		if (!*desc)
			return SEVMON_ENOMEM;
		memcpy(*desc, d, descsz);
		*len = descsz;
		return 1;
	}
	return 0;
}

int mem_elf_vmcoreinfo(mem_chunk_fn fn, void *ctx, const struct mem_elf *e, uint8_t **desc,
		       size_t *len)
{
	*desc = NULL;
	*len = 0;
	for (size_t i = 0; i < e->nph; i++) {
		const struct mem_elf_phdr *p = &e->ph[i];
		if (p->type != MEM_ELF_PT_NOTE || p->filesz == 0)
			continue;
		/* parse_phdr capped filesz at MEM_ELF_MAX_NOTES. */
		uint8_t *buf = malloc((size_t)p->filesz);
		if (!buf)
			return SEVMON_ENOMEM;
		int rc = read_exact(fn, ctx, p->offset, buf, (size_t)p->filesz);
		if (rc == 0)
			rc = notes_find_vmcoreinfo(rbuf_make(buf, (size_t)p->filesz), desc, len);
		free(buf);
		if (rc != 0)
			return rc < 0 ? rc : 0;
	}
	return SEVMON_ENOENT;
}
