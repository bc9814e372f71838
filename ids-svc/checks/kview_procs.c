/*
 * kview_procs.c — the views of what runs (kview.h): the banner, the task list, the PID
 * namespace's IDR and the runqueues, and what they share: the windows every task is read
 * with, and the confirmation that a task one view lacks is really not on the task list.
 *
 * Confirmation: views are read one after the other while the guest runs, so a process
 * forked between two reads is in the later view only. A task on the task list has
 * neighbours that point back at it (next->prev == prev->next == its link) and is not
 * linked to itself; a task unlinked with list_del_rcu has a poisoned prev, one that a
 * rootkit re-linked to itself points at itself. So a task found in another view and
 * missing from the list walk is read once more: linked (it came after the walk: no
 * finding), not linked (hidden), or unknown (its neighbours unreadable: hidden too).
 */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kchecks.h"
#include "kview.h"
#include "rbuf.h"

/* ---- the banner ---------------------------------------------------------------------- */

struct banner_st {
	int stage, st;
	uint8_t b[KPROFILE_MAX_BANNER];
};

static int banner_step(struct kview *kv, void *state, struct gmem_round *q)
{
	struct banner_st *s = state;
	if (s->stage++ == 0) {
		gmem_round_read(q, kv->k->p.sym_linux_banner, GMEM_VIRT, s->b, sizeof s->b, &s->st);
		return 1;
	}
	if (s->st < 0)
		return s->st;
	size_t n = strnlen((char *)s->b, sizeof s->b);
	while (n && s->b[n - 1] == '\n')
		n--;
	if (n >= sizeof kv->banner)
		n = sizeof kv->banner - 1;
	memcpy(kv->banner, s->b, n);
	kv->banner[n] = '\0';
	return 0;
}

const struct kview_loader_ops kv_banner_ops = {
	.part = KV_BANNER, .state_size = sizeof(struct banner_st), .step = banner_step,
};

/* ---- tasks: the windows, the parse ---------------------------------------------------- */

enum { TW_PID, TW_TGID, TW_COMM, TW_PARENT, TW_CRED, TW_MM, TW_EXIT, TW_LEADER, TW_RCRED,
       TW_TASKS };
_Static_assert(TW_TASKS + 1 == KV_TASK_NWIN, "the task windows");

/* Bytes the cred deref brings: uid .. euid (kuid_t, 4 bytes each, in one run). */
static uint32_t cred_span(const struct kprofile *p)
{
	if (kprofile_missing(p, KPROFILE_OFF_cred_euid) || p->cred_euid.off < p->cred_uid.off ||
	    p->cred_euid.off - p->cred_uid.off > 64)
		return 4;
	return p->cred_euid.off - p->cred_uid.off + 4;
}

size_t kv_task_windows(const struct kprofile *p, struct gmem_window *w)
{
	w[TW_PID] = (struct gmem_window){ .off = p->task_pid.off, .len = 4 };
	w[TW_TGID] = (struct gmem_window){ .off = p->task_tgid.off, .len = 4 };
	w[TW_COMM] = (struct gmem_window){ .off = p->task_comm.off, .len = KPROC_COMM_LEN };
	w[TW_PARENT] = (struct gmem_window){ .off = p->task_real_parent.off, .len = 8, .deref = 1,
		.deref_off = p->task_tgid.off, .deref_len = 4 };
	w[TW_CRED] = (struct gmem_window){ .off = p->task_cred.off, .len = 8, .deref = 1,
		.deref_off = p->cred_uid.off, .deref_len = cred_span(p) };
	w[TW_MM] = (struct gmem_window){ .off = p->task_mm.off, .len = 8 };
	w[TW_EXIT] = (struct gmem_window){ .off = p->task_exit_state.off, .len = 4 };
	w[TW_LEADER] = (struct gmem_window){ .off = p->task_group_leader.off, .len = 8 };
	w[TW_RCRED] = (struct gmem_window){ .off = p->task_real_cred.off, .len = 8 };
	w[TW_TASKS] = (struct gmem_window){ .off = p->task_tasks.off, .len = 16 };
	return KV_TASK_NWIN;
}

