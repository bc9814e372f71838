/*
 * checks.c — banner, process list and module list, read with the profile's offsets.
 * ps = one WalkList over init_task.tasks (pid, tgid, comm, real_parent -> tgid, cred -> uid,
 * mm, exit_state): the parent's tgid and the uid come back as deref windows, so a backend
 * that walks (an agent) answers it in one round trip.
 */
#include <stdlib.h>
#include <string.h>

#include "introspect.h"
#include "err.h"
#include "rbuf.h"

int kcheck_banner(struct kintro *k, char *out, size_t cap)
{
	uint8_t b[KPROFILE_MAX_BANNER];
	if (!cap)
		return SEVMON_EINVAL;
	int rc = gmem_read(k->g, k->p.sym_linux_banner, GMEM_VIRT, b, sizeof b);
	if (rc < 0)
		return rc;
	size_t n = strnlen((char *)b, sizeof b);
	while (n && (b[n - 1] == '\n'))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, b, n);
	out[n] = '\0';
	return 0;
}

static void copy_name(char *dst, const uint8_t *src, size_t n)
{
	size_t l = strnlen((const char *)src, n);
	memcpy(dst, src, l);
	dst[l] = '\0';
}

static int walk_alloc(struct gmem_walk_out *o, size_t max, size_t stride)
{
	o->nodes = calloc(max ? max : 1, sizeof *o->nodes);
	o->data = calloc(max ? max : 1, stride);
	o->faults = calloc(max ? max : 1, sizeof *o->faults);
	return o->nodes && o->data && o->faults ? 0 : SEVMON_ENOMEM;
}

static void walk_free(struct gmem_walk_out *o)
{
	free(o->nodes);
	free(o->data);
	free(o->faults);
}

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
	int rc = walk_alloc(&wo, req.max_nodes, stride);
	if (rc < 0 || (rc = gmem_walk(k->g, &req, &wo)) < 0)
		goto out;
	if (stride != PS_STRIDE) {
		rc = SEVMON_EINVAL; /* the layout above and the windows disagree */
		goto out;
	}
	*partial = wo.stop != GMEM_STOP_HEAD;
	for (size_t i = 0; i < wo.n; i++) {
		const uint8_t *d = wo.data + i * stride;
		out[i] = (struct kproc){
			.task = wo.nodes[i],
			.pid = (int32_t)load_le32(d + PS_PID),
			.tgid = (int32_t)load_le32(d + PS_TGID),
			.exiting = load_le32(d + PS_EXIT) != 0,
			.ppid = (int32_t)load_le32(d + PS_PARENT + 8),
			.uid = load_le32(d + PS_CRED + 8),
		};
		out[i].kthread = load_le64(d + PS_MM) == 0 && !out[i].exiting;
		copy_name(out[i].comm, d + PS_COMM, KPROC_COMM_LEN);
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
	walk_free(&wo);
	return rc;
}

int kcheck_modules(struct kintro *k, struct kmod *out, size_t max, int *partial)
{
	const struct kprofile *p = &k->p;
	const struct gmem_window win[] = {
		{ p->module_name.off, p->module_name.size },
		{ p->module_state.off, 4 },
	};
	const struct gmem_walk_req req = {
		.head = p->sym_modules,
		.next_off = p->list_head_next.off,
		.link_off = p->module_list.off,
		.win = win,
		.nwin = 2,
		.max_nodes = max < GMEM_WALK_MAX_NODES ? max : GMEM_WALK_MAX_NODES,
		.space = GMEM_VIRT,
	};
	size_t stride = gmem_walk_stride(&req);
	struct gmem_walk_out wo = { 0 };
	int rc = walk_alloc(&wo, req.max_nodes, stride);
	if (rc == 0)
		rc = gmem_walk(k->g, &req, &wo);
	if (rc == 0) {
		*partial = wo.stop != GMEM_STOP_HEAD;
		for (size_t i = 0; i < wo.n; i++) {
			const uint8_t *d = wo.data + i * stride;
			out[i].addr = wo.nodes[i];
			copy_name(out[i].name, d, p->module_name.size);
			out[i].state = (int32_t)load_le32(d + p->module_name.size);
		}
		rc = (int)wo.n;
	}
	walk_free(&wo);
	return rc;
}
