/*
 * check_ps.c — the process list: ONE WalkList over init_task.tasks (pid, tgid, comm,
 * real_parent -> tgid, cred -> uid, mm, exit_state). The parent's tgid and the uid come
 * back as deref windows, so a backend that walks (an agent) answers it in one round trip.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kchecks.h"
#include "kview.h"
#include "rbuf.h"

/* ps windows, in request order; real_parent and cred are followed by the 4 bytes they point
 * at (real_parent->tgid, cred->uid). Offsets into one node's data: */
enum {
	PS_PID = 0,
	PS_TGID = 4,
	PS_COMM = 8,
	PS_PARENT = PS_COMM + KPROC_COMM_LEN, /* pointer, then the parent's tgid */
	PS_CRED = PS_PARENT + 12,             /* pointer, then uid */
	PS_MM = PS_CRED + 12,
	PS_EXIT = PS_MM + 8,
	PS_STRIDE = PS_EXIT + 4,
};
enum { PS_WIN_PARENT = 3, PS_WIN_CRED = 4 }; /* window indexes: bits in the fault mask */

int kcheck_ps(struct kintro *k, struct kproc *out, size_t max, int *partial)
{
	const struct kprofile *p = &k->p;
	const struct gmem_window win[] = {
		{ .off = p->task_pid.off, .len = 4 },
		{ .off = p->task_tgid.off, .len = 4 },
		{ .off = p->task_comm.off, .len = KPROC_COMM_LEN },
		[PS_WIN_PARENT] = { .off = p->task_real_parent.off, .len = 8, .deref = 1,
				    .deref_off = p->task_tgid.off, .deref_len = 4 },
		[PS_WIN_CRED] = { .off = p->task_cred.off, .len = 8, .deref = 1,
				  .deref_off = p->cred_uid.off, .deref_len = 4 },
		{ .off = p->task_mm.off, .len = 8 },
		{ .off = p->task_exit_state.off, .len = 4 },
	};
	const struct gmem_walk_req req = {
		.head = p->sym_init_task + p->task_tasks.off,
		.next_off = p->list_head_next.off,
		.link_off = p->task_tasks.off,
		.win = win,
		.nwin = sizeof win / sizeof win[0],
		.max_nodes = max < GMEM_WALK_MAX_NODES ? max : GMEM_WALK_MAX_NODES,
		.space = GMEM_VIRT,
	};
	size_t stride = gmem_walk_stride(&req);
	struct gmem_walk_out wo = { 0 };
	int rc = kwalk_alloc(&wo, req.max_nodes, stride);
	if (rc < 0 || (rc = gmem_walk(k->g, &req, &wo)) < 0)
		goto out;
	if (stride != PS_STRIDE) {
		rc = SEVMON_EINVAL; /* the layout above and the windows disagree */
		goto out;
	}
	*partial = wo.stop != GMEM_STOP_HEAD;
	for (size_t i = 0; i < wo.n; i++) {
		struct rbuf r = rbuf_make(wo.data + i * stride, stride);
		uint32_t pid, tgid, ppid, uid, exit_state;
		uint64_t parent, cred, mm;
		const uint8_t *comm;
		/* the walk gives exactly PS_STRIDE bytes per node (checked above); reading them
		 * through the bounded reader keeps the layout in one place, in window order */
		if (rbuf_get_le32(&r, &pid) || rbuf_get_le32(&r, &tgid) ||
		    rbuf_get_bytes_direct(&r, &comm, KPROC_COMM_LEN) || rbuf_get_le64(&r, &parent) ||
		    rbuf_get_le32(&r, &ppid) || rbuf_get_le64(&r, &cred) || rbuf_get_le32(&r, &uid) ||
		    rbuf_get_le64(&r, &mm) || rbuf_get_le32(&r, &exit_state)) {
			rc = SEVMON_EINVAL;
			goto out;
		}
		(void)parent; /* the pointers themselves: only their deref windows matter here */
		(void)cred;
		out[i] = (struct kproc){
			.task = wo.nodes[i],
			.pid = (int32_t)pid,
			.tgid = (int32_t)tgid,
			.exiting = exit_state != 0,
			.ppid = (int32_t)ppid,
			.uid = uid,
		};
		out[i].kthread = mm == 0 && !out[i].exiting;
		kcopy_name(out[i].comm, comm, KPROC_COMM_LEN);
		/* A torn pointer costs that one field: unknown (KPROC_PPID_UNKNOWN /
		 * KPROC_UID_UNKNOWN), never the zeros the walk filled in. */
		if (wo.faults[i] & (1u << PS_WIN_PARENT)) {
			out[i].ppid = KPROC_PPID_UNKNOWN;
			*partial = 1;
		}
		if (wo.faults[i] & (1u << PS_WIN_CRED)) {
			out[i].uid = KPROC_UID_UNKNOWN;
			*partial = 1;
		}
	}
	rc = (int)wo.n;
out:
	kwalk_free(&wo);
	return rc;
}

