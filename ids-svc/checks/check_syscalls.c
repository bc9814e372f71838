/*
 * check_syscalls.c — the system-call tables (x64, and ia32 / x32 where the kernel has
 * them): every entry must point where it pointed when the profile of this build was made
 * (profile.systab: offsets from _stext, so the same across boots and KASLR slides), and
 * that target must have been a system-call function then (a symbol with "_sys_" among its
 * names, or the ni_syscall stub: the profile's build records no other). An entry pointing elsewhere is a high finding naming the system call,
 * the target address and the module that owns it (or none).
 *
 * Since the branch-history-injection fix (6.9, backported to 6.1.y and 6.12.y) x86-64
 * dispatches through x64_sys_call()'s switch, not the table: a hooked entry then does not
 * run, but it is still the footprint of a rootkit that wrote the table.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kchecks.h"
#include "kview.h"
#include "rbuf.h"

static const char *const table_name[KPROFILE_NSYSTABS] = { "x64", "ia32", "x32" };

static uint64_t table_sym(const struct kprofile *p, int t)
{
	return t == KPROFILE_SYSTAB_X64 ? p->sym_sys_call_table
	       : t == KPROFILE_SYSTAB_IA32 ? p->sym_ia32_sys_call_table
					   : p->sym_x32_sys_call_table;
}

/* ---- the view: the tables as they are now --------------------------------------------- */

struct kv_systab {
	uint64_t *v[KPROFILE_NSYSTABS]; /* live entries, profile.systab[t].n each */
	int st[KPROFILE_NSYSTABS];
};

struct systab_st {
	int stage;
};

static int systab_step(struct kview *kv, void *state, struct gmem_round *q)
{
	struct systab_st *s = state;
	const struct kprofile *p = &kv->k->p;
	void **slot = kview_ext(kv, KV_SYSTAB);
	struct kv_systab *t = *slot;
	if (s->stage++ == 0) {
		if (!p->systab[KPROFILE_SYSTAB_X64].n || !p->sym_sys_call_table)
			return SEVMON_ENOTSUP;
		if (!t && !(t = *slot = calloc(1, sizeof *t)))
			return SEVMON_ENOMEM;
		for (int i = 0; i < KPROFILE_NSYSTABS; i++) {
			if (!p->systab[i].n || !table_sym(p, i))
				continue;
			if (!(t->v[i] = calloc(p->systab[i].n, 8)))
				return SEVMON_ENOMEM;
			gmem_round_read(q, table_sym(p, i), GMEM_VIRT, t->v[i], p->systab[i].n * 8u, &t->st[i]);
		}
		return 1;
	}
	return t->st[KPROFILE_SYSTAB_X64];
}

static void systab_free(struct kview *kv, unsigned part)
{
	void **slot = kview_ext(kv, part);
	struct kv_systab *t = *slot;
	for (int i = 0; t && i < KPROFILE_NSYSTABS; i++)
		free(t->v[i]);
	free(t);
	*slot = NULL;
}

const struct kview_loader_ops kv_systab_ops = {
	.part = KV_SYSTAB, .state_size = sizeof(struct systab_st), .step = systab_step,
	.free_data = systab_free,
};

/* ---- the check ----------------------------------------------------------------------- */

#define SYSCALL_NAME_MAX 64

struct syscall_hook {
	int table;
	uint32_t nr;
	char name[SYSCALL_NAME_MAX];    /* the system call ("kill"), or "?" */
	uint64_t expected, target;
	char target_sym[KSYMS_NAME_LEN]; /* where it points now, when in the kernel image */
	char module[KMOD_NAME_LEN + 1];  /* the module that owns the target, "" none */
	int at_build;                    /* the profile's own entry is no syscall function */
};

struct syscalls_result {
	struct check_result h;
	uint32_t n[KPROFILE_NSYSTABS];
	int read[KPROFILE_NSYSTABS];
	struct syscall_hook *v;
	size_t nv;
};

/* The name of the system-call function at a (among its aliases, the one with "_sys_"),
 * into buf; "" when kallsyms of the image is not at hand. Returns the symbol or NULL. */
static const char *syscall_sym(struct kintro *k, uint64_t a)
{
	const struct ksyms *ks = kintro_ksyms(k);
	uint64_t off;
	long i = ks ? ksym_at(ks, a, &off) : -1;
	if (i < 0 || off)
		return NULL;
	const char *best = ksym_name(ks, (size_t)i);
	for (long j = i; j >= 0 && ks->sym[j].addr == a; j--)
		if (strstr(ksym_name(ks, (size_t)j), "_sys_")) {
			best = ksym_name(ks, (size_t)j);
			break;
		}
	return best;
}

static int add(struct syscalls_result *r, const struct check_env *env, int t, uint32_t nr,
	       uint64_t expected, uint64_t target, int at_build)
{
	struct syscall_hook *v = realloc(r->v, (r->nv + 1) * sizeof *v);
	if (!v)
		return SEVMON_ENOMEM;
	r->v = v;
	struct syscall_hook *h = &v[r->nv++];
	*h = (struct syscall_hook){ .table = t, .nr = nr, .expected = expected, .target = target,
				    .at_build = at_build };
	const char *e = syscall_sym(env->k, expected), *u = e ? strstr(e, "_sys_") : NULL;
	snprintf(h->name, sizeof h->name, "%s", u ? u + 5 : e ? e : "?");
	const struct kv_module *m = kview_owner(env->kv, target);
	if (m)
		snprintf(h->module, sizeof h->module, "%s", m->name);
	if (kview_in_core_text(env->kv, target))
		kintro_symbolize(env->k, target, h->target_sym, sizeof h->target_sym);
	return 0;
}

