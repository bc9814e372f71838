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

struct kview;

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
	X(uts_release, "uts_namespace", "name.release")                                   \
	/* hidden processes: the pid namespace's IDR, the runqueues */                  \
	X(task_group_leader, "task_struct", "group_leader")                               \
	X(task_pid_links, "task_struct", "pid_links")                                     \
	X(task_se_group_node, "task_struct", "se.group_node")                             \
	X(task_real_cred, "task_struct", "real_cred")                                     \
	X(pid_tasks, "pid", "tasks")                                                      \
	X(pid_numbers, "pid", "numbers")                                                  \
	X(upid_nr, "upid", "nr")                                                          \
	X(pidns_xa_head, "pid_namespace", "idr.idr_rt.xa_head")                           \
	X(xa_node_shift, "xa_node", "shift")                                              \
	X(xa_node_slots, "xa_node", "slots")                                              \
	X(rq_curr, "rq", "curr")                                                          \
	X(rq_idle, "rq", "idle")                                                          \
	X(rq_cfs_tasks, "rq", "cfs_tasks")                                                \
	/* hidden modules: /sys/module (the module kset), vmalloc areas */              \
	X(kset_list, "kset", "list")                                                      \
	X(kobject_entry, "kobject", "entry")                                              \
	X(kobject_name, "kobject", "name")                                                \
	X(mkobj_mod, "module_kobject", "mod")                                             \
	X(mkobj_kobj, "module_kobject", "kobj")                                           \
	X(module_mkobj, "module", "mkobj")                                                \
	X(vmap_area_start, "vmap_area", "va_start")                                       \
	X(vmap_area_end, "vmap_area", "va_end")                                           \
	X(vmap_area_list, "vmap_area", "list")                                            \
	X(vmap_node_busy_head, "vmap_node", "busy.head")                                  \
	/* credentials */                                                                 \
	X(cred_euid, "cred", "euid")                                                      \
	/* hooks: ftrace, kprobes, netfilter, notifier chains, /proc root */                \
	X(ftrace_ops_func, "ftrace_ops", "func")                                          \
	X(ftrace_ops_next, "ftrace_ops", "next")                                          \
	X(ftrace_ops_flags, "ftrace_ops", "flags")                                        \
	X(ftrace_ops_trampoline, "ftrace_ops", "trampoline")                              \
	X(kprobe_hlist, "kprobe", "hlist")                                                \
	X(kprobe_list, "kprobe", "list")                                                  \
	X(kprobe_addr, "kprobe", "addr")                                                  \
	X(kprobe_symbol_name, "kprobe", "symbol_name")                                    \
	X(kprobe_pre_handler, "kprobe", "pre_handler")                                    \
	X(kprobe_post_handler, "kprobe", "post_handler")                                  \
	X(kretprobe_kp, "kretprobe", "kp")                                                \
	X(kretprobe_handler, "kretprobe", "handler")                                      \
	X(kretprobe_entry_handler, "kretprobe", "entry_handler")                          \
	X(net_hooks_ipv4, "net", "nf.hooks_ipv4")                                         \
	X(net_hooks_ipv6, "net", "nf.hooks_ipv6")                                         \
	X(net_hooks_arp, "net", "nf.hooks_arp")                                           \
	X(net_hooks_bridge, "net", "nf.hooks_bridge")                                     \
	X(nf_entries_num, "nf_hook_entries", "num_hook_entries")                          \
	X(nf_entries_hooks, "nf_hook_entries", "hooks")                                   \
	X(notifier_call, "notifier_block", "notifier_call")                               \
	X(notifier_next, "notifier_block", "next")                                        \
	X(atomic_notifier_head, "atomic_notifier_head", "head")                           \
	X(sb_list, "super_block", "s_list")                                               \
	X(sb_type, "super_block", "s_type")                                               \
	X(sb_root, "super_block", "s_root")                                               \
	X(dentry_inode, "dentry", "d_inode")                                              \
	X(inode_fop, "inode", "i_fop")                                                    \
	X(fops_iterate_shared, "file_operations", "iterate_shared")                       \
	/* text integrity: ftrace's call sites */                                         \
	X(ftrace_page_next, "ftrace_page", "next")                                        \
	X(ftrace_page_records, "ftrace_page", "records")                                  \
	X(ftrace_page_index, "ftrace_page", "index")                                      \
	X(dyn_ftrace_ip, "dyn_ftrace", "ip")                                              \
	/* eBPF: the program IDR */                                                       \
	X(idr_xa_head, "idr", "idr_rt.xa_head")                                           \
	X(bpf_prog_type, "bpf_prog", "type")                                              \
	X(bpf_prog_attach_type, "bpf_prog", "expected_attach_type")                       \
	X(bpf_prog_tag, "bpf_prog", "tag")                                                \
	X(bpf_prog_aux, "bpf_prog", "aux")                                                \
	X(bpf_aux_id, "bpf_prog_aux", "id")                                               \
	X(bpf_aux_name, "bpf_prog_aux", "name")                                           \
	X(bpf_aux_attach_func_name, "bpf_prog_aux", "attach_func_name")                   \
	/* credentials: the executable of a task that became root */                      \
	X(mm_exe_file, "mm_struct", "exe_file")                                           \
	X(file_inode, "file", "f_inode")                                                  \
	X(inode_mode, "inode", "i_mode")                                                  \
	X(inode_uid, "inode", "i_uid")