void kv_task_parse(const struct kprofile *p, const uint8_t *d, uint32_t faults, uint64_t addr,
		   struct kv_task *t)
{
	uint32_t span = cred_span(p);
	struct rbuf r = rbuf_make(d, 4 + 4 + KPROC_COMM_LEN + 12 + 8 + span + 8 + 4 + 8 + 8 + 16);
	uint32_t pid = 0, tgid = 0, ppid = 0, uid = 0, exit_state = 0;
	uint64_t parent = 0, cred = 0, mm = 0, leader = 0, rcred = 0, next = 0, prev = 0;
	const uint8_t *comm = NULL, *ids = NULL;
	/* the caller sized d from the same windows: a short read here is a bug, and leaves
	 * the fields unknown rather than wrong */
	int bad = rbuf_get_le32(&r, &pid) || rbuf_get_le32(&r, &tgid) ||
		  rbuf_get_bytes_direct(&r, &comm, KPROC_COMM_LEN) || rbuf_get_le64(&r, &parent) ||
		  rbuf_get_le32(&r, &ppid) || rbuf_get_le64(&r, &cred) ||
		  rbuf_get_bytes_direct(&r, &ids, span) || rbuf_get_le64(&r, &mm) ||
		  rbuf_get_le32(&r, &exit_state) || rbuf_get_le64(&r, &leader) ||
		  rbuf_get_le64(&r, &rcred) || rbuf_get_le64(&r, &next) || rbuf_get_le64(&r, &prev);
	*t = (struct kv_task){ .addr = addr, .pid = -1, .tgid = -1, .ppid = KPROC_PPID_UNKNOWN,
			       .uid = KPROC_UID_UNKNOWN, .euid = KPROC_UID_UNKNOWN };
	if (bad)
		return;
	(void)parent;
	uid = load_le32(ids);
	*t = (struct kv_task){ .addr = addr, .pid = (int32_t)pid, .tgid = (int32_t)tgid,
			       .ppid = (faults >> TW_PARENT) & 1 ? KPROC_PPID_UNKNOWN : (int32_t)ppid,
			       .uid = (faults >> TW_CRED) & 1 ? KPROC_UID_UNKNOWN : uid,
			       .euid = KPROC_UID_UNKNOWN, .exit_state = exit_state, .mm = mm,
			       .cred = cred, .real_cred = rcred, .group_leader = leader, .next = next,
			       .prev = prev };
	if (span > 4 && !((faults >> TW_CRED) & 1))
		t->euid = load_le32(ids + span - 4);
	kcopy_name(t->comm, comm, KPROC_COMM_LEN);
}

int kv_walk_alloc(struct gmem_walk_out *o, const struct gmem_walk_req *req)
{
	return kwalk_alloc(o, req->max_nodes, gmem_walk_stride(req));
}

/* A task read with gathers (no derefs): the fields a view needs to name it and to tell
 * whether it is on the task list. */
struct task_raw {
	uint8_t pid[4], tgid[4], comm[KPROC_COMM_LEN], exit[4], leader[8], link[16];
	int st;
};

static void task_raw_queue(struct gmem_round *q, const struct kprofile *p, uint64_t task,
			   struct task_raw *r)
{
	/* every read of the task shares one status: the first failure is kept */
	gmem_round_read(q, task + p->task_pid.off, GMEM_VIRT, r->pid, 4, &r->st);
	gmem_round_read(q, task + p->task_tgid.off, GMEM_VIRT, r->tgid, 4, &r->st);
	gmem_round_read(q, task + p->task_comm.off, GMEM_VIRT, r->comm, KPROC_COMM_LEN, &r->st);
	gmem_round_read(q, task + p->task_exit_state.off, GMEM_VIRT, r->exit, 4, &r->st);
	gmem_round_read(q, task + p->task_group_leader.off, GMEM_VIRT, r->leader, 8, &r->st);
	gmem_round_read(q, task + p->task_tasks.off, GMEM_VIRT, r->link, 16, &r->st);
}

