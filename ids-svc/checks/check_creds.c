/*
 * check_creds.c — credentials, from the task list view (kview.h: each task's cred and
 * real_cred pointers, uid and euid, its parent):
 *   cred_shared        processes of different thread groups with one struct cred (the
 *                      kernel gives each process its own; a rootkit that points a task's
 *                      cred at another's, at init_cred above all, shares one): medium,
 *                      high when the one shared is init_cred
 *   uid0_without_setuid  a process with uid or euid 0 whose parent is not root and whose
 *                      executable is not set-uid root (the commit_creds backdoor: a
 *                      user's shell made root by a magic signal or file): high
 * The executable is read only for the processes that need it (mm -> exe_file -> f_inode
 * -> i_mode, i_uid: three more round trips, none on a guest where no user became root).
 * A process's name against its executable is not compared: a multi-call binary (busybox)
 * gives every process another name than its file's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kchecks.h"
#include "kview.h"
#include "rbuf.h"

#define S_ISUID_BIT 04000u

struct cred_issue {
	const char *kind;
	enum store_severity sev;
	struct kv_task t, other; /* other: the process it shares a cred with / its parent */
	uint64_t cred;
	int exe_known;
	uint16_t exe_mode;
	uint32_t exe_uid;
};

struct creds_result {
	struct check_result h;
	size_t tasks, privileged;
	struct cred_issue *v;
	size_t n;
};

static int add(struct creds_result *r, const char *kind, enum store_severity sev,
	       const struct kv_task *t, const struct kv_task *o, uint64_t cred)
{
	struct cred_issue *v = realloc(r->v, (r->n + 1) * sizeof *v);
	if (!v)
		return SEVMON_ENOMEM;
	r->v = v;
	v[r->n++] = (struct cred_issue){ .kind = kind, .sev = sev, .t = *t, .other = o ? *o : (struct kv_task){ 0 },
					 .cred = cred };
	return 0;
}

static int cred_cmp(const void *a, const void *b)
{
	const struct kv_task *x = *(const struct kv_task *const *)a, *y = *(const struct kv_task *const *)b;
	return x->cred < y->cred ? -1 : x->cred > y->cred;
}

static const struct kv_task *by_pid(const struct kv_tasks *t, int32_t pid)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].pid == pid)
			return &t->v[i];
	return NULL;
}

/* The executables of the processes that became root: mm -> exe_file -> f_inode -> mode. */
static int exe_modes(const struct check_env *env, struct creds_result *r)
{
	const struct kprofile *p = &env->k->p;
	static const int need[] = { KPROFILE_OFF_mm_exe_file, KPROFILE_OFF_file_inode,
		KPROFILE_OFF_inode_mode, KPROFILE_OFF_inode_uid, -1 };
	size_t k = 0;
	for (size_t i = 0; i < r->n; i++)
		k += !strcmp(r->v[i].kind, "uid0_without_setuid");
	if (!k)
		return 0;
	if (kv_need(p, need) < 0)
		return 0; /* then every such process stays a finding, with its file unknown */
	uint8_t (*b)[8] = calloc(r->n, sizeof *b), (*m)[8] = calloc(r->n, sizeof *m);
	int *st = calloc(r->n, sizeof *st), rc = SEVMON_ENOMEM;
	struct gmem_round q;
	gmem_round_init(&q, env->k->g);
	if (!b || !m || !st)
		goto out;
	/* three hops, each one round for all of them */
	const uint32_t hop[3] = { p->mm_exe_file.off, p->file_inode.off, 0 };
	for (int h = 0; h < 3; h++) {
		for (size_t i = 0; i < r->n; i++) {
			if (strcmp(r->v[i].kind, "uid0_without_setuid") || st[i] < 0)
				continue;
			uint64_t at = h == 0 ? r->v[i].t.mm : load_le64(b[i]);
			if (!kv_kaddr(at)) {
				st[i] = SEVMON_EFAULT;
				continue;
			}
			if (h < 2)
				gmem_round_read(&q, at + hop[h], GMEM_VIRT, b[i], 8, &st[i]);
			else {
				gmem_round_read(&q, at + p->inode_mode.off, GMEM_VIRT, m[i], 2, &st[i]);
				gmem_round_read(&q, at + p->inode_uid.off, GMEM_VIRT, m[i] + 4, 4, &st[i]);
			}
		}
		if (gmem_round_pending(&q)) {
			if ((rc = gmem_round_flush(&q)) < 0)
				goto out;
			env->kv->rounds++;
		}
	}
	size_t keep = 0;
	for (size_t i = 0; i < r->n; i++) {
		struct cred_issue *c = &r->v[i];
		if (!strcmp(c->kind, "uid0_without_setuid") && st[i] == 0) {
			c->exe_known = 1;
			c->exe_mode = (uint16_t)(m[i][0] | m[i][1] << 8);
			c->exe_uid = load_le32(m[i] + 4);
			if ((c->exe_mode & S_ISUID_BIT) && c->exe_uid == 0)
				continue; /* su, sudo, passwd: set-uid root does exactly this */
		}
		r->v[keep++] = *c;
	}
	r->n = keep;
	rc = 0;
out:
	gmem_round_free(&q);
	free(b);
	free(m);
	free(st);
	return rc;
}

