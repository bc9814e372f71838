/*
 * kchecks.h — the result types of the kernel checks, and their typed entry points for
 * code that wants the values rather than the payload (tests, the offline analysis).
 * Each check's file (check_ps.c, check_modules.c, check_banner.c) holds the reading,
 * the one encoder and the table printer of its result; registry.c lists them.
 */
#ifndef SEVMON_KCHECKS_H
#define SEVMON_KCHECKS_H

#include <stddef.h>
#include <stdint.h>

#include "check.h"
#include "introspect.h"

/* ppid / uid when the pointer to them (real_parent, cred) could not be followed: the field
 * is unknown, shown as "?" (text) or null (JSON), never as 0 or a number. */
#define KPROC_PPID_UNKNOWN (-1)
#define KPROC_UID_UNKNOWN UINT32_MAX

struct kproc {
	uint64_t task;
	int32_t pid, tgid, ppid;
	uint32_t uid;
	/* Kernel thread: mm == NULL and not exiting (PF_KTHREAD is a #define, absent from BTF;
	 * an exited task, e.g. a zombie, has dropped its mm too, so exit_state tells them apart). */
	int kthread;
	int exiting; /* exit_state != 0 (EXIT_ZOMBIE / EXIT_DEAD) */
	char comm[KPROC_COMM_LEN + 1];
};

struct kmod {
	uint64_t addr;
	int64_t state;
	char name[KMOD_NAME_LEN + 1];
};

/* Process list via init_task.tasks (pid 0 itself excluded): ONE walk whose deref windows
 * bring real_parent->tgid and cred->uid (one round trip to an agent; a gather-only backend
 * emulates it). *partial = 1 when the list did not come back to its head (torn, looping,
 * too long) or a process's ppid / uid is unknown (KPROC_*_UNKNOWN).
 * Returns the number of processes written (<= max). */
int kcheck_ps(struct kintro *k, struct kproc *out, size_t max, int *partial);
/* Module list via the modules list head: one walk (name, state). */
int kcheck_modules(struct kintro *k, struct kmod *out, size_t max, int *partial);

/* The results the registry's rows fill. */
struct banner_result {
	struct check_result h;
	char text[KPROFILE_MAX_BANNER];
};
struct ps_result {
	struct check_result h;
	struct kproc *v; /* owned, n entries */
	size_t n;
};
struct modules_result {
	struct check_result h;
	struct kmod *v;
	size_t n;
	const char **state; /* each module's state word (kprofile_module_state) */
};
struct attest_result {
	struct check_result h;
	struct snp_verdict verdict;
};

/* What the kernel checks share (check_walk.c): walk buffers for max nodes of stride
 * bytes (0 or ENOMEM; kwalk_free in any case), and a NUL-bounded copy of a fixed-size
 * name field read from the guest (dst has n + 1 bytes). */
int kwalk_alloc(struct gmem_walk_out *o, size_t max, size_t stride);
void kwalk_free(struct gmem_walk_out *o);
void kcopy_name(char *dst, const uint8_t *src, size_t n);
/* A guest's string shown to a terminal: printable characters only, '?' for the others
 * (copied into dst of cap bytes, or printed). */
void ksafe_copy(char *dst, size_t cap, const char *s);
void kprint_safe(FILE *f, const char *s);
/* The names of the bits set in m (names[0..n)), as a JSON array / a comma-separated list. */
void kviews_json(struct jw *w, unsigned m, const char *const *names, unsigned n);
void kviews_print(FILE *f, unsigned m, const char *const *names, unsigned n);

/* The rows (registry.c puts them in its table). */
extern const struct check_def check_banner, check_ps, check_modules, check_attest;
extern const struct check_def check_hidden_procs, check_hidden_modules, check_syscalls, check_idt,
	check_hooks, check_text, check_bpf, check_creds;

#endif
