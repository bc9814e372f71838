/*
 * mem_kcore.c — the running kernel's memory through /proc/kcore (placement (a)).
 *
 * /proc/kcore is an ELF64 core built by fs/proc/kcore.c: one PT_NOTE (prstatus, prpsinfo,
 * task_struct, and since Linux 4.19 VMCOREINFO) and one PT_LOAD per kernel range (kernel
 * text, vmalloc/modules, each System RAM range through the direct map, vmemmap). Since
 * Linux 4.11 p_paddr is __pa() of a RAM segment, __pa_symbol() of the text segment and -1
 * for the rest; before that it was 0 everywhere.
 *
 * Virtual reads: any PT_LOAD, pread at p_offset + (vaddr - p_vaddr).
 * Physical reads: the direct map. Text and RAM both carry physical addresses and overlap
 * (the kernel image lives in RAM), but each is one linear alias, vaddr - paddr constant:
 * PAGE_OFFSET for the direct map, __START_KERNEL_map - phys_base for text. The direct map
 * is the alias covering the most bytes; only its segments serve physical reads.
 *
 * kcore answers a read of an unmapped vmalloc page or a non-RAM page with zeros, not an
 * error: those zeros cannot be told from memory. A failed or short pread is EFAULT.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "mem_impl.h"

#define KCORE_PATH "/proc/kcore"
#define VMCOREINFO_PATH "/sys/kernel/vmcoreinfo"
/* "0x" + 16 hex digits + ' ' + 8 hex digits + '\n' fits easily. */
#define VMCOREINFO_LINE_MAX 64u
#define NO_PADDR UINT64_MAX

struct kcore_source {
	struct mem_source base;
	int fd;
	struct mem_map virt, phys;
};

static struct kcore_source *to_kcore(struct mem_source *m)
{
	return (struct kcore_source *)m;
}

static int kcore_read_phys(struct mem_source *m, uint64_t addr, void *buf, size_t len)
{
	struct kcore_source *s = to_kcore(m);
	if (s->phys.n == 0)
		return SEVMON_ENOTSUP;
	return mem_map_read(&s->phys, addr, buf, len, mem_pread_chunk, &s->fd);
}

static int kcore_read_virt(struct mem_source *m, uint64_t addr, void *buf, size_t len)
{
	struct kcore_source *s = to_kcore(m);
	return mem_map_read(&s->virt, addr, buf, len, mem_pread_chunk, &s->fd);
}

static void kcore_close(struct mem_source *m)
{
	struct kcore_source *s = to_kcore(m);
	mem_map_free(&s->virt);
	mem_map_free(&s->phys);
	close(s->fd);
	free(s);
}

static const struct mem_ops kcore_ops = {
	.kind = "kcore",
	.read_phys = kcore_read_phys,
	.read_virt = kcore_read_virt,
	.close = kcore_close,
};

static bool is_load(const struct mem_elf_phdr *p)
{
	return p->type == MEM_ELF_PT_LOAD && p->filesz > 0;
}

static int build_virt(struct kcore_source *s, const struct mem_elf *e)
{
	struct mem_seg *segs = calloc(e->nph, sizeof(*segs));
	if (!segs)
		return SEVMON_ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < e->nph; i++) {
		const struct mem_elf_phdr *p = &e->ph[i];
		if (!is_load(p))
			continue;
		segs[n++] = (struct mem_seg){ .addr = p->vaddr, .size = p->filesz, .off = p->offset };
	}
	return mem_map_build(&s->virt, segs, n);
}

/* The linear offset (vaddr - paddr) of the direct map: the one covering most bytes among
 * segments with a physical address. Returns false when there is none (or only the pre-4.11
 * all-zero p_paddr, which names no alias). */
static bool direct_map_delta(const struct mem_elf *e, uint64_t *delta)
{
	uint64_t best = 0, best_bytes = 0;
	size_t with_paddr = 0, zero_paddr = 0;

	for (size_t i = 0; i < e->nph; i++) {
		const struct mem_elf_phdr *p = &e->ph[i];
		if (!is_load(p) || p->paddr == NO_PADDR)
			continue;
		with_paddr++;
		zero_paddr += p->paddr == 0;
		uint64_t d = p->vaddr - p->paddr, bytes = 0;
		for (size_t j = 0; j < e->nph; j++) {
			const struct mem_elf_phdr *q = &e->ph[j];
			if (is_load(q) && q->paddr != NO_PADDR && q->vaddr - q->paddr == d)
				bytes += q->filesz < UINT64_MAX - bytes ? q->filesz : 0;
		}
		if (bytes > best_bytes) {
			best_bytes = bytes;
			best = d;
		}
	}
	if (with_paddr == 0 || (with_paddr > 1 && zero_paddr == with_paddr))
		return false;
	*delta = best;
	return true;
}

