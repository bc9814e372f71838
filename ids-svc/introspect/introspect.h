/*
 * introspect.h — the IDS's knowledge of a running Linux kernel, built from its own memory.
 *
 * Nothing here has a hand-written struct offset: symbols come from the kernel's kallsyms
 * tables (located through VMCOREINFO), types from its BTF (read with libbpf), the KASLR slide
 * from VMCOREINFO or a probe of linux_banner. All guest reads go through struct gmem
 * (gmem.h), so the same code runs over a live agent, a memory image or a test buffer.
 * Every function returns 0 (or a count) or a negative SEVMON_E* (lib/base/err.h).
 * Guest data is untrusted: every size taken from it is checked against a named limit.
 */
#ifndef SEVMON_INTROSPECT_H
#define SEVMON_INTROSPECT_H

#include <stdint.h>
#include <stdio.h>

#include "gmem.h"

/* ---- VMCOREINFO ----------------------------------------------------------------------- */

/* The kernel's note is one page (VMCOREINFO_BYTES = PAGE_SIZE); 64 KiB leaves room for
 * bigger pages and still bounds what a guest can make us hold. */
#define VMCI_MAX_BYTES (64u << 10)
/* A 6.1 or 6.12 note has ~110 lines. */
#define VMCI_MAX_ENTRIES 1024u

struct vmci_entry {
	const char *key; /* e.g. "SYMBOL(init_task)"; NUL-terminated, inside vmci.text */
	const char *val;
};

struct vmcoreinfo {
	char *text; /* owned copy, '\n' replaced by NUL */
	struct vmci_entry *e;
	size_t n;
};

/* Parse note text (KEY=VALUE lines). Rejects > VMCI_MAX_BYTES, a line without '=', an empty
 * key, a NUL inside the text, non-hex SYMBOL()/KERNELOFFSET/BUILD-ID values, NUMBER()s that
 * are neither decimal nor 0x-hex, and non-decimal OFFSET()/SIZE()/LENGTH()/PAGESIZE values
 * (SEVMON_EDECODE). Trailing NULs are ignored. vmci_free() releases. */
int vmci_parse(struct vmcoreinfo *vi, const char *text, size_t len);
void vmci_free(struct vmcoreinfo *vi);
/* Value of key, or NULL; valid until vmci_free. */
const char *vmci_get(const struct vmcoreinfo *vi, const char *key);
/* SYMBOL(name) (hex), NUMBER(name)/OFFSET(name)/SIZE(name) (decimal; a 0x-hex NUMBER gives
 * its 64 bits, which may read negative). ENOENT if absent, EDECODE out of range. */
int vmci_symbol(const struct vmcoreinfo *vi, const char *name, uint64_t *v);
int vmci_number(const struct vmcoreinfo *vi, const char *kind, const char *name, int64_t *v);
/* Decode an ELF note (namesz 11 "VMCOREINFO\0") at the start of buf; parse its text. */
int vmci_from_note(struct vmcoreinfo *vi, const uint8_t *buf, size_t len);
/* Read the note at phys (GetInfo.vmcoreinfo_phys: /sys/kernel/vmcoreinfo gives the note
 * header's physical address and the note size) and parse it. One round trip. */
int vmci_read(struct vmcoreinfo *vi, struct gmem *g, uint64_t phys, uint32_t size);
/* Scan physical ranges [start[i], start[i]+size[i]) for the note header, VMCI_SCAN_CHUNK
 * bytes per range and VMCI_SCAN_CHUNKS_PER_TRIP ranges per round trip; the first hit that
 * parses and carries OSRELEASE wins. ENOENT when none does. *phys gets the note address.
 * (The matcher is vmci_scan_match so an agent-side Scan can reuse the same pattern.) */
#define VMCI_SCAN_CHUNK (64u << 10)
#define VMCI_SCAN_CHUNKS_PER_TRIP 32u
int vmci_scan(struct vmcoreinfo *vi, struct gmem *g, const uint64_t *start, const uint64_t *size,
	size_t nregions, uint64_t *phys);
/* The 24-byte note header pattern: namesz=11, any descsz, type=0, "VMCOREINFO\0\0" . */
#define VMCI_NOTE_HDR 24u
int vmci_scan_match(const uint8_t *p, size_t avail);

/* ---- x86-64 address translation ------------------------------------------------------- */

#define X86_START_KERNEL_MAP 0xffffffff80000000ull
/* The kernel image mapping is 1 GiB (KERNEL_IMAGE_SIZE with KASLR). */
#define X86_KERNEL_IMAGE_SIZE (1ull << 30)
/* Page-table pages a walker keeps: a scan touches a few dozen; 512 pages = 2 MiB. */
#define PW_CACHE_PAGES 512u

struct pw_cache_ent {
	uint64_t pa;
	uint8_t *page;
};

