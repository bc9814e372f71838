/*
 * checks.c — banner, process list and module list, read with the profile's offsets.
 * ps = one WalkList over init_task.tasks (pid, tgid, comm, real_parent, cred, mm windows)
 * + one Gather of real_parent->tgid and cred->uid for every node.
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
	return o->nodes && o->data ? 0 : SEVMON_ENOMEM;
}

int kcheck_ps(struct kintro *k, struct kproc *out, size_t max, int *partial)
{
	const struct kprofile *p = &k->p;
	const struct gmem_window win[] = {
		{ p->task_pid.off, 4 },
		{ p->task_tgid.off, 4 },
		{ p->task_comm.off, KPROC_COMM_LEN },
		{ p->task_real_parent.off, 8 },
		{ p->task_cred.off, 8 },
		{ p->task_mm.off, 8 },
		{ p->task_exit_state.off, 4 },
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
	struct gmem_range *r = NULL;
	uint8_t *ids = NULL;
	int rc = walk_alloc(&wo, req.max_nodes, stride);
	if (rc < 0)
		goto out;
	if ((rc = gmem_walk(k->g, &req, &wo)) < 0)
		goto out;
	*partial = wo.stop != GMEM_STOP_HEAD;
	r = calloc(wo.n * 2 + 1, sizeof *r);
	ids = calloc(wo.n * 2 + 1, 4);
	rc = SEVMON_ENOMEM;
	if (!r || !ids)
		goto out;
	for (size_t i = 0; i < wo.n; i++) {
		const uint8_t *d = wo.data + i * stride;
		out[i] = (struct kproc){
			.task = wo.nodes[i],
			.pid = (int32_t)load_le32(d),
			.tgid = (int32_t)load_le32(d + 4),
			.exiting = load_le32(d + 8 + KPROC_COMM_LEN + 24) != 0,
			.ppid = -1,
			.uid = UINT32_MAX,
		};
		out[i].kthread = load_le64(d + 8 + KPROC_COMM_LEN + 16) == 0 && !out[i].exiting;
		copy_name(out[i].comm, d + 8, KPROC_COMM_LEN);
		r[2 * i] = (struct gmem_range){ .addr = load_le64(d + 8 + KPROC_COMM_LEN) + p->task_tgid.off,
			.len = 4, .space = GMEM_VIRT, .out = ids + 8 * i };
		r[2 * i + 1] = (struct gmem_range){ .addr = load_le64(d + 8 + KPROC_COMM_LEN + 8) +
			p->cred_uid.off, .len = 4, .space = GMEM_VIRT, .out = ids + 8 * i + 4 };
	}
	if (wo.n && (rc = gmem_gather(k->g, r, wo.n * 2)) < 0)
		goto out;
	for (size_t i = 0; i < wo.n; i++) {
		/* A torn pointer costs that one field, marked by -1 / UINT32_MAX. */
		if (r[2 * i].status == 0)
			out[i].ppid = (int32_t)load_le32(ids + 8 * i);
		else
			*partial = 1;
		if (r[2 * i + 1].status == 0)
			out[i].uid = load_le32(ids + 8 * i + 4);
		else
			*partial = 1;
	}
	rc = (int)wo.n;
out:
	free(wo.nodes);
	free(wo.data);
	free(r);
	free(ids);
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
	free(wo.nodes);
	free(wo.data);
	return rc;
}