struct kprofile_off {
	uint32_t off, size;
};
#define KPROFILE_MISSING_WORDS 2

/* Symbols a profile keeps, as runtime addresses (re-based on each boot's KASLR slide).
 * REQ: every profile has it (kintro_open fails without it); OPT: where this kernel has
 * it (0 when not: the check that needs it fails by name, or skips what it is for);
 * PERCPU: an offset into each CPU's per-CPU area ('A' in kallsyms), never re-based. */
enum { KPSYM_REQ = 1, KPSYM_OPT = 0, KPSYM_PERCPU = 2 };
#define KPROFILE_SYMBOLS(X)                                                               \
	X(init_task, KPSYM_REQ)                                                           \
	X(linux_banner, KPSYM_REQ)                                                        \
	X(modules, KPSYM_REQ)                                                             \
	X(init_uts_ns, KPSYM_REQ)                                                         \
	X(_stext, KPSYM_REQ)                                                              \
	X(_etext, KPSYM_OPT)                                                              \
	X(__start_rodata, KPSYM_OPT)                                                      \
	X(__end_rodata, KPSYM_OPT)                                                        \
	X(_end, KPSYM_OPT)                                                                \
	X(sys_call_table, KPSYM_OPT)                                                      \
	X(ia32_sys_call_table, KPSYM_OPT)                                                 \
	X(x32_sys_call_table, KPSYM_OPT)                                                  \
	X(idt_table, KPSYM_OPT)                                                           \
	X(init_pid_ns, KPSYM_OPT)                                                         \
	X(runqueues, KPSYM_PERCPU)                                                        \
	X(__per_cpu_offset, KPSYM_OPT)                                                    \
	X(nr_cpu_ids, KPSYM_OPT)                                                          \
	X(module_kset, KPSYM_OPT)                                                         \
	X(vmap_area_list, KPSYM_OPT)                                                      \
	X(vmap_nodes, KPSYM_OPT)                                                          \
	X(nr_vmap_nodes, KPSYM_OPT)                                                       \
	X(ftrace_ops_list, KPSYM_OPT)                                                     \
	X(ftrace_list_end, KPSYM_OPT)                                                     \
	X(ftrace_pages_start, KPSYM_OPT)                                                  \
	X(ftrace_caller, KPSYM_OPT)                                                       \
	X(ftrace_regs_caller, KPSYM_OPT)                                                  \
	X(ftrace_call, KPSYM_OPT)                                                         \
	X(ftrace_regs_call, KPSYM_OPT)                                                    \
	X(ftrace_graph_call, KPSYM_OPT)                                                   \
	X(kprobe_table, KPSYM_OPT)                                                        \
	X(aggr_pre_handler, KPSYM_OPT)                                                    \
	X(pre_handler_kretprobe, KPSYM_OPT)                                               \
	X(init_net, KPSYM_OPT)                                                            \
	X(keyboard_notifier_list, KPSYM_OPT)                                              \
	X(tcp4_seq_ops, KPSYM_OPT)                                                        \
	X(tcp6_seq_ops, KPSYM_OPT)                                                        \
	X(udp_seq_ops, KPSYM_OPT)                                                         \
	X(udp6_seq_ops, KPSYM_OPT)                                                        \
	X(super_blocks, KPSYM_OPT)                                                        \
	X(proc_fs_type, KPSYM_OPT)                                                        \
	X(proc_root_operations, KPSYM_OPT)                                                \
	X(prog_idr, KPSYM_OPT)                                                            \
	X(__start___jump_table, KPSYM_OPT)                                                \
	X(__stop___jump_table, KPSYM_OPT)                                                 \
	X(init_cred, KPSYM_OPT)

