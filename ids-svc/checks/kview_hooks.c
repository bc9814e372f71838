/*
 * kview_hooks.c — the kernel's hook points, as views (kview.h): every callback the kernel
 * will call that something registered or wrote, with where it is registered.
 *   ftrace     ftrace_ops_list: each ops' func (and trampoline)
 *   kprobes    kprobe_table (KPROBE_TABLE_SIZE chains): each kprobe's pre/post handlers,
 *              the members of an aggregated probe, a kretprobe's handlers
 *   netfilter  init_net's hook entries per family and hook
 *   notifiers  the keyboard notifier chain
 *   seq_ops    tcp4/tcp6/udp/udp6_seq_ops: what /proc/net/{tcp,tcp6,udp,udp6} print with
 *   proc fops  every procfs superblock's root inode's file operations
 * The hooks check (check_hooks.c) reports those outside core kernel text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kchecks.h"
#include "kview.h"
#include "rbuf.h"

/* kprobe_table has 1 << KPROBE_HASH_BITS chains (6 since kprobes came to Linux). */
#define KPROBE_TABLE_SIZE 64u
/* Callbacks a part keeps: a hook list is short in a healthy kernel. */
#define KV_MAX_HOOKS 4096u
/* Entries of one netfilter hook read at once (MAX_HOOK_COUNT is 1024). */
#define NF_FIRST_READ 64u
#define NF_MAX_ENTRIES 1024u

static int hook_add(struct kv_hooks *h, const struct kv_hook *x)
{
	if (h->n >= KV_MAX_HOOKS) {
		h->partial = 1;
		return 0;
	}
	if (h->n == h->cap) {
		size_t c = h->cap ? h->cap * 2 : 16;
		struct kv_hook *v = realloc(h->v, c * sizeof *v);
		if (!v)
			return SEVMON_ENOMEM;
		h->v = v;
		h->cap = c;
	}
	h->v[h->n++] = *x;
	return 0;
}

static struct kv_hooks *hooks_of(struct kview *kv, unsigned part)
{
	void **slot = kview_ext(kv, part);
	if (!*slot)
		*slot = calloc(1, sizeof(struct kv_hooks));
	return *slot;
}

void kv_hooks_free(struct kview *kv, unsigned part)
{
	void **slot = kview_ext(kv, part);
	struct kv_hooks *h = *slot;
	if (h)
		free(h->v);
	free(h);
	*slot = NULL;
}

/* ---- ftrace ---------------------------------------------------------------------------- */

struct ftrace_st {
	struct gmem_walk_out wo; /* first: kv_release_walk */
	int stage, st;
	struct gmem_window w[3];
	struct gmem_walk_req req;
};

static int ftrace_step(struct kview *kv, void *state, struct gmem_round *q)
{
	struct ftrace_st *s = state;
	const struct kprofile *p = &kv->k->p;
	static const int need[] = { KPROFILE_OFF_ftrace_ops_func, KPROFILE_OFF_ftrace_ops_next,
		KPROFILE_OFF_ftrace_ops_flags, KPROFILE_OFF_ftrace_ops_trampoline, -1 };
	struct kv_hooks *h = hooks_of(kv, KV_FTRACE);
	if (!h)
		return SEVMON_ENOMEM;
	if (!p->sym_ftrace_ops_list || kv_need(p, need) < 0)
		return SEVMON_ENOTSUP;
	if (s->stage++ == 0) {
		/* ftrace_ops_list points at the first ops; each ops' next at the following one;
		 * ftrace_list_end (next NULL) ends it */
		s->w[0] = (struct gmem_window){ .off = p->ftrace_ops_func.off, .len = 8 };
		s->w[1] = (struct gmem_window){ .off = p->ftrace_ops_flags.off, .len = 8 };
		s->w[2] = (struct gmem_window){ .off = p->ftrace_ops_trampoline.off, .len = 8 };
		s->req = (struct gmem_walk_req){ .head = p->sym_ftrace_ops_list - p->ftrace_ops_next.off,
			.next_off = p->ftrace_ops_next.off, .link_off = 0, .win = s->w, .nwin = 3,
			.max_nodes = KV_MAX_HOOKS, .space = GMEM_VIRT };
		int rc = kv_walk_alloc(&s->wo, &s->req);
		if (rc < 0)
			return rc;
		gmem_round_walk(q, &s->req, &s->wo, &s->st);
		return 1;
	}
	if (s->st < 0)
		return s->st;
	h->partial = s->wo.stop != GMEM_STOP_NULL && s->wo.stop != GMEM_STOP_HEAD;
	for (size_t i = 0; i < s->wo.n; i++) {
		const uint8_t *d = s->wo.data + i * 24;
		if (s->wo.nodes[i] == p->sym_ftrace_list_end)
			continue;
		struct kv_hook x = { .kind = KV_HOOK_FTRACE, .where = s->wo.nodes[i],
			.fn = load_le64(d), .flags = load_le64(d + 8), .fn2 = load_le64(d + 16) };
		snprintf(x.label, sizeof x.label, "ftrace_ops 0x%llx", (unsigned long long)x.where);
		int rc = hook_add(h, &x);
		if (rc < 0)
			return rc;
	}
	return 0;
}

