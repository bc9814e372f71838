/*
 * check_bpf.c — every loaded eBPF program, from the kernel's program IDR (prog_idr: an
 * XArray of struct bpf_prog *, read level by level as the PID IDR is): id, type, name,
 * tag, attach type and the kernel function it attaches to. `sevmon bpf` lists them.
 * Programs that run in the kernel's own paths with the kernel's data in reach, kprobe,
 * tracing (fentry/fexit/fmod_ret) and LSM ones, are medium findings: an eBPF rootkit is
 * one of them, and so is a legitimate tracer, which the list lets an operator tell apart.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kchecks.h"
#include "kview.h"
#include "rbuf.h"

#define KV_MAX_BPF_PROGS 65536u
#define BPF_NAME_LEN 16u   /* BPF_OBJ_NAME_LEN */
#define BPF_TAG_LEN 8u     /* BPF_TAG_SIZE */
#define BPF_FUNC_READ 64u  /* the attach function's name: a kernel symbol */

struct kv_bpf_prog {
	uint64_t prog, aux;
	uint32_t id, type, attach_type;
	uint8_t tag[BPF_TAG_LEN];
	char name[BPF_NAME_LEN + 1];
	char func[BPF_FUNC_READ + 1];
	int read; /* its fields could be followed */
};

struct kv_bpf {
	struct kv_bpf_prog *v;
	size_t n;
	int partial;
};

struct bpf_st {
	int stage, xstage;
	struct xa_walk xa;
	uint32_t plo, phi;
	struct pbuf {
		uint8_t p[128], id[4], name[BPF_NAME_LEN], f[BPF_FUNC_READ];
		int pst, ast, fst;
	} *b;
};

/* The window [lo, hi) over members of one struct (bounded: a few dozen bytes). */
static int span(const struct kprofile_off *const *m, size_t n, uint32_t *lo, uint32_t *hi, uint32_t cap)
{
	*lo = UINT32_MAX;
	*hi = 0;
	for (size_t i = 0; i < n; i++) {
		*lo = m[i]->off < *lo ? m[i]->off : *lo;
		*hi = m[i]->off + m[i]->size > *hi ? m[i]->off + m[i]->size : *hi;
	}
	return *hi > *lo && *hi - *lo <= cap ? 0 : SEVMON_ENOTSUP;
}