enum kprofile_sym_id {
#define KPROFILE_SYM_ID(name, flags) KPROFILE_SYM_##name,
	KPROFILE_SYMBOLS(KPROFILE_SYM_ID)
#undef KPROFILE_SYM_ID
	KPROFILE_SYM_COUNT
};
/* The kallsyms name of symbol id; NULL if out of range. */
const char *kprofile_sym_name(int id);
/* Re-base a profile's symbols (all but the per-CPU ones) from its slide to slide. */
struct kprofile;
void kprofile_rebase(struct kprofile *p, uint64_t slide);
/* The handler an x86-64 IDT gate (16 bytes, the hardware format) names; 0: not present. */
uint64_t kprofile_idt_target(const uint8_t gate[16]);

/* Tables the profile's build read from the kernel it was made from, for the checks that
 * compare a live kernel against them: each entry as an offset from _stext, or
 * KPROFILE_ENTRY_NONE (not a kernel-text address then: an IDT gate not present). */
#define KPROFILE_SYSTAB_MAX 1024u /* x32 entries reach 547; the x64 table has ~460 */
#define KPROFILE_IDT_ENTRIES 256u
#define KPROFILE_ENTRY_NONE UINT32_MAX
enum { KPROFILE_SYSTAB_X64, KPROFILE_SYSTAB_IA32, KPROFILE_SYSTAB_X32, KPROFILE_NSYSTABS };
struct kprofile_table {
	uint32_t n; /* entries recorded (0: no such table in this kernel) */
	uint32_t off[KPROFILE_SYSTAB_MAX];
};

/* The name of enumerator id of KPROFILE_ENUMS ("BPF_PROG_TYPE_KPROBE"); NULL if out of range. */
const char *kprofile_enum_name(int id);

/* The states of a module (enum module_state), by the words the checks show. */
#define KPROFILE_MODULE_STATES(X)                                                         \
	X(live, "MODULE_STATE_LIVE")                                                      \
	X(coming, "MODULE_STATE_COMING")                                                  \
	X(going, "MODULE_STATE_GOING")                                                    \
	X(unformed, "MODULE_STATE_UNFORMED")
#define KPROFILE_NMODULE_STATES 4
/* Other enumerators the checks need, by name (kprofile.enums[KPROFILE_ENUM_x]). */
#define KPROFILE_ENUMS(X)                                                                 \
	X(FTRACE_OPS_FL_IPMODIFY)                                                         \
	X(FTRACE_OPS_FL_SAVE_REGS)                                                        \
	X(NF_INET_NUMHOOKS)                                                               \
	X(NFPROTO_NUMPROTO)                                                               \
	X(BPF_PROG_TYPE_SOCKET_FILTER)                                                    \
	X(BPF_PROG_TYPE_KPROBE)                                                           \
	X(BPF_PROG_TYPE_SCHED_CLS)                                                        \
	X(BPF_PROG_TYPE_SCHED_ACT)                                                        \
	X(BPF_PROG_TYPE_TRACEPOINT)                                                       \
	X(BPF_PROG_TYPE_XDP)                                                              \
	X(BPF_PROG_TYPE_PERF_EVENT)                                                       \
	X(BPF_PROG_TYPE_CGROUP_SKB)                                                       \
	X(BPF_PROG_TYPE_CGROUP_SOCK)                                                      \
	X(BPF_PROG_TYPE_RAW_TRACEPOINT)                                                   \
	X(BPF_PROG_TYPE_CGROUP_DEVICE)                                                    \
	X(BPF_PROG_TYPE_TRACING)                                                          \
	X(BPF_PROG_TYPE_STRUCT_OPS)                                                       \
	X(BPF_PROG_TYPE_EXT)                                                              \
	X(BPF_PROG_TYPE_LSM)                                                              \
	X(BPF_PROG_TYPE_SYSCALL)                                                          \
	X(BPF_PROG_TYPE_NETFILTER)