static void task_raw_parse(const struct task_raw *r, uint64_t task, struct kv_task *t)
{
	*t = (struct kv_task){ .addr = task, .pid = (int32_t)load_le32(r->pid),
			       .tgid = (int32_t)load_le32(r->tgid), .ppid = KPROC_PPID_UNKNOWN,
			       .uid = KPROC_UID_UNKNOWN, .euid = KPROC_UID_UNKNOWN,
			       .exit_state = load_le32(r->exit), .group_leader = load_le64(r->leader),
			       .next = load_le64(r->link), .prev = load_le64(r->link + 8) };
	kcopy_name(t->comm, r->comm, KPROC_COMM_LEN);
}

/* The confirmation reads of one task's link (see the top of this file). */
struct confirm {
	uint64_t task;
	uint8_t next_prev[8], prev_next[8];
	int st;
};

static void confirm_queue(struct gmem_round *q, const struct kprofile *p, const struct kv_task *t,
			  struct confirm *c)
{
	c->task = t->addr;
	c->st = 0;
	if (!kv_kaddr(t->next) || !kv_kaddr(t->prev)) {
		c->st = SEVMON_EFAULT; /* a poisoned or torn link: not on any list */
		return;
	}
	gmem_round_read(q, t->next + 8, GMEM_VIRT, c->next_prev, 8, &c->st);
	gmem_round_read(q, t->prev, GMEM_VIRT, c->prev_next, 8, &c->st);
	(void)p;
}

/* 1 linked, 0 not (self-linked, or neighbours that do not point back), -1 unknown. */
static int confirm_result(const struct kprofile *p, const struct kv_task *t, const struct confirm *c)
{
	uint64_t link = t->addr + p->task_tasks.off;
	if (t->next == link || t->prev == link)
		return 0;
	if (c->st < 0)
		return -1;
	return load_le64(c->next_prev) == link && load_le64(c->prev_next) == link;
}

/* ---- the task list ------------------------------------------------------------------- */

struct tasks_st {
	struct gmem_walk_out wo; /* first: kv_release_walk */
	int stage, st;
	struct gmem_window w[KV_TASK_NWIN];
	struct gmem_walk_req req;
};

static int tasks_step(struct kview *kv, void *state, struct gmem_round *q)
{
	struct tasks_st *s = state;
	const struct kprofile *p = &kv->k->p;
	if (s->stage++ == 0) {
		s->req = (struct gmem_walk_req){ .head = p->sym_init_task + p->task_tasks.off,
			.next_off = p->list_head_next.off, .link_off = p->task_tasks.off, .win = s->w,
			.nwin = kv_task_windows(p, s->w), .max_nodes = KV_MAX_TASKS, .space = GMEM_VIRT };
		int rc = kv_walk_alloc(&s->wo, &s->req);
		if (rc < 0)
			return rc;
		gmem_round_walk(q, &s->req, &s->wo, &s->st);
		return 1;
	}
	if (s->st < 0)
		return s->st;
	size_t stride = gmem_walk_stride(&s->req);
	struct kv_tasks *t = &kv->tasks;
	t->v = calloc(s->wo.n ? s->wo.n : 1, sizeof *t->v);
	if (!t->v)
		return SEVMON_ENOMEM;
	for (size_t i = 0; i < s->wo.n; i++)
		kv_task_parse(p, s->wo.data + i * stride, s->wo.faults[i], s->wo.nodes[i], &t->v[t->n++]);
	t->partial = s->wo.stop != GMEM_STOP_HEAD;
	return 0;
}

static void tasks_free(struct kview *kv, unsigned part)
{
	(void)part;
	free(kv->tasks.v);
	free(kv->pids.v);
	free(kv->pids.unindexed);
	free(kv->runq.v);
}

const struct kview_loader_ops kv_tasks_ops = {
	.part = KV_TASKS, .state_size = sizeof(struct tasks_st), .step = tasks_step,
	.release = kv_release_walk, .free_data = tasks_free,
};

/* ---- the PID namespace's IDR --------------------------------------------------------- */

