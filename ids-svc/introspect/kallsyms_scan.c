/*
 * kallsyms_scan.c — find the kallsyms tables by their structure, for kernels whose
 * VMCOREINFO has no SYMBOL(kallsyms_*) entries. Nothing here knows an address or an offset
 * of a particular build; it knows how scripts/kallsyms lays the tables out, in either of
 * the two orders it has used (every table starts 8-aligned):
 *   6.1:  offsets, relative_base, num_syms, names, markers, [seqs_of_names],
 *         token_table, token_index
 *   6.12: num_syms, names, markers, token_table, token_index, offsets, relative_base,
 *         seqs_of_names
 * with
 *   kallsyms_offsets[n]        s32
 *   kallsyms_relative_base     u64: the lowest text address, 2 MiB aligned under KASLR
 *   kallsyms_num_syms          u32 n, padded to 8
 *   kallsyms_names             n length-prefixed entries
 *   kallsyms_markers           u32, ceil(n/256) entries: offset in names of every 256th entry
 *   kallsyms_token_table       256 NUL-terminated tokens
 *   kallsyms_token_index       256 u16, strictly increasing offsets into the token table
 * The search starts from the token index (a very particular shape), then looks for the
 * names before the token table: a candidate must decode to exactly the offsets its
 * markers claim, which is what tells the real table from bytes that merely look like it.
 * Every read of the window goes through the bounded reader.
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
/* A table is padded to the next 8 bytes at most. */
#define KSYMS_PAD_MAX 7u

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

/* u8 / le16 / le32 / le64 at off of the window, or -1 (out of it). */
static int peek_u8(const struct rbuf *w, size_t off, uint8_t *v)
{
	struct rbuf r;
	return rbuf_peek_at(w, off, 1, &r) < 0 ? -1 : rbuf_get_u8(&r, v);
}

static int peek_le32(const struct rbuf *w, size_t off, uint32_t *v)
{
	struct rbuf r;
	return rbuf_peek_at(w, off, 4, &r) < 0 ? -1 : rbuf_get_le32(&r, v);
}

static int peek_le64(const struct rbuf *w, size_t off, uint64_t *v)
{
	struct rbuf r;
	return rbuf_peek_at(w, off, 8, &r) < 0 ? -1 : rbuf_get_le64(&r, v);
}

/* The token table that ends right before the index at x (up to KSYMS_PAD_MAX bytes of
 * padding): its 256 tokens are NUL-terminated, non-empty, at the offsets the index gives. */
static int token_table_before(const struct rbuf *w, size_t x, const uint16_t *v, size_t *tpos)
{
	uint16_t last = v[KSYMS_TOKENS - 1];
	for (size_t pad = 0; pad <= KSYMS_PAD_MAX && pad + 2 <= x; pad++) {
		size_t nul = x - 1 - pad; /* the last token's NUL */
		uint8_t c, d;
		if (peek_u8(w, nul, &c) < 0 || c != 0 || peek_u8(w, nul - 1, &d) < 0 || d == 0)
			continue;
		size_t q = nul - 1; /* back to the start of the last token */
		while (q > 0 && nul - q < KSYMS_TOKEN_TABLE_MAX && peek_u8(w, q - 1, &d) == 0 && d != 0)
			q--;
		if (q < last)
			continue;
		size_t t = q - last;
		struct rbuf tt;
		if (rbuf_peek_at(w, t, (size_t)last + (nul - q) + 1, &tt) < 0)
			continue;
		int ok = 1;
		for (size_t i = 1; i < KSYMS_TOKENS && ok; i++) {
			/* token i-1 runs from v[i-1] to its NUL at v[i] - 1, with no NUL inside */
			struct rbuf tok;
			const uint8_t *p;
			ok = rbuf_peek_at(&tt, v[i - 1], (size_t)(v[i] - v[i - 1]), &tok) == 0 &&
			     rbuf_get_bytes_direct(&tok, &p, (size_t)(v[i] - v[i - 1])) == 0 &&
			     p[v[i] - v[i - 1] - 1] == 0 && !memchr(p, 0, (size_t)(v[i] - v[i - 1] - 1));
		}
		if (ok) {
			*tpos = t;
			return 1;
		}
	}
	return 0;
}

/* Token index at x (256 strictly increasing u16 from 0, below the table bound) with its
 * token table before it. */
static int token_tables_at(const struct rbuf *w, size_t x, size_t *tpos)
{
	uint16_t v[KSYMS_TOKENS];
	struct rbuf r;
	if (rbuf_peek_at(w, x, 2 * KSYMS_TOKENS, &r) < 0)
		return 0;
	for (size_t i = 0; i < KSYMS_TOKENS; i++) {
		if (rbuf_get_le16(&r, &v[i]) < 0 || (i == 0 ? v[0] != 0 : v[i] <= v[i - 1]))
			return 0;
	}
	if (v[KSYMS_TOKENS - 1] >= KSYMS_TOKEN_TABLE_MAX)
		return 0;
	return token_table_before(w, x, v, tpos);
}