enum kprofile_enum_id {
#define KPROFILE_ENUM_ID(name) KPROFILE_ENUM_##name,
	KPROFILE_ENUMS(KPROFILE_ENUM_ID)
#undef KPROFILE_ENUM_ID
	KPROFILE_NENUMS
};
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
/* Is offset id absent from this kernel's BTF? Mark it so. */
#define kprofile_missing(p, id) (((p)->missing[(id) / 64] >> ((id) % 64)) & 1)
#define kprofile_set_missing(p, id) ((p)->missing[(id) / 64] |= 1ull << ((id) % 64))
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
#define KPROFILE_SYM_FIELD(name, flags) uint64_t sym_##name;
	KPROFILE_SYMBOLS(KPROFILE_SYM_FIELD)
#undef KPROFILE_SYM_FIELD
#define KPROFILE_OFF_FIELD(name, type, path) struct kprofile_off name;
	KPROFILE_OFFSETS(KPROFILE_OFF_FIELD)
#undef KPROFILE_OFF_FIELD
	/* bit KPROFILE_OFF_x: this kernel's BTF has no such member (its offset is 0 and must
	 * not be used; check_ready() refuses a check that reads it): kprofile_missing() */
	uint64_t missing[KPROFILE_MISSING_WORDS];
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
	/* Every memory region of a module (all of mem[] since 6.4; core_layout and
	 * init_layout before): offsets in struct module of each region's base (8 bytes) and
	 * size (module_region_size_len bytes), for "which module owns this address". */
#define KPROFILE_MODULE_REGIONS 8u
	uint32_t module_nregions;
	uint32_t module_region_base[KPROFILE_MODULE_REGIONS], module_region_size[KPROFILE_MODULE_REGIONS];
	uint32_t module_region_size_len;
	/* Sizes of types a check steps through arrays of (BTF; 0 where absent). */
	uint32_t size_vmap_node, size_nf_hook_entry, size_seq_operations, size_dyn_ftrace;
	/* Enumerators the checks read flags with (KPROFILE_ENUMS; KPROFILE_NO_VALUE absent). */
	int64_t enums[KPROFILE_NENUMS];
	/* What the profile's build found (see struct kprofile_table). */
	struct kprofile_table systab[KPROFILE_NSYSTABS];
	uint32_t idt_n; /* 0: not recorded (no idt_table), else KPROFILE_IDT_ENTRIES */
	uint32_t idt[KPROFILE_IDT_ENTRIES];
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
	struct ksyms img_syms; /* the cache's image symbols (kintro_ksyms), when ks is empty */
	int img_syms_tried;
	struct kview *kv;      /* the current sweep's kernel views (kview.h), or NULL */
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
/* Beside it, <build-id>.ksyms: the kernel image's symbols (from _stext to _end, offsets
 * from _stext, type, name), written when the profile is built from guest memory, so that
 * a check on a cached profile can still name the symbol an address lands in. Loaded into
 * ks re-based on p's _stext (ks sorted by address and by name, as ksyms_load leaves it).
 * ENOENT when there is none; EDECODE for a file that does not parse. */
int ksyms_save_image(const struct ksyms *ks, const struct kprofile *p, const char *dir);
int ksyms_load_image(struct ksyms *ks, const struct kprofile *p, const char *dir);
/* The symbol an address falls in: index of the last symbol at or below addr (ks in
 * address order), or -1. *off gets addr - its address. */
long ksym_at(const struct ksyms *ks, uint64_t addr, uint64_t *off);
/* The symbols of k: the ones kintro_open read, or the cache's (loaded on first use).
 * NULL when neither is there. */
const struct ksyms *kintro_ksyms(struct kintro *k);
/* "name+0xoff" (or "0x..." when unknown) of addr, into buf. */
void kintro_symbolize(struct kintro *k, uint64_t addr, char *buf, size_t cap);
void kprofile_print(const struct kprofile *p, FILE *f);

/* ---- reading the kernel's own data ------------------------------------------------- */

/* TASK_COMM_LEN / MODULE_NAME_LEN as the kernel has them are checked against BTF sizes.
 * (The process and module lists themselves are checks: ids-svc/checks/.) */
#define KPROC_COMM_LEN 16u
#define KMOD_NAME_LEN 64u

/* linux_banner, without its trailing newline (what /proc/version shows). */
int kintro_banner(struct kintro *k, char *out, size_t cap);

#endif
