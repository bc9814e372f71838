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

static const char *const off_type[KPROFILE_OFF_COUNT] = {
#define KPROFILE_TYPE(name, type, path) type,
	KPROFILE_OFFSETS(KPROFILE_TYPE)
#undef KPROFILE_TYPE
};
static const char *const off_path[KPROFILE_OFF_COUNT] = {
#define KPROFILE_PATH(name, type, path) path,
	KPROFILE_OFFSETS(KPROFILE_PATH)
#undef KPROFILE_PATH
};
_Static_assert(KPROFILE_OFF_COUNT <= 64 * KPROFILE_MISSING_WORDS, "kprofile.missing has a bit per offset");

static const char *const sym_names[KPROFILE_SYM_COUNT] = {
#define KPROFILE_SYM_NAME(name, flags) #name,
	KPROFILE_SYMBOLS(KPROFILE_SYM_NAME)
#undef KPROFILE_SYM_NAME
};
static const int sym_flags[KPROFILE_SYM_COUNT] = {
#define KPROFILE_SYM_FLAGS(name, flags) flags,
	KPROFILE_SYMBOLS(KPROFILE_SYM_FLAGS)
#undef KPROFILE_SYM_FLAGS
};

const char *kprofile_sym_name(int id)
{
	return id >= 0 && id < KPROFILE_SYM_COUNT ? sym_names[id] : NULL;
}

/* The symbol fields by number. */
static uint64_t *sym_field(struct kprofile *p, int id)
{
	uint64_t *f[KPROFILE_SYM_COUNT] = {
#define KPROFILE_SYM_PTR(name, flags) &p->sym_##name,
		KPROFILE_SYMBOLS(KPROFILE_SYM_PTR)
#undef KPROFILE_SYM_PTR
	};
	return f[id];
}

void kprofile_rebase(struct kprofile *p, uint64_t slide)
{
	uint64_t delta = slide - p->slide;
	for (int i = 0; i < KPROFILE_SYM_COUNT; i++) {
		uint64_t *f = sym_field(p, i);
		if (*f && !(sym_flags[i] & KPSYM_PERCPU))
			*f += delta;
	}
	p->slide = slide;
}

const char *kprofile_off_type(int id)
{
	return id >= 0 && id < KPROFILE_OFF_COUNT ? off_type[id] : NULL;
}

const char *kprofile_off_path(int id)
{
	return id >= 0 && id < KPROFILE_OFF_COUNT ? off_path[id] : NULL;
}

/* The profile itself reads these (validate(), every list walk): without them there is no
 * profile at all. The others belong to the checks that name them (check.h: members). */
static const int core_offsets[] = { KPROFILE_OFF_task_comm, KPROFILE_OFF_task_pid,
				    KPROFILE_OFF_list_head_next, KPROFILE_OFF_uts_release };

/* Each member's offset from BTF. A member this kernel's BTF does not have is recorded in
 * p->missing (a check that needs it then fails by name); a core one fails the profile. */
