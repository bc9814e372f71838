/*
 * vmcoreinfo.c — the kernel's VMCOREINFO note: find it, parse its KEY=VALUE lines.
 * Values keep the formats the kernel prints them in: SYMBOL()s and KERNELOFFSET in bare
 * hex, OFFSET()/SIZE()/LENGTH() in decimal, NUMBER()s in decimal or, since 6.9 for some
 * (NUMBER(VMALLOC_START)=0xff...), 0x-prefixed hex.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "introspect.h"
#include "err.h"
#include "rbuf.h"

static int is_hex(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F')))
			return 0;
	return 1;
}

static int is_dec(const char *s)
{
	if (*s == '-')
		s++;
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

static int has_prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* 0x and 1..16 hex digits. */
static int is_0xhex(const char *s)
{
	return (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) && strlen(s + 2) <= 16 && is_hex(s + 2);
}

static int value_ok(const char *k, const char *v)
{
	if (has_prefix(k, "SYMBOL(") || !strcmp(k, "KERNELOFFSET") || !strcmp(k, "BUILD-ID"))
		return is_hex(v);
	if (has_prefix(k, "NUMBER("))
		return is_dec(v) || is_0xhex(v);
	if (has_prefix(k, "OFFSET(") || has_prefix(k, "SIZE(") || has_prefix(k, "LENGTH(") ||
	    !strcmp(k, "PAGESIZE") || !strcmp(k, "CRASHTIME"))
		return is_dec(v);
	return 1;
}

void vmci_free(struct vmcoreinfo *vi)
{
	free(vi->text);
	free(vi->e);
	memset(vi, 0, sizeof *vi);
}

int vmci_parse(struct vmcoreinfo *vi, const char *text, size_t len)
{
	memset(vi, 0, sizeof *vi);
	if (len > VMCI_MAX_BYTES)
		return SEVMON_ETOOBIG;
	while (len && text[len - 1] == '\0')
		len--;
	if (memchr(text, '\0', len))
		return SEVMON_EDECODE;
	vi->text = malloc(len + 1);
	vi->e = calloc(VMCI_MAX_ENTRIES, sizeof *vi->e);
	if (!vi->text || !vi->e) {
		vmci_free(vi);
		return SEVMON_ENOMEM;
	}
	memcpy(vi->text, text, len);
	vi->text[len] = '\0';
	char *p = vi->text, *end = vi->text + len;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *le = nl ? nl : end;
		*le = '\0';
		if (le != p) {
			char *eq = strchr(p, '=');
			if (!eq || eq == p || vi->n == VMCI_MAX_ENTRIES)
				goto bad;
			*eq = '\0';
			if (!value_ok(p, eq + 1))
				goto bad;
			vi->e[vi->n].key = p;
			vi->e[vi->n].val = eq + 1;
			vi->n++;
		}
		p = le + 1;
	}
	return 0;
bad:
	vmci_free(vi);
	return SEVMON_EDECODE;
}

const char *vmci_get(const struct vmcoreinfo *vi, const char *key)
{
	for (size_t i = 0; i < vi->n; i++)
		if (!strcmp(vi->e[i].key, key))
			return vi->e[i].val;
	return NULL;
}

/* Keys are short: "SYMBOL(" + a C identifier + ")". */
#define VMCI_MAX_KEY 128

int vmci_symbol(const struct vmcoreinfo *vi, const char *name, uint64_t *v)
{
	char key[VMCI_MAX_KEY];
	if ((size_t)snprintf(key, sizeof key, "SYMBOL(%s)", name) >= sizeof key)
		return SEVMON_EINVAL;
	const char *s = vmci_get(vi, key);
	if (!s)
		return SEVMON_ENOENT;
	if (strlen(s) > 16)
		return SEVMON_EDECODE;
	*v = strtoull(s, NULL, 16);
	return 0;
}

int vmci_number(const struct vmcoreinfo *vi, const char *kind, const char *name, int64_t *v)
{
	char key[VMCI_MAX_KEY];
	if ((size_t)snprintf(key, sizeof key, "%s(%s)", kind, name) >= sizeof key)
		return SEVMON_EINVAL;
	const char *s = vmci_get(vi, key);
	if (!s)
		return SEVMON_ENOENT;
	if (is_0xhex(s)) { /* an address: its 64 bits, whatever the sign */
		*v = (int64_t)strtoull(s + 2, NULL, 16);
		return 0;
	}
	if (strlen(s) > 20)
		return SEVMON_EDECODE;
	errno = 0;
	long long x = strtoll(s, NULL, 10);
	if (errno)
		return SEVMON_EDECODE; /* out of int64_t's range */
	*v = x;
	return 0;
}

static const uint8_t note_name[12] = "VMCOREINFO\0";

/* The note header: namesz 11, descsz in (0, VMCI_MAX_BYTES], type 0, the name. *descsz
 * gets its size. */
static int note_header(struct rbuf *r, uint32_t *descsz)
{
	uint32_t namesz, type;
	const uint8_t *name;
	return rbuf_get_le32(r, &namesz) == 0 && rbuf_get_le32(r, descsz) == 0 &&
	       rbuf_get_le32(r, &type) == 0 && rbuf_get_bytes_direct(r, &name, sizeof note_name) == 0 &&
	       namesz == 11 && *descsz > 0 && *descsz <= VMCI_MAX_BYTES && type == 0 &&
	       !memcmp(name, note_name, sizeof note_name);
}

