/* ktypes.c — type layouts from the kernel's own BTF (__start_BTF..__stop_BTF), via libbpf. */
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>

#include "introspect.h"
#include "err.h"

/* Nesting a member path may go through (named components plus anonymous levels). */
#define KTYPES_MAX_DEPTH 16
/* Longest member path accepted ("name.release"). */
#define KTYPES_MAX_PATH 128

int ktypes_load(struct btf **out, struct gmem *g, const struct ksyms *ks)
{
	uint64_t start, stop;
	int rc;
	*out = NULL;
	if ((rc = ksym_lookup(ks, "__start_BTF", &start)) || (rc = ksym_lookup(ks, "__stop_BTF", &stop)))
		return rc;
	if (stop <= start)
		return SEVMON_EDECODE;
	if (stop - start > KTYPES_MAX_BTF_BYTES)
		return SEVMON_ETOOBIG;
	size_t len = (size_t)(stop - start);
	void *buf = malloc(len);
	if (!buf)
		return SEVMON_ENOMEM;
	rc = gmem_read_big(g, start, GMEM_VIRT, buf, len);
	if (rc == 0) {
		struct btf *b = btf__new(buf, (uint32_t)len); /* copies the data */
		if (!b)
			rc = SEVMON_EDECODE;
		*out = b;
	}
	free(buf);
	return rc;
}

/* Find member `name` in composite type id, looking through anonymous members. Adds the bit
 * offset to *bits and sets *mid to the member's type. */
static int find_member(const struct btf *btf, int id, const char *name, size_t nlen,
	uint64_t *bits, int *mid, int depth)
{
	if (depth > KTYPES_MAX_DEPTH)
		return SEVMON_ETOOBIG;
	id = btf__resolve_type(btf, (uint32_t)id);
	if (id < 0)
		return SEVMON_EDECODE;
	const struct btf_type *t = btf__type_by_id(btf, (uint32_t)id);
	if (!t || !btf_is_composite(t))
		return SEVMON_ENOENT;
	const struct btf_member *m = btf_members(t);
	for (uint16_t i = 0; i < btf_vlen(t); i++, m++) {
		const char *mn = btf__name_by_offset(btf, m->name_off);
		uint64_t b = btf_member_bit_offset(t, i);
		if (mn && *mn) {
			if (strlen(mn) != nlen || memcmp(mn, name, nlen))
				continue;
			if (btf_member_bitfield_size(t, i))
				return SEVMON_ENOTSUP;
			*bits += b;
			*mid = (int)m->type;
			return 0;
		}
		uint64_t sub = *bits + b;
		int rc = find_member(btf, (int)m->type, name, nlen, &sub, mid, depth + 1);
		if (rc == 0) {
			*bits = sub;
			return 0;
		}
		if (rc != SEVMON_ENOENT)
			return rc;
	}
	return SEVMON_ENOENT;
}

int ktypes_offsetof(const struct btf *btf, const char *type_name, const char *path,
	uint32_t *off, uint32_t *size)
{
	int id = btf__find_by_name_kind(btf, type_name, BTF_KIND_STRUCT);
	if (id < 0)
		id = btf__find_by_name_kind(btf, type_name, BTF_KIND_UNION);
	if (id < 0)
		return SEVMON_ENOENT;
	size_t plen = strlen(path);
	if (!plen || plen > KTYPES_MAX_PATH || path[plen - 1] == '.')
		return SEVMON_EINVAL;
	uint64_t bits = 0;
	const char *p = path;
	for (int depth = 0; *p; depth++) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (!n || depth > KTYPES_MAX_DEPTH)
			return SEVMON_EINVAL;
		int rc = find_member(btf, id, p, n, &bits, &id, 0);
		if (rc)
			return rc;
		p += n + (dot ? 1 : 0);
	}
	if (bits % 8)
		return SEVMON_ENOTSUP;
	if (bits / 8 > UINT32_MAX)
		return SEVMON_EDECODE;
	*off = (uint32_t)(bits / 8);
	if (size) {
		long long s = btf__resolve_size(btf, (uint32_t)id);
		if (s < 0 || s > UINT32_MAX)
			return SEVMON_EDECODE;
		*size = (uint32_t)s;
	}
	return 0;
}

int ktypes_sizeof(const struct btf *btf, const char *type_name, uint32_t *size)
{
	int id = btf__find_by_name_kind(btf, type_name, BTF_KIND_STRUCT);
	if (id < 0)
		id = btf__find_by_name_kind(btf, type_name, BTF_KIND_UNION);
	if (id < 0)
		return SEVMON_ENOENT;
	long long s = btf__resolve_size(btf, (uint32_t)id);
	if (s <= 0 || s > UINT32_MAX)
		return SEVMON_EDECODE;
	*size = (uint32_t)s;
	return 0;
}

int ktypes_enum_value(const struct btf *btf, const char *name, int64_t *v)
{
	uint32_t n = btf__type_cnt(btf);
	for (uint32_t id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		if (!btf_is_enum(t))
			continue;
		const struct btf_enum *e = btf_enum(t);
		for (uint16_t i = 0; i < btf_vlen(t); i++, e++) {
			/* NULL for a name offset outside the strings: the guest wrote this BTF */
			const char *en = btf__name_by_offset(btf, e->name_off);
			if (en && !strcmp(en, name)) {
				*v = e->val;
				return 0;
			}
		}
	}
	return SEVMON_ENOENT;
}

const char *ktypes_enum_name(const struct btf *btf, const char *type_name, int64_t v)
{
	int id = btf__find_by_name_kind(btf, type_name, BTF_KIND_ENUM);
	if (id < 0)
		return NULL;
	const struct btf_type *t = btf__type_by_id(btf, (uint32_t)id);
	const struct btf_enum *e = btf_enum(t);
	for (uint16_t i = 0; i < btf_vlen(t); i++, e++)
		if (e->val == v)
			return btf__name_by_offset(btf, e->name_off);
	return NULL;
}
