/*
 * vmlinuz.c — BTF from a distribution kernel package, without booting it: the bzImage
 * carries the kernel ELF (vmlinux, symbols stripped, sections kept) as a compressed payload
 * that its setup header locates (Documentation/arch/x86/boot.rst: payload_offset at 0x248
 * and payload_length at 0x24c, from the start of the protected-mode code at
 * (setup_sects + 1) * 512). arch/x86/boot/compressed/Makefile appends the decompressed
 * size (u32 LE) to every payload format but gzip; it bounds the output. Debian compresses
 * with XZ (6.1 generic and rt), LZ4 in its legacy frames (6.1 cloud) and zstd (6.12).
 * Then the ELF section table gives ".BTF". The file is not trusted more than guest
 * memory: every size is bounded, every offset read through the bounded reader.
 */
#include <elf.h>
#include <lz4.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include <bpf/btf.h>

#include "introspect.h"
#include "err.h"
#include "rbuf.h"

/* The boot protocol's fields (boot.rst) this reads. */
#define BZ_SETUP_SECTS 0x1f1
#define BZ_HDR_MAGIC 0x202
#define BZ_PAYLOAD_OFFSET 0x248
#define BZ_PAYLOAD_LENGTH 0x24c
#define BZ_SECTOR 512u
/* LZ4 legacy frames (what the kernel's lz4 wrapper writes): the magic, then blocks of a
 * u32 compressed size and its data, each decompressing to at most 8 MiB. */
#define LZ4_LEGACY_MAGIC 0x184c2102u
#define LZ4_LEGACY_BLOCK (8u << 20)

static const uint8_t xz_magic[6] = { 0xfd, '7', 'z', 'X', 'Z', 0x00 };
static const uint8_t zstd_magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };

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

/* The compressed payload of a bzImage, as its setup header places it. */
static int bz_payload(const struct rbuf *file, struct rbuf *payload)
{
	struct rbuf r;
	uint8_t sects;
	uint32_t magic, off, len;
	if (rbuf_peek_at(file, BZ_SETUP_SECTS, 1, &r) < 0 || rbuf_get_u8(&r, &sects) < 0 ||
	    rbuf_peek_at(file, BZ_HDR_MAGIC, 4, &r) < 0 || rbuf_get_le32(&r, &magic) < 0 ||
	    rbuf_peek_at(file, BZ_PAYLOAD_OFFSET, 8, &r) < 0 || rbuf_get_le32(&r, &off) < 0 ||
	    rbuf_get_le32(&r, &len) < 0)
		return SEVMON_ETRUNC;
	if (memcmp(&magic, "HdrS", 4))
		return SEVMON_EDECODE; /* not a bzImage */
	size_t start = ((size_t)(sects ? sects : 4) + 1) * BZ_SECTOR; /* 0 means 4 (boot.rst) */
	if (start > SIZE_MAX - off)
		return SEVMON_EDECODE;
	return rbuf_peek_at(file, start + off, len, payload) < 0 ? SEVMON_EDECODE : 0;
}

/* An output buffer of the size the payload's trailer gives. */
static int out_alloc(uint32_t size, uint8_t **out)
{
	if (size == 0 || size > KTYPES_MAX_VMLINUX)
		return SEVMON_ETOOBIG;
	*out = malloc(size);
	return *out ? 0 : SEVMON_ENOMEM;
}

static int unxz(const uint8_t *in, size_t inlen, uint8_t *out, size_t cap, size_t *outlen)
{
	lzma_stream s = LZMA_STREAM_INIT;
	/* The kernel's XZ streams use a 32 MiB dictionary at most. */
	if (lzma_stream_decoder(&s, 256u << 20, 0) != LZMA_OK)
		return SEVMON_ENOMEM;
	s.next_in = in;
	s.avail_in = inlen;
	s.next_out = out;
	s.avail_out = cap;
	lzma_ret r = lzma_code(&s, LZMA_FINISH);
	*outlen = cap - s.avail_out;
	lzma_end(&s);
	return r == LZMA_STREAM_END ? 0 : SEVMON_EDECODE;
}

static int unzstd(const uint8_t *in, size_t inlen, uint8_t *out, size_t cap, size_t *outlen)
{
	size_t n = ZSTD_decompress(out, cap, in, inlen);
	if (ZSTD_isError(n))
		return SEVMON_EDECODE;
	*outlen = n;
	return 0;
}

static int unlz4_legacy(const uint8_t *in, size_t inlen, uint8_t *out, size_t cap, size_t *outlen)
{
	struct rbuf r = rbuf_make(in, inlen);
	uint32_t magic, bl;
	size_t n = 0;
	if (rbuf_get_le32(&r, &magic) < 0 || magic != LZ4_LEGACY_MAGIC)
		return SEVMON_EDECODE;
	while (rbuf_get_le32(&r, &bl) == 0 && bl != LZ4_LEGACY_MAGIC) {
		const uint8_t *blk;
		if (bl > (uint32_t)LZ4_compressBound((int)LZ4_LEGACY_BLOCK) ||
		    rbuf_get_bytes_direct(&r, &blk, bl) < 0)
			return SEVMON_EDECODE;
		size_t room = cap - n < LZ4_LEGACY_BLOCK ? cap - n : LZ4_LEGACY_BLOCK;
		int got = LZ4_decompress_safe((const char *)blk, (char *)out + n, (int)bl, (int)room);
		if (got < 0)
			return SEVMON_EDECODE;
		n += (size_t)got;
		if (n == cap)
			break;
	}
	*outlen = n;
	return 0;
}

