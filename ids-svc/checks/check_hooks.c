/*
 * check_hooks.c — the kernel's hook points (kview_hooks.c): ftrace ops, kprobes and
 * kretprobes, netfilter hooks, the keyboard notifier chain, the seq_operations behind
 * /proc/net/{tcp,tcp6,udp,udp6}, and the /proc root inode's file operations. A callback
 * outside core kernel text is a finding naming the hook point, the callback and the module
 * that owns it (or none: code no listed module owns is high whatever the kind).
 *
 *   kind                 severity   technique   why
 *   ftrace_hook          high/med   T1014       high with IPMODIFY (it redirects the function)
 *   kprobe_hook          medium     T1014       runs on every hit; also debuggers and tracers
 *   netfilter_hook       medium     T1205       sees every packet (magic-packet knocks)
 *   keyboard_notifier    high       T1056.001   sees every key press
 *   seq_ops_hooked       high       T1014       what /proc/net lists (hidden connections)
 *   proc_fops_replaced   high       T1014       what /proc lists (hidden processes)
 * Severity is the kind's; the module, when listed, says who registered it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kchecks.h"
#include "kview.h"

#define HOOK_PARTS (KV_FTRACE | KV_KPROBES | KV_NETFILTER | KV_NOTIFIERS | KV_SEQOPS | KV_PROCFOPS)
static const unsigned part_bits[] = { KV_FTRACE, KV_KPROBES, KV_NETFILTER, KV_NOTIFIERS, KV_SEQOPS,
				      KV_PROCFOPS };
static const char *const part_name[] = { "ftrace", "kprobes", "netfilter", "notifiers", "seq_ops",
					 "proc_fops" };
#define NPARTS (sizeof part_bits / sizeof part_bits[0])

struct hook_finding {
	const char *kind;
	enum store_severity sev;
	const char *technique;
	struct kv_hook h;
	uint64_t cb;                          /* the callback outside core text */
	char module[KMOD_NAME_LEN + 1];       /* its owner, "" none */
	uint64_t module_off;                  /* cb - the owning region's base */
	char attach[KSYMS_NAME_LEN + 64];     /* where it hooks (a symbol, a hook name) */
};

struct hooks_result {
	struct check_result h;
	size_t count[NPARTS];
	int read[NPARTS];
	struct hook_finding *v;
	size_t n;
};

static const char *const kind_name[] = {
	[KV_HOOK_FTRACE] = "ftrace_hook", [KV_HOOK_KPROBE] = "kprobe_hook",
	[KV_HOOK_KRETPROBE] = "kprobe_hook", [KV_HOOK_NETFILTER] = "netfilter_hook",
	[KV_HOOK_NOTIFIER] = "keyboard_notifier", [KV_HOOK_SEQ_OPS] = "seq_ops_hooked",
	[KV_HOOK_PROC_FOPS] = "proc_fops_replaced",
};

static int add(struct hooks_result *r, const struct check_env *env, const struct kv_hook *h, uint64_t cb)
{
	const struct kprofile *p = &env->k->p;
	struct hook_finding *v = realloc(r->v, (r->n + 1) * sizeof *v);
	if (!v)
		return SEVMON_ENOMEM;
	r->v = v;
	struct hook_finding *f = &v[r->n++];
	*f = (struct hook_finding){ .kind = kind_name[h->kind], .h = *h, .cb = cb,
				    .technique = CHECK_T_ROOTKIT };
	switch (h->kind) {
	case KV_HOOK_FTRACE:
		f->sev = p->enums[KPROFILE_ENUM_FTRACE_OPS_FL_IPMODIFY] != KPROFILE_NO_VALUE &&
				 (h->flags & (uint64_t)p->enums[KPROFILE_ENUM_FTRACE_OPS_FL_IPMODIFY])
			 ? STORE_SEV_HIGH : STORE_SEV_MEDIUM;
		break;
	case KV_HOOK_KPROBE:
	case KV_HOOK_KRETPROBE:
		f->sev = STORE_SEV_MEDIUM;
		kintro_symbolize(env->k, h->at, f->attach, sizeof f->attach);
		break;
	case KV_HOOK_NETFILTER:
		f->sev = STORE_SEV_MEDIUM;
		f->technique = CHECK_T_TRAFFIC_SIGNALING;
		break;
	case KV_HOOK_NOTIFIER:
		f->sev = STORE_SEV_HIGH;
		f->technique = CHECK_T_KEYLOGGING;
		break;
	default:
		f->sev = STORE_SEV_HIGH;
		break;
	}
	if (!f->attach[0])
		snprintf(f->attach, sizeof f->attach, "%s", h->label);
	const struct kv_module *m = kview_owner(env->kv, cb);
	if (m) {
		snprintf(f->module, sizeof f->module, "%s", m->name);
		for (uint32_t i = 0; i < m->nr; i++)
			if (cb >= m->r[i].base && cb - m->r[i].base < m->r[i].size)
				f->module_off = cb - m->r[i].base;
	} else {
		f->sev = STORE_SEV_HIGH; /* code no listed module owns */
	}
	return 0;
}

/* A callback the kernel would call that is not core kernel text (NULL is none). */
static int outside(const struct check_env *env, uint64_t fn)
{
	return fn && !kview_in_core_text(env->kv, fn);
}

