/*
 * test_kview.c — the kernel views and the hidden_procs check on a synthetic kernel in a
 * flat test memory: a task list, the PID IDR (an XArray of two levels), tasks hidden by
 * unlinking (self-linked, and with a poisoned prev), a process forked between the reads
 * (linked: not hidden), and hostile IDRs (a node that points at itself, entries outside
 * the kernel) read within bounds.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "err.h"
#include "harness.h"
#include "kchecks.h"
#include "kview.h"
#include "rbuf.h"

#define MEM (1u << 20)
#define BASE 0xffff888000000000ull
#define VA(off) (BASE + (off))

static uint8_t mem[MEM];

static int flat_gather(void *ctx, struct gmem_range *r, size_t n)
{
	(void)ctx;
	for (size_t i = 0; i < n; i++) {
		uint64_t a = r[i].addr - BASE;
		r[i].status = SEVMON_EFAULT;
		if (r[i].addr >= BASE && a <= MEM && r[i].len <= MEM - a) {
			memcpy(r[i].out, mem + a, r[i].len);
			r[i].status = 0;
		}
	}
	return 0;
}

static const struct gmem_ops flat_ops = { .gather = flat_gather };

/* The layout of this synthetic kernel (what BTF would say). */
enum { T_TASKS = 0, T_PID = 16, T_TGID = 20, T_COMM = 24, T_PARENT = 40, T_CRED = 48, T_MM = 56,
       T_EXIT = 64, T_LEADER = 72, T_RCRED = 80, T_PIDLINKS = 88, T_SIZE = 256 };
enum { P_TASKS = 8, P_NUMBERS = 40 };
#define INIT_TASK 0x1000u
#define PID_NS 0x2000u
#define TASKS 0x10000u /* task i at TASKS + i * T_SIZE */
#define PIDS 0x40000u  /* struct pid i at PIDS + i * 64 */
#define NODES 0x60000u /* xa_node i at NODES + i * 1024 */
#define CRED 0x80000u

static struct kintro K;
static struct gmem G;

static void profile(void)
{
	memset(&K, 0, sizeof K);
	G = (struct gmem){ .ops = &flat_ops, .virt = 1 };
	struct kprofile *p = &K.p;
	K.g = &G;
	p->sym_init_task = VA(INIT_TASK);
	p->sym_init_pid_ns = VA(PID_NS);
	p->sym__stext = VA(0x100000 - 0x1000);
#define OFF(f, o, s) p->f = (struct kprofile_off){ o, s }
	OFF(task_tasks, T_TASKS, 16);
	OFF(task_pid, T_PID, 4);
	OFF(task_tgid, T_TGID, 4);
	OFF(task_comm, T_COMM, 16);
	OFF(task_real_parent, T_PARENT, 8);
	OFF(task_cred, T_CRED, 8);
	OFF(task_mm, T_MM, 8);
	OFF(task_exit_state, T_EXIT, 4);
	OFF(task_group_leader, T_LEADER, 8);
	OFF(task_real_cred, T_RCRED, 8);
	OFF(task_pid_links, T_PIDLINKS, 16);
	OFF(cred_uid, 4, 4);
	OFF(cred_euid, 20, 4);
	OFF(list_head_next, 0, 8);
	OFF(pid_tasks, P_TASKS, 24);
	OFF(pid_numbers, P_NUMBERS, 16);
	OFF(upid_nr, 0, 4);
	OFF(pidns_xa_head, 8, 8);
	OFF(xa_node_shift, 0, 1);
	OFF(xa_node_slots, 40, 512);
#undef OFF
}

static uint64_t task(int i)
{
	return VA(TASKS + (uint64_t)i * T_SIZE);
}

static void put(uint64_t va, uint64_t v)
{
	store_le64(mem + (va - BASE), v);
}

/* n tasks with pids 1..n on the list (after init_task), each with its struct pid in a
 * two-level IDR (the head a node of shift 6 whose slot 0 is a leaf node). */
static void kernel(int n)
{
	memset(mem, 0, sizeof mem);
	profile();
	uint64_t prev = VA(INIT_TASK + T_TASKS);
	for (int i = 0; i < n; i++) {
		uint64_t t = task(i);
		store_le32(mem + (t - BASE) + T_PID, (uint32_t)(i + 1));
		store_le32(mem + (t - BASE) + T_TGID, (uint32_t)(i + 1));
		snprintf((char *)mem + (t - BASE) + T_COMM, 16, "proc%d", i + 1);
		put(t + T_PARENT, VA(INIT_TASK));
		put(t + T_CRED, VA(CRED));
		put(t + T_RCRED, VA(CRED));
		put(t + T_MM, VA(0x90000));
		put(t + T_LEADER, t);
		/* list: prev -> t */
		put(prev, t + T_TASKS);      /* prev->next */
		put(t + T_TASKS + 8, prev);  /* t->prev */
		prev = t + T_TASKS;
		/* its pid */
		uint64_t pid = VA(PIDS + (uint64_t)i * 64);
		put(pid + P_TASKS, t + T_PIDLINKS);
		store_le32(mem + (pid - BASE) + P_NUMBERS, (uint32_t)(i + 1));
		/* the leaf node's slot i + 1 */
		put(VA(NODES + 1024) + 40 + 8 * (uint64_t)(i + 1), pid);
	}
	put(prev, VA(INIT_TASK + T_TASKS)); /* the last one's next: the head */
	put(VA(INIT_TASK + T_TASKS + 8), prev);
	/* the IDR: head -> node 0 (shift 6), slot 0 -> node 1 (shift 0, the leaves) */
	put(VA(PID_NS + 8), VA(NODES) | 2);
	mem[NODES] = 6;
	put(VA(NODES) + 40, VA(NODES + 1024) | 2);
	mem[NODES + 1024] = 0;
}