static int bpf_step(struct kview *kv, void *state, struct gmem_round *q)
{
	struct bpf_st *s = state;
	const struct kprofile *p = &kv->k->p;
	static const int need[] = { KPROFILE_OFF_idr_xa_head, KPROFILE_OFF_bpf_prog_type,
		KPROFILE_OFF_bpf_prog_attach_type, KPROFILE_OFF_bpf_prog_tag, KPROFILE_OFF_bpf_prog_aux,
		KPROFILE_OFF_bpf_aux_id, KPROFILE_OFF_bpf_aux_name, KPROFILE_OFF_xa_node_shift,
		KPROFILE_OFF_xa_node_slots, -1 };
	void **slot = kview_ext(kv, KV_BPF);
	struct kv_bpf *v = *slot;
	if (!v && !(v = *slot = calloc(1, sizeof *v)))
		return SEVMON_ENOMEM;
	if (!p->sym_prog_idr || kv_need(p, need) < 0)
		return SEVMON_ENOTSUP;
	switch (s->stage) {
	case 0: { /* the IDR */
		int rc = kv_xa_step(&s->xa, p, p->sym_prog_idr + p->idr_xa_head.off, s->xstage++, q,
				    KV_MAX_BPF_PROGS);
		if (rc != 0)
			return rc;
		v->partial = s->xa.partial;
		const struct kprofile_off *pm[] = { &p->bpf_prog_type, &p->bpf_prog_attach_type,
						    &p->bpf_prog_tag, &p->bpf_prog_aux };
		if (span(pm, 4, &s->plo, &s->phi, sizeof s->b->p) < 0 || p->bpf_aux_name.size != BPF_NAME_LEN)
			return SEVMON_ENOTSUP;
		v->v = calloc(s->xa.nleaves + 1, sizeof *v->v);
		s->b = calloc(s->xa.nleaves + 1, sizeof *s->b);
		if (!v->v || !s->b)
			return SEVMON_ENOMEM;
		for (size_t i = 0; i < s->xa.nleaves; i++) {
			v->v[v->n++].prog = s->xa.leaves[i];
			gmem_round_read(q, s->xa.leaves[i] + s->plo, GMEM_VIRT, s->b[i].p, s->phi - s->plo,
					&s->b[i].pst);
		}
		s->stage = 1;
		return 1;
	}
	case 1: /* each program's aux: id, name, attach function */
		for (size_t i = 0; i < v->n; i++) {
			struct kv_bpf_prog *e = &v->v[i];
			const uint8_t *b = s->b[i].p;
			if (s->b[i].pst < 0) {
				v->partial = 1;
				continue;
			}
			e->type = load_le32(b + p->bpf_prog_type.off - s->plo);
			e->attach_type = load_le32(b + p->bpf_prog_attach_type.off - s->plo);
			memcpy(e->tag, b + p->bpf_prog_tag.off - s->plo, BPF_TAG_LEN);
			e->aux = load_le64(b + p->bpf_prog_aux.off - s->plo);
			if (!kv_kaddr(e->aux)) {
				v->partial = 1;
				continue;
			}
			gmem_round_read(q, e->aux + p->bpf_aux_id.off, GMEM_VIRT, s->b[i].id, 4, &s->b[i].ast);
			gmem_round_read(q, e->aux + p->bpf_aux_name.off, GMEM_VIRT, s->b[i].name, BPF_NAME_LEN,
					&s->b[i].ast);
			if (!kprofile_missing(p, KPROFILE_OFF_bpf_aux_attach_func_name))
				gmem_round_read(q, e->aux + p->bpf_aux_attach_func_name.off, GMEM_VIRT,
						s->b[i].f, 8, &s->b[i].fst);
		}
		s->stage = 2;
		return 1;
	case 2: /* the attach function's name */
		for (size_t i = 0; i < v->n; i++) {
			struct kv_bpf_prog *e = &v->v[i];
			if (s->b[i].pst < 0 || !kv_kaddr(e->aux))
				continue;
			if (s->b[i].ast < 0) {
				v->partial = 1;
				continue;
			}
			e->id = load_le32(s->b[i].id);
			kcopy_name(e->name, s->b[i].name, BPF_NAME_LEN);
			e->read = 1;
			uint64_t fn = s->b[i].fst == 0 ? load_le64(s->b[i].f) : 0;
			s->b[i].fst = 1;
			if (kv_kaddr(fn))
				gmem_round_read(q, fn, GMEM_VIRT, s->b[i].f, BPF_FUNC_READ, &s->b[i].fst);
		}
		s->stage = 3;
		return 1;
	default:
		for (size_t i = 0; i < v->n; i++)
			if (v->v[i].read && s->b[i].fst == 0)
				kcopy_name(v->v[i].func, s->b[i].f, BPF_FUNC_READ);
		return 0;
	}
}

static void bpf_release(struct kview *kv, void *state)
{
	struct bpf_st *s = state;
	(void)kv;
	kv_xa_free(&s->xa);
	free(s->b);
}

static void bpf_free(struct kview *kv, unsigned part)
{
	void **slot = kview_ext(kv, part);
	struct kv_bpf *v = *slot;
	if (v)
		free(v->v);
	free(v);
	*slot = NULL;
}

const struct kview_loader_ops kv_bpf_ops = {
	.part = KV_BPF, .state_size = sizeof(struct bpf_st), .step = bpf_step, .release = bpf_release,
	.free_data = bpf_free,
};

/* ---- the check ----------------------------------------------------------------------- */

struct bpf_result {
	struct check_result h;
	struct kv_bpf_prog *v;
	size_t n;
	char (*tname)[32]; /* each program's type, named */
	int *finding;
};

/* The program type's name ("kprobe"), from the enumerators the profile keeps. */
static void type_name(const struct kprofile *p, uint32_t t, char *buf, size_t cap)
{
	static const char pre[] = "BPF_PROG_TYPE_";
	for (int i = 0; i < KPROFILE_NENUMS; i++) {
		const char *n = kprofile_enum_name(i);
		if (p->enums[i] != KPROFILE_NO_VALUE && p->enums[i] == (int64_t)t &&
		    !strncmp(n, pre, sizeof pre - 1)) {
			size_t j = 0;
			for (const char *c = n + sizeof pre - 1; *c && j + 1 < cap; c++)
				buf[j++] = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
			buf[j] = '\0';
			return;
		}
	}
	snprintf(buf, cap, "type %" PRIu32, t);
}

static int is_finding(const struct kprofile *p, uint32_t t)
{
	const int kinds[] = { KPROFILE_ENUM_BPF_PROG_TYPE_KPROBE, KPROFILE_ENUM_BPF_PROG_TYPE_TRACING,
			      KPROFILE_ENUM_BPF_PROG_TYPE_LSM };
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (p->enums[kinds[i]] != KPROFILE_NO_VALUE && p->enums[kinds[i]] == (int64_t)t)
			return 1;
	return 0;
}