static int offsets(struct kprofile *p, const struct btf *btf, char *err, size_t errcap)
{
	struct kprofile_off *o[KPROFILE_OFF_COUNT] = {
#define KPROFILE_PTR(name, type, path) &p->name,
		KPROFILE_OFFSETS(KPROFILE_PTR)
#undef KPROFILE_PTR
	};
	memset(p->missing, 0, sizeof p->missing);
	for (int i = 0; i < KPROFILE_OFF_COUNT; i++) {
		int rc = ktypes_offsetof(btf, off_type[i], off_path[i], &o[i]->off, &o[i]->size);
		if (rc == SEVMON_ENOENT) {
			kprofile_set_missing(p, i);
			*o[i] = (struct kprofile_off){ 0 };
		} else if (rc < 0) {
			snprintf(err, errcap, "BTF: struct %s member %s: %s", off_type[i],
				 off_path[i], sevmon_strerror(rc));
			return rc;
		}
	}
	for (size_t i = 0; i < sizeof core_offsets / sizeof core_offsets[0]; i++)
		if (kprofile_missing(p, core_offsets[i])) {
			snprintf(err, errcap, "BTF of this kernel has no struct %s member %s",
				 off_type[core_offsets[i]], off_path[core_offsets[i]]);
			return SEVMON_ENOTSUP;
		}
	/* The checks copy these into fixed buffers and read them as fixed widths: a size
	 * other than the kernel's own (where the member exists) is a profile we cannot use,
	 * and the error says which member changed shape. */
	static const struct {
		int id;
		uint32_t min, max;
	} sizes[] = {
		{ KPROFILE_OFF_task_comm, KPROC_COMM_LEN, KPROC_COMM_LEN },
		{ KPROFILE_OFF_module_name, 1, KMOD_NAME_LEN },
		{ KPROFILE_OFF_task_pid, 4, 4 },
		{ KPROFILE_OFF_task_tgid, 4, 4 },
		{ KPROFILE_OFF_cred_uid, 4, 4 },
		{ KPROFILE_OFF_task_real_parent, 8, 8 },
		{ KPROFILE_OFF_task_exit_state, 4, 4 },
		{ KPROFILE_OFF_task_cred, 8, 8 },
		{ KPROFILE_OFF_task_mm, 8, 8 },
		{ KPROFILE_OFF_module_state, 4, 4 },
		{ KPROFILE_OFF_uts_release, 2, KPROFILE_MAX_RELEASE },
	};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		int id = sizes[i].id;
		if (kprofile_missing(p, id))
			continue;
		if (o[id]->size < sizes[i].min || o[id]->size > sizes[i].max) {
			snprintf(err, errcap,
				 "BTF: struct %s member %s is %" PRIu32 " bytes, not %" PRIu32
				 "..%" PRIu32 " as this build reads it", off_type[id], off_path[id],
				 o[id]->size, sizes[i].min, sizes[i].max);
			return SEVMON_EDECODE;
		}
	}
	return 0;
}

static const char *const mstate_word[KPROFILE_NMODULE_STATES] = {
#define MSTATE_WORD(word, enumerator) #word,
	KPROFILE_MODULE_STATES(MSTATE_WORD)
#undef MSTATE_WORD
};
static const char *const mstate_enum[KPROFILE_NMODULE_STATES] = {
#define MSTATE_ENUM(word, enumerator) enumerator,
	KPROFILE_MODULE_STATES(MSTATE_ENUM)
#undef MSTATE_ENUM
};

static const char *const enum_name[KPROFILE_NENUMS] = {
#define KPROFILE_ENUM_NAME(name) #name,
	KPROFILE_ENUMS(KPROFILE_ENUM_NAME)
#undef KPROFILE_ENUM_NAME
};

const char *kprofile_enum_name(int id)
{
	return id >= 0 && id < KPROFILE_NENUMS ? enum_name[id] : NULL;
}

static void module_states(struct kprofile *p, const struct btf *btf)
{
	for (int i = 0; i < KPROFILE_NMODULE_STATES; i++)
		if (ktypes_enum_value(btf, mstate_enum[i], &p->mod_states[i]) < 0)
			p->mod_states[i] = KPROFILE_NO_VALUE;
	for (int i = 0; i < KPROFILE_NENUMS; i++)
		if (ktypes_enum_value(btf, enum_name[i], &p->enums[i]) < 0)
			p->enums[i] = KPROFILE_NO_VALUE;
}

