/*
 * kview_text.c — kernel text and rodata against their baseline (kview.h: KV_TEXT).
 *
 * With a baseline of this build (baseline.h): one Hash request of both ranges in 64 KiB
 * group digests (a few KiB), compared with the baseline's; the leaves of the groups that
 * differ (a second Hash); the bytes of the leaves that differ (a gather). What differs is
 * then judged byte by byte against the baseline (kv_text.diffs). Without one: the first
 * scan of a build records it (the whole text and rodata, ftrace's call sites from its
 * dyn_ftrace records, the jump-label sites from __jump_table) and has nothing to compare.
 */
#include <stdlib.h>
#include <string.h>

#include "baseline.h"
#include "err.h"
#include "kchecks.h"
#include "kview.h"
#include "mem_digest.h"
#include "rbuf.h"

/* Jump-label sites before and after they are flipped (arch/x86/kernel/jump_label.c). */
static const uint8_t nop5[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 }, nop2[2] = { 0x66, 0x90 };

struct text_st {
	int stage, record;
	/* compare */
	uint8_t *gd[2];            /* group digests, text and rodata */
	struct gmem_hash gh[2];
	uint64_t ngroups[2];
	struct gmem_hash *lh;      /* leaf hashes of the groups that differ */
	uint8_t *ld;
	size_t nlh;
	/* record */
	int st_bytes, st_jump, st_walk;
	uint8_t *jump;
	size_t jump_len;
	struct gmem_window w[2];
	struct gmem_walk_req req;
	struct gmem_walk_out wo;
	uint8_t **rec;
	int *rst;
};

static uint64_t range_len(const struct kv_text *t, int r)
{
	return r ? t->b.rodata_len : t->b.text_len;
}

static uint64_t range_off(const struct kv_text *t, int r)
{
	return r ? t->b.rodata_off : 0;
}

/* ---- recording a baseline ---- */

static int record_start(struct kview *kv, struct kv_text *t, struct text_st *s, struct gmem_round *q)
{
	const struct kprofile *p = &kv->k->p;
	static const int need[] = { KPROFILE_OFF_ftrace_page_next, KPROFILE_OFF_ftrace_page_records,
		KPROFILE_OFF_ftrace_page_index, KPROFILE_OFF_dyn_ftrace_ip, -1 };
	struct baseline *b = &t->b;
	snprintf(b->build_id, sizeof b->build_id, "%s", p->build_id);
	b->text_len = p->sym__etext - p->sym__stext;
	b->rodata_off = p->sym___start_rodata - p->sym__stext;
	b->rodata_len = p->sym___end_rodata - p->sym___start_rodata;
	if (b->text_len + b->rodata_len > BASELINE_MAX_BYTES || b->rodata_off < b->text_len)
		return SEVMON_EDECODE;
	if (!(b->bytes = malloc(b->text_len + b->rodata_len)))
		return SEVMON_ENOMEM;
	s->record = 1;
	gmem_round_read(q, p->sym__stext, GMEM_VIRT, b->bytes, b->text_len, &s->st_bytes);
	gmem_round_read(q, p->sym___start_rodata, GMEM_VIRT, b->bytes + b->text_len, b->rodata_len,
			&s->st_bytes);
	/* the jump table (16-byte entries of relative code and target, and the key) */
	if (p->sym___start___jump_table && p->sym___stop___jump_table > p->sym___start___jump_table &&
	    p->sym___stop___jump_table - p->sym___start___jump_table <= 16ull * BASELINE_MAX_SITES) {
		s->jump_len = p->sym___stop___jump_table - p->sym___start___jump_table;
		if (!(s->jump = malloc(s->jump_len)))
			return SEVMON_ENOMEM;
		gmem_round_read(q, p->sym___start___jump_table, GMEM_VIRT, s->jump, s->jump_len, &s->st_jump);
	}
	/* ftrace's pages of dyn_ftrace records */
	if (p->sym_ftrace_pages_start && kv_need(p, need) == 0 && p->size_dyn_ftrace >= 8) {
		s->w[0] = (struct gmem_window){ .off = p->ftrace_page_records.off, .len = 8 };
		s->w[1] = (struct gmem_window){ .off = p->ftrace_page_index.off, .len = 4 };
		s->req = (struct gmem_walk_req){ .head = p->sym_ftrace_pages_start - p->ftrace_page_next.off,
			.next_off = p->ftrace_page_next.off, .link_off = 0, .win = s->w, .nwin = 2,
			.max_nodes = 65536, .space = GMEM_VIRT };
		if (kv_walk_alloc(&s->wo, &s->req) < 0)
			return SEVMON_ENOMEM;
		gmem_round_walk(q, &s->req, &s->wo, &s->st_walk);
	} else {
		s->st_walk = 1;
	}
	return 1;
}

