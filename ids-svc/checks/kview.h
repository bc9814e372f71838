/*
 * kview.h — the kernel's own views of what runs in it, read once per sweep for all the
 * checks that compare them (cross-view detection: a rootkit that unlinks itself from one
 * view stays in the others).
 *
 * Views (parts): the task list (init_task.tasks), the PID namespace's IDR (init_pid_ns →
 * struct pid → task), every CPU's runqueue (rq->curr, rq->cfs_tasks), the module list,
 * the module kset (/sys/module), struct module carved from module-area vmalloc blocks that
 * no listed module owns. More parts are added by the checks that need them (kview_*.c).
 *
 * Reading: each part is a loader, a small state machine that queues the reads of its next
 * stage in a gmem round (gmem.h) from what its previous stage read. All loaders of a sweep
 * step together, so the sweep costs as many round trips as its deepest chain of dependent
 * reads (the IDR: head, two or three levels of nodes, struct pid, task), not the sum.
 *
 * Everything here comes from guest memory and is untrusted: every count is bounded by a
 * named limit, every list walk by the gmem walk's cycle and node limits, a tree by its
 * depth and node budget; what could not be read whole is marked partial, never an error
 * that loses what was read. Lifetime: one sweep (check_sweep_begin/_end, check.h), since
 * the views describe one moment of the guest.
 */
#ifndef SEVMON_KVIEW_H
#define SEVMON_KVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "baseline.h"
#include "gmem.h"
#include "introspect.h"

/* The parts, as bits: a check names the ones it reads (check_def.views). */
enum kview_part {
	KV_BANNER = 1u << 0,
	KV_TASKS = 1u << 1,   /* the task list, with the windows of ps and of the cred checks */
	KV_PIDS = 1u << 2,    /* the PID namespace's IDR and the task of every pid */
	KV_RUNQ = 1u << 3,    /* every CPU's rq->curr and CFS tasks */
	KV_MODULES = 1u << 4, /* the module list, with every module's memory regions */
	KV_KSET = 1u << 5,    /* the module kset's kobjects (/sys/module) */
	KV_CARVE = 1u << 6,   /* struct module carved from module-area blocks nobody owns */
	KV_SYSTAB = 1u << 7,  /* the system-call tables */
	KV_IDT = 1u << 8,     /* the interrupt descriptor table */
	KV_FTRACE = 1u << 9,  /* ftrace_ops_list */
	KV_KPROBES = 1u << 10, /* kprobe_table */
	KV_NETFILTER = 1u << 11, /* init_net's netfilter hook entries */
	KV_NOTIFIERS = 1u << 12, /* the keyboard notifier chain */
	KV_SEQOPS = 1u << 13,  /* tcp/udp seq_operations of /proc/net */
	KV_PROCFOPS = 1u << 14, /* the /proc root inode's file operations */
	KV_BPF = 1u << 15,     /* the BPF program IDR */
	KV_TEXT = 1u << 16,    /* kernel text and rodata digests (against a baseline) */
};
#define KV_NPARTS 17