const struct kview_loader_ops kv_ftrace_ops = {
	.part = KV_FTRACE, .state_size = sizeof(struct ftrace_st), .step = ftrace_step,
	.release = kv_release_walk, .free_data = kv_hooks_free,
};

/* ---- kprobes --------------------------------------------------------------------------- */

enum { KW_ADDR, KW_PRE, KW_POST, KW_NAME };
#define KPROBE_NAME_READ 64u

struct kp_walk {
	struct gmem_walk_req req;
	struct gmem_walk_out wo;
	int st;
};

struct kprobes_st {
	int stage;
	uint8_t table[KPROBE_TABLE_SIZE * 8];
	int st;
	struct gmem_window w[4];
	struct kp_walk chain[KPROBE_TABLE_SIZE];
	struct kp_walk *aggr;  /* the members of aggregated probes */
	size_t naggr;
	struct kret {
		size_t hook;       /* index in the part's hooks */
		uint8_t b[16];
		int st;
	} *kret;
	size_t nkret;
};

static void kp_windows(const struct kprofile *p, struct gmem_window *w)
{
	w[KW_ADDR] = (struct gmem_window){ .off = p->kprobe_addr.off, .len = 8 };
	w[KW_PRE] = (struct gmem_window){ .off = p->kprobe_pre_handler.off, .len = 8 };
	w[KW_POST] = (struct gmem_window){ .off = p->kprobe_post_handler.off, .len = 8 };
	w[KW_NAME] = (struct gmem_window){ .off = p->kprobe_symbol_name.off, .len = 8, .deref = 1,
		.deref_off = 0, .deref_len = KPROBE_NAME_READ };
}

