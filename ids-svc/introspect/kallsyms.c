/*
 * kallsyms.c — the kernel's own symbol table (kernel/kallsyms.c, scripts/kallsyms.c, 6.1):
 *   kallsyms_num_syms      unsigned int
 *   kallsyms_offsets[]     s32; with KALLSYMS_ABSOLUTE_PERCPU (x86-64 SMP) a value >= 0 is
 *                          absolute, else address = kallsyms_relative_base - 1 - value
 *   kallsyms_names         per symbol: length (1 byte, or 2 when bit 7 is set: low 7 bits +
 *                          next byte << 7), then that many token indices
 *   kallsyms_token_table   256 NUL-terminated strings; kallsyms_token_index[256] u16 offsets
 * The expanded name's first character is the type letter /proc/kallsyms prints.
 */
#include <stdlib.h>
#include <string.h>

#include "introspect.h"
#include "err.h"
#include "rbuf.h"

/* The 256 tokens of a 6.1 table take ~1.2 KiB; a token is a few bytes. */
#define KSYMS_TOKEN_TABLE_MAX 4096u
#define KSYMS_TOKENS 256u

int ksyms_loc_vmci(struct ksyms_loc *loc, const struct vmcoreinfo *vi)
{
	memset(loc, 0, sizeof *loc);
	int rc;
	if ((rc = vmci_symbol(vi, "kallsyms_names", &loc->names)) ||
	    (rc = vmci_symbol(vi, "kallsyms_num_syms", &loc->num_syms)) ||
	    (rc = vmci_symbol(vi, "kallsyms_token_table", &loc->token_table)) ||
	    (rc = vmci_symbol(vi, "kallsyms_token_index", &loc->token_index)) ||
	    (rc = vmci_symbol(vi, "kallsyms_offsets", &loc->offsets)) ||
	    (rc = vmci_symbol(vi, "kallsyms_relative_base", &loc->relative_base)))
		return rc;
	if (vmci_symbol(vi, "kallsyms_markers", &loc->markers))
		loc->markers = 0;
	return 0;
}

void ksyms_free(struct ksyms *ks)
{
	free(ks->sym);
	free(ks->by_name);
	free(ks->strtab);
	memset(ks, 0, sizeof *ks);
}

/* qsort_r (glibc, _GNU_SOURCE) carries the table as context: sevmond loads profiles on
 * several worker threads at once, so no file-scope sort state. */
static int by_name_cmp(const void *a, const void *b, void *ctx)
{
	const struct ksyms *sort_ks = ctx;
	const struct ksym *x = &sort_ks->sym[*(const uint32_t *)a];
	const struct ksym *y = &sort_ks->sym[*(const uint32_t *)b];
	int c = strcmp(sort_ks->strtab + x->name, sort_ks->strtab + y->name);
	if (c)
		return c;
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

struct tables {
	const uint8_t *tok;
	size_t toklen;
	uint16_t idx[KSYMS_TOKENS];
};

/* Expand one symbol's tokens into out (NUL-terminated); SEVMON_EDECODE on a bad token. */
static int expand(const struct tables *t, const uint8_t *in, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		size_t at = t->idx[in[i]];
		const uint8_t *s = t->tok + at;
		const uint8_t *e = memchr(s, '\0', t->toklen - at);
		if (!e)
			return SEVMON_EDECODE;
		size_t l = (size_t)(e - s);
		if (o + l >= cap)
			return SEVMON_ETOOBIG;
		memcpy(out + o, s, l);
		o += l;
	}
	out[o] = '\0';
	return o >= 2 ? 0 : SEVMON_EDECODE; /* type letter + at least one name character */
}

static int decode(struct ksyms *ks, const struct tables *t, const uint8_t *names, size_t nlen,
	const uint8_t *offs, uint32_t num, uint64_t relbase)
{
	struct rbuf r = rbuf_make(names, nlen);
	size_t cap = nlen * 2 + num + 1, used = 0; /* strtab grows as needed */
	char buf[KSYMS_NAME_LEN + 1];
	ks->sym = calloc(num, sizeof *ks->sym);
	ks->strtab = malloc(cap);
	if (!ks->sym || !ks->strtab)
		return SEVMON_ENOMEM;
	for (uint32_t i = 0; i < num; i++) {
		uint8_t b0, b1;
		size_t len;
		const uint8_t *tok;
		int rc = rbuf_get_u8(&r, &b0);
		if (rc)
			return rc;
		len = b0;
		if (b0 & 0x80) {
			if ((rc = rbuf_get_u8(&r, &b1)))
				return rc;
			len = (size_t)(b0 & 0x7f) | ((size_t)b1 << 7);
		}
		if ((rc = rbuf_get_bytes_direct(&r, &tok, len)) ||
		    (rc = expand(t, tok, len, buf, sizeof buf)))
			return rc;
		size_t l = strlen(buf + 1) + 1;
		if (used + l > cap) {
			char *n = realloc(ks->strtab, cap * 2);
			if (!n)
				return SEVMON_ENOMEM;
			ks->strtab = n;
			cap *= 2;
		}
		memcpy(ks->strtab + used, buf + 1, l);
		int32_t off = (int32_t)load_le32(offs + (size_t)i * 4);
		ks->sym[i] = (struct ksym){
			.addr = off >= 0 ? (uint64_t)off : relbase - 1 - (uint64_t)(int64_t)off,
			.name = (uint32_t)used,
			.type = buf[0],
		};
		used += l;
	}
	ks->n = num;
	return 0;
}

