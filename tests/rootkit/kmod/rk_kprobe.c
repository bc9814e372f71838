// SPDX-License-Identifier: GPL-2.0
/*
 * rk_kprobe: a kprobe and a kretprobe on one kernel function (default __x64_sys_openat, run by
 * every open(2) of a glibc/busybox program). Rootkits and "security" agents alike use kprobes
 * to watch or steer a function without touching the syscall table; the handlers here only
 * count (`hits`: entries, `returns`: returns).
 *
 * On a function entry with CONFIG_KPROBES_ON_FTRACE the kprobe is an ftrace user (the entry's
 * NOP becomes a call to an ftrace trampoline, kprobe_ftrace_ops); at offset>0 it is a classic
 * int3 breakpoint written into the text (optimized to a jmp where possible). Visible to:
 * /sys/kernel/debug/kprobes/list, the kprobe_table hash in memory (handlers point into this
 * module), /sys/kernel/tracing/enabled_functions (ftrace-based ones), the patched text.
 *
 * Parameters: symbol, offset (load time); hits, returns (counters).
 */
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

static char *symbol = "__x64_sys_openat";
module_param(symbol, charp, 0444);
static unsigned int offset;
module_param(offset, uint, 0444);
static unsigned long hits, returns;
module_param(hits, ulong, 0444);
module_param(returns, ulong, 0444);

static int rk_pre(struct kprobe *p, struct pt_regs *regs)
{
	hits++;		/* racy on SMP: a liveness counter, not an exact one */
	return 0;
}

static int rk_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	returns++;
	return 0;
}

static struct kprobe rk_kp = { .pre_handler = rk_pre };
static struct kretprobe rk_krp = { .handler = rk_ret, .maxactive = 16 };

static int __init rk_init(void)
{
	int err;

	rk_kp.symbol_name = symbol;
	rk_kp.offset = offset;
	err = register_kprobe(&rk_kp);
	if (err)
		return err;
	rk_krp.kp.symbol_name = symbol;
	err = register_kretprobe(&rk_krp);
	if (err) {
		unregister_kprobe(&rk_kp);
		return err;
	}
	pr_info("rk_kprobe: kprobe at %s+%u (%px), kretprobe on %s\n", symbol, offset, rk_kp.addr, symbol);
	return 0;
}

static void __exit rk_exit(void)
{
	unregister_kretprobe(&rk_krp);
	unregister_kprobe(&rk_kp);
	pr_info("rk_kprobe: removed after %lu hits, %lu returns\n", hits, returns);
}

module_init(rk_init);
module_exit(rk_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("sevmon test rootkit: kprobe + kretprobe on a kernel function");