static int creds_run(const struct check_env *env, void *res)
{
	struct creds_result *r = res;
	const struct kprofile *p = &env->k->p;
	int rc = kview_load(env->kv, KV_TASKS);
	if (rc < 0)
		return rc;
	const struct kv_tasks *t = &env->kv->tasks;
	r->tasks = t->n;
	r->h.partial = t->partial;
	/* one struct cred, two thread groups */
	const struct kv_task **s = calloc(t->n + 1, sizeof *s);
	if (!s)
		return SEVMON_ENOMEM;
	size_t ns = 0;
	for (size_t i = 0; i < t->n; i++)
		if (kv_kaddr(t->v[i].cred) && !t->v[i].exit_state)
			s[ns++] = &t->v[i];
	qsort(s, ns, sizeof *s, cred_cmp);
	for (size_t i = 1; i < ns && rc == 0; i++)
		if (s[i]->cred == s[i - 1]->cred && s[i]->tgid != s[i - 1]->tgid)
			rc = add(r, "cred_shared", s[i]->cred == p->sym_init_cred ? STORE_SEV_HIGH
										 : STORE_SEV_MEDIUM,
				 s[i], s[i - 1], s[i]->cred);
	for (size_t i = 0; i < ns && rc == 0; i++)
		if (p->sym_init_cred && s[i]->cred == p->sym_init_cred &&
		    (i == 0 || s[i - 1]->cred != s[i]->cred) && (i + 1 == ns || s[i + 1]->cred != s[i]->cred))
			rc = add(r, "cred_shared", STORE_SEV_HIGH, s[i], NULL, s[i]->cred); /* init_task's */
	free(s);
	/* root without a root parent or a set-uid root file */
	for (size_t i = 0; i < t->n && rc == 0; i++) {
		const struct kv_task *x = &t->v[i];
		if (x->exit_state || x->mm == 0 || x->ppid == KPROC_PPID_UNKNOWN)
			continue;
		if (x->uid != 0 && x->euid != 0)
			continue;
		r->privileged++;
		const struct kv_task *par = by_pid(t, x->ppid);
		if (!par || par->uid == KPROC_UID_UNKNOWN || par->uid == 0)
			continue;
		rc = add(r, "uid0_without_setuid", STORE_SEV_HIGH, x, par, x->cred);
	}
	return rc < 0 ? rc : exe_modes(env, r);
}

static void task_json(struct jw *w, const struct kv_task *t)
{
	jw_obj(w);
	jw_key(w, "pid");
	jw_int(w, t->pid);
	jw_key(w, "comm");
	jw_str(w, t->comm);
	jw_key(w, "uid");
	if (t->uid == KPROC_UID_UNKNOWN)
		jw_null(w);
	else
		jw_uint(w, t->uid);
	jw_key(w, "euid");
	if (t->euid == KPROC_UID_UNKNOWN)
		jw_null(w);
	else
		jw_uint(w, t->euid);
	jw_obj_end(w);
}

static void issue_json(struct jw *w, const void *arg)
{
	const struct cred_issue *c = arg;
	jw_obj(w);
	jw_key(w, "issue");
	jw_str(w, c->kind);
	jw_key(w, "process");
	task_json(w, &c->t);
	jw_key(w, !strcmp(c->kind, "cred_shared") ? "shares_with" : "parent");
	if (c->other.addr)
		task_json(w, &c->other);
	else
		jw_str(w, "init_task");
	jw_key(w, "cred");
	jw_hex(w, c->cred);
	if (c->exe_known) {
		jw_key(w, "exe_mode");
		jw_uint(w, c->exe_mode);
		jw_key(w, "exe_uid");
		jw_uint(w, c->exe_uid);
	}
	jw_obj_end(w);
}

static void creds_encode(const void *res, struct jw *w)
{
	const struct creds_result *r = res;
	jw_obj(w);
	jw_key(w, "processes");
	jw_uint(w, r->tasks);
	jw_key(w, "root_processes");
	jw_uint(w, r->privileged);
	jw_key(w, "issues");
	jw_arr(w);
	for (size_t i = 0; i < r->n; i++)
		issue_json(w, &r->v[i]);
	jw_arr_end(w);
	jw_key(w, "partial");
	jw_bool(w, r->h.partial);
	jw_obj_end(w);
}

static void creds_print(const void *res, FILE *f)
{
	const struct creds_result *r = res;
	fprintf(f, "%zu processes, %zu with uid or euid 0\n", r->tasks, r->privileged);
	for (size_t i = 0; i < r->n; i++)
		fprintf(f, "%-20s %" PRId32 " (%s) %s %" PRId32 "\n", r->v[i].kind, r->v[i].t.pid,
			r->v[i].t.comm, !strcmp(r->v[i].kind, "cred_shared") ? "shares with" : "parent",
			r->v[i].other.pid);
}

static int creds_findings(const void *res, struct check_findings *out)
{
	const struct creds_result *r = res;
	for (size_t i = 0; i < r->n; i++) {
		const struct cred_issue *c = &r->v[i];
		char subject[64];
		snprintf(subject, sizeof subject, "%" PRId32 ":%s", c->t.pid, c->t.comm);
		int rc = check_finding_jw(out, c->sev, c->kind, subject, CHECK_T_PRIV_ESC, issue_json, c);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void creds_release(void *res)
{
	struct creds_result *r = res;
	free(r->v);
	r->v = NULL;
}

static const int creds_members[] = { KPROFILE_OFF_task_cred, KPROFILE_OFF_task_real_parent,
	KPROFILE_OFF_cred_uid, KPROFILE_OFF_task_mm, -1 };

const struct check_def check_creds = {
	.name = "creds",
	.summary = "credentials: a struct cred shared by unrelated processes, root gained without a root parent or set-uid file",
	.needs = CHECK_NEEDS_KERNEL,
	.in_default = 1,
	.diff = STORE_DIFF_NONE,
	.members = creds_members,
	.views = KV_TASKS,
	.result_size = sizeof(struct creds_result),
	.run = creds_run,
	.encode = creds_encode,
	.print = creds_print,
	.findings = creds_findings,
	.release = creds_release,
};