struct pagewalk {
	struct gmem *phys;   /* physical reader */
	uint64_t top_pa;     /* physical address of init_top_pgt */
	int levels;          /* 4 or 5 */
	uint64_t sme_mask;   /* encryption bit(s) to strip from entries (NUMBER(sme_mask)) */
	struct pw_cache_ent cache[PW_CACHE_PAGES];
	size_t ncache;
	uint64_t hits, misses;
};

/* Translate n kernel virtual addresses. Each level of all n walks is one gather of the
 * table pages not cached yet, so n translations cost at most `levels` round trips.
 * status[i] = 0 or SEVMON_EFAULT (not present / non-canonical). 1 GiB, 2 MiB, 4 KiB pages. */
int pw_translate(struct pagewalk *pw, const uint64_t *va, uint64_t *pa, int *status, size_t n);
void pw_reset(struct pagewalk *pw); /* drop cached pages (start of a scan) */

/* A gmem that serves GMEM_VIRT ranges over a physical-only gmem (placement (b)): kernel-image
 * addresses map as va - START_KERNEL_MAP + phys_base, everything else through the walker.
 * Its trips count translated gathers; the walker's table reads count on pw->phys. */
struct xlate {
	struct pagewalk *pw;
	int64_t phys_base;
};
void xlate_gmem(struct gmem *out, struct xlate *x);
/* Set up pw and x for a physical-only gmem from VMCOREINFO: init_top_pgt (a kernel-image
 * symbol, so its physical address is va - __START_KERNEL_map + phys_base), levels from
 * pgtable_l5_enabled, the C-bit from sme_mask. Then xlate_gmem(out, x). EDECODE if the note
 * lacks SYMBOL(init_top_pgt) or NUMBER(phys_base). pw must later be pw_reset(). */
int xlate_from_vmci(struct xlate *x, struct pagewalk *pw, struct gmem *phys,
	const struct vmcoreinfo *vi);

/* ---- kallsyms ------------------------------------------------------------------------- */

/* A 6.1 distribution kernel has ~100k symbols; 1M bounds a hostile table. */
#define KSYMS_MAX_SYMS (1u << 20)
/* kallsyms_names of a 6.1 kernel is ~1.5 MiB. */
#define KSYMS_MAX_NAMES_BYTES (32u << 20)
/* KSYM_NAME_LEN in 6.1. */
#define KSYMS_NAME_LEN 512u

struct ksym {
	uint64_t addr;
	uint32_t name; /* offset into ksyms.strtab */
	char type;     /* 'T', 'D', ... as /proc/kallsyms prints it */
};

struct ksyms {
	struct ksym *sym; /* in table order (address order) */
	uint32_t *by_name; /* indices sorted by name */
	char *strtab;
	size_t n;
	int located_by; /* KSYMS_VIA_VMCOREINFO / KSYMS_VIA_STRUCTURE */
};
enum { KSYMS_VIA_VMCOREINFO = 1, KSYMS_VIA_STRUCTURE = 2 };

/* Table addresses (kernel virtual, runtime). markers is optional (0). */
struct ksyms_loc {
	uint64_t token_table, token_index, names, num_syms, offsets, relative_base, markers;
};
/* From VMCOREINFO SYMBOL(kallsyms_*) entries (present in Debian's 6.1 kernels). */
int ksyms_loc_vmci(struct ksyms_loc *loc, const struct vmcoreinfo *vi);
/* Find the tables by their structure in kernel-virtual [start, start+len) (the kernel image
 * from _stext on): the token table/index pair, then a relative_base/num_syms/names run whose
 * decoded entry offsets equal the markers after it. One read of the window (holes read as
 * zeros). ENOENT if nothing verifies. */
#define KSYMS_SCAN_MAX (64ull << 20) /* a 6.1 image's .rodata ends ~30 MiB after _stext */
int ksyms_loc_scan(struct ksyms_loc *loc, struct gmem *g, uint64_t start, uint64_t len);
/* Decode the tables (CONFIG_KALLSYMS_BASE_RELATIVE + ABSOLUTE_PERCPU, x86-64's 6.1 layout).
 * g must serve GMEM_VIRT. A few round trips (the tables are read whole). */
int ksyms_load(struct ksyms *ks, struct gmem *g, const struct ksyms_loc *loc);
void ksyms_free(struct ksyms *ks);
/* Address of the first symbol called name; ENOENT. */
int ksym_lookup(const struct ksyms *ks, const char *name, uint64_t *addr);
const char *ksym_name(const struct ksyms *ks, size_t i);

/* ---- types (BTF) ---------------------------------------------------------------------- */

/* vmlinux BTF of a 6.1 kernel is ~5 MiB. */
#define KTYPES_MAX_BTF_BYTES (64u << 20)