/* The shape of struct module's memory regions, from BTF (see kprofile.module_mem). */
static int module_mem_shape(struct kprofile *p, const struct btf *btf)
{
	uint32_t off, size, stride, boff, bsize, soff, ssize;
	int64_t text;
	p->module_mem = KPROFILE_MODMEM_NONE;
	if (ktypes_offsetof(btf, "module", "mem", &off, &size) == 0 &&
	    ktypes_sizeof(btf, "module_memory", &stride) == 0 &&
	    ktypes_offsetof(btf, "module_memory", "base", &boff, &bsize) == 0 &&
	    ktypes_offsetof(btf, "module_memory", "size", &soff, &ssize) == 0 &&
	    ktypes_enum_value(btf, "MOD_TEXT", &text) == 0) {
		if (size % stride || text < 0 || (uint64_t)text >= size / stride || bsize != 8 ||
		    (ssize != 4 && ssize != 8))
			return SEVMON_EDECODE;
		p->module_mem = KPROFILE_MODMEM_ARRAY;
		p->module_mem_count = size / stride;
		p->module_mem_stride = stride;
		p->module_text_base = (struct kprofile_off){ off + (uint32_t)text * stride + boff, bsize };
		p->module_text_size = (struct kprofile_off){ off + (uint32_t)text * stride + soff, ssize };
		p->module_nregions = 0;
		for (uint32_t i = 0; i < p->module_mem_count && i < KPROFILE_MODULE_REGIONS; i++) {
			p->module_region_base[i] = off + i * stride + boff;
			p->module_region_size[i] = off + i * stride + soff;
			p->module_nregions++;
		}
		p->module_region_size_len = ssize;
	} else if (ktypes_offsetof(btf, "module", "core_layout.base", &boff, &bsize) == 0 &&
		   ktypes_offsetof(btf, "module", "core_layout.size", &soff, &ssize) == 0) {
		if (bsize != 8 || (ssize != 4 && ssize != 8))
			return SEVMON_EDECODE;
		p->module_mem = KPROFILE_MODMEM_LAYOUT;
		p->module_mem_count = 1;
		p->module_mem_stride = 0;
		p->module_text_base = (struct kprofile_off){ boff, bsize };
		p->module_text_size = (struct kprofile_off){ soff, ssize };
		p->module_nregions = 1;
		p->module_region_base[0] = boff;
		p->module_region_size[0] = soff;
		p->module_region_size_len = ssize;
		uint32_t ib, ibs, is, iss;
		if (ktypes_offsetof(btf, "module", "init_layout.base", &ib, &ibs) == 0 &&
		    ktypes_offsetof(btf, "module", "init_layout.size", &is, &iss) == 0 && ibs == 8 &&
		    iss == ssize) {
			p->module_region_base[1] = ib;
			p->module_region_size[1] = is;
			p->module_nregions = 2;
		}
	}
	return 0;
}

const char *kprofile_module_state(const struct kprofile *p, int64_t v)
{
	for (int i = 0; i < KPROFILE_NMODULE_STATES; i++)
		if (p->mod_states[i] != KPROFILE_NO_VALUE && p->mod_states[i] == v)
			return mstate_word[i];
	return "unknown";
}

int kprofile_from_btf(struct kprofile *p, const struct btf *btf, char *err, size_t errcap)
{
	int rc = offsets(p, btf, err, errcap);
	if (rc < 0)
		return rc;
	module_states(p, btf);
	if (ktypes_sizeof(btf, "vmap_node", &p->size_vmap_node) < 0)
		p->size_vmap_node = 0;
	if (ktypes_sizeof(btf, "nf_hook_entry", &p->size_nf_hook_entry) < 0)
		p->size_nf_hook_entry = 0;
	if (ktypes_sizeof(btf, "seq_operations", &p->size_seq_operations) < 0)
		p->size_seq_operations = 0;
	if (ktypes_sizeof(btf, "dyn_ftrace", &p->size_dyn_ftrace) < 0)
		p->size_dyn_ftrace = 0;
	if ((rc = module_mem_shape(p, btf)) < 0)
		snprintf(err, errcap, "BTF: struct module's memory regions have a shape this build "
			 "does not know");
	return rc;
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

int kintro_banner(struct kintro *k, char *out, size_t cap)
{
	uint8_t b[KPROFILE_MAX_BANNER];
	if (!cap)
		return SEVMON_EINVAL;
	int rc = gmem_read(k->g, k->p.sym_linux_banner, GMEM_VIRT, b, sizeof b);
	if (rc < 0)
		return rc;
	size_t n = strnlen((char *)b, sizeof b);
	while (n && (b[n - 1] == '\n'))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, b, n);
	out[n] = '\0';
	return 0;
}

void kintro_close(struct kintro *k)
{
	vmci_free(&k->vi);
	ksyms_free(&k->ks);
	ksyms_free(&k->img_syms);
	btf__free(k->btf);
	memset(k, 0, sizeof *k);
}