/* n names from `names` (their markers after them, 4- or 8-aligned, all before `limit`):
 * each entry a 1- or 2-byte length and that many bytes, every 256th at the offset its
 * marker says. *end gets where the markers end. */
static int names_and_markers(const struct rbuf *w, size_t names, uint32_t n, size_t limit,
			     size_t *end)
{
	struct rbuf r;
	if (names >= limit || rbuf_peek_at(w, names, limit - names, &r) < 0)
		return 0;
	uint32_t m = (n + KSYMS_BLOCK - 1) / KSYMS_BLOCK;
	uint32_t *want = malloc(m * sizeof *want);
	if (!want)
		return 0;
	int ok = 1;
	for (uint32_t i = 0; i < n && ok; i++) {
		if (i % KSYMS_BLOCK == 0)
			want[i / KSYMS_BLOCK] = (uint32_t)(limit - names - rbuf_left(&r));
		uint8_t b0, b1 = 0;
		ok = rbuf_get_u8(&r, &b0) == 0 && (!(b0 & 0x80) || rbuf_get_u8(&r, &b1) == 0);
		size_t l = (b0 & 0x80) ? (size_t)((b0 & 0x7f) | (b1 << 7)) : b0;
		ok = ok && l > 0 && rbuf_skip(&r, l) == 0;
	}
	size_t pos = limit - rbuf_left(&r); /* the names' end, in the window */
	for (uint64_t a = 4; ok && a <= 8; a += 4) {
		size_t mk = (size_t)align_up(pos, a);
		int hit = 1;
		for (uint32_t k = 0; hit && k < m; k++) {
			uint32_t v;
			hit = mk + 4 * (size_t)(k + 1) <= limit && peek_le32(w, mk + 4 * (size_t)k, &v) == 0 &&
			      v == want[k];
		}
		if (hit) {
			*end = mk + 4 * (size_t)m;
			free(want);
			return 1;
		}
		if (align_up(pos, 8) == mk)
			break; /* 4- and 8-aligned are the same place */
	}
	free(want);
	return 0;
}

/* A relative base: in the kernel map, 2 MiB aligned (the slide's granule). */
static int base_ok(uint64_t base)
{
	return base >= X86_START_KERNEL_MAP && !(base & ((2u << 20) - 1));
}

/* 6.1 order: relative_base and num_syms at h, names at h + 16, before the token table. */
static int names_61(const struct rbuf *w, size_t h, size_t tpos, struct ksyms_loc *l, uint64_t start)
{
	uint64_t base;
	uint32_t n, pad;
	size_t end;
	if (peek_le64(w, h, &base) < 0 || peek_le32(w, h + 8, &n) < 0 || peek_le32(w, h + 12, &pad) < 0 ||
	    !base_ok(base) || pad || n < KSYMS_MIN_SYMS || n > KSYMS_MAX_SYMS ||
	    (uint64_t)n * 4 > h || !names_and_markers(w, h + 16, n, tpos, &end))
		return 0;
	l->relative_base = start + h;
	l->num_syms = start + h + 8;
	l->names = start + h + 16;
	l->offsets = (start + h - (uint64_t)n * 4) & ~7ull;
	return 1;
}

/* 6.12 order: num_syms at h, names at h + 8, markers ending right before the token table;
 * offsets after the token index, relative_base after them. */
static int names_612(const struct rbuf *w, size_t h, size_t tpos, size_t x, struct ksyms_loc *l,
		     uint64_t start)
{
	uint32_t n, pad;
	size_t end;
	uint64_t base;
	if (peek_le32(w, h, &n) < 0 || peek_le32(w, h + 4, &pad) < 0 || pad || n < KSYMS_MIN_SYMS ||
	    n > KSYMS_MAX_SYMS || !names_and_markers(w, h + 8, n, tpos, &end) ||
	    tpos - end > KSYMS_PAD_MAX)
		return 0;
	size_t offs = (size_t)align_up(x + 2 * KSYMS_TOKENS, 8);
	size_t rel = (size_t)align_up(offs + (uint64_t)n * 4, 8);
	if (peek_le64(w, rel, &base) < 0 || !base_ok(base))
		return 0;
	l->num_syms = start + h;
	l->names = start + h + 8;
	l->offsets = start + offs;
	l->relative_base = start + rel;
	return 1;
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
	const struct rbuf w = rbuf_make(b, (size_t)len);
	rc = SEVMON_ENOENT;
	for (size_t x = 8; rc == SEVMON_ENOENT && x + 2 * KSYMS_TOKENS <= len; x += 4) {
		size_t tpos = 0;
		uint32_t first;
		/* the index starts with offset 0 of token 0: two zero bytes, then a small one */
		if (peek_le32(&w, x, &first) < 0 || (first & 0xffff) != 0 || !token_tables_at(&w, x, &tpos))
			continue;
		/* The names come before the token table, in either order. */
		for (size_t h = 0; h + 16 <= tpos; h += 8) {
			if (names_61(&w, h, tpos, loc, start) || names_612(&w, h, tpos, x, loc, start)) {
				loc->token_table = start + tpos;
				loc->token_index = start + x;
				rc = 0;
				break;
			}
		}
	}
out:
	free(b);
	return rc;
}
