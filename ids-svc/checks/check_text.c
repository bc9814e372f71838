/*
 * check_text.c — kernel text and read-only data integrity: core text [_stext, _etext) and
 * rodata [__start_rodata, __end_rodata) against the baseline of the same BUILD-ID (the
 * first scan of that build records it: baseline.h), page by page through digests
 * (kview_text.c). In a page that differs, each changed byte is judged:
 *   - at a jump-label site (__jump_table): the site must hold a NOP or a jump to its
 *     target (the kernel flips static keys at run time);
 *   - at an ftrace call site (dyn_ftrace): a 5-byte NOP, or a call to ftrace_caller,
 *     ftrace_regs_caller or the trampoline of a registered ftrace ops (tracing, and ftrace-
 *     based kprobes, turn sites on); an int3 on its first byte is a patch in progress;
 *   - the calls inside ftrace's own trampoline (ftrace_call, ftrace_regs_call,
 *     ftrace_graph_call), which ftrace points at kernel code or a registered ops' func;
 *   - a kprobe's int3 at its address (the hooks check reports the kprobe);
 *   - anything else, and any change to rodata, is an alteration.
 * Each alteration is a high finding with the symbol it lands in, the bytes before and
 * after, and, for a call, jump or pointer written there, the module its target belongs to.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kchecks.h"
#include "kview.h"
#include "rbuf.h"

#define TEXT_SHOW_BYTES 32u   /* bytes of a change shown in its finding */
#define TEXT_MAX_ALTERED 256u /* alterations kept (a kernel rewritten wholesale: partial) */

enum { ALT_TEXT, ALT_RODATA, ALT_FTRACE, ALT_JUMP };
static const char *const alt_kind[] = { "text_modified", "rodata_modified", "ftrace_site_altered",
					"jump_site_altered" };

struct altered {
	int kind;
	uint64_t addr;
	uint32_t len;
	uint8_t before[TEXT_SHOW_BYTES], after[TEXT_SHOW_BYTES];
	char symbol[KSYMS_NAME_LEN + 32];
	uint64_t target;             /* what a call/jump/pointer written there leads to, or 0 */
	char module[KMOD_NAME_LEN + 1];
};

struct text_result {
	struct check_result h;
	int recorded, compared;
	char path[4200];
	uint64_t groups, groups_changed, leaves_changed, sites_flipped;
	struct altered *v;
	size_t n;
};

/* The bytes of [o, o + n) (offsets from _stext) as they are now: from a page that was read,
 * else the baseline's (an unchanged page). */
static void bytes_now(struct kv_text *t, uint64_t o, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t a = o + i;
		if (a >= t->b.text_len || baseline_bytes(&t->b, a, &out[i], 1) < 0)
			out[i] = 0;
		for (size_t j = 0; j < t->npages; j++) {
			const struct kv_text_page *pg = &t->pages[j];
			if (!pg->rodata && pg->st == 0 && a >= pg->off && a - pg->off < pg->len)
				out[i] = pg->now[a - pg->off];
		}
	}
}

/* A call or jump at site: where it leads (rel32 after a 5-byte instruction). */
static uint64_t rel_target(uint64_t site, const uint8_t *b, size_t len)
{
	if (len == 5)
		return site + 5 + (uint64_t)(int64_t)(int32_t)load_le32(b + 1);
	return site + 2 + (uint64_t)(int64_t)(int8_t)b[1];
}

static int ftrace_call_ok(const struct check_env *env, uint64_t dest)
{
	const struct kprofile *p = &env->k->p;
	if ((p->sym_ftrace_caller && dest == p->sym_ftrace_caller) ||
	    (p->sym_ftrace_regs_caller && dest == p->sym_ftrace_regs_caller))
		return 1;
	const struct kv_hooks *h = (env->kv->loaded & KV_FTRACE) ? *kview_ext(env->kv, KV_FTRACE) : NULL;
	for (size_t i = 0; h && i < h->n; i++)
		if (h->v[i].fn2 && dest == h->v[i].fn2)
			return 1;
	return 0;
}