/* kallsyms of the kernel behind k->g, located through k->vi (or by structure). */
static int load_ksyms(struct kintro *k)
{
	struct ksyms_loc loc;
	uint64_t vstext;
	/* Kernels without SYMBOL(kallsyms_*) in VMCOREINFO: find the tables by structure in the
	 * image after _stext. */
	int via = KSYMS_VIA_VMCOREINFO;
	int rc = ksyms_loc_vmci(&loc, &k->vi);
	if (rc == SEVMON_ENOENT) {
		if (vmci_symbol(&k->vi, "_stext", &vstext) < 0)
			vstext = X86_START_KERNEL + k->p.slide;
		via = KSYMS_VIA_STRUCTURE;
		rc = ksyms_loc_scan(&loc, k->g, vstext, KSYMS_SCAN_MAX);
	}
	if (rc < 0 || (rc = ksyms_load(&k->ks, k->g, &loc)) < 0)
		return rc;
	k->p.ksyms_via = k->ks.located_by = via;
	return 0;
}

int kintro_load_tables(struct kintro *k)
{
	int rc = 0;
	if (!k->ks.n && (rc = load_ksyms(k)) < 0)
		return rc;
	if (!k->btf && (rc = ktypes_load(&k->btf, k->g, &k->ks)) < 0)
		return rc;
	return 0;
}

/* Entries of the table at addr: up to the next symbol (kallsyms has no sizes), at most max. */
static uint32_t table_len(const struct ksyms *ks, uint64_t addr, uint32_t max, uint32_t entry)
{
	uint64_t off;
	long i = ksym_at(ks, addr, &off);
	if (i < 0 || off)
		return 0;
	while ((size_t)i < ks->n && ks->sym[i].addr <= addr)
		i++;
	if ((size_t)i == ks->n)
		return 0;
	uint64_t n = (ks->sym[i].addr - addr) / entry;
	return n > max ? max : (uint32_t)n;
}

/* An address as an offset from _stext, where it is in the kernel image (text, or init
 * text: the IDT's reserved vectors keep their early handlers); else KPROFILE_ENTRY_NONE. */
static uint32_t image_off(const struct kprofile *p, uint64_t a)
{
	uint64_t end = p->sym__end ? p->sym__end : p->sym__stext + X86_KERNEL_IMAGE_SIZE;
	return a >= p->sym__stext && a < end ? (uint32_t)(a - p->sym__stext) : KPROFILE_ENTRY_NONE;
}

/* Is a the start of a system-call function (a symbol with "_sys_" among its aliases, or
 * the ni_syscall stub)? What a table entry of a kernel not tampered with points at. */
static int syscall_fn(const struct ksyms *ks, uint64_t a)
{
	uint64_t off;
	long i = ksym_at(ks, a, &off);
	for (; i >= 0 && off == 0 && ks->sym[i].addr == a; i--) {
		const char *n = ksym_name(ks, (size_t)i);
		if (strstr(n, "_sys_") || !strcmp(n, "sys_ni_syscall"))
			return 1;
	}
	return 0;
}

/* The handler an IDT gate names (x86-64 16-byte gate: offset 0..15, 48..63, 64..95; present
 * bit 47), or 0 for a gate that is not present. */
uint64_t kprofile_idt_target(const uint8_t gate[16])
{
	if (!(gate[5] & 0x80))
		return 0;
	return (uint64_t)load_le16(gate) | (uint64_t)load_le16(gate + 6) << 16 |
	       (uint64_t)load_le32(gate + 8) << 32;
}

/* The system-call tables and the IDT of the kernel the profile is built from: what the
 * syscalls and idt checks compare a live kernel with. One round trip. Trailing table
 * entries that are no system-call function are alignment padding (the table's size is
 * up to the next symbol). */