/* Bounds on what one sweep takes from a guest. */
#define KV_MAX_TASKS GMEM_WALK_MAX_NODES /* the walk's own bound */
#define KV_MAX_MODULES 4096u             /* a kernel loads a few hundred at most */
#define KV_MAX_CPUS 256u                 /* runqueues read (nr_cpu_ids beyond: partial) */
#define KV_MAX_RUNQ_TASKS 4096u          /* CFS tasks over all CPUs */
#define KV_MAX_XA_NODES 8192u            /* IDR nodes: pid_max 4M needs 65536 leaves; the
					  * default 32768 (Debian's) at most 521 nodes */
#define KV_XA_MAX_DEPTH 11               /* 64-bit index, 6 bits a level */
#define KV_MAX_PIDS 65536u
#define KV_MAX_CARVE_BLOCKS 64u          /* module-area blocks no module owns, carved */
#define KV_MAX_CARVE_BLOCK (1u << 20)    /* bigger blocks (BPF program packs) are not */
#define KV_MAX_CARVE_BYTES (8u << 20)
#define KV_MAX_VMAP_AREAS 65536u         /* vmalloc areas walked (stacks, modules, ...) */
#define KV_MAX_VMAP_NODES 128u           /* 6.9+'s vmap nodes */
/* A round is one round trip: a sweep that needs more than this many is cut (partial). */
#define KV_MAX_ROUNDS 24

/* x86-64's module mapping space (Documentation/arch/x86/x86_64/mm.rst): the 1 GiB after the
 * kernel image, up to the fixmap. Hardware layout of the port, not an OS structure. */
#define KV_MODULES_VADDR 0xffffffffc0000000ull
#define KV_MODULES_END 0xffffffffff000000ull

/* Fields of a task the views read (unknown pointers are 0, unknown ids -1). */
struct kv_task {
	uint64_t addr;
	int32_t pid, tgid, ppid;
	uint32_t uid, euid;       /* KPROC_UID_UNKNOWN when cred could not be followed */
	uint32_t exit_state;
	uint64_t mm, cred, real_cred, group_leader;
	uint64_t next, prev;      /* its tasks link */
	char comm[KPROC_COMM_LEN + 1];
};

struct kv_tasks {
	struct kv_task *v;
	size_t n;
	int partial;
};

/* A pid of the IDR and the task behind it. */
struct kv_pid {
	uint64_t pid;    /* struct pid * */
	int32_t nr;      /* numbers[0].nr */
	struct kv_task t; /* t.addr 0: no task (pid kept by a pgrp/session/pidfd) */
	int read;        /* the task's fields were read */
	int linked;      /* confirmation of a task the list lacks: 1 on a list, 0 not, -1 unknown */
};

struct kv_pids {
	struct kv_pid *v;
	size_t n;
	/* The other way round: tasks of the task list that no pid of the IDR names, read
	 * again and still alive and linked (a task reaped between the two reads is not). */
	struct kv_task *unindexed;
	size_t nunindexed;
	int partial;
};

/* A task some runqueue holds. */
struct kv_rq_task {
	uint32_t cpu;
	int curr;        /* rq->curr (else a CFS task) */
	struct kv_task t;
	int read;
	int linked;      /* as kv_pid.linked, for its group leader */
};

struct kv_runq {
	struct kv_rq_task *v;
	size_t n;
	uint32_t ncpus;
	int partial;
};

struct kv_region {
	uint64_t base, size;
};

struct kv_module {
	uint64_t addr;
	int64_t state;
	char name[KMOD_NAME_LEN + 1];
	struct kv_region r[KPROFILE_MODULE_REGIONS];
	uint32_t nr;
};

struct kv_modules {
	struct kv_module *v;
	size_t n;
	int partial;
};

/* A kobject of /sys/module. */
struct kv_kobj {
	uint64_t kobj, mod; /* mod 0: a built-in's parameters only */
	char name[KMOD_NAME_LEN + 1];
};

struct kv_kset {
	struct kv_kobj *v;
	size_t n;
	int partial;
};

/* A struct module carved from a block of module-area memory no listed module owns. */
struct kv_carved {
	struct kv_module m;
	uint64_t block, block_size;
};

struct kv_carve {
	struct kv_carved *v;
	size_t n;
	size_t blocks;      /* unowned module-area blocks seen */
	size_t blocks_read; /* of them carved (the rest too big or over the budget) */
	int partial;
};

/* A callback the kernel calls, where something registered or wrote it (kview_hooks.c). */
enum kv_hook_kind {
	KV_HOOK_FTRACE,    /* an ftrace_ops: fn its func, fn2 its trampoline, flags its flags */
	KV_HOOK_KPROBE,    /* a kprobe at `at`: fn pre_handler, fn2 post_handler, label its symbol */
	KV_HOOK_KRETPROBE, /* a kretprobe at `at`: fn its handler, fn2 its entry handler */
	KV_HOOK_NETFILTER, /* a netfilter hook entry: label "ipv4 PRE_ROUTING" */
	KV_HOOK_NOTIFIER,  /* a notifier_block on the chain in label */
	KV_HOOK_SEQ_OPS,   /* a seq_operations member: label "tcp4_seq_ops.show" */
	KV_HOOK_PROC_FOPS, /* a procfs root inode: fn its i_fop table, fn2 that table's iterate_shared */
};

struct kv_hook {
	int kind;
	uint64_t where;   /* the object it is read from */
	uint64_t fn, fn2;
	uint64_t at;
	uint64_t flags;
	char label[64];
};

struct kv_hooks {
	struct kv_hook *v;
	size_t n, cap;
	int partial;
};

/* Kernel text and rodata against the baseline (kview_text.c). */
struct kv_text_page {
	uint64_t off;   /* from _stext */
	uint32_t len;
	int rodata, st;
	uint8_t now[BASELINE_LEAF];
};

struct kv_text {
	struct baseline b;
	int have;       /* a baseline was there and was compared with */
	int recorded;   /* this scan recorded it (the first of this build) */
	int partial;
	char path[4200];
	uint64_t groups, groups_changed, leaves_changed;
	struct kv_text_page *pages; /* the leaves that differ, as they are now */
	size_t npages;
};
/* Are these n bytes one of the NOPs the kernel puts at a patch site (5 or 2 bytes)? */
int kv_text_nop(const uint8_t *p, size_t n);

struct kview_loader;

struct kview {
	struct kintro *k;
	unsigned want;     /* parts the sweep will need (loaded together) */
	unsigned loaded;   /* parts read (their data valid) */
	unsigned failed;   /* parts that could not be read at all (their status in err[]) */
	int err[KV_NPARTS];
	uint64_t rounds;   /* round trips spent loading */
	const char *baseline; /* the text baseline's file (NULL: the cache's, by BUILD-ID) */
	char banner[KPROFILE_MAX_BANNER];
	struct kv_tasks tasks;
	struct kv_pids pids;
	struct kv_runq runq;
	struct kv_modules modules;
	struct kv_kset kset;
	struct kv_carve carve;
	void *ext[KV_NPARTS]; /* the data of parts defined by the check files (kview_ext) */
};

/* A view over k; want: the parts the sweep's checks will ask for. NULL on ENOMEM. */
struct kview *kview_new(struct kintro *k, unsigned want);
void kview_free(struct kview *kv);
/* Read parts (and, on the first call, everything in kv->want) unless loaded: returns 0
 * when every part in parts is loaded, or the error of the first that failed (its part
 * bit in kv->failed). A part's partial flag says it was read only in part. */
int kview_load(struct kview *kv, unsigned parts);

/* The module that owns addr (any of its regions), or NULL. */
const struct kv_module *kview_owner(const struct kview *kv, uint64_t addr);
/* Kernel text of the image (_stext.._etext)? */
int kview_in_core_text(const struct kview *kv, uint64_t addr);
/* Is the task at addr on the task list view? */
int kview_task_listed(const struct kview *kv, uint64_t addr);
/* Is a module at addr on the module list view? */
int kview_module_listed(const struct kview *kv, uint64_t addr);

/*
 * A loader: one part's state machine. step() is called once per round with the round to
 * queue into; it reads what the previous round brought (its own buffers), queues the next
 * stage, and returns 1 while it has more stages, 0 when the part is loaded, or a negative
 * SEVMON_E* when the part cannot be read at all (what it needs is missing, a read of the
 * structure's head failed). It may wait for other parts (deps): it is first stepped in the
 * round after they are done. release() frees its state (not the part's data).
 */
struct kview_loader_ops {
	unsigned part;
	unsigned deps;
	unsigned with;     /* parts it reads in its last stage: loaded in the same call */
	size_t state_size;
	int (*step)(struct kview *kv, void *state, struct gmem_round *q);
	void (*release)(struct kview *kv, void *state);
	void (*free_data)(struct kview *kv, unsigned part); /* the part's data (at kview_free) */
};

/* The loaders, in one table (kview.c). */
extern const struct kview_loader_ops kv_banner_ops, kv_tasks_ops, kv_pids_ops, kv_runq_ops,
	kv_modules_ops, kv_kset_ops, kv_carve_ops, kv_systab_ops, kv_idt_ops, kv_ftrace_ops,
	kv_kprobes_ops, kv_netfilter_ops, kv_notifiers_ops, kv_seqops_ops, kv_procfops_ops,
	kv_text_ops, kv_bpf_ops;

/* Helpers the loaders share. The release of a loader whose state holds one walk, first
 * (struct { struct gmem_walk_out wo; ... }); the free of a hook part (struct kv_hooks). */
void kv_release_walk(struct kview *kv, void *state);
void kv_hooks_free(struct kview *kv, unsigned part);
/* Walk buffers for up to max nodes of req (kwalk_alloc's). */
int kv_walk_alloc(struct gmem_walk_out *o, const struct gmem_walk_req *req);
/* A task's fields from a node read with the task windows (kv_task_windows): the windows of
 * every task read, as the task list walk and the IDR's task reads use them. */
#define KV_TASK_NWIN 10
size_t kv_task_windows(const struct kprofile *p, struct gmem_window *w);
void kv_task_parse(const struct kprofile *p, const uint8_t *d, uint32_t faults, uint64_t addr,
		   struct kv_task *t);
/* An XArray (IDR) read level by level, one round each (kview_xa.c): call kv_xa_step with
 * stage 0, 1, 2, ... while it returns 1 (a level queued); at 0, leaves[0..nleaves) holds
 * every entry (at most max; more: partial). kv_xa_free at the end. */
struct xa_node_buf {
	uint64_t addr;
	uint8_t *b; /* shift byte + slots */
	int st;
};
struct xa_walk {
	const struct kprofile *p;
	struct xa_node_buf *nodes; /* this level's */
	size_t n, total;
	uint64_t *leaves;
	size_t nleaves, cap;
	uint8_t head[8];
	int head_st, depth, partial;
	size_t nslots;
};
int kv_xa_step(struct xa_walk *x, const struct kprofile *p, uint64_t head, int stage,
	       struct gmem_round *q, size_t max);
void kv_xa_free(struct xa_walk *x);

/* The slot of a part defined by a check file (its data in kv->ext). */
void **kview_ext(struct kview *kv, unsigned part);
/* ENOTSUP unless every KPROFILE_OFF_* in ids (ending with -1) is in this kernel's BTF. */
int kv_need(const struct kprofile *p, const int *ids);
/* An x86-64 kernel address: the upper half with 5-level paging (bits 63..56 set; with 4
 * levels the kernel's addresses are a part of it). */
static inline int kv_kaddr(uint64_t a)
{
	return a >= 0xff00000000000000ull;
}

#endif
