/*
 * mem_testutil.h — helpers shared by the memory-source tests: temporary files, an
 * address-dependent byte pattern, and a builder for synthetic ELF64 core files (the layout
 * QEMU's dump-guest-memory and /proc/kcore use), so tests can also corrupt them field by field.
 */
#ifndef SEVMON_TEST_MEM_TESTUTIL_H
#define SEVMON_TEST_MEM_TESTUTIL_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "rbuf.h"

/* The byte a synthetic source holds at address a: differs between neighbouring bytes and
 * between pages, so an off-by-one or a wrong segment shows. */
static inline uint8_t tpat(uint64_t a)
{
	return (uint8_t)(a ^ (a >> 8) ^ (a >> 16) ^ (a >> 29) ^ 0x5a);
}

static inline void tpat_fill(uint8_t *p, uint64_t a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = tpat(a + i);
}

/* Check buf holds the pattern of [a, a+n). */
static inline int tpat_ok(const uint8_t *p, uint64_t a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != tpat(a + i))
			return 0;
	return 1;
}

/* Create an empty temporary file; path receives its name (cap >= 64). */
static inline int ttmp(char *path, size_t cap)
{
	const char *dir = getenv("TMPDIR");
	snprintf(path, cap, "%s/sevmon-mem-XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0)
		FAIL_AT("mkstemp %s failed", path);
	return fd;
}

static inline void twrite_file(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT(fd >= 0);
	ASSERT_EQ(write(fd, p, n), (ssize_t)n);
	close(fd);
}

/* ---- synthetic ELF64 core ---- */

#define TC_EHDR 64u
#define TC_PHDR 56u
/* Field offsets inside a program header, for tests that corrupt one. */
#define TC_PH_OFFSET 8u
#define TC_PH_VADDR 16u
#define TC_PH_PADDR 24u
#define TC_PH_FILESZ 32u
#define TC_PH_MEMSZ 40u
#define TC_E_PHNUM 56u

struct tc_seg {
	uint32_t type;	  /* 1 PT_LOAD, 4 PT_NOTE */
	uint64_t vaddr;	  /* PT_LOAD data is tpat(pat_base + i) */
	uint64_t paddr;
	uint64_t size;	  /* filesz = memsz */
	uint64_t pat_base;
	const uint8_t *note; /* PT_NOTE: its bytes */
};

/* Build ehdr | phdrs | segment data in order. Returns malloc'd image, *len its size. */
static inline uint8_t *tc_build(const struct tc_seg *s, size_t n, size_t *len)
{
	size_t off = TC_EHDR + n * TC_PHDR, total = off;
	for (size_t i = 0; i < n; i++)
		total += s[i].size;
	uint8_t *b = calloc(1, total);
	ASSERT(b != NULL);
	memcpy(b, "\x7f" "ELF", 4);
	b[4] = 2; /* ELFCLASS64 */
	b[5] = 1; /* little-endian */
	b[6] = 1; /* EV_CURRENT */
	b[16] = 4; /* ET_CORE */
	b[18] = 62; /* EM_X86_64 */
	store_le32(b + 20, 1);
	store_le64(b + 32, TC_EHDR); /* e_phoff */
	b[52] = TC_EHDR;
	b[54] = TC_PHDR;
	b[56] = (uint8_t)n;
	b[57] = (uint8_t)(n >> 8);
	for (size_t i = 0; i < n; i++) {
		uint8_t *ph = b + TC_EHDR + i * TC_PHDR;
		store_le32(ph, s[i].type);
		store_le32(ph + 4, 4); /* PF_R */
		store_le64(ph + TC_PH_OFFSET, off);
		store_le64(ph + TC_PH_VADDR, s[i].vaddr);
		store_le64(ph + TC_PH_PADDR, s[i].paddr);
		store_le64(ph + TC_PH_FILESZ, s[i].size);
		store_le64(ph + TC_PH_MEMSZ, s[i].size);
		if (s[i].type == 4)
			memcpy(b + off, s[i].note, s[i].size);
		else
			tpat_fill(b + off, s[i].pat_base, s[i].size);
		off += s[i].size;
	}
	*len = total;
	return b;
}

static inline uint8_t *tc_phdr(uint8_t *img, size_t i)
{
	return img + TC_EHDR + i * TC_PHDR;
}

/* One ELF note (name NUL-terminated and counted, both parts padded to 4) appended at
 * out + *len; returns the new length. */
static inline size_t tc_note(uint8_t *out, size_t len, const char *name, uint32_t type,
			     const void *desc, uint32_t dlen)
{
	uint32_t nl = (uint32_t)strlen(name) + 1;
	store_le32(out + len, nl);
	store_le32(out + len + 4, dlen);
	store_le32(out + len + 8, type);
	len += 12;
	memcpy(out + len, name, nl);
	len += (nl + 3) & ~3u;
	memcpy(out + len, desc, dlen);
	len += (dlen + 3) & ~3u;
	return len;
}

#endif
