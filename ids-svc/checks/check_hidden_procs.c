/*
 * check_hidden_procs.c — hidden processes: three of the kernel's own views of its tasks,
 * compared (kview.h).
 *   task list   init_task.tasks: what for_each_process() and `ps` in the kernel's sense walk
 *   pid IDR     init_pid_ns.idr → struct pid → tasks[PIDTYPE_PID]: what /proc lists
 *   runqueues   every CPU's rq->curr and rq->cfs_tasks: what the scheduler runs
 * A live thread-group leader in the IDR, or a runnable task whose leader is, that is not
 * on the task list (confirmed by reading its link again: neither a process forked between
 * the reads nor one exiting) is hidden; so is a live task of the list that no pid names
 * (it vanished from /proc). Each is a high finding naming pid, comm and the views.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kchecks.h"
#include "kview.h"

enum { HV_LIST = 1, HV_PIDS = 2, HV_RUNQ = 4 };
static const char *const view_name[] = { "task_list", "pid_idr", "runqueue" };

struct hidden_proc {
	int32_t pid, tgid;
	char comm[KPROC_COMM_LEN + 1];
	uint64_t task;
	unsigned in, missing; /* HV_* */
	int cpu;              /* the runqueue it was on, or -1 */
	int confirmed;        /* 1: its link was read again and is not on a list */
};

struct hidden_procs_result {
	struct check_result h;
	size_t tasks, pids, runq;
	uint32_t cpus;
	int runq_read;
	struct hidden_proc *v;
	size_t n;
};

static int add(struct hidden_procs_result *r, const struct kv_task *t, unsigned in, unsigned missing,
	       int cpu, int linked)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].task == t->addr) { /* seen by another view too */
			r->v[i].in |= in;
			return 0;
		}
	struct hidden_proc *v = realloc(r->v, (r->n + 1) * sizeof *v);
	if (!v)
		return SEVMON_ENOMEM;
	r->v = v;
	v[r->n++] = (struct hidden_proc){ .pid = t->pid, .tgid = t->tgid, .task = t->addr, .in = in,
					  .missing = missing, .cpu = cpu, .confirmed = linked == 0 };
	memcpy(v[r->n - 1].comm, t->comm, sizeof t->comm);
	return 0;
}

static int hidden_procs_run(const struct check_env *env, void *res)
{
	struct hidden_procs_result *r = res;
	struct kview *kv = env->kv;
	int rc = kview_load(kv, KV_TASKS | KV_PIDS);
	if (rc < 0)
		return rc;
	/* the runqueues are a third view where the kernel has them (SMP); without, two */
	r->runq_read = kview_load(kv, KV_RUNQ) == 0;
	r->tasks = kv->tasks.n;
	r->pids = kv->pids.n;
	r->h.partial = kv->tasks.partial || kv->pids.partial;
	for (size_t i = 0; i < kv->pids.n; i++) {
		const struct kv_pid *e = &kv->pids.v[i];
		if (e->read && e->linked != 1 && (rc = add(r, &e->t, HV_PIDS, HV_LIST, -1, e->linked)) < 0)
			return rc;
	}
	for (size_t i = 0; i < kv->pids.nunindexed; i++)
		if ((rc = add(r, &kv->pids.unindexed[i], HV_LIST, HV_PIDS, -1, 0)) < 0)
			return rc;
	if (r->runq_read) {
		r->runq = kv->runq.n;
		r->cpus = kv->runq.ncpus;
		r->h.partial |= kv->runq.partial;
		for (size_t i = 0; i < kv->runq.n; i++) {
			const struct kv_rq_task *e = &kv->runq.v[i];
			if (e->read && e->linked != 1 &&
			    (rc = add(r, &e->t, HV_RUNQ, HV_LIST, (int)e->cpu, e->linked)) < 0)
				return rc;
		}
	}
	return 0;
}

static void views(struct jw *w, unsigned m)
{
	kviews_json(w, m, view_name, 3);
}

/* A hidden process: an entry of the payload, and its finding's evidence. */
static void proc_json(struct jw *w, const void *arg)
{
	const struct hidden_proc *h = arg;
	jw_obj(w);
	jw_key(w, "pid");
	jw_int(w, h->pid);
	jw_key(w, "tgid");
	jw_int(w, h->tgid);
	jw_key(w, "comm");
	jw_str(w, h->comm);
	jw_key(w, "task");
	jw_hex(w, h->task);
	jw_key(w, "in");
	views(w, h->in);
	jw_key(w, "missing_from");
	views(w, h->missing);
	if (h->cpu >= 0) {
		jw_key(w, "cpu");
		jw_int(w, h->cpu);
	}
	jw_key(w, "confirmed");
	jw_bool(w, h->confirmed);
	jw_obj_end(w);
}

