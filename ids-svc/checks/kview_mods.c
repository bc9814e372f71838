/*
 * kview_mods.c — the views of what is loaded (kview.h): the module list, the module kset
 * (the kobjects behind /sys/module), and struct module carved from module-area memory
 * that no listed module owns.
 *
 * Carving: every module's memory comes from the vmalloc allocator in the module mapping
 * space, so the allocator's list of busy areas (vmap_area_list; since 6.9 one list per
 * vmap node) holds the blocks of a module that unlinked itself from every list. Blocks no
 * listed module's regions overlap are read (bounded in number and size: BPF program packs
 * and ftrace/kprobe trampolines live there too) and searched, at struct module's 64-byte
 * alignment, for a struct module that points at itself (mkobj.mod), has a module name and
 * a module state: such a one is a module the module list does not have.
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kchecks.h"
#include "kview.h"
#include "rbuf.h"

/* The window over every region's base and size: [lo, hi) of struct module. */
static int regions_span(const struct kprofile *p, uint32_t *lo, uint32_t *hi)
{
	if (!p->module_nregions)
		return SEVMON_ENOTSUP;
	*lo = UINT32_MAX;
	*hi = 0;
	for (uint32_t i = 0; i < p->module_nregions; i++) {
		uint32_t b = p->module_region_base[i], s = p->module_region_size[i];
		uint32_t l = p->module_region_size_len;
		*lo = b < *lo ? b : *lo;
		*lo = s < *lo ? s : *lo;
		*hi = b + 8 > *hi ? b + 8 : *hi;
		*hi = s + l > *hi ? s + l : *hi;
	}
	return *hi - *lo <= GMEM_WALK_MAX_STRIDE / 2 ? 0 : SEVMON_ENOTSUP;
}

/* A module's regions from the bytes of the span window (at lo). */
static void regions_parse(const struct kprofile *p, const uint8_t *d, uint32_t lo, struct kv_module *m)
{
	m->nr = 0;
	for (uint32_t i = 0; i < p->module_nregions; i++) {
		uint64_t base = load_le64(d + p->module_region_base[i] - lo);
		const uint8_t *sz = d + p->module_region_size[i] - lo;
		uint64_t size = p->module_region_size_len == 8 ? load_le64(sz) : load_le32(sz);
		m->r[m->nr++] = (struct kv_region){ .base = base, .size = size };
	}
}

/* ---- the module list ----------------------------------------------------------------- */

struct mods_st {
	struct gmem_walk_out wo; /* first: kv_release_walk */
	int stage, st;
	uint32_t lo, hi;
	struct gmem_window w[3];
	struct gmem_walk_req req;
};

static int mods_step(struct kview *kv, void *state, struct gmem_round *q)
{
	struct mods_st *s = state;
	const struct kprofile *p = &kv->k->p;
	if (s->stage++ == 0) {
		int rc = regions_span(p, &s->lo, &s->hi);
		if (rc < 0)
			return rc;
		s->w[0] = (struct gmem_window){ .off = p->module_name.off, .len = p->module_name.size };
		s->w[1] = (struct gmem_window){ .off = p->module_state.off, .len = 4 };
		s->w[2] = (struct gmem_window){ .off = s->lo, .len = s->hi - s->lo };
		s->req = (struct gmem_walk_req){ .head = p->sym_modules, .next_off = p->list_head_next.off,
			.link_off = p->module_list.off, .win = s->w, .nwin = 3,
			.max_nodes = KV_MAX_MODULES, .space = GMEM_VIRT };
		if ((rc = kv_walk_alloc(&s->wo, &s->req)) < 0)
			return rc;
		gmem_round_walk(q, &s->req, &s->wo, &s->st);
		return 1;
	}
	if (s->st < 0)
		return s->st;
	struct kv_modules *m = &kv->modules;
	size_t stride = gmem_walk_stride(&s->req);
	m->v = calloc(s->wo.n ? s->wo.n : 1, sizeof *m->v);
	if (!m->v)
		return SEVMON_ENOMEM;
	for (size_t i = 0; i < s->wo.n; i++) {
		const uint8_t *d = s->wo.data + i * stride;
		struct kv_module *e = &m->v[m->n++];
		e->addr = s->wo.nodes[i];
		kcopy_name(e->name, d, p->module_name.size);
		e->state = (int32_t)load_le32(d + p->module_name.size);
		regions_parse(p, d + p->module_name.size + 4, s->lo, e);
	}
	m->partial = s->wo.stop != GMEM_STOP_HEAD;
	return 0;
}

