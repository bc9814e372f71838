// SPDX-License-Identifier: GPL-2.0
/*
 * rk_netfilter: a netfilter hook (nf_register_net_hook on init_net, IPv4 PRE_ROUTING, first
 * priority), the place where rootkits wait for their "magic packet" (Reptile, the BPFDoor
 * family's kernel cousins). This one accepts everything; it counts IPv4 packets (`hits`) and
 * packets whose first 128 bytes contain `magic` (`knocks`; default "rk-knock"; busybox has no
 * UDP sender, `nslookup rk-knock 127.0.0.1` sends one), and logs each knock. Loopback traffic
 * goes through PRE_ROUTING too, so `ping 127.0.0.1` counts.
 *
 * Visible to: init_net's nf_hook_entries for NFPROTO_IPV4/PRE_ROUTING in memory (a hook
 * function inside a module), nothing in userland (nft/iptables list only their own rules).
 */
#include <linux/ip.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/skbuff.h>
#include <linux/string.h>
#include <net/net_namespace.h>

static unsigned long hits, knocks;
module_param(hits, ulong, 0444);
module_param(knocks, ulong, 0444);
static char *magic = "rk-knock";
module_param(magic, charp, 0444);

static unsigned int rk_hook(void *priv, struct sk_buff *skb, const struct nf_hook_state *state)
{
	char buf[128];
	unsigned int len = min_t(unsigned int, skb->len, sizeof(buf));

	hits++;
	/* strnstr() compares bytes, it does not stop at the NULs of binary headers. */
	if (skb_copy_bits(skb, 0, buf, len))
		return NF_ACCEPT;
	if (strnstr(buf, magic, len)) {
		knocks++;
		pr_info("rk_netfilter: knock from %pI4\n", &ip_hdr(skb)->saddr);
	}
	return NF_ACCEPT;
}

static struct nf_hook_ops rk_ops = {
	.hook = rk_hook,
	.pf = NFPROTO_IPV4,
	.hooknum = NF_INET_PRE_ROUTING,
	.priority = NF_IP_PRI_FIRST,
};

static int __init rk_init(void)
{
	int err = nf_register_net_hook(&init_net, &rk_ops);

	if (!err)
		pr_info("rk_netfilter: IPv4 PRE_ROUTING hook registered\n");
	return err;
}

static void __exit rk_exit(void)
{
	nf_unregister_net_hook(&init_net, &rk_ops);
	pr_info("rk_netfilter: removed after %lu packets, %lu knocks\n", hits, knocks);
}

module_init(rk_init);
module_exit(rk_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("sevmon test rootkit: netfilter PRE_ROUTING hook");