static void hidden_procs_encode(const void *res, struct jw *w)
{
	const struct hidden_procs_result *r = res;
	jw_obj(w);
	jw_key(w, "views");
	jw_obj(w);
	jw_key(w, "task_list");
	jw_uint(w, r->tasks);
	jw_key(w, "pid_idr");
	jw_uint(w, r->pids);
	jw_key(w, "runqueue");
	if (r->runq_read)
		jw_uint(w, r->runq);
	else
		jw_null(w);
	jw_key(w, "cpus");
	jw_uint(w, r->cpus);
	jw_obj_end(w);
	jw_key(w, "hidden");
	jw_arr(w);
	for (size_t i = 0; i < r->n; i++)
		proc_json(w, &r->v[i]);
	jw_arr_end(w);
	jw_key(w, "partial");
	jw_bool(w, r->h.partial);
	jw_obj_end(w);
}

static void print_views(FILE *f, unsigned m)
{
	kviews_print(f, m, view_name, 3);
}

static void hidden_procs_print(const void *res, FILE *f)
{
	const struct hidden_procs_result *r = res;
	fprintf(f, "task list %zu, pid IDR %zu, runqueues ", r->tasks, r->pids);
	if (r->runq_read)
		fprintf(f, "%zu (%" PRIu32 " CPUs)\n", r->runq, r->cpus);
	else
		fprintf(f, "not read\n");
	if (r->n)
		fprintf(f, "%7s %7s  %-16s %-18s %-20s %s\n", "PID", "TGID", "COMMAND", "TASK", "IN",
			"MISSING FROM");
	for (size_t i = 0; i < r->n; i++) {
		const struct hidden_proc *h = &r->v[i];
		fprintf(f, "%7" PRId32 " %7" PRId32 "  ", h->pid, h->tgid);
		kprint_safe(f, h->comm);
		fprintf(f, "%*s 0x%016" PRIx64 " ", (int)(16 - strlen(h->comm)) > 0 ? (int)(16 - strlen(h->comm)) : 0,
			"", h->task);
		print_views(f, h->in);
		fputs("  ", f);
		print_views(f, h->missing);
		fputc('\n', f);
	}
	if (r->h.partial)
		fprintf(f, "(partial: a view could not be read whole)\n");
}

static int hidden_procs_findings(const void *res, struct check_findings *out)
{
	const struct hidden_procs_result *r = res;
	for (size_t i = 0; i < r->n; i++) {
		const struct hidden_proc *h = &r->v[i];
		char subject[64];
		snprintf(subject, sizeof subject, "%" PRId32 ":%s", h->pid, h->comm);
		int rc = check_finding_jw(out, STORE_SEV_HIGH, "hidden_process", subject,
					  CHECK_T_ROOTKIT, proc_json, h);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void hidden_procs_release(void *res)
{
	struct hidden_procs_result *r = res;
	free(r->v);
	r->v = NULL;
}

static const int hidden_procs_members[] = {
	KPROFILE_OFF_task_tasks, KPROFILE_OFF_task_pid, KPROFILE_OFF_task_tgid,
	KPROFILE_OFF_task_comm, KPROFILE_OFF_task_exit_state, KPROFILE_OFF_task_group_leader,
	KPROFILE_OFF_task_pid_links, KPROFILE_OFF_pid_tasks, KPROFILE_OFF_pid_numbers,
	KPROFILE_OFF_upid_nr, KPROFILE_OFF_pidns_xa_head, KPROFILE_OFF_xa_node_shift,
	KPROFILE_OFF_xa_node_slots, KPROFILE_OFF_task_real_parent, KPROFILE_OFF_task_cred,
	KPROFILE_OFF_task_mm, KPROFILE_OFF_task_real_cred, KPROFILE_OFF_cred_uid,
	KPROFILE_OFF_list_head_next, -1,
};

const struct check_def check_hidden_procs = {
	.name = "hidden_procs",
	.summary = "hidden processes: the task list against the pid IDR (/proc) and the runqueues",
	.needs = CHECK_NEEDS_KERNEL,
	.in_default = 1,
	.diff = STORE_DIFF_NONE,
	.members = hidden_procs_members,
	.views = KV_TASKS | KV_PIDS | KV_RUNQ,
	.result_size = sizeof(struct hidden_procs_result),
	.run = hidden_procs_run,
	.encode = hidden_procs_encode,
	.print = hidden_procs_print,
	.findings = hidden_procs_findings,
	.release = hidden_procs_release,
};