static void mods_free(struct kview *kv, unsigned part)
{
	(void)part;
	free(kv->modules.v);
	free(kv->kset.v);
	free(kv->carve.v);
}

const struct kview_loader_ops kv_modules_ops = {
	.part = KV_MODULES, .state_size = sizeof(struct mods_st), .step = mods_step,
	.release = kv_release_walk, .free_data = mods_free,
};

/* ---- /sys/module: the module kset ----------------------------------------------------- */

struct kset_st {
	struct gmem_walk_out wo; /* first: kv_release_walk */
	int stage, st;
	uint8_t ptr[8];
	struct gmem_window w[2];
	struct gmem_walk_req req;
};

static int kset_step(struct kview *kv, void *state, struct gmem_round *q)
{
	struct kset_st *s = state;
	const struct kprofile *p = &kv->k->p;
	static const int need[] = { KPROFILE_OFF_kset_list, KPROFILE_OFF_kobject_entry,
		KPROFILE_OFF_kobject_name, KPROFILE_OFF_mkobj_mod, KPROFILE_OFF_mkobj_kobj, -1 };
	if (!p->sym_module_kset || kv_need(p, need) < 0)
		return SEVMON_ENOTSUP;
	switch (s->stage++) {
	case 0:
		gmem_round_read(q, p->sym_module_kset, GMEM_VIRT, s->ptr, 8, &s->st);
		return 1;
	case 1: {
		if (s->st < 0)
			return s->st;
		uint64_t kset = load_le64(s->ptr);
		if (!kv_kaddr(kset))
			return SEVMON_EDECODE;
		/* nodes are struct module_kobject: its kobj's entry is the link */
		s->w[0] = (struct gmem_window){ .off = p->mkobj_mod.off, .len = 8 };
		s->w[1] = (struct gmem_window){ .off = p->mkobj_kobj.off + p->kobject_name.off, .len = 8,
			.deref = 1, .deref_off = 0, .deref_len = KMOD_NAME_LEN };
		s->req = (struct gmem_walk_req){ .head = kset + p->kset_list.off,
			.next_off = p->list_head_next.off,
			.link_off = p->mkobj_kobj.off + p->kobject_entry.off, .win = s->w, .nwin = 2,
			.max_nodes = KV_MAX_MODULES, .space = GMEM_VIRT };
		int rc = kv_walk_alloc(&s->wo, &s->req);
		if (rc < 0)
			return rc;
		gmem_round_walk(q, &s->req, &s->wo, &s->st);
		return 1;
	}
	default: {
		if (s->st < 0)
			return s->st;
		struct kv_kset *k = &kv->kset;
		size_t stride = gmem_walk_stride(&s->req);
		k->v = calloc(s->wo.n ? s->wo.n : 1, sizeof *k->v);
		if (!k->v)
			return SEVMON_ENOMEM;
		for (size_t i = 0; i < s->wo.n; i++) {
			const uint8_t *d = s->wo.data + i * stride;
			struct kv_kobj *e = &k->v[k->n++];
			e->kobj = s->wo.nodes[i];
			e->mod = load_le64(d);
			kcopy_name(e->name, d + 16, KMOD_NAME_LEN);
			if (s->wo.faults[i])
				k->partial = 1; /* a name we could not read */
		}
		k->partial |= s->wo.stop != GMEM_STOP_HEAD;
		return 0;
	}
	}
}

const struct kview_loader_ops kv_kset_ops = {
	.part = KV_KSET, .state_size = sizeof(struct kset_st), .step = kset_step,
	.release = kv_release_walk,
};

/* ---- carving ------------------------------------------------------------------------- */

#define PAGE 4096u

struct carve_block {
	uint64_t start, len;
	uint8_t *b;
	int *st; /* one per page */
};

struct carve_st {
	int stage;
	uint8_t nodes_ptr[8], nodes_n[4];
	int st_ptr, st_n;
	struct gmem_window w[2];
	struct carve_walk {
		struct gmem_walk_req req;
		struct gmem_walk_out wo;
		int st;
	} *walk;
	uint32_t nwalk;
	struct carve_block *blk;
	size_t nblk;
};

