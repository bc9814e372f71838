/*
 * vmlinuz.c — BTF from a distribution kernel package, without booting it: the bzImage
 * carries the kernel ELF (vmlinux, symbols stripped, sections kept) as a compressed payload;
 * Debian's 6.1 images use XZ. Find the XZ stream magic, decompress (liblzma), then read the
 * ELF section table for ".BTF". The file is not trusted more than guest memory: every size
 * is bounded, every ELF offset checked.
 */
#include <elf.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>

#include "introspect.h"
#include "err.h"
#include "rbuf.h"

static const uint8_t xz_magic[6] = { 0xfd, '7', 'z', 'X', 'Z', 0x00 };

static int read_file(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return SEVMON_ENOENT;
	int rc = SEVMON_EIO;
	long n;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto out;
	rc = SEVMON_ETOOBIG;
	if ((unsigned long)n > KTYPES_MAX_VMLINUZ)
		goto out;
	rc = SEVMON_ENOMEM;
	if (!(*out = malloc(n ? (size_t)n : 1)))
		goto out;
	rc = fread(*out, 1, (size_t)n, f) == (size_t)n ? 0 : SEVMON_EIO;
	*len = (size_t)n;
	if (rc) {
		free(*out);
		*out = NULL;
	}
out:
	fclose(f);
	return rc;
}

/* Decompress one XZ stream starting at in; output bounded by KTYPES_MAX_VMLINUX. */
static int unxz(const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen)
{
	lzma_stream s = LZMA_STREAM_INIT;
	size_t cap = 64u << 20;
	uint8_t *buf = malloc(cap);
	int rc = SEVMON_ENOMEM;
	if (!buf)
		return rc;
	/* The kernel's XZ streams use a 32 MiB dictionary at most. */
	if (lzma_stream_decoder(&s, 256u << 20, 0) != LZMA_OK)
		goto fail;
	s.next_in = in;
	s.avail_in = inlen;
	s.next_out = buf;
	s.avail_out = cap;
	for (;;) {
		lzma_ret r = lzma_code(&s, LZMA_FINISH);
		if (r == LZMA_STREAM_END)
			break;
		if (r != LZMA_OK && r != LZMA_BUF_ERROR) {
			rc = SEVMON_EDECODE;
			goto fail;
		}
		if (s.avail_out == 0) {
			if (cap >= KTYPES_MAX_VMLINUX) {
				rc = SEVMON_ETOOBIG;
				goto fail;
			}
			uint8_t *n = realloc(buf, cap * 2);
			if (!n)
				goto fail;
			buf = n;
			s.next_out = buf + cap;
			s.avail_out = cap;
			cap *= 2;
		} else if (r == LZMA_BUF_ERROR) {
			rc = SEVMON_ETRUNC;
			goto fail;
		}
	}
	*outlen = cap - s.avail_out;
	*out = buf;
	lzma_end(&s);
	return 0;
fail:
	lzma_end(&s);
	free(buf);
	return rc;
}

/* The ".BTF" section of an ELF64 little-endian image. */
static int elf_btf(const uint8_t *e, size_t len, const uint8_t **btf, size_t *btflen)
{
	Elf64_Ehdr eh;
	if (len < sizeof eh)
		return SEVMON_ETRUNC;
	memcpy(&eh, e, sizeof eh);
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_shentsize != sizeof(Elf64_Shdr) ||
	    eh.e_shoff > len || (len - eh.e_shoff) / sizeof(Elf64_Shdr) < eh.e_shnum ||
	    eh.e_shstrndx >= eh.e_shnum)
		return SEVMON_EDECODE;
	Elf64_Shdr str;
	memcpy(&str, e + eh.e_shoff + (size_t)eh.e_shstrndx * sizeof str, sizeof str);
	if (str.sh_offset > len || str.sh_size > len - str.sh_offset)
		return SEVMON_EDECODE;
	for (size_t i = 0; i < eh.e_shnum; i++) {
		Elf64_Shdr sh;
		memcpy(&sh, e + eh.e_shoff + i * sizeof sh, sizeof sh);
		if (sh.sh_name >= str.sh_size)
			continue;
		const char *nm = (const char *)e + str.sh_offset + sh.sh_name;
		size_t room = str.sh_size - sh.sh_name;
		if (strnlen(nm, room) != 4 || memcmp(nm, ".BTF", 4))
			continue;
		if (sh.sh_type == SHT_NOBITS || sh.sh_offset > len || sh.sh_size > len - sh.sh_offset)
			return SEVMON_EDECODE;
		if (sh.sh_size > KTYPES_MAX_BTF_BYTES)
			return SEVMON_ETOOBIG;
		*btf = e + sh.sh_offset;
		*btflen = (size_t)sh.sh_size;
		return 0;
	}
	return SEVMON_ENOENT;
}

int ktypes_load_vmlinuz(struct btf **out, const char *path)
{
	uint8_t *z = NULL, *elf = NULL;
	size_t zlen = 0, elflen = 0;
	int rc;
	*out = NULL;
	if ((rc = read_file(path, &z, &zlen)) < 0)
		return rc;
	rc = SEVMON_ENOENT;
	/* The first XZ magic that decompresses to an ELF with .BTF is the payload. */
	for (size_t off = 0; off + sizeof xz_magic <= zlen; off++) {
		if (memcmp(z + off, xz_magic, sizeof xz_magic))
			continue;
		if (unxz(z + off, zlen - off, &elf, &elflen) < 0)
			continue;
		const uint8_t *b;
		size_t bl;
		rc = elf_btf(elf, elflen, &b, &bl);
		if (rc == 0) {
			*out = btf__new(b, (uint32_t)bl);
			rc = *out ? 0 : SEVMON_EDECODE;
		}
		free(elf);
		break;
	}
	free(z);
	return rc;
}