static int build_phys(struct kcore_source *s, const struct mem_elf *e)
{
	uint64_t delta;
	if (!direct_map_delta(e, &delta))
		return 0; /* no physical view: reads say ENOTSUP, the region list is empty */

	struct mem_seg *segs = calloc(e->nph, sizeof(*segs));
	if (!segs)
		return SEVMON_ENOMEM;
	size_t n = 0;
	for (size_t i = 0; i < e->nph; i++) {
		const struct mem_elf_phdr *p = &e->ph[i];
		if (!is_load(p) || p->paddr == NO_PADDR || p->vaddr - p->paddr != delta)
			continue;
		segs[n++] = (struct mem_seg){ .addr = p->paddr, .size = p->filesz, .off = p->offset };
	}
	return mem_map_build(&s->phys, segs, n);
}

/* /sys/kernel/vmcoreinfo: "%pa %x\n", e.g. "0x0000000100c66000 1024" (the size is hex). */
static int read_vmcoreinfo_sysfs(const char *path, uint64_t *phys, uint32_t *size)
{
	char line[VMCOREINFO_LINE_MAX + 1];
	char a[VMCOREINFO_LINE_MAX + 1], b[VMCOREINFO_LINE_MAX + 1];
	uint64_t sz;

	int fd = mem_open_ro(path);
	if (fd < 0)
		return fd;
	ssize_t n = read(fd, line, VMCOREINFO_LINE_MAX);
	close(fd);
	if (n <= 0)
		return SEVMON_ENOENT;
	line[n] = '\0';
	if (sscanf(line, "%64s %64s", a, b) != 2)
		return SEVMON_EINVAL;
	/* The size has no 0x in front but is hex. */
	char hexb[VMCOREINFO_LINE_MAX + 3] = "0x";
	strcat(hexb, b);
	if (mem_parse_u64(a, phys) < 0 || mem_parse_u64(hexb, &sz) < 0 || sz == 0 ||
	    sz > MEM_VMCOREINFO_MAX)
		return SEVMON_EINVAL;
	*size = (uint32_t)sz;
	return 0;
}

int mem_kcore_open(const char *args, struct mem_source **out)
{
	char path[PATH_MAX] = KCORE_PATH, vmci_path[PATH_MAX] = VMCOREINFO_PATH;
	static const char *const keys[] = { "vmcoreinfo", NULL };
	struct mem_elf e = { 0 };
	struct stat st;
	int rc;

	if (args) {
		const char *opts;
		if (mem_spec_path(args, path, sizeof(path), &opts) < 0 ||
		    mem_spec_check_keys(opts, keys) < 0 ||
		    mem_spec_opt(opts, "vmcoreinfo", vmci_path, sizeof(vmci_path)) < 0)
			return SEVMON_EINVAL;
	}

	struct kcore_source *s = calloc(1, sizeof(*s));
	if (!s)
		return SEVMON_ENOMEM;
	s->base.ops = &kcore_ops;
	s->fd = mem_open_ro(path);
	if (s->fd < 0) {
		rc = s->fd;
		free(s);
		return rc;
	}
	if (fstat(s->fd, &st) < 0) {
		rc = SEVMON_ESYS;
		goto fail;
	}
	/* kcore's st_size is the end of its highest segment; 0 would mean "unknown". */
	rc = mem_elf_parse(mem_pread_chunk, &s->fd, st.st_size > 0 ? (uint64_t)st.st_size : 0, &e);
	if (rc < 0)
		goto fail;
	rc = build_virt(s, &e);
	if (rc == 0)
		rc = build_phys(s, &e);
	if (rc == 0)
		rc = mem_map_regions(&s->phys, &s->base.regions, &s->base.nregions);
	if (rc == 0) {
		rc = mem_elf_vmcoreinfo(mem_pread_chunk, &s->fd, &e, &s->base.vmci_note, &s->base.vmci_note_len);
		if (rc == SEVMON_ENOENT)
			rc = 0;
	}
	if (rc < 0)
		goto fail;
	/* Optional: a kernel without CONFIG_CRASH_CORE has no such file. */
	if (read_vmcoreinfo_sysfs(vmci_path, &s->base.vmci_phys, &s->base.vmci_size) == 0)
		s->base.has_vmci_phys = true;
	mem_elf_free(&e);
	*out = &s->base;
	return 0;
fail:
	mem_elf_free(&e);
	free(s->base.regions);
	free(s->base.vmci_note);
	mem_map_free(&s->virt);
	mem_map_free(&s->phys);
	close(s->fd);
	free(s);
	return rc;
}