static int syscalls_run(const struct check_env *env, void *res)
{
	struct syscalls_result *r = res;
	const struct kprofile *p = &env->k->p;
	int rc = kview_load(env->kv, KV_SYSTAB | KV_MODULES);
	if (rc < 0)
		return rc;
	const struct kv_systab *t = *kview_ext(env->kv, KV_SYSTAB);
	for (int i = 0; i < KPROFILE_NSYSTABS; i++) {
		r->n[i] = p->systab[i].n;
		r->read[i] = t->v[i] && t->st[i] == 0;
		if (t->v[i] && t->st[i] < 0)
			r->h.partial = 1;
		for (uint32_t j = 0; r->read[i] && j < r->n[i]; j++) {
			uint64_t live = load_le64((const uint8_t *)&t->v[i][j]);
			uint32_t off = p->systab[i].off[j];
			/* not recorded: no system-call function when the profile was built */
			uint64_t want = off == KPROFILE_ENTRY_NONE ? 0 : p->sym__stext + off;
			if ((live != want || !want) && (rc = add(r, env, i, j, want, live, !want)) < 0)
				return rc;
		}
	}
	return 0;
}

/* One hooked entry: the payload's and its finding's evidence. */
static void hook_json(struct jw *w, const void *arg)
{
	const struct syscall_hook *h = arg;
	jw_obj(w);
	jw_key(w, "table");
	jw_str(w, table_name[h->table]);
	jw_key(w, "nr");
	jw_uint(w, h->nr);
	jw_key(w, "syscall");
	jw_str(w, h->name);
	jw_key(w, "expected");
	if (h->expected)
		jw_hex(w, h->expected);
	else
		jw_null(w);
	jw_key(w, "target");
	jw_hex(w, h->target);
	jw_key(w, "target_symbol");
	if (h->target_sym[0])
		jw_str(w, h->target_sym);
	else
		jw_null(w);
	jw_key(w, "module");
	if (h->module[0])
		jw_str(w, h->module);
	else
		jw_null(w);
	jw_key(w, "at_profile_build");
	jw_bool(w, h->at_build);
	jw_obj_end(w);
}

static void syscalls_encode(const void *res, struct jw *w)
{
	const struct syscalls_result *r = res;
	jw_obj(w);
	jw_key(w, "tables");
	jw_obj(w);
	for (int i = 0; i < KPROFILE_NSYSTABS; i++) {
		jw_key(w, table_name[i]);
		if (r->read[i])
			jw_uint(w, r->n[i]);
		else
			jw_null(w);
	}
	jw_obj_end(w);
	jw_key(w, "hooked");
	jw_arr(w);
	for (size_t i = 0; i < r->nv; i++)
		hook_json(w, &r->v[i]);
	jw_arr_end(w);
	jw_key(w, "partial");
	jw_bool(w, r->h.partial);
	jw_obj_end(w);
}

static void syscalls_print(const void *res, FILE *f)
{
	const struct syscalls_result *r = res;
	for (int i = 0; i < KPROFILE_NSYSTABS; i++)
		if (r->read[i])
			fprintf(f, "%s table: %" PRIu32 " entries\n", table_name[i], r->n[i]);
	for (size_t i = 0; i < r->nv; i++) {
		const struct syscall_hook *h = &r->v[i];
		fprintf(f, "%s %" PRIu32 " (%s): 0x%016" PRIx64 " -> 0x%016" PRIx64 " %s%s%s\n",
			table_name[h->table], h->nr, h->name, h->expected, h->target,
			h->module[0] ? "[" : "", h->module[0] ? h->module : h->target_sym,
			h->module[0] ? "]" : "");
	}
	if (r->h.partial)
		fprintf(f, "(partial: a table could not be read)\n");
}

static int syscalls_findings(const void *res, struct check_findings *out)
{
	const struct syscalls_result *r = res;
	for (size_t i = 0; i < r->nv; i++) {
		const struct syscall_hook *h = &r->v[i];
		char subject[128];
		snprintf(subject, sizeof subject, "%s %" PRIu32 " %s", table_name[h->table], h->nr, h->name);
		int rc = check_finding_jw(out, STORE_SEV_HIGH, "syscall_hooked", subject, CHECK_T_ROOTKIT,
					  hook_json, h);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void syscalls_release(void *res)
{
	struct syscalls_result *r = res;
	free(r->v);
	r->v = NULL;
}

static const int syscalls_members[] = { KPROFILE_OFF_module_list, KPROFILE_OFF_module_name, -1 };

const struct check_def check_syscalls = {
	.name = "syscalls",
	.summary = "system-call tables (x64, ia32, x32): every entry where this build's profile found it",
	.needs = CHECK_NEEDS_KERNEL,
	.in_default = 1,
	.diff = STORE_DIFF_NONE,
	.members = syscalls_members,
	.views = KV_SYSTAB | KV_MODULES,
	.result_size = sizeof(struct syscalls_result),
	.run = syscalls_run,
	.encode = syscalls_encode,
	.print = syscalls_print,
	.findings = syscalls_findings,
	.release = syscalls_release,
};
