/*
 * check_hidden_modules.c — hidden kernel modules: the module list against the module
 * kset (the kobjects behind /sys/module) and against struct module carved from the
 * module-area memory no listed module owns (kview.h). A module in the kset or carved that
 * the list lacks is hidden (high): named, with its address and the views. A module being
 * loaded or unloaded is on the list while it has its kobject, and is skipped when carved
 * in the GOING or UNFORMED state; one found in a later view is read again (its list link)
 * before it is reported, as processes are.
 * The payload also counts the module-area blocks nobody owns (ftrace and kprobe
 * trampolines, BPF programs live there too) and how many of them were carved.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kchecks.h"
#include "kview.h"
#include "rbuf.h"

enum { MV_LIST = 1, MV_SYSFS = 2, MV_AREA = 4 };
static const char *const view_name[] = { "module_list", "sysfs", "module_area" };

struct hidden_mod {
	char name[KMOD_NAME_LEN + 1];
	uint64_t addr;
	int64_t state;
	uint64_t text;     /* its first region's base (6.4+: the text), 0 unknown */
	unsigned in, missing;
	int linked;        /* its list link read again: 0 not on a list, -1 unknown */
};

struct hidden_modules_result {
	struct check_result h;
	size_t listed, kset, blocks, blocks_read;
	int kset_read, carve_read;
	struct hidden_mod *v;
	size_t n;
};

static struct hidden_mod *find(struct hidden_modules_result *r, uint64_t addr)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].addr == addr)
			return &r->v[i];
	return NULL;
}

static int add(struct hidden_modules_result *r, uint64_t addr, const char *name, int64_t state,
	       uint64_t text, unsigned in)
{
	struct hidden_mod *h = find(r, addr);
	if (h) {
		h->in |= in;
		return 0;
	}
	if (r->n >= KV_MAX_MODULES)
		return 0;
	h = realloc(r->v, (r->n + 1) * sizeof *h);
	if (!h)
		return SEVMON_ENOMEM;
	r->v = h;
	h = &r->v[r->n++];
	*h = (struct hidden_mod){ .addr = addr, .state = state, .text = text, .in = in, .linked = -1 };
	snprintf(h->name, sizeof h->name, "%s", name);
	return 0;
}

/* Read each candidate's list link again, then its neighbours: two rounds, only when
 * there are candidates. Keeps those not on a list. */
static int confirm(const struct check_env *env, struct hidden_modules_result *r)
{
	const struct kprofile *p = &env->k->p;
	if (!r->n)
		return 0;
	uint8_t (*l)[32] = calloc(r->n, sizeof *l);
	int *st = calloc(r->n, sizeof *st), *st2 = calloc(r->n, sizeof *st2);
	int rc = SEVMON_ENOMEM;
	if (!l || !st || !st2)
		goto out;
	struct gmem_round q;
	gmem_round_init(&q, env->k->g);
	for (size_t i = 0; i < r->n; i++)
		gmem_round_read(&q, r->v[i].addr + p->module_list.off, GMEM_VIRT, l[i], 16, &st[i]);
	if ((rc = gmem_round_flush(&q)) < 0)
		goto done;
	env->kv->rounds++;
	for (size_t i = 0; i < r->n; i++) {
		uint64_t next = load_le64(l[i]), prev = load_le64(l[i] + 8);
		st2[i] = st[i];
		if (st[i] == 0 && kv_kaddr(next) && kv_kaddr(prev)) {
			gmem_round_read(&q, next + 8, GMEM_VIRT, l[i] + 16, 8, &st2[i]);
			gmem_round_read(&q, prev, GMEM_VIRT, l[i] + 24, 8, &st2[i]);
		} else {
			st2[i] = SEVMON_EFAULT; /* poisoned (list_del) or torn: on no list */
		}
	}
	if (gmem_round_pending(&q)) {
		if ((rc = gmem_round_flush(&q)) < 0)
			goto done;
		env->kv->rounds++;
	}
	size_t k = 0;
	for (size_t i = 0; i < r->n; i++) {
		uint64_t link = r->v[i].addr + p->module_list.off;
		uint64_t next = load_le64(l[i]), prev = load_le64(l[i] + 8);
		int linked = st2[i] < 0 ? (st[i] < 0 ? -1 : 0)
			     : next != link && load_le64(l[i] + 16) == link && load_le64(l[i] + 24) == link;
		(void)prev;
		if (linked == 1)
			continue; /* loaded between the reads */
		r->v[k] = r->v[i];
		r->v[k++].linked = linked;
	}
	r->n = k;
	rc = 0;
done:
	gmem_round_free(&q);
out:
	free(l);
	free(st);
	free(st2);
	return rc;
}