/* The probes one walk found; aggregated ones are walked next (their members). */
static int kp_take(struct kview *kv, struct kprobes_st *s, struct kv_hooks *h, struct kp_walk *w,
		   struct gmem_round *q, int members)
{
	const struct kprofile *p = &kv->k->p;
	size_t stride = gmem_walk_stride(&w->req);
	if (w->st < 0) {
		h->partial = 1;
		return 0;
	}
	if (w->wo.stop != GMEM_STOP_NULL && w->wo.stop != GMEM_STOP_HEAD)
		h->partial = 1;
	for (size_t i = 0; i < w->wo.n; i++) {
		const uint8_t *d = w->wo.data + i * stride;
		struct kv_hook x = { .kind = KV_HOOK_KPROBE, .where = w->wo.nodes[i],
			.at = load_le64(d), .fn = load_le64(d + 8), .fn2 = load_le64(d + 16) };
		if (!(w->wo.faults[i] & (1u << KW_NAME)))
			kcopy_name(x.label, d + 32, KPROBE_NAME_READ < sizeof x.label - 1 ?
						      KPROBE_NAME_READ : sizeof x.label - 1);
		if (!members && p->sym_aggr_pre_handler && x.fn == p->sym_aggr_pre_handler) {
			/* an aggregate: its probes hang on its list */
			struct kp_walk *a = realloc(s->aggr, (s->naggr + 1) * sizeof *a);
			if (!a)
				return SEVMON_ENOMEM;
			s->aggr = a;
			a = &s->aggr[s->naggr++];
			memset(a, 0, sizeof *a);
			a->req = (struct gmem_walk_req){ .head = x.where + p->kprobe_list.off,
				.next_off = p->list_head_next.off, .link_off = p->kprobe_list.off,
				.win = s->w, .nwin = 4, .max_nodes = KV_MAX_HOOKS, .space = GMEM_VIRT };
			int rc = kv_walk_alloc(&a->wo, &a->req);
			if (rc < 0)
				return rc;
			gmem_round_walk(q, &a->req, &a->wo, &a->st);
			continue;
		}
		if (p->sym_pre_handler_kretprobe && x.fn == p->sym_pre_handler_kretprobe &&
		    !kprofile_missing(p, KPROFILE_OFF_kretprobe_handler)) {
			/* a kretprobe: its handlers are in the struct kretprobe around it */
			x.kind = KV_HOOK_KRETPROBE;
			struct kret *k = realloc(s->kret, (s->nkret + 1) * sizeof *k);
			if (!k)
				return SEVMON_ENOMEM;
			s->kret = k;
			k = &s->kret[s->nkret++];
			k->hook = h->n;
			uint64_t rp = x.where - p->kretprobe_kp.off;
			gmem_round_read(q, rp + p->kretprobe_handler.off, GMEM_VIRT, k->b, 8, &k->st);
			gmem_round_read(q, rp + p->kretprobe_entry_handler.off, GMEM_VIRT, k->b + 8, 8, &k->st);
		}
		int rc = hook_add(h, &x);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int kprobes_step(struct kview *kv, void *state, struct gmem_round *q)
{
	struct kprobes_st *s = state;
	const struct kprofile *p = &kv->k->p;
	static const int need[] = { KPROFILE_OFF_kprobe_hlist, KPROFILE_OFF_kprobe_list,
		KPROFILE_OFF_kprobe_addr, KPROFILE_OFF_kprobe_symbol_name, KPROFILE_OFF_kprobe_pre_handler,
		KPROFILE_OFF_kprobe_post_handler, KPROFILE_OFF_kretprobe_kp, -1 };
	struct kv_hooks *h = hooks_of(kv, KV_KPROBES);
	if (!h)
		return SEVMON_ENOMEM;
	if (!p->sym_kprobe_table || kv_need(p, need) < 0)
		return SEVMON_ENOTSUP;
	switch (s->stage++) {
	case 0:
		gmem_round_read(q, p->sym_kprobe_table, GMEM_VIRT, s->table, sizeof s->table, &s->st);
		return 1;
	case 1: /* each chain: hlist_head.first, then hlist_node.next (both at 0) */
		if (s->st < 0)
			return s->st;
		kp_windows(p, s->w);
		for (uint32_t i = 0; i < KPROBE_TABLE_SIZE; i++) {
			struct kp_walk *w = &s->chain[i];
			w->st = 1; /* an empty chain is not walked */
			if (!load_le64(s->table + 8 * i))
				continue;
			w->req = (struct gmem_walk_req){ .head = p->sym_kprobe_table + 8 * i, .next_off = 0,
				.link_off = p->kprobe_hlist.off, .win = s->w, .nwin = 4,
				.max_nodes = KV_MAX_HOOKS, .space = GMEM_VIRT };
			int rc = kv_walk_alloc(&w->wo, &w->req);
			if (rc < 0)
				return rc;
			gmem_round_walk(q, &w->req, &w->wo, &w->st);
		}
		return 1;
	case 2: /* the probes; aggregates' members and kretprobes' handlers are read next */
		for (uint32_t i = 0; i < KPROBE_TABLE_SIZE; i++) {
			if (s->chain[i].st == 1)
				continue;
			int rc = kp_take(kv, s, h, &s->chain[i], q, 0);
			if (rc < 0)
				return rc;
		}
		return 1;
	case 3: /* the members of aggregates (their kretprobes' handlers: one more round) */
		for (size_t i = 0; i < s->naggr; i++) {
			int rc = kp_take(kv, s, h, &s->aggr[i], q, 1);
			if (rc < 0)
				return rc;
		}
		return 1;
	default:
		for (size_t i = 0; i < s->nkret; i++) {
			struct kv_hook *x = &h->v[s->kret[i].hook];
			if (s->kret[i].st < 0) {
				h->partial = 1;
				continue;
			}
			x->fn = load_le64(s->kret[i].b);      /* the return handler */
			x->fn2 = load_le64(s->kret[i].b + 8); /* the entry handler */
		}
		return 0;
	}
}

static void kprobes_release(struct kview *kv, void *state)
{
	struct kprobes_st *s = state;
	(void)kv;
	for (uint32_t i = 0; i < KPROBE_TABLE_SIZE; i++)
		kwalk_free(&s->chain[i].wo);
	for (size_t i = 0; i < s->naggr; i++)
		kwalk_free(&s->aggr[i].wo);
	free(s->aggr);
	free(s->kret);
}

const struct kview_loader_ops kv_kprobes_ops = {
	.part = KV_KPROBES, .state_size = sizeof(struct kprobes_st), .step = kprobes_step,
	.release = kprobes_release, .free_data = kv_hooks_free,
};

/* ---- netfilter ------------------------------------------------------------------------- */

/* init_net.nf's hook arrays: family, its hook names. */
static const struct nf_family {
	const char *name;
	int off_id;
	const char *hook[5];
} nf_families[] = {
	{ "ipv4", KPROFILE_OFF_net_hooks_ipv4,
	  { "PRE_ROUTING", "LOCAL_IN", "FORWARD", "LOCAL_OUT", "POST_ROUTING" } },
	{ "ipv6", KPROFILE_OFF_net_hooks_ipv6,
	  { "PRE_ROUTING", "LOCAL_IN", "FORWARD", "LOCAL_OUT", "POST_ROUTING" } },
	{ "arp", KPROFILE_OFF_net_hooks_arp, { "IN", "OUT", "FORWARD", NULL, NULL } },
	{ "bridge", KPROFILE_OFF_net_hooks_bridge,
	  { "PRE_ROUTING", "LOCAL_IN", "FORWARD", "LOCAL_OUT", "POST_ROUTING" } },
};
#define NF_NFAM (sizeof nf_families / sizeof nf_families[0])

struct nf_st {
	int stage;
	uint8_t arr[NF_NFAM][40];
	int st[NF_NFAM];
	struct nf_blob {
		uint32_t fam, hook;
		uint64_t at;
		uint8_t *b;
		int st;
	} blob[NF_NFAM * 5];
	size_t nblob;
};

static int nf_offsets(const struct kprofile *p, const struct nf_family *f, uint32_t *off, uint32_t *n)
{
	const struct kprofile_off *o[] = { &p->net_hooks_ipv4, &p->net_hooks_ipv6, &p->net_hooks_arp,
					   &p->net_hooks_bridge };
	if (kprofile_missing(p, f->off_id))
		return 0;
	const struct kprofile_off *x = o[f - nf_families];
	*off = x->off;
	*n = x->size / 8 > 5 ? 5 : x->size / 8;
	return 1;
}

static int nf_step(struct kview *kv, void *state, struct gmem_round *q)
{
	struct nf_st *s = state;
	const struct kprofile *p = &kv->k->p;
	static const int need[] = { KPROFILE_OFF_nf_entries_num, KPROFILE_OFF_nf_entries_hooks, -1 };
	struct kv_hooks *h = hooks_of(kv, KV_NETFILTER);
	uint32_t esz = p->size_nf_hook_entry;
	if (!h)
		return SEVMON_ENOMEM;
	if (!p->sym_init_net || kv_need(p, need) < 0 || esz < 8 || esz > 64)
		return SEVMON_ENOTSUP;
	switch (s->stage++) {
	case 0:
		for (size_t f = 0; f < NF_NFAM; f++) {
			uint32_t off, n;
			s->st[f] = 1;
			if (nf_offsets(p, &nf_families[f], &off, &n))
				gmem_round_read(q, p->sym_init_net + off, GMEM_VIRT, s->arr[f], n * 8, &s->st[f]);
		}
		return 1;
	case 1:
		for (size_t f = 0; f < NF_NFAM; f++) {
			uint32_t off, n;
			if (s->st[f] == 1 || !nf_offsets(p, &nf_families[f], &off, &n))
				continue;
			if (s->st[f] < 0) {
				h->partial = 1;
				continue;
			}
			for (uint32_t k = 0; k < n; k++) {
				uint64_t e = load_le64(s->arr[f] + 8 * k);
				if (!kv_kaddr(e))
					continue;
				struct nf_blob *b = &s->blob[s->nblob++];
				*b = (struct nf_blob){ .fam = (uint32_t)f, .hook = k, .at = e };
				size_t len = p->nf_entries_hooks.off + (size_t)NF_FIRST_READ * esz;
				if (!(b->b = calloc(1, p->nf_entries_hooks.off + (size_t)NF_MAX_ENTRIES * esz)))
					return SEVMON_ENOMEM;
				gmem_round_read(q, e, GMEM_VIRT, b->b, len, &b->st);
			}
		}
		return 1;
	case 2: { /* a hook with more entries than the first read brought: the rest */
		int more = 0;
		for (size_t i = 0; i < s->nblob; i++) {
			struct nf_blob *b = &s->blob[i];
			uint16_t num = (uint16_t)(b->b[p->nf_entries_num.off] | b->b[p->nf_entries_num.off + 1] << 8);
			if (b->st < 0 || num <= NF_FIRST_READ)
				continue;
			if (num > NF_MAX_ENTRIES) {
				h->partial = 1;
				num = NF_MAX_ENTRIES;
			}
			size_t from = p->nf_entries_hooks.off + (size_t)NF_FIRST_READ * esz;
			gmem_round_read(q, b->at + from, GMEM_VIRT, b->b + from,
					(size_t)(num - NF_FIRST_READ) * esz, &b->st);
			more = 1;
		}
		if (more)
			return 1;
	}
		/* fall through */
	default:
		for (size_t i = 0; i < s->nblob; i++) {
			const struct nf_blob *b = &s->blob[i];
			if (b->st < 0) {
				h->partial = 1;
				continue;
			}
			uint32_t num = (uint32_t)(b->b[p->nf_entries_num.off] | b->b[p->nf_entries_num.off + 1] << 8);
			if (num > NF_MAX_ENTRIES)
				num = NF_MAX_ENTRIES;
			for (uint32_t j = 0; j < num; j++) {
				const uint8_t *e = b->b + p->nf_entries_hooks.off + (size_t)j * esz;
				struct kv_hook x = { .kind = KV_HOOK_NETFILTER, .where = b->at, .fn = load_le64(e),
						     .at = (uint64_t)b->fam << 8 | b->hook };
				const char *hn = nf_families[b->fam].hook[b->hook];
				snprintf(x.label, sizeof x.label, "%s %s", nf_families[b->fam].name, hn ? hn : "?");
				if (x.fn && hook_add(h, &x) < 0)
					return SEVMON_ENOMEM;
			}
		}
		return 0;
	}
}

static void nf_release(struct kview *kv, void *state)
{
	struct nf_st *s = state;
	(void)kv;
	for (size_t i = 0; i < s->nblob; i++)
		free(s->blob[i].b);
}

const struct kview_loader_ops kv_netfilter_ops = {
	.part = KV_NETFILTER, .state_size = sizeof(struct nf_st), .step = nf_step,
	.release = nf_release, .free_data = kv_hooks_free,
};

/* ---- notifier chains ------------------------------------------------------------------- */

struct notif_st {
	struct gmem_walk_out wo; /* first: kv_release_walk */
	int stage, st;
	struct gmem_window w[1];
	struct gmem_walk_req req;
};

static int notif_step(struct kview *kv, void *state, struct gmem_round *q)
{
	struct notif_st *s = state;
	const struct kprofile *p = &kv->k->p;
	static const int need[] = { KPROFILE_OFF_notifier_call, KPROFILE_OFF_notifier_next,
		KPROFILE_OFF_atomic_notifier_head, -1 };
	struct kv_hooks *h = hooks_of(kv, KV_NOTIFIERS);
	if (!h)
		return SEVMON_ENOMEM;
	if (!p->sym_keyboard_notifier_list || kv_need(p, need) < 0)
		return SEVMON_ENOTSUP;
	if (s->stage++ == 0) {
		/* the head's pointer, then each notifier_block's next; NULL ends it */
		s->w[0] = (struct gmem_window){ .off = p->notifier_call.off, .len = 8 };
		s->req = (struct gmem_walk_req){
			.head = p->sym_keyboard_notifier_list + p->atomic_notifier_head.off - p->notifier_next.off,
			.next_off = p->notifier_next.off, .link_off = 0, .win = s->w, .nwin = 1,
			.max_nodes = KV_MAX_HOOKS, .space = GMEM_VIRT };
		int rc = kv_walk_alloc(&s->wo, &s->req);
		if (rc < 0)
			return rc;
		gmem_round_walk(q, &s->req, &s->wo, &s->st);
		return 1;
	}
	if (s->st < 0)
		return s->st;
	h->partial = s->wo.stop != GMEM_STOP_NULL;
	for (size_t i = 0; i < s->wo.n; i++) {
		struct kv_hook x = { .kind = KV_HOOK_NOTIFIER, .where = s->wo.nodes[i],
				     .fn = load_le64(s->wo.data + 8 * i) };
		snprintf(x.label, sizeof x.label, "keyboard_notifier_list");
		if (hook_add(h, &x) < 0)
			return SEVMON_ENOMEM;
	}
	return 0;
}

const struct kview_loader_ops kv_notifiers_ops = {
	.part = KV_NOTIFIERS, .state_size = sizeof(struct notif_st), .step = notif_step,
	.release = kv_release_walk, .free_data = kv_hooks_free,
};

/* ---- /proc/net seq_operations ---------------------------------------------------------- */

static const char *const seq_member[4] = { "start", "stop", "next", "show" };

struct seq_st {
	int stage;
	struct {
		const char *name;
		uint64_t at;
		uint8_t b[32];
		int st;
	} ops[4];
};

static int seq_step(struct kview *kv, void *state, struct gmem_round *q)
{
	struct seq_st *s = state;
	const struct kprofile *p = &kv->k->p;
	struct kv_hooks *h = hooks_of(kv, KV_SEQOPS);
	if (!h)
		return SEVMON_ENOMEM;
	if (p->size_seq_operations != 32) /* start, stop, next, show: four pointers */
		return SEVMON_ENOTSUP;
	if (s->stage++ == 0) {
		const uint64_t at[4] = { p->sym_tcp4_seq_ops, p->sym_tcp6_seq_ops, p->sym_udp_seq_ops,
					 p->sym_udp6_seq_ops };
		static const char *const name[4] = { "tcp4_seq_ops", "tcp6_seq_ops", "udp_seq_ops",
						     "udp6_seq_ops" };
		for (int i = 0; i < 4; i++) {
			s->ops[i].name = name[i];
			s->ops[i].at = at[i];
			s->ops[i].st = 1;
			if (at[i])
				gmem_round_read(q, at[i], GMEM_VIRT, s->ops[i].b, 32, &s->ops[i].st);
		}
		return 1;
	}
	for (int i = 0; i < 4; i++) {
		if (s->ops[i].st == 1)
			continue;
		if (s->ops[i].st < 0) {
			h->partial = 1;
			continue;
		}
		for (int m = 0; m < 4; m++) {
			struct kv_hook x = { .kind = KV_HOOK_SEQ_OPS, .where = s->ops[i].at + 8u * (unsigned)m,
					     .fn = load_le64(s->ops[i].b + 8 * m) };
			snprintf(x.label, sizeof x.label, "%s.%s", s->ops[i].name, seq_member[m]);
			if (hook_add(h, &x) < 0)
				return SEVMON_ENOMEM;
		}
	}
	return 0;
}

const struct kview_loader_ops kv_seqops_ops = {
	.part = KV_SEQOPS, .state_size = sizeof(struct seq_st), .step = seq_step, .free_data = kv_hooks_free,
};

/* ---- the /proc root's file operations -------------------------------------------------- */

#define KV_MAX_SUPERBLOCKS 4096u

struct procfs_st {
	int stage, st;
	struct gmem_window w[2];
	struct gmem_walk_req req;
	struct gmem_walk_out wo;
	struct pf {
		uint64_t sb, inode;
		uint8_t fop[8], iter[8];
		int st, st2;
	} *pf;
	size_t npf;
};

static int procfs_step(struct kview *kv, void *state, struct gmem_round *q)
{
	struct procfs_st *s = state;
	const struct kprofile *p = &kv->k->p;
	static const int need[] = { KPROFILE_OFF_sb_list, KPROFILE_OFF_sb_type, KPROFILE_OFF_sb_root,
		KPROFILE_OFF_dentry_inode, KPROFILE_OFF_inode_fop, KPROFILE_OFF_fops_iterate_shared, -1 };
	struct kv_hooks *h = hooks_of(kv, KV_PROCFOPS);
	if (!h)
		return SEVMON_ENOMEM;
	if (!p->sym_super_blocks || !p->sym_proc_fs_type || !p->sym_proc_root_operations ||
	    kv_need(p, need) < 0)
		return SEVMON_ENOTSUP;
	switch (s->stage++) {
	case 0: /* every superblock: its type, and its root dentry's inode */
		s->w[0] = (struct gmem_window){ .off = p->sb_type.off, .len = 8 };
		s->w[1] = (struct gmem_window){ .off = p->sb_root.off, .len = 8, .deref = 1,
			.deref_off = p->dentry_inode.off, .deref_len = 8 };
		s->req = (struct gmem_walk_req){ .head = p->sym_super_blocks, .next_off = p->list_head_next.off,
			.link_off = p->sb_list.off, .win = s->w, .nwin = 2,
			.max_nodes = KV_MAX_SUPERBLOCKS, .space = GMEM_VIRT };
		if (kv_walk_alloc(&s->wo, &s->req) < 0)
			return SEVMON_ENOMEM;
		gmem_round_walk(q, &s->req, &s->wo, &s->st);
		return 1;
	case 1: /* the procfs ones: their root inode's i_fop */
		if (s->st < 0)
			return s->st;
		h->partial = s->wo.stop != GMEM_STOP_HEAD;
		s->pf = calloc(s->wo.n ? s->wo.n : 1, sizeof *s->pf);
		if (!s->pf)
			return SEVMON_ENOMEM;
		for (size_t i = 0; i < s->wo.n; i++) {
			const uint8_t *d = s->wo.data + 24 * i;
			if (load_le64(d) != p->sym_proc_fs_type)
				continue;
			struct pf *f = &s->pf[s->npf++];
			f->sb = s->wo.nodes[i];
			f->inode = load_le64(d + 16);
			if ((s->wo.faults[i] & 2) || !kv_kaddr(f->inode)) {
				f->st = SEVMON_EFAULT;
				continue;
			}
			gmem_round_read(q, f->inode + p->inode_fop.off, GMEM_VIRT, f->fop, 8, &f->st);
		}
		return 1;
	case 2: /* one that is not proc_root_operations: what it iterates with */
		for (size_t i = 0; i < s->npf; i++) {
			struct pf *f = &s->pf[i];
			uint64_t fop = load_le64(f->fop);
			f->st2 = 1;
			if (f->st < 0 || fop == p->sym_proc_root_operations || !kv_kaddr(fop))
				continue;
			gmem_round_read(q, fop + p->fops_iterate_shared.off, GMEM_VIRT, f->iter, 8, &f->st2);
		}
		return 1;
	default:
		for (size_t i = 0; i < s->npf; i++) {
			const struct pf *f = &s->pf[i];
			if (f->st < 0) {
				h->partial = 1;
				continue;
			}
			struct kv_hook x = { .kind = KV_HOOK_PROC_FOPS, .where = f->inode,
					     .fn = load_le64(f->fop), .at = f->sb };
			if (f->st2 == 0)
				x.fn2 = load_le64(f->iter);
			snprintf(x.label, sizeof x.label, "/proc root inode i_fop");
			if (hook_add(h, &x) < 0)
				return SEVMON_ENOMEM;
		}
		return 0;
	}
}

static void procfs_release(struct kview *kv, void *state)
{
	struct procfs_st *s = state;
	(void)kv;
	kwalk_free(&s->wo);
	free(s->pf);
}

const struct kview_loader_ops kv_procfops_ops = {
	.part = KV_PROCFOPS, .state_size = sizeof(struct procfs_st), .step = procfs_step,
	.release = procfs_release, .free_data = kv_hooks_free,
};
