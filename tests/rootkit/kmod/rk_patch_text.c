// SPDX-License-Identifier: GPL-2.0
/*
 * rk_patch_text: modifies the text of a core kernel function (an inline hook), harmlessly.
 *
 * Target: the entry of `target` (default __x64_sys_sethostname, run by `hostname NAME`). With
 * CONFIG_DYNAMIC_FTRACE every traceable function starts (after an ENDBR64 on IBT kernels) with
 * the 5-byte NOP 0f 1f 44 00 00 that ftrace put over its `call __fentry__`. That NOP is replaced:
 *   mode=hook (default): by `call rk_patch_stub`, a 2-instruction stub in this module that
 *     counts calls (`hits`) and returns; registers and stack are untouched, so the function runs
 *     as before. This is an inline hook (a jump/call into module text at a function entry).
 *   mode=nop: by five one-byte NOPs (90 90 90 90 90): the same behaviour, other bytes; only a
 *     text-integrity check (hash or byte compare against vmlinux) can see it.
 * The 5 bytes are written with CR0.WP cleared (or through a vmap alias: rk_common.h) inside
 * stop_machine(), so no CPU executes the site while it changes. Unloading restores the NOP.
 *
 * Do not let ftrace or a kprobe touch `target` while patched: ftrace checks the bytes it
 * expects and disables itself (ftrace_bug) when they differ.
 *
 * Parameters: target, mode; site (address patched, hex), bytes (the 5 bytes there now), hits.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/rcupdate.h>
#include <linux/stop_machine.h>
#include <asm/linkage.h>
#define RK_WRITE_RO
#include "rk_common.h"

static char *target = "__x64_sys_sethostname";
module_param(target, charp, 0444);
static char *mode = "hook";
module_param(mode, charp, 0444);
static unsigned long site;
static char site_hex[20];
module_param_string(site, site_hex, sizeof(site_hex), 0444);
static char bytes[16];
module_param_string(bytes, bytes, sizeof(bytes), 0444);

/* Bumped by the stub; global so the asm below can name it. */
unsigned long rk_patch_hits;
module_param_named(hits, rk_patch_hits, ulong, 0444);

void rk_patch_stub(void);
asm(".pushsection .text\n"
    ".type rk_patch_stub, @function\n"
    "rk_patch_stub:\n"
    "	lock incq rk_patch_hits(%rip)\n"
    "	" ASM_RET
    ".size rk_patch_stub, .-rk_patch_stub\n"
    ".popsection\n");

static const u8 nop5[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };
static u8 patch[5];

struct rk_poke { struct rk_ro w; const u8 *b; };

static int rk_poke_fn(void *arg)
{
	struct rk_poke *p = arg;

	rk_ro_copy(&p->w, p->b, 5);
	return 0;
}

static int rk_poke(const u8 *b)
{
	struct rk_poke p = { .b = b };
	int err = rk_ro_begin(&p.w, (void *)site, 5);	/* may sleep: outside stop_machine */

	if (!err) {
		err = stop_machine(rk_poke_fn, &p, NULL);
		rk_ro_end(&p.w);
	}
	snprintf(bytes, sizeof(bytes), "%5phN", (u8 *)site);
	return err;
}

static int __init rk_init(void)
{
	unsigned long fn = rk_lookup(target);
	long rel;
	int err;

	if (!fn)
		return -ENOENT;
	site = fn;
	if (*(u32 *)site == 0xfa1e0ff3)	/* endbr64 */
		site += 4;
	if (memcmp((void *)site, nop5, 5)) {
		pr_err("rk_patch_text: %s+%lu is %5ph, not the ftrace NOP (traced?)\n",
		       target, site - fn, (u8 *)site);
		return -EBUSY;
	}
	if (!strcmp(mode, "hook")) {
		rel = (long)rk_patch_stub - (long)(site + 5);
		if (rel != (s32)rel)
			return -ERANGE;
		patch[0] = 0xe8;	/* call rel32 */
		memcpy(&patch[1], &(s32){ rel }, 4);
	} else if (!strcmp(mode, "nop")) {
		memset(patch, 0x90, 5);
	} else {
		return -EINVAL;
	}
	snprintf(site_hex, sizeof(site_hex), "%lx", site);
	err = rk_poke(patch);
	if (err)
		return err;
	pr_info("rk_patch_text: %s+%lu (%lx) now %s (mode=%s)\n", target, site - fn, site, bytes, mode);
	return 0;
}

static void __exit rk_exit(void)
{
	if (!memcmp((void *)site, patch, 5))
		rk_poke(nop5);
	/* A task preempted inside the stub must leave it before the module's text goes. */
	synchronize_rcu_tasks();
	pr_info("rk_patch_text: %s restored (%s)\n", target, bytes);
}

module_init(rk_init);
module_exit(rk_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("sevmon test rootkit: patches a kernel function's entry (inline hook)");