struct pids_st {
	int stage, xstage;
	struct xa_walk xa;
	struct pid_raw {
		uint8_t b[256];
		int st;
	} *pr;
	struct task_raw *tr;
	struct confirm *cf;
	/* list tasks the IDR lacks: read again, then confirmed */
	size_t *un;          /* their indexes in kv->tasks */
	struct task_raw *ur;
	struct kv_task *ut;
	struct confirm *ucf;
	size_t nun;
	uint32_t span, nr_at;
};

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Queue the confirmations: IDR tasks the list lacks, list tasks the IDR lacks. */
static int pids_cross(struct kview *kv, struct pids_st *s, struct gmem_round *q)
{
	const struct kprofile *p = &kv->k->p;
	struct kv_pids *v = &kv->pids;
	s->cf = calloc(v->n ? v->n : 1, sizeof *s->cf);
	uint64_t *seen = calloc(v->n ? v->n : 1, sizeof *seen);
	size_t nseen = 0;
	if (!s->cf || !seen) {
		free(seen);
		return SEVMON_ENOMEM;
	}
	for (size_t i = 0; i < v->n; i++) {
		struct kv_pid *e = &v->v[i];
		if (!e->t.addr)
			continue;
		if (s->tr[i].st < 0) {
			v->partial = 1;
			e->t.addr = 0;
			continue;
		}
		task_raw_parse(&s->tr[i], e->t.addr, &e->t);
		e->read = 1;
		seen[nseen++] = e->t.addr;
		/* a thread is not on the task list (its leader is); an exiting task leaves it
		 * on its way out; pid 0 is the list's head */
		if (e->t.pid != e->t.tgid || e->t.exit_state || e->t.pid <= 0 ||
		    kview_task_listed(kv, e->t.addr))
			continue;
		e->linked = -2; /* to confirm */
		confirm_queue(q, p, &e->t, &s->cf[i]);
	}
	/* the list's tasks the IDR does not name (only when the IDR was read whole) */
	if (!v->partial && !kv->tasks.partial) {
		qsort(seen, nseen, sizeof *seen, u64_cmp);
		s->un = calloc(kv->tasks.n ? kv->tasks.n : 1, sizeof *s->un);
		s->ur = calloc(kv->tasks.n ? kv->tasks.n : 1, sizeof *s->ur);
		if (!s->un || !s->ur) {
			free(seen);
			return SEVMON_ENOMEM;
		}
		for (size_t i = 0; i < kv->tasks.n; i++) {
			const struct kv_task *t = &kv->tasks.v[i];
			if (t->pid <= 0 || t->exit_state ||
			    bsearch(&t->addr, seen, nseen, sizeof *seen, u64_cmp))
				continue;
			s->un[s->nun] = i;
			task_raw_queue(q, p, t->addr, &s->ur[s->nun++]);
		}
	}
	free(seen);
	return 1;
}