/* ---- the registry row ---------------------------------------------------------------- */

/* The task list view (kview: the same walk, read with the sweep's other views). */
static int ps_run(const struct check_env *env, void *res)
{
	struct ps_result *r = res;
	int rc = kview_load(env->kv, KV_TASKS);
	if (rc < 0)
		return rc;
	const struct kv_tasks *t = &env->kv->tasks;
	r->v = malloc((t->n ? t->n : 1) * sizeof *r->v);
	if (!r->v)
		return SEVMON_ENOMEM;
	r->h.partial = t->partial;
	for (size_t i = 0; i < t->n; i++) {
		const struct kv_task *k = &t->v[i];
		struct kproc *p = &r->v[r->n++];
		*p = (struct kproc){ .task = k->addr, .pid = k->pid, .tgid = k->tgid, .ppid = k->ppid,
				     .uid = k->uid, .exiting = k->exit_state != 0 };
		p->kthread = k->mm == 0 && !p->exiting;
		memcpy(p->comm, k->comm, sizeof p->comm);
		/* a torn pointer costs that one field: unknown, and the list partial */
		if (p->ppid == KPROC_PPID_UNKNOWN || p->uid == KPROC_UID_UNKNOWN)
			r->h.partial = 1;
	}
	return 0;
}

static void ps_encode(const void *res, struct jw *w)
{
	const struct ps_result *r = res;
	jw_obj(w);
	jw_key(w, "processes");
	jw_arr(w);
	for (size_t i = 0; i < r->n; i++) {
		const struct kproc *p = &r->v[i];
		jw_obj(w);
		jw_key(w, "pid");
		jw_int(w, p->pid);
		jw_key(w, "tgid");
		jw_int(w, p->tgid);
		jw_key(w, "ppid");
		if (p->ppid == KPROC_PPID_UNKNOWN)
			jw_null(w);
		else
			jw_int(w, p->ppid);
		jw_key(w, "uid");
		if (p->uid == KPROC_UID_UNKNOWN)
			jw_null(w);
		else
			jw_uint(w, p->uid);
		jw_key(w, "comm");
		jw_str(w, p->comm);
		jw_key(w, "kthread");
		jw_bool(w, p->kthread);
		jw_key(w, "exiting");
		jw_bool(w, p->exiting);
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_key(w, "partial");
	jw_bool(w, r->h.partial);
	jw_obj_end(w);
}

static void ps_print(const void *res, FILE *f)
{
	const struct ps_result *r = res;
	fprintf(f, "%7s %7s %7s %6s  %s\n", "PID", "TGID", "PPID", "UID", "COMMAND");
	for (size_t i = 0; i < r->n; i++) {
		const struct kproc *p = &r->v[i];
		char ppid[16] = "?", uid[16] = "?"; /* unknown: a pointer could not be followed */
		if (p->ppid != KPROC_PPID_UNKNOWN)
			snprintf(ppid, sizeof ppid, "%" PRId32, p->ppid);
		if (p->uid != KPROC_UID_UNKNOWN)
			snprintf(uid, sizeof uid, "%" PRIu32, p->uid);
		fprintf(f, "%7" PRId32 " %7" PRId32 " %7s %6s  %s", p->pid, p->tgid, ppid, uid,
			p->kthread ? "[" : "");
		kprint_safe(f, p->comm); /* the guest's bytes: printable only */
		fprintf(f, "%s%s\n", p->kthread ? "]" : "", p->exiting ? " <exiting>" : "");
	}
	if (r->h.partial)
		fprintf(f, "(partial: the task list did not come back to its head, or a ppid/uid"
			   " is unknown: '?')\n");
}

static void ps_release(void *res)
{
	struct ps_result *r = res;
	free(r->v);
	r->v = NULL;
}

static const int ps_members[] = {
	KPROFILE_OFF_task_tasks, KPROFILE_OFF_task_pid, KPROFILE_OFF_task_tgid,
	KPROFILE_OFF_task_comm, KPROFILE_OFF_task_real_parent, KPROFILE_OFF_task_cred,
	KPROFILE_OFF_task_mm, KPROFILE_OFF_task_exit_state, KPROFILE_OFF_cred_uid,
	KPROFILE_OFF_list_head_next, -1,
};

const struct check_def check_ps = {
	.name = "ps",
	.summary = "processes from the kernel's task list (init_task.tasks): pid, ppid, uid, name",
	.needs = CHECK_NEEDS_KERNEL,
	.in_default = 1,
	.diff = STORE_DIFF_PROCESSES,
	.members = ps_members,
	.views = KV_TASKS,
	.result_size = sizeof(struct ps_result),
	.run = ps_run,
	.encode = ps_encode,
	.print = ps_print,
	.release = ps_release,
};