static int record_records(struct kview *kv, struct text_st *s, struct gmem_round *q)
{
	const struct kprofile *p = &kv->k->p;
	if (s->st_walk != 0)
		return 1;
	s->rec = calloc(s->wo.n + 1, sizeof *s->rec);
	s->rst = calloc(s->wo.n + 1, sizeof *s->rst);
	if (!s->rec || !s->rst)
		return SEVMON_ENOMEM;
	for (size_t i = 0; i < s->wo.n; i++) {
		uint64_t recs = load_le64(s->wo.data + 12 * i);
		uint32_t n = load_le32(s->wo.data + 12 * i + 8);
		s->rst[i] = 1;
		if (!kv_kaddr(recs) || !n || n > BASELINE_MAX_SITES)
			continue;
		if (!(s->rec[i] = malloc((size_t)n * p->size_dyn_ftrace)))
			return SEVMON_ENOMEM;
		gmem_round_read(q, recs, GMEM_VIRT, s->rec[i], (size_t)n * p->size_dyn_ftrace, &s->rst[i]);
	}
	return 1;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int jump_cmp(const void *a, const void *b)
{
	const struct baseline_jump *x = a, *y = b;
	return x->code < y->code ? -1 : x->code > y->code;
}

static int record_finish(struct kview *kv, struct kv_text *t, struct text_st *s)
{
	const struct kprofile *p = &kv->k->p;
	struct baseline *b = &t->b;
	if (s->st_bytes < 0)
		return s->st_bytes;
	/* ftrace sites in core text */
	size_t cap = 0;
	for (size_t i = 0; s->st_walk == 0 && i < s->wo.n; i++)
		if (s->rst[i] == 0)
			cap += load_le32(s->wo.data + 12 * i + 8);
	if (cap > BASELINE_MAX_SITES)
		cap = BASELINE_MAX_SITES;
	b->ftrace = calloc(cap + 1, sizeof *b->ftrace);
	if (!b->ftrace)
		return SEVMON_ENOMEM;
	for (size_t i = 0; s->st_walk == 0 && i < s->wo.n; i++) {
		uint32_t n = load_le32(s->wo.data + 12 * i + 8);
		for (uint32_t j = 0; s->rst[i] == 0 && j < n && b->nftrace < cap; j++) {
			uint64_t ip = load_le64(s->rec[i] + (size_t)j * p->size_dyn_ftrace + p->dyn_ftrace_ip.off);
			if (ip >= p->sym__stext && ip + 5 <= p->sym__etext)
				b->ftrace[b->nftrace++] = (uint32_t)(ip - p->sym__stext);
		}
	}
	qsort(b->ftrace, b->nftrace, sizeof *b->ftrace, u32_cmp);
	/* jump sites in core text: their size from the bytes there now */
	size_t nj = s->st_jump == 0 ? s->jump_len / 16 : 0;
	b->jump = calloc(nj + 1, sizeof *b->jump);
	if (!b->jump)
		return SEVMON_ENOMEM;
	for (size_t i = 0; i < nj; i++) {
		uint64_t e = p->sym___start___jump_table + 16 * i;
		uint64_t code = e + (uint64_t)(int64_t)(int32_t)load_le32(s->jump + 16 * i);
		uint64_t target = e + 4 + (uint64_t)(int64_t)(int32_t)load_le32(s->jump + 16 * i + 4);
		if (code < p->sym__stext || code + 5 > p->sym__etext || target < p->sym__stext ||
		    target >= p->sym__etext)
			continue;
		const uint8_t *at = b->bytes + (code - p->sym__stext);
		uint8_t size = at[0] == 0xeb || !memcmp(at, nop2, 2) ? 2 : 5;
		b->jump[b->njump++] = (struct baseline_jump){ .code = (uint32_t)(code - p->sym__stext),
			.target = (uint32_t)(target - p->sym__stext), .size = size };
	}
	qsort(b->jump, b->njump, sizeof *b->jump, jump_cmp);
	uint64_t nl = baseline_text_leaves(b) + baseline_rodata_leaves(b);
	if (!(b->leaves = malloc(nl * MEM_DIGEST_LEN + 1)))
		return SEVMON_ENOMEM;
	int rc = mem_digest_buf(b->bytes, b->text_len, BASELINE_LEAF, 1, b->leaves);
	if (rc == 0)
		rc = mem_digest_buf(b->bytes + b->text_len, b->rodata_len, BASELINE_LEAF, 1,
				    b->leaves + baseline_text_leaves(b) * MEM_DIGEST_LEN);
	if (rc == 0 && (rc = baseline_save(b, t->path)) == 0) {
		t->recorded = 1;
		baseline_all_present(b);
	}
	return rc;
}

/* ---- comparing with it ---- */

static int compare_start(struct kview *kv, struct kv_text *t, struct text_st *s, struct gmem_round *q)
{
	const struct kprofile *p = &kv->k->p;
	if (strcmp(t->b.build_id, p->build_id) || t->b.text_len != p->sym__etext - p->sym__stext ||
	    t->b.rodata_off != p->sym___start_rodata - p->sym__stext ||
	    t->b.rodata_len != p->sym___end_rodata - p->sym___start_rodata)
		return SEVMON_EDECODE; /* another build's, or another layout: not this kernel's */
	const uint64_t at[2] = { p->sym__stext, p->sym___start_rodata };
	for (int r = 0; r < 2; r++) {
		s->ngroups[r] = mem_digest_count(range_len(t, r), BASELINE_LEAF, BASELINE_GROUP);
		if (!(s->gd[r] = malloc(s->ngroups[r] * MEM_DIGEST_LEN + 1)))
			return SEVMON_ENOMEM;
		s->gh[r] = (struct gmem_hash){ .addr = at[r], .len = (uint32_t)range_len(t, r),
			.space = GMEM_VIRT, .leaf = BASELINE_LEAF, .group = BASELINE_GROUP, .out = s->gd[r] };
		gmem_round_hash(q, &s->gh[r]);
	}
	return 1;
}

/* Groups that differ: their leaves, hashed. */
static int compare_groups(struct kview *kv, struct kv_text *t, struct text_st *s, struct gmem_round *q)
{
	const struct kprofile *p = &kv->k->p;
	const uint64_t at[2] = { p->sym__stext, p->sym___start_rodata };
	size_t total = 0;
	for (int r = 0; r < 2; r++) {
		if (s->gh[r].status < 0)
			return s->gh[r].status;
		total += s->ngroups[r];
	}
	s->lh = calloc(total + 1, sizeof *s->lh);
	s->ld = malloc((total + 1) * BASELINE_GROUP * MEM_DIGEST_LEN);
	if (!s->lh || !s->ld)
		return SEVMON_ENOMEM;
	for (int r = 0; r < 2; r++) {
		uint8_t *want = malloc(s->ngroups[r] * MEM_DIGEST_LEN + 1);
		if (!want)
			return SEVMON_ENOMEM;
		baseline_groups(&t->b, r, want);
		t->groups += s->ngroups[r];
		for (uint64_t g = 0; g < s->ngroups[r]; g++) {
			if (!memcmp(want + g * MEM_DIGEST_LEN, s->gd[r] + g * MEM_DIGEST_LEN, MEM_DIGEST_LEN))
				continue;
			t->groups_changed++;
			uint64_t off = g * BASELINE_GROUP * BASELINE_LEAF, len = range_len(t, r) - off;
			if (len > (uint64_t)BASELINE_GROUP * BASELINE_LEAF)
				len = (uint64_t)BASELINE_GROUP * BASELINE_LEAF;
			struct gmem_hash *h = &s->lh[s->nlh];
			*h = (struct gmem_hash){ .addr = at[r] + off, .len = (uint32_t)len, .space = GMEM_VIRT,
				.leaf = BASELINE_LEAF, .group = 1,
				.out = s->ld + s->nlh * BASELINE_GROUP * MEM_DIGEST_LEN };
			/* which range and where: kept in the hash's address */
			s->nlh++;
			gmem_round_hash(q, h);
		}
		free(want);
	}
	return 1;
}

/* Leaves that differ: their bytes. */
static int compare_leaves(struct kview *kv, struct kv_text *t, struct text_st *s, struct gmem_round *q)
{
	const struct kprofile *p = &kv->k->p;
	size_t n = 0;
	for (size_t i = 0; i < s->nlh; i++)
		n += gmem_hash_count(&s->lh[i]);
	t->pages = calloc(n + 1, sizeof *t->pages);
	if (!t->pages)
		return SEVMON_ENOMEM;
	for (size_t i = 0; i < s->nlh; i++) {
		const struct gmem_hash *h = &s->lh[i];
		int r = h->addr >= p->sym___start_rodata;
		uint64_t roff = h->addr - (r ? p->sym___start_rodata : p->sym__stext);
		const uint8_t *base = t->b.leaves +
			((r ? baseline_text_leaves(&t->b) : 0) + roff / BASELINE_LEAF) * MEM_DIGEST_LEN;
		if (h->status < 0) {
			t->partial = 1;
			continue;
		}
		for (size_t l = 0; l < gmem_hash_count(h); l++) {
			if (!memcmp(base + l * MEM_DIGEST_LEN, h->out + l * MEM_DIGEST_LEN, MEM_DIGEST_LEN))
				continue;
			struct kv_text_page *pg = &t->pages[t->npages++];
			uint64_t off = roff + l * BASELINE_LEAF, len = range_len(t, r) - off;
			pg->off = range_off(t, r) + off;
			pg->len = (uint32_t)(len < BASELINE_LEAF ? len : BASELINE_LEAF);
			pg->rodata = r;
			gmem_round_read(q, p->sym__stext + pg->off, GMEM_VIRT, pg->now, pg->len, &pg->st);
		}
	}
	t->leaves_changed = t->npages;
	return 1;
}

static int text_step(struct kview *kv, void *state, struct gmem_round *q)
{
	struct text_st *s = state;
	const struct kprofile *p = &kv->k->p;
	void **slot = kview_ext(kv, KV_TEXT);
	struct kv_text *t = *slot;
	if (s->stage == 0) {
		if (!p->sym__etext || !p->sym___start_rodata || !p->sym___end_rodata ||
		    p->sym__etext <= p->sym__stext || p->sym___end_rodata <= p->sym___start_rodata)
			return SEVMON_ENOTSUP;
		if (!t && !(t = *slot = calloc(1, sizeof *t)))
			return SEVMON_ENOMEM;
		int rc = kv->baseline ? (snprintf(t->path, sizeof t->path, "%s", kv->baseline), 0)
				      : baseline_path(t->path, sizeof t->path, p->build_id);
		if (rc < 0)
			return rc;
		rc = baseline_load(&t->b, t->path);
		s->stage = 1;
		if (rc == SEVMON_ENOENT)
			return record_start(kv, t, s, q);
		if (rc < 0)
			return rc;
		t->have = 1;
		return compare_start(kv, t, s, q);
	}
	if (s->record) {
		if (s->stage++ == 1)
			return record_records(kv, s, q);
		return record_finish(kv, t, s);
	}
	switch (s->stage++) {
	case 1:
		return compare_groups(kv, t, s, q);
	case 2:
		return compare_leaves(kv, t, s, q);
	default:
		/* the hooks' parts say which call targets and int3s are the kernel's own */
		if ((kv->loaded | kv->failed) & KV_FTRACE && (kv->loaded | kv->failed) & KV_KPROBES)
			return 0;
		s->stage--;
		return 1;
	}
}

static void text_release(struct kview *kv, void *state)
{
	struct text_st *s = state;
	(void)kv;
	free(s->gd[0]);
	free(s->gd[1]);
	free(s->lh);
	free(s->ld);
	free(s->jump);
	for (size_t i = 0; s->rec && i < s->wo.n + 1; i++)
		free(s->rec[i]);
	free(s->rec);
	free(s->rst);
	kwalk_free(&s->wo);
}

static void text_free(struct kview *kv, unsigned part)
{
	void **slot = kview_ext(kv, part);
	struct kv_text *t = *slot;
	if (t) {
		baseline_free(&t->b);
		free(t->pages);
	}
	free(t);
	*slot = NULL;
}

const struct kview_loader_ops kv_text_ops = {
	.part = KV_TEXT, .with = KV_FTRACE | KV_KPROBES | KV_MODULES, .state_size = sizeof(struct text_st), .step = text_step,
	.release = text_release, .free_data = text_free,
};

/* ---- judging what differs ---- */

int kv_text_nop(const uint8_t *p, size_t n)
{
	return (n == 5 && !memcmp(p, nop5, 5)) || (n == 2 && !memcmp(p, nop2, 2));
}