static int pids_step(struct kview *kv, void *state, struct gmem_round *q)
{
	struct pids_st *s = state;
	const struct kprofile *p = &kv->k->p;
	struct kv_pids *v = &kv->pids;
	if (!p->sym_init_pid_ns)
		return SEVMON_ENOTSUP;
	switch (s->stage) {
	case 0: { /* the XArray, level by level */
		int rc = kv_xa_step(&s->xa, p, p->sym_init_pid_ns + p->pidns_xa_head.off, s->xstage++, q,
				 KV_MAX_PIDS);
		if (rc != 0)
			return rc;
		/* every struct pid: its PIDTYPE_PID task (tasks[0].first) and numbers[0].nr */
		v->partial = s->xa.partial;
		uint32_t lo = p->pid_tasks.off, hi = p->pid_numbers.off + p->upid_nr.off + 4;
		if (hi <= lo || hi - lo > sizeof s->pr->b)
			return SEVMON_ENOTSUP;
		s->span = hi - lo;
		s->nr_at = p->pid_numbers.off + p->upid_nr.off - lo;
		v->v = calloc(s->xa.nleaves ? s->xa.nleaves : 1, sizeof *v->v);
		s->pr = calloc(s->xa.nleaves ? s->xa.nleaves : 1, sizeof *s->pr);
		if (!v->v || !s->pr)
			return SEVMON_ENOMEM;
		for (size_t i = 0; i < s->xa.nleaves; i++)
			gmem_round_read(q, s->xa.leaves[i] + lo, GMEM_VIRT, s->pr[i].b, s->span,
					&s->pr[i].st);
		s->stage = 1;
		return 1;
	}
	case 1: /* the tasks behind the pids */
		s->tr = calloc(s->xa.nleaves ? s->xa.nleaves : 1, sizeof *s->tr);
		if (!s->tr)
			return SEVMON_ENOMEM;
		for (size_t i = 0; i < s->xa.nleaves; i++) {
			struct kv_pid *e = &v->v[v->n++];
			e->pid = s->xa.leaves[i];
			e->linked = 1;
			if (s->pr[i].st < 0) {
				v->partial = 1;
				continue;
			}
			uint64_t first = load_le64(s->pr[i].b); /* tasks[PIDTYPE_PID].first */
			e->nr = (int32_t)load_le32(s->pr[i].b + s->nr_at);
			if (!kv_kaddr(first))
				continue; /* no task: a pid a process group or a pidfd keeps */
			e->t.addr = first - p->task_pid_links.off;
			task_raw_queue(q, p, e->t.addr, &s->tr[i]);
		}
		s->stage = 2;
		return 1;
	case 2: /* compare with the task list (read in the first round) */
		if (!(kv->loaded & KV_TASKS))
			return kv->failed & KV_TASKS ? SEVMON_EPARTIAL : 1;
		s->stage = 3;
		return pids_cross(kv, s, q);
	case 3: /* the results for the IDR's; the list's read again: still alive? */
		for (size_t i = 0; i < v->n; i++)
			if (v->v[i].linked == -2)
				v->v[i].linked = confirm_result(p, &v->v[i].t, &s->cf[i]);
		s->ut = calloc(s->nun ? s->nun : 1, sizeof *s->ut);
		s->ucf = calloc(s->nun ? s->nun : 1, sizeof *s->ucf);
		if (!s->ut || !s->ucf)
			return SEVMON_ENOMEM;
		for (size_t i = 0; i < s->nun; i++) {
			if (s->ur[i].st < 0) {
				s->ut[i].addr = 0; /* gone: freed between the reads */
				continue;
			}
			task_raw_parse(&s->ur[i], kv->tasks.v[s->un[i]].addr, &s->ut[i]);
			if (s->ut[i].exit_state)
				s->ut[i].addr = 0;
			else
				confirm_queue(q, p, &s->ut[i], &s->ucf[i]);
		}
		s->stage = 4;
		return 1;
	default:
		v->unindexed = calloc(s->nun ? s->nun : 1, sizeof *v->unindexed);
		if (!v->unindexed)
			return SEVMON_ENOMEM;
		for (size_t i = 0; i < s->nun; i++)
			if (s->ut[i].addr && confirm_result(p, &s->ut[i], &s->ucf[i]) == 1)
				v->unindexed[v->nunindexed++] = s->ut[i];
		return 0;
	}
}

static void pids_release(struct kview *kv, void *state)
{
	struct pids_st *s = state;
	(void)kv;
	kv_xa_free(&s->xa);
	free(s->pr);
	free(s->tr);
	free(s->cf);
	free(s->un);
	free(s->ur);
	free(s->ut);
	free(s->ucf);
}

const struct kview_loader_ops kv_pids_ops = {
	.part = KV_PIDS, .deps = 0, .state_size = sizeof(struct pids_st), .step = pids_step,
	.release = pids_release,
};

/* ---- the runqueues ------------------------------------------------------------------- */

struct runq_st {
	int stage;
	uint8_t ncpu[4], off[KV_MAX_CPUS * 8];
	int st_ncpu, st_off;
	struct rq_cpu {
		uint64_t rq;
		uint8_t curr[8];
		int st;
		struct gmem_window w[5];
		struct gmem_walk_req req;
		struct gmem_walk_out wo;
		int wst;
	} *cpu;
	uint32_t n;
	struct task_raw *tr; /* curr tasks, then the leaders to confirm */
	struct task_raw *lr;
	struct confirm *cf;
};