/* ftrace's own call sites in its trampoline: 5 bytes at these symbols. */
static int ftrace_inner_site(const struct check_env *env, uint64_t a, uint64_t *site)
{
	const struct kprofile *p = &env->k->p;
	const uint64_t s[3] = { p->sym_ftrace_call, p->sym_ftrace_regs_call, p->sym_ftrace_graph_call };
	for (int i = 0; i < 3; i++)
		if (s[i] && a >= s[i] && a - s[i] < 5) {
			*site = s[i];
			return 1;
		}
	return 0;
}

/* What ftrace may point its trampoline's call at: kernel text or a registered ops' func. */
static int ftrace_func_ok(const struct check_env *env, uint64_t dest)
{
	if (kview_in_core_text(env->kv, dest))
		return 1;
	const struct kv_hooks *h = (env->kv->loaded & KV_FTRACE) ? *kview_ext(env->kv, KV_FTRACE) : NULL;
	for (size_t i = 0; h && i < h->n; i++)
		if (dest == h->v[i].fn)
			return 1;
	return 0;
}

static int kprobe_at(const struct check_env *env, uint64_t a)
{
	const struct kv_hooks *h = (env->kv->loaded & KV_KPROBES) ? *kview_ext(env->kv, KV_KPROBES) : NULL;
	for (size_t i = 0; h && i < h->n; i++)
		if (h->v[i].at == a)
			return 1;
	return 0;
}

static int add(struct text_result *r, const struct check_env *env, struct kv_text *t, int kind,
	       uint64_t off, uint32_t len, uint64_t target)
{
	const struct kprofile *p = &env->k->p;
	if (r->n >= TEXT_MAX_ALTERED) {
		r->h.partial = 1;
		return 0;
	}
	struct altered *v = realloc(r->v, (r->n + 1) * sizeof *v);
	if (!v)
		return SEVMON_ENOMEM;
	r->v = v;
	struct altered *a = &v[r->n++];
	*a = (struct altered){ .kind = kind, .addr = p->sym__stext + off, .len = len, .target = target };
	size_t show = len < TEXT_SHOW_BYTES ? len : TEXT_SHOW_BYTES;
	int ro = kind == ALT_RODATA;
	uint64_t boff = ro ? t->b.text_len + (off - t->b.rodata_off) : off;
	if (baseline_bytes(&t->b, boff, a->before, show) < 0)
		memset(a->before, 0, show);
	if (ro) {
		for (size_t j = 0; j < t->npages; j++) {
			const struct kv_text_page *pg = &t->pages[j];
			if (pg->rodata && off >= pg->off && off - pg->off < pg->len) {
				size_t k = pg->len - (off - pg->off);
				memcpy(a->after, pg->now + (off - pg->off), show < k ? show : k);
			}
		}
		/* a pointer written there: the 8 aligned bytes around the change */
		uint64_t w = off & ~7ull;
		for (size_t j = 0; j < t->npages && !a->target; j++) {
			const struct kv_text_page *pg = &t->pages[j];
			if (pg->rodata && w >= pg->off && w + 8 <= pg->off + pg->len) {
				uint64_t x = load_le64(pg->now + (w - pg->off));
				if (kv_kaddr(x))
					a->target = x;
			}
		}
	} else {
		bytes_now(t, off, a->after, show);
	}
	kintro_symbolize(env->k, a->addr, a->symbol, sizeof a->symbol);
	const struct kv_module *m = a->target ? kview_owner(env->kv, a->target) : NULL;
	if (m)
		snprintf(a->module, sizeof a->module, "%s", m->name);
	return 0;
}