static int hidden_modules_run(const struct check_env *env, void *res)
{
	struct hidden_modules_result *r = res;
	struct kview *kv = env->kv;
	const struct kprofile *p = &env->k->p;
	int rc = kview_load(kv, KV_MODULES);
	if (rc < 0)
		return rc;
	r->kset_read = kview_load(kv, KV_KSET) == 0;
	r->carve_read = kview_load(kv, KV_CARVE) == 0;
	r->listed = kv->modules.n;
	r->h.partial = kv->modules.partial;
	if (r->kset_read) {
		r->kset = kv->kset.n;
		r->h.partial |= kv->kset.partial;
		for (size_t i = 0; i < kv->kset.n; i++) {
			const struct kv_kobj *o = &kv->kset.v[i];
			if (o->mod && !kview_module_listed(kv, o->mod) &&
			    (rc = add(r, o->mod, o->name, KPROFILE_NO_VALUE, 0, MV_SYSFS)) < 0)
				return rc;
		}
	}
	if (r->carve_read) {
		r->blocks = kv->carve.blocks;
		r->blocks_read = kv->carve.blocks_read;
		r->h.partial |= kv->carve.partial;
		for (size_t i = 0; i < kv->carve.n; i++) {
			const struct kv_module *m = &kv->carve.v[i].m;
			const char *w = kprofile_module_state(p, m->state);
			if (!strcmp(w, "going") || !strcmp(w, "unformed"))
				continue; /* on its way in or out: its list entry comes or went */
			if ((rc = add(r, m->addr, m->name, m->state, m->nr ? m->r[0].base : 0, MV_AREA)) < 0)
				return rc;
			struct hidden_mod *h = find(r, m->addr);
			if (h) { /* a carved one gives its name and state to a kset one */
				snprintf(h->name, sizeof h->name, "%s", m->name);
				h->state = m->state;
				h->text = m->nr ? m->r[0].base : 0;
			}
		}
	}
	for (size_t i = 0; i < r->n; i++) {
		r->v[i].missing = MV_LIST;
		if (r->kset_read && !(r->v[i].in & MV_SYSFS))
			r->v[i].missing |= MV_SYSFS;
	}
	return confirm(env, r);
}

static void views(struct jw *w, unsigned m)
{
	kviews_json(w, m, view_name, 3);
}

/* A hidden module: an entry of the payload, and its finding's evidence. */
static void mod_json(struct jw *w, const void *arg)
{
	const struct hidden_mod *h = arg;
	jw_obj(w);
	jw_key(w, "module");
	jw_str(w, h->name);
	jw_key(w, "addr");
	jw_hex(w, h->addr);
	jw_key(w, "text");
	if (h->text)
		jw_hex(w, h->text);
	else
		jw_null(w);
	jw_key(w, "in");
	views(w, h->in);
	jw_key(w, "missing_from");
	views(w, h->missing);
	jw_obj_end(w);
}

static void hidden_modules_encode(const void *res, struct jw *w)
{
	const struct hidden_modules_result *r = res;
	jw_obj(w);
	jw_key(w, "views");
	jw_obj(w);
	jw_key(w, "module_list");
	jw_uint(w, r->listed);
	jw_key(w, "sysfs");
	if (r->kset_read)
		jw_uint(w, r->kset);
	else
		jw_null(w);
	jw_key(w, "unowned_blocks");
	if (r->carve_read)
		jw_uint(w, r->blocks);
	else
		jw_null(w);
	jw_key(w, "carved_blocks");
	if (r->carve_read)
		jw_uint(w, r->blocks_read);
	else
		jw_null(w);
	jw_obj_end(w);
	jw_key(w, "hidden");
	jw_arr(w);
	for (size_t i = 0; i < r->n; i++)
		mod_json(w, &r->v[i]);
	jw_arr_end(w);
	jw_key(w, "partial");
	jw_bool(w, r->h.partial);
	jw_obj_end(w);
}

static void print_views(FILE *f, unsigned m)
{
	kviews_print(f, m, view_name, 3);
}

static void hidden_modules_print(const void *res, FILE *f)
{
	const struct hidden_modules_result *r = res;
	fprintf(f, "module list %zu, /sys/module ", r->listed);
	if (r->kset_read)
		fprintf(f, "%zu", r->kset);
	else
		fprintf(f, "not read");
	if (r->carve_read)
		fprintf(f, ", unowned module-area blocks %zu (%zu carved)\n", r->blocks, r->blocks_read);
	else
		fprintf(f, ", module area not carved\n");
	for (size_t i = 0; i < r->n; i++) {
		const struct hidden_mod *h = &r->v[i];
		char name[KMOD_NAME_LEN + 1];
		ksafe_copy(name, sizeof name, h->name);
		fprintf(f, "%-24s 0x%016" PRIx64 " in ", name, h->addr);
		print_views(f, h->in);
		fprintf(f, ", not in ");
		print_views(f, h->missing);
		fputc('\n', f);
	}
	if (r->h.partial)
		fprintf(f, "(partial: a view could not be read whole)\n");
}

static int hidden_modules_findings(const void *res, struct check_findings *out)
{
	const struct hidden_modules_result *r = res;
	for (size_t i = 0; i < r->n; i++) {
		const struct hidden_mod *h = &r->v[i];
		int rc = check_finding_jw(out, STORE_SEV_HIGH, "hidden_module", h->name, CHECK_T_ROOTKIT,
					  mod_json, h);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void hidden_modules_release(void *res)
{
	struct hidden_modules_result *r = res;
	free(r->v);
	r->v = NULL;
}

static const int hidden_modules_members[] = {
	KPROFILE_OFF_module_list, KPROFILE_OFF_module_name, KPROFILE_OFF_module_state,
	KPROFILE_OFF_list_head_next, -1,
};

const struct check_def check_hidden_modules = {
	.name = "hidden_modules",
	.summary = "hidden modules: the module list against /sys/module and struct module carved from module memory",
	.needs = CHECK_NEEDS_KERNEL,
	.in_default = 1,
	.diff = STORE_DIFF_NONE,
	.members = hidden_modules_members,
	.views = KV_MODULES | KV_KSET | KV_CARVE,
	.result_size = sizeof(struct hidden_modules_result),
	.run = hidden_modules_run,
	.encode = hidden_modules_encode,
	.print = hidden_modules_print,
	.findings = hidden_modules_findings,
	.release = hidden_modules_release,
};
