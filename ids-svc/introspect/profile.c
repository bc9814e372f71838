/*
 * profile.c — build a kernel profile from the kernel's own memory, validate it, cache it.
 *
 * Order: VMCOREINFO (release, build-id, KERNELOFFSET, phys_base, page tables) -> kallsyms
 * (located by VMCOREINFO SYMBOL(kallsyms_*)) -> BTF (__start_BTF..__stop_BTF) -> offsets ->
 * one gather that checks the slide against the kernel's data: linux_banner and
 * init_uts_ns.name.release carry OSRELEASE, init_task is pid 0 "swapper/0".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/btf.h>

#include "introspect.h"
#include "err.h"
#include "rbuf.h"

/* x86-64 links the kernel at __START_KERNEL = __START_KERNEL_map + CONFIG_PHYSICAL_START
 * (16 MiB, Debian's config); _stext sits there before the slide. */
#define X86_START_KERNEL 0xffffffff81000000ull
static const char banner_prefix[] = "Linux version ";

static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int from_vmci(struct kprofile *p, const struct vmcoreinfo *vi)
{
	const char *rel = vmci_get(vi, "OSRELEASE"), *bid = vmci_get(vi, "BUILD-ID");
	const char *ko = vmci_get(vi, "KERNELOFFSET");
	int64_t v;
	if (!rel || !ko)
		return SEVMON_EDECODE;
	copy_str(p->release, sizeof p->release, rel);
	copy_str(p->build_id, sizeof p->build_id, bid ? bid : "");
	if (strlen(ko) > 16)
		return SEVMON_EDECODE;
	p->slide = strtoull(ko, NULL, 16);
	p->slide_source = KPROFILE_SLIDE_VMCOREINFO;
	if (vmci_number(vi, "NUMBER", "phys_base", &p->phys_base))
		return SEVMON_EDECODE;
	if (vmci_symbol(vi, "init_top_pgt", &p->init_top_pgt))
		return SEVMON_EDECODE;
	p->pgtable_l5 = vmci_number(vi, "NUMBER", "pgtable_l5_enabled", &v) == 0 && v;
	p->sme_mask = vmci_number(vi, "NUMBER", "sme_mask", &v) == 0 ? (uint64_t)v : 0;
	return 0;
}

static int offsets(struct kprofile *p, const struct btf *btf)
{
	int rc;
#define KPROFILE_RESOLVE(name, type, path)                                                \
	if ((rc = ktypes_offsetof(btf, type, path, &p->name.off, &p->name.size)) < 0)     \
		return rc;
	KPROFILE_OFFSETS(KPROFILE_RESOLVE)
#undef KPROFILE_RESOLVE
	/* The checks copy these into fixed buffers and read them as fixed widths. */
	if (p->task_comm.size != KPROC_COMM_LEN || p->module_name.size > KMOD_NAME_LEN ||
	    p->task_pid.size != 4 || p->task_tgid.size != 4 || p->cred_uid.size != 4 ||
	    p->task_real_parent.size != 8 || p->task_exit_state.size != 4 || p->task_cred.size != 8 || p->task_mm.size != 8 ||
	    p->module_state.size != 4 || p->uts_release.size < 2 ||
	    p->uts_release.size > KPROFILE_MAX_RELEASE)
		return SEVMON_EDECODE;
	return 0;
}