/* Queue the walks of the allocator's busy lists. */
static int carve_walks(struct kview *kv, struct carve_st *s, struct gmem_round *q,
		       const uint64_t *heads, uint32_t n)
{
	const struct kprofile *p = &kv->k->p;
	s->w[0] = (struct gmem_window){ .off = p->vmap_area_start.off, .len = 8 };
	s->w[1] = (struct gmem_window){ .off = p->vmap_area_end.off, .len = 8 };
	if (!(s->walk = calloc(n, sizeof *s->walk)))
		return SEVMON_ENOMEM;
	s->nwalk = n;
	for (uint32_t i = 0; i < n; i++) {
		struct carve_walk *w = &s->walk[i];
		w->req = (struct gmem_walk_req){ .head = heads[i], .next_off = p->list_head_next.off,
			.link_off = p->vmap_area_list.off, .win = s->w, .nwin = 2,
			.max_nodes = KV_MAX_VMAP_AREAS, .space = GMEM_VIRT };
		int rc = kv_walk_alloc(&w->wo, &w->req);
		if (rc < 0)
			return rc;
		gmem_round_walk(q, &w->req, &w->wo, &w->st);
	}
	return 1;
}

/* Does a listed module own part of [a, a + len)? */
static int owned(const struct kview *kv, uint64_t a, uint64_t len)
{
	for (size_t i = 0; i < kv->modules.n; i++) {
		const struct kv_module *m = &kv->modules.v[i];
		for (uint32_t j = 0; j < m->nr; j++)
			if (m->r[j].size && a < m->r[j].base + m->r[j].size && m->r[j].base < a + len)
				return 1;
	}
	return 0;
}

/* Select the unowned module-area blocks and queue their pages. */
static int carve_select(struct kview *kv, struct carve_st *s, struct gmem_round *q)
{
	struct kv_carve *c = &kv->carve;
	size_t total = 0, bytes = 0;
	for (uint32_t i = 0; i < s->nwalk; i++) {
		if (s->walk[i].st < 0 || s->walk[i].wo.stop != GMEM_STOP_HEAD)
			c->partial = 1;
		total += s->walk[i].st < 0 ? 0 : s->walk[i].wo.n;
	}
	s->blk = calloc(KV_MAX_CARVE_BLOCKS, sizeof *s->blk);
	if (!s->blk)
		return SEVMON_ENOMEM;
	for (uint32_t i = 0; i < s->nwalk; i++) {
		const struct carve_walk *w = &s->walk[i];
		for (size_t j = 0; w->st == 0 && j < w->wo.n; j++) {
			uint64_t a = load_le64(w->wo.data + 16 * j), e = load_le64(w->wo.data + 16 * j + 8);
			if (a < KV_MODULES_VADDR || e > KV_MODULES_END || e <= a)
				continue;
			if (owned(kv, a, e - a))
				continue;
			c->blocks++;
			/* the last page is the guard page of a vmalloc area */
			uint64_t len = e - a > PAGE ? e - a - PAGE : e - a;
			if (len > KV_MAX_CARVE_BLOCK)
				continue; /* a BPF program pack (2 MiB): counted, not carved */
			if (s->nblk == KV_MAX_CARVE_BLOCKS || bytes + len > KV_MAX_CARVE_BYTES) {
				c->partial = 1;
				continue;
			}
			struct carve_block *b = &s->blk[s->nblk];
			size_t pages = (size_t)(len + PAGE - 1) / PAGE;
			b->start = a;
			b->len = len;
			b->b = calloc(1, (size_t)len);
			b->st = calloc(pages, sizeof *b->st);
			if (!b->b || !b->st)
				return SEVMON_ENOMEM;
			s->nblk++;
			bytes += len;
			/* page by page: a page that is not mapped fails alone */
			for (size_t pg = 0; pg < pages; pg++) {
				uint64_t off = (uint64_t)pg * PAGE;
				size_t n = len - off < PAGE ? (size_t)(len - off) : PAGE;
				gmem_round_read(q, a + off, GMEM_VIRT, b->b + off, n, &b->st[pg]);
			}
		}
	}
	(void)total;
	c->blocks_read = s->nblk;
	return 1;
}

static int name_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '-'))
			return 0;
	return 1;
}

static int state_ok(const struct kprofile *p, int64_t v)
{
	for (int i = 0; i < KPROFILE_NMODULE_STATES; i++)
		if (p->mod_states[i] != KPROFILE_NO_VALUE && p->mod_states[i] == v)
			return 1;
	return 0;
}