/* Judge one changed page (r->sites_flipped counts the patch sites the kernel changed). */
static int judge_page(struct text_result *r, const struct check_env *env, struct kv_text *t,
		      const struct kv_text_page *pg, uint64_t *done_to)
{
	const struct kprofile *p = &env->k->p;
	uint8_t was[BASELINE_LEAF];
	uint64_t run = UINT64_MAX, run_end = 0;
	int rc = baseline_bytes(&t->b, pg->rodata ? t->b.text_len + (pg->off - t->b.rodata_off) : pg->off,
				was, pg->len);
	if (rc < 0)
		return rc; /* the baseline's own page is damaged: nothing to judge against */
	for (uint32_t i = 0; i < pg->len && rc == 0; i++) {
		uint64_t o = pg->off + i;
		if (o < *done_to || pg->now[i] == was[i])
			continue;
		if (!pg->rodata) {
			long j = baseline_jump_at(&t->b, (uint32_t)o);
			long f = j < 0 ? baseline_ftrace_at(&t->b, (uint32_t)o) : -1;
			if (j >= 0 || f >= 0) {
				uint64_t site = j >= 0 ? t->b.jump[j].code : t->b.ftrace[f];
				size_t n = j >= 0 ? t->b.jump[j].size : 5;
				uint8_t cur[5];
				bytes_now(t, site, cur, n);
				*done_to = site + n;
				uint64_t dest = (cur[0] == 0xe8 || cur[0] == 0xe9 || cur[0] == 0xeb)
							? rel_target(p->sym__stext + site, cur, n) : 0;
				int ok;
				if (j >= 0)
					ok = kv_text_nop(cur, n) ||
					     ((cur[0] == (n == 5 ? 0xe9 : 0xeb)) &&
					      dest == p->sym__stext + t->b.jump[j].target);
				else
					ok = kv_text_nop(cur, n) || cur[0] == 0xcc ||
					     (cur[0] == 0xe8 && ftrace_call_ok(env, dest));
				if (ok)
					r->sites_flipped++;
				else
					rc = add(r, env, t, j >= 0 ? ALT_JUMP : ALT_FTRACE, site, (uint32_t)n, dest);
				continue;
			}
			uint64_t inner;
			if (ftrace_inner_site(env, p->sym__stext + o, &inner)) {
				uint8_t cur[5];
				bytes_now(t, inner - p->sym__stext, cur, 5);
				*done_to = inner - p->sym__stext + 5;
				uint64_t dest = rel_target(inner, cur, 5);
				if ((cur[0] == 0xe8 || cur[0] == 0xe9) && ftrace_func_ok(env, dest))
					r->sites_flipped++;
				else
					rc = add(r, env, t, ALT_FTRACE, inner - p->sym__stext, 5, dest);
				continue;
			}
			if (pg->now[i] == 0xcc && kprobe_at(env, p->sym__stext + o))
				continue; /* a kprobe's breakpoint */
		}
		/* an alteration: extend the run (changes 8 bytes apart or closer are one) */
		if (run != UINT64_MAX && o <= run_end + 8) {
			run_end = o;
			continue;
		}
		if (run != UINT64_MAX)
			rc = add(r, env, t, pg->rodata ? ALT_RODATA : ALT_TEXT, run, (uint32_t)(run_end - run + 1), 0);
		run = run_end = o;
	}
	if (rc == 0 && run != UINT64_MAX)
		rc = add(r, env, t, pg->rodata ? ALT_RODATA : ALT_TEXT, run, (uint32_t)(run_end - run + 1), 0);
	return rc;
}

static int text_run(const struct check_env *env, void *res)
{
	struct text_result *r = res;
	int rc = kview_load(env->kv, KV_TEXT);
	if (rc < 0)
		return rc;
	struct kv_text *t = *kview_ext(env->kv, KV_TEXT);
	r->recorded = t->recorded;
	r->compared = t->have;
	snprintf(r->path, sizeof r->path, "%s", t->path);
	r->groups = t->groups;
	r->groups_changed = t->groups_changed;
	r->leaves_changed = t->leaves_changed;
	r->h.partial = t->partial;
	uint64_t done_to = 0;
	for (size_t i = 0; i < t->npages; i++) {
		if (t->pages[i].st < 0) {
			r->h.partial = 1;
			continue;
		}
		if ((rc = judge_page(r, env, t, &t->pages[i], &done_to)) < 0)
			return rc;
	}
	return 0;
}