struct btf;
/* Read __start_BTF..__stop_BTF from the guest and parse it with libbpf. */
int ktypes_load(struct btf **out, struct gmem *g, const struct ksyms *ks);
/* Without a guest: the .BTF section of the vmlinux inside a package's vmlinuz (the payload
 * the bzImage header locates: XZ, zstd or legacy LZ4, as Debian's 6.1 and 6.12 kernels
 * ship it). Bounded: the file by KTYPES_MAX_VMLINUZ, the decompressed image by
 * KTYPES_MAX_VMLINUX. ENOENT: no such file, or no .BTF; EDECODE: not a bzImage, or a
 * payload that does not decompress to its trailer's size; ENOTSUP: another compression. */
#define KTYPES_MAX_VMLINUZ (64u << 20)  /* Debian's 6.1 vmlinuz is ~8 MiB */
#define KTYPES_MAX_VMLINUX (512u << 20) /* its vmlinux ~60 MiB; debug builds are bigger */
int ktypes_load_vmlinuz(struct btf **out, const char *path);
/* Offset in bytes of a member path ("tasks", "se.vruntime", "uid.val") in struct/union
 * type_name, descending through anonymous members and typedefs. size gets the member's size
 * (may be NULL). ENOENT if absent, ENOTSUP for a bitfield. */
int ktypes_offsetof(const struct btf *btf, const char *type_name, const char *path,
	uint32_t *off, uint32_t *size);
/* Size in bytes of struct/union type_name, or ENOENT. */
int ktypes_sizeof(const struct btf *btf, const char *type_name, uint32_t *size);
/* Value of enumerator name, or ENOENT. */
int ktypes_enum_value(const struct btf *btf, const char *name, int64_t *v);
/* Name of the enumerator of enum type_name with value v, or NULL. */
const char *ktypes_enum_name(const struct btf *btf, const char *type_name, int64_t v);

/* ---- profile -------------------------------------------------------------------------- */

#define KPROFILE_MAX_BANNER 256u
#define KPROFILE_MAX_RELEASE 65u /* __NEW_UTS_LEN + 1 */
#define KPROFILE_MAX_BUILD_ID 65u

/* The offsets the checks use, every one from BTF. */
#define KPROFILE_OFFSETS(X)                                                               \
	X(task_tasks, "task_struct", "tasks")                                             \
	X(task_pid, "task_struct", "pid")                                                 \
	X(task_tgid, "task_struct", "tgid")                                               \
	X(task_comm, "task_struct", "comm")                                               \
	X(task_real_parent, "task_struct", "real_parent")                                 \
	X(task_cred, "task_struct", "cred")                                               \
	X(task_mm, "task_struct", "mm")                                                   \
	X(task_exit_state, "task_struct", "exit_state")                                   \
	X(cred_uid, "cred", "uid")                                                        \
	X(module_list, "module", "list")                                                  \
	X(module_name, "module", "name")                                                  \
	X(module_state, "module", "state")                                                \
	X(list_head_next, "list_head", "next")                                            \
	X(uts_release, "uts_namespace", "name.release")

struct kprofile_off {
	uint32_t off, size;
};

/* The states of a module (enum module_state), by the words the checks show. */
#define KPROFILE_MODULE_STATES(X)                                                         \
	X(live, "MODULE_STATE_LIVE")                                                      \
	X(coming, "MODULE_STATE_COMING")                                                  \
	X(going, "MODULE_STATE_GOING")                                                    \
	X(unformed, "MODULE_STATE_UNFORMED")
#define KPROFILE_NMODULE_STATES 4
#define KPROFILE_NO_VALUE INT64_MIN
/* The word ("live", ...) of module state value v in p, or "unknown". */
struct kprofile;
const char *kprofile_module_state(const struct kprofile *p, int64_t v);

/* The offsets by number (KPROFILE_OFF_task_tasks, ...), for what a check needs. */
enum kprofile_off_id {
#define KPROFILE_OFF_ID(name, type, path) KPROFILE_OFF_##name,
	KPROFILE_OFFSETS(KPROFILE_OFF_ID)
#undef KPROFILE_OFF_ID
	KPROFILE_OFF_COUNT
};
/* The BTF type and member path of offset id ("task_struct", "tasks"); NULL if out of range. */
const char *kprofile_off_type(int id);
const char *kprofile_off_path(int id);