/* The kernel's own data must agree with VMCOREINFO and the symbols. One round trip. */
static int validate(struct kintro *k)
{
	struct kprofile *p = &k->p;
	uint8_t banner[KPROFILE_MAX_BANNER], rel[KPROFILE_MAX_RELEASE], comm[KPROC_COMM_LEN];
	uint8_t pid[4];
	struct gmem_range r[] = {
		{ .addr = p->sym_linux_banner, .len = sizeof banner, .space = GMEM_VIRT, .out = banner },
		{ .addr = p->sym_init_uts_ns + p->uts_release.off, .len = p->uts_release.size,
			.space = GMEM_VIRT, .out = rel },
		{ .addr = p->sym_init_task + p->task_comm.off, .len = sizeof comm, .space = GMEM_VIRT,
			.out = comm },
		{ .addr = p->sym_init_task + p->task_pid.off, .len = 4, .space = GMEM_VIRT, .out = pid },
	};
	int rc = gmem_gather(k->g, r, 4);
	for (size_t i = 0; rc == 0 && i < 4; i++)
		rc = r[i].status;
	if (rc < 0)
		return rc;
	banner[sizeof banner - 1] = '\0';
	rel[p->uts_release.size - 1] = '\0';
	size_t bl = strlen(banner_prefix);
	if (memcmp(banner, banner_prefix, bl) ||
	    strncmp((char *)banner + bl, p->release, strlen(p->release)) ||
	    strcmp((char *)rel, p->release) || load_le32(pid) != 0 ||
	    memcmp(comm, "swapper/0", 10))
		return SEVMON_EDECODE;
	char *nl = strchr((char *)banner, '\n');
	if (nl)
		*nl = '\0';
	copy_str(p->banner, sizeof p->banner, (char *)banner);
	return 0;
}

void kintro_close(struct kintro *k)
{
	vmci_free(&k->vi);
	ksyms_free(&k->ks);
	btf__free(k->btf);
	memset(k, 0, sizeof *k);
}

int kintro_open(struct kintro *k, struct gmem *g, struct vmcoreinfo *vi)
{
	struct ksyms_loc loc;
	uint64_t stext, vstext;
	int rc;
	memset(k, 0, sizeof *k);
	k->vi = *vi;
	memset(vi, 0, sizeof *vi);
	k->g = g;
	if ((rc = from_vmci(&k->p, &k->vi)) < 0)
		goto fail;
	/* Kernels without SYMBOL(kallsyms_*) in VMCOREINFO: find the tables by structure in the
	 * image after _stext. */
	int via = KSYMS_VIA_VMCOREINFO;
	rc = ksyms_loc_vmci(&loc, &k->vi);
	if (rc == SEVMON_ENOENT) {
		if (vmci_symbol(&k->vi, "_stext", &vstext) < 0)
			vstext = X86_START_KERNEL + k->p.slide;
		via = KSYMS_VIA_STRUCTURE;
		rc = ksyms_loc_scan(&loc, g, vstext, KSYMS_SCAN_MAX);
	}
	if (rc < 0 || (rc = ksyms_load(&k->ks, g, &loc)) < 0)
		goto fail;
	k->p.ksyms_via = k->ks.located_by = via;
	k->p.nsyms = k->ks.n;
	if ((rc = ksym_lookup(&k->ks, "init_task", &k->p.sym_init_task)) ||
	    (rc = ksym_lookup(&k->ks, "linux_banner", &k->p.sym_linux_banner)) ||
	    (rc = ksym_lookup(&k->ks, "modules", &k->p.sym_modules)) ||
	    (rc = ksym_lookup(&k->ks, "init_uts_ns", &k->p.sym_init_uts_ns)) ||
	    (rc = ksym_lookup(&k->ks, "_stext", &stext)))
		goto fail;
	/* The decoded table, VMCOREINFO and the slide must tell the same story. */
	rc = SEVMON_EDECODE;
	if (stext != X86_START_KERNEL + k->p.slide ||
	    (vmci_symbol(&k->vi, "_stext", &vstext) == 0 && vstext != stext))
		goto fail;
	if ((rc = ktypes_load(&k->btf, g, &k->ks)) < 0 || (rc = offsets(&k->p, k->btf)) < 0 ||
	    (rc = validate(k)) < 0)
		goto fail;
	return 0;
fail:
	kintro_close(k);
	return rc;
}