/* The vmlinux inside the payload: format by its magic, size by its trailer. */
static int decompress(const struct rbuf *payload, uint8_t **out, size_t *outlen)
{
	struct rbuf p = *payload, tail;
	uint32_t size;
	const uint8_t *in;
	size_t len = rbuf_left(&p);
	if (len < 8 || rbuf_peek_at(&p, len - 4, 4, &tail) < 0 || rbuf_get_le32(&tail, &size) < 0 ||
	    rbuf_get_bytes_direct(&p, &in, len - 4) < 0)
		return SEVMON_ETRUNC;
	int (*fn)(const uint8_t *, size_t, uint8_t *, size_t, size_t *) = NULL;
	if (len - 4 >= sizeof xz_magic && !memcmp(in, xz_magic, sizeof xz_magic))
		fn = unxz;
	else if (!memcmp(in, zstd_magic, sizeof zstd_magic))
		fn = unzstd;
	else if (load_le32(in) == LZ4_LEGACY_MAGIC)
		fn = unlz4_legacy;
	else
		return SEVMON_ENOTSUP; /* gzip, bzip2, lzma, lzo: not what Debian ships */
	int rc = out_alloc(size, out);
	if (rc < 0)
		return rc;
	if ((rc = fn(in, len - 4, *out, size, outlen)) == 0 && *outlen != size)
		rc = SEVMON_EDECODE; /* the trailer and the stream disagree */
	if (rc < 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/* An ELF64 section header, read through the bounded reader. */
static int shdr_at(const struct rbuf *elf, uint64_t shoff, size_t i, Elf64_Shdr *sh)
{
	struct rbuf r;
	if (shoff > SIZE_MAX || rbuf_peek_at(elf, (size_t)shoff + i * sizeof *sh, sizeof *sh, &r) < 0)
		return SEVMON_EDECODE;
	return rbuf_get_bytes(&r, sh, sizeof *sh);
}

/* The ".BTF" section of an ELF64 little-endian image. */
static int elf_btf(const struct rbuf *elf, const uint8_t **btf, size_t *btflen)
{
	Elf64_Ehdr eh;
	struct rbuf r = *elf;
	if (rbuf_get_bytes(&r, &eh, sizeof eh) < 0)
		return SEVMON_ETRUNC;
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_shentsize != sizeof(Elf64_Shdr) ||
	    eh.e_shstrndx >= eh.e_shnum)
		return SEVMON_EDECODE;
	Elf64_Shdr str;
	struct rbuf names;
	if (shdr_at(elf, eh.e_shoff, eh.e_shstrndx, &str) < 0 || str.sh_offset > SIZE_MAX ||
	    str.sh_size > SIZE_MAX ||
	    rbuf_peek_at(elf, (size_t)str.sh_offset, (size_t)str.sh_size, &names) < 0)
		return SEVMON_EDECODE;
	for (size_t i = 0; i < eh.e_shnum; i++) {
		Elf64_Shdr sh;
		struct rbuf nm, sec;
		const uint8_t *n;
		if (shdr_at(elf, eh.e_shoff, i, &sh) < 0)
			return SEVMON_EDECODE;
		/* ".BTF\0": five bytes at sh_name in the section-name table */
		if (rbuf_peek_at(&names, sh.sh_name, 5, &nm) < 0 || rbuf_get_bytes_direct(&nm, &n, 5) < 0 ||
		    memcmp(n, ".BTF", 5))
			continue;
		if (sh.sh_type == SHT_NOBITS || sh.sh_offset > SIZE_MAX || sh.sh_size > SIZE_MAX ||
		    rbuf_peek_at(elf, (size_t)sh.sh_offset, (size_t)sh.sh_size, &sec) < 0)
			return SEVMON_EDECODE;
		if (sh.sh_size > KTYPES_MAX_BTF_BYTES)
			return SEVMON_ETOOBIG;
		*btf = sec.p;
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
	const struct rbuf file = rbuf_make(z, zlen);
	struct rbuf payload;
	if ((rc = bz_payload(&file, &payload)) == 0 && (rc = decompress(&payload, &elf, &elflen)) == 0) {
		const struct rbuf image = rbuf_make(elf, elflen);
		const uint8_t *b;
		size_t bl;
		if ((rc = elf_btf(&image, &b, &bl)) == 0) {
			*out = btf__new(b, (uint32_t)bl);
			rc = *out ? 0 : SEVMON_EDECODE;
		}
		free(elf);
	}
	free(z);
	return rc;
}