/* Unlink task i as list_del_rcu does, then self-link it (rk_hide_task) or leave prev
 * poisoned. */
static void unlink_task(int i, int self)
{
	uint64_t t = task(i) + T_TASKS;
	uint64_t next = load_le64(mem + (t - BASE)), prev = load_le64(mem + (t - BASE) + 8);
	put(prev, next);
	put(next + 8, prev);
	put(t + 8, 0xdead000000000122ull);
	if (self) {
		put(t, t);
		put(t + 8, t);
	}
}

static struct hidden_result {
	char *json;
	struct check_findings f;
} run_hidden(void)
{
	struct hidden_result r = { 0 };
	struct check_env env = { .k = &K };
	char err[256];
	ASSERT_EQ(check_sweep_begin(&env, 1ull << check_index("hidden_procs")), 0);
	int partial = 0;
	int rc = check_run_json(check_find("hidden_procs"), &env, &r.json, &partial, &r.f, err, sizeof err);
	if (rc < 0)
		FAIL_AT("hidden_procs: %s", err);
	check_sweep_end(&env);
	return r;
}

TEST(kview_clean_kernel_no_hidden_process)
{
	kernel(5);
	struct hidden_result r = run_hidden();
	ASSERT_EQ(r.f.n, 0);
	ASSERT(strstr(r.json, "\"task_list\":5") != NULL);
	ASSERT(strstr(r.json, "\"pid_idr\":5") != NULL);
	free(r.json);
	check_findings_free(&r.f);
}

TEST(kview_unlinked_task_hidden_self_linked_or_poisoned)
{
	for (int self = 0; self < 2; self++) {
		kernel(5);
		unlink_task(2, self);
		struct hidden_result r = run_hidden();
		ASSERT_EQ(r.f.n, 1);
		ASSERT_STREQ(r.f.v[0].kind, "hidden_process");
		ASSERT_STREQ(r.f.v[0].subject, "3:proc3");
		ASSERT_STREQ(r.f.v[0].technique, "T1014");
		ASSERT(strstr(r.f.v[0].detail_json, "\"missing_from\":[\"task_list\"]") != NULL);
		free(r.json);
		check_findings_free(&r.f);
	}
}

TEST(kview_exiting_and_thread_tasks_not_hidden)
{
	kernel(5);
	unlink_task(1, 1);
	store_le32(mem + (task(1) - BASE) + T_EXIT, 16); /* EXIT_ZOMBIE */
	unlink_task(3, 0);
	store_le32(mem + (task(3) - BASE) + T_TGID, 1); /* a thread of pid 1 */
	struct hidden_result r = run_hidden();
	ASSERT_EQ(r.f.n, 0);
	free(r.json);
	check_findings_free(&r.f);
}

TEST(kview_hostile_idr_bounded)
{
	kernel(3);
	/* the leaf node's slot 9 points back at the top node; slot 10 outside the kernel */
	put(VA(NODES + 1024) + 40 + 8 * 9, VA(NODES) | 2);
	put(VA(NODES + 1024) + 40 + 8 * 10, 0x1000);
	mem[NODES + 1024] = 0;
	struct check_env env = { .k = &K };
	ASSERT_EQ(check_sweep_begin(&env, 1ull << check_index("hidden_procs")), 0);
	ASSERT_EQ(kview_load(env.kv, KV_PIDS), 0);
	ASSERT(env.kv->pids.partial); /* the loop stopped by the depth bound */
	ASSERT(env.kv->rounds <= KV_MAX_ROUNDS);
	check_sweep_end(&env);
	/* a head that is not a kernel address: one leaf, skipped, no walk */
	kernel(3);
	put(VA(PID_NS + 8), 0x4242);
	ASSERT_EQ(check_sweep_begin(&env, 1ull << check_index("hidden_procs")), 0);
	ASSERT_EQ(kview_load(env.kv, KV_PIDS), 0);
	ASSERT_EQ(env.kv->pids.n, 0);
	check_sweep_end(&env);
}

TEST(kview_unreadable_head_fails_the_part_by_its_error)
{
	kernel(3);
	K.p.sym_init_pid_ns = VA(MEM + 4096); /* outside the memory */
	struct check_env env = { .k = &K };
	ASSERT_EQ(check_sweep_begin(&env, 1ull << check_index("hidden_procs")), 0);
	ASSERT_EQ(kview_load(env.kv, KV_PIDS), SEVMON_EFAULT);
	ASSERT_EQ(kview_load(env.kv, KV_TASKS), 0); /* the other view is fine */
	ASSERT_EQ(env.kv->tasks.n, 3);
	check_sweep_end(&env);
}

TEST_MAIN()