struct kprofile {
	char release[KPROFILE_MAX_RELEASE];
	char banner[KPROFILE_MAX_BANNER];
	char build_id[KPROFILE_MAX_BUILD_ID];
	uint64_t slide;     /* KERNELOFFSET */
	int64_t phys_base;  /* NUMBER(phys_base) */
	uint64_t init_top_pgt;
	int pgtable_l5;
	uint64_t sme_mask;
	int slide_source; /* KPROFILE_SLIDE_* */
	int ksyms_via;    /* KSYMS_VIA_* */
	uint64_t nsyms;
	uint64_t sym_init_task, sym_linux_banner, sym_modules, sym_init_uts_ns;
#define KPROFILE_OFF_FIELD(name, type, path) struct kprofile_off name;
	KPROFILE_OFFSETS(KPROFILE_OFF_FIELD)
#undef KPROFILE_OFF_FIELD
	/* bit KPROFILE_OFF_x: this kernel's BTF has no such member (its offset is 0 and must
	 * not be used; check_ready() refuses a check that reads it) */
	uint64_t missing;
	/* enum module_state as this kernel's BTF has it: the value of each state named in
	 * KPROFILE_MODULE_STATES, or KPROFILE_NO_VALUE where the enum lacks it. Kept in the
	 * profile so that a cached profile names states without loading BTF again. */
	int64_t mod_states[KPROFILE_NMODULE_STATES];
	/* Where a module's core text is, in the shape this kernel's struct module has (BTF):
	 * KPROFILE_MODMEM_ARRAY since 6.4 (struct module_memory mem[MOD_MEM_NUM_TYPES], the
	 * text at mem[MOD_TEXT]), KPROFILE_MODMEM_LAYOUT before (struct module_layout
	 * core_layout), KPROFILE_MODMEM_NONE when BTF has neither (then the checks that need
	 * a module's text range fail by name). */
	int module_mem;
	struct kprofile_off module_text_base, module_text_size; /* offsets in struct module */
	uint32_t module_mem_count, module_mem_stride; /* the array's length and element size */
};
enum { KPROFILE_MODMEM_NONE = 0, KPROFILE_MODMEM_LAYOUT = 1, KPROFILE_MODMEM_ARRAY = 2 };
enum { KPROFILE_SLIDE_VMCOREINFO = 1, KPROFILE_SLIDE_PROBE = 2 };

/* The type half of a profile, from BTF alone: every KPROFILE_OFFSETS member (absent ones
 * recorded in p->missing; a core one absent fails), their sizes checked, the enum
 * module_state values, struct module's memory shape. err says which type or member is
 * missing or changed shape. */
int kprofile_from_btf(struct kprofile *p, const struct btf *btf, char *err, size_t errcap);

/* A live introspection session: the profile plus what it was built from. */
struct kintro {
	struct kprofile p;
	struct vmcoreinfo vi;
	struct ksyms ks;
	struct btf *btf;
	struct gmem *g; /* serves GMEM_VIRT (an agent with kcore, or an xlate gmem) */
	char err[160];  /* why kintro_open failed, when it can say more than its code */
};

/* Build the profile: parse vi (already read by the caller: vmci_read / vmci_scan), locate
 * kallsyms, decode symbols, load BTF, resolve KPROFILE_OFFSETS, and validate the slide
 * against the kernel's own data (linux_banner and init_uts_ns carry OSRELEASE, init_task is
 * pid 0 "swapper/0"). Takes ownership of *vi on success and failure. */
int kintro_open(struct kintro *k, struct gmem *g, struct vmcoreinfo *vi);
void kintro_close(struct kintro *k);
/* A session whose profile came from the cache holds neither kallsyms nor BTF: read them
 * now (what kintro_open reads; a few round trips, ~10 MiB), for what needs every symbol and
 * type (an ISF symbol table). No-op when they are loaded. */
int kintro_load_tables(struct kintro *k);

/* KASLR without VMCOREINFO: the slide is a multiple of KASLR_ALIGN in [0, KASLR_WINDOW);
 * read the bytes at banner_link + slide for every candidate in ONE gather and return the
 * slides whose bytes start with "Linux version ". banner_link is linux_banner's link-time
 * address (from a profile of the same build). Returns the number of hits (<= max). */
#define KASLR_ALIGN (2ull << 20)
#define KASLR_WINDOW (1ull << 30)
int kaslr_probe(struct gmem *g, uint64_t banner_link, uint64_t *slides, size_t max);

/* Cache: <dir>/<build-id>.profile, dir = $SEVMON_CACHE or ~/.cache/sevmon/profiles. */
int kprofile_cache_dir(char *buf, size_t cap);
int kprofile_save(const struct kprofile *p, const char *dir);
int kprofile_load(struct kprofile *p, const char *dir, const char *build_id);
void kprofile_print(const struct kprofile *p, FILE *f);

/* ---- reading the kernel's own data ------------------------------------------------- */

/* TASK_COMM_LEN / MODULE_NAME_LEN as the kernel has them are checked against BTF sizes.
 * (The process and module lists themselves are checks: ids-svc/checks/.) */
#define KPROC_COMM_LEN 16u
#define KMOD_NAME_LEN 64u

/* linux_banner, without its trailing newline (what /proc/version shows). */
int kintro_banner(struct kintro *k, char *out, size_t cap);

#endif
