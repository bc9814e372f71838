/*
 * kallsyms_scan.c — find the kallsyms tables by their structure, for kernels whose
 * VMCOREINFO has no SYMBOL(kallsyms_*) entries. Nothing here knows an address or an offset
 * of a particular build; it knows how scripts/kallsyms lays the tables out (6.1):
 *   kallsyms_offsets[n] (s32)  .balign 8
 *   kallsyms_relative_base     u64: the lowest text address, 2 MiB aligned under KASLR
 *   kallsyms_num_syms          u32 n, padded to 8
 *   kallsyms_names             n length-prefixed entries
 *   kallsyms_markers           u32, ceil(n/256) entries: offset in names of every 256th entry
 *   (kallsyms_seqs_of_names on kernels that have it)
 *   kallsyms_token_table       256 NUL-terminated tokens
 *   kallsyms_token_index       256 u16, strictly increasing offsets into the token table
 * A candidate names table must decode to exactly the offsets its markers claim: that check
 * is what tells the real table from bytes that merely look like it.
 */
#include <stdlib.h>
#include <string.h>

#include "introspect.h"
#include "err.h"
#include "rbuf.h"

#define KSYMS_TOKENS 256u
#define KSYMS_TOKEN_TABLE_MAX 4096u
/* Fewer symbols than this is no kernel's table (a 6.1 tinyconfig has several thousand). */
#define KSYMS_MIN_SYMS 1024u
#define KSYMS_BLOCK 256u /* symbols per marker */

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

/* Token index at b+x, table right before it (up to 7 bytes of padding). */
static int token_tables_at(const uint8_t *b, size_t len, size_t x, size_t *tpos)
{
	uint16_t v[KSYMS_TOKENS];
	if (x + 2 * KSYMS_TOKENS > len)
		return 0;
	for (size_t i = 0; i < KSYMS_TOKENS; i++) {
		v[i] = (uint16_t)(b[x + 2 * i] | b[x + 2 * i + 1] << 8);
		if (i == 0 ? v[0] != 0 : v[i] <= v[i - 1])
			return 0;
	}
	if (v[KSYMS_TOKENS - 1] >= KSYMS_TOKEN_TABLE_MAX)
		return 0;
	for (size_t pad = 0; pad < 8 && pad + 2 <= x; pad++) {
		size_t nul = x - 1 - pad; /* the last token's NUL */
		if (b[nul] != 0 || b[nul - 1] == 0)
			continue;
		size_t q = nul - 1;
		while (q > 0 && b[q - 1] != 0 && nul - q < KSYMS_TOKEN_TABLE_MAX)
			q--;
		if (q < v[KSYMS_TOKENS - 1])
			continue;
		size_t t = q - v[KSYMS_TOKENS - 1];
		int ok = 1;
		for (size_t i = 1; i < KSYMS_TOKENS && ok; i++)
			ok = b[t + v[i] - 1] == 0 && memchr(b + t + v[i - 1], 0, v[i] - v[i - 1] - 1) == NULL;
		if (ok) {
			*tpos = t;
			return 1;
		}
	}
	return 0;
}

/* relative_base / num_syms header at b+h; names follow at h + 16. Checks the markers. */
static int names_at(const uint8_t *b, size_t len, size_t h, uint64_t *nsyms)
{
	if (h + 16 > len)
		return 0;
	uint64_t base = load_le64(b + h);
	uint32_t n = load_le32(b + h + 8);
	if (base < X86_START_KERNEL_MAP || (base & ((2u << 20) - 1)) || load_le32(b + h + 12) ||
	    n < KSYMS_MIN_SYMS || n > KSYMS_MAX_SYMS)
		return 0;
	size_t names = h + 16, pos = names;
	uint32_t m = (n + KSYMS_BLOCK - 1) / KSYMS_BLOCK;
	uint32_t *want = malloc(m * sizeof *want);
	if (!want)
		return 0;
	int ok = 1;
	for (uint32_t i = 0; i < n && ok; i++) {
		if (i % KSYMS_BLOCK == 0)
			want[i / KSYMS_BLOCK] = (uint32_t)(pos - names);
		if (pos + 2 > len) {
			ok = 0;
			break;
		}
		size_t l = b[pos];
		if (l & 0x80) {
			l = (l & 0x7f) | ((size_t)b[pos + 1] << 7);
			pos++;
		}
		pos += 1 + l;
		ok = l > 0 && pos <= len;
	}
	if (ok) {
		size_t mk = (size_t)align_up(pos, 4);
		ok = mk + (size_t)m * 4 <= len;
		for (uint32_t k = 0; ok && k < m; k++)
			ok = load_le32(b + mk + 4 * k) == want[k];
		if (!ok && align_up(pos, 8) != mk) { /* markers may be 8-aligned */
			mk = (size_t)align_up(pos, 8);
			ok = mk + (size_t)m * 4 <= len;
			for (uint32_t k = 0; ok && k < m; k++)
				ok = load_le32(b + mk + 4 * k) == want[k];
		}
	}
	free(want);
	*nsyms = n;
	return ok;
}

/* Read the window; chunks that fail (holes) read as zeros. */
static int read_window(struct gmem *g, uint64_t start, uint8_t *buf, size_t len)
{
	size_t n = (len + GMEM_CHUNK - 1) / GMEM_CHUNK;
	struct gmem_range *r = calloc(n ? n : 1, sizeof *r);
	if (!r)
		return SEVMON_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t off = i * GMEM_CHUNK;
		r[i] = (struct gmem_range){ .addr = start + off, .space = GMEM_VIRT,
			.len = (uint32_t)(len - off < GMEM_CHUNK ? len - off : GMEM_CHUNK),
			.out = buf + off };
	}
	int rc = gmem_gather(g, r, n);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (r[i].status < 0)
			memset(r[i].out, 0, r[i].len);
	free(r);
	return rc;
}

int ksyms_loc_scan(struct ksyms_loc *loc, struct gmem *g, uint64_t start, uint64_t len)
{
	memset(loc, 0, sizeof *loc);
	if (len > KSYMS_SCAN_MAX)
		return SEVMON_ETOOBIG;
	uint8_t *b = malloc(len ? (size_t)len : 1);
	if (!b)
		return SEVMON_ENOMEM;
	int rc = read_window(g, start, b, (size_t)len);
	if (rc < 0)
		goto out;
	rc = SEVMON_ENOENT;
	for (size_t x = 8; rc == SEVMON_ENOENT && x + 2 * KSYMS_TOKENS <= len; x += 4) {
		size_t tpos = 0;
		if (b[x] != 0 || b[x + 1] != 0 || !token_tables_at(b, (size_t)len, x, &tpos))
			continue;
		/* The names come before the token table. */
		for (size_t h = 0; h + 16 <= tpos; h += 8) {
			uint64_t n;
			if (!names_at(b, tpos, h, &n))
				continue;
			loc->token_table = start + tpos;
			loc->token_index = start + x;
			loc->relative_base = start + h;
			loc->num_syms = start + h + 8;
			loc->names = start + h + 16;
			loc->offsets = (start + h - n * 4) & ~7ull;
			rc = 0;
			break;
		}
	}
out:
	free(b);
	return rc;
}