static int hooks_run(const struct check_env *env, void *res)
{
	struct hooks_result *r = res;
	const struct kprofile *p = &env->k->p;
	int rc = kview_load(env->kv, KV_MODULES);
	if (rc < 0)
		return rc;
	(void)kview_load(env->kv, HOOK_PARTS); /* each part on its own: a kernel may lack one */
	int any = 0;
	for (size_t i = 0; i < NPARTS; i++) {
		if (!(env->kv->loaded & part_bits[i]))
			continue;
		const struct kv_hooks *hs = *kview_ext(env->kv, part_bits[i]);
		r->read[i] = any = 1;
		r->count[i] = hs->n;
		r->h.partial |= hs->partial;
		for (size_t j = 0; j < hs->n; j++) {
			const struct kv_hook *h = &hs->v[j];
			uint64_t cb = 0;
			switch (h->kind) {
			case KV_HOOK_FTRACE: /* its trampoline is ftrace's own, allocated for it */
				cb = outside(env, h->fn) ? h->fn : 0;
				break;
			case KV_HOOK_PROC_FOPS:
				if (h->fn != p->sym_proc_root_operations)
					cb = outside(env, h->fn2) ? h->fn2 : h->fn;
				break;
			default:
				cb = outside(env, h->fn) ? h->fn : outside(env, h->fn2) ? h->fn2 : 0;
				break;
			}
			if (cb && (rc = add(r, env, h, cb)) < 0)
				return rc;
		}
	}
	return any ? 0 : SEVMON_ENOTSUP;
}

static void finding_json(struct jw *w, const void *arg)
{
	const struct hook_finding *f = arg;
	jw_obj(w);
	jw_key(w, "hook");
	jw_str(w, f->kind);
	jw_key(w, "attach");
	jw_str(w, f->attach);
	jw_key(w, "callback");
	jw_hex(w, f->cb);
	jw_key(w, "module");
	if (f->module[0])
		jw_str(w, f->module);
	else
		jw_null(w);
	if (f->module[0]) {
		jw_key(w, "module_offset");
		jw_hex(w, f->module_off);
	}
	jw_key(w, "object");
	jw_hex(w, f->h.where);
	if (f->h.kind == KV_HOOK_FTRACE) {
		jw_key(w, "flags");
		jw_hex(w, f->h.flags);
		jw_key(w, "trampoline");
		jw_hex(w, f->h.fn2);
	}
	if (f->h.kind == KV_HOOK_KPROBE || f->h.kind == KV_HOOK_KRETPROBE) {
		jw_key(w, "address");
		jw_hex(w, f->h.at);
		jw_key(w, "kretprobe");
		jw_bool(w, f->h.kind == KV_HOOK_KRETPROBE);
	}
	jw_obj_end(w);
}

static void hooks_encode(const void *res, struct jw *w)
{
	const struct hooks_result *r = res;
	jw_obj(w);
	jw_key(w, "hooks");
	jw_obj(w);
	for (size_t i = 0; i < NPARTS; i++) {
		jw_key(w, part_name[i]);
		if (r->read[i])
			jw_uint(w, r->count[i]);
		else
			jw_null(w);
	}
	jw_obj_end(w);
	jw_key(w, "outside_kernel_text");
	jw_arr(w);
	for (size_t i = 0; i < r->n; i++)
		finding_json(w, &r->v[i]);
	jw_arr_end(w);
	jw_key(w, "partial");
	jw_bool(w, r->h.partial);
	jw_obj_end(w);
}

static void hooks_print(const void *res, FILE *f)
{
	const struct hooks_result *r = res;
	for (size_t i = 0; i < NPARTS; i++) {
		if (r->read[i])
			fprintf(f, "%s%s %zu", i ? ", " : "", part_name[i], r->count[i]);
		else
			fprintf(f, "%s%s not read", i ? ", " : "", part_name[i]);
	}
	fputc('\n', f);
	for (size_t i = 0; i < r->n; i++) {
		const struct hook_finding *x = &r->v[i];
		fprintf(f, "%-18s %-32.32s 0x%016" PRIx64 " %s\n", x->kind, x->attach, x->cb,
			x->module[0] ? x->module : "(no module)");
	}
	if (r->h.partial)
		fprintf(f, "(partial: a hook list could not be read whole)\n");
}

static int hooks_findings(const void *res, struct check_findings *out)
{
	const struct hooks_result *r = res;
	for (size_t i = 0; i < r->n; i++) {
		const struct hook_finding *x = &r->v[i];
		char subject[KSYMS_NAME_LEN + 160];
		snprintf(subject, sizeof subject, "%s -> %s", x->attach,
			 x->module[0] ? x->module : "no module");
		int rc = check_finding_jw(out, x->sev, x->kind, subject, x->technique, finding_json, x);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void hooks_release(void *res)
{
	struct hooks_result *r = res;
	free(r->v);
	r->v = NULL;
}

static const int hooks_members[] = { KPROFILE_OFF_module_list, KPROFILE_OFF_module_name, -1 };

const struct check_def check_hooks = {
	.name = "hooks",
	.summary = "hook points (ftrace, kprobes, netfilter, keyboard notifiers, /proc/net seq_ops, /proc fops): callbacks outside kernel text",
	.needs = CHECK_NEEDS_KERNEL,
	.in_default = 1,
	.diff = STORE_DIFF_NONE,
	.members = hooks_members,
	.views = KV_MODULES | HOOK_PARTS,
	.result_size = sizeof(struct hooks_result),
	.run = hooks_run,
	.encode = hooks_encode,
	.print = hooks_print,
	.findings = hooks_findings,
	.release = hooks_release,
};