static int record_tables(struct kintro *k)
{
	struct kprofile *p = &k->p;
	const uint64_t tab[KPROFILE_NSYSTABS] = { p->sym_sys_call_table, p->sym_ia32_sys_call_table,
						  p->sym_x32_sys_call_table };
	uint64_t *buf[KPROFILE_NSYSTABS] = { 0 };
	uint8_t *idt = NULL;
	struct gmem_range r[KPROFILE_NSYSTABS + 1];
	size_t n = 0;
	int rc = SEVMON_ENOMEM;
	for (int t = 0; t < KPROFILE_NSYSTABS; t++) {
		p->systab[t].n = tab[t] ? table_len(&k->ks, tab[t], KPROFILE_SYSTAB_MAX, 8) : 0;
		if (!p->systab[t].n)
			continue;
		if (!(buf[t] = calloc(p->systab[t].n, 8)))
			goto out;
		r[n++] = (struct gmem_range){ .addr = tab[t], .len = p->systab[t].n * 8u,
			.space = GMEM_VIRT, .out = buf[t] };
	}
	p->idt_n = 0;
	if (p->sym_idt_table) {
		if (!(idt = malloc(KPROFILE_IDT_ENTRIES * 16)))
			goto out;
		r[n++] = (struct gmem_range){ .addr = p->sym_idt_table, .len = KPROFILE_IDT_ENTRIES * 16,
			.space = GMEM_VIRT, .out = idt };
	}
	if ((rc = n ? gmem_gather(k->g, r, n) : 0) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (r[i].status < 0) { /* a table we cannot read is one we do not record */
			if (r[i].out == idt)
				p->sym_idt_table = 0;
			for (int t = 0; t < KPROFILE_NSYSTABS; t++)
				if (r[i].out == buf[t])
					p->systab[t].n = 0;
		}
	for (int t = 0; t < KPROFILE_NSYSTABS; t++) {
		struct kprofile_table *pt = &p->systab[t];
		for (uint32_t i = 0; i < pt->n; i++) {
			uint64_t a = load_le64((uint8_t *)&buf[t][i]);
			/* an entry that is no system-call function is not recorded as expected:
			 * the syscalls check reports it (the table was altered before this build) */
			pt->off[i] = syscall_fn(&k->ks, a) ? image_off(p, a) : KPROFILE_ENTRY_NONE;
		}
		while (pt->n && pt->off[pt->n - 1] == KPROFILE_ENTRY_NONE)
			pt->off[--pt->n] = 0; /* alignment padding after the last entry */
	}
	if (p->sym_idt_table) {
		for (uint32_t i = 0; i < KPROFILE_IDT_ENTRIES; i++) {
			uint64_t a = kprofile_idt_target(idt + 16 * i);
			p->idt[i] = a ? image_off(p, a) : KPROFILE_ENTRY_NONE;
		}
		p->idt_n = KPROFILE_IDT_ENTRIES;
	}
	rc = 0;
out:
	for (int t = 0; t < KPROFILE_NSYSTABS; t++)
		free(buf[t]);
	free(idt);
	return rc;
}

int kintro_open(struct kintro *k, struct gmem *g, struct vmcoreinfo *vi)
{
	uint64_t stext, vstext;
	int rc;
	memset(k, 0, sizeof *k);
	k->vi = *vi;
	memset(vi, 0, sizeof *vi);
	k->g = g;
	if ((rc = from_vmci(&k->p, &k->vi)) < 0 || (rc = load_ksyms(k)) < 0)
		goto fail;
	k->p.nsyms = k->ks.n;
	for (int i = 0; i < KPROFILE_SYM_COUNT; i++) {
		uint64_t *f = sym_field(&k->p, i);
		if ((rc = ksym_lookup(&k->ks, sym_names[i], f)) < 0) {
			*f = 0;
			if (sym_flags[i] & KPSYM_REQ) {
				snprintf(k->err, sizeof k->err, "kallsyms has no %s", sym_names[i]);
				goto fail;
			}
		}
	}
	stext = k->p.sym__stext;
	/* The decoded table, VMCOREINFO and the slide must tell the same story. */
	rc = SEVMON_EDECODE;
	if (stext != X86_START_KERNEL + k->p.slide ||
	    (vmci_symbol(&k->vi, "_stext", &vstext) == 0 && vstext != stext))
		goto fail;
	if ((rc = ktypes_load(&k->btf, g, &k->ks)) < 0 ||
	    (rc = kprofile_from_btf(&k->p, k->btf, k->err, sizeof k->err)) < 0 ||
	    (rc = validate(k)) < 0 || (rc = record_tables(k)) < 0)
		goto fail;
	return 0;
fail:;
	char why[sizeof k->err];
	memcpy(why, k->err, sizeof why);
	kintro_close(k);
	memcpy(k->err, why, sizeof why);
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

/* The cache file's format: a file of another format (older builds knew fewer offsets or
 * none of the enum values) is not used but rebuilt, never read with fields missing. */
#define KPROFILE_FORMAT 10
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
#define KPROFILE_PRINT_SYM(name, flags)                                                   \
	if (p->sym_##name)                                                                \
		fprintf(f, "sym." #name "=0x%" PRIx64 "\n", p->sym_##name);
	KPROFILE_SYMBOLS(KPROFILE_PRINT_SYM)
#undef KPROFILE_PRINT_SYM
#define KPROFILE_PRINT(name, type, path)                                                  \
	if (kprofile_missing(p, KPROFILE_OFF_##name))                                     \
		fprintf(f, "off.%s.%s=missing\n", type, path);                            \
	else                                                                              \
		fprintf(f, "off.%s.%s=%" PRIu32 ",%" PRIu32 "\n", type, path, p->name.off,  \
			p->name.size);
	KPROFILE_OFFSETS(KPROFILE_PRINT)
#undef KPROFILE_PRINT
	for (int i = 0; i < KPROFILE_NMODULE_STATES; i++)
		if (p->mod_states[i] == KPROFILE_NO_VALUE)
			fprintf(f, "enum.%s=missing\n", mstate_enum[i]);
		else
			fprintf(f, "enum.%s=%" PRId64 "\n", mstate_enum[i], p->mod_states[i]);
	fprintf(f, "module_mem=%s\n", p->module_mem == KPROFILE_MODMEM_ARRAY ? "mem"
				       : p->module_mem == KPROFILE_MODMEM_LAYOUT ? "core_layout"
										 : "none");
	fprintf(f, "module_mem.count=%" PRIu32 "\nmodule_mem.stride=%" PRIu32 "\n",
		p->module_mem_count, p->module_mem_stride);
	fprintf(f, "off.module.text_base=%" PRIu32 ",%" PRIu32 "\noff.module.text_size=%" PRIu32
		   ",%" PRIu32 "\n", p->module_text_base.off, p->module_text_base.size,
		p->module_text_size.off, p->module_text_size.size);
	for (uint32_t i = 0; i < p->module_nregions && i < KPROFILE_MODULE_REGIONS; i++)
		fprintf(f, "module.region=%" PRIu32 ",%" PRIu32 ",%" PRIu32 "\n",
			p->module_region_base[i], p->module_region_size[i], p->module_region_size_len);
	fprintf(f, "size.vmap_node=%" PRIu32 "\nsize.nf_hook_entry=%" PRIu32
		   "\nsize.seq_operations=%" PRIu32 "\nsize.dyn_ftrace=%" PRIu32 "\n",
		p->size_vmap_node, p->size_nf_hook_entry, p->size_seq_operations, p->size_dyn_ftrace);
	for (int i = 0; i < KPROFILE_NENUMS; i++)
		if (p->enums[i] == KPROFILE_NO_VALUE)
			fprintf(f, "enum.%s=missing\n", enum_name[i]);
		else
			fprintf(f, "enum.%s=%" PRId64 "\n", enum_name[i], p->enums[i]);
}

/* The recorded tables: 16 entries a line (KPROFILE_MAX_LINE holds them), "-" for NONE. */
static void print_table(FILE *f, const char *name, const uint32_t *v, uint32_t n)
{
	fprintf(f, "%s.n=%" PRIu32 "\n", name, n);
	for (uint32_t i = 0; i < n; i += 16) {
		fprintf(f, "%s.%" PRIu32 "=", name, i);
		for (uint32_t j = i; j < n && j < i + 16; j++) {
			if (v[j] == KPROFILE_ENTRY_NONE)
				fprintf(f, "%s-", j > i ? "," : "");
			else
				fprintf(f, "%s%" PRIx32, j > i ? "," : "", v[j]);
		}
		fputc('\n', f);
	}
}

static const char *const systab_name[KPROFILE_NSYSTABS] = { "systab.x64", "systab.ia32",
							     "systab.x32" };

static void print_tables(const struct kprofile *p, FILE *f)
{
	for (int t = 0; t < KPROFILE_NSYSTABS; t++)
		print_table(f, systab_name[t], p->systab[t].off, p->systab[t].n);
	print_table(f, "idt", p->idt, p->idt_n);
}

/* "name.N=a,b,-,..." into v (cap entries); *n was set by the ".n" line before. */
static int parse_table(const char *k, const char *name, char *v, uint32_t *out, uint32_t n,
		       uint32_t cap)
{
	size_t l = strlen(name);
	char *end;
	if (strncmp(k, name, l) || k[l] != '.')
		return 1; /* not this table */
	unsigned long at = strtoul(k + l + 1, &end, 10);
	if (*end || at % 16 || at >= cap || at >= n)
		return SEVMON_EDECODE;
	for (char *tok = strtok(v, ","); tok; tok = strtok(NULL, ","), at++) {
		if (at >= n || at >= cap)
			return SEVMON_EDECODE;
		if (!strcmp(tok, "-"))
			out[at] = KPROFILE_ENTRY_NONE;
		else {
			unsigned long x = strtoul(tok, &end, 16);
			if (*end || x >= KPROFILE_ENTRY_NONE)
				return SEVMON_EDECODE;
			out[at] = (uint32_t)x;
		}
	}
	return 0;
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
	fprintf(f, "format=%d\n", KPROFILE_FORMAT);
	kprofile_print(p, f);
	print_tables(p, f);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		rc = sevmon_from_errno(errno);
		remove(tmp);
		return rc;
	}
	return 0;
}

/* A cached profile is a hundred short lines and the tables, 16 entries a line. */
#define KPROFILE_MAX_LINE 512

static int parse_line(struct kprofile *p, char *k, char *v)
{
	char *end;
	if (!strcmp(k, "format"))
		return strtol(v, &end, 10) == KPROFILE_FORMAT && !*end ? 0 : SEVMON_ENOENT;
	else if (!strcmp(k, "release"))
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
#define KPROFILE_PARSE_SYM(name, flags)                                                   \
	else if (!strcmp(k, "sym." #name))                                                \
		p->sym_##name = strtoull(v, &end, 0);
	KPROFILE_SYMBOLS(KPROFILE_PARSE_SYM)
#undef KPROFILE_PARSE_SYM
	else if (!strcmp(k, "module.region")) {
		uint32_t i = p->module_nregions;
		if (i >= KPROFILE_MODULE_REGIONS ||
		    sscanf(v, "%" SCNu32 ",%" SCNu32 ",%" SCNu32, &p->module_region_base[i],
			   &p->module_region_size[i], &p->module_region_size_len) != 3)
			return SEVMON_EDECODE;
		p->module_nregions++;
	} else if (!strcmp(k, "size.vmap_node"))
		p->size_vmap_node = (uint32_t)strtoul(v, &end, 0);
	else if (!strcmp(k, "size.nf_hook_entry"))
		p->size_nf_hook_entry = (uint32_t)strtoul(v, &end, 0);
	else if (!strcmp(k, "size.seq_operations"))
		p->size_seq_operations = (uint32_t)strtoul(v, &end, 0);
	else if (!strcmp(k, "size.dyn_ftrace"))
		p->size_dyn_ftrace = (uint32_t)strtoul(v, &end, 0);
	else if (!strcmp(k, "idt.n")) {
		p->idt_n = (uint32_t)strtoul(v, &end, 10);
		if (p->idt_n != 0 && p->idt_n != KPROFILE_IDT_ENTRIES)
			return SEVMON_EDECODE;
	} else if (!strncmp(k, "idt.", 4))
		return parse_table(k, "idt", v, p->idt, p->idt_n, KPROFILE_IDT_ENTRIES);
	else if (!strncmp(k, "systab.", 7)) {
		for (int t = 0; t < KPROFILE_NSYSTABS; t++) {
			char nk[32];
			snprintf(nk, sizeof nk, "%s.n", systab_name[t]);
			if (!strcmp(k, nk)) {
				unsigned long n = strtoul(v, &end, 10);
				if (*end || n > KPROFILE_SYSTAB_MAX)
					return SEVMON_EDECODE;
				p->systab[t].n = (uint32_t)n;
				return 0;
			}
			int rc = parse_table(k, systab_name[t], v, p->systab[t].off, p->systab[t].n,
					     KPROFILE_SYSTAB_MAX);
			if (rc <= 0)
				return rc;
		}
		return SEVMON_EDECODE;
	}
#define KPROFILE_PARSE(name, type, path)                                                  \
	else if (!strcmp(k, "off." type "." path)) {                                      \
		if (!strcmp(v, "missing"))                                                \
			kprofile_set_missing(p, KPROFILE_OFF_##name);                     \
		else if (sscanf(v, "%" SCNu32 ",%" SCNu32, &p->name.off, &p->name.size) != 2) \
			return SEVMON_EDECODE;                                            \
	}
	KPROFILE_OFFSETS(KPROFILE_PARSE)
#undef KPROFILE_PARSE
	else if (!strcmp(k, "module_mem"))
		p->module_mem = !strcmp(v, "mem")	    ? KPROFILE_MODMEM_ARRAY
				: !strcmp(v, "core_layout") ? KPROFILE_MODMEM_LAYOUT
							    : KPROFILE_MODMEM_NONE;
	else if (!strcmp(k, "module_mem.count"))
		p->module_mem_count = (uint32_t)strtoul(v, &end, 0);
	else if (!strcmp(k, "module_mem.stride"))
		p->module_mem_stride = (uint32_t)strtoul(v, &end, 0);
	else if (!strcmp(k, "off.module.text_base")) {
		if (sscanf(v, "%" SCNu32 ",%" SCNu32, &p->module_text_base.off,
			   &p->module_text_base.size) != 2)
			return SEVMON_EDECODE;
	} else if (!strcmp(k, "off.module.text_size")) {
		if (sscanf(v, "%" SCNu32 ",%" SCNu32, &p->module_text_size.off,
			   &p->module_text_size.size) != 2)
			return SEVMON_EDECODE;
	}
	else if (!strncmp(k, "enum.", 5)) {
		int64_t *slot = NULL;
		for (int i = 0; i < KPROFILE_NMODULE_STATES && !slot; i++)
			if (!strcmp(k + 5, mstate_enum[i]))
				slot = &p->mod_states[i];
		for (int i = 0; i < KPROFILE_NENUMS && !slot; i++)
			if (!strcmp(k + 5, enum_name[i]))
				slot = &p->enums[i];
		if (!slot)
			return SEVMON_EDECODE;
		if (!strcmp(v, "missing"))
			*slot = KPROFILE_NO_VALUE;
		else if (sscanf(v, "%" SCNd64, slot) != 1)
			return SEVMON_EDECODE;
	}
	else
		return SEVMON_EDECODE;
	return 0;
}

int kprofile_load(struct kprofile *p, const char *dir, const char *build_id)
{
	char path[KPROFILE_MAX_PATH], line[KPROFILE_MAX_LINE];
	int rc;
	memset(p, 0, sizeof *p);
	/* a profile cached before the states were kept names none (shown as "unknown") */
	for (int i = 0; i < KPROFILE_NMODULE_STATES; i++)
		p->mod_states[i] = KPROFILE_NO_VALUE;
	for (int i = 0; i < KPROFILE_NENUMS; i++)
		p->enums[i] = KPROFILE_NO_VALUE;
	if ((rc = profile_path(path, dir, build_id)) < 0)
		return rc;
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? SEVMON_ENOENT : sevmon_from_errno(errno);
	rc = 0;
	int first = 1;
	while (rc == 0 && fgets(line, sizeof line, f)) {
		char *nl = strchr(line, '\n'), *eq = strchr(line, '=');
		if (!nl || !eq) {
			rc = SEVMON_EDECODE;
			break;
		}
		*nl = *eq = '\0';
		if (first && strcmp(line, "format")) {
			rc = SEVMON_ENOENT; /* written before the format line existed: rebuild */
			break;
		}
		first = 0;
		rc = parse_line(p, line, eq + 1);
	}
	fclose(f);
	if (rc == 0 && strcmp(p->build_id, build_id))
		rc = SEVMON_EDECODE;
	return rc;
}