static int runq_step(struct kview *kv, void *state, struct gmem_round *q)
{
	struct runq_st *s = state;
	const struct kprofile *p = &kv->k->p;
	struct kv_runq *v = &kv->runq;
	static const int need[] = { KPROFILE_OFF_rq_curr, KPROFILE_OFF_rq_cfs_tasks,
		KPROFILE_OFF_task_se_group_node, -1 };
	if (!p->sym_runqueues || !p->sym___per_cpu_offset || !p->sym_nr_cpu_ids || kv_need(p, need) < 0)
		return SEVMON_ENOTSUP;
	switch (s->stage) {
	case 0:
		gmem_round_read(q, p->sym_nr_cpu_ids, GMEM_VIRT, s->ncpu, 4, &s->st_ncpu);
		gmem_round_read(q, p->sym___per_cpu_offset, GMEM_VIRT, s->off, sizeof s->off, &s->st_off);
		s->stage = 1;
		return 1;
	case 1: {
		if (s->st_ncpu < 0 || s->st_off < 0)
			return s->st_ncpu < 0 ? s->st_ncpu : s->st_off;
		uint32_t n = load_le32(s->ncpu);
		if (n == 0)
			return SEVMON_EDECODE;
		if (n > KV_MAX_CPUS) {
			n = KV_MAX_CPUS;
			v->partial = 1;
		}
		s->cpu = calloc(n, sizeof *s->cpu);
		if (!s->cpu)
			return SEVMON_ENOMEM;
		s->n = n;
		v->ncpus = n;
		for (uint32_t c = 0; c < n; c++) {
			struct rq_cpu *rc = &s->cpu[c];
			rc->rq = p->sym_runqueues + load_le64(s->off + 8 * c);
			gmem_round_read(q, rc->rq + p->rq_curr.off, GMEM_VIRT, rc->curr, 8, &rc->st);
			rc->w[0] = (struct gmem_window){ .off = p->task_pid.off, .len = 4 };
			rc->w[1] = (struct gmem_window){ .off = p->task_tgid.off, .len = 4 };
			rc->w[2] = (struct gmem_window){ .off = p->task_comm.off, .len = KPROC_COMM_LEN };
			rc->w[3] = (struct gmem_window){ .off = p->task_exit_state.off, .len = 4 };
			rc->w[4] = (struct gmem_window){ .off = p->task_group_leader.off, .len = 8 };
			rc->req = (struct gmem_walk_req){ .head = rc->rq + p->rq_cfs_tasks.off,
				.next_off = p->list_head_next.off, .link_off = p->task_se_group_node.off,
				.win = rc->w, .nwin = 5, .max_nodes = KV_MAX_RUNQ_TASKS, .space = GMEM_VIRT };
			int r = kv_walk_alloc(&rc->wo, &rc->req);
			if (r < 0)
				return r;
			gmem_round_walk(q, &rc->req, &rc->wo, &rc->wst);
		}
		s->stage = 2;
		return 1;
	}
	case 2: { /* the CFS tasks are read; the current tasks are read now */
		size_t total = s->n;
		for (uint32_t c = 0; c < s->n; c++)
			total += s->cpu[c].wo.n;
		if (total > KV_MAX_RUNQ_TASKS) {
			total = KV_MAX_RUNQ_TASKS;
			v->partial = 1;
		}
		v->v = calloc(total ? total : 1, sizeof *v->v);
		s->tr = calloc(total ? total : 1, sizeof *s->tr);
		if (!v->v || !s->tr)
			return SEVMON_ENOMEM;
		for (uint32_t c = 0; c < s->n && v->n < total; c++) {
			struct rq_cpu *rc = &s->cpu[c];
			uint64_t curr = rc->st == 0 ? load_le64(rc->curr) : 0;
			if (rc->st < 0 || rc->wst < 0 || rc->wo.stop != GMEM_STOP_HEAD)
				v->partial = 1;
			if (kv_kaddr(curr)) {
				struct kv_rq_task *e = &v->v[v->n];
				*e = (struct kv_rq_task){ .cpu = c, .curr = 1, .t.addr = curr, .linked = 1 };
				task_raw_queue(q, p, curr, &s->tr[v->n++]);
			}
			size_t stride = gmem_walk_stride(&rc->req);
			for (size_t i = 0; rc->wst == 0 && i < rc->wo.n && v->n < total; i++) {
				const uint8_t *d = rc->wo.data + i * stride;
				struct kv_rq_task *e = &v->v[v->n++];
				*e = (struct kv_rq_task){ .cpu = c, .read = 1, .linked = 1 };
				e->t = (struct kv_task){ .addr = rc->wo.nodes[i], .pid = (int32_t)load_le32(d),
					.tgid = (int32_t)load_le32(d + 4), .ppid = KPROC_PPID_UNKNOWN,
					.uid = KPROC_UID_UNKNOWN, .euid = KPROC_UID_UNKNOWN,
					.exit_state = load_le32(d + 8 + KPROC_COMM_LEN),
					.group_leader = load_le64(d + 12 + KPROC_COMM_LEN) };
				kcopy_name(e->t.comm, d + 8, KPROC_COMM_LEN);
			}
		}
		s->stage = 3;
		return 1;
	}
	case 3: /* whose group leader is not on the task list: read the leader's link */
		if (!(kv->loaded & KV_TASKS))
			return kv->failed & KV_TASKS ? SEVMON_EPARTIAL : 1;
		s->lr = calloc(v->n ? v->n : 1, sizeof *s->lr);
		if (!s->lr)
			return SEVMON_ENOMEM;
		for (size_t i = 0; i < v->n; i++) {
			struct kv_rq_task *e = &v->v[i];
			if (e->curr) {
				if (s->tr[i].st < 0) {
					v->partial = 1;
					continue;
				}
				task_raw_parse(&s->tr[i], e->t.addr, &e->t);
				e->read = 1;
			}
			/* the idle tasks (pid 0) are on no list; an exiting task is leaving it */
			if (e->t.pid <= 0 || e->t.exit_state || kview_task_listed(kv, e->t.group_leader))
				continue;
			e->linked = -2;
			task_raw_queue(q, p, e->t.group_leader, &s->lr[i]);
		}
		s->stage = 4;
		return 1;
	case 4:
		s->cf = calloc(v->n ? v->n : 1, sizeof *s->cf);
		if (!s->cf)
			return SEVMON_ENOMEM;
		for (size_t i = 0; i < v->n; i++) {
			struct kv_rq_task *e = &v->v[i];
			if (e->linked != -2)
				continue;
			struct kv_task leader;
			if (s->lr[i].st < 0) {
				e->linked = -1;
				continue;
			}
			task_raw_parse(&s->lr[i], e->t.group_leader, &leader);
			if (leader.exit_state) {
				e->linked = 1; /* the group is exiting */
				continue;
			}
			confirm_queue(q, p, &leader, &s->cf[i]);
			/* keep the leader's link for the result */
			s->lr[i].st = 0;
		}
		s->stage = 5;
		return 1;
	default:
		for (size_t i = 0; i < v->n; i++) {
			struct kv_rq_task *e = &v->v[i];
			if (e->linked != -2)
				continue;
			struct kv_task leader;
			task_raw_parse(&s->lr[i], e->t.group_leader, &leader);
			e->linked = confirm_result(p, &leader, &s->cf[i]);
		}
		return 0;
	}
}

static void runq_release(struct kview *kv, void *state)
{
	struct runq_st *s = state;
	(void)kv;
	for (uint32_t c = 0; s->cpu && c < s->n; c++)
		kwalk_free(&s->cpu[c].wo);
	free(s->cpu);
	free(s->tr);
	free(s->lr);
	free(s->cf);
}

const struct kview_loader_ops kv_runq_ops = {
	.part = KV_RUNQ, .state_size = sizeof(struct runq_st), .step = runq_step,
	.release = runq_release,
};