static int bpf_run(const struct check_env *env, void *res)
{
	struct bpf_result *r = res;
	int rc = kview_load(env->kv, KV_BPF);
	if (rc < 0)
		return rc;
	const struct kv_bpf *v = *kview_ext(env->kv, KV_BPF);
	r->h.partial = v->partial;
	r->v = calloc(v->n + 1, sizeof *r->v);
	r->tname = calloc(v->n + 1, sizeof *r->tname);
	r->finding = calloc(v->n + 1, sizeof *r->finding);
	if (!r->v || !r->tname || !r->finding)
		return SEVMON_ENOMEM;
	for (size_t i = 0; i < v->n; i++) {
		if (!v->v[i].read)
			continue;
		r->v[r->n] = v->v[i];
		type_name(&env->k->p, v->v[i].type, r->tname[r->n], sizeof r->tname[r->n]);
		r->finding[r->n] = is_finding(&env->k->p, v->v[i].type);
		r->n++;
	}
	return 0;
}

static void prog_json(struct jw *w, const struct bpf_result *r, size_t i)
{
	const struct kv_bpf_prog *e = &r->v[i];
	jw_obj(w);
	jw_key(w, "id");
	jw_uint(w, e->id);
	jw_key(w, "type");
	jw_str(w, r->tname[i]);
	jw_key(w, "name");
	jw_str(w, e->name);
	jw_key(w, "tag");
	jw_hexbytes(w, e->tag, BPF_TAG_LEN);
	jw_key(w, "attach_type");
	jw_uint(w, e->attach_type);
	jw_key(w, "attach_func");
	if (e->func[0])
		jw_str(w, e->func);
	else
		jw_null(w);
	jw_key(w, "prog");
	jw_hex(w, e->prog);
	jw_obj_end(w);
}

static void bpf_encode(const void *res, struct jw *w)
{
	const struct bpf_result *r = res;
	jw_obj(w);
	jw_key(w, "programs");
	jw_arr(w);
	for (size_t i = 0; i < r->n; i++)
		prog_json(w, r, i);
	jw_arr_end(w);
	jw_key(w, "partial");
	jw_bool(w, r->h.partial);
	jw_obj_end(w);
}

static void bpf_print(const void *res, FILE *f)
{
	const struct bpf_result *r = res;
	fprintf(f, "%6s %-16s %-16s %-16s %s\n", "ID", "TYPE", "NAME", "TAG", "ATTACH");
	for (size_t i = 0; i < r->n; i++) {
		const struct kv_bpf_prog *e = &r->v[i];
		char name[BPF_NAME_LEN + 1];
		ksafe_copy(name, sizeof name, e->name);
		fprintf(f, "%6" PRIu32 " %-16s %-16s ", e->id, r->tname[i], name);
		for (size_t k = 0; k < BPF_TAG_LEN; k++)
			fprintf(f, "%02x", e->tag[k]);
		fprintf(f, " %s\n", e->func[0] ? e->func : "-");
	}
	if (r->h.partial)
		fprintf(f, "(partial: the program IDR or a program could not be read whole)\n");
}

struct prog_arg {
	const struct bpf_result *r;
	size_t i;
};

static void prog_detail(struct jw *w, const void *arg)
{
	const struct prog_arg *a = arg;
	prog_json(w, a->r, a->i);
}

static int bpf_findings(const void *res, struct check_findings *out)
{
	const struct bpf_result *r = res;
	for (size_t i = 0; i < r->n; i++) {
		if (!r->finding[i])
			continue;
		char subject[96];
		snprintf(subject, sizeof subject, "%" PRIu32 ":%s %s", r->v[i].id, r->v[i].name, r->tname[i]);
		const struct prog_arg a = { r, i };
		int rc = check_finding_jw(out, STORE_SEV_MEDIUM, "bpf_program", subject, CHECK_T_ROOTKIT,
					  prog_detail, &a);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void bpf_release_res(void *res)
{
	struct bpf_result *r = res;
	free(r->v);
	free(r->tname);
	free(r->finding);
	r->v = NULL;
	r->tname = NULL;
	r->finding = NULL;
}

const struct check_def check_bpf = {
	.name = "bpf",
	.summary = "loaded eBPF programs (prog IDR): type, name, tag, attach point; kprobe/tracing/LSM ones are findings",
	.needs = CHECK_NEEDS_KERNEL,
	.in_default = 1,
	.diff = STORE_DIFF_NONE,
	.views = KV_BPF,
	.result_size = sizeof(struct bpf_result),
	.run = bpf_run,
	.encode = bpf_encode,
	.print = bpf_print,
	.findings = bpf_findings,
	.release = bpf_release_res,
};
