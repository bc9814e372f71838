/*
 * fuzz_kernel.c — the kernel checks over a guest whose kernel an intruder owns: a real
 * guest's memory (a dump made at test time) with the bytes the checks read replaced as the
 * input says, driven through banner and every kernel check of the registry (ps with its
 * real_parent and cred derefs, modules, and the rootkit checks' views: the pid IDR,
 * runqueues, module kset and carved modules, syscall tables, IDT, hook lists, BPF). Pointers then lead anywhere: into other read pages (cycles, cross-
 * links), into pages the dump has but the clean run never read (faults here), or nowhere.
 * Every walk must stay bounded and every result say partial where it is.
 *
 * At start: the dump (SEVMON_FUZZ_DUMP, an image: spec) is opened and its profile built
 * once; one clean run of the checks records every kernel-virtual page it reads (its bytes
 * kept); that page set is the fuzzed memory. No dump: the harness does nothing (and says so).
 * Input: patches [u16 LE page][u16 LE offset][u8 len][len bytes]..., pages and offsets
 * taken modulo what there is.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "ids_kernel.h"
#include "introspect.h"
#include "check.h"
#include "kchecks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PAGE 4096u
#define MAX_PAGES 8192u

static struct ids_kernel kk;
static struct kintro k;     /* the profile of kk, over the fuzzed pages */
static struct gmem rec_g, fz_g;
static uint64_t addr[MAX_PAGES];
static uint8_t *orig, *cur; /* npages * PAGE */
static size_t npages;
static int state;           /* 0 not set up, 1 ready, -1 no dump */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* ---- recording: forward to the dump, note each virtual page read ---- */
static int rec_gather(void *ctx, struct gmem_range *r, size_t n)
{
	(void)ctx;
	for (size_t i = 0; i < n; i++)
		for (uint64_t p = r[i].addr & ~(uint64_t)(PAGE - 1); p < r[i].addr + r[i].len && npages < MAX_PAGES; p += PAGE)
			addr[npages++] = p;
	return gmem_gather(kk.k.g, r, n);
}
static const struct gmem_ops rec_ops = { .gather = rec_gather };

/* ---- fuzzed memory: the recorded pages, as patched ---- */
static long find_page(uint64_t a)
{
	size_t lo = 0, hi = npages;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (addr[mid] < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < npages && addr[lo] == a ? (long)lo : -1;
}

static int fz_gather(void *ctx, struct gmem_range *r, size_t n)
{
	(void)ctx;
	for (size_t i = 0; i < n; i++) {
		r[i].status = 0;
		if (r[i].space != GMEM_VIRT) {
			r[i].status = SEVMON_EFAULT;
			continue;
		}
		uint8_t *o = r[i].out;
		for (uint64_t a = r[i].addr, left = r[i].len; left;) {
			uint64_t pa = a & ~(uint64_t)(PAGE - 1), in = PAGE - (a - pa);
			long pg = find_page(pa);
			if (pg < 0 || a + left < a) {
				r[i].status = SEVMON_EFAULT;
				break;
			}
			size_t l = (size_t)(in < left ? in : left);
			memcpy(o, cur + (size_t)pg * PAGE + (a - pa), l);
			o += l, a += l, left -= l;
		}
	}
	return 0;
}
static const struct gmem_ops fz_ops = { .gather = fz_gather };

/* Every kernel check of the registry (rootkit checks included) but text, whose input is
 * the whole text and rodata (tens of MiB of pages) and a baseline file of its own. */
static void run_checks(struct kintro *kt)
{
	char banner[KPROFILE_MAX_BANNER];
	(void)kintro_banner(kt, banner, sizeof banner);
	struct check_env env = { .k = kt };
	check_set set = 0;
	for (size_t i = 0; i < check_count(); i++) {
		const struct check_def *c = check_at(i);
		if ((c->needs & CHECK_NEEDS_KERNEL) && !(c->needs & CHECK_NEEDS_EVIDENCE) &&
		    strcmp(c->name, "text"))
			set |= 1ull << i;
	}
	if (check_sweep_begin(&env, set) < 0)
		return;
	for (size_t i = 0; i < check_count(); i++) {
		const struct check_def *c = check_at(i);
		if (!(set & (1ull << i)))
			continue;
		void *res = calloc(1, c->result_size);
		if (!res)
			abort();
		if (c->run(&env, res) == 0 && c->findings) {
			struct check_findings f = { 0 };
			(void)c->findings(res, &f);
			check_findings_free(&f);
		}
		if (c->release)
			c->release(res);
		free(res);
	}
	check_sweep_end(&env);
}

static void setup(void)
{
	const char *spec = getenv("SEVMON_FUZZ_DUMP");
	char err[256];
	state = -1;
	if (!spec || ids_kernel_open_dump(&kk, spec, err, sizeof err) < 0) {
		fprintf(stderr, "fuzz_kernel: no dump (SEVMON_FUZZ_DUMP=%s): %s\n",
			spec ? spec : "unset", spec ? err : "nothing to fuzz");
		return;
	}
	struct kintro rk = kk.k;
	rec_g = (struct gmem){ .ops = &rec_ops, .virt = 1 };
	rk.g = &rec_g;
	run_checks(&rk);
	qsort(addr, npages, sizeof addr[0], cmp_u64);
	size_t u = 0;
	for (size_t i = 0; i < npages; i++)
		if (!u || addr[i] != addr[u - 1])
			addr[u++] = addr[i];
	npages = u;
	orig = malloc(npages * PAGE);
	cur = malloc(npages * PAGE);
	if (!orig || !cur)
		abort();
	for (size_t i = 0; i < npages; i++)
		if (gmem_read(kk.k.g, addr[i], GMEM_VIRT, orig + i * PAGE, PAGE) < 0)
			memset(orig + i * PAGE, 0, PAGE); /* part of it was a hole */
	memcpy(cur, orig, npages * PAGE);
	fz_g = (struct gmem){ .ops = &fz_ops, .virt = 1 };
	k = kk.k;
	k.g = &fz_g;
	fprintf(stderr, "fuzz_kernel: %zu pages read by the kernel checks of %s\n", npages, spec);
	state = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!state)
		setup();
	if (state < 0)
		return 0;
	static uint32_t touched[1024];
	size_t nt = 0;
	for (size_t off = 0; off + 5 <= size && nt < 1024;) {
		size_t pg = (size_t)(data[off] | data[off + 1] << 8) % npages;
		size_t at = (size_t)(data[off + 2] | data[off + 3] << 8) % PAGE;
		size_t len = data[off + 4];
		off += 5;
		if (len > size - off)
			len = size - off;
		if (len > PAGE - at)
			len = PAGE - at;
		memcpy(cur + pg * PAGE + at, data + off, len);
		touched[nt++] = (uint32_t)pg;
		off += len;
	}
	run_checks(&k);
	for (size_t i = 0; i < nt; i++)
		memcpy(cur + (size_t)touched[i] * PAGE, orig + (size_t)touched[i] * PAGE, PAGE);
	return 0;
}
