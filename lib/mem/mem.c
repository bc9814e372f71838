/*
 * mem.c — opening a memory source by spec (the table of kinds), and the argument checks
 * every read shares.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem_impl.h"

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