int ksyms_load(struct ksyms *ks, struct gmem *g, const struct ksyms_loc *loc)
{
	uint8_t numb[4], relb[8], idxb[KSYMS_TOKENS * 2];
	uint8_t *tok = malloc(KSYMS_TOKEN_TABLE_MAX), *names = NULL, *offs = NULL;
	struct tables t = { 0 };
	int rc = SEVMON_ENOMEM;
	memset(ks, 0, sizeof *ks);
	if (!tok)
		return rc;
	/* Trip 1: the fixed-size parts. */
	struct gmem_range r1[] = {
		{ .addr = loc->num_syms, .len = 4, .space = GMEM_VIRT, .out = numb },
		{ .addr = loc->relative_base, .len = 8, .space = GMEM_VIRT, .out = relb },
		{ .addr = loc->token_index, .len = sizeof idxb, .space = GMEM_VIRT, .out = idxb },
		{ .addr = loc->token_table, .len = KSYMS_TOKEN_TABLE_MAX, .space = GMEM_VIRT, .out = tok },
	};
	if ((rc = gmem_gather(g, r1, 4)) < 0)
		goto out;
	for (size_t i = 0; i < 4; i++)
		if ((rc = r1[i].status) < 0)
			goto out;
	uint32_t num = load_le32(numb);
	uint64_t relbase = load_le64(relb);
	rc = SEVMON_EDECODE;
	if (num == 0 || num > KSYMS_MAX_SYMS)
		goto out;
	t.tok = tok;
	t.toklen = KSYMS_TOKEN_TABLE_MAX;
	for (size_t i = 0; i < KSYMS_TOKENS; i++) {
		t.idx[i] = (uint16_t)(idxb[2 * i] | idxb[2 * i + 1] << 8);
		if (t.idx[i] >= t.toklen || (i && t.idx[i] <= t.idx[i - 1]))
			goto out;
	}
	/* Trip 2: offsets and names. The names run up to the markers / token table that the
	 * linker script places after them; otherwise assume the bound. */
	uint64_t end = loc->markers > loc->names ? loc->markers : loc->token_table;
	size_t nlen = end > loc->names && end - loc->names <= KSYMS_MAX_NAMES_BYTES
		? (size_t)(end - loc->names) : KSYMS_MAX_NAMES_BYTES;
	names = malloc(nlen);
	offs = malloc((size_t)num * 4);
	rc = SEVMON_ENOMEM;
	if (!names || !offs)
		goto out;
	if ((rc = gmem_read_big(g, loc->offsets, GMEM_VIRT, offs, (size_t)num * 4)) < 0 ||
	    (rc = gmem_read_big(g, loc->names, GMEM_VIRT, names, nlen)) < 0)
		goto out;
	if ((rc = decode(ks, &t, names, nlen, offs, num, relbase)) < 0)
		goto out;
	ks->by_name = malloc((size_t)num * sizeof *ks->by_name);
	rc = SEVMON_ENOMEM;
	if (!ks->by_name)
		goto out;
	for (uint32_t i = 0; i < num; i++)
		ks->by_name[i] = i;
	qsort_r(ks->by_name, num, sizeof *ks->by_name, by_name_cmp, ks);
	rc = 0;
out:
	if (rc < 0)
		ksyms_free(ks);
	free(tok);
	free(names);
	free(offs);
	return rc;
}

const char *ksym_name(const struct ksyms *ks, size_t i)
{
	return i < ks->n ? ks->strtab + ks->sym[i].name : NULL;
}

int ksym_lookup(const struct ksyms *ks, const char *name, uint64_t *addr)
{
	size_t lo = 0, hi = ks->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(ks->strtab + ks->sym[ks->by_name[mid]].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == ks->n || strcmp(ks->strtab + ks->sym[ks->by_name[lo]].name, name))
		return SEVMON_ENOENT;
	*addr = ks->sym[ks->by_name[lo]].addr;
	return 0;
}

long ksym_at(const struct ksyms *ks, uint64_t addr, uint64_t *off)
{
	/* the table is in address order (kallsyms sorts it; ksyms_load_image keeps it) */
	size_t lo = 0, hi = ks->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ks->sym[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return -1;
	if (off)
		*off = addr - ks->sym[lo - 1].addr;
	return (long)(lo - 1);
}
