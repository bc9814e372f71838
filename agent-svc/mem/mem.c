/*
 * mem.c — opening a memory source by spec, and the argument checks every read shares.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem_impl.h"

/* Longest spec option value (paths included): PATH_MAX. */
#define MEM_SPEC_MAX 4096u

int mem_open(const char *spec, struct mem_source **out)
{
	static const struct {
		const char *kind;
		int (*open)(const char *args, struct mem_source **out);
		bool args_required;
	} kinds[] = {
		{ "kcore", mem_kcore_open, false },
		{ "image", mem_image_open, true },
		{ "ramfile", mem_ramfile_open, true },
	};

	if (!out)
		return SEVMON_EINVAL;
	*out = NULL;
	if (!spec)
		return SEVMON_EINVAL;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t kl = strlen(kinds[i].kind);
		if (strncmp(spec, kinds[i].kind, kl) != 0)
			continue;
		if (spec[kl] == '\0' && !kinds[i].args_required)
			return kinds[i].open(NULL, out);
		if (spec[kl] == ':')
			return kinds[i].open(spec + kl + 1, out);
		if (spec[kl] == '\0')
			return SEVMON_EINVAL;
	}
	return spec[0] ? SEVMON_ENOTSUP : SEVMON_EINVAL;
}

void mem_close(struct mem_source *m)
{
	if (!m)
		return;
	free(m->regions);
	free(m->vmci_note);
	m->ops->close(m);
}

const char *mem_kind(const struct mem_source *m)
{
	return m ? m->ops->kind : "";
}

bool mem_has_virt(const struct mem_source *m)
{
	return m && m->ops->read_virt;
}

static int check_read(struct mem_source *m, uint64_t addr, const void *buf, size_t len)
{
	if (!m || (!buf && len > 0))
		return SEVMON_EINVAL;
	if (len > MEM_MAX_READ)
		return SEVMON_ETOOBIG;
	if (len > 0 && len - 1 > UINT64_MAX - addr) /* the range would wrap past 2^64 */
		return SEVMON_EFAULT;
	return 0;
}

int mem_read_phys(struct mem_source *m, uint64_t addr, void *buf, size_t len)
{
	int rc = check_read(m, addr, buf, len);
	if (rc < 0 || len == 0)
		return rc;
	return m->ops->read_phys(m, addr, buf, len);
}

int mem_read_virt(struct mem_source *m, uint64_t vaddr, void *buf, size_t len)
{
	int rc = check_read(m, vaddr, buf, len);
	if (rc < 0)
		return rc;
	if (!m->ops->read_virt)
		return SEVMON_ENOTSUP;
	if (len == 0)
		return 0;
	return m->ops->read_virt(m, vaddr, buf, len);
}

int mem_regions(const struct mem_source *m, const struct mem_region **out, size_t *n)
{
	if (!m || !out || !n)
		return SEVMON_EINVAL;
	*out = m->regions;
	*n = m->nregions;
	return 0;
}

int mem_vmcoreinfo(const struct mem_source *m, uint64_t *phys, uint32_t *size)
{
	if (!m || !phys || !size)
		return SEVMON_EINVAL;
	if (!m->has_vmci_phys)
		return SEVMON_ENOENT;
	*phys = m->vmci_phys;
	*size = m->vmci_size;
	return 0;
}

int mem_vmcoreinfo_note(const struct mem_source *m, const uint8_t **desc, size_t *len)
{
	if (!m || !desc || !len)
		return SEVMON_EINVAL;
	if (!m->vmci_note)
		return SEVMON_ENOENT;
	*desc = m->vmci_note;
	*len = m->vmci_note_len;
	return 0;
}

/* ---- spec parsing ---- */

int mem_spec_path(const char *args, char *path, size_t cap, const char **opts)
{
	const char *comma = strchr(args, ',');
	size_t n = comma ? (size_t)(comma - args) : strlen(args);
	if (n == 0 || n >= cap)
		return SEVMON_EINVAL;
	memcpy(path, args, n);
	path[n] = '\0';
	*opts = comma ? comma + 1 : "";
	return 0;
}

/* Next "k=v" item of opts: key [*k, *k+*kl), value [*v, *v+*vl). 0 at the end. */
static int next_opt(const char **p, const char **k, size_t *kl, const char **v, size_t *vl)
{
	const char *s = *p;
	if (*s == '\0')
		return 0;
	const char *end = strchr(s, ',');
	if (!end)
		end = s + strlen(s);
	const char *eq = memchr(s, '=', (size_t)(end - s));
	if (!eq || eq == s)
		return SEVMON_EINVAL;
	*k = s;
	*kl = (size_t)(eq - s);
	*v = eq + 1;
	*vl = (size_t)(end - eq - 1);
	*p = *end ? end + 1 : end;
	return 1;
}

int mem_spec_opt(const char *opts, const char *key, char *val, size_t cap)
{
	const char *p = opts, *k, *v;
	size_t kl, vl;
	int rc;
	while ((rc = next_opt(&p, &k, &kl, &v, &vl)) > 0) {
		if (kl != strlen(key) || memcmp(k, key, kl) != 0)
			continue;
		if (vl == 0 || vl >= cap || vl >= MEM_SPEC_MAX)
			return SEVMON_EINVAL;
		memcpy(val, v, vl);
		val[vl] = '\0';
		return 1;
	}
	return rc;
}

int mem_spec_check_keys(const char *opts, const char *const *keys)
{
	const char *p = opts, *k, *v;
	size_t kl, vl;
	int rc;
	while ((rc = next_opt(&p, &k, &kl, &v, &vl)) > 0) {
		bool known = false;
		for (size_t i = 0; keys[i]; i++)
			if (kl == strlen(keys[i]) && memcmp(k, keys[i], kl) == 0)
				known = true;
		if (!known)
			return SEVMON_EINVAL;
	}
	return rc;
}

int mem_parse_u64(const char *s, uint64_t *v)
{
	uint64_t x = 0;
	unsigned base = 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (*s == '\0')
		return SEVMON_EINVAL;
	for (; *s; s++) {
		unsigned d;
		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return SEVMON_EINVAL;
		if (x > (UINT64_MAX - d) / base)
			return SEVMON_EINVAL;
		x = x * base + d;
	}
	*v = x;
	return 0;
}