int vmci_scan_match(const uint8_t *p, size_t avail)
{
	struct rbuf r = rbuf_make(p, avail);
	uint32_t descsz;
	return note_header(&r, &descsz);
}

int vmci_from_note(struct vmcoreinfo *vi, const uint8_t *buf, size_t len)
{
	struct rbuf r = rbuf_make(buf, len);
	uint32_t namesz, descsz, type;
	const uint8_t *name, *desc;
	int rc;
	memset(vi, 0, sizeof *vi);
	if ((rc = rbuf_get_le32(&r, &namesz)) || (rc = rbuf_get_le32(&r, &descsz)) ||
	    (rc = rbuf_get_le32(&r, &type)))
		return rc;
	if (namesz != 11 || type != 0)
		return SEVMON_EDECODE;
	if (descsz > VMCI_MAX_BYTES)
		return SEVMON_ETOOBIG;
	if ((rc = rbuf_get_bytes_direct(&r, &name, 12)) || (rc = rbuf_get_bytes_direct(&r, &desc, descsz)))
		return rc;
	if (memcmp(name, note_name, 11))
		return SEVMON_EDECODE;
	return vmci_parse(vi, (const char *)desc, descsz);
}

int vmci_read(struct vmcoreinfo *vi, struct gmem *g, uint64_t phys, uint32_t size)
{
	if (size < VMCI_NOTE_HDR)
		return SEVMON_EDECODE;
	if (size > VMCI_MAX_BYTES + VMCI_NOTE_HDR)
		return SEVMON_ETOOBIG;
	uint8_t *buf = malloc(size);
	if (!buf)
		return SEVMON_ENOMEM;
	int rc = gmem_read(g, phys, GMEM_PHYS, buf, size);
	if (rc == 0)
		rc = vmci_from_note(vi, buf, size);
	free(buf);
	return rc;
}

/* Try the note whose header is at buf[off] (chunk at phys base); it may run past the chunk,
 * then read it whole. */
static int try_hit(struct vmcoreinfo *vi, struct gmem *g, const uint8_t *buf, size_t len,
	size_t off, uint64_t base)
{
	struct rbuf r = rbuf_make(buf, len), hdr, note;
	uint32_t descsz;
	int rc;
	if (rbuf_peek_at(&r, off, VMCI_NOTE_HDR, &hdr) < 0 || !note_header(&hdr, &descsz))
		return SEVMON_EDECODE;
	uint32_t need = VMCI_NOTE_HDR + descsz;
	if (rbuf_peek_at(&r, off, need, &note) == 0)
		rc = vmci_from_note(vi, note.p, need);
	else
		rc = vmci_read(vi, g, base + off, need);
	if (rc == 0 && !vmci_get(vi, "OSRELEASE")) {
		vmci_free(vi);
		rc = SEVMON_ENOENT;
	}
	return rc;
}

int vmci_scan(struct vmcoreinfo *vi, struct gmem *g, const uint64_t *start, const uint64_t *size,
	size_t nregions, uint64_t *phys)
{
	/* Chunks overlap by a header so a note straddling two chunks is still seen. */
	const uint64_t step = VMCI_SCAN_CHUNK - VMCI_NOTE_HDR;
	struct gmem_range r[VMCI_SCAN_CHUNKS_PER_TRIP];
	uint8_t *buf = malloc((size_t)VMCI_SCAN_CHUNKS_PER_TRIP * VMCI_SCAN_CHUNK);
	int rc = SEVMON_ENOENT;
	if (!buf)
		return SEVMON_ENOMEM;
	size_t reg = 0;
	uint64_t pos = nregions ? start[0] : 0;
	while (reg < nregions) {
		size_t k = 0;
		while (k < VMCI_SCAN_CHUNKS_PER_TRIP && reg < nregions) {
			uint64_t end = start[reg] + size[reg];
			if (pos >= end) {
				if (++reg < nregions)
					pos = start[reg];
				continue;
			}
			uint64_t len = end - pos < VMCI_SCAN_CHUNK ? end - pos : VMCI_SCAN_CHUNK;
			r[k] = (struct gmem_range){ .addr = pos, .len = (uint32_t)len, .space = GMEM_PHYS,
				.out = buf + k * VMCI_SCAN_CHUNK };
			k++;
			pos += len < VMCI_SCAN_CHUNK ? len : step;
		}
		if (!k)
			break;
		int grc = gmem_gather(g, r, k);
		if (grc < 0) {
			rc = grc;
			break;
		}
		for (size_t i = 0; i < k; i++) {
			if (r[i].status < 0)
				continue; /* a hole in the map: not fatal for a scan */
			const uint8_t *b = r[i].out;
			/* Notes are 4-byte aligned (ELF note alignment). */
			for (size_t off = 0; off + VMCI_NOTE_HDR <= r[i].len; off += 4) {
				if (!vmci_scan_match(b + off, r[i].len - off))
					continue;
				if (try_hit(vi, g, b, r[i].len, off, r[i].addr) == 0) {
					*phys = r[i].addr + off;
					free(buf);
					return 0;
				}
			}
		}
	}
	free(buf);
	return rc;
}