int kaslr_probe(struct gmem *g, uint64_t banner_link, uint64_t *slides, size_t max)
{
	enum { N = KASLR_WINDOW / KASLR_ALIGN };
	static const size_t pl = sizeof banner_prefix - 1;
	struct gmem_range *r = calloc(N, sizeof *r);
	uint8_t *buf = calloc(N, pl);
	int rc = SEVMON_ENOMEM;
	if (!r || !buf)
		goto out;
	for (size_t i = 0; i < N; i++)
		r[i] = (struct gmem_range){ .addr = banner_link + i * KASLR_ALIGN, .len = (uint32_t)pl,
			.space = GMEM_VIRT, .out = buf + i * pl };
	if ((rc = gmem_gather(g, r, N)) < 0)
		goto out;
	size_t hits = 0;
	for (size_t i = 0; i < N && hits < max; i++)
		if (r[i].status == 0 && !memcmp(buf + i * pl, banner_prefix, pl))
			slides[hits++] = i * KASLR_ALIGN;
	rc = (int)hits;
out:
	free(r);
	free(buf);
	return rc;
}

/* ---- cache ---------------------------------------------------------------------------- */

/* Paths are built from a directory and a hex build-id. */
#define KPROFILE_MAX_PATH 4096

int kprofile_cache_dir(char *buf, size_t cap)
{
	const char *c = getenv("SEVMON_CACHE"), *h = getenv("HOME");
	int n;
	if (c && *c)
		n = snprintf(buf, cap, "%s", c);
	else if (h && *h)
		n = snprintf(buf, cap, "%s/.cache/sevmon/profiles", h);
	else
		return SEVMON_ENOENT;
	return n < 0 || (size_t)n >= cap ? SEVMON_ETOOBIG : 0;
}

static int profile_path(char *buf, const char *dir, const char *id)
{
	if (!*id || strspn(id, "0123456789abcdef") != strlen(id))
		return SEVMON_EINVAL; /* the key becomes a file name: hex only */
	int n = snprintf(buf, KPROFILE_MAX_PATH, "%s/%s.profile", dir, id);
	return n < 0 || n >= KPROFILE_MAX_PATH ? SEVMON_ETOOBIG : 0;
}

static int mkdirs(const char *dir)
{
	char tmp[KPROFILE_MAX_PATH];
	copy_str(tmp, sizeof tmp, dir);
	for (char *s = tmp + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return sevmon_from_errno(errno);
		*s = '/';
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return sevmon_from_errno(errno);
	return 0;
}

void kprofile_print(const struct kprofile *p, FILE *f)
{
	fprintf(f, "release=%s\nbanner=%s\nbuild_id=%s\n", p->release, p->banner, p->build_id);
	fprintf(f, "slide=0x%" PRIx64 "\nslide_source=%s\n", p->slide,
		p->slide_source == KPROFILE_SLIDE_PROBE ? "probe" : "vmcoreinfo");
	fprintf(f, "phys_base=%" PRId64 "\ninit_top_pgt=0x%" PRIx64 "\npgtable_l5=%d\n",
		p->phys_base, p->init_top_pgt, p->pgtable_l5);
	fprintf(f, "sme_mask=0x%" PRIx64 "\nksyms_via=%s\nnsyms=%" PRIu64 "\n", p->sme_mask,
		p->ksyms_via == KSYMS_VIA_STRUCTURE ? "structure" : "vmcoreinfo", p->nsyms);
	fprintf(f, "sym.init_task=0x%" PRIx64 "\nsym.linux_banner=0x%" PRIx64 "\n",
		p->sym_init_task, p->sym_linux_banner);
	fprintf(f, "sym.modules=0x%" PRIx64 "\nsym.init_uts_ns=0x%" PRIx64 "\n", p->sym_modules,
		p->sym_init_uts_ns);
#define KPROFILE_PRINT(name, type, path)                                                  \
	fprintf(f, "off.%s.%s=%" PRIu32 ",%" PRIu32 "\n", type, path, p->name.off, p->name.size);
	KPROFILE_OFFSETS(KPROFILE_PRINT)
#undef KPROFILE_PRINT
}

int kprofile_save(const struct kprofile *p, const char *dir)
{
	/* A temporary name per process and call: sevmond's workers (and other processes
	 * sharing the cache) may save the same build at once; rename() makes the last win. */
	static atomic_uint seq;
	char path[KPROFILE_MAX_PATH], tmp[KPROFILE_MAX_PATH + 32];
	int rc;
	if ((rc = profile_path(path, dir, p->build_id)) < 0 || (rc = mkdirs(dir)) < 0)
		return rc;
	snprintf(tmp, sizeof tmp, "%s.%ld.%u.tmp", path, (long)getpid(),
		 atomic_fetch_add(&seq, 1u));
	FILE *f = fopen(tmp, "w");
	if (!f)
		return sevmon_from_errno(errno);
	kprofile_print(p, f);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		rc = sevmon_from_errno(errno);
		remove(tmp);
		return rc;
	}
	return 0;
}

