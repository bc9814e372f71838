/*
 * check_modules.c — the loaded modules: one WalkList over the kernel's `modules` list
 * (name, state), states named by the kernel's own enum module_state (BTF).
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kchecks.h"
#include "kview.h"
#include "rbuf.h"

int kcheck_modules(struct kintro *k, struct kmod *out, size_t max, int *partial)
{
	const struct kprofile *p = &k->p;
	const struct gmem_window win[] = {
		{ p->module_name.off, p->module_name.size },
		{ p->module_state.off, 4 },
	};
	const struct gmem_walk_req req = {
		.head = p->sym_modules,
		.next_off = p->list_head_next.off,
		.link_off = p->module_list.off,
		.win = win,
		.nwin = 2,
		.max_nodes = max < GMEM_WALK_MAX_NODES ? max : GMEM_WALK_MAX_NODES,
		.space = GMEM_VIRT,
	};
	size_t stride = gmem_walk_stride(&req);
	struct gmem_walk_out wo = { 0 };
	int rc = kwalk_alloc(&wo, req.max_nodes, stride);
	if (rc < 0 || (rc = gmem_walk(k->g, &req, &wo)) < 0)
		goto out;
	*partial = wo.stop != GMEM_STOP_HEAD;
	for (size_t i = 0; i < wo.n; i++) {
		struct rbuf r = rbuf_make(wo.data + i * stride, stride);
		const uint8_t *name;
		uint32_t state;
		if (rbuf_get_bytes_direct(&r, &name, p->module_name.size) || rbuf_get_le32(&r, &state)) {
			rc = SEVMON_EINVAL; /* the windows and the stride disagree */
			goto out;
		}
		out[i].addr = wo.nodes[i];
		kcopy_name(out[i].name, name, p->module_name.size);
		out[i].state = (int32_t)state;
	}
	rc = (int)wo.n;
out:
	kwalk_free(&wo);
	return rc;
}

/* ---- the registry row ---------------------------------------------------------------- */

/* The module list view (kview: the same walk, read with the sweep's other views). */
static int modules_run(const struct check_env *env, void *res)
{
	struct modules_result *r = res;
	int rc = kview_load(env->kv, KV_MODULES);
	if (rc < 0)
		return rc;
	const struct kv_modules *m = &env->kv->modules;
	r->v = malloc((m->n ? m->n : 1) * sizeof *r->v);
	if (!r->v)
		return SEVMON_ENOMEM;
	r->h.partial = m->partial;
	for (size_t i = 0; i < m->n; i++) {
		r->v[i] = (struct kmod){ .addr = m->v[i].addr, .state = m->v[i].state };
		memcpy(r->v[i].name, m->v[i].name, sizeof r->v[i].name);
	}
	r->n = m->n;
	if (!(r->state = calloc(r->n ? r->n : 1, sizeof *r->state))) {
		free(r->v);
		r->v = NULL;
		return SEVMON_ENOMEM;
	}
	for (size_t i = 0; i < r->n; i++)
		r->state[i] = kprofile_module_state(&env->k->p, r->v[i].state);
	return 0;
}

static void modules_encode(const void *res, struct jw *w)
{
	const struct modules_result *r = res;
	jw_obj(w);
	jw_key(w, "modules");
	jw_arr(w);
	for (size_t i = 0; i < r->n; i++) {
		jw_obj(w);
		jw_key(w, "name");
		jw_str(w, r->v[i].name);
		jw_key(w, "state");
		jw_str(w, r->state[i]);
		jw_key(w, "addr");
		jw_hex(w, r->v[i].addr);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_key(w, "partial");
	jw_bool(w, r->h.partial);
	jw_obj_end(w);
}

static void modules_print(const void *res, FILE *f)
{
	const struct modules_result *r = res;
	for (size_t i = 0; i < r->n; i++) {
		char name[KMOD_NAME_LEN + 1];
		ksafe_copy(name, sizeof name, r->v[i].name); /* the guest's bytes: printable only */
		fprintf(f, "%-24s %-10s 0x%016" PRIx64 "\n", name, r->state[i], r->v[i].addr);
	}
	if (r->h.partial)
		fprintf(f, "(partial: the module list did not come back to its head)\n");
}

static void modules_release(void *res)
{
	struct modules_result *r = res;
	free(r->v);
	free(r->state);
	r->v = NULL;
	r->state = NULL;
}

static const int modules_members[] = {
	KPROFILE_OFF_module_list, KPROFILE_OFF_module_name, KPROFILE_OFF_module_state,
	KPROFILE_OFF_list_head_next, -1,
};

const struct check_def check_modules = {
	.name = "modules",
	.summary = "loaded kernel modules from the kernel's modules list: name, state, address",
	.needs = CHECK_NEEDS_KERNEL,
	.in_default = 1,
	.diff = STORE_DIFF_MODULES,
	.members = modules_members,
	.views = KV_MODULES,
	.result_size = sizeof(struct modules_result),
	.run = modules_run,
	.encode = modules_encode,
	.print = modules_print,
	.release = modules_release,
};