/* struct module candidates in one block (see the top of this file). */
static int carve_block(struct kview *kv, const struct carve_block *b)
{
	const struct kprofile *p = &kv->k->p;
	struct kv_carve *c = &kv->carve;
	uint32_t lo, hi, self = p->module_mkobj.off + p->mkobj_mod.off;
	if (regions_span(p, &lo, &hi) < 0)
		return 0;
	uint32_t need = hi;
	need = self + 8 > need ? self + 8 : need;
	need = p->module_name.off + p->module_name.size > need ? p->module_name.off + p->module_name.size : need;
	need = p->module_state.off + 4 > need ? p->module_state.off + 4 : need;
	for (uint64_t o = 0; o + need <= b->len; o += 64) {
		const uint8_t *m = b->b + o;
		uint64_t at = b->start + o;
		size_t pg0 = (size_t)(o / PAGE), pg1 = (size_t)((o + need - 1) / PAGE);
		if (b->st[pg0] < 0 || b->st[pg1] < 0)
			continue;
		if (load_le64(m + self) != at)
			continue;
		struct kv_module mod = { .addr = at };
		kcopy_name(mod.name, m + p->module_name.off, p->module_name.size);
		mod.state = (int32_t)load_le32(m + p->module_state.off);
		if (!name_ok(mod.name) || !state_ok(p, mod.state))
			continue;
		regions_parse(p, m + lo, lo, &mod);
		if (kview_module_listed(kv, at) || c->n >= KV_MAX_CARVE_BLOCKS)
			continue;
		struct kv_carved *v = realloc(c->v, (c->n + 1) * sizeof *v);
		if (!v)
			return SEVMON_ENOMEM;
		c->v = v;
		c->v[c->n++] = (struct kv_carved){ .m = mod, .block = b->start, .block_size = b->len };
	}
	return 0;
}

static int carve_step(struct kview *kv, void *state, struct gmem_round *q)
{
	struct carve_st *s = state;
	const struct kprofile *p = &kv->k->p;
	static const int need[] = { KPROFILE_OFF_vmap_area_start, KPROFILE_OFF_vmap_area_end,
		KPROFILE_OFF_vmap_area_list, KPROFILE_OFF_module_mkobj, KPROFILE_OFF_mkobj_mod, -1 };
	if (kv_need(p, need) < 0)
		return SEVMON_ENOTSUP;
	switch (s->stage) {
	case 0:
		if (p->sym_vmap_area_list) { /* before 6.9: one list */
			s->stage = 2;
			return carve_walks(kv, s, q, &p->sym_vmap_area_list, 1);
		}
		if (!p->sym_vmap_nodes || !p->sym_nr_vmap_nodes || !p->size_vmap_node ||
		    kprofile_missing(p, KPROFILE_OFF_vmap_node_busy_head))
			return SEVMON_ENOTSUP;
		gmem_round_read(q, p->sym_vmap_nodes, GMEM_VIRT, s->nodes_ptr, 8, &s->st_ptr);
		gmem_round_read(q, p->sym_nr_vmap_nodes, GMEM_VIRT, s->nodes_n, 4, &s->st_n);
		s->stage = 1;
		return 1;
	case 1: { /* 6.9+: a list per vmap node */
		if (s->st_ptr < 0 || s->st_n < 0)
			return s->st_ptr < 0 ? s->st_ptr : s->st_n;
		uint64_t nodes = load_le64(s->nodes_ptr);
		uint32_t n = load_le32(s->nodes_n);
		if (!kv_kaddr(nodes) || !n)
			return SEVMON_EDECODE;
		if (n > KV_MAX_VMAP_NODES) {
			n = KV_MAX_VMAP_NODES;
			kv->carve.partial = 1;
		}
		uint64_t heads[KV_MAX_VMAP_NODES];
		for (uint32_t i = 0; i < n; i++)
			heads[i] = nodes + (uint64_t)i * p->size_vmap_node + p->vmap_node_busy_head.off;
		s->stage = 2;
		return carve_walks(kv, s, q, heads, n);
	}
	case 2: /* which blocks nobody owns: the module list must be in */
		if (!(kv->loaded & KV_MODULES))
			return kv->failed & KV_MODULES ? SEVMON_EPARTIAL : 1;
		s->stage = 3;
		return carve_select(kv, s, q);
	default:
		for (size_t i = 0; i < s->nblk; i++) {
			int rc = carve_block(kv, &s->blk[i]);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
}

static void carve_release(struct kview *kv, void *state)
{
	struct carve_st *s = state;
	(void)kv;
	for (uint32_t i = 0; s->walk && i < s->nwalk; i++)
		kwalk_free(&s->walk[i].wo);
	free(s->walk);
	for (size_t i = 0; s->blk && i < s->nblk; i++) {
		free(s->blk[i].b);
		free(s->blk[i].st);
	}
	free(s->blk);
}

const struct kview_loader_ops kv_carve_ops = {
	.part = KV_CARVE, .state_size = sizeof(struct carve_st), .step = carve_step,
	.release = carve_release,
};