/* A cached profile is a few dozen short lines. */
#define KPROFILE_MAX_LINE 512

static int parse_line(struct kprofile *p, char *k, char *v)
{
	char *end;
	if (!strcmp(k, "release"))
		copy_str(p->release, sizeof p->release, v);
	else if (!strcmp(k, "banner"))
		copy_str(p->banner, sizeof p->banner, v);
	else if (!strcmp(k, "build_id"))
		copy_str(p->build_id, sizeof p->build_id, v);
	else if (!strcmp(k, "slide"))
		p->slide = strtoull(v, &end, 0);
	else if (!strcmp(k, "slide_source"))
		p->slide_source = !strcmp(v, "probe") ? KPROFILE_SLIDE_PROBE : KPROFILE_SLIDE_VMCOREINFO;
	else if (!strcmp(k, "phys_base"))
		p->phys_base = strtoll(v, &end, 0);
	else if (!strcmp(k, "init_top_pgt"))
		p->init_top_pgt = strtoull(v, &end, 0);
	else if (!strcmp(k, "pgtable_l5"))
		p->pgtable_l5 = (int)strtol(v, &end, 0);
	else if (!strcmp(k, "sme_mask"))
		p->sme_mask = strtoull(v, &end, 0);
	else if (!strcmp(k, "ksyms_via"))
		p->ksyms_via = !strcmp(v, "structure") ? KSYMS_VIA_STRUCTURE : KSYMS_VIA_VMCOREINFO;
	else if (!strcmp(k, "nsyms"))
		p->nsyms = strtoull(v, &end, 0);
	else if (!strcmp(k, "sym.init_task"))
		p->sym_init_task = strtoull(v, &end, 0);
	else if (!strcmp(k, "sym.linux_banner"))
		p->sym_linux_banner = strtoull(v, &end, 0);
	else if (!strcmp(k, "sym.modules"))
		p->sym_modules = strtoull(v, &end, 0);
	else if (!strcmp(k, "sym.init_uts_ns"))
		p->sym_init_uts_ns = strtoull(v, &end, 0);
#define KPROFILE_PARSE(name, type, path)                                                  \
	else if (!strcmp(k, "off." type "." path)) {                                      \
		if (sscanf(v, "%" SCNu32 ",%" SCNu32, &p->name.off, &p->name.size) != 2)  \
			return SEVMON_EDECODE;                                            \
	}
	KPROFILE_OFFSETS(KPROFILE_PARSE)
#undef KPROFILE_PARSE
	else
		return SEVMON_EDECODE;
	return 0;
}

int kprofile_load(struct kprofile *p, const char *dir, const char *build_id)
{
	char path[KPROFILE_MAX_PATH], line[KPROFILE_MAX_LINE];
	int rc;
	memset(p, 0, sizeof *p);
	if ((rc = profile_path(path, dir, build_id)) < 0)
		return rc;
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? SEVMON_ENOENT : sevmon_from_errno(errno);
	rc = 0;
	while (rc == 0 && fgets(line, sizeof line, f)) {
		char *nl = strchr(line, '\n'), *eq = strchr(line, '=');
		if (!nl || !eq) {
			rc = SEVMON_EDECODE;
			break;
		}
		*nl = *eq = '\0';
		rc = parse_line(p, line, eq + 1);
	}
	fclose(f);
	if (rc == 0 && strcmp(p->build_id, build_id))
		rc = SEVMON_EDECODE;
	return rc;
}