static void altered_json(struct jw *w, const void *arg)
{
	const struct altered *a = arg;
	jw_obj(w);
	jw_key(w, "change");
	jw_str(w, alt_kind[a->kind]);
	jw_key(w, "addr");
	jw_hex(w, a->addr);
	jw_key(w, "symbol");
	jw_str(w, a->symbol);
	jw_key(w, "len");
	jw_uint(w, a->len);
	size_t show = a->len < TEXT_SHOW_BYTES ? a->len : TEXT_SHOW_BYTES;
	jw_key(w, "before");
	jw_hexbytes(w, a->before, show);
	jw_key(w, "after");
	jw_hexbytes(w, a->after, show);
	jw_key(w, "target");
	if (a->target)
		jw_hex(w, a->target);
	else
		jw_null(w);
	jw_key(w, "module");
	if (a->module[0])
		jw_str(w, a->module);
	else
		jw_null(w);
	jw_obj_end(w);
}

static void text_encode(const void *res, struct jw *w)
{
	const struct text_result *r = res;
	jw_obj(w);
	jw_key(w, "baseline");
	jw_str(w, r->recorded ? "recorded" : r->compared ? "compared" : "none");
	jw_key(w, "baseline_file");
	jw_str(w, r->path);
	jw_key(w, "groups");
	jw_uint(w, r->groups);
	jw_key(w, "groups_changed");
	jw_uint(w, r->groups_changed);
	jw_key(w, "pages_changed");
	jw_uint(w, r->leaves_changed);
	jw_key(w, "patch_sites_flipped");
	jw_uint(w, r->sites_flipped);
	jw_key(w, "altered");
	jw_arr(w);
	for (size_t i = 0; i < r->n; i++)
		altered_json(w, &r->v[i]);
	jw_arr_end(w);
	jw_key(w, "partial");
	jw_bool(w, r->h.partial);
	jw_obj_end(w);
}

static void text_print(const void *res, FILE *f)
{
	const struct text_result *r = res;
	if (r->recorded)
		fprintf(f, "baseline recorded: %s (the first scan of this build)\n", r->path);
	else
		fprintf(f, "baseline %s: %" PRIu64 " groups of 64 KiB, %" PRIu64 " changed, %" PRIu64
			   " pages changed, %" PRIu64 " patch sites flipped by the kernel\n", r->path,
			r->groups, r->groups_changed, r->leaves_changed, r->sites_flipped);
	for (size_t i = 0; i < r->n; i++) {
		const struct altered *a = &r->v[i];
		fprintf(f, "%-20s %s (%" PRIu32 " bytes)%s%s\n", alt_kind[a->kind], a->symbol, a->len,
			a->module[0] ? " -> " : "", a->module);
	}
	if (r->h.partial)
		fprintf(f, "(partial: a page could not be read, or too many alterations)\n");
}

static int text_findings(const void *res, struct check_findings *out)
{
	const struct text_result *r = res;
	for (size_t i = 0; i < r->n; i++) {
		const struct altered *a = &r->v[i];
		int rc = check_finding_jw(out, STORE_SEV_HIGH, alt_kind[a->kind], a->symbol,
					  CHECK_T_ROOTKIT, altered_json, a);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void text_release(void *res)
{
	struct text_result *r = res;
	free(r->v);
	r->v = NULL;
}

static const int text_members[] = { KPROFILE_OFF_module_list, KPROFILE_OFF_module_name, -1 };

const struct check_def check_text = {
	.name = "text",
	.summary = "kernel text and rodata against this build's baseline (first scan); the kernel's own patch sites judged",
	.needs = CHECK_NEEDS_KERNEL,
	.in_default = 1,
	.diff = STORE_DIFF_NONE,
	.members = text_members,
	.views = KV_TEXT | KV_FTRACE | KV_KPROBES | KV_MODULES,
	.result_size = sizeof(struct text_result),
	.run = text_run,
	.encode = text_encode,
	.print = text_print,
	.findings = text_findings,
	.release = text_release,
};
