/*
 * kview.c — the engine of the kernel views (kview.h): every loader of the wanted parts
 * steps once per round; what they queued goes out as one round trip.
 */
#include "kview.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kchecks.h"

/* Every loader, by part. A part without a loader here cannot be asked for. */
static const struct kview_loader_ops *const loaders[] = {
	&kv_banner_ops, &kv_tasks_ops, &kv_pids_ops, &kv_runq_ops, &kv_modules_ops,
	&kv_kset_ops, &kv_carve_ops, &kv_systab_ops, &kv_idt_ops, &kv_ftrace_ops, &kv_kprobes_ops,
	&kv_netfilter_ops, &kv_notifiers_ops, &kv_seqops_ops, &kv_procfops_ops, &kv_text_ops,
	&kv_bpf_ops,
};
#define NLOADERS (sizeof loaders / sizeof loaders[0])

static int part_index(unsigned part)
{
	for (int i = 0; i < KV_NPARTS; i++)
		if (part == 1u << i)
			return i;
	return -1;
}

static const struct kview_loader_ops *loader_of(unsigned part)
{
	for (size_t i = 0; i < NLOADERS; i++)
		if (loaders[i]->part == part)
			return loaders[i];
	return NULL;
}

struct kview *kview_new(struct kintro *k, unsigned want)
{
	struct kview *kv = calloc(1, sizeof *kv);
	if (!kv)
		return NULL;
	kv->k = k;
	kv->want = want;
	return kv;
}

void kview_free(struct kview *kv)
{
	if (!kv)
		return;
	for (size_t i = 0; i < NLOADERS; i++)
		if (loaders[i]->free_data)
			loaders[i]->free_data(kv, loaders[i]->part);
	free(kv);
}

/* The parts asked for and everything they depend on. */
static unsigned closure(unsigned parts)
{
	unsigned all = parts, before;
	do {
		before = all;
		for (size_t i = 0; i < NLOADERS; i++)
			if (all & loaders[i]->part)
				all |= loaders[i]->deps | loaders[i]->with;
	} while (all != before);
	return all;
}

int kview_load(struct kview *kv, unsigned parts)
{
	unsigned todo = closure(parts | kv->want) & ~(kv->loaded | kv->failed);
	kv->want = 0; /* the sweep's parts are read with the first call's, once */
	struct {
		const struct kview_loader_ops *ops;
		void *state;
		int active; /* 0 waiting for its deps, 1 stepping, 2 done */
	} run[NLOADERS];
	size_t nrun = 0;
	int rc = 0;
	for (unsigned bit = 1; bit && bit <= todo; bit <<= 1) {
		if (!(todo & bit))
			continue;
		const struct kview_loader_ops *ops = loader_of(bit);
		if (!ops) {
			kv->failed |= bit;
			kv->err[part_index(bit)] = SEVMON_ENOTSUP;
			continue;
		}
		void *st = calloc(1, ops->state_size ? ops->state_size : 1);
		if (!st) {
			rc = SEVMON_ENOMEM;
			goto out;
		}
		run[nrun].ops = ops;
		run[nrun].state = st;
		run[nrun++].active = 0;
	}
	struct gmem_round q;
	gmem_round_init(&q, kv->k->g);
	for (int round = 0;; round++) {
		int any = 0;
		for (size_t i = 0; i < nrun; i++) {
			if (run[i].active == 2)
				continue;
			unsigned deps = run[i].ops->deps;
			if (run[i].active == 0 && (deps & ~(kv->loaded | kv->failed)))
				continue; /* a part it reads is not there yet */
			run[i].active = 1;
			int s = round < KV_MAX_ROUNDS ? run[i].ops->step(kv, run[i].state, &q)
						     : SEVMON_EPARTIAL;
			int pi = part_index(run[i].ops->part);
			if (s < 0) {
				kv->failed |= run[i].ops->part;
				kv->err[pi] = s;
				run[i].active = 2;
			} else if (s == 0) {
				kv->loaded |= run[i].ops->part;
				run[i].active = 2;
			}
			any = 1;
		}
		if (!any)
			break;
		if (gmem_round_pending(&q)) {
			kv->rounds++;
			if ((rc = gmem_round_flush(&q)) < 0)
				break; /* the connection: nothing more can be read */
		}
	}
	gmem_round_free(&q);
	if (rc < 0) /* the parts not finished are lost with the round */
		for (size_t i = 0; i < nrun; i++)
			if (run[i].active != 2) {
				kv->failed |= run[i].ops->part;
				kv->err[part_index(run[i].ops->part)] = rc;
			}
out:
	for (size_t i = 0; i < nrun; i++) {
		if (run[i].ops->release)
			run[i].ops->release(kv, run[i].state);
		free(run[i].state);
	}
	if (rc < 0)
		return rc;
	for (unsigned bit = 1; bit && bit <= parts; bit <<= 1)
		if ((parts & bit) && (kv->failed & bit))
			return kv->err[part_index(bit)];
	return 0;
}

const struct kv_module *kview_owner(const struct kview *kv, uint64_t addr)
{
	for (size_t i = 0; i < kv->modules.n; i++) {
		const struct kv_module *m = &kv->modules.v[i];
		for (uint32_t j = 0; j < m->nr; j++)
			if (m->r[j].size && addr >= m->r[j].base && addr - m->r[j].base < m->r[j].size)
				return m;
	}
	return NULL;
}

int kview_in_core_text(const struct kview *kv, uint64_t addr)
{
	const struct kprofile *p = &kv->k->p;
	return p->sym__etext && addr >= p->sym__stext && addr < p->sym__etext;
}

int kview_task_listed(const struct kview *kv, uint64_t addr)
{
	for (size_t i = 0; i < kv->tasks.n; i++)
		if (kv->tasks.v[i].addr == addr)
			return 1;
	return addr == kv->k->p.sym_init_task; /* the list's head: pid 0, never a node */
}

int kview_module_listed(const struct kview *kv, uint64_t addr)
{
	for (size_t i = 0; i < kv->modules.n; i++)
		if (kv->modules.v[i].addr == addr)
			return 1;
	return 0;
}

int kv_need(const struct kprofile *p, const int *ids)
{
	for (; *ids >= 0; ids++)
		if (kprofile_missing(p, *ids))
			return SEVMON_ENOTSUP;
	return 0;
}

void **kview_ext(struct kview *kv, unsigned part)
{
	int i = part_index(part);
	return i < 0 ? NULL : &kv->ext[i];
}

void kv_release_walk(struct kview *kv, void *state)
{
	(void)kv;
	kwalk_free(state); /* the walk's buffers are the state's first member */
}
