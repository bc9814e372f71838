/*
 * check_idt.c — the interrupt descriptor table (idt_table: 256 gates of 16 bytes, the
 * hardware format): every gate must name the entry point it named when the profile of
 * this build was made (profile.idt, offsets from _stext; the reserved exception vectors
 * keep their early handlers in freed init text, and that is what they keep naming). A
 * gate that changed, appeared or vanished is a high finding naming the vector, the target
 * and the module that owns it (or none).
 *
 * What the check reads is idt_table, the table Linux loads into every CPU's IDTR; a
 * rootkit that builds a table of its own and loads it with lidt is not seen here (the
 * IDTR is a CPU register, not memory).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kchecks.h"
#include "kview.h"

#define IDT_BYTES (KPROFILE_IDT_ENTRIES * 16u)

struct kv_idt {
	uint8_t b[IDT_BYTES];
	int st;
};

struct idt_st {
	int stage;
};

static int idt_step(struct kview *kv, void *state, struct gmem_round *q)
{
	struct idt_st *s = state;
	const struct kprofile *p = &kv->k->p;
	void **slot = kview_ext(kv, KV_IDT);
	struct kv_idt *t = *slot;
	if (s->stage++ == 0) {
		if (!p->sym_idt_table || p->idt_n != KPROFILE_IDT_ENTRIES)
			return SEVMON_ENOTSUP;
		if (!t && !(t = *slot = calloc(1, sizeof *t)))
			return SEVMON_ENOMEM;
		gmem_round_read(q, p->sym_idt_table, GMEM_VIRT, t->b, IDT_BYTES, &t->st);
		return 1;
	}
	return t->st;
}

static void idt_free(struct kview *kv, unsigned part)
{
	void **slot = kview_ext(kv, part);
	free(*slot);
	*slot = NULL;
}

const struct kview_loader_ops kv_idt_ops = {
	.part = KV_IDT, .state_size = sizeof(struct idt_st), .step = idt_step, .free_data = idt_free,
};

struct idt_gate {
	uint32_t vector;
	uint64_t expected, target; /* 0: not present */
	char expected_sym[KSYMS_NAME_LEN], target_sym[KSYMS_NAME_LEN];
	char module[KMOD_NAME_LEN + 1];
};

struct idt_result {
	struct check_result h;
	uint32_t present;
	struct idt_gate *v;
	size_t n;
};

static int idt_run(const struct check_env *env, void *res)
{
	struct idt_result *r = res;
	const struct kprofile *p = &env->k->p;
	int rc = kview_load(env->kv, KV_IDT | KV_MODULES);
	if (rc < 0)
		return rc;
	const struct kv_idt *t = *kview_ext(env->kv, KV_IDT);
	for (uint32_t i = 0; i < KPROFILE_IDT_ENTRIES; i++) {
		uint64_t live = kprofile_idt_target(t->b + 16 * i);
		uint64_t want = p->idt[i] == KPROFILE_ENTRY_NONE ? 0 : p->sym__stext + p->idt[i];
		r->present += live != 0;
		if (live == want)
			continue;
		struct idt_gate *v = realloc(r->v, (r->n + 1) * sizeof *v);
		if (!v)
			return SEVMON_ENOMEM;
		r->v = v;
		struct idt_gate *g = &v[r->n++];
		*g = (struct idt_gate){ .vector = i, .expected = want, .target = live };
		if (want)
			kintro_symbolize(env->k, want, g->expected_sym, sizeof g->expected_sym);
		if (live && kview_in_core_text(env->kv, live))
			kintro_symbolize(env->k, live, g->target_sym, sizeof g->target_sym);
		const struct kv_module *m = live ? kview_owner(env->kv, live) : NULL;
		if (m)
			snprintf(g->module, sizeof g->module, "%s", m->name);
	}
	return 0;
}

static void opt_str(struct jw *w, const char *key, const char *s)
{
	jw_key(w, key);
	if (s[0])
		jw_str(w, s);
	else
		jw_null(w);
}

static void gate_json(struct jw *w, const void *arg)
{
	const struct idt_gate *g = arg;
	jw_obj(w);
	jw_key(w, "vector");
	jw_uint(w, g->vector);
	jw_key(w, "expected");
	if (g->expected)
		jw_hex(w, g->expected);
	else
		jw_null(w);
	opt_str(w, "expected_symbol", g->expected_sym);
	jw_key(w, "target");
	if (g->target)
		jw_hex(w, g->target);
	else
		jw_null(w);
	opt_str(w, "target_symbol", g->target_sym);
	opt_str(w, "module", g->module);
	jw_obj_end(w);
}

static void idt_encode(const void *res, struct jw *w)
{
	const struct idt_result *r = res;
	jw_obj(w);
	jw_key(w, "gates");
	jw_uint(w, KPROFILE_IDT_ENTRIES);
	jw_key(w, "present");
	jw_uint(w, r->present);
	jw_key(w, "changed");
	jw_arr(w);
	for (size_t i = 0; i < r->n; i++)
		gate_json(w, &r->v[i]);
	jw_arr_end(w);
	jw_key(w, "partial");
	jw_bool(w, r->h.partial);
	jw_obj_end(w);
}

static void idt_print(const void *res, FILE *f)
{
	const struct idt_result *r = res;
	fprintf(f, "IDT: %" PRIu32 " of %u gates present\n", r->present, KPROFILE_IDT_ENTRIES);
	for (size_t i = 0; i < r->n; i++) {
		const struct idt_gate *g = &r->v[i];
		fprintf(f, "vector 0x%02" PRIx32 ": %s -> 0x%016" PRIx64 " %s\n", g->vector,
			g->expected_sym[0] ? g->expected_sym : "(not present)", g->target,
			g->module[0] ? g->module : g->target_sym);
	}
}

static int idt_findings(const void *res, struct check_findings *out)
{
	const struct idt_result *r = res;
	for (size_t i = 0; i < r->n; i++) {
		char subject[32];
		snprintf(subject, sizeof subject, "vector 0x%02" PRIx32, r->v[i].vector);
		int rc = check_finding_jw(out, STORE_SEV_HIGH, "idt_gate_changed", subject,
					  CHECK_T_ROOTKIT, gate_json, &r->v[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void idt_release(void *res)
{
	struct idt_result *r = res;
	free(r->v);
	r->v = NULL;
}

static const int idt_members[] = { KPROFILE_OFF_module_list, KPROFILE_OFF_module_name, -1 };

const struct check_def check_idt = {
	.name = "idt",
	.summary = "interrupt descriptor table: every gate at the entry point this build's profile found",
	.needs = CHECK_NEEDS_KERNEL,
	.in_default = 1,
	.diff = STORE_DIFF_NONE,
	.members = idt_members,
	.views = KV_IDT | KV_MODULES,
	.result_size = sizeof(struct idt_result),
	.run = idt_run,
	.encode = idt_encode,
	.print = idt_print,
	.findings = idt_findings,
	.release = idt_release,
};
